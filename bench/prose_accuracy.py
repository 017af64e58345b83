"""Provides the prose attribution accuracy check against the hand labels in ``bench/labels/``.

Each labels file names its book (``# book: PATH``), its first-person narrator (``# narrator:``)
and the other spellings of speakers' names (``# alias: SHORT=CANONICAL``); each row is
``LINE<TAB>QUOTE_START<TAB>SPEAKER<TAB>NOTE``. ``UNNAMED`` means the book never names the
speaker (the right answer is "unknown"); ``NONE`` marks a quote that is not speech (skipped);
``A+B`` is two people speaking at once (either name is right); ``我(story)`` is the unnamed
first-person narrator of one story (the parser's ``我`` is right).

A label is matched to the parser's quote that opens on ``LINE`` and whose text holds the first
characters of ``QUOTE_START`` (white space ignored: hard-wrapped lines join differently); a label
no quote matches counts as wrong (the parser did not see that speech).

    python bench/prose_accuracy.py                       # every book: development, then held-out
    python bench/prose_accuracy.py --books hongloumeng --errors

Columns: ``quotes`` (labels minus NONE), ``named`` (share the parser gives a speaker), ``prec``
(right when named), ``acc`` (right overall), ``unmatched`` (labels the parser has no quote for),
``cpu s/MB`` (parse CPU time per MB of the book, after a warm-up parse that loads dictionaries
once per process). Held-out books print totals only; ``--errors`` refuses them.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from studio_prose import cast_zh
from studio_prose.parser import ProseDocument

from studio.api.encoding import read_source

LABELS = Path(__file__).resolve().parent / "labels"
_KEY = 6  # characters of QUOTE_START a quote must contain


@dataclass
class Labels:
    """One labels file: the book, its options and the rows."""

    name: str
    book: Path
    heldout: bool
    narrator: str = ""
    alias: dict[str, str] = field(default_factory=dict)
    rows: list[tuple[int, str, str, str]] = field(default_factory=list)


def read_labels(path: Path, heldout: bool) -> Labels:
    """Parse a labels file (see the module docstring)."""
    labels = Labels(path.stem, Path(), heldout)
    for number, row in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if row.startswith("#"):
            key, _, value = row[1:].strip().partition(":")
            value = value.strip()
            if key == "book":
                labels.book = Path(value)
            elif key == "narrator" and value.split(" ")[0] not in ("none", "per"):
                labels.narrator = value
            elif key == "alias" and "=" in value:
                short, canonical = value.split("=", 1)
                labels.alias[short.strip()] = canonical.strip()
            continue
        if not row.strip():
            continue
        parts = row.split("\t")
        if len(parts) < 3 or not parts[0].isdigit():
            raise SystemExit(
                f"{path}:{number}: expected LINE<TAB>QUOTE_START<TAB>SPEAKER[<TAB>NOTE]"
            )
        labels.rows.append((int(parts[0]), parts[1], parts[2], parts[3] if len(parts) > 3 else ""))
    if not labels.book.name:
        raise SystemExit(f"{path}: no '# book: PATH' line")
    return labels


def _squash(text: str) -> str:
    return re.sub(r"[\s_]+", "", text)  # labels keep the book's _emphasis_ marks, quotes do not


def _right(pred: str, gold: str, alias: dict[str, str]) -> bool:
    canon = alias.get(pred, pred)
    for option in gold.split("+"):
        option = alias.get(option, option)
        if canon == option or (pred == "我" and option.startswith("我(")):
            return True
    return False


def score(labels: Labels, attributions: list, errors: list[str] | None = None) -> Counter[str]:
    """Counts of quotes, named, right-when-named, right and unmatched for one book."""
    by_line: dict[int, list] = {}
    for attribution in attributions:
        by_line.setdefault(attribution.utterance.line, []).append(attribution)
    counts: Counter[str] = Counter()
    for line, start, gold, note in labels.rows:
        if gold == "NONE":
            continue
        counts["quotes"] += 1
        key = _squash(start)[:_KEY]
        found = [a for a in by_line.get(line, []) if key in _squash(a.utterance.text)]
        found.sort(key=lambda a: _squash(a.utterance.text).find(key))
        if not found:
            counts["unmatched"] += 1
            if errors is not None:
                errors.append(f"{line}\t{start}\tgold {gold}\tparser: no such quote")
            continue
        pred = found[0].utterance.speaker
        if pred is None:
            ok = gold == "UNNAMED"
        else:
            counts["named"] += 1
            ok = gold != "UNNAMED" and _right(pred, gold, labels.alias)
            counts["named_right"] += ok
        counts["right"] += ok
        method = (found[0].rule or found[0].method).replace("-unresolved", "").replace("-role", "")
        if found[0].raw in ("he", "she", "He", "She", "他", "她"):
            method += "+pronoun"
        counts[f"m:{method}"] += 1
        counts[f"m:{method}:right"] += ok
        if pred is None and found[0].guess:  # too unsure to name: was the guess right?
            counts[f"m:{method}:guess"] += 1
            counts[f"m:{method}:guess_right"] += _right(found[0].guess, gold, labels.alias)
        if not ok and errors is not None:
            how = found[0].rule or found[0].method
            errors.append(
                f"{line}\t{start}\tgold {gold}\tparser {pred} ({how}, guess {found[0].guess})"
                f"\t{note}"
            )
    return counts


def _row(name: str, c: Counter[str], cpu: float | None) -> str:
    quotes = max(c["quotes"], 1)
    prec = f"{c['named_right'] / c['named']:.0%}" if c["named"] else "–"
    cpu_text = f"{cpu:.2f}" if cpu is not None else ""
    return (
        f"{name:<22} {c['quotes']:>6} {c['named'] / quotes:>6.0%} {prec:>5} "
        f"{c['right'] / quotes:>5.0%} "
        f"{c['unmatched']:>9} {cpu_text:>9}"
    )


def labelled(labels: Labels, attributions: list) -> list:
    """The parser's quotes that the labels name (the ones scored)."""
    by_line: dict[int, list] = {}
    for attribution in attributions:
        by_line.setdefault(attribution.utterance.line, []).append(attribution)
    picked = []
    for line, start, gold, _note in labels.rows:
        key = _squash(start)[:_KEY]
        found = [a for a in by_line.get(line, []) if key in _squash(a.utterance.text)]
        if gold != "NONE" and found:
            picked.append(min(found, key=lambda a: _squash(a.utterance.text).find(key)))
    return picked


