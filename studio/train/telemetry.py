"""Provides the recipe's telemetry and evaluation: the setup events (config, data, resumed),
the download progress events and the eval-split loss logged on schedule.

Each function takes the :class:`studio.train.recipe.LoraRecipe` it reports on.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

from studio.train.events import ConfigEvent, DataEvent, DownloadEvent, EvalEvent, ResumedEvent
from studio.train.packing import plan_epoch


def log_setup(recipe: Any, resume: bool, built: Any, report: Any) -> None:
    """Log the ``config`` and ``data`` events of a set-up recipe, and ``resumed`` if it resumed.

    ``report`` is the encoding report of both splits.
    """
    cfg = recipe.cfg
    n_tokens = sum(recipe.lengths)
    n_supervised = sum(item.supervised for item in recipe.train_items)
    recipe.sink.log(
        ConfigEvent(
            pid=os.getpid(),
            resume=resume,
            world_size=recipe.dist.world,
            total_steps=recipe.total_steps,
            config=cfg.__dict__,
            device=str(recipe.device),
            dtype=str(recipe.dtype).replace("torch.", ""),
            attention=recipe.kernel,
            lora_targets=built.targets,
            trainable_params=sum(p.numel() for p in recipe.model.parameters() if p.requires_grad),
            end_of_turn=[recipe.tokenizer.convert_ids_to_tokens(i) for i in recipe.eot_ids],
        )
    )
    recipe.sink.log(
        DataEvent(
            **report.summary(),
            train_samples=len(recipe.train_items),
            eval_samples=len(recipe.eval_items),
            identity_repeats=recipe.identity_repeats,
            overlong=cfg.overlong,
            max_length=cfg.max_length,
            train_tokens=n_tokens,
            supervised_tokens=n_supervised,
            supervised_share=round(n_supervised / n_tokens, 4),
            longest=max(recipe.lengths),
            steps_per_epoch=len(recipe._plan(0)),
            total_steps=recipe.total_steps,
            row_tokens=recipe.row_tokens,
            tokens_per_batch=cfg.tokens_per_batch,
        )
    )
    if recipe.resumed_from is not None:
        recipe.sink.log(
            ResumedEvent(
                step=recipe.step,
                epoch=recipe.epoch,
                batch_index=recipe.batch_index,
                path=str(recipe.resumed_from.relative_to(recipe.run_dir)),
            )
        )


def download_progress(sink: Any) -> Any:
    """A download callback that writes a ``download`` event every 2 seconds (rank 0)."""
    last = [0.0]

    def report(done: int, total: int, name: str) -> None:
        now = time.monotonic()
        if now - last[0] >= 2.0 or (total and done >= total):
            last[0] = now
            sink.log(DownloadEvent(done_bytes=done, total_bytes=total, file=name))

    return report


def eval_loss(recipe: Any) -> float | None:
    """Mean loss per supervised token on the eval split (every rank takes its share)."""
    import torch

    if not recipe.eval_items:
        return None
    rows = plan_epoch([len(item) for item in recipe.eval_items], recipe.row_tokens, seed=0, epoch=0)
    mine = rows[recipe.dist.rank :: recipe.dist.world]
    total, count = 0.0, 0
    recipe.model.eval()
    with torch.no_grad(), recipe._autocast():
        for index in range(math.ceil(len(rows) / recipe.dist.world)):  # as many on every rank
            row, weight = (mine[index], 1) if index < len(mine) else (rows[0], 0)
            loss_sum, n = recipe.loss_module(recipe._batch([recipe.eval_items[i] for i in row]))
            total += float(loss_sum) * weight
            count += n * weight
    recipe.model.train()
    total, count = recipe.dist.sum([total, count], recipe.device)
    return total / max(1.0, count)


def log_eval(recipe: Any) -> None:
    """Log an ``eval`` event of the eval split's loss and perplexity (none without eval items)."""
    value = recipe.evaluate()
    if value is not None:
        recipe.sink.log(
            EvalEvent(
                step=recipe.step,
                eval_loss=round(value, 5),
                eval_ppl=round(math.exp(min(value, 50)), 3),
            )
        )
