"""At 80×24 the columns that matter are on screen: Home's tables, Augment's options, the read-only header."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

from tests.tui.apps.fixture_workspace import make_workspace, write_fixed_run


@pytest.fixture
def long_names_ws(tmp_path: Path) -> Path:
    """The fixed workspace with the lengths of a real one: a long file name, a merged speaker, a timestamped run."""
    root = make_workspace(tmp_path / "harbour", build=False)
    (root / "corpus" / "harbour.txt").rename(root / "corpus" / "the-harbour-play.txt")
    with open(root / "studio.toml", "a", encoding="utf-8") as config:
        config.write('\n[roster]\naliases = { "TOBIAS" = ["OLD WREN"] }\n')
    write_fixed_run(root, "run-20261206-041200")
    return root


async def _settle(app, pilot) -> None:
    for _ in range(3):
        await pilot.pause()
        await app.workers.wait_for_complete()
    await pilot.pause(0.1)


def visible_columns(table: DataTable) -> list[str]:
    """The labels of the columns drawn in full within the table's width."""
    width = table.scrollable_content_region.width
    shown, x = [], 0
    for column in table.ordered_columns:
        x += column.get_render_width(table)
        if x <= width:
            shown.append(str(column.label))
    return shown


async def test_home_shows_the_columns_that_matter(long_names_ws, make_app):
    app = make_app(long_names_ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(app, pilot)
        screen = app.screen
        files = visible_columns(screen.query_one("#home-files", DataTable))
        assert {"file", "spk%", "⚠", "?spk"} <= set(files), files
        roster = screen.query_one("#home-roster", DataTable)
        assert {"speaker", "lines", "merged"} <= set(visible_columns(roster)), visible_columns(
            roster
        )
        row = roster.get_row("TOBIAS")
        assert str(row[2]).startswith("+1")  # the merged count leads the cell
        datasets = screen.query_one("#home-datasets", DataTable)
        assert len(visible_columns(datasets)) == len(datasets.columns), visible_columns(datasets)
        runs = visible_columns(screen.query_one("#home-runs", DataTable))
        assert {"run", "status", "loss"} <= set(runs), runs


def _fits(widget, text: str) -> bool:
    """The widget has room for all of ``text`` (wrapped), and is on screen."""
    from rich.cells import cell_len

    width, height = widget.size
    return (
        height >= 1
        and cell_len(text) <= width * height
        and widget.region.bottom <= widget.app.size.height
    )


async def test_augment_shows_whole_option_descriptions_status_and_funnel(studio_ws, make_app):
    from studio.tui.widgets.option_form import OptionForm

    app = make_app(studio_ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(app, pilot)
        await pilot.press("4")
        await _settle(app, pilot)
        screen = app.screen
        for name in ("continue", "persona-qa"):
            await screen.show_strategy(name)
            await _settle(app, pilot)
            form = screen.query_one(OptionForm)
            for option in form.options:
                help_label = form.query_one(f"#help-{option.name}")
                assert _fits(help_label, option.description), (name, option.name, help_label.size)
                shown = form.region.contains_region(help_label.region)
                assert shown or form.show_vertical_scrollbar, (
                    name,
                    option.name,
                )  # on screen or scrolled to
        for seed in ("0", "1"):  # the second run repeats many of the first's: the funnel says so
            screen.query_one("#opt-seed").value = seed
            await pilot.press("ctrl+r")
            await _settle(app, pilot)
        status = screen.query_one("#augment-status")
        assert "proposed" in str(status.render())
        assert _fits(status, str(status.render()).strip()), status.size
        funnel = screen.query_one("#augment-funnel")
        text = str(funnel.render()).strip()
        assert text.startswith("dropped:") and _fits(funnel, text), (
            text,
            funnel.size,
            str(status.render()),
        )


async def test_read_only_header_keeps_the_workspace_name(studio_ws, make_app):
    from studio.tui.widgets.top_bar import TopBar

    app = make_app(studio_ws, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(app, pilot)
        for key in ("1", "3", "4"):
            await pilot.press(key)
            await _settle(app, pilot)
            text = str(app.screen.query_one(TopBar).render())
            assert "harbour · MIRA" in text and "READ-ONLY" in text, text
            assert len(text) <= 80
