"""Provides the job journal: an append-only record of one augmentation job, for resume.

``datasets/<name>/augment/<job-id>.jsonl`` holds one JSON object per line:

- ``job``: the header (strategy, options, seed, backend — never a key), written once;
- ``result``: an item finished; its proposals before filtering (so a later run need not ask
  the model again);
- ``failed``: an item failed after its retries (a later run tries it again);
- ``committed``: an item's proposals went through the filters into the dataset: the ids kept
  and the reasons of the ones dropped (a later run skips the item);
- ``end``: the run stopped (finished, cancelled or failed) with its counts.

Every line is fsynced before the call returns, so a killed job loses at most the items in
flight; samples are added to the dataset by id, so replaying a commit never duplicates them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.api import Sample
from studio.errors import StudioError
from studio.fsutil import append_jsonl, read_jsonl


@dataclass
class JournalState:
    """What earlier runs of a job left behind.

    Attributes:
        header: the ``job`` line, None for a new job.
        committed: item key → number of samples kept.
        results: item key → proposals of items finished but not committed.
        failed: item key → last error of items that never finished.
        runs: how many earlier runs started.
        ended: status of the last run that ended (``finished``, ``cancelled`` …), if any.
    """

    header: dict[str, Any] | None = None
    committed: dict[str, int] = field(default_factory=dict)
    results: dict[str, list[Sample]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    runs: int = 0
    ended: str | None = None
    last_counts: dict[str, Any] = field(default_factory=dict)


class JobJournal:
    """One job's journal file.

    Args:
        path: ``datasets/<name>/augment/<job-id>.jsonl``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def read(self) -> JournalState:
        """Replay the journal.

        Raises:
            StudioError: a line in the middle is not valid JSON (a torn last line is skipped).
        """
        state = JournalState()
        try:
            entries = read_jsonl(self.path)
        except ValueError as exc:
            raise StudioError(
                f"{exc}; expected one JSON object per line (an augmentation job journal)"
            ) from None
        for entry in entries:
            event = entry.get("event")
            key = str(entry.get("key", ""))
            if event == "job":
                if state.header is None:
                    state.header = entry
                state.runs += 1
            elif event == "result":
                state.results[key] = [Sample.from_json(s) for s in entry.get("samples", [])]
                state.failed.pop(key, None)
            elif event == "failed":
                state.failed[key] = str(entry.get("error", ""))
            elif event == "committed":
                state.committed[key] = len(entry.get("kept", []))
                state.results.pop(key, None)
                state.failed.pop(key, None)
            elif event == "end":
                state.ended = str(entry.get("status", ""))
                state.last_counts = dict(entry.get("counts", {}))
        return state

    def _write(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        append_jsonl(self.path, {"t": round(time.time(), 3), **record})

    def start(self, header: dict[str, Any]) -> None:
        """Record that a run of the job starts (the first one writes the full header)."""
        self._write({"event": "job", **header})

    def result(self, key: str, samples: list[Sample]) -> None:
        self._write({"event": "result", "key": key, "samples": [s.to_json() for s in samples]})

    def failed(self, key: str, error: str) -> None:
        self._write({"event": "failed", "key": key, "error": error})

    def committed(self, key: str, kept: list[str], dropped: dict[str, int]) -> None:
        self._write({"event": "committed", "key": key, "kept": kept, "dropped": dropped})

    def end(self, status: str, counts: dict[str, Any]) -> None:
        self._write({"event": "end", "status": status, "counts": counts})


def list_jobs(folder: str | Path) -> list[tuple[str, JournalState]]:
    """Every job journal of a dataset folder, oldest first, with its replayed state."""
    root = Path(folder) / "augment"
    if not root.is_dir():
        return []
    paths = sorted(root.glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
    return [(path.stem, JobJournal(path).read()) for path in paths]
