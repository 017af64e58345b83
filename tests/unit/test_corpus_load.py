"""One way to read a corpus: the user's speaker fixes count in build, roster and eval."""

from __future__ import annotations

import json

from studio.cli import main
from studio.corpus.fixes import record_fixes
from studio.corpus.load import load_utterances
from studio.eval.items import style_lines
from studio.workspace import Workspace

LINE = "妹妹今日气色真好。"  # corpus/script.txt line 5, said by 宜修 in the source


def _fix(root) -> Workspace:
    ws = Workspace(root)
    record_fixes(ws, [("corpus/script.txt", 5, None)], "新人")
    return ws


def test_load_utterances_applies_the_users_fixes(zh_workspace, host):
    ws = Workspace(zh_workspace)
    before = {(u.line, u.speaker) for u in load_utterances(ws, host.parsers).utterances}
    assert (5, "宜修") in before
    _fix(zh_workspace)
    after = load_utterances(ws, host.parsers)
    assert (5, "新人") in {(u.line, u.speaker) for u in after.utterances}
    assert set(after.fixes) == {("corpus/script.txt", 5)}


def test_a_fix_changes_what_roster_sees(zh_workspace, capsys):
    _fix(zh_workspace)
    assert main(["roster", str(zh_workspace), "--json"]) == 0
    speakers = {
        row["name"]: row["lines"] for row in json.loads(capsys.readouterr().out)["speakers"]
    }
    assert speakers.get("新人") == 1 and speakers["宜修"] == 2


def test_a_fix_changes_what_eval_sees(zh_workspace, host):
    ws = _fix(zh_workspace)
    lines = style_lines(ws, host.parsers, "新人", [], [])
    assert LINE in lines["train_char"]
    assert LINE not in style_lines(ws, host.parsers, "宜修", [], [])["train_char"]


def test_roster_counts_utterances_not_lines(zh_workspace, capsys):
    assert main(["roster", str(zh_workspace)]) == 0
    head = capsys.readouterr().out.splitlines()[0]
    assert "utterances" in head and "lines" not in head.replace("parse warnings", "")
