"""Provides LengthHistogram: a one-line block histogram of reply lengths with its range."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget

from studio.dataset.query import length_histogram

_BLOCKS = " ▁▂▃▄▅▆▇█"


class LengthHistogram(Widget):
    """Distribution of reply lengths (characters) of the samples shown."""

    DEFAULT_CSS = """
    LengthHistogram { height: 1; width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lengths: Sequence[int] = []

    def set_lengths(self, lengths: Sequence[int]) -> None:
        """Plot these lengths."""
        self.lengths = lengths
        self.refresh()

    def render(self) -> Text:
        width = self.content_size.width
        if not self.lengths:
            return Text("length: no samples", style="dim")
        probe = f"len {min(self.lengths)}"
        bins = max(4, width - len(probe) - len(str(max(self.lengths))) - 6)
        counts, low, high = length_histogram(self.lengths, bins)
        peak = max(counts) or 1
        bars = "".join(_BLOCKS[0 if c == 0 else max(1, round(c / peak * 8))] for c in counts)
        text = Text(no_wrap=True, overflow="crop")
        text.append(f"len {low} ", style="dim")
        text.append(bars, style="#3daee9")
        text.append(f" {high}", style="dim")
        return text
