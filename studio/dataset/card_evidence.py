"""Provides the evidence of a drafted persona card: what the corpus shows of how she speaks.

Each function reads the dialogue (in order, after the user's fixes) and the indices of her lines,
and returns points, each with the lines it came from. :mod:`studio.dataset.card` puts them
together into the draft.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from studio.api import Utterance
from studio.api.text import HAN_CLASS

_CJK = re.compile(f"[{HAN_CLASS}]")
_CJK_RUN = re.compile(f"[{HAN_CLASS}]+")
_WORD = re.compile(r"[A-Za-z][A-Za-z']*")
SELF_ZH = tuple(
    "本宫 臣妾 嫔妾 妾身 奴婢 哀家 朕 孤 本王 儿臣 奴才 在下 小女子 老身 老夫 "
    "贫道 贫僧 晚辈 小人 咱家 为师 我们 我 吾 俺 咱 ".split()
)
_END_PUNCT = "。！？!?…．.~～"
# words of address: a head term counts when it names someone of the corpus or is one of these
TITLES_ZH = tuple(
    "皇上 娘娘 小主 主子 公公 嬷嬷 姑姑 额娘 母后 父皇 太后 王爷 夫人 小姐 老爷 "
    "太太 师父 师傅 大人 公子 姑娘 嫂子 爹爹 母亲 父亲 奶奶 爷爷 叔叔 阿姨 姐姐 "
    "妹妹 哥哥 弟弟 姐 妹 哥 娘 爷 嬷 兄 弟 ".split()
)
TITLES_EN = tuple(
    "madam sir nurse mother father cousin uncle "
    "aunt friar master mistress love dear papa "
    "mamma mama gentlemen ladies lord lady miss "
    "mr mrs doctor captain ".split()
)
_COPULA_ZH = ("是", "乃", "为", "系")
_FAMILY_ZH = tuple(
    "之女 的女儿 长女 次女 之妻 之母 之父 的姐姐 的妹妹 的父亲 的母亲 封为 晋为 出身 赐号".split()
)
_FACT_GAP_ZH = (
    "本原乃即也亦又系实"  # 黛玉本是…, 甄嬛原系…: what may stand between her name and the cue
)
_FACT_EN = (  # "Juliet is the fairest maid", not "Elizabeth was far from suspecting"
    " is the ",
    " is a ",
    " is an ",
    " was the ",
    " was a ",
    " was an ",
    "'s father",
    "'s mother",
    "'s cousin",
    "'s nurse",
    "daughter of",
    "wife of",
    "sister of",
)
_EN_STOP = frozenset(  # closed-class words: what is distinctive of her is in the open classes
    "a an and are as at be but by do for from had has have he her his i if in into is it its me my "
    "no not of on or our she so than that the their them then there they this to was we were what "
    "when where which who why will with would you your o "
    "nor neither either both all any each every some such own same other another "
    "one two three four five six seven eight nine ten first second third "
    "much many more most less least few very too also only just even still yet ever never "
    "can could shall should may might must been being did does done him us these those whom whose "
    "how here upon about after before over under again once because while though although till "
    "until unless whether myself yourself himself herself itself ourselves themselves thee thou "
    "thy thine".split()
)


@dataclass
class Point:
    """One observation of the draft, with where it came from.

    Attributes:
        text: what was observed, in the card's language.
        count: how many lines support it.
        sources: ``file:line`` of up to five supporting lines.
    """

    text: str
    count: int = 0
    sources: list[str] = field(default_factory=list)


def is_zh(texts: Sequence[str]) -> bool:
    """True when CJK characters make up at least a fifth of the letters of ``texts``."""
    letters = cjk = 0
    for text in texts[:2000]:
        for ch in text:
            if ch.isalpha():
                letters += 1
                cjk += bool(_CJK.match(ch))
    return bool(letters) and cjk / letters >= 0.2


def _where(u: Utterance) -> str:
    return f"{u.file.rsplit('/', 1)[-1]}:{u.line}"


def partners(dialogue: Sequence[Utterance], hers: Sequence[int], who, character) -> list[Point]:
    counts: Counter[str] = Counter()
    where: dict[str, list[str]] = defaultdict(list)
    for i in hers:
        for j in (i - 1, i + 1):
            if 0 <= j < len(dialogue) and dialogue[j].scene == dialogue[i].scene:
                other = who(dialogue[j])
                if other and other != character:
                    counts[other] += 1
                    if len(where[other]) < 3 and _where(dialogue[i]) not in where[other]:
                        where[other].append(_where(dialogue[i]))
    return [Point(name, n, where[name]) for name, n in counts.most_common(5)]


def people(utterances: Sequence[Utterance], who) -> set[str]:
    """Lower-cased speaker names and their words (for English names of several words)."""
    out: set[str] = set()
    for u in utterances:
        name = who(u)
        if name:
            out.add(name.lower())
            out.update(w.lower() for w in name.split() if len(w) > 2)
    return out


def _address_candidates(text: str, zh: bool) -> list[str]:
    """The short comma-separated pieces at the start (two) and the end (one) of a line."""
    if not zh:  # "Mr. Darcy" is one form of address, not "Mr" and "Darcy"
        text = _TITLE_DOT.sub(r"\1", text)
    pieces = [p.strip(" \t\"'“”‘’") for p in re.split(r"[，,！!？?。.;；]", text.strip())]
    pieces = [p for p in pieces if p]
    chosen = [*pieces[:2], *pieces[-1:]] if len(pieces) > 1 else []
    out = []
    for piece in dict.fromkeys(chosen):
        piece = re.sub(r"^(?:O|Oh|Ah|Good|Dear|Sweet)\s+", "", piece) if not zh else piece
        if zh and 1 <= len(piece) <= 4 and _CJK_RUN.fullmatch(piece):
            out.append(piece)
        elif not zh and 1 <= len(piece.split()) <= 3 and piece[:1].isalpha():
            if piece.lower() not in _BARE_TITLES:  # "Mr" alone calls nobody
                out.append(_TITLE_BARE.sub(r"\1.", piece))
    return out


_TITLE_DOT = re.compile(r"\b(Mr|Mrs|Ms|Dr|St)\.")
_TITLE_BARE = re.compile(r"\b(Mr|Mrs|Ms|Dr|St)\b(?!\.)")
_BARE_TITLES = frozenset(("mr", "mrs", "ms", "dr", "st"))


def _is_address(word: str, zh: bool, people: set[str]) -> bool:
    low = word.lower()
    if zh:
        return any(p and (p in word or word in p) for p in people if len(p) >= 2) or word.endswith(
            TITLES_ZH
        )
    return any(w in people or w in TITLES_EN for w in low.split())


def address(dialogue, hers, who, zh: bool, people: set[str]) -> list[Point]:
    """Words of address in her lines, each with the person it is most often said to: the
    person it names, else the speaker most often next to those lines."""
    counts: Counter[str] = Counter()
    to: dict[str, Counter[str]] = defaultdict(Counter)
    where: dict[str, list[str]] = defaultdict(list)
    speakers: dict[str, str] = {}
    for u in dialogue:
        name = who(u)
        if name:
            speakers.setdefault(name.lower(), name)
    for i in hers:
        for word in _address_candidates(dialogue[i].text, zh):
            if not _is_address(word, zh, people):
                continue
            word = word if zh else " ".join(w[:1].upper() + w[1:].lower() for w in word.split())
            counts[word] += 1
            if len(where[word]) < 3 and _where(dialogue[i]) not in where[word]:
                where[word].append(_where(dialogue[i]))
            for j in (i - 1, i + 1):
                if 0 <= j < len(dialogue) and dialogue[j].scene == dialogue[i].scene:
                    other = who(dialogue[j])
                    if other and other != who(dialogue[i]):
                        to[word][other] += 1
    points = []
    for word, n in counts.most_common(8):
        if n < 2:
            break
        named = speakers.get(word.lower()) or (
            None if zh else speakers.get(word.split()[-1].lower().rstrip("."))
        )  # "Mr. Darcy" names Darcy
        person = named or (to[word].most_common(1)[0][0] if to[word] else "")
        text = f"「{word}」" if zh else f"“{word}”"
        points.append(Point(f"{text} → {person}" if person else text, n, where[word]))
    return points


def self_reference(dialogue, hers, who, character) -> list[Point]:
    mine: Counter[str] = Counter()
    rest: Counter[str] = Counter()
    her_total, rest_total = len(hers), max(1, len(dialogue) - len(hers))
    where: dict[str, list[str]] = defaultdict(list)
    her_set = set(hers)
    for i, u in enumerate(dialogue):
        text = u.text
        for word in SELF_ZH:
            if word in text:
                text = text.replace(word, " ")  # 臣妾 is not also counted as 妾
                if i in her_set:
                    mine[word] += 1
                    if len(where[word]) < 3:
                        where[word].append(_where(u))
                else:
                    rest[word] += 1
    points = []
    for word, n in mine.most_common():
        share, other = n / her_total, rest[word] / rest_total
        if n >= 3 and share >= 0.02:
            points.append(
                Point(
                    f"「{word}」 in {share:.0%} of her lines (others {other:.0%})", n, where[word]
                )
            )
    return points[:4]


def _segmenter():
    """jieba's word cut when installed (words, not character pairs), else None."""
    try:
        import jieba
    except ImportError:
        return None
    jieba.setLogLevel(60)
    return jieba.lcut


