"""The whole app: opens the shipped workspace, keys switch screens, help, palette, read-only."""

from __future__ import annotations

import io

from rich.console import Console
from textual.widgets import DataTable

from studio.tui.screens.help import HelpScreen, binding_sections


async def _settle(app, pilot) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_tui_opens_the_shipped_workspace(shipped_workspace, make_app):
    app = make_app(shipped_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(app, pilot)
        assert app.current_mode == "home"
        files = app.screen.query_one("#home-files", DataTable)
        assert [str(files.get_row_at(i)[0]) for i in range(files.row_count)] == [
            "romeo-and-juliet.txt"
        ]
        roster = app.screen.query_one("#home-roster", DataTable)
        names = [str(roster.get_row_at(i)[0]) for i in range(roster.row_count)]
        assert any("JULIET" in name for name in names) and len(names) > 10


async def test_number_keys_switch_screens_and_help_lists_every_binding(
    studio_ws_with_run, make_app
):
    app = make_app(studio_ws_with_run)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(app, pilot)
        for key, mode in zip(
            "234561", ("corpus", "dataset", "augment", "train", "chat", "home"), strict=True
        ):
            if mode == "home":  # the chat prompt takes digits: escape leaves it first
                await pilot.press("escape")
            await pilot.press(key)
            await _settle(app, pilot)
            assert app.current_mode == mode
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=160, record=True, file=io.StringIO())
        console.print(app.screen._table())
        shown = console.export_text()
        for _title, bindings in binding_sections(app):
            for binding in bindings:
                assert (binding.description or binding.action) in shown
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_command_palette_goes_to_a_screen(studio_ws, make_app):
    app = make_app(studio_ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"go to train")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await _settle(app, pilot)
        assert app.current_mode == "train"


async def test_read_only_workspace_shows_it_and_refuses_writes(studio_ws, make_app):
    app = make_app(studio_ws, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(app, pilot)
        assert "READ-ONLY" in str(app.screen.query_one("TopBar").render())
        await pilot.press("3")
        await _settle(app, pilot)
        assert app.screen.check_action("decide", ("accept",)) is None
        await pilot.press("a")
        await app.screen.run_action("decide('accept')")
        await pilot.pause()
        assert not (studio_ws / "datasets" / "default" / "journal.jsonl").exists()


async def test_home_drafts_the_persona_card_and_applies_it_on_yes(studio_ws, make_app):
    from studio.tui.screens.dialogs import ConfirmDialog

    app = make_app(studio_ws)
    async with app.run_test(size=(100, 30)) as pilot:
        await _settle(app, pilot)
        await pilot.press("c")
        await _settle(app, pilot)
        assert isinstance(app.screen, ConfirmDialog)
        card = app.screen.detail
        assert card.startswith("You are MIRA.")
        assert (studio_ws / "card-draft.md").exists()
        await pilot.press("y")
        await _settle(app, pilot)
        assert app.ws.config.character.persona == card
