"""Provides the book-wide cast steps of the prose parser that both languages share.

- ``same_people``: short and long forms of one name merged, with the evidence for each merge
  (``Darcy`` = ``Mr. Darcy`` when no other titled Darcy speaks; ``东造`` = ``申东造`` when one
  surname form exists and is used often enough not to be a namesake such as 甄宝玉 of 宝玉);
- ``spellings``: the Traditional spelling of each name found in the Simplified view of the text;
- ``front_matter``: the preface or table of contents before the first chapter heading.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from studio_prose import cast_zh, quotes

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
    "Mr",
    "Mrs",
    "Aunt",
    "Uncle",
    "Madame",
    "Mme",
    "Professor",
)


def same_people(
    names: set[str],
    text: str,
    lang: str,
    title: Callable[[str], str | None],
    genders: Mapping[str, str],
) -> dict[str, tuple[str, str]]:
    """``alias → (canonical, evidence)`` for names that are one person; the canonical is the form
    the text uses most. Titles and roles (老爷, 姑娘) are left to :func:`cast_zh.roles`; a titled
    form merges only with an untitled name of the same sex (Miss Bingley is not Bingley)."""
    out: dict[str, tuple[str, str]] = {}
    counts = {name: len(re.findall(re.escape(name), text)) for name in names}
    for short in names:
        if lang == "zh":
            if (
                title(short)
                or cast_zh.common_noun(short)
                or cast_zh.group(short)
                or short in cast_zh.ROLE_WORDS
            ):
                continue
            longer = [
                n
                for n in names
                if len(n) == len(short) + 1 and n.endswith(short) and len(short) >= 2
            ]
            if len(longer) != 1 or counts[longer[0]] < 0.05 * counts[short]:
                continue  # 甄宝玉 beside 宝玉: a namesake said rarely, not 宝玉's surname form
            evidence = (
                f"{longer[0]} is the only surname form of {short} "
                f"({counts[longer[0]]}× to {counts[short]}×)"
            )
        else:
            words = short.split()
            longer = [
                n
                for n in names
                if n != short
                and (
                    _titled(n)
                    and n.split()[1:] == words
                    or n.split()[: len(words)] == words
                    and not _titled(short)
                )
            ]
            if _titled(short):
                continue
            sex = genders.get(short)
            # Bingley, of whom the text says "he", beside Mr. Bingley and Miss Bingley: Mr.
            fitting = [n for n in longer if title(n) in (None, sex)] if sex else longer
            if len(fitting) != 1:
                continue
            if (found := title(fitting[0])) is not None and found != sex:
                continue  # Miss Bingley and Bingley, of whom the text says "he"
            others = len(longer) - 1
            evidence = f"{fitting[0]} is the only longer form of {short}" + (
                f" of {'his' if sex == 'm' else 'her'} sex ({others} other)" if others else ""
            )
            longer = fitting
        pair = sorted((short, longer[0]), key=lambda n: (-counts[n], n))
        out[pair[1]] = (pair[0], evidence)
    return {alias: target for alias, target in out.items() if target[0] not in out}


def _titled(name: str) -> bool:
    return name.split()[0] in _EN_TITLES if " " in name else False


def spellings(original: str, view: str, pattern: re.Pattern[str]) -> dict[str, str]:
    """For each name found in the Simplified ``view``, its commonest spelling in ``original``."""
    counts: dict[str, dict[str, int]] = {}
    for match in pattern.finditer(view):
        word = match.group()
        spelt = original[match.start() : match.end()]
        if spelt != word:
            forms = counts.setdefault(word, {})
            forms[spelt] = forms.get(spelt, 0) + 1
    return {word: max(forms, key=forms.__getitem__) for word, forms in counts.items()}


def front_matter(paragraphs: list[tuple[str, quotes.Paragraph]]) -> int:
    """How many paragraphs come before the first chapter heading of a book of chapters, when they
    are a small part of it (a preface, a table of contents); 0 otherwise (a book that starts with
    untitled stories keeps them)."""
    chapters = [i for i, (kind, _) in enumerate(paragraphs) if kind == "chapter"]
    if len(chapters) < 3:
        return 0
    first = chapters[0]
    total = sum(len(p.text) for _, p in paragraphs)
    before = sum(len(p.text) for _, p in paragraphs[:first])
    return first if before <= 0.08 * total else 0
