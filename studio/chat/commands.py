"""Provides ``persona-studio chat``: a REPL with the character, or one reply with ``--prompt``."""

from __future__ import annotations

import argparse
import sys

from studio.chat.persona import load_persona
from studio.chat.repl import chat_repl, print_turn
from studio.chat.session import SAMPLING_PRESETS
from studio.context import EXIT_OK, Context, Subparsers
from studio.train.rundir import list_runs


def register(subparsers: Subparsers) -> None:
    """Add ``chat`` to the command line."""
    p = subparsers.add_parser("chat")
    p.add_argument("workspace")
    p.add_argument("--run", default="")
    p.add_argument(
        "--checkpoint",
        type=int,
        default=None,
        help="a checkpoint step (-1: latest) instead of the final adapter",
    )
    p.add_argument("--base", action="store_true", help="the base model without an adapter")
    p.add_argument("--prompt", default=None)
    p.add_argument("--sampling", default="balanced", choices=("greedy", "balanced", "creative"))
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument(
        "--merge",
        action="store_true",
        help="fold the adapter into the weights (faster; no /base switch)",
    )
    p.add_argument(
        "--fast",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="static KV cache + compiled decoding (default: on for CUDA)",
    )
    p.add_argument(
        "--memory",
        type=int,
        default=0,
        metavar="K",
        help="retrieve her K most similar real train-split exchanges into each turn's prompt "
        "(default: 0, off)",
    )
    p.add_argument(
        "--stats",
        action="store_true",
        help="print tokens, time to first token and tokens/s per reply",
    )
    p.set_defaults(handler=chat)


def chat(ctx: Context) -> int:
    """``persona-studio chat WORKSPACE``: the newest finished run's adapter, else the newest
    complete checkpoint (or ``--run``, ``--base``); a note says which."""
    args = ctx.args
    if args.memory < 0:
        return ctx.error(f"--memory: expected 0 (off) or more exchanges, got {args.memory}")
    ws = ctx.workspace()
    if not args.base and not args.run and not list_runs(ws):
        return ctx.error(
            f"{ws.root}: no runs yet; train first (persona-studio train {ws.root}) "
            f"or chat with the base model: persona-studio chat {ws.root} --base"
        )
    persona = load_persona(
        ws,
        ctx.host.adapters,
        run=args.run,
        checkpoint=args.checkpoint,
        base=args.base,
        merge=args.merge,
        fast=args.fast,
    )
    if persona.adapter_dir is not None:
        print(f"adapter: {persona.adapter_dir.relative_to(ws.root)}", file=sys.stderr)
    for note in persona.notes:
        print(f"note: {note}", file=sys.stderr)
    session = persona.session(
        sampling=dict(SAMPLING_PRESETS[args.sampling]),
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
        memory=persona.memory(ws, args.memory) if args.memory else None,
    )
    if args.prompt is not None:
        print_turn(session, args.prompt, show_stats=args.stats)
        return EXIT_OK
    return chat_repl(ws, persona, session, show_stats=args.stats)
