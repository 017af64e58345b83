"""Provides the held-out items of an eval and what goes with them: the run's eval split, the
style classifier's lines, the character's names, memory's contexts and the side-by-side picks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from studio.api import Sample
from studio.chat.memory import Memory, Recall
from studio.corpus.inspect import alias_map, canonical_speaker
from studio.corpus.load import load_utterances
from studio.errors import StudioError
from studio.train.rundir import RunDir

SIDE_BY_SIDE = 5


def heldout_samples(run_dir: Path) -> list[Sample]:
    """The run's eval split: real corpus samples only (no identity or augmented ones).

    Raises:
        StudioError: the run has no eval samples.
    """
    run = RunDir(run_dir)
    samples = run.samples()
    held = [
        s
        for s in samples
        if s.split == "eval"
        and s.provenance.get("kind", "corpus") == "corpus"
        and s.turns
        and s.turns[-1].role == "assistant"
        and s.reply.strip()
    ]
    if not held:
        raise StudioError(
            f"{run.samples_file}: no held-out (eval) samples from the corpus; set [dataset] "
            "eval_fraction above 0 (e.g. 0.1), rebuild the dataset and train a new run"
        )
    return held


def style_lines(
    ws: Any,
    parsers: Mapping[str, Any],
    character: str,
    held: Sequence[Sample],
    train: Sequence[Sample],
) -> dict[str, list[str]]:
    """Lines for the style classifier: ``train_char`` / ``train_other`` from the corpus with
    every held-out line removed, ``test_char`` (the held-out replies) / ``test_other`` (other
    speakers' lines of the held-out scenes). Falls back to the run's train samples (replies vs
    the lines said to the character) when the corpus cannot be read.
    """
    blob = "\n".join(t.content for s in held for t in s.turns)
    held_texts = {t.content.strip() for s in held for t in s.turns}
    out: dict[str, list[str]] = {
        "train_char": [],
        "train_other": [],
        "test_char": [s.reply for s in held],
        "test_other": [],
    }
    try:
        corpus = load_utterances(ws, parsers)  # the user's speaker fixes apply here too
    except StudioError:
        corpus = None
    if corpus is not None:
        mapping = alias_map(ws.config.aliases())
        ignore = set(ws.config.roster.ignore)
        for utt in corpus.utterances:
            text = utt.text.strip()
            if utt.kind != "dialogue" or not utt.speaker or not text:
                continue
            speaker = canonical_speaker(utt.speaker, mapping)
            if speaker in ignore:
                continue
            is_char = speaker == character
            held_out = text in held_texts or (len(text) >= 4 and text in blob)
            if held_out:
                if not is_char:
                    out["test_other"].append(text)
                continue
            out["train_char" if is_char else "train_other"].append(text)
    if not out["train_char"] or not out["train_other"]:
        out["train_char"] = [
            s.reply for s in train if s.provenance.get("kind", "corpus") == "corpus"
        ]
        out["train_other"] = [
            s.prompt for s in train if s.provenance.get("kind", "corpus") == "corpus"
        ]
    if not out["test_other"]:
        out["test_other"] = [s.prompt for s in held]
    return out


def names_of(ws: Any, character: str) -> list[str]:
    """The character's name, aliases and the configured name."""
    names = [character, *ws.config.character.aliases]
    if ws.config.character.name and ws.config.character.name not in names:
        names.append(ws.config.character.name)
    return names


def memory_contexts(memory: Memory, persona: str, held: Sequence[Sample]) -> list[Recall]:
    """What memory puts into the system prompt for each held-out item (from the train split only).

    Raises:
        StudioError: an item's own reply was retrieved (the memory holds eval samples).
    """
    recalls = [memory.recall(persona, sample.prompt) for sample in held]
    for sample, recall in zip(held, recalls, strict=True):
        if sample.id in recall.ids:
            raise StudioError(
                f"memory retrieved the held-out item {sample.id}: "
                "it must index the train split only"
            )
    return recalls


def side_by_side(
    held: Sequence[Sample], replies: Mapping[str, Sequence[str]], count: int = SIDE_BY_SIDE
) -> list[dict[str, Any]]:
    """``count`` held-out prompts spread over the items.

    Each has the real line and every row's reply.
    """
    if not held:
        return []
    shown = min(count, len(held))
    picks = sorted({round(i * (len(held) - 1) / max(1, shown - 1)) for i in range(shown)})
    return [
        {
            "id": held[i].id,
            "prompt": held[i].prompt,
            "real": held[i].reply,
            "replies": {row: replies[row][i] for row in replies},
        }
        for i in picks
    ]
