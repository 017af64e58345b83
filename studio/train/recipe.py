"""Provides the LoRA recipe: setup / train / save_checkpoint / cleanup, one readable loop.

    python -m studio.train RUN_DIR            # what `persona-studio train` starts
    torchrun --nproc-per-node 2 -m studio.train RUN_DIR   # DDP, rank 0 logs

The run folder holds ``config.json`` (written by the runner), ``samples.jsonl`` (the frozen
training data), ``events.jsonl``, ``checkpoints/step-N/`` and, at the end, ``adapter/``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.api import ModelSpec, Sample
from studio.errors import StudioError
from studio.fsutil import atomic_write_json, fsync_dir, read_jsonl
from studio.train.data import IGNORE, Encoded, collate, encode_samples, pack
from studio.train.events import JsonlSink
from studio.train.gpu import GpuSampler


@dataclass
class RunConfig:
    """Everything a run needs, frozen into ``runs/<id>/config.json`` when it starts."""

    # model
    model: dict[str, Any]
    # data
    character: str = ""
    persona: str = ""
    max_length: int = 1024
    tokens_per_batch: int = 8192
    # lora
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_targets: list[str] = field(default_factory=list)
    # optim
    epochs: float = 3.0
    lr: float = 2e-4
    warmup_steps: int = 10
    max_grad_norm: float = 1.0
    weight_decay: float = 0.0
    dtype: str = "auto"
    gradient_checkpointing: bool = False
    seed: int = 42
    # logging
    eval_every: int = 50
    save_every: int = 100
    log_every: int = 1
    max_steps: int = 0
    """Stop after this many steps (0: run all epochs); for smoke tests and benchmarks."""

    @classmethod
    def load(cls, path: Path) -> RunConfig:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


class StopRequested(Exception):
    """Raised inside the loop after a stop request; the recipe saves a checkpoint and exits."""


def supervised_loss(model: Any, batch: dict[str, Any]) -> tuple[Any, int]:
    """Sum of token losses on supervised positions, and their count.

    The LM head runs only on supervised positions (the character's tokens), which saves the
    memory and time of full-vocabulary logits for the prompt tokens.
    """
    import torch.nn.functional as F

    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    inner = getattr(inner, "module", inner)
    decoder = inner.get_decoder()
    kwargs = {k: v for k, v in batch.items() if k in ("input_ids", "position_ids", "attention_mask")}
    hidden = decoder(**kwargs, use_cache=False).last_hidden_state  # [B, T, H]
    labels = batch["labels"][:, 1:]  # [B, T-1]: token t+1 is predicted at position t
    mask = labels != IGNORE
    selected = hidden[:, :-1][mask]  # [N, H]
    logits = inner.lm_head(selected).float()  # [N, V]
    return F.cross_entropy(logits, labels[mask], reduction="sum"), int(mask.sum())


def _loss_module(model: Any) -> Any:
    """Wrap a model so that forward(batch) returns (loss_sum, n_supervised): what DDP wraps."""
    import torch

    class SupervisedLoss(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, batch: dict[str, Any]) -> tuple[Any, int]:
            return supervised_loss(self.inner, batch)

    return SupervisedLoss(model)


class LoraRecipe:
    """Fine-tune one base model with LoRA on one run folder's samples."""

    def __init__(self, run_dir: str | Path, adapters: dict[str, Any] | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.cfg = RunConfig.load(self.run_dir / "config.json")
        self.rank = int(os.environ.get("RANK", "0"))
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.sink = JsonlSink(self.run_dir / "events.jsonl", enabled=self.rank == 0)
        self._adapters = adapters
        self._stop = False
        self.step = 0
        self.epoch = 0
        self.batch_index = 0
        self.tokens_seen = 0

    # -- setup ----------------------------------------------------------------------------

    def setup(self, resume: bool = False) -> None:
        import torch
        from peft import LoraConfig, get_peft_model

        from studio.models import pick_adapter, quiet_transformers, resolve_device, resolve_dtype

        quiet_transformers()

        cfg = self.cfg
        if self.world > 1 and not torch.distributed.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            torch.distributed.init_process_group(backend)
        torch.manual_seed(cfg.seed)
        self.device = resolve_device()
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        self.dtype = resolve_dtype(cfg.dtype, self.device)
        adapters = self._adapters
        if adapters is None:
            from studio.plugins import default_host

            adapters = default_host().adapters
        spec = ModelSpec(**cfg.model)
        self.adapter = pick_adapter(spec, adapters)
        path = self.adapter.fetch(spec)
        self.tokenizer = self.adapter.load_tokenizer(path, spec)
        model = self.adapter.load_model(path, spec, dtype=self.dtype, device=self.device)
        model.config.use_cache = False  # packed rows are isolated only without a KV cache
        if cfg.gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            model.enable_input_require_grads()
        targets = cfg.lora_targets or list(self.adapter.lora_targets)
        present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
        targets = [t for t in targets if t in present]
        if not targets:
            raise StudioError(f"none of the LoRA target modules {cfg.lora_targets or self.adapter.lora_targets} exist in this model")
        lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                          target_modules=targets, task_type="CAUSAL_LM")
        self.model = get_peft_model(model, lora)
        self.model.train()
        from studio.models import end_of_turn_ids

        self.eot_ids = end_of_turn_ids(self.adapter, self.tokenizer)

        # data: encode once, report what does not fit, never cut silently
        samples = [Sample.from_json(d) for d in read_jsonl(self.run_dir / "samples.jsonl")]
        train = [s for s in samples if s.split == "train"]
        evals = [s for s in samples if s.split == "eval"]
        self.train_items, too_long = encode_samples(self.tokenizer, train, self.eot_ids, cfg.max_length)
        self.eval_items, eval_too_long = encode_samples(self.tokenizer, evals, self.eot_ids, cfg.max_length)
        if not self.train_items:
            raise StudioError("no training samples fit max_length; raise [train] max_length or build the dataset")
        self.batches_per_epoch = len(pack(self.train_items, cfg.tokens_per_batch, cfg.seed, 0))
        steps_per_epoch = max(1, self.batches_per_epoch // self.world)
        self.total_steps = max(1, math.ceil(steps_per_epoch * cfg.epochs))
        if cfg.max_steps:
            self.total_steps = min(self.total_steps, cfg.max_steps)
        self.steps_per_epoch = steps_per_epoch

        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.999),
                                           fused=self.device.type == "cuda")
        warmup = min(cfg.warmup_steps, max(1, self.total_steps // 10))

        def schedule(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = (step - warmup) / max(1, self.total_steps - warmup)
            return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, schedule)
        self.loss_module = _loss_module(self.model)
        if self.world > 1:
            self.loss_module = torch.nn.parallel.DistributedDataParallel(
                self.loss_module, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        if resume:
            self._load_latest_checkpoint()
        n_train_tokens = sum(len(i) for i in self.train_items)
        self.sink.log(
            "config", pid=os.getpid(), resume=resume, world_size=self.world, total_steps=self.total_steps,
            config=cfg.__dict__, device=str(self.device), dtype=str(self.dtype).replace("torch.", ""),
            lora_targets=targets, trainable_params=sum(p.numel() for p in params),
        )
        self.sink.log(
            "data", train_samples=len(self.train_items), eval_samples=len(self.eval_items),
            too_long=len(too_long) + len(eval_too_long), too_long_ids=(too_long + eval_too_long)[:50],
            train_tokens=n_train_tokens, supervised_share=round(sum(i.supervised for i in self.train_items) / n_train_tokens, 4),
            batches_per_epoch=self.batches_per_epoch, total_steps=self.total_steps,
        )

    # -- checkpoints ----------------------------------------------------------------------

    @property
    def checkpoints_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    def save_checkpoint(self) -> Path | None:
        """Write ``checkpoints/step-N`` atomically: adapter, optimizer, scheduler, RNG, data position."""
        import torch

        if self.rank != 0:
            return None
        final = self.checkpoints_dir / f"step-{self.step:06d}"
        if (final / "COMPLETE").exists():
            return final
        tmp = self.checkpoints_dir / f".tmp-step-{self.step:06d}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        self._unwrapped().save_pretrained(str(tmp / "adapter"))
        torch.save({
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "step": self.step, "epoch": self.epoch, "batch_index": self.batch_index, "tokens_seen": self.tokens_seen,
            "rng": {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
        }, tmp / "state.pt")
        (tmp / "COMPLETE").write_text(json.dumps({"step": self.step}))
        fsync_dir(tmp)
        os.replace(tmp, final)
        fsync_dir(self.checkpoints_dir)
        self.sink.log("checkpoint", step=self.step, path=str(final.relative_to(self.run_dir)))
        return final

    def latest_checkpoint(self) -> Path | None:
        done = sorted(p for p in self.checkpoints_dir.glob("step-*") if (p / "COMPLETE").exists())
        return done[-1] if done else None

    def _load_latest_checkpoint(self) -> None:
        import torch
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        latest = self.latest_checkpoint()
        if latest is None:
            return
        state = torch.load(latest / "state.pt", map_location="cpu", weights_only=False)
        weights = load_file(str(latest / "adapter" / "adapter_model.safetensors"))
        set_peft_model_state_dict(self._unwrapped(), weights)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step, self.epoch, self.batch_index = state["step"], state["epoch"], state["batch_index"]
        self.tokens_seen = state.get("tokens_seen", 0)
        torch.set_rng_state(state["rng"]["torch"])
        if state["rng"].get("cuda") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.sink.log("resumed", step=self.step, epoch=self.epoch, batch_index=self.batch_index, path=str(latest.relative_to(self.run_dir)))

    def _unwrapped(self) -> Any:
        return self.model

    # -- evaluation -----------------------------------------------------------------------

    def evaluate(self) -> float | None:
        import torch

        if not self.eval_items:
            return None
        self.model.eval()
        total, count = 0.0, 0
        with torch.no_grad(), self._autocast():
            for batch in pack(self.eval_items, self.cfg.tokens_per_batch, seed=0, epoch=0):
                loss_sum, n = supervised_loss(self._unwrapped(), self._to_device(collate(batch)))
                total += float(loss_sum)
                count += n
        self.model.train()
        if self.world > 1:
            t = torch.tensor([total, count], dtype=torch.float64, device=self.device)
            torch.distributed.all_reduce(t)
            total, count = float(t[0]), int(t[1])
        return total / max(1, count)

    # -- the loop -------------------------------------------------------------------------

    def _to_device(self, batch: dict[str, Any]) -> dict[str, Any]:
        return {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

    def _autocast(self) -> Any:
        import contextlib

        return contextlib.nullcontext()

    def _request_stop(self, *_: Any) -> None:
        self._stop = True

    def train(self) -> None:
        """Run epochs of packed batches; log every step; evaluate and checkpoint on schedule."""
        import torch

        cfg = self.cfg
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        gpu = GpuSampler(self.device.index or 0) if self.device.type == "cuda" else None
        stop_file = self.run_dir / "STOP"
        started = time.perf_counter()
        window_tokens, window_time = 0, time.perf_counter()
        epochs = math.ceil(cfg.epochs)
        while self.step < self.total_steps and self.epoch < epochs:
            batches = pack(self.train_items, cfg.tokens_per_batch, cfg.seed, self.epoch)
            # each rank takes every world-th batch; all ranks do the same number of steps
            batches = batches[self.rank :: self.world][: self.steps_per_epoch]
            while self.batch_index < len(batches) and self.step < self.total_steps:
                if self._stop or stop_file.exists():
                    raise StopRequested
                batch = self._to_device(collate(batches[self.batch_index]))
                # forward + backward: loss = sum over supervised tokens / their count (global)
                loss_sum, n_sup = self.loss_module(batch)
                n_global = n_sup
                if self.world > 1:
                    t = torch.tensor([n_sup], device=self.device, dtype=torch.float64)
                    torch.distributed.all_reduce(t)
                    n_global = int(t.item())
                loss = loss_sum * self.world / max(1, n_global)  # DDP averages gradients over ranks
                loss.backward()
                grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm)
                step_loss = float(loss_sum.detach()) / max(1, n_sup)
                if not math.isfinite(step_loss) or not math.isfinite(float(grad_norm)):
                    raise FloatingPointError(
                        f"non-finite {'loss' if not math.isfinite(step_loss) else 'gradient norm'} at step {self.step + 1} "
                        f"(loss {step_loss}, grad norm {float(grad_norm)}); the adapter was not updated. "
                        "Lower [train] lr or use dtype = \"fp32\" to find the cause."
                    )
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                self.step += 1
                self.batch_index += 1
                tokens = int(batch["input_ids"].numel()) * self.world
                self.tokens_seen += tokens
                window_tokens += tokens
                if self.step % cfg.log_every == 0 or self.step == self.total_steps:
                    if self.device.type == "cuda":
                        torch.cuda.synchronize()
                    now = time.perf_counter()
                    rate = window_tokens / max(1e-9, now - window_time)
                    elapsed = now - started
                    done_here = max(1, self.step - getattr(self, "_start_step", 0))
                    eta = elapsed / done_here * (self.total_steps - self.step)
                    payload = {
                        "step": self.step, "total_steps": self.total_steps,
                        "epoch": round(self.epoch + self.batch_index / max(1, len(batches)), 3),
                        "loss": round(step_loss, 5), "lr": self.scheduler.get_last_lr()[0],
                        "grad_norm": round(float(grad_norm), 4), "tokens": tokens, "supervised": n_global,
                        "tokens_per_s": round(rate, 1), "supervised_share": round(n_global / max(1, tokens), 4),
                        "eta_s": round(eta, 1),
                    }
                    if self.device.type == "cuda":
                        payload["gpu"] = {**(gpu.sample() if gpu else {}),
                                          "peak_alloc_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2)}
                    self.sink.log("step", **payload)
                    window_tokens, window_time = 0, now
                if cfg.eval_every and self.step % cfg.eval_every == 0:
                    self._log_eval()
                if cfg.save_every and self.step % cfg.save_every == 0:
                    self.save_checkpoint()
            if self.batch_index >= len(batches):
                self.epoch += 1
                self.batch_index = 0

    def _log_eval(self) -> None:
        value = self.evaluate()
        if value is not None:
            self.sink.log("eval", step=self.step, eval_loss=round(value, 5), eval_ppl=round(math.exp(min(value, 50)), 3))

    def finish(self) -> Path:
        """Evaluate, write ``adapter/`` (peft format + persona + template) and the finished event."""
        self._log_eval()
        self.save_checkpoint()
        out = self.run_dir / "adapter"
        if self.rank == 0:
            tmp = self.run_dir / ".tmp-adapter"
            shutil.rmtree(tmp, ignore_errors=True)
            self._unwrapped().save_pretrained(str(tmp))
            self.tokenizer.save_pretrained(str(tmp))
            atomic_write_json(tmp / "persona.json", {
                "character": self.cfg.character, "persona": self.cfg.persona, "base_model": self.cfg.model,
                "chat_template": self.tokenizer.chat_template, "end_of_turn_ids": self.eot_ids,
            })
            shutil.rmtree(out, ignore_errors=True)
            os.replace(tmp, out)
            self.sink.log("finished", step=self.step, adapter=str(out.relative_to(self.run_dir)))
        return out

    def cleanup(self) -> None:
        import torch

        if self.world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def run(run_dir: str | Path, resume: bool = False, adapters: dict[str, Any] | None = None) -> int:
    """The run process body: setup, train, finish; every failure lands in events.jsonl."""
    recipe = LoraRecipe(run_dir, adapters)
    try:
        recipe.setup(resume=resume)
        recipe._start_step = recipe.step
        recipe.train()
        recipe.finish()
        return 0
    except StopRequested:
        recipe.save_checkpoint()
        recipe.sink.log("stopped", step=recipe.step, reason="stop requested; resume with --resume")
        return 0
    except Exception as exc:
        recipe.sink.log("failed", step=recipe.step, error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        return 1
    finally:
        recipe.cleanup()
