"""Provides the roster: speakers with line counts after alias merging, and alias suggestions.

Aliases come from studio.toml (``[character] aliases`` and ``[roster] aliases``) and are merged
into one canonical name. Suggestions are only proposals for the user to confirm:

- ``contains``: a name inside a longer one, the rest a surname or a title (陵容 / 安陵容,
  Darcy / Mr. Darcy, 富察 / 富察贵人);
- ``rank``: one stem under different ranks or titles (华妃 / 华贵妃, 敬妃 / 敬嫔 / 敬贵妃);
- ``group``: a label made of two or more speakers' names (甄嬛眉庄: a line said together),
  better ignored than merged;
- ``narrator``: the first-person narrator 我 / I, to map to a character.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from studio.api import Utterance
from studio.api.text import has_cjk


@dataclass
class RosterEntry:
    """One character of the roster.

    Attributes:
        name: the canonical name.
        lines: dialogue lines, all aliases together.
        chars: characters of those lines.
        aliases: alias → lines counted under it (the canonical name included).
    """

    name: str
    lines: int
    chars: int
    aliases: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AliasSuggestion:
    """A proposal that ``alias`` is ``canonical`` (or, for ``group``, a label to ignore)."""

    alias: str
    canonical: str
    reason: str
    lines: int = 0

    def __iter__(self):  # (alias, canonical) unpacking, as the first roster API returned pairs
        return iter((self.alias, self.canonical))


def fold_width(name: str) -> str:
    """``name`` with full-width letters, digits and signs as ASCII (阿Ｑ → 阿Q)."""
    return "".join(chr(ord(ch) - 0xFEE0) if "！" <= ch <= "～" else ch for ch in name)


class AliasMap(dict):
    """``alias → canonical``; a name in the other width finds its entry (阿Q for 阿Ｑ)."""

    def get(self, key: object, default: object = None) -> object:
        if key in self:
            return self[key]
        if isinstance(key, str):
            folded = fold_width(key)
            if folded in self:
                return self[folded]
        return default


def alias_map(aliases: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Turn ``canonical → [aliases]`` into ``alias → canonical`` (the canonical maps to itself).

    Names are matched regardless of character width: a speaker the book prints 阿Ｑ is the
    character studio.toml names 阿Q.
    """
    out = AliasMap()
    for canonical, others in aliases.items():
        for name in (canonical, *others):
            out[name] = canonical
            out.setdefault(fold_width(name), canonical)
    return out


def canonical_speaker(speaker: str | None, mapping: Mapping[str, str]) -> str | None:
    """The canonical name of ``speaker`` (itself when it has no alias entry)."""
    if speaker is None:
        return None
    return mapping.get(speaker, speaker)


def build_roster(
    utterances: Iterable[Utterance],
    aliases: Mapping[str, Sequence[str]] | None = None,
    ignore: Iterable[str] = (),
) -> list[RosterEntry]:
    """Speakers with dialogue line counts after alias merging, most lines first."""
    mapping = alias_map(aliases or {})
    ignored = set(ignore)
    lines: Counter[str] = Counter()
    chars: Counter[str] = Counter()
    by_alias: dict[str, Counter[str]] = {}
    for utt in utterances:
        if utt.kind != "dialogue" or not utt.speaker or utt.speaker in ignored:
            continue
        name = mapping.get(utt.speaker, utt.speaker)
        lines[name] += 1
        chars[name] += len(utt.text)
        by_alias.setdefault(name, Counter())[utt.speaker] += 1
    return [
        RosterEntry(name, count, chars[name], dict(by_alias[name].most_common()))
        for name, count in sorted(lines.items(), key=lambda item: (-item[1], item[0]))
    ]


def unassigned_lines(utterances: Iterable[Utterance]) -> int:
    """Dialogue lines whose speaker the source does not give (for the user to assign)."""
    return sum(1 for utt in utterances if utt.kind == "dialogue" and not utt.speaker)


