"""The roster: alias merging, ignored labels, unassigned lines and alias suggestions."""

from __future__ import annotations

from studio.api import Utterance
from studio.corpus.roster import alias_suggestions, build_roster, unassigned_lines


def _lines(*pairs: tuple[str | None, int]) -> list[Utterance]:
    out = []
    for speaker, count in pairs:
        out += [Utterance(speaker, f"第{i}句话。", "dialogue") for i in range(count)]
    return out


def test_aliases_merge_into_the_canonical_name_and_ignored_labels_drop():
    utts = _lines(("孙悟空", 5), ("悟空", 3), ("美猴王", 2), ("众人", 4), ("唐僧", 6), (None, 2))
    utts.append(Utterance("孙悟空", "（跳起）", "action"))
    roster = build_roster(utts, {"孙悟空": ["悟空", "美猴王", "齐天大圣"]}, ignore=["众人"])
    assert [(e.name, e.lines) for e in roster] == [("孙悟空", 10), ("唐僧", 6)]
    assert roster[0].aliases == {"孙悟空": 5, "悟空": 3, "美猴王": 2}
    assert unassigned_lines(utts) == 2


def _suggest(*pairs):
    return {
        (s.alias, s.canonical, s.reason) for s in alias_suggestions(build_roster(_lines(*pairs)))
    }


def test_suggests_names_inside_longer_names_and_ranks():
    found = _suggest(
        ("陵容", 40),
        ("安陵容", 5),
        ("华妃", 30),
        ("华贵妃", 6),
        ("敬妃", 9),
        ("敬嫔", 3),
        ("Darcy", 12),
        ("Mr. Darcy", 4),
    )
    assert ("安陵容", "陵容", "contains") in found
    assert ("华贵妃", "华妃", "rank") in found
    assert ("敬嫔", "敬妃", "rank") in found
    assert ("Mr. Darcy", "Darcy", "contains") in found


def test_does_not_suggest_different_people():
    found = _suggest(
        ("太监", 20),
        ("太监甲", 5),
        ("众太监", 4),
        ("敦亲王", 6),
        ("敦亲王福晋", 3),
        ("太医", 4),
        ("许太医", 5),
        ("CAPULET", 9),
        ("LADY CAPULET", 7),
    )
    pairs = {(a, c) for a, c, _ in found}
    assert not pairs & {
        ("太监甲", "太监"),
        ("众太监", "太监"),
        ("敦亲王福晋", "敦亲王"),
        ("太医", "许太医"),
        ("LADY CAPULET", "CAPULET"),
        ("CAPULET", "LADY CAPULET"),
    }


def test_group_labels_and_the_narrator_are_flagged():
    found = _suggest(("甄嬛", 30), ("眉庄", 20), ("甄嬛眉庄", 3), ("我", 50))
    assert ("甄嬛眉庄", "甄嬛+眉庄", "group") in found
    assert ("我", "", "narrator") in found


def test_titled_people_are_not_merged_on_string_containment():
    found = _suggest(
        ("Mr. Bennet", 40),
        ("Mrs. Bennet", 60),
        ("Miss Bennet", 5),
        ("Bingley", 20),
        ("Mr. Bingley", 8),
        ("Miss Bingley", 9),
        ("宝玉", 900),
        ("甄宝玉", 6),
    )
    pairs = {(alias, canonical) for alias, canonical, _ in found}
    assert not pairs & {
        ("Mr. Bennet", "Mrs. Bennet"),
        ("Miss Bennet", "Mrs. Bennet"),
        ("Bingley", "Miss Bingley"),
        ("Miss Bingley", "Bingley"),
        ("Mr. Bingley", "Bingley"),
        ("甄宝玉", "宝玉"),
    }
