"""Provides the sample filters: length, name-or-interjection replies, exact and near duplicates.

Every filter returns the reason it drops something (a short phrase that the build report counts),
or None to keep it. Duplicates are judged *per context*: a short line that the character really
says often (``是。`` / ``Ay.``) is kept once for every different line it answers, never
deduplicated globally.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from studio.api.text import HAN_CLASS, normalize, similarity
from studio.api.text import has_cjk as _has_cjk

_HAN = re.compile(f"[{HAN_CLASS}]")
_TERMINAL = tuple("。！？!?.…—~～」”\"')）")

# Interjections: a reply made only of these (and names) says nothing in the character's voice.
ZH_INTERJECTIONS = (
    "哎呀",
    "哎哟",
    "哎呦",
    "哎",
    "唉",
    "啊",
    "呀",
    "哦",
    "噢",
    "喔",
    "嗯",
    "唔",
    "呃",
    "诶",
    "欸",
    "咦",
    "哼",
    "嘘",
    "嘿",
    "哈",
    "呵",
    "嗨",
    "嗬",
    "呸",
    "喂",
    "哇",
    "呜",
    "天哪",
    "天啊",
    "天呐",
)
EN_INTERJECTIONS = frozenset(
    {
        "o",
        "oh",
        "ah",
        "aha",
        "ay",
        "me",
        "alas",
        "alack",
        "ha",
        "ho",
        "hey",
        "hm",
        "hmm",
        "um",
        "uh",
        "eh",
        "wow",
        "ugh",
        "ooh",
        "huh",
        "fie",
        "lo",
        "tush",
        "pish",
        "oho",
        "hush",
        "welladay",
        "heigh",
    }
)
# Terms of address that stand for a name (皇上！, 姐姐！, My lord!).
ZH_ADDRESS = (
    "皇上",
    "皇帝",
    "娘娘",
    "小主",
    "主子",
    "姐姐",
    "妹妹",
    "哥哥",
    "弟弟",
    "额娘",
    "皇额娘",
    "皇阿玛",
    "公公",
    "大人",
    "王爷",
    "太医",
    "姑姑",
    "嬷嬷",
    "小姐",
    "夫人",
    "老爷",
    "母亲",
    "父亲",
    "爹爹",
    "娘亲",
    "师父",
    "陛下",
    "殿下",
    "姑娘",
    "公子",
    "少爷",
)
# Greetings that palace dramas also give maids as names (吉祥, 如意): never read as a name.
ZH_GREETINGS = frozenset({"吉祥", "如意", "万福", "金安", "万安", "安康", "平安", "福安"})
EN_ADDRESS = frozenset(
    {
        "sir",
        "madam",
        "lord",
        "lady",
        "my",
        "good",
        "sweet",
        "dear",
        "master",
        "mistress",
        "nurse",
        "father",
        "mother",
        "sister",
        "brother",
        "majesty",
        "highness",
        "grace",
    }
)


def is_cjk(text: str) -> bool:
    """True when ``text`` (its first 50 characters) contains CJK characters (see :mod:`studio.api.text`)."""
    return _has_cjk(text, 50)


def approx_tokens(text: str) -> float:
    """A rough token count that holds across scripts: one per Chinese character, one per four others."""
    cjk = len(_HAN.findall(text))
    return cjk + (len(text) - cjk) / 4


def join_lines(parts: Iterable[str]) -> str:
    """Join the lines of one speaker's turn as one paragraph.

    Chinese lines are joined directly when the previous one ends a sentence, else with ``，``;
    other languages with a space.
    """
    out = ""
    for part in (p.strip() for p in parts):
        if not part:
            continue
        if not out:
            out = part
        elif is_cjk(out[-20:] + part[:20]):
            out += (
                part
                if out.endswith(_TERMINAL) or out.endswith(("，", "、", "：", "；"))
                else "，" + part
            )
        else:
            out += " " + part
    return out


class NameOrInterjection:
    """Recognises replies that are only names, terms of address or interjections.

    Args:
        names: every speaker label and alias of the corpus (the character's own included).
    """

    def __init__(self, names: Iterable[str]) -> None:
        names = {n.strip() for n in names if n and n.strip()}
        zh_names = sorted(
            {n for n in names if is_cjk(n) and len(n) >= 2 and n not in ZH_GREETINGS},
            key=len,
            reverse=True,
        )
        # a surname or first character of a named speaker plus a term of address: 苏公公, 眉姐姐
        initials = sorted({n[0] for n in zh_names})
        address = sorted(ZH_ADDRESS, key=len, reverse=True)
        alternatives = [re.escape(n) for n in zh_names] + [re.escape(a) for a in address]
        if initials:
            letters = "".join(re.escape(c) for c in initials)
            alternatives.insert(0, f"[{letters}](?:{'|'.join(map(re.escape, address))})")
        alternatives += [re.escape(i) for i in sorted(ZH_INTERJECTIONS, key=len, reverse=True)]
        self._zh = re.compile(f"(?:{'|'.join(alternatives)})+")
        self._en_names = frozenset(w for n in names if not is_cjk(n) for w in normalize_words(n))

    def __call__(self, reply: str) -> bool:
        """True when ``reply`` holds nothing but names, terms of address and interjections."""
        if is_cjk(reply):
            core = normalize(reply)
            return bool(core) and self._zh.fullmatch(core) is not None
        words = normalize_words(reply)
        if not words:
            return True
        vocative = self._en_names | EN_INTERJECTIONS
        return all(w in vocative or w in EN_ADDRESS for w in words) and any(
            w in vocative for w in words
        )


def normalize_words(text: str) -> list[str]:
    """Lower-case words of a non-Chinese text (apostrophes kept inside words)."""
    return re.findall(
        r"[a-z0-9]+(?:'[a-z]+)?", unicodedata.normalize("NFKC", text).casefold().replace("’", "'")
    )


class Deduplicator:
    """Keeps the first of every duplicate (context, reply) pair, in corpus order.

    Exact duplicates have the same context and reply text. Near duplicates (when ``near``) have
    the same words once punctuation, spacing and case are removed, or one side the same and the
    other side at least ``threshold`` similar (character bigrams; both sides at least
    ``min_fuzzy_chars`` long, so short lines are only ever compared exactly).

    Args:
        near: also drop near duplicates.
        threshold: bigram Jaccard similarity from which two texts count as the same.
        min_fuzzy_chars: shortest normalised text compared by similarity.
    """

    EXACT = "exact duplicate (same context and reply)"
    NEAR = "near duplicate (same words, different punctuation or spacing)"
    FUZZY = "near duplicate (almost the same context and reply)"

    def __init__(self, near: bool = True, threshold: float = 0.8, min_fuzzy_chars: int = 6) -> None:
        self.near = near
        self.threshold = threshold
        self.min_fuzzy_chars = min_fuzzy_chars
        self._exact: set[tuple[str, str]] = set()
        self._normal: set[tuple[str, str]] = set()
        self._by_context: dict[str, list[str]] = {}
        self._by_reply: dict[str, list[str]] = {}

    def check(self, context: str, reply: str) -> str | None:
        """Return why (context, reply) duplicates one seen before, or None and remember it."""
        key = (context, reply)
        if key in self._exact:
            return self.EXACT
        if self.near:
            nc, nr = normalize(context), normalize(reply)
            if (nc, nr) in self._normal:
                return self.NEAR
            if self._fuzzy(nc, nr):
                return self.FUZZY
            self._normal.add((nc, nr))
            self._by_context.setdefault(nc, []).append(nr)
            self._by_reply.setdefault(nr, []).append(nc)
        self._exact.add(key)
        return None

    def _fuzzy(self, nc: str, nr: str) -> bool:
        small = self.min_fuzzy_chars
        if len(nr) >= small:
            for other in self._by_context.get(nc, ()):
                if len(other) >= small and similarity(nr, other) >= self.threshold:
                    return True
        if len(nc) >= small:
            for other in self._by_reply.get(nr, ()):
                if len(other) >= small and similarity(nc, other) >= self.threshold:
                    return True
        return False


def length_reason(reply: str, min_chars: int, max_chars: int) -> str | None:
    """Why ``reply`` is too short or too long for a training sample, or None."""
    size = len(reply.strip())
    if size < min_chars:
        return f"reply shorter than {min_chars} chars"
    if size > max_chars:
        return f"reply longer than {max_chars} chars"
    return None
