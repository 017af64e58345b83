"""Provides the messages that workers post to the studio's screens.

Workers run in threads and report back only through these (``post_message`` is thread-safe).
``can_replace`` is set only on display-only state where the newest value is all that matters
(progress); loss points, chat tokens and review results are never coalesced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message


@dataclass
class CorpusReady(Message):
    """The workspace corpus was parsed (fixes applied, roster built)."""

    snapshot: Any
    """A :class:`studio.tui.corpus_model.CorpusSnapshot`."""


@dataclass
class CorpusFailed(Message):
    """Parsing the corpus failed as a whole (a bad studio.toml, say)."""

    error: str


@dataclass
class DatasetLoaded(Message):
    """The dataset's samples were read with their review decisions applied."""

    samples: list[Any]
    version: int


@dataclass
class DatasetBuilt(Message):
    """``build`` finished: counts for the user."""

    summary: str
    errors: list[str] = field(default_factory=list)


@dataclass
class CardDrafted(Message):
    """A persona card drafted from the corpus (written to card-draft.md with its evidence)."""

    card: str
    lines: int


@dataclass
class WorkFailed(Message):
    """A background job failed; ``what`` says which one."""

    what: str
    error: str


@dataclass
class HomeInfo(Message):
    """The home screen's facts, gathered off the UI thread."""

    datasets: list[tuple[str, dict[str, int]]]
    runs: list[tuple[str, Any]]


@dataclass
class AugmentProgress(Message):
    """Proposals so far out of the requested number."""

    done: int
    total: int
    kept: int = 0
    dropped: int = 0
    failed: int = 0

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, AugmentProgress)


@dataclass
class AugmentFinished(Message):
    """The augmenter stopped (finished or cancelled); its new proposals are stored as pending."""

    proposed: int
    added: int
    cancelled: bool
    previews: list[Any] = field(default_factory=list)
    funnel: list[tuple[str, int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    job: str = ""


@dataclass
class RunEvents(Message):
    """A batch of typed events of a run (:mod:`studio.train.events`)."""

    run: str
    events: list[Any]  # studio.train.events.Event


@dataclass
class RunLog(Message):
    """The tail of a run's log."""

    run: str
    lines: list[str]

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunLog) and message.run == self.run


@dataclass
class RunStarted(Message):
    """A run was prepared and launched from this studio."""

    run: str


@dataclass
class ModelReady(Message):
    """A chat pane's model finished loading."""

    pane: str
    label: str
    system: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class ReplyPiece(Message):
    """A piece of streamed reply text for one chat pane.

    ``start`` opens the reply of that speaker.
    """

    pane: str
    text: str
    start: str = ""


@dataclass
class ReplyFinished(Message):
    """A chat pane's reply is complete."""

    pane: str
    seconds: float
    pieces: int


@dataclass
class ReplyFailed(Message):
    """Loading or generation failed for a chat pane."""

    pane: str
    error: str
