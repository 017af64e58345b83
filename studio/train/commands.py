"""Provides the training subcommands: ``train`` (start or resume a run), ``runs`` and ``stop``."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from studio import settings
from studio.context import EXIT_FAILED, EXIT_OK, Context, Subparsers
from studio.train.events import Event
from studio.train.rundir import RunDir, latest_run, list_runs
from studio.train.runner import start, stop


def register(subparsers: Subparsers) -> None:
    """Add ``train``, ``runs`` and ``stop`` to the command line."""
    p = subparsers.add_parser("train")
    p.add_argument("workspace")
    p.add_argument("--run", default="", help="run name (default: timestamp)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue --run (default: the latest) from its last checkpoint",
    )
    p.add_argument("--detach", action="store_true", help="return at once; the run keeps going")
    p.add_argument(
        "--gpus",
        type=int,
        default=1,
        help="processes through torchrun, one per GPU (gloo processes on a CPU-only machine)",
    )
    p.add_argument(
        "--max-steps", type=int, default=0, help="stop after this many steps (smoke tests)"
    )
    p.add_argument(
        "--epochs", type=float, default=0, help="passes over the data (default: studio.toml)"
    )
    p.add_argument(
        "--overlong",
        choices=settings.OVERLONG,
        default="",
        help="samples over max_length: drop them, or split long conversations (default: drop)",
    )
    p.add_argument(
        "--attention",
        choices=settings.KERNELS,
        default="",
        help="packed attention kernel (default: auto)",
    )
    p.add_argument(
        "--parallel",
        choices=settings.PARALLEL,
        default="",
        help="with --gpus: ddp (default) or fsdp (shard a model too big for one GPU)",
    )
    p.add_argument("--compile", action="store_true", help="torch.compile the decoder layers (GPU)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a training setting for this run, over studio.toml and the preset (repeatable; "
        f"keys: {', '.join(settings.SETTINGS)}; see docs/settings.md)",
    )
    p.set_defaults(handler=train)

    p = subparsers.add_parser("runs")
    p.add_argument("workspace")
    p.add_argument("--follow", default="", metavar="RUN")
    p.set_defaults(handler=runs)

    p = subparsers.add_parser("stop")
    p.add_argument("workspace")
    p.add_argument("--run", default="")
    p.set_defaults(handler=stop_run)


def train(ctx: Context) -> int:
    """``persona-studio train WORKSPACE``: start or resume a run; follow it unless detached.

    The workspace is locked while the run is prepared and launched: a studio that has it open
    (and starts runs itself) makes this refuse, as ``build`` and ``review`` do.
    """
    args = ctx.args
    ws = ctx.workspace()
    overrides: dict[str, Any] = {}
    if not args.resume:
        for key in ("max_steps", "epochs", "overlong", "attention", "parallel"):
            if getattr(args, key, None):
                overrides[key] = getattr(args, key)
        if args.compile:
            overrides["compile"] = True
        try:
            overrides.update(settings.parse_assignments(args.set))
        except ValueError as exc:
            return ctx.error(str(exc))
    adapters = {} if args.resume else ctx.host.adapters
    started = start(
        ws, adapters, run_id=args.run or "", overrides=overrides, resume=args.resume, gpus=args.gpus
    )
    run = started.run
    if started.resumed is not None:
        state = started.resumed
        print(f"resuming {run.name} ({state.status} at step {state.step}/{state.total_steps})")
    else:
        print(f"run {run.name}: {run.path}")
    if args.detach:
        print(
            f"started in the background (pid {started.process.pid}); follow with: "
            f"persona-studio runs {ws.root} --follow {run.name}; stop with: "
            f"persona-studio stop {ws.root} --run {run.name}"
        )
        return EXIT_OK
    return _follow_foreground(run, started.process, started.offset)


def _follow_foreground(run: RunDir, process: subprocess.Popen[Any], start: int = 0) -> int:
    """Print the run's events until it ends; Ctrl-C asks it to stop (it checkpoints first)."""
    last: Event | None = None
    stopping = False
    while True:
        try:
            for batch in run.follow(alive=lambda: process.poll() is None, start=start):
                for event in batch:
                    print_event(event)
                    last = event
            break
        except KeyboardInterrupt:
            if stopping:
                print("already stopping; waiting for the checkpoint", file=sys.stderr)
                continue
            stopping = True
            print("stopping: saving a checkpoint…", file=sys.stderr)
            stop(run.path)
    code = process.wait()
    if last is None or not last.terminal:
        print(
            f"the run process ended (exit {code}) without a final event; see "
            f"{run.log_file} and continue with --resume",
            file=sys.stderr,
        )
        return code or EXIT_FAILED
    return EXIT_OK if last.kind in ("finished", "stopped") else EXIT_FAILED


def print_event(event: Event) -> None:
    """One line for one training event (the same line the run writes to its log)."""
    loud = event.kind in ("failed", "rank_failed", "warning")
    print(event.describe(), file=sys.stderr if loud else sys.stdout, flush=True)


def runs(ctx: Context) -> int:
    """``persona-studio runs WORKSPACE``: a table of runs, or ``--follow RUN``'s events."""
    args = ctx.args
    ws = ctx.workspace()
    if args.follow:
        run = RunDir(ws.run_dir(args.follow))
        if not run.exists():
            return ctx.error(f"no run {args.follow!r} in {ws.runs_dir}")
        for batch in run.follow(alive=run.is_alive):
            for event in batch:
                print_event(event)
        state = run.state()
        if state.status == "crashed":
            print(
                f"{run.name} crashed at step {state.step} (no final event); continue with: "
                f"persona-studio train {ws.root} --run {run.name} --resume",
                file=sys.stderr,
            )
        return EXIT_OK
    found = list_runs(ws)
    if not found:
        print("no runs yet")
        return EXIT_OK
    print(
        f"{'run':<28} {'status':<9} {'step':>11} {'loss':>8} {'eval':>8} {'tok/s':>8}  "
        "last checkpoint"
    )
    for run in found:
        state = run.state()
        loss = f"{state.loss:.4f}" if state.loss is not None else "-"
        evl = f"{state.eval_loss:.4f}" if state.eval_loss is not None else "-"
        rate = f"{state.tokens_per_s:.0f}" if state.tokens_per_s is not None else "-"
        last = f"step {state.checkpoints[-1]}" if state.checkpoints else "-"
        print(
            f"{run.name:<28} {state.status:<9} {state.step:>5}/{state.total_steps:<5} "
            f"{loss:>8} {evl:>8} {rate:>8}  {last}"
        )
        if state.status == "failed" and state.error:
            print(f"{'':<28} {state.error[:110]}")
    return EXIT_OK


def stop_run(ctx: Context) -> int:
    """``persona-studio stop WORKSPACE``: ask a run to checkpoint and end."""
    ws = ctx.workspace()
    latest = latest_run(ws)
    run_dir = ws.run_dir(ctx.args.run) if ctx.args.run else latest.path if latest else None
    if run_dir is None:
        return ctx.error("no run to stop")
    if stop(run_dir):
        print(
            f"stop requested: {run_dir.name} saves a checkpoint, then ends (continue with --resume)"
        )
        return EXIT_OK
    print(f"{run_dir.name} is not running")
    return EXIT_FAILED


__all__ = ["print_event", "register", "runs", "stop_run", "train"]
