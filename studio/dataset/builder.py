"""Provides the dataset builder: utterances of a corpus → conversations for one character.

Rules (each a fix of a defect of the seed recipe):
- the user turn is the nearest preceding line by *another* speaker, never the character's own;
- consecutive lines of the character merge into one reply;
- stage directions and narration stay context, never turns;
- a sample's id hashes its source lines, so review decisions survive a rebuild;
- train/eval is split by scene, by a hash of the scene id, so the split of a scene never
  changes when the corpus grows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from studio.api import Sample, Turn, Utterance, stable_id
from studio.config import DatasetConfig
from studio.corpus.inspect import alias_map


@dataclass
class BuildReport:
    """Counts of what the builder kept and dropped, by reason."""

    samples: int = 0
    train: int = 0
    eval: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    character_lines: int = 0

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1


@dataclass
class _Exchange:
    """One reply of the character with the lines said to her before it in the scene."""

    scene: str
    reply: list[Utterance]
    prompt: list[Utterance]  # the interlocutor's consecutive lines just before the reply


def scene_split(scene_key: str, eval_fraction: float, seed: int) -> str:
    """``eval`` for a stable pseudo-random share of scenes, ``train`` for the rest."""
    if eval_fraction <= 0:
        return "train"
    digest = hashlib.blake2b(f"{seed}:{scene_key}".encode(), digest_size=8).digest()
    return "eval" if int.from_bytes(digest, "big") / 2**64 < eval_fraction else "train"


def _group_scenes(utterances: Iterable[Utterance]) -> dict[str, list[Utterance]]:
    scenes: dict[str, list[Utterance]] = {}
    for utt in utterances:
        scenes.setdefault(f"{utt.file}#{utt.scene}", []).append(utt)
    return scenes


def _exchanges(scene: str, lines: Sequence[Utterance], is_char) -> list[_Exchange]:
    """Walk a scene: merge the character's consecutive lines; pair them with the lines before."""
    out: list[_Exchange] = []
    dialogue = [u for u in lines if u.kind == "dialogue" and u.speaker]
    i = 0
    while i < len(dialogue):
        if not is_char(dialogue[i].speaker):
            i += 1
            continue
        j = i
        while j < len(dialogue) and is_char(dialogue[j].speaker):
            j += 1
        reply = dialogue[i:j]
        prompt: list[Utterance] = []
        k = i - 1
        if k >= 0:
            speaker = dialogue[k].speaker
            while k >= 0 and dialogue[k].speaker == speaker and not is_char(dialogue[k].speaker):
                prompt.insert(0, dialogue[k])
                k -= 1
        out.append(_Exchange(scene, reply, prompt))
        i = j
    return out


def _user_text(prompt: Sequence[Utterance], with_name: bool) -> str:
    text = "".join(u.text if u.text[-1:] in "。！？!?.…—”" else u.text + " " for u in prompt).strip()
    if with_name and prompt and prompt[0].speaker:
        sep = "：" if any("\u4e00" <= ch <= "\u9fff" for ch in text[:10]) else ": "
        return f"{prompt[0].speaker}{sep}{text}"
    return text


def _reply_text(reply: Sequence[Utterance]) -> str:
    parts = [u.text.strip() for u in reply]
    cjk = any("\u4e00" <= ch <= "\u9fff" for ch in "".join(parts)[:20])
    return ("" if cjk else " ").join(parts)


def build_samples(
    utterances: Iterable[Utterance],
    character: str,
    persona: str,
    config: DatasetConfig,
    aliases: Mapping[str, Sequence[str]] | None = None,
) -> tuple[list[Sample], BuildReport]:
    """Build the character's samples from parsed utterances.

    Args:
        utterances: every utterance of the corpus, in source order.
        character: canonical name of the character.
        persona: the persona card (system prompt).
        config: studio.toml ``[dataset]``.
        aliases: canonical → other names; every alias of the character counts as the character.

    Returns:
        The samples (train and eval) and a report of what was dropped and why.
    """
    mapping = alias_map(aliases or {})
    names = {character} | {alias for alias, canonical in mapping.items() if canonical == character}

    def is_char(speaker: str | None) -> bool:
        return speaker in names

    report = BuildReport()
    samples: list[Sample] = []
    seen: set[tuple[str, str]] = set()
    for scene_key, lines in _group_scenes(utterances).items():
        split = scene_split(scene_key, config.eval_fraction, config.seed)
        exchanges = _exchanges(scene_key, lines, is_char)
        history: list[Turn] = []
        for index, ex in enumerate(exchanges):
            report.character_lines += len(ex.reply)
            reply = _reply_text(ex.reply)
            user = _user_text(ex.prompt, config.speaker_in_prompt)
            if not ex.prompt:
                report.drop("no line by another speaker before it")
                history = []
                continue
            if len(reply) < config.min_chars:
                report.drop(f"reply shorter than {config.min_chars} chars")
                continue
            if len(reply) > config.max_chars:
                report.drop(f"reply longer than {config.max_chars} chars")
                continue
            key = (user, reply)
            if key in seen:
                report.drop("exact duplicate (same prompt and reply)")
                continue
            seen.add(key)
            turns = [Turn("user", user), Turn("assistant", reply)]
            sources = [{"file": u.file, "line": u.line, "speaker": u.speaker} for u in (*ex.prompt, *ex.reply)]
            if config.mode == "multi":
                turns = (history + turns)[-2 * (config.history_turns + 1):]
                history = turns
            sample_id = stable_id(config.mode, [(s["file"], s["line"]) for s in sources], len(turns))
            samples.append(Sample(
                id=sample_id, character=character, system=persona, turns=turns, scene=scene_key, split=split,
                provenance={"kind": "corpus", "sources": sources},
            ))
    if config.identity_samples and persona:
        samples.extend(identity_samples(character, persona))
    report.samples = len(samples)
    report.train = sum(1 for s in samples if s.split == "train")
    report.eval = report.samples - report.train
    return samples, report


_IDENTITY_QUESTIONS_ZH = ("你是谁？", "请介绍一下你自己。", "你叫什么名字？")
_IDENTITY_QUESTIONS_EN = ("Who are you?", "Tell me about yourself.", "What is your name?")


def identity_samples(character: str, persona: str) -> list[Sample]:
    """A handful of varied identity Q&A samples answered from the persona card."""
    zh = any("\u4e00" <= ch <= "\u9fff" for ch in persona + character)
    questions = _IDENTITY_QUESTIONS_ZH if zh else _IDENTITY_QUESTIONS_EN
    first = persona.strip().split("\n")[0]
    answers = (
        [f"我是{character}。", f"{first}" if first else f"我是{character}。", f"我叫{character}。"]
        if zh else
        [f"I am {character}.", first or f"I am {character}.", f"My name is {character}."]
    )
    out = []
    for question, answer in zip(questions, answers):
        out.append(Sample(
            id=stable_id("identity", character, question, answer), character=character, system=persona,
            turns=[Turn("user", question), Turn("assistant", answer)], scene="identity", split="train",
            provenance={"kind": "identity"},
        ))
    return out
