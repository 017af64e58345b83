"""Provides GPU telemetry (utilisation, memory, temperature, power) through NVML,
when there is a GPU.

NVML numbers GPUs physically while PyTorch numbers the visible ones (``CUDA_VISIBLE_DEVICES``),
so the sampler finds its GPU by UUID.
"""

from __future__ import annotations

from typing import Any


class GpuSampler:
    """Reads one GPU's state; every method returns {} without NVML or a GPU.

    Args:
        index: NVML index of the GPU (used when ``uuid`` is empty).
        uuid: the GPU's UUID as PyTorch reports it.
    """

    def __init__(self, index: int = 0, uuid: str = "") -> None:
        self.handle = None
        try:
            import pynvml

            pynvml.nvmlInit()
            if uuid:
                text = uuid if uuid.startswith("GPU-") else f"GPU-{uuid}"
                self.handle = pynvml.nvmlDeviceGetHandleByUUID(text)
            else:
                self.handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            self._nvml = pynvml
        except Exception:
            self.handle = None

    @classmethod
    def for_device(cls, device: Any) -> GpuSampler:
        """The sampler of a torch device (an inert one for the CPU)."""
        if getattr(device, "type", "cpu") != "cuda":
            return cls.__new__(cls)._inert()
        import torch

        index = device.index or 0
        uuid = str(getattr(torch.cuda.get_device_properties(index), "uuid", "") or "")
        return cls(index, uuid)

    def _inert(self) -> GpuSampler:
        self.handle = None
        return self

    def sample(self) -> dict[str, Any]:
        """Utilisation (%), memory used and total (GiB), temperature (°C), power (W)."""
        if self.handle is None:
            return {}
        nv = self._nvml
        out: dict[str, Any] = {}
        try:
            util = nv.nvmlDeviceGetUtilizationRates(self.handle)
            mem = nv.nvmlDeviceGetMemoryInfo(self.handle)
            out = {
                "util": util.gpu,
                "mem_used_gb": round(mem.used / 2**30, 2),
                "mem_total_gb": round(mem.total / 2**30, 2),
            }
            out["temp_c"] = nv.nvmlDeviceGetTemperature(self.handle, nv.NVML_TEMPERATURE_GPU)
            out["power_w"] = round(nv.nvmlDeviceGetPowerUsage(self.handle) / 1000, 1)
        except Exception:
            pass
        return out
