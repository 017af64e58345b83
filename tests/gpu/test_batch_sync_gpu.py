"""On a CUDA GPU: a batched decode step queues its work and returns without waiting for it.

pytest -m gpu tests/gpu/test_batch_sync_gpu.py          # skipped without CUDA

The batched engine queues step n+1 before reading step n's tokens; one hidden host sync a step
(a Python scalar written into a device tensor is copied there and waited for) undoes that and
leaves the GPU idle while the host does its per-token work.
"""

from __future__ import annotations

import pytest
import torch

from studio.chat.batch import BatchEngine
from studio.chat.sampling import Sampling

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


@pytest.mark.parametrize(
    "sampling",
    [
        Sampling(do_sample=False),
        Sampling(do_sample=True, temperature=0.7, top_p=0.9, repetition_penalty=1.1),
    ],
    ids=["greedy", "sampled"],
)
def test_a_steady_batched_step_makes_no_host_sync(sampling):
    from studio_models.tiny import build_model

    model = (
        build_model("llama", 300, num_attention_heads=8, num_key_value_heads=2)
        .to("cuda", torch.bfloat16)
        .eval()
    )
    engine = BatchEngine(model, max_batch=4, max_cache_len=128, static=True, compiled=True)
    prompts = [[5, 9, 13, 2, 77], [4, 4, 8, 19, 23, 42, 7, 1]]

    def run() -> list[list[int]]:
        streams = [engine.generate(p, max_new_tokens=24, sampling=sampling) for p in prompts]
        return [list(s) for s in streams]

    run()  # compile and record the graphs first: recording may wait
    step, steady = engine._step, []

    def guarded(batch, use_adapter):
        # rows that did not change since the last step: nothing to upload, nothing to wait for
        quiet = batch.params is not None and batch._key == batch._active()
        steady.append(quiet)
        if quiet:
            torch.cuda.set_sync_debug_mode("error")
        try:
            step(batch, use_adapter)
        finally:
            torch.cuda.set_sync_debug_mode(0)

    engine._step = guarded
    try:
        replies = run()  # a sync in a steady step raises, and the request ends in that error
    finally:
        engine.close()
    assert all(len(r) > 0 for r in replies)
    assert sum(steady) >= 10
