"""Provides the OpenAI-compatible HTTP backend: chat completions from any such endpoint.

Requests go to ``<base_url>/chat/completions`` with a deadline over the whole reply; a loopback
endpoint bypasses proxies. Errors say whether a retry may help (rate limits, server errors,
timeouts) and carry the server's ``Retry-After``. The API key is kept in memory only and never
appears in a repr, an error message or a file.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from studio.api.llm import LLMError, Messages
from studio.errors import StudioError

_RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


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
        return (
            f"OpenAIBackend({self.base_url!r}, model={self.model!r}, "
            f"key={'set' if self.__key else 'none'})"
        )

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
        """``text`` with the API key replaced (an endpoint may echo the Authorization header)."""
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
                f"{url}: the reply is over {_MAX_REPLY_BYTES // 2**20} MB; "
                "expected a chat completion",
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
