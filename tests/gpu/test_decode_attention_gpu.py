"""On a CUDA GPU: the decode attention under torch.compile with CUDA graphs, in bf16.

pytest -m gpu tests/gpu/test_decode_attention_gpu.py          # skipped without CUDA
"""

from __future__ import annotations

import copy

import pytest
import torch

from studio.chat.attention import NAME
from studio.chat.batch import BatchEngine
from studio.chat.engine import Engine
from studio.chat.sampling import Sampling

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


def test_compiled_engines_on_the_decode_attention_reply_as_eager_attention_does():
    from studio_models.tiny import build_model

    base = (
        build_model("llama", 300, num_attention_heads=8, num_key_value_heads=2)
        .to("cuda", torch.bfloat16)
        .eval()
    )
    base.config._attn_implementation = "sdpa"
    eager = copy.deepcopy(base)
    eager.config._attn_implementation = "eager"
    prompts = [[5, 9, 13, 2, 77], [4, 4, 8, 19, 23, 42, 7, 1], [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]]
    greedy = Sampling(do_sample=False)
    reference = Engine(eager, static=True, max_cache_len=128)
    expected = [list(reference.generate(p, max_new_tokens=12, sampling=greedy)) for p in prompts]

    single = Engine(base, static=True, compiled=True, max_cache_len=128)
    assert base.config._attn_implementation == NAME
    alone = [list(single.generate(p, max_new_tokens=12, sampling=greedy)) for p in prompts]
    batch = BatchEngine(base, max_batch=4, max_cache_len=128, static=True, compiled=True)
    batch.warmup()
    streams = [batch.generate(p, max_new_tokens=12, sampling=greedy) for p in prompts]
    together = [list(stream) for stream in streams]
    batch.close()
    assert single.compiled and batch.compiled  # no fallback to eager decoding
    # bf16: where two tokens nearly tie, the reply may take either; every reply must equal the
    # eager one up to such a tie, and diverge only there
    for got, want, prompt in zip(
        alone + together, expected + expected, prompts + prompts, strict=True
    ):
        assert len(got) == len(want)
        if got != want:
            k = next(i for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b)
            gap = tie_gap(eager, prompt + want[:k], want[k], got[k])
            assert gap <= 0.125, (k, got, want, gap)


def tie_gap(model, ids: list[int], chosen: int, other: int) -> float:
    """How far apart the eager model puts two next-token logits after ``ids``."""
    with torch.no_grad():
        logits = model(torch.tensor([ids], device="cuda")).logits[0, -1].float()
    return float((logits[chosen] - logits[other]).abs())
