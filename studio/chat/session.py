"""Provides persona chat, UI-free: ChatSession and streamed text replies (loading: persona.py).

The TUI's chat pane, ``persona-studio chat``, ``serve`` and ``eval`` all go through here, so
they share one set of rules: the system prompt and chat template are the ones the run was
trained with (``adapter/persona.json``, else the run's ``config.json``), replies stop on the
model's end-of-turn tokens, the history is trimmed (oldest exchange first) to fit the context,
and a checkpoint can be chatted with while its run is still training.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.chat.batch import BatchEngine
from studio.chat.engine import ContextOverflow, Engine, GenerationStats, Sampling
from studio.chat.memory import Memory
from studio.errors import StudioError

SAMPLING_PRESETS: dict[str, dict[str, Any]] = {
    "greedy": {"do_sample": False},
    "balanced": {"do_sample": True, "temperature": 0.7, "top_p": 0.9, "repetition_penalty": 1.05},
    "creative": {"do_sample": True, "temperature": 1.0, "top_p": 0.95, "repetition_penalty": 1.05},
}


# --------------------------------------------------------------------------------------------
# Text streaming
# --------------------------------------------------------------------------------------------


def render_prompt(tokenizer: Any, messages: Sequence[Mapping[str, str]]) -> list[int]:
    """Token ids of ``messages`` in the model's chat template, ready for the assistant's turn."""
    text = tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _held_back(text: str, stops: Sequence[str]) -> int:
    """How many trailing characters of ``text`` could still become the start of a stop string."""
    longest = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:size]):
                longest = size
                break
    return longest


def stream_text(
    engine: Engine | BatchEngine,
    tokenizer: Any,
    prompt: Sequence[int],
    *,
    sampling: Sampling,
    max_new_tokens: int,
    stop: Sequence[str] = (),
    cancel: threading.Event | None = None,
    use_adapter: bool = True,
    stats: dict[str, Any] | None = None,
) -> Iterator[str]:
    """Yield the reply as text pieces; a piece never ends inside a UTF-8 character or a stop string.

    Args:
        engine: the generation engine.
        tokenizer: decodes the ids.
        prompt: the rendered prompt ids (:func:`render_prompt`).
        sampling / max_new_tokens / cancel / use_adapter: as :meth:`Engine.generate`.
        stop: strings that end the reply (not included in it).
        stats: filled with ``engine`` (:class:`GenerationStats`) and ``finish_reason``.
    """
    stops = [s for s in stop if s]
    ids: list[int] = []
    emitted = ""
    finish = ""
    tokens = engine.generate(
        prompt,
        sampling=sampling,
        max_new_tokens=max_new_tokens,
        cancel=cancel,
        use_adapter=use_adapter,
    )
    try:
        for token in tokens:
            ids.append(token)
            text = tokenizer.decode(ids, skip_special_tokens=True)
            if text.endswith("\ufffd"):  # half of a multi-byte character: wait for the rest
                continue
            cut = min(
                (i for i in (text.find(s, max(0, len(emitted) - len(s))) for s in stops) if i >= 0),
                default=-1,
            )
            if cut >= 0:
                if cut > len(emitted):
                    yield text[len(emitted) : cut]
                emitted = text[:cut]
                finish = "stop"
                break
            safe = len(text) - _held_back(text, stops)
            if safe > len(emitted):
                yield text[len(emitted) : safe]
                emitted = text[:safe]
        else:
            text = tokenizer.decode(ids, skip_special_tokens=True).rstrip("\ufffd")
            if len(text) > len(emitted):
                yield text[len(emitted) :]
    finally:
        tokens.close()
        if stats is not None:
            # a batched engine's stream has its own stats (last_stats may be another request's)
            done = getattr(tokens, "stats", None) or engine.last_stats
            stats["engine"] = done
            stats["finish_reason"] = finish or done.finish_reason


# --------------------------------------------------------------------------------------------
# Conversations
# --------------------------------------------------------------------------------------------


@dataclass
class ChatSession:
    """A conversation with one loaded model.

    Attributes:
        loaded: a :class:`studio.train.base_model.LoadedModel`.
        system: the persona card (the same system prompt as at training time).
        history: alternating user/assistant messages, without the system message.
        sampling: generation settings (a preset from SAMPLING_PRESETS or your own).
        max_new_tokens: reply length cap.
        seed: seed of the sampler (None: not reproducible).
        use_adapter: False answers with the base model (the adapter disabled, not unloaded).
        engine: the generation engine; sessions on one model should share one.
        memory: the character's canon retrieved into the system prompt turn by turn (None or
            ``memory.k == 0``: the persona card alone).
        recalled: the sample ids memory retrieved for each exchange of ``history`` (one list per
            exchange, empty when memory was off).
        last_stats: speed and length of the last reply.
    """

    loaded: Any
    system: str
    history: list[dict[str, str]] = field(default_factory=list)
    sampling: dict[str, Any] = field(default_factory=lambda: dict(SAMPLING_PRESETS["balanced"]))
    max_new_tokens: int = 256
    seed: int | None = None
    use_adapter: bool = True
    engine: Engine | None = None
    memory: Memory | None = None
    recalled: list[list[str]] = field(default_factory=list)
    last_stats: GenerationStats | None = None
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    def __post_init__(self) -> None:
        if self.engine is None:
            self.engine = Engine(
                self.loaded.model,
                self.loaded.end_of_turn_ids,
                vocab_size=len(self.loaded.tokenizer),
            )

    @property
    def memory_on(self) -> bool:
        """True when memory adds the character's exchanges to the system prompt."""
        return self.memory is not None and self.memory.k > 0

    def system_for(self, user: str) -> tuple[str, list[str]]:
        """The system prompt for the turn ``user`` and the ids memory retrieved into it."""
        if self.memory is None:
            return self.system, []
        recall = self.memory.recall(self.system, user)
        return recall.system, recall.ids

    def messages(self, user: str) -> list[dict[str, str]]:
        """The full message list for the next reply, system prompt (with memory) first."""
        return [
            {"role": "system", "content": self.system_for(user)[0]},
            *self.history,
            {"role": "user", "content": user},
        ]

    def _prompt_ids(self, user: str, system: str | None = None) -> list[int]:
        """The prompt for ``user`` (under ``system``, default :meth:`system_for`); the oldest
        exchanges are dropped until it fits the context."""
        assert self.engine is not None
        system = self.system_for(user)[0] if system is None else system
        history = list(self.history)
        while True:
            messages = [
                {"role": "system", "content": system},
                *history,
                {"role": "user", "content": user},
            ]
            ids = render_prompt(self.loaded.tokenizer, messages)
            if len(ids) + self.max_new_tokens <= self.engine.capacity:
                return ids
            if not history:
                raise ContextOverflow(
                    f"the message is {len(ids)} tokens with the persona prompt; "
                    f"with {self.max_new_tokens} tokens for "
                    f"the reply that is over the context of {self.engine.capacity} tokens; "
                    "shorten it"
                )
            history = history[2:]

    def stream(self, user: str) -> Iterator[str]:
        """Yield the reply in text pieces as they are generated; the exchange joins the history.

        A finished reply always joins the history, even an empty one (the transcript records what
        happened); a cancelled one joins it as far as it got, unless nothing was said.

        Raises:
            StudioError: the sampling settings are invalid, the message does not fit,
                or generation failed.
        """
        assert self.engine is not None
        self._cancel.clear()
        try:
            sampling = Sampling.from_dict(self.sampling, seed=self.seed)
        except ValueError as exc:
            raise StudioError(f"sampling: {exc}") from None
        system, recalled = self.system_for(user)
        ids = self._prompt_ids(user, system)
        reply = ""
        finished = False
        stats: dict[str, Any] = {}
        try:
            for piece in stream_text(
                self.engine,
                self.loaded.tokenizer,
                ids,
                sampling=sampling,
                max_new_tokens=self.max_new_tokens,
                cancel=self._cancel,
                use_adapter=self.use_adapter,
                stats=stats,
            ):
                reply += piece
                yield piece
            finished = stats.get("finish_reason") != "cancelled"
        except StudioError:
            raise
        except Exception as exc:
            raise StudioError(f"generation failed: {type(exc).__name__}: {exc}") from exc
        finally:
            self.last_stats = stats.get("engine")
            if reply.strip() or finished:
                self.history += [
                    {"role": "user", "content": user},
                    {"role": "assistant", "content": reply.strip()},
                ]
                self.recalled.append(recalled)

    def reply(self, user: str) -> str:
        """The whole reply at once."""
        return "".join(self.stream(user)).strip()

    def cancel(self) -> None:
        """Stop the reply being generated after its current token (safe from any thread)."""
        self._cancel.set()

    def reset(self) -> None:
        """Forget the conversation (the system prompt and memory stay)."""
        self.history.clear()
        self.recalled.clear()

    def fork(self, **changes: Any) -> ChatSession:
        """A copy of this conversation on the same model and engine.

        E.g. ``use_adapter=False`` for A/B.
        """
        values = {
            "history": [dict(m) for m in self.history],
            "sampling": dict(self.sampling),
            "max_new_tokens": self.max_new_tokens,
            "seed": self.seed,
            "use_adapter": self.use_adapter,
            "memory": self.memory,
            "recalled": [list(ids) for ids in self.recalled],
        }
        values.update(changes)
        return ChatSession(self.loaded, self.system, engine=self.engine, **values)

    def save(self, path: Path, meta: dict[str, Any] | None = None) -> None:
        """Write the transcript (system prompt, messages, ``meta``) atomically as JSON.

        With memory, ``memory`` records its ``k`` and, per exchange, the ids it retrieved.
        """
        from studio.fsutil import atomic_write_text

        data: dict[str, Any] = {"system": self.system, "messages": self.history}
        if self.memory is not None or any(self.recalled):
            data["memory"] = {
                "k": self.memory.k if self.memory is not None else 0,
                "recalled": [list(ids) for ids in self.recalled],
            }
        data.update(meta or {})
        atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
