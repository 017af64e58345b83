"""Provides the training settings, each declared once: name, type, default, doc, rule, section.

:class:`TrainSettings` is the declaration. Everything else is derived from it:

- studio.toml ``[train]`` (:class:`studio.config.TrainConfig` adds ``preset``) and its errors;
- the run config frozen into a run folder (:class:`studio.train.runconfig.RunConfig` adds the
  model, the character and the persona);
- the new-run form of the studio and ``persona-studio train --set KEY=VALUE``;
- the reference ``docs/settings.md`` (:func:`studio.settings_doc.render`).

Which value a run gets is decided by :func:`resolve`: a key the user wrote in studio.toml
beats the model adapter's preset, which beats the default; overrides (the form, ``--set``)
beat all three.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Collection, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

SECTIONS = ("model", "data", "lora", "optim", "parallel", "logging")
"""Groups of settings, in the order the form and the reference show them."""

DTYPES = ("auto", "bf16", "fp16", "fp32")
KERNELS = ("auto", "varlen", "flex", "segments")
OVERLONG = ("drop", "split")
PARALLEL = ("ddp", "fsdp")


def _setting(default: Any, doc: str, section: str, **rule: Any) -> Any:
    """One declared setting (a dataclass field carrying its doc, section and rule)."""
    meta = {"doc": " ".join(doc.split()), "section": section, **rule}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class TrainSettings:
    """Every setting of a training run, with its default, rule and one-line doc."""

    # model
    dtype: str = _setting(
        "auto",
        """``auto`` (bf16 on a GPU that has it, fp32 on the CPU),
        ``bf16``, ``fp16`` or ``fp32``; LoRA weights stay fp32.""",
        "model",
        choices=DTYPES,
    )
    quantization: str = _setting(
        "",
        """``4bit``: QLoRA, the base weights in NF4 through
        bitsandbytes (for GPUs short of memory); empty: none.""",
        "model",
        choices=("", "4bit"),
        form=False,
    )
    attention: str = _setting(
        "auto",
        """Packed attention kernel: ``auto`` (varlen flash on CUDA,
        else per-sample SDPA), ``varlen``, ``flex``, ``segments``.""",
        "model",
        choices=KERNELS,
        form=False,
    )
    compile: bool = _setting(
        False,
        """torch.compile each decoder layer (fuses norms, rotary and
        activations); rows are padded to a fixed size.""",
        "model",
        form=False,
    )

    # data
    max_length: int = _setting(
        1024,
        """Longest sample in tokens; longer ones are dropped or split
        (``overlong``) and counted, never cut silently.""",
        "data",
        minimum=16,
    )
    overlong: str = _setting(
        "drop",
        """What happens to a sample over ``max_length``: ``drop`` it,
        or ``split`` a multi-turn one into pieces.""",
        "data",
        choices=OVERLONG,
        form=False,
    )
    tokens_per_batch: int = _setting(
        8192,
        """Tokens per optimizer step across all GPUs (packed
        samples, no padding).""",
        "data",
        at_least="max_length",
    )
    identity_share: float = _setting(
        0.03,
        """Identity samples (who she is, from the persona card) are
        repeated until they make up at least this share of the training samples; 0: as built.""",
        "data",
        minimum=0,
        maximum=0.5,
    )
    row_tokens: int = _setting(
        0,
        """Most tokens in one forward pass of one GPU (0:
        ``tokens_per_batch`` / GPUs); smaller rows use less memory.""",
        "data",
        at_least="max_length",
        zero_ok=True,
        form=False,
    )

    # lora
    lora_r: int = _setting(8, "LoRA rank: more capacity, more memory.", "lora", minimum=1)
    lora_alpha: int = _setting(16, "LoRA scale numerator (scale = alpha / r).", "lora", minimum=1)
    lora_dropout: float = _setting(
        0.05,
        """Dropout on the LoRA input; 0 is faster (no copy of
        every projection's input).""",
        "lora",
        minimum=0,
        maximum=1,
        below=True,
    )
    lora_targets: list[str] = _setting(
        [],
        """Module names LoRA wraps; empty: the model adapter's
        list (all linear projections).""",
        "lora",
        form=False,
    )

    # optim
    epochs: float = _setting(3.0, "Passes over the training split.", "optim", minimum=0, above=True)
    max_steps: int = _setting(
        0,
        """Stop after this many steps (0: run all epochs); for smoke tests
        and benchmarks.""",
        "optim",
        minimum=0,
    )
    lr: float = _setting(
        2e-4,
        """Peak learning rate (linear warm-up, then cosine decay to a
        tenth).""",
        "optim",
        minimum=0,
        above=True,
        maximum=1,
        below=True,
    )
    warmup_steps: int = _setting(
        10, "Linear warm-up steps (at most a tenth of the run).", "optim", minimum=0
    )
    max_grad_norm: float = _setting(1.0, "Gradient clipping.", "optim", minimum=0, above=True)
    weight_decay: float = _setting(
        0.0, "AdamW weight decay on the LoRA weights.", "optim", minimum=0, form=False
    )
    gradient_checkpointing: bool = _setting(
        False,
        """Recompute activations in the backward pass:
        less memory, about a third slower.""",
        "optim",
    )
    seed: int = _setting(
        42, "Seed of the LoRA initialisation, the sample order and dropout.", "optim", minimum=0
    )

    # parallel
    parallel: str = _setting(
        "ddp",
        """Several GPUs: ``ddp`` (each holds the model) or ``fsdp``
        (layers sharded, for models too big for one GPU).""",
        "parallel",
        choices=PARALLEL,
        form=False,
    )

    # logging
    eval_every: int = _setting(
        50, "Evaluate on the eval split every N steps (0: only at the end).", "logging", minimum=0
    )
    save_every: int = _setting(
        100,
        """Save a resumable checkpoint every N steps (0: only at the end
        and when stopped).""",
        "logging",
        minimum=0,
    )
    keep_checkpoints: int = _setting(
        3, "Newest checkpoints kept on disk (0: all).", "logging", minimum=0, form=False
    )
    log_every: int = _setting(
        1, "Write a step event every N steps.", "logging", minimum=1, form=False
    )


