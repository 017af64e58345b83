"""Provides the eval report: the verdict, the readable table, and writing it to the run folder."""

from __future__ import annotations

import json
import textwrap
import unicodedata
from pathlib import Path
from typing import Any

from studio.fsutil import atomic_write_json, atomic_write_text
from studio.train.rundir import RunDir

# metric key, label, direction (+1: higher is better), smallest difference that counts, format
METRICS: tuple[tuple[str, str, int, float, str], ...] = (
    ("loss", "loss on the real lines (nats/token)", -1, 0.01, "{:.3f}"),
    ("ppl", "perplexity of the real lines", -1, 0.0, "{:.2f}"),
    ("chrf", "chrF of replies vs real lines (0-100)", +1, 0.5, "{:.1f}"),
    ("rouge_l", "ROUGE-L F of replies (0-100)", +1, 0.5, "{:.1f}"),
    ("style", "sounds like the character (0-1)", +1, 0.01, "{:.3f}"),
    ("identity", "identity probes naming the character", +1, 0.5, "{:.0f}"),
)
JUDGED = ("loss", "chrf", "rouge_l", "style", "identity")


def _compare(key: str, base: float, adapter: float) -> str:
    for name, _, direction, margin, _ in METRICS:
        if name == key:
            delta = (adapter - base) * direction
            return "adapter" if delta > margin else ("base" if delta < -margin else "same")
    raise KeyError(key)


def verdict(report: dict[str, Any]) -> dict[str, Any]:
    """Which side wins each metric, and a one-line answer to "did the fine-tune work?".

    The answer is "no" whenever at least half of the adapter's replies are empty or garbled,
    whatever the measures say: there is nothing usable to judge.
    """
    base, adapter = report["models"]["base"], report["models"]["adapter"]
    wins = {key: _compare(key, base[key], adapter[key]) for key in JUDGED}
    better = [k for k, v in wins.items() if v == "adapter"]
    worse = [k for k, v in wins.items() if v == "base"]
    generation = [k for k in ("chrf", "rouge_l", "style") if wins[k] == "adapter"]
    items = int(report.get("items") or 0)
    unusable = int(adapter.get("empty_replies", 0)) + int(adapter.get("garbled_replies", 0))
    if items and unusable * 2 >= items:  # no usable text: the measures say nothing of the character
        summary = (
            f"no: {unusable} of {items} adapter replies are empty or garbled, so there is "
            "no usable reply to judge"
        )
        return {"answer": "no", "wins": wins, "summary": summary}
    if wins["loss"] == "adapter" and len(generation) >= 2 and not worse:
        answer = "yes"
    elif better:
        answer = "partly"
    else:
        answer = "no"
    summary = {
        "yes": (
            "yes: the adapter models the character's real lines better "
            "and its replies are closer to them"
        ),
        "partly": "partly: the adapter is better on "
        + ", ".join(better)
        + ("; worse on " + ", ".join(worse) if worse else ""),
        "no": (
            "no: the adapter is better on none of the measures "
            "than the base model with the same persona prompt"
        ),
    }[answer]
    return {"answer": answer, "summary": summary, "wins": wins}


ROW_HEADS = {
    "base": "base",
    "base+memory": "base+mem",
    "adapter": "adapter",
    "adapter+memory": "adapt+mem",
}
"""Column heads of the rows (narrow: the table fits 80 columns)."""
WIDTH = 76
"""Columns of the report's text: an 80-column terminal less a border and a scroll bar."""


