"""Provides HomeScreen: the workspace at a glance.

Corpus files, roster, base model, datasets, runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Static

from studio.tui.messages import (
    CardDrafted,
    CorpusFailed,
    CorpusReady,
    DatasetBuilt,
    HomeInfo,
    WorkFailed,
)
from studio.tui.screens.base import StudioScreen
from studio.tui.widgets.lists import KeyedDataTable


def dataset_counts(folder: Path) -> dict[str, int]:
    """Samples and the count of each review status of one dataset folder (the store's count)."""
    from studio.dataset.store import DatasetStore

    return DatasetStore(folder).summary()


def attributed_cell(share: float | None) -> str:
    """``87%`` of the dialogue with a speaker, coloured: green all, yellow most, red under half."""
    if share is None:
        return "[dim]-[/]"
    percent = int(share * 100)  # never round 99.6% up to a full 100%
    colour = "green" if share >= 1 else "yellow" if share >= 0.5 else "red"
    return f"[{colour}]{percent}%[/]"


def run_summary(state: Any) -> tuple[str, str]:
    """``("120/120", "1.2345")``: step and loss for the runs table."""
    loss = f"{state.loss:.4f}" if state.loss is not None else "-"
    return f"{state.step}/{state.total_steps}", loss


class HomeScreen(StudioScreen):
    """Corpus files with kind, encoding and warnings; roster; base model; datasets; runs."""

    MODE = "home"
    WRITE_ACTIONS = frozenset({"build", "draft_card"})
    BINDINGS = [
        Binding(
            "b",
            "build",
            "Build dataset",
            id="home.build",
            tooltip="Parse the corpus and build the samples",
        ),
        Binding(
            "c",
            "draft_card",
            "Draft card",
            id="home.draft_card",
            tooltip="Draft the persona card from the corpus (card-draft.md); apply it if you like",
        ),
        Binding(
            "r",
            "reload",
            "Reload",
            id="home.reload",
            tooltip="Re-read studio.toml, corpus, datasets, runs",
        ),
        Binding(
            "enter",
            "open",
            "Open",
            show=False,
            id="home.open",
            tooltip="Open the highlighted file, speaker or run",
        ),
        Binding("tab", "app.focus_next", "Next table", show=False, id="home.next"),
    ]

    def compose(self) -> ComposeResult:
        yield self.top_bar()
        with Horizontal(id="home-top"):
            files = KeyedDataTable(id="home-files", cursor_type="row", zebra_stripes=True)
            files.border_title = "Corpus"
            yield files
            roster = KeyedDataTable(id="home-roster", cursor_type="row")
            roster.border_title = "Roster"
            yield roster
        with Horizontal(id="home-bottom"):
            with Vertical(id="home-model-box"):
                yield Static(id="home-model")
                datasets = KeyedDataTable(id="home-datasets", cursor_type="row")
                yield datasets
            runs = KeyedDataTable(id="home-runs", cursor_type="row")
            runs.border_title = "Runs"
            yield runs
        yield Static(id="home-errors")
        yield Footer()

    def on_mount(self) -> None:
        # most telling first: at 80 columns the last ones may fall off the edge
        files = self.query_one("#home-files", DataTable)
        files.add_columns("file", "spk%", "⚠", "?spk", "lines", "parser", "enc")
        self.query_one("#home-roster", DataTable).add_columns("speaker", "lines", "merged")
        self.query_one("#home-datasets", DataTable).add_columns(
            "dataset", "samples", "pending", "✓", "✗", "✎"
        )
        self.query_one("#home-runs", DataTable).add_columns("run", "status", "loss", "step")
        self.query_one("#home-model-box").border_title = "Model · Datasets"
        self._corpus_version = self.app.corpus_version  # type: ignore[attr-defined]
        self.query_one("#home-files", DataTable).focus()
        self.action_reload(parse=False)
        self._resumed = False

    def on_screen_resume(self) -> None:
        if not self._resumed:  # the first showing: on_mount is already loading
            self._resumed = True
            return
        if self._corpus_version != self.app.corpus_version:  # type: ignore[attr-defined]
            self.load_corpus(False)
        self.load_info()

    # -- loading --------------------------------------------------------------------------------

    def action_reload(self, parse: bool = True) -> None:
        """Re-read studio.toml, the corpus, datasets and runs."""
        if parse:
            try:
                self.ws.reload()
            except Exception as exc:
                self.notify(str(exc), severity="error", timeout=10)
                return
            self.app.corpus_changed()  # type: ignore[attr-defined]
        self.show_model()
        self.load_corpus(parse)
        self.load_info()

    def show_model(self) -> None:
        """The base model of studio.toml and the adapter that claims it."""
        from studio.train.base_model import model_spec, pick_adapter

        cfg = self.ws.config
        try:
            adapter = pick_adapter(model_spec(cfg.model, self.ws.root), self.app.host.adapters).name  # type: ignore[attr-defined]
        except Exception as exc:
            adapter = f"[red]{exc}[/]"
        preset = cfg.train.preset or "auto"
        self.query_one("#home-model", Static).update(
            f"[b]{cfg.model.name}[/] [dim]({cfg.model.source})[/]\n"
            f"adapter {adapter} · preset {preset}\n"
            f"character [b]{cfg.character.name or '[red]not set[/]'}[/] · mode {cfg.dataset.mode}"
        )

    def load_corpus(self, refresh: bool) -> None:
        """Parse the corpus in a worker; the tables show a spinner meanwhile."""
        for table_id in ("#home-files", "#home-roster"):
            self.query_one(table_id).loading = True
        self._parse_corpus(refresh)

    @work(thread=True, exclusive=True, group="home-corpus", description="Parsing the corpus")
    def _parse_corpus(self, refresh: bool) -> None:
        """Parse the corpus (shared with the corpus screen)."""
        try:
            snapshot = self.app.corpus_snapshot(refresh=refresh)  # type: ignore[attr-defined]
        except Exception as exc:
            self.post_message(CorpusFailed(str(exc)))
            return
        self.post_message(CorpusReady(snapshot))

    def load_info(self) -> None:
        """Read dataset counts and run states in a worker; empty tables show a spinner meanwhile."""
        for table_id in ("#home-datasets", "#home-runs"):
            table = self.query_one(table_id, DataTable)
            if not table.row_count:
                table.loading = True
        self._read_info()

    @work(thread=True, exclusive=True, group="home-info", description="Reading datasets and runs")
    def _read_info(self) -> None:
        """Dataset counts and run states."""
        from studio.train.rundir import list_runs

        datasets = []
        if self.ws.datasets_dir.is_dir():
            for folder in sorted(p for p in self.ws.datasets_dir.iterdir() if p.is_dir()):
                try:
                    datasets.append((folder.name, dataset_counts(folder)))
                except Exception as exc:
                    datasets.append((folder.name, {"error": str(exc)}))
        runs = [(run.name, run.state()) for run in list_runs(self.ws)]
        self.post_message(HomeInfo(datasets, runs))

    @on(CorpusReady)
    def _corpus_ready(self, message: CorpusReady) -> None:
        """Fill the corpus and roster tables."""
        snap = message.snapshot
        self._corpus_version = snap.version
        for table_id in ("#home-files", "#home-roster"):
            self.query_one(table_id).loading = False
        files = self.query_one("#home-files", DataTable)
        files.clear()
        for info in snap.files:
            warn = f"[yellow]{info.warnings}[/]" if info.warnings else "0"
            unknown = f"[red]{info.unknown_speaker}[/]" if info.unknown_speaker else "0"
            encoding = info.encoding if info.newline == "LF" else f"{info.encoding} {info.newline}"
            files.add_row(
                info.path.removeprefix("corpus/"),
                attributed_cell(info.attributed),
                warn,
                unknown,
                str(info.utterances),
                info.parser,
                encoding,
                key=info.path,
            )
        files.border_subtitle = (
            f"{len(snap.files)} files · ⚠ {snap.total_warnings} warnings · {snap.fixes} fixes"
        )
        roster = self.query_one("#home-roster", DataTable)
        roster.clear()
        character = self.ws.config.character.name
        for entry in snap.roster[:200]:
            others = [k for k in entry.aliases if k != entry.name]
            merged = f"+{len(others)} {', '.join(others)}" if others else ""
            name = f"[b magenta]★{entry.name}[/]" if entry.name == character else entry.name
            roster.add_row(name, str(entry.lines), merged, key=entry.name)
        roster.border_subtitle = f"{len(snap.roster)} speakers"
        self.query_one("#home-errors", Static).update(
            "\n".join(f"[red]✗[/] {e}" for e in snap.errors)
        )

    @on(CorpusFailed)
    def _corpus_failed(self, message: CorpusFailed) -> None:
        """Show why the corpus could not be read."""
        for table_id in ("#home-files", "#home-roster"):
            self.query_one(table_id).loading = False
        self.query_one("#home-errors", Static).update(f"[red]✗ {message.error}[/]")

    @on(HomeInfo)
    def _info(self, message: HomeInfo) -> None:
        """Fill the datasets and runs tables."""
        for table_id in ("#home-datasets", "#home-runs"):
            self.query_one(table_id).loading = False
        table = self.query_one("#home-datasets", DataTable)
        table.clear()
        for name, counts in message.datasets:
            if "error" in counts:
                table.add_row(name, f"[red]{counts['error']}[/]", "", "", "", "")
                continue
            table.add_row(
                name,
                f"{counts['samples']:,}",
                f"{counts['pending']:,}",
                f"{counts['accepted']:,}",
                f"{counts['rejected']:,}",
                f"{counts['edited']:,}",
                key=name,
            )
        runs = self.query_one("#home-runs", DataTable)
        runs.clear()
        colours = {
            "finished": "green",
            "running": "cyan",
            "failed": "red",
            "crashed": "red",
            "stopped": "yellow",
        }
        for name, state in message.runs:
            step, loss = run_summary(state)
            colour = colours.get(state.status, "white")
            runs.add_row(name, f"[{colour}]{state.status}[/]", loss, step, key=name)
        runs.border_subtitle = f"{len(message.runs)} runs"

    # -- actions ------------------------------------------------------------------------------

    def action_build(self) -> None:
        """Build the dataset in a worker."""
        if self.refuse_read_only():
            return
        self.notify("Building the dataset…")
        self.build()

    @work(thread=True, exclusive=True, group="build", description="Building the dataset")
    def build(self) -> None:
        """Parse and build the character's samples (review decisions are kept)."""
        from studio.dataset.service import build_dataset

        try:
            result = build_dataset(self.ws, self.app.host.parsers)  # type: ignore[attr-defined]
        except Exception as exc:
            self.post_message(WorkFailed("build", str(exc)))
            return
        report = result.report
        summary = (
            f"{result.character}: {report.character_lines} utterances → {report.samples} samples "
            f"({report.train} train, {report.eval} eval) in {result.seconds:.1f}s; "
            f"{result.kept_decisions} decisions kept"
        )
        self.post_message(DatasetBuilt(summary, result.errors))

    @on(DatasetBuilt)
    def _built(self, message: DatasetBuilt) -> None:
        """Report the build and refresh."""
        self.app.dataset_changed()  # type: ignore[attr-defined]
        self.notify(message.summary, timeout=8)
        for error in message.errors:
            self.notify(error, severity="error", timeout=10)
        self.load_info()

    def action_draft_card(self) -> None:
        """Draft the character's persona card from the corpus in a worker."""
        if self.refuse_read_only():
            return
        self.notify("Drafting the persona card…")
        self._draft_card()

    @work(thread=True, exclusive=True, group="card", description="Drafting the persona card")
    def _draft_card(self) -> None:
        """``persona-studio card``: the draft and its evidence written beside studio.toml."""
        from studio.dataset.card_command import draft_for, write_draft

        try:
            draft = draft_for(self.ws, self.app.host.parsers)  # type: ignore[attr-defined]
            write_draft(self.ws, draft)
        except Exception as exc:
            self.post_message(WorkFailed("drafting the card", str(exc)))
            return
        self.post_message(CardDrafted(draft.card, draft.lines))

    @on(CardDrafted)
    def _card_drafted(self, message: CardDrafted) -> None:
        """Show the draft; on yes it becomes studio.toml's persona."""
        from studio.dataset.card_command import DRAFT_NAME
        from studio.tui.screens.dialogs import ConfirmDialog

        def answered(apply: bool | None) -> None:
            if not apply:
                self.notify(f"The draft is in {DRAFT_NAME}, with the lines behind each point")
                return
            from studio.dataset.card_command import set_persona

            try:
                set_persona(self.ws, message.card)
            except Exception as exc:
                self.notify(str(exc), severity="error", timeout=10)
                return
            self.notify("studio.toml: the draft is the persona card now (edit it there)")
            self.show_model()

        question = f"Make this draft, from {message.lines:,} lines, the persona card?"
        self.app.push_screen(ConfirmDialog(question, message.card), answered)

    @on(WorkFailed)
    def _failed(self, message: WorkFailed) -> None:
        """A background job failed."""
        self.notify(f"{message.what} failed: {message.error}", severity="error", timeout=10)

    @on(DataTable.RowSelected)
    async def _row_selected(self) -> None:
        """Enter in a table opens what the row names."""
        await self.action_open()

    async def action_open(self) -> None:
        """Open the focused item.

        A file opens the corpus inspector there; a speaker finds their lines; a run is followed.
        """
        focused = self.focused
        if not isinstance(focused, DataTable) or focused.row_count == 0:
            return
        key = focused.coordinate_to_cell_key(focused.cursor_coordinate).row_key.value
        targets = {
            "home-files": ("corpus", "open_file"),
            "home-roster": ("corpus", "find_speaker"),
            "home-runs": ("train", "follow_run_named"),
        }
        if focused.id not in targets or key is None:
            return
        mode, method = targets[focused.id]
        await self.app.switch_mode(mode)
        getattr(self.app.screen, method)(key)
