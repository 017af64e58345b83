"""Provides the real small model as a plain folder, and ways to move its GGUF file in pieces.

    python bench/real_model.py split FILE.gguf PIECES/ [--mib 55]   # FILE.gguf → PIECES/part-NN
    python bench/real_model.py join PIECES/ FILE.gguf SHA256         # and check the digest
    python bench/real_model.py folder FILE.gguf OUT/ [--dtype bf16]  # a folder transformers loads

``folder`` de-quantises once (tens of seconds) into a folder with ``config.json``, safetensors
weights, the tokenizer and its chat template; point a workspace's ``[model]`` at it with
``source = "local"``. A model loaded from GGUF cannot ``save_pretrained`` itself, so the folder
is written from a model built from the same config with the loaded weights copied in.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path


def split(src: Path, out: Path, mib: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    size = mib * 1024 * 1024
    with src.open("rb") as handle:
        index = 0
        while chunk := handle.read(size):
            (out / f"part-{index:02d}").write_bytes(chunk)
            index += 1
    print(f"{index} pieces of at most {mib} MiB in {out}; sha256 {digest(src)}")


def digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 24):
            sha.update(chunk)
    return sha.hexdigest()


def join(pieces: Path, dest: Path, sha: str) -> None:
    parts = sorted(pieces.glob("part-*"))
    with dest.open("wb") as handle:
        for part in parts:
            handle.write(part.read_bytes())
    got = digest(dest)
    if got != sha:
        raise SystemExit(f"{dest}: sha256 {got}, expected {sha} ({len(parts)} pieces joined)")
    print(f"{dest}: {len(parts)} pieces, sha256 ok")


def folder(src: Path, out: Path, dtype_name: str) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[dtype_name]
    loaded = AutoModelForCausalLM.from_pretrained(src.parent, gguf_file=src.name, dtype=dtype)
    tokenizer = AutoTokenizer.from_pretrained(src.parent, gguf_file=src.name)
    config = AutoConfig.from_pretrained(src.parent, gguf_file=src.name)
    config.dtype = dtype
    plain = AutoModelForCausalLM.from_config(config, dtype=dtype)
    missing, unexpected = plain.load_state_dict(loaded.state_dict(), strict=False)
    if unexpected or [m for m in missing if "lm_head" not in m]:
        raise SystemExit(f"weights do not fit the config: {missing[:3]} {unexpected[:3]}")
    if getattr(config, "tie_word_embeddings", False):
        plain.tie_weights()
    out.mkdir(parents=True, exist_ok=True)
    plain.save_pretrained(out)
    tokenizer.save_pretrained(out)
    print(f"{out}: {sum(p.numel() for p in plain.parameters()) / 1e6:.0f}M parameters, {dtype}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    one = sub.add_parser("split")
    one.add_argument("file", type=Path)
    one.add_argument("out", type=Path)
    one.add_argument("--mib", type=int, default=55)
    two = sub.add_parser("join")
    two.add_argument("pieces", type=Path)
    two.add_argument("file", type=Path)
    two.add_argument("sha256")
    three = sub.add_parser("folder")
    three.add_argument("file", type=Path)
    three.add_argument("out", type=Path)
    three.add_argument("--dtype", default="bf16", choices=("bf16", "fp16", "fp32"))
    args = parser.parse_args()
    if args.verb == "split":
        split(args.file, args.out, args.mib)
    elif args.verb == "join":
        join(args.pieces, args.file, args.sha256)
    else:
        folder(args.file, args.out, args.dtype)
    return 0


if __name__ == "__main__":
    sys.exit(main())
