"""The train/eval split: by scene, seeded, stable as the corpus grows, never empty, windows for long scenes."""

from __future__ import annotations

from studio.api import Utterance
from studio.config import DatasetConfig
from studio.dataset.builder import build_samples
from studio.dataset.split import LONG_SCENE, assign_splits, scene_key, split_units

SPEAKERS = ("ROMEO", "NURSE", "FRIAR", "TYBALT")


def play(
    scenes: int, exchanges: int = 4, file: str = "play.txt", one_scene: bool = False
) -> list[Utterance]:
    """A made-up play: in every scene each of the others speaks to JULIET and she answers."""
    out, line = [], 1
    for s in range(scenes):
        scene = "1" if one_scene else f"S{s}"
        if not one_scene or s == 0:
            out.append(Utterance(None, f"SCENE {scene}", "scene", scene, file, line))
            line += 1
        for e in range(exchanges):
            other = SPEAKERS[(s + e) % len(SPEAKERS)]
            out.append(
                Utterance(
                    other, f"{other} asks question {e} of part {s}?", "dialogue", scene, file, line
                )
            )
            out.append(
                Utterance(
                    "JULIET", f"Juliet answers {e} in part {s}.", "dialogue", scene, file, line + 1
                )
            )
            line += 2
    return out


def build(utts, **options):
    config = DatasetConfig(identity_samples=False, **options)
    return build_samples(utts, "JULIET", "", config)


def test_no_scene_is_in_both_splits_and_the_seed_matters():
    samples, report = build(play(60), eval_fraction=0.2, seed=1)
    by_scene: dict[str, set[str]] = {}
    for sample in samples:
        by_scene.setdefault(sample.scene, set()).add(sample.split)
    assert all(len(splits) == 1 for splits in by_scene.values())
    assert 0 < report.eval < report.samples and report.eval_units == sum(
        "eval" in s for s in by_scene.values()
    )
    other, _ = build(play(60), eval_fraction=0.2, seed=2)
    assert [s.split for s in samples] != [s.split for s in other]
    again, _ = build(play(60), eval_fraction=0.2, seed=1)
    assert [s.split for s in samples] == [s.split for s in again]


def test_a_scene_keeps_its_split_when_the_corpus_grows():
    small, _ = build(play(30), eval_fraction=0.25)
    grown, _ = build(play(30) + play(40, file="sequel.txt"), eval_fraction=0.25)
    before = {s.id: s.split for s in small}
    after = {s.id: s.split for s in grown}
    assert before.items() <= after.items()


def test_eval_is_never_empty_for_a_corpus_with_a_few_scenes():
    for seed in range(20):
        samples, report = build(play(3), eval_fraction=0.05, seed=seed)
        assert report.eval_units == 1 and 0 < report.eval < report.samples
    splits = assign_splits({"a": 3, "b": 0}, 0.1, 0)
    assert "eval" not in {splits["a"]}  # one unit with samples cannot be split
    assert set(assign_splits({"a": 1, "b": 1}, 0.999, 0).values()) == {"train", "eval"}
    assert set(assign_splits({"a": 1, "b": 1}, 0.0, 0).values()) == {"train"}


def test_a_play_without_scene_headings_is_cut_into_windows_for_the_split():
    utts = play(80, one_scene=True)  # 640 dialogue lines in one scene
    units = split_units(utts, lambda s: s == "JULIET")
    assert len(units) >= 4 and all(u.key.startswith("play.txt#1~") for u in units)
    sizes = [sum(1 for u in unit.utterances if u.kind == "dialogue") for unit in units]
    assert sum(sizes) == 640 and max(sizes) <= 121
    for unit in units[1:]:  # a window never starts with her reply: its prompt stays with it
        first = next(u for u in unit.utterances if u.kind == "dialogue")
        assert first.speaker != "JULIET"
    samples, report = build(utts, eval_fraction=0.1)
    assert report.windowed_scenes == 1 and report.eval > 0 and report.train > 0
    windows = {}
    for sample in samples:
        windows.setdefault(sample.scene, set()).add(sample.split)
    assert all(len(v) == 1 for v in windows.values())


def test_windows_are_stable_when_lines_are_added_at_the_top():
    utts = play(80, one_scene=True)
    keys = {u.key for u in split_units(utts, lambda s: s == "JULIET")}
    extra = [
        Utterance("NURSE", "Madam, a word before all this.", "dialogue", "1", "play.txt", 0),
        Utterance("JULIET", "Speak, nurse.", "dialogue", "1", "play.txt", 0),
    ]
    moved = {u.key for u in split_units(extra + utts, lambda s: s == "JULIET")}
    assert len(keys & moved) >= len(keys) - 1  # only the first window changes


def test_short_scenes_are_not_windowed_and_continuations_share_a_key():
    units = split_units(play(2, exchanges=LONG_SCENE // 2), lambda s: s == "JULIET")
    assert [u.key for u in units] == ["play.txt#S0", "play.txt#S1"]
    assert scene_key("a.txt", "第996幕（续）") == scene_key("a.txt", "第996幕") == "a.txt#第996幕"
