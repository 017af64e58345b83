"""The Chat screen's memory toggle (ctrl+g) at 80x24 and the Train screen's eval report."""

from __future__ import annotations

import json

from studio.tui.messages import ReplyFinished
from studio.tui.widgets.chat_pane import ChatPane


async def _settle(app, pilot) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_ctrl_k_switches_memory_and_the_transcript_records_what_it_retrieved(
    real_run, make_app, tmp_path
):
    import shutil

    from textual.widgets import Footer

    root = tmp_path / "harbour"
    shutil.copytree(real_run, root, ignore=shutil.ignore_patterns(".lock", ".studio.lock"))
    messages = []
    app = make_app(root)
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        await _settle(app, pilot)
        await pilot.press("6")
        await _settle(app, pilot)
        screen = app.screen
        from textual.widgets._footer import FooterKey

        assert any(b.id == "chat.memory" and b.description == "Memory" for b in screen.BINDINGS)
        keys = {str(k.description): k for k in screen.query_one(Footer).query(FooterKey)}
        assert "Memory" in keys  # shown in the footer, and on the screen at 80 columns
        region = keys["Memory"].region
        assert region.width > 0 and region.right <= 80 and region.y == 23
        pane = screen.query_one("#chat-b", ChatPane)
        assert "memory" not in str(pane.border_title)

        await pilot.press("ctrl+g")
        await pilot.pause()
        assert screen.memory_k == 3 and str(pane.border_title).endswith("· memory 3")
        screen.query_one("#chat-max").value = "3"
        said = [
            json.loads(line)
            for line in (root / "runs" / "tiny" / "samples.jsonl")
            .read_text(encoding="utf-8")
            .splitlines()
            if json.loads(line)["split"] == "train"
        ][0]["turns"][-2]["content"]
        screen.query_one(
            "#chat-input"
        ).value = said  # a line said to her in training: memory finds it
        await pilot.press("enter")
        await _settle(app, pilot)
        assert {m.pane for m in messages if isinstance(m, ReplyFinished)} == {"chat-a", "chat-b"}
        session = screen.sessions["chat-b"]
        assert session.memory_on and len(session.recalled) == 1
        train = {s.id for s in session.memory.items}
        assert session.recalled[0] and set(session.recalled[0]) <= train

        await pilot.press("ctrl+g")
        await pilot.pause()
        assert screen.memory_k == 0 and "memory" not in str(pane.border_title)
        await pilot.press(*"again", "enter")
        await _settle(app, pilot)
        assert not session.memory_on and session.recalled[-1] == []

        await pilot.press("ctrl+s")
        await pilot.pause()
        saved = [
            json.loads(p.read_text(encoding="utf-8"))
            for p in sorted((root / "chats").glob("*.json"))
        ]
        assert saved and all(t["memory"]["recalled"][1] == [] for t in saved)
        assert any(t["memory"]["recalled"][0] == session.recalled[0] for t in saved)


async def test_the_train_screen_shows_the_four_row_eval_report_at_80x24(
    persona_run, host, make_app
):
    import torch
    from rich.cells import cell_len

    from studio.eval.evaluate import evaluate_run
    from studio.tui.screens.eval_report import EvalReportScreen
    from studio.workspace import Workspace

    root = persona_run.parent.parent
    app = make_app(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(app, pilot)
        await pilot.press("5")
        await _settle(app, pilot)
        await pilot.press("e")  # not evaluated yet: says how
        await pilot.pause()
        assert not isinstance(app.screen, EvalReportScreen)
        evaluate_run(
            Workspace(root),
            host.adapters,
            host.parsers,
            limit=3,
            max_new_tokens=4,
            device=torch.device("cpu"),
        )
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, EvalReportScreen)
        text = str(app.screen.query_one("#eval-report-text").render())
        for head in (
            "base+mem",
            "adapt+mem",
            "loss/char of real lines",
            "side by side",
            "did it work?",
        ):
            assert head in text
        widest = max(cell_len(line) for line in app.screen.text.splitlines())
        assert (
            widest <= app.screen.query_one("#eval-report-text").content_size.width
        )  # no wrapping at 80x24
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, EvalReportScreen)
