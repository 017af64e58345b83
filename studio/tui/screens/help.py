"""Provides HelpScreen: every key binding of the studio, by screen."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from studio.tui.widgets.virtual_list import VirtualList


def _bindings(owner: Any) -> list[Binding]:
    out = []
    for item in getattr(owner, "BINDINGS", []):
        if isinstance(item, Binding):
            out.append(item)
        elif isinstance(item, tuple):
            out.append(Binding(*item))
    return out


def binding_sections(app: Any) -> list[tuple[str, list[Binding]]]:
    """(section title, bindings) for the app, each mode screen and the shared list keys."""
    sections = [
        (
            "Everywhere",
            _bindings(type(app)) + [Binding("ctrl+p", "command_palette", "Command palette")],
        )
    ]
    for mode, screen_cls in app.MODES.items():
        sections.append((mode.capitalize(), _bindings(screen_cls)))
    sections.append(
        ("Lists (corpus lines, samples; j/k move in every list)", _bindings(VirtualList))
    )
    return sections


class HelpScreen(ModalScreen[None]):
    """The key map; escape, q or ? closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90; max-width: 100%; height: 100%; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    """
    BINDINGS = [
        Binding("escape,q,question_mark", "close", "Close", id="help.close"),
        Binding("j", "scroll(1)", "Down", show=False, id="help.down"),
        Binding("k", "scroll(-1)", "Up", show=False, id="help.up"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys — j/k scroll, escape closes"
            yield Static(self._table())

    def _table(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(justify="right", style="bold #3daee9", no_wrap=True)
        table.add_column()
        for title, bindings in binding_sections(self.app):
            table.add_row("", "")
            table.add_row("", Text(title, style="bold underline"))
            for binding in bindings:
                keys = " / ".join(
                    self.app.get_key_display(Binding(key, binding.action))
                    for key in binding.key.split(",")
                )
                description = binding.description or binding.action
                if binding.tooltip:
                    description = f"{description} — {binding.tooltip}"
                table.add_row(keys, description)
        return table

    def action_scroll(self, lines: int) -> None:
        """Scroll the key map by ``lines``."""
        self.query_one(VerticalScroll).scroll_relative(y=lines, animate=False)

    def action_close(self) -> None:
        """Close the help."""
        self.dismiss(None)
