"""Provides GpuMeter: the training GPU's utilisation, memory, temperature and power as bars."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget


def _bar(fraction: float, width: int) -> str:
    fraction = max(0.0, min(1.0, fraction))
    full = fraction * width
    blocks = "▏▎▍▌▋▊▉"
    whole = int(full)
    rest = full - whole
    partial = blocks[int(rest * 7) - 1] if whole < width and rest >= 1 / 7 else ""
    return ("█" * whole + partial).ljust(width)


class GpuMeter(Widget):
    """Shows the ``gpu`` dict of the latest step event (empty on a CPU run)."""

    DEFAULT_CSS = """
    GpuMeter { height: auto; min-height: 1; }
    """

    sample: reactive[dict[str, Any]] = reactive(dict, always_update=True)
    """The latest telemetry: util, mem_used_gb, mem_total_gb, temp_c, power_w, peak_alloc_gb."""
    device: reactive[str] = reactive("")
    """The run's device (``cuda``/``cpu``), from its config event."""

    def render(self) -> Text:
        gpu = self.sample
        if not gpu:
            note = (
                "CPU run: no GPU telemetry"
                if self.device.startswith("cpu")
                else "no GPU telemetry yet"
            )
            return Text(note, style="dim")
        width = max(6, min(20, self.content_size.width - 24))
        text = Text(no_wrap=True, overflow="crop")
        util = gpu.get("util")
        if util is not None:
            text.append("util ", style="dim")
            text.append(_bar(util / 100, width), style="#2ec27e")
            text.append(f" {util:>3}%\n")
        used, total = gpu.get("mem_used_gb"), gpu.get("mem_total_gb")
        if used is not None and total:
            text.append("mem  ", style="dim")
            text.append(_bar(used / total, width), style="#3daee9")
            text.append(f" {used:.1f}/{total:.0f} GiB\n")
        extras = []
        if gpu.get("temp_c") is not None:
            extras.append(f"{gpu['temp_c']}°C")
        if gpu.get("power_w") is not None:
            extras.append(f"{gpu['power_w']:.0f} W")
        if gpu.get("peak_alloc_gb") is not None:
            extras.append(f"peak {gpu['peak_alloc_gb']:.1f} GiB")
        if extras:
            text.append("     " + "  ".join(extras), style="dim")
        return text
