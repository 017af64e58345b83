"""Names in two widths: both are one person.

The book prints 阿Ｑ (full-width Q), the user types 阿Q.
"""

from __future__ import annotations

from pathlib import Path

from studio.api import SourceText

STORY = """第一章 土谷祠

    那天下午，阿Ｑ又在酒店门口坐着。小D走过来，看了他一眼。
    阿Ｑ说：“你看什么？我先前比你阔多了！”
    小D笑道：“你阔？你连名字都没有。”
    阿Ｑ想：“儿子打老子，这世界真不像样。”
    “你们知道么？”阿Ｑ说，“城里的人都这样走路。”
    掌柜道：“阿Ｑ，先把酒钱还了。”
    阿Ｑ嚷道：“记在账上！”
"""


def _parse(host, text: str, **options):
    parser = host.parsers["prose"]
    resolved = {o.name: o.default for o in parser.options} | options
    return parser.parse(SourceText(Path("story.txt"), text, "utf-8"), resolved)


def _said(result, speaker: str) -> list[str]:
    return [u.text[:5] for u in result.utterances if u.kind == "dialogue" and u.speaker == speaker]


def test_the_users_half_width_spelling_names_the_speaker(host):
    result = _parse(host, STORY, names="阿Q")
    assert len(_said(result, "阿Ｑ")) == 5  # as the book spells it; the roster folds the widths


def test_the_roster_and_the_dataset_take_the_users_spelling(host):
    from studio.corpus.roster import alias_map, build_roster, canonical_speaker

    result = _parse(host, STORY, names="阿Q")
    roster = build_roster(result.utterances, {"阿Q": []})
    assert roster[0].name == "阿Q" and roster[0].lines == 5 and roster[0].aliases == {"阿Ｑ": 5}
    assert canonical_speaker("阿Ｑ", alias_map({"阿Q": []})) == "阿Q"
    assert canonical_speaker("阿Q", alias_map({"阿Ｑ": []})) == "阿Ｑ"
