"""Provides the typed callbacks the host hands to plugins: progress reports and the cancel check."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """``progress(done, total)``: how far a job is; ``total`` 0 when unknown."""

    def __call__(self, done: int, total: int, /) -> None: ...


class ParseProgress(Protocol):
    """``progress(done, total, phase)``: progress in one file; ``phase`` names the pass."""

    def __call__(self, done: int, total: int, phase: str, /) -> None: ...


class CancelCheck(Protocol):
    """``cancelled()``: True once the user cancelled; stop early and return what you have."""

    def __call__(self) -> bool: ...