@dataclass(frozen=True)
class Setting:
    """The declaration of one setting, read from :class:`TrainSettings`.

    Attributes:
        name: the key (studio.toml ``[train]``, run config, ``--set``).
        kind: ``bool``, ``int``, ``float``, ``str`` or ``list`` (of strings).
        default: the value when nobody sets it.
        doc: one line for the form, the CLI and the reference.
        section: one of :data:`SECTIONS`.
        minimum / maximum: the range (``above`` / ``below``: the bound itself excluded).
        choices: the allowed strings, when it is a choice.
        at_least: another setting this one must reach (a batch holds the longest sample).
        zero_ok: 0 is allowed besides the rule (0 means "derive it").
        form: shown on the new-run form (the others are for studio.toml and ``--set``).
    """

    name: str
    kind: type
    default: Any
    doc: str
    section: str
    minimum: float | None = None
    maximum: float | None = None
    above: bool = False
    below: bool = False
    choices: tuple[str, ...] = ()
    at_least: str = ""
    zero_ok: bool = False
    form: bool = True

    def expected(self) -> str:
        """What a valid value looks like, in words (the tail of every error about it)."""
        if self.choices:
            shown = [c or '""' for c in self.choices]
            return f"one of {', '.join(shown)}"
        if self.at_least:
            return ("0 or " if self.zero_ok else "") + f"at least {self.at_least}"
        noun = "a number" if self.kind is float else "an integer"
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            upper = f"up to (not including) {high:g}" if self.below else f"to {high:g}"
            lower = f"above {low:g}" if self.above else f"from {low:g}"
            return f"{noun} {lower} {upper}"
        if low is not None:
            if low == 0:
                return f"a positive {noun.split()[-1]}" if self.above else "0 or more"
            return f"{noun} above {low:g}" if self.above else f"at least {low:g}"
        return {bool: "true or false", str: "a string", list: "a list of strings"}.get(
            self.kind, noun
        )

    def problem(self, value: Any, values: Mapping[str, Any]) -> str | None:
        """The expectation when ``value`` breaks this setting's rule, else None.

        Args:
            value: the value (of the right type already).
            values: every setting's value (for ``at_least``).
        """
        if isinstance(value, float) and not math.isfinite(value):
            return "a finite number"
        if self.choices:
            return None if value in self.choices else self.expected()
        if self.at_least:
            ok = (self.zero_ok and value == 0) or value >= values.get(self.at_least, 0)
            return None if ok else self.expected()
        low, high = self.minimum, self.maximum
        if low is not None and (value < low or (self.above and value == low)):
            return self.expected()
        if high is not None and (value > high or (self.below and value == high)):
            return self.expected()
        return None

    def parse(self, text: str) -> Any:
        """The value written as text (``--set lr=1e-4``, a form field).

        Raises:
            ValueError: the text is not of this setting's type, or breaks its rule.
        """
        text = text.strip()
        try:
            if self.kind is bool:
                lowered = text.lower()
                if lowered not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                    raise ValueError
                value: Any = lowered in ("true", "1", "yes", "on")
            elif self.kind is int:
                value = int(text)
            elif self.kind is float:
                value = float(text)
            elif self.kind is list:
                value = [part.strip() for part in text.split(",") if part.strip()]
            else:
                value = text
        except ValueError:
            words = _type_words(self.kind)
            raise ValueError(f"{self.name}: expected {words}, got {text!r}") from None
        problem = None if self.at_least else self.problem(value, {})
        if problem:
            raise ValueError(f"{self.name}: expected {problem}, got {text!r}")
        return value


