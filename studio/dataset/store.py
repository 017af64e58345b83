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

import bisect
import json
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from studio.api import Sample, Turn
from studio.errors import InputError, StudioError
from studio.fsutil import append_jsonl, atomic_write_json, atomic_write_text, read_jsonl

ACTIONS = ("accept", "reject", "edit", "reset", "undo")
STATUSES = ("pending", "accepted", "rejected", "edited")
_STATUS = {"accept": "accepted", "reject": "rejected", "edit": "edited", "reset": "pending"}
LENGTH_BINS = (0, 5, 10, 20, 40, 80, 160, 320, 640)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_size, stat.st_mtime_ns


def _read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSON-lines file, decoded in one call (several times faster than line by line);
    falls back to :func:`read_jsonl` (which skips a torn last line and names a bad line)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    body = b",".join(line for line in raw.split(b"\n") if line.strip())
    try:
        rows = json.loads(b"[" + body + b"]")
    except (ValueError, RecursionError):
        return read_jsonl(path)
    if not all(isinstance(row, dict) for row in rows):
        return read_jsonl(path)  # names the line that is not an object
    return rows


def _sample(data: dict[str, Any], shared: dict[str, str]) -> Sample:
    """``Sample.from_json`` for the store's own rows, faster (no field filtering)."""
    system = data.get("system", "")
    if not isinstance(data["id"], str) or not isinstance(system, str):
        raise TypeError("id and system must be strings")
    return Sample(data["id"], data.get("character", ""), shared.setdefault(system, system),
                  [Turn(t["role"], t["content"]) for t in data.get("turns", ())], data.get("scene", ""),
                  data.get("split", "train"), data.get("provenance") or {}, data.get("status", "pending"))


def _well_formed(entry: dict[str, Any]) -> bool:
    """A journal entry the replay can apply: a known action on string ids, texts as strings."""
    if entry.get("action") == "undo":
        return True
    if entry.get("action") not in _STATUS:
        return False
    ids = entry["ids"] if "ids" in entry else [entry.get("id")]
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return False
    return all(entry.get(key) is None or isinstance(entry[key], str) for key in ("reply", "prompt"))


def sample_json(sample: Sample) -> dict[str, Any]:
    """``Sample.to_json()`` without the deep copy of :func:`dataclasses.asdict` (same keys and values)."""
    return {"id": sample.id, "character": sample.character, "system": sample.system,
            "turns": [{"role": t.role, "content": t.content} for t in sample.turns], "scene": sample.scene,
            "split": sample.split, "provenance": sample.provenance, "status": sample.status}


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

    def write_samples(self, samples: Iterable[Sample], report: dict[str, Any] | None = None) -> None:
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
            shared: dict[str, str] = {}  # one string object per distinct system prompt, not one per sample
            try:
                rows = _read_rows(self.samples_path)
            except ValueError as exc:
                raise StudioError(f"{exc}; expected one sample object per line (rebuild with persona-studio build)") from None
            samples = []
            for number, row in enumerate(rows, start=1):
                try:
                    samples.append(_sample(row, shared))
                except (KeyError, TypeError, AttributeError, ValueError):
                    raise InputError(self.samples_path, "expected a sample object with id, turns (role, content) …; "
                                                        "rebuild with persona-studio build", number) from None
            self._set_samples(samples)
            self._samples_stamp = stamp
        return self._samples  # type: ignore[return-value]

    def raw_samples_of_kind(self, kind: str) -> list[Sample]:
        """Built samples whose provenance kind is ``kind``, reading only the lines that can match."""
        if self._samples is not None and self._samples_stamp == _stamp(self.samples_path):
            return [s for s in self._samples if s.provenance.get("kind") == kind]
        try:
            raw = self.samples_path.read_bytes()
        except FileNotFoundError:
            return []
        needle = json.dumps(kind).encode()
        out = []
        for line in raw.split(b"\n"):
            if needle in line:
                try:
                    sample = Sample.from_json(json.loads(line))
                except ValueError:
                    continue  # a torn last line
                if sample.provenance.get("kind") == kind:
                    out.append(sample)
        return out

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
            return Sample(sample.id, sample.character, sample.system, turns, sample.scene, sample.split,
                          sample.provenance, sample.status)
        if decision.get("reply") is not None and turns:
            turns[-1].content = decision["reply"]
        if decision.get("prompt") is not None:
            for turn in reversed(turns):
                if turn.role == "user":
                    turn.content = decision["prompt"]
                    break
        return Sample(sample.id, sample.character, sample.system, turns, sample.scene, sample.split,
                      sample.provenance, decision["status"])

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
        return [s for s in self.samples() if s.split == split and s.status != "rejected"
                and not (s.provenance.get("kind") == "augment" and s.status == "pending")]

    def find(self, *, status: str | Sequence[str] | None = None, split: str | None = None,
             kind: str | None = None, text: str = "") -> list[Sample]:
        """Samples matching every filter given, decisions applied.

        Args:
            status: one status or several (``pending``, ``accepted``, ``rejected``, ``edited``).
            split: ``train`` or ``eval``.
            kind: provenance kind (``corpus``, ``identity``, ``augment``).
            text: case-insensitive substring of any turn (after edits) or the scene.
        """
        wanted = {status} if isinstance(status, str) else set(status or ())
        needle = text.casefold()
        samples = self._loaded()
        self._replayed()
        state = self._state
        out = []
        for sample in samples:
            decision = state.get(sample.id)
            if wanted and (decision["status"] if decision else sample.status) not in wanted:
                continue
            if split and sample.split != split:
                continue
            if kind and sample.provenance.get("kind") != kind:
                continue
            if needle and needle not in self._text_of(sample, decision):
                continue
            out.append(self._apply(sample))
        return out

    def _text_of(self, sample: Sample, decision: dict[str, Any] | None) -> str:
        if decision and (decision.get("reply") is not None or decision.get("prompt") is not None):
            return "\n".join([sample.scene, *(t.content for t in self._apply(sample).turns)]).casefold()
        text = self._haystack.get(sample.id)
        if text is None:
            text = self._haystack[sample.id] = "\n".join([sample.scene, *(t.content for t in sample.turns)]).casefold()
        return text

    def status_counts(self, split: str | None = None) -> dict[str, int]:
        """Samples per review status (every status present, zero included)."""
        samples = self._loaded()
        self._replayed()
        state = self._state
        counts = Counter(state[s.id]["status"] if s.id in state else s.status
                         for s in samples if split is None or s.split == split)
        return {status: counts.get(status, 0) for status in STATUSES}

    def length_histogram(self, bins: Sequence[int] = LENGTH_BINS) -> list[tuple[int, int | None, int]]:
        """Reply lengths in characters (after edits) as ``(low, high, count)`` rows; the last has no ``high``."""
        edges = sorted(bins)
        counts = [0] * len(edges)
        samples = self._loaded()
        self._replayed()
        for sample in samples:
            decision = self._state.get(sample.id)
            reply = decision["reply"] if decision and decision.get("reply") is not None else sample.reply
            slot = bisect.bisect_right(edges, len(reply)) - 1
            counts[max(slot, 0)] += 1
        return [(edges[i], edges[i + 1] if i + 1 < len(edges) else None, counts[i]) for i in range(len(edges))]

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

    def record(self, action: str, sample_id: str = "", reply: str | None = None, *,
               prompt: str | None = None, ids: Sequence[str] | None = None) -> dict[str, Any]:
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
