"""Provides the models of the training bench and its ``b`` rows: HF + peft on packed rows, with
each difference from ``c`` switched on by its own flag so that every row changes one factor.

A ``b`` variant is ``b`` followed by ``+FLAG`` for each flag:

- ``liger``: Liger's RoPE, RMSNorm, SwiGLU and fused linear cross-entropy.
- ``varlen``: transformers' own packed path: an attention implementation that reads sample
  boundaries from ``position_ids`` (``flash_attention_2`` when flash-attn is importable on CUDA,
  else ``flex_attention``); no attention mask, no KV cache. With ``flex_attention`` rows are padded
  to one length (a trailing segment of its own, no loss) so its compiled kernel compiles once.
- ``compile``: ``torch.compile`` of each decoder layer (rows padded to one length, as above).
- ``recipe``: ``c``'s recipe, not its kernels: LoRA dropout 0, no fp32 copy of each projection's
  input (peft's ``cast_input_dtype`` off), LoRA products in the compute dtype under autocast.

The plain ``b`` is the recipe a careful user copies from peft's docs: dropout 0.1, peft's default
fp32 input casts, SDPA (transformers builds a dense block-diagonal mask from ``position_ids``).
"""

from __future__ import annotations

import gc
import importlib.util
import statistics
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch

from studio.train.data import Encoded
from studio.train.packing import collate

SHAPES: dict[str, dict[str, Any]] = {
    "tiny": dict(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=320,
    ),
    "llama-8b": dict(
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        vocab_size=128256,
        rope_theta=500000.0,
    ),
    # the real layer count and vocabulary at a reduced width (parity on what is timed)
    "llama-8b-narrow": dict(
        hidden_size=256,
        intermediate_size=896,
        num_hidden_layers=32,
        num_attention_heads=4,
        num_key_value_heads=1,
        head_dim=64,
        vocab_size=128256,
        rope_theta=500000.0,
    ),
}
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
FLAGS = ("liger", "varlen", "compile", "recipe")
ROW_TOKENS = 8192


