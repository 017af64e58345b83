"""The command palette comes from the bindings, and every entry runs an action that exists."""

from __future__ import annotations

from studio.tui.app import StudioApp
from studio.tui.commands import palette_entries
from studio.tui.screens.dataset_filter import FilterDialog


def test_every_palette_entry_resolves_to_an_existing_action():
    entries = palette_entries(StudioApp)
    assert len(entries) >= 30
    for entry in entries:
        owner = StudioApp.MODES[entry.mode] if entry.mode else StudioApp
        assert callable(getattr(owner, entry.method, None)), (
            f"{entry.title}: {owner.__name__} has no {entry.method}"
        )
    titles = [e.title for e in entries]
    assert len(titles) == len(set(titles))
    assert {"Go to Chat", "Dataset: Accept", "Train: New run", "Chat: Model", "Help"} <= set(titles)


def test_every_screen_binding_with_an_id_is_in_the_palette():
    actions = {(e.mode, e.action) for e in palette_entries(StudioApp)}
    for mode, screen in StudioApp.MODES.items():
        for binding in screen.BINDINGS:
            if (
                getattr(binding, "id", None)
                and binding.key not in ("escape", "enter", "tab")
                and not binding.action.startswith("app.")
            ):
                assert (mode, binding.action) in actions


async def test_a_palette_entry_switches_screen_and_runs_the_action(studio_ws, make_app):
    app = make_app(studio_ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Dataset: Filter")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.current_mode == "dataset"
        assert isinstance(app.screen, FilterDialog)
