"""Provides PersonaQA: questions about identity, family, titles and relationships, answered from the card.

No model is needed. The persona card is split into sentences and clauses; each is sorted into
topics by keywords (family words, titles and ranks, how the character speaks) and by which
people of the roster it names. Every topic the card says something about gets a few phrasings
of a question, and the answer is what the card says, turned from "you" into "I". People of the
roster the card never mentions get no question: the card cannot answer for them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from studio.api import AugmentContext, AugmentItem, ChoiceOption, IntOption, Sample, stable_id
from studio_augment.base import PlannedStrategy, character_names, language, rng_for

QUESTIONS = {
    "zh": {
        "identity": ("你是谁？", "能介绍一下你自己吗？", "你叫什么名字？", "请问你是哪位？"),
        "family": ("说说你的家人吧。", "你出身什么样的人家？", "你家里都有什么人？"),
        "father": ("你的父亲是谁？", "令尊是做什么的？"),
        "mother": ("你的母亲是谁？", "令堂是什么样的人？"),
        "siblings": ("你有兄弟姐妹吗？", "家里还有兄弟姐妹吗？"),
        "title": ("你是什么身份？", "别人都怎么称呼你？", "你有什么封号或头衔吗？"),
        "manner": ("你是个什么样的人？", "你觉得自己性格如何？"),
        "person": ("你和{name}是什么关系？", "你怎么看{name}？", "{name}是你的什么人？"),
    },
    "en": {
        "identity": (
            "Who are you?",
            "Could you introduce yourself?",
            "What is your name?",
            "Tell me about yourself.",
        ),
        "family": (
            "Tell me about your family.",
            "What family do you come from?",
            "Who is in your family?",
        ),
        "father": ("Who is your father?", "What is your father like?"),
        "mother": ("Who is your mother?", "What is your mother like?"),
        "siblings": ("Do you have any brothers or sisters?", "Have you siblings?"),
        "title": ("What is your title?", "How should I address you?", "What is your position?"),
        "manner": ("What kind of person are you?", "How would you describe yourself?"),
        "person": (
            "What is {name} to you?",
            "How do you feel about {name}?",
            "Tell me about {name}.",
        ),
    },
}

KEYWORDS = {
    "zh": {
        "family": (
            "父亲",
            "母亲",
            "爹",
            "娘亲",
            "兄长",
            "哥哥",
            "弟弟",
            "姐姐",
            "妹妹",
            "长女",
            "次女",
            "幼女",
            "之女",
            "女儿",
            "儿子",
            "之子",
            "丈夫",
            "妻子",
            "夫君",
            "出身",
            "家世",
            "家族",
            "嫁给",
        ),
        "father": ("父", "爹", "长女", "次女", "幼女", "之女", "之子"),
        "mother": ("母亲", "娘亲", "生母"),
        "siblings": ("兄长", "哥哥", "弟弟", "姐姐", "妹妹", "兄弟", "姊妹"),
        "title": (
            "封为",
            "晋为",
            "册为",
            "尊为",
            "封号",
            "称号",
            "位分",
            "身份",
            "人称",
            "官至",
            "官拜",
            "职位",
            "头衔",
        ),
        "manner": ("说话", "性格", "为人", "语气", "口吻", "脾气", "性情"),
    },
    "en": {
        "family": (
            "father",
            "mother",
            "daughter",
            "son of",
            "sister",
            "brother",
            "family",
            "parents",
            "husband",
            "wife",
            "married",
            "cousin",
            "uncle",
            "aunt",
            "born",
        ),
        "father": ("father", "daughter of", "son of"),
        "mother": ("mother",),
        "siblings": ("sister", "brother", "siblings"),
        "title": (
            "title",
            "known as",
            "called",
            "call you",
            "calls you",
            "rank",
            "position",
            "heir",
            "crowned",
            "appointed",
            "office",
        ),
        "manner": ("speak", "voice", "personality", "temper", "manner"),
    },
}
CLAUSE_TOPICS = (
    "father",
    "mother",
    "siblings",
)  # answered with the clauses that say it, not whole sentences

_INSTRUCTION = re.compile(
    r"^(stay|answer|speak only|never|always|do not|don't|请|不要|始终|回答|务必)", re.I
)
_EN_SWAPS = [
    (r"\byou are\b", "I am"),
    (r"\byou're\b", "I'm"),
    (r"\byou were\b", "I was"),
    (r"\byourself\b", "myself"),
    (r"\byours\b", "mine"),
    (r"\byour\b", "my"),
]
_EN_SUBJECT_BEFORE = (
    r"(?:^|[.;:!?]\s*|\b(?:and|but|or|that|when|where|while|because|if|as|so|then|who)\s+)"
)


def first_person(text: str, lang: str) -> str:
    """Turn a card sentence about "you" into the character's own words."""
    if lang == "zh":
        return text.replace("你们", "我们").replace("您", "我").replace("你", "我")
    out = text
    for pattern, repl in _EN_SWAPS:
        out = re.sub(
            pattern,
            lambda m, r=repl: r[0].upper() + r[1:] if m.group(0)[0].isupper() else r,
            out,
            flags=re.I,
        )
    out = re.sub(_EN_SUBJECT_BEFORE + r"you\b", lambda m: m.group(0)[:-3] + "I", out, flags=re.I)
    out = re.sub(r"\byou\b", "me", out)
    out = re.sub(r"\bYou\b", "I", out)
    return out


