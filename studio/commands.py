"""Provides the studio-wide subcommands: ``init`` (a new workspace) and ``plugins``."""

from __future__ import annotations

import json
from typing import Any

from studio.context import EXIT_OK, Context, Subparsers
from studio.corpus.inspect import corpus_globs
from studio.workspace import create_workspace


def register(subparsers: Subparsers) -> None:
    """Add ``plugins`` and ``init`` to the command line."""
    p = subparsers.add_parser("plugins")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--options",
        action="store_true",
        help="also each parser's and augmenter's options: name, default, what it does",
    )
    p.set_defaults(handler=plugins)

    p = subparsers.add_parser("init")
    p.add_argument("workspace")
    p.add_argument("--character", default="")
    p.set_defaults(handler=init)


def plugins(ctx: Context) -> int:
    """``persona-studio plugins``: each plugin, its state and what it registers."""
    host = ctx.host
    if ctx.args.json:
        print(
            json.dumps(
                [info.__dict__ for info in host.infos.values()], ensure_ascii=False, indent=2
            )
        )
        return EXIT_OK
    registries = {
        "parser": host.parsers,
        "augmenter": host.augmenters,
        "model adapter": host.adapters,
    }
    for info in sorted(host.infos.values(), key=lambda i: i.name):
        state = "blocked" if info.blocked else ("error" if info.error else "ok")
        dist = f"{info.distribution} {info.version}".strip() or "-"
        print(f"{info.name:<12} {state:<7} {dist:<22} {info.module}")
        for item in info.registered:
            kind, name = item.split(":", 1)
            obj = registries[kind].get(name)
            print(f"    {kind:<14} {name:<14} {getattr(obj, 'description', '')}")
            if ctx.args.options:
                for option in getattr(obj, "options", ()):
                    print(f"        {_option_line(option)}")
        if info.error:
            print(f"    error: {info.error}")
    return EXIT_OK


def _option_line(option: Any) -> str:
    """``name = default``, what it does, and its allowed values where it has a fixed set."""
    choices = getattr(option, "choices", ())
    allowed = f" (one of {', '.join(choices)})" if choices else ""
    default = json.dumps(option.default, ensure_ascii=False)
    return f"{option.name} = {default}: {option.description}{allowed}"


def init(ctx: Context) -> int:
    """``persona-studio init WORKSPACE``: a new workspace folder with a studio.toml."""
    ws = create_workspace(
        ctx.args.workspace,
        character=ctx.args.character or "",
        corpus_globs=corpus_globs(ctx.host.parsers),  # only the files some parser reads
    )
    print(f"created {ws.root}; put corpus files in {ws.corpus_dir} and edit {ws.config_path}")
    return EXIT_OK
