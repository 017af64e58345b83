"""Provides continuous batching: many requests decode together on one model, UI-free.

:class:`BatchEngine` has the interface of :class:`studio.chat.engine.Engine` (``generate`` yields
a reply's token ids, so :func:`studio.chat.session.stream_text` streams its text) but does not
serialise requests: one scheduler thread owns the model and

- **admits** waiting requests between decode steps: they are prefilled together in one
  forward (right-padded, so a pad only ever follows real tokens and no query is fully masked)
  and each one's first token is sampled from the logits at its own last prompt token;
- **decodes** every running request in one forward per step (one token per row);
- **retires** a request when it stops, reaches its length, or its consumer cancels or goes away
  (``close()`` on the token stream, or the ``cancel`` event): it leaves at the next step.

The KV-cache layout is one of :mod:`studio.chat.batch_cache`: a left-padded dynamic cache
(eager; memory follows the load) or, with ``static=True``, fixed slots of a static cache written
at one shared column, whose decode step ``compiled=True`` compiles once per power-of-two batch
size (CUDA graphs on a GPU), so a step costs the same few launches at 1 row as at 32.

Sampling is per row: greedy rows take the argmax, unseeded sampling rows are sampled together
(per-row temperature, top-k and top-p as tensors), seeded rows draw from their own generator
with the single-request engine's own picker, so a seeded request gives the same tokens alone or
in a batch. Repetition penalties are per row over a per-row mask of the tokens seen.

Requests with the LoRA adapter disabled (the ``:base`` model) decode in a second batch, since
the adapter is switched for a whole forward.
"""

from __future__ import annotations

import contextlib
import threading
import time
import warnings
from collections.abc import Sequence
from typing import Any

from studio.chat.attention import use_decode_attention
from studio.chat.batch_cache import PaddedBatch, SlotBatch
from studio.chat.batch_rows import Request, TokenStream, pick_rows
from studio.chat.engine import Engine, GenerationStats, checked_prompt
from studio.chat.sampling import Sampling
from studio.chat.steps import RowReader, cudagraph_thread_setup, forward_params
from studio.errors import StudioError


