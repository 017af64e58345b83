"""Provides GPU telemetry (utilisation, memory, temperature, power) through NVML, when there is a GPU."""

from __future__ import annotations

from typing import Any


class GpuSampler:
    """Reads one GPU's state; every method is a no-op returning {} without NVML or a GPU."""

    def __init__(self, index: int = 0) -> None:
        self.handle = None
        try:
            import pynvml

            pynvml.nvmlInit()
            self.handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            self._nvml = pynvml
        except Exception:
            self.handle = None

    def sample(self) -> dict[str, Any]:
        if self.handle is None:
            return {}
        nv = self._nvml
        out: dict[str, Any] = {}
        try:
            util = nv.nvmlDeviceGetUtilizationRates(self.handle)
            mem = nv.nvmlDeviceGetMemoryInfo(self.handle)
            out = {"util": util.gpu, "mem_used_gb": round(mem.used / 2**30, 2), "mem_total_gb": round(mem.total / 2**30, 2)}
            out["temp_c"] = nv.nvmlDeviceGetTemperature(self.handle, nv.NVML_TEMPERATURE_GPU)
            out["power_w"] = round(nv.nvmlDeviceGetPowerUsage(self.handle) / 1000, 1)
        except Exception:
            pass
        return out
