"""Provides the process group of a multi-process run:
who am I, sums across ranks, DDP and FSDP wrapping.

One process per GPU, started by ``torchrun`` or ``accelerate launch`` (both set ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK``); without CUDA the processes talk over gloo on the CPU, which
is how the multi-process path is tested on a machine without GPUs. A single process needs no
process group and every helper here is then a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Dist:
    """This process's place in the run.

    Attributes:
        rank: global rank (0 logs and writes files).
        world: number of processes.
        local_rank: rank on this machine (picks the GPU).
    """

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> Dist:
        return cls(
            int(os.environ.get("RANK", "0")),
            int(os.environ.get("WORLD_SIZE", "1")),
            int(os.environ.get("LOCAL_RANK", "0")),
        )

    def init(self, use_cuda: bool) -> None:
        """Join the process group (NCCL on GPUs,
        gloo on the CPU) when there is more than one process."""
        import torch.distributed as dist

        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if use_cuda else "gloo")

    def sum(self, values: list[float], device: Any) -> list[float]:
        """Element-wise sum of ``values`` over all ranks (float64)."""
        if self.world == 1:
            return list(values)
        import torch
        import torch.distributed as dist

        tensor = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def any(self, flag: bool, device: Any) -> bool:
        """True on every rank when it is True on one (a stop request seen by any rank stops all)."""
        return self.sum([1.0 if flag else 0.0], device)[0] > 0

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        import torch.distributed as dist

        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def wrap(module: Any, dist_info: Dist, parallel: str, device: Any) -> Any:
    """Wrap the loss module for several processes: DDP (LoRA on a model that fits one GPU) or FSDP.

    FSDP (``parallel = "fsdp"``) shards every decoder layer's weights across the processes, for
    models too big for one GPU; the LoRA weights are sharded with them and gathered for saving.
    """
    if dist_info.world == 1:
        return module
    if parallel == "fsdp":
        from torch.distributed.fsdp import fully_shard

        for layer in decoder_layers(module):
            fully_shard(layer)
        fully_shard(module)
        return module
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(
        module, device_ids=[device.index] if device.type == "cuda" else None
    )


def decoder_layers(module: Any) -> list[Any]:
    """The repeated transformer blocks of a (peft-wrapped) causal LM."""
    layers = []
    for name, child in module.named_modules():
        if name.endswith(".layers") and hasattr(child, "__len__"):
            layers = list(child)
    if not layers:
        raise ValueError("FSDP: found no decoder layers (a `.layers` module list) to shard")
    return layers


def full_trainable_state(model: Any, dist_info: Dist, parallel: str) -> dict[str, Any]:
    """The trainable (LoRA) weights as full CPU tensors; every rank must call it under FSDP."""
    if parallel == "fsdp" and dist_info.world > 1:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        state = get_model_state_dict(
            model, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
        )
        trainable = {name for name, p in model.named_parameters() if p.requires_grad}
        return {k: v for k, v in state.items() if k in trainable}
    return {
        name: p.detach().cpu().clone() for name, p in model.named_parameters() if p.requires_grad
    }


def optimizer_state(model: Any, optimizer: Any, dist_info: Dist, parallel: str) -> dict[str, Any]:
    """The optimizer state, full (gathered) under FSDP; every rank must call it under FSDP."""
    if parallel == "fsdp" and dist_info.world > 1:
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            get_optimizer_state_dict,
        )

        return get_optimizer_state_dict(
            model, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
        )
    return optimizer.state_dict()


def load_optimizer_state(
    model: Any, optimizer: Any, state: dict[str, Any], dist_info: Dist, parallel: str
) -> None:
    """Restore an optimizer state saved by :func:`optimizer_state`."""
    if parallel == "fsdp" and dist_info.world > 1:
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            set_optimizer_state_dict,
        )

        set_optimizer_state_dict(
            model, optimizer, state, options=StateDictOptions(full_state_dict=True)
        )
        return
    optimizer.load_state_dict(state)


def load_trainable_state(
    model: Any, weights: dict[str, Any], dist_info: Dist, parallel: str
) -> None:
    """Copy full LoRA weights into the (possibly sharded) model."""
    if parallel == "fsdp" and dist_info.world > 1:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

        set_model_state_dict(
            model, weights, options=StateDictOptions(full_state_dict=True, strict=False)
        )
        return
    params = dict(model.named_parameters())
    import torch

    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(value.to(params[name].device, params[name].dtype))
