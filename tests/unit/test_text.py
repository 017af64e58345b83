"""One text module: CJK detection, near-duplicate normalisation, n-gram similarity."""

from __future__ import annotations

import re
from pathlib import Path

import studio.augment.filters as augment_filters
import studio.dataset.filters as dataset_filters
from studio.api import text
from studio.api.model_text import clean_message

ROOT = Path(__file__).resolve().parents[2]


def test_cjk_detection_covers_every_han_block_and_kana():
    for ch in ("中", "㐀", "豈", "\U00020000"):  # unified, extension A, compatibility, extension B
        assert text.is_han(ch) and text.is_cjk_char(ch) and text.has_cjk(f"ab{ch}")
    assert text.is_cjk_char("あ") and not text.is_han("あ")
    assert not text.is_cjk_char("a") and not text.is_han("") and not text.has_cjk("plain, English.")
    assert text.is_wide_char("。") and text.is_wide_char("，") and not text.is_wide_char(",")
    assert text.cjk_share("甄嬛 says hi") == 2 / 8 and text.cjk_share("…") == 0.0


def test_build_and_augment_use_the_same_normalisation():
    assert dataset_filters.normalize is text.normalize is augment_filters.normalize
    assert (
        text.normalize("Ｍｉｎｄ　the ROPES, Wren!")
        == text.normalize("mind the ropes wren")
        == "mindtheropeswren"
    )
    assert text.normalize("妹妹，今日气色真好！") == "妹妹今日气色真好"


def test_similarity_is_jaccard_of_character_ngrams():
    a, b = text.normalize("今日气色真好"), text.normalize("今日气色很好")
    assert text.similarity(a, a) == 1.0
    assert text.similarity(a, b) == text.jaccard(text.ngrams(a, 2), text.ngrams(b, 2)) == 3 / 7
    assert text.shingles("今日气色真好") == text.ngrams("今日气色真好", 2)  # CJK: bigrams
    assert text.shingles("Good morning") == text.ngrams("goodmorning", 4)  # otherwise 4-grams


def test_no_module_keeps_its_own_cjk_ranges():
    """The CJK code-point ranges are spelled in studio/api/text.py only."""
    pattern = re.compile(r"\\u(?:4e00|3400|9fff|4dbf|3040|30ff|f900)", re.IGNORECASE)
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("studio", "plugins")
        for path in (ROOT / folder).rglob("*.py")
        if path != ROOT / "studio/api/text.py" and pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_model_output_joins_chinese_lines_without_spaces():
    assert clean_message("回答：\n我来了。\n你呢？") == "我来了。你呢？"
