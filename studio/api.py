"""Provides the types plugins implement and the domain records that flow between them.

Nothing here imports Textual, torch or transformers: a parser plugin depends on this module only.

The flow: a :class:`CorpusParser` turns a :class:`SourceText` into :class:`Utterance` records;
the dataset builder turns utterances into :class:`Sample` conversations for one character;
an :class:`Augmenter` proposes more samples; a :class:`ModelAdapter` knows how to fetch, load
and fine-tune one family of base models.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

# --------------------------------------------------------------------------------------------
# Options: plugins declare them as data, the TUI and CLI render and validate them.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One user-settable option of a plugin.

    Attributes:
        name: key in studio.toml and on the command line (``--opt name=value``).
        default: value used when the user sets none.
        description: one line shown next to the field.
    """

    name: str
    default: Any
    description: str = ""

    def coerce(self, value: Any) -> Any:
        """Return ``value`` converted to this option's type, or raise ValueError."""
        return value


@dataclass(frozen=True)
class IntOption(Option):
    minimum: int | None = None
    maximum: int | None = None

    def coerce(self, value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError(f"{self.name}: expected an integer, got {value!r}")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"{self.name}: expected an integer, got {value!r}") from None
        if self.minimum is not None and number < self.minimum:
            raise ValueError(f"{self.name}: expected at least {self.minimum}, got {number}")
        if self.maximum is not None and number > self.maximum:
            raise ValueError(f"{self.name}: expected at most {self.maximum}, got {number}")
        return number


@dataclass(frozen=True)
class FloatOption(Option):
    minimum: float | None = None
    maximum: float | None = None

    def coerce(self, value: Any) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{self.name}: expected a number, got {value!r}") from None
        if self.minimum is not None and number < self.minimum:
            raise ValueError(f"{self.name}: expected at least {self.minimum}, got {number}")
        if self.maximum is not None and number > self.maximum:
            raise ValueError(f"{self.name}: expected at most {self.maximum}, got {number}")
        return number


@dataclass(frozen=True)
class BoolOption(Option):
    def coerce(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"{self.name}: expected true or false, got {value!r}")


@dataclass(frozen=True)
class StrOption(Option):
    secret: bool = False
    """A secret (an API key) is read from the environment and never written anywhere."""

    def coerce(self, value: Any) -> str:
        return "" if value is None else str(value)


@dataclass(frozen=True)
class PathOption(StrOption):
    """A file or folder the plugin reads or writes (a cache, a word list).

    Set in a workspace (studio.toml), a relative path is taken from the workspace folder and a
    path that leads outside it (``..``, an absolute path, a link) is refused before the plugin
    sees it; the plugin receives the resolved absolute path.
    """


@dataclass(frozen=True)
class ChoiceOption(Option):
    choices: tuple[str, ...] = ()

    def coerce(self, value: Any) -> str:
        if str(value) not in self.choices:
            raise ValueError(f"{self.name}: expected one of {', '.join(self.choices)}, got {value!r}")
        return str(value)


