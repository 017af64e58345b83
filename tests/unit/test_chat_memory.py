"""Memory: the character's train-split exchanges retrieved into the system prompt."""

from __future__ import annotations

from studio.api import Sample, Turn
from studio.chat.memory import HEADERS, Memory, language_of


def _sample(i, user, reply, split="train", kind="corpus"):
    return Sample(
        id=f"s{i}",
        character="甄嬛",
        system="你是甄嬛。",
        split=split,
        turns=[Turn("user", user), Turn("assistant", reply)],
        provenance={"kind": kind},
    )


SAMPLES = [
    _sample(1, "小主，御花园的梅花开了。", "倚梅园的梅花最好，我们去看看。"),
    _sample(2, "皇上驾到！", "臣妾恭迎皇上。"),
    _sample(3, "姐姐今日气色真好。", "妹妹说笑了。"),
    _sample(4, "梅花开得正好，小主要去看吗？", "不去了，外头冷。", split="eval"),
    _sample(5, "你是谁？", "我是甄嬛。", kind="identity"),
]


def test_the_most_similar_train_exchange_comes_first_in_the_documented_layout():
    recall = Memory(SAMPLES, k=2).recall("你是甄嬛。", "御花园的梅花开了吗？")
    assert recall.ids[0] == "s1"
    header, them = HEADERS["zh"]
    assert recall.system.startswith("你是甄嬛。\n\n" + header + "\n")
    exchange = f"{them}: 小主，御花园的梅花开了。\n甄嬛: 倚梅园的梅花最好，我们去看看。"
    assert exchange in recall.system


def test_eval_split_identity_and_augmented_samples_are_never_recalled():
    memory = Memory(SAMPLES + [_sample(6, "梅花", "梅花", kind="augment")], k=10)
    assert len(memory) == 3
    recall = memory.recall("你是甄嬛。", "梅花开得正好，小主要去看吗？你是谁？")
    assert "s4" not in recall.ids and "s5" not in recall.ids and "s6" not in recall.ids


def test_the_budget_bounds_what_is_added_and_k_zero_switches_memory_off():
    memory = Memory(SAMPLES, k=3, budget=30)
    recall = memory.recall("你是甄嬛。", "皇上驾到，梅花开了，姐姐")
    assert recall.tokens <= 30 + len(HEADERS["zh"][0]) and recall.ids
    assert Memory(SAMPLES, k=0).recall("你是甄嬛。", "皇上驾到").system == "你是甄嬛。"
    assert Memory(SAMPLES, k=3).recall("你是甄嬛。", "xyz").ids == []


def test_the_header_follows_the_language_of_the_card():
    assert language_of("You are Juliet.") == "en" and language_of("你是甄嬛。") == "zh"
    juliet = [
        Sample(
            id="j1",
            character="JULIET",
            system="You are Juliet.",
            split="train",
            turns=[
                Turn("user", "Juliet, art thou there?"),
                Turn("assistant", "Ay, my lord, I am here."),
            ],
        )
    ]
    recall = Memory(juliet, k=1).recall("You are Juliet.", "Are you there, Juliet?")
    assert HEADERS["en"][0] in recall.system and "JULIET: Ay, my lord" in recall.system
