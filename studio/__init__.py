"""Provides persona-studio: turn a novel, screenplay or subtitle file into a character chat model.

Plugin authors import from here: ``hookimpl`` and the types in :mod:`studio.api`.
"""

from __future__ import annotations

__version__ = "0.1.0"

from studio.hookspecs import hookimpl

__all__ = ["__version__", "hookimpl"]
