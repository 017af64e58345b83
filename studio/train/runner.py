"""Provides starting, stopping and following training runs of a workspace.

A run is a separate OS process in its own session (it survives the terminal or SSH session
that started it). Its folder is prepared first: ``config.json`` (studio.toml + preset,
frozen) and ``samples.jsonl`` (the curated training data, frozen), so a run is reproducible
and resumable from its folder alone.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.fsutil import atomic_write_json, atomic_write_text
from studio.train.events import RunState, read_events
from studio.train.recipe import RunConfig


def pick_preset(adapter: Any, name: str = "", gpu_memory_gb: float | None = None) -> Any:
    """The preset named ``name``, or the largest one that fits the GPU (the CPU preset without one)."""
    presets = list(getattr(adapter, "presets", ()))
    if name:
        for preset in presets:
            if preset.name == name:
                return preset
        raise StudioError(f"[train] preset: {name!r} is not a preset of {adapter.name}; expected one of "
                          f"{', '.join(p.name for p in presets)}")
    if gpu_memory_gb is None:
        gpu_memory_gb = _gpu_memory_gb()
    fitting = [p for p in presets if p.min_memory_gb <= gpu_memory_gb and not p.settings.get("quantization")]
    if gpu_memory_gb and not fitting:
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


def prepare_run(ws: Any, adapters: dict[str, Any], *, run_id: str = "", overrides: dict[str, Any] | None = None,
                samples: list[Any] | None = None) -> Path:
    """Create ``runs/<id>/`` with the frozen config and training data.

    Args:
        ws: the workspace.
        adapters: registered model adapters.
        run_id: name of the run; a timestamped id when empty.
        overrides: RunConfig keys that win over studio.toml and the preset (``max_steps``…).
        samples: the samples to train on; the workspace dataset's train+eval samples otherwise.

    Raises:
        StudioError: no dataset, the run exists, or a bad preset.
    """
    from studio.dataset.store import DatasetStore
    from studio.models import model_spec, pick_adapter

    cfg = ws.config
    run_id = run_id or ws.new_run_id()
    run_dir = ws.run_dir(run_id)
    if run_dir.exists():
        raise StudioError(f"{run_dir} exists; pick another --run name or use --resume")
    if samples is None:
        store = DatasetStore(ws.dataset_dir())
        if not store.exists():
            raise StudioError(f"no dataset in {store.folder}; run `persona-studio build {ws.root}` first")
        samples = store.training_samples("train") + store.training_samples("eval")
    spec = model_spec(cfg.model, ws.root)
    adapter = pick_adapter(spec, adapters)
    preset = pick_preset(adapter, cfg.train.preset)
    train = dataclasses.asdict(cfg.train)
    settings: dict[str, Any] = {k: v for k, v in train.items() if k in RunConfig.__dataclass_fields__}
    # studio.toml keys the user changed from the defaults win over the preset
    defaults = dataclasses.asdict(type(cfg.train)())
    if preset is not None:
        for key, value in preset.settings.items():
            if key in RunConfig.__dataclass_fields__ and train.get(key) == defaults.get(key):
                settings[key] = value
    settings.update(overrides or {})
    run_cfg = RunConfig(model=dataclasses.asdict(spec), character=cfg.character.name, persona=cfg.character.persona,
                        **{k: v for k, v in settings.items() if k not in ("model", "character", "persona")})
    run_dir.mkdir(parents=True)
    lines = [json.dumps(s.to_json(), ensure_ascii=False) for s in samples]
    atomic_write_text(run_dir / "samples.jsonl", "\n".join(lines) + "\n")
    payload = dataclasses.asdict(run_cfg)
    payload["preset"] = preset.name if preset else ""
    atomic_write_json(run_dir / "config.json", payload)
    return run_dir


def launch(run_dir: Path, *, resume: bool = False, detach: bool = True, gpus: int = 1) -> subprocess.Popen | int:
    """Start the run process.

    Args:
        run_dir: a prepared run folder.
        resume: continue from the latest complete checkpoint.
        detach: start it in its own session and return at once (it survives this terminal).
        gpus: more than 1 starts ``torchrun`` with one process per GPU (DDP).

    Returns:
        The process when detached; the exit code otherwise.
    """
    if gpus > 1:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={gpus}",
                   "-m", "studio.train", str(run_dir)]
    else:
        command = [sys.executable, "-m", "studio.train", str(run_dir)]
    if resume:
        command.append("--resume")
        (run_dir / "STOP").unlink(missing_ok=True)
    log = open(run_dir / "train.log", "ab")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if detach:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, env=env)
        atomic_write_text(run_dir / "pid", str(process.pid))
        return process
    try:
        return subprocess.call(command, stdout=None, stderr=None, env=env)
    finally:
        log.close()


def stop(run_dir: Path) -> bool:
    """Ask a run to stop: it saves a checkpoint first. Returns False when it is not running."""
    state = RunState.from_events(read_events(run_dir / "events.jsonl"))
    atomic_write_text(run_dir / "STOP", "stop requested\n")
    if state.pid and state.alive():
        try:
            os.kill(int(state.pid), signal.SIGTERM)
        except ProcessLookupError:
            return False
        return True
    return False


def run_state(run_dir: Path) -> RunState:
    state = RunState.from_events(read_events(run_dir / "events.jsonl"))
    if state.status in ("starting", "running") and not state.alive():
        pid_file = run_dir / "pid"
        if state.pid is None and pid_file.exists():
            try:
                os.kill(int(pid_file.read_text().strip()), 0)
                return state
            except (ProcessLookupError, ValueError, PermissionError):
                pass
        state.status = "crashed" if state.step or state.pid else state.status
    return state
