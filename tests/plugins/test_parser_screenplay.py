"""The screenplay parser on Chinese scripts and English plays and screenplays (texts written here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.api import SourceText
from studio.cli import main
from studio.corpus.inspect import parse_file

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """第一集

第1幕
（御花园，春日）
（旁白：那一年春天来得很早。）
宜修：妹妹今日气色真好。
莞莞（笑）：姐姐说笑了。昨夜睡得早些罢了。
宜修: 皇上可曾来过？
莞莞∶不曾。皇上说：朝政繁忙，改日再来。（低头）也是常事。
宜修；天凉了，回去吧。
我看这天要下雨。

第2幕
（碎玉轩）
槿汐：小主，温太医来了。
莞莞（起身，整衣）：请他进来。
温实初：微臣给小主请安。
第2幕（续）
莞莞：温大人快请起。
苏培盛：（点头）
【另分一幕】
槿汐：夜深了。
"""


def _parse(host, text: str, name: str = "script.txt", **options):
    parser = host.parsers["screenplay"]
    return parser.parse(
        SourceText(Path(name), text, "utf-8"), {o.name: o.default for o in parser.options} | options
    )


def test_chinese_script_speakers_actions_and_colons(host):
    result = _parse(host, SCRIPT)
    said = [(u.speaker, u.text, u.action) for u in result.utterances if u.kind == "dialogue"]
    assert said[1] == ("莞莞", "姐姐说笑了。昨夜睡得早些罢了。", "笑")  # 角色（动作）：
    assert said[2] == ("宜修", "皇上可曾来过？", None)  # half-width colon
    # ∶ separator; the second colon stays in the speech; the inline （低头） is removed but kept
    assert said[3] == ("莞莞", "不曾。皇上说：朝政繁忙，改日再来。也是常事。", "低头")
    assert said[4][:2] == (
        "宜修",
        "天凉了，回去吧。",
    )  # ； typo, accepted because 宜修 is a known label
    assert said[5][0] is None  # no label: kept, unassigned, and warned about
    assert any(w.line == 11 and "no speaker" in w.message for w in result.warnings)
    assert ("莞莞", "请他进来。", "起身，整衣") in said


def test_directions_narration_and_scenes(host):
    result = _parse(host, SCRIPT)
    kinds = {(u.kind, u.text) for u in result.utterances}
    assert ("narration", "那一年春天来得很早。") in kinds
    assert ("action", "御花园，春日") in kinds
    assert ("action", "点头") in {
        (u.kind, u.text) for u in result.utterances if u.speaker == "苏培盛"
    }
    scenes = {u.line: u.scene for u in result.utterances}
    assert scenes[6] == "第一集/第1幕" and scenes[15] == "第一集/第2幕"
    assert scenes[19] == "第一集/第2幕"  # 第2幕（续） goes on with 第2幕
    assert scenes[22] == "第一集/【另分一幕】"
    assert all(u.file == "script.txt" and u.line > 0 for u in result.utterances)


PLAY = """SAMPSON:
Gregory, o' my word, we'll not carry coals.

GREGORY:
No, for then we should be colliers.
But I can give thee more:
and more again.

SAMPSON:
I strike quickly, being moved.
"""


def test_speech_line_ending_in_a_colon_is_not_a_speaker(host):
    result = _parse(host, PLAY)
    said = [(u.speaker, u.text) for u in result.utterances if u.kind == "dialogue"]
    assert [s for s, _ in said] == ["SAMPSON", "GREGORY", "SAMPSON"]
    assert said[1][1].endswith("But I can give thee more: and more again.")


def test_shipped_romeo_and_juliet_has_its_real_cast(host):
    result = parse_file(ROOT / "workspace/corpus/romeo-and-juliet.txt", host.parsers)
    speakers = {u.speaker for u in result.utterances if u.kind == "dialogue"}
    assert result.parser == "screenplay"
    assert {"ROMEO", "JULIET", "Nurse", "FRIAR LAURENCE"} <= speakers
    assert len(speakers) < 40 and not any(s.endswith(":") or " thee " in f" {s} " for s in speakers)
    assert (
        len({u.scene for u in result.utterances}) > 10
    )  # no headings: scenes cut where the cast changes


SCREENPLAY = """FADE IN:

INT. LIGHTHOUSE - NIGHT

