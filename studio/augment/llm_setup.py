"""Provides the LLM client and the off-persona scorer of an augmentation job, from the workspace."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from studio.augment.filters import PersonaScorer
from studio.errors import StudioError
from studio.llm import RetryingLLM, make_backend

# Modules that may provide ``persona_scorer(ws) -> PersonaScorer | None`` (the evaluation's
# "sounds like the character" classifier); the first that does is used as the off-persona filter.
SCORER_MODULES = ("studio.eval.persona", "studio.eval", "studio.evaluate")


def _local_model(ws: Any, host: Any) -> tuple[dict[str, Any], Callable[[], Any]]:
    """The local model ``[augment]`` names (the base model by default): description and loader."""
    cfg = ws.config.augment
    model_cfg = ws.config.model
    if cfg.model:
        folder = Path(cfg.model) if Path(cfg.model).is_absolute() else ws.root / cfg.model
        source = "local" if folder.is_dir() else model_cfg.source
        model_cfg = replace(model_cfg, name=str(folder) if folder.is_dir() else cfg.model, source=source, adapter="",
                            gguf_file="", revision="")
    lora = None
    if cfg.adapter:
        from studio.chat import adapter_path

        run_dir = ws.latest_run() if cfg.adapter == "latest" else ws.run_dir(cfg.adapter)
        if run_dir is None or not run_dir.is_dir():
            raise StudioError(f"{ws.config_path}: [augment] adapter: no run {cfg.adapter!r}; expected a run id or 'latest'")
        lora = adapter_path(run_dir)

    def load() -> Any:
        from studio.models import load_model, model_spec

        return load_model(model_spec(model_cfg, ws.root), host.adapters, lora_path=lora)

    description = {"model": model_cfg.name, "adapter": str(lora.relative_to(ws.root)) if lora else None}
    return description, load


def build_llm(ws: Any, host: Any, *, backend: Callable[..., str] | None = None,
              cancelled: Callable[[], bool] | None = None) -> RetryingLLM:
    """The retrying client over the backend studio.toml ``[augment]`` asks for (or ``backend``)."""
    cfg = ws.config.augment
    if backend is None:
        description, load = _local_model(ws, host)
        backend = make_backend(cfg, description, load)
    return RetryingLLM(backend, retries=cfg.retries, backoff=cfg.retry_backoff, cancelled=cancelled,
                       temperature=cfg.temperature, max_tokens=cfg.max_tokens)


def find_persona_scorer(ws: Any) -> tuple[PersonaScorer | None, str]:
    """The evaluation's persona classifier as a scorer, when the studio has one.

    Returns:
        ``(scorer, where it came from)`` or ``(None, why there is none)``.
    """
    for name in SCORER_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        factory = getattr(module, "persona_scorer", None)
        if not callable(factory):
            continue
        scorer = factory(ws)
        if scorer is not None:
            return scorer, f"{name}.persona_scorer"
        return None, f"{name}.persona_scorer: no trained classifier for this workspace yet"
    return None, "not available (no persona classifier installed)"
