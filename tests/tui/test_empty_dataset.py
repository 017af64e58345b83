"""The dataset screen of a workspace without a dataset, at 80×24: keys stay keys, nothing is typed."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from tests.tui.apps.fixture_workspace import make_workspace


@pytest.fixture
def unbuilt_ws(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "harbour", build=False)


async def _settle(app, pilot) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_no_hidden_input_takes_the_keys_and_building_leaves_no_filter(unbuilt_ws, make_app):
    app = make_app(unbuilt_ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(app, pilot)
        await pilot.press("3")
        await _settle(app, pilot)
        screen = app.screen
        assert screen.MODE == "dataset"
        focused = app.focused
        assert not (
            isinstance(focused, Input) and not focused.display
        )  # no hidden field holds focus
        await pilot.press("4")
        await _settle(app, pilot)
        assert app.screen.MODE == "augment"  # digits switch screens, they are not typed
        await pilot.press("3")
        await _settle(app, pilot)
        assert app.screen.query_one("#dataset-search", Input).value == ""
        await pilot.press("slash", "z", "escape")  # an open search is released by escape
        await _settle(app, pilot)
        search = app.screen.query_one("#dataset-search", Input)
        assert app.focused is not search and not search.display and search.value == ""
        await pilot.press("1", "b")
        await _settle(app, pilot)
        await pilot.press("3")
        await _settle(app, pilot)
        screen = app.screen
        assert screen.filter.text == "" and len(screen.query_one("#dataset-list").view) == len(
            screen.samples
        )
        assert screen.samples


async def test_empty_corpus_screen_keeps_digits_as_keys(tmp_path, make_app):
    root = make_workspace(tmp_path / "harbour", build=False)
    for path in (root / "corpus").iterdir():
        path.unlink()
    app = make_app(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(app, pilot)
        await pilot.press("2")
        await _settle(app, pilot)
        focused = app.focused
        assert not (isinstance(focused, Input) and not focused.display)
        await pilot.press("3")
        await _settle(app, pilot)
        assert app.screen.MODE == "dataset"
