"""Provides FilterDialog: the curation filter (status, source, reply length, text) as a form."""

from __future__ import annotations

from collections.abc import Sequence

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from studio.dataset.query import STATUSES as _STATUSES
from studio.dataset.query import Query as Filter
from studio.tui.screens.dialogs import DIALOG_CSS

STATUSES = ("all", *_STATUSES)


class FilterDialog(ModalScreen["Filter | None"]):
    """Edit the filter; ctrl+s or the Apply button applies it, escape leaves it unchanged."""

    DEFAULT_CSS = (
        DIALOG_CSS.replace("{name}", "FilterDialog")
        + """
    FilterDialog .filter-row { height: 1; margin-bottom: 1; }
    FilterDialog .filter-row Label { width: 14; color: $text-muted; }
    FilterDialog .filter-row Input, FilterDialog .filter-row Select { width: 1fr; margin: 0; }
    """
    )
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="filter.cancel"),
        Binding("ctrl+s", "apply", "Apply", id="filter.apply"),
    ]

    def __init__(self, current: Filter, sources: Sequence[str]) -> None:
        super().__init__()
        self.current = current
        self.sources = list(sources)

    def compose(self) -> ComposeResult:
        flt = self.current
        with Vertical():
            yield Label("Filter samples", classes="dialog-title")
            with Horizontal(classes="filter-row"):
                yield Label("status")
                yield Select(
                    [(s, s) for s in STATUSES],
                    value=flt.status,
                    allow_blank=False,
                    id="status",
                    compact=True,
                )
            with Horizontal(classes="filter-row"):
                yield Label("source")
                sources = (
                    self.sources if flt.source in self.sources else [*self.sources, flt.source]
                )
                yield Select(
                    [(s, s) for s in sources],
                    value=flt.source,
                    allow_blank=False,
                    id="source",
                    compact=True,
                )
            with Horizontal(classes="filter-row"):
                yield Label("min length")
                yield Input(
                    str(flt.min_len or ""),
                    type="integer",
                    placeholder="no minimum",
                    id="min",
                    compact=True,
                )
            with Horizontal(classes="filter-row"):
                yield Label("max length")
                yield Input(
                    str(flt.max_len or ""),
                    type="integer",
                    placeholder="no maximum",
                    id="max",
                    compact=True,
                )
            with Horizontal(classes="filter-row"):
                yield Label("text")
                yield Input(flt.text, placeholder="in prompt or reply", id="text", compact=True)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Reset", id="reset")
                yield Button("Apply", id="apply", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#status", Select).focus()

    def _read(self) -> Filter:
        def number(widget_id: str) -> int:
            value = self.query_one(widget_id, Input).value.strip()
            return max(0, int(value)) if value else 0

        return Filter(
            status=str(self.query_one("#status", Select).value),
            source=str(self.query_one("#source", Select).value),
            min_len=number("#min"),
            max_len=number("#max"),
            text=self.query_one("#text", Input).value.strip(),
        )

    @on(Button.Pressed, "#apply")
    @on(Input.Submitted)
    def action_apply(self) -> None:
        """Apply the filter."""
        self.dismiss(self._read())

    @on(Button.Pressed, "#reset")
    def _reset(self) -> None:
        """Show everything."""
        self.dismiss(Filter())

    def action_cancel(self) -> None:
        """Keep the old filter."""
        self.dismiss(None)
