"""Provides the persona card read as first-person clauses sorted by the kind of fact they tell.

Each sentence of the card is cut into clauses, turned to the first person and sorted (name,
family, title, relation, manner, instruction, other); answers are put together from the clauses
of one kind or from whole sentences, instructions left out.
"""

from __future__ import annotations

import re

from studio.api.text import HAN_CLASS, has_cjk
from studio.dataset.card_person import (
    first_person_en,
    first_person_zh,
    role_statement,
    split_sentences,
    third_to_second_en,
)
from studio.dataset.card_words import (
    INSTRUCTION_EN,
    INSTRUCTION_ZH,
    KEYWORDS_EN,
    KEYWORDS_ZH,
    MANNER_OPENINGS,
    SAID_OF_YOU,
    SPEAKS_WITH,
    ZH_NOUN_START,
    ZH_VERB_START,
)
from studio.dataset.filters import is_cjk


def clause_kind(clause: str, zh: bool) -> str:
    low = clause if zh else clause.lower()
    if (
        low.startswith(INSTRUCTION_ZH if zh else INSTRUCTION_EN)
        or (zh and "扮演" in low)
        or (not zh and re.search(r"\b(?:in character|role-?play|an ai|language model)\b", low))
    ):
        return "instruction"
    table = KEYWORDS_ZH if zh else KEYWORDS_EN
    if zh and re.match(r"^(?:你|我)(?:是|叫)[^，。的]{1,6}$", clause):
        return "name"
    if not zh and re.match(r"^I am (?:[A-Z][\w’'-]*\s?)+(?:of [A-Z][\w’'-]*)?$", clause):
        return "name"
    hits = {kind: sum(low.count(word) for word in words) for kind, words in table.items()}
    if zh:  # 娘娘 and 姑娘 are titles and forms of address, 圣母 a title: none is a mother
        hits["family"] -= low.count("娘娘") + low.count("姑娘") + low.count("圣母")
    best = max(hits, key=lambda k: hits[k])
    return best if hits[best] > 0 else "other"


def _with_subject_zh(clause: str) -> str:
    if clause.startswith("我"):
        return clause
    if clause.startswith(ZH_NOUN_START):
        return "我的" + clause
    if clause.startswith(ZH_VERB_START):
        return "我" + clause
    return "我是" + clause


def en_name(card: str, character: str) -> str:
    """The character's fullest name in the card ("Juliet Capulet" for JULIET), else title-cased."""
    words = character.split()
    fallback = character.title() if character.isupper() else character
    if not words:
        return fallback
    found = re.findall(rf"\b(?i:{re.escape(words[0])})(?: [A-Z][\w’'-]+)*", card)
    best = max(found, key=len, default="")
    return best if len(best.split()) > 1 else fallback


