"""Provides the studio's small dialogs: confirm, speaker assignment, alias merge, text prompt."""

from __future__ import annotations

from collections.abc import Sequence

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, OptionList
from textual.widgets.option_list import Option

from studio.tui.widgets.lists import KeyedOptionList

DIALOG_CSS = """
    {name} { align: center middle; }
    {name} > Vertical {
        width: 72; max-width: 95%; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    {name} .dialog-title { text-style: bold; margin-bottom: 1; }
    {name} .dialog-note { color: $text-muted; width: 100%; }
    {name} Input { margin-bottom: 1; }
    {name} OptionList { height: auto; max-height: 8; }
    {name} .dialog-buttons { height: auto; align-horizontal: right; margin-top: 1; }
    {name} Button { margin-left: 1; min-width: 10; }
"""


class ConfirmDialog(ModalScreen[bool]):
    """Ask a yes/no question; ``y``/enter say yes, ``n``/escape say no."""

    DEFAULT_CSS = DIALOG_CSS.replace("{name}", "ConfirmDialog")
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="dialog.yes"),
        Binding("n,escape", "answer(False)", "No", id="dialog.no"),
    ]

    def __init__(self, question: str, detail: str = "") -> None:
        super().__init__()
        self.question = question
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, classes="dialog-title")
            if self.detail:
                yield Label(self.detail, classes="dialog-note")
            with Horizontal(classes="dialog-buttons"):
                yield Button("No", id="no")
                yield Button("Yes", id="yes", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        """A button answers."""
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        """Close with the answer."""
        self.dismiss(yes)


class SpeakerDialog(ModalScreen["tuple[str, str | None] | None"]):
    """Assign a speaker to a line or a run of lines; for an unparsed line, also its text."""

    DEFAULT_CSS = DIALOG_CSS.replace("{name}", "SpeakerDialog")
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def __init__(
        self, title: str, speakers: Sequence[str], current: str = "", text: str | None = None
    ) -> None:
        super().__init__()
        self.title_text = title
        self.speakers = list(speakers)
        self.current = current
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="dialog-title")
            yield Label(
                "Speaker (tab completes a known name; empty clears the fix)", classes="dialog-note"
            )
            yield Input(
                self.current,
                id="speaker",
                suggester=SuggestFromList(self.speakers, case_sensitive=False),
            )
            if self.text is not None:
                yield Label(
                    "Spoken text (the unparsed line, name prefix removed)", classes="dialog-note"
                )
                yield Input(self.text, id="text")
            yield Label("enter saves · escape cancels", classes="dialog-note")

    @on(Input.Submitted)
    def _submit(self) -> None:
        """Enter saves the assignment."""
        speaker = self.query_one("#speaker", Input).value.strip()
        text = self.query_one("#text", Input).value.strip() if self.text is not None else None
        self.dismiss((speaker, text))

    def action_cancel(self) -> None:
        """Close without a change."""
        self.dismiss(None)


class AliasDialog(ModalScreen["tuple[str, str] | None"]):
    """Merge one speaker name into another (pick a suggestion or type both names)."""

    DEFAULT_CSS = DIALOG_CSS.replace("{name}", "AliasDialog")
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def __init__(
        self, speakers: Sequence[str], alias: str = "", suggestions: Sequence[tuple[str, str]] = ()
    ) -> None:
        super().__init__()
        self.speakers = list(speakers)
        self.alias = alias
        self.suggestions = list(suggestions)

    def compose(self) -> ComposeResult:
        suggester = SuggestFromList(self.speakers, case_sensitive=False)
        with Vertical():
            yield Label("Merge aliases: the first name becomes the second", classes="dialog-title")
            yield Input(
                self.alias, placeholder="alias (e.g. 嬛嬛)", id="alias", suggester=suggester
            )
            yield Input(
                "", placeholder="canonical name (e.g. 甄嬛)", id="canonical", suggester=suggester
            )
            if self.suggestions:
                yield Label("Suggested (enter picks one):", classes="dialog-note")
                yield KeyedOptionList(
                    *[
                        Option(f"{a}  →  {c}", id=str(i))
                        for i, (a, c) in enumerate(self.suggestions)
                    ],
                    id="suggestions",
                )
            yield Label("enter in the second field saves · escape cancels", classes="dialog-note")

    def on_mount(self) -> None:
        self.query_one("#canonical" if self.alias else "#alias", Input).focus()

    @on(Input.Submitted, "#alias")
    def _next_field(self) -> None:
        """Enter in the first field moves to the second."""
        self.query_one("#canonical", Input).focus()

    @on(Input.Submitted, "#canonical")
    def _submit(self) -> None:
        """Enter in the second field saves."""
        alias = self.query_one("#alias", Input).value.strip()
        canonical = self.query_one("#canonical", Input).value.strip()
        if alias and canonical:
            self.dismiss((alias, canonical))
        else:
            self.notify("Both names are needed.", severity="warning")

    @on(OptionList.OptionSelected, "#suggestions")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        """A suggestion fills both fields and saves."""
        alias, canonical = self.suggestions[int(event.option.id or 0)]
        self.dismiss((alias, canonical))

    def action_cancel(self) -> None:
        """Close without a change."""
        self.dismiss(None)


class PickDialog(ModalScreen["str | None"]):
    """Pick one entry of a list (files, runs …)."""

    DEFAULT_CSS = (
        DIALOG_CSS.replace("{name}", "PickDialog") + "PickDialog OptionList { max-height: 20; }"
    )
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def __init__(self, title: str, entries: Sequence[tuple[str, str]], current: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.entries = list(entries)
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="dialog-title")
            yield KeyedOptionList(
                *[Option(label, id=key) for key, label in self.entries], id="entries"
            )

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        for index, (key, _) in enumerate(self.entries):
            if key == self.current:
                options.highlighted = index
        options.focus()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        """Enter picks the highlighted entry."""
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        """Close without a choice."""
        self.dismiss(None)
