"""SVG snapshots of every screen at 80×24 and 160×48 on the fixed workspace (pytest-textual-snapshot).

Regenerate with ``pytest tests/tui/test_snapshots.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

import pytest

SCREENS = {"home": "1", "corpus": "2", "dataset": "3", "augment": "4", "train": "5", "chat": "6"}
SIZES = {"80x24": (80, 24), "160x48": (160, 48)}


async def _idle(pilot) -> None:
    """Until no worker runs and no widget shows a loading spinner (slow machines included)."""
    app = pilot.app
    for _ in range(200):
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause(0.02)
        busy = any(w.is_running for w in app.workers) or any(
            w.loading for w in app.screen.query("*")
        )
        if not busy:
            return


def _settle_then(keys: tuple[str, ...]):
    async def run_before(pilot) -> None:
        await _idle(pilot)
        for key in keys:
            await pilot.press(key)
            await _idle(pilot)
        for widget in pilot.app.screen.query("Input, TextArea"):
            widget.cursor_blink = False  # a blinking cursor would make the picture depend on timing
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("screen", SCREENS)
def test_screen_layout(screen, size, snap_compare, studio_ws_with_run, make_app):
    app = make_app(studio_ws_with_run)
    keys: tuple[str, ...] = (SCREENS[screen],)
    if screen == "corpus":
        keys += ("w",)  # on the first parse warning
    if screen == "dataset":
        keys += ("a", "r", "j")  # one accepted, one rejected
    assert snap_compare(app, terminal_size=SIZES[size], run_before=_settle_then(keys))


def test_help_screen(snap_compare, studio_ws_with_run, make_app):
    app = make_app(studio_ws_with_run)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_settle_then(("question_mark",)))


def test_read_only_header(snap_compare, studio_ws_with_run, make_app):
    app = make_app(studio_ws_with_run, read_only=True)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_settle_then(("3",)))


def test_shipped_workspace_home_for_the_readme(snap_compare, shipped_workspace, make_app):
    """The home screen on the shipped Romeo and Juliet workspace (docs/screenshots/readme-home.svg)."""
    from studio.dataset.service import build_dataset
    from studio.plugins import load_host
    from studio.workspace import Workspace

    build_dataset(Workspace(shipped_workspace), load_host().parsers)
    app = make_app(shipped_workspace)
    assert snap_compare(app, terminal_size=(120, 36), run_before=_settle_then(()))
