"""Provides the LLM backends of augmentation: any OpenAI-compatible endpoint or a local model.

Every backend is a callable ``llm(messages, *, seed=None, temperature=None, max_tokens=None)``
returning the reply text. :class:`RetryingLLM` wraps one with retries, exponential backoff and
cancellation; the tolerant parsing helpers at the end turn what a model actually writes (code
fences, JSON with trailing chatter, speaker labels, notes) into the message that was asked for.

Reading what models write (fences, JSON, labels) is in :mod:`studio.api.model_text`, re-exported here.

The API key is read from the environment variable that ``[augment] api_key_env`` names, kept in
memory only, and never appears in a repr, an error message or a file.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from studio.api.llm import Cancelled, LLMError, Messages, UnusableOutput
from studio.api.model_text import clean_message, extract_json, is_garbled, strip_fences
from studio.errors import StudioError

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
_RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
_MAX_BACKOFF = 30.0


# --------------------------------------------------------------------------------------------
# Backends
# --------------------------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


class OpenAIBackend:
    """One OpenAI-compatible ``/chat/completions`` endpoint (vLLM, llama.cpp, Ollama, OpenAI …).

    Args:
        base_url: the API root including ``/v1`` (a bare ``http://host:port`` gets ``/v1``).
        model: model name sent with every request.
        api_key: sent as a bearer token; None sends no Authorization header.
        timeout: seconds to wait on the connection and on each read.
    """

    def __init__(
        self, base_url: str, model: str, api_key: str | None = None, timeout: float = 120.0
    ) -> None:
        parsed = urllib.parse.urlsplit(base_url.strip())
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise StudioError(
                f"[augment] base_url: expected http(s)://host[:port]/v1, got {base_url!r}"
            )
        path = parsed.path.rstrip("/") or "/v1"
        self.base_url = urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, path, "", ""))
        self.url = self.base_url + "/chat/completions"
        self.model = model
        self.timeout = timeout
        self.__key = api_key or None
        handlers: list[Any] = (
            [urllib.request.ProxyHandler({})] if _is_loopback(parsed.hostname or "") else []
        )
        self._opener = urllib.request.build_opener(*handlers)

    def __repr__(self) -> str:
        return f"OpenAIBackend({self.base_url!r}, model={self.model!r}, key={'set' if self.__key else 'none'})"

    def describe(self) -> dict[str, Any]:
        """What the job journal records about the backend (never the key)."""
        return {"backend": "openai", "base_url": self.base_url, "model": self.model}

    def __call__(
        self,
        messages: Messages,
        *,
        seed: int | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> str:
        """Send one request; no retries here (see :class:`RetryingLLM`).

        Raises:
            LLMError: the request failed; ``retryable`` says whether trying again may help.
        """
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "stream": False,
        }
        if seed is not None:
            body["seed"] = int(seed)
        if temperature is not None:
            body["temperature"] = float(temperature)
        if max_tokens is not None:
            body["max_tokens"] = int(max_tokens)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.__key:
            headers["Authorization"] = f"Bearer {self.__key}"
        request = urllib.request.Request(
            self.url,
            data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            headers=headers,
            method="POST",
        )
        deadline = time.monotonic() + self.timeout
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                raw = _read_body(response, deadline, self.url, self.timeout)
        except urllib.error.HTTPError as exc:
            detail = self._redact(_error_detail(exc))
            retry_after = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
            hint = (
                " (check the key in the variable [augment] api_key_env names)"
                if exc.code in (401, 403)
                else ""
            )
            raise LLMError(
                f"{self.url}: HTTP {exc.code}{hint}: {detail}",
                retryable=exc.code in _RETRYABLE_STATUS,
                retry_after=retry_after,
            ) from None
        except TimeoutError:
            raise LLMError(
                f"{self.url}: no reply within {self.timeout:g}s", retryable=True
            ) from None
        except (urllib.error.URLError, ConnectionError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            raise LLMError(
                f"{self.url}: cannot connect: {self._redact(str(reason))}", retryable=True
            ) from None
        try:
            return _content_of(raw, self.url)
        except (
            LLMError
        ) as exc:  # a server may quote the request back: never let the key into a message
            text = self._redact(str(exc))
            if text == str(exc):
                raise
            raise LLMError(text, retryable=exc.retryable, retry_after=exc.retry_after) from None

    def _redact(self, text: str) -> str:
        """``text`` with the API key replaced (an endpoint may echo the Authorization header back)."""
        return text.replace(self.__key, "[api key]") if self.__key else text


_MAX_REPLY_BYTES = 16 * 2**20  # a chat completion is kilobytes; a body past this is not one


def _read_body(response: Any, deadline: float, url: str, timeout: float) -> bytes:
    """The whole body, within the request's time budget (a server dripping bytes cannot hold it
    past ``timeout``) and under :data:`_MAX_REPLY_BYTES`.

    Raises:
        LLMError: the body took too long or is too large.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise LLMError(f"{url}: the reply did not arrive within {timeout:g}s", retryable=True)
        chunk = response.read1(65536) if hasattr(response, "read1") else response.read(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > _MAX_REPLY_BYTES:
            raise LLMError(
                f"{url}: the reply is over {_MAX_REPLY_BYTES // 2**20} MB; expected a chat completion",
                retryable=False,
            )
        chunks.append(chunk)


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        text = exc.read(65536).decode("utf-8", "replace")
    except Exception:
        return exc.reason or ""
    try:
        data = json.loads(text)
        error = data.get("error", data)
        text = error.get("message", text) if isinstance(error, dict) else str(error)
    except (ValueError, AttributeError):
        pass
    return " ".join(str(text).split())[:300]


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _content_of(raw: bytes, url: str) -> str:
    """The first choice's message text of a chat-completion body."""
    try:
        data = json.loads(raw.decode("utf-8"))
        choice = data["choices"][0]
        content = choice["message"]["content"]
    except (ValueError, UnicodeDecodeError, KeyError, IndexError, TypeError, RecursionError):
        snippet = raw[:120].decode("utf-8", "replace")
        raise LLMError(
            f"{url}: expected a chat completion JSON body, got {snippet!r}", retryable=True
        ) from None
    if content is None:
        reason = choice.get("finish_reason") if isinstance(choice, dict) else None
        raise LLMError(f"{url}: the reply has no text (finish_reason {reason!r})", retryable=False)
    return str(content)


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
        attempt = 0
        while True:
            if self.cancelled():
                raise Cancelled("cancelled")
            started = time.perf_counter()
            try:
                text = self.backend(
                    messages, seed=seed, temperature=temperature, max_tokens=max_tokens
                )
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
            return text

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
            f"[augment] model: expected the model name to request from {base_url} (or set {MODEL_ENV})"
        )
    key = env.get(config.api_key_env) if config.api_key_env else None
    return OpenAIBackend(base_url, model, key, timeout=config.timeout)
