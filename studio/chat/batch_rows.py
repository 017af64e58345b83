"""Provides the pieces of a batched request: its state, its token stream and per-row sampling.

:mod:`studio.chat.batch` schedules; here is what each row carries (settings, output queue,
statistics), the iterator a caller reads its tokens from, and the sampler that picks the next
token of every row by that row's own settings in one pass.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from studio.chat.engine import Engine, GenerationStats
from studio.chat.sampling import Sampling

_END = object()


class Request:
    """One reply being generated: its settings, its place in a batch and its output queue."""

    def __init__(
        self,
        prompt: list[int],
        sampling: Sampling,
        max_new_tokens: int,
        stop: set[int],
        use_adapter: bool,
        cancel: threading.Event | None,
    ) -> None:
        self.prompt, self.sampling, self.max_new_tokens = prompt, sampling, max_new_tokens
        self.stop, self.use_adapter, self.cancel = stop, use_adapter, cancel
        self.out: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.stats = GenerationStats(prompt_tokens=len(prompt), finish_reason="length")
        self.started = time.perf_counter()
        self.closed = False
        self.done = False  # finished: a token computed for it after this is dropped
        self.generator: Any = None

    @property
    def cancelled(self) -> bool:
        return self.closed or (self.cancel is not None and self.cancel.is_set())

    def finish(self, reason: str, error: BaseException | None = None) -> None:
        self.done = True
        self.stats.finish_reason = reason
        self.stats.total_s = time.perf_counter() - self.started
        self.out.put(error if error is not None else _END)


class TokenStream:
    """The token ids of one reply as they are generated (an iterator, like ``Engine.generate``).

    ``close()`` cancels the request: it leaves the batch at the next decode step.
    """

    def __init__(self, request: Request, wake: Callable[[], None]) -> None:
        self._request, self._wake, self._done = request, wake, False

    @property
    def stats(self) -> GenerationStats:
        """Tokens, timings and finish reason of this reply (final once the stream ends)."""
        return self._request.stats

    def __iter__(self) -> TokenStream:
        return self

    def __next__(self) -> int:
        if self._done:
            raise StopIteration
        item = self._request.out.get()
        if item is _END:
            self._done = True
            raise StopIteration
        if isinstance(item, BaseException):
            self._done = True
            raise item
        return int(item)

    def close(self) -> None:
        """Stop generating (no-op once finished)."""
        if not self._done:
            self._request.closed = True
            self._done = True
            self._wake()


def row_params(batch: Any, width: int, device: Any) -> dict[str, Any]:
    """Per-row sampling settings as tensors (rebuilt only when the rows change)."""
    import torch

    if batch.params is None:
        settings = [r.sampling for r in batch.rows]
        free = [i for i, s in enumerate(settings) if s.do_sample and s.seed is None]
        batch.params = {
            "penalty": (
                torch.tensor([[s.repetition_penalty] for s in settings], device=device)
                if any(s.repetition_penalty != 1.0 for s in settings)
                else None
            ),
            "seeded": [i for i, s in enumerate(settings) if s.do_sample and s.seed is not None],
            "free": torch.tensor(free, device=device) if free else None,
            "temperature": torch.tensor([[settings[i].temperature] for i in free], device=device),
            "top_k": torch.tensor(
                [[k if 0 < (k := settings[i].top_k) < width else width] for i in free],
                device=device,
            ),
            "top_p": torch.tensor([[settings[i].top_p] for i in free], device=device),
            "filter": any(settings[i].top_k or settings[i].top_p < 1.0 for i in free),
        }
    return batch.params


def pick_rows(logits: Any, batch: Any) -> Any:
    """Next token of every row, [B, V] → [B], each row by its own settings; no host sync."""
    import torch

    params = row_params(batch, logits.shape[-1], logits.device)
    if params["penalty"] is not None:
        penalty = params["penalty"]
        penalised = torch.where(logits < 0, logits * penalty, logits / penalty)
        logits = torch.where(batch.row_seen(), penalised, logits)
    tokens = logits.argmax(dim=-1)
    free = params["free"]
    if free is not None:
        scores = logits[free] / params["temperature"]
        if params["filter"]:
            ordered, order = torch.sort(scores, descending=True, dim=-1)
            ranks = torch.arange(ordered.shape[-1], device=scores.device)
            ordered = ordered.masked_fill(ranks >= params["top_k"], float("-inf"))
            probs = ordered.softmax(dim=-1)
            ordered = ordered.masked_fill(
                (probs.cumsum(dim=-1) - probs) >= params["top_p"], float("-inf")
            )
            scores = torch.full_like(scores, float("-inf")).scatter(-1, order, ordered)
        tokens[free] = torch.multinomial(scores.softmax(dim=-1), 1)[:, 0]
    for i in params["seeded"]:
        request = batch.rows[i]
        plain = dataclasses.replace(request.sampling, repetition_penalty=1.0)  # applied above
        tokens[i] = Engine._pick(logits[i : i + 1], plain, None, request.generator)[0]
    return tokens
