"""Eval rules for replies with no usable text: blank replies count as empty, and a verdict never
says the fine-tune worked when the adapter's replies are empty or garbled."""

from __future__ import annotations

from studio.eval.metrics import count_unusable, is_empty_reply
from studio.eval.report import format_report
from tests.unit.test_eval_metrics import _report


def test_whitespace_and_invisible_replies_are_empty():
    assert is_empty_reply("")
    assert is_empty_reply(" " * 128)
    assert is_empty_reply("\n\t \u3000\u200b")
    assert is_empty_reply("\u00a0\u2009")
    assert not is_empty_reply("  I am Juliet.  ")
    assert not is_empty_reply("我")


def test_count_unusable_splits_empty_and_garbled():
    replies = [" " * 128, "", '\ufffd";\ufffd";', "hello there", "ok\x07", "\x00\x00"]
    assert count_unusable(replies) == {"empty_replies": 3, "garbled_replies": 2}
    assert count_unusable(["fine", "also fine"]) == {"empty_replies": 0, "garbled_replies": 0}


def test_verdict_is_no_when_the_adapters_replies_are_empty():
    report = _report({}, {"loss": 2.5, "chrf": 14.0, "style": 0.62, "empty_replies": 6})
    assert report["verdict"]["answer"] == "no"
    assert "6 of 6" in report["verdict"]["summary"] and "empty" in report["verdict"]["summary"]


def test_verdict_is_no_when_the_adapters_replies_are_garbled():
    report = _report(
        {}, {"loss": 2.5, "chrf": 14.0, "style": 0.62, "empty_replies": 1, "garbled_replies": 3}
    )
    assert report["verdict"]["answer"] == "no"
    assert "4 of 6" in report["verdict"]["summary"]
    assert (
        report["verdict"]["wins"]["loss"] == "adapter"
    )  # the measures are still shown as they are


def test_a_few_unusable_replies_do_not_decide_the_verdict():
    report = _report(
        {}, {"loss": 2.5, "chrf": 14.0, "style": 0.62, "empty_replies": 1, "garbled_replies": 1}
    )
    assert report["verdict"]["answer"] == "yes"


def test_the_table_shows_garbled_replies():
    text = format_report(
        _report({"garbled_replies": 0}, {"garbled_replies": 5, "empty_replies": 1})
    )
    row = next(line for line in text.splitlines() if line.startswith("garbled replies"))
    assert row.split()[-2:] == ["0", "5"]
    assert "did it work? no:" in text
