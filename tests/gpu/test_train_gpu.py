"""On a CUDA GPU: the flash varlen kernel keeps packed samples apart,
and a run reports GPU telemetry.

pytest -m gpu tests/gpu          # skipped without CUDA
"""

from __future__ import annotations

import pytest
import torch

from studio.api import Sample, Turn
from studio.train import attention
from studio.train.events import ConfigEvent, EvalEvent, StepEvent
from studio.train.loss import supervised_loss
from studio.train.packing import collate
from studio.train.rundir import RunDir
from tests.unit.test_train_parity import random_samples

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


@pytest.mark.parametrize("arch", ["qwen2", "llama"])
def test_varlen_packing_matches_samples_run_alone_in_bf16(arch):
    from studio_models.tiny import build_model

    model = (
        build_model(arch, vocab_size=320, seed=3, initializer_range=0.3)
        .to("cuda", torch.bfloat16)
        .eval()
    )
    model.config._attn_implementation = "sdpa"
    items = random_samples(320, n=8, seed=4)
    with torch.no_grad():
        alone = 0.0
        for item in items:
            batch = {
                k: v.cuda()
                for k, v in collate([item]).items()
                if k in ("input_ids", "labels", "position_ids")
            }
            alone += float(supervised_loss(model, batch)[0])
        assert attention.register("auto", "cuda") == "varlen"
        attention.use_packed_attention(model)
        row = {k: v.cuda() if hasattr(v, "cuda") else v for k, v in collate(items).items()}
        packed = float(supervised_loss(model, row)[0])
    assert abs(packed - alone) / alone < 1e-3


def question_samples(n: int) -> list[Sample]:
    """``n`` short question/answer samples of character X, one in eight held out."""
    return [
        Sample(
            id=f"s{i}",
            character="X",
            system="You are X.",
            split="eval" if i % 8 == 0 else "train",
            turns=[
                Turn("user", f"question {i} " * (1 + i % 5)),
                Turn("assistant", f"answer {i} " * (2 + i % 7)),
            ],
        )
        for i in range(n)
    ]


def test_a_run_on_the_gpu_logs_telemetry_and_finishes(tmp_path):
    from studio_models.tiny import TinyAdapter

    from studio.train.recipe import run
    from studio.train.runconfig import RunConfig

    adapter = TinyAdapter("tiny-qwen2", "qwen2")
    samples = question_samples(64)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = RunConfig(
        model={"name": "tiny-qwen2", "source": "tiny", "cache_dir": str(tmp_path / "cache")},
        persona="You are X.",
        tokens_per_batch=1024,
        max_length=512,
        epochs=2,
        eval_every=4,
        save_every=4,
        lora_dropout=0.0,
    )
    rundir = RunDir(run_dir)
    rundir.write_config(config.__dict__)
    rundir.write_samples(samples)
    assert run(run_dir, adapters={adapter.name: adapter}) == 0
    events = rundir.events()
    config_event = events[0]
    assert isinstance(config_event, ConfigEvent)
    assert config_event.device.startswith("cuda") and config_event.attention == "varlen"
    assert config_event.dtype == "bfloat16"
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert steps and all(e.gpu["peak_alloc_gb"] > 0 for e in steps)
    assert "util" in steps[-1].gpu and "mem_used_gb" in steps[-1].gpu
    assert steps[-1].loss < steps[0].loss
    assert any(isinstance(e, EvalEvent) for e in events) and events[-1].kind == "finished"
