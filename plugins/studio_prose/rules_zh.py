"""Provides speaker attribution rules for Chinese prose.

- pre-posed: ``眉庄笑道：“…”`` / ``她点点头，微笑说：“…”`` / ``只见槿汐道：“…”``: the subject of
  the sentence that introduces the quote (the first name or pronoun that is not an object);
- post-posed: ``“…”眉庄笑道，“…”`` / ``“…”我道。``: a short clause right after the quote;
- post-posed further on: ``“…”阿Ｑ指着一个孩子，分辩说。`` (a name opening the sentence, a
  speech verb ending a later clause); a tag's first word as jieba segments it when it has a
  person's shape but is not in the cast yet;
- names are learnt from the text itself: strings that often start a sentence introducing speech
  or a tag after a quote (``眉庄``, ``槿汐``, ``温实初``, ``七斤嫂``, ``周瑞家的``), kept when
  jieba's dictionary tags them as a person (nr), does not know them (the book's own names), or
  they carry a title; adverbs and verb phrases, which the dictionary knows by other tags, are
  dropped; plus names the user gives (studio.toml);
- a name's gender (for 她/他) comes from its title (妃, 嫔, 娘娘 … / 王, 爷, 公公 …) or from which
  pronoun most often follows it.
"""

from __future__ import annotations

import re

from studio.api import HAN_CLASS, is_han
from studio_prose.cast_zh import first_word, group
from studio_prose.names_zh import (
    _name_shaped,
    gendered_pronouns,
    infer_genders,
    learn_names,
    mention_pattern,
)
from studio_prose.words_zh import (
    _BEFORE_SUBJECT_PRONOUN,
    _COLONS,
    _OBJECT_BEFORE,
    _PLURALS,
    _SENTENCE_SPLIT,
    _SUBJECT_AFTER_SEE,
    _VERB_FINAL,
    PRONOUNS,
    gender_of_title,
)

__all__ = [  # the rules' interface, as parser.py and referents.py read it (rules_zh or rules_en)
    "PRONOUNS",
    "_PLURALS",
    "_SENTENCE_SPLIT",
    "gender_of_title",
    "gendered_pronouns",
    "infer_genders",
    "learn_names",
    "mention_pattern",
    "nearest_subject",
    "postposed",
    "preposed",
    "subject",
]


def subject(sentence: str, pattern: re.Pattern[str]) -> str | None:
    """The first name or pronoun of ``sentence`` that is not an object or a possessor."""
    return _subject(sentence, pattern)[0]


def _subject(sentence: str, pattern: re.Pattern[str]) -> tuple[str | None, str | None]:
    """``(subject, possessor)``: the first subject, and the first ``X的`` seen (a fallback)."""
    possessor = None
    for match in pattern.finditer(sentence):
        start, end = match.span()
        word = match.group()
        after = sentence[end : end + 1]
        if after in ("的", "之"):
            possessor = possessor or word
            continue
        before = sentence[max(0, start - 3) : start]
        if before and before[-1] in _OBJECT_BEFORE and not before.endswith(_SUBJECT_AFTER_SEE):
            continue
        if before.endswith(_NAMING):
            continue  # 有一个朋友，叫做陈正公: a name given, not who acts
        if (
            len(word) == 1
            and before
            and is_han(before[-1])
            and before[-1] not in _BEFORE_SUBJECT_PRONOUN
        ):
            continue  # 啐他道: a pronoun right after a verb is its object
        if word in _PLURALS or group(word):
            return "?", possessor
        return word, possessor
    return None, possessor


_NAMING = ("叫做", "叫作", "名叫", "唤做", "唤作", "名唤", "称为", "号为")


def _last_sentence(text: str) -> str:
    parts = _SENTENCE_SPLIT.split(text.rstrip(" 　：:，,"))
    for part in reversed(parts):
        if part.strip():
            return part
    return ""


_CLAUSE_SPLIT = re.compile(r"[，,、]")
# how a speech tag's clause ends: a speech verb, or one that goes on (说着) or is done (说罢)
_TAG_ENDS = (*_VERB_FINAL, "说着", "笑着", "问着", "道罢", "说罢", "说完")
# a surname and a title opening the clause of the speech verb (何小姐忙拦道, 向知府道)
_TITLED = re.compile(
    rf"^(?:只见|那|便|又|这)?(?P<who>[{HAN_CLASS}](?:小姐|姑娘|太太|老爷|公子|大爷|二爷|三爷|奶奶|相公|"
    r"先生|夫人|大人|知府|知县|嫂子|大娘))"
)


def nearest_subject(sentence: str, pattern: re.Pattern[str]) -> str | None:
    """The subject of the clause nearest the end of ``sentence`` that has one.

    ``众人眼中俱是泪光，我含笑道`` → 我; ``她点点头，细细看我两眼，微笑说`` → 她 (我 is an object);
    ``华妃的笑容愈发明艳，笑吟吟道`` → 华妃 (a possessor, when no clause has a subject; never the
    first person: ``忽听得我的朋友的声音道`` is the friend's).
    """
    fallback = None
    for clause in reversed(_CLAUSE_SPLIT.split(sentence)):
        if not clause.strip():
            continue
        who, possessor = _subject(clause, pattern)
        if who is not None:
            return who
        if possessor != "我":  # 我的朋友道 / 我的前辈…对我说: the narrator's friend speaks
            fallback = fallback or possessor
    return fallback


