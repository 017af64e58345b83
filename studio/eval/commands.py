"""Provides ``persona-studio eval``: base vs adapter on the held-out scenes, as a table."""

from __future__ import annotations

import sys

from studio.context import EXIT_OK, Context, Subparsers
from studio.eval.evaluate import evaluate_run
from studio.eval.report import format_report
from studio.train.rundir import pick_run


def register(subparsers: Subparsers) -> None:
    """Add ``eval`` to the command line."""
    p = subparsers.add_parser("eval")
    p.add_argument("workspace")
    p.add_argument("--run", default="", help="run id (default: the newest finished run)")
    p.add_argument(
        "--checkpoint",
        type=int,
        default=None,
        help="a checkpoint step (-1: latest) instead of the final adapter",
    )
    p.add_argument(
        "--limit", type=int, default=0, help="at most this many held-out items (default: all)"
    )
    p.add_argument("--max-new-tokens", type=int, default=96)
    p.add_argument("--sampling", default="greedy", choices=("greedy", "balanced", "creative"))
    p.add_argument("--examples", type=int, default=3, help="example items to print")
    p.set_defaults(handler=evaluate)


def evaluate(ctx: Context) -> int:
    """``persona-studio eval WORKSPACE``: evaluate, print the table, say where the report is."""
    args = ctx.args
    ws = ctx.workspace()
    picked, why = pick_run(ws, args.run, checkpoint=args.checkpoint)  # say which before loading
    if why:
        print(f"note: {why}", file=sys.stderr)
    host = ctx.host
    last = {"phase": ""}

    def progress(phase: str, done: int, total: int) -> None:
        if sys.stderr.isatty():
            print(f"\r{phase} {done}/{total}   ", end="", file=sys.stderr, flush=True)
        elif phase != last["phase"]:
            print(f"{phase} ({total})", file=sys.stderr, flush=True)
        last["phase"] = phase

    report = evaluate_run(
        ws,
        host.adapters,
        host.parsers,
        run=picked.name,
        checkpoint=args.checkpoint,
        limit=args.limit,
        max_new_tokens=args.max_new_tokens,
        sampling=args.sampling,
        progress=progress,
    )
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(format_report(report, examples=args.examples))
    print(f"\nwritten to {picked.eval_dir.relative_to(ws.root)}/", file=sys.stderr)
    return EXIT_OK
