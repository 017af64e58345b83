"""The dataset store: journal of review decisions, undo across restarts, rebuilds, crash safety, helpers."""

from __future__ import annotations

import json

import pytest

from studio.api import Sample, Turn
from studio.dataset.store import DatasetStore


def sample(n: int, split: str = "train", kind: str = "corpus", reply: str | None = None) -> Sample:
    return Sample(
        id=f"s{n}",
        character="JULIET",
        system="You are Juliet.",
        turns=[Turn("user", f"question {n}"), Turn("assistant", reply or f"answer number {n}")],
        scene=f"play.txt#{n % 3}",
        split=split,
        provenance={"kind": kind, "sources": [{"file": "p", "line": n}]},
    )


@pytest.fixture
def store(tmp_path):
    s = DatasetStore(tmp_path / "datasets" / "default")
    s.write_samples([sample(i, "eval" if i % 5 == 0 else "train") for i in range(1, 11)])
    return s


def reopen(store: DatasetStore) -> DatasetStore:
    return DatasetStore(store.folder)


def test_decisions_apply_and_survive_a_restart(store):
    store.record("accept", "s1")
    store.record("reject", "s2")
    store.record("edit", "s3", "a better answer")
    again = reopen(store)
    by_id = {s.id: s for s in again.samples()}
    assert (by_id["s1"].status, by_id["s2"].status, by_id["s3"].status, by_id["s4"].status) == (
        "accepted",
        "rejected",
        "edited",
        "pending",
    )
    assert by_id["s3"].reply == "a better answer"
    assert again.raw_samples()[2].reply == "answer number 3"  # the build itself is untouched
    assert "s2" not in {s.id for s in again.training_samples("train")}


def test_accepting_an_edit_keeps_it_and_reset_drops_it(store):
    store.record("edit", "s1", "edited reply", prompt="edited question")
    store.record("accept", "s1")
    got = store.get("s1")
    assert (got.status, got.reply, got.prompt) == ("edited", "edited reply", "edited question")
    store.record("reject", "s1")
    assert store.get("s1").status == "rejected" and store.get("s1").reply == "edited reply"
    store.record("reset", "s1")
    assert (store.get("s1").status, store.get("s1").reply) == ("pending", "answer number 1")


def test_undo_pops_the_latest_decision_also_after_a_restart(store):
    store.record("accept", "s1")
    store.record("edit", "s1", "first edit")
    store.record("edit", "s1", "second edit")
    assert reopen(store).undo()["reply"] == "second edit"
    again = reopen(store)
    assert again.get("s1").reply == "first edit"
    again.undo()
    again.undo()
    assert reopen(store).get("s1").status == "pending"
    assert again.undo() is None and not again.can_undo()
    before = len(again.journal())
    assert again.undo() is None and len(again.journal()) == before  # nothing written


def test_a_batch_is_one_decision_and_one_undo(store):
    store.record("accept", "s9")
    store.record_many("reject", ["s1", "s2", "s3"])
    assert store.status_counts() == {"pending": 6, "accepted": 1, "rejected": 3, "edited": 0}
    store.undo()
    assert store.status_counts() == {"pending": 9, "accepted": 1, "rejected": 0, "edited": 0}


def test_a_torn_last_line_is_skipped(store):
    store.record("accept", "s1")
    store.record("reject", "s2")
    with open(store.journal_path, "ab") as handle:  # a crash in the middle of writing a decision
        handle.write(b'{"t": 1, "action": "acc')
    again = reopen(store)
    assert again.get("s1").status == "accepted" and again.get("s2").status == "rejected"
    assert len(again.journal()) == 2


