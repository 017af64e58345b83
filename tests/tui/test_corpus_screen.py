"""Corpus inspector: warnings are jumpable, speaker fixes and alias merges persist, search finds."""

from __future__ import annotations

import json

from studio.tui.screens.dialogs import AliasDialog, SpeakerDialog
from studio.tui.widgets.utterance_view import UtteranceView


async def _settle(app, pilot) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def _open_corpus(app, pilot):
    await _settle(app, pilot)
    await pilot.press("2")
    await _settle(app, pilot)
    return app.screen


async def test_warning_line_gets_a_speaker_and_undo_takes_it_back(studio_ws, make_app):
    app = make_app(studio_ws)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open_corpus(app, pilot)
        await pilot.press("w")
        await pilot.pause()
        row = screen.current_row()
        assert row.warning and row.file == "corpus/harbour-zh.txt"
        await pilot.press("s")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, SpeakerDialog)
        dialog.query_one("#speaker").value = "MIRA"
        await pilot.press("enter")
        await _settle(app, pilot)
        fixes = [
            json.loads(line) for line in (studio_ws / "corpus-fixes.jsonl").read_text().splitlines()
        ]
        assert (fixes[-1]["file"], fixes[-1]["line"], fixes[-1]["speaker"]) == (
            row.file,
            row.line,
            "MIRA",
        )
        fixed = screen.current_row()
        assert (fixed.line, fixed.speaker, fixed.fixed) == (row.line, "MIRA", True)
        await pilot.press("u")
        await _settle(app, pilot)
        assert screen.current_row().speaker == row.speaker and not screen.current_row().fixed


def test_unparsed_line_prefix_is_split_into_speaker_and_text():
    from studio.tui.screens.corpus import guess_speaker

    assert guess_speaker("阿桥；你总是这么笃定。") == ("阿桥", "你总是这么笃定。")
    assert guess_speaker("皇帝（喜）；只是泛泛之辈。") == ("皇帝", "只是泛泛之辈。")
    assert guess_speaker("no prefix here") == ("", "no prefix here")


async def test_a_run_of_subtitle_lines_gets_one_speaker(studio_ws, make_app):
    app = make_app(studio_ws)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open_corpus(app, pilot)
        screen.open_file("corpus/night.srt")
        await pilot.pause()
        assert screen.current_row().speaker is None
        before = {entry.name: entry.lines for entry in screen.snapshot.roster}.get("MIRA", 0)
        await pilot.press("v", "j", "j", "s")
        await pilot.pause()
        await pilot.press(*"MIRA", "enter")
        await _settle(app, pilot)
        view = screen.query_one(UtteranceView)
        assert [r.speaker for r in view.rows] == ["MIRA", "MIRA", "MIRA"]
        roster = {entry.name: entry.lines for entry in screen.snapshot.roster}
        assert roster["MIRA"] == before + 3


async def test_alias_merge_lands_in_studio_toml(studio_ws, make_app):
    app = make_app(studio_ws)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open_corpus(app, pilot)
        screen.find_speaker("OLD WREN")
        await pilot.pause()
        assert screen.current_row().speaker == "OLD WREN"
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, AliasDialog)
        await pilot.press(*"WREN", "enter")
        await _settle(app, pilot)
        text = (studio_ws / "studio.toml").read_text(encoding="utf-8")
        assert text.startswith("# the TUI tests' workspace")  # comments kept
        assert app.ws.config.roster.aliases == {"WREN": ["OLD WREN"]}
        wren = next(entry for entry in screen.snapshot.roster if entry.name == "WREN")
        assert wren.lines == 3 and wren.aliases == {"WREN": 2, "OLD WREN": 1}


async def test_search_jumps_to_matches_across_files(studio_ws, make_app):
    app = make_app(studio_ws)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open_corpus(app, pilot)
        await pilot.press("slash", *"gulls", "enter")
        await pilot.pause()
        assert screen.current_row().text == "Only me, and the gulls."
        await pilot.press("slash", *"lantern", "enter")
        await pilot.pause()
        assert "lantern" in screen.current_row().text
