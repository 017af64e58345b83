"""Fixtures of the TUI tests: the fixed workspace, apps on it, and one real tiny training run."""

from __future__ import annotations

import fcntl
import shutil
from pathlib import Path

import pytest

from tests.tui.apps.fixture_workspace import make_workspace, write_fixed_run


@pytest.fixture(scope="session")
def plugin_host():
    from studio.plugins import load_host

    return load_host()


@pytest.fixture
def studio_ws(tmp_path: Path) -> Path:
    """The fixed workspace with its dataset built (folder name fixed for snapshots)."""
    return make_workspace(tmp_path / "harbour")


@pytest.fixture
def studio_ws_with_run(studio_ws: Path) -> Path:
    """The fixed workspace plus a finished 30-step run with fixed events."""
    write_fixed_run(studio_ws)
    return studio_ws


@pytest.fixture
def make_app(plugin_host):
    """``make_app(path, read_only=False)`` → a StudioApp on that workspace."""
    from studio.tui.app import StudioApp
    from studio.workspace import Workspace

    opened = []

    def make(path: Path, read_only: bool = False) -> StudioApp:
        ws = Workspace(path)
        if read_only:
            ws.read_only = True
        else:
            ws.lock()
        opened.append(ws)
        return StudioApp(ws, host=plugin_host)

    yield make
    for ws in opened:
        ws.unlock()


@pytest.fixture(scope="session")
def real_run(tmp_path_factory, plugin_host) -> Path:
    """A workspace with a real 3-step tiny CPU run (made once, shared by the xdist workers)."""
    shared = tmp_path_factory.getbasetemp().parent / "tui-real-run"
    shared.mkdir(exist_ok=True)
    with open(shared / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        root = shared / "harbour"
        from studio.train.rundir import RunDir

        if not RunDir(root / "runs" / "tiny").has_adapter():
            shutil.rmtree(root, ignore_errors=True)
            make_workspace(root)
            from studio.train.recipe import run
            from studio.train.runner import prepare_run
            from studio.workspace import Workspace

            run_dir = prepare_run(
                Workspace(root),
                plugin_host.adapters,
                run_id="tiny",
                overrides={"max_steps": 3, "eval_every": 2, "save_every": 2},
            )
            assert run(run_dir) == 0
        fcntl.flock(lock, fcntl.LOCK_UN)
    return root
