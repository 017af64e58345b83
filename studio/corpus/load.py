"""Provides load_utterances: a workspace's corpus as every stage sees it, the user's fixes applied.

Build, eval, ``roster`` and the studio's corpus view all read the corpus through here, so a
speaker the user assigned in ``corpus-fixes.jsonl`` counts the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from studio.api import CorpusParser, ParseResult, Utterance
from studio.corpus.fixes import SpeakerFix, apply_fixes, load_fixes
from studio.corpus.inspect import CorpusReport, Progress, parse_workspace
from studio.errors import StudioError


@dataclass
class LoadedCorpus:
    """A workspace's parsed corpus with the user's speaker fixes applied.

    Attributes:
        report: the parse results as the parsers returned them (raw, before fixes).
        files: each parse result with its utterances after fixes, in file order.
        fixes: the fixes applied, by ``(file, line)``.
        errors: files that could not be parsed (and a journal that could not be read, when
            tolerated).
    """

    report: CorpusReport
    files: list[tuple[ParseResult, list[Utterance]]] = field(default_factory=list)
    fixes: dict[tuple[str, int], SpeakerFix] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def utterances(self) -> list[Utterance]:
        """Every utterance of every file, fixes applied, in source order."""
        return [u for _, utterances in self.files for u in utterances]

    @property
    def results(self) -> list[ParseResult]:
        return self.report.results

    @property
    def warnings(self) -> int:
        return self.report.warnings


def load_utterances(
    ws: Any,
    parsers: Mapping[str, CorpusParser],
    *,
    progress: Progress | None = None,
    tolerate_broken_fixes: bool = False,
) -> LoadedCorpus:
    """Parse every corpus file of ``ws`` and apply the user's speaker fixes.

    Args:
        ws: the workspace.
        parsers: registered corpus parsers by name.
        progress: ``progress(done, total, phase)`` passed to the parsers.
        tolerate_broken_fixes: report an unreadable ``corpus-fixes.jsonl`` in ``errors`` and go on
            without fixes (the studio shows the corpus anyway) instead of raising.

    Raises:
        StudioError: the fixes journal cannot be read (unless tolerated).
    """
    report = parse_workspace(ws, parsers, progress)
    errors = list(report.errors)
    try:
        fixes = load_fixes(ws)
    except (StudioError, OSError) as exc:
        if not tolerate_broken_fixes:
            raise
        errors.append(str(exc))
        fixes = {}
    files = [(result, apply_fixes(result.utterances, ws, fixes)) for result in report.results]
    return LoadedCorpus(report, files, fixes, errors)
