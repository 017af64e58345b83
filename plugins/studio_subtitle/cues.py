"""Provides the text rules of subtitle cues: languages, speaker prefixes, dashes and sound cues.

- bilingual cues (a Chinese line and an English line) keep one language; multi-language files
  whose lines carry ``[eng]`` / ``[zhtw]`` tags keep the lines of one tag;
- ``【Name】``, ``[Name]`` (name-shaped, used as a prefix more than once) and ``Name:`` /
  ``Name：`` prefixes name the speaker; ``- … - …`` dashes are two speakers;
- ``[yawns]``, ``(laughs)``, ``♪ … ♪`` are sound cues, kept as actions.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from studio.api import HAN_CLASS, cjk_share, has_cjk

_TAG = re.compile(r"^\[([a-z]{2,4}(?:-[a-z]{2,4})?)\]\s?")
_HTML = re.compile(r"</?(?:i|b|u|s|font|c|ruby|rt|lang)[^>]*>|<\d\d:\d\d[^>]*>", re.I)
_VOICE = re.compile(r"<v(?:\.[\w.-]+)?\s+([^>]+)>")
_BRACKET = re.compile(r"^\s*(?:【([^】]{1,20})】|\[([^\]]{1,30})\])\s*")
_COLON = re.compile(
    r"^\s*([A-Z][A-Za-z.'’\-]*(?: [A-Z][A-Za-z.'’\-]*){0,2}|[A-Z][A-Z .'’\-]{1,24}|"
    rf"[{HAN_CLASS}·]{{1,6}})\s*[:：]\s*(?=\S)"
)
_SOUND = re.compile(r"^\s*(?:\[[^\]]*\]|\([^)]*\)|（[^）]*）|♪[^♪]*♪?|\*\*[^*]+\*\*)\s*$")
_DASH = re.compile(r"^\s*[-–—]\s*")
_INLINE_DASH = re.compile(r"\s[-–—]\s(?=\S)")


def script_of(text: str) -> str:
    """``zh`` for Chinese (or Japanese) letters, ``en`` for Latin ones, ``""`` for none."""
    if not has_cjk(text):
        return "en" if any(ch.isalpha() for ch in text) else ""
    return "zh" if cjk_share(text) >= 0.5 else "en"


def clean_markup(text: str) -> str:
    """Strip HTML-style styling tags left in SRT/VTT text (pysubs2 strips the ASS ones)."""
    return (
        _HTML.sub("", text)
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
    )


def voice_to_prefix(raw: str) -> str:
    """WebVTT ``<v Roger>Hi`` → ``Roger: Hi`` (pysubs2 would drop the voice)."""
    return _VOICE.sub(lambda m: f"{m.group(1).strip()}: ", raw).replace("</v>", "")


def language_tags(cues: list[list[str]]) -> list[str]:
    """The line tags of a multi-language file (``[eng]``, ``[zhtw]`` …), in file order."""
    counts: Counter[str] = Counter()
    order: dict[str, int] = {}
    tagged = 0
    for lines in cues:
        tags = [m.group(1) for line in lines if (m := _TAG.match(line))]
        if len(tags) >= 2 and len(tags) == len(lines):
            tagged += 1
            counts.update(set(tags))
            for tag in tags:
                order.setdefault(tag, len(order))
    if not cues or tagged < 0.6 * len(cues):
        return []
    return sorted(
        (tag for tag, count in counts.items() if count >= 0.5 * tagged), key=order.__getitem__
    )


def pick_tagged(lines: list[str], tag: str) -> list[str]:
    """The lines of one language tag, tag removed."""
    out = []
    for line in lines:
        match = _TAG.match(line)
        if match and match.group(1) == tag:
            out.append(line[match.end() :])
    return out


def bilingual(lines: list[str]) -> bool:
    """A cue of one Chinese and one English line (or more of each, Chinese first or last)."""
    if len(lines) < 2:
        return False
    scripts = [script_of(line) for line in lines if line.strip()]
    return len(scripts) >= 2 and "zh" in scripts and "en" in scripts and all(scripts)


def pick_language(lines: list[str], language: str) -> list[str]:
    return [line for line in lines if script_of(line) in (language, "")]


@dataclass
class Said:
    """One speaker's part of a cue: ``speaker`` is None when the cue does not say."""

    speaker: str | None
    text: str
    kind: str = "dialogue"
    action: str | None = None


def bracket_names(all_lines: list[str]) -> set[str]:
    """``[Name]`` prefixes used as speakers: name-shaped, followed by text, seen twice or more."""
    counts: Counter[str] = Counter()
    for line in all_lines:
        match = _BRACKET.match(line)
        if match and match.group(2) and line[match.end() :].strip():
            inner = match.group(2).strip()
            if inner[:1].isupper() or script_of(inner) == "zh":
                counts[inner] += 1
    return {name for name, count in counts.items() if count >= 2 and len(name.split()) <= 3}


def split_speakers(lines: list[str], names: set[str]) -> list[Said]:
    """Speakers and texts of a cue's lines (after the language was chosen)."""
    lines = [line.strip() for line in lines if line.strip()]
    if not lines:
        return []
    if len(lines) >= 2 and sum(1 for line in lines if _DASH.match(line)) >= 2:
        return [_one(_DASH.sub("", line, count=1), names) for line in lines]
    joined = _join(lines)
    if _DASH.match(joined) and _INLINE_DASH.search(joined):
        parts = _INLINE_DASH.split(_DASH.sub("", joined, count=1))
        if len(parts) >= 2:
            return [_one(part, names) for part in parts]
    return [_one(joined, names)]


def _join(lines: list[str]) -> str:
    out = lines[0]
    for line in lines[1:]:
        out += line if script_of(out[-8:]) == "zh" and script_of(line[:8]) == "zh" else " " + line
    return out


def _one(text: str, names: set[str]) -> Said:
    text = text.strip()
    if _SOUND.match(text):
        return Said(None, text.strip("[]()（）♪* "), "action")
    action = None
    match = _BRACKET.match(text)
    if match:
        inner = (match.group(1) or match.group(2) or "").strip()
        rest = text[match.end() :].strip()
        if match.group(1) or inner in names:
            return Said(inner, rest) if rest else Said(None, inner, "action")
        action, text = inner, rest  # [shouting] Stop! → the bracket is a direction
    match = _COLON.match(text)
    if match:
        name = match.group(1).strip()
        if name.lower() not in {"note", "warning", "re", "subject", "time", "http", "https"}:
            return Said(name, text[match.end() :].strip(), action=action)
    return Said(None, text, action=action)
