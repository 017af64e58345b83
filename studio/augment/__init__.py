"""Provides augmentation jobs: strategies (plugins) propose samples; the host runs, filters, stores.

``run_augment(ws, "fewshot", {"count": 20})`` is the one entry point for the CLI and the TUI.
"""

from studio.augment.filters import REASONS, FilterSettings, ProposalFilter
from studio.augment.journal import JobJournal, list_jobs
from studio.augment.pipeline import run_augment
from studio.augment.report import AugmentProgress, AugmentReport

__all__ = [
    "REASONS",
    "AugmentProgress",
    "AugmentReport",
    "FilterSettings",
    "JobJournal",
    "ProposalFilter",
    "list_jobs",
    "run_augment",
]
