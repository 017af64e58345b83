"""Provides what both engines need to run a model's steps: the names its forward takes,
CUDA-graph replay from a server's worker threads, and reading sampled tokens back without
waiting for the work queued after them."""

from __future__ import annotations

import inspect
import threading
from typing import Any


def forward_params(model: Any) -> set[str]:
    """The names ``model.forward`` takes (the cache argument's name differs across versions)."""
    return set(inspect.signature(model.forward).parameters)


def cudagraph_thread_setup() -> None:
    """Let this thread replay CUDA graphs that ``torch.compile`` recorded.

    torch keeps its CUDA-graph trees in thread-local state that only the importing thread (and
    autograd's) see; a server's worker threads get their own, empty, containers here.
    """
    import collections

    from torch._inductor import cudagraph_trees

    local = cudagraph_trees.local
    if not hasattr(local, "tree_manager_containers"):
        local.tree_manager_containers = {}
        local.tree_manager_locks = collections.defaultdict(threading.Lock)


class RowReader:
    """Reads a step's tokens [B] on the host; on CUDA through two pinned buffers in turn, so the
    next step can be queued before this one's tokens are read (one read in flight per buffer).
    ``cuda``: whether reads overlap queued work at all (on the CPU every step is done when it
    returns)."""

    def __init__(self, device: Any, rows: int) -> None:
        import torch

        self.cuda = device.type == "cuda"
        if self.cuda:
            self.host = [torch.empty(rows, dtype=torch.long, pin_memory=True) for _ in range(2)]
            self.events = [torch.cuda.Event(), torch.cuda.Event()]
            self.turn = 0

    def start(self, tokens: Any) -> Any:
        """Queue the copy of ``tokens``; a handle for :meth:`wait`."""
        if not self.cuda:
            return tokens.tolist()
        k, n = self.turn, int(tokens.shape[0])
        self.turn ^= 1
        self.host[k][:n].copy_(tokens, non_blocking=True)
        self.events[k].record()
        return k, n

    def wait(self, handle: Any) -> list[int]:
        """The tokens of ``handle``; waits for that copy only, not for work queued after it."""
        if not self.cuda:
            return handle
        k, n = handle
        self.events[k].synchronize()
        return self.host[k][:n].tolist()
