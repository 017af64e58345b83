"""Provides the model client contract of plugins: the LLM protocol and the errors it raises.

The host builds the client (``[augment]`` of studio.toml, or a parser's own options) from the
studio's one LLM layer, :mod:`studio.llm`: an OpenAI-compatible endpoint or a local model, with
retries, backoff, timeouts and cancellation. Strategies get it as ``AugmentContext.llm``,
parsers as ``ParseContext.llm``; neither ships a client of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from studio.errors import StudioError

Messages = Sequence[Mapping[str, str]]
"""OpenAI-style messages: ``[{"role": "system" | "user" | "assistant", "content": "…"}, …]``."""


@runtime_checkable
class LLM(Protocol):
    """A chat model: messages in, the reply text out.

    Transport errors are retried by the host's client; what reaches the caller is an
    :class:`LLMError` (or :class:`Cancelled` when the user cancelled while it waited).
    """

    def __call__(
        self,
        messages: Messages,
        *,
        seed: int | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> str: ...


class LLMError(StudioError):
    """A request to the model failed.

    Args:
        message: what happened (never contains the API key).
        retryable: a later attempt may succeed (timeout, connection error, 429, 5xx).
        retry_after: seconds the server asked to wait, when it said.
    """

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class UnusableOutput(LLMError):
    """The model answered, but nothing usable could be read from its text (after every try)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class Cancelled(StudioError):
    """The user cancelled the job while a request was waiting."""


def ask_many(
    llm: LLM,
    requests: Sequence[Messages],
    *,
    temperature: float | None = None,
    max_tokens: int | None = None,
    workers: int = 8,
) -> list[str | LLMError]:
    """Replies to several requests, in order: together where the client batches, else in threads.

    A client with a ``many`` method (the host's clients have one: a local model pads the requests
    into one batch, an endpoint gets them concurrently) answers them at once; any other callable
    is asked from ``workers`` threads. A request that fails gives its :class:`LLMError` in its
    place; :class:`Cancelled` stops them all.
    """
    many = getattr(llm, "many", None)
    if callable(many):
        return list(many(requests, temperature=temperature, max_tokens=max_tokens))
    return over_threads(
        llm, requests, temperature=temperature, max_tokens=max_tokens, workers=workers
    )


def over_threads(
    llm: LLM,
    requests: Sequence[Messages],
    *,
    temperature: float | None = None,
    max_tokens: int | None = None,
    workers: int = 8,
) -> list[str | LLMError]:
    """Each request through ``llm`` from a pool of ``workers`` threads; errors in their places."""
    from concurrent.futures import ThreadPoolExecutor

    def one(messages: Messages) -> str | LLMError:
        try:
            return llm(messages, temperature=temperature, max_tokens=max_tokens)
        except Cancelled:
            raise
        except LLMError as exc:
            return exc

    if len(requests) <= 1 or workers <= 1:
        return [one(messages) for messages in requests]
    with ThreadPoolExecutor(max_workers=min(workers, len(requests))) as pool:
        return list(pool.map(one, requests))
