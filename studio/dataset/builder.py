"""Provides the dataset builder: utterances of a corpus → conversations for one character.

Rules (each fixes a defect of the seed recipe, which paired every ``甄嬛：`` line with the raw
line before it):
- the user turn is the nearest preceding line by *another* speaker, never the character's own
  line, a stage direction, a scene heading or a line the parser could not read;
- consecutive lines of the character (stage directions between them allowed) merge into one reply;
- the interlocutor's name goes into the user turn (``皇帝：…``) when ``speaker_in_prompt`` is set;
- multi-turn mode makes one sample per reply: the reply with up to ``history_turns`` exchanges of
  the same scene before it, so the model learns to hold a conversation;
- filters with counted reasons: length, replies that are only a name or an interjection, exact
  and near duplicates (per context: a short line said to different lines is kept for each);
- a sample's id hashes its source lines (speaker and text), so review decisions survive a rebuild;
- train/eval is split by scene (see :mod:`studio.dataset.split`).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from studio.api import Sample, Turn, Utterance, stable_id
from studio.config import DatasetConfig
from studio.corpus.inspect import alias_map
from studio.dataset.filters import (
    Deduplicator,
    NameOrInterjection,
    approx_tokens,
    is_cjk,
    join_lines,
    length_reason,
)
from studio.dataset.identity import identity_samples
from studio.dataset.split import Unit, assign_splits, scene_split, split_units

__all__ = ["BuildReport", "Exchange", "build_samples", "identity_samples", "scene_split"]

MAX_PROMPT_LINES = 6
"""Multi-turn mode: most lines of other speakers kept in one user turn (the latest ones; older
speakers also go when the turn would be longer than ``MAX_PROMPT_TOKENS``)."""
MAX_PROMPT_TOKENS = 200
"""Multi-turn mode: rough token budget of one user turn (see :func:`approx_tokens`)."""
CONTEXT_TOKENS = 640
"""Multi-turn mode: rough token budget of a window's turns; older exchanges go first, the reply stays."""

NO_PROMPT = "opens the scene: no line by another speaker before it"
PROBLEMS = {
    "unparsed": "the line before it could not be parsed (see the parse warnings)",
    "unknown": "the line before it has no known speaker",
    "group": "the line before it is said by several speakers, the character among them",
    "ignored": "the line before it is by an ignored speaker label ([roster] ignore)",
}
NAME_ONLY = "only a name or an interjection"


@dataclass
class BuildReport:
    """What the builder kept and dropped, by reason.

    Attributes:
        samples: samples written (identity samples included).
        train / eval: samples per split.
        dropped: reason → replies dropped for it.
        examples: reason → up to five ``file:line`` of dropped replies, to look at.
        character_lines: dialogue lines of the character in the corpus.
        replies: her replies after merging consecutive lines.
        merged_lines: lines merged into the reply before them.
        identity: identity samples from the persona card.
        units / eval_units: split units (scenes or windows) holding samples, and those in eval.
        windowed_scenes: scenes longer than the window limit, cut into windows for the split.
    """

    samples: int = 0
    train: int = 0
    eval: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    character_lines: int = 0
    replies: int = 0
    merged_lines: int = 0
    identity: int = 0
    units: int = 0
    eval_units: int = 0
    windowed_scenes: int = 0
    mode: str = "single"

    def drop(self, reason: str, where: Utterance | None = None) -> None:
        """Count one dropped reply (and remember where, for the first few)."""
        self.dropped[reason] = self.dropped.get(reason, 0) + 1
        if where is not None and len(self.examples.setdefault(reason, [])) < 5:
            self.examples[reason].append(f"{where.file}:{where.line}")


@dataclass
class Exchange:
    """One reply of the character with what was said to her since her previous reply.

    Attributes:
        unit: split unit key.
        runs: lines of other speakers since her previous reply, grouped in runs of one speaker.
        reply: her consecutive lines.
        problem: why the line right before the reply cannot be its prompt (a ``PROBLEMS`` key).
        segment: conversation segment; history never crosses a segment boundary.
    """

    unit: str
    runs: list[list[Utterance]]
    reply: list[Utterance]
    problem: str | None
    segment: int
    texts: tuple[str, str, list[Utterance]] | None = None
    """Cached (user turn, reply, source lines) once the builder has rendered them."""


class _Breaks:
    """Lines the parser could not read, by file: a conversation never runs across one."""

    def __init__(self, lines: Iterable[tuple[str, int]]) -> None:
        self._by_file: dict[str, list[int]] = {}
        for file, line in lines:
            self._by_file.setdefault(file, []).append(line)
        for numbers in self._by_file.values():
            numbers.sort()

    def between(self, file: str, after: int, before: int) -> bool:
        numbers = self._by_file.get(file)
        if not numbers:
            return False
        index = bisect.bisect_right(numbers, after)
        return index < len(numbers) and numbers[index] < before


