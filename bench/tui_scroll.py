"""Provides the curation-list benchmark: keypress-to-render time over 50,000 samples.

    python bench/tui_scroll.py [--samples 50000] [--presses 200]

Builds a throwaway workspace with N synthetic samples, opens the studio headless on the
dataset screen at 80×24 and 160×48, and for each key measures the time from the key press to
the end of the frame that shows it: Textual's compositor update rendered to the terminal
byte stream (the headless driver only skips the final write). Prints one table per size.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = (
    "the",
    "tide",
    "net",
    "harbour",
    "lantern",
    "rope",
    "boat",
    "fog",
    "bell",
    "pier",
    "gull",
    "sea",
    "knot",
    "wind",
    "salt",
    "dawn",
    "mend",
    "blue",
    "north",
    "light",
    "wait",
    "listen",
    "stubborn",
    "warm",
    "quiet",
)


def make_workspace(folder: Path, count: int) -> Path:
    """A workspace whose dataset holds ``count`` synthetic samples (seeded, varied lengths)."""
    from studio.api import Sample, Turn, stable_id
    from studio.dataset.store import DatasetStore

    rng = random.Random(0)
    (folder / "corpus").mkdir(parents=True)
    (folder / "studio.toml").write_text(
        '[character]\nname = "MIRA"\npersona = "You are Mira."\n'
        '[model]\nname = "tiny-qwen2"\nsource = "tiny"\n',
        encoding="utf-8",
    )

    def sentence(low: int, high: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high))).capitalize() + "."

    samples = []
    for index in range(count):
        kind = "augment" if index % 10 == 9 else "corpus"
        provenance = (
            {"kind": "augment", "strategy": "fewshot"}
            if kind == "augment"
            else {"kind": "corpus", "sources": [{"file": "corpus/x.txt", "line": index}]}
        )
        samples.append(
            Sample(
                id=stable_id("bench", index),
                character="MIRA",
                system="You are Mira.",
                turns=[Turn("user", sentence(3, 14)), Turn("assistant", sentence(2, 40))],
                scene=f"s{index // 20}",
                split="eval" if index % 13 == 0 else "train",
                provenance=provenance,
            )
        )
    DatasetStore(folder / "datasets" / "default").write_samples(samples)
    return folder


async def measure(
    root: Path, size: tuple[int, int], presses: int
) -> tuple[float, list[tuple[str, list[float]]]]:
    """Open the dataset screen at ``size``; return (load seconds, [(key, latencies ms)])."""
    from textual._compositor import CompositorUpdate

    from studio.plugins import load_host
    from studio.tui.app import StudioApp
    from studio.tui.widgets.sample_list import SampleList
    from studio.workspace import Workspace

    ws = Workspace(root).lock()
    app = StudioApp(ws, host=load_host())
    frames: list[float] = []
    results: list[tuple[str, list[float]]] = []
    async with app.run_test(size=size) as pilot:
        original = app._display

        def display(screen, renderable):  # the frame as a terminal would receive it
            if renderable is not None:
                if isinstance(renderable, CompositorUpdate):
                    renderable.render_segments(app.console)
                frames.append(time.perf_counter())
            return original(screen, renderable)

        app._display = display  # type: ignore[method-assign]
        await pilot.pause()
        started = time.perf_counter()
        await pilot.press("3")
        sample_list = None
        while sample_list is None or sample_list.count == 0:
            await asyncio.sleep(0.005)
            sample_list = (
                app.screen.query_one(SampleList) if app.current_mode == "dataset" else None
            )
        frames_before = len(frames)
        while len(frames) == frames_before:
            await asyncio.sleep(0.001)
        load = frames[-1] - started
        await pilot.pause()

        async def timed(key: str) -> float:
            count = len(frames)
            t0 = time.perf_counter()
            await pilot.press(key)
            deadline = t0 + 2.0
            while len(frames) == count and time.perf_counter() < deadline:
                await asyncio.sleep(0.0005)
            return (frames[count] - t0) * 1000 if len(frames) > count else float("nan")

        plan = [
            ("j (down)", "j", presses),
            ("k (up)", "k", presses // 4),
            ("pagedown", "pagedown", presses // 4),
            ("G / g (ends)", None, presses // 10),
            ("a (accept, fsync)", "a", presses // 4),
        ]
        for label, key, count in plan:
            latencies = []
            for index in range(count):
                press = key if key is not None else ("G" if index % 2 == 0 else "g")
                latencies.append(await timed(press))
            results.append((label, latencies))
        position = sample_list.cursor
        assert position > 0, "the cursor did not move"
        t0 = time.perf_counter()
        screen = app.screen
        screen.filter.text = "lantern rope"
        screen.refilter(keep=False)
        results.append(("search filter (50k scan)", [(time.perf_counter() - t0) * 1000]))
    ws.unlock()
    return load, results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50_000)
    parser.add_argument("--presses", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        root = make_workspace(Path(tmp) / "bench", args.samples)
        print(f"workspace with {args.samples:,} samples written in {time.perf_counter() - t0:.1f}s")
        for size in ((80, 24), (160, 48)):
            load, results = asyncio.run(measure(root, size, args.presses))
            print(
                f"\n{size[0]}×{size[1]}: dataset screen shows {args.samples:,} samples {load:.2f}s after the key"
            )
            print(f"{'key':<26}{'n':>5}{'median ms':>11}{'p95 ms':>9}{'max ms':>9}")
            for label, values in results:
                values = sorted(v for v in values if v == v)
                p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
                print(
                    f"{label:<26}{len(values):>5}{statistics.median(values):>11.1f}{p95:>9.1f}{max(values):>9.1f}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
