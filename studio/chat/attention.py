"""Provides decode attention for grouped-query models that reads the key/value cache once.

transformers' SDPA function copies each key/value head to every query head that shares it
(``repeat_kv``) whenever an attention mask is given: always under ``torch.compile``, and in eager
mode too before transformers 5.2x. A static cache is always masked, so every decode step writes
and reads ``groups`` copies of the whole cache (at the Llama-3.1-8B shape, 4 copies of a
4,096-token cache: 2.1 GB a row a step), and a batch of 32 rows pays it 32 times.

For one new token the copies are not needed: the query heads that share a key/value head are
that head's query rows (``[B, H, 1, D]`` viewed as ``[B, Hkv, H / Hkv, D]``), and the row's mask
``[B, 1, 1, S]`` holds for all of them. Same arithmetic, no copies. Anything else (a prompt's
prefill, training, a per-head mask, soft-capping, attention sinks) goes to transformers' own
SDPA function, and masks are built exactly as for SDPA.
"""

from __future__ import annotations

from typing import Any

from studio.train.attention import attention_configs

NAME = "studio_decode"


def use_decode_attention(model: Any) -> bool:
    """Switch a loaded model's SDPA attention (and its sub-configs') to ``studio_decode``.

    Returns:
        Whether anything switched (a model on another implementation is left as it is).
    """
    targets = [c for c in attention_configs(model) if c._attn_implementation == "sdpa"]
    if not targets:
        return False
    _register()
    for config in targets:
        config._attn_implementation = NAME
    return True


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(NAME, decode_attention)
    AttentionMaskInterface.register(NAME, sdpa_mask)


def decode_attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    dropout: float = 0.0,
    scaling: float | None = None,
    is_causal: bool | None = None,
    **kwargs: Any,
) -> tuple[Any, None]:
    """Attention; query ``[B, H, Q, D]``, key/value ``[B, Hkv, S, D]`` → ``[B, Q, H, D]``."""
    import torch.nn.functional as F
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    batch, heads, length, dim = query.shape
    kv_heads = key.shape[1]
    plain = (
        length == 1
        and heads != kv_heads
        and heads % kv_heads == 0
        and not getattr(module, "training", False)
        and (attention_mask is None or attention_mask.shape[1] == 1)
        and all(kwargs.get(k) is None for k in ("softcap", "s_aux", "sinks", "position_bias"))
    )
    if not plain:
        return sdpa_attention_forward(
            module,
            query,
            key,
            value,
            attention_mask,
            dropout=dropout,
            scaling=scaling,
            is_causal=is_causal,
            **kwargs,
        )
    if attention_mask is not None:
        attention_mask = attention_mask[:, :, :, : key.shape[-2]]
    grouped = query.reshape(batch, kv_heads, heads // kv_heads, dim)
    out = F.scaled_dot_product_attention(
        grouped, key, value, attn_mask=attention_mask, scale=scaling
    )
    return out.reshape(batch, heads, 1, dim).transpose(1, 2).contiguous(), None
