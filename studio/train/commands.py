"""Provides the training subcommands: ``train`` (start or resume a run), ``runs`` and ``stop``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from studio.context import EXIT_FAILED, EXIT_OK, Context, Subparsers
from studio.train.events import follow
from studio.train.runner import is_alive, launch, prepare_run, run_state, stop


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
        choices=("drop", "split"),
        default="",
        help="samples over max_length: drop them, or split long conversations (default: drop)",
    )
    p.add_argument(
        "--attention",
        choices=("auto", "varlen", "flex", "segments"),
        default="",
        help="packed attention kernel (default: auto)",
    )
    p.add_argument(
        "--parallel",
        choices=("ddp", "fsdp"),
        default="",
        help="with --gpus: ddp (default) or fsdp (shard a model too big for one GPU)",
    )
    p.add_argument("--compile", action="store_true", help="torch.compile the decoder layers (GPU)")
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
    """``persona-studio train WORKSPACE``: start or resume a run; follow it unless detached."""
    args = ctx.args
    ws = ctx.workspace()
    if args.resume:
        run_dir = ws.run_dir(args.run) if args.run else ws.latest_run()
        if run_dir is None or not run_dir.exists():
            return ctx.error("no run to resume")
        state = run_state(run_dir)
        print(f"resuming {run_dir.name} ({state.status} at step {state.step}/{state.total_steps})")
    else:
        overrides: dict[str, Any] = {}
        for key in ("max_steps", "epochs", "overlong", "attention", "parallel"):
            if getattr(args, key, None):
                overrides[key] = getattr(args, key)
        if args.compile:
            overrides["compile"] = True
        run_dir = prepare_run(ws, ctx.host.adapters, run_id=args.run or "", overrides=overrides)
        print(f"run {run_dir.name}: {run_dir}")
    events = run_dir / "events.jsonl"
    start = events.stat().st_size if events.exists() else 0
    process = launch(run_dir, resume=args.resume, detach=True, gpus=args.gpus)
    if isinstance(process, int):  # only a run waited for in the foreground returns its exit code
        return process
    if args.detach:
        print(
            f"started in the background (pid {process.pid}); follow with: "
            f"persona-studio runs {ws.root} --follow {run_dir.name}; stop with: "
            f"persona-studio stop {ws.root} --run {run_dir.name}"
        )
        return EXIT_OK
    return _follow_foreground(run_dir, process, start)


def _follow_foreground(run_dir: Path, process: subprocess.Popen[Any], start: int = 0) -> int:
    """Print the run's events until it ends; Ctrl-C asks it to stop (it checkpoints first)."""
    last: dict[str, Any] = {}
    stopping = False
    while True:
        try:
            for batch in follow(
                run_dir / "events.jsonl", alive=lambda: process.poll() is None, start=start
            ):
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
            stop(run_dir)
    code = process.wait()
    if last.get("event") not in ("finished", "stopped", "failed"):
        print(
            f"the run process ended (exit {code}) without a final event; see "
            f"{run_dir / 'train.log'} and continue with --resume",
            file=sys.stderr,
        )
        return code or EXIT_FAILED
    return EXIT_OK if last.get("event") in ("finished", "stopped") else EXIT_FAILED


