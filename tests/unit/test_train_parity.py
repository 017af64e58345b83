"""The loss of a packed row equals the loss of the same samples run one by one (fp32, CPU).

Checked for both tiny architectures, for the studio's packed attention and for transformers'
own position-id packing (which isolates samples only without an attention mask and a KV cache).
"""

from __future__ import annotations

import random

import pytest
import torch

from studio.train import attention
from studio.train.data import IGNORE, Encoded
from studio.train.loss import supervised_loss
from studio.train.packing import collate


def random_samples(vocab: int, n: int = 6, seed: int = 0) -> list[Encoded]:
    rng = random.Random(seed)
    items = []
    for k in range(n):
        length = rng.randint(12, 60)
        ids = [rng.randrange(vocab) for _ in range(length)]
        prompt = rng.randint(3, length - 4)
        items.append(Encoded(str(k), ids, [IGNORE] * prompt + ids[prompt:]))
    return items


@torch.no_grad()
def alone(model, items: list[Encoded]) -> tuple[float, int]:
    total, count = 0.0, 0
    for item in items:
        batch = collate([item])
        del batch["cu_seqlens"], batch["max_seqlen"]  # a plain causal forward of one sample
        loss, n = supervised_loss(model, batch)
        total += float(loss)
        count += n
    return total, count


@pytest.fixture(scope="module", params=["qwen2", "llama"])
def model(request):
    from studio_models.tiny import build_model

    # weights larger than the default init make attention sharp, so a leak across samples shows
    net = build_model(request.param, vocab_size=320, seed=3, initializer_range=0.3)
    net.config._attn_implementation = "sdpa"
    return net.eval()


@torch.no_grad()
def test_packed_attention_matches_samples_run_alone(model):
    items = random_samples(model.config.vocab_size)
    reference, n_ref = alone(model, items)
    attention.register("segments", "cpu")
    try:
        attention.use_packed_attention(model)
        packed, n = supervised_loss(model, collate(items))
        # the control: the same row with attention crossing sample boundaries is measurably off
        crossing = collate(items)
        del crossing["cu_seqlens"], crossing["max_seqlen"]
        leaky, _ = supervised_loss(model, crossing)
    finally:
        model.config._attn_implementation = "sdpa"
    assert n == n_ref
    assert (
        abs(float(packed) - reference) / reference < 1e-5
    )  # equal up to fp32 rounding (the bar is 1e-3)
    assert abs(float(leaky) - reference) / reference > 1e-3


@torch.no_grad()
def test_transformers_position_id_packing_matches_without_cache(model):
    items = random_samples(model.config.vocab_size, seed=1)
    reference, _ = alone(model, items)
    row = collate(items)
    out = model(input_ids=row["input_ids"], position_ids=row["position_ids"], use_cache=False)
    logits = out.logits[0, :-1].float()
    labels = row["labels"][0, 1:]
    mask = labels != IGNORE
    packed = torch.nn.functional.cross_entropy(logits[mask], labels[mask], reduction="sum")
    assert abs(float(packed) - reference) / reference < 1e-3


def test_packed_gradients_match_samples_run_alone(model):
    items = random_samples(model.config.vocab_size, n=4, seed=2)
    params = [p for p in model.parameters()]
    model.zero_grad()
    for item in items:
        batch = collate([item])
        del batch["cu_seqlens"], batch["max_seqlen"]
        supervised_loss(model, batch)[0].backward()
    reference = [p.grad.clone() for p in params]
    model.zero_grad()
    attention.register("segments", "cpu")
    try:
        attention.use_packed_attention(model)
        supervised_loss(model, collate(items))[0].backward()
    finally:
        model.config._attn_implementation = "sdpa"
    for p, ref in zip(params, reference, strict=True):  # equal up to fp32 summation order
        assert float((p.grad - ref).norm() / ref.norm()) < 1e-4
    model.zero_grad()
