"""Provides SubtitleParser: SRT, ASS/SSA and WebVTT through pysubs2.

Speakers come from the ASS Name (Actor) field, WebVTT ``<v Name>`` voices, ``Name:`` /
``【Name】`` / ``[Name]`` prefixes and ``- … - …`` dialogue dashes (two speakers in one cue);
everything else stays unassigned (speaker None) for the user to assign. Events that are not
speech (signs, songs, staff credits, translator notes, comments: see :mod:`studio_subtitle.signs`)
are dropped, with one warning per kind giving the count. Styling tags are stripped; sound cues (``[yawns]``) are kept as actions. Bilingual cues keep one language
(``language`` option: ``zh`` / ``en``, or a tag such as ``eng`` in multi-language files; by default
the first line's). Consecutive cues with less than ``scene_gap`` seconds of silence between them
form one scene, whose id is the start time of its first cue.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from studio.api import (
    FloatOption,
    InputError,
    ParseResult,
    ParseWarning,
    SourceText,
    StrOption,
    Utterance,
)
from studio_subtitle import cues as rules
from studio_subtitle import signs

_TIMING = re.compile(
    r"\d{1,2}:\d{2}:\d{2}[,.]\d{1,3}\s*-->\s*\d{1,2}:\d{2}:\d{2}[,.]\d{1,3}|\d{2}:\d{2}[.]\d{3}\s*-->"
)
_EVENT_LINE = re.compile(r"^(?:Dialogue|Comment):", re.M)


class SubtitleParser:
    """Subtitle files into utterances with cue times (see the module docstring)."""

    name = "subtitle"
    description = "Subtitles: SRT, ASS/SSA, WebVTT; speakers from Name fields, Name: / 【Name】 prefixes, dashes"
    extensions = (".srt", ".ass", ".ssa", ".vtt")
    """File extensions this parser reads: a new workspace's ``[corpus] files`` globs these."""
    options = (
        FloatOption("scene_gap", 8.0, "Seconds of silence that start a new scene", minimum=0.0),
        StrOption(
            "language",
            "",
            "Bilingual cues: keep zh or en (or a tag like eng); empty keeps the first line's",
        ),
    )

    def sniff(self, source: SourceText) -> float:
        """1.0 for WebVTT and ASS headers, 0.95 for SRT timings, else 0."""
        head = source.text[:4000]
        stripped = head.lstrip()
        if stripped.startswith("WEBVTT") or "[Script Info]" in head or "[Events]" in head:
            return 1.0
        if _TIMING.search(head):
            return 0.95
        return 0.0

    def parse(self, source: SourceText, options: Mapping[str, Any]) -> ParseResult:
        """Parse all cues; no cue at all is an error naming the file."""
        import pysubs2

        text = source.text
        if text.lstrip().startswith("WEBVTT"):
            text = rules.voice_to_prefix(text)
        head = text[:4000]
        hint = (
            "vtt"
            if head.lstrip().startswith("WEBVTT")
            else "ass"
            if "[Events]" in text or "[Script Info]" in head
            else None
        )
        try:
            subs = pysubs2.SSAFile.from_string(text, format_=hint)
        except Exception as exc:  # pysubs2 raises several types for malformed files
            raise InputError(
                source.path, f"not a valid SRT, ASS/SSA or WebVTT file: {exc}"
            ) from None
        events = list(subs.events)
        if not events:
            raise InputError(
                source.path, "no subtitle cues found; expected SRT, ASS/SSA or WebVTT cues"
            )
        result = ParseResult(self.name, source)
        lines_of = _cue_lines(source.text, len(events), getattr(subs, "format", "") == "ass")
        texts = [
            [rules.clean_markup(line) for line in event.plaintext.split("\n")] for event in events
        ]
        tags = rules.language_tags(texts)
        language = str(options.get("language") or "")
        if tags:
            tag = language if language in tags else tags[0] if not language else ""
            if not tag:
                raise InputError(
                    source.path,
                    f"language {language!r} is not in this file; expected one of {', '.join(tags)}",
                )
            if not language:
                result.warnings.append(
                    ParseWarning(
                        source.name,
                        1,
                        f"multi-language subtitles ({', '.join(tags)}); "
                        f"kept [{tag}] (choose with --opt language=TAG)",
                    )
                )
            texts = [rules.pick_tagged(lines, tag) for lines in texts]
        verdict = signs.classify(events)
        for message, index in signs.summary(verdict, events):
            result.warnings.append(ParseWarning(source.name, lines_of[index], message))
        spoken = [lines for lines, kind in zip(texts, verdict.kinds, strict=True) if kind is None]
        names = rules.bracket_names([line for lines in spoken for line in lines])
        gap = float(options.get("scene_gap", 8.0))
        scene, last_end = "", None
        warned_bilingual = False
        for index, event in enumerate(events):
            line = lines_of[index]
            if verdict.kinds[index] is not None:  # a comment, sign, song, credit or note
                continue
            start, end = event.start / 1000, event.end / 1000
            if last_end is None or start - last_end > gap:
                scene = _clock(start)
            last_end = max(end, last_end or end)
            lines = texts[index]
            if not tags and rules.bilingual(lines):
                keep = language if language in ("zh", "en") else rules.script_of(lines[0])
                if not language and not warned_bilingual:
                    other = "en" if keep == "zh" else "zh"
                    result.warnings.append(
                        ParseWarning(
                            source.name,
                            line,
                            f"bilingual cues; kept {keep} (the other: --opt language={other})",
                        )
                    )
                    warned_bilingual = True
                lines = rules.pick_language(lines, keep)
            said = rules.split_speakers(lines, names)
            if not said:
                if event.plaintext.strip():
                    result.warnings.append(
                        ParseWarning(source.name, line, "cue has no text in the chosen language")
                    )
                continue
            actor = event.name.strip() or None
            for part in said:
                speaker = part.speaker or (
                    actor if part.kind == "dialogue" and len(said) == 1 else None
                )
                if not part.text:
                    continue
                result.utterances.append(
                    Utterance(
                        speaker,
                        part.text,
                        part.kind,
                        scene,
                        source.name,
                        line,  # type: ignore[arg-type]
                        action=part.action,
                        start=start,
                        end=end,
                    )
                )
        return result


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _cue_lines(text: str, count: int, ass: bool) -> list[int]:
    """Source line of each cue: the ``Dialogue:`` line (ASS) or the line after the timing line."""
    found: list[int] = []
    position, newlines = 0, 0
    for match in (_EVENT_LINE if ass else _TIMING).finditer(text):
        newlines += text.count("\n", position, match.start())
        position = match.start()
        found.append(newlines + (1 if ass else 2))
    if len(found) >= count:
        return found[:count]
    return found + [found[-1] if found else 1] * (count - len(found))
