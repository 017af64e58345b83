"""Provides the LoRA recipe: setup / train / save_checkpoint / finish, one readable loop.

    python -m studio.train RUN_DIR                           # what `persona-studio train` starts
    torchrun --nproc-per-node 2 -m studio.train RUN_DIR      # DDP (or FSDP), rank 0 logs

The run folder (:class:`studio.train.rundir.RunDir`) holds the config written by the runner, the
frozen training data, the events, the checkpoints and, at the end, the adapter.
"""

from __future__ import annotations

import math
import signal
import threading
import traceback
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from studio.api import ModelSpec, Sample
from studio.errors import StudioError
from studio.train import checkpoint as ckpt
from studio.train import telemetry
from studio.train.data import Encoded, encode_samples, with_identity_share
from studio.train.distributed import Dist, decoder_layers, full_trainable_state, wrap
from studio.train.events import (
    FailedEvent,
    FinishedEvent,
    RankFailedEvent,
    StepEvent,
    StoppedEvent,
)
from studio.train.loss import SupervisedLoss, supervised_loss
from studio.train.meter import StepMeter, non_finite_message
from studio.train.packing import collate, plan_epoch, shard_step
from studio.train.runconfig import RunConfig
from studio.train.rundir import RunDir

__all__ = ["LoraRecipe", "RunConfig", "StopRequested", "run", "supervised_loss"]


class StopRequested(Exception):
    """Raised inside the loop after a stop request; the recipe saves a checkpoint and exits."""


