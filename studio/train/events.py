"""Provides the trainer ↔ UI contract: one JSON object per line in ``runs/<id>/events.jsonl``.

Event kinds (``"event"`` key): ``config``, ``data``, ``step``, ``eval``, ``checkpoint``,
``finished``, ``stopped``, ``failed``. Every event has ``t`` (unix time). Any number of
readers (the TUI, ``tail -f``) can follow the file while the run writes it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from threading import Event
from typing import Any

from studio.fsutil import append_jsonl

TERMINAL = ("finished", "stopped", "failed")


class JsonlSink:
    """Writes events to a JSONL file (rank 0 only); each line is flushed before returning."""

    def __init__(self, path: str | Path, enabled: bool = True) -> None:
        self.path = Path(path)
        self.enabled = enabled

    def log(self, event: str, **payload: Any) -> dict[str, Any]:
        record = {"event": event, "t": round(time.time(), 3), **payload}
        if self.enabled:
            append_jsonl(self.path, record, sync=event != "step")
        return record


def read_events(path: str | Path) -> list[dict[str, Any]]:
    """All complete events so far (a torn last line is skipped)."""
    from studio.fsutil import read_jsonl

    return read_jsonl(path)


def follow(path: str | Path, cancel: Event | None = None, poll: float = 0.1) -> Iterator[list[dict[str, Any]]]:
    """Yield batches of new events as the file grows, until a terminal event or ``cancel``.

    Starts from the beginning of the file, so a reader that attaches late sees the whole run.
    """
    path = Path(path)
    offset = 0
    buffer = b""
    while cancel is None or not cancel.is_set():
        batch: list[dict[str, Any]] = []
        try:
            with open(path, "rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
        except FileNotFoundError:
            chunk = b""
        if chunk:
            offset += len(chunk)
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if line.strip():
                    try:
                        batch.append(json.loads(line))
                    except json.JSONDecodeError:
                        continue
        if batch:
            yield batch
            if any(e.get("event") in TERMINAL for e in batch):
                return
        else:
            time.sleep(poll)


@dataclass
class RunState:
    """A run's state folded from its events (what the TUI and ``persona-studio runs`` show)."""

    status: str = "starting"
    step: int = 0
    total_steps: int = 0
    epoch: float = 0.0
    loss: float | None = None
    eval_loss: float | None = None
    tokens_per_s: float | None = None
    eta_s: float | None = None
    error: str | None = None
    losses: list[tuple[int, float]] = field(default_factory=list)
    eval_losses: list[tuple[int, float]] = field(default_factory=list)
    checkpoints: list[int] = field(default_factory=list)
    gpu: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    pid: int | None = None

    def update(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "config":
            self.config = event.get("config", {})
            self.total_steps = int(event.get("total_steps", 0))
            self.pid = event.get("pid")
            self.status = "running"
        elif kind == "data":
            self.total_steps = int(event.get("total_steps", self.total_steps))
        elif kind == "step":
            self.status = "running"
            self.step = int(event["step"])
            self.total_steps = int(event.get("total_steps", self.total_steps))
            self.epoch = float(event.get("epoch", self.epoch))
            self.loss = event.get("loss")
            self.tokens_per_s = event.get("tokens_per_s")
            self.eta_s = event.get("eta_s")
            if self.loss is not None:
                self.losses.append((self.step, float(self.loss)))
            if event.get("gpu"):
                self.gpu = event["gpu"]
        elif kind == "eval":
            self.eval_loss = event.get("eval_loss")
            if self.eval_loss is not None:
                self.eval_losses.append((int(event.get("step", self.step)), float(self.eval_loss)))
        elif kind == "checkpoint":
            self.checkpoints.append(int(event.get("step", self.step)))
        elif kind in TERMINAL:
            self.status = kind
            self.error = event.get("error")

    @classmethod
    def from_events(cls, events: list[dict[str, Any]]) -> RunState:
        state = cls()
        for event in events:
            state.update(event)
        return state

    def alive(self) -> bool:
        """True when the run's process still exists (a crash without a terminal event is not)."""
        if self.status in TERMINAL or not self.pid:
            return False
        try:
            os.kill(int(self.pid), 0)
        except (ProcessLookupError, PermissionError, ValueError):
            return False
        return True
