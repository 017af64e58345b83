"""Provides the character's name against the roster: case-insensitive matching and suggestions.

A user types ``juliet`` where the play writes ``JULIET``, or the full name ``林黛玉`` where the
novel mostly writes ``黛玉``. :func:`match_speaker` finds the roster's spelling of a name;
:func:`name_hints` lists the roster names that contain it or are contained in it, and the
closest spellings, each with its utterance count, for ``build`` and ``init`` to offer.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from studio.corpus.roster import group_labels


@dataclass(frozen=True)
class NameHint:
    """A roster name the user may have meant.

    Attributes:
        name: the roster's spelling.
        utterances: how many utterances it has.
        reason: ``case`` (same name, other case), ``contains`` (the roster name contains the
            given one), ``contained`` (the given name contains it) or ``close`` (a near spelling).
    """

    name: str
    utterances: int
    reason: str

    def __str__(self) -> str:
        return f"{self.name} ({self.utterances} utterances)"


def match_speaker(name: str, counts: Mapping[str, int]) -> str | None:
    """The roster's spelling of ``name``: itself when present, else a case-insensitive match.

    Args:
        name: the name the user gave.
        counts: roster name → utterances.

    Returns:
        The matching roster name (the one with most utterances when several differ only in
        case), or None.
    """
    if name in counts:
        return name
    folded = name.casefold()
    same = [n for n in counts if n.casefold() == folded]
    return max(same, key=lambda n: (counts[n], n)) if same else None


def name_hints(
    name: str, counts: Mapping[str, int], *, known: Sequence[str] = (), limit: int = 5
) -> list[NameHint]:
    """Roster names the user may mean by ``name`` (or should add as aliases), most utterances first.

    Args:
        name: the character's name as the user gave it.
        counts: roster name → utterances.
        known: names already taken care of (the name itself and its aliases): never offered.
        limit: most hints returned.
    """
    # 甄嬛眉庄: lines said together, never an alias (the builder's "group")
    groups = {n.casefold() for n in group_labels(counts)}
    taken = {n.casefold() for n in (name, *known)} | groups
    folded = name.casefold()
    hints: dict[str, NameHint] = {}
    for other, count in counts.items():
        low = other.casefold()
        if low in taken or not low:
            continue
        if low == folded:
            hints[other] = NameHint(other, count, "case")
        elif len(other) >= 2 and len(name) >= 2 and folded in low:
            hints[other] = NameHint(other, count, "contains")
        elif len(other) >= 2 and len(name) >= 2 and low in folded:
            hints[other] = NameHint(other, count, "contained")
    by_fold = {n.casefold(): n for n in counts}
    for close in difflib.get_close_matches(folded, list(by_fold), n=limit, cutoff=0.6):
        other = by_fold[close]
        if other not in hints and close not in taken:
            hints[other] = NameHint(other, counts[other], "close")
    order = {"case": 0, "contains": 1, "contained": 1, "close": 2}
    return sorted(hints.values(), key=lambda h: (order[h.reason], -h.utterances, h.name))[:limit]


def describe_hints(name: str, hints: Sequence[NameHint]) -> str:
    """One sentence offering ``hints`` for ``name``; empty when there are none."""
    if not hints:
        return ""
    related = [h for h in hints if h.reason in ("contains", "contained")]
    close = [h for h in hints if h.reason in ("case", "close")]
    parts = []
    if close:
        parts.append("did you mean " + " or ".join(str(h) for h in close) + "?")
    if related:
        parts.append(
            f"names that contain or are part of {name}: "
            + ", ".join(str(h) for h in related)
            + " (add the ones that are the same character to [character] aliases)"
        )
    return " ".join(parts)
