"""Provides the non-speech filter of subtitle events: signs, songs, staff, notes and comments.

Fansub releases carry far more than the spoken lines: typeset signs (often motion-tracked, one
event per frame with ``{\\pos}`` / ``{\\frz}`` / ``{\\clip}``), phone-screen text, OP/ED songs with
karaoke timing, staff credits, translator notes and Comment events. The decision is made on
evidence, first per event, then per style:

- an event is not speech when it is a Comment, carries karaoke tags (``{\\k…}``) or a templater
  effect (``fx``, ``karaoke``, ``banner``), has the times of a karaoke line (its translation), is
  one of a run of identical events over consecutive frames, is moved, rotated or clipped
  (``\\move``, ``\\frz``, ``\\org``, ``\\clip``), is positioned *and* restyled in one override
  block (``{\\pos(…)\\fs60}``: a sign), or reads as a
  translator note (``注：``, ``TL note:``) or a staff credit (``翻译：``, ``Timing:``, ``字幕组``);
- a style is not speech when its name says so (Sign, OP, ED, Song, Staff, Note, Title, Karaoke,
  注释, 歌词, 片头, 片尾, 字幕组 …), and all its events go; or when most of its events are
  positioned or already judged non-speech one by one, and its other positioned or restyled
  events go (plain lines in such a style stay: a dialogue style that also carries many signs
  keeps its dialogue).

A second speaker's overlapping lines in a style of their own (``Default - Top``, ``Overlap``)
and dialogue merely placed at the top (``{\\an8}``) or moved once (``{\\pos}``) stay speech.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

_OVERRIDE = re.compile(r"\{[^}]*\}")
_KARAOKE = re.compile(r"\\(?:kf|ko|k|K)\d")
_MOVED = re.compile(r"\\(?:move|org|i?clip)\s*\(|\\fr[xyz]?\s*-?\d*\.?\d|\\fa[xy]\s*-?\d")
_POS = re.compile(r"\\pos\s*\(")
_RESTYLED = re.compile(r"\\(?:fs\d|fn[^\\}]|[1-4]?c&|fsc[xy]|blur|be\d|bord\d)")
_EFFECT = re.compile(r"^\s*(?:fx|karaoke|template|code|banner|scroll)", re.I)
_NOTE = re.compile(
    r"^\s*(?:[(（]\s*)?(?:注|註|译注|譯註|翻译注|翻譯註|※|tl\s*notes?|t/?l|t/?n|tln|"
    r"translator'?s?\s+notes?)\s*[:：]",
    re.I,
)
_STAFF_ROLE = re.compile(
    r"^\s*(?:翻译|翻譯|校对|校對|时轴|時軸|压制|壓制|后期|後期|特效|监制|監製|片源|总监|總監|嵌字|美工|"
    r"translat(?:ion|ed|or)s?|tim(?:ing|ed|er)s?|typeset(?:ting|ter|s)?|typeset|edit(?:ing|ed|or)s?|"
    r"encod(?:ing|ed|er)s?|qc|karaoke|kfx|raws?|subbed|styling)\s*(?:[:：]|by\b)",
    re.I,
)
_STAFF_WORDS = re.compile(
    r"字幕组|字幕組|仅供学习|僅供學習|禁止商用|禁止商業|subbed by|fansub", re.I
)
_STYLE_KINDS = (
    (
        "song",
        re.compile(
            r"song|lyric|karaoke|kara\b|opening|ending|insert|歌词|歌詞|片头|片頭|片尾|插曲|"
            r"(?:^|[^a-z])(?:op|ed)(?:[^a-z]|jp|cn|ch|en|ro|romaji|kanji|sc|tc|$)|^(?:op|ed)",
            re.I,
        ),
    ),
    (
        "sign",
        re.compile(
            r"sign|typeset|(?:^|[^a-z])ts(?:[^a-z]|$)|screen|phone|text|logo|屏幕|手机|手機|招牌|"
            r"画面|畫面|特效",
            re.I,
        ),
    ),
    ("staff", re.compile(r"staff|credit|字幕组|字幕組|制作|製作|(?:^|[^a-z])fansub", re.I)),
    ("note", re.compile(r"note|(?:^|[^a-z])tl(?:[^a-z]|$)|注释|註釋|注解|说明|說明", re.I)),
    ("title", re.compile(r"title|标题|標題|episode|preview|予告|预告|預告", re.I)),
)
_NAME_KINDS = {
    "sign": "sign",
    "ts": "sign",
    "typeset": "sign",
    "title": "title",
    "song": "song",
    "op": "song",
    "ed": "song",
    "karaoke": "song",
    "staff": "staff",
    "credit": "staff",
    "credits": "staff",
    "note": "note",
    "notes": "note",
    "tl": "note",
    "注释": "note",
    "歌词": "song",
    "屏幕": "sign",
    "标题": "title",
}
LABELS = {
    "comment": "Comment events",
    "song": "songs (OP/ED, karaoke)",
    "sign": "signs",
    "motion": "signs repeated frame by frame",
    "staff": "staff credits",
    "note": "translator notes",
    "title": "titles",
}
_FRAME_RUN = 3  # identical events on this many consecutive frames are a tracked sign
_SHORT = 0.3  # seconds: longer than any frame at 4 fps and shorter than any spoken cue


def style_kind(name: str) -> str | None:
    """The non-speech kind a style's name announces: song, sign, staff, note, title or None."""
    lowered = name.strip().lower()
    if not lowered or lowered in {"default", "dialogue", "main"}:
        return None
    for kind, pattern in _STYLE_KINDS:
        if pattern.search(lowered):
            return kind
    return None


