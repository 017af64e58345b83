"""The command line's exit codes, its top-level help, a closed stdout and the no-runs hints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from studio.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(ROOT), str(ROOT / "plugins"), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return env


def test_roster_of_a_workspace_without_corpus_files_is_an_error(tmp_path, capsys):
    assert main(["init", str(tmp_path / "ws"), "--character", "Bob"]) == 0
    capsys.readouterr()
    assert main(["roster", str(tmp_path / "ws")]) == 2
    assert "no corpus files match" in capsys.readouterr().err


def test_build_with_an_unreadable_corpus_file_fails_and_names_it(zh_workspace, capsys):
    (zh_workspace / "corpus" / "cover.txt").write_bytes(bytes(range(256)) * 8)
    assert main(["build", str(zh_workspace)]) == 2
    captured = capsys.readouterr()
    assert "cover.txt: this looks like a binary file" in captured.err
    assert "split by scene" in captured.out  # the readable files were still built


def test_roster_with_an_unreadable_corpus_file_fails(zh_workspace, capsys):
    (zh_workspace / "corpus" / "cover.txt").write_bytes(bytes(range(256)) * 8)
    assert main(["roster", str(zh_workspace)]) == 2
    captured = capsys.readouterr()
    assert "cover.txt: this looks like a binary file" in captured.err
    assert "speakers" in captured.out


def test_top_level_help_says_how_to_open_the_studio(capsys):
    try:
        main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    assert "persona-studio WORKSPACE opens the studio" in out
    assert "exit codes: 0 ok, 1 the work failed, 2 bad input or usage, 130 interrupted" in out


def test_chat_and_export_without_runs_name_the_base_flag(tmp_path, capsys):
    ws = str(tmp_path / "ws")
    assert main(["init", ws, "--character", "Bob"]) == 0
    capsys.readouterr()
    assert main(["chat", ws, "--prompt", "hi"]) == 2
    assert f"persona-studio chat {Path(ws).resolve()} --base" in capsys.readouterr().err
    assert main(["export", ws]) == 2
    err = capsys.readouterr().err
    assert "no runs yet" in err and "--base" in err and "persona-studio train" in err


def test_a_closed_stdout_ends_quietly(tmp_path):
    assert main(["init", str(tmp_path / "ws")]) == 0
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line, as with `| head -0`
    try:
        done = subprocess.run(
            [sys.executable, "-m", "studio", "runs", str(tmp_path / "ws")],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=_env(),
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert done.stderr.decode() == ""
    assert done.returncode == 141
