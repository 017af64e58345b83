"""Speaker fixes (corpus-fixes.jsonl) and alias merges into studio.toml."""

from __future__ import annotations

import pytest

from studio.api import Utterance
from studio.corpus.fixes import (
    apply_fixes,
    fixes_path,
    load_fixes,
    merge_alias,
    record_fixes,
    undo_fixes,
)
from studio.errors import InputError, StudioError
from studio.workspace import Workspace


def _utts() -> list[Utterance]:
    return [
        Utterance(None, "Scene 1", kind="scene", scene="1", file="a.srt", line=1),
        Utterance(None, "Where were you?", scene="1", file="a.srt", line=2),
        Utterance(None, "Out walking.", scene="1", file="a.srt", line=3),
        Utterance("ANNA", "In the rain?", scene="1", file="a.srt", line=5),
        Utterance(None, "Other file.", scene="9", file="b.srt", line=1),
    ]


def test_fixes_assign_speakers_insert_warned_lines_and_undo_by_batch(zh_workspace):
    ws = Workspace(zh_workspace)
    assert record_fixes(ws, [("a.srt", 2, None), ("a.srt", 3, None)], "BEN") == 2
    record_fixes(ws, [("a.srt", 4, "I like rain.")], "CARL")
    fixed = apply_fixes(_utts(), ws)
    assert [(u.line, u.speaker) for u in fixed if u.file == "a.srt"] == [
        (1, None),
        (2, "BEN"),
        (3, "BEN"),
        (4, "CARL"),
        (5, "ANNA"),
    ]
    inserted = fixed[3]
    assert inserted.text == "I like rain." and inserted.kind == "dialogue" and inserted.scene == "1"
    assert fixed[-1].file == "b.srt" and fixed[-1].speaker is None

    assert undo_fixes(ws) == [("a.srt", 4)]
    assert set(load_fixes(ws)) == {("a.srt", 2), ("a.srt", 3)}
    assert undo_fixes(ws) == [("a.srt", 2), ("a.srt", 3)]
    assert load_fixes(ws) == {} and undo_fixes(ws) == []

    record_fixes(ws, [("a.srt", 2, None)], "BEN")
    record_fixes(ws, [("a.srt", 2, None)], None)  # clearing a fix
    assert apply_fixes(_utts(), ws)[1].speaker is None


def test_scene_headings_are_never_relabelled(zh_workspace):
    ws = Workspace(zh_workspace)
    record_fixes(ws, [("a.srt", 1, None)], "BEN")
    assert apply_fixes(_utts(), ws)[0].kind == "scene"


def test_a_malformed_journal_names_the_file_and_line(zh_workspace):
    ws = Workspace(zh_workspace)
    fixes_path(ws).write_text(
        '{"file": "a.srt", "line": 2, "speaker": "BEN"}\n{"file": 3}\n', encoding="utf-8"
    )
    with pytest.raises(InputError, match=r"corpus-fixes.jsonl:2: expected an object"):
        load_fixes(ws)


def test_read_only_workspace_refuses_fixes(zh_workspace):
    ws = Workspace(zh_workspace)
    ws.read_only = True
    with pytest.raises(StudioError, match="read-only"):
        record_fixes(ws, [("a.srt", 2, None)], "BEN")
    with pytest.raises(StudioError, match="read-only"):
        merge_alias(ws, "嬛嬛", "莞莞")


def test_merge_alias_keeps_comments_and_moves_aliases(zh_workspace):
    config = zh_workspace / "studio.toml"
    config.write_text("# my notes stay\n" + config.read_text(encoding="utf-8"), encoding="utf-8")
    ws = Workspace(zh_workspace)
    assert merge_alias(ws, "嬛嬛", "莞莞") == "character"
    assert ws.config.character.aliases == ["嬛嬛"]
    assert merge_alias(ws, "皇上", "皇帝") == "roster"
    assert merge_alias(ws, "四郎", "皇上") == "roster"  # into an alias: into its canonical name
    assert ws.config.roster.aliases == {"皇帝": ["皇上", "四郎"]}
    # folding a canonical name with aliases of its own moves them along
    assert merge_alias(ws, "皇帝", "雍正") == "roster"
    assert ws.config.roster.aliases == {"雍正": ["皇帝", "皇上", "四郎"]}
    text = config.read_text(encoding="utf-8")
    assert text.startswith("# my notes stay\n")
    with pytest.raises(StudioError, match="character's name"):
        merge_alias(ws, "莞莞", "皇帝")
    assert Workspace(zh_workspace).config.aliases()["莞莞"] == ["嬛嬛"]