def plain(text: str) -> str:
    """The event text without override blocks and line breaks."""
    return (
        _OVERRIDE.sub("", text).replace("\\N", " ").replace("\\n", " ").replace("\\h", " ").strip()
    )


def text_kind(text: str) -> str | None:
    """``note`` or ``staff`` when the visible text reads as a translator note or a staff credit."""
    if _NOTE.match(text):
        return "note"
    if _STAFF_ROLE.match(text) or _STAFF_WORDS.search(text):
        return "staff"
    return None


@dataclass
class Verdict:
    """What the filter decided for one file.

    Attributes:
        kinds: per event, None for speech or the non-speech kind (a key of :data:`LABELS`).
        styles: non-speech styles and why (``"name"`` or ``"evidence"``).
        repeated: distinct texts dropped as repeated frame by frame.
    """

    kinds: list[str | None]
    styles: dict[str, str] = field(default_factory=dict)
    repeated: int = 0

    def counts(self) -> Counter[str]:
        return Counter(kind for kind in self.kinds if kind)


def _frame_runs(
    events: Sequence[Any], texts: Sequence[str], candidates: Sequence[int]
) -> tuple[set[int], int]:
    """Events repeated with one text over consecutive short frames, and how many texts."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index in candidates:
        event = events[index]
        if texts[index] and (event.end - event.start) / 1000 <= _SHORT:
            groups[(event.style, texts[index])].append(index)
    found: set[int] = set()
    distinct = 0
    for members in groups.values():
        members.sort(key=lambda i: events[i].start)
        runs: list[list[int]] = []
        run_end = -1.0
        for index in members:
            start, end = events[index].start / 1000, events[index].end / 1000
            if not runs or start > run_end + 0.05:
                runs.append([])
                run_end = end
            runs[-1].append(index)
            run_end = max(run_end, end)
        for run in runs:
            if len({events[i].start for i in run}) >= _FRAME_RUN:
                found.update(run)
                distinct += 1
    return found, distinct


def classify(events: Sequence[Any]) -> Verdict:
    """Decide, for every pysubs2 event, whether it is speech (see the module docstring)."""
    kinds: list[str | None] = [None] * len(events)
    texts = [plain(event.text) for event in events]
    positioned = [False] * len(events)
    live = []
    for index, event in enumerate(events):
        raw = event.text
        if event.is_comment:
            kinds[index] = "comment"
            continue
        live.append(index)
        positioned[index] = bool(_POS.search(raw) or _MOVED.search(raw))
        name_kind = _NAME_KINDS.get(event.name.strip().lower())
        if name_kind:
            kinds[index] = name_kind
        elif _KARAOKE.search(raw) or (event.effect and _EFFECT.match(event.effect)):
            kinds[index] = "song"
        elif _MOVED.search(raw) or any(
            _POS.search(b) and _RESTYLED.search(b) for b in _OVERRIDE.findall(raw)
        ):
            kinds[index] = "sign"
        else:
            kinds[index] = text_kind(texts[index])
    sung = {
        (round(events[i].start / 100), round(events[i].end / 100))
        for i in live
        if _KARAOKE.search(events[i].text)
    }
    for index in live:  # a song's translation is shown with exactly the times of its karaoke line
        if (
            kinds[index] is None
            and (round(events[index].start / 100), round(events[index].end / 100)) in sung
        ):
            kinds[index] = "song"
    repeated, distinct = _frame_runs(events, texts, live)
    for index in repeated:
        if kinds[index] in (None, "sign"):
            kinds[index] = "motion"
    verdict = Verdict(kinds, repeated=distinct)
    by_style: dict[str, list[int]] = defaultdict(list)
    for index in live:
        by_style[events[index].style].append(index)
    for style, members in by_style.items():
        named = style_kind(style)
        flagged: Counter[str] = Counter(k for i in members if (k := kinds[i]))
        placed = sum(1 for i in members if positioned[i] or kinds[i])
        if named:
            verdict.styles[style] = "name"
            fill = named
        elif len(members) >= 2 and (
            sum(flagged.values()) >= 0.7 * len(members) or placed >= 0.7 * len(members)
        ):
            verdict.styles[style] = "evidence"
            fill = flagged.most_common(1)[0][0] if flagged else "sign"
            fill = "sign" if fill == "motion" else fill
        else:
            continue
        for index in members:  # plain text in a style judged on evidence keeps its benefit of doubt
            if not kinds[index] and (
                named or positioned[index] or _RESTYLED.search(events[index].text)
            ):
                kinds[index] = fill
    return verdict


def summary(verdict: Verdict, events: Sequence[Any]) -> list[tuple[str, int]]:
    """One message per dropped kind (count, styles) and the index of its first event."""
    first: dict[str, int] = {}
    styles: dict[str, Counter[str]] = defaultdict(Counter)
    for index, kind in enumerate(verdict.kinds):
        if kind:
            first.setdefault(kind, index)
            styles[kind][events[index].style] += 1
    counts = verdict.counts()
    out = []
    for kind in sorted(counts, key=lambda k: first[k]):
        message = f"not speech, dropped: {counts[kind]:,} {LABELS[kind]}"
        if kind == "motion":
            message += f" ({verdict.repeated} distinct texts)"
        named = [
            f"{style}{' (by name)' if verdict.styles.get(style) == 'name' else ''}"
            for style, _ in styles[kind].most_common(4)
        ]
        out.append((f"{message}; styles {', '.join(named)}", first[kind]))
    return out
