"""Provides model downloads from ModelScope (the seed's source) and the Hugging Face hub,
with progress.

Both hubs resume a download where it stopped (files already complete are skipped, partial ones
continue). Progress goes to ``progress(done_bytes, total_bytes, file)`` when a caller passes one
(the training process turns it into ``download`` events), and to the hubs' own progress bars
otherwise. Files a LoRA run never reads are skipped: Meta's original ``consolidated.*.pth``
checkpoints (16 GB for Llama-3.1-8B), ONNX / TensorFlow / Flax exports and GGUF files.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.api.plugins import ModelSpec
from studio.errors import StudioError

Progress = Callable[[int, int, str], None]

SKIP = [
    "original/*",
    "*.pth",
    "*.pt",
    "*.onnx",
    "*.onnx_data",
    "*.h5",
    "*.msgpack",
    "*.ot",
    "*.gguf",
]


class _Tally:
    """Bytes done over bytes expected, across the files downloaded in parallel."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.done = 0
        self.total = 0
        self.lock = threading.Lock()

    def add_total(self, size: int) -> None:
        with self.lock:
            self.total += max(0, int(size or 0))

    def advance(self, size: int, name: str) -> None:
        with self.lock:
            self.done += max(0, int(size or 0))
            done, total = self.done, self.total
        self.progress(done, total, name)


def _skip(spec: ModelSpec) -> list[str]:
    return [p for p in SKIP if not (spec.gguf_file and p == "*.gguf")]


def modelscope(spec: ModelSpec, progress: Progress | None = None) -> Path:
    """Download (or find in the cache) a ModelScope model folder."""
    try:
        from modelscope import snapshot_download
    except ImportError as exc:  # pragma: no cover - modelscope is a dependency
        raise StudioError(f"modelscope is not importable: {exc}") from None
    kwargs: dict[str, Any] = {
        "revision": spec.revision or None,
        "cache_dir": spec.cache_dir or None,
        "ignore_patterns": _skip(spec),
    }
    if progress is not None:
        kwargs["progress_callbacks"] = [_modelscope_callback(_Tally(progress))]
    try:
        return Path(snapshot_download(spec.name, **kwargs))
    except Exception as exc:
        raise StudioError(
            f"ModelScope download of {spec.name!r} failed: {type(exc).__name__}: {exc}; "
            "run the same command again to resume it"
        ) from None


def _modelscope_callback(tally: _Tally) -> type:
    from modelscope.hub.callback import ProgressCallback

    class Callback(ProgressCallback):
        def __init__(self, filename: str, file_size: int) -> None:
            super().__init__(filename, file_size)
            self.name = filename
            tally.add_total(file_size)

        def update(self, size: int) -> None:
            tally.advance(size, self.name)

        def end(self) -> None:
            pass

    return Callback


def huggingface(spec: ModelSpec, progress: Progress | None = None) -> Path:
    """Download (or find in the cache) a Hugging Face hub model folder."""
    from huggingface_hub import snapshot_download

    kwargs: dict[str, Any] = {
        "revision": spec.revision or None,
        "cache_dir": spec.cache_dir or None,
        "ignore_patterns": _skip(spec),
    }
    if progress is not None:
        kwargs["tqdm_class"] = _hf_tqdm(_Tally(progress))
    try:
        return Path(snapshot_download(spec.name, **kwargs))
    except Exception as exc:
        raise StudioError(
            f"Hugging Face download of {spec.name!r} failed: {type(exc).__name__}: {exc}; "
            "run the same command again to resume it"
        ) from None


def _hf_tqdm(tally: _Tally) -> type:
    from tqdm.auto import tqdm

    class Reporter(tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self._name = str(kwargs.get("desc") or "")
            if kwargs.get("unit") == "B":
                tally.add_total(kwargs.get("total") or 0)

        def update(self, n: float | None = 1) -> bool | None:
            if self.unit == "B":
                tally.advance(int(n or 0), self._name)
            else:  # a bar over files: report files done
                tally.progress(int(self.n + (n or 0)), int(self.total or 0), "files")
            return super().update(n)

    return Reporter
