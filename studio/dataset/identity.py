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
from studio.api.text import has_cjk
from studio.dataset.filters import is_cjk

QUESTIONS_ZH = {
    "who": ("你是谁？",),
    "who_short": ("请问你是哪位？",),
    "name": ("你叫什么名字？",),
    "intro": ("请介绍一下你自己。",),
    "family": ("你家里都有些什么人？",),
    "title": ("你如今是什么身份？",),
    "relation": ("你身边有哪些亲近的人？",),
    "manner": ("你是个什么样的人？",),
}
QUESTIONS_EN = {
    "who": ("Who are you?",),
    "who_short": ("May I ask who you are?",),
    "name": ("What is your name?",),
    "intro": ("Tell me about yourself.",),
    "family": ("Tell me about your family.",),
    "title": ("What is your rank or title?",),
    "relation": ("Who are the people closest to you?",),
    "manner": ("What kind of person are you?",),
}

_KEYWORDS_ZH = {
    "name": ("原名", "本名", "名叫", "名唤", "小名", "乳名", "又名", "字", "号", "人称", "又称"),
    "family": (
        "父",
        "母",
        "爹",
        "之女",
        "长女",
        "次女",
        "女儿",
        "儿子",
        "之子",
        "兄",
        "弟",
        "姐",
        "妹",
        "家族",
        "家世",
        "出身",
        "祖",
    ),
    "title": (
        "封",
        "晋",
        "位分",
        "册",
        "妃",
        "嫔",
        "贵人",
        "常在",
        "答应",
        "皇后",
        "太后",
        "官",
        "职",
        "称号",
        "王",
    ),
    "relation": (
        "爱",
        "夫",
        "妻",
        "朋友",
        "好友",
        "知己",
        "侍女",
        "宫女",
        "丫鬟",
        "奴婢",
        "师",
        "情",
        "婚",
        "嫁",
        "仇",
        "敌",
        "一同",
        "身边",
        "心腹",
    ),
    "manner": (
        "说话",
        "语气",
        "口吻",
        "用语",
        "性格",
        "性情",
        "脾气",
        "聪慧",
        "温婉",
        "机敏",
        "为人",
    ),
}
_KEYWORDS_EN = {
    "name": ("your name", "called", "known as", "née", "named"),
    "family": (
        "father",
        "mother",
        "daughter",
        "son",
        "sister",
        "brother",
        "family",
        "parents",
        "cousin",
        "niece",
        "nephew",
        "uncle",
        "aunt",
        "house of",
        "heir",
        "child",
    ),
    "title": (
        "queen",
        "king",
        "princess",
        "prince",
        "duke",
        "duchess",
        "countess",
        "count",
        "title",
        "captain",
        "knight",
        "rank",
        "heiress",
        "empress",
        "emperor",
    ),
    "relation": (
        "love",
        "married",
        "husband",
        "wife",
        "friend",
        "nurse",
        "servant",
        "maid",
        "enemy",
        "rival",
        "mentor",
        "teacher",
        "raised",
        "betrothed",
        "suitor",
        "secrets",
        "confidant",
    ),
    "manner": (
        "speak",
        "talk",
        "voice",
        "tone",
        "manner",
        "personality",
        "witty",
        "temper",
        "temperament",
        "lively",
        "clever",
        "proud",
        "gentle",
        "cheerful",
        "shy",
        "bold",
        "sharp",
    ),
}
_INSTRUCTION_ZH = (
    "请",
    "不要",
    "回答",
    "保持",
    "务必",
    "始终",
    "永远不要",
    "记住",
    "扮演",
    "注意",
    "使用",
)
_INSTRUCTION_EN = (
    "stay",
    "answer",
    "reply",
    "respond",
    "always",
    "never",
    "do not",
    "don't",
    "keep",
    "use ",
    "remember",
    "act as",
    "pretend",
    "play ",
    "avoid",
)
# Chinese clauses that carry their own verb and need only 我 in front; kinship/role nouns take 我的.
_ZH_VERB_START = (
    "原名",
    "本名",
    "名叫",
    "名唤",
    "小名",
    "乳名",
    "又名",
    "字",
    "号",
    "出身",
    "生于",
    "来自",
    "初封",
    "后晋",
    "后封",
    "封",
    "晋",
    "入宫",
    "最终",
    "最后",
    "曾",
    "与",
    "和",
    "跟",
    "有",
    "爱",
    "喜欢",
    "住",
    "说话",
    "自幼",
    "从小",
    "一向",
    "向来",
    "深",
    "被",
    "嫁",
    "育有",
    "生",
    "聪慧",
    "温婉",
    "性",
)
_ZH_NOUN_START = (
    "父亲",
    "母亲",
    "爹",
    "娘亲",
    "哥哥",
    "姐姐",
    "妹妹",
    "弟弟",
    "夫君",
    "丈夫",
    "妻子",
    "侍女",
    "宫女",
    "丫鬟",
    "朋友",
    "师父",
    "家",
    "姨",
    "舅",
    "叔",
    "祖",
)


