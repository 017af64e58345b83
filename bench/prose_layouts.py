"""Provides the paragraph-layout check: one development book laid out four ways, each scored.

Chinese e-texts mark paragraphs in different ways: blank lines between blocks, one paragraph a
line, indentation with no blank lines, or lines hard-wrapped at a fixed width with neither. The
script rewrites a development book (its paragraphs are the blocks between blank lines) into each
layout, remaps its hand labels to the new line numbers (a label follows its opening quotation
mark), and scores the parser on every variant as ``bench/prose_accuracy.py`` scores the original.
A parser whose paragraphs follow the layout scores about the same on every row.

    python bench/prose_layouts.py                       # 呐喊 (labels nahan.tsv)
    python bench/prose_layouts.py --book little-women --width 60 --out /tmp/layouts

Variants: ``original``; ``no blank lines`` (the same lines, blank ones dropped, so indentation
alone marks paragraphs); ``one line a paragraph``; ``wrapped at N columns`` (each paragraph
joined, unindented, and re-wrapped at N display columns, two for a CJK character, with no blank
lines: only the short last line of a paragraph marks its end). The files go to ``--out``
(default: a temporary folder), never into the repository.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from prose_accuracy import LABELS, read_labels, score
from studio_prose import quotes
from studio_prose.parser import ProseDocument

from studio.api.encoding import read_source

_OPENS = '“「『"‘'


@dataclass
class Para:
    """A paragraph of the original: its stripped text and each character's source line."""

    text: str
    lines: list[int]
    indent: str


def _columns(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def read_paragraphs(lines: list[str], zh: bool) -> list[Para]:
    """Blocks between blank lines, joined (no separator in Chinese, a space in English)."""
    out: list[Para] = []
    text: list[str] = []
    where: list[int] = []
    indent = ""
    for number, line in enumerate(lines + [""], 1):
        body = line.strip()
        if not body:
            if text:
                out.append(Para("".join(text), where, indent))
            text, where = [], []
            continue
        if not text:
            indent = line[: len(line) - len(line.lstrip())]
        elif not zh:
            text.append(" ")
            where.append(number)
        text.append(body)
        where.extend([number] * len(body))
    return out


def wrap(text: str, width: int, zh: bool) -> list[tuple[int, int]]:
    """Greedy wrap at ``width`` columns: ``(start, end)`` character spans of the lines."""
    spans: list[tuple[int, int]] = []
    start = 0
    while start < len(text):
        used = 0
        end = start
        last_space = -1
        while end < len(text) and used + _columns(text[end]) <= width:
            if text[end] == " ":
                last_space = end
            used += _columns(text[end])
            end += 1
        if end < len(text) and not zh and text[end] != " " and last_space > start:
            end = last_space
        spans.append((start, end))
        start = end
        while start < len(text) and text[start] == " ":
            start += 1
    return spans


def variants(source: list[str], zh: bool, width: int) -> dict[str, tuple[list[str], dict]]:
    """Each layout's lines and a map from (original line, paragraph offset) to its new line."""
    paras = read_paragraphs(source, zh)
    out: dict[str, tuple[list[str], dict]] = {}
    for name in ("no blank lines", "one line a paragraph", f"wrapped at {width} columns"):
        lines: list[str] = []
        where: dict[tuple[int, int], int] = {}
        for index, para in enumerate(paras):
            if name == "no blank lines":
                first = para.lines[0]
                for offset, number in enumerate(para.lines):
                    where[(index, offset)] = len(lines) + 1 + number - first
                lines.extend(source[para.lines[0] - 1 : para.lines[-1]])
            elif name == "one line a paragraph":
                for offset in range(len(para.text)):
                    where[(index, offset)] = len(lines) + 1
                lines.append(para.indent + para.text)
            else:
                for start, end in wrap(para.text, width, zh):
                    lines.append(para.text[start:end])
                    for offset in range(start, end):
                        where[(index, offset)] = len(lines)
        out[name] = (lines, {"paras": paras, "where": where})
    return out


def remap(rows: list[tuple[int, str, str, str]], paras: list[Para], where: dict) -> list:
    """Labels at the line their opening quotation mark has in the variant (unfound ones kept)."""
    out = []
    for line, start, gold, note in rows:
        key = re.sub(r"\s+", "", start)[:6]
        new = None
        for index, para in enumerate(paras):
            if line not in para.lines:
                continue
            for offset, ch in enumerate(para.text):
                if ch in _OPENS and para.lines[offset] == line:
                    after = re.sub(r"\s+", "", para.text[offset + 1 : offset + 40])
                    if after.startswith(key):
                        new = where[(index, offset)]
                        break
            break
        out.append((new if new is not None else line, start, gold, note))
    return out


def _score(path: Path, labels, rows) -> tuple[str, str, float]:
    source = read_source(path)
    cpu = time.process_time()
    document = ProseDocument(source, {"narrator": labels.narrator})
    document.run()
    cpu = time.process_time() - cpu
    labels.rows = rows
    c = score(labels, document.attributions)
    quotes_n = max(c["quotes"], 1)
    prec = f"{c['named_right'] / c['named']:.0%}" if c["named"] else "–"
    row = (
        f"{c['quotes']:>6} {c['named'] / quotes_n:>6.0%} {prec:>5} {c['right'] / quotes_n:>5.0%} "
        f"{c['unmatched']:>9}"
    )
    shape = quotes.layout(source.text.split("\n"))
    how = (
        shape.kind
        + (" indent" if shape.indent else "")
        + (f" width {shape.width}" if shape.width else "")
    )
    return row, how, cpu / (len(source.text.encode("utf-8")) / 1_000_000)


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--book", default="nahan", help="development labels file stem")
    args.add_argument("--width", type=int, default=38, help="columns of the wrapped variant")
    args.add_argument("--out", type=Path, default=None, help="folder for the variant files")
    opts = args.parse_args()
    path = LABELS / f"{opts.book}.tsv"
    if not path.is_file():
        raise SystemExit(f"{path}: no such development labels file")
    labels = read_labels(path, heldout=False)
    original = read_source(labels.book).text.split("\n")
    zh = quotes.detect_style("\n".join(original)).lang == "zh"
    out = opts.out or Path(tempfile.mkdtemp(prefix="prose_layouts_"))
    out.mkdir(parents=True, exist_ok=True)
    ProseDocument(read_source(labels.book), {}).run()  # dictionaries load once, before timing
    print(f"{labels.name}: variants in {out}")
    print(
        f"{'layout':<22} {'detected':<22} {'quotes':>6} {'named':>6} {'prec':>5} {'acc':>5} "
        f"{'unmatched':>9} {'cpu s/MB':>9}"
    )
    rows = list(labels.rows)
    row, how, cpu = _score(labels.book, labels, rows)
    print(f"{'original':<22} {how:<22} {row} {cpu:>9.2f}")
    for name, (lines, maps) in variants(original, zh, opts.width).items():
        file = out / f"{labels.name}-{name.replace(' ', '-')}.txt"
        file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        moved = remap(rows, maps["paras"], maps["where"])
        with (out / f"{file.stem}.tsv").open("w", encoding="utf-8") as handle:
            handle.write(f"# book: {file}\n")
            handle.writelines("\t".join(map(str, r)) + "\n" for r in moved)
        row, how, cpu = _score(file, labels, moved)
        print(f"{name:<22} {how:<22} {row} {cpu:>9.2f}")


if __name__ == "__main__":
    main()
