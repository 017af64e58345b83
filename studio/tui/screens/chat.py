"""Provides ChatScreen: chat with the character, the reply streaming token by token.

Pick a run and checkpoint (or the base model); the persona card is the system prompt and can be
edited; A/B puts the base model and the adapter side by side on the same prompt; ctrl+g switches
memory (her real train-split exchanges retrieved into the system prompt each turn) on and off;
ctrl+s saves the transcript(s) to ``chats/``, with the ids memory retrieved.
"""

from __future__ import annotations

import threading
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Checkbox, Footer, Input, Label, Select, Static, TextArea

from studio.tui.messages import ModelReady, ReplyFailed, ReplyFinished, ReplyPiece
from studio.tui.screens.base import StudioScreen
from studio.tui.screens.chat_worker import MEMORY_K, ChatWorker
from studio.tui.widgets.chat_pane import ChatPane

SAMPLING = ("greedy", "balanced", "creative")


def model_entries(ws: Any) -> list[tuple[str, str]]:
    """(label, key) for the base model and every run's final adapter and complete checkpoints."""
    from studio.train.rundir import list_runs

    entries = [(f"base: {ws.config.model.name}", "base")]
    for run in list_runs(ws):
        if run.has_adapter():
            entries.append((f"{run.name} · final adapter", f"{run.name}|final"))
        for checkpoint in reversed(run.checkpoints()):
            step = run.checkpoint_step(checkpoint)
            entries.append((f"{run.name} · step {step}", f"{run.name}|{step}"))
    return entries


