"""Provides continuous batching: many requests decode together on one model, UI-free.

:class:`BatchEngine` has the interface of :class:`studio.chat.engine.Engine` (``generate`` yields
a reply's token ids, so :func:`studio.chat.session.stream_text` streams its text) but does not
serialise requests: one scheduler thread owns the model and

- **admits** waiting requests between decode steps: each is prefilled on its own (no padded
  queries, so its logits are those of a single-request run) and its first token is sampled;
- **decodes** every running request in one forward per step (one token per row);
- **retires** a request when it stops, reaches its length, or its consumer cancels or goes away
  (``close()`` on the token stream, or the ``cancel`` event): it leaves at the next step.

KV cache: one transformers ``DynamicCache`` per batch, **left-padded**. A joining request's
prefill cache is padded (or the batch's is) so that every row ends at the same column; a 2-D
attention mask marks the padding and each row carries its own position ids, so RoPE and the
attention see exactly the positions of a single-request run. Padding only ever appears as keys
(masked, zero), never as queries. When requests leave, the rows are selected out and leading
columns that are padding in every remaining row are dropped. This is the layout transformers'
own batched ``generate`` uses; a static per-slot cache would need per-row write positions,
which its ``StaticCache`` does not offer.

Sampling is per row: greedy rows take the argmax, unseeded sampling rows are sampled together
(per-row temperature, top-k and top-p as tensors), seeded rows draw from their own generator
with the single-request engine's own picker, so a seeded request gives the same tokens alone or
in a batch. Repetition penalties are per row over a per-row mask of the tokens seen.

Requests with the LoRA adapter disabled (the ``:base`` model) decode in a second batch, since
the adapter is switched for a whole forward.
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import threading
import time
from collections.abc import Sequence
from typing import Any

from studio.chat.engine import ContextOverflow, Engine, GenerationStats, Sampling, _forward_params
from studio.errors import StudioError

_END = object()


class _Request:
    """One reply being generated: its settings, its place in a batch and its output queue."""

    def __init__(self, prompt: list[int], sampling: Sampling, max_new_tokens: int, stop: set[int],
                 use_adapter: bool, cancel: threading.Event | None) -> None:
        self.prompt, self.sampling, self.max_new_tokens = prompt, sampling, max_new_tokens
        self.stop, self.use_adapter, self.cancel = stop, use_adapter, cancel
        self.out: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.stats = GenerationStats(prompt_tokens=len(prompt), finish_reason="length")
        self.started = time.perf_counter()
        self.closed = False
        self.generator: Any = None

    @property
    def cancelled(self) -> bool:
        return self.closed or (self.cancel is not None and self.cancel.is_set())

    def finish(self, reason: str, error: BaseException | None = None) -> None:
        self.stats.finish_reason = reason
        self.stats.total_s = time.perf_counter() - self.started
        self.out.put(error if error is not None else _END)


class TokenStream:
    """The token ids of one reply as they are generated (an iterator, like ``Engine.generate``).

    ``close()`` cancels the request: it leaves the batch at the next decode step.
    """

    def __init__(self, request: _Request, engine: BatchEngine) -> None:
        self._request, self._engine, self._done = request, engine, False

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
            self._engine._wake()


class _Batch:
    """The running rows that share one adapter setting, with their left-padded cache."""

    def __init__(self) -> None:
        self.rows: list[_Request] = []
        self.cache: Any = None
        self.mask: Any = None  # [B, L] 1 for real tokens, 0 for padding
        self.tokens: Any = None  # [B] the token each row feeds next
        self.positions: Any = None  # [B, 1] its position
        self.seen: Any = None  # [B, V] tokens in the prompt or reply (repetition penalty)
        self.params: dict[str, Any] | None = None  # per-row sampling tensors, rebuilt on changes

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]


class BatchEngine:
    """Generates replies for many concurrent requests on one model with continuous batching.

    Args:
        model: a transformers causal LM or a peft ``PeftModel`` around one.
        stop_ids: token ids that end a reply (the model's end-of-turn tokens).
        max_batch: the most requests decoding at once; more wait for a free row.
        max_cache_len: the context budget per request (default: the model's context).
        vocab_size: ids from here up are never picked.
    """

    def __init__(self, model: Any, stop_ids: Sequence[int] = (), *, max_batch: int = 32,
                 max_cache_len: int | None = None, vocab_size: int | None = None) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch: expected at least 1, got {max_batch}")
        self.model = model
        self.inner = model.get_base_model() if hasattr(model, "get_base_model") else model
        self.stop_ids = {int(i) for i in stop_ids}
        self.max_batch = max_batch
        self.vocab_size = vocab_size
        context = int(getattr(self.inner.config, "max_position_embeddings", 0) or 4096)
        self.capacity = min(context, max_cache_len) if max_cache_len else context
        self._cache_kw = "cache" if "cache" in _forward_params(self.inner) else "past_key_values"
        self.last_stats = GenerationStats()
        self._cond = threading.Condition()
        self._pending: list[_Request] = []
        self._batches = {True: _Batch(), False: _Batch()}
        self._closed = False
        self._thread: threading.Thread | None = None

    @property
    def device(self) -> Any:
        return next(self.inner.parameters()).device

    @property
    def running(self) -> int:
        """Requests decoding now (not counting those waiting to join)."""
        return sum(len(b.rows) for b in self._batches.values())

    # -- the public side ------------------------------------------------------------------

    def generate(self, prompt: Sequence[int], *, sampling: Sampling | None = None, max_new_tokens: int = 256,
                 cancel: threading.Event | None = None, use_adapter: bool = True,
                 stop_ids: Sequence[int] | None = None) -> TokenStream:
        """Queue a request; the returned stream yields its token ids (end-of-turn ids are not yielded).

        Arguments as :meth:`studio.chat.engine.Engine.generate`.

        Raises:
            ContextOverflow: the prompt plus ``max_new_tokens`` does not fit.
            StudioError: an empty prompt, or the engine is closed.
        """
        prompt = [int(t) for t in prompt]
        if not prompt:
            raise StudioError("empty prompt")
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens: expected at least 1, got {max_new_tokens}")
        if len(prompt) + max_new_tokens > self.capacity:
            raise ContextOverflow(
                f"the prompt has {len(prompt)} tokens and the reply may take {max_new_tokens}, "
                f"but the context holds {self.capacity}; shorten the conversation or lower max_new_tokens")
        stop = self.stop_ids if stop_ids is None else {int(i) for i in stop_ids}
        request = _Request(prompt, sampling or Sampling(), max_new_tokens, stop,
                           use_adapter or not hasattr(self.model, "disable_adapter"), cancel)
        self.last_stats = request.stats
        with self._cond:
            if self._closed:
                raise StudioError("the generation engine is closed")
            self._pending.append(request)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="batch-engine", daemon=True)
                self._thread.start()
            self._cond.notify()
        return TokenStream(request, self)

    def close(self) -> None:
        """Stop the scheduler; waiting and running requests end with an error."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify()

    # -- the scheduler --------------------------------------------------------------------

    def _loop(self) -> None:
        import torch

        while True:
            with self._cond:
                while not self._closed and not self._pending and not self.running:
                    self._cond.wait()
                if self._closed:
                    leftover, self._pending = self._pending, []
                    break
                room = self.max_batch - self.running
                joining, self._pending = self._pending[:room], self._pending[room:]
            with torch.no_grad():
                for request in joining:
                    self._admit(request)
                for use_adapter, batch in self._batches.items():
                    if batch.rows:
                        self._step(batch, use_adapter)
        error = StudioError("the generation engine is closed")
        for request in leftover + [r for b in self._batches.values() for r in b.rows]:
            request.finish("error", error)

    def _adapter(self, use_adapter: bool) -> Any:
        if not use_adapter and hasattr(self.model, "disable_adapter"):
            return self.model.disable_adapter()
        return contextlib.nullcontext()

    def _forward(self, ids: Any, positions: Any, cache: Any, mask: Any = None) -> Any:
        out = self.inner(input_ids=ids, position_ids=positions, attention_mask=mask, use_cache=True,
                         logits_to_keep=1, **{self._cache_kw: cache})
        return out.logits[:, -1, : self.vocab_size].float()

    def _emit(self, request: _Request, value: int) -> bool:
        """Deliver one sampled token; False when the request is finished."""
        if request.stats.new_tokens == 0 and request.stats.ttft_s == 0.0:
            request.stats.ttft_s = time.perf_counter() - request.started
        if value in request.stop:
            request.finish("stop")
            return False
        request.stats.new_tokens += 1
        request.out.put(value)
        if request.cancelled:
            request.finish("cancelled")
            return False
        if request.stats.new_tokens >= request.max_new_tokens:
            request.finish("length")
            return False
        return True

    def _admit(self, request: _Request) -> None:
        """Prefill a request, sample its first token and add it to its batch."""
        import torch
        from transformers import DynamicCache

        if request.cancelled:
            request.finish("cancelled")
            return
        device = self.device
        try:
            sampling = request.sampling
            if sampling.do_sample and sampling.seed is not None:
                request.generator = torch.Generator(device=device).manual_seed(int(sampling.seed))
            cache = DynamicCache(config=self.inner.config)
            size = len(request.prompt)
            with self._adapter(request.use_adapter):
                logits = self._forward(torch.tensor([request.prompt], device=device),
                                       torch.arange(size, device=device).unsqueeze(0), cache)
            seen = torch.zeros(logits.shape, dtype=torch.bool, device=device)
            seen[0, torch.tensor(request.prompt, device=device).clamp(max=logits.shape[-1] - 1)] = True
            token = Engine._pick(logits, sampling, seen, request.generator)
            if not self._emit(request, int(token)):
                return
            self._join(self._batches[request.use_adapter], request, cache, token, seen, size)
        except Exception as exc:  # this request fails; the others go on
            request.finish("error", exc)

    def _join(self, batch: _Batch, request: _Request, cache: Any, token: Any, seen: Any, size: int) -> None:
        """Merge a prefilled request into ``batch``, left-padding whichever side is shorter."""
        import torch
        import torch.nn.functional as F

        device = self.device
        if any(getattr(layer, "is_sliding", False) for layer in cache.layers):
            raise StudioError("batched decoding does not support sliding-window attention layers")
        mask = torch.ones(1, size, dtype=torch.long, device=device)
        position = torch.tensor([[size]], device=device)
        if batch.cache is None:
            batch.cache, batch.mask, batch.tokens, batch.positions, batch.seen = cache, mask, token.view(1), position, seen
        else:
            have = batch.mask.shape[1]
            grow, pad = max(0, size - have), max(0, have - size)
            for old, new in zip(batch.cache.layers, cache.layers):
                old.keys = torch.cat([F.pad(old.keys, (0, 0, grow, 0)), F.pad(new.keys, (0, 0, pad, 0))])
                old.values = torch.cat([F.pad(old.values, (0, 0, grow, 0)), F.pad(new.values, (0, 0, pad, 0))])
            batch.mask = torch.cat([F.pad(batch.mask, (grow, 0)), F.pad(mask, (pad, 0))])
            batch.tokens = torch.cat([batch.tokens, token.view(1)])
            batch.positions = torch.cat([batch.positions, position])
            batch.seen = torch.cat([batch.seen, seen])
        batch.rows.append(request)
        batch.params = None

    def _step(self, batch: _Batch, use_adapter: bool) -> None:
        """One decode step for every row of ``batch``."""
        import torch

        gone = [i for i, r in enumerate(batch.rows) if r.cancelled]
        for i in gone:
            batch.rows[i].finish("cancelled")
        if gone:
            self._keep(batch, [i for i in range(len(batch.rows)) if i not in set(gone)])
            if not batch.rows:
                return
        rows = batch.rows
        try:
            mask = torch.cat([batch.mask, batch.mask.new_ones(len(rows), 1)], dim=1)
            with self._adapter(use_adapter):
                logits = self._forward(batch.tokens.view(-1, 1), batch.positions, batch.cache, mask)
            batch.mask = mask
            batch.positions += 1
            batch.seen[torch.arange(len(rows), device=batch.seen.device), batch.tokens] = True
            batch.tokens = self._pick(logits, batch)
            values = batch.tokens.tolist()
        except Exception as exc:  # a failed forward leaves the cache unusable: these requests fail
            for request in rows:
                request.finish("error", exc)
            batch.clear()
            return
        keep = [i for i, (request, value) in enumerate(zip(rows, values)) if self._emit(request, value)]
        if len(keep) < len(rows):
            self._keep(batch, keep)

    def _keep(self, batch: _Batch, keep: list[int]) -> None:
        """Drop every row not in ``keep``; trim the padding no remaining row needs."""
        import torch

        if not keep:
            batch.clear()
            return
        index = torch.tensor(keep, device=batch.mask.device)
        batch.rows = [batch.rows[i] for i in keep]
        batch.cache.batch_select_indices(index)
        batch.mask, batch.tokens = batch.mask[index], batch.tokens[index]
        batch.positions, batch.seen = batch.positions[index], batch.seen[index]
        start = int(batch.mask.any(dim=0).int().argmax())  # the first column some row uses
        if start:
            for layer in batch.cache.layers:
                layer.keys, layer.values = layer.keys[:, :, start:], layer.values[:, :, start:]
            batch.mask = batch.mask[:, start:]
        batch.params = None

    # -- sampling -------------------------------------------------------------------------

    def _params(self, batch: _Batch, width: int) -> dict[str, Any]:
        """Per-row sampling settings as tensors (rebuilt only when the rows change)."""
        import torch

        if batch.params is None:
            device = self.device
            settings = [r.sampling for r in batch.rows]
            free = [i for i, s in enumerate(settings) if s.do_sample and s.seed is None]
            batch.params = {
                "penalty": (torch.tensor([[s.repetition_penalty] for s in settings], device=device)
                            if any(s.repetition_penalty != 1.0 for s in settings) else None),
                "seeded": [i for i, s in enumerate(settings) if s.do_sample and s.seed is not None],
                "free": torch.tensor(free, device=device) if free else None,
                "temperature": torch.tensor([[settings[i].temperature] for i in free], device=device),
                "top_k": torch.tensor([[k if 0 < (k := settings[i].top_k) < width else width] for i in free],
                                      device=device),
                "top_p": torch.tensor([[settings[i].top_p] for i in free], device=device),
                "filter": any(settings[i].top_k or settings[i].top_p < 1.0 for i in free),
            }
        return batch.params

    def _pick(self, logits: Any, batch: _Batch) -> Any:
        """Next token of every row, [B, V] → [B], each row by its own settings; no host sync."""
        import torch

        params = self._params(batch, logits.shape[-1])
        if params["penalty"] is not None:
            penalty = params["penalty"]
            penalised = torch.where(logits < 0, logits * penalty, logits / penalty)
            logits = torch.where(batch.seen, penalised, logits)
        tokens = logits.argmax(dim=-1)
        free = params["free"]
        if free is not None:
            scores = logits[free] / params["temperature"]
            if params["filter"]:
                ordered, order = torch.sort(scores, descending=True, dim=-1)
                ranks = torch.arange(ordered.shape[-1], device=scores.device)
                ordered = ordered.masked_fill(ranks >= params["top_k"], float("-inf"))
                probs = ordered.softmax(dim=-1)
                ordered = ordered.masked_fill((probs.cumsum(dim=-1) - probs) >= params["top_p"], float("-inf"))
                scores = torch.full_like(scores, float("-inf")).scatter(-1, order, ordered)
            tokens[free] = torch.multinomial(scores.softmax(dim=-1), 1)[:, 0]
        for i in params["seeded"]:
            request = batch.rows[i]
            plain = dataclasses.replace(request.sampling, repetition_penalty=1.0)  # applied above
            tokens[i] = Engine._pick(logits[i : i + 1], plain, None, request.generator)[0]
        return tokens
