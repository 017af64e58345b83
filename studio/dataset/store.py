"""Provides the dataset store: samples plus an append-only journal of review decisions.

``datasets/<name>/samples.jsonl`` is rewritten atomically by each build; ``journal.jsonl``
only grows: one line per decision (accept / reject / edit / undo), fsynced before the call
returns, so a crash loses at most the keystroke in flight. Decisions are keyed by the
sample's stable id and survive a rebuild for every sample that still exists.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from studio.api import Sample
from studio.fsutil import append_jsonl, atomic_write_json, atomic_write_text, read_jsonl

ACTIONS = ("accept", "reject", "edit", "reset", "undo")
_STATUS = {"accept": "accepted", "reject": "rejected", "edit": "edited", "reset": "pending"}


class DatasetStore:
    """One dataset folder.

    Args:
        folder: ``workspace/datasets/<name>``.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._samples: list[Sample] | None = None
        self._journal: list[dict[str, Any]] | None = None

    @property
    def samples_path(self) -> Path:
        return self.folder / "samples.jsonl"

    @property
    def journal_path(self) -> Path:
        return self.folder / "journal.jsonl"

    @property
    def report_path(self) -> Path:
        return self.folder / "build.json"

    def exists(self) -> bool:
        return self.samples_path.exists()

    # -- samples --------------------------------------------------------------------------

    def write_samples(self, samples: Iterable[Sample], report: dict[str, Any] | None = None) -> None:
        """Replace the built samples atomically (the journal is kept)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps(s.to_json(), ensure_ascii=False) for s in samples]
        atomic_write_text(self.samples_path, "\n".join(lines) + ("\n" if lines else ""))
        if report is not None:
            atomic_write_json(self.report_path, report)
        self._samples = None

    def add_samples(self, samples: Iterable[Sample]) -> int:
        """Append samples that are not there yet (augmenter proposals); returns how many were new."""
        current = self.raw_samples()
        known = {s.id for s in current}
        new = [s for s in samples if s.id not in known]
        if new:
            self.write_samples([*current, *new])
        return len(new)

    def raw_samples(self) -> list[Sample]:
        """Samples as built, without review decisions applied."""
        if self._samples is None:
            self._samples = [Sample.from_json(d) for d in read_jsonl(self.samples_path)]
        return list(self._samples)

    def samples(self) -> list[Sample]:
        """Samples with every review decision applied (status, edited text)."""
        state = self.decisions()
        out = []
        for sample in self.raw_samples():
            decision = state.get(sample.id)
            if decision:
                sample.status = decision["status"]
                if decision.get("reply") is not None:
                    sample.turns[-1].content = decision["reply"]
            out.append(sample)
        return out

    def training_samples(self, split: str = "train") -> list[Sample]:
        """What training uses: every sample not rejected (pending counts, as in a fresh build)."""
        return [s for s in self.samples() if s.split == split and s.status != "rejected"
                and not (s.provenance.get("kind") == "augment" and s.status == "pending")]

    # -- journal --------------------------------------------------------------------------

    def journal(self) -> list[dict[str, Any]]:
        if self._journal is None:
            self._journal = read_jsonl(self.journal_path)
        return list(self._journal)

    def record(self, action: str, sample_id: str = "", reply: str | None = None) -> dict[str, Any]:
        """Append one decision; on disk when this returns.

        Args:
            action: accept, reject, edit (with ``reply``), reset or undo (reverts the last decision).
        """
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
        if action == "edit" and reply is None:
            raise ValueError("edit needs the edited reply")
        entry: dict[str, Any] = {"t": round(time.time(), 3), "action": action}
        if sample_id:
            entry["id"] = sample_id
        if reply is not None:
            entry["reply"] = reply
        self.folder.mkdir(parents=True, exist_ok=True)
        append_jsonl(self.journal_path, entry)
        if self._journal is not None:
            self._journal.append(entry)
        return entry

    def decisions(self) -> dict[str, dict[str, Any]]:
        """Current decision per sample id after replaying the journal (undo pops the last one)."""
        stack: list[dict[str, Any]] = []
        for entry in self.journal():
            if entry.get("action") == "undo":
                if stack:
                    stack.pop()
            elif entry.get("action") in _STATUS:
                stack.append(entry)
        state: dict[str, dict[str, Any]] = {}
        for entry in stack:
            previous = state.get(entry["id"], {})
            reply = entry.get("reply", previous.get("reply"))
            status = _STATUS[entry["action"]]
            if entry["action"] == "reset":
                reply = None
            state[entry["id"]] = {"status": status if not (reply is not None and status == "accepted") else "edited",
                                  "reply": reply}
        return {k: v for k, v in state.items() if v["status"] != "pending" or v.get("reply")}