def format_report(report: dict[str, Any], examples: int = 3) -> str:
    """The report as a plain-text table.

    What the CLI prints and the TUI shows; :data:`WIDTH` columns.

    Args:
        report: an eval report (four rows, or the two of a report written before memory).
        examples: side-by-side prompts to show.
    """
    rows = report.get("rows") or [r for r in ("base", "adapter") if r in report["models"]]
    models = report["models"]
    clf = report["classifier"]
    memory = report["settings"].get("memory", 0)
    lines = _wrap(
        f"eval of {report['label']} ({report['character']}): "
        f"{report['items']} held-out replies, "
        f"{report['scenes']} scenes; base = {report['base_model']} "
        "with the same persona card; sampling "
        f"{report['settings']['sampling']}, up to {report['settings']['max_new_tokens']} new tokens"
        + (
            f"; memory: {memory} train-split exchanges per turn"
            if memory and any("+" in r for r in rows)
            else ""
        )
    )
    lines += [
        "",
        f"{'metric':<28}" + "".join(f"{ROW_HEADS.get(r, r):>10}" for r in rows),
        "-" * (28 + 10 * len(rows)),
    ]
    table = [(key, label, fmt) for key, label, _, _, fmt in METRICS]
    if all("loss_per_char" in models[r] for r in rows):
        table.insert(0, ("loss_per_char", "loss/char of real lines", "{:.3f}"))
    short = {
        "loss": "loss/token of real lines",
        "ppl": "perplexity of real lines",
        "chrf": "chrF vs real (0-100)",
        "rouge_l": "ROUGE-L F (0-100)",
        "style": "sounds like her (0-1)",
        "identity": "identity probes named",
    }
    for key, label, fmt in table:
        cells = []
        for r in rows:
            value = models[r][key]
            cells.append(
                f"{value}/{models[r]['identity_total']}" if key == "identity" else fmt.format(value)
            )
        lines.append(f"{short.get(key, label):<28}" + "".join(f"{c:>10}" for c in cells))
    lines.append(
        f"{'mean reply chars (real ' + str(report.get('real_reply_chars', '-')) + ')':<28}"
        + "".join(f"{models[r]['reply_chars']:>10}" for r in rows)
    )
    lines.append(
        f"{'empty replies':<28}" + "".join(f"{models[r]['empty_replies']:>10}" for r in rows)
    )
    if any("garbled_replies" in models[r] for r in rows):
        lines.append(
            f"{'garbled replies':<28}"
            + "".join(f"{models[r].get('garbled_replies', 0):>10}" for r in rows)
        )
    if all("echoes" in models[r] for r in rows):
        lines.append(
            f"{'echoes of the prompt':<28}" + "".join(f"{models[r]['echoes']:>10}" for r in rows)
        )
    answers = [
        models[r].get("verdict", {}).get("answer", "") if r != rows[0] else "(ref)" for r in rows
    ]
    if len(rows) > 2 or "verdict" in models[rows[-1]]:
        lines.append(
            f"{'better than ' + ROW_HEADS.get(rows[0], rows[0]) + '?':<28}"
            + "".join(f"{a:>10}" for a in answers)
        )
    lines.append("")
    lines += _wrap(
        f"style classifier: held-out balanced accuracy {clf['heldout_accuracy']:.1%} (AUC "
        f"{clf['heldout_auc']:.3f}) on {clf['heldout_lines']['character']} + "
        f"{clf['heldout_lines']['other']} lines; "
        f"her real held-out lines score {clf['real_lines_score']:.3f}, other speakers "
        f"{clf['other_lines_score']:.3f}; trained on {clf['train_lines']['character']} + "
        f"{clf['train_lines']['other']} corpus lines"
    )
    lines += ["", "identity probes:"]
    for probe in report["identity"]:
        lines.append(f"  {probe['probe']}")
        for r in rows:
            lines.append(
                f"    {ROW_HEADS.get(r, r):<9} {'✓' if probe[f'{r}_named'] else '✗'} "
                f"{_short(probe[r], 60)}"
            )
    shown = report.get("side_by_side") or [
        {"prompt": e["prompt"], "real": e["real"], "replies": {r: e[r]["reply"] for r in rows}}
        for e in report.get("examples", [])
    ]
    if examples and shown:
        lines += ["", "side by side (held-out prompts):"]
        for row in shown[:examples]:
            lines.append(f"  prompt    {_short(row['prompt'], 62)}")
            lines.append(f"  real      {_short(row['real'], 62)}")
            for r in rows:
                lines.append(f"  {ROW_HEADS.get(r, r):<9} {_short(row['replies'][r], 62)}")
            lines.append("")
    lines.append("")
    if report.get("verdict"):
        lines += _wrap(f"did it work? {report['verdict']['summary']}")
    if report.get("memory_verdict"):
        lines += _wrap(f"would memory do as well? {memory_answer(report['memory_verdict'])}")
    return "\n".join(lines).rstrip() + "\n"


def memory_answer(result: dict[str, Any]) -> str:
    """The adapter against base+memory, in words.

    A :func:`verdict` with base+memory as the base.
    """
    wins = result["wins"]
    better = [k for k, v in wins.items() if v == "adapter"]
    worse = [k for k, v in wins.items() if v == "base"]
    if result["answer"] == "yes":
        return "no: the adapter beats the base model with memory on " + ", ".join(better)
    if not better:
        return "yes: the base model with memory does as well as the adapter or better" + (
            " (better on " + ", ".join(worse) + ")" if worse else ""
        )
    return (
        "partly: the adapter is better on "
        + ", ".join(better)
        + ("; base+memory on " + ", ".join(worse) if worse else "")
    )


def _wrap(text: str, width: int = WIDTH) -> list[str]:
    return textwrap.wrap(text, width, subsequent_indent="  ", break_on_hyphens=False)


def _cells(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _short(text: str, limit: int = 90) -> str:
    """``text`` on one line, cut to ``limit`` terminal cells (a CJK character takes two)."""
    text = " ".join(text.split())
    if sum(_cells(ch) for ch in text) <= limit:
        return text
    out, used = [], 0
    for ch in text:
        if used + _cells(ch) > limit - 1:
            break
        out.append(ch)
        used += _cells(ch)
    return "".join(out) + "…"


def write_report(
    run_dir: Path,
    report: dict[str, Any],
    items: list[dict[str, Any]],
    checkpoint_label: str | None = None,
) -> Path:
    """Write ``report.json``, ``report.md`` and ``items.jsonl`` (atomically) under ``eval/``.

    A checkpoint's evaluation goes to ``eval/<checkpoint>/``; the final adapter's to ``eval/``.
    """
    root = RunDir(run_dir).eval_dir
    folder = root / checkpoint_label if checkpoint_label else root
    report["examples"] = items[:5]
    atomic_write_json(folder / "report.json", report)
    atomic_write_text(
        folder / "items.jsonl", "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items)
    )
    atomic_write_text(folder / "report.md", "```\n" + format_report(report) + "```\n")
    return folder
