"""Provides CorpusScreen: the corpus inspector (scenes, speakers, warnings, fixes, search)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Input, Static

from studio.tui.corpus_model import CorpusSnapshot, Row
from studio.tui.messages import CorpusFailed, CorpusReady
from studio.tui.screens.base import StudioScreen
from studio.tui.screens.corpus_attribute import BINDINGS as ATTRIBUTE_BINDINGS
from studio.tui.screens.corpus_attribute import AttributeActions
from studio.tui.screens.corpus_fixes import FixActions
from studio.tui.screens.dialogs import PickDialog
from studio.tui.widgets.lists import KeyedDataTable
from studio.tui.widgets.utterance_view import UtteranceView, speaker_style


class CorpusScreen(AttributeActions, FixActions, StudioScreen):
    """Scenes with speakers coloured and the character highlighted; fix speakers; merge aliases."""

    MODE = "corpus"
    AUTO_FOCUS = "#corpus-lines"
    WRITE_ACTIONS = frozenset({"speaker", "alias", "undo", "pick", "bulk"})
    BINDINGS = [
        Binding(
            "s",
            "speaker",
            "Speaker",
            id="corpus.speaker",
            tooltip="Assign the speaker of the line or marked lines",
        ),
        *ATTRIBUTE_BINDINGS,
        Binding(
            "m", "alias", "Alias", id="corpus.alias", tooltip="Fold one speaker name into another"
        ),
        Binding(
            "u", "undo", "Undo", id="corpus.undo", tooltip="Take back the last speaker assignment"
        ),
        Binding(
            "w",
            "next_warning",
            "Warning",
            id="corpus.next_warning",
            tooltip="Jump to the next line the parser could not classify",
        ),
        Binding("W", "prev_warning", "Prev warning", show=False, id="corpus.prev_warning"),
        Binding("slash", "search", "Search", id="corpus.search", tooltip="Find text in the lines"),
        Binding("n", "next_match", "Next match", show=False, id="corpus.next_match"),
        Binding("N", "prev_match", "Prev match", show=False, id="corpus.prev_match"),
        Binding(
            "full_stop",
            "next_character",
            "Next line of the character",
            show=False,
            id="corpus.next_character",
        ),
        Binding("right_square_bracket", "file(1)", "Next file", show=False, id="corpus.next_file"),
        Binding("left_square_bracket", "file(-1)", "Prev file", show=False, id="corpus.prev_file"),
        Binding(
            "f", "pick_file", "Files", id="corpus.files", tooltip="Pick the corpus file to show"
        ),
        Binding(
            "R",
            "toggle_roster",
            "Roster",
            show=False,
            id="corpus.roster",
            tooltip="Show or hide the speakers and their lines",
        ),
        Binding("escape", "close_search", "Close search", show=False, id="corpus.close_search"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.snapshot: CorpusSnapshot | None = None
        self.file_index = 0
        self.search_text = ""

    def compose(self) -> ComposeResult:
        yield self.top_bar()
        yield Static("parsing the corpus…", id="corpus-file")
        search = Input(
            placeholder="search the corpus (enter: next match, escape: close)",
            id="corpus-search",
            compact=True,
        )
        search.display = False  # hidden from the start, so it never takes the first focus
        yield search
        with Horizontal(id="corpus-body"):
            yield UtteranceView(id="corpus-lines")
            roster = KeyedDataTable(id="corpus-roster", cursor_type="row", show_cursor=True)
            roster.border_title = "Roster"
            yield roster
        yield Static(id="corpus-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#corpus-roster", DataTable).add_columns("speaker", "lines")
        self.load()

    def on_screen_resume(self) -> None:
        if self.snapshot is not None and self.snapshot.version != self.app.corpus_version:  # type: ignore[attr-defined]
            self.load()

    def on_resize(self) -> None:
        self.query_one("#corpus-roster").display = self.size.width >= 110 or self.has_class(
            "-roster"
        )

    # -- loading --------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="corpus", description="Parsing the corpus")
    def load(self) -> None:
        """Parse (or take the shared parse of) the corpus with fixes applied."""
        try:
            snapshot = self.app.corpus_snapshot()  # type: ignore[attr-defined]
        except Exception as exc:
            self.post_message(CorpusFailed(str(exc)))
            return
        self.post_message(CorpusReady(snapshot))

    @on(CorpusFailed)
    def _failed(self, message: CorpusFailed) -> None:
        """Show why the corpus could not be read."""
        self.query_one("#corpus-file", Static).update(Text(message.error, style="red"))

    @on(CorpusReady)
    def _ready(self, message: CorpusReady) -> None:
        """Show the snapshot; keep the file and line the user was on."""
        keep = self.snapshot is not None
        self.snapshot = message.snapshot
        if not self.snapshot.files:
            self.query_one("#corpus-file", Static).update(
                Text("\n".join(self.snapshot.errors) or "no corpus files", style="red")
            )
            return
        self.file_index = min(self.file_index, len(self.snapshot.files) - 1)
        self._show_file(keep=keep)
        self._fill_roster()
        self.advance_after_reload()

    def _character_names(self) -> set[str]:
        """The character's names, with every spelling the roster merged into them (阿Ｑ for 阿Q)."""
        character = self.ws.config.character
        names = {character.name, *character.aliases} - {""}
        if self.snapshot is not None:
            for entry in self.snapshot.roster:
                if entry.name in names:
                    names.update(entry.aliases)
        return names

    def _fill_roster(self) -> None:
        assert self.snapshot is not None
        table = self.query_one("#corpus-roster", DataTable)
        table.clear()
        names = self._character_names()
        for entry in self.snapshot.roster[:300]:
            label = Text(
                ("★" if entry.name in names else "") + entry.name, style=speaker_style(entry.name)
            )
            table.add_row(label, str(entry.lines), key=entry.name)
        table.border_subtitle = f"{len(self.snapshot.roster)} speakers"

    def _show_file(self, keep: bool = False) -> None:
        assert self.snapshot is not None
        info = self.snapshot.files[self.file_index]
        view = self.query_one(UtteranceView)
        view.search = self.search_text
        view.show(self.snapshot.rows.get(info.path, []), self._character_names(), keep=keep)
        header = Text(no_wrap=True, overflow="ellipsis")
        header.append(f" [{self.file_index + 1}/{len(self.snapshot.files)}] ", style="dim")
        header.append(info.path.removeprefix("corpus/"), style="bold")
        header.append(
            f"  {info.parser} · {info.encoding} {info.newline} · {info.utterances:,} utterances",
            style="dim",
        )
        if info.warnings:
            header.append(f" · ⚠ {info.warnings}", style="yellow")
        if info.unknown_speaker:
            header.append(f" · {info.unknown_speaker} without speaker", style="red")
        self.query_one("#corpus-file", Static).update(header)
        view.focus()

    @on(UtteranceView.Highlighted)
    def _highlighted(self, message: UtteranceView.Highlighted) -> None:
        """Describe the current row under the list."""
        self.show_detail()

    def show_detail(self) -> None:
        """Describe the current row (and its likely speakers) under the list."""
        row = self.query_one(UtteranceView).current()
        detail = Text()
        if row is not None:
            detail.append(f"line {row.line}", style="bold")
            detail.append(
                " · scene heading" if row.kind == "scene" else f" · {row.utt_kind}", style="dim"
            )
            if row.scene and row.kind != "scene":
                detail.append(f" · scene {row.scene}", style="dim")
            if row.speaker:
                detail.append(" · ")
                detail.append(row.speaker, style=speaker_style(row.speaker))
                if row.fixed:
                    detail.append(" (your fix)", style="italic")
                elif row.method and row.confidence is not None:
                    detail.append(f" ({row.method}, {row.confidence:.0%})", style="dim")
            self.describe_choices(detail)
            if row.warning:
                detail.append(f"\n⚠ {row.warning}", style="yellow")
            else:
                detail.append("\n" + row.text)
        view = self.query_one(UtteranceView)
        if view.mark is not None:
            detail.append(
                f"\n{len(view.selection())} lines marked (v to drop the mark)", style="cyan"
            )
        self.query_one("#corpus-detail", Static).update(detail)

    # -- navigation -----------------------------------------------------------------------------

    def open_file(self, path: str) -> None:
        """Show the corpus file ``path`` (called from the home screen)."""
        if self.snapshot is None:
            self.call_later(self.open_file, path)
            return
        for index, info in enumerate(self.snapshot.files):
            if info.path == path:
                self.file_index = index
                self._show_file()

    def find_speaker(self, name: str) -> None:
        """Jump to the first line said by ``name`` or one of its aliases."""
        if self.snapshot is None:
            self.call_later(self.find_speaker, name)
            return
        names = {name}
        for entry in self.snapshot.roster:
            if entry.name == name:
                names |= set(entry.aliases)
        self._find(lambda row: row.kind == "line" and row.speaker in names, 1, f"no line by {name}")

    def _find(self, predicate: Callable[[Row], bool], direction: int, missing: str) -> None:
        """Move to the next row (across files, wrapping) for which ``predicate`` holds."""
        if self.snapshot is None or not self.snapshot.files:
            return
        files = self.snapshot.files
        view = self.query_one(UtteranceView)
        start_file, start_row = self.file_index, view.cursor
        for step in range(len(files) + 1):
            file_index = (start_file + direction * step) % len(files)
            rows = self.snapshot.rows.get(files[file_index].path, [])
            if step == 0:
                indices = (
                    range(start_row + 1, len(rows))
                    if direction > 0
                    else range(start_row - 1, -1, -1)
                )
            elif step == len(files):
                indices = (
                    range(0, start_row + 1)
                    if direction > 0
                    else range(len(rows) - 1, start_row - 1, -1)
                )
            else:
                indices = range(len(rows)) if direction > 0 else range(len(rows) - 1, -1, -1)
            for index in indices:
                if predicate(rows[index]):
                    if file_index != self.file_index:
                        self.file_index = file_index
                        self._show_file()
                    view.move_to(index)
                    return
        self.notify(missing, severity="warning")

    def action_file(self, delta: int) -> None:
        """Show the next or previous corpus file."""
        if self.snapshot and self.snapshot.files:
            self.file_index = (self.file_index + delta) % len(self.snapshot.files)
            self._show_file()

    def action_pick_file(self) -> None:
        """Pick a corpus file from a list."""
        if not self.snapshot:
            return
        entries = [
            (f.path, f"{f.path}  ({f.parser}, {f.utterances:,} utterances, {f.warnings} warnings)")
            for f in self.snapshot.files
        ]

        def picked(path: str | None) -> None:
            if path:
                self.open_file(path)

        self.app.push_screen(
            PickDialog("Corpus files", entries, self.snapshot.files[self.file_index].path), picked
        )

    def action_next_warning(self) -> None:
        """Jump to the next parse warning."""
        self._find(lambda row: row.warning is not None, 1, "no parse warnings")

    def action_prev_warning(self) -> None:
        """Jump to the previous parse warning."""
        self._find(lambda row: row.warning is not None, -1, "no parse warnings")

    def action_next_character(self) -> None:
        """Jump to the character's next line."""
        names = self._character_names()
        self._find(
            lambda row: row.kind == "line" and row.speaker in names, 1, "the character has no lines"
        )

    def action_toggle_roster(self) -> None:
        """Show or hide the roster panel."""
        self.toggle_class("-roster")
        roster = self.query_one("#corpus-roster")
        roster.display = not roster.display

    @on(DataTable.RowSelected, "#corpus-roster")
    def _roster_pick(self, event: DataTable.RowSelected) -> None:
        """Enter on a roster entry jumps to that speaker's next line."""
        if event.row_key.value:
            self.find_speaker(event.row_key.value)

    # -- search ---------------------------------------------------------------------------------

    def action_search(self) -> None:
        """Open the search field."""
        field = self.query_one("#corpus-search", Input)
        field.display = True
        field.focus()

    def action_close_search(self) -> None:
        """Close the search field (the matches stay highlighted until the search is cleared)."""
        field = self.query_one("#corpus-search", Input)
        if field.display or self.focused is field:
            field.display = False
            self.query_one(UtteranceView).focus()
        elif self.stop_attributing():
            pass
        elif self.query_one(UtteranceView).mark is not None:
            self.query_one(UtteranceView).action_mark()

    @on(Input.Changed, "#corpus-search")
    def _search_changed(self, event: Input.Changed) -> None:
        """Highlight the matches as the user types."""
        self.search_text = event.value
        view = self.query_one(UtteranceView)
        view.search = event.value
        view.refresh()

    @on(Input.Submitted, "#corpus-search")
    def _search_submitted(self) -> None:
        """Enter jumps to the next match and returns to the lines."""
        self.query_one("#corpus-search").display = False
        self.query_one(UtteranceView).focus()
        self.action_next_match()

    def _matches(self, row: Row) -> bool:
        needle = self.search_text.lower()
        return bool(needle) and (
            needle in row.text.lower() or needle in (row.speaker or "").lower()
        )

    def action_next_match(self) -> None:
        """Jump to the next search match."""
        if self.search_text:
            self._find(self._matches, 1, f"no match for {self.search_text!r}")

    def action_prev_match(self) -> None:
        """Jump to the previous search match."""
        if self.search_text:
            self._find(self._matches, -1, f"no match for {self.search_text!r}")

    def current_row(self) -> Any:
        """The row under the cursor (tests and the command palette)."""
        return self.query_one(UtteranceView).current()
