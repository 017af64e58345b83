"""Provides loading a run's persona: the base model with its adapter, the system prompt and chat
template the run was trained with, and the generation engine over it (:class:`Persona`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.chat.engine import Engine
from studio.chat.memory import Memory, load_memory, token_counter
from studio.chat.session import ChatSession


def adapter_path(run_dir: Path, checkpoint: int | None = None) -> Path:
    """The adapter of a run (:meth:`studio.train.rundir.RunDir.adapter`).

    Raises:
        StudioError: the run has no adapter and no complete checkpoint, or no such step.
    """
    from studio.train.rundir import RunDir

    return RunDir(run_dir).adapter(checkpoint)


@dataclass
class Persona:
    """A model ready to speak as the character.

    Attributes:
        loaded: the :class:`studio.train.base_model.LoadedModel` (base, with the adapter
            unless ``base``).
        engine: the generation engine over it (shared by every session on this model).
        system: the system prompt the adapter was trained with.
        character: the character's name.
        label: ``run``, ``run@step-000020`` or ``base``: what answers.
        run_dir: the run folder, None for the plain base model.
        adapter_dir: the LoRA adapter folder, None for the plain base model.
        merged: the adapter is folded into the weights (faster; no base-vs-adapter switch).
        notes: things the user should know (persona changed since training, …).
    """

    loaded: Any
    engine: Engine
    system: str
    character: str
    label: str
    run_dir: Path | None = None
    adapter_dir: Path | None = None
    merged: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def can_disable_adapter(self) -> bool:
        """True when the base model can answer too (an unmerged adapter), for A/B comparisons."""
        return self.adapter_dir is not None and not self.merged

    def session(self, **kwargs: Any) -> ChatSession:
        """A new conversation on this persona (keyword arguments go to :class:`ChatSession`)."""
        return ChatSession(self.loaded, self.system, engine=self.engine, **kwargs)

    def memory(self, ws: Any, k: int = 3) -> Memory:
        """Memory for this persona: the run's own train samples, or the workspace dataset's for
        the base model; its budget is counted in this model's tokens."""
        return load_memory(ws, self.run_dir, k, token_counter(self.loaded.tokenizer))


def training_persona(run_dir: Path | None, adapter_dir: Path | None) -> dict[str, Any]:
    """What the run was trained with.

    ``persona``, ``character``, ``chat_template`` (those recorded).
    """
    from studio.train.rundir import RunDir

    found: dict[str, Any] = {}
    if run_dir is not None and RunDir(run_dir).exists():
        config = RunDir(run_dir).config()
        found.update({k: config[k] for k in ("persona", "character") if config.get(k)})
    if adapter_dir is not None and (adapter_dir / "persona.json").exists():
        recorded = json.loads((adapter_dir / "persona.json").read_text(encoding="utf-8"))
        found.update(
            {k: recorded[k] for k in ("persona", "character", "chat_template") if recorded.get(k)}
        )
    return found


def load_persona(
    ws: Any,
    adapters: Mapping[str, Any],
    *,
    run: str = "",
    checkpoint: int | None = None,
    base: bool = False,
    merge: bool = False,
    fast: bool | None = None,
    device: Any = None,
    dtype: Any = None,
    partial_ok: bool = True,
) -> Persona:
    """Load the base model of a workspace with a run's adapter (or without, for ``base``).

    Args:
        ws: the workspace.
        adapters: registered model adapters.
        run: run id; empty picks the newest finished run (:func:`studio.train.rundir.pick_run`).
        checkpoint: a checkpoint step (-1: the latest) instead of the final adapter.
        base: the base model alone, with the workspace's persona prompt.
        merge: fold the adapter into the weights (faster generation, no A/B switch).
        fast: static KV cache + compiled decode step; None turns it on for CUDA only.
        device / dtype: where and in what precision; None picks automatically.
        partial_ok: without ``run``, a run still training will do (its latest checkpoint).

    Raises:
        StudioError: no run, no adapter, or the model cannot be loaded.
    """
    from studio.train.base_model import load_model, model_spec, resolve_device
    from studio.train.rundir import pick_run

    run_dir: Path | None = None
    lora: Path | None = None
    notes: list[str] = []
    if not base:
        picked, why = pick_run(ws, run, checkpoint=checkpoint, partial_ok=partial_ok)
        run_dir, lora = picked.path, picked.adapter(checkpoint)
        if why:
            notes.append(why)
    recorded = training_persona(run_dir, lora)
    system = recorded.get("persona") or ws.config.character.persona
    if (
        recorded.get("persona")
        and ws.config.character.persona
        and recorded["persona"] != ws.config.character.persona
    ):
        notes.append(
            "the persona in studio.toml changed since this run was trained; "
            "using the run's (the one it learned)"
        )
    device = device if device is not None else resolve_device()
    loaded = load_model(
        model_spec(ws.config.model, ws.root),
        adapters,
        device=device,
        dtype=dtype,
        lora_path=lora,
        merge=merge,
    )
    template = recorded.get("chat_template")
    if template and template != getattr(loaded.tokenizer, "chat_template", None):
        loaded.tokenizer.chat_template = template
        notes.append("using the chat template recorded with the adapter")
    if fast is None:
        fast = getattr(device, "type", str(device)) == "cuda"
    engine = Engine(
        loaded.model,
        loaded.end_of_turn_ids,
        static=fast,
        compiled=fast,
        vocab_size=len(loaded.tokenizer),
    )
    if fast:
        notes.append(f"fast decoding: compiled the decode step in {engine.warmup():.0f}s")
    label = "base"
    if run_dir is not None and lora is not None:
        label = run_dir.name if lora.parent == run_dir else f"{run_dir.name}@{lora.parent.name}"
    return Persona(
        loaded,
        engine,
        system,
        recorded.get("character") or ws.config.character.name,
        label,
        run_dir,
        lora,
        merge and lora is not None,
        notes,
    )
