"""Provides VirtualList: a keyboard-driven list that renders only the rows on screen.

A subclass says how many rows there are (:meth:`VirtualList.set_count`) and draws one row
(:meth:`VirtualList.render_row`); moving the cursor redraws two lines, so 50,000 rows cost the
same as 50. ``v`` starts a marked range (for actions on a run of rows).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

# control characters would reach the terminal raw; tabs become spaces, the rest are dropped
CONTROL = {**{code: None for code in (*range(0, 32), 127) if code not in (9, 10)}, 9: " "}


def fit(text: str, width: int) -> str:
    """``text`` cut or padded to exactly ``width`` cells, with an ellipsis when cut."""
    if width <= 0:
        return ""
    text = text.translate(CONTROL).replace("\n", " ⏎ ")
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(text, width - 1) + "…"


class VirtualList(ScrollView, can_focus=True):
    """A cursor over ``count`` rows, drawn by :meth:`render_row` on demand."""

    BINDINGS = [
        Binding("j,down", "cursor(1)", "Cursor down", show=False, id="list.down"),
        Binding("k,up", "cursor(-1)", "Cursor up", show=False, id="list.up"),
        Binding("pagedown,ctrl+f,space", "page(1)", "Page down", show=False, id="list.page_down"),
        Binding("pageup,ctrl+b", "page(-1)", "Page up", show=False, id="list.page_up"),
        Binding("ctrl+d", "half(1)", "Half page down", show=False, id="list.half_down"),
        Binding("ctrl+u", "half(-1)", "Half page up", show=False, id="list.half_up"),
        Binding("g,home", "first", "First row", show=False, id="list.first"),
        Binding("G,end", "last", "Last row", show=False, id="list.last"),
        Binding("v", "mark", "Mark range", show=False, id="list.mark"),
    ]

    COMPONENT_CLASSES = {"virtual-list--cursor", "virtual-list--mark"}

    DEFAULT_CSS = """
    VirtualList {
        height: 1fr;
        scrollbar-size-vertical: 1;
        overflow-x: hidden;
    }
    VirtualList > .virtual-list--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    VirtualList:blur > .virtual-list--cursor { background: $block-cursor-blurred-background; }
    VirtualList > .virtual-list--mark { background: $primary 25%; }
    """

    cursor: reactive[int] = reactive(0, always_update=True)
    """Index of the highlighted row."""

    @dataclass
    class Highlighted(Message):
        """The cursor moved to ``index``."""

        list: VirtualList
        index: int

        @property
        def control(self) -> VirtualList:
            return self.list

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.count = 0
        self.mark: int | None = None
        """Start of the marked range, or None."""

    # -- subclass API -------------------------------------------------------------------------

    def render_row(self, index: int, width: int) -> list[tuple[str, Style | None]]:
        """``(text, style)`` pieces of row ``index``, at most ``width`` cells together."""
        raise NotImplementedError

    def set_count(self, count: int, keep: bool = True) -> None:
        """Set the number of rows; the cursor stays where it was (clamped) when ``keep``."""
        self.count = count
        self.virtual_size = Size(0, count)
        if self.mark is not None and self.mark >= count:
            self.mark = None
        target = min(self.cursor, max(0, count - 1)) if keep else 0
        self.set_reactive(VirtualList.cursor, target)
        self._scroll_cursor_into_view()
        self.refresh()
        self.post_message(self.Highlighted(self, target))

    def selection(self) -> range:
        """The marked range (mark to cursor, inclusive), or just the cursor row."""
        if self.mark is None:
            return range(self.cursor, self.cursor + 1)
        low, high = sorted((self.mark, self.cursor))
        return range(low, high + 1)

    def refresh_rows(self, indices: range | list[int] | None = None) -> None:
        """Redraw these rows (all visible rows when None)."""
        if indices is None:
            self.refresh()
            return
        top = int(self.scroll_offset.y)
        for index in indices:
            if top <= index < top + self.size.height:
                self.refresh_line(index - top)

    # -- rendering ----------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        index = int(self.scroll_offset.y) + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if index >= self.count:
            return Strip.blank(width, base)
        over: Style | None = None
        if index == self.cursor:
            over = self.get_component_rich_style("virtual-list--cursor")
        elif self.mark is not None and index in self.selection():
            over = self.get_component_rich_style("virtual-list--mark")
        if over is not None:  # the row keeps its colours; the cursor/mark background wins
            base = base + over
            over = Style(bgcolor=over.bgcolor)
        segments = []
        for text, style in self.render_row(index, width):
            style = base + style if style else base
            segments.append(Segment(text, style + over if over else style))
        return Strip(segments).adjust_cell_length(width, base)

    # -- cursor ---------------------------------------------------------------------------------

    def _scroll_cursor_into_view(self) -> None:
        if self.count:
            self.scroll_to_region(
                Region(0, self.cursor, 1, 1), animate=False, immediate=True, force=True
            )

    def watch_cursor(self, old: int, new: int) -> None:
        self._scroll_cursor_into_view()
        if self.mark is not None:
            self.refresh()
        else:
            self.refresh_rows([old, new])
        self.post_message(self.Highlighted(self, new))

    def move_to(self, index: int) -> None:
        """Put the cursor on ``index`` (clamped)."""
        if self.count:
            self.cursor = max(0, min(self.count - 1, index))

    def action_cursor(self, delta: int) -> None:
        """Move the cursor by ``delta`` rows."""
        self.move_to(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        """Move a page up or down."""
        self.move_to(self.cursor + direction * max(1, self.size.height - 1))

    def action_half(self, direction: int) -> None:
        """Move half a page up or down."""
        self.move_to(self.cursor + direction * max(1, self.size.height // 2))

    def action_first(self) -> None:
        """Go to the first row."""
        self.move_to(0)

    def action_last(self) -> None:
        """Go to the last row."""
        self.move_to(self.count - 1)

    def action_mark(self) -> None:
        """Start (or drop) a marked range at the cursor."""
        self.mark = None if self.mark is not None else self.cursor
        self.refresh()

    def on_resize(self) -> None:
        self._scroll_cursor_into_view()
