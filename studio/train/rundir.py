"""Provides RunDir: the one owner of a run folder ``runs/<id>/`` and the names in it.

::

    runs/<id>/
      config.json        the frozen run config (RunConfig + the preset's name)
      samples.jsonl      the frozen training data
      events.jsonl       typed events (studio.train.events), appended by rank 0
      train.log          the run process's output: one line per event, library warnings, tracebacks
      pid                the launcher's process id
      STOP               a stop request (every process of the run sees it)
      checkpoints/step-N/   resumable checkpoints; COMPLETE is written last
      adapter/           the final LoRA adapter (peft format + persona.json)
      eval/              the evaluation report

No other module spells these names: the trainer, the CLI, the studio, chat, eval and export
(and the tests' fake runs) ask a :class:`RunDir`. :func:`list_runs` and :func:`pick_run` decide
which run a command means when the user names none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.train.events import Event, follow, read_events
from studio.train.state import RunState, pid_alive

ADAPTER_CONFIG = "adapter_config.json"


@dataclass(frozen=True)
class RunDir:
    """One run folder.

    Args:
        path: ``runs/<id>``.
    """

    path: Path

    CONFIG = "config.json"
    SAMPLES = "samples.jsonl"
    EVENTS = "events.jsonl"
    LOG = "train.log"
    PID = "pid"
    STOP = "STOP"
    CHECKPOINTS = "checkpoints"
    ADAPTER = "adapter"
    EVAL = "eval"
    COMPLETE = "COMPLETE"

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    # -- names ----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config_file(self) -> Path:
        return self.path / self.CONFIG

    @property
    def samples_file(self) -> Path:
        return self.path / self.SAMPLES

    @property
    def events_file(self) -> Path:
        return self.path / self.EVENTS

    @property
    def log_file(self) -> Path:
        return self.path / self.LOG

    @property
    def pid_file(self) -> Path:
        return self.path / self.PID

    @property
    def stop_file(self) -> Path:
        return self.path / self.STOP

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / self.CHECKPOINTS

    @property
    def adapter_dir(self) -> Path:
        return self.path / self.ADAPTER

    @property
    def eval_dir(self) -> Path:
        return self.path / self.EVAL

    def exists(self) -> bool:
        """True for a prepared run (its config is frozen)."""
        return self.config_file.is_file()

    # -- config and data ------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The frozen config as written (RunConfig keys plus ``preset``).

        Raises:
            StudioError: no such run, or the file is not valid JSON.
        """
        try:
            return dict(json.loads(self.config_file.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise StudioError(
                f"{self.config_file}: no run config; expected a run folder made by "
                "`persona-studio train`"
            ) from None
        except json.JSONDecodeError as exc:
            where = f"{self.config_file}:{exc.lineno}"
            raise StudioError(f"{where}: not valid JSON: {exc.msg}") from None

    def run_config(self) -> Any:
        """The frozen config as a checked :class:`studio.train.runconfig.RunConfig`."""
        from studio.train.runconfig import RunConfig

        return RunConfig.from_dict(self.config(), str(self.config_file))

    def write_config(self, payload: dict[str, Any]) -> None:
        from studio.fsutil import atomic_write_json

        atomic_write_json(self.config_file, payload)

    def samples(self) -> list[Any]:
        """The frozen training data (train and eval split)."""
        from studio.api import Sample
        from studio.fsutil import read_jsonl

        return [Sample.from_json(d) for d in read_jsonl(self.samples_file)]

    def write_samples(self, samples: Iterable[Any]) -> None:
        from studio.fsutil import atomic_write_text

        lines = [json.dumps(s.to_json(), ensure_ascii=False) for s in samples]
        atomic_write_text(self.samples_file, "\n".join(lines) + "\n")

    # -- events and state -----------------------------------------------------------------

    def events(self) -> list[Event]:
        return read_events(self.events_file)

    def write_events(self, events: Iterable[Event]) -> None:
        """Replace the events (fixtures of tests and demos; a run appends through its sink)."""
        from studio.fsutil import atomic_write_text

        text = "".join(json.dumps(e.to_json(), ensure_ascii=False) + "\n" for e in events)
        atomic_write_text(self.events_file, text)

    def sink(self, enabled: bool = True) -> Any:
        """The event writer of the run process (rank 0 writes; ``enabled`` False elsewhere)."""
        from studio.train.events import JsonlSink

        return JsonlSink(self.events_file, enabled=enabled)

    def events_size(self) -> int:
        """Bytes of events so far (follow from here to see only a resumed attempt's events)."""
        try:
            return self.events_file.stat().st_size
        except FileNotFoundError:
            return 0

    def follow(self, **kwargs: Any) -> Iterator[list[Event]]:
        """:func:`studio.train.events.follow` on this run's events."""
        return follow(self.events_file, **kwargs)

    def launcher_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def write_pid(self, pid: int) -> None:
        from studio.fsutil import atomic_write_text

        atomic_write_text(self.pid_file, str(pid))

    def state(self) -> RunState:
        """The run's state from its events;
        ``crashed`` when its process is gone without a terminal event."""
        state = RunState.from_events(self.events())
        if state.status in ("starting", "running"):
            pid = state.pid if state.status == "running" else self.launcher_pid()
            if pid is None and state.status == "starting":
                return state  # prepared, never launched
            if pid is None or not pid_alive(pid):
                launcher = self.launcher_pid()
                if state.status == "running" or launcher is None or not pid_alive(launcher):
                    state.status = "crashed"
        return state

    def is_alive(self) -> bool:
        """True while the run's process (or its launcher, before the first event) is running;
        False for a run that was prepared and never launched."""
        state = self.state()
        if state.status == "running":
            return True
        launcher = self.launcher_pid()
        return state.status == "starting" and launcher is not None and pid_alive(launcher)

    # -- stop requests ----------------------------------------------------------------------

    def request_stop(self) -> None:
        from studio.fsutil import atomic_write_text

        atomic_write_text(self.stop_file, "stop requested\n")

    def clear_stop(self) -> None:
        self.stop_file.unlink(missing_ok=True)

    def stop_requested(self) -> bool:
        return self.stop_file.exists()

    # -- checkpoints and adapters -----------------------------------------------------------

    def checkpoint_dir(self, step: int) -> Path:
        return self.checkpoints_dir / f"step-{step:06d}"

    @staticmethod
    def checkpoint_step(folder: Path) -> int:
        """The step of a checkpoint folder (``step-000020`` → 20)."""
        return int(folder.name.split("-")[1])

    @staticmethod
    def is_complete(folder: Path) -> bool:
        """True when a checkpoint folder was written to the end."""
        return (folder / RunDir.COMPLETE).exists()

    @staticmethod
    def mark_complete(folder: Path, step: int) -> None:
        """Write the marker that makes a checkpoint folder count (written last)."""
        from studio.fsutil import atomic_write_text

        atomic_write_text(folder / RunDir.COMPLETE, json.dumps({"step": step}) + "\n")

    @staticmethod
    def complete_in(root: Path) -> list[Path]:
        """Complete checkpoint folders under ``root``, oldest first."""
        if not root.is_dir():
            return []
        return sorted(p for p in root.glob("step-*") if RunDir.is_complete(p))

    def checkpoints(self) -> list[Path]:
        """Complete checkpoints, oldest first."""
        return self.complete_in(self.checkpoints_dir)

    def has_adapter(self) -> bool:
        """True when the run finished and wrote its final adapter."""
        return (self.adapter_dir / ADAPTER_CONFIG).exists()

    def adapter(self, checkpoint: int | None = None) -> Path:
        """The adapter to load: a checkpoint's (``checkpoint`` = step; -1 = latest) or the final.

        A run still training has no final adapter yet: its latest complete checkpoint is used.

        Raises:
            StudioError: the run has no adapter and no complete checkpoint, or no such step.
        """
        if checkpoint is None and self.has_adapter():
            return self.adapter_dir
        done = self.checkpoints()
        if not done:
            raise StudioError(f"{self.path}: no finished adapter and no complete checkpoint yet")
        if checkpoint is None or checkpoint < 0:
            return done[-1] / self.ADAPTER
        for folder in done:
            if self.checkpoint_step(folder) == checkpoint:
                return folder / self.ADAPTER
        have = ", ".join(p.name for p in done)
        raise StudioError(f"{self.path}: no checkpoint at step {checkpoint}; have {have}")

    def adapter_step(self, adapter: Path) -> int | None:
        """The step an adapter folder of this run was saved at (None for the final adapter)."""
        parent = adapter.parent
        return None if parent == self.path else self.checkpoint_step(parent)

    def log_tail(self, limit: int = 200, max_bytes: int = 65536) -> list[str]:
        """The last ``limit`` lines of ``train.log`` (reads at most ``max_bytes`` from its end)."""
        try:
            with open(self.log_file, "rb") as handle:
                handle.seek(0, 2)
                size = handle.tell()
                handle.seek(max(0, size - max_bytes))
                data = handle.read()
        except FileNotFoundError:
            return []
        # a progress bar rewrites its line with \r: keep what the terminal would show last
        text = data.decode("utf-8", errors="replace")
        lines = [line.rstrip("\r").split("\r")[-1] for line in text.split("\n")]
        if size > max_bytes:
            lines = lines[1:]  # the first line is cut
        return [line for line in lines if line.strip()][-limit:]

    def log_size(self) -> int:
        try:
            return self.log_file.stat().st_size
        except FileNotFoundError:
            return 0


def list_runs(ws: Any) -> list[RunDir]:
    """The workspace's prepared runs, newest first."""
    root = Path(ws.runs_dir)
    if not root.is_dir():
        return []
    runs = [RunDir(p) for p in root.iterdir() if p.is_dir() and RunDir(p).exists()]
    return sorted(runs, key=lambda r: r.path.stat().st_mtime, reverse=True)


def latest_run(ws: Any) -> RunDir | None:
    """The newest prepared run, whatever its state (``train --resume``, ``stop``, the studio)."""
    runs = list_runs(ws)
    return runs[0] if runs else None


def pick_run(
    ws: Any, run: str = "", *, checkpoint: int | None = None, partial_ok: bool = False
) -> tuple[RunDir, str]:
    """The run a command means: the one named, else the newest that has what it needs.

    Without a name, the newest *finished* run (it has its final adapter) is taken. When none
    has finished, a command that can use a checkpoint (``partial_ok``: chat, serve) takes the
    newest run with a complete checkpoint, even one still training. With ``checkpoint`` given,
    the newest run with a complete checkpoint. A run still training is never taken for a final
    adapter it does not have yet.

    Args:
        ws: the workspace.
        run: the run id the user named (``--run``); empty to pick.
        checkpoint: the checkpoint the user asked for (``--checkpoint``), if any.
        partial_ok: a complete checkpoint is enough.

    Returns:
        The run and a sentence saying why it was taken (empty when named).

    Raises:
        StudioError: no such run, no runs, or none with an adapter yet (saying what to pass).
    """
    if run:
        named = RunDir(Path(ws.run_dir(run)))
        if not named.exists():
            raise StudioError(f"{ws.root}: no run {run!r}")
        return named, ""
    runs = list_runs(ws)
    if not runs:
        raise StudioError(
            f"{ws.root}: no runs yet; train first (or pass --base for the base model)"
        )
    if checkpoint is None:
        for candidate in runs:
            if candidate.has_adapter():
                return candidate, f"using {candidate.name}, the newest finished run"
    if partial_ok or checkpoint is not None:
        for candidate in runs:
            if candidate.checkpoints():
                status = candidate.state().status
                return candidate, (
                    f"using {candidate.name} ({status}), the newest run with a complete checkpoint"
                )
    running = [r.name for r in runs if r.is_alive()]
    if running:
        raise StudioError(
            f"{ws.root}: no finished run yet ({', '.join(running)} still training); pass "
            f"--run {running[0]} --checkpoint -1 for its latest complete checkpoint"
        )
    raise StudioError(
        f"{ws.root}: no run has an adapter or a complete checkpoint; "
        "train one, or pass --run and --checkpoint"
    )
