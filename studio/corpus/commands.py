"""Provides the corpus subcommands: ``parse`` (files into utterances) and ``roster``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from studio.api import Utterance
from studio.context import EXIT_OK, Context, Subparsers, parse_options
from studio.corpus.inspect import (
    alias_suggestions,
    build_roster,
    parse_file,
    unassigned_lines,
)
from studio.corpus.load import load_utterances
from studio.errors import StudioError
from studio.workspace import CONFIG_NAME


def register(subparsers: Subparsers) -> None:
    """Add ``parse`` and ``roster`` to the command line."""
    p = subparsers.add_parser("parse")
    p.add_argument("files", nargs="+")
    p.add_argument("--parser", default="", help="force a parser (default: the best by sniffing)")
    p.add_argument("--encoding", default="", help="force an encoding (default: detect)")
    p.add_argument("--jsonl", action="store_true", help="one JSON utterance per line")
    p.add_argument("--opt", action="append", default=[], metavar="NAME=VALUE", help="parser option")
    p.add_argument("--max-warnings", type=int, default=20)
    p.set_defaults(handler=parse)

    p = subparsers.add_parser("roster")
    p.add_argument("paths", nargs="+", metavar="FILE_OR_WORKSPACE")
    p.add_argument("--parser", default="")
    p.add_argument("--alias", action="append", default=[], metavar="CANONICAL=ALIAS[,ALIAS]")
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-suggest", action="store_true")
    p.add_argument(
        "--opt",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="parser option (files only)",
    )
    p.set_defaults(handler=roster)


def parse(ctx: Context) -> int:
    """``persona-studio parse FILE...``: a summary per file on stderr, utterances on stdout."""
    args = ctx.args
    options = parse_options(args.opt)
    status = EXIT_OK
    for file in args.files:
        try:
            result = parse_file(
                file, ctx.host.parsers, parser=args.parser, encoding=args.encoding, options=options
            )
        except StudioError as exc:
            status = ctx.error(exc)
            continue
        src = result.source
        newline = {"\n": "LF", "\r\n": "CRLF", "\r": "CR"}[src.newline]
        dialogue = sum(1 for u in result.utterances if u.kind == "dialogue")
        unassigned = sum(1 for u in result.utterances if u.kind == "dialogue" and not u.speaker)
        scenes = len({u.scene for u in result.utterances})
        how = "forced" if args.parser else "sniffed"
        print(
            f"{file}: parser {result.parser} ({how}), encoding {src.encoding}, {newline}, "
            f"{len(result.utterances)} utterances ({dialogue} dialogue, {unassigned} without "
            f"speaker), {scenes} scenes, {len(result.warnings)} warnings",
            file=sys.stderr,
        )
        for warning in result.warnings[: args.max_warnings]:
            print(f"  warning: {warning}", file=sys.stderr)
        if len(result.warnings) > args.max_warnings:
            print(f"  … {len(result.warnings) - args.max_warnings} more warnings", file=sys.stderr)
        out = sys.stdout
        for utt in result.utterances:
            if args.jsonl:
                out.write(json.dumps(utt.to_json(), ensure_ascii=False) + "\n")
            else:
                who = utt.speaker or f"({utt.kind})"
                out.write(f"{utt.line:>6} {who}: {utt.text}\n")
    return status


def roster(ctx: Context) -> int:
    """``persona-studio roster FILE_OR_WORKSPACE...``: speakers by utterances, alias suggestions.

    Returns:
        0, or 2 when a corpus file could not be read (or the workspace has none): the roster
        printed is then incomplete.
    """
    args = ctx.args
    aliases: dict[str, list[str]] = {}
    ignore: list[str] = []
    utterances: list[Utterance] = []
    warnings = 0
    status = EXIT_OK
    for item in args.paths:
        path = Path(item)
        if path.is_dir() and (path / CONFIG_NAME).exists():
            ws = ctx.workspace(item)
            aliases.update(ws.config.aliases())
            ignore += ws.config.roster.ignore
            report = load_utterances(ws, ctx.host.parsers)  # the user's speaker fixes, as build
            for error in report.errors:
                status = ctx.error(error)
            utterances += report.utterances
            warnings += sum(len(r.warnings) for r in report.results)
        else:
            try:
                result = parse_file(
                    item, ctx.host.parsers, parser=args.parser, options=parse_options(args.opt)
                )
            except StudioError as exc:
                return ctx.error(exc)
            utterances += result.utterances
            warnings += len(result.warnings)
    for alias in args.alias:
        if "=" not in alias:
            return ctx.error(f"--alias {alias!r}: expected CANONICAL=ALIAS[,ALIAS]")
        canonical, others = alias.split("=", 1)
        aliases.setdefault(canonical, []).extend(o for o in others.split(",") if o)
    speakers = build_roster(utterances, aliases, ignore)
    unassigned = unassigned_lines(utterances)
    suggestions = [] if args.no_suggest else alias_suggestions(speakers)
    if args.json:
        print(
            json.dumps(
                {
                    "speakers": [r.__dict__ for r in speakers[: args.top]],
                    "total_speakers": len(speakers),
                    "utterances": sum(r.lines for r in speakers),
                    "dialogue_lines": sum(r.lines for r in speakers),
                    "unassigned_lines": unassigned,
                    "warnings": warnings,
                    "suggestions": [s.__dict__ for s in suggestions],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return status
    print(
        f"{len(speakers)} speakers, {sum(r.lines for r in speakers)} utterances "
        f"(+{unassigned} without speaker), {warnings} parse warnings"
    )
    for entry in speakers[: args.top]:
        merged = ", ".join(f"{k} {v}" for k, v in entry.aliases.items() if k != entry.name)
        print(f"{entry.lines:>7}  {entry.name}" + (f"   (merged: {merged})" if merged else ""))
    if suggestions:
        print(
            "\nsuggestions to confirm "
            "(studio.toml [roster] aliases / ignore, [character] narrator):"
        )
        for suggestion in suggestions[:15]:
            if suggestion.reason == "group":
                print(
                    f"  {suggestion.alias}: said together by "
                    f"{suggestion.canonical.replace('+', ', ')} (ignore it?)"
                )
            elif suggestion.reason == "narrator":
                print(
                    f"  {suggestion.alias}: the first-person narrator "
                    "(set [character] narrator = true?)"
                )
            else:
                print(f"  {suggestion.alias} → {suggestion.canonical}   ({suggestion.reason})")
    return status


__all__ = ["parse", "register", "roster"]
