"""Identity samples: first person, varied, derived from the persona card's facts."""

from __future__ import annotations

import re

from studio.dataset.card_person import split_sentences
from studio.dataset.identity import identity_answers, identity_samples
from studio.eval.evaluate import PROBES_ZH

JULIET = (
    "You are Juliet Capulet of Verona, thirteen years old, "
    "the only daughter of Lord and Lady Capulet. "
    "You love Romeo Montague, the son of your family's sworn enemy, and you secretly married him. "
    "Your Nurse raised you and keeps your secrets. You speak in quick, poetic English. "
    "Stay in character and never say you are an AI."
)
# A made-up card in the style of a palace drama.
WANWAN = (
    "你是莞莞，原名莞玉，礼部侍郎之女，母亲是林氏。你初封常在，后晋贵人。"
    "你的侍女是小桃，你与好友一同入宫。你说话温婉含蓄。请始终用莞莞的口吻回答。"
)


def test_english_answers_are_first_person_and_drawn_from_the_card():
    answers = identity_answers("JULIET", JULIET)
    assert answers["name"] == "My name is Juliet Capulet."
    assert answers["who"].startswith("I am Juliet Capulet of Verona")
    assert answers["family"] == "I am the only daughter of Lord and Lady Capulet."
    assert (
        "I love Romeo Montague" in answers["relation"]
        and "My Nurse raised me" in answers["relation"]
    )
    assert answers["manner"] == "I speak in quick, poetic English."
    for answer in answers.values():
        assert not re.search(r"\byou(r)?\b", answer, flags=re.IGNORECASE), answer
        assert "Stay in character" not in answer and "AI" not in answer


def test_chinese_answers_are_first_person_with_subjects():
    answers = identity_answers("莞莞", WANWAN)
    assert answers["who"] == "我是莞莞，原名莞玉，礼部侍郎之女，母亲是林氏。"
    assert answers["name"] == "我叫莞莞，原名莞玉。"
    assert answers["family"] == "我是礼部侍郎之女，我的母亲是林氏。"
    assert answers["title"] == "我初封常在，后晋贵人。"
    assert answers["relation"] == "我的侍女是小桃，我与好友一同入宫。"
    assert answers["manner"] == "我说话温婉含蓄。"
    assert all("你" not in a and "请始终" not in a for a in answers.values())


def test_third_person_cards_are_turned_to_the_first_person():
    answers = identity_answers(
        "Elizabeth",
        "Elizabeth Bennet is the second daughter of Mr. Bennet of Longbourn. "
        "She is witty and lively. Her sister Jane is her closest friend.",
    )
    assert (
        answers["who"] == "I am Elizabeth Bennet, the second daughter of Mr. Bennet of Longbourn."
    )
    assert answers["name"] == "My name is Elizabeth Bennet."
    assert "My sister Jane is my closest friend." in answers["family"]
    assert answers["manner"] == "I am witty and lively."


def test_each_kind_of_fact_is_asked_several_ways_with_stable_ids():
    samples = identity_samples("莞莞", WANWAN)
    kinds = {s.provenance["question"] for s in samples}
    assert len(kinds) >= 5
    assert len({s.reply for s in samples}) == len(kinds)  # one answer a kind of fact
    assert len({s.prompt for s in samples}) == len(samples)  # each asked in its own words
    assert all(
        sum(s.provenance["question"] == kind for s in samples) >= 2 for kind in kinds
    )  # no phrasing stands alone, so the answer is tied to the question, not to its wording
    asked = {s.prompt for s in samples}
    assert not asked & set(PROBES_ZH[2:])  # the eval's unseen probes stay unseen
    assert all(s.provenance["kind"] == "identity" and s.system == WANWAN for s in samples)
    edited_card = identity_samples("莞莞", WANWAN.replace("林氏", "王氏"))
    assert [s.id for s in samples] == [
        s.id for s in edited_card
    ]  # a decision survives an edit of the card
    assert identity_samples("莞莞", "  ") == []


def test_a_bare_card_gives_only_what_it_says():
    samples = identity_samples(
        "Character", "You are Character. Stay in character and answer as Character would."
    )
    assert {s.reply for s in samples} == {"I am Character.", "My name is Character."}


def test_instruction_cards_never_leak_into_answers():
    placeholder = identity_samples(
        "林黛玉", "You are 林黛玉. Stay in character and answer as 林黛玉 would."
    )
    assert {(s.provenance["question"], s.reply) for s in placeholder} == {
        ("who", "我是林黛玉。"),
        ("name", "我叫林黛玉。"),
    }
    roleplay = identity_answers("甄嬛", "现在你要扮演皇帝身边的女人--甄嬛")
    assert roleplay["who"] == "我是甄嬛，皇帝身边的女人。" and roleplay["name"] == "我叫甄嬛。"
    zh_placeholder = identity_samples("林黛玉", "你是林黛玉。请始终保持角色，用林黛玉的口吻回答。")
    assert {s.reply for s in zh_placeholder} == {"我是林黛玉。", "我叫林黛玉。"}
    assert "intro" in identity_answers(
        "JULIET", JULIET
    )  # a card of facts still gets "tell me about yourself"
    english = identity_answers(
        "Alice", "Now you play the role of Alice, a curious girl. Always answer briefly."
    )
    assert english["who"] == "I am Alice, a curious girl."
    for answers in (
        roleplay,
        english,
        identity_answers("林黛玉", "You are 林黛玉. Stay in character."),
    ):
        for answer in answers.values():
            assert not re.search(r"扮演|Stay in character|You are|play the role|Always", answer), (
                answer
            )


