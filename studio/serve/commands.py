"""Provides ``persona-studio serve``: the character behind an OpenAI-compatible API."""

from __future__ import annotations

import argparse
import os
import sys

from studio.chat.persona import load_persona
from studio.context import EXIT_OK, Context, Subparsers
from studio.errors import StudioError
from studio.serve.openai_schema import MAX_MEMORY
from studio.serve.server import PersonaServer, is_loopback
from studio.train.base_model import resolve_device


def register(subparsers: Subparsers) -> None:
    """Add ``serve`` to the command line."""
    p = subparsers.add_parser("serve")
    p.add_argument("workspace")
    p.add_argument("--run", default="", help="run id (default: the newest)")
    p.add_argument(
        "--checkpoint",
        type=int,
        default=None,
        help="a checkpoint step (-1: latest) instead of the final adapter",
    )
    p.add_argument("--base", action="store_true", help="serve the base model without an adapter")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--api-key",
        default="",
        help="require this bearer key (default: $PERSONA_STUDIO_API_KEY, or none)",
    )
    p.add_argument(
        "--model-name", default="", help="the model id clients use (default: the run id)"
    )
    p.add_argument(
        "--max-tokens-cap",
        type=int,
        default=2048,
        help="the largest max_tokens a request may ask for",
    )
    p.add_argument(
        "--merge",
        action="store_true",
        help="fold the adapter into the weights (no <id>:base model)",
    )
    p.add_argument(
        "--fast",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="static KV cache + compiled decoding (default: on for CUDA)",
    )
    p.add_argument(
        "--max-batch",
        type=int,
        default=32,
        help="requests decoding together (continuous batching); 1 serialises them",
    )
    p.add_argument(
        "--memory",
        type=int,
        default=0,
        help="her real train-split exchanges retrieved into each prompt, unless a request's "
        "'memory' field says otherwise (default: 0, off)",
    )
    p.add_argument("--quiet", action="store_true", help="no access log")
    p.set_defaults(handler=serve)


def serve(ctx: Context) -> int:
    """``persona-studio serve WORKSPACE``: load the persona, bind, serve until Ctrl-C."""
    args = ctx.args
    if args.max_batch < 1:
        return ctx.error(f"--max-batch: expected 1 or more, got {args.max_batch}")
    if not 0 <= args.memory <= MAX_MEMORY:
        return ctx.error(f"--memory: expected 0 to {MAX_MEMORY} exchanges, got {args.memory}")
    ws = ctx.workspace()
    api_key = args.api_key or os.environ.get("PERSONA_STUDIO_API_KEY", "")
    if not is_loopback(args.host) and not api_key:
        ctx.warn(
            f"serving on {args.host} without an API key: anyone who can reach this port can "
            "use it; set --api-key or PERSONA_STUDIO_API_KEY"
        )
    fast = args.fast if args.fast is not None else resolve_device().type == "cuda"
    persona = load_persona(
        ws,
        ctx.host.adapters,
        run=args.run,
        checkpoint=args.checkpoint,
        base=args.base,
        merge=args.merge,
        # the compiled single-request engine serves only --max-batch 1; the batched one has its own
        fast=fast and args.max_batch == 1,
    )
    for note in persona.notes:
        print(f"note: {note}", file=sys.stderr)
    try:
        memory = persona.memory(ws, args.memory)
    except StudioError as exc:
        if args.memory:
            return ctx.error(str(exc))
        memory = None  # requests asking for memory are refused with a 400
    if fast and args.max_batch > 1:
        print(
            f"note: compiling the batched decode step for 1 to {args.max_batch} requests before "
            "listening (minutes for a large model; --no-fast skips it and decodes eagerly)",
            file=sys.stderr,
            flush=True,
        )
    try:
        server = PersonaServer(
            (args.host, args.port),
            persona,
            api_key=api_key,
            model_name=args.model_name,
            max_tokens_cap=args.max_tokens_cap,
            log=None if args.quiet else sys.stderr,
            max_batch=args.max_batch,
            fast=fast,
            memory=memory,
            memory_default=args.memory,
        )
    except OSError as exc:
        return ctx.error(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    if server.warmup_s:
        print(f"note: compiled in {server.warmup_s:.0f}s", file=sys.stderr)
    print(
        f"serving {persona.character} ({persona.label}) at {server.url}  models: "
        f"{', '.join(server.models)}" + ("  (API key required)" if api_key else ""),
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.server_close()
    return EXIT_OK