_CN_TITLES = (
    "皇贵妃",
    "贵妃",
    "太妃",
    "妃",
    "贵嫔",
    "嫔",
    "贵人",
    "常在",
    "答应",
    "娘娘",
    "小主",
    "昭仪",
    "婕妤",
    "容华",
    "夫人",
    "福晋",
    "格格",
    "公主",
    "帝姬",
    "姑娘",
    "小姐",
    "姐姐",
    "妹妹",
    "公公",
    "大人",
    "太医",
    "王爷",
    "郡王",
    "亲王",
    "贝勒",
    "阿哥",
    "皇后",
    "氏",
)
_EN_TITLES = (
    "Mr.",
    "Mrs.",
    "Miss",
    "Ms.",
    "Dr.",
    "Lady",
    "Lord",
    "Sir",
    "Colonel",
    "Captain",
    "King",
    "Queen",
    "Prince",
    "Princess",
    "Duke",
    "Duchess",
    "Friar",
    "Father",
    "Mother",
    "Aunt",
    "Uncle",
    "Mr",
    "Mrs",
)
_ROLE_MARKS = set("甲乙丙丁戊己庚辛壬癸一二三四五六七八九十0123456789")
_GROUP_MARKS = ("众", "群", "们", "等")
_ROLES = {
    "太监",
    "宫女",
    "嬷嬷",
    "侍卫",
    "太医",
    "丫鬟",
    "丫头",
    "小厮",
    "官员",
    "大臣",
    "侍女",
    "内监",
    "奴才",
    "奴婢",
    "宫人",
    "婢女",
    "侍从",
    "将军",
    "士兵",
    "大夫",
    "郎中",
    "和尚",
    "尼姑",
    "道士",
    "掌柜",
    "伙计",
}


_FEMALE_RANKS = {
    "皇贵妃",
    "贵妃",
    "太妃",
    "妃",
    "贵嫔",
    "嫔",
    "贵人",
    "常在",
    "答应",
    "娘娘",
    "小主",
    "昭仪",
    "婕妤",
    "容华",
    "夫人",
    "福晋",
    "格格",
    "公主",
    "帝姬",
    "姑娘",
    "小姐",
    "姐姐",
    "妹妹",
    "皇后",
    "氏",
}


def _rank(name: str) -> tuple[str, str] | None:
    """``(stem, gender group)`` of a Chinese name ending in a rank title (华贵妃 → 华, f)."""
    for title in _CN_TITLES:
        if name.endswith(title) and len(name) > len(title):
            stem = name[: -len(title)]
            if stem.startswith(_GROUP_MARKS) or stem in _GROUP_MARKS:
                return None
            return stem, "f" if title in _FEMALE_RANKS else "m"
    return None


def _stem(name: str) -> str:
    if has_cjk(name):
        ranked = _rank(name)
        return f"{ranked[0]}|{ranked[1]}" if ranked else name
    words = name.split()
    return " ".join(words[1:]) if len(words) > 1 and words[0] in _EN_TITLES else name


def _contains_reason(short: str, long: str) -> str | None:
    """Why ``long`` may be ``short`` with a surname or title; None when it is another person."""
    if has_cjk(short):
        if long.startswith(_GROUP_MARKS) or long.endswith(_GROUP_MARKS):
            return None  # 众太监 is many people
        if short in _CN_TITLES or short in _ROLES:
            return None  # 太医 / 许太医: a role, not a person
        if _rank(short) is not None and long.startswith(short):
            return None  # 敦亲王 / 敦亲王福晋: his wife
        if long.endswith(short) and len(long) - len(short) == 1 and long[0] not in _ROLE_MARKS:
            return "contains"  # 安陵容: surname + given name
        rest = long.replace(short, "", 1)
        if rest and all(ch in _ROLE_MARKS for ch in rest):
            return None  # 太监甲 is one of several eunuchs
        if long.startswith(short) and rest in _CN_TITLES:
            return "contains"  # 富察贵人
        return None
    words_short, words_long = short.split(), long.split()
    if len(words_long) <= len(words_short):
        return None
    if words_long[-len(words_short) :] == words_short and words_long[0] in _EN_TITLES:
        return "contains"  # Darcy / Mr. Darcy
    if words_long[: len(words_short)] == words_short:
        return "contains"  # Elizabeth / Elizabeth Bennet
    return None


