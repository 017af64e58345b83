"""Provides the worker pool and the in-order committer of augmentation jobs.

Items run on daemon threads (an abandoned request never keeps the process alive); their
proposals come back on a queue and are filtered and committed by the calling thread, in plan
order, so a job's outcome does not depend on which request answered first.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from studio.api import AugmentItem, Sample, stable_id
from studio.augment.filters import ProposalFilter
from studio.augment.journal import JobJournal
from studio.augment.report import AugmentReport
from studio.dataset.store import DatasetStore
from studio.errors import StudioError

FLUSH_ITEMS = 8
FLUSH_SECONDS = 2.0
REJECTED_KEPT = 50  # dropped proposals a report keeps as examples of each filter at work
_store_locks: dict[str, threading.Lock] = {}
_store_locks_guard = threading.Lock()


def store_lock(folder: Path) -> threading.Lock:
    with _store_locks_guard:
        return _store_locks.setdefault(str(folder.resolve()), threading.Lock())


class Pool:
    """Daemon worker threads over a list of items; results come back on a queue."""

    def __init__(
        self,
        workers: int,
        work: Callable[[AugmentItem], list[Sample]],
        items: list[tuple[int, AugmentItem]],
    ) -> None:
        self.inbox: queue.Queue[tuple[int, AugmentItem]] = queue.Queue()
        self.outbox: queue.Queue[tuple[int, list[Sample] | None, BaseException | None]] = (
            queue.Queue()
        )
        self.stopped = threading.Event()
        for entry in items:
            self.inbox.put(entry)
        self.threads = (
            [
                threading.Thread(target=self._loop, args=(work,), daemon=True, name=f"augment-{n}")
                for n in range(max(1, min(workers, len(items))))
            ]
            if items
            else []
        )
        for thread in self.threads:
            thread.start()

    def _loop(self, work: Callable[[AugmentItem], list[Sample]]) -> None:
        while not self.stopped.is_set():
            try:
                index, item = self.inbox.get_nowait()
            except queue.Empty:
                return
            try:
                self.outbox.put((index, list(work(item)), None))
            except BaseException as exc:  # handed to the committing thread, which journals it
                self.outbox.put((index, None, exc))

    def stop(self) -> None:
        self.stopped.set()


def hide_secrets(options: dict[str, Any], secrets: frozenset[str]) -> dict[str, Any]:
    """``options`` with the values of secret options (``StrOption(secret=True)``) replaced."""
    return {
        name: "[secret]" if name in secrets and value else value for name, value in options.items()
    }


class Committer:
    """Filters proposals in plan order and adds the kept ones to the dataset in batches."""

    def __init__(
        self,
        strategy: str,
        job_id: str,
        seed: int,
        journal: JobJournal,
        store: DatasetStore,
        filt: ProposalFilter,
        report: AugmentReport,
        secrets: frozenset[str] = frozenset(),
    ) -> None:
        self.strategy, self.job_id, self.seed = strategy, job_id, seed
        self.secrets = secrets  # option names whose values never reach the journal or the dataset
        self.journal, self.store, self.filt, self.report = journal, store, filt, report
        self.batch: list[tuple[str, list[str], dict[str, int]]] = []
        self.kept: list[Sample] = []
        self.last_flush = time.monotonic()

    def normalise(self, sample: Sample, key: str) -> Sample:
        """The job's id, provenance and pending status on a strategy's sample."""
        provenance = {
            **sample.provenance,
            "kind": "augment",
            "strategy": self.strategy,
            "job": self.job_id,
            "item": key,
            "seed": self.seed,
        }
        if self.secrets and isinstance(provenance.get("options"), dict):
            provenance["options"] = hide_secrets(provenance["options"], self.secrets)
        return replace(
            sample,
            id=stable_id(self.job_id, sample.id),
            provenance=provenance,
            status="pending",
            split="train",
            scene=sample.scene or f"aug:{self.strategy}",
        )

    def add(self, key: str, samples: list[Sample]) -> Sample | None:
        kept_ids: list[str] = []
        dropped: Counter[str] = Counter()
        last = None
        for sample in samples:
            self.report.proposed += 1
            reason = self.filt.check(sample)
            if reason is None:
                self.kept.append(sample)
                kept_ids.append(sample.id)
                last = sample
            else:
                dropped[reason] += 1
                self.report.dropped[reason] = self.report.dropped.get(reason, 0) + 1
                if len(self.report.rejected) < REJECTED_KEPT:
                    self.report.rejected.append((reason, sample))
        self.batch.append((key, kept_ids, dict(dropped)))
        if len(self.batch) >= FLUSH_ITEMS or time.monotonic() - self.last_flush >= FLUSH_SECONDS:
            self.flush()
        return last

    def flush(self) -> None:
        """Samples first, then the commits: a kill in between replays the commit, and the
        dataset adds by id, so nothing is duplicated."""
        if self.kept:
            with store_lock(self.store.folder):
                self.store.add_samples(self.kept)
            self.report.kept += len(self.kept)
            self.report.new_samples += self.kept
            self.kept = []
        for key, kept_ids, dropped in self.batch:
            self.journal.committed(key, kept_ids, dropped)
        self.batch = []
        self.last_flush = time.monotonic()


def describe_error(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, StudioError) else f"{type(exc).__name__}: {exc}"
