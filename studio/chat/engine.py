"""Provides the generation engine: prefill, then token-by-token decoding over a KV cache, UI-free.

One loop serves chat, serve, eval and the speed benchmark:

- **prefill** runs the prompt once (only the last position goes through the LM head);
- **decode** feeds one token at a time; with ``static=True`` the KV cache is preallocated
  (fixed tensor addresses) and with ``compiled=True`` the one-token step is compiled with
  ``torch.compile`` (CUDA graphs on a GPU: ``mode="reduce-overhead"``), which removes the
  per-layer Python and kernel-launch overhead that dominates batch-1 decoding;
- **lookahead**: on a GPU the next step is queued before the host reads the current token
  (a pinned copy and an event), so the host's text work overlaps the GPU's;
- **prefix reuse**: the cache keeps the tokens of the previous request; a multi-turn chat
  only prefills what is new since the last reply;
- sampling (repetition penalty, temperature, top-k, top-p) runs on the device without host
  synchronisation; the loop stops on the model's end-of-turn ids.

One engine serves one model; a lock serialises requests (the HTTP server relies on it).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from studio.chat.attention import use_decode_attention
from studio.chat.sampling import Sampling, pick_token
from studio.chat.steps import RowReader, cudagraph_thread_setup, forward_params
from studio.errors import StudioError


class ContextOverflow(StudioError):
    """The prompt plus the reply budget does not fit the model's context (or the static cache)."""


@dataclass
class GenerationStats:
    """What one generation did, for the UI and the benchmark."""

    prompt_tokens: int = 0
    reused_tokens: int = 0
    new_tokens: int = 0
    ttft_s: float = 0.0
    total_s: float = 0.0
    finish_reason: str = ""

    @property
    def tokens_per_s(self) -> float:
        """Decode speed after the first token."""
        decode = self.total_s - self.ttft_s
        return (self.new_tokens - 1) / decode if self.new_tokens > 1 and decode > 0 else 0.0


def checked_prompt(prompt: Sequence[int], max_new_tokens: int, capacity: int) -> list[int]:
    """The prompt as ints; raises when it is empty or it and its reply overflow ``capacity``."""
    ids = [int(t) for t in prompt]
    if not ids:
        raise StudioError("empty prompt")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens: expected at least 1, got {max_new_tokens}")
    if len(ids) + max_new_tokens > capacity:
        raise ContextOverflow(
            f"the prompt has {len(ids)} tokens and the reply may take {max_new_tokens}, "
            f"but the context holds {capacity}; "
            "shorten the conversation or lower max_new_tokens"
        )
    return ids