_ABBREVIATIONS = (
    "Mr.",
    "Mrs.",
    "Ms.",
    "Dr.",
    "St.",
    "Sr.",
    "Jr.",
    "Prof.",
    "Capt.",
    "Col.",
    "Gen.",
    "Lt.",
)


def _sentences(card: str) -> list[str]:
    """The card's sentences: English ones end at ``. ! ? ;`` before a space, Chinese ones at ``。！？；``."""
    out: list[str] = []
    for piece in re.split(r"(?<=[.!?;])\s+|\n+", card.strip()):
        if out and out[-1].endswith(_ABBREVIATIONS):
            out[-1] += " " + piece
        elif piece.strip():
            out.append(piece.strip())
    return [s.strip() for piece in out for s in re.split(r"(?<=[。！？；])", piece) if s.strip()]


# "Now you play …", "你要扮演…", "I want you to act as …": a role-play instruction that names the role.
_ROLEPLAY_ZH = re.compile(
    r"^(?:现在|从现在起|从现在开始|接下来|下面)?[，,]?(?:请)?(?:你|您)(?:现在)?(?:要|将|需要|来|得)?"
    r"(?:扮演|饰演|模仿|假扮|成为)(?:的是|的角色是)?"
)
_ROLEPLAY_EN = re.compile(
    r"^(?:(?:now|from now on),?\s+)?(?:please\s+)?(?:i want you to |you (?:will |are to |should |must |"
    r"shall |are going to )?)?(?:play|act as|pretend to be|role-?play as)\s+(?:the role of\s+)?",
    re.IGNORECASE,
)


def _role_statement(sentence: str, character: str) -> str:
    """A role-play instruction as a statement: ``现在你要扮演皇帝身边的女人--甄嬛`` → ``你是甄嬛，皇帝身边的女人``."""
    zh = bool(has_cjk(sentence.replace(character, "")))
    rest, count = (_ROLEPLAY_ZH if zh else _ROLEPLAY_EN).subn("", sentence, count=1)
    if not count or not rest.strip():
        return sentence
    rest = rest.strip()
    dash = re.match(r"^(.+?)\s*(?:--|——|—|－－|:|：)\s*(.+?)([。.!！]?)$", rest)
    if dash and character and dash.group(2).strip() == character:
        rest = f"{character}{'，' if zh else ', '}{dash.group(1).strip()}{dash.group(3)}"
    return ("你是" if zh else "You are ") + rest


def first_person_zh(text: str, names: tuple[str, ...] = ()) -> str:
    """Second (or third) person to first person, for a Chinese clause."""
    for name in names:
        if text.startswith(name):
            text = "我" + text[len(name) :]
    return text.replace("您", "我").replace("你们", "我们").replace("你", "我")


_EN_SWAPS = [
    (r"\byou are\b", "I am"),
    (r"\byou were\b", "I was"),
    (r"\byou're\b", "I'm"),
    (r"\byou’re\b", "I’m"),
    (r"\byou've\b", "I've"),
    (r"\byou'll\b", "I'll"),
    (r"\byourself\b", "myself"),
    (r"\byours\b", "mine"),
    (r"\byour\b", "my"),
    # "you" as subject: at the start, or after and/but/or/a comma; as object everywhere else
    (r"(^|\band |\bbut |\bor |, |; |: )you\b", r"\1I"),
    (r"\byou\b", "me"),
]


def _third_to_second_en(text: str, character: str) -> str:
    """A third-person English sentence about the character, turned to the second person."""
    first = re.escape(character.split()[0]) if character.split() else "$^"
    subject = rf"(?:(?i:{first})(?: [A-Z][\w’'-]*)*|[Ss]he|[Hh]e)"

    def verb(match: re.Match[str]) -> str:
        word = match.group(1)
        irregular = {"is": "are", "was": "were", "has": "have", "does": "do"}
        if word in irregular:
            return "you " + irregular[word]
        if re.search(r"(?:ch|sh|ss|x|o)es$", word):
            return "you " + word[:-2]
        return "you " + (word[:-3] + "y" if word.endswith("ies") else word[:-1])

    text = re.sub(
        rf"^((?i:{first})(?: [A-Z][\w’'-]*)*) is (?=the |a |an |one )", r"you are \1, ", text
    )
    text = re.sub(rf"(?:^|(?<=\band )|(?<=, )){subject} (\w+s)\b", verb, text)
    text = re.sub(rf"^{subject}(?:'s|’s)\b", "your", text)
    text = re.sub(r"\b(?:her|his)self\b", "yourself", text)
    text = re.sub(r"\b(?:[Hh]er|[Hh]is)(?= [a-z])", "your", text)
    return re.sub(r"\b(?:her|him)\b", "you", text)


