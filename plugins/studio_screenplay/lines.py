"""Provides the line shapes of scripts and plays: headings, labels, cues, stage directions.

Every function looks at one stripped line and says what it could be; the parser decides with
the lines around it (a cue needs a blank line before it and speech after it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from studio.api import is_han

# -- headings --------------------------------------------------------------------------------

_NUM = r"[0-9０-９一二三四五六七八九十百千零〇两]+"
# 第一集 / 第1幕 / 第 12 场 / 第610,幕 (a stray comma is a typo seen in real scripts)
_CN_HEADING = re.compile(
    rf"^第\s*({_NUM})\s*[,，.、]?\s*(集|回|章|卷|幕|场|场次|折|出|节)[\s　]*(?P<cont>[（(](?:续|續|接上|cont\.?)[）)])?"
    r"(?:$|[\s　:：、.．\-—]+(.{0,40})$)"
)
_CN_OUTER = {"集", "回", "章", "卷"}
# 1-2 碎玉轩 日 内 / 12、御花园 夜 外
_CN_NUMBERED = re.compile(
    r"^\d{1,3}(?:\s*[-－–]\s*\d{1,3})?\s*[、.．\s]\s*\S.{0,30}[\s　](?:日|夜|晨|晚|黄昏|傍晚|清晨)(?:[\s　]*[内外])?$"
)
_CN_SCENE_LABEL = re.compile(r"^(?:场景|场次)\s*[0-9一二三四五六七八九十]*\s*[：:]\s*(.{1,40})$")
# 【另分一幕】 【第3场】
_CN_BRACKET = re.compile(r"^【[^】]{0,20}[幕场集][^】]{0,20}】$")
_EN_ACT = re.compile(
    r"^(?:ACT|Act)\s+(?:[IVXLC]+|\d+|[A-Z][a-z]+)\b[.:]?(?:\s+(?:SCENE|Scene)\s+(?:[IVXLC]+|\d+)\b.*)?$"
)
_EN_SCENE = re.compile(r"^(?:SCENE|Scene)\s+(?:[IVXLC]+|\d+|[A-Z][a-z]+)\b.{0,80}$")
_EN_SLUG = re.compile(
    r"^(?:\d+\s*)?(?:INT|EXT|INT\.?\s*/\s*EXT|EXT\.?\s*/\s*INT|I/E|EST)[.\s]\s*\S.*$"
)
_EN_BOOKEND = re.compile(r"^(?:PROLOGUE|EPILOGUE|INDUCTION|Prologue|Epilogue|Induction)\.?$")


@dataclass(frozen=True)
class Heading:
    """A scene heading: ``outer`` headings (episode, act) reset the inner (scene) level."""

    text: str
    outer: bool
    continued: bool = False
    """``第63幕（续）``: the scene goes on after an interruption (same scene id)."""


def heading(line: str) -> Heading | None:
    """The heading on ``line``, or None."""
    first = line[0]
    if first == "第":
        match = _CN_HEADING.match(line)
        if match:
            cont = match.group("cont")
            base = line.replace(cont, "").strip() if cont else line
            return Heading(base, match.group(2) in _CN_OUTER, bool(cont))
        return None
    if first == "【":
        return Heading(line, False) if _CN_BRACKET.match(line) else None
    if first in "场" and _CN_SCENE_LABEL.match(line):
        return Heading(line, False)
    if first.isdigit():
        if _CN_NUMBERED.match(line) or _EN_SLUG.match(line):
            return Heading(line, False)
        return None
    if first in "AaSsIiEePp.":
        if first == "." and len(line) > 1 and line[1].isalpha():
            return Heading(line[1:], False)  # a forced Fountain heading
        if _EN_ACT.match(line):
            return Heading(line, True)
        if _EN_SCENE.match(line) or _EN_SLUG.match(line):
            return Heading(line, False)
        if _EN_BOOKEND.match(line):
            return Heading(line, True)
    return None


# -- stage directions ------------------------------------------------------------------------

_OPEN, _CLOSE = "（([", "）)]"
_TRANSITION = re.compile(
    r"^(?:FADE (?:IN|OUT|TO BLACK)|(?:SMASH |MATCH |JUMP |HARD )?CUT TO|DISSOLVE TO|WIPE TO|"
    r"INTERCUT(?: WITH)?|BACK TO SCENE|THE END|END OF (?:ACT|EPISODE)[A-Z0-9 ]*|[A-Z ]+ TO)[:.]?$"
)
_EN_DIRECTION = re.compile(
    r"^(?:Enter|Exit|Exeunt|Re-enter|Re-Enter|Manet|Manent|Flourish|Alarum|Alarums|Sennet|"
    r"Trumpets sound|Hautboys|They fight|Dies)\b[^:;?!]*$"
)
_NARRATION_LABELS = {
    "旁白",
    "画外音",
    "内心独白",
    "独白",
    "NARRATOR",
    "Narrator",
    "NARRATION",
    "V.O.",
}
_CONTEXT_LABELS = {
    "时间",
    "地点",
    "人物",
    "出场人物",
    "登场人物",
    "景",
    "字幕",
    "画面",
    "镜头",
    "提示",
    "注",
    "备注",
    "说明",
    "场景说明",
    "TIME",
    "PLACE",
    "SETTING",
    "Time",
    "Place",
    "Setting",
}


def enclosed(line: str) -> str | None:
    """The inside of a line wholly in one pair of brackets (``（皇帝登基）`` → ``皇帝登基``)."""
    if len(line) < 2 or line[0] not in _OPEN or line[-1] not in _CLOSE:
        return None
    depth = 0
    for index, ch in enumerate(line):
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
            if depth == 0 and index != len(line) - 1:
                return None  # （笑）你好（走）: two groups, not one direction
    return line[1:-1].strip() if depth == 0 else None


def transition(line: str) -> bool:
    """``CUT TO:``, ``FADE IN:`` … (screenplay transitions, kept as action)."""
    return line[:1].isupper() and len(line) <= 40 and bool(_TRANSITION.match(line))


def play_direction(line: str) -> bool:
    """``Enter ROMEO``, ``Exeunt`` … (stage directions of printed plays)."""
    return line[:1] in "EFMRSTAHD" and bool(_EN_DIRECTION.match(line))


def split_inline(text: str) -> tuple[str, list[str]]:
    """Remove bracketed asides from spoken text: ``那就有劳了。（转身离去）`` → text and actions."""
    if not any(ch in text for ch in _OPEN):
        return text, []
    spoken: list[str] = []
    actions: list[str] = []
    depth, start, buf = 0, 0, []
    for index, ch in enumerate(text):
        if ch in "（(":
            if depth == 0:
                spoken.append("".join(buf))
                buf = []
                start = index + 1
            depth += 1
        elif ch in "）)" and depth:
            depth -= 1
            if depth == 0:
                inner = text[start:index].strip()
                if inner:
                    actions.append(inner)
        elif depth == 0:
            buf.append(ch)
    if depth:  # an unclosed bracket: keep the rest as speech
        buf.append(text[start - 1 :])
    spoken.append("".join(buf))
    cleaned = re.sub(r"[ \t　]{2,}", " ", "".join(spoken)).strip()
    return cleaned, actions


# -- speaker labels ------------------------------------------------------------------------

_CN_NAME = r"[^\s：:∶︰；;（）()【】\[\]“”\"'‘’，,。！？!?…—<>《》=+*#/\\|~`^@$%&0-9]{1,12}"
_ACTION = r"[（(](?P<action>[^（）()]*(?:[（(][^（）()]*[）)][^（）()]*)*)[）)]"
# 甄嬛：… / 苏培盛（宣旨）：… / 皇帝（看了看），：… / 甄嬛；…（a semicolon typo, accepted for known names)
_CN_LABEL = re.compile(
    rf"^(?P<name>{_CN_NAME}?)[ 　]*(?:{_ACTION})?[ 　]*[,，]?[ 　]*(?P<sep>[：:∶︰；;])[ 　]*(?P<text>.*)$"
)
_EN_WORD = (
    r"(?:[A-Z][A-Za-z'’\-]*\.?|[IVX]+|of|the|de|la|le|von|van|der|du|da|and|&|\d+(?:st|nd|rd|th)?)"
)
_EN_NAME = rf"[A-Z][A-Za-z'’\-]*\.?(?:[ ]+{_EN_WORD}){{0,4}}"
_EN_COLON = re.compile(
    rf"^(?P<name>{_EN_NAME}(?:,?[ ]&[cC]\.?)?)[ \t]*(?:{_ACTION})?[ \t]*:(?:[ \t]+(?P<text>\S.*))?$"
)
_EN_LOOSE_ALONE = re.compile(r"^(?P<name>[A-Z][A-Za-z'’\-]*(?:[ ]+[A-Za-z'’\-]+){0,4}):$")
_EN_DOT = re.compile(
    r"^(?P<name>[A-Z][A-Za-z'’\-]*(?:[ ][A-Z][A-Za-z'’\-]*){0,3})\.(?:[ \t]+(?P<text>\S.*))?$"
)
_EN_CUE = re.compile(
    rf"^(?P<name>[A-Z][A-Z0-9'’.\-]*(?:[ ][A-Z0-9'’.\-&]+){{0,4}})[ \t]*(?:{_ACTION})?$"
)
_EN_CUE_EXTENSIONS = {
    "V.O.",
    "O.S.",
    "O.C.",
    "CONT'D",
    "CONT’D",
    "CONTD",
    "CONTINUING",
    "PRE-LAP",
    "FILTERED",
}
_STOP_WORDS = {
    "the",
    "a",
    "an",
    "i",
    "you",
    "he",
    "she",
    "it",
    "we",
    "they",
    "but",
    "and",
    "or",
    "if",
    "so",
    "for",
    "nor",
    "yet",
    "to",
    "in",
    "on",
    "at",
    "my",
    "your",
    "his",
    "her",
    "this",
    "that",
    "what",
    "o",
    "oh",
    "ay",
    "no",
    "yes",
    "well",
    "now",
    "then",
    "here",
    "there",
    "note",
    "see",
}


@dataclass(frozen=True)
class Label:
    """A speaker label found at the start of a line.

    Attributes:
        name: the speaker as written.
        action: the bracketed direction after the name (``苏培盛（宣旨）`` → ``宣旨``).
        text: the speech after the separator (may be empty: the speech follows on the next lines).
        strong: a proper separator (a colon); weak labels (``；``, ``NAME.``) count only for
            names the file also labels strongly or often.
        cue: a bare screenplay cue (an upper-case name alone, no separator).
    """

    name: str
    action: str | None
    text: str
    strong: bool
    cue: bool = False


def _name_shaped_en(name: str) -> bool:
    words = name.replace(".", " ").split()
    if not words or len(name) > 36:
        return False
    return not (len(words) == 1 and words[0].lower() in _STOP_WORDS)


def label(line: str) -> Label | None:
    """The speaker label at the start of ``line``, if the line starts with one."""
    first = line[0]
    if is_han(first) or first in "·•":
        match = _CN_LABEL.match(line)
        if not match:
            return None
        name = match.group("name").strip()
        if not name or not any(is_han(ch) for ch in name):
            return None
        sep = match.group("sep")
        return Label(
            name, _clean(match.group("action")), match.group("text").strip(), sep not in "；;"
        )
    if not first.isupper():
        return None
    match = _EN_COLON.match(line)
    if match and _name_shaped_en(match.group("name")):
        name = " ".join(match.group("name").split())
        return Label(
            name.rstrip("."),
            _clean(match.group("action")),
            (match.group("text") or "").strip(),
            True,
        )
    match = _EN_LOOSE_ALONE.match(line)
    if match and len(line) <= 32 and _name_shaped_en(match.group("name")):
        return Label(
            " ".join(match.group("name").split()), None, "", True
        )  # "Second murderer:" alone
    match = _EN_DOT.match(line)
    if match and _name_shaped_en(match.group("name")):
        name = match.group("name")
        upper = name.upper() == name and sum(ch.isalpha() for ch in name) >= 2
        text = (match.group("text") or "").strip()
        # ROMEO. Speech … is strong; "Rom. Speech" (abbreviated, title case) is weak.
        return Label(name, None, text, upper)
    match = _EN_CUE.match(line)
    if match:
        name = match.group("name").strip()
        letters = [ch for ch in name if ch.isalpha()]
        if len(letters) >= 2 and name.upper() == name and _name_shaped_en(name):
            action = _clean(match.group("action"))
            return Label(name, action, "", True, cue=True)
    return None


def _clean(action: str | None) -> str | None:
    if action is None:
        return None
    action = action.strip()
    return action or None


def cue_extension(action: str | None) -> bool:
    """``(V.O.)``, ``(CONT'D)``: a delivery note of a cue, not a stage direction."""
    return bool(action) and action.upper() in _EN_CUE_EXTENSIONS


def narration_label(name: str) -> bool:
    """旁白 / NARRATOR: a voice-over that is narration, not a character."""
    return name in _NARRATION_LABELS


def context_label(name: str) -> bool:
    """时间 / 地点 / 人物 / 字幕: scene information written like a label."""
    return name in _CONTEXT_LABELS


def is_cjk_text(text: str) -> bool:
    """True when the first letters of ``text`` are Chinese."""
    for ch in text[:20]:
        if is_han(ch):
            return True
        if ch.isalpha():
            return False
    return False
