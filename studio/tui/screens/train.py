"""Provides TrainScreen: start a run, then follow it live (loss chart, speed, ETA, GPU, log tail).

The screen follows any run of the workspace from its events, whoever started it (this
studio, the CLI, another SSH session) and whether it is still running or long finished.
Leaving the screen or the studio detaches; the run goes on in its own process.
"""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Log, Static
from textual.worker import get_current_worker

from studio.eval.report import format_report
from studio.train.rundir import RunDir, list_runs
from studio.tui.messages import RunEvents, RunLog, RunStarted, WorkFailed
from studio.tui.screens.base import StudioScreen
from studio.tui.screens.dialogs import ConfirmDialog, PickDialog
from studio.tui.screens.eval_report import EvalReportScreen
from studio.tui.screens.new_run import NewRunDialog
from studio.tui.widgets.gpu_meter import GpuMeter
from studio.tui.widgets.loss_chart import EVAL_COLOUR, TRAIN_COLOUR, LossChart

_STATUS_COLOUR = {
    "running": "cyan",
    "starting": "cyan",
    "finished": "green",
    "stopped": "yellow",
    "failed": "red",
    "crashed": "red",
}


def duration(seconds: float | None) -> str:
    """``1h 02m``, ``3m 05s`` or ``42s``."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    seconds = max(0, int(round(seconds)))
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds}s"


class TrainScreen(StudioScreen):
    """Loss chart, run stats, GPU telemetry and the log tail of the followed run."""

    MODE = "train"
    WRITE_ACTIONS = frozenset({"new_run", "stop"})
    BINDINGS = [
        Binding(
            "n",
            "new_run",
            "New run",
            id="train.new",
            tooltip="Pick model and preset, edit settings, start",
        ),
        Binding(
            "x",
            "stop",
            "Stop run",
            id="train.stop",
            tooltip="Stop the followed run (checkpoint first)",
        ),
        Binding(
            "f", "pick_run", "Runs", id="train.pick", tooltip="Follow another run of this workspace"
        ),
        Binding(
            "e",
            "eval_report",
            "Eval",
            id="train.eval",
            tooltip="The run's eval report (persona-studio eval)",
        ),
        Binding("right_square_bracket", "cycle_run(1)", "Older run", show=False, id="train.older"),
        Binding("left_square_bracket", "cycle_run(-1)", "Newer run", show=False, id="train.newer"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.run_dir: Path | None = None
        self.state: Any = None
        self.first_t: float | None = None
        self.last_t: float | None = None
        self.device = ""
        self.preset = ""
        self._log_size = -1

    def compose(self) -> ComposeResult:
        yield self.top_bar()
        yield Static("no runs yet: press n to start one", id="train-run")
        with Horizontal(id="train-top"):
            chart = LossChart(id="train-chart")
            chart.border_title = f"loss [{TRAIN_COLOUR}]━ train[/] [{EVAL_COLOUR}]━ eval[/]"
            yield chart
            stats = Static(id="train-stats")
            stats.border_title = "Run"
            yield stats
        with Horizontal(id="train-bottom"):
            gpu = GpuMeter(id="train-gpu")
            gpu.border_title = "GPU"
            yield gpu
            log = Log(id="run-log", max_lines=500, highlight=False)
            log.border_title = RunDir.LOG
            yield log
        yield Footer()

    def on_mount(self) -> None:
        from studio.train.rundir import latest_run

        latest = latest_run(self.ws)
        if latest is not None:
            self.follow(latest.path)
        self.set_interval(1.0, self._tick)

    # -- following ------------------------------------------------------------------------------

    def follow_run_named(self, name: str) -> None:
        """Follow the run ``name`` of this workspace (called from the home screen)."""
        run_dir = self.ws.run_dir(name)
        if run_dir.is_dir():
            self.follow(run_dir)

    def follow(self, run_dir: Path) -> None:
        """Show ``run_dir`` from its first event and keep following it."""
        from studio.train.state import RunState

        self.run_dir = run_dir
        self.state = RunState()
        self.first_t = self.last_t = None
        self.device = self.preset = ""
        self._log_size = -1
        self.query_one(Log).clear()
        self.query_one(LossChart).set_data([], [], 0)
        self.query_one(GpuMeter).sample = {}
        self._render_state()
        self.follow_events(run_dir)
        self.read_log(run_dir)

    @work(
        thread=True, exclusive=True, group="train-follow", description="Following training events"
    )
    def follow_events(self, run_dir: Path) -> None:
        """Tail the run's events until the run ends or another run is followed."""
        from studio.train.rundir import RunDir

        worker = get_current_worker()
        for batch in RunDir(run_dir).follow(cancel=worker.cancelled_event, poll=0.2):
            self.post_message(RunEvents(run_dir.name, batch))

    @work(thread=True, exclusive=True, group="run-log", description="Reading the run's log")
    def read_log(self, run_dir: Path) -> None:
        """Post the tail of the run's log when it changed."""
        from studio.train.rundir import RunDir

        run = RunDir(run_dir)
        size = run.log_size()
        if size != self._log_size:
            self._log_size = size
            self.post_message(RunLog(run_dir.name, run.log_tail()))

    def _tick(self) -> None:
        """Once a second: the log tail, and whether a running run's process is still there."""
        if self.run_dir is None:
            return
        if self.state is not None and self.state.status in ("starting", "running"):
            self.read_log(self.run_dir)
            if self.state.pid and not self.state.alive():
                fresh = RunDir(self.run_dir).state()  # a terminal event may have landed meanwhile
                if fresh.status == "crashed":
                    self.state.status = "crashed"
                    self._render_state()
            self._render_state()

    @on(RunEvents)
    def _events(self, message: RunEvents) -> None:
        """Fold a batch of events into the run state and redraw."""
        if self.run_dir is None or message.run != self.run_dir.name:
            return
        from studio.train.events import ConfigEvent

        for event in message.events:
            self.state.update(event)
            if event.t:
                self.first_t = event.t if self.first_t is None else self.first_t
                self.last_t = event.t
            if isinstance(event, ConfigEvent):
                self.device = event.device
                self.query_one(GpuMeter).device = self.device
        if self.state.gpu:
            self.query_one(GpuMeter).sample = dict(self.state.gpu)
        self.query_one(LossChart).set_data(
            self.state.losses, self.state.eval_losses, self.state.total_steps
        )
        self._render_state()
        if any(e.terminal for e in message.events):
            self.read_log(self.run_dir)

    @on(RunLog)
    def _log(self, message: RunLog) -> None:
        """Replace the log tail; stay on its newest line unless the user scrolled up."""
        if self.run_dir is None or message.run != self.run_dir.name:
            return
        log = self.query_one(Log)
        following = log.scroll_y >= log.max_scroll_y
        log.clear()
        log.write_lines(message.lines or [f"({RunDir.LOG} is empty so far)"], scroll_end=False)
        if following:
            log.scroll_end(animate=False, immediate=True, x_axis=False)

    def _render_state(self) -> None:
        state, run_dir = self.state, self.run_dir
        if state is None or run_dir is None:
            return
        runs = [r.name for r in list_runs(self.ws)]
        colour = _STATUS_COLOUR.get(state.status, "white")
        header = Text(no_wrap=True, overflow="ellipsis")
        header.append(f" {run_dir.name} ", style="bold")
        header.append(f" {state.status} ", style=f"bold {colour} reverse")
        model = state.model_name
        if model:
            header.append(f"  {model}", style="dim")
        if self.device:
            header.append(f" on {self.device}", style="dim")
        if run_dir.name in runs:
            header.append(f"  [{runs.index(run_dir.name) + 1}/{len(runs)}]", style="dim")
        self.query_one("#train-run", Static).update(header)
        table = Table.grid(padding=(0, 1))
        table.add_column(style="dim", no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_row(
            "step",
            f"{state.step:,}/{state.total_steps:,}" if state.total_steps else f"{state.step:,}",
        )
        table.add_row("epoch", f"{state.epoch:.2f}")
        table.add_row("loss", f"{state.loss:.4f}" if state.loss is not None else "-")
        if state.eval_loss is not None:
            table.add_row(
                "eval", f"{state.eval_loss:.4f} ppl {math.exp(min(state.eval_loss, 50)):.2f}"
            )
        else:
            table.add_row("eval", "-")
        table.add_row("tok/s", f"{state.tokens_per_s:,.0f}" if state.tokens_per_s else "-")
        running = state.status in ("starting", "running")
        table.add_row("ETA", duration(state.eta_s) if running else "-")
        end = time.time() if running and self.first_t else self.last_t
        table.add_row("elapsed", duration(end - self.first_t) if self.first_t and end else "-")
        if state.checkpoints:
            table.add_row("ckpts", f"{len(state.checkpoints)} (last {state.checkpoints[-1]})")
        if state.error:
            table.add_row(Text("error", style="red"), Text(state.error, style="red"))
        self.query_one("#train-stats", Static).update(table)

    # -- actions ----------------------------------------------------------------------------------

    def action_pick_run(self) -> None:
        """Pick a run of the workspace to follow."""
        runs = [r.path for r in list_runs(self.ws)]
        if not runs:
            self.notify("No runs yet: press n to start one.", severity="warning")
            return
        entries = []
        for run in runs:
            # the followed run's state is folded already: re-reading a long event file would
            # block the UI
            state = (
                self.state
                if run == self.run_dir and self.state is not None
                else RunDir(run).state()
            )
            entries.append(
                (run.name, f"{run.name}  {state.status}  step {state.step}/{state.total_steps}")
            )

        def picked(name: str | None) -> None:
            if name:
                self.follow(self.ws.run_dir(name))

        current = self.run_dir.name if self.run_dir else ""
        self.app.push_screen(PickDialog("Follow a run", entries, current), picked)

    def action_eval_report(self) -> None:
        """Show the followed run's eval report: base, base+memory, adapter, adapter+memory."""
        from studio.eval.evaluate import load_report

        report = load_report(self.run_dir) if self.run_dir is not None else None
        if self.run_dir is None or report is None:
            name = self.run_dir.name if self.run_dir is not None else "RUN"
            self.notify(
                f"Not evaluated yet: persona-studio eval {self.ws.root} --run {name}",
                severity="warning",
            )
            return
        self.app.push_screen(EvalReportScreen(self.run_dir, format_report(report, examples=5)))

    def action_cycle_run(self, delta: int) -> None:
        """Follow the next older (or newer) run."""
        runs = [r.path for r in list_runs(self.ws)]
        if not runs:
            return
        names = [p.name for p in runs]
        index = (
            names.index(self.run_dir.name)
            if self.run_dir and self.run_dir.name in names
            else -delta
        )
        self.follow(runs[(index + delta) % len(runs)])

    def action_new_run(self) -> None:
        """Open the new-run form; start the run when it is confirmed."""
        if self.refuse_read_only():
            return

        def chosen(settings: dict[str, Any] | None) -> None:
            if settings:
                self.notify("Preparing the run…")
                self.start_run(settings)

        self.app.push_screen(NewRunDialog(self.ws, self.app.host.adapters), chosen)  # type: ignore[attr-defined]

    @work(thread=True, exclusive=True, group="train-start", description="Starting a training run")
    def start_run(self, settings: dict[str, Any]) -> None:
        """Freeze the run folder (config + samples) and launch the training process."""
        from studio.train.runner import launch, prepare_run
        from studio.workspace import Workspace

        try:
            config = copy.deepcopy(self.ws.config)
            config.model.name = settings["model_name"]
            config.model.source = settings["model_source"]
            config.train.preset = settings["preset"]
            view = Workspace(
                self.ws.root, config=config
            )  # the form's choices, studio.toml untouched
            overrides = dict(settings["overrides"])
            if not overrides.get("max_steps"):
                overrides.pop("max_steps", None)
            run_dir = prepare_run(
                view,
                self.app.host.adapters,  # type: ignore[attr-defined]
                run_id=settings["run_id"],
                overrides=overrides,
            )
            launch(run_dir, detach=True)
        except Exception as exc:
            self.post_message(WorkFailed("training run", str(exc)))
            return
        self.post_message(RunStarted(run_dir.name))

    @on(RunStarted)
    def _started(self, message: RunStarted) -> None:
        """Follow the run just started."""
        self.notify(f"Run {message.run} started; it keeps going if the studio closes.")
        self.follow(self.ws.run_dir(message.run))

    @on(WorkFailed)
    def _failed(self, message: WorkFailed) -> None:
        """Report a failure to start."""
        self.notify(message.error, title=f"{message.what} failed", severity="error", timeout=12)

    def action_stop(self) -> None:
        """Ask the followed run to stop (it saves a checkpoint first)."""
        if self.refuse_read_only() or self.run_dir is None:
            return
        if self.state is None or self.state.status not in ("starting", "running"):
            self.notify(f"{self.run_dir.name} is not running.", severity="warning")
            return
        run_dir = self.run_dir

        def answer(yes: bool | None) -> None:
            if yes:
                from studio.train.runner import stop

                sent = stop(run_dir)
                self.notify(
                    "Stop requested: the run saves a checkpoint, then ends (resume with "
                    f"persona-studio train --resume --run {run_dir.name})."
                    if sent
                    else "The run's process is gone; a STOP file was left for it."
                )

        self.app.push_screen(
            ConfirmDialog(f"Stop {run_dir.name}?", "It saves a checkpoint first."), answer
        )
