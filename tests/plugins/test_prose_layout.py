"""Prose paragraphs in every layout: blank lines, one a line, indentation, hard-wrapped lines."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from studio_prose import quotes

from studio.api import SourceText
from studio.corpus.inspect import parse_file

PARAS_ZH = [
    "阿福推开门，屋里黑洞洞的，只有灶下一点火光，照着他娘弯着的背，锅里的粥已经熬得稠了。",
    "“娘，我回来了。”",
    "他娘没有回头，只说：“鞋上的泥先在门口刮干净，昨天才扫的地，又要被你踩脏了。”",
    "阿福在门槛上刮了半天，说：“知道了，娘。”才进来坐在小凳上，伸手去烤火。",
    "“今天镇上怎样？”",
    "“米又涨了两个钱，卖米的说是北边打仗，船过不来。”",
    "他娘叹了一口气，舀了一碗粥递给他，自己却不吃，只坐在一旁看着他，看了许久，"
    "才说道：“明天你去二叔家借些来罢。”",
    "阿福低着头喝粥，一声也不响。",
]

PARAS_EN = [
    "The rain had not stopped since noon, and the lamps along the quay were lit an hour "
    "early, so that the water shone like oiled slate beneath the warehouse windows.",
    "“You are late,” said Martha, without turning from the fire.",
    "“The ferry was held at the bridge,” Tom answered, shaking the water from his coat. "
    "“Half the town was waiting for it.”",
    "“Then you will have heard the news.”",
    "Martha looked at him then for the first time, and he saw that she had been crying, "
    "though she had tried to hide it under the steam of the kettle and the stir of the pot.",
    "He had not, and he said so; and she told him, slowly, as one tells a thing that has "
    "been turned over many times in the mind before it is spoken aloud to anybody.",
    "“It is only a rumour,” she said at last.",
]


def _cols(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def _wrap_zh(text: str, width: int) -> list[str]:
    lines, line, used = [], "", 0
    for ch in text:
        if used + _cols(ch) > width:
            lines.append(line)
            line, used = "", 0
        line += ch
        used += _cols(ch)
    return lines + [line]


def _wrap_en(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return lines + [line]


def _full_last_lines(paras: list[str], wrap, width: int) -> int:
    return sum(1 for p in paras if sum(_cols(ch) for ch in wrap(p, width)[-1]) == width)


def _texts(text: str) -> list[str]:
    return ["".join(p.text.split("\n")) for kind, p in quotes.paragraphs(text) if kind == "text"]


def _texts_en(text: str) -> list[str]:
    return [p.text.replace("\n", " ") for kind, p in quotes.paragraphs(text) if kind == "text"]


def test_indented_paragraphs_without_blank_lines_are_found_by_indentation():
    lines = []
    for para in PARAS_ZH * 4:
        wrapped = _wrap_zh(para, 40)
        lines += ["　　" + wrapped[0]] + wrapped[1:]
    text = "\n".join(lines) + "\n"
    shape = quotes.layout(text.split("\n"))
    assert shape.kind == "shape" and shape.indent
    assert _texts(text) == PARAS_ZH * 4  # not one giant paragraph


def test_hard_wrapped_chinese_without_indent_or_blank_lines_ends_paragraphs_at_short_lines():
    assert not _full_last_lines(PARAS_ZH, _wrap_zh, 30)  # those are ambiguous in any reading
    lines = [line for para in PARAS_ZH * 4 for line in _wrap_zh(para, 30)]
    text = "\n".join(lines)
    shape = quotes.layout(lines)
    assert (shape.kind, shape.indent, shape.width, shape.columns) == ("shape", False, 30, True)
    assert _texts(text) == PARAS_ZH * 4


def test_full_last_line_of_a_speech_still_ends_it_before_the_next_speech():
    # “…” exactly filling the width, then a line opening another speech: two paragraphs
    filler = ["他说了很多很多的话，一直说到天黑，说到灯也点上了才停下来歇口气。"] * 6
    speech = "“好。”" + "好" * 12 + "。”"  # 1+2+2+1 + 24 + 2+1 = 33 columns
    lines = (
        [line for para in filler for line in _wrap_zh(para, 33)]
        + [
            "“" + speech[1:],
            "“谁在外面？”",
        ]
        + [line for para in filler for line in _wrap_zh(para, 33)]
    )
    paras = _texts("\n".join(lines))
    assert "“谁在外面？”" in paras


def test_hard_wrapped_english_without_blank_lines_breaks_only_where_the_next_word_fitted():
    lines = [line for para in PARAS_EN * 3 for line in _wrap_en(para, 50)]
    shape = quotes.layout(lines)
    assert shape.kind == "shape" and shape.width == 50 and shape.words
    assert _texts_en("\n".join(lines)) == PARAS_EN * 3


def test_short_line_ending_mid_sentence_joins_in_english():
    lines = [line for para in PARAS_EN * 3 for line in _wrap_en(para, 50)]
    lines[1:1] = ["and so,"]  # short, but the sentence goes on
    joined = _texts_en("\n".join(lines))
    assert joined[0].count("and so,") == 1 and len(joined) == len(PARAS_EN) * 3


def test_blank_line_and_one_line_layouts_keep_their_paragraphs():
    blank = "\n\n".join("\n".join(_wrap_zh(p, 30)) for p in PARAS_ZH * 3)
    assert quotes.layout(blank.split("\n")).kind == "blank"
    assert _texts(blank) == PARAS_ZH * 3
    one = "\n".join(PARAS_ZH * 3)
    assert quotes.layout(one.split("\n")).kind == "line"
    assert _texts(one) == PARAS_ZH * 3


def test_speakers_are_the_same_in_every_layout(host):
    story = ["第一章"] + PARAS_ZH * 3
    blank = "\n\n".join(story)
    indented = "\n".join(
        ["第一章"]
        + [
            line
            for para in PARAS_ZH * 3
            for line in (lambda w: ["　　" + w[0]] + w[1:])(_wrap_zh(para, 36))
        ]
    )
    wrapped = "\n".join(["第一章"] + [ln for p in PARAS_ZH * 3 for ln in _wrap_zh(p, 36)])
    parser = host.parsers["prose"]
    options = {o.name: o.default for o in parser.options}
    found = []
    for text in (blank, indented, wrapped):
        result = parser.parse(SourceText(Path("story.txt"), text, "utf-8"), options)
        found.append([(u.speaker, u.text[:4]) for u in result.utterances if u.kind == "dialogue"])
    assert found[0] and found[0] == found[1] == found[2]
    assert ("阿福", "知道了，") in found[0]


def test_indented_file_parses_from_disk(host, tmp_path):
    path = tmp_path / "novel.txt"
    lines = []
    for para in PARAS_ZH * 4:
        wrapped = _wrap_zh(para, 40)
        lines += ["    " + wrapped[0]] + wrapped[1:]
    path.write_text("\n".join(lines), encoding="utf-8")
    result = parse_file(path, host.parsers, parser="prose")
    dialogue = [u for u in result.utterances if u.kind == "dialogue"]
    assert len(dialogue) == sum(p.count("“") for p in PARAS_ZH * 4)


def test_story_titles_of_a_collection_are_chapters_and_people_stay_in_their_story():
    first = "　　林秋水走进来，他笑道：“来了。”\n\n　　林秋水又说：“坐罢。”\n\n" * 3
    second = "　　天色暗了。\n\n　　他说：“走罢。”\n\n"
    text = (
        "                        晚饭\n\n                          ·某甲·\n\n"
        + first
        + "\n\n　　夜路\n\n\n"
        + second
    )
    kinds = [(kind, p.text) for kind, p in quotes.paragraphs(text) if kind == "chapter"]
    assert kinds == [("chapter", "晚饭"), ("chapter", "夜路")]  # the byline is not a story
    host_free = [(a.utterance.speaker, a.utterance.text) for a in _document(text).attributions]
    assert host_free[-1] == (None, "走罢。")  # 他 of the second story is not 林秋水


def _document(text: str):
    from studio_prose.parser import ProseDocument

    document = ProseDocument(SourceText(Path("stories.txt"), text, "utf-8"), {})
    document.run()
    return document