def test_a_rebuild_keeps_decisions_of_samples_that_still_exist(store):
    store.record("accept", "s1")
    store.record("edit", "s2", "kept edit")
    store.record("reject", "s10")
    store.write_samples([sample(i) for i in range(1, 8)])  # s8..s10 vanished
    again = reopen(store)
    assert again.get("s1").status == "accepted" and again.get("s2").reply == "kept edit"
    assert again.orphaned() == ["s10"] and "s10" in again.decisions()
    assert again.status_counts() == {"pending": 5, "accepted": 1, "rejected": 0, "edited": 1}
    store.write_samples([sample(i) for i in range(1, 11)])  # back again: so is its decision
    assert reopen(store).get("s10").status == "rejected"


def test_samples_returns_copies(store):
    store.record("edit", "s1", "edited")
    first = store.samples()
    first[0].turns[-1].content = "scribbled"
    first[1].status = "accepted"
    assert store.get("s1").reply == "edited" and store.get("s2").status == "pending"


def test_another_process_writing_the_journal_is_seen(store):
    reader = reopen(store)
    assert reader.get("s4").status == "pending"
    store.record("accept", "s4")
    assert reader.get("s4").status == "accepted"


def test_find_counts_and_histogram(store):
    store.record("edit", "s4", "a quite different reply about the moon")
    store.record("reject", "s5")
    assert [s.id for s in store.find(text="MOON")] == ["s4"]
    assert [s.id for s in store.find(status="rejected")] == ["s5"]
    assert [s.id for s in store.find(split="eval")] == ["s5", "s10"]
    assert [s.id for s in store.find(status=["pending"], split="eval")] == ["s10"]
    assert store.status_counts("eval") == {"pending": 1, "accepted": 0, "rejected": 1, "edited": 0}
    rows = store.length_histogram(bins=(0, 10, 20, 40))
    assert rows == [(0, 10, 0), (10, 20, 9), (20, 40, 1), (40, None, 0)]


def test_bad_decisions_are_refused(store):
    with pytest.raises(ValueError, match="unknown action"):
        store.record("approve", "s1")
    with pytest.raises(ValueError, match="edit needs"):
        store.record("edit", "s1")
    with pytest.raises(ValueError, match="needs a sample id"):
        store.record("accept")
    assert store.journal() == []


def test_add_samples_appends_only_new_ones_and_pending_proposals_do_not_train(store):
    proposal = sample(42, kind="augment")
    assert store.add_samples([proposal, sample(1)]) == 1
    assert len(store) == 11 and "s42" in store
    assert "s42" not in {s.id for s in store.training_samples()}
    store.record("accept", "s42")
    assert "s42" in {s.id for s in store.training_samples()}
    assert [s.id for s in store.raw_samples_of_kind("augment")] == ["s42"]
    assert [s.id for s in reopen(store).raw_samples_of_kind("augment")] == ["s42"]


def test_samples_file_is_jsonl_of_sample_json(store):
    rows = [
        json.loads(line) for line in store.samples_path.read_text(encoding="utf-8").splitlines()
    ]
    assert rows[0] == sample(1).to_json()


def test_a_torn_samples_file_loads_every_complete_row(store):
    with open(store.samples_path, "ab") as handle:
        handle.write(b'{"id": "s11", "turns": [')
    assert [s.id for s in reopen(store).raw_samples()] == [f"s{i}" for i in range(1, 11)]


def test_decisions_return_the_updated_samples(store):
    [edited] = [store.edit("s4", "a new reply")]
    assert edited.status == "edited" and edited.reply == "a new reply"
    accepted = store.decide("accept", ["s4", "s5"])
    assert [(s.id, s.status) for s in accepted] == [
        ("s4", "edited"),
        ("s5", "accepted"),
    ]  # the edit is kept
    assert store.decide("reset", ["s4"])[0].reply != "a new reply"
    entry, back = store.revert()
    assert (
        entry["action"] == "reset" and back[0].status == "edited" and back[0].reply == "a new reply"
    )
    with pytest.raises(ValueError, match="empty reply"):
        store.edit("s4", "  ")
    assert store.summary() == {
        "samples": 10,
        "pending": 8,
        "accepted": 1,
        "rejected": 0,
        "edited": 1,
    }
