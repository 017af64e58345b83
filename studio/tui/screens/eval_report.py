"""Provides EvalReportScreen: a run's eval report (``persona-studio eval``) as its readable table.

The text is :func:`studio.eval.report.format_report` of the run's ``eval/report.json``, the same
table the CLI prints (80 columns wide), scrollable; escape or ``q`` closes it.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static


class EvalReportScreen(ModalScreen[None]):
    """The four-row eval report of one run."""

    DEFAULT_CSS = """
    EvalReportScreen { align: center middle; }
    EvalReportScreen > VerticalScroll { width: 100%; height: 1fr; border: round $accent; }
    """
    BINDINGS = [Binding("escape,q", "dismiss", "Close", id="eval_report.close")]

    def __init__(self, run_dir: Path, text: str) -> None:
        super().__init__()
        self.run_dir, self.text = run_dir, text

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = f"eval of {self.run_dir.name}"
            yield Static(self.text, id="eval-report-text", markup=False)
        yield Footer()
