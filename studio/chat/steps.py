"""Provides what both engines need to run a model's steps: the names its forward takes, and
CUDA-graph replay from a server's worker threads."""

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
