"""Provides the training bench's parity checks: what is timed computes what it should.

- :func:`isolation` (the ``b`` rows): the summed loss of a packed row through transformers'
  position-id path against the same samples run one by one, and a control whose positions run on
  across samples (attention crosses them), which must differ.
- :func:`c_parity` (the ``c`` rows): ``c``'s trainable model exactly as the GPU preset builds it
  (packed attention, LoRA with the preset's rank, alpha and dropout, fp32 LoRA weights without
  peft's input casts, compiled decoder layers, rows padded to the preset's row length, the
  supervised-only LM head) against plain transformers + peft run on each sample alone: the summed
  loss and every LoRA gradient.

Tolerances: fp32 (the CPU) is compared to fp32 and must agree to rounding: loss 1e-5 relative,
each LoRA gradient 1e-4 relative (Frobenius norm of the difference over that of the reference).
bf16 (CUDA, the preset's dtype) is compared to the same weights run in fp32, and the plain
HF + peft path run in bf16 is measured the same way as the floor bf16 itself sets: loss within
5e-3 and each gradient within 5e-2, or within twice that floor when the floor is higher.
"""

from __future__ import annotations

from contextlib import nullcontext
from types import SimpleNamespace
from typing import Any

import torch

from studio.train.data import IGNORE, Encoded
from studio.train.packing import collate

FP32_TOL = {"loss": 1e-5, "grad": 1e-4}
BF16_TOL = {"loss": 5e-3, "grad": 5e-2}
GPU_PRESET = "80g-lora"


def _row_loss(model: Any, batch: dict[str, Any]) -> Any:
    """Summed cross-entropy of HF logits on the supervised tokens of ``batch``."""
    kwargs = {k: batch[k] for k in ("input_ids", "position_ids") if k in batch}
    logits = model(**kwargs, use_cache=False).logits
    labels = batch["labels"][:, 1:]
    mask = labels != IGNORE
    return torch.nn.functional.cross_entropy(
        logits[:, :-1][mask].float(), labels[mask], reduction="sum"
    )


def isolation(
    shape: str, device: Any, items: list[Encoded], attn: str, init: float | None = None
) -> dict[str, Any]:
    """Packed vs one by one through transformers' own path with ``attn`` (2 layers of ``shape``;
    ``init``: a larger weight scale makes attention sharper, so a leak shows more).

    Returns:
        ``rel`` (packed), ``leak`` (the control) relative differences and ``dtype``.
    """
    from train_models import build_model, free

    # flash takes no fp32; flex on a GPU finds no fp32 kernel at 8B head sizes
    fused = attn.startswith("flash") or (
        attn.startswith("flex") and torch.device(device).type == "cuda"
    )
    dtype = torch.bfloat16 if fused else torch.float32
    model = build_model(shape, device, dtype, layers=2, attn=attn, init=init).eval()
    rows = items[:8]
    with torch.no_grad():
        alone = sum(
            float(_row_loss(model, {k: v.to(device) for k, v in _plain(i).items()})) for i in rows
        )
        row = {k: collate(rows)[k].to(device) for k in ("input_ids", "labels", "position_ids")}
        packed = float(_row_loss(model, row))
        run_on = dict(
            row, position_ids=torch.arange(row["input_ids"].shape[1], device=device)[None]
        )
        leaky = float(_row_loss(model, run_on))
    del model
    free()
    return {
        "rel": abs(packed - alone) / alone,
        "leak": abs(leaky - alone) / alone,
        "dtype": str(dtype).replace("torch.", ""),
    }


def _plain(item: Encoded) -> dict[str, Any]:
    batch = collate([item])
    return {k: batch[k] for k in ("input_ids", "labels", "position_ids")}


