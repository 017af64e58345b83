"""Provides sample encoding (the model's own chat template, loss masks) and padding-free packing.

Loss is on the character's tokens plus exactly one end-of-turn token per assistant turn;
everything else (system prompt, user turns, template scaffolding, the newline after the
end-of-turn) is masked with -100. Packing puts several samples in one row with position ids
restarting at 0 for each sample, so no sample attends to another.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from studio.api import Sample
from studio.errors import StudioError

IGNORE = -100


@dataclass
class Encoded:
    """One tokenised sample."""

    sample_id: str
    input_ids: list[int]
    labels: list[int]

    @property
    def supervised(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE)

    def __len__(self) -> int:
        return len(self.input_ids)


def render(tokenizer: Any, messages: list[dict[str, str]], add_generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def encode_messages(tokenizer: Any, messages: list[dict[str, str]], eot_ids: Sequence[int], sample_id: str = "") -> Encoded:
    """Tokenise a conversation with the chat template; supervise each assistant turn + one end-of-turn.

    Raises:
        StudioError: the template renders turns in a way that cannot be located (a broken template).
    """
    full = render(tokenizer, messages)
    spans: list[tuple[int, int]] = []  # character spans of supervised text: [start, end)
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prefix = render(tokenizer, messages[:index], add_generation_prompt=True)
        upto = render(tokenizer, messages[: index + 1])
        if not full.startswith(prefix) or not full.startswith(upto):
            raise StudioError("the chat template does not render conversations as prefixes of each other; cannot mask")
        spans.append((len(prefix), len(upto)))
    encoding = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = encoding["input_ids"]
    offsets = encoding["offset_mapping"]
    labels = [IGNORE] * len(ids)
    eot = set(eot_ids)
    for start, end in spans:
        inside = [i for i, (a, b) in enumerate(offsets) if a >= start and b <= end and b > a]
        # supervise the reply up to and including the first end-of-turn token; not what follows it
        for i in inside:
            labels[i] = ids[i]
            if ids[i] in eot:
                break
        else:
            if inside:  # template without an explicit end-of-turn in the turn: add none
                pass
    return Encoded(sample_id, ids, labels)


def encode_samples(
    tokenizer: Any, samples: Sequence[Sample], eot_ids: Sequence[int], max_length: int
) -> tuple[list[Encoded], list[str]]:
    """Encode samples; those over ``max_length`` are returned by id, never cut silently."""
    encoded: list[Encoded] = []
    too_long: list[str] = []
    for sample in samples:
        item = encode_messages(tokenizer, sample.messages(), eot_ids, sample.id)
        if len(item) > max_length:
            too_long.append(sample.id)
            continue
        if item.supervised == 0:
            continue
        encoded.append(item)
    return encoded, too_long


def pack(items: Sequence[Encoded], tokens_per_batch: int, seed: int, epoch: int = 0) -> list[list[Encoded]]:
    """Shuffle (seeded by epoch) then pack greedily into batches of at most ``tokens_per_batch`` tokens.

    First-fit decreasing within windows of the shuffled order keeps padding at zero and rows
    nearly full while batch order stays random.
    """
    order = list(range(len(items)))
    random.Random(seed * 1000003 + epoch).shuffle(order)
    batches: list[list[Encoded]] = []
    window = 256
    for begin in range(0, len(order), window):
        chunk = sorted((items[i] for i in order[begin : begin + window]), key=len, reverse=True)
        bins: list[list[Encoded]] = []
        fill: list[int] = []
        for item in chunk:
            for b, used in enumerate(fill):
                if used + len(item) <= tokens_per_batch:
                    bins[b].append(item)
                    fill[b] += len(item)
                    break
            else:
                bins.append([item])
                fill.append(len(item))
        batches.extend(bins)
    return batches


def collate(batch: Sequence[Encoded]) -> dict[str, Any]:
    """One packed row: ``input_ids``, ``labels``, ``position_ids`` (restarting per sample), shape [1, T]."""
    import torch

    input_ids: list[int] = []
    labels: list[int] = []
    positions: list[int] = []
    for item in batch:
        input_ids += item.input_ids
        # the first token of each sample must not be predicted from the previous sample
        labels += [IGNORE] + item.labels[1:]
        positions += list(range(len(item)))
    return {
        "input_ids": torch.tensor([input_ids]),
        "labels": torch.tensor([labels]),
        "position_ids": torch.tensor([positions]),
    }


def collate_padded(batch: Sequence[Encoded], pad_id: int) -> dict[str, Any]:
    """Pad-to-longest rows with an attention mask (the seed's batching; used as a reference)."""
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