def test_a_drafted_cards_evidence_and_manner_of_speech_are_no_answers():
    from studio.dataset.identity import identity_answers

    en = (
        "You are Elizabeth. Others say of you: “Elizabeth was the least dear to her of all her "
        "children”. You speak most with Jane, Darcy. You call Darcy “Mr. Darcy”. Words you use "
        "often: nor, both. You speak briefly, about 12 words a line. Stay in character."
    )
    said = " ".join(identity_answers("Elizabeth", en).values())
    assert "Others say" not in said and "Words" not in said and "briefly" not in said
    assert "I call" not in said and "I am Elizabeth." in said
    zh = (
        "你是甄嬛。旁人这样说起你：「甄嬛乃甄远道之女」。你称呼皇帝为「皇上」。"
        "你说话简短，一句话多在12字左右。"
    )
    said = "".join(identity_answers("甄嬛", zh).values())
    assert "旁人" not in said and "称呼" not in said and "简短" not in said and "我是甄嬛" in said


def test_a_drafted_cards_quotes_of_others_stay_out_of_answers_however_many():
    from studio.api import Utterance
    from studio.dataset.card import draft_card
    from studio.dataset.identity import identity_answers

    lines = [
        Utterance("Darcy", "Will you dance?", "dialogue", "1", "p.txt", 1),
        Utterance("Elizabeth", "I will not, Mr. Darcy.", "dialogue", "1", "p.txt", 2),
        Utterance("Darcy", "You are severe.", "dialogue", "1", "p.txt", 3),
        Utterance("Elizabeth", "Not at all, Mr. Darcy.", "dialogue", "1", "p.txt", 4),
        Utterance(
            None, "Elizabeth was the second of five daughters.", "narration", "1", "p.txt", 5
        ),
        Utterance(
            None, "Elizabeth was the least dear to her mother.", "narration", "1", "p.txt", 6
        ),
    ]
    card = draft_card(lines, "Elizabeth").card
    assert card.count("“Elizabeth was") == 2
    said = " ".join(identity_answers("Elizabeth", card).values())
    assert "Elizabeth was" not in said and "I am Elizabeth." in said


def test_a_drafted_card_keeps_quotes_in_their_sentence_and_out_of_answers():
    card = (
        "你是莞莞。旁人这样说起你：「礼部侍郎之女莞莞，着封为常在，钦此。」「莞莞即是莞莞。」"
        "你常与皇上、小桃说话。你称呼小桃为「妹妹」。你自称「我」「嫔妾」。"
        "请始终以莞莞的身份和口吻回答。"
    )
    sentences = split_sentences(card)
    assert (
        sentences[1] == "旁人这样说起你：「礼部侍郎之女莞莞，着封为常在，钦此。」「莞莞即是莞莞。」"
    )
    assert sentences[2] == "你常与皇上、小桃说话。"
    answers = identity_answers("莞莞", card)
    assert answers["who"] == "我是莞莞。"
    assert answers["relation"] == "我常与皇上、小桃说话。"  # whom she speaks with: not her manner
    assert "manner" not in answers
    assert not any(re.search("[「」]|钦此|嫔妾", a) for a in answers.values())
    # quotation marks that do not pair up: sentences end at every full stop, as before
    assert split_sentences("你是莞莞。旁人说：「她来了。你常与小桃说话。") == [
        "你是莞莞。",
        "旁人说：「她来了。",
        "你常与小桃说话。",
    ]
    english = identity_answers(
        "Elizabeth",
        "You are Elizabeth. Others say of you: “Elizabeth was the least dear to her. Indeed.”, "
        "“she is tolerable”. You speak most with Jane, Darcy. Stay in character.",
    )
    assert english["who"] == "I am Elizabeth."
    assert english["relation"] == "I speak most with Jane, Darcy."
    assert not any("least dear" in a for a in english.values())


def test_the_evals_unseen_identity_probes_are_never_trained_on():
    """Probes beyond the first two measure whether who she is carries over to a new phrasing."""
    from studio.dataset.identity import QUESTIONS_EN, QUESTIONS_ZH
    from studio.eval.evaluate import PROBES_EN, PROBES_ZH

    for probes, questions in ((PROBES_ZH, QUESTIONS_ZH), (PROBES_EN, QUESTIONS_EN)):
        trained = {q for asked in questions.values() for q in asked}
        assert set(probes[:2]) <= trained
        assert not set(probes[2:]) & trained


def test_a_drafted_cards_quotes_give_her_family_and_rank_in_her_own_words():
    """``card`` quotes what others say of her; who her father is and what she was made are
    answers to "your family?" and "your rank?", not lines to leave out."""
    card = (
        "你是阿蘅。旁人这样说起你：「奉旨：苏州织造林如海次女林阿蘅，着封为正七品答应，钦此。」"
        "「是林大人的女儿叫林阿蘅，贵妃娘娘很是喜欢。」「阿蘅即是阿蘅。」"
        "你常与贵妃、小桃说话。请始终以阿蘅的身份和口吻回答。"
    )
    answers = identity_answers("阿蘅", card)
    assert answers["family"] == "我是苏州织造林如海次女。"  # the first fact; the second is alike
    assert answers["title"] == "我被封为正七品答应。"
    assert answers["who_short"] == "我是阿蘅，苏州织造林如海次女。"
    assert "被封为正七品答应" in answers["intro"] and "钦此" not in answers["intro"]
    # a quote that names her without family or rank (娘娘 is no mother) gives nothing
    plain = "你是阿蘅。旁人这样说起你：「阿蘅见过贵妃娘娘。」请始终以阿蘅的身份和口吻回答。"
    assert "family" not in identity_answers("阿蘅", plain)
    assert "title" not in identity_answers("阿蘅", plain)
