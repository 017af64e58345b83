"""Provides the records that flow between the stages: utterances of a corpus, samples of a dataset.

A :class:`CorpusParser` turns a :class:`SourceText` into :class:`Utterance` records; the dataset
builder turns utterances into :class:`Sample` conversations for one character.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from studio.api.llm import LLM
from studio.api.options import Option
from studio.api.progress import CancelCheck, ParseProgress

UtteranceKind = Literal["dialogue", "narration", "action", "scene"]
LOW_CONFIDENCE = 0.6  # an attribution below this is one the user should check


@dataclass
class Utterance:
    """One line of a corpus: something said, or context around it.

    Attributes:
        speaker: who says it, as written in the source; None when the source does not say.
        text: the spoken text with inline actions removed (or the narration/action text).
        kind: dialogue, narration (prose or voice-over), action (stage direction) or scene
            (a scene or chapter heading).
        scene: scene id; utterances of one scene share it (train/eval split by scene).
        file: the source file (as given to the parser).
        line: 1-based line of the source where the utterance starts.
        action: inline stage direction attached to a dialogue line (``甄嬛（笑）：`` → ``笑``).
        start/end: subtitle cue times in seconds, when the source has them.
        method: how the parser found the speaker (``colon``, ``tag-after``, ``turn-taking`` …),
            when it says; None for a speaker written in the source or no speaker.
        confidence: 0..1, how sure the parser is of ``speaker``; None when it does not say
            (a speaker written in the source, or no speaker). Below
            :data:`LOW_CONFIDENCE` the studio asks the user to check it.
    """

    speaker: str | None
    text: str
    kind: UtteranceKind = "dialogue"
    scene: str = ""
    file: str = ""
    line: int = 0
    action: str | None = None
    start: float | None = None
    end: float | None = None
    method: str | None = None
    confidence: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSONL form: always speaker, text, kind, scene, file, line; extras when set."""
        data = {
            "speaker": self.speaker,
            "text": self.text,
            "kind": self.kind,
            "scene": self.scene,
            "file": self.file,
            "line": self.line,
        }
        for key in ("action", "start", "end", "method", "confidence"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Utterance:
        return cls(**{k: data[k] for k in data if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class ParseWarning:
    """A line the parser could not classify, or classified with doubt."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True)
class SourceText:
    """A decoded corpus file handed to a parser.

    Attributes:
        path: where it was read from.
        text: the whole text, newlines normalised to ``\\n``, BOM removed.
        encoding: the encoding that was detected (``utf-8-sig``, ``gb18030``, ``utf-16`` …).
        newline: the line ending found in the raw bytes (``\\n``, ``\\r\\n`` or ``\\r``).
    """

    path: Path
    text: str
    encoding: str
    newline: str = "\n"

    @property
    def name(self) -> str:
        return str(self.path)


@dataclass
class ParseResult:
    """What a parser returns for one file."""

    parser: str
    source: SourceText
    utterances: list[Utterance] = field(default_factory=list)
    warnings: list[ParseWarning] = field(default_factory=list)


@dataclass
class ParseContext:
    """What the host gives a parser besides the text and the options.

    A parser receives it when its ``parse`` takes a third parameter named ``context``.

    Attributes:
        llm: the host's model client (see :class:`studio.api.LLM`) when the parser's options ask
            for one (an ``llm`` option other than ``off``), None otherwise. The host builds it
            from the options ``llm``, ``llm_base_url``, ``llm_model``, ``llm_api_key_env``,
            ``llm_timeout`` and ``llm_retries`` when the parser declares them.
        progress: ``progress(done, total, phase)`` within the file.
        cancelled: True once the user cancelled.
        cache_dir: a folder of the workspace for the parser's caches, when there is one.
    """

    llm: LLM | None = None
    progress: ParseProgress | None = None
    cancelled: CancelCheck | None = None
    cache_dir: Path | None = None


@runtime_checkable
class CorpusParser(Protocol):
    """Turns one kind of corpus file into utterances.

    Attributes:
        name: unique name (``screenplay``); ``--parser NAME`` picks it.
        description: one line for ``persona-studio plugins``.
        options: declared options (rendered by the TUI, set in studio.toml ``[corpus.options]``).

    Optional attributes and parameters:
        extensions: file extensions the parser reads (``(".srt", ".vtt")``); ``init`` writes a
            ``[corpus] files`` glob for each, so nothing else in ``corpus/`` is parsed.
        ``parse(source, options, context)``: a third parameter named ``context`` receives a
            :class:`ParseContext` (the host's LLM, progress, cancel).
    """

    name: str
    description: str
    options: Sequence[Option]

    def sniff(self, source: SourceText) -> float:
        """Return confidence 0..1 that this parser understands ``source``."""
        ...

    def parse(self, source: SourceText, options: Mapping[str, Any]) -> ParseResult:
        """Parse the whole file; report lines it could not classify as warnings."""
        ...


ReviewStatus = Literal["pending", "accepted", "rejected", "edited"]


@dataclass
class Turn:
    """One message of a conversation; ``role`` is ``user`` or ``assistant``."""

    role: Literal["user", "assistant"]
    content: str


@dataclass
class Sample:
    """A training conversation for one character.

    The system prompt is the persona card; the character speaks the ``assistant`` turns.

    Attributes:
        id: stable id: the same source lines (or the same augmenter input) give the same id.
        character: the character's canonical name.
        system: the persona card used as system prompt (the same at train and chat time).
        turns: alternating user/assistant turns ending with an assistant turn.
        scene: scene id of the source (train/eval split by scene); augmenters use ``aug:...``.
        split: ``train`` or ``eval``.
        provenance: where it came from: ``{"kind": "corpus", "sources": [{"file", "line"}]}``
            or ``{"kind": "augment", "strategy": ..., "options": ..., "examples": [ids]}``
            or ``{"kind": "identity"}``.
        status: review status; proposals of augmenters start as ``pending``.
    """

    id: str
    character: str
    system: str
    turns: list[Turn]
    scene: str = ""
    split: str = "train"
    provenance: dict[str, Any] = field(default_factory=dict)
    status: ReviewStatus = "pending"

    @property
    def reply(self) -> str:
        """The last assistant turn."""
        return self.turns[-1].content if self.turns else ""

    @property
    def prompt(self) -> str:
        """The last user turn."""
        for turn in reversed(self.turns):
            if turn.role == "user":
                return turn.content
        return ""

    def messages(self, system: str | None = None) -> list[dict[str, str]]:
        """OpenAI-style messages, system first."""
        out = [{"role": "system", "content": self.system if system is None else system}]
        out += [{"role": t.role, "content": t.content} for t in self.turns]
        return out

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Sample:
        fields = {k: data[k] for k in data if k in cls.__dataclass_fields__}
        fields["turns"] = [Turn(**t) for t in data.get("turns", [])]
        return cls(**fields)


def stable_id(*parts: Any) -> str:
    """A short hash of ``parts``: the same inputs always give the same id."""
    blob = json.dumps(parts, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.blake2b(blob.encode("utf-8"), digest_size=8).hexdigest()


def iter_jsonl(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Decode JSON lines, skipping blank ones."""
    for line in lines:
        line = line.strip()
        if line:
            yield json.loads(line)