def _enough_evidence(short: str, long: str, counts: Mapping[str, int]) -> bool:
    """A surname form (甄宝玉) said far less often than the bare name (宝玉) may be somebody else
    of that name; a title form (Mr. Darcy) is the same person when it is the only one."""
    if not has_cjk(short) or not long.endswith(short) or len(long) - len(short) != 1:
        return True
    return counts[long] >= 0.05 * counts[short]


def alias_suggestions(roster: Sequence[RosterEntry], limit: int = 30) -> list[AliasSuggestion]:
    """Suggestions for the user to confirm, the most frequent names first."""
    counts = {entry.name: entry.lines for entry in roster}
    names = list(counts)
    out: dict[tuple[str, str], AliasSuggestion] = {}

    def add(a: str, b: str, reason: str) -> None:
        alias, canonical = (
            (a, b) if counts[a] < counts[b] or (counts[a] == counts[b] and a > b) else (b, a)
        )
        key = (alias, canonical)
        if key not in out and (canonical, alias) not in out:
            out[key] = AliasSuggestion(alias, canonical, reason, counts[alias] + counts[canonical])

    for short in names:
        if len(short) < 2 and has_cjk(short):
            continue
        longer = [
            long
            for long in names
            if long != short and short in long and _contains_reason(short, long)
        ]
        if len(longer) == 1 and _enough_evidence(short, longer[0], counts):
            add(short, longer[0], "contains")  # Bingley in Mr. Bingley and Miss Bingley: which one?
    stems: dict[str, list[str]] = {}
    for name in names:
        stem = _stem(name)
        # only Chinese names that carry a rank group together: Mr. / Mrs. / Miss Bennet are three
        if stem != name and has_cjk(name):
            stems.setdefault(stem, []).append(name)
    for stem, group in stems.items():
        if len(stem) < 1 or len(group) < 2:
            continue
        base = max(group, key=lambda n: counts[n])
        for other in group:
            if other != base:
                add(other, base, "rank")
    for name, parts in group_labels(counts).items():
        out[(name, "+".join(parts))] = AliasSuggestion(name, "+".join(parts), "group", counts[name])
    for first_person in ("我", "I"):
        if first_person in counts:
            out[(first_person, "")] = AliasSuggestion(
                first_person, "", "narrator", counts[first_person]
            )
    ranked = sorted(out.values(), key=lambda s: (-s.lines, s.alias))
    return ranked[:limit]


def group_labels(counts: Mapping[str, int]) -> dict[str, list[str]]:
    """Chinese labels of lines said together and the speakers each joins (甄嬛眉庄 → 甄嬛, 眉庄).

    Only names of 2–3 characters with 3 lines or more of their own take part: a label of 4 or
    more characters that is nothing but such names one after another is lines said together.
    """
    names = [n for n, c in counts.items() if has_cjk(n) and 2 <= len(n) <= 3 and c >= 3]
    out = {}
    for label in counts:
        if has_cjk(label) and len(label) >= 4:
            parts = _compose(label, names)
            if parts and len(parts) >= 2:
                out[label] = parts
    return out


def _compose(label: str, names: list[str]) -> list[str] | None:
    """Split ``label`` into known names (甄嬛眉庄 → 甄嬛, 眉庄), allowing 、 and 和 between them."""
    text = label.replace("、", "").replace("和", "").replace("与", "")
    for name in sorted(names, key=len, reverse=True):
        if text.startswith(name):
            rest = text[len(name) :]
            if not rest:
                return [name]
            tail = _compose(rest, names)
            if tail:
                return [name, *tail]
    return None


def suggest_aliases(roster: Sequence[RosterEntry], limit: int = 30) -> list[tuple[str, str]]:
    """``(alias, canonical)`` pairs of the ``contains`` and ``rank`` suggestions."""
    return [
        (s.alias, s.canonical)
        for s in alias_suggestions(roster, limit * 2)
        if s.reason in ("contains", "rank")
    ][:limit]
