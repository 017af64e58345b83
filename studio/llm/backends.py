"""Provides the LLM backends of augmentation: any OpenAI-compatible endpoint or a local model.

Every backend is a callable ``llm(messages, *, seed=None, temperature=None, max_tokens=None)``
returning the reply text. :class:`RetryingLLM` wraps one with retries, exponential backoff and
cancellation; the tolerant parsing helpers at the end turn what a model actually writes (code
fences, JSON with trailing chatter, speaker labels, notes) into the message that was asked for.

Reading what models write (fences, JSON, labels) is in :mod:`studio.api.model_text` and the
HTTP backend in :mod:`studio.llm.openai_http`; both are re-exported here.

The API key is read from the environment variable that ``[augment] api_key_env`` names, kept in
memory only, and never appears in a repr, an error message or a file.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from studio.api.llm import Cancelled, LLMError, Messages, UnusableOutput, over_threads
from studio.api.model_text import clean_message, extract_json, is_garbled, strip_fences
from studio.errors import StudioError
from studio.llm.openai_http import OpenAIBackend

__all__ = [
    "Cancelled",
    "LLMError",
    "LLMStats",
    "LocalBackend",
    "OpenAIBackend",
    "RetryingLLM",
    "UnusableOutput",
    "clean_message",
    "extract_json",
    "is_garbled",
    "make_backend",
    "strip_fences",
]


BASE_URL_ENV = "PERSONA_STUDIO_AUGMENT_BASE_URL"
MODEL_ENV = "PERSONA_STUDIO_AUGMENT_MODEL"
_MAX_BACKOFF = 30.0


# --------------------------------------------------------------------------------------------
# Backends
# --------------------------------------------------------------------------------------------


class LocalBackend:
    """A transformers model in this process, loaded on first use; one generation at a time.

    Args:
        load: returns a :class:`studio.train.base_model.LoadedModel` (called once, lazily).
        description: what the job journal records (model name, adapter).
        session: makes a chat session on the loaded model (``studio.chat.session.ChatSession``;
            passed in, so that this layer imports no stage above it).
    """

    def __init__(
        self,
        load: Callable[[], Any],
        description: Mapping[str, Any],
        session: Callable[..., Any] | None = None,
    ) -> None:
        self._load = load
        self._session = session
        self._loaded: Any = None
        self._lock = threading.Lock()
        self._description = dict(description)

    def describe(self) -> dict[str, Any]:
        return {"backend": "local", **self._description}

    def __call__(
        self,
        messages: Messages,
        *,
        seed: int | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> str:
        if self._session is None:
            raise LLMError("local model: no chat session to generate with", retryable=False)
        messages = list(messages)
        if not messages or messages[-1].get("role") != "user":
            raise LLMError(
                "local model: expected messages ending with a user message", retryable=False
            )
        system = messages[0]["content"] if messages[0].get("role") == "system" else ""
        history = [dict(m) for m in messages[1 if system else 0 : -1]]
        sampling: dict[str, Any] = {"do_sample": False}
        if temperature is None or temperature > 0:
            sampling = {
                "do_sample": True,
                "temperature": temperature or 0.9,
                "top_p": 0.95,
                "repetition_penalty": 1.05,
            }
        with self._lock:  # one model, one generation at a time (and the seed stays meaningful)
            if self._loaded is None:
                self._loaded = self._load()
            session = self._session(
                self._loaded,
                system,
                history=history,
                sampling=sampling,
                max_new_tokens=max_tokens or 256,
                seed=seed,
            )
            try:
                return session.reply(messages[-1]["content"])
            except StudioError as exc:
                raise LLMError(f"local model: {exc}", retryable=False) from None


# --------------------------------------------------------------------------------------------
# Retries
# --------------------------------------------------------------------------------------------


@dataclass
class LLMStats:
    """Counters of one job's requests (thread-safe through :class:`RetryingLLM`)."""

    requests: int = 0
    failures: int = 0
    retries: int = 0
    seconds: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)


