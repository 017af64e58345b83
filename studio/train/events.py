"""Provides the trainer ↔ UI contract: typed run events, one JSON object per line.

Event kinds (the ``"event"`` key of a line; one dataclass each), in the order a run writes them:

- :class:`ConfigEvent`: pid, resume, world size, total steps, the frozen config, device, dtype,
  attention kernel, LoRA targets, trainable parameters, end-of-turn tokens;
- :class:`DownloadEvent`: bytes done and expected while the base model downloads (every 2 s);
- :class:`DataEvent`: samples kept, over ``max_length`` (dropped or split), supervised share, steps;
- :class:`ResumedEvent`: step, epoch and checkpoint a resumed run continues from;
- :class:`StepEvent`: loss, lr, grad norm, tokens, supervised share, rates, ETA, GPU state;
- :class:`EvalEvent`: eval loss and perplexity at a step; :class:`CheckpointEvent`: its folder;
- :class:`WarningEvent`: something the user should know (the run goes on);
- :class:`FinishedEvent` (adapter folder), :class:`StoppedEvent` (resumable) or
  :class:`FailedEvent` (error, traceback): the end of an attempt;
- :class:`RankFailedEvent`: a process other than rank 0 failed; the run usually crashes next.

Every event has ``t`` (unix time). Writers build an event and hand it to :class:`JsonlSink`;
readers get events back from :func:`read_events` / :func:`follow` and read fields, never keys.
Any number of readers (the TUI, ``tail -f``) can follow the file while the run writes it. A run
killed without a chance to write a terminal event is ``crashed`` (see
:meth:`studio.train.rundir.RunDir.state`) and resumes from its last checkpoint. The events fold
into a :class:`studio.train.state.RunState`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from threading import Event as Flag
from typing import Any, ClassVar

from studio.fsutil import append_jsonl

TERMINAL = ("finished", "stopped", "failed")
KINDS: dict[str, type[Event]] = {}


@dataclass(kw_only=True)
class Event:
    """One line of a run's event file."""

    KIND: ClassVar[str] = ""
    t: float = 0.0
    """Unix time it was written."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.KIND:
            KINDS[cls.KIND] = cls

    @property
    def kind(self) -> str:
        return self.KIND

    @property
    def terminal(self) -> bool:
        """True for the last event of an attempt (finished, stopped, failed)."""
        return self.KIND in TERMINAL

    def to_json(self) -> dict[str, Any]:
        """The JSON object of its line (``event`` names the kind)."""
        return {"event": self.KIND, **{f.name: getattr(self, f.name) for f in fields(self)}}

    @staticmethod
    def from_json(data: dict[str, Any]) -> Event:
        """The typed event of one line; keys it does not know are ignored (newer writers)."""
        kind = data.get("event")
        cls = KINDS.get(str(kind))
        if cls is None:
            return UnknownEvent(name=str(kind), payload=dict(data), t=float(data.get("t") or 0))
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def describe(self) -> str:
        """One line for people: the run's log and ``persona-studio train`` print it."""
        return self.KIND


@dataclass(kw_only=True)
class UnknownEvent(Event):
    """A line of a kind this version does not know (kept, never folded)."""

    name: str = ""
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.name

    def describe(self) -> str:
        return f"{self.name}: {json.dumps(self.payload, ensure_ascii=False)[:200]}"


@dataclass(kw_only=True)
class ConfigEvent(Event):
    KIND: ClassVar[str] = "config"
    pid: int | None = None
    resume: bool = False
    world_size: int = 1
    total_steps: int = 0
    config: dict[str, Any] = field(default_factory=dict)
    device: str = ""
    dtype: str = ""
    attention: str = ""
    lora_targets: list[str] = field(default_factory=list)
    trainable_params: int = 0
    end_of_turn: list[str] = field(default_factory=list)

    @property
    def model_name(self) -> str:
        return str((self.config.get("model") or {}).get("name", ""))

    def describe(self) -> str:
        plural = "es" if self.world_size > 1 else ""
        return (
            f"config: {self.model_name} on {self.device} ({self.dtype}, {self.world_size} "
            f"process{plural}, attention {self.attention}), LoRA r={self.config.get('lora_r')} "
            f"on {', '.join(self.lora_targets)}"
        )


