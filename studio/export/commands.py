"""Provides ``persona-studio export``: adapter, vLLM folder, merged model, GGUF + Modelfile."""

from __future__ import annotations

import sys

from studio.context import EXIT_OK, Context, Subparsers
from studio.export.exporter import export_run


def register(subparsers: Subparsers) -> None:
    """Add ``export`` to the command line."""
    p = subparsers.add_parser("export")
    p.add_argument("workspace")
    p.add_argument("--run", default="", help="run id (default: the newest)")
    p.add_argument(
        "--checkpoint",
        type=int,
        default=None,
        help="a checkpoint step (-1: latest) instead of the final adapter",
    )
    p.add_argument(
        "--merged",
        action="store_true",
        help="also write the merged model (plain transformers loads it)",
    )
    p.add_argument(
        "--dtype",
        default="auto",
        choices=("auto", "bf16", "fp16", "fp32"),
        help="merged weights' precision",
    )
    p.add_argument(
        "--no-verify",
        action="store_true",
        help="skip reloading what was written to check it (logits, prompts)",
    )
    p.add_argument("--out", default="", help="export folder (default: exports/<run>)")
    p.add_argument(
        "--gguf",
        action="store_true",
        help="also write the merged model as GGUF + an Ollama Modelfile (read back to check)",
    )
    p.add_argument(
        "--type",
        default="f16",
        choices=("f16", "bf16", "q8_0"),
        help="GGUF weight type (default: f16)",
    )
    p.set_defaults(handler=export)


def export(ctx: Context) -> int:
    """``persona-studio export WORKSPACE``: write the exports, print each folder, its size,
    the checks and the commands that run it elsewhere."""
    args = ctx.args
    ws = ctx.workspace()
    if not args.run and not ws.runs():
        return ctx.error(
            f"{ws.root}: no runs yet, so no adapter to export; train first: "
            f"persona-studio train {ws.root} (to try the base model without "
            f"training: persona-studio chat {ws.root} --base)"
        )
    result = export_run(
        ws,
        ctx.host.adapters,
        run=args.run,
        checkpoint=args.checkpoint,
        merged=args.merged,
        dtype=args.dtype,
        verify=not args.no_verify,
        out=args.out or None,
        gguf=args.type if args.gguf else "",
    )
    for path in (result.adapter, result.vllm, result.merged, result.gguf and result.gguf.parent):
        if path is not None:
            size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
            print(f"{path}  ({size / 2**20:.1f} MiB)")
    for check in result.checks:
        print(f"  ok: {check}", file=sys.stderr)
    for command in result.commands:
        print(f"  run: {command}")
    return EXIT_OK
