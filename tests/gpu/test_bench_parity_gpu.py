"""On a CUDA GPU: the training bench's parity checks on the timed configurations in bf16.

pytest -m gpu tests/gpu/test_bench_parity_gpu.py          # skipped without CUDA
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from train_models import varlen_implementation  # noqa: E402
from train_parity import BF16_TOL, c_parity, isolation  # noqa: E402

from tests.unit.test_bench_train_parity import samples  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


def test_c_compiled_preset_matches_plain_peft_at_the_real_layer_count():
    """32 layers at width 256, the GPU preset's settings in bf16, compiled, rows padded."""
    out = c_parity("llama-8b-narrow", torch.device("cuda"), samples(24, vocab=128256))
    print(out)
    assert out["n_grads"] == 32 * 2 * 7
    assert out["tol_loss"] >= BF16_TOL["loss"] and out["tol_grad"] >= BF16_TOL["grad"]
    assert out["ok"], out


def test_transformers_varlen_path_isolates_samples_on_cuda():
    attn = varlen_implementation(torch.device("cuda"))
    out = isolation("tiny", torch.device("cuda"), samples(8, seed=2), attn, init=0.3)
    assert out["rel"] < (1e-2 if out["dtype"] == "bfloat16" else 1e-5)
    assert out["leak"] > 10 * out["rel"]