def build_model(
    shape: str,
    device: Any,
    dtype: Any,
    layers: int | None = None,
    attn: str = "sdpa",
    init: float | None = None,
) -> Any:
    """A random-weight Llama of ``shape`` (seed 0) with the attention implementation ``attn``
    (``init``: the weights' standard deviation, when not transformers' default)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        **{**SHAPES[shape], **({"num_hidden_layers": layers} if layers else {})},
        **({"initializer_range": init} if init else {}),
        max_position_embeddings=8192,
        tie_word_embeddings=False,
        use_cache=False,
    )
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM._from_config(config, dtype=dtype)
    if attn != "sdpa":
        model.set_attn_implementation(attn)
    return model


def add_lora(model: Any, alpha: int, dropout: float, r: int = 8) -> Any:
    from peft import LoraConfig, get_peft_model

    return get_peft_model(
        model,
        LoraConfig(
            r=r,
            lora_alpha=alpha,
            lora_dropout=dropout,
            target_modules=TARGETS,
            task_type="CAUSAL_LM",
        ),
    )


def varlen_implementation(device: Any, wanted: str = "auto") -> str:
    """The attention implementation of the ``varlen`` flag: ``wanted``, or the best importable."""
    if wanted != "auto":
        return wanted
    if device.type == "cuda" and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "flex_attention"


def parse_flags(name: str) -> set[str]:
    """``b+liger+varlen`` → {"liger", "varlen"}; an unknown flag is an error naming the choices."""
    kind, *flags = name.split("+")
    unknown = [f for f in flags if f not in FLAGS]
    if kind != "b" or unknown:
        raise ValueError(f"variant {name!r}: expected b followed by +FLAG from {', '.join(FLAGS)}")
    return set(flags)


class BenchAdapter:
    """A model adapter over random weights of a bench shape and the tiny Llama tokenizer."""

    def __init__(self, shape: str) -> None:
        from studio.api.hf_adapter import LORA_PRESETS

        self.shape = shape
        self.name = f"bench-{shape}"
        self.description = "random weights for benchmarks"
        self.patterns = (self.name,)
        self.lora_targets = TARGETS
        self.end_of_turn = ("<|eot_id|>",)
        self.presets = LORA_PRESETS

    def fetch(self, spec: Any, progress: Any = None) -> Any:
        import tempfile
        from pathlib import Path

        from studio_models.tiny import build_tokenizer

        folder = Path(spec.cache_dir or tempfile.mkdtemp()) / "tokenizer"
        build_tokenizer("llama").save_pretrained(folder)
        return folder

    def load_tokenizer(self, path: Any, spec: Any) -> Any:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(path))

    def load_model(
        self, path: Any, spec: Any, *, dtype: Any, device: Any, quantization: str = ""
    ) -> Any:
        return build_model(self.shape, device, dtype)


# -- memory and time -------------------------------------------------------------------------


def free() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def reset_peak(device: Any) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()


def peak(device: Any) -> dict[str, float]:
    """Peak memory allocated and reserved by the caching allocator (GiB; NaN on the CPU)."""
    if device.type != "cuda":
        return {"peak_gb": float("nan"), "reserved_gb": float("nan")}
    return {
        "peak_gb": torch.cuda.max_memory_allocated() / 2**30,
        "reserved_gb": torch.cuda.max_memory_reserved() / 2**30,
    }


@dataclass
class Timeline:
    """Optimizer steps as they ended: what a row of the table is computed from.

    Attributes:
        first_step_s: from the start of the loop to the end of the first optimizer step (any
            compilation included).
        ends: ``perf_counter`` time at the end of each step (synchronised).
        tokens: real (not padding) tokens of each step.
        supervised: supervised tokens of each step.
    """

    first_step_s: float = 0.0
    ends: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    supervised: list[int] = field(default_factory=list)

    def rates(self, warmup: int, repeats: int, steps: int) -> dict[str, Any]:
        """tokens/s of each repeat of ``steps`` steps after ``warmup``, and their median."""
        if len(self.ends) < warmup + repeats * steps or warmup < 1:
            raise ValueError(
                f"{len(self.ends)} steps logged; need {warmup} warm-up + {repeats} x {steps}"
            )
        per: list[float] = []
        sup: list[float] = []
        for k in range(repeats):
            lo, hi = warmup + k * steps, warmup + (k + 1) * steps
            seconds = self.ends[hi - 1] - self.ends[lo - 1]
            per.append(sum(self.tokens[lo:hi]) / seconds)
            sup.append(sum(self.supervised[lo:hi]) / seconds)
        return {
            "tok_s": statistics.median(per),
            "sup_s": statistics.median(sup),
            "repeats_tok_s": per,
            "first_step_s": self.first_step_s,
            "first_step_tokens": self.tokens[0],
        }


# -- b ---------------------------------------------------------------------------------------


def pack_sequential(items: list[Encoded], capacity: int) -> list[list[Encoded]]:
    """What a user writes: concatenate in order until the row is full."""
    rows: list[list[Encoded]] = [[]]
    used = 0
    for item in items:
        if used + len(item) > capacity:
            rows.append([])
            used = 0
        rows[-1].append(item)
        used += len(item)
    return rows


def b_batch(row: list[Encoded], pad_to: int, device: Any) -> dict[str, Any]:
    """A packed row for transformers' position-id path; padded to ``pad_to`` tokens when > 0 by
    collate's filler segment (positions restart, no loss), so it attends to no sample."""
    batch = collate(row, pad_to=pad_to)
    return {k: batch[k].to(device) for k in ("input_ids", "labels", "position_ids")}


