"""Provides RunConfig:
everything one run needs, frozen into ``runs/<id>/config.json`` when it is prepared.

Precedence when a run is prepared (:func:`studio.settings.resolve`): the declared default, then
the model adapter's preset for the GPU, then the keys the user wrote in studio.toml ``[train]``,
then overrides (the new-run form, ``--set``). The frozen file is what the
run process reads, so a run folder alone reproduces and resumes the run.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from studio import settings
from studio.errors import StudioError
from studio.settings import TrainSettings


@dataclass
class RunConfig(TrainSettings):
    """One training run: every setting of :class:`studio.settings.TrainSettings` (declared there,
    with its rule and doc), plus what the run speaks as and on which model."""

    model: dict[str, Any] = field(default_factory=dict)
    """The base model (a ModelSpec as a dict)."""
    character: str = ""
    """The character the adapter speaks as."""
    persona: str = ""
    """The system prompt of every sample (the same text chat uses)."""

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config.json") -> RunConfig:
        """Build from a dict, ignoring keys this version does not know.

        Raises:
            StudioError: a value has the wrong type or is out of range.
        """
        known = {f.name for f in fields(cls)}
        config = cls(**{k: v for k, v in data.items() if k in known})
        config.check(source)
        return config

    @classmethod
    def load(cls, path: Path) -> RunConfig:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StudioError(
                f"{path}: no run config; expected a run folder made by `persona-studio train`"
            ) from None
        except json.JSONDecodeError as exc:
            raise StudioError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
        return cls.from_dict(data, str(path))

    def check(self, source: str = "config.json") -> None:
        """Raise a StudioError naming the key and what was expected (the declared rule)."""
        bad = settings.check(dataclasses.asdict(self))
        if bad:
            key, expected = bad
            raise StudioError(f"{source}: {key}: expected {expected}, got {getattr(self, key)!r}")
