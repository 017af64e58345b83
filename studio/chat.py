"""Provides ChatSession: persona chat with streaming tokens, UI-free (the TUI and CLI drive it)."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.errors import StudioError

SAMPLING_PRESETS: dict[str, dict[str, Any]] = {
    "greedy": {"do_sample": False},
    "balanced": {"do_sample": True, "temperature": 0.7, "top_p": 0.9, "repetition_penalty": 1.05},
    "creative": {"do_sample": True, "temperature": 1.0, "top_p": 0.95, "repetition_penalty": 1.05},
}


class _TextStreamer:
    """Collects generated ids and emits text once it decodes cleanly (no split UTF-8 character)."""

    def __init__(self, tokenizer: Any, stop_ids: set[int]) -> None:
        self.tokenizer = tokenizer
        self.stop_ids = stop_ids
        self.ids: list[int] = []
        self.emitted = ""
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.prompt_seen = False

    def put(self, value: Any) -> None:
        if not self.prompt_seen:  # generate() first hands over the prompt
            self.prompt_seen = True
            return
        for token in value.reshape(-1).tolist():
            if token in self.stop_ids:
                continue
            self.ids.append(token)
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if text.endswith("\ufffd"):
            return
        if len(text) > len(self.emitted):
            self.queue.put(text[len(self.emitted):])
            self.emitted = text

    def end(self) -> None:
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if len(text) > len(self.emitted):
            self.queue.put(text[len(self.emitted):])
            self.emitted = text
        self.queue.put(None)


@dataclass
class ChatSession:
    """A conversation with one loaded model.

    Attributes:
        loaded: a :class:`studio.models.LoadedModel`.
        system: the persona card (the same system prompt as at training time).
        history: alternating user/assistant messages, without the system message.
        sampling: generation settings (a preset from SAMPLING_PRESETS or your own).
        max_new_tokens: reply length cap.
    """

    loaded: Any
    system: str
    history: list[dict[str, str]] = field(default_factory=list)
    sampling: dict[str, Any] = field(default_factory=lambda: dict(SAMPLING_PRESETS["balanced"]))
    max_new_tokens: int = 256
    seed: int | None = None

    def messages(self, user: str) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system}, *self.history, {"role": "user", "content": user}]

    def _prompt_ids(self, user: str) -> Any:
        tokenizer = self.loaded.tokenizer
        limit = int(getattr(self.loaded.model.config, "max_position_embeddings", 4096) or 4096)
        history = list(self.history)
        while True:
            messages = [{"role": "system", "content": self.system}, *history, {"role": "user", "content": user}]
            text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
            # keep the history within the context: drop the oldest exchange until it fits
            if ids.shape[1] + self.max_new_tokens <= limit or not history:
                return ids
            history = history[2:]

    def stream(self, user: str) -> Iterator[str]:
        """Yield the reply in text pieces as they are generated; the exchange joins the history."""
        import torch

        model = self.loaded.model
        tokenizer = self.loaded.tokenizer
        ids = self._prompt_ids(user).to(model.device)
        stop = list(self.loaded.end_of_turn_ids)
        streamer = _TextStreamer(tokenizer, set(stop))
        kwargs = dict(self.sampling)
        if not kwargs.get("do_sample"):
            kwargs = {k: v for k, v in kwargs.items() if k not in ("temperature", "top_p", "top_k")}
        errors: list[BaseException] = []

        def work() -> None:
            try:
                if self.seed is not None:
                    torch.manual_seed(self.seed)
                with torch.no_grad():
                    model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=self.max_new_tokens,
                                   eos_token_id=stop, pad_token_id=tokenizer.pad_token_id, streamer=streamer, **kwargs)
            except BaseException as exc:  # reported to the caller below
                errors.append(exc)
                streamer.queue.put(None)

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        reply = ""
        while True:
            piece = streamer.queue.get()
            if piece is None:
                break
            reply += piece
            yield piece
        thread.join()
        if errors:
            raise StudioError(f"generation failed: {type(errors[0]).__name__}: {errors[0]}")
        self.history += [{"role": "user", "content": user}, {"role": "assistant", "content": reply.strip()}]

    def reply(self, user: str) -> str:
        """The whole reply at once."""
        return "".join(self.stream(user)).strip()

    def save(self, path: Path, meta: dict[str, Any] | None = None) -> None:
        from studio.fsutil import atomic_write_text

        data = {"system": self.system, "messages": self.history, **(meta or {})}
        atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def adapter_path(run_dir: Path, checkpoint: int | None = None) -> Path:
    """The adapter of a run: a checkpoint's (``checkpoint`` = step; -1 = latest) or the final one."""
    if checkpoint is None and (run_dir / "adapter" / "adapter_config.json").exists():
        return run_dir / "adapter"
    done = sorted(p for p in (run_dir / "checkpoints").glob("step-*") if (p / "COMPLETE").exists())
    if not done:
        raise StudioError(f"{run_dir}: no finished adapter and no complete checkpoint yet")
    if checkpoint is None or checkpoint < 0:
        return done[-1] / "adapter"
    for path in done:
        if int(path.name.split("-")[1]) == checkpoint:
            return path / "adapter"
    raise StudioError(f"{run_dir}: no checkpoint at step {checkpoint}; have {', '.join(p.name for p in done)}")
