"""Provides the two KV-cache layouts of continuous batching (:mod:`studio.chat.batch`).

Both hold the running requests' keys and values so that one forward decodes a token for each,
with a 0/1 attention mask over the cache columns and per-row position ids (RoPE sees exactly the
positions of a single-request run). A joining request arrives prefilled: its keys and values are
copied in; padding is only ever keys (masked), never queries.

- :class:`PaddedBatch` (eager; the CPU): a transformers ``DynamicCache`` holding only the running
  rows, **left-padded** so that every row ends at the same column; joining pads whichever side
  is shorter, leaving selects the rows out and drops columns no remaining row uses. Memory
  follows the load.
- :class:`SlotBatch` (fixed shapes, for ``torch.compile`` with CUDA graphs): a ``StaticCache``
  of ``slots`` rows × ``window`` columns that every row writes at the **same column** ``t`` each
  step (the cache's own write pointer). A request of ``n`` tokens joins a free slot at columns
  ``t - n .. t - 1``; when ``t`` reaches the window, every row's columns shift left past the
  earliest start. Decoding runs the first ``bucket`` slots (1, 2, 4, … ``slots``: the lowest free
  slot is taken, so few requests run few rows), one compiled graph per bucket, all sharing the
  cache's storage.
"""

from __future__ import annotations

from typing import Any


class PaddedBatch:
    """Running rows in a left-padded dynamic cache (see the module docstring)."""

    def __init__(self) -> None:
        self.rows: list[Any] = []
        self.cache: Any = None
        self.mask: Any = None  # [B, L] 1 for real tokens, 0 for padding
        self.tokens: Any = None  # [B] the token each row feeds next
        self.positions: Any = None  # [B, 1] its position
        self.seen: Any = None  # [B, V] tokens in the prompt or reply (repetition penalty)
        self.params: dict[str, Any] | None = None

    def add(self, request: Any, keys: list[Any], values: list[Any], token: Any, seen: Any) -> None:
        """Join a prefilled request.

        Args:
            request: the request.
            keys / values: per layer, [1, H, n, D] for its n prompt tokens.
            token: [1], its first reply token (fed next).
            seen: [1, V], the tokens it has seen (repetition penalty).
        """
        import torch
        import torch.nn.functional as F
        from transformers import DynamicCache

        size = keys[0].shape[2]
        device = token.device
        mask = torch.ones(1, size, dtype=torch.long, device=device)
        position = torch.tensor([[size]], device=device)
        if self.cache is None:
            self.cache = DynamicCache(ddp_cache_data=list(zip(keys, values, strict=True)))
            self.mask, self.tokens, self.positions, self.seen = mask, token.view(1), position, seen
        else:
            have = self.mask.shape[1]
            grow, pad = max(0, size - have), max(0, have - size)
            for layer, k, v in zip(self.cache.layers, keys, values, strict=True):
                layer.keys = torch.cat(
                    [F.pad(layer.keys, (0, 0, grow, 0)), F.pad(k, (0, 0, pad, 0))]
                )
                layer.values = torch.cat(
                    [F.pad(layer.values, (0, 0, grow, 0)), F.pad(v, (0, 0, pad, 0))]
                )
            self.mask = torch.cat([F.pad(self.mask, (grow, 0)), F.pad(mask, (pad, 0))])
            self.tokens = torch.cat([self.tokens, token.view(1)])
            self.positions = torch.cat([self.positions, position])
            self.seen = torch.cat([self.seen, seen])
        self.rows.append(request)
        self.params = None

    def step(self, forward: Any) -> Any:
        """Feed every row's next token; the logits [B, V]."""
        import torch

        mask = torch.cat([self.mask, self.mask.new_ones(len(self.rows), 1)], dim=1)
        logits = forward(self.tokens.view(-1, 1), self.positions, self.cache, mask)
        self.mask = mask
        self.positions += 1
        # a scalar written through scatter_, not ``[…] = True``: that copies True to the device
        # and waits for every queued step (a host sync a token)
        self.seen.scatter_(1, self.tokens.view(-1, 1), True)
        return logits

    def row_seen(self) -> Any:
        return self.seen

    def advance(self, tokens: Any) -> None:
        self.tokens = tokens

    def keep(self, keep: list[int]) -> None:
        """Drop every row not in ``keep`` (indices into ``rows``); trim padding no row needs."""
        import torch

        if not keep:
            self.__init__()  # type: ignore[misc]
            return
        index = torch.tensor(keep, device=self.mask.device)
        self.rows = [self.rows[i] for i in keep]
        self.cache.batch_select_indices(index)
        self.mask, self.tokens = self.mask[index], self.tokens[index]
        self.positions, self.seen = self.positions[index], self.seen[index]
        start = int(self.mask.any(dim=0).int().argmax())  # the first column some row uses
        if start:
            for layer in self.cache.layers:
                layer.keys, layer.values = layer.keys[:, :, start:], layer.values[:, :, start:]
            self.mask = self.mask[:, start:]
        self.params = None


