"""Provides a benchmark of dataset building and of the review store; prints tables.

    python bench/build_speed.py WORKSPACE [--repeat 5] [--store-samples 50000]
    taskset -c 0 python bench/build_speed.py WORKSPACE      # one core

Part 1 times each phase of ``persona-studio build`` on WORKSPACE (parse, build single-turn,
build multi-turn, write) and prints the counts. Part 2 times the store on a synthetic dataset of
``--store-samples`` samples with a journal of decisions: what the curation screen does
(load, apply decisions, count by status, search, record a decision, undo). Best of
``--repeat`` runs, in milliseconds of wall time (``--cpu``: of process CPU time, which other
jobs on the machine disturb less).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


CPU = False
"""Report process CPU time instead of wall time (steadier when other jobs share the cores)."""


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best time of ``repeat`` calls in milliseconds (wall, or CPU with --cpu), and the last result."""
    clock = time.process_time if CPU else time.perf_counter
    times, result = [], None
    for _ in range(repeat):
        started = clock()
        result = fn()
        times.append((clock() - started) * 1000)
    return min(times), result


def table(title: str, rows: list[tuple[str, str, str]]) -> None:
    print(f"\n{title}")
    width = max(len(r[0]) for r in rows)
    print(f"  {'step':<{width}}  {'cpu ms' if CPU else 'ms':>9}  note")
    for name, ms, note in rows:
        print(f"  {name:<{width}}  {ms:>9}  {note}")


def bench_build(workspace: str, repeat: int) -> None:
    from studio.corpus.inspect import parse_workspace
    from studio.dataset.builder import build_samples
    from studio.dataset.service import build_dataset, unparsed_lines
    from studio.dataset.store import DatasetStore
    from studio.plugins import load_host
    from studio.workspace import Workspace

    ws = Workspace(workspace)
    host = load_host()
    cfg = ws.config
    parse_ms, corpus = best(lambda: parse_workspace(ws, host.parsers), repeat)
    utterances = corpus.utterances
    breaks = unparsed_lines(corpus.results)
    rows = [
        (
            "parse corpus",
            f"{parse_ms:.0f}",
            f"{len(corpus.results)} files, {len(utterances)} utterances",
        )
    ]
    reports = {}
    for mode in ("single", "multi"):
        config = dataclasses.replace(cfg.dataset, mode=mode)

        def run(config: Any = config) -> Any:
            return build_samples(
                utterances,
                cfg.character.name,
                cfg.character.persona,
                config,
                cfg.aliases(),
                ignore=cfg.roster.ignore,
                unparsed=breaks,
            )

        ms, (samples, report) = best(run, repeat)
        reports[mode] = report
        rows.append(
            (
                f"build {mode}-turn",
                f"{ms:.0f}",
                f"{report.samples} samples ({report.train} train / {report.eval} eval)",
            )
        )
    with tempfile.TemporaryDirectory() as tmp:
        store = DatasetStore(Path(tmp) / "default")
        ms, _ = best(lambda: store.write_samples(samples), repeat)
        rows.append(("write samples.jsonl", f"{ms:.0f}", "atomic, fsynced"))
    cfg.dataset.mode = "single"
    total_ms, result = best(lambda: build_dataset(ws, host.parsers, write=False), repeat)
    rows.append(
        (
            "build_dataset (single), total",
            f"{total_ms:.0f}",
            "parse + build, as `persona-studio build`",
        )
    )
    table(f"build on {ws.root.name} for {cfg.character.name} (best of {repeat})", rows)
    report = reports["single"]
    print(
        f"\n  character lines {report.character_lines}, replies {report.replies}, merged lines "
        f"{report.merged_lines}, identity samples {report.identity}"
    )
    for mode, rep in reports.items():
        print(
            f"  {mode}: dropped "
            + ", ".join(
                f"{reason} {n}" for reason, n in sorted(rep.dropped.items(), key=lambda kv: -kv[1])
            )
        )


