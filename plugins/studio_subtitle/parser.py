"""Provides SubtitleParser: SRT, ASS/SSA and WebVTT through pysubs2; speakers from Name fields and prefixes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from studio.api import FloatOption, ParseResult, ParseWarning, SourceText, Utterance
from studio.errors import InputError

_PREFIX = re.compile(r"^\s*(?:【([^】]{1,20})】|\[([^\]]{1,20})\]|([A-Z][A-Za-z .'\-]{0,20}|[\u4e00-\u9fff]{1,6})\s*[:：])\s*")
_TAGS = re.compile(r"\{[^}]*\}|<[^>]+>")


class SubtitleParser:
    name = "subtitle"
    description = "Subtitles: SRT, ASS/SSA, WebVTT; speakers from Name fields, Name: / 【Name】 prefixes, dashes"
    options = (FloatOption("scene_gap", 8.0, "Seconds of silence that start a new scene", minimum=0.0),)

    def sniff(self, source: SourceText) -> float:
        head = source.text[:4000]
        if head.lstrip().startswith("WEBVTT") or "[Script Info]" in head:
            return 1.0
        if re.search(r"\d{1,2}:\d{2}:\d{2}[,.]\d{3}\s*-->\s*\d{1,2}:\d{2}:\d{2}[,.]\d{3}", head):
            return 0.95
        return 0.0

    def parse(self, source: SourceText, options: Mapping[str, Any]) -> ParseResult:
        import pysubs2

        result = ParseResult(self.name, source)
        try:
            subs = pysubs2.SSAFile.from_string(source.text)
        except Exception as exc:
            raise InputError(source.path, f"not a valid subtitle file: {exc}") from None
        gap = float(options.get("scene_gap", 8.0))
        scene, last_end = 1, None
        for index, event in enumerate(subs.events, start=1):
            if event.is_comment:
                continue
            start, end = event.start / 1000, event.end / 1000
            if last_end is not None and start - last_end > gap:
                scene += 1
            last_end = end
            text = _TAGS.sub("", event.text.replace("\\N", "\n").replace("\\n", "\n")).strip()
            if not text:
                continue
            speakers_lines = []
            lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
            if len(lines) >= 2 and all(ln.startswith(("-", "–")) for ln in lines):
                speakers_lines = [(None, ln.lstrip("-– ").strip()) for ln in lines]
            else:
                joined = " ".join(lines)
                speaker = event.name or None
                m = _PREFIX.match(joined)
                if m:
                    speaker = next(g for g in m.groups() if g)
                    joined = joined[m.end():]
                speakers_lines = [(speaker, joined)]
            for speaker, spoken in speakers_lines:
                result.utterances.append(Utterance(speaker, spoken, "dialogue", str(scene), source.name, index,
                                                   start=start, end=end))
        if not subs.events:
            result.warnings.append(ParseWarning(source.name, 1, "no subtitle cues found"))
        return result
