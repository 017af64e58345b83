"""Provides ScreenplayParser: ``角色：台词`` scripts and ``NAME:`` plays."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from studio.api import BoolOption, ParseResult, ParseWarning, SourceText, Utterance

_CN_LINE = re.compile(r"^(?P<name>[^\s：:（(【]{1,12})(?:[（(](?P<action>[^）)]*)[）)])?\s*[：:∶]\s*(?P<text>.*)$")
_EN_NAME_ALONE = re.compile(r"^(?P<name>[A-Z][A-Za-z' .\-]{0,40}):\s*$")
_EN_LINE = re.compile(r"^(?P<name>[A-Z][A-Za-z' .\-]{0,40}):\s+(?P<text>\S.*)$")
_SCENE = re.compile(r"^\s*(第[0-9一二三四五六七八九十百千零〇两]+[集幕场回章]|(?:ACT|SCENE|INT\.|EXT\.)\b)")
_INLINE = re.compile(r"[（(][^）)]*[）)]")


class ScreenplayParser:
    name = "screenplay"
    description = "Scripts and plays: 角色：台词, 角色（动作）：台词, NAME: line, NAME on its own line"
    options = (BoolOption("keep_inline_actions", False, "Keep （…） actions inside the spoken text"),)

    def sniff(self, source: SourceText) -> float:
        lines = [ln.strip() for ln in source.text[:20000].split("\n") if ln.strip()]
        if not lines:
            return 0.0
        hits = sum(1 for ln in lines if _CN_LINE.match(ln) or _EN_LINE.match(ln) or _EN_NAME_ALONE.match(ln))
        return min(1.0, hits / len(lines) * 1.2)

    def parse(self, source: SourceText, options: Mapping[str, Any]) -> ParseResult:
        result = ParseResult(self.name, source)
        scene = "1"
        pending: str | None = None  # NAME on its own line, speech on the next lines
        current: Utterance | None = None
        for number, raw in enumerate(source.text.split("\n"), start=1):
            line = raw.strip()
            if not line:
                pending, current = None, None
                continue
            if _SCENE.match(line):
                scene = line
                result.utterances.append(Utterance(None, line, "scene", scene, source.name, number))
                pending = None
                continue
            if line[0] in "（(" and line[-1] in "）)":
                result.utterances.append(Utterance(None, line[1:-1], "action", scene, source.name, number))
                continue
            match = _EN_NAME_ALONE.match(line)
            if match:
                pending, current = match.group("name").strip(), None
                continue
            if pending:
                if current is not None:
                    current.text += " " + line
                else:
                    current = Utterance(pending, line, "dialogue", scene, source.name, number)
                    result.utterances.append(current)
                continue
            match = _CN_LINE.match(line) or _EN_LINE.match(line)
            if match:
                text = match.group("text").strip()
                action = match.groupdict().get("action")
                if not options.get("keep_inline_actions"):
                    text = _INLINE.sub("", text).strip()
                if text:
                    result.utterances.append(Utterance(match.group("name").strip(), text, "dialogue", scene, source.name, number, action=action))
                continue
            result.warnings.append(ParseWarning(source.name, number, f"not a dialogue, action or scene line: {line[:40]!r}"))
        return result