class RetryingLLM:
    """Wraps a backend with retries, exponential backoff and cancellation.

    Args:
        backend: a callable backend (``OpenAIBackend``, ``LocalBackend`` or your own).
        retries: attempts after the first for retryable errors.
        backoff: first wait in seconds; doubled each retry, capped at 30 s (a server's
            ``Retry-After`` wins when longer).
        cancelled: polled while waiting; when it returns True the call raises :class:`Cancelled`.
        temperature / max_tokens: used when a call does not say.
    """

    def __init__(
        self,
        backend: Callable[..., str],
        *,
        retries: int = 3,
        backoff: float = 1.0,
        cancelled: Callable[[], bool] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> None:
        self.backend = backend
        self.retries = retries
        self.backoff = backoff
        self.cancelled = cancelled or (lambda: False)
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.stats = LLMStats()
        self._lock = threading.Lock()

    def describe(self) -> dict[str, Any]:
        describe = getattr(self.backend, "describe", None)
        return describe() if callable(describe) else {"backend": type(self.backend).__name__}

    def __call__(
        self,
        messages: Messages,
        *,
        seed: int | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> str:
        """The reply text.

        Raises:
            LLMError: the last attempt failed, or the error cannot be fixed by retrying.
            Cancelled: the user cancelled while waiting.
        """
        temperature = self.temperature if temperature is None else temperature
        max_tokens = self.max_tokens if max_tokens is None else max_tokens
        return self._retry(
            lambda: self.backend(
                messages, seed=seed, temperature=temperature, max_tokens=max_tokens
            )
        )

    def _retry(self, call: Callable[[], Any]) -> Any:
        """``call()``, again after a backoff while it fails with a retryable error."""
        attempt = 0
        while True:
            if self.cancelled():
                raise Cancelled("cancelled")
            started = time.perf_counter()
            try:
                result = call()
            except LLMError as exc:
                self._count(time.perf_counter() - started, exc)
                if not exc.retryable or attempt >= self.retries:
                    raise
                attempt += 1
                with self._lock:
                    self.stats.retries += 1
                wait = min(self.backoff * 2 ** (attempt - 1), _MAX_BACKOFF)
                self._sleep(max(wait, min(exc.retry_after or 0.0, 2 * _MAX_BACKOFF)))
                continue
            self._count(time.perf_counter() - started, None)
            return result

    def many(
        self,
        requests: Sequence[Messages],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> list[str | LLMError]:
        """Replies to several requests, errors in their places (see :func:`studio.api.ask_many`).

        A backend with its own ``many`` (a local model: one padded batch) answers them together,
        the whole batch retried like one request; any other is asked from a pool of threads.
        """
        temperature = self.temperature if temperature is None else temperature
        max_tokens = self.max_tokens if max_tokens is None else max_tokens
        batch = getattr(self.backend, "many", None)
        if not callable(batch):
            return over_threads(self, requests, temperature=temperature, max_tokens=max_tokens)
        try:
            return list(
                self._retry(lambda: batch(requests, temperature=temperature, max_tokens=max_tokens))
            )
        except LLMError as exc:
            return [exc for _ in requests]

    def _count(self, seconds: float, error: LLMError | None) -> None:
        with self._lock:
            self.stats.requests += 1
            self.stats.seconds += seconds
            if error is not None:
                self.stats.failures += 1
                kind = str(error).split(": ", 1)[-1].split(":")[0][:40]
                self.stats.errors[kind] = self.stats.errors.get(kind, 0) + 1

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.cancelled():
                raise Cancelled("cancelled")
            time.sleep(min(left, 0.05))


def make_backend(
    config: Any,
    describe_local: Mapping[str, Any],
    load_local: Callable[[], Any],
    env: Mapping[str, str] | None = None,
    session: Callable[..., Any] | None = None,
) -> Any:
    """The backend studio.toml ``[augment]`` (and the environment) asks for.

    ``PERSONA_STUDIO_AUGMENT_BASE_URL`` / ``PERSONA_STUDIO_AUGMENT_MODEL`` override ``base_url``
    / ``model``; the key comes only from the variable named by ``api_key_env``.

    Args:
        config: the ``[augment]`` section.
        describe_local / load_local: the local model's description and loader, used when no
            base URL is set.
        env: the environment (``os.environ`` by default).
        session: the chat session factory of the local model (see :class:`LocalBackend`).
    """
    env = os.environ if env is None else env
    base_url = env.get(BASE_URL_ENV) or config.base_url
    model = env.get(MODEL_ENV) or config.model
    if not base_url:
        return LocalBackend(load_local, describe_local, session)
    if not model:
        raise StudioError(
            f"[augment] model: expected the model name to request from {base_url} "
            f"(or set {MODEL_ENV})"
        )
    key = env.get(config.api_key_env) if config.api_key_env else None
    return OpenAIBackend(base_url, model, key, timeout=config.timeout)
