"""Continuous batching against the single-request engine: the same tokens, whoever else runs."""

from __future__ import annotations

import threading

import pytest
import torch

from studio.api import ModelSpec
from studio.chat.batch import BatchEngine
from studio.chat.engine import ContextOverflow, Engine
from studio.chat.sampling import Sampling

GREEDY = Sampling(do_sample=False)


def load(name, folder):
    from studio.plugins import load_host
    from studio.train.base_model import load_model

    return load_model(
        ModelSpec(name=name, source="tiny", cache_dir=str(folder)),
        load_host().adapters,
        device=torch.device("cpu"),
    )


def prompts(tokenizer, count):
    """``count`` chat prompts of different lengths."""
    out = []
    for i in range(count):
        messages = [
            {"role": "system", "content": "你是阿蘅。" * (i + 1)},
            {"role": "user", "content": "今天的茶苦吗？" + "abc" * (2 * i)},
        ]
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        out.append(tokenizer(text, add_special_tokens=False)["input_ids"])
    return out


@pytest.fixture(scope="module", params=["tiny-qwen2", "tiny-llama"])
def tiny(request, tmp_path_factory):
    loaded = load(request.param, tmp_path_factory.mktemp("models"))
    return loaded.model, prompts(loaded.tokenizer, 8)


@pytest.fixture(scope="module")
def lora(tmp_path_factory):
    from peft import LoraConfig, get_peft_model

    loaded = load("tiny-llama", tmp_path_factory.mktemp("models"))
    torch.manual_seed(0)
    config = LoraConfig(
        r=8, lora_alpha=16, target_modules=["q_proj", "v_proj", "up_proj"], init_lora_weights=False
    )
    model = get_peft_model(loaded.model, config)
    for name, param in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.5)
    model.eval()
    return model, prompts(loaded.tokenizer, 4)


@pytest.fixture(params=["padded", "slots", "padded-ahead", "slots-ahead"])
def make(request):
    """A batched engine of either cache layout (static slots run eager here; CUDA compiles them);
    ``-ahead``: each step is queued before the last one's tokens are read, as on a GPU."""
    engines = []

    def build(model, **kwargs):
        static = request.param.startswith("slots")
        engines.append(BatchEngine(model, stop_ids=[], static=static, **kwargs))
        engines[-1].ahead = request.param.endswith("-ahead")
        return engines[-1]

    yield build
    for engine in engines:
        engine.close()


def single(model, prompt, n, sampling=GREEDY, **kwargs):
    return list(
        Engine(model, stop_ids=[]).generate(prompt, sampling=sampling, max_new_tokens=n, **kwargs)
    )


