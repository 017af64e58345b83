"""Provides UtteranceView: a corpus file's lines with speakers coloured and the character highlighted."""

from __future__ import annotations

import hashlib

from rich.cells import set_cell_size
from rich.style import Style

from studio.tui.corpus_model import Row
from studio.tui.widgets.virtual_list import VirtualList, fit

_PALETTE = (
    "#e5a50a",
    "#3daee9",
    "#c061cb",
    "#2ec27e",
    "#f66151",
    "#99c1f1",
    "#dc8add",
    "#8ff0a4",
    "#ffbe6f",
    "#62a0ea",
    "#f9f06b",
    "#cdab8f",
)
_CHARACTER = Style(color="#ffffff", bgcolor="#5e3a8c", bold=True)
_WARNING = Style(color="#f6d32d", bold=True)
_SCENE = Style(color="#99c1f1", bold=True)
_DIM = Style(dim=True)
_ACTION = Style(dim=True, italic=True)
_MATCH = Style(color="black", bgcolor="#f6d32d")


def speaker_style(name: str) -> Style:
    """A stable colour per speaker name."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=2).digest()
    return Style(color=_PALETTE[int.from_bytes(digest, "big") % len(_PALETTE)])


class UtteranceView(VirtualList):
    """Rows of one corpus file: line number, speaker, text; scenes, actions and warnings marked."""

    DEFAULT_CSS = """
    UtteranceView { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[Row] = []
        self.character_names: set[str] = set()
        self.search = ""
        self._styles: dict[str, Style] = {}

    def show(self, rows: list[Row], character_names: set[str], keep: bool = False) -> None:
        """Show ``rows``; lines spoken by any of ``character_names`` are highlighted."""
        self.rows = rows
        self.character_names = character_names
        self.set_count(len(rows), keep=keep)

    def current(self) -> Row | None:
        """The row under the cursor."""
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def selected(self) -> list[Row]:
        """Rows of the marked range (or the cursor row)."""
        return [self.rows[i] for i in self.selection() if i < len(self.rows)]

    def _speaker_style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = speaker_style(name)
        return style

    def _text_pieces(
        self, text: str, width: int, style: Style | None
    ) -> list[tuple[str, Style | None]]:
        shown = fit(text, width)
        if not self.search:
            return [(shown, style)]
        pieces: list[tuple[str, Style | None]] = []
        lowered = shown.lower()
        needle = self.search.lower()
        start = 0
        while True:
            found = lowered.find(needle, start)
            if found < 0:
                pieces.append((shown[start:], style))
                return pieces
            pieces.append((shown[start:found], style))
            pieces.append((shown[found : found + len(needle)], _MATCH))
            start = found + len(needle)

    def render_row(self, index: int, width: int) -> list[tuple[str, Style | None]]:
        row = self.rows[index]
        number = (f"{row.line:>6} ", _DIM)
        speaker_width = 12 if width >= 60 else 8
        rest = max(0, width - 7 - speaker_width - 1)
        if row.kind == "scene":
            return [
                number,
                (set_cell_size(f"── {row.text} " + "─" * width, max(0, width - 7)), _SCENE),
            ]
        if row.kind == "warning":
            return [
                number,
                (fit("⚠ unparsed", speaker_width) + " ", _WARNING),
                *self._text_pieces(row.text, rest, Style(color="#f6d32d")),
            ]
        if row.utt_kind in ("action", "narration") and not row.speaker:
            return [
                number,
                (" " * (speaker_width + 1), None),
                *self._text_pieces(row.text, rest, _ACTION),
            ]
        if row.speaker:
            is_character = row.speaker in self.character_names
            style = _CHARACTER if is_character else self._speaker_style(row.speaker)
            if row.fixed:
                style = style + Style(underline=True)
            label = ("★" if is_character else "") + row.speaker
            speaker = (fit(label, speaker_width) + " ", style)
            text_style = Style(bold=True) if is_character else None
        else:
            speaker = (fit("?", speaker_width) + " ", Style(color="red", dim=True))
            text_style = None
        marker = (("!" if row.warning else " "), _WARNING)
        return [number, speaker, *self._text_pieces(row.text, max(0, rest - 1), text_style), marker]