@dataclass(kw_only=True)
class DownloadEvent(Event):
    KIND: ClassVar[str] = "download"
    done_bytes: int = 0
    total_bytes: int = 0
    file: str = ""

    def describe(self) -> str:
        share = f" ({self.done_bytes / self.total_bytes:.0%})" if self.total_bytes else ""
        return (
            f"download: {self.done_bytes / 2**30:.2f} of {self.total_bytes / 2**30:.2f} GiB{share}"
        )


@dataclass(kw_only=True)
class DataEvent(Event):
    KIND: ClassVar[str] = "data"
    train_samples: int = 0
    eval_samples: int = 0
    identity_repeats: int = 0
    too_long: int = 0
    too_long_ids: list[str] = field(default_factory=list)
    split: int = 0
    no_reply: int = 0
    system_replaced: int = 0
    appended_eot: int = 0
    overlong: str = "drop"
    max_length: int = 0
    train_tokens: int = 0
    supervised_tokens: int = 0
    supervised_share: float = 0.0
    longest: int = 0
    steps_per_epoch: int = 0
    total_steps: int = 0
    row_tokens: int = 0
    tokens_per_batch: int = 0

    def describe(self) -> str:
        fate = "dropped" if self.overlong == "drop" else "single exchanges dropped"
        split = f", {self.split} long conversations split" if self.split else ""
        repeats = (
            f" ({self.identity_repeats} identity repeats among them)"
            if self.identity_repeats
            else ""
        )
        return (
            f"data: {self.train_samples} train{repeats} / {self.eval_samples} eval samples, "
            f"{self.too_long} over max_length {self.max_length} ({fate}, never cut){split}, "
            f"supervised share {self.supervised_share:.1%}, {self.total_steps} steps"
        )


@dataclass(kw_only=True)
class ResumedEvent(Event):
    KIND: ClassVar[str] = "resumed"
    step: int = 0
    epoch: int = 0
    batch_index: int = 0
    path: str = ""

    def describe(self) -> str:
        return f"resumed at step {self.step} from {self.path}"


@dataclass(kw_only=True)
class StepEvent(Event):
    KIND: ClassVar[str] = "step"
    step: int = 0
    total_steps: int = 0
    epoch: float = 0.0
    loss: float | None = None
    lr: float | None = None
    grad_norm: float | None = None
    tokens: int = 0
    supervised: int = 0
    supervised_share: float = 0.0
    tokens_per_s: float | None = None
    supervised_per_s: float | None = None
    eta_s: float | None = None
    gpu: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        gpu = (
            f"  gpu {self.gpu.get('util', '?')}% {self.gpu.get('peak_alloc_gb', '?')} GiB"
            if self.gpu
            else ""
        )
        return (
            f"step {self.step:>5}/{self.total_steps}  epoch {self.epoch:.2f}  "
            f"loss {self.loss or 0:.4f}  lr {self.lr or 0:.2e}  "
            f"grad {self.grad_norm or 0:.3f}  "
            f"{self.tokens_per_s or 0:.0f} tok/s ({self.supervised_per_s or 0:.0f} supervised)"
            f"  eta {self.eta_s or 0:.0f}s{gpu}"
        )


@dataclass(kw_only=True)
class EvalEvent(Event):
    KIND: ClassVar[str] = "eval"
    step: int = 0
    eval_loss: float | None = None
    eval_ppl: float | None = None

    def describe(self) -> str:
        return f"eval  step {self.step}: loss {self.eval_loss:.4f} (ppl {self.eval_ppl:.2f})"


