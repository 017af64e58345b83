"""Provides StudioScreen: what every mode screen shares (top bar, footer, read-only guard)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.screen import Screen

from studio.tui.widgets.top_bar import TopBar


class StudioScreen(Screen):
    """A mode screen. Subclasses set ``MODE`` and list their writing actions in ``WRITE_ACTIONS``.

    In a read-only workspace (another studio holds the lock) the writing actions are shown
    disabled in the footer and refused with a note when reached another way.
    """

    MODE: ClassVar[str] = ""
    WRITE_ACTIONS: ClassVar[frozenset[str]] = frozenset()

    @property
    def ws(self) -> Any:
        return self.app.ws  # type: ignore[attr-defined]

    @property
    def read_only(self) -> bool:
        return bool(self.ws.read_only)

    def top_bar(self) -> TopBar:
        """The header line for this screen."""
        return TopBar(self.MODE)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.WRITE_ACTIONS and self.read_only:
            return None  # shown, but disabled
        return True

    def refuse_read_only(self) -> bool:
        """Tell the user and return True when the workspace is read-only."""
        if self.read_only:
            holder = self.ws.lock_holder()
            self.notify(
                f"Read-only: another studio holds this workspace ({holder or 'unknown process'}).",
                severity="warning",
            )
            return True
        return False
