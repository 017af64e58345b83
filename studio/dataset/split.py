"""Provides the train/eval split by scene: split units and their seeded, stable assignment.

A *unit* is what goes whole to train or to eval: a scene, or, when a scene is very long (a play
or a subtitle file without scene headings comes as one big scene), a window of it. Windows are
cut where the text says so, not by counting from the top: a cut falls before a line whose hash
hits a target, so adding or editing lines elsewhere moves no other cut (content-defined
chunking). A unit's split is a hash of its key and the seed, so a unit keeps its split when the
corpus grows; a conversation never crosses a unit, so nothing of an eval unit is seen in train.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from studio.api import Utterance

LONG_SCENE = 200
"""A scene with more dialogue lines than this is cut into windows."""
MIN_WINDOW = 30
"""Fewest dialogue lines of a window (before its content may end it)."""
MAX_WINDOW = 120
"""Most dialogue lines of a window (it is cut here whatever the content)."""
_CUT_MODULUS = 30  # after MIN_WINDOW lines, each line ends a window with chance 1/30: ~60 lines

_CONTINUED = re.compile(
    r"\s*[（(]\s*(?:续|續|接上|cont(?:inued|'d|’d|\.)?)\s*[)）]\s*$", re.IGNORECASE
)


@dataclass
class Unit:
    """A scene or a window of a long scene.

    Attributes:
        key: the split key: ``file#scene`` or ``file#scene~window``.
        utterances: its utterances in source order (context lines included).
    """

    key: str
    utterances: list[Utterance]


def _score(key: str, seed: int) -> float:
    digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def scene_split(scene_key: str, eval_fraction: float, seed: int) -> str:
    """``eval`` for a stable pseudo-random share of keys, ``train`` for the rest."""
    return "eval" if eval_fraction > 0 and _score(scene_key, seed) < eval_fraction else "train"


def scene_key(file: str, scene: str) -> str:
    """The split key of a scene: its file and id, a continuation mark (``第9幕（续）``) removed."""
    return f"{file}#{_CONTINUED.sub('', scene)}"


def scene_blocks(utterances: Iterable[Utterance]) -> list[list[Utterance]]:
    """Contiguous runs of one file and scene id; a scene heading always starts a new run."""
    blocks: list[list[Utterance]] = []
    current: tuple[str, str] | None = None
    for utt in utterances:
        key = (utt.file, utt.scene)
        if key != current or (utt.kind == "scene" and any(u.kind != "scene" for u in blocks[-1])):
            blocks.append([])
            current = key
        blocks[-1].append(utt)
    return blocks


def _line_hash(utt: Utterance) -> int:
    blob = f"{utt.speaker}\x1f{utt.text}".encode()
    return int.from_bytes(hashlib.blake2b(blob, digest_size=8).digest(), "big")


def _windows(
    key: str, block: Sequence[Utterance], is_char: Callable[[str | None], bool]
) -> list[Unit]:
    """Cut a long scene before lines by another speaker, where the content says so."""
    units: list[Unit] = []
    start = 0
    said = 0  # dialogue lines since the last cut
    previous_speaker: str | None = None
    for index, utt in enumerate(block):
        if utt.kind != "dialogue":
            continue
        can_cut = (
            said >= MIN_WINDOW and not is_char(utt.speaker) and utt.speaker != previous_speaker
        )
        if can_cut and (said >= MAX_WINDOW or _line_hash(utt) % _CUT_MODULUS == 0):
            units.append(_window_unit(key, block[start:index]))
            start, said = index, 0
        said += 1
        previous_speaker = utt.speaker
    units.append(_window_unit(key, block[start:]))
    return units


def _window_unit(key: str, lines: Sequence[Utterance]) -> Unit:
    first = next((u for u in lines if u.kind == "dialogue"), lines[0])
    return Unit(f"{key}~{_line_hash(first):016x}"[: len(key) + 11], list(lines))


def split_units(
    utterances: Iterable[Utterance], is_char: Callable[[str | None], bool]
) -> list[Unit]:
    """The corpus as split units, in source order: scenes, long scenes cut into windows."""
    units: list[Unit] = []
    for block in scene_blocks(utterances):
        key = scene_key(block[0].file, block[0].scene)
        dialogue = sum(1 for u in block if u.kind == "dialogue")
        units.extend(_windows(key, block, is_char) if dialogue > LONG_SCENE else [Unit(key, block)])
    return units


def assign_splits(keys: Mapping[str, int], eval_fraction: float, seed: int) -> dict[str, str]:
    """Give every unit key ``train`` or ``eval``.

    A key goes to eval when its seeded hash score is under ``eval_fraction``. When that leaves
    eval empty although at least two units have samples, the unit with the lowest score goes to
    eval (and back to train as soon as a growing corpus puts another unit under the threshold);
    when it leaves train empty, the unit with the highest score goes to train.

    Args:
        keys: unit key → number of samples it holds.
        eval_fraction: share of units held out, 0 for none.
        seed: the split's seed.
    """
    splits = {key: scene_split(key, eval_fraction, seed) for key in keys}
    used = [key for key, count in keys.items() if count > 0]
    if eval_fraction > 0 and len(used) >= 2:
        ranked = sorted(used, key=lambda k: _score(k, seed))
        if all(splits[k] == "train" for k in used):
            splits[ranked[0]] = "eval"
        if all(splits[k] == "eval" for k in used):
            splits[ranked[-1]] = "train"
    return splits
