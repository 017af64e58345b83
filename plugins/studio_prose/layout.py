"""Provides the layout detection of prose texts: whether a paragraph is one line, a block
between blank lines, or a run of hard-wrapped lines told apart by indentation and line width,
and where a new paragraph starts in the last kind."""

from __future__ import annotations

import re
from dataclasses import dataclass

_INDENT = " \u3000\t"
_WIDE = re.compile("[\u2e80-\uffef]")


def _width(text: str) -> int:
    """Display columns of ``text``: two for wide (CJK) characters, one for the rest."""
    return sum(
        2 if "\u2e80" <= ch <= "\uffef" and not "\uff61" <= ch <= "\uffdc" else 1 for ch in text
    )


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(_INDENT))


@dataclass(frozen=True)
class Layout:
    """How a text marks its paragraphs.

    Attributes:
        kind: ``line`` (one paragraph a line), ``blank`` (blocks between blank lines) or
            ``shape`` (no blank lines between paragraphs: indentation and line width tell).
        indent: a line indented deeper than the text's base starts a paragraph (``shape``).
        base: the indentation of continuation lines (``shape``).
        width: the column width lines are wrapped at; a line the next one's first word would
            have fitted on ends its paragraph (``shape``; 0 when lines are not wrapped so).
        columns: ``width`` counts display columns (two for a CJK character), else characters.
        words: lines wrap between words (Latin script): a paragraph ends a sentence as well.
    """

    kind: str
    indent: bool = False
    base: int = 0
    width: int = 0
    columns: bool = False
    words: bool = False


def _measure(lines: list[str], size) -> tuple[int, float]:
    """The widest usual line under ``size`` and the share of lines within a character of it."""
    widths = sorted(size(line.rstrip()) for line in lines)
    top = widths[min(len(widths) - 1, int(len(widths) * 0.97))]
    near = sum(1 for width in widths if top - 2 <= width <= top)
    return top, near / len(widths)


def _latin(lines: list[str]) -> bool:
    sample = lines[:400]
    return sum(1 for line in sample if not _WIDE.search(line)) > 0.9 * len(sample)


def _wrap_width(lines: list[str]) -> tuple[int, bool]:
    """The width lines are hard-wrapped at (0 when most are not near one), and whether it is
    counted in display columns (else in characters): whichever count lines agree on more."""
    chars, chars_share = _measure(lines, len)
    columns, columns_share = _measure(lines, _width)
    top, share, in_columns = max(
        (columns, columns_share, True), (chars, chars_share, False), key=lambda measure: measure[1]
    )
    latin = _latin(lines)
    if latin:  # words wrap: lines spread over the width of a long word below the limit
        widths = sorted(len(line.rstrip()) for line in lines)
        top = widths[min(len(widths) - 1, int(len(widths) * 0.998))]
        near = sum(1 for line in lines if len(line.rstrip()) >= top * 0.8) / len(lines)
        return (top, False) if top >= 20 and near >= 0.5 else (0, False)
    return (top, in_columns) if top >= 10 and share >= 0.5 else (0, False)


def layout(lines: list[str]) -> Layout:
    """Decide from the first 4000 lines how ``lines`` mark paragraphs (evidence, per file)."""
    sample = lines[:4000]
    nonblank = [line for line in sample if line.strip()]
    if len(nonblank) < 20:
        return Layout("line")
    blocks = sum(
        1
        for prev, line in zip([""] + sample, sample, strict=False)
        if line.strip() and not prev.strip()
    )
    short = sum(1 for line in nonblank if len(line) <= 80)
    per_block = len(nonblank) / max(blocks, 1)
    if per_block < 1.8 or short / len(nonblank) <= 0.9:
        return Layout("line")
    if per_block <= 15:  # blank lines come often enough to be the paragraph breaks
        return Layout("blank")
    base = min(_indent(line) for line in nonblank)
    deeper = sum(1 for line in nonblank if _indent(line) > base) / len(nonblank)
    indent = 0.03 <= deeper <= 0.9
    width, columns = _wrap_width(nonblank)
    if not indent and not width:  # short lines of their own, blank lines only here and there
        return Layout("line")
    words = _latin(nonblank)
    return Layout("shape", indent, base, width, columns, words)


def wrapped(lines: list[str]) -> bool:
    """True when a paragraph may run over several lines (hard-wrapped text)."""
    return layout(lines).kind != "line"


_NO_START = "，。、；：？！”」』）》…,.;:?!)"
_SENTENCE_END_LINE = ".!?:;\"'”’)]_*-—"
_SPEECH_ENDS = {a + b for a in ".!?," for b in '"”'}
_LATIN_RUN = re.compile(r"[^\s\u2e80-\uffef]+")


def _first_unit(line: str, size) -> int:
    """Width the start of ``line`` would need at the end of the line above it: a word and the
    space before it, or one CJK character (a mark before it, as in ``“好``, counted with it)."""
    text = line.strip()
    run = _LATIN_RUN.match(text)
    if not run:
        return size(text[:1])
    word = run.group()
    if len(word) < len(text) and not text[len(word)].isspace():
        return size(word)  # ``“好``: the mark alone could end the line above
    return size(word) + 1


def _starts_paragraph(prev: str, line: str, shape: Layout) -> bool:
    if shape.indent and _indent(line) > shape.base:
        return True
    if shape.width and line.strip()[:1] not in _NO_START:
        end, opening = prev.rstrip()[-2:], line.strip()[:1]
        if end[-1:] in "”」』" and opening in "“「『" or end in _SPEECH_ENDS and opening in '"“':
            return True  # a full line ending one speech, the next opening another
        if shape.words and prev.rstrip()[-1:] not in _SENTENCE_END_LINE:
            return False  # mid-sentence
        size = _width if shape.columns else len
        return _first_unit(line, size) <= shape.width - size(prev.rstrip())
    return False
