"""Provides what the built-in strategies share: planning, seeded choices, asking the LLM, data files."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from importlib import resources
from typing import Any

from studio.api import (
    AugmentContext,
    AugmentItem,
    Sample,
    Turn,
    UnusableOutput,
    clean_message,
    is_cjk_char,
    stable_id,
)


class PlannedStrategy:
    """A strategy whose job is a list of independent items (see ``studio.api.PlannedAugmenter``).

    Subclasses define ``name``, ``description``, ``options``, ``needs_llm``, ``plan`` and ``run``;
    ``propose`` runs the plan in order, as the host would without concurrency or a journal.
    """

    name: str = ""
    description: str = ""
    options: Sequence[Any] = ()
    needs_llm: bool = True

    def plan(self, context: AugmentContext, options: Mapping[str, Any]) -> list[AugmentItem]:
        raise NotImplementedError

    def run(
        self, context: AugmentContext, options: Mapping[str, Any], item: AugmentItem
    ) -> list[Sample]:
        raise NotImplementedError

    def propose(self, context: AugmentContext, options: Mapping[str, Any]) -> Iterator[Sample]:
        """Yield every planned item's proposals, in plan order."""
        items = self.plan(context, options)
        for done, item in enumerate(items, start=1):
            if context.cancelled is not None and context.cancelled():
                return
            yield from self.run(context, options, item)
            if context.progress is not None:
                context.progress(done, len(items))

    def sample(
        self,
        context: AugmentContext,
        key: str,
        turns: list[tuple[str, str]],
        options: Mapping[str, Any],
        examples: Sequence[str] = (),
        **provenance: Any,
    ) -> Sample:
        """A pending proposal with this strategy's provenance.

        Args:
            key: the item key (the sample id derives from it and the strategy).
            turns: ``(role, text)`` pairs.
            examples: ids of the real samples the model was shown.
            provenance: extra provenance fields (the prompt, the speaker, where turns start).
        """
        return Sample(
            id=stable_id(self.name, key, len(turns)),
            character=context.character,
            system=context.persona,
            turns=[Turn(role, text) for role, text in turns],
            scene=f"aug:{self.name}",
            split="train",
            provenance={
                "kind": "augment",
                "strategy": self.name,
                "options": dict(options),
                "examples": list(examples),
                **provenance,
            },
            status="pending",
        )


def rng_for(seed: int, *parts: Any) -> random.Random:
    """A random generator determined by the job seed and ``parts`` (an item key …)."""
    return random.Random(int(stable_id(seed, *parts), 16))


def llm_seed(seed: int, key: str, step: str, attempt: int) -> int:
    """The sampling seed of one request: the same job, item, step and attempt give the same seed."""
    return int(stable_id(seed, key, step, attempt), 16) % 2**31


def is_cjk(text: str) -> bool:
    """Whether ``text`` is Chinese (or Japanese) enough to be answered so: a CJK character weighs
    as much as two Latin letters."""
    cjk = sum(1 for ch in text if is_cjk_char(ch))
    latin = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    return cjk > 0 and cjk * 2 >= latin


def language(context: AugmentContext, choice: str = "auto") -> str:
    """``zh`` or ``en``: ``choice`` unless ``auto``, else from the character's own lines and card."""
    if choice in ("zh", "en"):
        return choice
    text = context.character + context.persona + "".join(s.reply for s in context.samples[:50])
    return "zh" if is_cjk(text) else "en"


def character_names(context: AugmentContext) -> set[str]:
    """The character's canonical name and aliases."""
    return {context.character, *context.aliases.get(context.character, ())}


def label_names(context: AugmentContext, limit: int = 60) -> list[str]:
    """Names a model may write as speaker labels: the character's and the most frequent speakers'."""
    names = list(character_names(context))
    for name in list(context.roster)[:limit]:
        names.append(name)
        names.extend(context.aliases.get(name, ()))
    return names


def speaker_of(sample: Sample) -> str:
    """Who speaks the user turn of a corpus sample ('' when unknown)."""
    for source in sample.provenance.get("sources", []):
        if source.get("speaker") and source.get("speaker") != sample.character:
            return str(source["speaker"])
    return ""


def example_messages(samples: Sequence[Sample]) -> list[dict[str, str]]:
    """The examples as alternating user/assistant chat messages (few-shot turns)."""
    out: list[dict[str, str]] = []
    for sample in samples:
        out += [{"role": t.role, "content": t.content} for t in sample.turns]
    return out


def ask(
    context: AugmentContext,
    messages: list[dict[str, str]],
    *,
    key: str,
    step: str,
    names: Sequence[str],
    tries: int = 3,
) -> str:
    """Ask the LLM and read one message from its reply, with a new seed for each try.

    Raises:
        UnusableOutput: no try gave any text.
        studio.api.LLMError: the request itself failed after the host's retries.
    """
    text = ""
    for attempt in range(tries):
        text = context.llm(messages, seed=llm_seed(context.seed, key, step, attempt))
        cleaned = clean_message(text, names)
        if cleaned:
            return cleaned
    raise UnusableOutput(f"{step}: no usable text in {tries} replies; the last was {text[:80]!r}")


def data_lines(name: str) -> list[tuple[int, str]]:
    """``(line number, text)`` of a built-in data file, without blank lines and ``#`` comments."""
    text = resources.files("studio_augment").joinpath("data", name).read_text(encoding="utf-8")
    return [
        (n, line.strip())
        for n, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
