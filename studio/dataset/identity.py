"""Provides identity samples: first-person answers to "who are you?" derived from the persona card.

The card is usually written to the model in the second person ("You are Juliet…", "你是甄嬛…").
It is cut into clauses, each clause turned to the first person and sorted by what it tells
(name, family, titles, people close to her, manner); every kind of fact gets its own question
and answer, so the samples differ from each other and from the card. Instructions to the model
("Stay in character", "请用…回答") are never part of an answer.
"""

from __future__ import annotations

import re

from studio.api import Sample, Turn, stable_id
from studio.dataset.persona_card import PersonaCard, card_is_chinese, en_name

# Several phrasings a kind, each its own sample: one phrasing learnt by heart is not knowing who
# she is. The eval's probes beyond its first two (studio.eval.evaluate) are phrasings kept out of
# this list, so they measure whether the answer carries over.
QUESTIONS_ZH = {
    "who": ("你是谁？", "你是何人？", "请问你是？", "你又是谁？", "阁下是谁？", "来者何人？"),
    "who_short": ("请问你是哪位？", "敢问是哪位？"),
    "name": (
        "你叫什么名字？",
        "你的名字是什么？",
        "请问尊姓大名？",
        "你叫啥？",
        "你姓甚名谁？",
        "你名叫什么？",
    ),
    "intro": ("请介绍一下你自己。", "说说你自己吧。"),
    "family": ("你家里都有些什么人？", "说说你的家人。"),
    "title": ("你如今是什么身份？", "你是做什么的？"),
    "relation": ("你身边有哪些亲近的人？", "你身边都有谁？"),
    "manner": ("你是个什么样的人？", "你觉得自己性子如何？"),
}
QUESTIONS_EN = {
    "who": (
        "Who are you?",
        "Who are you, then?",
        "And who are you?",
        "Who is this?",
        "Whom have I the honour of addressing?",
        "Who are you, pray tell?",
    ),
    "who_short": ("May I ask who you are?", "Pray, who are you?"),
    "name": (
        "What is your name?",
        "What's your name?",
        "What are you called?",
        "Your name?",
        "By what name are you known?",
        "Have you a name?",
    ),
    "intro": ("Tell me about yourself.", "Introduce yourself."),
    "family": ("Tell me about your family.", "Who is your family?"),
    "title": ("What is your rank or title?", "What is your station?"),
    "relation": ("Who are the people closest to you?", "Who are the people around you?"),
    "manner": ("What kind of person are you?", "How would you describe yourself?"),
}


def identity_answers(character: str, persona: str) -> dict[str, str]:
    """Question kind → first-person answer, for every kind the card has facts for."""
    card = PersonaCard(character, persona)
    answers: dict[str, str] = {}
    usable = [i for i, s in enumerate(card.sentences) if any(k != "instruction" for k, _ in s)]
    if usable:
        answers["who"] = card.whole(usable[0])
        intro = [card.whole(i) for i in usable[:3]]
        if len(intro) > 1:
            answers["intro"] = ("" if card.zh else " ").join(intro)
    elif card.zh and character:
        answers["who"] = f"我是{character}。"
    if card.zh:
        extra = [
            c
            for c in (c for s in card.sentences for k, c in s if k == "name")
            if not re.match("^我(?:是|叫)", c)
        ]
        answers["name"] = "，".join([f"我叫{character}", *extra]) + "。"
        short = next((c for s in card.sentences for k, c in s if k in ("family", "title")), "")
        answers["who_short"] = f"我是{character}" + (f"，{short}" if short else "") + "。"
    else:
        full = en_name(persona, character)
        answers["name"] = f"My name is {full}."
        short = next((c for s in card.sentences for k, c in s[1:] if k in ("family", "title")), "")
        answers["who_short"] = (
            f"I am {full}" + (f", {short[:1].lower() + short[1:]}" if short else "") + "."
        )
    for kind in ("family", "title", "relation", "manner"):
        answers[kind] = card.answer(kind)
    return {k: v for k, v in answers.items() if v}


def identity_samples(character: str, persona: str) -> list[Sample]:
    """A handful of varied identity Q&A samples answered in the first person from the persona card.

    The id of a sample hashes the character and the question only, so a review decision on it
    survives an edit of the card.
    """
    if not persona.strip():
        return []
    answers = identity_answers(character, persona)
    questions = QUESTIONS_ZH if card_is_chinese(character, persona) else QUESTIONS_EN
    out: list[Sample] = []
    given: set[str] = set()
    for kind, asked in questions.items():
        answer = answers.get(kind)
        if not answer or answer in given:
            continue
        given.add(answer)
        for question in asked:
            out.append(
                Sample(
                    id=stable_id("identity", character, question),
                    character=character,
                    system=persona,
                    turns=[Turn("user", question), Turn("assistant", answer)],
                    scene="identity",
                    split="train",
                    provenance={"kind": "identity", "question": kind},
                )
            )
    return out