class PersonaCard:
    """The card's clauses in the first person, by kind, grouped by sentence."""

    def __init__(self, character: str, card: str) -> None:
        # the answers speak the language of the questions: Chinese for a Chinese card or name
        self.zh = card_is_chinese(character, card)
        self.character = character
        self.sentences: list[
            list[tuple[str, str]]
        ] = []  # per sentence: (kind, first-person clause)
        sentences = [role_statement(s, character) for s in split_sentences(card)]
        # the card speaks of the character in the third person when it never says "you"
        third_zh = not any(re.search("[你您]", s) for s in sentences)
        third_en = not any(re.search(r"\byou\b", s, flags=re.IGNORECASE) for s in sentences)
        for sentence in sentences:
            if self.zh and sentence.startswith(SAID_OF_YOU["zh"]):  # others' words: her facts
                self.sentences.append(said_of_zh(sentence, character))
            elif sentence.startswith(MANNER_OPENINGS):  # how she speaks, not who she is
                self.sentences.append([("instruction", sentence)])
            elif sentence.startswith(tuple(SPEAKS_WITH.values())):  # the people around her
                said = sentence.rstrip("。.")
                mine = first_person_zh(said, (character,)) if self.zh else first_person_en(said)
                self.sentences.append([("relation", mine)])
            elif has_cjk(sentence.replace(character, "")):
                self.sentences.append(self._zh_clauses(sentence, third_zh))
            else:
                clauses = self._en_clauses(sentence, third_en)
                if self.zh:  # an English sentence in a Chinese card: only "I am NAME" carries over
                    clauses = [
                        ("name", f"我是{character}")
                        for kind, c in clauses
                        if character and re.fullmatch(rf"I am {re.escape(character)}", c)
                    ]
                self.sentences.append(clauses)

    def _zh_clauses(self, sentence: str, third: bool) -> list[tuple[str, str]]:
        body = sentence.rstrip("。！？；.!?;")
        if third:
            body = re.sub("^(?:她|他)|(?<=[，、])(?:她|他)", "我", body)
        clauses = [
            first_person_zh(c.strip(), (self.character,))
            for c in re.split(r"[，,]", body)
            if c.strip()
        ]
        kinds = [(clause_kind(c, True), c) for c in clauses if c]
        if (
            kinds and kinds[0][0] == "instruction"
        ):  # 请始终保持角色，像她那样说话：the whole sentence instructs
            return [("instruction", c) for _, c in kinds]
        return kinds

    def _en_clauses(self, sentence: str, third: bool) -> list[tuple[str, str]]:
        body = sentence.rstrip("。！？；.!?;")
        whole = first_person_en(third_to_second_en(body, self.character) if third else body)
        appositive = re.match(r"^I am [A-Z]", whole) is not None
        clauses = [c.strip() for c in whole.split(", ")] if appositive else [whole]
        return [(clause_kind(c, False), c) for c in clauses if c]

    def answer(self, kind: str) -> str:
        """The clauses of one kind as a first-person answer (sentence order kept)."""
        groups = [[c for k, c in sentence if k == kind] for sentence in self.sentences]
        groups = [g for g in groups if g]
        if not groups:
            return ""
        if self.zh:
            flat = [c for g in groups for c in g]
            return (
                "，".join([_with_subject_zh(flat[0])] + [_noun_subject_zh(c) for c in flat[1:]])
                + "。"
            )
        return " ".join(_en_sentence(g) for g in groups)

    def whole(self, index: int) -> str:
        """Sentence ``index`` of the card, in the first person, instructions left out."""
        parts = [c for k, c in self.sentences[index] if k != "instruction"]
        if not parts:
            return ""
        if self.zh:
            return "，".join([_with_subject_zh(parts[0]), *parts[1:]]) + "。"
        return ", ".join(parts) + "."


# what others say of her, in a Chinese card's quotes: her family in the words before her name
# (大理寺少卿甄远道长女甄嬛, 是甄远道的女儿叫甄嬛), her rank where she is made it (着封为正六品常在)
_KIN_BEFORE_NAME = re.compile(
    rf"([{HAN_CLASS}]{{2,16}}?(?:之|的)?(?:长女|次女|三女|幺女|独女|女儿|之女|长子|次子|儿子|之子))"
    rf"(?:叫|名叫|名唤)?[{HAN_CLASS}]?$"  # her surname may stand before the name the card uses
)
_MADE_RANK = re.compile(rf"(?:着|被|已)?(?:晋封|册封|封)(?:为|了)([{HAN_CLASS}]{{1,8}})$")


def said_of_zh(sentence: str, character: str) -> list[tuple[str, str]]:
    """Family and rank facts in the quotes of a card's 旁人这样说起你 sentence, as clauses of hers
    (``[("family", "大理寺少卿甄远道长女"), ("title", "被封为正六品常在")]``); one fact a kind."""
    first: dict[str, str] = {}  # one fact a kind: the first one the card gives
    for quote in re.findall(r"「([^」]*)」", sentence):
        clauses = [c for c in re.split(r"[，。！？；、,!?;：:]", quote) if c]
        for i, clause in enumerate(clauses):
            if not character or character not in clause:
                continue
            kin = _KIN_BEFORE_NAME.search(clause.split(character)[0])
            if kin:
                first.setdefault("family", re.sub(r"^(?:是|乃)", "", kin.group(1)))
            for later in clauses[i : i + 3]:  # the rank follows in her clause or soon after
                rank = _MADE_RANK.search(later.replace(character, ""))
                if rank:
                    first.setdefault("title", "被封为" + rank.group(1))
                    break
    return [(kind, first[kind]) for kind in ("family", "title") if kind in first]


def _noun_subject_zh(clause: str) -> str:
    return "我的" + clause if clause.startswith(ZH_NOUN_START) else clause


def _en_sentence(clauses: list[str]) -> str:
    first = clauses[0]
    if not re.match(r"^(?:I|My|Me)\b", first):
        first = "I am " + (
            first[:1].lower() + first[1:] if first.startswith(("The ", "A ", "An ")) else first
        )
    return ", ".join([first, *clauses[1:]]) + "."


def card_is_chinese(character: str, card: str) -> bool:
    """Whether identity questions and answers are Chinese: the card is, or the character's name."""
    return is_cjk(card) or is_cjk(character)
