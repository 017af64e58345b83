"""Augment, train and chat screens on real back-ends.

Persona-qa proposals, a tiny CPU run, streaming.
"""

from __future__ import annotations

import json

from studio.dataset.store import DatasetStore
from studio.tui.messages import ReplyFinished, ReplyPiece
from studio.tui.widgets.chat_pane import ChatPane
from studio.tui.widgets.loss_chart import LossChart
from studio.tui.widgets.option_form import OptionForm


async def _settle(app, pilot) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_augment_form_runs_a_strategy_and_proposals_are_pending(studio_ws, make_app):
    app = make_app(studio_ws)
    async with app.run_test(size=(100, 30)) as pilot:
        await _settle(app, pilot)
        await pilot.press("4")
        await _settle(app, pilot)
        screen = app.screen
        await screen.show_strategy("persona-qa")
        await pilot.pause()
        form = screen.query_one(OptionForm)
        assert [o.name for o in form.options][:1] == ["count"]  # rendered from the plugin's options
        form.query_one("#opt-count").value = "5"
        await pilot.press("ctrl+r")
        await _settle(app, pilot)
        proposals = [
            s
            for s in DatasetStore(studio_ws / "datasets" / "default").samples()
            if s.provenance.get("kind") == "augment"
        ]
        status = str(screen.query_one("#augment-status").render())
        assert proposals and len(proposals) <= 5 and f"{len(proposals)} new as pending" in status
        assert all(
            s.status == "pending" and s.provenance["strategy"] == "persona-qa" for s in proposals
        )
        assert "proposed" in str(screen.query_one("#augment-status").render())


async def test_augment_form_refuses_a_bad_value(studio_ws, make_app):
    app = make_app(studio_ws)
    async with app.run_test(size=(100, 30)) as pilot:
        await _settle(app, pilot)
        await pilot.press("4")
        await _settle(app, pilot)
        await app.screen.show_strategy("persona-qa")
        await pilot.pause()
        app.screen.query_one("#opt-count").value = "0"
        await pilot.press("ctrl+r")
        await _settle(app, pilot)
        assert not any(
            s.provenance.get("kind") == "augment"
            for s in DatasetStore(studio_ws / "datasets" / "default").samples()
        )


async def test_a_finished_tiny_cpu_run_shows_its_curve(real_run, make_app):
    from studio.train.events import StepEvent
    from studio.train.rundir import RunDir

    events = RunDir(real_run / "runs" / "tiny").events()
    losses = [(e.step, e.loss) for e in events if isinstance(e, StepEvent)]
    app = make_app(real_run, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(app, pilot)
        await pilot.press("5")
        await _settle(app, pilot)
        chart = app.screen.query_one(LossChart)
        assert chart.losses == losses and len(losses) == 3
        assert "finished" in str(app.screen.query_one("#train-run").render())
        drawn = str(chart.render())
        assert any("\u2800" < ch <= "\u28ff" for ch in drawn)  # braille dots plotted
        assert "step 3" in drawn


async def test_chat_streams_replies_from_base_and_adapter_side_by_side(
    real_run, make_app, tmp_path
):
    import shutil

    root = tmp_path / "harbour"
    shutil.copytree(real_run, root, ignore=shutil.ignore_patterns(".lock", ".studio.lock"))
    messages = []
    app = make_app(root)
    async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
        await _settle(app, pilot)
        await pilot.press("6")
        await _settle(app, pilot)
        screen = app.screen
        assert screen._pane_keys() == {"chat-a": "base", "chat-b": "tiny|final"}
        screen.query_one("#chat-max").value = "6"
        await pilot.press(*"hello", "enter")
        await _settle(app, pilot)
        finished = {m.pane for m in messages if isinstance(m, ReplyFinished)}
        assert finished == {"chat-a", "chat-b"}, [
            m for m in messages if "Reply" in type(m).__name__
        ]
        assert finished == {"chat-a", "chat-b"}
        for pane in ("chat-a", "chat-b"):
            seen = {
                id(m): m for m in messages if isinstance(m, ReplyPiece) and m.pane == pane
            }  # bubbling repeats
            pieces = "".join(m.text for m in seen.values())
            assert screen.query_one(f"#{pane}", ChatPane).reply_text == pieces
        await pilot.press("ctrl+s")
        await pilot.pause()
        saved = sorted((root / "chats").glob("*.json"))
        assert (
            len(saved) == 2
        )  # one transcript per side, even when a random tiny model says nothing
        for path in saved:
            transcript = json.loads(path.read_text(encoding="utf-8"))
            assert transcript["messages"][0] == {"role": "user", "content": "hello"}
            assert transcript["system"].startswith("You are Mira")
