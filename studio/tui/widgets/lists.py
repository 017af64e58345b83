"""Provides the studio's option lists and tables: Textual's, plus j and k as in the curation lists.

Every list in the studio moves with the same keys (j/k besides ↓/↑), so a habit formed on the
samples works on the strategies, the roster, the runs and the pickers too.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import DataTable, OptionList


class KeyedOptionList(OptionList):
    """An OptionList that also moves with j and k."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]


class KeyedDataTable(DataTable):
    """A DataTable that also moves with j and k."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]