class Engine:
    """Generates token ids for one causal LM (optionally a peft model with a LoRA adapter).

    Args:
        model: a transformers causal LM or a peft ``PeftModel`` around one.
        stop_ids: token ids that end a reply (the model's end-of-turn tokens).
        static: preallocate the KV cache (``max_cache_len`` tokens); needed for ``compiled``.
        compiled: compile the one-token decode step (CUDA graphs on a GPU).
        max_cache_len: the static cache size, and the context budget (default: the model's
            context, at most 4096 for a static cache).
        reuse_prefix: keep the cache between requests and prefill only what is new.
        vocab_size: ids from here up are never picked (a model's embedding is often padded past
            its tokenizer; those ids decode to nothing).
    """

    def __init__(
        self,
        model: Any,
        stop_ids: Sequence[int] = (),
        *,
        static: bool = False,
        compiled: bool = False,
        max_cache_len: int | None = None,
        reuse_prefix: bool = True,
        vocab_size: int | None = None,
    ) -> None:
        self.model = model
        self.inner = model.get_base_model() if hasattr(model, "get_base_model") else model
        use_decode_attention(self.inner)  # decode steps read the KV cache once (see the module)
        self.stop_ids = {int(i) for i in stop_ids}
        self.static = static or compiled
        self.compiled = compiled
        self.reuse_prefix = reuse_prefix
        self.vocab_size = vocab_size
        config = self.inner.config
        context = int(getattr(config, "max_position_embeddings", 0) or 4096)
        if self.static:
            context = min(context, 4096)
        self.capacity = min(context, max_cache_len) if max_cache_len else context
        params = forward_params(self.inner)
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self._keep_kw = "logits_to_keep" if "logits_to_keep" in params else None
        self.lock = threading.Lock()
        self.last_stats = GenerationStats()
        self._cache: Any = None
        self._fed: list[int] = []
        self._cache_key: Any = None
        self._step_fn: Any = None

    @property
    def device(self) -> Any:
        return next(self.inner.parameters()).device

    # -- cache ----------------------------------------------------------------------------

    def _new_cache(self) -> Any:
        from transformers import DynamicCache, StaticCache

        config = self.inner.config
        if self.static:
            return StaticCache(config=config, max_cache_len=self.capacity)
        try:
            return DynamicCache(config=config)
        except TypeError:  # older transformers
            return DynamicCache()

    def _prepare_cache(self, prompt: Sequence[int], key: Any) -> int:
        """Make the cache hold a prefix of ``prompt``; return how many prompt tokens it holds."""
        common = 0
        if self._cache is not None and self.reuse_prefix and key == self._cache_key:
            limit = min(
                len(self._fed), len(prompt) - 1
            )  # at least one token is prefilled: it gives the logits
            while common < limit and self._fed[common] == prompt[common]:
                common += 1
        if self._cache is None or (common == 0 and not self.static):
            self._cache = self._new_cache()
            self._fed = []
        drop = len(self._fed) - common
        if drop > 0:
            try:
                self._cache.crop(-drop)
            except AttributeError:  # a static cache that cannot crop (transformers before 5.2x)
                if not self.static:
                    raise
                common = self._rewind_static(drop, common)
        self._fed = list(prompt[:common])
        self._cache_key = key
        return common

    def _rewind_static(self, drop: int, common: int) -> int:
        """Forget the last ``drop`` tokens of a static cache that has no ``crop``; returns the kept.

        Its layers count what they hold in a tensor (``cumulative_length``); moving that count
        back is the crop (later positions are masked, then overwritten). Layers without the
        count start over instead, and the whole prompt is prefilled again.
        """
        layers = getattr(self._cache, "layers", [])
        if layers and all(hasattr(layer, "cumulative_length") for layer in layers):
            for layer in layers:
                layer.cumulative_length.sub_(drop)  # in place: compiled graphs hold its address
            return common
        self._cache.reset()
        return 0

    def warmup(self, runs: int = 3) -> float:
        """Compile and record the decode step now, not on the user's first message; returns seconds.

        Three short generations: the first compiles, the next ones record and replay the CUDA graph.
        """
        if not self.compiled:
            return 0.0
        started = time.perf_counter()
        for _ in range(runs):
            for _token in self.generate(
                [0, 1, 2, 3], sampling=Sampling(do_sample=False), max_new_tokens=4, stop_ids=[]
            ):
                pass
        self.reset()
        return time.perf_counter() - started

    def reset(self) -> None:
        """Forget the cached prefix (the next request prefills its whole prompt)."""
        self._hard_reset()

    def _hard_reset(self) -> None:
        # a static cache keeps its tensors (their addresses are baked into compiled graphs)
        if self.static and self._cache is not None:
            self._cache.reset()
        else:
            self._cache = None
        self._fed = []

    # -- model calls ----------------------------------------------------------------------

    def _forward(self, ids: Any, positions: Any) -> Any:
        """Logits of the last position, [1, V]."""
        kwargs = {self._cache_kw: self._cache, "use_cache": True}
        if self._keep_kw:
            kwargs[self._keep_kw] = 1
        out = self.inner(input_ids=ids, position_ids=positions, **kwargs)
        return out.logits[:, -1]

    def _decode_step(self, token: Any, position: Any) -> Any:
        """One decode step: token [1] at position [1, 1] → logits [1, V] (compiled when asked)."""
        if not self.compiled:
            return self._forward(token.view(1, 1), position)
        import torch

        mode = "reduce-overhead" if self.device.type == "cuda" else "default"
        first = self._step_fn is None
        if first:
            self._step_fn = torch.compile(self._forward, mode=mode, fullgraph=True, dynamic=False)
        if self.device.type == "cuda":
            cudagraph_thread_setup()
            torch.compiler.cudagraph_mark_step_begin()
        try:
            # the output lives in the CUDA graph's pool until the next replay: copy it out
            return self._step_fn(token.view(1, 1), position).clone()
        except Exception as exc:
            if not first:
                raise
            # tracing failed before anything ran: accept graph breaks rather than give up
            import warnings

            warnings.warn(
                f"decode step does not compile as one graph ({type(exc).__name__}); "
                "compiling with graph breaks",
                RuntimeWarning,
                stacklevel=2,
            )
            self._step_fn = torch.compile(self._forward, mode=mode, fullgraph=False, dynamic=False)
            if self.device.type == "cuda":
                torch.compiler.cudagraph_mark_step_begin()
            return self._step_fn(token.view(1, 1), position).clone()

    def _adapter(self, use_adapter: bool) -> Any:
        if not use_adapter and hasattr(self.model, "disable_adapter"):
            return self.model.disable_adapter()
        return contextlib.nullcontext()

    # -- sampling -------------------------------------------------------------------------

    _pick = staticmethod(pick_token)  # [1, V] logits → [1] token, on the device

    # -- the loop -------------------------------------------------------------------------

    def generate(
        self,
        prompt: Sequence[int],
        *,
        sampling: Sampling | None = None,
        max_new_tokens: int = 256,
        cancel: threading.Event | None = None,
        use_adapter: bool = True,
        stop_ids: Sequence[int] | None = None,
    ) -> Iterator[int]:
        """Yield the reply's token ids as they are generated (end-of-turn ids are not yielded).

        Args:
            prompt: the rendered prompt's token ids.
            sampling: how to pick tokens (default: sampling at temperature 0.7, top-p 0.9).
            max_new_tokens: reply length cap.
            cancel: set it (from any thread) to stop after the current token.
            use_adapter: False runs the base model with the LoRA adapter disabled.
            stop_ids: overrides the engine's stop ids (an empty list: never stop early).

        Raises:
            ContextOverflow: the prompt plus ``max_new_tokens`` does not fit.
        """
        prompt = checked_prompt(prompt, max_new_tokens, self.capacity)
        with self.lock:
            yield from self._generate(
                prompt,
                sampling or Sampling(),
                max_new_tokens,
                cancel,
                use_adapter,
                self.stop_ids if stop_ids is None else {int(i) for i in stop_ids},
            )

    def _generate(
        self,
        prompt: list[int],
        sampling: Sampling,
        max_new_tokens: int,
        cancel: threading.Event | None,
        use_adapter: bool,
        stop: set[int],
    ) -> Iterator[int]:
        import torch

        stats = GenerationStats(prompt_tokens=len(prompt), finish_reason="length")
        self.last_stats = stats
        started = time.perf_counter()
        device = self.device
        generator = None
        if sampling.do_sample and sampling.seed is not None:
            generator = torch.Generator(device=device).manual_seed(int(sampling.seed))
        reader = RowReader(device, 1)
        with torch.no_grad(), self._adapter(use_adapter):
            try:
                # prefill: only what the cache does not hold yet
                reused = self._prepare_cache(prompt, use_adapter)
                stats.reused_tokens = reused
                ids = torch.tensor([prompt[reused:]], device=device)
                positions = torch.arange(reused, len(prompt), device=device).unsqueeze(0)
                logits = self._forward(ids, positions)[:, : self.vocab_size]
                self._fed = list(prompt)
                seen = torch.zeros(logits.shape, dtype=torch.bool, device=device)
                if sampling.repetition_penalty != 1.0:
                    seen[0, torch.tensor(prompt, device=device)] = True
                token = self._pick(logits, sampling, seen, generator)
                position = torch.tensor([[len(prompt)]], device=device)

                def advance(current: Any) -> Any:
                    logits = self._decode_step(current, position)[:, : self.vocab_size]
                    position.add_(1)
                    if sampling.repetition_penalty != 1.0:
                        seen.index_fill_(1, current, True)
                    return self._pick(logits, sampling, seen, generator)

                for index in range(max_new_tokens):
                    more = index + 1 < max_new_tokens
                    # on a GPU, queue the next step before reading this token; not for the first
                    # token, whose latency would then include launching a step
                    ahead = reader.cuda and index > 0
                    handle = reader.start(token)
                    if more and ahead:  # wasted only when this token turns out to end the reply
                        token = advance(token)
                        self._fed.append(-1)  # the host learns the id below
                    (value,) = reader.wait(handle)
                    if more and ahead:
                        self._fed[-1] = value
                    if index == 0:
                        stats.ttft_s = time.perf_counter() - started
                    if value in stop:
                        stats.finish_reason = "stop"
                        break
                    stats.new_tokens += 1
                    yield value
                    if cancel is not None and cancel.is_set():
                        stats.finish_reason = "cancelled"
                        break
                    if more and not ahead:
                        token = advance(token)
                        self._fed.append(value)
            except GeneratorExit:  # the consumer stopped reading: the cache is consistent
                stats.finish_reason = "cancelled"
                raise
            except BaseException:  # a failed forward can leave layers at different lengths
                self._hard_reset()
                raise
            finally:
                stats.total_s = time.perf_counter() - started
