"""Provides the seed recipe's pairing rule and a line-by-line comparison with the builder.

The seed recipe (the Chat-嬛嬛 tutorial) read each script file line by line and, for every line
that starts exactly with ``甄嬛：``, took the raw line just before it as the user turn: both lines
had their ``（…）`` parts removed and were cut at their first colon, keeping only the text between
the first and the second colon. It skipped the first and last line of every file.

:func:`compare_with_seed` applies that rule to the same files the builder read and sorts every
line of the character by what each side made of it: lines the seed lost or got wrong that the
builder keeps (by reason), and lines the seed keeps that the builder drops (by the builder's
reason), so the table shows both directions.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from studio.api import Sample, Utterance

LOST_ACTION_LABEL = "label with an action (甄嬛（…）：) is skipped"
LOST_CONTEXT = "line before it is a stage direction, heading or blank: no pair"
LOST_EDGE = "first or last line of a file is never read"
LOST_ALIAS = "written under an alias of the character"
LOST_MISTYPED = "label mistyped (甄嬛；… or a space before ：)"
LOST_OTHER = "not paired for another reason"
WRONG_OWN = "her own previous line used as the user turn"
WRONG_REPLY_COLON = "reply cut at a second colon"
WRONG_PROMPT_COLON = "user turn cut at a second colon"
WRONG_PROMPT_PARTIAL = "user turn is only the last of several lines of the speaker"


@dataclass(frozen=True)
class SeedPair:
    """One row the seed rule makes: ``line`` is the 1-based line of the reply."""

    file: str
    line: int
    instruction: str
    output: str


def _clean(line: str) -> str:
    line = line.replace("（", "(").replace("）", ")").replace("：", ":").replace("\n", "")
    return re.sub(r"\([^)]*\)", "", line)


_LABEL = re.compile(r"^\w+:+?")


def seed_pairs(file: str, text: str, label: str) -> list[SeedPair]:
    """The rows the seed rule makes from one file for the character written ``label``."""
    lines = text.split("\n")
    pairs: list[SeedPair] = []
    for i in range(1, len(lines) - 1):
        if not lines[i].startswith(f"{label}："):
            continue
        reply, previous = _clean(lines[i]), _clean(lines[i - 1])
        if _LABEL.match(reply) and _LABEL.match(previous):
            pairs.append(SeedPair(file, i + 1, previous.split(":")[1], reply.split(":")[1]))
    return pairs


@dataclass
class SeedComparison:
    """The seed rule against the builder, counted in lines of the character.

    Attributes:
        seed_rows: rows the seed rule makes (before its identity copies).
        seed_duplicate_rows: rows that repeat an earlier row exactly.
        character_lines: dialogue lines of the character in the parsed corpus.
        kept_by_builder: of those, lines inside a sample the builder keeps.
        kept_by_seed: lines the seed rule turns into a row.
        lost: reason → lines the builder keeps that the seed rule makes no row for.
        wrong: reason → lines the builder keeps whose seed row is wrong (a line can count twice).
        wrong_lines: lines with at least one wrong-row reason.
        dropped_by_builder: builder reason → lines the seed rule keeps that the builder drops.
        examples: reason → up to three ``file:line``.
    """

    seed_rows: int = 0
    seed_duplicate_rows: int = 0
    character_lines: int = 0
    kept_by_builder: int = 0
    kept_by_seed: int = 0
    lost: Counter = field(default_factory=Counter)
    wrong: Counter = field(default_factory=Counter)
    wrong_lines: int = 0
    dropped_by_builder: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def _note(self, table: Counter, reason: str, where: str) -> None:
        table[reason] += 1
        if len(self.examples.setdefault(reason, [])) < 3:
            self.examples[reason].append(where)


def compare_with_seed(
    texts: Mapping[str, str],
    utterances: Sequence[Utterance],
    samples: Iterable[Sample],
    character: str,
    aliases: Sequence[str] = (),
    dropped: Mapping[tuple[str, int], str] | None = None,
) -> SeedComparison:
    """Apply the seed rule to ``texts`` and compare it with the builder's ``samples``.

    Args:
        texts: file name (as the utterances name it) → decoded text.
        utterances: the parsed corpus.
        samples: the builder's samples.
        character: the character's label as the seed matched it (``甄嬛``).
        aliases: other labels of the character (the seed never matched them).
        dropped: ``(file, line)`` of the first line of each reply the builder dropped → its reason.
    """
    result = SeedComparison()
    seed: dict[tuple[str, int], SeedPair] = {}
    rows = Counter()
    for file, text in texts.items():
        for pair in seed_pairs(file, text, character):
            seed[(pair.file, pair.line)] = pair
            rows[(pair.instruction, pair.output)] += 1
    result.seed_rows = len(seed)
    result.seed_duplicate_rows = sum(count - 1 for count in rows.values())
    kept: set[tuple[str, int]] = set()
    for sample in samples:
        if sample.provenance.get("kind") != "corpus":
            continue
        for source in sample.provenance.get("sources", []):
            kept.add((source["file"], source["line"]))
    names = {character, *aliases}
    lines_of = {file: text.split("\n") for file, text in texts.items()}
    reply_start: dict[tuple[str, int], str] = dict(dropped or {})
    for utt in utterances:
        if utt.kind != "dialogue" or utt.speaker not in names:
            continue
        result.character_lines += 1
        key = (utt.file, utt.line)
        where = f"{utt.file}:{utt.line}"
        pair = seed.get(key)
        if pair is not None:
            result.kept_by_seed += 1
        if key not in kept:
            if pair is not None and key in reply_start:
                result._note(result.dropped_by_builder, reply_start[key], where)
            continue
        result.kept_by_builder += 1
        raw = lines_of.get(utt.file, [])
        index = utt.line - 1
        line = raw[index] if 0 <= index < len(raw) else ""
        if pair is None:
            if line.startswith(f"{character}（") or line.startswith(f"{character}("):
                reason = LOST_ACTION_LABEL
            elif not line.startswith(character):
                reason = LOST_ALIAS
            elif not line.startswith(f"{character}："):
                reason = LOST_MISTYPED
            elif index <= 0 or index >= len(raw) - 1:
                reason = LOST_EDGE
            elif not _LABEL.match(_clean(raw[index - 1])):
                reason = LOST_CONTEXT
            else:
                reason = LOST_OTHER
            result._note(result.lost, reason, where)
            continue
        reasons = []
        previous = raw[index - 1]
        if any(
            previous.startswith(f"{name}{mark}")
            for name in names
            for mark in ("：", "（", "(", ":")
        ):
            reasons.append(WRONG_OWN)
        if _clean(line).count(":") > 1:
            reasons.append(WRONG_REPLY_COLON)
        if WRONG_OWN not in reasons and _clean(previous).count(":") > 1:
            reasons.append(WRONG_PROMPT_COLON)
        label = _clean(previous).split(":")[0]
        if (
            WRONG_OWN not in reasons
            and index >= 2
            and _clean(raw[index - 2]).split(":")[0] == label
            and label
        ):
            reasons.append(WRONG_PROMPT_PARTIAL)
        for reason in reasons:
            result._note(result.wrong, reason, where)
        result.wrong_lines += bool(reasons)
    return result


def comparison_rows(result: SeedComparison) -> list[tuple[str, str, int]]:
    """``(section, reason, lines)`` rows of a comparison, for printing as a table."""
    rows = [
        ("seed", "rows made by the seed rule", result.seed_rows),
        ("seed", "of which exact repeats of an earlier row", result.seed_duplicate_rows),
        ("lines", "dialogue lines of the character", result.character_lines),
        ("lines", "in a row of the seed", result.kept_by_seed),
        ("lines", "in a sample of the builder", result.kept_by_builder),
    ]
    rows += [("seed lost, builder keeps", reason, n) for reason, n in result.lost.most_common()]
    rows += [("seed wrong, builder right", reason, n) for reason, n in result.wrong.most_common()]
    rows += [
        ("seed keeps, builder drops", reason, n)
        for reason, n in result.dropped_by_builder.most_common()
    ]
    return rows