def llm_pass(
    document: ProseDocument, quotes: list, options: dict, llm: object
) -> tuple[int, float]:
    """Run the parser's LLM pass over ``quotes`` only; ``(quotes asked, wall seconds)``.

    The pass changes only the quotes it is given, so asking about the labelled ones gives the
    labelled ones' answers that a whole-book pass would give, without paying for the rest.
    """
    from studio_prose.llm import asked, resolve_with_llm

    count = len(asked(quotes, options))
    whole = document.attributions
    document.attributions = quotes
    started = time.perf_counter()
    try:
        resolve_with_llm(document, options, llm)  # type: ignore[arg-type]
    finally:
        document.attributions = whole
    return count, time.perf_counter() - started


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--books", nargs="*", default=[], help="label file stems (default: all)")
    args.add_argument(
        "--errors", action="store_true", help="list wrong rows (development books only)"
    )
    args.add_argument(
        "--methods", action="store_true", help="right/quotes per rule (development books)"
    )
    args.add_argument("--no-heldout", action="store_true", help="development books only")
    args.add_argument(
        "--llm-model", default="", help="a local model folder: also score the rules + LLM pass"
    )
    args.add_argument("--llm-scope", choices=("unknown", "uncertain"), default="unknown")
    args.add_argument("--llm-accept", choices=("confirm", "agree", "any"), default="agree")
    args.add_argument("--llm-batch", type=int, default=32, help="quotes asked together")
    args.add_argument(
        "--llm-cache",
        type=Path,
        default=None,
        help="keep the answers in FILE and reuse them (default: a fresh file, every answer timed)",
    )
    args.add_argument(
        "--corpora", type=Path, default=None, help="read the books from DIR/FOLDER/FILE instead"
    )
    opts = args.parse_args()
    files = [(p, False) for p in sorted(LABELS.glob("*.tsv"))]
    if not opts.no_heldout:
        files += [(p, True) for p in sorted((LABELS / "heldout").glob("*.tsv"))]
    if opts.books:
        files = [(p, h) for p, h in files if p.stem in opts.books]
    if (opts.errors or opts.methods) and any(h for _, h in files):
        raise SystemExit(
            "--errors and --methods list per-quote results; held-out books report totals only "
            "(select development books with --books or pass --no-heldout)"
        )
    llm, llm_options = None, {}
    if opts.llm_model:
        import tempfile

        from studio.llm.parsers import parser_llm

        llm_options = {
            "llm": "transformers",
            "llm_model": opts.llm_model,
            "llm_scope": opts.llm_scope,
            "llm_accept": opts.llm_accept,
            "llm_batch": opts.llm_batch,
            "llm_retries": 2,
            "llm_cache": str(opts.llm_cache or Path(tempfile.mkdtemp()) / "answers.jsonl"),
        }
        llm = parser_llm(llm_options)
        llm([{"role": "user", "content": "hi"}], max_tokens=1)  # the model loads before timing
    warm = ProseDocument(read_source(_warmup_file()), {})  # dictionaries load once per process
    warm.run()
    cast_zh.first_word("王胡说")
    header = (
        f"{'book':<22} {'quotes':>6} {'named':>6} {'prec':>5} {'acc':>5} {'unmatched':>9} "
        f"{'cpu s/MB':>9}"
    )
    parts: dict[bool, list[tuple[str, Counter[str], float]]] = {False: [], True: []}
    after: dict[bool, list[tuple[str, Counter[str], float]]] = {False: [], True: []}
    asked, seconds = 0, 0.0
    for path, heldout in files:
        labels = read_labels(path, heldout)
        if opts.corpora:
            labels.book = opts.corpora / labels.book.parent.name / labels.book.name
        source = read_source(labels.book)
        cpu = time.process_time()
        document = ProseDocument(source, {"narrator": labels.narrator})
        document.run()
        cpu = time.process_time() - cpu
        errors: list[str] | None = [] if opts.errors else None
        counts = score(labels, document.attributions, errors)
        megabytes = len(source.text.encode("utf-8")) / 1_000_000
        parts[heldout].append((labels.name, counts, cpu / megabytes))
        if errors:
            print(f"== {labels.name}: {len(errors)} wrong", file=sys.stderr)
            for line in errors:
                print("  " + line, file=sys.stderr)
        if llm is not None:
            n, wall = llm_pass(document, labelled(labels, document.attributions), llm_options, llm)
            asked, seconds = asked + n, seconds + wall
            after[heldout].append((labels.name, score(labels, document.attributions), wall))
    _tables(parts, header, opts.methods, "rules alone")
    if llm is not None:
        _tables(after, header.replace("cpu s/MB", "llm wall s"), False, "rules + LLM pass")
        print(
            f"\nLLM pass ({opts.llm_model}, scope {opts.llm_scope}, accept {opts.llm_accept}, "
            f"batch {opts.llm_batch}): "
            f"{asked} quotes asked in {seconds:.1f} s = {1000 * seconds / max(asked, 1):.0f} s "
            "per 1,000 quotes"
        )


