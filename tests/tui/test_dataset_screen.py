"""Dataset curation: keys decide, every decision is on disk at once, undo, edit, filters, search."""

from __future__ import annotations

from studio.dataset.store import DatasetStore
from studio.tui.widgets.sample_list import SampleList


async def _settle(app, pilot) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def _open_dataset(app, pilot):
    await _settle(app, pilot)
    await pilot.press("3")
    await _settle(app, pilot)
    return app.screen


def _on_disk(ws) -> dict[str, str]:
    """Statuses as a fresh reader of the dataset folder sees them."""
    return {s.id: s.status for s in DatasetStore(ws / "datasets" / "default").samples()}


async def test_accept_reject_undo_are_saved_at_once(studio_ws, make_app):
    app = make_app(studio_ws)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_dataset(app, pilot)
        sample_list = screen.query_one(SampleList)
        first, second = (screen.samples[i].id for i in sample_list.view[:2])
        await pilot.press("a")
        assert sample_list.cursor == 1  # moved on to the next sample
        assert _on_disk(studio_ws)[first] == "accepted"
        await pilot.press("r")
        assert _on_disk(studio_ws)[second] == "rejected"
        await pilot.press("u")
        await pilot.pause()
        assert _on_disk(studio_ws)[second] == "pending"
        assert sample_list.current().id == second and sample_list.current().status == "pending"
        assert screen.counts["accepted"] == 1 and screen.counts["rejected"] == 0


async def test_marked_range_and_inline_edit(studio_ws, make_app):
    app = make_app(studio_ws)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_dataset(app, pilot)
        sample_list = screen.query_one(SampleList)
        ids = [screen.samples[i].id for i in sample_list.view[:3]]
        await pilot.press("v", "j", "j", "a")
        statuses = _on_disk(studio_ws)
        assert [statuses[i] for i in ids] == ["accepted"] * 3
        await pilot.press("u")  # one undo takes the whole range back
        statuses = _on_disk(studio_ws)
        assert [statuses[i] for i in ids] == ["pending"] * 3
        assert screen.counts["accepted"] == 0
        await pilot.press("e")
        await pilot.pause()
        editor = screen.query_one("#dataset-editor")
        assert editor.display and editor.has_focus
        editor.load_text("Nets first, then sleep.")
        await pilot.press("ctrl+s")
        await pilot.pause()
        edited = sample_list.current()
        stored = {s.id: s for s in DatasetStore(studio_ws / "datasets" / "default").samples()}[
            edited.id
        ]
        assert stored.status == "edited" and stored.reply == "Nets first, then sleep."
        assert not editor.display and sample_list.has_focus


async def test_status_filter_and_search(studio_ws, make_app):
    app = make_app(studio_ws)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_dataset(app, pilot)
        sample_list = screen.query_one(SampleList)
        total = len(screen.samples)
        await pilot.press("a", "a")
        await pilot.press("s")  # status: pending
        assert screen.filter.status == "pending" and len(sample_list.view) == total - 2
        await pilot.press("s")  # status: accepted
        assert len(sample_list.view) == 2
        await pilot.press("s", "s", "s")  # back to all
        assert screen.filter.status == "all"
        await pilot.press("slash", *"tide", "enter")
        await pilot.pause()
        shown = [screen.samples[i] for i in sample_list.view]
        assert shown and all("tide" in (s.prompt + s.reply).lower() for s in shown)
        assert len(shown) < total
