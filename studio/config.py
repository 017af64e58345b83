"""Provides studio.toml: the typed settings of one workspace, validated with precise errors.

Every error names the file, the line, the key and what was expected, e.g.
``workspace/studio.toml:14: [train] lr: expected a number, got "fast"``.
"""

from __future__ import annotations

import dataclasses
import math
import re
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from studio import settings
from studio.errors import InputError
from studio.settings import TrainSettings
from studio.toml_fields import coerce, key_line, type_name


@dataclass
class CharacterConfig:
    name: str = ""
    """The character's canonical name, as the corpus spells it most often."""
    aliases: list[str] = field(default_factory=list)
    """Other names of the same character (悟空, 美猴王 for 孙悟空); merged into ``name``."""
    persona: str = ""
    """The persona card: the system prompt at training and chat time (the same text)."""
    narrator: bool = False
    """A first-person narrator (我 / I) in novel prose is this character."""


@dataclass
class RosterConfig:
    aliases: dict[str, list[str]] = field(default_factory=dict)
    """Aliases of other speakers: canonical name → other names (皇帝 = ["皇上"])."""
    ignore: list[str] = field(default_factory=list)
    """Speaker labels that are not people (旁白, 众人, ALL)."""


@dataclass
class CorpusConfig:
    files: list[str] = field(default_factory=lambda: ["corpus/*"])
    """Glob patterns, relative to the workspace, of the corpus files."""
    parser: str = ""
    """Force one parser for every file; empty means each file picks the best by sniffing."""
    encoding: str = ""
    """Force an encoding; empty means detect (UTF-8, GB18030, Big5, UTF-16)."""
    options: dict[str, Any] = field(default_factory=dict)
    """Parser options, by option name."""


@dataclass
class DatasetConfig:
    name: str = "default"
    """Folder name under datasets/."""
    mode: str = "single"
    """``single``: one exchange per sample; ``multi``: windows of a scene's conversation."""
    history_turns: int = 3
    """Multi-turn mode: exchanges of history kept before the character's reply."""
    speaker_in_prompt: bool = False
    """Put the interlocutor's name in the user turn (``皇帝：…``)."""
    min_chars: int = 2
    """Replies shorter than this (after cleaning) are dropped."""
    max_chars: int = 1200
    """Replies longer than this are dropped (a monologue is rarely a chat reply; 1200 characters
    is about 250 English words)."""
    eval_fraction: float = 0.1
    """Share of scenes held out for evaluation (split by scene, never by line)."""
    seed: int = 42
    """Seed of the split; the split of a scene never changes when the corpus grows."""
    identity_samples: bool = True
    """Add identity Q&A samples built from the persona card, each fact asked several ways."""
    drop_interjections: bool = True
    """Drop replies that are only a name or an interjection (``皇上！``, ``啊？``, ``O Romeo!``)."""
    near_duplicates: bool = True
    """Also drop near duplicates (same words up to punctuation, or almost the same context and
    reply); exact duplicates are always dropped. Both are judged per context, never globally."""


@dataclass
class ModelConfig:
    name: str = "tiny-qwen2"
    """Model id (``Qwen/Qwen2.5-7B-Instruct``), a local folder, or ``tiny-qwen2``/``tiny-llama``."""
    source: str = "modelscope"
    """Where to fetch it: ``modelscope`` (default), ``huggingface``, ``local`` or ``tiny``."""
    adapter: str = ""
    """Model adapter plugin; empty means pick by the model id."""
    revision: str = ""
    """Hub revision (branch, tag or commit); empty for the default."""
    gguf_file: str = ""
    """Load weights from this GGUF file inside the model folder."""
    trust_remote_code: bool = False
    """Run the model repository's own Python code. Off unless you trust that repository."""
    cache_dir: str = ""
    """Where hub downloads go; empty for the hub's default cache."""


@dataclass
class TrainConfig(TrainSettings):
    """studio.toml ``[train]``: every setting of :class:`studio.settings.TrainSettings`, plus the
    preset."""

    preset: str = ""
    """Model adapter preset (``cpu-tiny``, ``24g-lora`` …); empty picks one by GPU memory. Keys
    you write in ``[train]`` win over the preset's."""


