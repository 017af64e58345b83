"""The generation engine against transformers' generate on a tiny model: same tokens, every path."""

from __future__ import annotations

import threading

import pytest
import torch

from studio.api import ModelSpec
from studio.chat.engine import ContextOverflow, Engine
from studio.chat.sampling import Sampling


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from studio.plugins import load_host
    from studio.train.base_model import load_model

    spec = ModelSpec(
        name="tiny-qwen2", source="tiny", cache_dir=str(tmp_path_factory.mktemp("models"))
    )
    loaded = load_model(spec, load_host().adapters, device=torch.device("cpu"))
    tokenizer = loaded.tokenizer
    text = tokenizer.apply_chat_template(
        [
            {"role": "system", "content": "你是阿蘅。"},
            {"role": "user", "content": "今天的茶苦吗？"},
        ],
        tokenize=False,
        add_generation_prompt=True,
    )
    prompt = tokenizer(text, add_special_tokens=False)["input_ids"]
    return loaded, prompt


def reference(model, prompt, n):
    with torch.no_grad():
        out = model.generate(
            input_ids=torch.tensor([prompt]),
            attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
            max_new_tokens=n,
            min_new_tokens=n,
            do_sample=False,
            eos_token_id=None,
            pad_token_id=0,
        )
    return out[0, len(prompt) :].tolist()


@pytest.mark.parametrize("static", [False, True], ids=["dynamic-cache", "static-cache"])
def test_greedy_tokens_equal_transformers_generate(tiny, static):
    loaded, prompt = tiny
    expected = reference(loaded.model, prompt, 12)
    engine = Engine(loaded.model, stop_ids=[], static=static)
    assert (
        list(engine.generate(prompt, sampling=Sampling(do_sample=False), max_new_tokens=12))
        == expected
    )
    stats = engine.last_stats
    assert (stats.prompt_tokens, stats.new_tokens, stats.finish_reason) == (
        len(prompt),
        12,
        "length",
    )
    assert 0 < stats.ttft_s <= stats.total_s


@pytest.mark.parametrize("static", [False, True], ids=["dynamic-cache", "static-cache"])
def test_prefix_reuse_gives_the_same_tokens_as_a_fresh_engine(tiny, static):
    loaded, prompt = tiny
    engine = Engine(loaded.model, stop_ids=[], static=static)
    first = list(engine.generate(prompt, sampling=Sampling(do_sample=False), max_new_tokens=6))
    follow_up = (
        prompt + first + prompt[-4:]
    )  # the next turn starts with the whole previous exchange
    reused = list(engine.generate(follow_up, sampling=Sampling(do_sample=False), max_new_tokens=6))
    assert (
        engine.last_stats.reused_tokens == len(prompt) + len(first) - 1
    )  # the last reply token was never fed
    fresh = list(
        Engine(loaded.model, stop_ids=[], static=static).generate(
            follow_up, sampling=Sampling(do_sample=False), max_new_tokens=6
        )
    )
    assert reused == fresh
    # a different conversation shares only the template's opening tokens
    other = list(
        engine.generate(
            prompt[:5] + [65, 66, 67] + prompt[5:],
            sampling=Sampling(do_sample=False),
            max_new_tokens=4,
        )
    )
    assert engine.last_stats.reused_tokens == 5
    assert other == reference(loaded.model, prompt[:5] + [65, 66, 67] + prompt[5:], 4)


def test_stops_on_end_of_turn_and_does_not_yield_it(tiny):
    loaded, prompt = tiny
    free = reference(loaded.model, prompt, 8)
    stop_at = free[3]
    tokens = list(
        Engine(loaded.model, stop_ids=[stop_at]).generate(
            prompt, sampling=Sampling(do_sample=False), max_new_tokens=8
        )
    )
    assert tokens == free[: free.index(stop_at)]
    assert stop_at not in tokens


def test_seeded_sampling_is_reproducible_and_penalties_apply(tiny):
    loaded, prompt = tiny
    engine = Engine(loaded.model, stop_ids=[])
    settings = Sampling(
        do_sample=True, temperature=0.9, top_p=0.8, top_k=40, repetition_penalty=1.3, seed=7
    )
    a = list(engine.generate(prompt, sampling=settings, max_new_tokens=10))
    b = list(engine.generate(prompt, sampling=settings, max_new_tokens=10))
    assert a == b
    # a huge repetition penalty forbids every token already seen (the prompt's included)
    greedy_penalised = list(
        engine.generate(
            prompt, sampling=Sampling(do_sample=False, repetition_penalty=1e9), max_new_tokens=6
        )
    )
    assert not set(greedy_penalised) & set(prompt)
    assert len(set(greedy_penalised)) == len(greedy_penalised)


