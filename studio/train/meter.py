"""Provides the step meter:
what one ``step`` event says (rates over the last window, ETA, GPU state)."""

from __future__ import annotations

import math
import time
from typing import Any

from studio.train.gpu import GpuSampler


class StepMeter:
    """Accumulates tokens between step events and turns them into rates.

    Args:
        device: the training device (GPU memory and NVML telemetry on CUDA).
        start_step: the step the run (or this resumed attempt) started at, for the ETA.
    """

    def __init__(self, device: Any, start_step: int) -> None:
        self.device = device
        self.gpu = GpuSampler.for_device(device)
        self.start_step = start_step
        self.started = self.last = time.perf_counter()
        self.tokens = 0
        self.supervised = 0

    def add(self, tokens: int, supervised: int) -> None:
        """Count one step's real (non-padding) tokens and supervised tokens."""
        self.tokens += tokens
        self.supervised += supervised

    def payload(self, step: int, total_steps: int, **fields: Any) -> dict[str, Any]:
        """The step event: ``fields`` plus rates since the previous event, the ETA and GPU state."""
        import torch

        cuda = getattr(self.device, "type", "cpu") == "cuda"
        if cuda:
            torch.cuda.synchronize()  # kernels are asynchronous: time what has run
        now = time.perf_counter()
        seconds = max(1e-9, now - self.last)
        done = max(1, step - self.start_step)
        out: dict[str, Any] = {
            "step": step,
            "total_steps": total_steps,
            **fields,
            "tokens_per_s": round(self.tokens / seconds, 1),
            "supervised_per_s": round(self.supervised / seconds, 1),
            "eta_s": round((now - self.started) / done * (total_steps - step), 1),
        }
        if cuda:
            out["gpu"] = {
                **self.gpu.sample(),
                "peak_alloc_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2),
            }
        self.last, self.tokens, self.supervised = now, 0, 0
        return out


def non_finite_message(model: Any, step: int, loss: float, grad_norm: float) -> str:
    """Say what was not finite, and name the first LoRA weight with a non-finite gradient."""
    import torch

    first = next(
        (
            name
            for name, p in model.named_parameters()
            if p.grad is not None and not torch.isfinite(p.grad).all()
        ),
        None,
    )
    what = "loss" if not math.isfinite(loss) else "gradient norm"
    where = f", first non-finite gradient in {first}" if first else ""
    return (
        f"non-finite {what} at step {step} (loss {loss}, grad norm {grad_norm}{where}); "
        "the adapter was not updated. Resume from the last checkpoint with a lower [train] lr, "
        'or dtype = "fp32" '
        "to find the cause."
    )
