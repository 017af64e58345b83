"""A second studio opening the same workspace: one writer at a time, the other reads; a killed
holder's lock is gone with it."""

from __future__ import annotations

from studio.cli import main
from studio.dataset.service import build_dataset
from studio.dataset.store import DatasetStore
from studio.errors import WorkspaceLocked
from studio.workspace import Workspace
from tests.reliability.conftest import Driver

HOLDER = r"""
import sys, time
from studio.workspace import Workspace
ws = Workspace(sys.argv[1]).lock()
print("locked", flush=True)
time.sleep(600)
"""


def test_a_second_studio_reads_but_cannot_write_until_the_first_dies(zh_workspace, host, capsys):
    ws = Workspace(zh_workspace)
    build_dataset(ws, host.parsers)
    sample = DatasetStore(ws.dataset_dir()).raw_samples()[0].id
    before = (ws.dataset_dir() / "samples.jsonl").read_bytes()

    holder = Driver(HOLDER, zh_workspace)
    assert holder.line() == "locked"
    pid = holder.process.pid
    for command in (
        ["review", str(zh_workspace), "--accept", sample],
        ["build", str(zh_workspace)],
    ):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "open in another studio" in err and f"process {pid}" in err
    assert not DatasetStore(
        ws.dataset_dir()
    ).journal()  # nothing was written behind the holder's back
    assert (ws.dataset_dir() / "samples.jsonl").read_bytes() == before
    assert main(["review", str(zh_workspace)]) == 0  # reading needs no lock
    assert "train" in capsys.readouterr().out
    second = Workspace(zh_workspace).lock(read_only_ok=True)  # what the TUI does: open read-only
    assert second.read_only
    second.unlock()
    try:
        Workspace(zh_workspace).lock()
        raise AssertionError("a second lock was granted")
    except WorkspaceLocked:
        pass

    holder.kill()  # kill -9: the kernel drops its lock with it, no stale lock to clear by hand
    assert main(["review", str(zh_workspace), "--accept", sample]) == 0
    assert DatasetStore(ws.dataset_dir()).decisions()[sample]["status"] == "accepted"
