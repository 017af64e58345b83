"""The chat bench's logits check: teacher-forced logits of two engines agree when they compute
the same model and differ when they do not; its table rows run for every variant."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import chat_speed  # noqa: E402

from studio.chat.engine import Engine  # noqa: E402


def test_teacher_forced_logits_agree_for_the_same_model_and_not_for_another():
    torch.set_num_threads(1)
    model = chat_speed.build("tiny", torch.device("cpu"), torch.float32, lora_r=4)
    prompt = list(range(3, 40))
    eager = Engine(model, stop_ids=[])
    static = Engine(model, stop_ids=[], static=True, max_cache_len=256)
    same = chat_speed.agreement(eager, static, prompt, 12)
    assert same["positions"] == 12
    assert same["max_abs_diff"] < 1e-5
    assert same["top1_agree"] == 1.0

    other = chat_speed.build("tiny", torch.device("cpu"), torch.float32, lora_r=4, seed=1)
    differs = chat_speed.agreement(eager, Engine(other, stop_ids=[]), prompt, 12)
    assert differs["max_abs_diff"] > 1e-2


@pytest.mark.slow
def test_every_variant_row_runs_on_the_cpu(tmp_path, capsys):
    out = tmp_path / "chat.json"
    code = chat_speed.main(
        [
            "--device",
            "cpu",
            "--shape",
            "tiny",
            "--prompts",
            "16",
            "--new-tokens",
            "4",
            "--repeat",
            "1",
            "--compile",
            "off",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    import json

    data = json.loads(out.read_text())
    assert data["capacity"] == 4096  # the production cache size, from the engine's rule
    variants = {(r["variant"], r["target"], r["sampling"]) for r in data["rows"]}
    assert len(variants) == 4 * 2 * 2
    assert all(c["top1_agree"] == 1.0 for c in data["logits"])
    assert "| generate static | unmerged | 16 | sampled |" in capsys.readouterr().out
