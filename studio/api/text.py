"""Provides the studio's one set of text helpers: CJK detection, normalisation, n-gram similarity.

Every stage and plugin asks these instead of keeping its own character ranges or its own idea
of "the same text":

- **CJK**: Han ideographs are the unified block U+4E00–U+9FFF, extension A U+3400–U+4DBF, the
  compatibility block U+F900–U+FAFF and the supplementary planes' extensions B–H
  U+20000–U+323AF; :func:`is_cjk_char` adds the Japanese kana U+3040–U+30FF (scripts written
  without spaces between words). :func:`is_wide_char` also counts CJK punctuation and
  full-width forms (text that joins without a space).
- **Normalisation** for near-duplicate detection (the dataset build and the augmentation
  filters): NFKC (full-width = half-width), case-folded, everything but letters and digits
  removed.
- **Similarity**: Jaccard similarity of character n-grams of normalised texts.
"""

from __future__ import annotations

import functools
import re
import unicodedata

HAN_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U000323af"
"""Han ideographs, as the inside of a regular-expression character class."""
CJK_CLASS = HAN_CLASS + "\u3040-\u30ff"
"""Han ideographs and kana, as the inside of a regular-expression character class."""
_CJK = re.compile(f"[{CJK_CLASS}]")
_NOT_WORD = re.compile(r"[\W_]+")


def is_han(ch: str) -> bool:
    """Whether ``ch`` (its first character) is a Han ideograph (a Chinese character)."""
    if not ch:
        return False
    c = ch[0]  # comparisons, not a regular expression: parsers ask this for every character
    return (
        "\u4e00" <= c <= "\u9fff"
        or "\u3400" <= c <= "\u4dbf"
        or "\uf900" <= c <= "\ufaff"
        or "\U00020000" <= c <= "\U000323af"
    )


def is_cjk_char(ch: str) -> bool:
    """Whether ``ch`` (its first character) is a Han ideograph or a Japanese kana."""
    return is_han(ch) or (bool(ch) and "\u3040" <= ch[0] <= "\u30ff")


def is_wide_char(ch: str) -> bool:
    """Whether ``ch`` is CJK, CJK punctuation or a full-width form (text joined without spaces)."""
    return bool(ch) and (
        is_cjk_char(ch) or "\u3000" <= ch[0] <= "\u303f" or "\uff00" <= ch[0] <= "\uffef"
    )


def has_cjk(text: str, limit: int | None = None) -> bool:
    """Whether ``text`` (its first ``limit`` characters, if given) holds a Han ideograph or kana."""
    return _CJK.search(text if limit is None else text[:limit]) is not None


def cjk_share(text: str) -> float:
    """The share of the letters of ``text`` that are CJK (0 when it has no letters)."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for ch in letters if is_cjk_char(ch)) / len(letters)


def normalize(text: str) -> str:
    """``text`` as letters and digits only: NFKC-folded, case-folded, no spaces or punctuation."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).casefold())


@functools.lru_cache(maxsize=1 << 16)
def ngrams(text: str, n: int) -> frozenset[str]:
    """The character ``n``-grams of ``text`` (the text itself when it is shorter; empty for "")."""
    if len(text) <= n:
        return frozenset([text]) if text else frozenset()
    return frozenset(text[i : i + n] for i in range(len(text) - n + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two sets, 0..1 (0 when either is empty)."""
    if not a or not b:
        return 0.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


def similarity(a: str, b: str, n: int = 2) -> float:
    """Jaccard similarity of the character ``n``-grams of two *normalised* texts, 0..1."""
    if a == b:
        return 1.0
    return jaccard(ngrams(a, n), ngrams(b, n))


def shingles(text: str) -> frozenset[str]:
    """The n-grams near-duplicate search compares: of the normalised text, bigrams when it is
    mostly CJK (a character carries a word's weight), 4-grams otherwise."""
    norm = normalize(text)
    cjk = sum(1 for ch in norm if is_cjk_char(ch))
    return ngrams(norm, 2 if cjk * 2 >= len(norm) > 0 else 4)
