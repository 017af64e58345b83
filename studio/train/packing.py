"""Provides padding-free packing:
which samples make each optimizer step, and how a step is cut into rows.

The plan of an epoch depends on the samples, ``tokens_per_step``, the seed and the epoch only,
never on the number of processes: the same job gives the same steps on one GPU or eight. A
step is then shared out between the processes (balanced by tokens) and each share is cut into
rows of at most ``row_tokens`` tokens (gradients are accumulated over a share's rows).

A row is one sequence of concatenated samples, with position ids restarting at 0 for each
sample and ``cu_seqlens`` (cumulative sample lengths) that the attention uses so no sample
attends to another.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from studio.train.data import IGNORE, Encoded

WINDOW = 512
"""Samples are packed in shuffled windows of this many: nearly full steps, still a random order."""
MAX_OPEN = 64
"""Open (not yet full) steps carried between windows; beyond it, all open steps are closed."""


def plan_epoch(
    lengths: Sequence[int], tokens_per_step: int, seed: int, epoch: int
) -> list[list[int]]:
    """Indices of the samples of each optimizer step of one epoch.

    Shuffle (seeded by seed and epoch), then first-fit-decreasing inside windows of the
    shuffled order (a step not yet full stays open for the next window's samples), then shuffle
    the steps; a step holds at most ``tokens_per_step`` tokens, and only the last few are not full.

    Args:
        lengths: token count of every sample; each must be at most ``tokens_per_step``.
        tokens_per_step: capacity of one optimizer step.
        seed: run seed.
        epoch: epoch number (a new order every epoch).
    """
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    smallest = min(lengths, default=1)
    steps: list[list[int]] = []
    bins: list[list[int]] = []  # open steps, carried into the next window until full
    fill: list[int] = []
    for begin in range(0, len(order), WINDOW):
        for index in sorted(order[begin : begin + WINDOW], key=lambda i: -lengths[i]):
            size = lengths[index]
            for b, used in enumerate(fill):
                if used + size <= tokens_per_step:
                    bins[b].append(index)
                    fill[b] += size
                    break
            else:
                bins.append([index])
                fill.append(size)
        # a step that no sample can join any more is done; the others take the next window's samples
        done = [
            b
            for b, used in enumerate(fill)
            if tokens_per_step - used < smallest or len(bins) > MAX_OPEN
        ]
        steps.extend(bins[b] for b in done)
        bins = [members for b, members in enumerate(bins) if b not in done]
        fill = [used for b, used in enumerate(fill) if b not in done]
    steps.extend(bins)
    rng.shuffle(steps)
    return steps


def shard_step(
    step: Sequence[int], lengths: Sequence[int], world: int, row_tokens: int
) -> list[list[list[int]]]:
    """Share one step's samples between ``world`` processes and cut each share into rows.

    Longest-first into the least-loaded share balances tokens; rows are first-fit-decreasing
    with capacity ``row_tokens``. A share can be empty when a step has fewer samples than
    processes (the caller runs a zero-weight row so collective calls still match).

    Returns:
        ``shares[rank][row]`` = sample indices.
    """
    loads = [0] * world
    shares: list[list[int]] = [[] for _ in range(world)]
    for index in sorted(step, key=lambda i: (-lengths[i], i)):
        rank = min(range(world), key=lambda r: (loads[r], r))
        shares[rank].append(index)
        loads[rank] += lengths[index]
    out: list[list[list[int]]] = []
    for share in shares:
        rows: list[list[int]] = []
        fill: list[int] = []
        for index in share:
            for r, used in enumerate(fill):
                if used + lengths[index] <= row_tokens:
                    rows[r].append(index)
                    fill[r] += lengths[index]
                    break
            else:
                rows.append([index])
                fill.append(lengths[index])
        out.append(rows)
    return out


def collate(batch: Sequence[Encoded], pad_to: int = 0) -> dict[str, Any]:
    """One packed row, shape [1, T]:
    ``input_ids``, ``labels``, ``position_ids``, ``cu_seqlens``, ``max_seqlen``.

    Args:
        batch: the samples of the row.
        pad_to: pad the row to this many tokens with a masked filler segment (fixed shapes for
            compiled kernels); 0 leaves the row as long as its samples.
    """
    import torch

    input_ids: list[int] = []
    labels: list[int] = []
    positions: list[int] = []
    bounds = [0]
    for item in batch:
        input_ids += item.input_ids
        # the first token of a sample is never predicted from the sample before it
        labels += [IGNORE] + item.labels[1:]
        positions += list(range(len(item)))
        bounds.append(len(input_ids))
    longest = max(b - a for a, b in pairwise(bounds))
    if pad_to and len(input_ids) < pad_to:
        filler = pad_to - len(input_ids)
        input_ids += [input_ids[-1]] * filler
        labels += [IGNORE] * filler
        positions += list(range(filler))
        bounds.append(pad_to)
        longest = max(longest, filler)
    return {
        "input_ids": torch.tensor([input_ids]),
        "labels": torch.tensor([labels]),
        "position_ids": torch.tensor([positions]),
        "cu_seqlens": torch.tensor(bounds, dtype=torch.int32),
        "max_seqlen": longest,
    }


def collate_padded(batch: Sequence[Encoded], pad_id: int) -> dict[str, Any]:
    """Pad-to-longest rows with an attention mask (the seed's batching;
    a reference in tests and the bench)."""
    import torch

    longest = max(len(item) for item in batch)
    ids = torch.full((len(batch), longest), pad_id)
    labels = torch.full((len(batch), longest), IGNORE)
    mask = torch.zeros((len(batch), longest), dtype=torch.long)
    for row, item in enumerate(batch):
        ids[row, : len(item)] = torch.tensor(item.input_ids)
        labels[row, : len(item)] = torch.tensor([IGNORE] + item.labels[1:])
        mask[row, : len(item)] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}
