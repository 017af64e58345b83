"""The augment screen under quick keys at 80×24: one form per settled highlight, runs and status."""

from __future__ import annotations

import asyncio

from textual.events import Mount

from studio.dataset.store import DatasetStore
from studio.tui.widgets.option_form import OptionForm


async def _settle(app, pilot) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def _open_augment(app, pilot) -> None:
    await _settle(app, pilot)
    await pilot.press("4")
    await _settle(app, pilot)
    await pilot.pause(0.3)


async def test_two_quick_downs_settle_on_the_second_strategy_with_one_form(studio_ws, make_app):
    mounted = []

    def hook(message) -> None:
        if isinstance(message, Mount) and isinstance(message._sender, OptionForm):
            mounted.append(message._sender)

    app = make_app(studio_ws)
    async with app.run_test(size=(80, 24), message_hook=hook) as pilot:
        await _open_augment(app, pilot)
        screen = app.screen
        strategies = screen.query_one("#augment-strategies")
        start = strategies.highlighted
        mounted.clear()
        strategies.action_cursor_down()  # two downs faster than a form is built
        strategies.action_cursor_down()
        for _ in range(30):
            await pilot.pause(0.05)
        assert strategies.highlighted == start + 2  # the highlight does not snap back
        wanted = app.host.augmenters[strategies.get_option_at_index(start + 2).id]
        forms = list(screen.query(OptionForm))
        assert len(forms) == 1
        shown = [o.name for o in forms[0].options if o.name != "seed"]
        assert shown == [o.name for o in wanted.options if o.name != "seed"]
        assert len(mounted) == 1  # one form per settled highlight, not rebuilt forever
        count = len(mounted)
        for _ in range(10):
            await pilot.pause(0.05)
        assert len(mounted) == count
        await pilot.press("down")
        await pilot.pause(0.3)
        assert strategies.highlighted == start + 3  # keys still work
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code in (0, None)


async def test_run_right_after_moving_runs_the_highlighted_strategy(studio_ws, make_app):
    app = make_app(studio_ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_augment(app, pilot)
        screen = app.screen
        strategies = screen.query_one("#augment-strategies")
        ids = [strategies.get_option_at_index(i).id for i in range(strategies.option_count)]
        target = ids.index("persona-qa")
        for _ in range(target - strategies.highlighted):
            strategies.action_cursor_down()  # faster than a form is built
        await pilot.press("ctrl+r")
        await _settle(app, pilot)
        for _ in range(40):
            await pilot.pause(0.05)
            status = str(screen.query_one("#augment-status").render())
            if "running" not in status:
                break
        assert "proposed" in status, status
        proposals = [
            s
            for s in DatasetStore(studio_ws / "datasets" / "default").samples()
            if s.provenance.get("kind") == "augment"
        ]
        assert proposals and all(s.provenance["strategy"] == "persona-qa" for s in proposals)


async def test_up_down_then_run_ends_with_a_finished_status(studio_ws, make_app):
    app = make_app(studio_ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_augment(app, pilot)
        screen = app.screen
        await screen.show_strategy("persona-qa")
        await pilot.pause()
        screen.query_one("#opt-count").value = "3"
        strategies = screen.query_one("#augment-strategies")
        strategies.action_cursor_up()
        strategies.action_cursor_down()
        await pilot.press("ctrl+r")
        await _settle(app, pilot)
        for _ in range(40):
            await pilot.pause(0.05)
            status = str(screen.query_one("#augment-status").render())
            if "running" not in status:
                break
        assert "proposed" in status, status
        assert not any(w.is_running for w in screen.workers)
        await asyncio.sleep(0)


async def test_quitting_while_the_form_is_built_exits_cleanly(studio_ws, make_app):
    app = make_app(studio_ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_augment(app, pilot)
        strategies = app.screen.query_one("#augment-strategies")
        strategies.action_cursor_down()
        strategies.action_cursor_down()
        await pilot.pause(0.16)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code in (0, None)
