"""Provides resumable checkpoints: ``checkpoints/step-N/`` written atomically, read back exactly.

A checkpoint holds:

- ``adapter/``: the LoRA adapter in peft format (chat and eval load it as it is);
- ``trainable.safetensors``: the same weights under the training model's own names;
- ``state.pt``: optimizer, scheduler, step, epoch, position in the epoch, tokens seen;
- ``rng-rank<R>.pt``: each process's random state (dropout draws continue where they stopped);
- ``COMPLETE``: written last; a folder without it (a crash mid-save) is ignored and replaced.

The folder is built as ``.tmp-step-N`` and renamed into place, so a reader never sees half a checkpoint.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from studio.fsutil import atomic_write_text, fsync_dir


def step_dir(root: Path, step: int) -> Path:
    return root / f"step-{step:06d}"


def complete_checkpoints(root: Path) -> list[Path]:
    """Complete checkpoint folders, oldest first."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("step-*") if (p / "COMPLETE").exists())


def latest(root: Path) -> Path | None:
    done = complete_checkpoints(root)
    return done[-1] if done else None


def rng_state() -> dict[str, Any]:
    """This process's random state (CPU and, when present, every CUDA device)."""
    import random

    import torch

    return {"torch": torch.get_rng_state(), "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def set_rng_state(state: dict[str, Any]) -> None:
    import random

    import torch

    torch.set_rng_state(state["torch"])
    if state.get("python") is not None:
        random.setstate(state["python"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def write_rng(tmp: Path, rank: int) -> None:
    """Each rank writes its own random state into the checkpoint being built."""
    import torch

    torch.save(rng_state(), tmp / f"rng-rank{rank}.pt")


def write(tmp: Path, final: Path, *, peft_model: Any, trainable: dict[str, Any], state: dict[str, Any]) -> Path:
    """Finish a checkpoint built in ``tmp`` (rank 0 only) and rename it to ``final``.

    Args:
        tmp: the folder being built (rng files of every rank already in it).
        final: ``checkpoints/step-N``.
        peft_model: writes ``adapter/`` from ``trainable`` in peft format.
        trainable: the LoRA weights, full, on the CPU, under the peft model's parameter names.
        state: optimizer, scheduler and position; saved with ``torch.save``.
    """
    import torch
    from safetensors.torch import save_file

    peft_model.save_pretrained(str(tmp / "adapter"), state_dict=trainable)
    save_file({k: v.contiguous() for k, v in trainable.items()}, str(tmp / "trainable.safetensors"))
    torch.save(state, tmp / "state.pt")
    atomic_write_text(tmp / "COMPLETE", json.dumps({"step": state["step"]}) + "\n")
    fsync_dir(tmp)
    if final.exists():  # an incomplete leftover of the same step
        shutil.rmtree(final)
    os.replace(tmp, final)
    fsync_dir(final.parent)
    return final


def read(folder: Path, rank: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
    """The trainable weights, the state and this rank's random state (None when it has none)."""
    import torch
    from safetensors.torch import load_file

    weights = load_file(str(folder / "trainable.safetensors"))
    state = torch.load(folder / "state.pt", map_location="cpu", weights_only=False)
    rng_file = folder / f"rng-rank{rank}.pt"
    rng = torch.load(rng_file, map_location="cpu", weights_only=False) if rng_file.exists() else None
    return weights, state, rng


def prune(root: Path, keep: int) -> None:
    """Remove all but the newest ``keep`` complete checkpoints (0 keeps all) and stale temp folders."""
    for stale in root.glob(".tmp-step-*"):
        shutil.rmtree(stale, ignore_errors=True)
    if keep <= 0:
        return
    for old in complete_checkpoints(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