@dataclass
class AugmentConfig:
    base_url: str = ""
    """OpenAI-compatible endpoint for LLM strategies; empty uses the local base model."""
    model: str = ""
    """Model name at that endpoint; without base_url, a local model folder or id to use instead
    of the workspace's base model."""
    adapter: str = ""
    """Local model only: a run whose LoRA adapter goes on the model (``latest``: the newest)."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable holding the key; the key itself is never written to the workspace."""
    concurrency: int = 4
    """Requests in flight at once (the local model answers one at a time whatever this says)."""
    timeout: float = 120.0
    """Seconds to wait for one reply before the request counts as failed and is retried."""
    retries: int = 3
    """Retries of a failed request (connection error, timeout, HTTP 429/5xx, unreadable body)."""
    retry_backoff: float = 1.0
    """First wait before a retry in seconds; doubles with each retry (capped at 30)."""
    temperature: float = 0.9
    """Sampling temperature of generated proposals."""
    max_tokens: int = 256
    """Longest generated message in tokens."""
    near_duplicate: float = 0.8
    """Drop a proposal whose character-n-gram similarity to a real line or another proposal
    reaches this (1.0 keeps everything but exact duplicates)."""
    persona_threshold: float = 0.4
    """Drop a proposal the "sounds like the character" classifier scores below this (0: no filter).
    On 甄嬛 0.4 drops 3% of her held-out real lines and 34% of other speakers' lines."""


@dataclass
class StudioConfig:
    character: CharacterConfig = field(default_factory=CharacterConfig)
    roster: RosterConfig = field(default_factory=RosterConfig)
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    path: Path | None = None
    """The file it was read from."""
    written: dict[str, set[str]] = field(default_factory=dict)
    """The keys the user wrote, by section (a written key beats a preset even at its default)."""

    def written_train(self) -> dict[str, Any]:
        """The ``[train]`` settings the user wrote in studio.toml, with their values."""
        keys = self.written.get("train", set())
        return {k: getattr(self.train, k) for k in settings.SETTINGS if k in keys}

    def aliases(self) -> dict[str, list[str]]:
        """All aliases: the character's plus the roster's, canonical name → other names."""
        out = {k: list(v) for k, v in self.roster.aliases.items()}
        if self.character.name:
            out.setdefault(self.character.name, [])
            out[self.character.name] += [
                a for a in self.character.aliases if a not in out[self.character.name]
            ]
        return out


_SECTIONS = {
    f.name: f.type for f in dataclasses.fields(StudioConfig) if f.name not in ("path", "written")
}


_CHOICES = {
    ("dataset", "mode"): ("single", "multi"),
    ("model", "source"): ("modelscope", "huggingface", "local", "tiny"),
    **{("train", s.name): s.choices for s in settings.SETTINGS.values() if s.choices},
}


def parse_config(text: str, path: str | Path = "studio.toml") -> StudioConfig:
    """Parse and validate studio.toml text.

    Raises:
        InputError: naming the file, the line, the key and what was expected.
    """
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise InputError(path, "not valid TOML: arrays or tables nested too deeply") from None
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        match = re.search(r"line (\d+)", str(exc))
        if line is None and match:
            line = int(match.group(1))
        raise InputError(path, f"not valid TOML: {getattr(exc, 'msg', exc)}", line) from None
    hints = typing.get_type_hints(StudioConfig)
    config = StudioConfig(path=Path(path))
    for section, value in data.items():
        if section not in _SECTIONS:
            raise InputError(
                path,
                f"unknown section [{section}]; expected one of "
                + ", ".join("[" + s + "]" for s in _SECTIONS),
                key_line(text, section, None),
            )
        if not isinstance(value, dict):
            raise InputError(
                path, f"{section}: expected a [{section}] table", key_line(text, section, None)
            )
        section_cls = hints[section]
        section_hints = typing.get_type_hints(section_cls)
        target = getattr(config, section)
        for key, item in value.items():
            if key not in section_hints:
                raise InputError(
                    path,
                    f"[{section}] {key}: unknown key; expected one of {', '.join(section_hints)}",
                    key_line(text, section, key),
                )
            try:
                coerced = coerce(item, section_hints[key])
            except (TypeError, StopIteration):
                raise InputError(
                    path,
                    f"[{section}] {key}: expected {type_name(section_hints[key])}, got {item!r}",
                    key_line(text, section, key),
                ) from None
            choices = _CHOICES.get((section, key))
            if choices and coerced not in choices:
                raise InputError(
                    path,
                    f"[{section}] {key}: expected one of {', '.join(choices)}, got {coerced!r}",
                    key_line(text, section, key),
                )
            setattr(target, key, coerced)
            config.written.setdefault(section, set()).add(key)
    _check_ranges(config, text, path)
    return config