def test_top_p_keeps_only_the_nucleus():
    logits = torch.tensor([[4.0, 3.0, 0.0, -1.0]])
    seen = torch.zeros_like(logits, dtype=torch.bool)
    generator = torch.Generator().manual_seed(0)
    # probabilities 0.718, 0.264, 0.013, 0.005: the smallest set holding 90% is {0, 1}; 70% is {0}
    picks = {
        int(
            Engine._pick(
                logits, Sampling(do_sample=True, temperature=1.0, top_p=0.9), seen, generator
            )
        )
        for _ in range(300)
    }
    assert picks == {0, 1}
    picks = {
        int(
            Engine._pick(
                logits, Sampling(do_sample=True, temperature=1.0, top_p=0.7), seen, generator
            )
        )
        for _ in range(50)
    }
    assert picks == {0}


def test_cancel_stops_after_the_current_token(tiny):
    loaded, prompt = tiny
    engine = Engine(loaded.model, stop_ids=[])
    cancel = threading.Event()
    out = []
    for token in engine.generate(
        prompt, sampling=Sampling(do_sample=False), max_new_tokens=50, cancel=cancel
    ):
        out.append(token)
        if len(out) == 3:
            cancel.set()
    assert len(out) == 3 and engine.last_stats.finish_reason == "cancelled"
    # the engine is usable again, and its cache still matches the tokens fed
    assert list(
        engine.generate(prompt, sampling=Sampling(do_sample=False), max_new_tokens=5)
    ) == reference(loaded.model, prompt, 5)


def test_context_overflow_is_a_clear_error(tiny):
    loaded, prompt = tiny
    engine = Engine(loaded.model, stop_ids=[], static=True, max_cache_len=len(prompt) + 4)
    with pytest.raises(ContextOverflow, match="context holds"):
        list(engine.generate(prompt, max_new_tokens=5))
    assert (
        len(list(engine.generate(prompt, sampling=Sampling(do_sample=False), max_new_tokens=4)))
        == 4
    )


def test_sampling_settings_are_validated():
    with pytest.raises(ValueError, match="top_p"):
        Sampling.from_dict({"top_p": 0})
    with pytest.raises(ValueError, match="unknown sampling"):
        Sampling.from_dict({"temprature": 0.5})
    assert Sampling.from_dict({"do_sample": False}, seed=3).seed == 3


def test_adapter_can_be_disabled_for_the_base_model(tiny):
    from peft import LoraConfig, get_peft_model

    loaded, prompt = tiny
    base_tokens = reference(loaded.model, prompt, 8)
    torch.manual_seed(0)
    model = get_peft_model(
        loaded.model,
        LoraConfig(
            r=4,
            lora_alpha=64,
            target_modules=["q_proj", "v_proj", "down_proj"],
            init_lora_weights=False,
        ),
    )
    try:
        engine = Engine(model, stop_ids=[])
        greedy = Sampling(do_sample=False)
        with_adapter = list(engine.generate(prompt, sampling=greedy, max_new_tokens=8))
        without = list(
            engine.generate(prompt, sampling=greedy, max_new_tokens=8, use_adapter=False)
        )
        assert without == base_tokens
        assert with_adapter != base_tokens
        assert (
            engine.last_stats.reused_tokens == 0
        )  # the cache of one side is never reused by the other
        assert list(engine.generate(prompt, sampling=greedy, max_new_tokens=8)) == with_adapter
    finally:
        model.unload()


def test_a_static_cache_that_cannot_crop_starts_over_instead_of_overflowing(tiny, monkeypatch):
    """transformers 5.17's StaticLayer has no crop: the engine refills rather than writing past
    the cache (which ran out of bounds on a GPU after a few turns)."""
    from transformers import StaticCache

    def no_crop(self, max_length):
        raise AttributeError("'StaticLayer' object has no attribute 'crop'")

    monkeypatch.setattr(StaticCache, "crop", no_crop)
    loaded, prompt = tiny
    engine = Engine(loaded.model, stop_ids=[], static=True, max_cache_len=len(prompt) + 16)
    for _turn in range(4):  # each turn would grow the cache past its size without the refill
        other = prompt[:5] + [65 + _turn] + prompt[5:]
        got = list(engine.generate(other, sampling=Sampling(do_sample=False), max_new_tokens=4))
        assert got == reference(loaded.model, other, 4)
