"""On a CUDA GPU with bitsandbytes: the QLoRA path as a user runs it, from a model folder
through the family adapter's 4-bit loader to a finished run.

pytest -m gpu tests/gpu          # skipped without CUDA or bitsandbytes
"""

from __future__ import annotations

import pytest
import torch

from studio.api import ModelSpec
from tests.gpu.test_train_gpu import question_samples

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


def _model_folder(tmp_path):
    pytest.importorskip("bitsandbytes")
    from studio_models.tiny import build_model, build_tokenizer

    folder = tmp_path / "tiny-llama"
    tokenizer = build_tokenizer("llama")
    build_model("llama", vocab_size=len(tokenizer), seed=1).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_the_family_loader_gives_nf4_projections_and_a_run_finishes(tmp_path):
    import bitsandbytes as bnb

    from studio.train.base_model import load_for_training
    from studio.train.events import FinishedEvent, StepEvent
    from studio.train.recipe import run
    from studio.train.runconfig import RunConfig
    from studio.train.rundir import RunDir

    folder = _model_folder(tmp_path)
    spec = ModelSpec(name=str(folder), source="local", adapter="llama3")
    from studio_models.families import FAMILIES

    adapter = next(a for a in FAMILIES if a.name == "llama3")
    _, model = load_for_training(
        adapter, spec, dtype=torch.bfloat16, device=torch.device("cuda"), quantization="4bit"
    )
    kinds = {type(m) for m in model.modules()}
    assert bnb.nn.Linear4bit in kinds
    del model

    samples = question_samples(48)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = RunConfig(
        model=spec.__dict__,
        persona="You are X.",
        quantization="4bit",
        dtype="bf16",
        tokens_per_batch=1024,
        max_length=512,
        max_steps=6,
        gradient_checkpointing=True,
        eval_every=3,
        save_every=3,
    )
    rundir = RunDir(run_dir)
    rundir.write_config(config.__dict__)
    rundir.write_samples(samples)
    assert run(run_dir, adapters={"llama3": adapter}) == 0
    events = rundir.events()
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert len(steps) == 6 and all(torch.isfinite(torch.tensor(e.loss)) for e in steps)
    assert isinstance(events[-1], FinishedEvent)
    assert rundir.has_adapter()
