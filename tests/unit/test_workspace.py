"""The workspace: template creation, the lock, the path guard and atomic writes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from studio.errors import InputError, StudioError, WorkspaceLocked
from studio.fsutil import append_jsonl, atomic_write_text, read_jsonl
from studio.workspace import Workspace, create_workspace


def test_create_from_template_gives_a_valid_workspace(tmp_path):
    ws = create_workspace(tmp_path / "new", character="林黛玉")
    assert ws.config.character.name == "林黛玉"
    assert ws.corpus_dir.is_dir()
    with pytest.raises(StudioError, match="not empty"):
        create_workspace(tmp_path / "new")


def test_missing_workspace_names_the_folder(tmp_path):
    with pytest.raises(InputError, match="no such workspace"):
        Workspace(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no studio.toml"):
        Workspace(tmp_path / "empty")


def test_second_process_is_refused_or_opens_read_only(zh_workspace):
    ws = Workspace(zh_workspace).lock()
    try:
        code = textwrap.dedent(f"""
            from studio.workspace import Workspace
            from studio.errors import WorkspaceLocked
            try:
                Workspace({str(zh_workspace)!r}).lock()
                print("locked")
            except WorkspaceLocked as exc:
                print("refused:", exc)
            ws = Workspace({str(zh_workspace)!r}).lock(read_only_ok=True)
            print("read_only", ws.read_only)
        """)
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        assert "refused:" in out and f"process {os.getpid()}" in out
        assert "read_only True" in out
    finally:
        ws.unlock()
    again = Workspace(zh_workspace).lock()
    assert not again.read_only
    again.unlock()


def test_same_process_second_lock_is_refused(zh_workspace):
    first = Workspace(zh_workspace).lock()
    try:
        with pytest.raises(WorkspaceLocked):
            Workspace(zh_workspace).lock()
    finally:
        first.unlock()


def test_path_guard_refuses_traversal_and_symlinks_out(zh_workspace, tmp_path):
    ws = Workspace(zh_workspace)
    with pytest.raises(StudioError, match="outside the workspace"):
        ws.inside("../elsewhere")
    outside = tmp_path / "secret.txt"
    outside.write_text("x")
    (zh_workspace / "corpus" / "link.txt").symlink_to(outside)
    with pytest.raises(StudioError, match="outside the workspace"):
        ws.corpus_files()
    with pytest.raises(StudioError):
        ws.run_dir("../../etc")


def test_corpus_globs_may_not_leave_the_workspace(zh_workspace):
    ws = Workspace(zh_workspace)
    ws.config.corpus.files = ["../*.txt"]
    with pytest.raises(InputError, match="leaves the workspace"):
        ws.corpus_files()


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "first")

    class Boom(Exception):
        pass

    class Exploding(str):
        def encode(self, *args, **kwargs):
            raise Boom

    with pytest.raises(Boom):
        atomic_write_text(target, Exploding("second"))
    assert target.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_jsonl_reader_skips_a_torn_tail(tmp_path):
    path = tmp_path / "j.jsonl"
    append_jsonl(path, {"a": 1})
    append_jsonl(path, {"a": 2})
    with open(path, "ab") as handle:
        handle.write(b'{"a": 3, "trunc')
    assert read_jsonl(path) == [{"a": 1}, {"a": 2}]
