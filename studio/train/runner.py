"""Provides starting, stopping and following training runs of a workspace.

A run is a separate OS process in its own session (it survives the terminal or SSH session
that started it). Its folder (:class:`studio.train.rundir.RunDir`) is prepared first: the config
(preset + studio.toml + overrides, frozen) and the curated training data (frozen), so a run is
reproducible and resumable from its folder alone.

Several GPUs: ``launch(..., gpus=N)`` starts ``torchrun`` with N processes (NCCL on GPUs, gloo
on a CPU-only machine). The run's config does not change with N: the same steps see the same
samples, only shared out differently.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio import settings
from studio.errors import StudioError
from studio.fsutil import open_append
from studio.train.events import TERMINAL
from studio.train.runconfig import RunConfig
from studio.train.rundir import RunDir
from studio.train.state import RunState, pid_alive


def pick_preset(adapter: Any, name: str = "", gpu_memory_gb: float | None = None) -> Any:
    """The preset named ``name``, or the largest one that fits the GPU (the CPU preset without one).

    Without a name, presets that quantize are chosen only when no bf16 preset fits.

    Raises:
        StudioError: ``name`` is not a preset of the adapter.
    """
    presets = list(getattr(adapter, "presets", ()))
    if name:
        for preset in presets:
            if preset.name == name:
                return preset
        raise StudioError(
            f"[train] preset: {name!r} is not a preset of {adapter.name}; expected one of "
            f"{', '.join(p.name for p in presets)}"
        )
    if gpu_memory_gb is None:
        gpu_memory_gb = _gpu_memory_gb()
    fitting = [
        p
        for p in presets
        if p.min_memory_gb <= gpu_memory_gb and not p.settings.get("quantization")
    ]
    if gpu_memory_gb and not [p for p in fitting if p.min_memory_gb > 0]:
        fitting = [p for p in presets if p.min_memory_gb <= gpu_memory_gb]
    return max(fitting, key=lambda p: p.min_memory_gb) if fitting else None


def _gpu_memory_gb() -> float:
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_properties(0).total_memory / 2**30
    except Exception:
        pass
    return 0.0


def prepare_run(
    ws: Any,
    adapters: dict[str, Any],
    *,
    run_id: str = "",
    overrides: dict[str, Any] | None = None,
    samples: list[Any] | None = None,
) -> Path:
    """Create ``runs/<id>/`` with the frozen config and training data.

    Args:
        ws: the workspace.
        adapters: registered model adapters.
        run_id: name of the run; a timestamped id when empty.
        overrides: settings that win over studio.toml and the preset (the new-run form,
            ``--set``); precedence is :func:`studio.settings.resolve`'s.
        samples: the samples to train on; the workspace dataset's train+eval samples otherwise.

    Raises:
        StudioError: no dataset, the run exists, a bad preset or a bad value.
    """
    from studio.dataset.service import trainable_problem
    from studio.dataset.store import DatasetStore
    from studio.train.base_model import model_spec, pick_adapter

    cfg = ws.config
    run_id = run_id or ws.new_run_id()
    run_dir = ws.run_dir(run_id)
    run = RunDir(run_dir)
    if run_dir.exists():
        raise StudioError(f"{run_dir} exists; pick another --run name or use --resume")
    if samples is None:
        store = DatasetStore(ws.dataset_dir())
        if not store.exists():
            raise StudioError(
                f"no dataset in {store.folder}; run `persona-studio build {ws.root}` first"
            )
        samples = store.training_samples("train") + store.training_samples("eval")
    problem = trainable_problem(samples)
    if problem:
        raise StudioError(problem)
    spec = model_spec(cfg.model, ws.root)
    adapter = pick_adapter(spec, adapters)
    preset = pick_preset(adapter, cfg.train.preset)
    values = settings.resolve(cfg.written_train(), preset.settings if preset else None, overrides)
    run_cfg = RunConfig.from_dict(
        {
            **values,
            "model": dataclasses.asdict(spec),
            "character": cfg.character.name,
            "persona": cfg.character.persona,
        },
        str(ws.config_path),
    )
    run_dir.mkdir(parents=True)
    run.write_samples(samples)
    payload = dataclasses.asdict(run_cfg)
    payload["preset"] = preset.name if preset else ""
    run.write_config(payload)
    return run_dir


def command(run_dir: Path, *, resume: bool = False, gpus: int = 1) -> list[str]:
    """The command line of the run process (``torchrun`` for several processes)."""
    if gpus > 1:
        args = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc-per-node={gpus}",
            "-m",
            "studio.train",
            str(run_dir),
        ]
    else:
        args = [sys.executable, "-m", "studio.train", str(run_dir)]
    return args + (["--resume"] if resume else [])


def launch(
    run_dir: Path, *, resume: bool = False, detach: bool = True, gpus: int = 1
) -> subprocess.Popen | int:
    """Start the run process.

    Args:
        run_dir: a prepared run folder.
        resume: continue from the latest complete checkpoint.
        detach: start it in its own session and return at once (it survives this terminal);
            otherwise wait for it in the foreground and return its exit code.
        gpus: more than 1 starts ``torchrun`` with one process per GPU (gloo processes on a CPU).

    Returns:
        The process when detached; the exit code otherwise.

    Raises:
        StudioError: the run is running already, or has finished and ``resume`` was asked.
    """
    run = RunDir(run_dir)
    state = run.state()
    if state.status in ("running", "starting") and state.alive():
        raise StudioError(f"{run.name} is running (pid {state.pid}); stop it first")
    if resume and state.status == "finished":
        raise StudioError(f"{run.name} has finished; nothing to resume")
    run.clear_stop()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if gpus > 1:
        import torch

        if not torch.cuda.is_available():  # gloo processes share the cores
            env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 2) // gpus)))
        elif torch.cuda.device_count() < gpus:
            raise StudioError(f"--gpus {gpus}: only {torch.cuda.device_count()} GPU(s) visible")
    args = command(run_dir, resume=resume, gpus=gpus)
    with open_append(run.log_file) as log:  # never through a link planted in the run folder
        if not detach:
            return subprocess.call(args, env=env)
        process = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
    run.write_pid(process.pid)
    _reap_when_done(process)
    return process


def _reap_when_done(process: subprocess.Popen) -> None:
    """Collect the run process's exit status when it ends, so it never lingers as a zombie.

    The run outlives whoever started it, but while the starter (the studio) lives on, an
    ended child it never waits for stays ``<defunct>`` in the process table until it exits.
    """
    threading.Thread(target=process.wait, name=f"reap-{process.pid}", daemon=True).start()


@dataclass
class Started:
    """A run started by :func:`start`: its folder, its process, where its new events begin."""

    run: RunDir
    process: subprocess.Popen
    offset: int
    resumed: RunState | None = None


def start(
    ws: Any,
    adapters: dict[str, Any],
    *,
    run_id: str = "",
    overrides: dict[str, Any] | None = None,
    resume: bool = False,
    gpus: int = 1,
) -> Started:
    """Prepare (or pick, to resume) a run and launch it detached, holding the workspace lock.

    The lock is held while the run folder is written and the process starts, so a run is
    never started behind the back of a studio that has the workspace open (it starts runs
    itself, from its Train screen).

    Args:
        ws: the workspace.
        adapters: registered model adapters.
        run_id: the run's name (to resume: the run; default the newest).
        overrides: settings over studio.toml and the preset.
        resume: continue a run from its last complete checkpoint instead of preparing one.
        gpus: processes (one per GPU).

    Raises:
        WorkspaceLocked: a studio has the workspace open.
        StudioError: nothing to resume, a bad setting, a running run.
    """
    from studio.train.rundir import latest_run

    with ws:
        resumed = None
        if resume:
            run = RunDir(ws.run_dir(run_id)) if run_id else latest_run(ws)
            if run is None or not run.exists():
                raise StudioError(
                    f"{ws.root}: no run {run_id!r} to resume"
                    if run_id
                    else f"{ws.root}: no run to resume"
                )
            resumed = run.state()
        else:
            run = RunDir(prepare_run(ws, adapters, run_id=run_id, overrides=overrides))
        offset = run.events_size()
        process = launch(run.path, resume=resume, detach=True, gpus=gpus)
    assert isinstance(process, subprocess.Popen)
    return Started(run, process, offset, resumed)


def stop(run_dir: Path) -> bool:
    """Ask a run to stop: it saves a checkpoint first, then writes ``stopped``.

    Writes ``STOP`` in the run folder (every process of a multi-process run sees it) and sends
    SIGTERM to the training process. Returns False when it is not running.
    """
    run = RunDir(run_dir)
    state = run.state()
    if state.status in TERMINAL or state.status == "crashed":
        return False
    run.request_stop()
    pid = state.pid or run.launcher_pid()
    if pid and pid_alive(pid):
        try:
            os.kill(int(pid), signal.SIGTERM)
        except ProcessLookupError:
            return False
        return True
    return False


def run_state(run_dir: Path) -> RunState:
    """The run's state (:meth:`studio.train.rundir.RunDir.state`)."""
    return RunDir(run_dir).state()


def is_alive(run_dir: Path) -> bool:
    """True while the run's process (or its launcher, before the first event) is running."""
    return RunDir(run_dir).is_alive()
