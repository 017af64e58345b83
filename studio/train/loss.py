"""Provides the training loss: cross-entropy on the supervised tokens only, LM head included.

The decoder runs on the whole packed row; the LM head (hidden → vocabulary) runs only at the
positions whose next token carries loss. For a chat sample most tokens are prompt, so this
skips most of the largest matrix product of the model and the full-vocabulary logits that
would otherwise sit in memory. Large selections are processed in chunks whose logits are
recomputed in the backward pass, so memory stays bounded by one chunk.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from studio.train.attention import clear_row, row_kwargs
from studio.train.data import IGNORE

CHUNK_ELEMENTS = 1 << 27
"""Logits per chunk (128 Mi floats, 512 MiB in fp32) before the head is chunked and recomputed."""


def unwrap(model: Any) -> Any:
    """The transformers causal LM inside peft / DDP wrappers."""
    inner = getattr(model, "module", model)
    inner = inner.get_base_model() if hasattr(inner, "get_base_model") else inner
    return inner


def supervised_loss(model: Any, batch: dict[str, Any]) -> tuple[Any, int]:
    """Sum of token losses on supervised positions, and their count.

    Args:
        model: a causal LM (optionally wrapped by peft).
        batch: a packed row from :func:`studio.train.packing.collate` (``cu_seqlens`` present), or
            padded rows with an ``attention_mask`` (reference path).

    Returns:
        ``(loss_sum, n)``: the summed cross-entropy (a scalar tensor) and the supervised token
        count.
    """
    inner = unwrap(model)
    decoder = inner.get_decoder()
    kwargs: dict[str, Any] = {
        k: batch[k] for k in ("input_ids", "position_ids", "attention_mask") if k in batch
    }
    if "cu_seqlens" in batch:
        kwargs.update(row_kwargs(batch))
    else:
        clear_row()
    hidden = decoder(**kwargs, use_cache=False).last_hidden_state  # [B, T, H]
    labels = batch["labels"][:, 1:]  # [B, T-1]: token t+1 is predicted at position t
    mask = labels != IGNORE
    selected = hidden[:, :-1][mask]  # [N, H]
    targets = labels[mask]  # [N]
    return head_loss(inner.lm_head, selected, targets), int(targets.numel())


def head_loss(head: Any, hidden: Any, targets: Any) -> Any:
    """Summed cross-entropy of ``head(hidden)`` against ``targets``, in fp32, chunked when large."""
    vocab = head.weight.shape[0]
    rows = max(1, CHUNK_ELEMENTS // vocab)

    def chunk_loss(h: Any, t: Any) -> Any:
        return F.cross_entropy(head(h).float(), t, reduction="sum")

    if hidden.shape[0] <= rows:
        return chunk_loss(hidden, targets)
    total = hidden.new_zeros((), dtype=torch.float32)
    for start in range(0, hidden.shape[0], rows):
        total = total + checkpoint(
            chunk_loss,
            hidden[start : start + rows],
            targets[start : start + rows],
            use_reentrant=False,
        )
    return total


class SupervisedLoss(torch.nn.Module):
    """Wraps a model so that ``forward(batch)`` returns ``(loss_sum, n)``:
    the module DDP and FSDP wrap."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.inner = model

    def forward(self, batch: dict[str, Any]) -> tuple[Any, int]:
        return supervised_loss(self.inner, batch)