def print_event(event: dict[str, Any]) -> None:
    """One line for one training event (steps, evals, checkpoints, the end)."""
    kind = event.get("event")
    if kind == "step":
        gpu = event.get("gpu")
        print(
            f"step {event['step']:>5}/{event['total_steps']}  epoch {event['epoch']:.2f}  "
            f"loss {event['loss']:.4f}  lr {event['lr']:.2e}  grad {event['grad_norm']:.3f}  "
            f"{event['tokens_per_s']:.0f} tok/s ({event.get('supervised_per_s', 0):.0f} "
            f"supervised)  eta {event['eta_s']:.0f}s"
            + (f"  gpu {gpu.get('util', '?')}% {gpu.get('peak_alloc_gb', '?')} GiB" if gpu else ""),
            flush=True,
        )
    elif kind == "eval":
        print(
            f"eval  step {event['step']}: loss {event['eval_loss']:.4f} "
            f"(ppl {event['eval_ppl']:.2f})",
            flush=True,
        )
    elif kind == "data":
        dropped = (
            "dropped" if event.get("overlong", "drop") == "drop" else "single exchanges dropped"
        )
        over = (
            f"{event['too_long']} over max_length {event.get('max_length', '')} "
            f"({dropped}, never cut)"
        )
        split = f", {event['split']} long conversations split" if event.get("split") else ""
        print(
            f"data: {event['train_samples']} train / {event['eval_samples']} eval samples, "
            f"{over}{split}, supervised share {event['supervised_share']:.1%}, "
            f"{event['total_steps']} steps",
            flush=True,
        )
    elif kind == "config":
        world = event.get("world_size", 1)
        print(
            f"config: {event['config']['model']['name']} on {event['device']} ({event['dtype']}, "
            f"{world} process{'es' if world > 1 else ''}, "
            f"attention {event.get('attention', '?')}), LoRA r={event['config']['lora_r']} on "
            f"{', '.join(event['lora_targets'])}",
            flush=True,
        )
    elif kind == "checkpoint":
        print(f"checkpoint {event['path']}", flush=True)
    elif kind == "resumed":
        print(f"resumed at step {event['step']} from {event['path']}", flush=True)
    elif kind in ("finished", "stopped"):
        print(
            f"{kind} at step {event['step']}: {event.get('adapter') or event.get('reason')}",
            flush=True,
        )
    elif kind == "failed":
        print(f"failed at step {event['step']}: {event['error']}", file=sys.stderr, flush=True)
    elif kind == "warning":
        print(f"warning: {event.get('message')}", file=sys.stderr, flush=True)
    elif kind == "download":
        total = event.get("total_bytes") or 0
        done = event.get("done_bytes", 0)
        share = f" ({done / total:.0%})" if total else ""
        print(f"download: {done / 2**30:.2f} of {total / 2**30:.2f} GiB{share}", flush=True)


def runs(ctx: Context) -> int:
    """``persona-studio runs WORKSPACE``: a table of runs, or ``--follow RUN``'s events."""
    args = ctx.args
    ws = ctx.workspace()
    if args.follow:
        run_dir = ws.run_dir(args.follow)
        if not (run_dir / "config.json").exists():
            return ctx.error(f"no run {args.follow!r} in {ws.runs_dir}")
        for batch in follow(run_dir / "events.jsonl", alive=lambda: is_alive(run_dir)):
            for event in batch:
                print_event(event)
        state = run_state(run_dir)
        if state.status == "crashed":
            print(
                f"{run_dir.name} crashed at step {state.step} (no final event); continue with: "
                f"persona-studio train {ws.root} --run {run_dir.name} --resume",
                file=sys.stderr,
            )
        return EXIT_OK
    found = ws.runs()
    if not found:
        print("no runs yet")
        return EXIT_OK
    print(
        f"{'run':<28} {'status':<9} {'step':>11} {'loss':>8} {'eval':>8} {'tok/s':>8}  "
        "last checkpoint"
    )
    for run_dir in found:
        state = run_state(run_dir)
        loss = f"{state.loss:.4f}" if state.loss is not None else "-"
        evl = f"{state.eval_loss:.4f}" if state.eval_loss is not None else "-"
        rate = f"{state.tokens_per_s:.0f}" if state.tokens_per_s is not None else "-"
        last = f"step {state.checkpoints[-1]}" if state.checkpoints else "-"
        print(
            f"{run_dir.name:<28} {state.status:<9} {state.step:>5}/{state.total_steps:<5} "
            f"{loss:>8} {evl:>8} {rate:>8}  {last}"
        )
        if state.status == "failed" and state.error:
            print(f"{'':<28} {state.error[:110]}")
    return EXIT_OK


def stop_run(ctx: Context) -> int:
    """``persona-studio stop WORKSPACE``: ask a run to checkpoint and end."""
    ws = ctx.workspace()
    run_dir = ws.run_dir(ctx.args.run) if ctx.args.run else ws.latest_run()
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
