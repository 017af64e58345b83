"""Provides the LLM client and the off-persona scorer of an augmentation job, from the workspace."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from studio.api import Sample, stable_id
from studio.augment.filters import PersonaScorer, generated_replies
from studio.errors import StudioError
from studio.llm.backends import RetryingLLM, make_backend
from studio.train.base_model import load_model, model_spec
from studio.train.rundir import RunDir, pick_run

MIN_CLASSIFIER_LINES = 200  # fewer real exchanges train a classifier too weak to filter with
_classifiers: dict[
    str, Any
] = {}  # fitted on a dataset's real lines, reused while they do not change
_cache_lock = threading.Lock()


def _local_model(ws: Any, host: Any) -> tuple[dict[str, Any], Callable[[], Any]]:
    """The local model ``[augment]`` names (the base model by default): description and loader."""
    cfg = ws.config.augment
    model_cfg = ws.config.model
    if cfg.model:
        folder = Path(cfg.model) if Path(cfg.model).is_absolute() else ws.root / cfg.model
        source = "local" if folder.is_dir() else model_cfg.source
        model_cfg = replace(
            model_cfg,
            name=str(folder) if folder.is_dir() else cfg.model,
            source=source,
            adapter="",
            gguf_file="",
            revision="",
        )
    lora = None
    if cfg.adapter:
        if cfg.adapter == "latest":
            lora = pick_run(ws, partial_ok=True)[0].adapter()
        else:
            named = RunDir(ws.run_dir(cfg.adapter))
            if not named.exists():
                raise StudioError(
                    f"{ws.config_path}: [augment] adapter: no run {cfg.adapter!r}; "
                    "expected a run id or 'latest'"
                )
            lora = named.adapter()

    def load() -> Any:
        return load_model(model_spec(model_cfg, ws.root), host.adapters, lora_path=lora)

    description = {
        "model": model_cfg.name,
        "adapter": str(lora.relative_to(ws.root)) if lora else None,
    }
    return description, load


def build_llm(
    ws: Any,
    host: Any,
    *,
    backend: Callable[..., str] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> RetryingLLM:
    """The retrying client over the backend studio.toml ``[augment]`` asks for (or ``backend``)."""
    cfg = ws.config.augment
    if backend is None:
        description, load = _local_model(ws, host)
        from studio.chat.session import ChatSession

        backend = make_backend(cfg, description, load, session=ChatSession)
    return RetryingLLM(
        backend,
        retries=cfg.retries,
        backoff=cfg.retry_backoff,
        cancelled=cancelled,
        temperature=cfg.temperature,
        max_tokens=cfg.max_tokens,
    )


def find_persona_scorer(ws: Any, real: Sequence[Sample]) -> tuple[PersonaScorer | None, str]:
    """The evaluation's "sounds like the character" classifier, as a scorer.

    It is trained on this dataset.

    It is fitted on the train split's real exchanges (the character's replies against the lines
    said to the character) and checked on the eval split when there is one. A proposal scores
    the mean P(character) of its generated replies.

    Returns:
        ``(scorer, what it is)`` or ``(None, why there is none)``.
    """
    threshold = ws.config.augment.persona_threshold
    if threshold <= 0:
        return None, "off ([augment] persona_threshold = 0)"
    try:
        from studio.eval.style import StyleClassifier
    except ImportError:
        return None, "not available (this studio has no style classifier)"
    corpus = [s for s in real if s.provenance.get("kind") == "corpus"]
    train = [s for s in corpus if s.split == "train"]
    if len(train) < MIN_CLASSIFIER_LINES:
        return (
            None,
            f"off: {len(train)} real train exchanges; the classifier needs {MIN_CLASSIFIER_LINES}",
        )
    held = [s for s in corpus if s.split == "eval"]
    scorer = StyleScorer(StyleClassifier, train, held, threshold)
    return scorer, scorer.description


class StyleScorer:
    """The style classifier as a proposal scorer, fitted on first use (a finished job never waits
    for it) and cached while the dataset's real lines stay the same.

    Args:
        classifier_type: ``studio.eval.style.StyleClassifier``.
        train / held: real train and eval exchanges.
        threshold: the drop threshold (for the description).
    """

    def __init__(
        self,
        classifier_type: Any,
        train: Sequence[Sample],
        held: Sequence[Sample],
        threshold: float,
    ) -> None:
        self._type, self._train, self._held, self._threshold = (
            classifier_type,
            list(train),
            list(held),
            threshold,
        )
        self._fitted: tuple[Any, float | None] | None = None
        self._lock = threading.Lock()

    @property
    def description(self) -> str:
        checked = ""
        if self._fitted is not None and self._fitted[1] is not None:
            checked = f", held-out balanced accuracy {self._fitted[1]:.2f}"
        return (
            f"style classifier on {len(self._train)} real exchanges{checked}; "
            f"drops P(character) < {self._threshold:g}"
        )

    def _classifier(self) -> Any:
        with self._lock:
            if self._fitted is None:
                key = stable_id(
                    [(s.id, s.reply, s.prompt) for s in self._train], [s.id for s in self._held]
                )
                with _cache_lock:
                    self._fitted = _classifiers.get(key)
                if self._fitted is None:
                    classifier = self._type.fit(
                        [s.reply for s in self._train], [s.prompt for s in self._train]
                    )
                    accuracy = (
                        classifier.balanced_accuracy(
                            [s.reply for s in self._held], [s.prompt for s in self._held]
                        )
                        if self._held
                        else None
                    )
                    self._fitted = (classifier, accuracy)
                    with _cache_lock:
                        # one dataset at a time: the last one is all a session reuses
                        _classifiers.clear()
                        _classifiers[key] = self._fitted
            return self._fitted[0]

    def __call__(self, samples: Sequence[Sample]) -> list[float]:
        """Mean P(character) of each sample's generated replies."""
        classifier = self._classifier()
        out = []
        for sample in samples:
            scores = classifier.score(generated_replies(sample)) or [0.0]
            out.append(sum(scores) / len(scores))
        return out
