"""``bench/real_model.py``: a GGUF file moved in pieces, and made a plain model folder."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import real_model  # noqa: E402

from studio.cli import main  # noqa: E402


def test_pieces_join_back_to_the_same_bytes_and_a_wrong_digest_stops(tmp_path, capsys):
    src = tmp_path / "model.gguf"
    src.write_bytes(bytes(range(256)) * 9000)  # 2.2 MiB: three pieces of 1 MiB
    real_model.split(src, tmp_path / "pieces", mib=1)
    assert len(list((tmp_path / "pieces").glob("part-*"))) == 3
    sha = real_model.digest(src)
    real_model.join(tmp_path / "pieces", tmp_path / "joined.gguf", sha)
    assert (tmp_path / "joined.gguf").read_bytes() == src.read_bytes()
    (tmp_path / "pieces" / "part-01").unlink()
    with pytest.raises(SystemExit, match="sha256"):
        real_model.join(tmp_path / "pieces", tmp_path / "broken.gguf", sha)


def test_a_gguf_file_becomes_a_folder_with_the_same_logits_and_chat_template(
    persona_run, host, capsys, tmp_path
):
    ws = persona_run.parent.parent
    assert main(["export", str(ws), "--gguf", "--type", "f16"]) == 0
    gguf = ws / "exports" / "r1" / "gguf-f16" / "r1-f16.gguf"
    real_model.folder(gguf, tmp_path / "plain", "fp32")
    from_gguf = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    plain = AutoModelForCausalLM.from_pretrained(str(tmp_path / "plain"), dtype=torch.float32)
    ids = torch.tensor([[1, 5, 9, 42, 7, 3]])
    with torch.no_grad():
        assert torch.equal(from_gguf(ids).logits, plain(ids).logits)
    messages = [{"role": "user", "content": "你是谁？"}]
    tokenizers = [
        AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name),
        AutoTokenizer.from_pretrained(str(tmp_path / "plain")),
    ]
    rendered = [t.apply_chat_template(messages, tokenize=False) for t in tokenizers]
    assert rendered[0] == rendered[1] and "你是谁？" in rendered[0]