def bench_store(count: int, repeat: int) -> None:
    from studio.api import Sample, Turn
    from studio.dataset.store import DatasetStore

    rng = random.Random(0)
    words = "皇上 臣妾 娘娘 今日 御花园 姐姐 妹妹 小主 温太医 碎玉轩 春日 赏花 请安 告退 不敢 多谢".split()
    samples = [
        Sample(
            id=f"{i:08x}",
            character="甄嬛",
            system="你是甄嬛。" * 20,
            turns=[
                Turn("user", "".join(rng.choices(words, k=rng.randint(3, 20)))),
                Turn("assistant", "".join(rng.choices(words, k=rng.randint(2, 30)))),
            ],
            scene=f"corpus/script.txt#第{i // 12}幕",
            split="eval" if i % 10 == 0 else "train",
            provenance={"kind": "corpus", "sources": [{"file": "corpus/script.txt", "line": i}]},
        )
        for i in range(count)
    ]
    decided = count // 5
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "default"
        store = DatasetStore(folder)
        ms, _ = best(lambda: store.write_samples(samples), 1)
        rows.append(
            (
                "write samples",
                f"{ms:.0f}",
                f"{count} samples, {store.samples_path.stat().st_size >> 20} MiB",
            )
        )
        ids = [s.id for s in samples]
        for i in range(decided):  # a journal as a long review session leaves it
            action = ("accept", "reject", "edit")[i % 3]
            entry = {"t": 0, "action": action, "id": ids[(i * 7) % count]}
            if action == "edit":
                entry["reply"] = "改过的回答。"
            store.journal_path.parent.mkdir(parents=True, exist_ok=True)
            with open(store.journal_path, "a", encoding="utf-8") as handle:
                import json

                handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
        ms, _ = best(lambda: DatasetStore(folder).raw_samples(), repeat)
        rows.append(("load samples (cold)", f"{ms:.0f}", "read + decode samples.jsonl"))
        ms, _ = best(lambda: DatasetStore(folder).decisions(), repeat)
        rows.append(("replay journal (cold)", f"{ms:.0f}", f"{decided} decisions"))
        warm = DatasetStore(folder)
        warm.samples()
        ms, applied = best(warm.samples, repeat)
        rows.append(
            (
                "samples() with decisions",
                f"{ms:.0f}",
                "warm: copies with edits and statuses applied",
            )
        )
        ms, counts = best(warm.status_counts, repeat)
        rows.append(
            ("status_counts()", f"{ms:.1f}", " ".join(f"{k} {v}" for k, v in counts.items()))
        )
        ms, hits = best(lambda: warm.find(text="温太医碎玉轩"), repeat)
        rows.append(("find(text=…)", f"{ms:.0f}", f"{len(hits)} hits"))
        ms, _ = best(lambda: warm.get(ids[count // 2]), repeat)
        rows.append(("get(id)", f"{ms:.3f}", "one sample, decision applied"))
        ms, _ = best(lambda: warm.record("accept", ids[1]), repeat)
        rows.append(("record(accept)", f"{ms:.2f}", "append + fsync"))
        ms, _ = best(warm.undo, repeat)
        rows.append(("undo()", f"{ms:.2f}", "append + fsync + re-fold the stack"))
        ms, _ = best(lambda: warm.record_many("reject", ids[:1000]), repeat)
        rows.append(("record_many(1000)", f"{ms:.2f}", "one line, one undo"))
    table(f"review store, {count} samples (best of {repeat})", rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("workspace", nargs="?", default=str(ROOT / "workspace"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--store-samples", type=int, default=50_000)
    parser.add_argument("--cpu", action="store_true", help="process CPU time instead of wall time")
    args = parser.parse_args()
    global CPU
    CPU = args.cpu
    bench_build(args.workspace, args.repeat)
    if args.store_samples:
        bench_store(args.store_samples, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