def _check_ranges(config: StudioConfig, text: str, path: str | Path) -> None:
    for section in _SECTIONS:
        values = getattr(config, section)
        for item in dataclasses.fields(values):
            value = getattr(values, item.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise InputError(
                    path,
                    f"[{section}] {item.name}: expected a finite number, got {value!r}",
                    key_line(text, section, item.name),
                )
    checks = [
        (
            "dataset",
            "eval_fraction",
            0.0 <= config.dataset.eval_fraction < 1.0,
            "a number from 0 up to (not including) 1",
        ),
        ("dataset", "history_turns", config.dataset.history_turns >= 1, "at least 1"),
        ("dataset", "min_chars", config.dataset.min_chars >= 0, "0 or more"),
        (
            "dataset",
            "max_chars",
            config.dataset.max_chars > config.dataset.min_chars,
            "more than min_chars",
        ),
        ("augment", "concurrency", 1 <= config.augment.concurrency <= 64, "1 to 64"),
        ("augment", "timeout", config.augment.timeout > 0, "a positive number of seconds"),
        ("augment", "retries", 0 <= config.augment.retries <= 20, "0 to 20"),
        ("augment", "retry_backoff", config.augment.retry_backoff >= 0, "0 or more seconds"),
        ("augment", "temperature", 0 <= config.augment.temperature <= 2, "a number from 0 to 2"),
        ("augment", "max_tokens", config.augment.max_tokens >= 1, "at least 1"),
        (
            "augment",
            "near_duplicate",
            0 < config.augment.near_duplicate <= 1,
            "a number above 0 up to 1",
        ),
        (
            "augment",
            "persona_threshold",
            0 <= config.augment.persona_threshold <= 1,
            "a number from 0 to 1",
        ),
    ]
    bad = settings.check(dataclasses.asdict(config.train))
    if bad:
        checks.insert(0, ("train", bad[0], False, bad[1]))
    for section, key, ok, expected in checks:
        if not ok:
            value = getattr(getattr(config, section), key)
            raise InputError(
                path,
                f"[{section}] {key}: expected {expected}, got {value!r}",
                key_line(text, section, key),
            )


def load_config(path: str | Path) -> StudioConfig:
    """Read and validate a studio.toml file.

    Raises:
        InputError: unreadable file or invalid content.
    """
    path = Path(path)
    if path.exists() and not path.is_file():  # a folder, a pipe or a device would fail or block
        raise InputError(path, "not a regular file; expected studio.toml to be a text file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            path, "no studio.toml here; expected a workspace folder (persona-studio init PATH)"
        ) from None
    except UnicodeDecodeError as exc:
        raise InputError(path, f"studio.toml must be UTF-8: {exc.reason}") from None
    return parse_config(text, path)


def field_docs(section_cls: type) -> dict[str, str]:
    """Field docs of a config section: declared settings' docs, else the string literal after each
    field."""
    import ast
    import inspect

    docs = {
        f.name: f.metadata["doc"] for f in dataclasses.fields(section_cls) if "doc" in f.metadata
    }
    source = inspect.getsource(section_cls)
    tree = ast.parse(source)
    body = tree.body[0].body  # type: ignore[attr-defined]
    for node, nxt in zip(body, body[1:], strict=False):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
        ):
            docs[node.target.id] = str(nxt.value.value)  # type: ignore[union-attr]
    return docs