class SlotBatch:
    """Running rows in fixed slots of a static cache, written at one shared column (see above).

    Args:
        config: the model config (layer count for the cache).
        slots: rows of the cache (the most requests at once).
        window: columns of the cache: the longest prompt + reply.
        vocab: logits width (for the seen-token mask).
        device: where the cache lives.
    """

    def __init__(self, config: Any, slots: int, window: int, vocab: int, device: Any) -> None:
        self.config, self.slots, self.window, self.vocab, self.device = (
            config,
            slots,
            window,
            vocab,
            device,
        )
        self.slot_rows: list[Any] = [None] * slots
        self.start = [0] * slots
        self.t = 0
        self.params: dict[str, Any] | None = None
        self.big: Any = None
        self.views: dict[int, Any] = {}
        self._key: list[int] = []
        self._index: Any = None

    @property
    def rows(self) -> list[Any]:
        return [r for r in self.slot_rows if r is not None]

    def _allocate(self, keys: Any, values: Any) -> None:
        import torch
        from transformers import StaticCache

        self.big = StaticCache(config=self.config, max_cache_len=self.window)
        for layer, k, v in zip(self.big.layers, keys, values, strict=True):
            shape = (self.slots, k.shape[1], 1, k.shape[3])
            layer.lazy_initialization(k.new_zeros(shape), v.new_zeros((*shape[:3], v.shape[3])))
        self.mask = torch.zeros(self.slots, self.window, dtype=torch.bool, device=self.device)
        self.tokens = torch.zeros(self.slots, dtype=torch.long, device=self.device)
        self.positions = torch.zeros(self.slots, 1, dtype=torch.long, device=self.device)
        self.seen = torch.zeros(self.slots, self.vocab, dtype=torch.bool, device=self.device)
        self.true = torch.ones((), dtype=torch.bool, device=self.device)

    def view(self, rows: int) -> Any:
        """A cache over the first ``rows`` slots: the big cache's storage and write pointer."""
        import torch
        from transformers import StaticCache

        if rows == self.slots:
            return self.big
        if rows not in self.views:
            cache = StaticCache(config=self.config, max_cache_len=self.window)
            for mine, big in zip(cache.layers, self.big.layers, strict=True):
                mine.__dict__.update(big.__dict__)
                mine.keys, mine.values = big.keys[:rows], big.values[:rows]
                mine.batch_size = rows
                torch._dynamo.mark_static_address(mine.keys)
                torch._dynamo.mark_static_address(mine.values)
            self.views[rows] = cache
        return self.views[rows]

    def _shift(self, by: int) -> None:
        """Move every row's columns by ``by`` (negative: left); the write pointer follows."""
        lo, hi = (0, self.t) if by > 0 else (-by, self.t)
        if hi > lo:
            for layer in self.big.layers:
                for data in (layer.keys, layer.values):
                    data[:, :, lo + by : hi + by] = data[:, :, lo:hi].clone()
            moved = self.mask[:, lo:hi].clone()
            self.mask.zero_()
            self.mask[:, lo + by : hi + by] = moved
        else:
            self.mask.zero_()
        self.t += by
        self.start = [s + by for s in self.start]
        for layer in self.big.layers:
            layer.cumulative_length.fill_(self.t)

    def free(self) -> int:
        return sum(r is None for r in self.slot_rows)

    def add(self, request: Any, keys: list[Any], values: list[Any], token: Any, seen: Any) -> None:
        """Join a prefilled request (as :meth:`PaddedBatch.add`) in the lowest free slot."""
        if self.big is None:
            self._allocate(keys, values)
        if not self.rows and self.t:  # empty: start over at the left edge
            self._shift(-self.t)
        size = keys[0].shape[2]
        if self.t < size:
            self._shift(size - self.t)
        slot = self.slot_rows.index(None)
        begin = self.t - size
        for layer, k, v in zip(self.big.layers, keys, values, strict=True):
            layer.keys[slot, :, begin : self.t] = k[0]
            layer.values[slot, :, begin : self.t] = v[0]
        self.mask[slot] = False
        self.mask[slot, begin : self.t] = True
        self.positions[slot, 0] = size
        self.tokens[slot] = token.view(())
        self.seen[slot] = seen[0]
        self.start[slot] = begin
        self.slot_rows[slot] = request
        self.params = None

    def _active(self) -> list[int]:
        return [i for i, r in enumerate(self.slot_rows) if r is not None]

    def step(self, forward: Any) -> Any:
        """Feed the running rows' next tokens; their logits [len(rows), V]."""
        import torch

        if self.t == self.window:  # every running row started after column 0: its reply fits
            self._shift(-min(self.start[i] for i in self._active()))
        active = self._active()
        rows = next(b for b in _buckets(self.slots) if b > active[-1])
        # idle slots attend to their own column too: no row is ever fully masked
        self.mask[:, self.t] = True
        mask = self.mask[:rows, None, None, :]
        cache = self.view(rows)
        logits = forward(self.tokens[:rows].view(-1, 1), self.positions[:rows], cache, mask)
        self.t += 1
        self.positions += 1
        if self._key != active:  # the rows changed: a new index (a host-to-device copy)
            self._key, self._index = active, torch.tensor(active, device=self.device)
        # the value already on the device: ``[…] = True`` copies it there and waits for the queue
        self.seen.index_put_((self._index, self.tokens[self._index]), self.true)
        return logits[self._index] if len(active) < rows else logits

    def row_seen(self) -> Any:
        return self.seen[self._index]

    def advance(self, tokens: Any) -> None:
        self.tokens[self._index] = tokens

    def keep(self, keep: list[int]) -> None:
        """Free the slots of the rows not in ``keep`` (indices into ``rows``)."""
        active = self._active()
        for position, slot in enumerate(active):
            if position not in keep:
                self.slot_rows[slot] = None
                self.mask[slot] = False
                self.positions[slot] = 0
        self.params = None


def _buckets(slots: int) -> list[int]:
    sizes, size = [], 1
    while size < slots:
        sizes.append(size)
        size *= 2
    return [*sizes, slots]
