"""The subtitle parser: SRT, ASS and WebVTT cues, speakers, languages and scenes."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.api import SourceText
from studio.errors import InputError

SRT = """1
00:00:01,000 --> 00:00:03,000
<i>MARA:</i> Is anyone up here?

2
00:00:03,500 --> 00:00:05,000
- Only the gulls.
- And the wind.

3
00:00:06,000 --> 00:00:08,000
[yawns]

4
00:00:30,000 --> 00:00:32,000
【宜修】天凉了，回去吧。

5
00:00:33,000 --> 00:00:35,000
姐姐说笑了。
Sister, you jest.

6
00:00:36,000 --> 00:00:38,000
Nobody says who I am.
"""

ASS = r"""[Script Info]
ScriptType: v4.00+

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:01.00,0:00:03.00,Default,莞莞,0,0,0,,{\i1}姐姐说笑了。{\i0}
Comment: 0,0:00:03.00,0:00:04.00,Default,,0,0,0,,a note
Dialogue: 0,0:00:05.00,0:00:07.00,Default,,0,0,0,,宜修：天凉了。
"""

VTT = """WEBVTT

00:00:01.000 --> 00:00:03.000
<v Roger Bingham>We are in New York City

00:00:04.000 --> 00:00:06.000
- Are you sure? - Quite sure.
"""

MULTI = """1
00:00:01,000 --> 00:00:02,000
[eng] Hello there.
[fra] Bonjour.

2
00:00:02,500 --> 00:00:04,000
[eng] [yawns]
[fra] [baille]
"""


def _parse(host, text, name="subs.srt", **options):
    parser = host.parsers["subtitle"]
    return parser.parse(
        SourceText(Path(name), text, "utf-8"), {o.name: o.default for o in parser.options} | options
    )


def test_srt_speakers_dashes_sounds_languages_and_scenes(host):
    result = _parse(host, SRT)
    rows = [(u.speaker, u.text, u.kind, u.scene, u.line) for u in result.utterances]
    assert rows[0] == ("MARA", "Is anyone up here?", "dialogue", "00:00:01", 3)  # styling stripped
    assert rows[1][:2] == (None, "Only the gulls.") and rows[2][:2] == (
        None,
        "And the wind.",
    )  # two speakers
    assert rows[3][1:3] == ("yawns", "action")
    assert (
        rows[4][:2] == ("宜修", "天凉了，回去吧。") and rows[4][3] == "00:00:30"
    )  # a gap: a new scene
    assert rows[5][:2] == (None, "姐姐说笑了。")  # bilingual: the first line's language
    assert rows[6][:2] == (None, "Nobody says who I am.")  # no speaker: unassigned
    assert any("bilingual" in w.message for w in result.warnings)
    english = _parse(host, SRT, language="en")
    assert "Sister, you jest." in [u.text for u in english.utterances]
    assert all(u.start is not None and u.end is not None for u in result.utterances)


def test_ass_name_field_and_comments(host):
    result = _parse(host, ASS, "subs.ass")
    assert [(u.speaker, u.text, u.line) for u in result.utterances] == [
        ("莞莞", "姐姐说笑了。", 6),
        ("宜修", "天凉了。", 8),
    ]


def test_webvtt_voices_and_inline_dashes(host):
    result = _parse(host, VTT, "subs.vtt")
    assert [(u.speaker, u.text) for u in result.utterances] == [
        ("Roger Bingham", "We are in New York City"),
        (None, "Are you sure?"),
        (None, "Quite sure."),
    ]


def test_multi_language_tags_keep_one_language(host):
    result = _parse(host, MULTI, language="fra")
    assert [(u.text, u.kind) for u in result.utterances] == [
        ("Bonjour.", "dialogue"),
        ("baille", "action"),
    ]
    with pytest.raises(InputError, match="expected one of eng, fra"):
        _parse(host, MULTI, language="deu")


def test_sniff_and_no_cues(host):
    parser = host.parsers["subtitle"]
    assert parser.sniff(SourceText(Path("a.srt"), SRT, "utf-8")) > 0.9
    assert parser.sniff(SourceText(Path("a.txt"), "宜修：天凉了。\n", "utf-8")) == 0.0
    with pytest.raises(InputError, match="no subtitle cues"):
        _parse(host, "WEBVTT\n\n")
