"""Provides the first-person rewriting of a persona card's sentences.

A card is cut into sentences; a role-play instruction ("你要扮演…", "Now you play …") becomes a
statement, a third-person sentence about the character becomes second person, and second person
becomes first person, in Chinese and in English.
"""

from __future__ import annotations

import re

from studio.api.text import has_cjk

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


_OPEN, _CLOSE = "「『“", "」』”"
_ENDS_ZH = "。！？；"


def _balanced(text: str) -> bool:
    return sum(text.count(c) for c in _OPEN) == sum(text.count(c) for c in _CLOSE)


def _depth(text: str) -> int:
    depth = 0
    for ch in text:
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE and depth:
            depth -= 1
    return depth


def split_sentences(card: str) -> list[str]:
    """The card's sentences: English ones end at ``. ! ? ;`` + space, Chinese at ``。！？；``.

    A quotation is part of its sentence (旁人这样说起你：「…钦此。」「…」 is one sentence, ending
    after the last quote of a run that ends in a full stop), unless its marks do not pair up.
    """
    balanced = _balanced(card)
    out: list[str] = []
    for piece in re.split(r"(?<=[.!?;])\s+|\n+", card.strip()):
        if out and (out[-1].endswith(_ABBREVIATIONS) or (balanced and _depth(out[-1]) > 0)):
            out[-1] += " " + piece
        elif piece.strip():
            out.append(piece.strip())
    return [s for piece in out for s in _split_zh(piece, balanced)]


def _split_zh(piece: str, quotes: bool) -> list[str]:
    """``piece`` cut after each Chinese full stop outside quotation marks (if ``quotes``)."""
    out, start, depth = [], 0, 0
    for i, ch in enumerate(piece):
        if quotes and ch in _OPEN:
            depth += 1
        elif quotes and ch in _CLOSE and depth:
            depth -= 1
            ends = depth == 0 and i > 0 and piece[i - 1] in _ENDS_ZH
            if ends and piece[i + 1 : i + 2] not in tuple(_OPEN):  # 。」 ends, 。」「 runs on
                out.append(piece[start : i + 1])
                start = i + 1
        elif ch in _ENDS_ZH and depth == 0:
            out.append(piece[start : i + 1])
            start = i + 1
    out.append(piece[start:])
    return [s.strip() for s in out if s.strip()]


# "Now you play …", "你要扮演…", "I want you to act as …": a role-play instruction that names
# the role.
_ROLEPLAY_ZH = re.compile(
    r"^(?:现在|从现在起|从现在开始|接下来|下面)?[，,]?(?:请)?(?:你|您)(?:现在)?(?:要|将|需要|来|得)?"
    r"(?:扮演|饰演|模仿|假扮|成为)(?:的是|的角色是)?"
)
_ROLEPLAY_EN = re.compile(
    r"^(?:(?:now|from now on),?\s+)?(?:please\s+)?"
    r"(?:i want you to |you (?:will |are to |should |must |shall |are going to )?)?"
    r"(?:play|act as|pretend to be|role-?play as)\s+(?:the role of\s+)?",
    re.IGNORECASE,
)


def role_statement(sentence: str, character: str) -> str:
    """A role-play instruction as a statement.

    ``现在你要扮演皇帝身边的女人--甄嬛`` → ``你是甄嬛，皇帝身边的女人``.
    """
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


def third_to_second_en(text: str, character: str) -> str:
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
