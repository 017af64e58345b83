"""Provides the filters every proposal passes on its way into the dataset, in this order.

1. ``invalid``: turns that do not alternate user/assistant or do not end with the character.
2. ``garbled``: replacement or control characters (broken bytes, random tokens).
3. ``too short`` / ``too long``: generated replies outside ``[dataset] min_chars..max_chars``.
4. ``duplicate of a real line`` / ``duplicate of a proposal``: the same text once spaces and
   punctuation are ignored (a reply against real replies; the whole generated exchange against
   other proposals, since two questions may rightly share an answer).
5. ``near-duplicate of a real line`` / ``near-duplicate of a proposal``: character n-gram
   Jaccard similarity at or above ``[augment] near_duplicate``, or a long real line copied
   whole into the reply.
6. ``off-persona``: the "sounds like the character" scorer, when one is available, scores the
   reply below ``[augment] persona_threshold``.

Only generated turns are checked: a continued conversation keeps its real opening turns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from studio.api import Sample
from studio.api.model_text import is_garbled
from studio.api.text import normalize, shingles

REASONS = (
    "invalid",
    "garbled",
    "too short",
    "too long",
    "duplicate of a real line",
    "duplicate of a proposal",
    "near-duplicate of a real line",
    "near-duplicate of a proposal",
    "off-persona",
)

PersonaScorer = Callable[[Sequence[Sample]], Sequence[float]]
"""Scores samples 0..1 for "sounds like the character" (1: surely the character)."""


class NearDuplicateIndex:
    """An inverted index of shingle sets; finds the most similar indexed text."""

    def __init__(self) -> None:
        self._sets: list[frozenset[str]] = []
        self._postings: dict[str, list[int]] = {}

    def __len__(self) -> int:
        return len(self._sets)

    def add(self, text: str) -> None:
        grams = shingles(text)
        if not grams:
            return
        index = len(self._sets)
        self._sets.append(grams)
        for gram in grams:
            self._postings.setdefault(gram, []).append(index)

    def most_similar(self, text: str) -> tuple[float, float]:
        """``(best Jaccard, best containment of an indexed text in this one)`` over the index.

        Containment only counts indexed texts of at least 8 shingles, so a proposal that merely
        contains a short stock phrase (臣妾遵旨) is not called a copy.
        """
        grams = shingles(text)
        if not grams:
            return 0.0, 0.0
        overlap: Counter[int] = Counter()
        for gram in grams:
            overlap.update(self._postings.get(gram, ()))
        best_jaccard = best_contained = 0.0
        for index, shared in overlap.items():
            other = self._sets[index]
            best_jaccard = max(best_jaccard, shared / (len(grams) + len(other) - shared))
            if len(other) >= 8:
                best_contained = max(best_contained, shared / len(other))
        return best_jaccard, best_contained


@dataclass
class FilterSettings:
    """Limits of the filters (from studio.toml ``[dataset]`` and ``[augment]``)."""

    min_chars: int = 2
    max_chars: int = 400
    max_user_chars: int = 1600
    near_duplicate: float = 0.8
    persona_threshold: float = 0.5


class ProposalFilter:
    """Decides for each proposal, in order, whether it goes in; kept ones join the index.

    Args:
        real: the real samples (corpus lines of both splits, identity answers).
        proposals: proposals already in the dataset (any review status).
        settings: the limits.
        scorer: a "sounds like the character" scorer, or None when none is available.
    """

    def __init__(
        self,
        real: Iterable[Sample],
        proposals: Iterable[Sample],
        settings: FilterSettings,
        scorer: PersonaScorer | None = None,
    ) -> None:
        self.settings = settings
        self.scorer = scorer
        self._real_exact: set[str] = set()
        self._real_index = NearDuplicateIndex()
        self._prop_exact: set[str] = set()
        self._prop_index = NearDuplicateIndex()
        for sample in real:
            for turn in sample.turns:
                if turn.role == "assistant":
                    self._real_exact.add(normalize(turn.content))
                    self._real_index.add(turn.content)
        for sample in proposals:
            self._remember(sample)

    def _remember(self, sample: Sample) -> None:
        text = generated_text(sample)
        self._prop_exact.add(normalize(text))
        self._prop_index.add(text)

    def check(self, sample: Sample) -> str | None:
        """The reason to drop ``sample`` (one of :data:`REASONS`), or None to keep it.

        A kept sample is remembered, so a later near-copy of it is dropped.
        """
        reason = self._reason(sample)
        if reason is None:
            self._remember(sample)
        return reason

    def _reason(self, sample: Sample) -> str | None:
        turns = sample.turns
        roles_ok = bool(turns) and all(
            t.role == ("user" if i % 2 == 0 else "assistant") for i, t in enumerate(turns)
        )
        if not roles_ok or len(turns) % 2 or any(not t.content.strip() for t in turns):
            return "invalid"
        generated = generated_turns(sample)
        replies = [t.content for t in generated if t.role == "assistant"]
        if not replies:
            return "invalid"
        for turn in generated:
            if turn.role == "user" and normalize(turn.content) in {normalize(r) for r in replies}:
                return "invalid"  # the model echoed the question as its answer
        if any(is_garbled(t.content) for t in generated):
            return "garbled"
        s = self.settings
        if any(len(r.strip()) < s.min_chars for r in replies):
            return "too short"
        if any(len(r.strip()) > s.max_chars for r in replies) or any(
            t.role == "user" and len(t.content) > s.max_user_chars for t in generated
        ):
            return "too long"
        norms = [normalize(r) for r in replies]
        if any(n in self._real_exact for n in norms):
            return "duplicate of a real line"
        whole = generated_text(sample)
        if normalize(whole) in self._prop_exact or len(set(norms)) < len(norms):
            return "duplicate of a proposal"
        if s.near_duplicate < 1.0:
            copy_level = max(s.near_duplicate, 0.9)
            for reply in replies:
                jaccard, contained = self._real_index.most_similar(reply)
                if jaccard >= s.near_duplicate or contained >= copy_level:
                    return "near-duplicate of a real line"
            jaccard, _ = self._prop_index.most_similar(whole)
            if jaccard >= s.near_duplicate:
                return "near-duplicate of a proposal"
        if self.scorer is not None:
            scores = list(self.scorer([sample]))
            if scores and float(scores[0]) < s.persona_threshold:
                return "off-persona"
        return None


def generated_turns(sample: Sample) -> list:
    """The turns a strategy wrote (provenance ``generated_from`` marks where they start)."""
    start = int(sample.provenance.get("generated_from", 0) or 0)
    return sample.turns[start:]


def generated_replies(sample: Sample) -> list[str]:
    """The character's generated replies."""
    return [t.content for t in generated_turns(sample) if t.role == "assistant"]


def generated_text(sample: Sample) -> str:
    """The generated turns as one text: proposals are compared with each other on the whole
    exchange (two questions may share an answer), with real lines on the replies alone."""
    return "\n".join(t.content for t in generated_turns(sample))