def _type_words(kind: type) -> str:
    return {
        bool: "true or false",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a comma-separated list",
    }[kind]


def _declared() -> dict[str, Setting]:
    hints = typing.get_type_hints(TrainSettings)
    out: dict[str, Setting] = {}
    for item in fields(TrainSettings):
        kind = hints[item.name]
        kind = list if typing.get_origin(kind) is list else kind
        default = item.default if item.default_factory is MISSING else item.default_factory()
        meta = dict(item.metadata)
        out[item.name] = Setting(
            item.name, kind, default, meta.pop("doc"), meta.pop("section"), **meta
        )
    return out


SETTINGS: dict[str, Setting] = _declared()
"""Every training setting by name, in declaration (section) order."""


def check(values: Mapping[str, Any]) -> tuple[str, str] | None:
    """The first setting whose value breaks its rule: (name, expectation), else None."""
    for name, setting in SETTINGS.items():
        if name in values:
            problem = setting.problem(values[name], values)
            if problem:
                return name, problem
    return None


def parse_assignments(items: Collection[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings (``train --set``) as typed, checked settings.

    Raises:
        ValueError: an unknown key, a missing ``=``, or a value of the wrong type or range.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE")
        if key not in SETTINGS:
            raise ValueError(f"--set {key}: unknown setting; expected one of {', '.join(SETTINGS)}")
        out[key] = SETTINGS[key].parse(text)
    return out


def resolve(
    written: Mapping[str, Any],
    preset: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The value of every setting for a run: the one place that decides precedence.

    Overrides (the new-run form, ``--set``) > keys the user wrote in studio.toml > the model
    adapter's preset > the declared default. A key the user wrote keeps its value even when it
    equals the default: ``lr = 2e-4`` written out is the user's choice, not "unset".

    Args:
        written: the studio.toml ``[train]`` keys the user wrote, with their values.
        preset: the preset's settings (keys that are not settings are ignored).
        overrides: values that win over everything.

    Returns:
        Every setting by name.
    """
    values = {name: setting.default for name, setting in SETTINGS.items()}
    for layer in (preset or {}, written, overrides or {}):
        values.update({k: v for k, v in layer.items() if k in SETTINGS})
    return values