class LoraRecipe:
    """Fine-tune one base model with LoRA on one run folder's samples.

    Args:
        run_dir: a folder prepared by :func:`studio.train.runner.prepare_run`.
        adapters: model adapters by name (the installed plugins' when None).
        stop_after: behave as if a stop request came right after this step (0: never).
    """

    def __init__(
        self, run_dir: str | Path, adapters: dict[str, Any] | None = None, stop_after: int = 0
    ) -> None:
        self.run = RunDir(Path(run_dir))
        self.run_dir = self.run.path
        self.cfg = self.run.run_config()
        self.dist = Dist.from_env()
        self.sink = self.run.sink(enabled=self.dist.main)
        self._adapters = adapters
        self._stop_after = stop_after
        self._stop = False
        self.step = 0
        self.epoch = 0
        self.batch_index = 0  # position in the epoch's plan: steps done in this epoch
        self.tokens_seen = 0
        self._plan_cache: tuple[int, list[list[int]]] | None = None

    # -- setup ----------------------------------------------------------------------------

    def setup(self, resume: bool = False) -> None:
        """Load the model, attach LoRA, encode the data, build the optimizer; resume if asked."""
        import torch

        from studio.train import attention, lora
        from studio.train.base_model import (
            end_of_turn_ids,
            pick_adapter,
            quiet_transformers,
            resolve_device,
            resolve_dtype,
        )

        quiet_transformers()
        cfg = self.cfg
        self.device = resolve_device()
        self.dist.init(self.device.type == "cuda")
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        self.dtype = resolve_dtype(cfg.dtype, self.device)

        # model: the adapter fetches and loads it; packed attention and LoRA go on it
        adapters = self._adapters
        if adapters is None:
            from studio.plugins import default_host

            adapters = default_host().adapters
        self.adapter = pick_adapter(ModelSpec(**cfg.model), adapters)
        # FSDP: load on the CPU and let sharding move each GPU its part (the model may not fit one)
        sharded = cfg.parallel == "fsdp" and self.dist.world > 1 and self.device.type == "cuda"
        load_on = torch.device("cpu") if sharded else self.device
        built = lora.build(
            cfg,
            self.adapter,
            load_on,
            self.dtype,
            kernel_device=self.device,
            progress=self._download_progress(),
        )
        self.tokenizer, self.model, self.kernel, self.autocast = (
            built.tokenizer,
            built.model,
            built.kernel,
            built.autocast,
        )
        self.eot_ids = end_of_turn_ids(self.adapter, self.tokenizer)

        # data: encode once with the model's template and the run's persona; never cut silently
        samples = self.run.samples()
        train, self.identity_repeats = with_identity_share(
            [s for s in samples if s.split == "train"], cfg.identity_share
        )
        self.train_items, report = self._encode(train)
        self.eval_items, eval_report = self._encode([s for s in samples if s.split == "eval"])
        if not self.train_items:
            raise StudioError("no training sample fits max_length; raise it or build the dataset")
        self.lengths = [len(item) for item in self.train_items]
        self.row_tokens = cfg.row_tokens or max(
            cfg.max_length, math.ceil(cfg.tokens_per_batch / self.dist.world)
        )
        self.total_steps = self._count_steps()
        if cfg.max_steps:
            self.total_steps = min(self.total_steps, cfg.max_steps)

        # several processes, compiled layers, then the optimizer (FSDP replaces the parameters)
        attention.hide_rows_from_compiler(cfg.compile)
        if cfg.compile:
            lora.compile_layers(decoder_layers(self.model))
        self.loss_module = wrap(SupervisedLoss(self.model), self.dist, cfg.parallel, self.device)
        self.optimizer, self.scheduler = lora.optimizer_and_schedule(
            self.model, cfg, self.total_steps, self.device
        )
        self.resumed_from = ckpt.restore(self) if resume else None

        telemetry.log_setup(self, resume, built, report.merge(eval_report))

    def _download_progress(self) -> Any:
        """A download callback that writes a ``download`` event every 2 seconds (rank 0)."""
        return telemetry.download_progress(self.sink)

    def _encode(self, samples: list[Sample]) -> tuple[list[Encoded], Any]:
        cfg = self.cfg
        return encode_samples(
            self.tokenizer,
            samples,
            self.eot_ids,
            cfg.max_length,
            system=cfg.persona or None,
            overlong=cfg.overlong,
            eos_id=self.tokenizer.eos_token_id,
        )

    def _plan(self, epoch: int) -> list[list[int]]:
        if self._plan_cache is None or self._plan_cache[0] != epoch:
            self._plan_cache = (
                epoch,
                plan_epoch(self.lengths, self.cfg.tokens_per_batch, self.cfg.seed, epoch),
            )
        return self._plan_cache[1]

    def _count_steps(self) -> int:
        """Steps of all epochs (a fractional last epoch runs that share of its steps)."""
        whole, part = int(self.cfg.epochs), self.cfg.epochs - int(self.cfg.epochs)
        total = sum(len(self._plan(e)) for e in range(whole))
        if part > 1e-9:
            total += max(1, math.ceil(part * len(self._plan(whole))))
        return max(1, total)

    # -- checkpoints ----------------------------------------------------------------------

    @property
    def checkpoints_dir(self) -> Path:
        return self.run.checkpoints_dir

    @property
    def loss_inner(self) -> Any:
        """The loss module without its DDP wrapper (FSDP shards in place and has none)."""
        return getattr(self.loss_module, "module", self.loss_module)

    def save_checkpoint(self) -> Path:
        """Write ``checkpoints/step-N`` (see :mod:`studio.train.checkpoint`)."""
        return ckpt.save(self)

    def trainable_state(self) -> dict[str, Any]:
        """LoRA weights under the peft model's names, full and on the CPU (gathered under FSDP)."""
        state = full_trainable_state(self.loss_inner, self.dist, self.cfg.parallel)
        return {name.removeprefix("inner."): value for name, value in state.items()}

    # -- evaluation -----------------------------------------------------------------------

    def evaluate(self) -> float | None:
        """Mean loss per supervised token on the eval split (every rank takes its share)."""
        return telemetry.eval_loss(self)

    def _log_eval(self) -> None:
        telemetry.log_eval(self)

    # -- the loop -------------------------------------------------------------------------

    def _batch(self, items: list[Encoded]) -> dict[str, Any]:
        fixed = self.cfg.compile or self.kernel == "flex"  # compiled kernels want one row shape
        batch = collate(items, pad_to=self.row_tokens if fixed else 0)
        if fixed:
            batch["max_seqlen"] = max(self.cfg.max_length, batch["max_seqlen"])
        return {
            k: v.to(self.device, non_blocking=True) if hasattr(v, "to") else v
            for k, v in batch.items()
        }

    def _autocast(self) -> Any:
        import torch

        return (
            torch.autocast(self.device.type, dtype=self.dtype) if self.autocast else nullcontext()
        )

    def _request_stop(self, *_: Any) -> None:
        self._stop = True

    def _sync_context(self, last: bool) -> Any:
        """Gradient sync only on a rank's last row of a step (accumulate locally before)."""
        module = self.loss_module
        if hasattr(module, "set_requires_gradient_sync"):  # FSDP
            module.set_requires_gradient_sync(last)
            return nullcontext()
        return nullcontext() if last or not hasattr(module, "no_sync") else module.no_sync()

    def train(self) -> None:
        """Steps of packed rows until ``total_steps``;
        log every step, evaluate and checkpoint on schedule."""
        import torch

        cfg = self.cfg
        meter = StepMeter(self.device, self.step)
        while self.step < self.total_steps:
            plan = self._plan(self.epoch)
            if self.batch_index >= len(plan):
                self.epoch, self.batch_index = self.epoch + 1, 0
                continue
            stop = (
                self._stop
                or self.run.stop_requested()
                or (self._stop_after and self.step >= self._stop_after)
            )
            if self.dist.any(bool(stop), self.device):  # every rank stops at the same step
                raise StopRequested

            # this step's samples, shared between ranks, each share cut into rows
            step_items = plan[self.batch_index]
            shares = shard_step(step_items, self.lengths, self.dist.world, self.row_tokens)
            n_rows = max(len(share) for share in shares)  # every rank runs as many rows
            mine = shares[self.dist.rank]
            n_global = sum(self.train_items[i].supervised for i in step_items)
            local = torch.zeros(2, dtype=torch.float64)  # [loss sum, real tokens] of this rank
            for r in range(n_rows):
                row, weight = (mine[r], 1.0) if r < len(mine) else ([step_items[0]], 0.0)
                batch = self._batch([self.train_items[i] for i in row])
                with self._sync_context(last=r == n_rows - 1), self._autocast():
                    loss_sum, _ = self.loss_module(batch)  # sum of token losses of this row
                # mean over the step's supervised tokens; DDP/FSDP average gradients over ranks
                (loss_sum * (weight * self.dist.world / n_global)).backward()
                real = sum(
                    self.lengths[i] for i in row
                )  # tokens of samples, not of compile padding
                local += torch.tensor(
                    [float(loss_sum.detach()) * weight, real * weight], dtype=torch.float64
                )
            grad_norm = float(
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm)
            )
            loss_total, tokens = self.dist.sum(local.tolist(), self.device)
            loss = loss_total / n_global
            if not (
                math.isfinite(loss) and math.isfinite(grad_norm)
            ):  # never apply a poisoned update
                raise FloatingPointError(
                    non_finite_message(self.model, self.step + 1, loss, grad_norm)
                )
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.step += 1
            self.batch_index += 1
            self.tokens_seen += int(tokens)
            meter.add(int(tokens), n_global)

            if self.step % cfg.log_every == 0 or self.step == self.total_steps:
                self.sink.log(
                    StepEvent(
                        **meter.payload(
                            self.step,
                            self.total_steps,
                            epoch=round(self.epoch + self.batch_index / len(plan), 3),
                            loss=round(loss, 5),
                            lr=self.scheduler.get_last_lr()[0],
                            grad_norm=round(grad_norm, 4),
                            tokens=int(tokens),
                            supervised=n_global,
                            supervised_share=round(n_global / max(1, tokens), 4),
                        ),
                    )
                )
            if cfg.eval_every and self.step % cfg.eval_every == 0 and self.step < self.total_steps:
                self._log_eval()
            if cfg.save_every and self.step % cfg.save_every == 0 and self.step < self.total_steps:
                self.save_checkpoint()

    def finish(self) -> Path:
        """Evaluate, checkpoint, write ``adapter/`` (peft format + persona + template),
        log ``finished``."""
        self._log_eval()
        last = self.save_checkpoint()
        out = self.run.adapter_dir
        if self.dist.main:
            persona = {
                "character": self.cfg.character,
                "persona": self.cfg.persona,
                "base_model": self.cfg.model,
                "chat_template": self.tokenizer.chat_template,
                "end_of_turn_ids": self.eot_ids,
            }
            ckpt.export_adapter(last, out, self.tokenizer, persona)
            self.sink.log(
                FinishedEvent(
                    step=self.step,
                    adapter=str(out.relative_to(self.run_dir)),
                    tokens_seen=self.tokens_seen,
                )
            )
        return out

    def cleanup(self) -> None:
        self.dist.close()


