"""Provides resumable checkpoints: ``checkpoints/step-N/`` written atomically, read back exactly.

A checkpoint holds:

- ``adapter/``: the LoRA adapter in peft format (chat and eval load it as it is);
- ``trainable.safetensors``: the same weights under the training model's own names;
- ``state.pt``: optimizer, scheduler, step, epoch, position in the epoch, tokens seen;
- ``rng-rank<R>.pt``: each process's random state (dropout draws continue where they stopped);
- a completion marker (:meth:`studio.train.rundir.RunDir.mark_complete`), written last; a folder
  without it (a crash mid-save) is ignored and replaced.

The folder is built as ``.tmp-step-N`` and renamed into place, so a reader never sees half a
checkpoint.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from studio.fsutil import fsync_dir
from studio.train.events import CheckpointEvent, WarningEvent
from studio.train.rundir import RunDir


def complete_checkpoints(root: Path) -> list[Path]:
    """Complete checkpoint folders, oldest first."""
    return RunDir.complete_in(root)


def latest(root: Path) -> Path | None:
    done = complete_checkpoints(root)
    return done[-1] if done else None


def rng_state() -> dict[str, Any]:
    """This process's random state (CPU and, when present, every CUDA device)."""
    import random

    import torch

    return {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }


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


def write(
    tmp: Path, final: Path, *, peft_model: Any, trainable: dict[str, Any], state: dict[str, Any]
) -> Path:
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

    peft_model.save_pretrained(str(tmp / RunDir.ADAPTER), state_dict=trainable)
    save_file({k: v.contiguous() for k, v in trainable.items()}, str(tmp / "trainable.safetensors"))
    torch.save(state, tmp / "state.pt")
    RunDir.mark_complete(tmp, state["step"])
    fsync_dir(tmp)
    if final.exists():  # an incomplete leftover of the same step
        shutil.rmtree(final)
    os.replace(tmp, final)
    fsync_dir(final.parent)
    return final


def read(folder: Path, rank: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
    """The trainable weights, the state and this rank's random state (None when it has none).

    ``state.pt`` and the random states are read with ``weights_only=True``: tensors, numbers,
    strings and containers only, so a planted checkpoint cannot run code when a run resumes.
    """
    import torch
    from safetensors.torch import load_file

    weights = load_file(str(folder / "trainable.safetensors"))
    state = torch.load(folder / "state.pt", map_location="cpu", weights_only=True)
    rng_file = folder / f"rng-rank{rank}.pt"
    rng = torch.load(rng_file, map_location="cpu", weights_only=True) if rng_file.exists() else None
    return weights, state, rng


def prune(root: Path, keep: int) -> None:
    """Remove all but the newest ``keep`` complete checkpoints
    (0 keeps all) and stale temp folders."""
    for stale in root.glob(".tmp-step-*"):
        shutil.rmtree(stale, ignore_errors=True)
    if keep <= 0:
        return
    for old in complete_checkpoints(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def export_adapter(checkpoint: Path, out: Path, tokenizer: Any, persona: dict[str, Any]) -> None:
    """Write the run's ``adapter/``: a checkpoint's peft adapter, tokenizer and ``persona.json``.

    ``persona.json`` holds the persona card, the base model and the chat template, so chat uses
    the same system prompt and template the adapter was trained with.
    """
    from studio.fsutil import atomic_write_json

    tmp = out.with_name(".tmp-" + out.name)
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(checkpoint / RunDir.ADAPTER, tmp)
    tokenizer.save_pretrained(str(tmp))
    atomic_write_json(tmp / "persona.json", persona)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)


def save(recipe: Any) -> Path:
    """Write ``checkpoints/step-N`` for a recipe (every rank takes part;
    rank 0 writes shared files)."""
    from studio.train.distributed import optimizer_state

    root, dist = recipe.checkpoints_dir, recipe.dist
    final = recipe.run.checkpoint_dir(recipe.step)
    if RunDir.is_complete(final):
        return final
    tmp = final.with_name(".tmp-" + final.name)
    if dist.main:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    dist.barrier()
    write_rng(tmp, dist.rank)
    trainable = recipe.trainable_state()
    optim = optimizer_state(recipe.loss_inner, recipe.optimizer, dist, recipe.cfg.parallel)
    dist.barrier()
    if dist.main:
        state = {
            "optimizer": optim,
            "scheduler": recipe.scheduler.state_dict(),
            "step": recipe.step,
            "epoch": recipe.epoch,
            "batch_index": recipe.batch_index,
            "tokens_seen": recipe.tokens_seen,
            "world_size": dist.world,
        }
        write(tmp, final, peft_model=recipe.model, trainable=trainable, state=state)
        prune(root, recipe.cfg.keep_checkpoints)
        recipe.sink.log(
            CheckpointEvent(step=recipe.step, path=str(final.relative_to(recipe.run_dir)))
        )
    dist.barrier()
    return final


def restore(recipe: Any) -> Path | None:
    """Load the latest complete checkpoint into a recipe:
    weights, optimizer, schedule, position, RNG."""
    from studio.train.distributed import load_optimizer_state, load_trainable_state

    folder = latest(recipe.checkpoints_dir)
    if folder is None:
        return None
    weights, state, rng = read(folder, recipe.dist.rank)
    if rng is None:
        recipe.sink.log(
            WarningEvent(
                message=f"the checkpoint was written by {state.get('world_size')} "
                "processes; dropout draws restart from a fresh random state",
            )
        )
    inner, parallel = recipe.loss_inner, recipe.cfg.parallel
    load_trainable_state(
        inner, {f"inner.{k}": v for k, v in weights.items()}, recipe.dist, parallel
    )
    load_optimizer_state(inner, recipe.optimizer, state["optimizer"], recipe.dist, parallel)
    recipe.scheduler.load_state_dict(state["scheduler"])
    recipe.step, recipe.epoch, recipe.batch_index = (
        state["step"],
        state["epoch"],
        state["batch_index"],
    )
    recipe.tokens_seen = state.get("tokens_seen", 0)
    if rng is not None:
        set_rng_state(rng)
    return folder
