"""Provides the review journal: an append-only file of decisions, replayed into per-sample state.

One line per decision (accept / reject / edit / reset, on one sample or a batch, or undo),
fsynced before :meth:`ReviewJournal.record` returns; a torn last line is skipped on reading.
Undo pops the latest decision (a batch counts as one), also after a restart: the journal is
replayed in order. The replayed state is kept in memory and updated per decision; the file is
reread when another process changed it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from studio.dataset.rows import _STATUS, _stamp, _well_formed
from studio.errors import StudioError
from studio.fsutil import append_jsonl, read_jsonl

ACTIONS = ("accept", "reject", "edit", "reset", "undo")


class ReviewJournal:
    """The decisions of one dataset.

    Args:
        path: ``workspace/datasets/<name>/journal.jsonl``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: list[dict[str, Any]] | None = None
        self._stamp: tuple[int, int] | None = None
        self._stack: list[dict[str, Any]] = []
        self.state: dict[str, dict[str, Any]] = {}
        """Current decision per sample id: ``status``, ``reply`` and ``prompt``."""

    def entries(self) -> list[dict[str, Any]]:
        """Every entry, oldest first, rereading and replaying the file when it changed."""
        stamp = _stamp(self.path)
        if self._entries is None or stamp != self._stamp:
            try:
                self._entries = read_jsonl(self.path)
            except ValueError as exc:
                raise StudioError(f"{exc}; expected one review decision object per line") from None
            self._stamp = stamp
            self._replay()
        return self._entries

    def _replay(self) -> None:
        self._stack = []
        for entry in self._entries or ():
            if not _well_formed(entry):
                continue  # a hand-edited line that names no sample: nothing to apply
            if entry.get("action") == "undo":
                if self._stack:
                    self._stack.pop()
            elif entry.get("action") in _STATUS:
                self._stack.append(entry)
        self.state = {}
        for entry in self._stack:
            self._fold(entry)

    def _fold(self, entry: dict[str, Any]) -> None:
        """Apply one decision entry to the in-memory state."""
        action = entry["action"]
        for sample_id in entry.get("ids") or [entry.get("id")]:
            if not sample_id:
                continue
            previous = self.state.get(sample_id, {})
            if action == "reset":
                self.state.pop(sample_id, None)
                continue
            reply = entry["reply"] if "reply" in entry else previous.get("reply")
            prompt = entry["prompt"] if "prompt" in entry else previous.get("prompt")
            status = _STATUS[action]
            if status == "accepted" and (reply is not None or prompt is not None):
                status = "edited"  # accepting an edited sample keeps the edit
            self.state[sample_id] = {"status": status, "reply": reply, "prompt": prompt}

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

        Returns:
            The entry written.

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
        self.entries()  # replay first, so the in-memory state matches the file
        self.path.parent.mkdir(parents=True, exist_ok=True)
        append_jsonl(self.path, entry)
        self._stamp = _stamp(self.path)
        assert self._entries is not None
        self._entries.append(entry)
        if action == "undo":
            if self._stack:
                self._stack.pop()
                self.state = {}
                for kept in self._stack:
                    self._fold(kept)
        else:
            self._stack.append(entry)
            self._fold(entry)
        return entry

    def undo(self) -> dict[str, Any] | None:
        """Revert the latest decision; returns it, or None (writing nothing) when there is none."""
        self.entries()
        if not self._stack:
            return None
        undone = self._stack[-1]
        self.record("undo")
        return undone

    def can_undo(self) -> bool:
        """True when there is a decision to undo."""
        self.entries()
        return bool(self._stack)
