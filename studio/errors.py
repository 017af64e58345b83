"""Provides the studio's error types: every one names the file, the line and what was expected."""

from __future__ import annotations

from pathlib import Path


class StudioError(Exception):
    """An error the user can act on; the CLI prints it without a traceback."""


class InputError(StudioError):
    """Bad input: names the file, the line (when known) and what was expected.

    Args:
        path: the file at fault.
        message: what is wrong and what was expected.
        line: 1-based line number, when known.
    """

    def __init__(self, path: str | Path, message: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


class WorkspaceLocked(StudioError):
    """Another studio process owns the workspace."""