@dataclass(kw_only=True)
class CheckpointEvent(Event):
    KIND: ClassVar[str] = "checkpoint"
    step: int = 0
    path: str = ""

    def describe(self) -> str:
        return f"checkpoint {self.path}"


@dataclass(kw_only=True)
class WarningEvent(Event):
    KIND: ClassVar[str] = "warning"
    message: str = ""

    def describe(self) -> str:
        return f"warning: {self.message}"


@dataclass(kw_only=True)
class FinishedEvent(Event):
    KIND: ClassVar[str] = "finished"
    step: int = 0
    adapter: str = ""
    tokens_seen: int = 0

    def describe(self) -> str:
        return f"finished at step {self.step}: {self.adapter}"


@dataclass(kw_only=True)
class StoppedEvent(Event):
    KIND: ClassVar[str] = "stopped"
    step: int = 0
    reason: str = ""

    def describe(self) -> str:
        return f"stopped at step {self.step}: {self.reason}"


@dataclass(kw_only=True)
class FailedEvent(Event):
    KIND: ClassVar[str] = "failed"
    step: int = 0
    error: str = ""
    traceback: str = ""

    def describe(self) -> str:
        return f"failed at step {self.step}: {self.error}"


@dataclass(kw_only=True)
class RankFailedEvent(FailedEvent):
    KIND: ClassVar[str] = "rank_failed"
    rank: int = 0

    def describe(self) -> str:
        return f"rank {self.rank} failed at step {self.step}: {self.error}"


class JsonlSink:
    """Writes events to a JSONL file (rank 0 only); each line is flushed before returning.

    Each written event is also printed as one line on stdout, which the run process sends to
    the run's log (with the warnings and tracebacks of the libraries it uses).
    """

    def __init__(self, path: str | Path, enabled: bool = True, echo: bool = True) -> None:
        self.path = Path(path)
        self.enabled = enabled
        self.echo = echo

    def log(self, event: Event, *, force: bool = False) -> Event:
        """Append one event; ``force`` writes it from any rank (a failure on rank 3 must be
        seen)."""
        event.t = round(time.time(), 3)
        if self.enabled or force:
            append_jsonl(self.path, event.to_json(), sync=event.KIND != "step")
            if self.echo:
                stamp = time.strftime("%H:%M:%S", time.localtime(event.t))
                print(f"{stamp} {event.describe()}", file=sys.stdout, flush=True)
                if isinstance(event, FailedEvent) and event.traceback:
                    print(event.traceback.rstrip(), file=sys.stdout, flush=True)
        return event


def read_events(path: str | Path) -> list[Event]:
    """All complete events so far (a torn last line is skipped)."""
    from studio.fsutil import read_jsonl

    return [Event.from_json(data) for data in read_jsonl(path)]


def follow(
    path: str | Path,
    cancel: Flag | None = None,
    poll: float = 0.1,
    alive: Callable[[], bool] | None = None,
    start: int = 0,
) -> Iterator[list[Event]]:
    """Yield batches of new events as the file grows, until the run ends or ``cancel`` is set.

    Starts from the beginning of the file, so a reader that attaches late sees the whole run;
    the run has ended when its latest attempt wrote a terminal event (a failed or stopped run
    that was resumed goes on).

    Args:
        path: the run's event file.
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
        batch: list[Event] = []
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
                        batch.append(Event.from_json(json.loads(line)))
                    except (json.JSONDecodeError, TypeError, AttributeError):
                        continue
        if batch:
            idle = 0
            yield batch
            # the run ended when its latest attempt did (a resumed run has several attempts)
            ends = [e for e in batch if e.terminal or isinstance(e, ConfigEvent)]
            if ends and ends[-1].terminal:
                return
            continue
        if gone:
            return
        idle += 1
        if alive is not None and idle % 10 == 0 and not alive():
            gone = True  # read once more: lines written just before the process ended
            continue
        time.sleep(poll)
