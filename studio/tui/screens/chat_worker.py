"""Provides the chat screen's worker side: loading models, streaming replies, saving transcripts.

The worker thread loads a persona (once per model), then streams each visible pane's reply as
``ReplyPiece`` messages (``ModelReady``, ``ReplyFinished``, ``ReplyFailed`` around them), which
ChatScreen's handlers put in the panes; ``ctrl+s`` writes each pane's conversation to ``chats/``.
"""

from __future__ import annotations

import datetime as _dt
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.tui.messages import ModelReady, ReplyFailed, ReplyFinished, ReplyPiece

if TYPE_CHECKING:
    from studio.tui.screens.base import StudioScreen as _Host
else:
    _Host = object

MEMORY_K = 3
"""Exchanges memory retrieves per turn when switched on."""


class ChatWorker(_Host):
    """The chat screen's model loading, reply streaming and saving (mixed into ChatScreen)."""

    personas: dict[str, Any]
    sessions: dict[str, Any]
    memories: dict[str, Any]
    memory_k: int
    _load_lock: threading.Lock

    if TYPE_CHECKING:

        def _pane_keys(self) -> dict[str, str]: ...

        def _label(self, key: str) -> str: ...

    def _persona(self, key: str) -> Any:
        """Load (once) the base model, or the base model with a run's adapter."""
        from studio.chat.persona import load_persona

        with self._load_lock:
            if key not in self.personas:
                adapters = self.app.host.adapters  # type: ignore[attr-defined]
                if key == "base":
                    self.personas[key] = load_persona(self.ws, adapters, base=True)
                else:
                    run, checkpoint = key.split("|", 1)
                    self.personas[key] = load_persona(
                        self.ws,
                        adapters,
                        run=run,
                        checkpoint=None if checkpoint == "final" else int(checkpoint),
                    )
            return self.personas[key]

    def _memory(self, key: str, persona: Any) -> Any:
        """The memory of a model (built once): its run's train samples, or the dataset's."""
        with self._load_lock:
            if key not in self.memories:
                self.memories[key] = persona.memory(self.ws, MEMORY_K)
            memory = self.memories[key]
            memory.k = self.memory_k
            return memory

    def _talk(
        self,
        panes: list[tuple[str, str]],
        selected: str,
        text: str,
        system: str | None,
        sampling: str,
        max_new: int,
    ) -> None:
        """Worker body: load the model if needed, then stream each pane's reply piece by piece."""
        from studio.chat.session import SAMPLING_PRESETS, ChatSession

        try:
            fresh = selected not in self.personas
            persona = self._persona(selected)
        except Exception as exc:
            for pane, _ in panes:
                self.post_message(ReplyFailed(pane, f"{type(exc).__name__}: {exc}"))
            return
        if fresh:
            self.post_message(
                ModelReady(panes[-1][0], persona.label, persona.system, list(persona.notes))
            )
        for pane, key in panes:
            try:
                session = self.sessions.get(pane)
                if session is None or session.loaded is not persona.loaded:
                    use_adapter = key != "base" or selected == "base"
                    session = self.sessions[pane] = ChatSession(
                        persona.loaded,
                        system or persona.system,
                        engine=persona.engine,
                        use_adapter=use_adapter,
                        seed=0,
                    )
                session.sampling = dict(SAMPLING_PRESETS[sampling])
                session.max_new_tokens = max_new
                session.memory = self._memory(selected, persona) if self.memory_k else None
                self.post_message(ReplyPiece(pane, "", start=persona.character))
                started, pieces = time.perf_counter(), 0
                for piece in session.stream(text):
                    pieces += 1
                    self.post_message(ReplyPiece(pane, piece))
                self.post_message(ReplyFinished(pane, time.perf_counter() - started, pieces))
            except Exception as exc:
                self.post_message(ReplyFailed(pane, f"{type(exc).__name__}: {exc}"))

    # -- saving ---------------------------------------------------------------------------------

    def action_save(self) -> None:
        """Write each pane's conversation to chats/ (one JSON file per model)."""
        if self.refuse_read_only():
            return
        if not any(s.history for s in self.sessions.values()):
            self.notify("Nothing to save yet.", severity="warning")
            return
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        keys = self._pane_keys()
        saved: list[Path] = []
        for pane_id, session in self.sessions.items():
            if not session.history or pane_id not in keys:
                continue
            key = keys[pane_id]
            name = "base" if key == "base" else key.replace("|", "-")
            path = self.ws.chats_dir / f"{stamp}-{name}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            session.save(
                path,
                {
                    "character": self.ws.config.character.name,
                    "model": self._label(key),
                    "base_model": self.ws.config.model.name,
                    "sampling": dict(session.sampling),
                    "max_new_tokens": session.max_new_tokens,
                    "persona_edited": session.system != self.ws.config.character.persona,
                },
            )
            saved.append(path)
        self.notify("saved " + ", ".join(str(p.relative_to(self.ws.root)) for p in saved))
