"""Provides packed attention: causal attention that never crosses a sample boundary of a packed row.

Registered with transformers as the attention implementation ``studio_packed``. The recipe
passes ``packed_cu_seqlens`` (cumulative sample lengths of the row) and ``packed_max_seqlen``
through the model's forward; each layer's attention then runs one of these kernels:

- ``varlen``: PyTorch's flash-attention variable-length kernel (CUDA; no masked-out work).
- ``flex``: FlexAttention with a block-sparse document mask (compiled; CUDA or CPU).
- ``segments``: scaled-dot-product attention on each sample's slice (exact anywhere; the CPU path).

Isolation is explicit here rather than inferred from position ids, so it holds with any
transformers version; the parity test checks it against each sample run alone.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from studio.settings import KERNELS  # declared with the setting

NAME = "studio_packed"
DENSE_MASK_MAX = 4096
"""Rows up to this long use one dense block-diagonal mask on the ``segments`` path (CPU)."""

_state: dict[str, Any] = {"kernel": "segments"}


def register(kernel: str = "auto", device_type: str = "cpu") -> str:
    """Register ``studio_packed`` with transformers and pick its kernel.

    Args:
        kernel: one of KERNELS; ``auto`` is ``varlen`` on CUDA when available, else ``segments``.
        device_type: where the model runs.

    Returns:
        The kernel in use.
    """
    from transformers import AttentionInterface

    if kernel not in KERNELS:
        raise ValueError(f"[train] attention: expected one of {', '.join(KERNELS)}, got {kernel!r}")
    if kernel == "auto":
        kernel = "varlen" if device_type == "cuda" and _has_varlen() else "segments"
    if kernel == "varlen" and (device_type != "cuda" or not _has_varlen()):
        raise ValueError(
            "[train] attention: varlen needs CUDA and torch.nn.attention.varlen (PyTorch 2.9+)"
        )
    _state["kernel"] = kernel
    # kept out of torch.compile graphs: sample boundaries change every row, layer shapes do not
    import torch

    AttentionInterface.register(NAME, torch.compiler.disable(packed_attention))
    try:  # masks are ours: tell transformers to build none
        from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS

        ALL_MASK_ATTENTION_FUNCTIONS._global_mapping.pop(NAME, None)
    except ImportError:  # pragma: no cover - older transformers
        pass
    return kernel


def attention_configs(model: Any) -> list[Any]:
    """A loaded transformers model's config and sub-configs that name an attention implementation
    (``_attn_implementation``, read by every layer at forward time)."""
    configs = [
        model.config,
        *(getattr(model.config, key) for key in getattr(model.config, "sub_configs", {}) or {}),
    ]
    return [c for c in configs if c is not None and hasattr(c, "_attn_implementation")]


def use_packed_attention(model: Any) -> None:
    """Switch a loaded transformers model (and its sub-configs) to ``studio_packed``."""
    for config in attention_configs(model):
        config._attn_implementation = NAME


def _has_varlen() -> bool:
    try:
        from torch.nn.attention.varlen import varlen_attn  # noqa: F401
    except ImportError:
        return False
    return True


def packed_attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[Any, None]:
    """Attention over a packed row;
    query ``[1, H, T, D]``, key/value ``[1, Hkv, T, D]`` → ``[1, T, H, D]``.

    Without ``packed_cu_seqlens`` (a plain unpacked batch) it is ordinary causal attention.
    """
    import torch.nn.functional as F

    if "packed_cu_seqlens" not in kwargs and _state.get("hide_rows") and _state.get("row"):
        kwargs = {**kwargs, **_state["row"]}
    cu_seqlens = kwargs.get("packed_cu_seqlens")
    window = kwargs.get("sliding_window")
    if cu_seqlens is None:
        if attention_mask is not None:
            raise ValueError(
                "studio_packed attention takes no attention mask: "
                "pack the batch instead of padding it"
            )
        out = F.scaled_dot_product_attention(
            query,
            key,
            value,
            is_causal=True,
            scale=scaling,
            enable_gqa=key.shape[1] != query.shape[1],
        )
        return out.transpose(1, 2).contiguous(), None
    if query.shape[0] != 1:
        raise ValueError(f"a packed batch is one row; got {query.shape[0]} rows")
    max_seqlen = int(kwargs.get("packed_max_seqlen") or query.shape[2])
    if window is not None and max_seqlen > window:
        raise ValueError(
            f"a sample of {max_seqlen} tokens is longer than the sliding window ({window}); "
            "lower [train] max_length"
        )
    kernel = _state["kernel"]
    if kernel == "varlen":
        return _varlen(query, key, value, cu_seqlens, max_seqlen, scaling), None
    if kernel == "flex":
        return _flex(query, key, value, kwargs.get("packed_block_mask"), scaling), None
    return _segments(query, key, value, cu_seqlens, scaling, kwargs.get("packed_dense_mask")), None


def _segments(
    query: Any, key: Any, value: Any, cu_seqlens: Any, scaling: float | None, mask: Any = None
) -> Any:
    """Causal SDPA on each sample's slice (or once with the row's block-diagonal mask)."""
    import torch
    import torch.nn.functional as F

    if mask is not None:
        out = F.scaled_dot_product_attention(
            query,
            key,
            value,
            attn_mask=mask,
            scale=scaling,
            enable_gqa=key.shape[1] != query.shape[1],
        )
        return out.transpose(1, 2).contiguous()

    bounds = cu_seqlens.tolist()
    gqa = key.shape[1] != query.shape[1]
    pieces = [
        F.scaled_dot_product_attention(
            query[:, :, a:b],
            key[:, :, a:b],
            value[:, :, a:b],
            is_causal=True,
            scale=scaling,
            enable_gqa=gqa,
        )
        for a, b in pairwise(bounds)
        if b > a
    ]
    return torch.cat(pieces, dim=2).transpose(1, 2).contiguous()


def _varlen(
    query: Any, key: Any, value: Any, cu_seqlens: Any, max_seqlen: int, scaling: float | None
) -> Any:
    """Flash-attention varlen: [T, H, D] tensors, causal, no work outside each sample."""
    import torch
    from torch.nn.attention.varlen import varlen_attn

    q = query[0].transpose(0, 1)  # [T, H, D]
    k = key[0].transpose(0, 1)
    v = value[0].transpose(0, 1)
    if k.shape[1] != q.shape[1]:  # grouped-query attention: share each kv head across its group
        groups = q.shape[1] // k.shape[1]
        k = k.repeat_interleave(groups, dim=1)
        v = v.repeat_interleave(groups, dim=1)
    cu = cu_seqlens.to(device=q.device, dtype=torch.int32)
    out_dtype = q.dtype
    if q.dtype not in (torch.float16, torch.bfloat16):  # fp32 hidden states (QLoRA keeps norms
        # and embeddings in fp32): the kernel takes half precision, as autocast would give it
        half = (
            torch.get_autocast_dtype("cuda")
            if torch.is_autocast_enabled("cuda")
            else torch.bfloat16
        )
        q, k, v = q.to(half), k.to(half), v.to(half)
    options = _varlen_options()
    kwargs: dict[str, Any] = (
        {"is_causal": True} if "is_causal" in options else {"window_size": (-1, 0)}
    )
    if scaling is not None and "scale" in options:
        kwargs["scale"] = scaling
    elif (
        scaling is not None
    ):  # older signature: the kernel scales by 1/sqrt(D); fold the rest into q
        q = q * (scaling * q.shape[-1] ** 0.5)
    out = varlen_attn(q, k, v, cu, cu, max_seqlen, max_seqlen, **kwargs)
    return out.to(out_dtype).unsqueeze(0)  # [1, T, H, D]


def _varlen_options() -> set[str]:
    """Keyword arguments of this PyTorch's varlen_attn (its signature changed between releases)."""
    if "varlen_options" not in _state:
        import inspect

        from torch.nn.attention.varlen import varlen_attn

        _state["varlen_options"] = set(inspect.signature(varlen_attn).parameters)
    return _state["varlen_options"]


