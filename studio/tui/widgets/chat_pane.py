"""Provides ChatPane: one model's side of a conversation.

The reply streams in token by token.
"""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from studio.tui.widgets.virtual_list import CONTROL


class ChatPane(VerticalScroll, can_focus=True):
    """A transcript: the user's lines and the model's replies.

    The last reply grows as it streams.
    """

    DEFAULT_CSS = """
    ChatPane { border: round $primary 40%; height: 1fr; padding: 0 1; }
    ChatPane:focus { border: round $accent; }
    ChatPane > .chat-user { color: $text-muted; margin-top: 1; }
    ChatPane > .chat-reply { color: $foreground; }
    ChatPane > .chat-note { color: $text-muted; text-style: italic; }
    ChatPane > .chat-error { color: $error; }
    """

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = title
        self._reply: Static | None = None
        self.reply_text = ""

    def set_title(self, title: str) -> None:
        """The model this pane talks to."""
        self.border_title = title

    def add_user(self, text: str) -> None:
        """Show what the user said."""
        self.mount(Static(Text("you › " + text), classes="chat-user"))
        self.scroll_end(animate=False)

    def start_reply(self, speaker: str) -> None:
        """Open an empty reply that :meth:`append` fills."""
        self.reply_text = ""
        self._speaker = speaker
        self._reply = Static(Text(f"{speaker} › ", style="bold"), classes="chat-reply")
        self.mount(self._reply)
        self.scroll_end(animate=False)

    def append(self, piece: str) -> None:
        """Add a streamed piece to the open reply."""
        if self._reply is None:
            self.start_reply("model")
        assert self._reply is not None
        self.reply_text += piece
        text = Text(f"{self._speaker} › ", style="bold")
        text.append(self.reply_text.translate(CONTROL))  # model output may hold control characters
        self._reply.update(text)
        self.scroll_end(animate=False)

    def note(self, text: str, error: bool = False) -> None:
        """A line about the chat itself (model loaded, speed, errors)."""
        self.mount(Static(Text(text), classes="chat-error" if error else "chat-note"))
        self.scroll_end(animate=False)

    def clear(self) -> None:
        """Remove the transcript."""
        self._reply = None
        self.reply_text = ""
        self.remove_children()