Rain hammers the glass. MARA climbs the stairs.

MARA
(breathless)
Is anyone up here?

TOM (O.S.)
Only the gulls.

CUT TO:

EXT. HARBOUR - DAY

TOM: I never lie before breakfast.
"""

GUTENBERG = """ACT I

SCENE I. A lane by the sea.

 Enter Hal and Ned.

HAL.
Good morrow, Ned.

NED. Too early for honest folk.

 Exit.
"""


def test_english_screenplay_cues_parentheticals_and_headings(host):
    result = _parse(host, SCREENPLAY)
    said = [
        (u.speaker, u.text, u.action, u.scene) for u in result.utterances if u.kind == "dialogue"
    ]
    assert said[0] == ("MARA", "Is anyone up here?", "breathless", "INT. LIGHTHOUSE - NIGHT")
    assert said[1][:3] == ("TOM", "Only the gulls.", "O.S.")
    assert said[2][0] == "TOM" and said[2][3] == "EXT. HARBOUR - DAY"
    actions = [u.text for u in result.utterances if u.kind == "action"]
    assert "CUT TO:" in actions and "Rain hammers the glass. MARA climbs the stairs." in actions


def test_shakespeare_name_dot_style(host):
    result = _parse(host, GUTENBERG)
    said = [(u.speaker, u.text, u.scene) for u in result.utterances if u.kind == "dialogue"]
    assert said == [
        ("HAL", "Good morrow, Ned.", "ACT I/SCENE I. A lane by the sea."),
        ("NED", "Too early for honest folk.", "ACT I/SCENE I. A lane by the sea."),
    ]
    assert [u.text for u in result.utterances if u.kind == "action"] == [
        "Enter Hal and Ned.",
        "Exit.",
    ]


def test_headingless_play_is_cut_into_scenes_where_the_cast_changes(host):
    first = "".join(
        f"{name}:\nLine {i} of the first scene.\n\n" for i, name in enumerate(["ANNA", "BEN"] * 5)
    )
    second = "".join(
        f"{name}:\nLine {i} of the second scene.\n\n" for i, name in enumerate(["CARL", "DORA"] * 5)
    )
    result = _parse(host, first + second)
    scenes = [u.scene for u in result.utterances]
    assert scenes[0] == "auto-1" and scenes[-1] == "auto-2" and scenes[10] == "auto-2"


@pytest.mark.parametrize("codec", ["gb18030", "big5", "utf-16", "utf-8-sig"])
def test_encoded_scripts_parse_the_same(host, codec, tmp_path):
    text = (
        SCRIPT.replace("\n", "\r\n")
        if codec != "big5"
        else "宜修：妹妹今日氣色真好。\r\n莞莞（笑）：姐姐說笑了。\r\n"
    )
    path = tmp_path / "script.txt"
    path.write_bytes(text.encode(codec))
    result = parse_file(path, host.parsers)
    assert result.parser == "screenplay" and result.source.newline == "\r\n"
    assert [u.speaker for u in result.utterances if u.kind == "dialogue"][:2] == ["宜修", "莞莞"]


def test_parse_cli_jsonl_and_roster(tmp_path, capsys):
    path = tmp_path / "script.txt"
    path.write_bytes(SCRIPT.encode("gb18030"))
    assert main(["parse", str(path), "--jsonl"]) == 0
    out = capsys.readouterr()
    rows = [json.loads(line) for line in out.out.splitlines()]
    assert all(set(row) >= {"speaker", "text", "kind", "scene", "file", "line"} for row in rows)
    assert "parser screenplay (sniffed), encoding gb18030" in out.err and "1 warnings" in out.err
    assert main(["roster", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["speakers"][0]["name"] == "莞莞" and data["unassigned_lines"] == 1


def test_a_chinese_name_alone_takes_one_speech_line_not_the_rest_of_the_file(host):
    text = "列位看官：\n你道此书从何而来？\n    说起根由虽近荒唐，细按则深有趣味。\n    待在下将此来历注明。\n"
    result = _parse(host, text)
    said = [(u.speaker, u.text) for u in result.utterances if u.kind == "dialogue" and u.speaker]
    assert said == [("列位看官", "你道此书从何而来？")]
    assert [w.line for w in result.warnings] == [3, 4]  # the rest is reported, not swallowed