def _terms(text: str, zh: bool, cut=None) -> list[str]:
    if zh:
        out = []
        for run in _CJK_RUN.findall(text):
            if cut is not None:
                out += [w for w in cut(run) if len(w) >= 2]
            else:
                out += [run[i : i + 2] for i in range(len(run) - 1)]
        return out
    return [w.lower() for w in _WORD.findall(text) if w.lower() not in _EN_STOP and len(w) > 2]


def _log_odds(mine: Counter[str], rest: Counter[str], minimum: int) -> list[tuple[str, float]]:
    """Log-odds ratio with an informative Dirichlet prior (the pooled counts), as z-scores."""
    prior = mine + rest
    a0, n1, n2 = sum(prior.values()), sum(mine.values()), sum(rest.values())
    scored = []
    for word, count in mine.items():
        if count < minimum:
            continue
        a = prior[word] * 0.01 + 0.01
        a_all = a0 * 0.01 + 0.01 * len(prior)
        delta = math.log((count + a) / (n1 + a_all - count - a)) - math.log(
            (rest[word] + a) / (n2 + a_all - rest[word] - a)
        )
        variance = 1 / (count + a) + 1 / (rest[word] + a)
        scored.append((word, delta / math.sqrt(variance)))
    return sorted(scored, key=lambda item: -item[1])