def split_card(persona: str, lang: str) -> list[list[str]]:
    """Sentences of the card (instructions to the model left out), each as its clauses."""
    sentences = re.split(r"(?<=[。！？!?；;])|(?<=\.)\s+|\n+", persona.strip())
    out = []
    for sentence in sentences:
        sentence = sentence.strip()
        if not sentence or _INSTRUCTION.match(sentence):
            continue
        clauses = (
            [c.strip() for c in re.split(r"(?<=[，,；;])", sentence) if c.strip()]
            if lang == "zh"
            else [sentence]
        )
        out.append(clauses)
    return out


def _end(text: str, lang: str) -> str:
    text = text.strip().rstrip("，,；; ")
    return text if text[-1:] in "。！？.!?" else text + ("。" if lang == "zh" else ".")


def _forms(context: AugmentContext, name: str, lang: str) -> list[str]:
    """A person's names to look for in the card: roster name, aliases, and the title-case form of
    an upper-case script label (FRIAR LAURENCE is Friar Laurence in a card)."""
    forms = [name, *context.aliases.get(name, ())]
    forms += [f.title() for f in forms if f.isupper()]
    return [f for f in dict.fromkeys(forms) if len(f) >= (2 if lang == "zh" else 3)]


def _called(persona: str, name: str, forms: list[str]) -> str:
    """How the card first calls a person, for the question; the roster name when it never does."""
    found = [(persona.find(f), -len(f), f) for f in forms if f in persona]
    return min(found)[2] if found else name


