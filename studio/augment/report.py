"""Provides the outcome of an augmentation job (AugmentReport) and its progress (AugmentProgress).

The pipeline fills them, the worker pool's committer updates the report as proposals pass the
filters, and the CLI and TUI read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.api import Sample
from studio.augment.filters import REASONS
from studio.llm.backends import LLMStats


@dataclass
class AugmentProgress:
    """Where a running job stands (passed to the ``progress`` callback after every item).

    Attributes:
        done: items finished in this job so far (earlier runs included).
        total: items planned.
        kept / dropped / failed: proposals kept, proposals dropped, items failed (this run).
        last: the newest kept sample, for a live preview.
    """

    done: int
    total: int
    kept: int = 0
    dropped: int = 0
    failed: int = 0
    last: Sample | None = None


@dataclass
class AugmentReport:
    """The outcome of one run of a job.

    Attributes:
        job_id: the job (``<strategy>-<hash>``); run it again to resume.
        journal: the job's journal file.
        items: items planned; ``skipped`` of them were committed by an earlier run,
            ``replayed`` came from the journal without a new request, ``ran`` were done now,
            ``failed`` failed (a later run tries them again).
        proposed: proposals that reached the filters in this run.
        dropped: reason → proposals dropped, in filter order.
        kept: proposals added to the dataset as pending.
        new_samples: those samples.
        rejected: ``(reason, proposal)`` for the first dropped proposals, to show why.
        persona_filter: the scorer used, or why there is none.
        status: ``finished`` or ``cancelled``.
    """

    job_id: str
    strategy: str
    options: dict[str, Any]
    seed: int
    journal: Path
    backend: dict[str, Any] | None = None
    items: int = 0
    skipped: int = 0
    replayed: int = 0
    ran: int = 0
    failed: int = 0
    proposed: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    kept: int = 0
    new_samples: list[Sample] = field(default_factory=list)
    rejected: list[tuple[str, Sample]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    persona_filter: str = ""
    llm: LLMStats | None = None
    seconds: float = 0.0
    status: str = "finished"

    def funnel(self) -> list[tuple[str, int]]:
        """``(stage, proposals left)`` from ``proposed`` through each filter to ``kept``."""
        left = self.proposed
        rows = [("proposed", left)]
        for reason in REASONS:
            left -= self.dropped.get(reason, 0)
            rows.append((reason, left))
        return rows

    def counts(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "skipped": self.skipped,
            "replayed": self.replayed,
            "ran": self.ran,
            "failed": self.failed,
            "proposed": self.proposed,
            "kept": self.kept,
            "dropped": dict(self.dropped),
        }