def preposed(before: str, pattern: re.Pattern[str]) -> tuple[str | None, str] | None:
    """``(speaker, how)`` when the narration right before a quote introduces it.

    Returns None when the text before is not an introduction; ``(None, "zero")`` when it is one
    without a subject in its sentence (``又道：``), for the caller to fill from context.
    """
    lead = before.rstrip(" 　")
    if not lead:
        return None
    colon = lead[-1] in _COLONS
    if lead[-1] in _VERB_FINAL:  # 道“…” with no mark between
        lead, colon = lead + "：", True
    comma = lead[-1] in "，,"
    core = lead.rstrip("：:∶﹕，, 　")
    if not core or not (colon or (comma and (core[-1] in _VERB_FINAL or _asks(core, pattern)))):
        return None
    sentence = _last_sentence(core)
    if not sentence:
        return None
    last = _CLAUSE_SPLIT.split(sentence)[-1]
    titled = _TITLED.match(last.strip(" 　"))
    if titled is not None and _subject(last, pattern)[0] is None:
        return titled.group("who"), "before-new"  # 何小姐忙拦道: not the 公子 of a clause before
    who = nearest_subject(sentence, pattern)
    if who is not None:
        return who, "before"
    fresh = _bare_subject(sentence)
    if fresh is not None:
        return fresh, "before-new"
    return None, "zero"


_ASKS = re.compile(
    r"(?:问|告诉|嘱咐|吩咐|叮嘱|劝|骂|回答|答应)了?(?P<whom>[" + HAN_CLASS + r"Ａ-Ｚ]{1,4})$"
)


def _asks(core: str, pattern: re.Pattern[str]) -> bool:
    """``我便问他，“…”``: a verb of asking or telling and the person asked, then the speech."""
    match = _ASKS.search(core)
    if match is None:
        return False
    whom = match.group("whom")
    return whom in PRONOUNS or whom in _PLURALS or bool(pattern.fullmatch(whom))


_BARE = re.compile(
    r"^(?:只见|却见|又见|那|这|因|便)?(?P<who>[" + HAN_CLASS + r"Ａ-Ｚ]{2,4}?)"
    r"(?:又|便|就|也|忙|连忙|因|都|亦|遂|乃|才|却|只)?(?:冷笑道|笑道|问道|说道|答道|叹道|喝道|叫道|"
    r"嚷道|哭道|道|说|问|答|曰)$"
)


def _bare_subject(sentence: str) -> str | None:
    """``扈姑道`` with 扈姑 not (yet) in the cast: a name-shaped word right before the verb, which
    the dictionary does not know as another kind of word."""
    match = _BARE.match(sentence.strip(" 　"))
    if match is None:
        return None
    return _name_shaped(match.group("who"))


def postposed(after: str, pattern: re.Pattern[str]) -> str | None:
    """The speaker named in a short clause right after a quote (``“…”眉庄笑道，``)."""
    text = after.lstrip(" 　")
    if not text:
        return None
    far = _far_tag(text, pattern)
    if far is not None:
        return far
    stop = re.search(r"[，。！？!?,；;：:“「\n]", text)
    if stop is None or stop.start() > 16 or text[stop.start()] in "：:“「":
        return None
    clause = text[: stop.start()]
    if not clause or not clause.endswith(_TAG_ENDS):
        return None
    match = pattern.match(clause)
    if match is None:
        match = next(  # 于是对我说: 我 is spoken to, not speaking
            (
                m
                for m in pattern.finditer(clause)
                if clause[max(m.start() - 1, 0)] not in _OBJECT_BEFORE
            ),
            None,
        )
        if match is None or match.start() > 3:
            return _fresh_name(clause)
    word = match.group()
    return "?" if word in _PLURALS or group(word) else word


_CUT_OFF = re.compile(r"(?:的)?话(?:还)?(?:未|没)(?:有)?(?:说)?完")


def unread_tag(after: str) -> str | None:
    """The first word of a speech tag right after a quote, whoever it names (``老头子和气的问``
    → 老头子): one of the first sentence's first three clauses ends in a speech verb
    (``那光头的老头子看定了阿Ｑ的脸，沉静的清楚的说``); else None."""
    text = after.lstrip(" 　")
    end = re.search(r"[。！？!?；;：:“「\n]", text)
    clauses = [c for c in _CLAUSE_SPLIT.split(text[: end.start()] if end else text) if c]
    if not clauses or len(clauses[0]) > 24:
        return None
    cut_off = _CUT_OFF.search(clauses[0])  # 驼背五少爷话还未完: his words, cut off
    if not cut_off and not any(c.endswith(_TAG_ENDS) for c in clauses[:3]):
        return None
    return first_word(clauses[0]) or clauses[0][:2]


def _fresh_name(clause: str) -> str | None:
    """The first word of a speech tag, when it has a person's shape (王胡 in
    ``王胡轻蔑的抬起眼来说``)."""
    who = first_word(clause)
    if who is None or not 2 <= len(who) <= 4 or len(who) == len(clause):
        return None
    return _name_shaped(who)


def _far_tag(text: str, pattern: re.Pattern[str]) -> str | None:
    """``“…”阿Ｑ指着一个孩子，分辩说。``: a name opening the sentence after a quote, whose second
    or third clause ends in a speech verb before the sentence ends."""
    match = pattern.match(text)
    if match is None or match.group() in _PLURALS:
        return None
    end = re.search(r"[。！？!?；;：:“「”」]", text)
    sentence = text[: end.start() if end else 40][:40]
    clauses = [c for c in _CLAUSE_SPLIT.split(sentence) if c]
    if len(clauses) < 2 or len(clauses) > 3 or end is None or text[end.start()] not in "。！？!?":
        return None
    if not any(c.endswith(_TAG_ENDS) for c in clauses[1:]):
        return None
    for clause in clauses[1:]:
        for other in pattern.finditer(clause):
            if other.group() not in PRONOUNS or other.start() == 0:
                return None  # another person in the later clauses: 阿Ｑ看着王胡，王胡说 / ，他说
    word = match.group()
    return "?" if group(word) else word
