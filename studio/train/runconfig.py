"""Provides RunConfig:
everything one run needs, frozen into ``runs/<id>/config.json`` when it is prepared.

Precedence when a run is prepared: the model adapter's preset for the GPU, then the keys the
user set in studio.toml ``[train]``, then command-line overrides. The frozen file is what the
run process reads, so a run folder alone reproduces and resumes the run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from studio.errors import StudioError


@dataclass
class RunConfig:
    """One training run.

    Every field is documented by the string under it; the TUI shows these.
    """

    # model
    model: dict[str, Any]
    """The base model (a ModelSpec as a dict)."""
    dtype: str = "auto"
    """``auto`` (bf16 on a GPU that has it, else fp32), ``bf16``, ``fp16`` or ``fp32``;
    LoRA weights stay fp32."""
    quantization: str = ""
    """``4bit``: QLoRA, the base weights in NF4 through bitsandbytes (for GPUs short of memory);
    empty: none."""
    attention: str = "auto"
    """Packed attention kernel:
    ``auto`` (varlen flash on CUDA, else per-sample SDPA), ``varlen``, ``flex``, ``segments``."""
    compile: bool = False
    """torch.compile each decoder layer (fuses norms, rotary and activations);
    rows are padded to a fixed size."""

    # data
    character: str = ""
    """The character the adapter speaks as."""
    persona: str = ""
    """The system prompt of every sample (the same text chat uses)."""
    max_length: int = 1024
    """Longest sample in tokens;
    longer ones are dropped or split (``overlong``) and counted, never cut."""
    overlong: str = "drop"
    """What happens to a sample over ``max_length``:
    ``drop`` it, or ``split`` a multi-turn one into pieces."""
    tokens_per_batch: int = 8192
    """Tokens per optimizer step across all GPUs (packed samples, no padding)."""
    row_tokens: int = 0
    """Most tokens in one forward pass of one GPU (0: ``tokens_per_batch`` / GPUs);
    smaller rows use less memory."""

    # lora
    lora_r: int = 8
    """LoRA rank: more capacity, more memory."""
    lora_alpha: int = 16
    """LoRA scale numerator (scale = alpha / r)."""
    lora_dropout: float = 0.05
    """Dropout on the LoRA input; 0 is faster (no copy of every projection's input)."""
    lora_targets: list[str] = field(default_factory=list)
    """Module names LoRA wraps; empty: the model adapter's list (all linear projections)."""

    # optim
    epochs: float = 3.0
    """Passes over the training split."""
    lr: float = 2e-4
    """Peak learning rate (linear warm-up, then cosine decay to a tenth)."""
    warmup_steps: int = 10
    """Linear warm-up steps (at most a tenth of the run)."""
    max_grad_norm: float = 1.0
    """Gradient clipping."""
    weight_decay: float = 0.0
    """AdamW weight decay on the LoRA weights."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass: less memory, about a third slower."""
    seed: int = 42
    """Seed of the LoRA initialisation, the sample order and dropout."""

    # parallel
    parallel: str = "ddp"
    """Several GPUs: ``ddp`` (each holds the model) or ``fsdp`` (layers sharded,
    for models too big for one GPU)."""

    # logging
    eval_every: int = 50
    """Evaluate on the eval split every N steps (0: only at the end)."""
    save_every: int = 100
    """Save a resumable checkpoint every N steps (0: only at the end and when stopped)."""
    keep_checkpoints: int = 3
    """Newest checkpoints kept on disk (0: all)."""
    log_every: int = 1
    """Write a step event every N steps."""
    max_steps: int = 0
    """Stop after this many steps (0: run all epochs); for smoke tests and benchmarks."""

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config.json") -> RunConfig:
        """Build from a dict, ignoring keys this version does not know.

        Raises:
            StudioError: a value has the wrong type or is out of range.
        """
        known = {f.name for f in fields(cls)}
        config = cls(**{k: v for k, v in data.items() if k in known})
        config.check(source)
        return config

    @classmethod
    def load(cls, path: Path) -> RunConfig:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StudioError(
                f"{path}: no run config; expected a run folder made by `persona-studio train`"
            ) from None
        except json.JSONDecodeError as exc:
            raise StudioError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
        return cls.from_dict(data, str(path))

    def check(self, source: str = "config.json") -> None:
        """Raise a StudioError naming the key and what was expected."""
        from studio.train.attention import KERNELS
        from studio.train.data import OVERLONG_CHOICES
        from studio.train.distributed import PARALLEL_CHOICES

        rules = [
            (
                "dtype",
                self.dtype in ("auto", "bf16", "fp16", "fp32"),
                "one of auto, bf16, fp16, fp32",
            ),
            ("quantization", self.quantization in ("", "4bit"), "empty or 4bit"),
            ("attention", self.attention in KERNELS, f"one of {', '.join(KERNELS)}"),
            (
                "overlong",
                self.overlong in OVERLONG_CHOICES,
                f"one of {', '.join(OVERLONG_CHOICES)}",
            ),
            (
                "parallel",
                self.parallel in PARALLEL_CHOICES,
                f"one of {', '.join(PARALLEL_CHOICES)}",
            ),
            ("max_length", self.max_length >= 16, "at least 16"),
            ("tokens_per_batch", self.tokens_per_batch >= self.max_length, "at least max_length"),
            (
                "row_tokens",
                self.row_tokens == 0 or self.row_tokens >= self.max_length,
                "0 or at least max_length",
            ),
            ("lora_r", self.lora_r >= 1, "at least 1"),
            ("lora_dropout", 0.0 <= self.lora_dropout < 1.0, "from 0 up to 1"),
            ("epochs", self.epochs > 0, "a positive number"),
            ("lr", 0 < self.lr < 1, "a positive number below 1"),
            ("max_grad_norm", self.max_grad_norm > 0, "a positive number"),
        ]
        for key, ok, expected in rules:
            if not ok:
                raise StudioError(
                    f"{source}: {key}: expected {expected}, got {getattr(self, key)!r}"
                )
