"""Provides StudioApp: the Textual app that ``persona-studio WORKSPACE`` opens.

Six modes, one screen each, switched with the keys 1–6 or the command palette (ctrl+p):
home, corpus, dataset, augment, train and chat. ``?`` lists every binding. Long work runs in
thread workers that post messages back; training runs in its own process and is followed
through its events, so closing the studio never stops a run.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from studio.tui.commands import StudioCommands
from studio.tui.screens.augment import AugmentScreen
from studio.tui.screens.chat import ChatScreen
from studio.tui.screens.corpus import CorpusScreen
from studio.tui.screens.dataset import DatasetScreen
from studio.tui.screens.help import HelpScreen
from studio.tui.screens.home import HomeScreen
from studio.tui.screens.train import TrainScreen

MODE_TITLES = {
    "home": "Home",
    "corpus": "Corpus",
    "dataset": "Dataset",
    "augment": "Augment",
    "train": "Train",
    "chat": "Chat",
}


class StudioApp(App[None]):
    """The persona studio on one workspace.

    Args:
        ws: the workspace (locked by the caller; ``ws.read_only`` when another studio holds it).
        host: the plugin host; the process-wide default when None.
    """

    CSS_PATH = "app.tcss"
    TITLE = "persona-studio"
    MODES: ClassVar[dict[str, Any]] = {
        "home": HomeScreen,
        "corpus": CorpusScreen,
        "dataset": DatasetScreen,
        "augment": AugmentScreen,
        "train": TrainScreen,
        "chat": ChatScreen,
    }
    DEFAULT_MODE = "home"
    COMMANDS = App.COMMANDS | {StudioCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "go('home')", "Home", show=False, id="go.home", tooltip="Workspace overview"),
        Binding(
            "2",
            "go('corpus')",
            "Corpus",
            show=False,
            id="go.corpus",
            tooltip="Inspect and fix the corpus",
        ),
        Binding(
            "3",
            "go('dataset')",
            "Dataset",
            show=False,
            id="go.dataset",
            tooltip="Curate the samples",
        ),
        Binding(
            "4",
            "go('augment')",
            "Augment",
            show=False,
            id="go.augment",
            tooltip="Propose new samples",
        ),
        Binding(
            "5",
            "go('train')",
            "Train",
            show=False,
            id="go.train",
            tooltip="Start and follow training runs",
        ),
        Binding(
            "6", "go('chat')", "Chat", show=False, id="go.chat", tooltip="Chat with the character"
        ),
        Binding("question_mark", "help", "Help", id="app.help", tooltip="Every key binding"),
        Binding(
            "q",
            "quit",
            "Quit",
            show=False,
            id="app.quit",
            tooltip="Leave the studio (runs keep going)",
        ),
    ]

    def __init__(self, ws: Any, host: Any = None) -> None:
        super().__init__()
        self.ws = ws
        self._host = host
        self._corpus: Any = None
        self._corpus_lock = threading.Lock()
        self.corpus_version = 0
        """Bumped when speaker fixes or aliases change; screens reload when theirs is older."""
        self.dataset_version = 0
        """Bumped when the dataset's samples change (build, augment)."""
        self.sub_title = str(ws.root)

    # -- shared state -------------------------------------------------------------------------

    @property
    def host(self) -> Any:
        """The plugin host (parsers, augmenters, model adapters)."""
        if self._host is None:
            from studio.plugins import default_host

            self._host = default_host()
        return self._host

    def corpus_snapshot(self, refresh: bool = False) -> Any:
        """The parsed corpus with fixes applied; parsed once and shared (call from a worker)."""
        from studio.tui.corpus_model import build_snapshot

        with self._corpus_lock:
            version = self.corpus_version
            if refresh or self._corpus is None or self._corpus.version != version:
                self._corpus = build_snapshot(self.ws, self.host.parsers, version)
            return self._corpus

    def corpus_changed(self) -> None:
        """Speaker fixes or aliases changed: every screen re-reads the corpus when shown."""
        self.corpus_version += 1

    def dataset_changed(self) -> None:
        """Samples were added or rebuilt: the dataset screen reloads when shown."""
        self.dataset_version += 1

    # -- actions ------------------------------------------------------------------------------

    def on_mount(self) -> None:
        if self.ws.read_only:
            holder = self.ws.lock_holder()
            self.notify(
                f"Another studio holds this workspace ({holder or 'unknown process'}): "
                "opened read-only, writing actions are disabled.",
                severity="warning",
                timeout=8,
            )

    def action_go(self, mode: str) -> None:
        """Switch to the screen of ``mode``."""
        if self.current_mode != mode:
            self.switch_mode(mode)

    def action_help(self) -> None:
        """Show every binding."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def run_in_mode(self, mode: str, action: str) -> None:
        """Switch to ``mode`` and run one of its screen's actions (command palette entries)."""
        if self.current_mode != mode:
            await self.switch_mode(mode)
        await self.screen.run_action(action)
