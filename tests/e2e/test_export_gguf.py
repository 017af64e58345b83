"""``export --gguf``: the merged persona model as GGUF + Modelfile, read back and compared; the vLLM folder."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from studio.cli import main


@pytest.fixture(params=["tiny-qwen2", "tiny-llama"])
def persona_workspace(request, persona_workspace):
    toml = persona_workspace / "studio.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("tiny-qwen2", request.param), encoding="utf-8")
    return persona_workspace


@pytest.mark.parametrize("qtype", ["f16", "bf16", "q8_0"])
def test_gguf_export_reads_back_and_renders_the_chat_prompt(persona_run, host, capsys, qtype):
    ws = persona_run.parent.parent
    assert main(["export", str(ws), "--gguf", "--type", qtype]) == 0
    out = capsys.readouterr()
    assert f"GGUF {qtype} read back by transformers" in out.err, out.err
    assert "Modelfile TEMPLATE renders the studio chat's" in out.err
    folder = ws / "exports" / "r1" / f"gguf-{qtype}"
    gguf_path = folder / f"r1-{qtype}.gguf"
    assert gguf_path.stat().st_size > 0 and not list(folder.parent.glob(".tmp-*"))
    print(out.err)
