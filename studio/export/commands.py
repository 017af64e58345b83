"""Provides ``persona-studio export``: a run's adapter, merged model and model cards."""

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
        help="skip reloading the merged model to check its logits",
    )
    p.add_argument("--out", default="", help="export folder (default: exports/<run>)")
    p.set_defaults(handler=export)


def export(ctx: Context) -> int:
    """``persona-studio export WORKSPACE``: write the exports, print each folder and its size."""
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
    )
    for path in (result.adapter, result.merged):
        if path is not None:
            size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
            print(f"{path}  ({size / 2**20:.1f} MiB)")
    for check in result.checks:
        print(f"  ok: {check}", file=sys.stderr)
    return EXIT_OK
