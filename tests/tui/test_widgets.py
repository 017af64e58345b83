"""Widgets drawn on their own: the GPU meter, the loss chart's scaling, the length histogram."""

from __future__ import annotations

from textual.app import App, ComposeResult

from studio.tui.widgets.gpu_meter import GpuMeter
from studio.tui.widgets.length_histogram import LengthHistogram
from studio.tui.widgets.loss_chart import LossChart


class _Show(App[None]):
    def __init__(self, widget) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget


async def test_gpu_meter_shows_utilisation_memory_temperature_and_power():
    meter = GpuMeter()
    async with _Show(meter).run_test(size=(60, 5)) as pilot:
        meter.sample = {
            "util": 87,
            "mem_used_gb": 41.5,
            "mem_total_gb": 139.8,
            "temp_c": 61,
            "power_w": 412.3,
            "peak_alloc_gb": 38.2,
        }
        await pilot.pause()
        text = str(meter.render())
        for part in ("87%", "41.5/140 GiB", "61°C", "412 W", "peak 38.2 GiB"):
            assert part in text
        meter.sample, meter.device = {}, "cpu"
        await pilot.pause()
        assert "CPU run" in str(meter.render())


async def test_loss_chart_scales_axes_to_the_data():
    chart = LossChart()
    async with _Show(chart).run_test(size=(60, 12)) as pilot:
        chart.set_data([(1, 4.0), (2, 3.0), (3, 2.0)], [(3, 2.5)], total_steps=10)
        await pilot.pause()
        lines = str(chart.render()).splitlines()
        assert lines[0].startswith("4.") and lines[-3].lstrip().startswith("1.9")  # padded range
        assert lines[-1].rstrip().endswith("step 10")
        plotted = "".join(lines[:-2])
        assert sum(1 for ch in plotted if "\u2800" < ch <= "\u28ff") >= 5
        chart.set_data([], [], 0)
        await pilot.pause()
        assert "no loss logged yet" in str(chart.render())


async def test_length_histogram_spans_min_to_max():
    histogram = LengthHistogram()
    async with _Show(histogram).run_test(size=(40, 1)) as pilot:
        histogram.set_lengths([2, 3, 3, 50, 120])
        await pilot.pause()
        text = str(histogram.render())
        assert text.startswith("len 2 ") and text.endswith(" 120") and "█" in text