def distinctive(dialogue, hers, who, character, zh: bool) -> list[Point]:
    mine: Counter[str] = Counter()
    rest: Counter[str] = Counter()
    her_set = set(hers)
    cut = _segmenter() if zh else None
    for i, u in enumerate(dialogue):
        (mine if i in her_set else rest).update(_terms(u.text, zh, cut))
    if not rest:
        return []
    points = []
    for word, z in _log_odds(mine, rest, minimum=3)[:10]:
        if z < 2:
            break
        points.append(Point(f"「{word}」" if zh else f"“{word}”", mine[word]))
    return points


PARTICLES_ZH = "了呢吧罢么吗啊呀哪嘛啦哉矣耳乎也否哟呐咯"


def endings(dialogue, hers, who, character) -> list[Point]:
    """Sentence-final particles (and the word before them) she uses more than others."""
    mine: Counter[str] = Counter()
    rest: Counter[str] = Counter()
    her_set = set(hers)
    for i, u in enumerate(dialogue):
        for sentence in re.split(f"[{_END_PUNCT}]+", u.text):
            tail = "".join(_CJK_RUN.findall(sentence))[-2:]
            if len(tail) == 2 and tail[-1] in PARTICLES_ZH:
                (mine if i in her_set else rest).update([tail, tail[-1]])
    return [Point(f"「…{word}」", mine[word]) for word, z in _log_odds(mine, rest, 3)[:5] if z >= 2]


def length(dialogue, hers, zh: bool) -> list[Point]:
    def size(text: str) -> int:
        return len(_CJK.findall(text)) + len(_WORD.findall(text)) if zh else len(text.split())

    her = [size(dialogue[i].text) for i in hers]
    others = [size(u.text) for i, u in enumerate(dialogue) if i not in set(hers)] or [0]
    unit = "characters" if zh else "words"
    return [
        Point(
            f"median {round(statistics.median(her))} {unit} a line "
            f"(others {round(statistics.median(others))})",
            len(her),
        )
    ]


def _fact_zh(sentence: str, name: str) -> bool:
    """Whether a sentence states a fact of her: her family or rank in the clause that names her or
    the next (甄远道长女甄嬛，着封为常在; 是甄远道的女儿叫甄嬛), or a copula right after her name
    (黛玉乃…, 黛玉本是…); never what she thinks or notices (黛玉想道：…, 黛玉便知…)."""
    at = sentence.index(name)
    rest = sentence[at + len(name) :]
    if re.match(r"[便又也就忙只]?[想道知见听笑说问看]", rest):
        return False
    clauses = re.split(r"[，,；;：:]", sentence)
    where = next(i for i, c in enumerate(clauses) if name in c)
    near = "".join(clauses[where : where + 2])
    if any(cue in near for cue in _FAMILY_ZH):
        return True
    for cue in _COPULA_ZH:
        found = rest.find(cue)
        if 0 <= found <= 2 and all(c in _FACT_GAP_ZH for c in rest[:found]):
            return True
    return False


def _fact_en(sentence: str, name: str) -> bool:
    """Whether a (lower-cased) sentence states a fact of her right after her name."""
    rest = sentence[sentence.index(name) + len(name) :]
    return any(
        c in rest[: 6 + len(c)] or (c.startswith("'") and rest.startswith(c)) for c in _FACT_EN
    )


def facts(utterances, who, character, names, zh: bool) -> list[Point]:
    seen: set[str] = set()
    points = []
    # English: clauses (a sentence of Austen's runs on past its fact: "…; and Elizabeth was the
    # happy woman by whom he finally seated himself")
    splitter = re.compile(r"(?<=[。！？!?；;])" if zh else r"(?<=[.!?;:])\s+|,\s+(?:and|but)\s+")
    for u in utterances:
        if who(u) == character or u.kind not in ("dialogue", "narration"):
            continue
        for sentence in splitter.split(u.text):
            sentence = sentence.strip().rstrip(";；:,，")
            if not zh:
                sentence = re.sub(r"^(?:and|but)\s+", "", sentence).rstrip(".")
            if not (4 <= len(sentence) <= (60 if zh else 200)):
                continue
            folded = sentence if zh else sentence.lower()
            name = next((n for n in names if n and (n if zh else n.lower()) in folded), None)
            if name is None:
                continue
            if not (_fact_zh(sentence, name) if zh else _fact_en(folded, name.lower())):
                continue
            key = re.sub(r"\W", "", sentence)
            if key in seen:
                continue
            seen.add(key)
            points.append(Point(sentence, 0, [_where(u)]))
            if len(points) >= 8:
                return points
    return points
