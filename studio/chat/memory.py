"""Provides memory: the character's own canon, retrieved into the system prompt turn by turn.

For each user turn the ``k`` real exchanges of the train split most similar to it (BM25 over
characters, character bigrams and words; :mod:`studio.api.retrieval`) are appended to the
persona card, best first, while they fit a token budget. The layout is fixed so that a model
sees the same shape at every turn::

    <persona card>

    <header in the card's language>
    <user label>: <what was said to the character>
    <character>: <what the character answered>
    (one blank line between exchanges)

Only samples of the ``train`` split from the corpus are ever indexed: the eval split (and
identity or augmented samples) never reach the prompt, so an evaluation with memory is not
shown its own answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.api import Sample
from studio.api.retrieval import BM25
from studio.api.text import HAN_CLASS
from studio.errors import StudioError

_CJK = re.compile(f"[{HAN_CLASS}]")
HEADERS = {
    "zh": ("以下是你从前真实说过的话，供你把握语气和事实：", "对方"),
    "en": ("Things you have really said before, for your voice and your facts:", "Them"),
}
DEFAULT_BUDGET = 384
"""Tokens the retrieved exchanges may add to the system prompt."""


def language_of(text: str) -> str:
    """``zh`` when CJK characters make up a fifth of the letters of ``text``, else ``en``."""
    letters = [ch for ch in text if ch.isalpha()]
    cjk = sum(1 for ch in letters if _CJK.match(ch))
    return "zh" if letters and cjk / len(letters) >= 0.2 else "en"


@dataclass
class Recall:
    """What memory put into one system prompt.

    Attributes:
        system: the system prompt: the persona card, then the retrieved exchanges.
        ids: ids of the samples retrieved, best first (recorded in transcripts and reports).
        tokens: tokens the exchanges added.
    """

    system: str
    ids: list[str] = field(default_factory=list)
    tokens: int = 0


class Memory:
    """Retrieval of a character's real exchanges for the system prompt.

    Args:
        samples: the dataset or a run's samples; only corpus samples of the train split are used.
        k: exchanges per turn at most (0 switches memory off).
        budget: tokens the exchanges may add.
        count_tokens: the chat model's token count of a text (characters when not given).
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        k: int = 3,
        budget: int = DEFAULT_BUDGET,
        count_tokens: Callable[[str], int] | None = None,
    ) -> None:
        self.k, self.budget = k, budget
        self.count = count_tokens or len
        self.items = [
            s
            for s in samples
            if s.split == "train"
            and s.provenance.get("kind", "corpus") == "corpus"
            and len(s.turns) >= 2
            and s.turns[-1].role == "assistant"
        ]
        self.index = BM25([f"{s.turns[-2].content} {s.turns[-1].content}" for s in self.items])
        self.character = self.items[0].character if self.items else ""

    def __len__(self) -> int:
        return len(self.items)

    def recall(self, persona: str, user_turn: str, k: int | None = None) -> Recall:
        """The system prompt for one user turn: the card, then the best exchanges that fit.

        Args:
            persona: the persona card (the run's system prompt).
            user_turn: what the user just said.
            k: exchanges for this turn instead of :attr:`k` (a request's own setting).
        """
        k = self.k if k is None else k
        if k <= 0 or not self.items or not user_turn.strip():
            return Recall(persona)
        header, them = HEADERS[language_of(persona + user_turn)]
        blocks: list[str] = []
        ids: list[str] = []
        used = 0
        for index, _score in self.index.top(user_turn, k):
            sample = self.items[index]
            block = (
                f"{them}: {_one_line(sample.turns[-2].content)}\n"
                f"{sample.character}: {_one_line(sample.turns[-1].content)}"
            )
            cost = self.count(block + "\n\n")
            if used + cost > self.budget:
                continue  # a shorter, lower-ranked exchange may still fit
            blocks.append(block)
            ids.append(sample.id)
            used += cost
        if not blocks:
            return Recall(persona)
        system = f"{persona.rstrip()}\n\n{header}\n" + "\n\n".join(blocks)
        return Recall(system, ids, used + self.count(header))


def load_memory(
    ws: Any,
    run_dir: Path | None,
    k: int = 3,
    count_tokens: Callable[[str], int] | None = None,
) -> Memory:
    """Memory over a run's own samples (``samples.jsonl`` of the run folder), or, for the base
    model (``run_dir`` None), over the workspace dataset's; the train split only either way.

    Raises:
        StudioError: the samples file is missing.
    """
    from studio.dataset.store import DatasetStore
    from studio.fsutil import read_jsonl
    from studio.train.rundir import RunDir

    path = (
        RunDir(run_dir).samples_file
        if run_dir is not None
        else DatasetStore(ws.dataset_dir()).samples_path
    )
    if not path.exists():
        hint = "" if run_dir is not None else f"; build it first: persona-studio build {ws.root}"
        raise StudioError(f"{path}: no samples for memory{hint}")
    return Memory([Sample.from_json(d) for d in read_jsonl(path)], k=k, count_tokens=count_tokens)


def token_counter(tokenizer: Any) -> Callable[[str], int]:
    """The token count of a text under ``tokenizer`` (for the memory's budget)."""
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def _one_line(text: str) -> str:
    return " ".join(text.split())
