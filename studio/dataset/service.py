"""Provides build_dataset: parse the workspace corpus, build samples, store them, keep decisions."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.dataset.builder import BuildReport, build_samples
from studio.dataset.store import DatasetStore
from studio.errors import StudioError


@dataclass
class BuildResult:
    report: BuildReport
    folder: Path
    seconds: float
    kept_decisions: int = 0
    errors: list[str] = field(default_factory=list)


def build_dataset(ws: Any, parsers: dict[str, Any]) -> BuildResult:
    """Parse every corpus file of ``ws`` and (re)build its dataset; review decisions are kept.

    Raises:
        StudioError: no character is set.
    """
    from studio.corpus.inspect import parse_workspace

    cfg = ws.config
    if not cfg.character.name:
        raise StudioError(f"{ws.config_path}: [character] name is empty; expected the character to build for")
    started = time.perf_counter()
    corpus = parse_workspace(ws, parsers)
    samples, report = build_samples(corpus.utterances, cfg.character.name, cfg.character.persona, cfg.dataset, cfg.aliases())
    store = DatasetStore(ws.dataset_dir())
    # augmenter proposals are not rebuilt from the corpus: carry them over
    kept_aug = [s for s in store.raw_samples() if s.provenance.get("kind") == "augment"] if store.exists() else []
    store.write_samples([*samples, *kept_aug], {"report": dataclasses.asdict(report), "mode": cfg.dataset.mode,
                                                 "character": cfg.character.name, "built_at": time.time()})
    ids = {s.id for s in samples} | {s.id for s in kept_aug}
    kept = sum(1 for sample_id in store.decisions() if sample_id in ids)
    return BuildResult(report, store.folder, time.perf_counter() - started, kept, corpus.errors)