def _roles(
    names: set[str], mapping: Mapping[str, str], ignore: set[str]
) -> Callable[[str | None], str]:
    """speaker → ``char``, ``other``, ``group`` (several at once, her included), ``ignored`` or ``unknown``."""
    cache: dict[str | None, str] = {}
    long_names = [n for n in names if len(n) >= 2 and is_cjk(n)]

    def role(speaker: str | None) -> str:
        if speaker in cache:
            return cache[speaker]
        if not speaker:
            result = "unknown"
        else:
            canonical = mapping.get(speaker, speaker)
            if canonical in names or speaker in names:
                result = "char"
            elif speaker in ignore or canonical in ignore:
                result = "ignored"
            elif is_cjk(speaker) and any(n in speaker for n in long_names):
                result = "group"  # 甄嬛眉庄：… a line said together
            else:
                result = "other"
        cache[speaker] = result
        return result

    return role


def exchanges(
    units: Sequence[Unit], role: Callable[[str | None], str], breaks: _Breaks
) -> list[Exchange]:
    """Walk every unit: merge her consecutive lines, collect what others said before each reply."""
    out: list[Exchange] = []
    segment = 0
    for unit in units:
        segment += 1
        runs: list[list[Utterance]] = []
        reply: list[Utterance] | None = None
        problem: str | None = None
        previous: Utterance | None = None
        for utt in unit.utterances:
            if utt.kind != "dialogue":
                continue  # stage directions and narration are context, never turns
            if previous is not None and breaks.between(utt.file, previous.line, utt.line):
                reply, runs, problem, segment = None, [], "unparsed", segment + 1
            previous = utt
            kind = role(utt.speaker)
            if kind == "char":
                if reply is not None:
                    reply.append(utt)
                else:
                    reply = [utt]
                    out.append(Exchange(unit.key, [list(r) for r in runs], reply, problem, segment))
                continue
            if reply is not None:  # her reply is over: collect what is said to her next
                reply, runs = None, []
            if kind == "other":
                if runs and runs[-1][-1].speaker == utt.speaker:
                    runs[-1].append(utt)
                else:
                    runs.append([utt])
                problem = None
            else:
                problem = kind
                if kind == "unknown":
                    runs, segment = [], segment + 1
    return out


def _user_text(
    runs: Sequence[Sequence[Utterance]], with_names: bool, mapping: Mapping[str, str]
) -> str:
    if not with_names:
        return join_lines(u.text for run in runs for u in run)
    parts = []
    for run in runs:
        speaker = mapping.get(run[0].speaker or "", run[0].speaker or "")
        sep = "：" if is_cjk(speaker + run[0].text) else ": "
        parts.append(f"{speaker}{sep}{join_lines(u.text for u in run)}")
    return "\n".join(parts)


def _latest_lines(runs: Sequence[Sequence[Utterance]], limit: int) -> list[list[Utterance]]:
    """The last ``limit`` lines of ``runs``, still grouped by speaker."""
    kept: list[list[Utterance]] = []
    left = limit
    for run in reversed(runs):
        if left <= 0:
            break
        kept.insert(0, list(run[-left:]))
        left -= len(kept[0])
    return kept