class ChatScreen(ChatWorker, StudioScreen):
    """Model picker, persona card, one or two transcript panes and the prompt line."""

    MODE = "chat"
    WRITE_ACTIONS = frozenset({"save"})
    BINDINGS = [
        Binding(
            "escape",
            "leave_prompt",
            "Leave prompt",
            id="chat.leave_prompt",
            tooltip="Out of the prompt line, 1–6 switch screens and q quits",
        ),
        Binding(
            "escape",
            "enter_prompt",
            "Prompt",
            id="chat.enter_prompt",
            tooltip="Back to the prompt line",
        ),
        Binding(
            "ctrl+s", "save", "Save", id="chat.save", tooltip="Write the conversation to chats/"
        ),
        Binding(
            "ctrl+b", "toggle_ab", "A/B", id="chat.ab", tooltip="Base and adapter side by side"
        ),
        Binding(
            "ctrl+g",
            "toggle_memory",
            "Memory",
            id="chat.memory",
            tooltip="Her real lines retrieved into the prompt, on or off",
        ),
        Binding("ctrl+l", "clear", "Clear", id="chat.clear", tooltip="Start a new conversation"),
        Binding(
            "ctrl+e", "persona", "Persona", id="chat.persona", tooltip="Edit the system prompt"
        ),
        Binding(
            "ctrl+o", "pick_model", "Model", id="chat.model", tooltip="Pick the run and checkpoint"
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.personas: dict[str, Any] = {}
        self.sessions: dict[str, Any] = {}
        self.busy: set[str] = set()
        self.memory_k = 0
        self.memories: dict[str, Any] = {}
        self._load_lock = threading.Lock()

    def compose(self) -> ComposeResult:
        yield self.top_bar()
        entries = model_entries(self.ws)
        start = entries[1][1] if len(entries) > 1 else "base"
        with Horizontal(id="chat-controls"):
            yield Select(entries, value=start, allow_blank=False, id="chat-model", compact=True)
            yield Checkbox("A/B", len(entries) > 1, id="chat-ab", compact=True)
            yield Select(
                [(s, s) for s in SAMPLING],
                value="greedy",
                allow_blank=False,
                id="chat-sampling",
                compact=True,
            )
            yield Label("max", classes="chat-label")
            yield Input("128", type="integer", id="chat-max", compact=True)
        if self._demo():
            note = (
                f"{self.ws.config.model.name} is a demo model with random weights: its replies "
                "are noise; the flow is what it shows. studio.toml [model] names a real one."
            )
            yield Static(Text(note), id="chat-demo")
        persona = TextArea(self.ws.config.character.persona, id="chat-persona", soft_wrap=True)
        persona.border_title = "persona (system prompt) · ctrl+e edits"
        yield persona
        with Horizontal(id="chat-panes"):
            yield ChatPane("base", id="chat-a")
            yield ChatPane("adapter", id="chat-b")
        name = self.ws.config.character.name or "the character"
        yield Input(
            placeholder=f"say something to {name} (enter sends, esc leaves the prompt)",
            id="chat-input",
            compact=True,
        )
        yield Footer()

    def _demo(self) -> bool:
        from studio.train.base_model import is_demo_model

        adapters = self.app.host.adapters  # type: ignore[attr-defined]
        return is_demo_model(self.ws.config.model, adapters)

    def on_mount(self) -> None:
        self._loaded_system = self.ws.config.character.persona
        self._shown_keys = self._pane_keys()
        self._layout()
        self.query_one("#chat-input", Input).focus()

    # -- model choice ---------------------------------------------------------------------------

    def _pane_keys(self) -> dict[str, str]:
        """Which model each visible pane talks to: pane id → model key."""
        key = str(self.query_one("#chat-model", Select).value)
        if self.query_one("#chat-ab", Checkbox).value and key != "base":
            return {"chat-a": "base", "chat-b": key}
        return {"chat-b": key}

    def _label(self, key: str) -> str:
        if key == "base":
            selected = str(self.query_one("#chat-model", Select).value)
            off = " (adapter off)" if selected != "base" else ""
            return f"base · {self.ws.config.model.name}{off}"
        run, checkpoint = key.split("|", 1)
        return f"{run} · {'final adapter' if checkpoint == 'final' else 'step ' + checkpoint}"

    def _title(self, key: str) -> str:
        """A pane's header line: the model, and memory when it is on."""
        memory = f" · memory {self.memory_k}" if self.memory_k else ""
        return self._label(key) + memory

    def _layout(self) -> None:
        keys = self._pane_keys()
        self.query_one("#chat-a").display = "chat-a" in keys
        for pane_id, key in keys.items():
            self.query_one(f"#{pane_id}", ChatPane).set_title(self._title(key))

    def action_toggle_memory(self) -> None:
        """Memory on (her real exchanges retrieved into the prompt each turn) or off."""
        self.memory_k = 0 if self.memory_k else MEMORY_K
        self._layout()
        state = f"on: {self.memory_k} of her real exchanges per turn" if self.memory_k else "off"
        self.notify(f"Memory {state}.")

    @on(Select.Changed, "#chat-model")
    @on(Checkbox.Changed, "#chat-ab")
    def _model_changed(self, force: bool = False) -> None:
        """A new model or A/B setting starts a new conversation."""
        keys = self._pane_keys()
        if not force and keys == getattr(self, "_shown_keys", None):
            return  # the widgets' initial values arriving: nothing changed
        self._shown_keys = keys
        self.sessions.clear()
        self._layout()
        for pane in self.query(ChatPane):
            pane.clear()

    def action_toggle_ab(self) -> None:
        """Base and adapter side by side, or the picked model alone."""
        box = self.query_one("#chat-ab", Checkbox)
        box.value = not box.value

    def action_pick_model(self) -> None:
        """Focus the model picker (refreshing it with new runs and checkpoints)."""
        select = self.query_one("#chat-model", Select)
        current = select.value
        entries = model_entries(self.ws)
        select.set_options(entries)
        if current in [key for _, key in entries]:
            select.value = current
        select.focus()

    def action_persona(self) -> None:
        """Edit the persona card used as system prompt."""
        self.query_one("#chat-persona", TextArea).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("leave_prompt", "enter_prompt"):
            in_prompt = self.focused is not None and self.focused.id == "chat-input"
            return in_prompt == (action == "leave_prompt")
        return super().check_action(action, parameters)

    def on_descendant_focus(self) -> None:
        self.refresh_bindings()  # escape leaves or enters the prompt, and the footer says which

    def on_descendant_blur(self) -> None:
        self.refresh_bindings()

    def action_leave_prompt(self) -> None:
        """Leave the prompt line: then 1–6 switch screens and q quits."""
        self.query_one("#chat-b", ChatPane).focus()

    def action_enter_prompt(self) -> None:
        """Go back to the prompt line."""
        self.query_one("#chat-input", Input).focus()

    def action_clear(self) -> None:
        """Forget the conversation."""
        self._model_changed(force=True)
        self.notify("New conversation.")

    # -- talking --------------------------------------------------------------------------------

    @on(Input.Submitted, "#chat-input")
    def _send(self, event: Input.Submitted) -> None:
        """Send the prompt to every visible pane's model.

        One after the other: they share the model.
        """
        text = event.value.strip()
        if not text:
            return
        if self.busy:
            self.notify("Still replying…", severity="warning")
            return
        try:
            max_new = int(self.query_one("#chat-max", Input).value or "128")
        except ValueError:
            self.notify("max: expected a whole number of tokens", severity="error")
            return
        event.input.value = ""
        persona = self.query_one("#chat-persona", TextArea).text
        edited = persona != self._loaded_system
        sampling = str(self.query_one("#chat-sampling", Select).value)
        selected = str(self.query_one("#chat-model", Select).value)
        panes = list(self._pane_keys().items())
        for pane_id, _key in panes:
            pane = self.query_one(f"#{pane_id}", ChatPane)
            session = self.sessions.get(pane_id)
            if session is not None and edited and session.system != persona:
                self.sessions.pop(pane_id)
                pane.note("persona changed: new conversation")
            if selected not in self.personas:
                pane.note(f"loading {self._label(selected)}…")
            pane.add_user(text)
            self.busy.add(pane_id)
        self.run_worker(
            lambda: self._talk(
                panes, selected, text, persona if edited else None, sampling, max_new
            ),
            thread=True,
            group="chat",
            description="Chat reply",
            exit_on_error=False,
        )

    @on(ModelReady)
    def _ready(self, message: ModelReady) -> None:
        """A model finished loading: show the system prompt it was trained with, and its notes."""
        area = self.query_one("#chat-persona", TextArea)
        if area.text == self._loaded_system and message.system and message.system != area.text:
            area.load_text(message.system)
        self._loaded_system = message.system or self._loaded_system
        pane = self.query_one(f"#{message.pane}", ChatPane)
        for note in message.notes:
            pane.note(note)

    @on(ReplyPiece)
    def _piece(self, message: ReplyPiece) -> None:
        """Open the reply, or append a streamed piece to it."""
        pane = self.query_one(f"#{message.pane}", ChatPane)
        if message.start:
            pane.start_reply(message.start)
        else:
            pane.append(message.text)

    @on(ReplyFinished)
    def _finished(self, message: ReplyFinished) -> None:
        """Close the reply with its speed."""
        self.busy.discard(message.pane)
        rate = message.pieces / message.seconds if message.seconds > 0 else 0.0
        self.query_one(f"#{message.pane}", ChatPane).note(
            f"{message.pieces} pieces in {message.seconds:.1f}s ({rate:.0f}/s)"
        )

    @on(ReplyFailed)
    def _reply_failed(self, message: ReplyFailed) -> None:
        """Show why there is no reply."""
        self.busy.discard(message.pane)
        self.query_one(f"#{message.pane}", ChatPane).note(message.error, error=True)