def resolve_options(options: Sequence[Option], given: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge user values over defaults, coercing each; unknown names are an error.

    Raises:
        ValueError: a value has the wrong type or an unknown option name was given.
    """
    given = dict(given or {})
    known = {opt.name: opt for opt in options}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(known) or 'none'}")
    return {name: opt.coerce(given[name]) if name in given else opt.default for name, opt in known.items()}


# --------------------------------------------------------------------------------------------
# Corpus records
# --------------------------------------------------------------------------------------------

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


@runtime_checkable
class CorpusParser(Protocol):
    """Turns one kind of corpus file into utterances.

    Attributes:
        name: unique name (``screenplay``); ``--parser NAME`` picks it.
        description: one line for ``persona-studio plugins``.
        options: declared options (rendered by the TUI, set in studio.toml ``[corpus.options]``).
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


# --------------------------------------------------------------------------------------------
# Samples
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Augmenters
# --------------------------------------------------------------------------------------------


@dataclass
class AugmentContext:
    """What an augmenter sees.

    Attributes:
        character: canonical name of the character.
        persona: the persona card (system prompt).
        samples: the curated samples (accepted/edited first, then pending), the examples to learn from.
            The host passes real lines of the train split only, so the eval split never leaks.
        roster: speaker → line count, after alias merging.
        workspace: the workspace folder (for caches; write nothing outside it).
        llm: a callable ``llm(messages, *, seed=None, temperature=None, max_tokens=None) -> str``
            when the strategy needs a model, None otherwise (the host builds it from studio.toml
            ``[augment]``; it retries transport errors itself and raises ``studio.llm.backends.LLMError``).
        seed: seed for every random choice; the same seed gives the same proposals.
        progress: ``progress(done, total)`` to report progress.
        cancelled: returns True when the user cancelled; stop early and return what you have.
        aliases: canonical name → other names, for the character and the roster.
    """

    character: str
    persona: str
    samples: list[Sample]
    roster: Mapping[str, int] = field(default_factory=dict)
    workspace: Path | None = None
    llm: Any = None
    seed: int = 0
    progress: Any = None
    cancelled: Any = None
    aliases: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class AugmentItem:
    """One independent unit of an augmentation job (one prompt, one base sample …).

    Attributes:
        key: stable key within the job: the same plan gives the same keys, so a resumed job
            skips the items it finished.
        data: JSON-able description of the work (ids of examples, the prompt, a seed).
    """

    key: str
    data: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Augmenter(Protocol):
    """Proposes new samples for a character; every proposal starts as ``pending``."""

    name: str
    description: str
    options: Sequence[Option]
    needs_llm: bool

    def propose(self, context: AugmentContext, options: Mapping[str, Any]) -> Iterator[Sample]:
        """Yield proposals with provenance ``{"kind": "augment", "strategy": name, ...}``."""
        ...


@runtime_checkable
class PlannedAugmenter(Augmenter, Protocol):
    """An augmenter whose work splits into independent items.

    The host runs the items concurrently (``[augment] concurrency``), journals each one and,
    after an interruption, resumes without redoing or duplicating finished items. ``propose``
    must give the same samples as running every planned item in order.
    """

    def plan(self, context: AugmentContext, options: Mapping[str, Any]) -> Sequence[AugmentItem]:
        """Decide every item of the job up front, deterministically from ``context.seed``."""
        ...

    def run(self, context: AugmentContext, options: Mapping[str, Any], item: AugmentItem) -> list[Sample]:
        """Do one item (thread-safe: items run concurrently); return its proposals."""
        ...


# --------------------------------------------------------------------------------------------
# Model adapters
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    """Training settings that fit a GPU memory budget.

    Attributes:
        name: ``cpu-tiny``, ``24g-lora``, ``80g-lora``, ``16g-qlora`` …
        min_memory_gb: smallest GPU memory (GiB) it fits; 0 for the CPU.
        settings: training keys (lora_r, lr, max_tokens_per_batch, quantization, …).
    """

    name: str
    min_memory_gb: float
    settings: Mapping[str, Any]
    description: str = ""


@dataclass(frozen=True)
class ModelSpec:
    """The base model as studio.toml ``[model]`` names it.

    Attributes:
        name: model id (``Qwen/Qwen2.5-7B-Instruct``) or a local folder.
        source: ``modelscope`` (default, as the seed), ``huggingface``, ``local`` or ``tiny``.
        adapter: model adapter name; empty means pick by ``name``.
        revision: hub revision.
        trust_remote_code: only when the user asks for it in studio.toml.
        gguf_file: load weights from this GGUF file inside the folder.
        cache_dir: where hub downloads go.
    """

    name: str
    source: str = "modelscope"
    adapter: str = ""
    revision: str | None = None
    trust_remote_code: bool = False
    gguf_file: str | None = None
    cache_dir: str | None = None


@runtime_checkable
class ModelAdapter(Protocol):
    """One family of base models: how to fetch, load and fine-tune it.

    Attributes:
        name: ``qwen2``, ``llama3``, ``tiny`` …
        description: one line.
        patterns: lower-case substrings of model ids this adapter claims (``qwen2``).
        lora_targets: module names LoRA wraps.
        end_of_turn: the token(s) that end an assistant turn in this family's template.
        presets: settings by GPU memory.

    An adapter may also set ``demo = True``: random weights for tests and offline demos, whose
    words are noise (the screens say so).
    """

    name: str
    description: str
    patterns: Sequence[str]
    lora_targets: Sequence[str]
    end_of_turn: Sequence[str]
    presets: Sequence[Preset]

    def fetch(self, spec: ModelSpec, progress: Any = None) -> Path:
        """Return a local folder holding the model, downloading it when needed."""
        ...

    def load_tokenizer(self, path: Path, spec: ModelSpec) -> Any:
        """Load the tokenizer (with its chat template) from ``path``."""
        ...

    def load_model(self, path: Path, spec: ModelSpec, *, dtype: Any, device: Any) -> Any:
        """Load the causal LM from ``path``."""
        ...


def iter_jsonl(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Decode JSON lines, skipping blank ones."""
    for line in lines:
        line = line.strip()
        if line:
            yield json.loads(line)