class PersonaQA(PlannedStrategy):
    name = "persona-qa"
    description = (
        "Questions on identity, family, titles and relationships, answered from the persona card"
    )
    needs_llm = False
    options = (
        IntOption("count", 40, "Most proposals to make", minimum=1, maximum=1000),
        IntOption("phrasings", 2, "Phrasings of each question", minimum=1, maximum=4),
        IntOption(
            "people",
            20,
            "Roster people (most frequent first) to ask about when the card names them",
            minimum=0,
            maximum=200,
        ),
        ChoiceOption("language", "auto", "Language of the questions", choices=("auto", "zh", "en")),
    )

    def _topics(
        self, context: AugmentContext, options: Mapping[str, Any], lang: str
    ) -> list[tuple[str, str, list[str]]]:
        """``(topic, name, answer sentences)`` for every topic the card covers, most important first."""
        card = split_card(context.persona, lang)
        if not card:
            return []
        sentences = ["".join(c) if lang == "zh" else " ".join(c) for c in card]
        words = KEYWORDS[lang]

        def having(keys: tuple[str, ...]) -> list[str]:
            return [s for s in sentences if any(k in s.lower() for k in keys)][:3]

        topics: list[tuple[str, str, list[str]]] = [("identity", "", sentences[:1])]
        for topic in ("family", "father", "mother", "siblings", "title", "manner"):
            found = (
                self._about(card, words[topic], lang, plain=True)
                if topic in CLAUSE_TOPICS
                else having(words[topic])
            )
            if found:
                topics.append((topic, "", found))
        own = character_names(context)
        people = [n for n in context.roster if n not in own][: options["people"]]
        everyone = [v for n in people for v in _forms(context, n, lang)]
        for name in people:
            variants = _forms(context, name, lang)
            said = self._about(
                card, variants, lang, others=[v for v in everyone if v not in variants]
            )
            if said:
                topics.append(("person", name, said))
        return topics

    @staticmethod
    def _about(
        card: list[list[str]],
        variants: tuple[str, ...] | list[str],
        lang: str,
        plain: bool = False,
        others: list[str] | None = None,
    ) -> list[str]:
        """The clauses that hold one of ``variants``, joined with the clause before when they have no
        subject, and with the clauses after that go on about the same thing (no other person named).

        Args:
            plain: match anywhere, case-insensitively (keywords), not as whole names.
            others: names of other people; a clause naming one of them ends the answer.
        """
        out = []
        alternatives = "|".join(re.escape(v) for v in variants)
        pattern = re.compile(
            alternatives if lang == "zh" or plain else r"\b(?:" + alternatives + r")\b",
            re.I if plain else 0,
        )
        for clauses in card:
            index = 0
            while index < len(clauses):
                clause = clauses[index]
                if not pattern.search(clause):
                    index += 1
                    continue
                start = (
                    index - 1
                    if lang == "zh"
                    and index > 0
                    and "你" not in clause
                    and not pattern.match(clause)
                    else index
                )
                end = index + 1
                while (
                    others is not None
                    and end < len(clauses)
                    and not pattern.search(clauses[end])
                    and not any(o in clauses[end] for o in others)
                ):
                    end += 1
                out.append("".join(clauses[start:end]))
                index = end
        return out[:3]

    def plan(self, context: AugmentContext, options: Mapping[str, Any]) -> list[AugmentItem]:
        lang = language(context, options["language"])
        items: list[AugmentItem] = []
        for topic, name, said in self._topics(context, options, lang):
            rng = rng_for(context.seed, self.name, topic, name)
            called = _called(context.persona, name, _forms(context, name, lang)) if name else ""
            phrasings = list(QUESTIONS[lang][topic])
            rng.shuffle(phrasings)
            answer = _end(
                ("" if lang == "zh" else " ").join(_end(first_person(s, lang), lang) for s in said),
                lang,
            )
            if topic == "identity" and context.character not in answer:
                answer = (
                    f"我是{context.character}。" if lang == "zh" else f"I am {context.character}. "
                ) + answer
            for question in phrasings[: options["phrasings"]]:
                question = question.format(name=called)
                items.append(
                    AugmentItem(
                        stable_id(self.name, question)[:12],
                        {
                            "question": question,
                            "answer": answer.strip(),
                            "topic": topic,
                            "name": name,
                            "card": said,
                        },
                    )
                )
        return items[: options["count"]]

    def run(
        self, context: AugmentContext, options: Mapping[str, Any], item: AugmentItem
    ) -> list[Sample]:
        data = item.data
        return [
            self.sample(
                context,
                item.key,
                [("user", data["question"]), ("assistant", data["answer"])],
                options,
                topic=data["topic"],
                person=data["name"],
                card=list(data["card"]),
            )
        ]
