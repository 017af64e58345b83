"""Provides the name finding of the Chinese speaker rules: names learnt from the text, the
regex of names and pronouns, genders from titles and following pronouns, and whether a fresh
word has a person's shape."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from studio.api import HAN_CLASS
from studio_prose.cast_zh import (
    GROUP_WORDS,
    STORYTELLER,
    cut_words,
    dictionary_tag,
    group,
    person_tag,
)
from studio_prose.words_zh import (
    _BAD_LAST,
    _MANNER,
    _MAX_NAME,
    _NOT_NAMES,
    _NUMBER_FIRST,
    _OBJECT_MARKERS,
    _PLURALS,
    _SPEECH_INTRO,
    _SPEECH_TAG,
    _STOP_FIRST,
    _STOP_WORDS,
    _VERBISH,
    NAME_SEPARATORS,
    PRONOUNS,
    _name_char,
    gender_of_title,
    trie_pattern,
    verb_phrase,
)


def _spellings(text: str, name: str) -> set[str]:
    """``name`` as ``text`` spells it: the same letters in full or half width (阿Q / 阿Ｑ)."""
    full = "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in name)
    half = "".join(chr(ord(ch) - 0xFEE0) if "！" <= ch <= "～" else ch for ch in name)
    return {variant for variant in (full, half) if variant != name and variant in text}


def _count_stems(piece: str, starts: Counter[str]) -> None:
    piece = piece.lstrip(" 　")
    for lead in (
        "只见",
        "但见",
        "却见",
        "忽见",
        "又见",
        "那",
        "这",
        "只听",
        "却说",
        "且说",
        "便",
        "却",
        "又",
        "只",
    ):
        if piece.startswith(lead) and len(piece) > len(lead) + 1:
            piece = piece[len(lead) :]
            break
    if len(piece) < 2 or not _name_char(piece[0]):
        return
    wife = re.match(f"[{HAN_CLASS}]{{1,3}}家的", piece)
    if wife:  # 周瑞家的: the wife of 周瑞, a name of its own
        starts[wife.group()] += 1
    for size in range(2, _MAX_NAME + 1):
        stem = piece[:size]
        if len(stem) < size or not all(_name_char(ch) for ch in stem):
            continue
        if stem[-1] in NAME_SEPARATORS:
            continue
        if stem[0] in _STOP_FIRST and not (stem[0] in _NUMBER_FIRST and gender_of_title(stem)):
            continue  # 七斤嫂 / 三太太 are names; 三人 / 一个 are not
        starts[stem] += 1


def _candidates(text: str) -> Counter[str]:
    """2- to 4-character starts of sentences and clauses that introduce a quote or tag one."""
    starts: Counter[str] = Counter()
    for match in _SPEECH_INTRO.finditer(text):
        begin = max(0, match.start() - 40)
        window = text[begin : match.start()]
        cut = max(window.rfind(mark) for mark in "。！？!?；;…\n”」：:，,")
        for piece in {window[cut + 1 :].lstrip(" 　"), _sentence_start(window)}:
            _count_stems(piece, starts)
    for match in _SPEECH_TAG.finditer(text):
        _count_stems(match.group(1), starts)
    return starts


def learn_names(text: str, given: Iterable[str] = (), min_count: int = 3) -> set[str]:
    """Names learnt from ``text``, plus the ``given`` ones.

    A candidate is a 2-4 character start of sentences that introduce speech (``眉庄笑道：“``).
    It is kept when it is frequent, ends like a name (not in a verb or adverb character), is
    not a longer form of a kept name plus a word (玄凌神色), is not a prefix of a longer
    candidate that is nearly as frequent (温实 of 温实初), and either carries a title (华妃,
    陆昭仪) or is found after an object marker (向眉庄, 对玄凌) now and then, as names are and
    adverbs (缓缓) or verb phrases (点头) are not.
    """
    dotted = dotted_names(text, max(2, min_count - 1))
    starts = _candidates(text)
    rare = {stem for stem, count in starts.items() if count < min_count}
    leads = _clause_leads(text, rare)
    # a rare tag start that leads many clauses weighs those too, to compare a name's forms
    weight = starts + Counter({stem: n for stem, n in leads.items() if n >= _LEADS})
    longest_extension: Counter[str] = Counter()
    for stem in starts:
        last = stem[-1]  # 林秋水对 is 林秋水 + 对, not a longer name
        plain = last not in _VERBISH and last not in _BAD_LAST and last not in _OBJECT_MARKERS
        if len(stem) > 2 and plain and weight[stem] > longest_extension[stem[:-1]]:
            longest_extension[stem[:-1]] = weight[stem]
    pool: set[str] = set()
    by_leads: set[str] = set()  # candidates on clause starts: they need stronger evidence
    for stem, count in starts.items():
        if stem.endswith("家的") and count >= min_count:
            pool.add(stem)
            continue
        need = max(1, min_count - 1) if person_tag(stem) else min_count
        if count < need and leads[stem] >= _LEADS and stem[0] not in _STOP_FIRST:
            need = 1  # 闰土 tags one speech but leads many clauses: a short story's person
            by_leads.add(stem)
        if count < need or stem[-1] in _BAD_LAST or stem in _NOT_NAMES or stem in _MANNER:
            continue
        if verb_phrase(stem):
            continue  # 吃了一会 / 忙陪: a verb phrase that starts many clauses
        if len(stem) > 2 and stem[-1] in _VERBISH:
            continue
        doubled = (
            stem[0] == stem[1]
            or stem[-1] == stem[-2]
            or (len(stem) == 3 and stem[1] == "一" and stem[0] == stem[2])
        )
        if doubled and not gender_of_title(stem):
            continue  # 缓缓 / 清凌凌 / 停一停, but 哥哥 / 姐姐 are people
        if longest_extension[stem] >= max(2, 0.6 * weight[stem]) and stem not in _STOP_WORDS:
            continue  # 温实 is the start of 温实初
        if len(stem) >= 3 and starts[stem[:-1]] and count < 0.6 * starts[stem[:-1]]:
            continue  # 眉庄手 is 眉庄 + a word
        pool.add(stem)
    # 眉庄向槿 is 眉庄 + …
    pool = {
        w for w in pool if w.endswith("家的") or not any(w[:k] in pool for k in range(2, len(w)))
    }
    total: Counter[str] = Counter()
    marked: Counter[str] = Counter()
    adverbial: Counter[str] = Counter()  # 无奈地: a manner word, not a name
    pattern = re.compile(trie_pattern(pool))
    for match in pattern.finditer(text):
        word = match.group()
        total[word] += 1
        if match.start() and text[match.start() - 1] in _OBJECT_MARKERS:
            marked[word] += 1
        if text[match.end() : match.end() + 1] == "地":
            adverbial[word] += 1
    names = {
        w
        for w in pool
        if _name_evidence(w, total[w], marked[w], adverbial[w])
        and (w not in by_leads or _unknown_person(w, marked[w], adverbial[w]))
    }
    named = names - by_leads  # 引的贾母 / 贾赦贾政: words around names found the usual way
    names -= {w for w in by_leads & names if any(n in w for n in named)}
    names = {
        w for w in names if w.endswith("家的") or not any(w[:k] in names for k in range(2, len(w)))
    }
    names -= {w for w in names if w + "的" in names}  # 周瑞家 is 周瑞家的 cut short
    names -= {w for w in names if any(w in full for full in dotted)}  # 艾辛格 of 艾辛格.斯坦顿
    names |= dotted
    for name in given:
        if name:
            names.add(name)
            names.update(_spellings(text, name))  # the user typed 阿Q, the book prints 阿Ｑ
    return names


# a transliterated name: parts of Han characters joined by one of NAME_SEPARATORS; each side is
# read wider than a name, then cut back
_DOTTED = re.compile(
    rf"(?P<head>[{HAN_CLASS}]{{1,6}})(?P<middle>(?:[{NAME_SEPARATORS}][{HAN_CLASS}]{{1,6}})?)"
    rf"[{NAME_SEPARATORS}](?P<tail>[{HAN_CLASS}]{{1,6}})"
)
_SHARE = 0.6  # a part's reading that this share of the mentions agree on


def dotted_names(text: str, min_count: int = 2) -> set[str]:
    """Transliterated names written with a separator inside, found by how the mentions agree.

    Each mention is read with up to six characters on each side of the separators; a side is
    cut back to the longest reading that ``_SHARE`` of the mentions with the same middle share
    (看了一眼艾辛格 and 艾辛格 agree on 艾辛格; 斯坦顿推开 and 斯坦顿问 on 斯坦顿), that does not
    end or start in a verb or particle (布朗说), and the whole is kept when seen ``min_count``
    times; a name seen less often is read by the dictionary's words (:func:`_cut_name`).
    """
    mentions: dict[str, list[tuple[str, str]]] = {}
    for match in _DOTTED.finditer(text):
        if text.rfind("《", 0, match.start()) > text.rfind("》", 0, match.start()):
            continue  # 《汉书·乐志》: a book and its chapter
        core = text[match.start("head") + len(match.group("head")) : match.start("tail")]
        mentions.setdefault(core, []).append((match.group("head"), match.group("tail")))
    names: set[str] = set()
    for core, found in mentions.items():
        if len(found) < min_count:
            names.update(filter(None, (_cut_name(head, core, tail) for head, tail in found)))
            continue
        head = _agreed([h[::-1] for h, _ in found], _STOP_FIRST)[::-1]
        tail = _agreed([t for _, t in found], _BAD_LAST | _VERBISH)
        if head and tail and len(head) + len(tail) >= 3:
            names.add(head + core + tail)
    return names


def _cut_name(head: str, core: str, tail: str) -> str:
    """One mention read by the dictionary's words: the word before the separator and the word
    after it, each of two characters or more (唐纳德•史密斯叹了口气); else nothing."""
    before, after = cut_words(head)[-1], cut_words(tail)[0]
    if len(before) < 2 or len(after) < 2 or before[0] in _STOP_FIRST:
        return ""
    return before + core + after


def _agreed(readings: list[str], bad_end: set[str]) -> str:
    """The longest prefix that ``_SHARE`` of ``readings`` start with, not ending in ``bad_end``."""
    best = ""
    for size in range(1, 7):
        prefixes = Counter(r[:size] for r in readings if len(r) >= size)
        if not prefixes:
            break
        prefix, count = prefixes.most_common(1)[0]
        if count < _SHARE * len(readings):
            break
        if prefix[-1] not in bad_end:
            best = prefix
    return best


_LEADS = 4  # clause starts that make a once-seen speech-tag start a candidate
_CLAUSE_LEAD = re.compile(r"(?:^|(?<=[。！？!?；;，,：:”」\n　]))[^\s。！？!?；;，,：:“”「」]{2,4}")
_NOT_NAME_START = set("的了到至本是在就也都又还把被给让原引其此每各该轿")


def _clause_leads(text: str, stems: set[str]) -> Counter[str]:
    """How often each of ``stems`` starts a clause anywhere in ``text``."""
    leads: Counter[str] = Counter()
    if not stems:
        return leads
    longest = max(map(len, stems))
    for match in _CLAUSE_LEAD.finditer(text):
        piece = match.group()
        for size in range(2, min(len(piece), longest) + 1):
            if piece[:size] in stems:
                leads[piece[:size]] += 1
    return leads


def _unknown_person(word: str, marked: int, adverbial: int) -> bool:
    """The stricter test of a name found by its clause starts: jieba's dictionary has it as a
    person or not at all (以后, 答应, 银子 are other words), and it is titled (华大妈, 方太太)
    or made of characters jieba cannot group into words (闰土, 爱罗先珂; not 叹了一口) and
    seen after an object marker (和闰土)."""
    if person_tag(word):
        return True
    if dictionary_tag(word) is not None or adverbial or word[0] in _NOT_NAME_START:
        return False
    if gender_of_title(word):
        return True
    return marked > 0 and all(len(piece) == 1 for piece in cut_words(word))


_NOT_PERSON_TAGS = ("v", "d", "a", "p", "c", "u", "r", "s", "f", "l", "t", "m")


def _name_evidence(word: str, total: int, marked: int, adverbial: int) -> bool:
    """Whether a frequent speech-tag start is a person: a title, a name in jieba's dictionary, a
    word jieba does not know (the book's own names: 浦墨卿, 阿Ｑ), or a noun found now and then
    after an object marker (向X, 对X); adverbs (缓缓) and verb phrases (点头) are in the dictionary
    with other tags, and manner words take 地."""
    if gender_of_title(word) or person_tag(word) or group(word):
        return True
    if not total or adverbial > 0.01 * total:
        return False
    tag = dictionary_tag(word)
    if tag is None or tag == "nz":  # unknown to the dictionary, or a proper noun
        return True
    # 平儿 (q), 湘云 (ns): jieba knows some of a book's names as other words; an object marker
    # before them now and then (对平儿, 叫湘云) says a person, which verbs, adverbs and places
    # (点头, 缓缓, 窗外) never get
    return not tag.startswith(_NOT_PERSON_TAGS) and marked / total >= 0.04


def _sentence_start(window: str) -> str:
    cut = max(window.rfind(mark) for mark in "。！？!?；;…\n”」")
    return window[cut + 1 :].lstrip(" 　")


def mention_pattern(names: Iterable[str]) -> re.Pattern[str]:
    """A regex matching any name or pronoun, longest first.

    Pronouns: 我/他/她, and plural 我们/他们/她们/大家.
    """
    return re.compile(trie_pattern({*names, *PRONOUNS, *_PLURALS, *GROUP_WORDS, *STORYTELLER}))


def infer_genders(text: str, pattern: re.Pattern[str], names: Iterable[str]) -> dict[str, str]:
    """``f`` or ``m`` for names whose title or following pronouns say so."""
    genders: dict[str, str] = {}
    counts: dict[str, Counter[str]] = {}
    for name in names:
        title = gender_of_title(name)
        if title:
            genders[name] = title
    if not gendered_pronouns(text):
        return genders  # 红楼梦 writes 他 for everyone: pronouns say nothing about gender
    # 玄凌……，他……: a pronoun opening the next clause usually refers back to the subject
    next_clause_pronoun = re.compile(
        f"(?P<name>{pattern.pattern})[^。！？“”「」，,；;]{{0,20}}[，,。；;][ 　]*"
        "(?P<pronoun>[他她])(?![们們])"
    )
    for match in next_clause_pronoun.finditer(text):
        name = match.group("name")
        if name in genders or name in PRONOUNS or name in _PLURALS:
            continue
        counts.setdefault(name, Counter())["f" if match.group("pronoun") == "她" else "m"] += 1
    for name, counter in counts.items():
        total = sum(counter.values())
        top, hits = counter.most_common(1)[0]
        if total >= 2 and hits / total >= 0.7:
            genders[name] = top
    return genders


def gendered_pronouns(text: str) -> bool:
    """True when the text tells 她 from 他 (modern prose; classical texts use 他 for both)."""
    sample = text[:300_000]
    he, she = sample.count("他"), sample.count("她") + sample.count("伊")
    return she >= 0.1 * max(he, 1)


_PLACE = set("里的上中下前后边头外内")


def _name_shaped(who: str) -> str | None:
    if not all(_name_char(ch) for ch in who) or any(ch in _PLACE for ch in who[1:]):
        return None  # 饭店里人: a place and its people
    if who[0] in _STOP_FIRST and not (who[0] in _NUMBER_FIRST and gender_of_title(who)):
        return None
    if who in _NOT_NAMES or who in _MANNER or who[-1] in _BAD_LAST or group(who):
        return None
    if verb_phrase(who):
        return None
    tag = dictionary_tag(who)
    if tag not in (None, "nr", "nrfg", "nrt", "nz") and not gender_of_title(who):
        return None
    return who