def run(
    run_dir: str | Path,
    resume: bool = False,
    adapters: dict[str, Any] | None = None,
    stop_after: int = 0,
) -> int:
    """The run process body: setup, train, finish; every failure lands in the run's events.

    Returns:
        0 when finished or stopped (resumable), 1 when it failed.
    """
    recipe = LoraRecipe(run_dir, adapters, stop_after=stop_after)
    # a stop request (SIGTERM from `persona-studio stop`, Ctrl-C) ends the current step, then saves
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {
            sig: signal.signal(sig, recipe._request_stop) for sig in (signal.SIGTERM, signal.SIGINT)
        }
    try:
        recipe.setup(resume=resume)
        recipe.train()
        recipe.finish()
        return 0
    except StopRequested:
        recipe.save_checkpoint()
        recipe.sink.log(
            StoppedEvent(step=recipe.step, reason="stop requested; continue with --resume")
        )
        return 0
    except (
        Exception
    ) as exc:  # rank 0 ends the run; another rank's failure is reported with its rank
        error = dict(
            step=recipe.step, error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()
        )
        if recipe.dist.main:
            recipe.sink.log(FailedEvent(**error))
        else:
            recipe.sink.log(RankFailedEvent(rank=recipe.dist.rank, **error), force=True)
        return 1
    finally:
        recipe.cleanup()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
