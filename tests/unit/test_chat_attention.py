"""Decode attention that reads a grouped-query KV cache once, without copies per query head."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from studio_models.tiny import build_model

from studio.chat.attention import NAME, use_decode_attention
from studio.chat.batch import BatchEngine
from studio.chat.engine import Engine
from studio.chat.sampling import Sampling
from studio.chat.steps import forward_params


@pytest.fixture
def models():
    """One random grouped-query Llama (8 query heads, 2 key/value heads) twice: switched from
    SDPA to the decode attention, and on transformers' eager attention (keys copied per head)."""
    base = build_model("llama", 300, num_attention_heads=8, num_key_value_heads=2).eval()
    base.config._attn_implementation = "sdpa"
    decode, eager = copy.deepcopy(base), copy.deepcopy(base)
    eager.config._attn_implementation = "eager"
    assert use_decode_attention(decode) and decode.config._attn_implementation == NAME
    assert not use_decode_attention(eager)  # only SDPA models switch
    return decode, eager


def _steps(model, ids, mask, steps=6):
    from transformers import StaticCache

    cache = StaticCache(config=model.config, max_cache_len=64)
    name = "cache" if "cache" in forward_params(model) else "past_key_values"  # by version
    out = model(input_ids=ids, attention_mask=mask, use_cache=True, **{name: cache})
    logits = [out.logits[:, -1]]
    for step in range(steps):
        token = logits[-1].argmax(-1, keepdim=True)
        mask = torch.cat([mask, torch.ones(len(ids), 1, dtype=mask.dtype)], dim=1)
        position = torch.tensor([ids.shape[1] + step])
        out = model(
            input_ids=token,
            attention_mask=mask,
            use_cache=True,
            cache_position=position,
            **{name: cache},
        )
        logits.append(out.logits[:, -1])
    return torch.stack(logits)


def test_decode_steps_match_attention_with_copied_keys_and_take_the_grouped_path(
    models, monkeypatch
):
    decode, eager = models
    torch.manual_seed(1)
    ids = torch.randint(0, 300, (3, 9))
    mask = torch.ones(3, 9, dtype=torch.long)
    mask[0, :4] = 0  # a left-padded row: its mask differs from the others'
    grouped = []
    real = F.scaled_dot_product_attention

    def spy(query, key, value, **kw):
        grouped.append(query.shape[1] == key.shape[1] and query.shape[2] == 4)
        return real(query, key, value, **kw)

    monkeypatch.setattr(F, "scaled_dot_product_attention", spy)
    with torch.no_grad():
        fast = _steps(decode, ids, mask)
    monkeypatch.undo()
    with torch.no_grad():
        reference = _steps(eager, ids, mask)
    assert sum(grouped) == 6 * 2  # every decode step of both layers, never the prefill
    assert torch.allclose(fast, reference, atol=1e-5), (fast - reference).abs().max()


def test_engines_on_the_decode_attention_reply_as_with_copied_keys(models):
    decode, eager = models
    prompts = [[5, 9, 13, 2, 77], [4, 4, 8, 19, 23, 42, 7, 1]]
    greedy = Sampling(do_sample=False)

    def alone(model):
        engine = Engine(model, static=True, max_cache_len=64)
        return [list(engine.generate(p, max_new_tokens=8, sampling=greedy)) for p in prompts]

    batch = BatchEngine(decode, max_batch=4, max_cache_len=64, static=True)
    streams = [batch.generate(p, max_new_tokens=8, sampling=greedy) for p in prompts]
    together = [list(stream) for stream in streams]
    batch.close()
    assert alone(decode) == alone(eager) == together
    assert decode.config._attn_implementation == NAME
    assert eager.config._attn_implementation == "eager"  # engines switch SDPA models only
