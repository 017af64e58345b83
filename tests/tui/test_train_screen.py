"""Train screen: start a run from the form, follow runs started elsewhere, stop, notice a crash."""

from __future__ import annotations

import subprocess
import sys
import time

from studio.train.events import ConfigEvent
from studio.train.rundir import RunDir
from studio.tui.screens.dialogs import ConfirmDialog, PickDialog
from studio.tui.screens.new_run import NewRunDialog
from studio.tui.widgets.loss_chart import LossChart
from tests.tui.apps.fixture_workspace import fixed_events, write_fixed_run


async def _settle(app, pilot) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def _running_run(root, name: str, pid: int):
    """A run folder whose events say it is running in process ``pid``."""
    events = [e for e in fixed_events() if not e.terminal and getattr(e, "step", 0) <= 12]
    assert isinstance(events[0], ConfigEvent)
    events[0].pid = pid
    return write_fixed_run(root, name, events)


async def test_new_run_form_starts_a_run_that_is_followed_to_the_end(studio_ws, make_app):
    app = make_app(studio_ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(app, pilot)
        await pilot.press("5")
        await _settle(app, pilot)
        await pilot.press("n")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, NewRunDialog)
        assert dialog.query_one("#opt-tokens_per_batch").value == "512"  # studio.toml value shown
        dialog.query_one("#run-name").value = "from-tui"
        dialog.query_one("#opt-max_steps").value = "1"
        dialog.query_one("#opt-lr").value = "0.001"
        await pilot.press("ctrl+s")
        await pilot.pause()
        run = studio_ws / "runs" / "from-tui"
        config = RunDir(run).config()
        assert (
            config["max_steps"] == 1 and config["lr"] == 0.001 and config["tokens_per_batch"] == 512
        )
        deadline = time.monotonic() + 120
        screen = app.screen
        while time.monotonic() < deadline and (
            screen.state is None or screen.state.status not in ("finished", "failed")
        ):
            await pilot.pause(0.2)
        assert screen.run_dir == run and screen.state.status == "finished", RunDir(run).log_tail()
        assert len(screen.query_one(LossChart).losses) == 1


async def test_runs_started_elsewhere_can_be_followed_and_stopped(studio_ws_with_run, make_app):
    app = make_app(studio_ws_with_run)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await _settle(app, pilot)
            await pilot.press("5")
            await _settle(app, pilot)
            run = _running_run(
                studio_ws_with_run, "from-cli", sleeper.pid
            )  # appears after the studio opened
            await pilot.press("f")
            await pilot.pause()
            assert isinstance(app.screen, PickDialog)
            assert [key for key, _ in app.screen.entries][0] == "from-cli"
            await pilot.press("up", "enter")  # the dialog opens on the followed run
            await pilot.pause(0.5)
            screen = app.screen
            assert (
                screen.run_dir == run
                and screen.state.status == "running"
                and screen.state.step == 12
            )
            await pilot.press("x")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmDialog)
            await pilot.press("y")
            await pilot.pause()
            assert RunDir(run).stop_requested()
            assert sleeper.wait(timeout=10) != 0  # SIGTERM reached the run's process
            await pilot.pause(1.5)  # the once-a-second check notices the process is gone
            assert screen.state.status == "crashed"
            screen.workers.cancel_group(screen, "train-follow")
    finally:
        sleeper.kill()


async def test_the_log_panel_follows_a_growing_log(studio_ws_with_run, make_app):
    from textual.widgets import Log

    app = make_app(studio_ws_with_run)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run = RunDir(_running_run(studio_ws_with_run, "growing", sleeper.pid))
        run.log_file.write_text("".join(f"line {n}\n" for n in range(1, 31)), encoding="utf-8")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await pilot.press("5")  # follows the newest run, still running: never "complete"
            await pilot.pause(0.5)
            assert app.screen.run_dir == run.path
            log = app.screen.query_one(Log)
            await pilot.pause(1.5)
            assert log.lines[-1] == "line 30" and log.scroll_y == log.max_scroll_y > 0
            with open(run.log_file, "a", encoding="utf-8") as handle:
                handle.write("".join(f"line {n}\n" for n in range(31, 41)))
            await pilot.pause(1.5)  # the once-a-second check reads the new tail
            assert log.lines[-1] == "line 40"
            assert log.scroll_y == log.max_scroll_y  # the newest line is on screen
            app.screen.workers.cancel_group(app.screen, "train-follow")
    finally:
        sleeper.kill()
