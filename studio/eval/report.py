"""Provides the eval report: the verdict, the readable table, and writing it to the run folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from studio.fsutil import atomic_write_json, atomic_write_text

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
        summary = (f"no: {unusable} of {items} adapter replies are empty or garbled, so there is "
                   "no usable reply to judge")
        return {"answer": "no", "wins": wins, "summary": summary}
    if wins["loss"] == "adapter" and len(generation) >= 2 and not worse:
        answer = "yes"
    elif better:
        answer = "partly"
    else:
        answer = "no"
    summary = {
        "yes": "yes: the adapter models the character's real lines better and its replies are closer to them",
        "partly": "partly: the adapter is better on " + ", ".join(better) + ("; worse on " + ", ".join(worse) if worse else ""),
        "no": "no: the adapter is better on none of the measures than the base model with the same persona prompt",
    }[answer]
    return {"answer": answer, "summary": summary, "wins": wins}


def format_report(report: dict[str, Any], examples: int = 3) -> str:
    """The report as a plain-text table (what the CLI prints and the TUI shows)."""
    base, adapter = report["models"]["base"], report["models"]["adapter"]
    clf = report["classifier"]
    lines = [
        f"eval of {report['label']} ({report['character']}) on {report['items']} held-out replies from "
        f"{report['scenes']} scenes; base = {report['base_model']} with the same persona prompt",
        f"sampling {report['settings']['sampling']}, up to {report['settings']['max_new_tokens']} new tokens",
        "",
        f"{'metric':<40} {'base':>9} {'adapter':>9}   better",
        "-" * 70,
    ]
    wins = report["verdict"]["wins"]
    for key, label, _, _, fmt in METRICS:
        b, a = fmt.format(base[key]), fmt.format(adapter[key])
        if key == "identity":
            b, a = f"{base[key]}/{base['identity_total']}", f"{adapter[key]}/{adapter['identity_total']}"
        judged = wins.get(key) or (wins["loss"] if key == "ppl" else "")  # perplexity follows the loss
        lines.append(f"{label:<40} {b:>9} {a:>9}   {judged}")
    lines.append(f"{'mean reply length (chars)':<40} {base['reply_chars']:>9} {adapter['reply_chars']:>9}"
                 f"   real lines: {report.get('real_reply_chars', '-')}")
    lines.append(f"{'empty replies':<40} {base['empty_replies']:>9} {adapter['empty_replies']:>9}")
    if "garbled_replies" in adapter:
        lines.append(f"{'garbled replies':<40} {base.get('garbled_replies', 0):>9} "
                     f"{adapter['garbled_replies']:>9}")
    if "echoes" in base:
        lines.append(f"{'replies echoing the prompt (chrF >= 70)':<40} {base['echoes']:>9} {adapter['echoes']:>9}")
    lines += [
        "",
        f"style classifier: held-out balanced accuracy {clf['heldout_accuracy']:.1%} (AUC {clf['heldout_auc']:.3f}) on "
        f"{clf['heldout_lines']['character']} + {clf['heldout_lines']['other']} lines; real held-out lines score "
        f"{clf['real_lines_score']:.3f}, other speakers {clf['other_lines_score']:.3f}; trained on "
        f"{clf['train_lines']['character']} + {clf['train_lines']['other']} corpus lines",
        "",
        "identity probes:",
    ]
    for probe in report["identity"]:
        lines.append(f"  {probe['probe']}")
        lines.append(f"    base    {'✓' if probe['base_named'] else '✗'} {_short(probe['base'])}")
        lines.append(f"    adapter {'✓' if probe['adapter_named'] else '✗'} {_short(probe['adapter'])}")
    if examples and report.get("examples"):
        lines += ["", "examples:"]
        for row in report["examples"][:examples]:
            lines.append(f"  prompt  {_short(row['prompt'])}")
            lines.append(f"  real    {_short(row['real'])}")
            lines.append(f"  base    {_short(row['base']['reply'])}")
            lines.append(f"  adapter {_short(row['adapter']['reply'])}")
            lines.append("")
    lines += ["", f"did it work? {report['verdict']['summary']}"]
    return "\n".join(lines).rstrip() + "\n"


def _short(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def write_report(run_dir: Path, report: dict[str, Any], items: list[dict[str, Any]],
                 checkpoint_label: str | None = None) -> Path:
    """Write ``report.json``, ``report.md`` and ``items.jsonl`` (atomically) under ``eval/``.

    A checkpoint's evaluation goes to ``eval/<checkpoint>/``; the final adapter's to ``eval/``.
    """
    folder = run_dir / "eval" / checkpoint_label if checkpoint_label else run_dir / "eval"
    report["examples"] = items[:5]
    atomic_write_json(folder / "report.json", report)
    atomic_write_text(folder / "items.jsonl", "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items))
    atomic_write_text(folder / "report.md", "```\n" + format_report(report) + "```\n")
    return folder
