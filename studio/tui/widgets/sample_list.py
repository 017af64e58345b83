"""Provides SampleList: the curation list of a dataset, one sample per row, any number of rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.style import Style

from studio.dataset.query import STATUS_GLYPH, source_of
from studio.tui.widgets.virtual_list import VirtualList, fit

_STATUS_STYLE = {
    "pending": Style(dim=True),
    "accepted": Style(color="green", bold=True),
    "rejected": Style(color="red", bold=True),
    "edited": Style(color="yellow", bold=True),
}
_SOURCE_TAG = {"corpus": "cor", "identity": "idn"}
_DIM = Style(dim=True)
_ARROW = Style(color="cyan", dim=True)


class SampleList(VirtualList):
    """Samples of a dataset through a filter: status, split, source, length, prompt → reply."""

    DEFAULT_CSS = """
    SampleList { height: 1fr; min-height: 3; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.samples: Sequence[Any] = []
        self.view: list[int] = []

    def show(self, samples: Sequence[Any], view: list[int], keep: bool = True) -> None:
        """Show ``samples[i]`` for each ``i`` in ``view``."""
        current = self.current()
        self.samples = samples
        self.view = view
        if keep and current is not None:
            # keep the cursor on the same sample when it is still shown
            position = self._position_of(current.id)
            if position is not None:
                self.set_reactive(VirtualList.cursor, position)
        self.set_count(len(view), keep=keep)

    def _position_of(self, sample_id: str) -> int | None:
        for position, index in enumerate(self.view):
            if self.samples[index].id == sample_id:
                return position
        return None

    def current(self) -> Any | None:
        """The sample under the cursor."""
        if not self.view or self.cursor >= len(self.view):
            return None
        return self.samples[self.view[self.cursor]]

    def selected(self) -> list[Any]:
        """The samples of the marked range (or the one under the cursor)."""
        return [self.samples[self.view[i]] for i in self.selection() if i < len(self.view)]

    def render_row(self, index: int, width: int) -> list[tuple[str, Style | None]]:
        sample = self.samples[self.view[index]]
        status = sample.status
        source = source_of(sample)
        tag = _SOURCE_TAG.get(source, "aug" if source.startswith("augment") else source[:3])
        reply = sample.reply
        text_width = max(0, width - 15)
        prompt_width = text_width * 2 // 5
        reply_width = max(0, text_width - prompt_width - 3)
        dim_row = status == "rejected"
        return [
            (f" {STATUS_GLYPH.get(status, '?')} ", _STATUS_STYLE.get(status)),
            ("E" if sample.split == "eval" else " ", Style(color="magenta")),
            (f" {tag} ", _DIM),
            (f"{len(reply):>5} ", _DIM),
            (fit(sample.prompt, prompt_width), _DIM),
            (" → ", _ARROW),
            (fit(reply, reply_width), _DIM if dim_row else None),
        ]
