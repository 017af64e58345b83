"""Provides the trainer ↔ UI contract: one JSON object per line in ``runs/<id>/events.jsonl``.

Event kinds (``"event"`` key), in the order a run writes them:

- ``config``: pid, resume, world_size, total_steps, the frozen config, device, dtype, attention
  kernel, LoRA targets, trainable parameters, end-of-turn tokens;
- ``download``: bytes done and expected while the base model downloads (every 2 s);
- ``data``: samples kept, over ``max_length`` (dropped or split), supervised share, steps;
- ``resumed``: step, epoch and checkpoint a resumed run continues from;
- ``step``: step, loss, lr, grad_norm, tokens, supervised, supervised_share, tokens_per_s,
  supervised_per_s, eta_s, and on a GPU ``gpu`` (util %, memory, peak allocated);
- ``eval``: eval_loss and eval_ppl at a step; ``checkpoint``: its folder;
- ``finished`` (adapter folder), ``stopped`` (resumable) or ``failed`` (error, traceback);
- ``rank_failed``: a process other than rank 0 failed (its error); the run usually crashes next.

Every event has ``t`` (unix time). Any number of readers (the TUI, ``tail -f``) can follow the
file while the run writes it. A run killed without a chance to write a terminal event is
``crashed`` (see :func:`studio.train.runner.run_state`) and resumes from its last checkpoint.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
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

    def log(self, event: str, *, force: bool = False, **payload: Any) -> dict[str, Any]:
        """Append one event; ``force`` writes it from any rank
        (a failure on rank 3 must be seen)."""
        record = {"event": event, "t": round(time.time(), 3), **payload}
        if self.enabled or force:
            append_jsonl(self.path, record, sync=event != "step")
        return record


def read_events(path: str | Path) -> list[dict[str, Any]]:
    """All complete events so far (a torn last line is skipped)."""
    from studio.fsutil import read_jsonl

    return read_jsonl(path)


def follow(
    path: str | Path,
    cancel: Event | None = None,
    poll: float = 0.1,
    alive: Callable[[], bool] | None = None,
    start: int = 0,
) -> Iterator[list[dict[str, Any]]]:
    """Yield batches of new events as the file grows, until the run ends or ``cancel`` is set.

    Starts from the beginning of the file, so a reader that attaches late sees the whole run;
    the run has ended when its latest attempt wrote a terminal event (a failed or stopped run
    that was resumed goes on).

    Args:
        path: the run's events.jsonl.
        cancel: set it to stop following.
        poll: seconds between reads when nothing new came.
        alive: called when nothing new came; when it returns False (the run process is gone
            without a terminal event: it crashed) following ends.
        start: byte offset to start from (the file's size before a resume: only new events).
    """
    path = Path(path)
    offset = start
    buffer = b""
    idle, gone = 0, False
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
            idle = 0
            yield batch
            # the run ended when its latest attempt did (a resumed run has several attempts)
            kinds = [e.get("event") for e in batch if e.get("event") in (*TERMINAL, "config")]
            if kinds and kinds[-1] in TERMINAL:
                return
            continue
        if gone:
            return
        idle += 1
        if alive is not None and idle % 10 == 0 and not alive():
            gone = True  # read once more: lines written just before the process ended
            continue
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
    supervised_per_s: float | None = None
    grad_norm: float | None = None
    lr: float | None = None
    eta_s: float | None = None
    error: str | None = None
    losses: list[tuple[int, float]] = field(default_factory=list)
    eval_losses: list[tuple[int, float]] = field(default_factory=list)
    checkpoints: list[int] = field(default_factory=list)
    gpu: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    pid: int | None = None
    world_size: int = 1
    started: float | None = None
    adapter: str | None = None
    resumes: int = 0
    download: dict[str, Any] = field(default_factory=dict)

    def update(self, event: dict[str, Any]) -> None:
        """Fold one event into the state."""
        kind = event.get("event")
        if kind == "config":
            self.config = event.get("config", {})
            self.total_steps = int(event.get("total_steps", 0))
            self.pid = event.get("pid")
            self.world_size = int(event.get("world_size", 1))
            self.started = self.started or event.get("t")
            self.status = "running"
            self.error = None
        elif kind == "resumed":
            # steps after the checkpoint were logged by the attempt that ended: they are redone
            self.resumes += 1
            self.step = int(event.get("step", 0))
            self.losses = [(s, v) for s, v in self.losses if s <= self.step]
            self.eval_losses = [(s, v) for s, v in self.eval_losses if s <= self.step]
            self.checkpoints = [s for s in self.checkpoints if s <= self.step]
        elif kind == "data":
            self.data = {k: v for k, v in event.items() if k not in ("event", "t", "too_long_ids")}
            self.total_steps = int(event.get("total_steps", self.total_steps))
        elif kind == "step":
            self.status = "running"
            self.step = int(event["step"])
            self.total_steps = int(event.get("total_steps", self.total_steps))
            self.epoch = float(event.get("epoch", self.epoch))
            self.loss = event.get("loss")
            self.tokens_per_s = event.get("tokens_per_s")
            self.supervised_per_s = event.get("supervised_per_s")
            self.grad_norm = event.get("grad_norm")
            self.lr = event.get("lr")
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
        elif kind == "download":
            self.download = {k: event.get(k) for k in ("done_bytes", "total_bytes", "file")}
        elif kind == "rank_failed":  # another process failed; rank 0 may hang until ended
            self.error = f"rank {event.get('rank')}: {event.get('error')}"
        elif kind in TERMINAL:
            self.status = kind
            self.error = event.get("error")
            self.adapter = event.get("adapter")
            self.step = int(event.get("step", self.step))

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
        return pid_alive(int(self.pid))


def pid_alive(pid: int) -> bool:
    """True when process ``pid`` exists and has not ended (a zombie waiting to be reaped has)."""
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, PermissionError, ValueError):
        return False
    try:
        with open(f"/proc/{int(pid)}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True
