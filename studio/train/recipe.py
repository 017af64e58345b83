"""Provides the LoRA recipe: setup / train / save_checkpoint / finish, one readable loop.

    python -m studio.train RUN_DIR                           # what `persona-studio train` starts
    torchrun --nproc-per-node 2 -m studio.train RUN_DIR      # DDP (or FSDP), rank 0 logs

The run folder holds ``config.json`` (written by the runner), ``samples.jsonl`` (the frozen
training data), ``events.jsonl``, ``checkpoints/step-N/`` and, at the end, ``adapter/``.
"""

from __future__ import annotations

import math
import random
import os
import shutil
import signal
import threading
import time
import traceback
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from studio.api import ModelSpec, Sample
from studio.errors import StudioError
from studio.fsutil import atomic_write_json, read_jsonl
from studio.train import checkpoint as ckpt
from studio.train.data import Encoded, encode_samples
from studio.train.distributed import Dist, full_trainable_state, load_optimizer_state, load_trainable_state
from studio.train.distributed import optimizer_state, wrap
from studio.train.events import JsonlSink
from studio.train.gpu import GpuSampler
from studio.train.loss import SupervisedLoss, supervised_loss
from studio.train.packing import collate, plan_epoch, shard_step
from studio.train.runconfig import RunConfig

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

    def __init__(self, run_dir: str | Path, adapters: dict[str, Any] | None = None, stop_after: int = 0) -> None:
        self.run_dir = Path(run_dir)
        self.cfg = RunConfig.load(self.run_dir / "config.json")
        self.dist = Dist.from_env()
        self.sink = JsonlSink(self.run_dir / "events.jsonl", enabled=self.dist.main)
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
        from peft import LoraConfig, get_peft_model

        from studio.models import end_of_turn_ids, load_for_training, pick_adapter, quiet_transformers
        from studio.models import resolve_device, resolve_dtype
        from studio.train import attention

        quiet_transformers()
        cfg = self.cfg
        self.device = resolve_device()
        self.dist.init(self.device.type == "cuda")
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        self.dtype = resolve_dtype(cfg.dtype, self.device)

        # model: the adapter fetches and loads it; packed attention replaces the model's own
        adapters = self._adapters
        if adapters is None:
            from studio.plugins import default_host

            adapters = default_host().adapters
        spec = ModelSpec(**cfg.model)
        self.adapter = pick_adapter(spec, adapters)
        self.tokenizer, model = load_for_training(self.adapter, spec, dtype=self.dtype, device=self.device,
                                                  quantization=cfg.quantization)
        model.config.use_cache = False
        self.kernel = attention.register(cfg.attention, self.device.type)
        attention.use_packed_attention(model)
        if cfg.gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            model.enable_input_require_grads()

        # lora: fp32 weights (exact optimizer updates); bf16 compute under autocast
        targets = cfg.lora_targets or list(self.adapter.lora_targets)
        present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
        targets = [t for t in targets if t in present]
        if not targets:
            raise StudioError(f"none of the LoRA target modules {cfg.lora_targets or list(self.adapter.lora_targets)} "
                              "exist in this model; set [train] lora_targets")
        lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                          target_modules=targets, task_type="CAUSAL_LM")
        # seeded here, after loading: whatever loading drew from the generator, the run is the same
        torch.manual_seed(cfg.seed)
        random.seed(cfg.seed)
        self.model = get_peft_model(model, lora)
        self.autocast = self.dtype != torch.float32
        if self.autocast:
            for module in self.model.modules():
                if hasattr(module, "lora_A"):
                    module.cast_input_dtype_enabled = False  # autocast does the cast, once, in bf16
        self.model.train()
        self.eot_ids = end_of_turn_ids(self.adapter, self.tokenizer)
        self.targets = targets

        # data: encode once, report what does not fit, never cut silently
        samples = [Sample.from_json(d) for d in read_jsonl(self.run_dir / "samples.jsonl")]
        encode = dict(system=cfg.persona or None, overlong=cfg.overlong, eos_id=self.tokenizer.eos_token_id)
        self.train_items, train_report = encode_samples(
            self.tokenizer, [s for s in samples if s.split == "train"], self.eot_ids, cfg.max_length, **encode)
        self.eval_items, eval_report = encode_samples(
            self.tokenizer, [s for s in samples if s.split == "eval"], self.eot_ids, cfg.max_length, **encode)
        if not self.train_items:
            raise StudioError("no training sample fits max_length; raise [train] max_length or build the dataset")
        self.lengths = [len(item) for item in self.train_items]
        self.row_tokens = cfg.row_tokens or max(cfg.max_length, math.ceil(cfg.tokens_per_batch / self.dist.world))
        self.total_steps = self._count_steps()
        if cfg.max_steps:
            self.total_steps = min(self.total_steps, cfg.max_steps)

        # optim: AdamW on the LoRA weights, warm-up then cosine to a tenth of the peak
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay,
                                           fused=self.device.type == "cuda")
        warmup = max(1, min(cfg.warmup_steps, self.total_steps // 10))
        total = self.total_steps

        def schedule(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = min(1.0, (step - warmup) / max(1, total - warmup))
            return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, schedule)
        attention.hide_rows_from_compiler(cfg.compile)
        if cfg.compile:  # fixed row shapes (rows padded to row_tokens): each layer compiles once
            import torch._dynamo

            torch._dynamo.config.suppress_errors = True  # a layer that cannot compile runs eagerly
            for layer in self._layers():
                layer.compile(dynamic=False)
        self.loss_module = wrap(SupervisedLoss(self.model), self.dist, cfg.parallel, self.device)
        self.resumed_from = self._load_latest_checkpoint() if resume else None

        n_tokens = sum(self.lengths)
        n_supervised = sum(item.supervised for item in self.train_items)
        self.sink.log(
            "config", pid=os.getpid(), resume=resume, world_size=self.dist.world, total_steps=self.total_steps,
            config=cfg.__dict__, device=str(self.device), dtype=str(self.dtype).replace("torch.", ""),
            attention=self.kernel, lora_targets=targets, trainable_params=sum(p.numel() for p in params),
            end_of_turn=[self.tokenizer.convert_ids_to_tokens(i) for i in self.eot_ids],
        )
        report = train_report.merge(eval_report)
        self.sink.log(
            "data", train_samples=len(self.train_items), eval_samples=len(self.eval_items),
            too_long=len(report.too_long), too_long_ids=report.too_long[:50], split=len(report.split),
            overlong=cfg.overlong, max_length=cfg.max_length, no_reply=len(report.no_reply),
            system_replaced=report.system_replaced, appended_eot=report.appended_eot,
            train_tokens=n_tokens, supervised_tokens=n_supervised, supervised_share=round(n_supervised / n_tokens, 4),
            longest=max(self.lengths), steps_per_epoch=len(self._plan(0)), total_steps=self.total_steps,
            row_tokens=self.row_tokens, tokens_per_batch=cfg.tokens_per_batch,
        )
        if self.resumed_from is not None:
            self.sink.log("resumed", step=self.step, epoch=self.epoch, batch_index=self.batch_index,
                          path=str(self.resumed_from.relative_to(self.run_dir)))

    def _plan(self, epoch: int) -> list[list[int]]:
        if self._plan_cache is None or self._plan_cache[0] != epoch:
            self._plan_cache = (epoch, plan_epoch(self.lengths, self.cfg.tokens_per_batch, self.cfg.seed, epoch))
        return self._plan_cache[1]

    def _count_steps(self) -> int:
        """Steps of all epochs (a fractional last epoch runs that share of its steps)."""
        whole, part = int(self.cfg.epochs), self.cfg.epochs - int(self.cfg.epochs)
        total = sum(len(self._plan(e)) for e in range(whole))
        if part > 1e-9:
            total += max(1, math.ceil(part * len(self._plan(whole))))
        return max(1, total)

    def _layers(self) -> list[Any]:
        from studio.train.distributed import _decoder_layers

        return _decoder_layers(self.model)

    # -- checkpoints ----------------------------------------------------------------------

    @property
    def checkpoints_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    def save_checkpoint(self) -> Path | None:
        """Write ``checkpoints/step-N`` (every rank takes part; rank 0 writes the shared files)."""
        final = ckpt.step_dir(self.checkpoints_dir, self.step)
        if (final / "COMPLETE").exists():
            return final
        tmp = self.checkpoints_dir / f".tmp-step-{self.step:06d}"
        if self.dist.main:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        self.dist.barrier()
        ckpt.write_rng(tmp, self.dist.rank)
        trainable = self._trainable_state()
        optim = optimizer_state(self.loss_module, self.optimizer, self.dist, self.cfg.parallel)
        self.dist.barrier()
        if self.dist.main:
            state = {"optimizer": optim, "scheduler": self.scheduler.state_dict(), "step": self.step,
                     "epoch": self.epoch, "batch_index": self.batch_index, "tokens_seen": self.tokens_seen,
                     "world_size": self.dist.world}
            ckpt.write(tmp, final, peft_model=self.model, trainable=trainable, state=state)
            ckpt.prune(self.checkpoints_dir, self.cfg.keep_checkpoints)
            self.sink.log("checkpoint", step=self.step, path=str(final.relative_to(self.run_dir)))
        self.dist.barrier()
        return final

    def _trainable_state(self) -> dict[str, Any]:
        """LoRA weights under the peft model's names, full and on the CPU."""
        state = full_trainable_state(self._loss_inner(), self.dist, self.cfg.parallel)
        return {name.removeprefix("inner."): value for name, value in state.items()}

    def _loss_inner(self) -> Any:
        return getattr(self.loss_module, "module", self.loss_module)

    def _load_latest_checkpoint(self) -> Path | None:
        latest = ckpt.latest(self.checkpoints_dir)
        if latest is None:
            return None
        weights, state, rng = ckpt.read(latest, self.dist.rank)
        if state.get("world_size", 1) != self.dist.world and rng is None:
            self.sink.log("warning", message=f"checkpoint from {state.get('world_size')} processes; "
                                             "dropout draws restart from a fresh random state")
        load_trainable_state(self._loss_inner(), {f"inner.{k}": v for k, v in weights.items()}, self.dist,
                             self.cfg.parallel)
        load_optimizer_state(self._loss_inner(), self.optimizer, state["optimizer"], self.dist, self.cfg.parallel)
        self.scheduler.load_state_dict(state["scheduler"])
        self.step, self.epoch, self.batch_index = state["step"], state["epoch"], state["batch_index"]
        self.tokens_seen = state.get("tokens_seen", 0)
        if rng is not None:
            ckpt.set_rng_state(rng)
        return latest

    # -- evaluation -----------------------------------------------------------------------

    def evaluate(self) -> float | None:
        """Mean loss per supervised token on the eval split (every rank takes its share)."""
        import torch

        if not self.eval_items:
            return None
        lengths = [len(item) for item in self.eval_items]
        rows = plan_epoch(lengths, self.row_tokens, seed=0, epoch=0)
        mine = rows[self.dist.rank :: self.dist.world]
        per_rank = math.ceil(len(rows) / self.dist.world)
        total, count = 0.0, 0
        self.model.eval()
        with torch.no_grad(), self._autocast():
            for index in range(per_rank):  # every rank runs as many forwards (sharded weights need it)
                row, weight = (mine[index], 1) if index < len(mine) else (rows[0], 0)
                loss_sum, n = self.loss_module(self._batch([self.eval_items[i] for i in row]))
                total += float(loss_sum) * weight
                count += n * weight
        self.model.train()
        total, count = self.dist.sum([total, count], self.device)
        return total / max(1.0, count)

    # -- the loop -------------------------------------------------------------------------

    def _batch(self, items: list[Encoded]) -> dict[str, Any]:
        fixed = self.cfg.compile or self.kernel == "flex"  # compiled kernels want one row shape
        batch = collate(items, pad_to=self.row_tokens if fixed else 0)
        if fixed:
            batch["max_seqlen"] = max(self.cfg.max_length, batch["max_seqlen"])
        return {k: v.to(self.device, non_blocking=True) if hasattr(v, "to") else v for k, v in batch.items()}

    def _autocast(self) -> Any:
        import torch

        if not self.autocast:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def _request_stop(self, *_: Any) -> None:
        self._stop = True

    def _sync_context(self, last: bool) -> Any:
        """Gradient sync only on a rank's last row of a step (accumulate locally before)."""
        module = self.loss_module
        if last or self.dist.world == 1:
            if hasattr(module, "set_requires_gradient_sync"):
                module.set_requires_gradient_sync(True)
            return nullcontext()
        if hasattr(module, "no_sync"):
            return module.no_sync()
        if hasattr(module, "set_requires_gradient_sync"):
            module.set_requires_gradient_sync(False)
        return nullcontext()

    def train(self) -> None:
        """Steps of packed rows until ``total_steps``; log every step, evaluate and checkpoint on schedule."""
        import torch

        cfg = self.cfg
        gpu = GpuSampler.for_device(self.device)
        stop_file = self.run_dir / "STOP"
        start_step, started = self.step, time.perf_counter()
        window = {"tokens": 0, "supervised": 0, "time": time.perf_counter()}
        while self.step < self.total_steps:
            plan = self._plan(self.epoch)
            if self.batch_index >= len(plan):
                self.epoch, self.batch_index = self.epoch + 1, 0
                continue
            stop = self._stop or stop_file.exists() or (self._stop_after and self.step >= self._stop_after)
            if self.dist.any(bool(stop), self.device):
                raise StopRequested

            # this step's samples, shared between ranks, each share cut into rows
            step_items = plan[self.batch_index]
            shares = shard_step(step_items, self.lengths, self.dist.world, self.row_tokens)
            n_rows = max(len(share) for share in shares)  # every rank runs as many rows
            mine = shares[self.dist.rank]
            n_global = sum(self.train_items[i].supervised for i in step_items)
            local = torch.zeros(2, dtype=torch.float64)  # [loss sum, tokens] of this rank
            for r in range(n_rows):
                row, weight = (mine[r], 1.0) if r < len(mine) else ([step_items[0]], 0.0)
                batch = self._batch([self.train_items[i] for i in row])
                with self._sync_context(last=r == n_rows - 1), self._autocast():
                    loss_sum, _ = self.loss_module(batch)  # sum of token losses of this row
                # mean over the step's supervised tokens; DDP/FSDP average gradients over ranks
                (loss_sum * (weight * self.dist.world / n_global)).backward()
                real = sum(self.lengths[i] for i in row)  # tokens of samples, not of compile padding
                local += torch.tensor([float(loss_sum.detach()) * weight, real * weight], dtype=torch.float64)
            grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm))
            loss_total, tokens = self.dist.sum(local.tolist(), self.device)
            loss = loss_total / n_global
            if not (math.isfinite(loss) and math.isfinite(grad_norm)):
                raise FloatingPointError(self._non_finite_message(loss, grad_norm))
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.step += 1
            self.batch_index += 1
            self.tokens_seen += int(tokens)
            window["tokens"] += int(tokens)
            window["supervised"] += n_global

            if self.step % cfg.log_every == 0 or self.step == self.total_steps:
                self._log_step(loss, grad_norm, int(tokens), n_global, window, gpu, start_step, started, len(plan))
            if cfg.eval_every and self.step % cfg.eval_every == 0 and self.step < self.total_steps:
                self._log_eval()
            if cfg.save_every and self.step % cfg.save_every == 0 and self.step < self.total_steps:
                self.save_checkpoint()

    def _log_step(self, loss: float, grad_norm: float, tokens: int, supervised: int, window: dict[str, Any],
                  gpu: GpuSampler, start_step: int, started: float, steps_in_epoch: int) -> None:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize()
        now = time.perf_counter()
        seconds = max(1e-9, now - window["time"])
        done = max(1, self.step - start_step)
        payload: dict[str, Any] = {
            "step": self.step, "total_steps": self.total_steps,
            "epoch": round(self.epoch + self.batch_index / max(1, steps_in_epoch), 3),
            "loss": round(loss, 5), "lr": self.scheduler.get_last_lr()[0], "grad_norm": round(grad_norm, 4),
            "tokens": tokens, "supervised": supervised, "supervised_share": round(supervised / max(1, tokens), 4),
            "tokens_per_s": round(window["tokens"] / seconds, 1),
            "supervised_per_s": round(window["supervised"] / seconds, 1),
            "eta_s": round((now - started) / done * (self.total_steps - self.step), 1),
        }
        if self.device.type == "cuda":
            payload["gpu"] = {**gpu.sample(), "peak_alloc_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2)}
        self.sink.log("step", **payload)
        window.update(tokens=0, supervised=0, time=now)

    def _non_finite_message(self, loss: float, grad_norm: float) -> str:
        """Name the first LoRA weight whose gradient is not finite: where to look first."""
        import torch

        first = next((name for name, p in self.model.named_parameters()
                      if p.grad is not None and not torch.isfinite(p.grad).all()), None)
        what = "loss" if not math.isfinite(loss) else "gradient norm"
        return (f"non-finite {what} at step {self.step + 1} (loss {loss}, grad norm {grad_norm}"
                + (f", first non-finite gradient in {first}" if first else "") + "); the adapter was not updated. "
                "Resume from the last checkpoint with a lower [train] lr, or dtype = \"fp32\" to find the cause.")

    def _log_eval(self) -> None:
        value = self.evaluate()
        if value is not None:
            self.sink.log("eval", step=self.step, eval_loss=round(value, 5), eval_ppl=round(math.exp(min(value, 50)), 3))

    def finish(self) -> Path:
        """Evaluate, checkpoint, write ``adapter/`` (peft format + persona + template), log ``finished``."""
        self._log_eval()
        last = self.save_checkpoint()
        out = self.run_dir / "adapter"
        if self.dist.main:
            tmp = self.run_dir / ".tmp-adapter"
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(last / "adapter", tmp)
            self.tokenizer.save_pretrained(str(tmp))
            atomic_write_json(tmp / "persona.json", {
                "character": self.cfg.character, "persona": self.cfg.persona, "base_model": self.cfg.model,
                "chat_template": self.tokenizer.chat_template, "end_of_turn_ids": self.eot_ids,
            })
            shutil.rmtree(out, ignore_errors=True)
            os.replace(tmp, out)
            self.sink.log("finished", step=self.step, adapter=str(out.relative_to(self.run_dir)),
                          tokens_seen=self.tokens_seen)
        return out

    def cleanup(self) -> None:
        self.dist.close()


def run(run_dir: str | Path, resume: bool = False, adapters: dict[str, Any] | None = None, stop_after: int = 0) -> int:
    """The run process body: setup, train, finish; every failure lands in events.jsonl.

    Returns:
        0 when finished or stopped (resumable), 1 when it failed.
    """
    recipe = LoraRecipe(run_dir, adapters, stop_after=stop_after)
    # a stop request (SIGTERM from `persona-studio stop`, Ctrl-C) ends the current step, then saves
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, recipe._request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        recipe.setup(resume=resume)
        recipe.train()
        recipe.finish()
        return 0
    except StopRequested:
        recipe.save_checkpoint()
        recipe.sink.log("stopped", step=recipe.step, reason="stop requested; continue with --resume")
        return 0
    except Exception as exc:  # rank 0 ends the run; another rank's failure is reported with its rank
        error = dict(step=recipe.step, error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        if recipe.dist.main:
            recipe.sink.log("failed", **error)
        else:
            recipe.sink.log("rank_failed", force=True, rank=recipe.dist.rank, **error)
        return 1
    finally:
        recipe.cleanup()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
