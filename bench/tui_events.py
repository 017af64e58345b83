"""Provides the TUI-under-load benchmark: keypress-to-render while a run writes 100 events/s.

    python bench/tui_events.py [--rate 100] [--prefill 0] [--presses 60] [--seconds 20]

Builds a throwaway workspace with a run folder whose ``events.jsonl`` another process appends
step events to at ``--rate`` per second (as a training run does: one JSON line per step, not
fsynced), optionally after ``--prefill`` steps already written (a long run), opens the studio
headless on the train screen following that run, and measures:

- keypress-to-render: from a key press to the end of the frame that shows it (Textual's
  compositor update rendered to the terminal byte stream; the headless driver only skips the
  final write), for a dialog (``f`` / ``escape``) and a screen switch (``1`` / ``5``), first with
  no writer, then with the writer running;
- event-to-screen lag: from the moment a step event was written to the first frame whose run
  panel shows that step, overall and over ``--seconds`` of following with no key pressed;
- frames per second while following, and how many of the written steps the run state holds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_workspace(folder: Path) -> Path:
    """A workspace with one run folder (its config; the writer adds the events)."""
    (folder / "corpus").mkdir(parents=True)
    (folder / "studio.toml").write_text(
        '[character]\nname = "MIRA"\npersona = "You are Mira."\n'
        '[model]\nname = "tiny-qwen2"\nsource = "tiny"\n',
        encoding="utf-8",
    )
    from studio.train.rundir import RunDir

    run = RunDir(folder / "runs" / "bench-run")
    run.path.mkdir(parents=True)
    run.write_config({"model": {"name": "tiny-qwen2"}, "lora_r": 8})
    run.log_file.write_text("bench run\n", encoding="utf-8")
    return run.path


def _step(step: int, total_steps: int, rate: float) -> dict:
    from studio.train.events import StepEvent

    return StepEvent(
        t=time.time(),
        step=step,
        total_steps=total_steps,
        epoch=step / total_steps,
        loss=3.0 / (1 + step / 500),
        lr=2e-4,
        grad_norm=0.5,
        tokens=4096,
        supervised=900,
        supervised_share=0.22,
        tokens_per_s=4096 * rate,
        supervised_per_s=900 * rate,
        eta_s=100.0,
    ).to_json()


def writer(run: str, rate: float, total_steps: int, prefill: int) -> None:
    """The stand-in trainer: a ``config`` event, ``prefill`` steps at once (a run long under way),
    then a step event every 1/rate seconds."""
    from studio.fsutil import append_jsonl
    from studio.train.events import ConfigEvent
    from studio.train.rundir import RunDir

    events = RunDir(Path(run)).events_file
    config = ConfigEvent(
        t=time.time(),
        pid=os.getpid(),
        total_steps=total_steps,
        config={"model": {"name": "tiny-qwen2"}, "lora_r": 8},
        device="cpu",
        dtype="fp32",
        lora_targets=["q_proj"],
        world_size=1,
    )
    append_jsonl(events, config.to_json())
    with open(events, "a", encoding="utf-8") as handle:
        for step in range(1, prefill + 1):
            handle.write(json.dumps(_step(step, total_steps, rate)) + "\n")
    print("prefilled", flush=True)
    started = time.perf_counter()
    step = prefill
    while True:  # until the benchmark kills it
        step += 1
        append_jsonl(events, _step(step, total_steps, rate), sync=False)
        time.sleep(max(0.0, started + (step - prefill) / rate - time.perf_counter()))


async def measure(root: Path, run: Path, args: argparse.Namespace) -> dict[str, list[float]]:
    from textual._compositor import CompositorUpdate

    from studio.plugins import load_host
    from studio.tui.app import StudioApp
    from studio.tui.screens.train import TrainScreen
    from studio.workspace import Workspace

    ws = Workspace(root).lock()
    app = StudioApp(ws, host=load_host())
    frames: list[float] = []
    shown: list[tuple[float, int]] = []
    results: dict[str, list[float]] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        original = app._display

        def display(screen, renderable):  # the frame as a terminal would receive it
            if renderable is not None:
                if isinstance(renderable, CompositorUpdate):
                    renderable.render_segments(app.console)
                frames.append(time.perf_counter())
                if isinstance(screen, TrainScreen) and screen.state is not None:
                    shown.append((time.time(), screen.state.step))
            return original(screen, renderable)

        app._display = display  # type: ignore[method-assign]
        await pilot.pause()

        async def timed(key: str) -> float:
            count = len(frames)
            t0 = time.perf_counter()
            await pilot.press(key)
            deadline = t0 + 5.0
            while len(frames) == count and time.perf_counter() < deadline:
                await asyncio.sleep(0.0005)
            return (frames[count] - t0) * 1000 if len(frames) > count else float("nan")

        async def keys(label: str) -> None:
            for pair in (("f", "escape"), ("1", "5")):
                name = f"{label}: {pair[0]} / {pair[1]}"
                results[name] = []
                for _ in range(args.presses // 2):
                    for key in pair:
                        results[name].append(await timed(key))
                        await asyncio.sleep(0.05)

        await pilot.press("5")
        await pilot.pause()
        await keys("idle")

        process = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--writer",
                str(run),
                "--rate",
                str(args.rate),
                "--prefill",
                str(args.prefill),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        await asyncio.get_running_loop().run_in_executor(None, process.stdout.readline)  # prefilled
        await pilot.press("1")
        await pilot.press("5")  # the train screen follows the newest run: this one
        await asyncio.sleep(1.0)
        await keys(f"{args.rate:.0f} Hz writer")
        quiet_from = time.time()  # from here on only the writer: the lag of following alone
        frames_before, t0 = len(frames), time.perf_counter()
        await asyncio.sleep(args.seconds)
        results["frames/s while following"] = [
            (len(frames) - frames_before) / (time.perf_counter() - t0)
        ]
        screen = app.screen
        from studio.train.events import StepEvent
        from studio.train.rundir import RunDir

        written = RunDir(run).events()
        steps = {e.step: e.t for e in written if isinstance(e, StepEvent) and e.step > args.prefill}
        lags, quiet, seen = [], [], args.prefill
        for when, step in shown:
            for fresh in range(seen + 1, step + 1):
                if fresh in steps:
                    lags.append((when - steps[fresh]) * 1000)
                    if steps[fresh] >= quiet_from:
                        quiet.append(lags[-1])
            seen = max(seen, step)
        results["event-to-screen lag (all)"] = lags
        results["… with no keys pressed"] = quiet
        results["steps written"] = [float(len(steps) + args.prefill)]
        results["steps the screen holds"] = (
            [float(len(screen.state.losses))] if isinstance(screen, TrainScreen) else [0.0]
        )
        process.kill()
        process.wait()
    ws.unlock()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="how long to follow the run with no key pressed"
    )
    parser.add_argument("--rate", type=float, default=100.0, help="events per second")
    parser.add_argument(
        "--presses", type=int, default=60, help="key presses per key pair and phase"
    )
    parser.add_argument(
        "--prefill", type=int, default=0, help="steps already in events.jsonl (a long run)"
    )
    parser.add_argument(
        "--writer", default="", help=argparse.SUPPRESS
    )  # the writer process: run folder
    args = parser.parse_args()
    if args.writer:
        writer(args.writer, args.rate, 10**6, args.prefill)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "bench"
        run = make_workspace(root)
        results = asyncio.run(measure(root, run, args))
    print(
        f"\ntrain screen at 120×40 following a run that writes {args.rate:.0f} step events/s "
        f"({args.prefill:,} steps in events.jsonl before it starts)\n"
    )
    print(f"{'measure':<34}{'n':>6}{'median':>10}{'p95':>10}{'max':>10}  unit")
    for label, values in results.items():
        values = sorted(v for v in values if v == v)
        if not values:
            continue
        unit = "" if label.startswith(("frames", "steps")) else "ms"
        p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
        print(
            f"{label:<34}{len(values):>6}{statistics.median(values):>10.1f}"
            f"{p95:>10.1f}{max(values):>10.1f}  {unit}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
