"""Corpus screen at 80×24: next unattributed line, one-key likely speakers, bulk, Home's spk%."""

from __future__ import annotations

import json

from rich.text import Text
from textual.widgets import DataTable, Input, RadioButton

from studio.corpus.attribution import needs_speaker
from studio.tui.screens.corpus_attribute import BulkDialog
from studio.tui.widgets.utterance_view import UtteranceView

SIZE = (80, 24)


async def _settle(app, pilot) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def _open_night(app, pilot):
    await _settle(app, pilot)
    await pilot.press("2")
    await _settle(app, pilot)
    screen = app.screen
    screen.open_file("corpus/night.srt")
    await pilot.pause()
    return screen


def _fixes(ws):
    path = ws / "corpus-fixes.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def test_a_jumps_to_the_next_unattributed_line_and_escape_gives_the_digits_back(
    studio_ws, make_app
):
    app = make_app(studio_ws)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        await pilot.press("2")
        await _settle(app, pilot)
        screen = app.screen
        seen = []
        for _ in range(6):
            await pilot.press("a")
            await pilot.pause()
            row = screen.current_row()
            assert row.speaker is None and needs_speaker(row) and screen.attributing
            seen.append((row.file.removeprefix("corpus/"), row.line))
        # the two doubtful lines of the Chinese scene, then the subtitles, across files, wrapping
        assert seen == [
            ("harbour-zh.txt", 4),
            ("harbour-zh.txt", 6),
            ("night.srt", 3),
            ("night.srt", 7),
            ("night.srt", 11),
            ("harbour-zh.txt", 4),
        ]
        await pilot.press("A")
        await pilot.pause()
        assert screen.current_row().line == 11
        await pilot.press("escape")
        await pilot.pause()
        assert not screen.attributing
        await pilot.press("3")  # not attributing: the digit switches screens as everywhere
        await _settle(app, pilot)
        assert app.current_mode == "dataset" and _fixes(studio_ws) == []


async def test_a_digit_gives_a_likely_speaker_writes_a_fix_and_moves_on(studio_ws, make_app):
    app = make_app(studio_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_night(app, pilot)
        await pilot.press("s", *"MIRA", "enter")  # the first line, by name
        await _settle(app, pilot)
        await pilot.press("a")  # the second line
        await pilot.pause()
        second = screen.current_row()
        assert second.line == 7 and screen.likely() == ["MIRA"]
        detail = str(screen.query_one("#corpus-detail").render())
        assert "1 MIRA" in detail
        await pilot.press("1")
        await _settle(app, pilot)
        last = _fixes(studio_ws)[-1]
        assert (last["file"], last["line"], last["speaker"]) == ("corpus/night.srt", 7, "MIRA")
        view = screen.query_one(UtteranceView)
        assert view.rows[1].speaker == "MIRA" and view.rows[1].fixed
        assert screen.current_row().line == 11 and screen.attributing  # moved on to the next one
        await pilot.press("2")  # only one likely speaker: nothing is written, no screen switch
        await _settle(app, pilot)
        assert app.current_mode == "corpus" and len(_fixes(studio_ws)) == 2


async def test_bulk_assignment_previews_the_count_and_undoes_in_one_step(studio_ws, make_app):
    app = make_app(studio_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_night(app, pilot)
        await pilot.press("b")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, BulkDialog)
        await pilot.press(*"WREN")
        dialog.query_one("#bulk-file", RadioButton).value = True
        await pilot.pause()
        assert (
            str(dialog.query_one("#bulk-preview").render()) == "3 lines will get the speaker WREN"
        )
        dialog.query_one("#bulk-pattern", Input).value = "/gulls|rope/"
        await pilot.pause()
        assert (
            str(dialog.query_one("#bulk-preview").render()) == "2 lines will get the speaker WREN"
        )
        dialog.query_one("#bulk-pattern", Input).value = "/(/"
        await pilot.pause()
        assert "not a valid regular expression" in str(dialog.query_one("#bulk-preview").render())
        dialog.query_one("#bulk-pattern", Input).value = ""
        dialog.query_one("#bulk-speaker", Input).focus()
        await pilot.press("enter")
        await _settle(app, pilot)
        assert [r.speaker for r in screen.query_one(UtteranceView).rows] == ["WREN"] * 3
        assert (
            len({entry["batch"] for entry in _fixes(studio_ws)}) == 1
            and len(_fixes(studio_ws)) == 3
        )
        await pilot.press("u")
        await _settle(app, pilot)
        assert [r.speaker for r in screen.query_one(UtteranceView).rows] == [None] * 3


async def test_bulk_on_a_marked_range_only_and_escape_cancels(studio_ws, make_app):
    app = make_app(studio_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_night(app, pilot)
        await pilot.press("v", "j", "b")
        await pilot.pause()
        dialog = app.screen
        assert dialog.rule().scope == "marked"
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and _fixes(studio_ws) == []
        await pilot.press("b", *"TOBIAS", "enter")
        await _settle(app, pilot)
        assert [r.speaker for r in screen.query_one(UtteranceView).rows] == [
            "TOBIAS",
            "TOBIAS",
            None,
        ]


def _spk_column(table: DataTable) -> dict[str, str]:
    rows = (table.get_row_at(i) for i in range(table.row_count))
    return {str(row[0]): Text.from_markup(str(row[1])).plain for row in rows}


async def test_home_shows_the_attributed_share_of_each_file(studio_ws, make_app):
    app = make_app(studio_ws)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        table = app.screen.query_one("#home-files", DataTable)
        cells = _spk_column(table)
        assert cells == {"harbour.txt": "100%", "harbour-zh.txt": "50%", "night.srt": "0%"}
        assert table.ordered_columns[1].label.plain == "spk%"
        screen = await _open_night(app, pilot)
        await pilot.press("s", *"MIRA", "enter")
        await _settle(app, pilot)
        await pilot.press("1")  # not attributing (no a pressed): 1 goes to Home
        await _settle(app, pilot)
        table = app.screen.query_one("#home-files", DataTable)
        cells = _spk_column(table)
        assert cells["night.srt"] == "33%"
        assert screen is not app.screen