def run_user(
    name: str,
    shape: str,
    device: Any,
    dtype: Any,
    items: list[Encoded],
    warmup: int,
    repeats: int,
    steps: int,
    varlen_impl: str = "auto",
    row_tokens: int = ROW_TOKENS,
    accum: int = 1,
) -> dict[str, Any]:
    """One ``b`` row: HF model + peft on packed rows (8,192 tokens), a plain loop; ``accum`` > 1
    splits each step's tokens into that many rows whose gradients add up (an 80 GB card holds
    no 8,192-token row of an 8B model without gradient checkpointing)."""
    flags = parse_flags(name)
    restore = None
    if "liger" in flags:
        from liger_kernel.transformers import apply_liger_kernel_to_llama

        restore = snapshot_llama()
        apply_liger_kernel_to_llama(
            rope=True, rms_norm=True, swiglu=True, fused_linear_cross_entropy=True
        )
    try:
        return _user_loop(
            flags,
            shape,
            device,
            dtype,
            items,
            (warmup, repeats, steps),
            varlen_impl,
            row_tokens // accum,
            accum,
        )
    finally:
        if restore:
            restore()
        if "compile" in flags:
            torch._dynamo.reset()


def _user_loop(
    flags: set[str],
    shape: str,
    device: Any,
    dtype: Any,
    items: list[Encoded],
    reps: tuple[int, int, int],
    varlen_impl: str,
    row_tokens: int,
    accum: int = 1,
) -> dict[str, Any]:
    warmup, repeats, steps = reps
    attn = varlen_implementation(device, varlen_impl) if "varlen" in flags else "sdpa"
    recipe = "recipe" in flags
    model = add_lora(build_model(shape, device, dtype, attn=attn), 32, 0.0 if recipe else 0.1)
    autocast = recipe and dtype != torch.float32
    if recipe:
        for module in model.modules():
            if hasattr(module, "lora_A"):
                module.cast_input_dtype_enabled = False
    if "compile" in flags:
        for layer in model.get_base_model().model.layers:
            layer.compile(dynamic=False)
    fixed = row_tokens if ("compile" in flags or attn == "flex_attention") else 0
    model.train()
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-4, fused=device.type == "cuda"
    )
    rows = pack_sequential(items, row_tokens)
    line = Timeline()
    reset_peak(device)
    sync()
    start = time.perf_counter()
    for index in range(warmup + repeats * steps):
        step = [rows[(index * accum + k) % len(rows)] for k in range(accum)]
        shares = [sum(i.supervised for i in row) for row in step]
        supervised = sum(shares)
        for row, share in zip(step, shares, strict=True):
            batch = b_batch(row, fixed, device)
            with torch.autocast(device.type, dtype=dtype) if autocast else nullcontext():
                loss = model(**batch, use_cache=False).loss
            # each row's mean loss weighted by its share of the step: one big row's gradient
            (loss * (share / supervised)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        sync()
        line.ends.append(time.perf_counter())
        line.tokens.append(sum(len(i) for row in step for i in row))
        line.supervised.append(supervised)
    line.first_step_s = line.ends[0] - start
    result = {**line.rates(warmup, repeats, steps), **peak(device), "padding": 0.0}
    result["note"] = (
        f"{attn}, dropout {0.0 if recipe else 0.1}"
        + (", no fp32 input casts" if recipe else "")
        + (", autocast" if autocast else "")
        + (", compiled layers" if "compile" in flags else "")
        + (f", rows padded to {fixed}" if fixed else "")
        + (f", {accum} rows of {row_tokens} tokens a step" if accum > 1 else "")
    )
    del model, optimizer
    free()
    return result


def snapshot_llama() -> Any:
    """Liger patches transformers' Llama module and classes; the returned function undoes it."""
    from transformers.models.llama import modeling_llama

    module_vars = dict(vars(modeling_llama))
    classes = {v: dict(vars(v)) for v in module_vars.values() if isinstance(v, type)}

    def restore() -> None:
        for name, value in module_vars.items():
            setattr(modeling_llama, name, value)
        for cls, attrs in classes.items():
            for name in [n for n in vars(cls) if n not in attrs]:
                delattr(cls, name)
            for name, value in attrs.items():
                if name not in ("__dict__", "__weakref__") and vars(cls).get(name) is not value:
                    setattr(cls, name, value)

    return restore
