"""Provides the GGUF round-trip table: each type written by ``export --gguf``, read back, compared.

    python bench/gguf_roundtrip.py                     # tiny Qwen2 and Llama, 2 training steps
    python bench/gguf_roundtrip.py --workspace WS ...  # also a workspace's newest run

For every model and type it runs the export (which refuses a file outside tolerance) and prints
max |Δlogit| against the merged model, that difference relative to the largest logit, the
tolerance, top-1 agreement over all positions of the probe prompts, the file size and the time,
and whether the Ollama template rendered the studio chat's two-turn prompt token for token.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tiny_workspace(root: Path, model: str) -> Path:
    """The shipped workspace on a tiny model, built and trained for two steps."""
    from studio.cli import main

    ws = root / model
    ws.mkdir(parents=True)
    shutil.copy(ROOT / "workspace" / "studio.toml", ws / "studio.toml")
    shutil.copytree(ROOT / "workspace" / "corpus", ws / "corpus")
    toml = ws / "studio.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace('"tiny-qwen2"', f'"{model}"'), encoding="utf-8"
    )
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        if main(["build", str(ws)]) or main(
            ["train", str(ws), "--run", "bench", "--max-steps", "2"]
        ):
            raise SystemExit(f"{ws}: build or train failed")
    return ws


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workspace", action="append", default=[], help="also this workspace (newest run)"
    )
    parser.add_argument("--types", default="f16,bf16,q8_0")
    parser.add_argument("--no-tiny", action="store_true", help="skip the tiny models")
    args = parser.parse_args()

    from studio.export.exporter import export_run
    from studio.plugins import load_host
    from studio.workspace import Workspace

    host = load_host()
    tmp = Path(tempfile.mkdtemp(prefix="gguf-bench-"))
    spaces = (
        []
        if args.no_tiny
        else [
            ("tiny Qwen2", tiny_workspace(tmp, "tiny-qwen2")),
            ("tiny Llama", tiny_workspace(tmp, "tiny-llama")),
        ]
    )
    spaces += [(Path(w).name, Path(w)) for w in args.workspace]
    print(
        "| model | type | max abs Δlogit | relative | tolerance | top-1 agreement | positions "
        "| file MiB | Ollama prompt | s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label, ws in spaces:
        for qtype in args.types.split(","):
            start = time.perf_counter()
            with contextlib.redirect_stderr(io.StringIO()):
                result = export_run(
                    Workspace(ws), host.adapters, gguf=qtype, out=tmp / "out" / label
                )
            seconds = time.perf_counter() - start
            report = result.logits[0]
            same = any("renders the studio chat's" in check for check in result.checks)
            prompt = "same tokens" if same else "-"
            size = result.gguf.stat().st_size / 2**20 if result.gguf else 0.0
            print(
                f"| {label} | {qtype} | {report.max_abs:.4f} | {report.relative:.2e} "
                f"| {report.tolerance:.0e} | {report.top1:.1%} | {report.positions} | {size:.1f} "
                f"| {prompt} | {seconds:.0f} |"
            )
            sys.stdout.flush()
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
