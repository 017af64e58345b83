"""Provides the persona recipe sweep: train with each setting, score each adapter, one table.

    python bench/persona_recipe.py WORKSPACE --model DIR [--config NAME:KEY=VALUE ...]
                                   [--limit 400] [--final NAME] [--json FILE]

The workspace is copied to a scratch folder (``--scratch``) whose ``[model]`` points at the local
model folder ``DIR`` (``source = "local"``); each configuration is one ``persona-studio train
--set KEY=VALUE …`` run on the GPU's own preset, then ``persona-studio eval --rows adapter`` on
the held-out scenes (the same items for every configuration). Columns: steps, final train loss,
train wall seconds (model load and compilation included), and the eval's loss per character of
the character's real replies, chrF and ROUGE-L of greedy replies, the style score (the real
lines' score beside it), identity probes named, mean reply length (the real mean beside it).

``--final NAME`` (default: the configuration with the lowest loss per character) is then scored
with all four rows (base, base+memory, adapter, adapter+memory) and five side-by-side examples,
timed; its ``report.md`` is printed.

The default grid varies one thing at a time around the preset: learning rate, epochs, LoRA rank
(alpha = rank, so the scale stays 1), tokens per optimizer step and which layers LoRA wraps.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studio.train.rundir import RunDir  # noqa: E402

GRID = (
    "preset:",
    "lr-1e-4:lr=1e-4",
    "lr-5e-4:lr=5e-4",
    "epochs-1:epochs=1",
    "epochs-5:epochs=5",
    "rank-4:lora_r=4 lora_alpha=4",
    "rank-64:lora_r=64 lora_alpha=64",
    "tokens-2k:tokens_per_batch=2048",
    "attention-only:lora_targets=q_proj,k_proj,v_proj,o_proj",
)


def studio(*args: str, written: Path | None = None) -> float:
    """Run ``persona-studio ARGS``; returns wall seconds.

    A failure stops the sweep, unless the command had already written ``written`` (a crash at
    interpreter exit after the report was complete: said, and the sweep goes on).
    """
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "studio", *args], check=False)
    seconds = time.perf_counter() - started
    if done.returncode:
        what = f"persona-studio {' '.join(args)}: exit {done.returncode}"
        if (
            written is None
            or not written.is_file()
            or written.stat().st_mtime < time.time() - seconds
        ):
            raise SystemExit(what)
        print(f"warning: {what} after writing {written}; the sweep goes on", file=sys.stderr)
    return seconds


def scratch_workspace(src: Path, dest: Path, model: Path, eval_fraction: float) -> None:
    """Copy the workspace (corpus, studio.toml, fixes; no runs) and point it at ``model``."""
    import tomlkit

    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("runs", "datasets"))
    doc = tomlkit.parse((dest / "studio.toml").read_text(encoding="utf-8"))
    section = doc.setdefault("model", tomlkit.table())
    section["name"] = str(model.resolve())
    section["source"] = "local"
    if eval_fraction:
        doc.setdefault("dataset", tomlkit.table())["eval_fraction"] = eval_fraction
    (dest / "studio.toml").write_text(tomlkit.dumps(doc), encoding="utf-8")


def run_summary(ws: Path, run: str) -> dict[str, Any]:
    """Steps and the last logged train loss of a finished run (from its event log)."""
    state = RunDir(ws / "runs" / run).state()
    return {"steps": state.step, "train_loss": state.loss}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workspace", type=Path)
    parser.add_argument("--model", type=Path, required=True, help="local model folder")
    parser.add_argument("--config", action="append", default=[], help="NAME:KEY=VALUE KEY=VALUE")
    parser.add_argument(
        "--set", action="append", default=[], help="KEY=VALUE for every configuration"
    )
    parser.add_argument("--limit", type=int, default=400, help="held-out items scored")
    parser.add_argument("--final", default="", help="configuration scored with all four rows")
    parser.add_argument("--scratch", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument(
        "--eval-fraction", type=float, default=0.0, help="held-out share (default: the workspace's)"
    )
    parser.add_argument(
        "--fresh", action="store_true", help="start over (default: go on where a sweep stopped)"
    )
    args = parser.parse_args()
    scratch = args.scratch or Path("/tmp") / f"recipe-{args.workspace.resolve().name}"
    if args.fresh or not (scratch / "datasets").is_dir():
        scratch_workspace(args.workspace, scratch, args.model, args.eval_fraction)
        print(f"dataset built in {studio('build', str(scratch)):.0f} s")
    ws = str(scratch)
    rows: list[dict[str, Any]] = []
    for spec in args.config or GRID:
        name, _, settings = spec.partition(":")
        sets = [f"--set={item}" for item in [*args.set, *settings.split()]]
        run = RunDir(scratch / "runs" / name)
        timing = run.path / "recipe-seconds.json"
        train_s = eval_s = 0.0
        if not run.has_adapter():
            if run.exists():
                shutil.rmtree(run.path)  # a run cut off by the time limit: train it again
            train_s = studio("train", ws, "--run", name, *sets)
        if not (run.eval_dir / "report.json").is_file():
            eval_s = studio(
                "eval", ws, "--run", name, "--rows", "adapter", "--limit", str(args.limit),
                "--examples", "0", written=run.eval_dir / "report.json",
            )  # fmt: skip
        if train_s:
            timing.write_text(json.dumps({"train_s": train_s, "eval_s": eval_s}))
        elif timing.is_file():
            train_s = json.loads(timing.read_text())["train_s"]
        report = json.loads((run.eval_dir / "report.json").read_text())
        rows.append(
            {"name": name, "settings": settings, "train_s": train_s, "eval_s": eval_s}
            | run_summary(scratch, name)
            | {"report": report}
        )
        print_table(rows)
    final = (
        args.final
        or min(rows, key=lambda r: r["report"]["models"]["adapter"]["loss_per_char"])["name"]
    )
    started = time.perf_counter()
    report = scratch / "runs" / final / "eval" / "report.json"
    studio(
        "eval", ws, "--run", final, "--limit", str(args.limit), "--examples", "5", written=report
    )
    seconds = time.perf_counter() - started
    print(f"\nfour-row eval of {final!r}: {seconds:.1f} s wall (process start and model load in)")
    print((scratch / "runs" / final / "eval" / "report.md").read_text(encoding="utf-8"))
    if args.json:
        final_report = json.loads((scratch / "runs" / final / "eval" / "report.json").read_text())
        result = {"rows": rows, "final": final, "final_s": seconds, "final_report": final_report}
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    return 0


def print_table(rows: list[dict[str, Any]]) -> None:
    """The sweep so far, as a Markdown table."""
    first = rows[0]["report"]
    print(
        f"\n{first['character']}: {first['items']} held-out items, real replies: style "
        f"{first['classifier']['real_lines_score']:.2f}, "
        f"{first['real_reply_chars']:.1f} chars on average"
    )
    print(
        "| config | settings | steps | train loss | train s | loss/char | chrF | ROUGE-L | style "
        "| identity | reply chars |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        m = row["report"]["models"]["adapter"]
        loss = row["train_loss"]
        print(
            f"| {row['name']} | {row['settings'] or '(preset)'} | {row['steps']} "
            f"| {loss:.3f} | {row['train_s']:.0f} | {m['loss_per_char']:.3f} | {m['chrf']:.2f} "
            f"| {m['rouge_l']:.2f} | {m['style']:.2f} | {m['identity']}/{m['identity_total']} "
            f"| {m['reply_chars']:.1f} |"
            if loss is not None
            else f"| {row['name']} | {row['settings']} | {row['steps']} | – | … |"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