@pytest.mark.parametrize("clients", [1, 3, 8])
def test_greedy_replies_equal_the_single_request_engine(make, tiny, clients):
    model, asks = tiny
    lengths = [6 + 3 * i for i in range(clients)]
    expected = [single(model, asks[i], lengths[i]) for i in range(clients)]
    engine = make(model, max_batch=8)
    try:
        first = [
            engine.generate(asks[i], sampling=GREEDY, max_new_tokens=lengths[i])
            for i in range(clients // 2 or 1)
        ]
        head = [next(stream) for stream in first]  # the first half is decoding when the rest join
        rest = [
            engine.generate(asks[i], sampling=GREEDY, max_new_tokens=lengths[i])
            for i in range(len(first), clients)
        ]
        got = [[h, *stream] for h, stream in zip(head, first, strict=True)] + [
            list(stream) for stream in rest
        ]
    finally:
        engine.close()
    assert [len(g) for g in got] == lengths  # different lengths: rows leave while others decode
    assert got == expected
    assert engine.running == 0


def test_each_request_keeps_its_own_sampling_and_stop(make, tiny):
    model, asks = tiny
    free = single(model, asks[0], 10)
    seeded = Sampling(
        do_sample=True, temperature=1.3, top_p=0.95, top_k=50, repetition_penalty=1.2, seed=11
    )
    engine = make(model, max_batch=8)
    try:
        streams = {
            "greedy": engine.generate(asks[0], sampling=GREEDY, max_new_tokens=10),
            "seeded": engine.generate(asks[1], sampling=seeded, max_new_tokens=10),
            # sampling that can only pick the top token: the batched sampler's filters work
            "top_k_1": engine.generate(
                asks[0], sampling=Sampling(temperature=1.5, top_k=1), max_new_tokens=10
            ),
            "top_p_0": engine.generate(
                asks[0], sampling=Sampling(temperature=1.5, top_p=1e-6), max_new_tokens=10
            ),
            "penalty": engine.generate(
                asks[2],
                sampling=Sampling(do_sample=False, repetition_penalty=1e6),
                max_new_tokens=10,
            ),
            "stop": engine.generate(
                asks[0], sampling=GREEDY, max_new_tokens=10, stop_ids=[free[4]]
            ),
            "hot": engine.generate(
                asks[0], sampling=Sampling(temperature=2.0, top_p=1.0), max_new_tokens=40
            ),
        }
        got = {name: list(stream) for name, stream in streams.items()}
    finally:
        engine.close()
    assert got["greedy"] == got["top_k_1"] == got["top_p_0"] == free
    assert got["seeded"] == single(
        model, asks[1], 10, seeded
    )  # its own generator: batch-independent
    assert (
        not set(got["penalty"]) & set(asks[2]) and len(set(got["penalty"])) == 10
    )  # nothing seen repeats
    assert (
        got["stop"] == free[: free.index(free[4])] and streams["stop"].stats.finish_reason == "stop"
    )
    assert (
        got["hot"] != free[:10] + got["hot"][10:]
    )  # temperature 2 does not follow the greedy path
    assert (
        streams["greedy"].stats.finish_reason == "length"
        and streams["greedy"].stats.new_tokens == 10
    )


def test_a_cancelled_request_frees_its_row(make, tiny):
    model, asks = tiny
    engine = make(model, max_batch=1)
    try:
        long = engine.generate(asks[0], sampling=GREEDY, max_new_tokens=200)
        assert next(long) is not None
        waiting = engine.generate(asks[1], sampling=GREEDY, max_new_tokens=5)  # no free row yet
        long.close()  # the consumer went away
        assert list(waiting) == single(model, asks[1], 5)
        assert long.stats.finish_reason == "cancelled" and long.stats.new_tokens < 200

        event = threading.Event()
        flagged = engine.generate(asks[2], sampling=GREEDY, max_new_tokens=200, cancel=event)
        next(flagged)
        event.set()
        assert len(list(flagged)) < 199 and flagged.stats.finish_reason == "cancelled"
        assert list(engine.generate(asks[3], sampling=GREEDY, max_new_tokens=3)) == single(
            model, asks[3], 3
        )
    finally:
        engine.close()
    with pytest.raises(ContextOverflow):
        engine.generate(asks[0], max_new_tokens=engine.capacity)


def test_lora_adapter_on_and_off_in_the_same_batch(make, lora):
    model, asks = lora
    on = [single(model, p, 8) for p in asks]
    off = [single(model, p, 8, use_adapter=False) for p in asks]
    assert on != off  # the adapter changes the replies
    engine = make(model, max_batch=8)
    try:
        streams = [
            engine.generate(p, sampling=GREEDY, max_new_tokens=8, use_adapter=flag)
            for p in asks
            for flag in (True, False)
        ]
        got = [list(s) for s in streams]
    finally:
        engine.close()
    assert got[0::2] == on and got[1::2] == off


def test_rows_joining_and_leaving_across_a_full_window(make, tiny, monkeypatch):
    """Slots: the shared write column reaches the window's end again and again; rows shift left."""
    from studio.chat.batch_cache import SlotBatch

    shifts = []
    shift = SlotBatch._shift
    monkeypatch.setattr(SlotBatch, "_shift", lambda self, by: shifts.append(by) or shift(self, by))
    model, asks = tiny
    window = max(len(p) for p in asks[:4]) + 12
    engine = make(model, max_batch=3, max_cache_len=window)
    plan = [
        (i % 4, 4 + (5 * i) % 9) for i in range(10)
    ]  # (prompt, reply length): 10 requests, 3 rows
    expected = [single(model, asks[p], n) for p, n in plan]
    streams, heads = [], []
    for p, n in plan:
        streams.append(engine.generate(asks[p], sampling=GREEDY, max_new_tokens=n))
        heads.append([next(streams[-1])])  # each decodes a little before the next joins
    got = [head + list(stream) for head, stream in zip(heads, streams, strict=True)]
    assert got == expected
    assert engine.static is False or any(by < 0 for by in shifts)