def c_parity(
    shape: str,
    device: Any,
    items: list[Encoded],
    compile_layers: bool = True,
    dtype: Any = None,
) -> dict[str, Any]:
    """c's timed configuration against plain HF + peft, one sample at a time: loss and gradients.

    Args:
        shape: a shape of :data:`train_models.SHAPES` (``llama-8b-narrow``: 32 layers, width 256).
        device: where both run.
        items: the samples (one packed row of them; they must fit the preset's row).
        compile_layers: compile the decoder layers as the preset does.
        dtype: the compute dtype (default: bf16 on CUDA as the preset, fp32 on the CPU).

    Returns:
        loss and gradient relative differences, the tolerance, ``ok``, and what ran.
    """
    from train_models import BenchAdapter, build_model, free

    from studio.api import ModelSpec
    from studio.api.hf_adapter import LORA_PRESETS
    from studio.train import attention, lora
    from studio.train.loss import SupervisedLoss
    from studio.train.recipe import LoraRecipe
    from studio.train.runconfig import RunConfig

    dtype = dtype or (torch.bfloat16 if device.type == "cuda" else torch.float32)
    preset = next(p for p in LORA_PRESETS if p.name == GPU_PRESET)
    adapter = BenchAdapter(shape)
    settings = {**preset.settings, "compile": compile_layers, "max_length": 384}
    settings["dtype"] = "bf16" if dtype == torch.bfloat16 else "fp32"
    spec = ModelSpec(name=f"bench-{shape}", source="local", adapter=adapter.name)
    cfg = RunConfig.from_dict({"model": spec.__dict__, "persona": "", **settings})
    built = lora.build(cfg, adapter, device, dtype)
    model = built.model
    generator = torch.Generator().manual_seed(1)
    for name, param in model.named_parameters():  # non-zero B: every A gets a gradient too
        if "lora_B" in name:
            with torch.no_grad():
                param.copy_(torch.randn(param.shape, generator=generator) * 0.02)
    attention.hide_rows_from_compiler(compile_layers)
    if compile_layers:
        lora.compile_layers([layer for layer in model.get_base_model().model.layers])
    row_tokens = cfg.row_tokens or max(cfg.max_length, cfg.tokens_per_batch)
    owner = SimpleNamespace(cfg=cfg, kernel=built.kernel, row_tokens=row_tokens, device=device)
    batch = LoraRecipe._batch(
        owner, items
    )  # the recipe's own row: padded to one length when compiled
    with torch.autocast(device.type, dtype=dtype) if built.autocast else nullcontext():
        loss_sum, _ = SupervisedLoss(model)(batch)
    loss_sum.backward()
    got = _lora_grads(model)
    loss = float(loss_sum.detach())
    kernel, row_len = built.kernel, int(batch["input_ids"].shape[1])
    state = {k: v.detach().float() for k, v in model.state_dict().items()}
    attention.hide_rows_from_compiler(False)
    attention.clear_row()
    del model, built, batch, loss_sum
    torch._dynamo.reset()
    free()

    def reference(ref_dtype: Any) -> tuple[float, dict[str, Any]]:
        from train_models import add_lora

        ref = add_lora(
            build_model(shape, device, ref_dtype), cfg.lora_alpha, cfg.lora_dropout, r=cfg.lora_r
        )
        ref.load_state_dict(state)
        ref.train()
        total = 0.0
        for item in items:  # peft as it comes: bf16 base weights, fp32 LoRA, its input casts
            plain = {k: v.to(device) for k, v in _plain(item).items()}
            part = _row_loss(ref, plain)
            part.backward()
            total += float(part.detach())
        grads = _lora_grads(ref)
        del ref
        free()
        return total, grads

    ref_loss, ref_grads = reference(torch.float32)
    result = _compare(loss, got, ref_loss, ref_grads)
    tol = dict(FP32_TOL)
    if dtype != torch.float32:
        floor = _compare(*reference(dtype), ref_loss, ref_grads)
        result["floor_loss"], result["floor_grad"] = floor["loss_rel"], floor["grad_rel"]
        tol = {
            "loss": max(BF16_TOL["loss"], 2 * floor["loss_rel"]),
            "grad": max(BF16_TOL["grad"], 2 * floor["grad_rel"]),
        }
    result.update(
        tol_loss=tol["loss"],
        tol_grad=tol["grad"],
        ok=result["loss_rel"] <= tol["loss"] and result["grad_rel"] <= tol["grad"],
        what=f"{shape}, {GPU_PRESET} settings, {str(dtype).replace('torch.', '')}, "
        f"{kernel} attention, {'compiled' if compile_layers else 'eager'}, "
        f"{len(items)} samples in a row of {row_len} tokens",
    )
    return result


def _lora_grads(model: Any) -> dict[str, Any]:
    out = {}
    for name, param in model.named_parameters():
        if "lora_" in name:
            if param.grad is None:
                raise RuntimeError(f"{name} got no gradient")
            out[name.replace("._orig_mod", "")] = param.grad.detach().float().cpu()
    return out


def _compare(loss: float, grads: dict[str, Any], ref_loss: float, ref: dict[str, Any]) -> dict:
    if set(grads) != set(ref):
        raise RuntimeError(f"LoRA parameters differ: {sorted(set(grads) ^ set(ref))[:4]}")
    worst, worst_name = 0.0, ""
    for name, value in ref.items():
        rel = float((grads[name] - value).norm() / value.norm().clamp_min(1e-30))
        if rel > worst:
            worst, worst_name = rel, name
    return {
        "loss": loss,
        "ref_loss": ref_loss,
        "loss_rel": abs(loss - ref_loss) / abs(ref_loss),
        "grad_rel": worst,
        "grad_worst": worst_name,
        "n_grads": len(ref),
    }
