#!/usr/bin/env python3
"""Pick quotes evenly through a novel, for hand-labelling who speaks them.

Finds every top-level quoted span in a text file:
  “…” (curly), 「…」, 『…』 and straight "…" pairs.
Nested quotes (an opening mark of another kind while a quote is open,
e.g. 『…』 inside 「…」) belong to the outer quote and are not counted.
In English typesetting a quote that runs on into the next paragraph leaves
its closing mark off and the next paragraph reopens with an opening mark;
that is treated as ONE quote, counted at its first line.  A quote still open
at a paragraph end whose next paragraph does not reopen is closed there.

Paragraphs are blank-line separated; a file with (almost) no blank lines
(one paragraph per line, as in many Chinese texts) is read line by line
(override with --para).

Skipped: a Project Gutenberg header (up to "*** START OF") and footer
(from "*** END OF"), and any front matter before the first chapter heading
(CHAPTER II / Chapter I.] / CHAPTER ONE / "I. A SCANDAL IN BOHEMIA" /
第一回 / 第一章 ...), unless --start-line / --end-line are given.

Picks quote index round(i*N/K) for i in 0..K-1 (K=70 by default; Python's
round, i.e. half-to-even) and prints, for each: its 1-based line number, its
first 15 characters (no quote mark; line breaks inside shown as one space,
tabs as spaces) and context (8 lines before, 4 after).

Usage:
  sample_quotes.py FILE [-k 70] [--before 8] [--after 4]
  sample_quotes.py FILE --tsv        # skeleton rows LINE<TAB>START<TAB><TAB>
  sample_quotes.py FILE --all        # every quote: index, line, start
"""

import argparse
import re
import sys

OPEN_CLOSE = {"“": "”", "「": "」", "『": "』"}
CLOSERS = {v: k for k, v in OPEN_CLOSE.items()}
STRAIGHT = '"'
START_CHARS = 15

HEADING_RES = [
    re.compile(r"^\s*\[?\s*(CHAPTER|Chapter)\s+([IVXLCDM]+|\d+)\b\.?\]?\s*$"),
    re.compile(r"^\s*(CHAPTER|Chapter)\s+[A-Z][A-Za-z-]*\.?\s*$"),  # CHAPTER ONE
    re.compile(r"^[IVXLC]+\. [A-Z][A-Z’'\-,. ]+$"),  # I. A SCANDAL IN BOHEMIA
    re.compile(r"^\s*第[一二三四五六七八九十百千零〇两\d]+[回章节卷]"),
]


def find_range(lines, start_line=None, end_line=None):
    """Return (first, last) 0-based line indices of the body text (inclusive)."""
    first, last = 0, len(lines) - 1
    for i, l in enumerate(lines):
        if l.startswith("*** START OF") or l.startswith("***START OF"):
            first = i + 1
        elif l.startswith("*** END OF") or l.startswith("***END OF"):
            last = i - 1
            break
    if start_line is not None:
        first = start_line - 1
    else:
        for i in range(first, last + 1):
            if any(r.match(lines[i]) for r in HEADING_RES):
                first = i
                break
    if end_line is not None:
        last = end_line - 1
    return first, last


def paragraphs(lines, first, last, mode):
    """Yield lists of 0-based line indices, one list per paragraph."""
    if mode == "auto":
        body = lines[first : last + 1]
        blank = sum(1 for l in body if not l.strip())
        mode = "blank" if blank >= 0.1 * max(1, len(body)) else "lines"
    cur = []
    for i in range(first, last + 1):
        if not lines[i].strip():
            if cur:
                yield cur
                cur = []
        elif mode == "lines":
            yield [i]
        else:
            cur.append(i)
    if cur:
        yield cur


