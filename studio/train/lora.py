"""Provides the trainable model of a run:
base model + packed attention + LoRA, its optimizer and schedule.

Precision: the base weights are in the run's dtype (bf16 on GPUs); the LoRA weights stay fp32
so that small optimizer updates are not rounded away, and their matrix products run in bf16
under autocast (peft's own cast of every projection input to fp32 is switched off: it would
copy each input once per projection and keep the copies for the backward pass).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from studio.api import ModelAdapter, ModelSpec
from studio.errors import StudioError
from studio.train.runconfig import RunConfig


@dataclass
class Trainable:
    """What :func:`build` returns.

    Attributes:
        tokenizer: the model's tokenizer, chat template included.
        model: the peft model (LoRA attached), in train mode.
        targets: module names LoRA wraps in this model.
        kernel: the packed attention kernel in use.
        autocast: True when compute runs in a lower precision than fp32.
    """

    tokenizer: Any
    model: Any
    targets: list[str]
    kernel: str
    autocast: bool


def build(
    cfg: RunConfig,
    adapter: ModelAdapter,
    device: Any,
    dtype: Any,
    kernel_device: Any = None,
    progress: Any = None,
) -> Trainable:
    """Fetch and load the base model, switch it to packed attention, attach LoRA.

    Args:
        cfg: the run config.
        adapter: the model's family adapter.
        device: where to load the weights (the CPU when FSDP will shard them onto the GPUs).
        dtype: weights dtype.
        kernel_device: where the model will run (picks the attention kernel); ``device`` if None.
        progress: download progress callback (see :meth:`ModelAdapter.fetch`).

    Raises:
        StudioError: no LoRA target module exists in the model.
    """
    import torch
    from peft import LoraConfig, get_peft_model

    from studio.train import attention
    from studio.train.base_model import load_for_training

    spec = ModelSpec(**cfg.model)
    tokenizer, model = load_for_training(
        adapter, spec, dtype=dtype, device=device, quantization=cfg.quantization, progress=progress
    )
    model.config.use_cache = False  # a KV cache in a training forward is waste (and leaks packing)
    kernel = attention.register(cfg.attention, (kernel_device or device).type)
    attention.use_packed_attention(model)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()

    wanted = cfg.lora_targets or list(adapter.lora_targets)
    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    targets = [t for t in wanted if t in present]
    if not targets:
        raise StudioError(
            f"none of the LoRA target modules {wanted} exist in this model; "
            "set [train] lora_targets"
        )
    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
    # seeded here, after loading: whatever loading drew from the generator, the run is the same
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    peft_model = get_peft_model(model, lora)
    autocast = dtype != torch.float32
    if autocast:
        for module in peft_model.modules():
            if hasattr(module, "lora_A"):
                module.cast_input_dtype_enabled = False  # autocast casts, once, to bf16
    peft_model.train()
    return Trainable(tokenizer, peft_model, targets, kernel, autocast)


def compile_layers(layers: list[Any]) -> None:
    """torch.compile each decoder layer (rows have one fixed shape, so each compiles once).

    A layer that cannot be compiled runs eagerly instead of failing the run.
    """
    import torch._dynamo

    torch._dynamo.config.suppress_errors = True
    for layer in layers:
        layer.compile(dynamic=False)


def optimizer_and_schedule(
    model: Any, cfg: RunConfig, total_steps: int, device: Any
) -> tuple[Any, Any]:
    """AdamW on the trainable (LoRA) weights;
    linear warm-up, then cosine decay to a tenth of the peak.

    Build it after wrapping the model for several processes: FSDP replaces the parameters.
    """
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=device.type == "cuda"
    )
    warmup = max(1, min(cfg.warmup_steps, total_steps // 10))

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
