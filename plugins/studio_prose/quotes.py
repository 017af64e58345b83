"""Provides paragraphs, chapter headings and quotation splitting for novel prose.

A paragraph is one line in Chinese web texts and in texts that keep one paragraph per line, a
block of lines between blank lines in hard-wrapped texts (Project Gutenberg), or, in wrapped
texts without blank lines between paragraphs, a run of lines up to the next indented line or
after a line shorter than the wrap width (the layout is chosen per file from the evidence).
Quotation marks are found by pairing: ``“…”`` and ``「…」`` (Chinese), ``“…”``, ``"…"`` or
``‘…’`` (English, the style the text uses most), with nested quotes left inside. A quote still
open at the end of a paragraph runs to its end (a speech that goes on in the next paragraph).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from studio.api import HAN_CLASS, is_han
from studio_prose.layout import _starts_paragraph, _width, layout

_CN_CHAPTER = re.compile(
    r"^第\s*[0-9０-９一二三四五六七八九十百千零〇两]+\s*[章回节卷部集篇]"
    r"(?:$|[\s　:：、.．\-—]+\S.{0,40}$)"
)
_EN_CHAPTER = re.compile(
    r"^(?:CHAPTER|Chapter|BOOK|Book|PART|Part|VOLUME|Volume)\s+(?:[IVXLCDM]+|\d+|[A-Z][a-z]+(?:-[a-z]+)?)\b[.:]?\]?"
    r"(?:\s+\S.{0,60})?$"
)
_BREAK = re.compile(r"^[\s*＊·•~～#=—\-_◇◆○●☆★※]{3,}$")


def chapter_heading(line: str) -> bool:
    """``第一章 风波`` / `` 第一回　…`` / ``CHAPTER II.`` on a line of its own."""
    text = line.strip()
    if not text or len(text) > 60:
        return False
    if text[0] == "第":
        return bool(_CN_CHAPTER.match(text))
    if text[0] in "CBPVcbpv":
        return bool(_EN_CHAPTER.match(text))
    return False


_TITLE_ZH = re.compile(r"^[《" + HAN_CLASS + r"Ａ-Ｚａ-ｚ０-９》]{2,12}$")


def story_title(line: str) -> bool:
    """``                    风波``: a short Chinese title centred far into the line (a story of a
    collection), with no punctuation; not a byline (``·鲁迅·``) or a date (``一九二○年十月。``).
    In blank-line layouts a title may also be a short line set apart by two blank lines."""
    text = line.strip()
    indent = line[: len(line) - len(line.lstrip(" \u3000"))]
    return _width(indent) >= 12 and bool(_TITLE_ZH.match(text.replace("\u3000", "")))


def scene_break(line: str) -> bool:
    """``* * *`` / ``＊＊＊`` / ``——————``: a break inside a chapter."""
    text = line.strip()
    return (
        bool(text)
        and len(text) <= 40
        and bool(_BREAK.match(text))
        and any(ch not in " 　" for ch in text)
    )


@dataclass
class Paragraph:
    """A paragraph of the text.

    Attributes:
        text: the paragraph (inner line breaks of wrapped texts kept as ``\\n``).
        line: 1-based line of its first line.
    """

    text: str
    line: int
    _breaks: list[int] | None = field(default=None, init=False, repr=False, compare=False)

    def line_at(self, offset: int) -> int:
        """The source line of the character at ``offset`` (a binary search: a paragraph of many
        quotes would otherwise be counted from its start for each one)."""
        if self._breaks is None:
            self._breaks = [match.start() for match in re.finditer("\n", self.text)]
        return self.line + bisect.bisect_left(self._breaks, offset)


def _titled(lines: list[str], index: int, out: list[tuple[str, Paragraph]]) -> bool:
    """A story title on line ``index``: centred far in, or a short line with two blank lines
    above and below; a byline right under a title is not another one."""
    if out and out[-1][0] == "chapter":
        return False
    if story_title(lines[index]):
        return True
    around = lines[max(0, index - 2) : index] + lines[index + 1 : index + 3]
    set_apart = len(around) == 4 and not any(line.strip() for line in around)
    return set_apart and bool(_TITLE_ZH.match(lines[index].strip().replace("\u3000", "")))


def paragraphs(text: str) -> list[tuple[str, Paragraph]]:
    """Split ``text`` into ``(kind, paragraph)`` with kind ``text``, ``chapter``, ``break`` or
    ``caption`` (see :func:`_captions`)."""
    lines = text.split("\n")
    out: list[tuple[str, Paragraph]] = []
    shape = layout(lines)
    if shape.kind == "line":
        for index, line in enumerate(lines):
            if not line.strip():
                continue
            title = chapter_heading(line) or _titled(lines, index, out)
            kind = "chapter" if title else "break" if scene_break(line) else "text"
            out.append((kind, Paragraph(line.strip(), index + 1)))
        return _captions(out)
    block: list[str] = []
    start = 0

    def close() -> None:
        titled = len(block) == 1 and _titled(lines, start, out)
        if len(block) == 1 and (chapter_heading(block[0]) or titled):
            out.append(("chapter", Paragraph(block[0], start + 1)))
        elif len(block) == 1 and scene_break(block[0]):
            out.append(("break", Paragraph(block[0], start + 1)))
        elif block:
            out.append(("text", Paragraph("\n".join(block), start + 1)))
        block.clear()

    prev = ""
    for index, line in enumerate(lines):
        if not line.strip():
            close()
            prev = ""
            continue
        if (
            block
            and shape.kind == "shape"
            and (
                _starts_paragraph(prev, line, shape)
                or chapter_heading(line)
                or scene_break(line)
                or chapter_heading(prev)
                or scene_break(prev)
                or story_title(line)
                or story_title(prev)
            )
        ):
            close()
        if not block:
            start = index
        block.append(line.strip())
        prev = line
    close()
    return _captions(out)


def _captions(out: list[tuple[str, Paragraph]]) -> list[tuple[str, Paragraph]]:
    """Mark the text inside an ``[Illustration: …]`` block (over one paragraph or several) as
    ``caption``: a picture's words, never speech nor a turn of the talk around it."""
    marked: list[tuple[str, Paragraph]] = []
    depth = 0
    for kind, para in out:
        opens = para.text.lstrip().lower().startswith("[illustration")
        if opens or depth > 0:
            balance = para.text.count("[") - para.text.count("]")
            depth = balance if opens else depth + balance
            depth = max(depth, 0)
            if kind == "text":
                kind = "caption"
        marked.append((kind, para))
    return marked


