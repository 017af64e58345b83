"""Provides the dataset store: samples plus an append-only journal of review decisions.

``datasets/<name>/samples.jsonl`` is rewritten atomically by each build; ``journal.jsonl``
only grows: one line per decision (accept / reject / edit / reset, on one sample or a batch,
or undo), fsynced before the call returns, so a crash loses at most the keystroke in flight and
a torn last line is skipped on reading. Decisions are keyed by the sample's stable id: they
survive a rebuild for every sample that still exists; decisions on samples that vanished stay
in the journal (a later build may bring the sample back) but are not applied.

Undo pops the latest decision (a batch counts as one), also after a restart: the journal is
replayed in order. The store keeps the replayed state in memory and updates it per decision,
so reviewing 50,000 samples stays instant; it reloads a file that another process changed.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from studio.api import Sample, Turn
from studio.dataset.query import (
    LENGTH_BINS,
    STATUSES,
    Query,
    length_table,
    matches,
    query_of,
    search_text,
)
from studio.dataset.rows import (
    _STATUS,
    _read_rows,
    _sample,
    _stamp,
    _well_formed,
    sample_json,
    samples_of_kind,
)
from studio.errors import InputError, StudioError
from studio.fsutil import append_jsonl, atomic_write_json, atomic_write_text, read_jsonl

ACTIONS = ("accept", "reject", "edit", "reset", "undo")


class DatasetStore:
    """One dataset folder.

    Args:
        folder: ``workspace/datasets/<name>``.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._samples: list[Sample] | None = None
        self._index: dict[str, int] = {}
        self._samples_stamp: tuple[int, int] | None = None
        self._journal: list[dict[str, Any]] | None = None
        self._journal_stamp: tuple[int, int] | None = None
        self._stack: list[dict[str, Any]] = []
        self._state: dict[str, dict[str, Any]] = {}
        self._haystack: dict[str, str] = {}

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

    def build_info(self) -> dict[str, Any] | None:
        """What the last build wrote beside the samples (report, options, files), if any."""
        try:
            return json.loads(self.report_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None

    # -- samples --------------------------------------------------------------------------

    def write_samples(
        self, samples: Iterable[Sample], report: dict[str, Any] | None = None
    ) -> None:
        """Replace the built samples atomically (the journal is kept)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps(sample_json(s), ensure_ascii=False) for s in samples]
        atomic_write_text(self.samples_path, "\n".join(lines) + ("\n" if lines else ""))
        if report is not None:
            atomic_write_json(self.report_path, report)
        self._samples = None  # reread on next use: the caller keeps its own objects

    def add_samples(self, samples: Iterable[Sample]) -> int:
        """Append samples that are not there yet (augmenter proposals); returns how many were new."""
        current = self.raw_samples()
        known = {s.id for s in current}
        new = []
        for sample in samples:
            if sample.id not in known:
                known.add(sample.id)
                new.append(sample)
        if new:
            self.write_samples([*current, *new])
        return len(new)

    def _set_samples(self, samples: list[Sample]) -> None:
        self._samples = samples
        self._index = {s.id: i for i, s in enumerate(samples)}
        self._haystack = {}

    def _loaded(self) -> list[Sample]:
        stamp = _stamp(self.samples_path)
        if self._samples is None or stamp != self._samples_stamp:
            shared: dict[
                str, str
            ] = {}  # one string object per distinct system prompt, not one per sample
            try:
                rows = _read_rows(self.samples_path)
            except ValueError as exc:
                raise StudioError(
                    f"{exc}; expected one sample object per line (rebuild with persona-studio build)"
                ) from None
            samples = []
            for number, row in enumerate(rows, start=1):
                try:
                    samples.append(_sample(row, shared))
                except (KeyError, TypeError, AttributeError, ValueError):
                    raise InputError(
                        self.samples_path,
                        "expected a sample object with id, turns (role, content) …; "
                        "rebuild with persona-studio build",
                        number,
                    ) from None
            self._set_samples(samples)
            self._samples_stamp = stamp
        return self._samples  # type: ignore[return-value]

    def raw_samples_of_kind(self, kind: str) -> list[Sample]:
        """Built samples whose provenance kind is ``kind``, reading only the lines that can match."""
        if self._samples is not None and self._samples_stamp == _stamp(self.samples_path):
            return [s for s in self._samples if s.provenance.get("kind") == kind]
        return samples_of_kind(self.samples_path, kind)

    def raw_samples(self) -> list[Sample]:
        """Samples as built, without review decisions applied (shared objects: do not mutate)."""
        return list(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())

    def __contains__(self, sample_id: object) -> bool:
        self._loaded()
        return sample_id in self._index

    def _apply(self, sample: Sample) -> Sample:
        """A copy of ``sample`` with its decision applied (the cached sample stays as built)."""
        decision = self._state.get(sample.id)
        turns = [Turn(t.role, t.content) for t in sample.turns]
        if not decision:
            return Sample(
                sample.id,
                sample.character,
                sample.system,
                turns,
                sample.scene,
                sample.split,
                sample.provenance,
                sample.status,
            )
        if decision.get("reply") is not None and turns:
            turns[-1].content = decision["reply"]
        if decision.get("prompt") is not None:
            for turn in reversed(turns):
                if turn.role == "user":
                    turn.content = decision["prompt"]
                    break
        return Sample(
            sample.id,
            sample.character,
            sample.system,
            turns,
            sample.scene,
            sample.split,
            sample.provenance,
            decision["status"],
        )

    def get(self, sample_id: str) -> Sample | None:
        """One sample with its decision applied, or None."""
        samples = self._loaded()
        self._replayed()
        index = self._index.get(sample_id)
        return None if index is None else self._apply(samples[index])

    def samples(self) -> list[Sample]:
        """Samples with every review decision applied (status, edited text); new objects."""
        samples = self._loaded()
        self._replayed()
        return [self._apply(s) for s in samples]

    def training_samples(self, split: str = "train") -> list[Sample]:
        """What training uses: every sample not rejected (pending counts, as in a fresh build),
        except augmenter proposals, which train only once accepted or edited."""
        return [
            s
            for s in self.samples()
            if s.split == split
            and s.status != "rejected"
            and not (s.provenance.get("kind") == "augment" and s.status == "pending")
        ]

    def find(self, query: Query | None = None, **filters: Any) -> list[Sample]:
        """Samples that pass ``query`` (see :mod:`studio.dataset.query`), decisions applied.

        Args:
            query: the filters, as the studio's curation list uses them.
            filters: or ``review``-style filters: ``status``, ``split``, ``kind`` (provenance
                kind: corpus, identity, augment) and ``text`` (any turn after edits, or the scene).
        """
        query = query if query is not None else query_of(**filters)
        samples = self._loaded()
        self._replayed()
        out = []
        for sample in samples:
            applied = self._apply(sample) if sample.id in self._state else sample
            text = self._text_of(sample, self._state.get(sample.id)) if query.text else ""
            if matches(applied, query, text):
                out.append(self._apply(sample))
        return out

    def _text_of(self, sample: Sample, decision: dict[str, Any] | None) -> str:
        if decision and (decision.get("reply") is not None or decision.get("prompt") is not None):
            return search_text(self._apply(sample))
        text = self._haystack.get(sample.id)
        if text is None:
            text = self._haystack[sample.id] = search_text(sample)
        return text

    def status_counts(self, split: str | None = None) -> dict[str, int]:
        """Samples per review status (every status present, zero included)."""
        samples = self._loaded()
        self._replayed()
        state = self._state
        counts = Counter(
            state[s.id]["status"] if s.id in state else s.status
            for s in samples
            if split is None or s.split == split
        )
        return {status: counts.get(status, 0) for status in STATUSES}

    def summary(self) -> dict[str, int]:
        """``samples`` and the count of each status: what Home and ``review`` show."""
        return {"samples": len(self), **self.status_counts()}

    def length_histogram(
        self, bins: Sequence[int] = LENGTH_BINS
    ) -> list[tuple[int, int | None, int]]:
        """Reply lengths in characters (after edits) as ``(low, high, count)`` rows; the last has no ``high``."""
        return length_table([len(s.reply) for s in self.samples()], bins)

    # -- journal --------------------------------------------------------------------------

    def journal(self) -> list[dict[str, Any]]:
        """Every journal entry, oldest first (a torn last line is skipped)."""
        return list(self._journal_entries())

    def _journal_entries(self) -> list[dict[str, Any]]:
        stamp = _stamp(self.journal_path)
        if self._journal is None or stamp != self._journal_stamp:
            try:
                self._journal = read_jsonl(self.journal_path)
            except ValueError as exc:
                raise StudioError(f"{exc}; expected one review decision object per line") from None
            self._journal_stamp = stamp
            self._replay()
        return self._journal

    def _replayed(self) -> None:
        self._journal_entries()

    def _replay(self) -> None:
        self._stack = []
        for entry in self._journal or ():
            if not _well_formed(entry):
                continue  # a hand-edited line that names no sample: nothing to apply
            if entry.get("action") == "undo":
                if self._stack:
                    self._stack.pop()
            elif entry.get("action") in _STATUS:
                self._stack.append(entry)
        self._state = {}
        for entry in self._stack:
            self._fold(entry)

    def _fold(self, entry: dict[str, Any]) -> None:
        """Apply one decision entry to the in-memory state."""
        action = entry["action"]
        for sample_id in entry.get("ids") or [entry.get("id")]:
            if not sample_id:
                continue
            previous = self._state.get(sample_id, {})
            if action == "reset":
                self._state.pop(sample_id, None)
                continue
            reply = entry["reply"] if "reply" in entry else previous.get("reply")
            prompt = entry["prompt"] if "prompt" in entry else previous.get("prompt")
            status = _STATUS[action]
            if status == "accepted" and (reply is not None or prompt is not None):
                status = "edited"  # accepting an edited sample keeps the edit
            self._state[sample_id] = {"status": status, "reply": reply, "prompt": prompt}

    def record(
        self,
        action: str,
        sample_id: str = "",
        reply: str | None = None,
        *,
        prompt: str | None = None,
        ids: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Append one decision; on disk when this returns.

        Args:
            action: accept, reject, edit (with ``reply`` and/or ``prompt``), reset (back to
                pending, edits dropped) or undo (reverts the latest decision).
            sample_id: the sample decided on.
            reply: the edited reply (edit).
            prompt: the edited last user turn (edit).
            ids: several samples decided on at once (one entry, undone as one).

        Raises:
            ValueError: an unknown action, an edit without text, or no sample given.
        """
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
        if action == "edit" and reply is None and prompt is None:
            raise ValueError("edit needs the edited reply (or prompt)")
        if action != "undo" and not sample_id and not ids:
            raise ValueError(f"{action} needs a sample id")
        entry: dict[str, Any] = {"t": round(time.time(), 3), "action": action}
        if ids:
            entry["ids"] = list(ids)
        elif sample_id:
            entry["id"] = sample_id
        if reply is not None:
            entry["reply"] = reply
        if prompt is not None:
            entry["prompt"] = prompt
        self._journal_entries()  # replay first, so the in-memory state matches the file
        self.folder.mkdir(parents=True, exist_ok=True)
        append_jsonl(self.journal_path, entry)
        self._journal_stamp = _stamp(self.journal_path)
        assert self._journal is not None
        self._journal.append(entry)
        if action == "undo":
            if self._stack:
                self._stack.pop()
                self._state = {}
                for kept in self._stack:
                    self._fold(kept)
        else:
            self._stack.append(entry)
            self._fold(entry)
        return entry

    def record_many(self, action: str, ids: Sequence[str]) -> dict[str, Any]:
        """One decision on several samples (accept all shown, reject a filter's hits); one undo."""
        return self.record(action, ids=list(ids))

    def decide(self, action: str, ids: Sequence[str]) -> list[Sample]:
        """Accept, reject or reset samples (several: one decision, one undo); returns them as now.

        Raises:
            ValueError: another action, or no sample given.
        """
        if action not in ("accept", "reject", "reset"):
            raise ValueError(f"unknown decision {action!r}; expected accept, reject or reset")
        if len(ids) > 1:
            self.record_many(action, ids)
        else:
            self.record(action, ids[0] if ids else "")
        return self._current(ids)

    def edit(self, sample_id: str, reply: str | None = None, prompt: str | None = None) -> Sample:
        """Record an edit of the reply and/or the last user turn; returns the edited sample.

        Raises:
            ValueError: neither text given, or an empty reply.
        """
        if reply is not None and not reply.strip():
            raise ValueError("an empty reply cannot be saved; reject the sample instead")
        self.record("edit", sample_id, reply, prompt=prompt)
        return self._current([sample_id])[0]

    def revert(self) -> tuple[dict[str, Any] | None, list[Sample]]:
        """Undo the latest decision; returns it (None when none) and its samples as they are now."""
        entry = self.undo()
        if entry is None:
            return None, []
        return entry, self._current(list(entry.get("ids") or [entry.get("id")]))

    def _current(self, ids: Sequence[str]) -> list[Sample]:
        found = (self.get(sample_id) for sample_id in ids)
        return [sample for sample in found if sample is not None]

    def undo(self) -> dict[str, Any] | None:
        """Revert the latest decision; returns it, or None (and writes nothing) when there is none."""
        self._journal_entries()
        if not self._stack:
            return None
        undone = self._stack[-1]
        self.record("undo")
        return undone

    def can_undo(self) -> bool:
        """True when there is a decision to undo."""
        self._journal_entries()
        return bool(self._stack)

    def decisions(self) -> dict[str, dict[str, Any]]:
        """Current decision per sample id after replaying the journal (undo pops the last one).

        Includes decisions on samples that no longer exist (see :meth:`orphaned`). Each value
        holds ``status``, ``reply`` and ``prompt`` (the edited texts, None when not edited).
        """
        self._journal_entries()
        return {k: dict(v) for k, v in self._state.items()}

    def orphaned(self) -> list[str]:
        """Ids with a decision but no sample in the current build (kept, not applied)."""
        self._loaded()
        self._journal_entries()
        return [sample_id for sample_id in self._state if sample_id not in self._index]
