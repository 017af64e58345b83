"""Provides the dataset subcommands: ``build``, ``export-data`` and ``review``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
from pathlib import Path

from studio.api import Sample
from studio.context import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Context, Subparsers
from studio.dataset.export import FORMATS
from studio.dataset.seed import SeedComparison, comparison_rows
from studio.dataset.service import build_dataset, export_dataset
from studio.dataset.store import STATUSES, DatasetStore
from studio.errors import StudioError
from studio.workspace import Workspace


def register(subparsers: Subparsers) -> None:
    """Add ``build``, ``export-data`` and ``review`` to the command line."""
    add_build_arguments(subparsers.add_parser("build"))
    add_export_arguments(subparsers.add_parser("export-data"))
    add_review_arguments(subparsers.add_parser("review"))


def _rel(ws: Workspace, path: Path) -> str:
    try:
        return str(path.relative_to(ws.root))
    except ValueError:
        return str(path)


# -- build -----------------------------------------------------------------------------------


def add_build_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("workspace")
    p.add_argument(
        "--character",
        default="",
        help="build for this character instead of studio.toml's (without identity samples: "
        "the persona card is about studio.toml's character)",
    )
    p.add_argument(
        "--mode",
        choices=("single", "multi"),
        default="",
        help="one exchange per sample, or scene windows",
    )
    p.add_argument(
        "--history-turns", type=int, default=0, metavar="N", help="multi mode: exchanges of history"
    )
    p.add_argument(
        "--speaker-in-prompt",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="put the interlocutor's name in the user turn (皇帝：…)",
    )
    p.add_argument(
        "--show", type=int, default=0, metavar="N", help="print N samples picked at random (seeded)"
    )
    p.add_argument(
        "--compare-seed",
        action="store_true",
        help="apply the seed recipe's rule to the same files and count what it loses, by reason",
    )
    p.add_argument("--dry-run", action="store_true", help="build and report, write nothing")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=run_build)


def run_build(ctx: Context) -> int:
    """``persona-studio build WORKSPACE``: (re)build the dataset, print what was kept and dropped.

    Returns:
        0; 1 when no sample of the character was built; 2 when a corpus file could not be read
        (what was built from the others is written all the same).
    """
    args = ctx.args
    ws = ctx.workspace(lock=not args.dry_run)
    try:
        cfg = ws.config
        if args.character and args.character != cfg.character.name:
            # the persona card describes studio.toml's character: no identity answers from it
            # for another one
            cfg.character.name, cfg.character.aliases = args.character, []
            cfg.dataset.identity_samples = False
        if args.mode:
            cfg.dataset.mode = args.mode
        if args.history_turns:
            cfg.dataset.history_turns = args.history_turns
        if args.speaker_in_prompt is not None:
            cfg.dataset.speaker_in_prompt = args.speaker_in_prompt
        result = build_dataset(
            ws, ctx.host.parsers, write=not args.dry_run, compare_seed=args.compare_seed
        )
    finally:
        ws.unlock()
    for error in result.errors:
        ctx.error(error)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    report = result.report
    status = (
        EXIT_USAGE
        if result.errors
        else (EXIT_OK if report.samples - report.identity > 0 else EXIT_FAILED)
    )
    if args.json:
        payload = {
            "report": dataclasses.asdict(report),
            "seconds": round(result.seconds, 3),
            "kept_decisions": result.kept_decisions,
            "orphaned_decisions": result.orphaned_decisions,
        }
        if result.seed is not None:
            payload["seed"] = [list(row) for row in comparison_rows(result.seed)]
        print(json.dumps(payload, ensure_ascii=False, indent=2))
        return status
    print(
        f"{result.character}: {report.character_lines} utterances → {report.replies} replies "
        f"({report.merged_lines} merged into the reply before them) → {report.samples} "
        f"samples, mode {report.mode}"
    )
    print(
        f"  split by scene: {report.train} train / {report.eval} eval samples; "
        f"{report.eval_units} of {report.units} scenes held out"
        + (
            f" ({report.windowed_scenes} long scenes cut into windows)"
            if report.windowed_scenes
            else ""
        )
    )
    if report.identity:
        print(f"  identity samples from the persona card: {report.identity}")
    if cfg.dataset.eval_fraction > 0 and not report.eval and report.samples > report.identity:
        print(
            f"  note: no eval split: the character's samples come from {report.units} scene(s) only"
        )
    for reason, count in sorted(report.dropped.items(), key=lambda kv: -kv[1]):
        example = report.examples.get(reason, [""])[0]
        print(f"  dropped {count:>6}  {reason}" + (f"   e.g. {example}" if example else ""))
    print(
        f"  time {result.seconds:.2f}s (parse {result.parse_seconds:.2f}s, "
        f"build {result.build_seconds:.2f}s)"
    )
    if args.dry_run:
        print("  dry run: nothing written")
    else:
        gone = (
            f" ({result.orphaned_decisions} on samples no longer built, kept in the journal)"
            if result.orphaned_decisions
            else ""
        )
        print(
            f"  kept {result.kept_decisions} review decisions{gone}; "
            f"written to {_rel(ws, result.folder)}/"
        )
    if result.seed is not None:
        _print_seed(result.seed)
    if args.show:
        corpus = [s for s in result.samples if s.provenance.get("kind") == "corpus"]
        picks = random.Random(cfg.dataset.seed).sample(corpus, min(args.show, len(corpus)))
        identity = [s for s in result.samples if s.provenance.get("kind") == "identity"][:2]
        for sample in picks + identity:
            print()
            print_sample(sample)
    return status


def _print_seed(seed: SeedComparison) -> None:
    print("\nthe seed recipe's rule on the same files (counts are lines of the character):")
    section = ""
    for name, reason, count in comparison_rows(seed):
        if name != section:
            print(f"  {name}")
            section = name
        example = seed.examples.get(reason, [""])[0]
        print(f"    {count:>6}  {reason}" + (f"   e.g. {example}" if example else ""))


def print_sample(sample: Sample, width: int = 0) -> None:
    """Print one sample: id, split, status, where it comes from, then its turns."""
    prov = sample.provenance or {}
    sources = prov.get("sources") or []
    where = ""
    if sources:
        lines = [s.get("line") for s in sources]
        where = f"{sources[0].get('file')}:{min(lines)}-{max(lines)}"
    origin = prov.get("kind", "")
    if origin == "augment":
        origin += f":{prov.get('strategy', '')}"
    print(f"[{sample.id}] {sample.split} {sample.status} {origin} {where}".rstrip())
    pad = max(4, len(sample.character))  # the whole name: JULIET, not JULI
    for turn in sample.turns:
        label = "user" if turn.role == "user" else sample.character
        text = turn.content.replace("\n", "\n" + " " * (pad + 4))
        if width and len(text) > width:
            text = text[: width - 1] + "…"
        print(f"  {label:<{pad}}> {text}")


# -- export ----------------------------------------------------------------------------------


def add_export_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("workspace")
    p.add_argument(
        "--format",
        action="append",
        default=[],
        metavar="FORMAT",
        help=f"one of {', '.join(FORMATS)} or all (repeat or comma-separate for several)",
    )
    p.add_argument(
        "--out", default="", metavar="DIR", help="output folder (default: WORKSPACE/exports/data)"
    )
    p.add_argument(
        "--name",
        default="",
        help="dataset name in file names and dataset_info.json (default: the character)",
    )
    p.add_argument("--reviewed", action="store_true", help="only accepted and edited samples")
    p.add_argument("--bare", action="store_true", help="rows without the provenance columns")
    p.set_defaults(handler=run_export)


def run_export(ctx: Context) -> int:
    """``persona-studio export-data WORKSPACE --format F --out DIR``."""
    args = ctx.args
    formats: list[str] = []
    for item in args.format or ["alpaca"]:
        for name in item.split(","):
            name = name.strip()
            if name == "all":
                formats += [f for f in FORMATS if f not in formats]
            elif name and name not in formats:
                formats.append(name)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise StudioError(
            f"--format {', '.join(unknown)}: expected one of {', '.join(FORMATS)} or all"
        )
    ws = ctx.workspace()
    out = Path(args.out) if args.out else ws.exports_dir / "data"
    result = export_dataset(
        ws, out, formats, name=args.name, reviewed_only=args.reviewed, bare=args.bare
    )
    for fmt, splits in result.files.items():
        for split, (path, rows) in splits.items():
            print(f"{fmt:<9} {split:<5} {rows:>7} rows  {path}")
    if result.dataset_info is not None:
        print(f"LLaMA-Factory: {result.dataset_info} (dataset_dir {result.folder})")
    return 0


# -- review ----------------------------------------------------------------------------------


def add_review_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("workspace")
    what = p.add_argument_group("decide (written to the journal at once)")
    what.add_argument("--accept", action="append", default=[], metavar="ID")
    what.add_argument("--reject", action="append", default=[], metavar="ID")
    what.add_argument(
        "--reset", action="append", default=[], metavar="ID", help="back to pending, edits dropped"
    )
    what.add_argument(
        "--edit", default="", metavar="ID", help="edit a sample (with --reply and/or --prompt)"
    )
    what.add_argument("--reply", default=None, help="the edited reply")
    what.add_argument("--prompt", default=None, help="the edited last user turn")
    what.add_argument(
        "--undo", type=int, default=0, metavar="N", help="take back the last N decisions"
    )
    what.add_argument(
        "--all",
        choices=("accept", "reject", "reset"),
        default="",
        help="apply to every sample the filters select (one decision, one undo)",
    )
    look = p.add_argument_group("look")
    look.add_argument("--list", action="store_true", help="list samples (with the filters below)")
    look.add_argument("--show", default="", metavar="ID", help="print one sample")
    look.add_argument("--status", default="", help="filter: pending, accepted, rejected or edited")
    look.add_argument("--split", default="", choices=("", "train", "eval"))
    look.add_argument("--kind", default="", choices=("", "corpus", "identity", "augment"))
    look.add_argument("--search", default="", help="filter: text in any turn or the scene")
    look.add_argument("--limit", type=int, default=20)
    p.set_defaults(handler=run_review)


def run_review(ctx: Context) -> int:
    """``persona-studio review WORKSPACE``: counts, listing and decisions from the command line."""
    args = ctx.args
    if args.status and args.status not in STATUSES:
        raise StudioError(f"--status {args.status}: expected one of {', '.join(STATUSES)}")
    writes = bool(args.accept or args.reject or args.reset or args.edit or args.undo or args.all)
    ws = ctx.workspace(lock=writes)
    try:
        store = DatasetStore(ws.dataset_dir())
        if not store.exists():
            raise StudioError(
                f"{store.samples_path}: no dataset yet; build it with: "
                f"persona-studio build {ws.root}"
            )
        filters = {
            "status": args.status or None,
            "split": args.split or None,
            "kind": args.kind or None,
            "text": args.search,
        }
        for action, ids in (
            ("accept", args.accept),
            ("reject", args.reject),
            ("reset", args.reset),
        ):
            for sample_id in ids:
                _known(store, sample_id)
                store.record(action, sample_id)
                print(f"{action}: {sample_id}")
        if args.edit:
            _known(store, args.edit)
            if args.reply is None and args.prompt is None:
                raise StudioError("--edit needs --reply TEXT and/or --prompt TEXT")
            store.record("edit", args.edit, args.reply, prompt=args.prompt)
            print(f"edit: {args.edit}")
        if args.all:
            hits = store.find(**filters)
            if hits:
                store.record_many(args.all, [s.id for s in hits])
            print(f"{args.all}: {len(hits)} samples (one decision; --undo 1 takes it back)")
        for _ in range(args.undo):
            undone = store.undo()
            if undone is None:
                print("nothing left to undo")
                break
            target = undone.get("id") or f"{len(undone.get('ids', []))} samples"
            print(f"undone: {undone['action']} {target}")
    finally:
        ws.unlock()
    if args.show:
        sample = store.get(args.show)
        if sample is None:
            raise StudioError(f"no sample {args.show} in {store.samples_path}")
        print_sample(sample)
        return 0
    if args.list:
        hits = store.find(**filters)
        for sample in hits[: args.limit]:
            print_sample(sample, width=100)
        if len(hits) > args.limit:
            print(f"… {len(hits) - args.limit} more (--limit)")
        return 0
    if not writes:
        _summary(store)
    return 0


def _known(store: DatasetStore, sample_id: str) -> None:
    if sample_id not in store:
        raise StudioError(f"no sample {sample_id} in {store.samples_path}")


def _summary(store: DatasetStore) -> None:
    for split in ("train", "eval"):
        counts = store.status_counts(split)
        print(f"{split:<5} " + "  ".join(f"{status} {count}" for status, count in counts.items()))
    orphaned = store.orphaned()
    if orphaned:
        print(
            f"{len(orphaned)} decisions on samples the last build no longer makes "
            "(kept, not applied)"
        )
    print("reply length (chars):")
    rows = store.length_histogram()
    top = max((count for _, _, count in rows), default=0) or 1
    for low, high, count in rows:
        label = f"{low}-{high - 1}" if high is not None else f"{low}+"
        print(f"  {label:>8} {count:>7} {'█' * round(30 * count / top)}")
