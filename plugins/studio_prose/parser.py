"""Provides ProseParser: quoted speech in novels, attributed by rules (X道：“…” / “…”X说)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from studio.api import ParseResult, SourceText, StrOption, Utterance

_QUOTE = re.compile(r"“([^”]{1,2000})”|「([^」]{1,2000})」|\"([^\"\n]{1,2000})\"")
_BEFORE = re.compile(r"([\u4e00-\u9fff]{1,4}?)(?:笑道|问道|说道|叹道|道|说|问|笑|喊)[：:，,]?\s*$")
_AFTER = re.compile(r"^\s*([\u4e00-\u9fff]{1,4}?)(?:笑道|问道|说道|道|说|问)")
_EN_AFTER = re.compile(r"^\s*,?\s*(?:said|asked|cried|replied)\s+([A-Z][a-z]+(?: [A-Z][a-z]+)?)")
_EN_AFTER2 = re.compile(r"^\s*,?\s*([A-Z][a-z]+(?: [A-Z][a-z]+)?)\s+(?:said|asked|cried|replied)")
_CHAPTER = re.compile(r"^\s*(第[0-9一二三四五六七八九十百千零〇两]+[章回节]|CHAPTER\s+\w+|Chapter\s+\w+)")


class ProseParser:
    name = "prose"
    description = "Novels: quotes (“…” 「…」 \"…\") with speaker attribution by rules"
    options = (StrOption("narrator", "", "Name of the first-person narrator (我/I)"),)

    def sniff(self, source: SourceText) -> float:
        head = source.text[:50000]
        if not head.strip():
            return 0.0
        quotes = len(_QUOTE.findall(head))
        lines = max(1, head.count("\n"))
        return min(0.9, 0.3 + quotes / lines * 0.3) if quotes else 0.05

    def parse(self, source: SourceText, options: Mapping[str, Any]) -> ParseResult:
        result = ParseResult(self.name, source)
        narrator = options.get("narrator") or ""
        scene = "0"
        for number, raw in enumerate(source.text.split("\n"), start=1):
            line = raw.strip()
            if not line:
                continue
            if _CHAPTER.match(line):
                scene = line[:40]
                result.utterances.append(Utterance(None, line, "scene", scene, source.name, number))
                continue
            pos = 0
            for match in _QUOTE.finditer(line):
                before = line[pos:match.start()]
                if before.strip():
                    result.utterances.append(Utterance(None, before.strip(), "narration", scene, source.name, number))
                text = next(g for g in match.groups() if g is not None)
                after = line[match.end():match.end() + 30]
                speaker = None
                m = _BEFORE.search(before)
                if m:
                    speaker = m.group(1)
                else:
                    m = _AFTER.match(after) or _EN_AFTER.match(after) or _EN_AFTER2.match(after)
                    if m:
                        speaker = m.group(1)
                if speaker in ("我", "I") and narrator:
                    speaker = narrator
                result.utterances.append(Utterance(speaker, text.strip(), "dialogue", scene, source.name, number))
                pos = match.end()
            rest = line[pos:].strip()
            if rest:
                result.utterances.append(Utterance(None, rest, "narration", scene, source.name, number))
        return result
