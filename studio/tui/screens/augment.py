"""Provides AugmentScreen: pick a strategy plugin, fill its options, run it with progress and cancel.

The form is rendered from the options the plugin declares. Proposals land in the dataset as
*pending*; review them on the dataset screen (source filter ``augment``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widget import MountError
from textual.widgets import DataTable, Footer, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option as ListOption
from textual.worker import get_current_worker

from studio.api import IntOption
from studio.tui.messages import AugmentFinished, AugmentProgress, WorkFailed
from studio.tui.screens.base import StudioScreen
from studio.tui.widgets.lists import KeyedDataTable, KeyedOptionList
from studio.tui.widgets.option_form import OptionForm

SEED = IntOption("seed", 0, "Same seed, same proposals", minimum=0)
FORM_DELAY = 0.15
"""Seconds the strategy highlight must rest before its form is built."""


class AugmentScreen(StudioScreen):
    """Strategies on the left, the chosen one's options on the right, progress and proposals below."""

    MODE = "augment"
    WRITE_ACTIONS = frozenset({"run"})
    BINDINGS = [
        Binding(
            "ctrl+r", "run", "Run", id="augment.run", tooltip="Run the strategy with these options"
        ),
        Binding(
            "ctrl+x",
            "cancel",
            "Cancel run",
            id="augment.cancel",
            tooltip="Stop; keep what was proposed",
        ),
        Binding(
            "ctrl+o",
            "review",
            "Review",
            id="augment.review",
            tooltip="Open the proposals in Dataset",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.strategy: str | None = None
        self.started = 0.0
        self._form_for: str | None = None
        self._form_lock = asyncio.Lock()
        self._form_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield self.top_bar()
        with Horizontal(id="augment-top"):
            strategies = KeyedOptionList(id="augment-strategies")
            strategies.border_title = "Strategies"
            yield strategies
            with Vertical(id="augment-form-box"):
                yield Static(id="augment-description")
                yield Vertical(id="augment-form")
        with Horizontal(id="augment-progress-row"):
            yield ProgressBar(total=1, id="augment-progress", show_eta=False)
            yield Static("ready", id="augment-status")
        yield Static(id="augment-funnel")
        proposals = KeyedDataTable(id="augment-proposals", cursor_type="row", zebra_stripes=True)
        proposals.border_title = "Proposals of the last run"
        yield proposals
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one("#augment-form-box").border_title = "Options"
        self.show_funnel("")
        self.query_one("#augment-proposals", DataTable).add_columns("prompt", "reply")
        strategies = self.query_one("#augment-strategies", OptionList)
        augmenters = self.app.host.augmenters  # type: ignore[attr-defined]
        for name, augmenter in sorted(augmenters.items()):
            llm = " (LLM)" if getattr(augmenter, "needs_llm", False) else ""
            strategies.add_option(ListOption(f"{name}{llm}", id=name))
        if augmenters:
            await self.show_strategy(sorted(augmenters)[0])
        else:
            self.query_one("#augment-description", Static).update("no augmenter plugins installed")

    @on(OptionList.OptionHighlighted, "#augment-strategies")
    def _picked(self, event: OptionList.OptionHighlighted) -> None:
        """Follow the highlight; the form is rebuilt once the highlight has settled."""
        if not event.option.id:
            return
        self.strategy = event.option.id
        if self._form_timer is not None:
            self._form_timer.stop()
        self._form_timer = self.set_timer(FORM_DELAY, self.settle_form)

    async def show_strategy(self, name: str) -> None:
        """Highlight ``name`` and show its description and options as a form."""
        self.strategy = name
        strategies = self.query_one("#augment-strategies", OptionList)
        index = strategies.get_option_index(name)
        if strategies.highlighted != index:
            strategies.highlighted = index
        await self.settle_form()

    async def settle_form(self) -> OptionForm | None:
        """Build the highlighted strategy's form unless it is shown already; one build at a time.

        Returns:
            The form on screen, now for the highlighted strategy; None when the screen is closing.
        """
        async with self._form_lock:
            while self.strategy is not None and self._form_for != self.strategy:
                if not await self._build_form(self.strategy):
                    return None
        forms = self.query(OptionForm)
        return forms.first() if forms else None

    async def _build_form(self, name: str) -> bool:
        """Replace the form with ``name``'s; False when the screen went away meanwhile."""
        augmenter = self.app.host.augmenters[name]  # type: ignore[attr-defined]
        options = list(getattr(augmenter, "options", ()))
        if not any(o.name == "seed" for o in options):
            options.append(SEED)
        description = Text(getattr(augmenter, "description", ""), style="bold")
        if getattr(augmenter, "needs_llm", False):
            cfg = self.ws.config.augment
            model = (
                cfg.base_url
                or f"local model {getattr(cfg, 'model', '') or self.ws.config.model.name}"
            )
            description.append(f"\nlanguage model: {model} (studio.toml [augment])", style="dim")
        box = self.query_one("#augment-form", Vertical)
        self.query_one("#augment-description", Static).update(description)
        self._form_for = None
        try:
            await box.remove_children()
            if not box.is_attached:
                return False
            await box.mount(OptionForm(options))
        except MountError:
            if box.is_attached:
                raise
            return False
        self._form_for = name
        return True

    # -- running --------------------------------------------------------------------------------

    async def action_run(self) -> None:
        """Run the highlighted strategy with its form's values (waiting for a form being built)."""
        if self.refuse_read_only() or self.strategy is None:
            return
        if any(w.group == "augment" and w.is_running for w in self.workers):
            self.notify("A strategy is already running (ctrl+x cancels it).", severity="warning")
            return
        form = await self.settle_form()
        name = self._form_for
        if form is None or name is None:
            return
        try:
            values = form.values()
        except ValueError as exc:
            self.notify(str(exc), title="Check the options", severity="error")
            return
        augmenter = self.app.host.augmenters[name]  # type: ignore[attr-defined]
        declared = {o.name for o in getattr(augmenter, "options", ())}
        seed = int(values.get("seed", 0))
        if "seed" not in declared:
            values.pop("seed", None)
        self.started = time.monotonic()
        self.query_one(ProgressBar).update(total=None, progress=0)
        self.query_one("#augment-status", Static).update(f"running {name}…")
        self.query_one("#augment-proposals", DataTable).clear()
        self.show_funnel("")
        self.run_strategy(name, values, seed)

    @work(thread=True, exclusive=True, group="augment", description="Running an augmenter")
    def run_strategy(self, name: str, options: dict[str, Any], seed: int) -> None:
        """Run the job (filters, journal, resume) and store its proposals as pending."""
        from studio.augment import run_augment

        worker = get_current_worker()

        def progress(p: Any) -> None:
            self.post_message(AugmentProgress(p.done, p.total, p.kept, p.dropped, p.failed))

        try:
            report = run_augment(
                self.ws,
                name,
                options,
                seed=seed,
                host=self.app.host,  # type: ignore[attr-defined]
                progress=progress,
                cancelled=lambda: worker.is_cancelled,
            )
        except Exception as exc:
            self.post_message(
                WorkFailed(name, f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc))
            )
            return
        self.post_message(
            AugmentFinished(
                report.proposed,
                report.kept,
                report.status == "cancelled",
                list(report.new_samples[:200]),
                report.funnel(),
                list(report.errors),
                report.job_id,
            )
        )

    @on(AugmentProgress)
    def _progress(self, message: AugmentProgress) -> None:
        """Move the progress bar."""
        bar = self.query_one(ProgressBar)
        bar.update(total=message.total or None, progress=message.done)
        status = f"{message.done}/{message.total or '?'} items · {message.kept} kept"
        if message.dropped or message.failed:
            status += f" · {message.dropped} dropped · {message.failed} failed"
        self.query_one("#augment-status", Static).update(status)

    @on(AugmentFinished)
    def _finished(self, message: AugmentFinished) -> None:
        """Show the proposals and tell the dataset screen to reload."""
        seconds = time.monotonic() - self.started
        state = "cancelled" if message.cancelled else "done"
        drops = [
            (stage, before - after)
            for (_, before), (stage, after) in zip(message.funnel, message.funnel[1:])
        ]
        funnel = ", ".join(f"{count} {stage}" for stage, count in drops if count)
        funnel = f"dropped: {funnel}" if funnel else ""
        self.query_one("#augment-status", Static).update(
            f"{state} in {seconds:.1f}s: {message.proposed} proposed, "
            f"{message.added} new as pending · ctrl+o reviews"
        )
        self.show_funnel(funnel)
        for error in message.errors[:3]:
            self.notify(error, severity="warning", timeout=8)
        table = self.query_one("#augment-proposals", DataTable)
        table.clear()
        for sample in message.previews:
            table.add_row(sample.prompt[:80], sample.reply[:200])
        if message.added:
            self.app.dataset_changed()  # type: ignore[attr-defined]
        self.notify(f"{message.added} new proposals are pending review (Dataset, source augment).")

    def show_funnel(self, text: str) -> None:
        """What the filters dropped, on its own line under the progress (hidden when nothing)."""
        funnel = self.query_one("#augment-funnel", Static)
        funnel.update(text)
        funnel.display = bool(text)

    @on(WorkFailed)
    def _failed(self, message: WorkFailed) -> None:
        """Report a failed run."""
        self.query_one("#augment-status", Static).update(
            Text(f"failed: {message.error}", style="red")
        )
        self.notify(message.error, title=f"{message.what} failed", severity="error", timeout=10)

    def action_cancel(self) -> None:
        """Cancel the running strategy (what it proposed so far is kept)."""
        running = [w for w in self.workers if w.group == "augment" and w.is_running]
        for worker in running:
            worker.cancel()
        if running:
            self.query_one("#augment-status", Static).update("cancelling…")

    async def action_review(self) -> None:
        """Open the dataset screen filtered to augmenter proposals."""
        await self.app.switch_mode("dataset")
        screen = self.app.screen
        screen.filter.source = f"augment:{self.strategy}" if self.strategy else "augment"  # type: ignore[attr-defined]
        screen.filter.status = "pending"  # type: ignore[attr-defined]
        if getattr(screen, "samples", None):
            screen.refilter(keep=False)  # type: ignore[attr-defined]
