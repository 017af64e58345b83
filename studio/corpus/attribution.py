"""Provides the rules of attribution by hand: who needs a speaker, who likely said it, bulk rules.

UI-free; the corpus screen asks these functions and records the answers as corpus fixes
(:mod:`studio.corpus.fixes`). They work on the corpus inspector's rows, or on anything with the
same attributes: ``kind`` (``line`` for an utterance), ``utt_kind``, ``speaker``, ``text``,
``scene``, ``fixed`` and ``confidence``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from studio.api import LOW_CONFIDENCE

SCOPES = ("marked", "scene", "file", "corpus")


def needs_speaker(row: Any) -> bool:
    """A dialogue line without a speaker, or whose speaker the parser was not sure of."""
    if row.kind != "line" or row.utt_kind != "dialogue":
        return False
    if not row.speaker:
        return True
    confidence = getattr(row, "confidence", None)
    return not row.fixed and confidence is not None and confidence < LOW_CONFIDENCE


def _settled(row: Any) -> str | None:
    """The speaker of a dialogue line when it can be trusted as context, else None."""
    if row.kind == "line" and row.utt_kind == "dialogue" and row.speaker and not needs_speaker(row):
        return str(row.speaker)
    return None


def file_speakers(rows: Sequence[Any], limit: int = 10) -> list[str]:
    """The most frequent trusted speakers of one file's rows, most frequent first."""
    counts = Counter(s for row in rows if (s := _settled(row)))
    return [name for name, _ in counts.most_common(limit)]


def likely_speakers(
    rows: Sequence[Any], index: int, fallback: Iterable[str] = (), limit: int = 3, window: int = 60
) -> list[str]:
    """The two or three people most likely to say ``rows[index]``, most likely first.

    First the exchange's participants: the one who did not say the line before (turn-taking),
    the speaker of the next attributed line and of the line before; then the last named people
    before it; then ``fallback`` (e.g. the corpus's most frequent speakers).

    Args:
        rows: one file's rows in source order.
        index: the row to attribute.
        fallback: names to offer when the neighbourhood has too few.
        limit: how many names at most.
        window: how many rows to look at on either side.
    """
    scene = rows[index].scene if 0 <= index < len(rows) else ""
    before = [
        s for i in range(index - 1, max(-1, index - window - 1), -1) if (s := _settled(rows[i]))
    ]
    after = [
        s for i in range(index + 1, min(len(rows), index + window + 1)) if (s := _settled(rows[i]))
    ]
    same_scene_before = [
        s
        for i in range(index - 1, max(-1, index - window - 1), -1)
        if rows[i].scene == scene and (s := _settled(rows[i]))
    ]
    same_scene_after = [
        s
        for i in range(index + 1, min(len(rows), index + window + 1))
        if rows[i].scene == scene and (s := _settled(rows[i]))
    ]
    previous = same_scene_before[0] if same_scene_before else None
    following = same_scene_after[0] if same_scene_after else None
    other = next((s for s in same_scene_before if s != previous), None)
    ordered: list[str | None] = [other, following, previous]
    if other is None and following == previous:
        ordered = [following, previous]
    ordered += before + after + list(fallback)
    out: list[str] = []
    for name in ordered:
        if name and name not in out:
            out.append(name)
        if len(out) == limit:
            break
    return out


@dataclass(frozen=True)
class BulkRule:
    """Which lines a bulk assignment covers.

    Attributes:
        scope: ``marked`` (the marked range), ``scene`` (the current row's scene), ``file`` or
            ``corpus``.
        pattern: only lines whose text contains it (case-insensitive); ``/…/`` is a regular
            expression. Empty matches every line.
        only_unattributed: only lines that need a speaker (no speaker, or a low-confidence one).
    """

    scope: str = "scene"
    pattern: str = ""
    only_unattributed: bool = True

    def matcher(self) -> re.Pattern[str] | None:
        """The compiled pattern (None for no pattern).

        Raises:
            ValueError: a ``/…/`` pattern that is not a valid regular expression.
        """
        text = self.pattern.strip()
        if not text:
            return None
        if len(text) >= 2 and text.startswith("/") and text.endswith("/"):
            try:
                return re.compile(text[1:-1], re.I)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression {text}: {exc}") from None
        return re.compile(re.escape(text), re.I)


def bulk_targets(
    rule: BulkRule,
    rows_by_file: Mapping[str, Sequence[Any]],
    file: str,
    index: int,
    marked: Iterable[int] = (),
) -> list[Any]:
    """The dialogue lines ``rule`` covers, around row ``index`` of ``file``.

    Raises:
        ValueError: an unknown scope, or an invalid pattern.
    """
    if rule.scope not in SCOPES:
        raise ValueError(f"unknown scope {rule.scope!r}; expected one of {', '.join(SCOPES)}")
    rows = rows_by_file.get(file, [])
    if rule.scope == "marked":
        chosen: Iterable[Any] = [rows[i] for i in marked if 0 <= i < len(rows)]
    elif rule.scope == "scene":
        scene = rows[index].scene if 0 <= index < len(rows) else None
        chosen = [row for row in rows if row.scene == scene]
    elif rule.scope == "file":
        chosen = rows
    else:
        chosen = [row for file_rows in rows_by_file.values() for row in file_rows]
    matcher = rule.matcher()
    out = []
    for row in chosen:
        if row.kind != "line" or row.utt_kind != "dialogue":
            continue
        if rule.only_unattributed and not needs_speaker(row):
            continue
        if matcher is not None and not matcher.search(row.text):
            continue
        out.append(row)
    return out
