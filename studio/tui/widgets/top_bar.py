"""Provides TopBar: the one-line header with the workspace, the character, the screen tabs and read-only state."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

TABS = (
    ("1", "home", "Home"),
    ("2", "corpus", "Corpus"),
    ("3", "dataset", "Dataset"),
    ("4", "augment", "Augment"),
    ("5", "train", "Train"),
    ("6", "chat", "Chat"),
)


class TopBar(Widget):
    """Workspace · character │ 1 Home 2 Corpus … │ READ-ONLY."""

    DEFAULT_CSS = """
    TopBar { height: 1; dock: top; background: $panel; color: $foreground; }
    """

    active: reactive[str] = reactive("home")
    """The current screen's mode name."""

    def __init__(self, active: str) -> None:
        super().__init__()
        self.active = active

    def _tabs(self, compact: bool) -> Text:
        """The screen tabs; ``compact`` shows only the keys of the screens not shown."""
        tabs = Text(no_wrap=True)
        for key, mode, title in TABS:
            if mode == self.active:
                tabs.append(f" {key} {title} ", style="bold #000000 on #3daee9")
            elif compact:
                tabs.append(f" {key}", style="dim")
            else:
                tabs.append(f" {key}", style="dim")
                tabs.append(f" {title} ")
        return tabs

    def render(self) -> Text:
        app = self.app
        ws = getattr(app, "ws", None)
        width = self.content_size.width
        right = Text()
        if ws is not None and ws.read_only:
            right.append(" READ-ONLY ", style="bold #000000 on #f6d32d")
        name = ws.root.name if ws is not None else ""
        character = ws.config.character.name if ws is not None else ""
        left = f" {name} · {character}" if character else f" {name}"
        tabs = self._tabs(compact=False)
        left_room = width - tabs.cell_len - right.cell_len - 2
        if cell_len(left) > left_room:  # the workspace and character come before the tab titles
            tabs = self._tabs(compact=True)
            left_room = width - tabs.cell_len - right.cell_len - 2
        if cell_len(left) > left_room:
            left = f" {name}" if cell_len(name) + 1 <= left_room else f" {character}"
            if cell_len(left) > left_room:
                left = ""
        text = Text(no_wrap=True, overflow="crop")
        text.append(left, style="bold")
        text.append(" " * max(1, left_room - cell_len(left) + 1))
        text.append_text(tabs)
        text.append(" ")
        text.append_text(right)
        return text
