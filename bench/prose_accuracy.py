"""Provides the prose attribution accuracy check against a sample of quotes you labelled.

The labels file is tab-separated, one quote a line: ``LINE<TAB>OCCURRENCE<TAB>SPEAKER`` (the
quote's source line, its index among the quotes of that line, the true speaker; ``NONE`` for a
quote that is not speech, ``UNNAMED`` when the text never names the speaker, so that "unknown"
is the right answer). Keep labels of copyrighted books outside the repository.

    python bench/prose_accuracy.py NOVEL.txt LABELS.tsv --narrator 甄嬛 --alias 皇帝=玄凌
"""

from __future__ import annotations

import argparse
from collections import Counter

from studio_prose.parser import ProseDocument

from studio.api.encoding import read_source


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("novel")
    args.add_argument("labels")
    args.add_argument("--narrator", default="")
    args.add_argument("--alias", action="append", default=[], metavar="ALIAS=CANONICAL")
    opts = args.parse_args()
    alias = dict(item.split("=", 1) for item in opts.alias)
    document = ProseDocument(read_source(opts.novel), {"narrator": opts.narrator})
    document.run()
    seen: Counter[int] = Counter()
    by_key = {}
    for attribution in document.attributions:
        line = attribution.utterance.line
        by_key[(line, seen[line])] = attribution
        seen[line] += 1
    counts: Counter[str] = Counter()
    methods: dict[str, Counter[str]] = {}
    for row in open(opts.labels, encoding="utf-8"):
        if row.startswith("#") or not row.strip():
            continue
        line, occurrence, gold = row.rstrip("\n").split("\t")[:3]
        attribution = by_key.get((int(line), int(occurrence)))
        if gold == "NONE" or attribution is None:
            counts["skipped"] += 1
            continue
        pred = attribution.utterance.speaker
        pred, gold = alias.get(pred, pred), alias.get(gold, gold)
        if gold == "UNNAMED":
            outcome = "correct" if pred is None else "wrong"
        else:
            outcome = "unknown" if pred is None else "correct" if pred == gold else "wrong"
        counts[outcome] += 1
        methods.setdefault(attribution.method.split("-")[0], Counter())[outcome] += 1
    total = counts["correct"] + counts["wrong"] + counts["unknown"]
    attributed = counts["correct"] + counts["wrong"]
    print(f"{'quotes':>7} {'correct':>8} {'wrong':>6} {'unknown':>8} {'accuracy':>9} {'precision':>10}")
    print(f"{total:>7} {counts['correct']:>8} {counts['wrong']:>6} {counts['unknown']:>8} "
          f"{counts['correct'] / max(total, 1):>9.1%} {counts['correct'] / max(attributed, 1):>10.1%}")
    print("\nby rule: " + ", ".join(f"{m} {c['correct']}/{sum(c.values())}" for m, c in sorted(methods.items())))


if __name__ == "__main__":
    main()
