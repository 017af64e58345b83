"""Provides ``persona-studio augment``: run, resume and list augmentation jobs from the shell.

    persona-studio augment WORKSPACE                     list strategies and their options
    persona-studio augment WORKSPACE fewshot --opt count=20
    persona-studio augment WORKSPACE --jobs              jobs of the dataset and how far they got

Running the same command again resumes an interrupted job. Ctrl-C stops it cleanly (a second
Ctrl-C stops at once); what finished is kept either way.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from studio.augment.journal import list_jobs
from studio.augment.pipeline import run_augment
from studio.augment.report import AugmentProgress, AugmentReport
from studio.context import EXIT_INTERRUPTED, EXIT_OK, Context, Subparsers, parse_options
from studio.plugins import PluginHost
from studio.workspace import Workspace


def register(subparsers: Subparsers) -> None:
    """Add ``augment`` to the command line."""
    add_arguments(subparsers.add_parser("augment"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``augment`` subcommand's arguments."""
    parser.add_argument("workspace")
    parser.add_argument("strategy", nargs="?", default="", help="strategy name; none lists them")
    parser.add_argument(
        "--opt", action="append", default=[], metavar="NAME=VALUE", help="strategy option"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of every choice (another seed: another job)"
    )
    parser.add_argument(
        "--job",
        default="",
        help="name the job (default: derived from strategy, options, seed, model)",
    )
    parser.add_argument(
        "--base-url", default=None, help="OpenAI-compatible endpoint (overrides [augment] base_url)"
    )
    parser.add_argument("--model", default=None, help="model name (overrides [augment] model)")
    parser.add_argument(
        "--adapter", default=None, help="local model only: a run's LoRA adapter, or 'latest'"
    )
    parser.add_argument(
        "--concurrency", type=int, default=None, help="requests in flight (overrides [augment])"
    )
    parser.add_argument("--show", type=int, default=3, help="kept proposals to print at the end")
    parser.add_argument(
        "--jobs", action="store_true", help="list the dataset's jobs instead of running one"
    )
    parser.set_defaults(handler=augment)


def _list_strategies(host: PluginHost) -> int:
    for name, augmenter in sorted(host.augmenters.items()):
        llm = "LLM" if getattr(augmenter, "needs_llm", False) else "no model"
        print(f"{name:<12} {llm:<9} {getattr(augmenter, 'description', '')}")
        for option in getattr(augmenter, "options", ()):
            print(f"    {option.name + '=' + repr(option.default):<24} {option.description}")
    return 0


def _list_jobs(ws: Workspace) -> int:
    jobs = list_jobs(ws.dataset_dir())
    if not jobs:
        print("no augmentation jobs yet")
    for job_id, state in jobs:
        header = state.header or {}
        counts = state.last_counts
        done = len(state.committed)
        total = counts.get("items", "?")
        status = state.ended or "interrupted"
        if status == "finished" and done < (total if isinstance(total, int) else 0):
            status = "incomplete"
        kept = sum(state.committed.values())
        print(
            f"{job_id:<28} {status:<11} items {done}/{total}  kept {kept}  "
            f"failed {len(state.failed)}  "
            f"runs {state.runs}  options {header.get('options', {})}"
        )
    return 0


def _print_report(report: AugmentReport, ws: Workspace, show: int) -> None:
    backend = report.backend or {"backend": "none"}
    where = backend.get("base_url") or backend.get("adapter") or ""
    print(
        f"job {report.job_id} ({report.status}); backend {backend.get('backend')} "
        f"{backend.get('model', '')} {where}".rstrip()
    )
    print(
        f"items {report.items}: {report.skipped} done earlier, {report.replayed} replayed from "
        "the journal, "
        f"{report.ran} run now, {report.failed} failed"
    )
    print(f"{'filter':<32}{'dropped':>8}{'left':>8}")
    rows = report.funnel()
    print(f"{'proposed':<32}{'':>8}{rows[0][1]:>8}")
    for reason, left in rows[1:]:
        print(f"{reason:<32}{report.dropped.get(reason, 0):>8}{left:>8}")
    print(f"off-persona filter: {report.persona_filter}")
    if report.llm is not None:
        stats = report.llm
        print(
            f"llm: {stats.requests} requests, {stats.retries} retries, {stats.failures} failed "
            "attempts, "
            f"{stats.seconds:.1f}s waiting; job {report.seconds:.1f}s"
        )
    store = ws.dataset_dir() / "samples.jsonl"
    print(
        f"kept {report.kept} as pending samples in {store.relative_to(ws.root)}; "
        "review them before training"
    )
    for sample in report.new_samples[:show]:
        print(f"  [{sample.id}] {_exchange(sample)}")
    if report.rejected and show:
        print("dropped, for example:")
        for reason, sample in report.rejected[:show]:
            print(f"  [{reason}] {_exchange(sample)}")
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
    if report.failed:
        print(
            f"{report.failed} items failed; run the same command again to retry them",
            file=sys.stderr,
        )
    if report.status == "cancelled":
        print("cancelled; run the same command again to resume", file=sys.stderr)


def _exchange(sample: Any, limit: int = 200) -> str:
    """The generated turns on one line, control characters made visible."""
    turns = sample.turns[int(sample.provenance.get("generated_from", 0) or 0) :]
    text = " / ".join(f"{t.role[0].upper()}: {t.content}" for t in turns)
    text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
    return text if len(text) <= limit else text[:limit] + "…"


def augment(ctx: Context) -> int:
    """``persona-studio augment WORKSPACE [STRATEGY]``: list strategies or jobs, or run a job."""
    args = ctx.args
    ws = ctx.workspace()
    host = ctx.host
    if args.jobs:
        return _list_jobs(ws)
    if not args.strategy:
        return _list_strategies(host)
    options = parse_options(args.opt)
    cfg = ws.config.augment
    if args.base_url is not None:
        cfg.base_url = args.base_url
    if args.model is not None:
        cfg.model = args.model
    if args.adapter is not None:
        cfg.adapter = args.adapter
    if args.concurrency is not None:
        cfg.concurrency = max(1, args.concurrency)
    ws.lock()
    stop = threading.Event()

    def on_interrupt(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print(
            "\nstopping after the items in flight… (Ctrl-C again to stop at once)", file=sys.stderr
        )

    previous = (
        signal.signal(signal.SIGINT, on_interrupt)
        if threading.current_thread() is threading.main_thread()
        else None
    )
    tty = sys.stderr.isatty()
    shown = {"done": -1}

    def progress(p: AugmentProgress) -> None:
        step = max(1, p.total // 10)
        if p.done == shown["done"] or not (tty or p.done % step == 0 or p.done == p.total):
            return
        shown["done"] = p.done
        line = f"[{p.done}/{p.total}] kept {p.kept}  dropped {p.dropped}  failed {p.failed}"
        print(("\r" + line) if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)

    try:
        report = run_augment(
            ws,
            args.strategy,
            options,
            seed=args.seed,
            host=host,
            job_id=args.job or None,
            progress=progress,
            cancelled=stop.is_set,
        )
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        if tty:
            print(file=sys.stderr)
        ws.unlock()
    _print_report(report, ws, args.show)
    return EXIT_INTERRUPTED if report.status == "cancelled" else EXIT_OK


__all__ = ["add_arguments", "augment", "register"]
