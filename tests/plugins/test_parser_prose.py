"""The prose parser: quotes, rule-based attribution, pronouns, turn-taking, narrator, scenes."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.api import SourceText
from studio.corpus.inspect import parse_file

NOVEL_ZH = """第一章 初雪

    那一年的雪下得格外早。我和眉庄在廊下看雪，宫人们都说这是“瑞雪兆丰年”。
    眉庄笑道：“妹妹，你瞧这雪，像不像那年我们在家中看的？”
    我点头道：“正是。只是如今身在宫中，再不能堆雪人了。”
    眉庄握住我的手。“那有什么要紧，明日我陪你堆一个。”
    “姐姐又哄我。”我笑着别过脸去。
    “我几时哄过你？”
    “上回说好了去看梅花，姐姐便没有去。”
    “那是皇后娘娘召我。”
    槿汐走过来，向我们福了一福，道：“小主，天冷了，进屋吧。”
    眉庄向槿汐道：“你家小主身子弱，是该进去了。”
    玄凌远远走来，眉庄忙向玄凌行礼，他却笑道：“你们在说什么悄悄话？”
    一个小宫女跪下道：“奴婢给皇上请安。”

第二章 梅花

    眉庄淡淡道：“梅花开了。”她顿了顿，又道：“可惜无人同赏。”
    “有我呢。”玄凌说。
"""

NOVEL_EN = """CHAPTER I.

It was a cold morning when Anne came down to breakfast.

“The post has come,” said Mr. Harper, without looking up.

“Is there a letter for me?” asked Anne.

“There is,” he replied. “It is from your aunt.”

“Then I shall read it at once.”

“Pray do.”

“She writes that she is coming on Tuesday,” Anne said.

“Then we must be ready,” said Mrs. Harper, “for she dislikes surprises.”

The term “surprise” was not used lightly in that house.
"""


def _parse(host, text: str, **options):
    parser = host.parsers["prose"]
    resolved = {o.name: o.default for o in parser.options} | options
    return parser.parse(SourceText(Path("novel.txt"), text, "utf-8"), resolved)


def _speakers(result):
    return [(u.speaker, u.text[:6]) for u in result.utterances if u.kind == "dialogue"]


def test_chinese_attribution_rules(host):
    said = _speakers(_parse(host, NOVEL_ZH, narrator="甄嬛"))
    assert said == [
        ("眉庄", "妹妹，你瞧这"),  # 眉庄笑道：“…”
        ("甄嬛", "正是。只是如"),  # 我点头道 → the narrator
        ("眉庄", "那有什么要紧"),  # an action sentence before the quote
        ("甄嬛", "姐姐又哄我。"),  # “…”我笑着…: a clause after the quote
        ("眉庄", "我几时哄过你"),  # turn-taking between the two
        ("甄嬛", "上回说好了去"),
        ("眉庄", "那是皇后娘娘"),
        ("槿汐", "小主，天冷了"),  # 向我们 is an object, 槿汐 the subject
        ("眉庄", "你家小主身子"),  # 向槿汐道: 槿汐 is the addressee
        ("玄凌", "你们在说什么"),  # 他 → the man just mentioned
        (None, "奴婢给皇上请"),  # an unnamed maid: unknown, not guessed
        ("眉庄", "梅花开了。"),
        ("眉庄", "可惜无人同赏"),  # 她顿了顿，又道 → 眉庄 again
        ("玄凌", "有我呢。"),  # “…”玄凌说。
    ]


def test_terms_in_quotes_stay_narration_and_chapters_are_scenes(host):
    result = _parse(host, NOVEL_ZH)
    narration = [u.text for u in result.utterances if u.kind == "narration"]
    assert any("“瑞雪兆丰年”" in text for text in narration)
    assert {u.scene for u in result.utterances} == {"第一章 初雪", "第二章 梅花"}
    assert [u.text for u in result.utterances if u.kind == "scene"] == [
        "第一章 初雪",
        "第二章 梅花",
    ]
    assert ("我", "正是。只是如") in _speakers(result)  # no narrator set: 我 stays 我


def test_english_attribution_rules(host):
    said = _speakers(_parse(host, NOVEL_EN))
    assert said == [
        ("Mr. Harper", "The po"),
        ("Anne", "Is the"),
        ("Mr. Harper", "There "),  # he replied → the man of the exchange
        ("Mr. Harper", "It is "),  # the same paragraph goes on
        ("Anne", "Then I"),  # turn-taking
        ("Mr. Harper", "Pray d"),
        ("Anne", "She wr"),
        ("Mrs. Harper", "Then w"),
        ("Mrs. Harper", "for sh"),
    ]
    result = _parse(host, NOVEL_EN)
    assert any("“surprise”" in u.text for u in result.utterances if u.kind == "narration")
    lines = {u.text[:6]: u.line for u in result.utterances if u.kind == "dialogue"}
    assert lines["The po"] == 5 and lines["Pray d"] == 13


def test_wrapped_english_paragraphs_and_open_quotes(host):
    text = (
        "CHAPTER I.\n\n"
        + "Some narration that runs on for a while here.\n" * 30
        + (
            "\n“I have a long speech to make,” said Anne,\n“and it goes on to a new paragraph.\n\n"
            "“Which starts with a quote again,” she went on.\n"
        )
    )
    said = [u for u in _parse(host, text).utterances if u.kind == "dialogue"]
    assert [u.speaker for u in said] == ["Anne", "Anne", "Anne"]
    assert said[1].text == "and it goes on to a new paragraph." and said[1].line == 35


@pytest.mark.parametrize("codec", ["gb18030", "utf-16", "utf-8-sig"])
def test_novel_file_is_sniffed_as_prose(host, codec, tmp_path):
    path = tmp_path / "novel.txt"
    path.write_bytes(NOVEL_ZH.replace("\n", "\r\n").encode(codec))
    result = parse_file(path, host.parsers, options={"narrator": "甄嬛"})
    assert result.parser == "prose"
    assert ("甄嬛", "正是。只是如") in _speakers(result)


def test_names_option_adds_characters_the_text_rarely_introduces(host):
    text = "第一章\n\n    小允子跪下道：“小主吉祥。”\n"
    assert _speakers(_parse(host, text))[0][0] is None
    assert _speakers(_parse(host, text, names="小允子"))[0][0] == "小允子"
