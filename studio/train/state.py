"""Provides RunState: a run's state folded from its typed events (what the studio and
``persona-studio runs`` show), and whether a run's process is still there."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from studio.train.events import (
    TERMINAL,
    CheckpointEvent,
    ConfigEvent,
    DataEvent,
    DownloadEvent,
    EvalEvent,
    Event,
    FailedEvent,
    FinishedEvent,
    RankFailedEvent,
    ResumedEvent,
    StepEvent,
    StoppedEvent,
)


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
    config: ConfigEvent | None = None
    data: DataEvent | None = None
    pid: int | None = None
    world_size: int = 1
    started: float | None = None
    adapter: str | None = None
    resumes: int = 0
    download: DownloadEvent | None = None
    epochs_at: dict[int, float] = field(default_factory=dict)
    """The epoch reached at each logged step (what a checkpoint of that step has seen)."""

    def update(self, event: Event) -> None:
        """Fold one event into the state."""
        if isinstance(event, ConfigEvent):
            self.config = event
            self.total_steps = event.total_steps
            self.pid = event.pid
            self.world_size = event.world_size
            self.started = self.started or event.t
            self.status = "running"
            self.error = None
        elif isinstance(event, ResumedEvent):
            # steps after the checkpoint were logged by the attempt that ended: they are redone
            self.resumes += 1
            self.step = event.step
            self.losses = [(s, v) for s, v in self.losses if s <= self.step]
            self.eval_losses = [(s, v) for s, v in self.eval_losses if s <= self.step]
            self.checkpoints = [s for s in self.checkpoints if s <= self.step]
        elif isinstance(event, DataEvent):
            self.data = event
            self.total_steps = event.total_steps or self.total_steps
        elif isinstance(event, StepEvent):
            self.status = "running"
            self.step = event.step
            self.total_steps = event.total_steps or self.total_steps
            self.epoch = event.epoch
            self.epochs_at[event.step] = event.epoch
            self.loss = event.loss
            self.tokens_per_s = event.tokens_per_s
            self.supervised_per_s = event.supervised_per_s
            self.grad_norm = event.grad_norm
            self.lr = event.lr
            self.eta_s = event.eta_s
            if self.loss is not None:
                self.losses.append((self.step, float(self.loss)))
            if event.gpu:
                self.gpu = event.gpu
        elif isinstance(event, EvalEvent):
            self.eval_loss = event.eval_loss
            if self.eval_loss is not None:
                self.eval_losses.append((event.step or self.step, float(self.eval_loss)))
        elif isinstance(event, CheckpointEvent):
            self.checkpoints.append(event.step or self.step)
        elif isinstance(event, DownloadEvent):
            self.download = event
        elif isinstance(event, RankFailedEvent):  # another process failed; rank 0 may hang
            self.error = f"rank {event.rank}: {event.error}"
        elif isinstance(event, (FinishedEvent, StoppedEvent, FailedEvent)):
            self.status = event.KIND
            self.error = event.error if isinstance(event, FailedEvent) else None
            self.adapter = event.adapter if isinstance(event, FinishedEvent) else None
            self.step = event.step or self.step

    @classmethod
    def from_events(cls, events: list[Event]) -> RunState:
        state = cls()
        for event in events:
            state.update(event)
        return state

    @property
    def model_name(self) -> str:
        return self.config.model_name if self.config else ""

    def epoch_at(self, step: int) -> float | None:
        """The epoch the run had reached at ``step`` (None when that step was not logged)."""
        return self.epochs_at.get(step)

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
