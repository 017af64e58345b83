"""Provides DatasetScreen: curate the samples (accept, reject, edit, undo) with filters and search.

Every decision is appended to the dataset's journal (fsynced) the moment its key is pressed.
The list renders only the rows on screen, so it stays responsive with 50,000 samples.
"""

from __future__ import annotations

import gc
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Input, Static, TextArea

from studio.dataset.query import STATUS_GLYPH, STATUSES, Searcher, source_of, sources
from studio.dataset.query import Query as Filter
from studio.tui.messages import DatasetLoaded, WorkFailed
from studio.tui.screens.base import StudioScreen
from studio.tui.screens.dataset_filter import FilterDialog
from studio.tui.widgets.length_histogram import LengthHistogram
from studio.tui.widgets.sample_list import SampleList

_FILTER_STATUSES = ("all", *STATUSES)


class DatasetScreen(StudioScreen):
    """The samples in a list with review keys, a detail pane, counts and a length histogram."""

    MODE = "dataset"
    AUTO_FOCUS = "#dataset-list"
    WRITE_ACTIONS = frozenset({"decide", "edit", "undo", "save_edit"})
    BINDINGS = [
        Binding(
            "a",
            "decide('accept')",
            "Accept",
            id="dataset.accept",
            tooltip="Accept (marked range too)",
        ),
        Binding(
            "r",
            "decide('reject')",
            "Reject",
            id="dataset.reject",
            tooltip="Reject (marked range too)",
        ),
        Binding(
            "x",
            "decide('reset')",
            "Reset",
            show=False,
            id="dataset.reset",
            tooltip="Back to pending",
        ),
        Binding(
            "e", "edit", "Edit", id="dataset.edit", tooltip="Edit the reply inline (ctrl+s saves)"
        ),
        Binding("u", "undo", "Undo", id="dataset.undo", tooltip="Revert the last decision"),
        Binding(
            "slash", "search", "Search", id="dataset.search", tooltip="Text in prompt or reply"
        ),
        Binding(
            "f", "filter", "Filter", id="dataset.filter", tooltip="Status, source, length, text"
        ),
        Binding(
            "s", "cycle_status", "Status", id="dataset.status", tooltip="Cycle the status filter"
        ),
        Binding(
            "o",
            "cycle_source",
            "Source",
            show=False,
            id="dataset.source",
            tooltip="Cycle the source filter",
        ),
        Binding("p", "next_pending", "Next pending", show=False, id="dataset.next_pending"),
        Binding("ctrl+s", "save_edit", "Save edit", show=False, id="dataset.save_edit"),
        Binding(
            "escape",
            "escape",
            "Close",
            show=False,
            id="dataset.escape",
            tooltip="Close the editor or the search, or drop the marked range",
        ),
        Binding(
            "R",
            "reload",
            "Reload",
            show=False,
            id="dataset.reload",
            tooltip="Read the samples and decisions again",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.samples: list[Any] = []
        self.originals: dict[str, str] = {}
        self.store: Any = None
        self.filter = Filter()
        self.counts: dict[str, int] = {}
        self._searcher = Searcher([])
        self._at: dict[str, int] = {}
        self.version = -1
        self._requested = -1
        self._search_timer: Any = None

    def compose(self) -> ComposeResult:
        yield self.top_bar()
        yield Static("loading samples…", id="dataset-filter")
        search = Input(
            placeholder="search prompts and replies (enter: done, escape: clear)",
            id="dataset-search",
            compact=True,
        )
        search.display = False  # hidden from the start, so it never takes the first focus
        yield search
        yield SampleList(id="dataset-list")
        yield Static(id="dataset-detail")
        editor = TextArea(id="dataset-editor", soft_wrap=True, show_line_numbers=False)
        editor.display = False
        yield editor
        with Horizontal(id="dataset-stats"):
            yield Static(id="dataset-counts")
            yield LengthHistogram(id="dataset-hist")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    def on_screen_resume(self) -> None:
        if self._requested != self.app.dataset_version:  # type: ignore[attr-defined]
            self.load()

    # -- loading --------------------------------------------------------------------------------

    def action_reload(self) -> None:
        """Read the samples and decisions again."""
        self.load()

    def load(self) -> None:
        """Read the dataset in a worker (once per dataset version)."""
        self._requested = self.app.dataset_version  # type: ignore[attr-defined]
        self._read(self._requested)

    @work(thread=True, exclusive=True, group="dataset", description="Reading the dataset")
    def _read(self, version: int) -> None:
        """Read samples.jsonl and replay the review journal."""
        from studio.dataset.store import DatasetStore

        try:
            store = DatasetStore(self.ws.dataset_dir())
            if not store.exists():
                self.post_message(
                    WorkFailed(
                        "dataset",
                        f"no dataset yet in {store.folder.name}/: press 1 then b to build one",
                    )
                )
                return
            raw = store.raw_samples()
            originals = {
                s.id: s.reply for s in raw
            }  # before decisions are applied to the same objects
            samples = store.samples()
        except Exception as exc:
            self.post_message(WorkFailed("dataset", str(exc)))
            return
        self.store = store
        self.originals = originals
        self.post_message(DatasetLoaded(samples, version))

    @on(DatasetLoaded)
    def _loaded(self, message: DatasetLoaded) -> None:
        """Show the samples through the current filter."""
        self.samples = message.samples
        self.version = message.version
        # tens of thousands of long-lived samples: keep them out of the cyclic GC's full passes,
        # which would otherwise stall a keypress now and then
        gc.collect()
        gc.freeze()
        self._searcher = Searcher(self.samples)
        self._at = {sample.id: index for index, sample in enumerate(self.samples)}
        self.refilter(keep=True)
        self.query_one(SampleList).focus()

    @on(WorkFailed)
    def _failed(self, message: WorkFailed) -> None:
        """Say why there is nothing to curate."""
        self.query_one("#dataset-filter", Static).update(Text(message.error, style="yellow"))

    def refilter(self, keep: bool = True) -> None:
        """Apply the filter and redraw the list, the histogram and the counts."""
        view = self._searcher.select(self.filter)
        self.query_one(SampleList).show(self.samples, view, keep=keep)
        self.query_one(LengthHistogram).set_lengths([len(self.samples[i].reply) for i in view])
        self._show_filter(len(view))
        self._show_counts()

    def _show_filter(self, shown: int) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f" {shown:,}", style="bold")
        text.append(f" of {len(self.samples):,} · ", style="dim")
        text.append(self.filter.describe(), style="cyan" if self.filter != Filter() else "dim")
        self.query_one("#dataset-filter", Static).update(text)

    def _show_counts(self) -> None:
        if self.store is not None:
            self.counts = (
                self.store.status_counts()
            )  # the store's count, the one review and Home show
        text = Text(no_wrap=True)
        for status, colour in (
            ("pending", "white"),
            ("accepted", "green"),
            ("rejected", "red"),
            ("edited", "yellow"),
        ):
            text.append(f"{STATUS_GLYPH[status]} {self.counts.get(status, 0):,} ", style=colour)
            text.append(f"{status}  ", style="dim")
        self.query_one("#dataset-counts", Static).update(text)

    @on(SampleList.Highlighted)
    def _highlighted(self) -> None:
        """Show the current sample in full."""
        sample = self.query_one(SampleList).current()
        detail = self.query_one("#dataset-detail", Static)
        if sample is None:
            detail.update(Text("no sample matches the filter", style="dim"))
            detail.border_title = ""
            return
        text = Text()
        for turn in sample.turns:
            if turn.role == "user":
                text.append("user › ", style="bold cyan")
            else:
                text.append(f"{sample.character} › ", style="bold magenta")
            text.append(turn.content + "\n")
        if sample.status == "edited" and self.originals.get(sample.id) not in (None, sample.reply):
            text.append("original › ", style="dim bold")
            text.append(self.originals[sample.id], style="dim strike")
        detail.update(text)
        detail.border_title = f"{STATUS_GLYPH.get(sample.status, '')} {sample.status} · {sample.split} · {source_of(sample)}"
        detail.border_subtitle = sample.id
        selection = self.query_one(SampleList).selection()
        if len(selection) > 1:
            detail.border_title += f" · {len(selection)} marked"

    # -- decisions ------------------------------------------------------------------------------

    def _show_updated(self, updated: list[Any]) -> None:
        """Put the store's updated samples in place of the ones shown."""
        for sample in updated:
            index = self._at.get(sample.id)
            if index is not None:
                self.samples[index] = sample

    def action_decide(self, action: str) -> None:
        """Accept, reject or reset the current sample (or every marked one), then move on."""
        if self.refuse_read_only() or self.store is None:
            return
        sample_list = self.query_one(SampleList)
        targets = sample_list.selected()
        if not targets:
            return
        try:  # several marked: one journal entry, one undo takes the whole range back
            updated = self.store.decide(action, [sample.id for sample in targets])
        except Exception as exc:
            self.notify(f"not saved: {exc}", severity="error")
            return
        rows = sample_list.selection()
        if sample_list.mark is not None:
            sample_list.mark = None
            sample_list.refresh()
        else:
            sample_list.refresh_rows(rows)
        self._show_updated(updated)
        self._show_counts()
        if len(targets) > 1 and updated:
            self.notify(f"{updated[0].status}: {len(targets)} samples")
        sample_list.move_to(rows[-1] + 1)
        self._highlighted()

    def action_undo(self) -> None:
        """Revert the last decision (of this session or an earlier one; a range as a whole)."""
        if self.refuse_read_only() or self.store is None:
            return
        try:
            entry, updated = self.store.revert()
        except Exception as exc:
            self.notify(f"not undone: {exc}", severity="error")
            return
        if entry is None:
            self.notify("Nothing to undo.", severity="warning")
            return
        ids = list(entry.get("ids") or [entry.get("id")])
        sample_list = self.query_one(SampleList)
        self._show_updated(updated)
        for position, index in enumerate(sample_list.view):
            if self.samples[index].id == ids[0]:
                sample_list.move_to(position)
                break
        sample_list.refresh()
        self._show_counts()
        self._highlighted()
        self.notify(
            f"undid {entry.get('action')} of {len(ids)} sample{'s' if len(ids) != 1 else ''}"
        )

    def action_next_pending(self) -> None:
        """Jump to the next pending sample in the list."""
        sample_list = self.query_one(SampleList)
        for position in range(sample_list.cursor + 1, len(sample_list.view)):
            if self.samples[sample_list.view[position]].status == "pending":
                sample_list.move_to(position)
                return
        self.notify("No pending sample below.", severity="warning")

    # -- inline edit ----------------------------------------------------------------------------

    def action_edit(self) -> None:
        """Edit the reply of the current sample in place."""
        if self.refuse_read_only():
            return
        sample = self.query_one(SampleList).current()
        if sample is None:
            return
        editor = self.query_one("#dataset-editor", TextArea)
        editor.load_text(sample.reply)
        editor.border_title = f"edit reply of {sample.id} · ctrl+s saves · escape cancels"
        editor.display = True
        self.query_one("#dataset-detail").display = False
        editor.focus()
        self._editing = sample

    def action_save_edit(self) -> None:
        """Save the edited reply as an ``edit`` decision."""
        editor = self.query_one("#dataset-editor", TextArea)
        sample = getattr(self, "_editing", None)
        if not editor.display or sample is None or self.store is None:
            return
        try:
            self._show_updated([self.store.edit(sample.id, editor.text.strip())])
        except ValueError as exc:
            self.notify(f"{str(exc)[:1].upper()}{str(exc)[1:]}.", severity="warning")
            return
        except Exception as exc:
            self.notify(f"not saved: {exc}", severity="error")
            return
        self._close_editor()
        self._show_counts()
        self.notify("edit saved")

    def _close_editor(self) -> None:
        self._editing = None
        self.query_one("#dataset-editor").display = False
        self.query_one("#dataset-detail").display = True
        sample_list = self.query_one(SampleList)
        sample_list.refresh()
        sample_list.focus()
        self._highlighted()

    def action_escape(self) -> None:
        """Close the editor or the search field, or drop the marked range."""
        if self.query_one("#dataset-editor").display:
            self._close_editor()
            return
        field = self.query_one("#dataset-search", Input)
        if field.display or self.focused is field:
            field.value = ""
            field.display = False
            if self.filter.text:
                self.filter.text = ""
                if self.samples:
                    self.refilter(keep=False)
            self.query_one(SampleList).focus()
        elif self.query_one(SampleList).mark is not None:
            self.query_one(SampleList).action_mark()

    # -- filters and search ---------------------------------------------------------------------

    def action_cycle_status(self) -> None:
        """Show the next status only (all → pending → accepted → rejected → edited)."""
        statuses = _FILTER_STATUSES
        self.filter.status = statuses[(statuses.index(self.filter.status) + 1) % len(statuses)]
        self.refilter(keep=False)

    def action_cycle_source(self) -> None:
        """Show the next source only (all → corpus → identity → augment → each strategy)."""
        choices = sources(self.samples)
        current = choices.index(self.filter.source) if self.filter.source in choices else 0
        self.filter.source = choices[(current + 1) % len(choices)]
        self.refilter(keep=False)

    def action_filter(self) -> None:
        """Edit every filter at once."""

        def chosen(result: Filter | None) -> None:
            if result is not None:
                self.filter = result
                self.query_one("#dataset-search", Input).value = result.text
                self.refilter(keep=False)

        self.app.push_screen(FilterDialog(self.filter, sources(self.samples)), chosen)

    def action_search(self) -> None:
        """Open the search field."""
        field = self.query_one("#dataset-search", Input)
        field.display = True
        field.focus()

    @on(Input.Changed, "#dataset-search")
    def _search_changed(self, event: Input.Changed) -> None:
        """Filter as the user types (debounced)."""
        if self._search_timer is not None:
            self._search_timer.stop()
        text = event.value

        def apply() -> None:
            if self.filter.text != text:
                self.filter.text = text
                self.refilter(keep=False)

        self._search_timer = self.set_timer(0.15, apply)

    @on(Input.Submitted, "#dataset-search")
    def _search_done(self, event: Input.Submitted) -> None:
        """Enter applies the search and returns to the list."""
        if self._search_timer is not None:
            self._search_timer.stop()
        self.filter.text = event.value
        self.refilter(keep=False)
        self.query_one("#dataset-search").display = bool(event.value)
        self.query_one(SampleList).focus()
