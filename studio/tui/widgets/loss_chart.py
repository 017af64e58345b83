"""Provides LossChart: a braille line chart of the training loss and the eval loss.

Each terminal cell holds a 2×4 grid of braille dots, so an 80-column chart has 140 points of
horizontal resolution. Consecutive points are joined; where the two series share a cell the
eval loss wins the colour (it is the sparser, more telling series).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

# braille dot bits for (column 0..1, row 0..3) of a cell
_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
TRAIN_COLOUR = "#3daee9"
EVAL_COLOUR = "#ffa348"


def _line(x0: int, y0: int, x1: int, y1: int) -> list[tuple[int, int]]:
    """Dots of a straight line between two dots (Bresenham)."""
    points = []
    dx, dy = abs(x1 - x0), -abs(y1 - y0)
    sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
    err = dx + dy
    while True:
        points.append((x0, y0))
        if x0 == x1 and y0 == y1:
            return points
        e2 = 2 * err
        if e2 >= dy:
            err += dy
            x0 += sx
        if e2 <= dx:
            err += dx
            y0 += sy


def _label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}" if abs(value) < 1 else f"{value:.2f}"


MAX_POINTS = 2000
"""More points than a chart has braille columns; a longer series is thinned before drawing."""


def thin(points: Sequence[tuple[int, float]], limit: int = MAX_POINTS) -> list[tuple[int, float]]:
    """At most ``limit`` points, keeping each stretch's lowest and highest value (spikes stay visible).

    A run of 100,000 steps would otherwise be redrawn point by point for every batch of events,
    which makes a followed long run lag by seconds.
    """
    if len(points) <= limit:
        return list(points)
    size = -(-len(points) * 2 // limit)  # each stretch gives two points
    out: list[tuple[int, float]] = []
    for start in range(0, len(points), size):
        chunk = points[start : start + size]
        low = min(chunk, key=lambda point: point[1])
        high = max(chunk, key=lambda point: point[1])
        out += sorted({low, high})
    return out


class LossChart(Widget):
    """Loss (and eval loss) against the step, scaled to the widget's size."""

    DEFAULT_CSS = """
    LossChart { height: 1fr; min-height: 5; }
    """

    losses: reactive[list[tuple[int, float]]] = reactive(list, always_update=True)
    """(step, loss) of every logged step."""
    eval_losses: reactive[list[tuple[int, float]]] = reactive(list, always_update=True)
    """(step, eval loss) of every evaluation."""
    total_steps: reactive[int] = reactive(0)
    """The x axis runs to this step (or the last logged one, if further)."""

    def set_data(
        self,
        losses: Sequence[tuple[int, float]],
        eval_losses: Sequence[tuple[int, float]],
        total_steps: int,
    ) -> None:
        """Replace the plotted series (a long series is thinned to what the chart can show)."""
        self.set_reactive(LossChart.total_steps, total_steps)
        self.set_reactive(LossChart.eval_losses, thin(eval_losses))
        self.losses = thin(losses)

    def render(self) -> Text:
        width, height = self.content_size.width, self.content_size.height
        series = [(self.losses, TRAIN_COLOUR), (self.eval_losses, EVAL_COLOUR)]
        values = [v for points, _ in series for _, v in points]
        if not values or width < 12 or height < 3:
            return Text("no loss logged yet", style="dim", justify="center")
        low, high = min(values), max(values)
        if high - low < 1e-9:
            low, high = low - 0.5, high + 0.5
        pad = (high - low) * 0.05
        low, high = low - pad, high + pad
        labels = [_label(high), _label((high + low) / 2), _label(low)]
        axis = max(len(label) for label in labels) + 1
        plot_w, plot_h = width - axis - 1, height - 2
        if plot_w < 4 or plot_h < 1:
            return Text("")
        last_step = max(step for points, _ in series for step, _ in points)
        x_max = max(self.total_steps, last_step, 1)
        dots_w, dots_h = plot_w * 2, plot_h * 4
        bits = [[0] * plot_w for _ in range(plot_h)]
        owner = [[""] * plot_w for _ in range(plot_h)]

        def to_dot(step: int, value: float) -> tuple[int, int]:
            x = round(step / x_max * (dots_w - 1))
            y = round((high - value) / (high - low) * (dots_h - 1))
            return min(dots_w - 1, max(0, x)), min(dots_h - 1, max(0, y))

        for points, colour in series:
            dots = [to_dot(step, value) for step, value in points]
            path = dots[:1]
            for a, b in zip(dots, dots[1:]):
                path += _line(*a, *b)[1:]
            for x, y in path:
                row, col = y // 4, x // 2
                bits[row][col] |= _BITS[x % 2][y % 4]
                if colour == EVAL_COLOUR or not owner[row][col]:
                    owner[row][col] = colour
        text = Text(no_wrap=True, overflow="crop")
        for row in range(plot_h):
            if row == 0:
                label = labels[0]
            elif row == plot_h - 1:
                label = labels[2]
            elif row == (plot_h - 1) // 2 and plot_h > 2:
                label = labels[1]
            else:
                label = ""
            text.append(f"{label:>{axis - 1}} ┤" if label else " " * axis + "│", style="dim")
            for col in range(plot_w):
                cell = bits[row][col]
                text.append(chr(0x2800 + cell) if cell else " ", style=owner[row][col] or None)
            text.append("\n")
        text.append(" " * axis + "└" + "─" * plot_w + "\n", style="dim")
        left, right = "0", f"step {x_max}"
        text.append(
            " " * (axis + 1) + left + " " * max(1, plot_w - len(left) - len(right)) + right,
            style="dim",
        )
        return text
