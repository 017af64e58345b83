"""The training bench's parity checks hold on a tiny shape and fail when what they guard breaks.

c's timed configuration (the GPU preset's settings, compiled layers, rows padded to the preset's
row length, LoRA) gives the loss and LoRA gradients of plain HF + peft run one sample at a time;
transformers' position-id packing (the b+varlen rows) isolates samples.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from train_models import TARGETS, Timeline, b_batch, parse_flags  # noqa: E402
from train_parity import FP32_TOL, c_parity, isolation  # noqa: E402

from studio.train.data import IGNORE, Encoded  # noqa: E402


def samples(n: int = 6, vocab: int = 320, seed: int = 0) -> list[Encoded]:
    gen = torch.Generator().manual_seed(seed)
    items = []
    for k in range(n):
        length = int(torch.randint(20, 70, (1,), generator=gen))
        ids = torch.randint(0, vocab, (length,), generator=gen).tolist()
        prompt = length // 2
        items.append(Encoded(str(k), ids, [IGNORE] * prompt + ids[prompt:]))
    return items


@pytest.mark.slow
@pytest.mark.parametrize("compiled", [True, False])
def test_c_timed_configuration_matches_plain_peft_one_by_one(compiled):
    out = c_parity("tiny", torch.device("cpu"), samples(), compile_layers=compiled)
    assert out["n_grads"] == 2 * 2 * len(TARGETS)  # A and B of 7 projections in 2 layers
    assert out["loss_rel"] < FP32_TOL["loss"]
    assert out["grad_rel"] < FP32_TOL["grad"]
    assert out["ok"]
    assert ("compiled" if compiled else "eager") in out["what"]
    assert "row of 8192 tokens" in out["what"] or not compiled  # padded as the preset pads


def test_c_parity_detects_a_wrong_gradient(monkeypatch):
    import train_parity

    real = train_parity._lora_grads
    calls = []

    def skewed(model):
        grads = real(model)
        calls.append(1)
        if len(calls) == 1:  # c's gradients, not the reference's
            name = next(iter(grads))
            grads[name] = grads[name] * 1.01
        return grads

    monkeypatch.setattr(train_parity, "_lora_grads", skewed)
    out = c_parity("tiny", torch.device("cpu"), samples(), compile_layers=False)
    assert out["grad_rel"] > FP32_TOL["grad"]
    assert not out["ok"]


@pytest.mark.slow
@pytest.mark.parametrize("attn", ["sdpa", "flex_attention"])
def test_transformers_packed_path_isolates_samples(attn):
    items = samples(8, seed=2)
    out = isolation("tiny", torch.device("cpu"), items, attn, init=0.3)
    assert out["rel"] < 1e-5
    assert out["leak"] > 1e-3  # the control: positions that run on let attention cross samples


def test_b_rows_padded_by_a_segment_of_their_own():
    items = samples(3)
    real = sum(len(i) for i in items)
    batch = b_batch(items, 256, torch.device("cpu"))
    assert batch["input_ids"].shape == (1, 256)
    assert batch["position_ids"][0, real] == 0  # the filler starts a segment
    assert (batch["labels"][0, real:] == IGNORE).all()


def test_variant_flags_and_repeats():
    assert parse_flags("b+liger+varlen") == {"liger", "varlen"}
    with pytest.raises(ValueError, match="compile"):
        parse_flags("b+fast")
    line = Timeline(first_step_s=5.0, ends=[1, 2, 3, 5, 6], tokens=[9, 10, 10, 10, 40])
    line.supervised = [1, 1, 1, 1, 1]
    rates = line.rates(warmup=1, repeats=2, steps=2)
    assert rates["repeats_tok_s"] == pytest.approx([10.0, 50.0 / 3])
    assert rates["tok_s"] == pytest.approx((10 + 50 / 3) / 2)
    with pytest.raises(ValueError, match="need"):
        line.rates(warmup=1, repeats=3, steps=2)
