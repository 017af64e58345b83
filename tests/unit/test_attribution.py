"""Attribution by hand: which lines need a speaker, who likely said them, what bulk rules cover."""

from __future__ import annotations

import pytest

from studio.api import LOW_CONFIDENCE, Utterance
from studio.corpus.attribution import (
    BulkRule,
    bulk_targets,
    file_speakers,
    likely_speakers,
    needs_speaker,
)
from studio.tui.corpus_model import Row


def _row(
    speaker,
    text="…",
    scene="s1",
    kind="line",
    utt_kind="dialogue",
    fixed=False,
    confidence=None,
    line=0,
):
    return Row(kind, "f.txt", line, speaker, text, utt_kind, fixed, None, scene, confidence)


def test_needs_speaker_unknown_or_doubtful_dialogue_only():
    assert needs_speaker(_row(None))
    assert needs_speaker(_row("MIRA", confidence=LOW_CONFIDENCE - 0.1))
    assert not needs_speaker(_row("MIRA", confidence=LOW_CONFIDENCE))
    assert not needs_speaker(_row("MIRA", confidence=0.1, fixed=True))  # the user's fix is certain
    assert not needs_speaker(_row("MIRA"))  # a speaker written in the source
    assert not needs_speaker(_row(None, utt_kind="action")) and not needs_speaker(
        _row(None, kind="scene")
    )


def test_likely_speakers_turn_taking_first_then_the_exchange_then_the_last_named():
    rows = [
        _row("WREN", scene="s0"),
        _row("MIRA"),
        _row("TOBIAS"),
        _row("MIRA"),
        _row(None),
        _row("TOBIAS"),
        _row(None, scene="s2"),
    ]
    # MIRA said the line before, TOBIAS is the other participant and says the next line
    assert likely_speakers(rows, 4) == ["TOBIAS", "MIRA", "WREN"]
    assert file_speakers(rows) == ["MIRA", "TOBIAS", "WREN"]
    # a doubtful attribution is no context: TOBIAS said the last sure line, so MIRA's turn
    rows[3] = _row("MIRA", confidence=0.2)
    assert likely_speakers(rows, 4)[:2] == ["MIRA", "TOBIAS"]
    # alone in its scene: the last named people, nearest first, then the fallback
    assert likely_speakers(rows, 6, fallback=["ANNA"]) == ["TOBIAS", "MIRA", "WREN"]
    assert likely_speakers([_row(None)], 0, fallback=["ANNA", "BEN"]) == ["ANNA", "BEN"]
    assert likely_speakers([_row(None)], 0) == []
    assert file_speakers(rows)[0] == "TOBIAS"  # MIRA's doubtful line does not count


def test_bulk_rules_scope_pattern_and_only_unattributed():
    rows = {
        "a.srt": [
            _row(None, "Is anyone there?", "s1"),
            _row("MIRA", "Only the gulls.", "s1"),
            _row(None, "Help me with this rope.", "s2"),
            _row(None, "rope", "s2", utt_kind="action"),
        ],
        "b.srt": [_row(None, "More rope!", "s1")],
    }

    def texts(rule, index=0, marked=()):
        return [r.text for r in bulk_targets(rule, rows, "a.srt", index, marked)]

    assert texts(BulkRule("scene")) == ["Is anyone there?"]
    assert texts(BulkRule("scene", only_unattributed=False)) == [
        "Is anyone there?",
        "Only the gulls.",
    ]
    assert texts(BulkRule("file")) == ["Is anyone there?", "Help me with this rope."]
    assert texts(BulkRule("corpus", "ROPE")) == ["Help me with this rope.", "More rope!"]
    assert texts(BulkRule("corpus", "/^(is|more) /")) == ["Is anyone there?", "More rope!"]
    assert texts(BulkRule("marked"), marked=[1, 2]) == ["Help me with this rope."]
    with pytest.raises(ValueError, match="not a valid regular expression"):
        texts(BulkRule("file", "/[/"))
    with pytest.raises(ValueError, match="unknown scope"):
        texts(BulkRule("chapter"))


def test_utterance_method_and_confidence_are_optional_and_round_trip():
    plain = Utterance("MIRA", "Hello.")
    assert "confidence" not in plain.to_json() and "method" not in plain.to_json()
    sure = Utterance("MIRA", "Hello.", method="tag-after", confidence=0.75)
    assert sure.to_json()["confidence"] == 0.75
    assert Utterance.from_json(sure.to_json()) == sure
    assert (
        Utterance.from_json({"speaker": None, "text": "x"}).confidence is None
    )  # old JSONL still reads
