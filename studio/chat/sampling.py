"""Provides token sampling for the engines: :class:`Sampling` (greedy, temperature, top-k,
top-p, repetition penalty) and :func:`pick_token`, which picks on the device without host sync.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass
class Sampling:
    """How the next token is chosen.

    Attributes:
        do_sample: False picks the most likely token (greedy, deterministic).
        temperature: > 0; lower is more conservative.
        top_p: nucleus sampling mass, 0 < top_p <= 1.
        top_k: keep the k most likely tokens (0: all).
        repetition_penalty: >= 1 discourages tokens already in the prompt or reply (1: off).
        seed: seed of the sampler; None draws from torch's global generator.
    """

    do_sample: bool = True
    temperature: float = 0.7
    top_p: float = 0.9
    top_k: int = 0
    repetition_penalty: float = 1.0
    seed: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, seed: int | None = None) -> Sampling:
        """Build from a preset-style dict (unknown keys are an error, values are range-checked).

        Raises:
            ValueError: a value is out of range or a key is unknown.
        """
        data = dict(data or {})
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(
                f"unknown sampling setting(s) {', '.join(unknown)}; "
                f"expected {', '.join(cls.__dataclass_fields__)}"
            )
        out = cls(**data)
        if seed is not None and out.seed is None:
            out.seed = seed
        if out.do_sample and not out.temperature > 0:
            raise ValueError(f"temperature: expected a number above 0, got {out.temperature!r}")
        if not 0 < out.top_p <= 1:
            raise ValueError(f"top_p: expected a number above 0 and at most 1, got {out.top_p!r}")
        if out.top_k < 0:
            raise ValueError(f"top_k: expected 0 or more, got {out.top_k!r}")
        if out.repetition_penalty < 1:
            raise ValueError(
                f"repetition_penalty: expected 1 or more, got {out.repetition_penalty!r}"
            )
        return out


def pick_token(logits: Any, sampling: Sampling, seen: Any, generator: Any) -> Any:
    """Choose the next token on the device: [1, V] logits → [1] token; no host sync."""
    import torch

    logits = logits.float()
    if sampling.repetition_penalty != 1.0:
        penalised = torch.where(
            logits < 0,
            logits * sampling.repetition_penalty,
            logits / sampling.repetition_penalty,
        )
        logits = torch.where(seen, penalised, logits)
    if not sampling.do_sample:
        return logits.argmax(dim=-1)
    logits = logits / sampling.temperature
    if sampling.top_k and sampling.top_k < logits.shape[-1]:
        kth = torch.topk(logits, sampling.top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if sampling.top_p < 1.0:
        ordered, order = torch.sort(logits, descending=True, dim=-1)
        probs = ordered.softmax(dim=-1)
        # drop a token when the mass before it already reaches top_p (the top token always
        # stays)
        drop = (probs.cumsum(dim=-1) - probs) >= sampling.top_p
        ordered = ordered.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, ordered)
    probs = logits.softmax(dim=-1)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]
