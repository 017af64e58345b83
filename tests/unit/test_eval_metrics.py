"""Eval building blocks: chrF, ROUGE-L, the name check, the style classifier, the verdict and the table."""

from __future__ import annotations

import math
import random

import pytest

from studio.eval.metrics import chrf, chrf_stats, corpus_chrf, names_character, rouge_l
from studio.eval.report import format_report, verdict
from studio.eval.style import StyleClassifier, features


def test_chrf_known_values():
    assert chrf("我是阿蘅", "我是阿蘅") == 100.0
    assert chrf("", "我是阿蘅") == 0.0 and chrf("完全无关", "我是阿蘅") == 0.0
    assert chrf("the cat", "thecat") == 100.0  # whitespace is ignored
    # "abcd" vs "abce": orders 1-4 match 3/4, 2/3, 1/2, 0/1 -> P = R = (0.75+0.667+0.5+0)/4
    expected = 100 * (0.75 + 2 / 3 + 0.5 + 0) / 4
    assert chrf("abcd", "abce") == pytest.approx(expected)
    # recall weighs more than precision (beta = 2): a hypothesis that covers the reference wins
    assert chrf("臣妾做不到啊真的", "臣妾做不到") > chrf("臣妾", "臣妾做不到")


def test_corpus_chrf_sums_statistics_before_scoring():
    hyps, refs = ["abcdefgh", "xy"], ["abcdefgh", "xz"]
    total = chrf_stats(hyps[0], refs[0])
    total.add(chrf_stats(hyps[1], refs[1]))
    assert corpus_chrf(hyps, refs) == pytest.approx(total.score())
    # a long matching pair weighs more than a short wrong one: not the mean of sentence scores
    assert corpus_chrf(hyps, refs) > (chrf(hyps[0], refs[0]) + chrf(hyps[1], refs[1])) / 2 + 10


def test_rouge_l_counts_characters_for_chinese_and_words_otherwise():
    assert rouge_l("我是阿蘅", "阿蘅是我") == pytest.approx(100 * 2 * 0.5 * 0.5 / 1.0)  # LCS 2 of 4
    assert rouge_l("the cat sat on the mat", "the cat sat") == pytest.approx(
        100 * 2 * 0.5 * 1.0 / 1.5
    )
    assert rouge_l("", "x") == 0.0


def test_names_character():
    assert names_character("我就是阿蘅呀。", ["阿蘅"])
    assert names_character("I am Juliet.", ["JULIET"])
    assert not names_character("Julietta is here.", ["Juliet"])
    assert not names_character("我是掌柜。", ["阿蘅", "蘅丫头"])


def _style_lines(seed: int, count: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    hers = ["罢了", "本宫", "倒也", "只是", "何必", "原是"]
    theirs = ["嗯嗯", "好的", "没问题", "哈哈", "随便", "行吧"]
    common = ["今天", "天气", "茶", "集市", "雨", "船", "账本", "灯笼"]
    char = ["".join(rng.choice(common) for _ in range(3)) + rng.choice(hers) for _ in range(count)]
    other = [
        "".join(rng.choice(common) for _ in range(3)) + rng.choice(theirs) for _ in range(count * 2)
    ]
    return char, other


def test_style_classifier_learns_a_speakers_habits_and_generalises():
    char, other = _style_lines(0, 60)
    classifier = StyleClassifier.fit(char, other)
    test_char, test_other = _style_lines(1, 30)
    assert classifier.balanced_accuracy(test_char, test_other) > 0.9
    assert classifier.auc(test_char, test_other) > 0.95
    scores = classifier.score(["雨天何必出门罢了", "雨天出门好的", ""])
    assert scores[0] > 0.5 > scores[1] and scores[2] == 0.0
    assert classifier.counts == {"character": 60, "other": 120}
    # features are length-normalised: a line repeated scores the same
    a, b = features("何必"), features("何必何必何必何必")
    assert math.isclose(sum(v * v for v in a.values()), 1.0) and math.isclose(
        sum(v * v for v in b.values()), 1.0
    )
    with pytest.raises(ValueError, match="needs lines"):
        StyleClassifier.fit([], other)


def _report(base: dict, adapter: dict) -> dict:
    defaults = {
        "loss": 3.0,
        "ppl": 20.0,
        "chrf": 10.0,
        "rouge_l": 10.0,
        "style": 0.5,
        "identity": 1,
        "identity_total": 2,
        "reply_chars": 20.0,
        "empty_replies": 0,
    }
    report = {
        "label": "r1",
        "character": "阿蘅",
        "items": 6,
        "scenes": 3,
        "base_model": "tiny-qwen2",
        "real_reply_chars": 14.0,
        "settings": {"sampling": "greedy", "max_new_tokens": 32},
        "classifier": {
            "heldout_accuracy": 0.7,
            "heldout_auc": 0.8,
            "heldout_lines": {"character": 6, "other": 9},
            "real_lines_score": 0.6,
            "other_lines_score": 0.3,
            "train_lines": {"character": 10, "other": 30},
        },
        "models": {"base": {**defaults, **base}, "adapter": {**defaults, **adapter}},
        "identity": [
            {
                "probe": "你是谁？",
                "base": "我是助手",
                "adapter": "我是阿蘅",
                "base_named": False,
                "adapter_named": True,
            }
        ],
    }
    report["verdict"] = verdict(report)
    return report


def test_verdict_answers_did_it_work():
    yes = _report({}, {"loss": 2.5, "chrf": 14.0, "style": 0.62})
    assert yes["verdict"]["answer"] == "yes"
    assert yes["verdict"]["wins"] == {
        "loss": "adapter",
        "chrf": "adapter",
        "rouge_l": "same",
        "style": "adapter",
        "identity": "same",
    }
    assert _report({}, {"loss": 2.5})["verdict"]["answer"] == "partly"
    mixed = _report({}, {"loss": 2.5, "style": 0.6, "chrf": 9.0, "rouge_l": 9.0, "identity": 0})[
        "verdict"
    ]
    assert mixed["answer"] == "partly" and mixed["summary"].endswith(
        "worse on chrf, rouge_l, identity"
    )
    no = _report({}, {"loss": 3.3, "chrf": 9.0})
    assert no["verdict"]["answer"] == "no" and set(no["verdict"]["wins"].values()) == {
        "base",
        "same",
    }
    assert _report({}, {"loss": 3.005})["verdict"]["wins"]["loss"] == "same"  # below the margin


def test_format_report_is_a_readable_table():
    text = format_report(_report({}, {"loss": 2.5, "chrf": 14.0, "style": 0.62}))
    assert "loss on the real lines (nats/token)" in text and "2.500" in text and "3.000" in text
    assert "1/2" in text and "held-out balanced accuracy 70.0%" in text
    assert "✓ 我是阿蘅" in text and text.rstrip().endswith("and its replies are closer to them")
