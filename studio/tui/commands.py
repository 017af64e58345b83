"""Provides the command palette entries, generated from the app's and the screens' bindings.

Every binding with an id is an entry: its description is the title, its tooltip the help, and
choosing it switches to the screen that owns it and runs its action. Keys that only move
around (escape, enter, tab) are left out. There is no second list of actions to keep in step.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

_NAVIGATION_KEYS = frozenset({"escape", "enter", "tab", "shift+tab"})


@dataclass(frozen=True)
class PaletteEntry:
    """One command of the palette.

    Attributes:
        title: what the palette lists (``Dataset: Accept``).
        help: the line under it.
        mode: the screen that runs ``action``; empty for an action of the app.
        action: the action as the binding names it (``decide('accept')``).
    """

    title: str
    help: str
    mode: str
    action: str

    @property
    def method(self) -> str:
        """The ``action_*`` method name that runs it."""
        return "action_" + self.action.split("(", 1)[0].removeprefix("app.")


def _bindings(owner: type) -> Iterator[Binding]:
    for binding in getattr(owner, "BINDINGS", ()):
        if (
            isinstance(binding, Binding)
            and binding.id
            and binding.key not in _NAVIGATION_KEYS
            and not binding.action.startswith("app.")
        ):
            yield binding


def palette_entries(app_class: Any) -> list[PaletteEntry]:
    """Every palette command of ``app_class``: the app's bindings, then each mode's screen's."""
    titles = getattr(app_class, "MODE_TITLES", {})
    entries = [
        PaletteEntry(_app_title(b), b.tooltip or b.description, "", b.action)
        for b in _bindings(app_class)
    ]
    for mode, screen in app_class.MODES.items():
        label = titles.get(mode, mode.title())
        entries += [
            PaletteEntry(f"{label}: {b.description}", b.tooltip or b.description, mode, b.action)
            for b in _bindings(screen)
        ]
    return entries


def _app_title(binding: Binding) -> str:
    return (
        f"Go to {binding.description}" if binding.action.startswith("go(") else binding.description
    )


class StudioCommands(Provider):
    """Screens and actions of the studio for the command palette."""

    def _entries(self) -> list[PaletteEntry]:
        return palette_entries(type(self.app))

    def _callback(self, entry: PaletteEntry) -> Any:
        app = self.app
        if not entry.mode:
            return partial(app.run_action, entry.action)
        return partial(app.run_in_mode, entry.mode, entry.action)  # type: ignore[attr-defined]

    async def discover(self) -> Hits:
        for entry in self._entries():
            yield DiscoveryHit(entry.title, self._callback(entry), help=entry.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for entry in self._entries():
            score = matcher.match(entry.title)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(entry.title), self._callback(entry), help=entry.help
                )