class BatchEngine:
    """Generates replies for many concurrent requests on one model with continuous batching.

    Args:
        model: a transformers causal LM or a peft ``PeftModel`` around one.
        stop_ids: token ids that end a reply (the model's end-of-turn tokens).
        max_batch: the most requests decoding at once; more wait for a free row.
        max_cache_len: the context budget per request (default: the model's context; with
            ``static``, at most 4096: the static cache holds ``max_batch`` × this many tokens).
        vocab_size: ids from here up are never picked.
        static: fixed slots of a static cache (:class:`studio.chat.batch_cache.SlotBatch`).
        compiled: compile the decode step (CUDA graphs on a GPU); implies ``static``.
    """

    def __init__(
        self,
        model: Any,
        stop_ids: Sequence[int] = (),
        *,
        max_batch: int = 32,
        max_cache_len: int | None = None,
        vocab_size: int | None = None,
        static: bool = False,
        compiled: bool = False,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch: expected at least 1, got {max_batch}")
        self.model = model
        self.inner = model.get_base_model() if hasattr(model, "get_base_model") else model
        use_decode_attention(self.inner)  # decode steps read the KV cache once (see the module)
        self.stop_ids = {int(i) for i in stop_ids}
        self.max_batch = max_batch
        self.static, self.compiled = static or compiled, compiled
        config = self.inner.config
        context = int(getattr(config, "max_position_embeddings", 0) or 4096)
        if self.static:
            context = min(context, 4096)
        self.capacity = min(context, max_cache_len) if max_cache_len else context
        self.vocab_size = vocab_size
        width = vocab_size or int(self.inner.get_output_embeddings().weight.shape[0])
        self._cache_kw = "cache" if "cache" in forward_params(self.inner) else "past_key_values"
        self.last_stats = GenerationStats()
        self._cond = threading.Condition()
        self._pending: list[Request] = []

        def layout() -> Any:
            if self.static:
                return SlotBatch(config, max_batch, self.capacity, width, self.device)
            return PaddedBatch()

        self._batches = {True: layout(), False: layout()}
        # on a GPU the next step is queued before this step's tokens are read, so the GPU never
        # waits for the host's per-token work (a finished request's extra token is dropped)
        self.ahead = self.device.type == "cuda"
        self._readers = {key: RowReader(self.device, max_batch) for key in self._batches}
        self._inflight: dict[bool, tuple[list[Request], Any]] = {}
        self._closed = False
        self._thread: threading.Thread | None = None
        self._step_fn: Any = None
        self._graphs_ok = False

    @property
    def device(self) -> Any:
        return next(self.inner.parameters()).device

    @property
    def running(self) -> int:
        """Requests decoding now (not counting those waiting to join)."""
        return sum(len(b.rows) for b in self._batches.values())

    # -- the public side ------------------------------------------------------------------

    def generate(
        self,
        prompt: Sequence[int],
        *,
        sampling: Sampling | None = None,
        max_new_tokens: int = 256,
        cancel: threading.Event | None = None,
        use_adapter: bool = True,
        stop_ids: Sequence[int] | None = None,
    ) -> TokenStream:
        """Queue a request; the stream yields its token ids (end-of-turn ids are not yielded).

        Arguments as :meth:`studio.chat.engine.Engine.generate`.

        Raises:
            ContextOverflow: the prompt plus ``max_new_tokens`` does not fit.
            StudioError: an empty prompt, or the engine is closed.
        """
        return self._submit([(prompt, sampling, max_new_tokens, cancel, use_adapter, stop_ids)])[0]

    def _submit(self, asks: list[tuple[Any, ...]]) -> list[TokenStream]:
        requests = []
        for prompt, sampling, max_new_tokens, cancel, use_adapter, stop_ids in asks:
            prompt = checked_prompt(prompt, max_new_tokens, self.capacity)
            stop = self.stop_ids if stop_ids is None else {int(i) for i in stop_ids}
            requests.append(
                Request(
                    prompt,
                    sampling or Sampling(),
                    max_new_tokens,
                    stop,
                    use_adapter or not hasattr(self.model, "disable_adapter"),
                    cancel,
                )
            )
        self.last_stats = requests[-1].stats
        with self._cond:
            if self._closed:
                raise StudioError("the generation engine is closed")
            self._pending.extend(requests)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="batch-engine", daemon=True)
                self._thread.start()
            self._cond.notify()
        return [TokenStream(r, self._wake) for r in requests]

    def warmup(self) -> float:
        """Compile the decode step for every batch size now, not under the first users.

        Returns:
            The seconds it took.
        """
        if not self.compiled:
            return 0.0
        started = time.perf_counter()
        rows = 1
        while True:
            for _ in range(2):  # compile and record, then replay
                asks: list[tuple[Any, ...]] = [
                    ([0, 1, 2, 3], Sampling(do_sample=False), 4, None, True, [])
                    for _ in range(rows)
                ]
                for stream in self._submit(asks):
                    try:
                        for _token in stream:
                            pass
                    except Exception:
                        if self.compiled:
                            raise
                        return time.perf_counter() - started  # it fell back to eager decoding
            if rows >= self.max_batch:
                break
            rows = min(self.max_batch, rows * 2)
        return time.perf_counter() - started

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
                while (
                    not self._closed
                    and not self._pending
                    and not self.running
                    and not self._inflight
                ):
                    self._cond.wait()
                if self._closed:
                    leftover, self._pending = self._pending, []
                    break
                room = self.max_batch - self.running
                joining, self._pending = self._pending[:room], self._pending[room:]
            with torch.no_grad():
                for use_adapter in (True, False):
                    group = [r for r in joining if r.use_adapter == use_adapter]
                    if group:
                        self._admit(group, use_adapter)
                for use_adapter, batch in self._batches.items():
                    if batch.rows:
                        self._step(batch, use_adapter)
                    elif use_adapter in self._inflight:  # the rest of a step queued ahead
                        self._settle(use_adapter, *self._inflight.pop(use_adapter))
        error = StudioError("the generation engine is closed")
        for request in leftover + [r for b in self._batches.values() for r in b.rows]:
            if not request.done:
                request.finish("error", error)

    def _adapter(self, use_adapter: bool) -> Any:
        if not use_adapter and hasattr(self.model, "disable_adapter"):
            return self.model.disable_adapter()
        return contextlib.nullcontext()

    def _forward(self, ids: Any, positions: Any, cache: Any, mask: Any = None) -> Any:
        out = self.inner(
            input_ids=ids,
            position_ids=positions,
            attention_mask=mask,
            use_cache=True,
            logits_to_keep=1,
            **{self._cache_kw: cache},
        )
        return out.logits[:, -1, : self.vocab_size].float()

    def _decode(self, ids: Any, positions: Any, cache: Any, mask: Any) -> Any:
        """One decode step, compiled when asked (one graph per batch size)."""
        if not self.compiled:
            return self._forward(ids, positions, cache, mask)
        import torch

        cuda = self.device.type == "cuda"
        if self._step_fn is None:
            # one graph per batch size and adapter setting: up to 2 × log2(max_batch) + 2
            limit = 2 * self.max_batch.bit_length() + 2
            torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, limit)
            self._step_fn = torch.compile(
                self._forward, mode="reduce-overhead" if cuda else "default", dynamic=False
            )
        if cuda:
            cudagraph_thread_setup()
            torch.compiler.cudagraph_mark_step_begin()
        # the output lives in the CUDA graph's pool until the next replay: copy it out
        return self._step_fn(ids, positions, cache, mask).clone()

    def _emit(self, request: Request, value: int) -> bool:
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

    def _admit(self, requests: list[Request], use_adapter: bool) -> None:
        """Prefill waiting requests in one forward, sample their first tokens, batch them."""
        import torch
        from transformers import DynamicCache

        live = [r for r in requests if not r.cancelled]
        for request in requests:
            if request.cancelled:
                request.finish("cancelled")
        if not live:
            return
        device = self.device
        try:
            sizes = [len(r.prompt) for r in live]
            longest = max(sizes)
            # right-padded: a pad only ever follows real tokens, so no query is fully masked
            ids = torch.tensor(
                [r.prompt + [0] * (longest - len(r.prompt)) for r in live], device=device
            )
            mask = torch.tensor([[1] * n + [0] * (longest - n) for n in sizes], device=device)
            positions = torch.arange(longest, device=device).expand(len(live), -1)
            lasts = sorted({n - 1 for n in sizes})
            cache = DynamicCache(config=self.inner.config)
            with self._adapter(use_adapter):
                out = self.inner(
                    input_ids=ids,
                    position_ids=positions,
                    attention_mask=None if len(live) == 1 else mask,
                    use_cache=True,
                    logits_to_keep=torch.tensor(lasts, device=device),
                    **{self._cache_kw: cache},
                )
            logits = out.logits[:, :, : self.vocab_size].float()
        except Exception as exc:  # these requests fail; the running ones go on
            for request in live:
                request.finish("error", exc)
            return
        batch = self._batches[use_adapter]
        for row, (request, size) in enumerate(zip(live, sizes, strict=True)):
            try:
                sampling = request.sampling
                if sampling.do_sample and sampling.seed is not None:
                    request.generator = torch.Generator(device=device).manual_seed(
                        int(sampling.seed)
                    )
                first = logits[row : row + 1, lasts.index(size - 1)]
                seen = torch.zeros(first.shape, dtype=torch.bool, device=device)
                seen[
                    0, torch.tensor(request.prompt, device=device).clamp(max=first.shape[-1] - 1)
                ] = True
                token = Engine._pick(first, sampling, seen, request.generator)
                if not self._emit(request, int(token)):
                    continue
                keys = [layer.keys[row : row + 1, :, :size] for layer in cache.layers]
                values = [layer.values[row : row + 1, :, :size] for layer in cache.layers]
                batch.add(request, keys, values, token, seen)
            except Exception as exc:
                request.finish("error", exc)

    def _step(self, batch: Any, use_adapter: bool) -> None:
        """One decode step for every row of ``batch``."""
        gone = [i for i, r in enumerate(batch.rows) if r.cancelled and not r.done]
        for i in gone:
            batch.rows[i].finish("cancelled")
        if gone:
            batch.keep([i for i in range(len(batch.rows)) if i not in set(gone)])
            if not batch.rows:
                return
        rows = list(batch.rows)  # a snapshot: rows join the batch before this step is settled
        try:
            with self._adapter(use_adapter):
                logits = batch.step(self._decode)
            tokens = pick_rows(logits, batch)
            batch.advance(tokens)
            handle = self._readers[use_adapter].start(tokens)
        except Exception as exc:  # a failed forward leaves the cache unusable: these requests fail
            for request in rows:
                if not request.done:
                    request.finish("error", exc)
            self._inflight.pop(use_adapter, None)
            batch.keep([])
            if self.compiled and not self._graphs_ok:  # never compiled: go on without
                warnings.warn(
                    f"the batched decode step does not compile ({type(exc).__name__}: {exc}); "
                    "decoding eagerly",
                    RuntimeWarning,
                    stacklevel=1,
                )
                self.compiled = False
            return
        self._graphs_ok = self._graphs_ok or self.compiled
        earlier = self._inflight.pop(use_adapter, None)
        if earlier is not None:
            self._settle(use_adapter, *earlier)
        if self.ahead:
            self._inflight[use_adapter] = (rows, handle)
        else:
            self._settle(use_adapter, rows, handle)

    def _settle(self, use_adapter: bool, rows: list[Request], handle: Any) -> None:
        """Deliver the tokens of a step to its rows; free the rows that finished."""
        batch = self._batches[use_adapter]
        values = self._readers[use_adapter].wait(handle)
        for request, value in zip(rows, values, strict=True):
            if not request.done:  # finished at an earlier step: this token is not its
                self._emit(request, value)
        if any(r.done for r in batch.rows):
            batch.keep([i for i, r in enumerate(batch.rows) if not r.done])