def find_quotes(lines, first, last, mode="auto"):
    """Return list of dicts: line (1-based), start (text), opener."""
    quotes = []
    paras = list(paragraphs(lines, first, last, mode))
    cur = None  # the open top-level quote: dict
    stack = []  # expected closers of nested quotes inside cur
    skip_reopen = None  # (line_idx, col) of a continuation reopening mark

    def first_mark(para):
        i = para[0]
        s = lines[i]
        j = len(s) - len(s.lstrip(" \t\u3000"))
        return (i, j, s[j]) if j < len(s) else (i, j, "")

    for pi, para in enumerate(paras):
        for li in para:
            s = lines[li]
            for col, ch in enumerate(s):
                if skip_reopen == (li, col):
                    skip_reopen = None
                    continue
                if cur is not None and len(cur["buf"]) < START_CHARS + 1 and not stack:
                    pass  # filled below
                if cur is None:
                    if ch in OPEN_CLOSE or ch == STRAIGHT:
                        cur = {
                            "line": li + 1,
                            "opener": ch,
                            "buf": [],
                            "closer": OPEN_CLOSE.get(ch, STRAIGHT),
                            "done": False,
                        }
                        stack = []
                    continue
                # inside a top-level quote
                if stack:
                    if ch == stack[-1]:
                        stack.pop()
                    elif ch in OPEN_CLOSE and ch != cur["opener"]:
                        stack.append(OPEN_CLOSE[ch])
                    if not cur["done"]:
                        cur["buf"].append(ch)
                    continue
                if ch == cur["closer"]:
                    quotes.append(cur)
                    cur = None
                    continue
                if ch == cur["opener"] and ch != STRAIGHT:
                    # same opener again while open: stray mark; start a new quote
                    quotes.append(cur)
                    cur = {
                        "line": li + 1,
                        "opener": ch,
                        "buf": [],
                        "closer": OPEN_CLOSE[ch],
                        "done": False,
                    }
                    continue
                if ch in OPEN_CLOSE:
                    stack.append(OPEN_CLOSE[ch])
                if not cur["done"]:
                    cur["buf"].append(ch)
                    if len(cur["buf"]) >= START_CHARS:
                        cur["done"] = True
            # end of line inside a paragraph: a line break reads as a space
            if cur is not None and not cur["done"] and li != para[-1] and cur["buf"]:
                cur["buf"].append("\n")
        # end of paragraph
        if cur is not None:
            nxt = paras[pi + 1] if pi + 1 < len(paras) else None
            if nxt is not None:
                i, j, m = first_mark(nxt)
                if m == cur["opener"]:
                    skip_reopen = (i, j)  # continuation: one quote
                    stack = []
                    if not cur["done"] and cur["buf"]:
                        cur["buf"].append("\n")
                    continue
            quotes.append(cur)
            cur = None
            stack = []
    if cur is not None:
        quotes.append(cur)
    for q in quotes:
        t = "".join(q["buf"]).replace("\t", " ")
        t = re.sub(r"\s*\n\s*", " ", t)
        q["start"] = t[:START_CHARS]
    return quotes


def pick(n, k):
    if n == 0:
        return []
    return sorted({min(n - 1, round(i * n / k)) for i in range(k)})


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("file")
    ap.add_argument("-k", type=int, default=70, help="how many quotes to pick")
    ap.add_argument("--before", type=int, default=8)
    ap.add_argument("--after", type=int, default=4)
    ap.add_argument("--start-line", type=int, help="first body line (1-based)")
    ap.add_argument("--end-line", type=int, help="last body line (1-based)")
    ap.add_argument("--para", choices=["auto", "blank", "lines"], default="auto")
    ap.add_argument("--tsv", action="store_true", help="print skeleton TSV rows")
    ap.add_argument("--all", action="store_true", help="list every quote")
    a = ap.parse_args()

    with open(a.file, encoding="utf-8-sig") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [l.rstrip("\r") for l in lines]
    first, last = find_range(lines, a.start_line, a.end_line)
    quotes = find_quotes(lines, first, last, a.para)
    n = len(quotes)
    idx = pick(n, a.k)
    out = sys.stdout
    if a.all:
        for qi, q in enumerate(quotes):
            out.write(f"{qi}\t{q['line']}\t{q['start']}\n")
        return
    if a.tsv:
        for qi in idx:
            q = quotes[qi]
            out.write(f"{q['line']}\t{q['start']}\t\t\n")
        return
    out.write(f"# {a.file}: body lines {first + 1}-{last + 1}, {n} quotes, {len(idx)} picked\n")
    for k, qi in enumerate(idx):
        q = quotes[qi]
        ln = q["line"]
        out.write(f"\n=== pick {k} / quote #{qi}  line {ln}  start: {q['start']!r}\n")
        lo = max(0, ln - 1 - a.before)
        hi = min(len(lines) - 1, ln - 1 + a.after)
        for i in range(lo, hi + 1):
            mark = ">>" if i == ln - 1 else "  "
            out.write(f"{mark}{i + 1:6d}| {lines[i]}\n")


if __name__ == "__main__":
    main()