# -- quotes ----------------------------------------------------------------------------------

_PAIRS = {"“": "”", "「": "」", "『": "』", "‘": "’", '"': '"'}


@dataclass(frozen=True)
class QuoteStyle:
    """The quotation marks a text uses for speech: ``opens`` map to their closing marks."""

    opens: dict[str, str]
    lang: str  # "zh" or "en"


def detect_style(text: str) -> QuoteStyle:
    """Pick the speech quotes and language of ``text`` from counts of marks and letters."""
    sample = text[:400_000]
    cjk = sum(1 for ch in sample[:50_000] if is_han(ch))
    latin = sum(1 for ch in sample[:50_000] if "a" <= ch.lower() <= "z")
    lang = "zh" if cjk >= latin else "en"
    if lang == "zh":
        return QuoteStyle({"“": "”", "「": "」", "『": "』", '"': '"'}, lang)
    curly = sample.count("“")
    straight = sample.count('"')
    single = len(re.findall(r"(?:^|[\s(—])‘", sample))
    if single > 2 * max(curly, straight // 2):
        return QuoteStyle({"‘": "’"}, lang)
    if curly >= straight // 2:
        return QuoteStyle({"“": "”"}, lang)
    return QuoteStyle({'"': '"'}, lang)


@dataclass
class Segment:
    """A piece of a paragraph: narration text or a quotation (``quote``)."""

    kind: str  # "text" or "quote"
    text: str
    start: int
    end: int
    closed: bool = True


def _closing(text: str, index: int, close: str, open_mark: str) -> int:
    """Index of the mark closing the quote opened at ``index``; -1 when it stays open."""
    if open_mark == close:  # straight quotes: the next one closes
        return text.find(close, index + 1)
    depth = 1
    position = index + 1
    while position < len(text):
        ch = text[position]
        if ch == open_mark:
            depth += 1
        elif ch == close:
            if (
                close == "’"
                and position + 1 < len(text)
                and text[position + 1].isalpha()
                and text[position - 1].isalpha()
            ):
                position += 1  # don’t: an apostrophe
                continue
            depth -= 1
            if depth == 0:
                return position
        position += 1
    return -1


def split_quotes(text: str, style: QuoteStyle) -> list[Segment]:
    """Split a paragraph into narration and quotations (outermost quotes only)."""
    segments: list[Segment] = []
    opens = style.opens
    position = 0
    cursor = 0
    length = len(text)
    while cursor < length:
        ch = text[cursor]
        if ch not in opens:
            cursor += 1
            continue
        if ch == "‘" and cursor and text[cursor - 1].isalpha():
            cursor += 1
            continue
        end = _closing(text, cursor, opens[ch], ch)
        if cursor > position:
            segments.append(Segment("text", text[position:cursor], position, cursor))
        if end < 0:
            segments.append(Segment("quote", text[cursor + 1 :], cursor, length, closed=False))
            return segments
        segments.append(Segment("quote", text[cursor + 1 : end], cursor, end + 1))
        position = cursor = end + 1
    if position < length:
        segments.append(Segment("text", text[position:], position, length))
    return segments


_SENTENCE_END_ZH = "。！？!?…～~—，,；;："
_SENTENCE_END_EN = ".!?,;:—-…"


def looks_like_speech(quote: str, before: str, lang: str, *, closed: bool) -> bool:
    """A quotation is speech unless it is a short term or title inside a sentence.

    ``然后由皇上决定是“撂牌子”还是“留用”`` quotes terms; ``她笑道：“好。”`` is speech.
    """
    body = quote.strip()
    if not body:
        return False
    lead = before.rstrip()
    if not lead or lead[-1] in "：:∶﹕":
        return True
    if not closed:
        return True
    if lang == "zh":
        if any(ch in _SENTENCE_END_ZH for ch in body):
            return True
        return lead[-1] in "，," and len(body) > 6
    words = body.split()
    if body[-1] in _SENTENCE_END_EN or any(ch in "!?" for ch in body):
        return True
    return len(words) >= 6 and lead[-1] in ",—"