_EN_SWAPS = [
    (r"\byou are\b", "I am"),
    (r"\byou were\b", "I was"),
    (r"\byou're\b", "I'm"),
    (r"\byou’re\b", "I’m"),
    (r"\byou've\b", "I've"),
    (r"\byou'll\b", "I'll"),
    (r"\byourself\b", "myself"),
    (r"\byours\b", "mine"),
    (r"\byour\b", "my"),
    # "you" as subject: at the start, or after and/but/or/a comma; as object everywhere else
    (r"(^|\band |\bbut |\bor |, |; |: )you\b", r"\1I"),
    (r"\byou\b", "me"),
]


def first_person_en(text: str) -> str:
    """Second person to first person, for an English sentence."""
    for pattern, repl in _EN_SWAPS:
        text = re.sub(pattern, repl, text, flags=re.IGNORECASE)
    text = re.sub(r"\bi\b", "I", text)
    text = re.sub(r"(?<=[.!?] )my\b", "My", text)
    return text[:1].upper() + text[1:]


def _kind(clause: str, zh: bool) -> str:
    low = clause if zh else clause.lower()
    if (
        low.startswith(_INSTRUCTION_ZH if zh else _INSTRUCTION_EN)
        or (zh and "扮演" in low)
        or (not zh and re.search(r"\b(?:in character|role-?play|an ai|language model)\b", low))
    ):
        return "instruction"
    table = _KEYWORDS_ZH if zh else _KEYWORDS_EN
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
    if clause.startswith(_ZH_NOUN_START):
        return "我的" + clause
    if clause.startswith(_ZH_VERB_START):
        return "我" + clause
    return "我是" + clause


def _en_name(card: str, character: str) -> str:
    """The character's fullest name in the card ("Juliet Capulet" for JULIET), else the name title-cased."""
    words = character.split()
    fallback = character.title() if character.isupper() else character
    if not words:
        return fallback
    found = re.findall(rf"\b(?i:{re.escape(words[0])})(?: [A-Z][\w’'-]+)*", card)
    best = max(found, key=len, default="")
    return best if len(best.split()) > 1 else fallback


class _Card:
    """The card's clauses in the first person, by kind, grouped by sentence."""

    def __init__(self, character: str, card: str) -> None:
        # the answers speak the language of the questions: Chinese for a Chinese card or name
        self.zh = card_is_chinese(character, card)
        self.character = character
        self.sentences: list[
            list[tuple[str, str]]
        ] = []  # per sentence: (kind, first-person clause)
        sentences = [_role_statement(s, character) for s in _sentences(card)]
        # the card speaks of the character in the third person when it never says "you"
        third_zh = not any(re.search("[你您]", s) for s in sentences)
        third_en = not any(re.search(r"\byou\b", s, flags=re.IGNORECASE) for s in sentences)
        for sentence in sentences:
            if has_cjk(sentence.replace(character, "")):
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
        kinds = [(_kind(c, True), c) for c in clauses if c]
        if (
            kinds and kinds[0][0] == "instruction"
        ):  # 请始终保持角色，像她那样说话：the whole sentence instructs
            return [("instruction", c) for _, c in kinds]
        return kinds

    def _en_clauses(self, sentence: str, third: bool) -> list[tuple[str, str]]:
        body = sentence.rstrip("。！？；.!?;")
        whole = first_person_en(_third_to_second_en(body, self.character) if third else body)
        appositive = re.match(r"^I am [A-Z]", whole) is not None
        clauses = [c.strip() for c in whole.split(", ")] if appositive else [whole]
        return [(_kind(c, False), c) for c in clauses if c]

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


def _noun_subject_zh(clause: str) -> str:
    return "我的" + clause if clause.startswith(_ZH_NOUN_START) else clause


def _en_sentence(clauses: list[str]) -> str:
    first = clauses[0]
    if not re.match(r"^(?:I|My|Me)\b", first):
        first = "I am " + (
            first[:1].lower() + first[1:] if first.startswith(("The ", "A ", "An ")) else first
        )
    return ", ".join([first, *clauses[1:]]) + "."


def card_is_chinese(character: str, card: str) -> bool:
    """Whether identity questions and answers are Chinese: the card is, or its character's name is."""
    return is_cjk(card) or is_cjk(character)


def identity_answers(character: str, persona: str) -> dict[str, str]:
    """Question kind → first-person answer, for every kind the card has facts for."""
    card = _Card(character, persona)
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
        full = _en_name(persona, character)
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
