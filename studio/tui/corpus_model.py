"""Provides the corpus as the studio shows it: files, inspector rows, roster, alias suggestions.

UI-free: built in a worker thread from the parser results with the user's speaker fixes and
aliases applied, then handed to the screens in one message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from studio.api import ParseResult, Utterance


@dataclass
class FileInfo:
    """One corpus file as parsed."""

    path: str
    parser: str
    encoding: str
    newline: str
    utterances: int
    dialogue: int
    unknown_speaker: int
    warnings: int

    @property
    def attributed(self) -> float | None:
        """Share (0..1) of the dialogue lines that have a speaker; None without dialogue."""
        return (self.dialogue - self.unknown_speaker) / self.dialogue if self.dialogue else None


@dataclass
class Row:
    """One row of the corpus inspector.

    Attributes:
        kind: ``scene`` (a heading), ``line`` (an utterance) or ``warning`` (a source line the
            parser could not classify).
        file / line: where it is in the corpus (the key of speaker fixes).
        speaker: the speaker after fixes, or None.
        text: what is shown.
        utt_kind: the utterance kind (dialogue, narration, action, scene).
        fixed: the speaker was assigned by the user.
        warning: the parser's warning for this line, if any.
        confidence: the parser's confidence in the speaker (None: it does not say).
        method: how the parser found the speaker (``tag-after``, ``turn-fill`` …), when it says.
    """

    kind: str
    file: str
    line: int
    speaker: str | None
    text: str
    utt_kind: str = "dialogue"
    fixed: bool = False
    warning: str | None = None
    scene: str = ""
    confidence: float | None = None
    method: str | None = None


@dataclass
class CorpusSnapshot:
    """Everything the home and corpus screens show about the corpus."""

    files: list[FileInfo]
    rows: dict[str, list[Row]]
    roster: list[Any]
    suggestions: list[tuple[str, str]]
    errors: list[str]
    fixes: int = 0
    version: int = 0
    speakers: list[str] = field(default_factory=list)

    @property
    def total_warnings(self) -> int:
        return sum(f.warnings for f in self.files)


def _rows(
    result: ParseResult, utterances: list[Utterance], fixed_keys: set[tuple[str, int]]
) -> list[Row]:
    file = str(result.source.path)
    source_lines = result.source.text.split("\n")
    warned = {w.line: w.message for w in result.warnings}
    rows: list[Row] = []
    seen_lines: set[int] = set()
    for utt in utterances:
        seen_lines.add(utt.line)
        kind = "scene" if utt.kind == "scene" else "line"
        rows.append(
            Row(
                kind,
                utt.file or file,
                utt.line,
                utt.speaker,
                utt.text,
                utt.kind,
                (utt.file, utt.line) in fixed_keys,
                warned.get(utt.line),
                utt.scene,
                getattr(utt, "confidence", None),
                getattr(utt, "method", None),
            )
        )
    extra = []
    for line, message in sorted(warned.items()):
        if line in seen_lines:
            continue
        text = source_lines[line - 1].strip() if 0 < line <= len(source_lines) else ""
        extra.append(Row("warning", file, line, None, text, "warning", False, message))
    if extra:  # merge warning rows into source order
        merged: list[Row] = []
        queue = list(extra)
        for row in rows:
            while queue and queue[0].line < row.line:
                warning = queue.pop(0)
                warning.scene = row.scene
                merged.append(warning)
            merged.append(row)
        merged.extend(queue)
        rows = merged
    return rows


def build_snapshot(ws: Any, parsers: dict[str, Any], version: int = 0) -> CorpusSnapshot:
    """Parse the workspace corpus and apply the user's fixes and aliases.

    Args:
        ws: the workspace.
        parsers: registered corpus parsers.
        version: a counter the screens use to tell snapshots apart.
    """
    from studio.corpus.inspect import build_roster, suggest_aliases
    from studio.corpus.load import load_utterances

    corpus = load_utterances(
        ws, parsers, tolerate_broken_fixes=True
    )  # a broken journal must not hide the corpus
    errors, fixes = corpus.errors, corpus.fixes
    files: list[FileInfo] = []
    rows: dict[str, list[Row]] = {}
    everything: list[Utterance] = []
    for result, utterances in corpus.files:
        everything += utterances
        dialogue = [u for u in utterances if u.kind == "dialogue"]
        name = str(result.source.path)
        files.append(
            FileInfo(
                path=name,
                parser=result.parser,
                encoding=result.source.encoding,
                newline={"\n": "LF", "\r\n": "CRLF", "\r": "CR"}.get(result.source.newline, "?"),
                utterances=len(utterances),
                dialogue=len(dialogue),
                unknown_speaker=sum(1 for u in dialogue if not u.speaker),
                warnings=len(result.warnings),
            )
        )
        rows[name] = _rows(result, utterances, set(fixes))
    cfg = ws.config
    roster = build_roster(everything, cfg.aliases(), cfg.roster.ignore)
    speakers = sorted({u.speaker for u in everything if u.speaker})
    return CorpusSnapshot(
        files, rows, roster, suggest_aliases(roster), errors, len(fixes), version, speakers
    )
