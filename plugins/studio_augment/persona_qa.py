"""Provides PersonaQA: identity questions answered from the persona card (no model needed)."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Mapping
from typing import Any

from studio.api import AugmentContext, IntOption, Sample, Turn, stable_id

_ZH = ("你是谁？", "能介绍一下你自己吗？", "你叫什么名字？", "你的身份是什么？", "说说你自己吧。")
_EN = ("Who are you?", "Could you introduce yourself?", "What is your name?", "Tell me about yourself.")


def _card_sentences(persona: str) -> list[str]:
    parts = re.split(r"(?<=[。！？.!?])\s*", persona.strip())
    return [p.strip() for p in parts if p.strip()]


class PersonaQA:
    name = "persona-qa"
    description = "Identity questions answered from the persona card"
    needs_llm = False
    options = (IntOption("count", 5, "How many proposals", minimum=1, maximum=100),)

    def propose(self, context: AugmentContext, options: Mapping[str, Any]) -> Iterator[Sample]:
        rng = random.Random(context.seed)
        zh = any("\u4e00" <= ch <= "\u9fff" for ch in context.persona + context.character)
        questions = list(_ZH if zh else _EN)
        facts = [s for s in _card_sentences(context.persona) if not s.startswith(("你", "You", "Stay", "Answer"))]
        for index in range(int(options["count"])):
            question = questions[index % len(questions)]
            fact = rng.choice(facts) if facts else ""
            answer = (f"我是{context.character}。" if zh else f"I am {context.character}. ") + fact
            yield Sample(
                id=stable_id("persona-qa", context.character, question, answer, index),
                character=context.character, system=context.persona,
                turns=[Turn("user", question), Turn("assistant", answer.strip())], scene="aug:persona-qa",
                provenance={"kind": "augment", "strategy": self.name, "options": dict(options), "examples": []},
            )