def _tables(
    parts: dict[bool, list[tuple[str, Counter[str], float]]],
    header: str,
    methods: bool,
    title: str,
) -> None:
    for heldout in (False, True):
        if not parts[heldout]:
            continue
        print(f"\n{title}: {'held-out books (totals only)' if heldout else 'development books'}")
        print(header)
        total: Counter[str] = Counter()
        for name, counts, cpu in parts[heldout]:
            total.update(counts)
            print(_row(name, counts, cpu))
        print(_row("all", total, None))
        if methods and not heldout:
            kinds = sorted(k[2:] for k in total if k.startswith("m:") and k.count(":") == 1)

            print("by method (right/quotes): " + ", ".join(_method(total, m) for m in kinds))


def _method(total: Counter[str], m: str) -> str:
    """``rule right/quotes``, and how often its guesses were right where it named nobody."""
    guessed = total[f"m:{m}:guess"]
    unsure = f" (unnamed guesses {total[f'm:{m}:guess_right']}/{guessed})" if guessed else ""
    return f"{m} {total[f'm:{m}:right']}/{total[f'm:{m}']}{unsure}"


def _warmup_file() -> Path:
    import tempfile

    path = Path(tempfile.gettempdir()) / "prose_accuracy_warmup.txt"
    path.write_text(
        "第一回\n他笑道：“你来了。”她说：“来了。”\n“好。”王胡轻蔑地说。\n", encoding="utf-8"
    )
    return path


if __name__ == "__main__":
    main()
