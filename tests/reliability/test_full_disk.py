"""A full disk during export and during review decisions.

The disk is a small tmpfs mounted for the test (``mount -t tmpfs -o size=…``, needs root); where
mounting is not permitted a file-size limit (``RLIMIT_FSIZE``, writes past it fail with EFBIG) in
a child process stands in for it. After each failed write: a clear error (no traceback), nothing
half-written kept, what was there before intact, and the next write works once there is room.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from studio.cli import main
from studio.dataset.service import build_dataset
from studio.dataset.store import DatasetStore
from studio.workspace import Workspace
from tests.reliability.conftest import Driver


@pytest.fixture
def small_disk(tmp_path: Path):
    """``mount(size) -> folder``: a tmpfs of ``size`` (skips when mounting is not permitted)."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        folder = tmp_path / f"disk-{len(mounted)}"
        folder.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(
                f"cannot mount a tmpfs here ({done.stderr.strip()}); "
                "the RLIMIT_FSIZE test covers it"
            )
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill(disk: Path) -> Path:
    """Write a file until the disk is full; returns it (delete it to make room)."""
    filler = disk / "filler.bin"
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def tree(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_export_on_a_full_disk_keeps_the_previous_export(persona_run, small_disk, capsys):
    workspace = persona_run.parents[1]
    out = small_disk("400k") / "export"  # room for the adapter, not for a merged model
    assert main(["export", str(workspace), "--run", "r1", "--out", str(out)]) == 0
    before = tree(out)
    assert "adapter/adapter_model.safetensors" in before
    capsys.readouterr()

    assert main(["export", str(workspace), "--run", "r1", "--merged", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no space left" in err.lower() and "Traceback" not in err
    assert (
        tree(out) == before
    )  # the adapter exported earlier is intact, no half model, no temp folder
    assert sorted(p.name for p in out.iterdir()) == ["adapter", "vllm"]
    Workspace(workspace)  # the workspace itself still loads

    assert (
        main(["export", str(workspace), "--run", "r1", "--out", str(out)]) == 0
    )  # what fits still works


def test_review_decisions_on_a_full_disk(persona_workspace, host, small_disk, capsys):
    disk = small_disk("1m")
    root = disk / "ws"
    shutil.copytree(persona_workspace, root)
    build_dataset(Workspace(root), host.parsers)
    store = DatasetStore(Workspace(root).dataset_dir())
    ids = [s.id for s in store.raw_samples()]
    store.record("accept", ids[0])
    journal = store.journal_path
    before = journal.read_bytes()

    filler = fill(disk)
    with pytest.raises(OSError) as caught:  # longer than what is left in the journal's last page
        store.record("edit", ids[1], "很长的回答。" * 2000)
    assert caught.value.errno is not None
    assert journal.read_bytes() == before  # no torn line left behind
    assert (
        main(["review", str(root), "--edit", ids[2], "--reply", "又一个很长的回答。" * 1500]) == 2
    )
    err = capsys.readouterr().err
    assert "No space left" in err and "Traceback" not in err
    assert journal.read_bytes() == before

    filler.unlink()  # room again: decisions go on, nothing acknowledged was lost
    assert main(["review", str(root), "--accept", ids[2]]) == 0
    fresh = DatasetStore(Workspace(root).dataset_dir())
    assert {k: v["status"] for k, v in fresh.decisions().items()} == {
        ids[0]: "accepted",
        ids[2]: "accepted",
    }


FILE_SIZE_LIMIT = r"""
import json, resource, signal, sys
from studio.dataset.store import DatasetStore
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
store = DatasetStore(sys.argv[1])
size = store.journal_path.stat().st_size
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 100, size + 100))
try:
    store.record("edit", sys.argv[2], "很长的回答。" * 2000)
    print("written")
except OSError as exc:
    print(json.dumps({"errno": exc.errno}))
store.record("accept", sys.argv[2])  # a short line still fits
print("accepted")
"""


def test_a_write_past_a_file_size_limit_is_taken_back(persona_workspace, host):
    ws = Workspace(persona_workspace)
    build_dataset(ws, host.parsers)
    store = DatasetStore(ws.dataset_dir())
    ids = [s.id for s in store.raw_samples()]
    store.record("reject", ids[0])
    before = store.journal_path.read_bytes()
    driver = Driver(FILE_SIZE_LIMIT, ws.dataset_dir(), ids[1])
    assert (
        json.loads(driver.line())["errno"] == 27
    )  # EFBIG: part of the line was written, then refused
    assert driver.line() == "accepted"
    driver.kill()
    after = store.journal_path.read_bytes()
    assert after.startswith(before) and after.count(b"\n") == before.count(b"\n") + 1
    assert {k: v["status"] for k, v in DatasetStore(ws.dataset_dir()).decisions().items()} == {
        ids[0]: "rejected",
        ids[1]: "accepted",
    }
