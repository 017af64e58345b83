"""Provides the eval's batched model work: losses of real replies and greedy replies, many at once.

- :func:`batch_losses` scores many conversations per forward: right-padded rows (a pad only ever
  follows real tokens, so causal attention is unchanged for every supervised position), grouped
  by length under a token budget, masked exactly as in training.
- :func:`generate_all` queues every prompt on a :class:`studio.chat.batch.BatchEngine` at once
  (the batched serving path: continuous batching, adapter and base rows in their own batches)
  and collects the replies in order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

from studio.chat.sampling import Sampling
from studio.train.data import IGNORE, encode_messages

Tick = Callable[[int, int], None]


def _encode(tokenizer: Any, messages: list[dict[str, str]], eot_ids: Sequence[int]) -> Any:
    result = encode_messages(tokenizer, messages, eot_ids)
    return result[0] if isinstance(result, tuple) else result


def batch_losses(
    model: Any,
    tokenizer: Any,
    conversations: Sequence[list[dict[str, str]]],
    eot_ids: Sequence[int],
    *,
    use_adapter: bool = True,
    batch_tokens: int = 16384,
    tick: Tick | None = None,
) -> list[tuple[float, int]]:
    """Summed negative log-likelihood of each conversation's assistant turns (+ end-of-turn).

    Args:
        model: the causal LM (a peft model: ``use_adapter=False`` disables its adapter).
        tokenizer / eot_ids: encode the conversations as training does.
        conversations: message lists, system first.
        use_adapter: False scores with the adapter disabled (the base model).
        batch_tokens: padded tokens per forward at most.
        tick: ``tick(done, total)`` after each forward.

    Returns:
        ``(nll, tokens)`` per conversation, in order.
    """
    import torch
    import torch.nn.functional as F

    items = [_encode(tokenizer, list(messages), eot_ids) for messages in conversations]
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    device = next(inner.parameters()).device
    order = sorted(range(len(items)), key=lambda i: -len(items[i].input_ids))
    out: list[tuple[float, int]] = [(0.0, 0)] * len(items)
    switch = (
        model.disable_adapter()
        if not use_adapter and hasattr(model, "disable_adapter")
        else contextlib.nullcontext()
    )
    done = 0
    with switch, torch.no_grad():
        start = 0
        while start < len(order):
            width = len(items[order[start]].input_ids)  # the longest of the group (sorted)
            rows = max(1, batch_tokens // max(1, width))
            group = order[start : start + rows]
            start += len(group)
            ids = torch.zeros((len(group), width), dtype=torch.long, device=device)
            labels = torch.full((len(group), width), IGNORE, dtype=torch.long, device=device)
            attention = torch.zeros((len(group), width), dtype=torch.long, device=device)
            for row, index in enumerate(group):
                n = len(items[index].input_ids)
                ids[row, :n] = torch.tensor(items[index].input_ids, device=device)
                labels[row, :n] = torch.tensor(items[index].labels, device=device)
                attention[row, :n] = 1
            hidden = inner.get_decoder()(
                input_ids=ids, attention_mask=attention, use_cache=False
            ).last_hidden_state
            shifted = labels[:, 1:]
            mask = shifted != IGNORE
            if bool(mask.any()):
                logits = inner.get_output_embeddings()(
                    hidden[:, :-1][mask]
                ).float()  # only supervised positions
                token_loss = F.cross_entropy(logits, shifted[mask], reduction="none")
                per_row = torch.zeros(len(group), device=device, dtype=token_loss.dtype)
                per_row.index_add_(0, mask.nonzero()[:, 0], token_loss)
                counts = mask.sum(dim=1)
                for row, index in enumerate(group):
                    out[index] = (float(per_row[row]), int(counts[row]))
            done += len(group)
            if tick is not None:
                tick(done, len(items))
    return out


def generate_all(
    engine: Any,
    tokenizer: Any,
    prompts: Sequence[tuple[list[int], bool]],
    *,
    max_new_tokens: int,
    sampling: Sampling,
    tick: Tick | None = None,
) -> tuple[list[str], int]:
    """Replies to every ``(prompt ids, use_adapter)``, queued at once on a batched engine.

    Returns:
        The replies (stripped text, in order) and the tokens generated.
    """
    streams = [
        engine.generate(
            ids, sampling=sampling, max_new_tokens=max_new_tokens, use_adapter=use_adapter
        )
        for ids, use_adapter in prompts
    ]
    replies: list[str] = []
    tokens = 0
    try:
        for index, stream in enumerate(streams):
            ids = list(stream)
            tokens += len(ids)
            replies.append(tokenizer.decode(ids, skip_special_tokens=True).rstrip("\ufffd").strip())
            if tick is not None:
                tick(index + 1, len(streams))
    finally:
        for stream in streams:
            stream.close()
    return replies, tokens
