"""Provides the augmenter and model-adapter contracts: what those plugins implement and receive."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from studio.api.llm import LLM
from studio.api.options import Option
from studio.api.progress import CancelCheck, Progress
from studio.api.records import Sample


@dataclass
class AugmentContext:
    """What an augmenter sees.

    Attributes:
        character: canonical name of the character.
        persona: the persona card (system prompt).
        samples: the curated samples (accepted/edited first, then pending), the examples to
            learn from.
            The host passes real lines of the train split only, so the eval split never leaks.
        roster: speaker → line count, after alias merging.
        workspace: the workspace folder (for caches; write nothing outside it).
        llm: an :class:`studio.api.LLM` (``llm(messages, *, seed=None, temperature=None,
            max_tokens=None) -> str``) when the strategy needs a model, None otherwise (the host
            builds it from studio.toml ``[augment]``; it retries transport errors itself and
            raises :class:`studio.api.LLMError`).
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
    llm: LLM | None = None
    seed: int = 0
    progress: Progress | None = None
    cancelled: CancelCheck | None = None
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

    def run(
        self, context: AugmentContext, options: Mapping[str, Any], item: AugmentItem
    ) -> list[Sample]:
        """Do one item (thread-safe: items run concurrently); return its proposals."""
        ...


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