def build_samples(
    utterances: Iterable[Utterance],
    character: str,
    persona: str,
    config: DatasetConfig,
    aliases: Mapping[str, Sequence[str]] | None = None,
    *,
    ignore: Iterable[str] = (),
    unparsed: Iterable[tuple[str, int]] = (),
    speakers: Iterable[str] = (),
    on_drop: Callable[[str, Exchange], None] | None = None,
) -> tuple[list[Sample], BuildReport]:
    """Build the character's samples from parsed utterances.

    Args:
        utterances: every utterance of the corpus, in source order.
        character: canonical name of the character.
        persona: the persona card (system prompt).
        config: studio.toml ``[dataset]``.
        aliases: canonical → other names; every alias of the character counts as the character.
        ignore: speaker labels that are not people (``[roster] ignore``).
        unparsed: ``(file, line)`` of lines the parser could not read; no pairing crosses one.
        speakers: extra names for the name-only filter (the corpus speakers are always used).
        on_drop: called with the reason and the exchange of every dropped reply.

    Returns:
        The samples (train and eval) and a report of what was kept and dropped, and why.
    """
    utterances = list(utterances)
    mapping = alias_map(aliases or {})
    names = {character} | {alias for alias, canonical in mapping.items() if canonical == character}
    role = _roles(names, mapping, set(ignore))
    report = BuildReport(mode=config.mode)
    units = split_units(utterances, lambda s: role(s) == "char")
    report.windowed_scenes = len({u.key.split("~")[0] for u in units if "~" in u.key})
    all_names = {u.speaker for u in utterances if u.speaker} | set(mapping) | names | set(speakers)
    name_only = (
        NameOrInterjection(all_names) if getattr(config, "drop_interjections", True) else None
    )
    dedup = Deduplicator(near=getattr(config, "near_duplicates", True))
    multi = config.mode == "multi"

    samples: list[Sample] = []
    seen_ids: dict[str, int] = {}
    history: list[Exchange] = []
    for ex in exchanges(units, role, _Breaks(unparsed)):
        report.character_lines += len(ex.reply)
        report.replies += 1
        report.merged_lines += len(ex.reply) - 1
        reply = join_lines(u.text for u in ex.reply)
        usable = bool(ex.runs) and ex.problem is None
        if history and (history[-1].segment != ex.segment or not usable):
            history = []
        if not usable:
            reason = PROBLEMS[ex.problem] if ex.problem else NO_PROMPT
            report.drop(reason, ex.reply[0])
            if on_drop is not None:
                on_drop(reason, ex)
            continue
        window = [*history, ex][-(config.history_turns + 1) :] if multi else [ex]
        history = window if multi else []
        reason = length_reason(reply, config.min_chars, config.max_chars)
        if reason is None and name_only is not None and name_only(reply):
            reason = NAME_ONLY
        turns, sources = _turns(window, multi, config, mapping)
        if reason is None:
            context = "\n".join(t.content for t in turns[:-1])
            reason = dedup.check(context, reply)
        if reason is not None:
            report.drop(reason, ex.reply[0])
            if on_drop is not None:
                on_drop(reason, ex)
            continue
        base = stable_id("corpus", config.mode, [(u.speaker, u.text) for u in sources])
        seen_ids[base] = seen_ids.get(base, 0) + 1
        sample_id = base if seen_ids[base] == 1 else stable_id(base, seen_ids[base])
        provenance: dict = {
            "kind": "corpus",
            "sources": [{"file": u.file, "line": u.line, "speaker": u.speaker} for u in sources],
        }
        if multi:  # earlier exchanges are context; a trainer may supervise only the last reply
            provenance["history"] = len(turns) // 2 - 1
        samples.append(
            Sample(
                id=sample_id,
                character=character,
                system=persona,
                turns=turns,
                scene=ex.unit,
                provenance=provenance,
            )
        )

    counts: dict[str, int] = {}
    for sample in samples:
        counts[sample.scene] = counts.get(sample.scene, 0) + 1
    splits = assign_splits(counts, config.eval_fraction, config.seed)
    for sample in samples:
        sample.split = splits[sample.scene]
    report.units = len(counts)
    report.eval_units = sum(1 for key in counts if splits[key] == "eval")
    if config.identity_samples and persona:
        identity = identity_samples(character, persona)
        report.identity = len(identity)
        samples.extend(identity)
    report.samples = len(samples)
    report.train = sum(1 for s in samples if s.split == "train")
    report.eval = report.samples - report.train
    return samples, report


def _turns(
    window: Sequence[Exchange], multi: bool, config: DatasetConfig, mapping: Mapping[str, str]
) -> tuple[list[Turn], list[Utterance]]:
    """The conversation of a window and its source lines, in order."""
    pairs: list[tuple[Turn, Turn, list[Utterance]]] = []
    for ex in window:
        if ex.texts is None:
            runs = _latest_lines(ex.runs, MAX_PROMPT_LINES) if multi else [ex.runs[-1]]
            while (
                len(runs) > 1
                and sum(approx_tokens(u.text) for r in runs for u in r) > MAX_PROMPT_TOKENS
            ):
                runs.pop(0)  # what others said long before her reply: the latest speaker is enough
            several = len({r[0].speaker for r in runs}) > 1
            user = _user_text(runs, config.speaker_in_prompt or several, mapping)
            ex.texts = (
                user,
                join_lines(u.text for u in ex.reply),
                [u for r in runs for u in r] + ex.reply,
            )
        user, reply, lines = ex.texts
        pairs.append((Turn("user", user), Turn("assistant", reply), lines))
    while (
        len(pairs) > 1
        and sum(approx_tokens(u.content + a.content) for u, a, _ in pairs) > CONTEXT_TOKENS
    ):
        pairs.pop(0)
    turns = [t for user, assistant, _ in pairs for t in (user, assistant)]
    return turns, [u for _, _, lines in pairs for u in lines]
