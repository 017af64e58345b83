"""The persona card drafted from the corpus: each point backed by the lines it came from."""

from __future__ import annotations

import re

import pytest

from studio.api import Utterance
from studio.dataset.card import draft_card


def _u(speaker, text, line, scene="1", kind="dialogue"):
    return Utterance(speaker, text, kind, scene, "play.txt", line)


ZH = [
    _u(None, "甄嬛乃大理寺少卿甄远道之女，入宫封为常在。", 1, kind="narration"),
    _u("皇帝", "你叫什么名字？", 2),
    _u("甄嬛", "皇上，臣妾甄嬛。", 3),
    _u("皇帝", "起来罢。", 4),
    _u("甄嬛", "皇上，臣妾谢皇上恩典呢。", 5),
    _u("眉庄", "嬛儿，你可还好？", 6, scene="2"),
    _u("甄嬛", "姐姐，臣妾一切都好呢。", 7, scene="2"),
    _u("眉庄", "那就好。", 8, scene="2"),
    _u("甄嬛", "姐姐，我们去御花园走走呢。", 9, scene="2"),
    _u("皇帝", "甄嬛是朕最爱的人。", 10, scene="3"),
    _u("甄嬛", "皇上说笑了，臣妾不敢当呢。", 11, scene="3"),
    _u("皇后", "本宫乏了。", 12, scene="3"),
]


def test_a_chinese_draft_names_partners_address_self_reference_and_facts_with_sources():
    draft = draft_card(ZH, "甄嬛")
    assert draft.language == "zh" and draft.lines == 5
    partners = [p.text for p in draft.sections["partners"]]
    assert partners[0] == "皇帝" and "眉庄" in partners
    address = {p.text: p for p in draft.sections["address"]}
    assert "「皇上」 → 皇帝" in address and address["「皇上」 → 皇帝"].count == 2
    assert "play.txt:3" in address["「皇上」 → 皇帝"].sources
    assert any(p.text.startswith("「臣妾」") for p in draft.sections["self"])
    facts = [p.text for p in draft.sections["facts"]]
    assert any("甄远道之女" in f for f in facts) and any("朕最爱" in f for f in facts)
    assert draft.card.startswith("你是甄嬛。") and "臣妾" in draft.card
    assert "你称呼皇帝为「皇上」、眉庄为「姐姐」。" in draft.card
    assert "请始终以甄嬛的身份" in draft.card


def test_an_english_draft_is_in_english_and_ignores_interjections_as_address():
    lines = [
        _u("ROMEO", "Juliet, art thou there?", 1),
        _u("JULIET", "Ay, Romeo, I am here.", 2),
        _u("NURSE", "Madam! Your mother calls.", 3),
        _u("JULIET", "Nurse, I come anon.", 4),
        _u("NURSE", "Juliet is the fairest maid in Verona.", 5),
        _u("JULIET", "Well, Nurse, bid my mother wait.", 6),
        _u("ROMEO", "Sweet Juliet, good night.", 7),
        _u("JULIET", "Good night, Romeo.", 8),
    ]
    draft = draft_card(lines, "JULIET")
    assert draft.language == "en" and draft.card.startswith("You are JULIET.")
    address = [p.text for p in draft.sections["address"]]
    assert any(a.startswith("“Nurse”") for a in address)
    assert not any(a.startswith(("“Ay”", "“Well”")) for a in address)
    assert any("fairest maid" in p.text for p in draft.sections["facts"])
    assert "Others say of you" in draft.card and "Stay in character" in draft.card
    assert "“Nurse”" not in draft.card  # the Nurse called Nurse tells the model nothing


def test_aliases_count_as_her_and_a_character_without_lines_is_an_error():
    lines = [_u("皇帝", "嬛嬛，过来。", 1), _u("莞嫔", "皇上，臣妾来了呢。", 2)]
    assert draft_card(lines, "甄嬛", {"莞嫔": "甄嬛"}).lines == 1
    with pytest.raises(ValueError, match="no lines"):
        draft_card(lines, "华妃")