def hide_rows_from_compiler(hide: bool = True) -> None:
    """Pass row boundaries beside the forward instead of through it.

    Under torch.compile every tensor in a layer's inputs is guarded on its shape, and the
    number of samples per row changes every step; kept out of the inputs, the compiled layers
    never recompile. The attention kernel (excluded from compilation) reads them instead.
    """
    _state["hide_rows"] = hide


def row_kwargs(batch: dict[str, Any]) -> dict[str, Any]:
    """The forward kwargs that tell ``studio_packed`` where a row's samples start and end.

    Built once per row and shared by every layer (the flex kernel's block mask included).
    When rows are hidden from the compiler, they are stored for the kernel and {} is returned.
    """
    out = _row_info(batch)
    _state["row"] = out
    return {} if _state.get("hide_rows") else out


def clear_row() -> None:
    """Forget the stored row (the next forward is an ordinary unpacked batch)."""
    _state["row"] = None


def _row_info(batch: dict[str, Any]) -> dict[str, Any]:
    cu = batch["cu_seqlens"]
    out: dict[str, Any] = {"packed_cu_seqlens": cu, "packed_max_seqlen": int(batch["max_seqlen"])}
    length = int(batch["input_ids"].shape[1])
    if _state["kernel"] == "segments" and length <= DENSE_MASK_MAX:
        import torch

        # one block-diagonal causal mask for the row: one SDPA call per layer, not one per sample
        document = torch.repeat_interleave(torch.arange(len(cu) - 1), (cu[1:] - cu[:-1]).long())
        same = document[:, None] == document[None, :]
        causal = torch.ones(length, length, dtype=torch.bool).tril()
        out["packed_dense_mask"] = (same & causal)[None, None].to(batch["input_ids"].device)
    if _state["kernel"] == "flex":
        import torch
        from torch.nn.attention.flex_attention import create_block_mask

        length = int(batch["input_ids"].shape[1])
        device = batch["input_ids"].device
        cu = cu.to(device, torch.int64)
        document = torch.searchsorted(cu[1:], torch.arange(length, device=device), right=True)

        def mask_mod(b: Any, h: Any, q_idx: Any, kv_idx: Any) -> Any:
            return (document[q_idx] == document[kv_idx]) & (q_idx >= kv_idx)

        out["packed_block_mask"] = create_block_mask(
            mask_mod, None, None, length, length, device=device
        )
    return out


def _flex(query: Any, key: Any, value: Any, block_mask: Any, scaling: float | None) -> Any:
    """FlexAttention over the row's block mask (compiled once per process)."""
    import torch
    from torch.nn.attention.flex_attention import flex_attention

    if block_mask is None:
        raise ValueError(
            "the flex kernel needs the row's block mask: build the forward kwargs with row_kwargs()"
        )
    if "flex" not in _state:
        _state["flex"] = torch.compile(flex_attention, dynamic=False)
    out = _state["flex"](
        query,
        key,
        value,
        block_mask=block_mask,
        scale=scaling,
        enable_gqa=key.shape[1] != query.shape[1],
    )
    return out.transpose(1, 2).contiguous()
