"""The seed recipe's rule, applied to a script written for this test, against the builder."""

from __future__ import annotations

import re

from studio.api import Utterance
from studio.config import DatasetConfig
from studio.dataset import seed as S
from studio.dataset.builder import build_samples

SCRIPT = """第一集

第1幕
（御花园）
宜修：妹妹来了。
莞莞（行礼）：给姐姐请安。
宜修：坐吧。
（莞莞坐下）
莞莞：谢姐姐。
宜修：皇上方才说：今晚去你那里。
莞莞：是，皇上也说：要来用晚膳。
莞莞：姐姐也来吧。
宜修：好。
槿汐：小主，回宫吧。
莞莞：嗯。
槿汐：小主，回宫吧。
莞莞：走吧。
"""


def parse(text: str, file: str = "s.txt") -> list[Utterance]:
    """A minimal 角色：台词 reader for the test (the real parsers are plugins)."""
    out = []
    for number, line in enumerate(text.split("\n"), start=1):
        match = re.match(r"^([^（：]+)(?:（([^）]*)）)?：(.*)$", line)
        if match:
            out.append(
                Utterance(
                    match.group(1), match.group(3), "dialogue", "1", file, number, match.group(2)
                )
            )
        elif line.startswith("（"):
            out.append(Utterance(None, line.strip("（）"), "action", "1", file, number))
    return out


def test_seed_rule_rows():
    rows = S.seed_pairs("s.txt", SCRIPT, "莞莞")
    assert [(r.line, r.instruction, r.output) for r in rows] == [
        (11, "皇上方才说", "是，皇上也说"),  # both cut at their second colon
        (12, "是，皇上也说", "姐姐也来吧。"),  # her own line as the user turn
        (15, "小主，回宫吧。", "嗯。"),
        (17, "小主，回宫吧。", "走吧。"),
    ]


def test_comparison_counts_each_reason():
    utterances = parse(SCRIPT)
    dropped = {}
    samples, _ = build_samples(
        utterances,
        "莞莞",
        "",
        DatasetConfig(eval_fraction=0, identity_samples=False),
        on_drop=lambda reason, ex: dropped.update({(u.file, u.line): reason for u in ex.reply}),
    )
    result = S.compare_with_seed({"s.txt": SCRIPT}, utterances, samples, "莞莞", dropped=dropped)
    assert (
        result.seed_rows,
        result.character_lines,
        result.kept_by_seed,
        result.kept_by_builder,
    ) == (4, 6, 4, 5)
    assert result.lost == {S.LOST_ACTION_LABEL: 1, S.LOST_CONTEXT: 1}
    assert result.wrong == {S.WRONG_REPLY_COLON: 1, S.WRONG_PROMPT_COLON: 1, S.WRONG_OWN: 1}
    assert result.wrong_lines == 2
    assert result.dropped_by_builder == {"only a name or an interjection": 1}
    assert result.seed_duplicate_rows == 0
    sections = {section for section, _, _ in S.comparison_rows(result)}
    assert {
        "seed lost, builder keeps",
        "seed wrong, builder right",
        "seed keeps, builder drops",
    } <= sections
    merged = [s for s in samples if s.reply.startswith("是，皇上也说：要来用晚膳。")]
    assert (
        merged
        and merged[0].reply.endswith("姐姐也来吧。")
        and merged[0].prompt == "皇上方才说：今晚去你那里。"
    )