def test_the_card_command_writes_the_draft_and_apply_makes_it_the_persona(
    shipped_workspace, capsys
):
    from studio.cli import main
    from studio.workspace import Workspace

    assert main(["card", str(shipped_workspace), "--card-only"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("You are JULIET.")
    draft = (shipped_workspace / "card-draft.md").read_text(encoding="utf-8")
    assert "## Speaks with most" in draft and "romeo-and-juliet.txt:" in draft
    before = Workspace(shipped_workspace).config.character.persona
    assert main(["card", str(shipped_workspace), "--apply"]) == 0
    after = Workspace(shipped_workspace).config.character.persona
    assert after != before and after.startswith("You are JULIET.")
    assert "# persona-studio workspace" in (shipped_workspace / "studio.toml").read_text()
    assert main(["card", str(shipped_workspace), "--character", "NOBODY"]) == 2


def test_english_titled_address_is_one_form_and_facts_need_a_copula_phrase():
    lines = [
        _u("Darcy", "Will you dance, Miss Bennet?", 1),
        _u("Elizabeth", "Indeed, Mr. Darcy, I will not.", 2),
        _u("Darcy", "You are severe on us.", 3),
        _u("Elizabeth", "Mr. Darcy, you are too kind.", 4),
        _u(None, "Elizabeth was far from suspecting anything.", 5, kind="narration"),
        _u(None, "Elizabeth was the second daughter of the house.", 6, kind="narration"),
    ]
    draft = draft_card(lines, "Elizabeth")
    address = [p.text for p in draft.sections["address"]]
    assert "“Mr. Darcy” → Darcy" in address
    assert not any(a.startswith("“Mr”") for a in address)
    facts = [p.text for p in draft.sections["facts"]]
    assert any("second daughter" in f for f in facts)
    assert not any("far from suspecting" in f for f in facts)
    assert "You call Darcy “Mr. Darcy”." in draft.card


def test_an_english_fact_is_the_clause_that_states_it():
    lines = [
        _u("Darcy", "Will you dance?", 1),
        _u("Elizabeth", "I will not, Mr. Darcy.", 2),
        _u("Darcy", "You are severe.", 3),
        _u("Elizabeth", "Not at all, Mr. Darcy.", 4),
        _u(
            None,
            "Wickham was the happy man of the evening; and Elizabeth was the happy woman by "
            "whom he sat.",
            5,
            kind="narration",
        ),
    ]
    draft = draft_card(lines, "Elizabeth")
    assert "Others say of you: “Elizabeth was the happy woman by whom he sat”." in draft.card


def test_chinese_facts_are_her_family_or_rank_not_what_she_thinks_and_one_form_a_person():
    lines = [
        _u(None, "黛玉想道：这必是外祖之长房了。", 1, kind="narration"),
        _u(None, "黛玉便知这方是正经正内室。", 2, kind="narration"),
        _u(None, "此时黛玉只是禁不住把脸红涨了。", 3, kind="narration"),
        _u("贾母", "这是巡盐御史林如海之女黛玉，你们都来见过。", 4),
        _u("宝玉", "好妹妹，你往那里去？", 5),
        _u("黛玉", "好哥哥，你又来了。", 6),
        _u("宝玉", "妹妹别恼。", 7),
        _u("黛玉", "二哥哥，我不恼你呢。", 8),
        _u("宝玉", "那就好。", 9),
        _u("黛玉", "二哥哥，你且去罢。", 10),
        _u("紫鹃", "姑娘，药好了。", 11),
        _u("黛玉", "知道了，放着罢。", 12),
        _u("宝玉", "妹妹，我去了。", 13),
        _u("黛玉", "好哥哥，你别走。", 14),
        _u("宝玉", "妹妹，我不走。", 15),
        _u("黛玉", "二哥哥，你坐罢。", 16),
    ]
    draft = draft_card(lines, "黛玉")
    facts = [p.text for p in draft.sections["facts"]]
    assert facts == ["这是巡盐御史林如海之女黛玉，你们都来见过。"]
    called = [p.text.partition(" → ")[2] for p in draft.sections["address"]]
    assert called.count("宝玉") == 2  # 二哥哥 twice, 好哥哥 once: both are evidence…
    assert "宝玉为「二哥哥」" in draft.card and "好哥哥" not in draft.card  # …the card keeps one
    assert re.search(r"一句话多在\d+字左右", draft.card)  # a whole number, not a median's .5


def test_english_words_of_her_own_are_open_class_words():
    lines = []
    for i in range(30):
        lines.append(_u("JANE", f"Will you walk with me, Lizzy? It is day {i}.", 2 * i + 1))
        lines.append(
            _u(
                "LIZZY",
                "Neither of us, nor both, shall walk; my inclination is to read.",
                2 * i + 2,
            )
        )
    draft = draft_card(lines, "LIZZY")
    words = [p.text.split(" ", 1)[0].strip("“”") for p in draft.sections["words"]]
    assert "inclination" in words
    assert not {"neither", "nor", "both", "shall"} & set(words)
