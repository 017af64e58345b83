"""Provides fast attribution on the corpus screen: next unattributed line, likely speakers, bulk.

``a`` jumps to the next dialogue line without a (sure) speaker and starts attributing: while it
is on, ``1`` ``2`` ``3`` give the line one of its likely speakers and move on to the next such
line (elsewhere, and after escape, the digits switch screens as everywhere). The rules (what
needs a speaker, who likely said it, which lines a bulk rule covers) live in
:mod:`studio.corpus.attribution`; every choice is recorded as a corpus fix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Checkbox, Input, Label, RadioButton, RadioSet

from studio.corpus.attribution import (
    SCOPES,
    BulkRule,
    bulk_targets,
    file_speakers,
    likely_speakers,
    needs_speaker,
)
from studio.tui.screens.dialogs import DIALOG_CSS
from studio.tui.widgets.utterance_view import UtteranceView, speaker_style

SCOPE_LABELS = {
    "marked": "the marked lines",
    "scene": "this scene",
    "file": "this file",
    "corpus": "all files",
}

BINDINGS = [
    Binding(
        "a",
        "next_unattributed",
        "Next ?",
        id="corpus.next_unattributed",
        tooltip="Jump to the next dialogue line without a speaker, or with a doubtful one",
    ),
    Binding(
        "A",
        "prev_unattributed",
        "Prev ?",
        show=False,
        id="corpus.prev_unattributed",
        tooltip="Jump to the previous dialogue line without a (sure) speaker",
    ),
    Binding(
        "1",
        "pick(0)",
        "Likely speaker 1 (after a)",
        show=False,
        id="corpus.pick_1",
        tooltip="While attributing: the first likely speaker, then the next unattributed line",
    ),
    Binding(
        "2",
        "pick(1)",
        "Likely speaker 2 (after a)",
        show=False,
        id="corpus.pick_2",
        tooltip="While attributing: the second likely speaker, then the next line",
    ),
    Binding(
        "3",
        "pick(2)",
        "Likely speaker 3 (after a)",
        show=False,
        id="corpus.pick_3",
        tooltip="While attributing: the third likely speaker, then the next line",
    ),
    Binding(
        "b",
        "bulk",
        "Bulk",
        id="corpus.bulk",
        tooltip="One speaker for every line a rule covers (scene, file, marked, text); one undo",
    ),
]


class BulkDialog(ModalScreen["tuple[BulkRule, str] | None"]):
    """A bulk assignment: speaker, scope, text pattern; the count of lines shown as it changes."""

    DEFAULT_CSS = (
        DIALOG_CSS.replace("{name}", "BulkDialog")
        + """
    BulkDialog RadioSet { width: 100%; height: auto; border: none; padding: 0; margin-bottom: 1; }
    BulkDialog Checkbox { border: none; padding: 0; }
    BulkDialog #bulk-preview { margin-top: 1; text-style: bold; }
    BulkDialog .dialog-buttons { margin-top: 0; }
    """
    )
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def __init__(
        self,
        speakers: Sequence[str],
        count: Callable[[BulkRule], int],
        scope: str = "scene",
        marked: int = 0,
        speaker: str = "",
    ) -> None:
        super().__init__()
        self.speakers = list(speakers)
        self.count = count
        self.scope = scope
        self.marked = marked
        self.speaker = speaker

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Assign one speaker to many lines", classes="dialog-title")
            yield Input(
                self.speaker,
                placeholder="speaker (tab completes a known name)",
                id="bulk-speaker",
                suggester=SuggestFromList(self.speakers, case_sensitive=False),
                compact=True,
            )
            with RadioSet(id="bulk-scope"):
                for scope in SCOPES:
                    if scope == "marked" and not self.marked:
                        continue
                    label = SCOPE_LABELS[scope] + (f" ({self.marked})" if scope == "marked" else "")
                    yield RadioButton(label, value=scope == self.scope, id=f"bulk-{scope}")
            yield Input(
                placeholder="only lines containing… (/regex/ for a pattern)",
                id="bulk-pattern",
                compact=True,
            )
            yield Checkbox("only lines without a (sure) speaker", True, id="bulk-unattributed")
            yield Label("", id="bulk-preview")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Assign", id="apply", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#bulk-speaker", Input).focus()
        self._preview()

    def rule(self) -> BulkRule:
        """The rule as the fields say."""
        pressed = self.query_one("#bulk-scope", RadioSet).pressed_button
        scope = (pressed.id or "").removeprefix("bulk-") if pressed is not None else self.scope
        return BulkRule(
            scope,
            self.query_one("#bulk-pattern", Input).value,
            self.query_one("#bulk-unattributed", Checkbox).value,
        )

    def _preview(self) -> int:
        label = self.query_one("#bulk-preview", Label)
        try:
            count = self.count(self.rule())
        except ValueError as exc:
            label.update(Text(str(exc), style="red"))
            return -1
        speaker = self.query_one("#bulk-speaker", Input).value.strip() or "…"
        label.update(f"{count:,} line{'s' if count != 1 else ''} will get the speaker {speaker}")
        return count

    @on(Input.Changed)
    @on(RadioSet.Changed)
    @on(Checkbox.Changed)
    def _changed(self) -> None:
        """Recount as the rule changes."""
        self._preview()

    @on(Input.Submitted)
    @on(Button.Pressed, "#apply")
    def _submit(self) -> None:
        """Enter (or Assign) applies the rule when it names a speaker and covers a line."""
        speaker = self.query_one("#bulk-speaker", Input).value.strip()
        count = self._preview()
        if not speaker:
            self.query_one("#bulk-preview", Label).update(
                Text("name the speaker first", style="red")
            )
            self.query_one("#bulk-speaker", Input).focus()
        elif count > 0:
            self.dismiss((self.rule(), speaker))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without a change."""
        self.dismiss(None)


class AttributeActions:
    """The corpus screen's attribution actions (mixed into CorpusScreen, which has the rest)."""

    _advance = False
    attributing = False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The digits pick a speaker only while attributing; otherwise they switch screens."""
        if action == "pick" and not (self.attributing and isinstance(self.focused, UtteranceView)):  # type: ignore[attr-defined]
            return False
        return super().check_action(action, parameters)  # type: ignore[misc]

    def stop_attributing(self) -> bool:
        """Leave attributing (escape); True when it was on."""
        if not self.attributing:
            return False
        self.attributing = False
        self.refresh_detail()
        return True

    def refresh_detail(self) -> None:
        """Redraw the description of the current line."""
        self.show_detail()  # type: ignore[attr-defined]

    def likely(self) -> list[str]:
        """Likely speakers of the current line (empty when it is no dialogue line)."""
        view = self.query_one(UtteranceView)  # type: ignore[attr-defined]
        row = view.current()
        if self.snapshot is None or row is None or row.kind != "line":  # type: ignore[attr-defined]
            return []
        return likely_speakers(view.rows, view.cursor, file_speakers(view.rows))

    def describe_choices(self, detail: Text) -> None:
        """Add the one-key choices of the current line to the detail text (its first line)."""
        row = self.query_one(UtteranceView).current()  # type: ignore[attr-defined]
        if row is None or not needs_speaker(row):
            return
        names = self.likely()
        if row.speaker and row.confidence is not None:
            detail.append(" · check it", style="yellow")  # below the bar: how and how sure, above
        detail.append(" │ " if self.attributing else " │ a: ", style="dim")
        for number, name in enumerate(names, start=1):
            detail.append(f"{number} ", style="bold" if self.attributing else "dim")
            detail.append(name, style=speaker_style(name))
            detail.append("  ")
        if self.attributing:
            detail.append("s other · esc stop", style="dim")

    def action_next_unattributed(self) -> None:
        """Jump to the next line without a speaker or with a doubtful one; start attributing."""
        self._jump(1)

    def action_prev_unattributed(self) -> None:
        """Jump to the previous dialogue line without a (sure) speaker; start attributing."""
        self._jump(-1)

    def _jump(self, direction: int) -> None:
        self.attributing = True
        self._find(needs_speaker, direction, "every dialogue line has a speaker")  # type: ignore[attr-defined]
        row = self.query_one(UtteranceView).current()  # type: ignore[attr-defined]
        self.attributing = row is not None and needs_speaker(row)
        self.refresh_detail()

    def action_pick(self, choice: int) -> None:
        """Give the current line its ``choice``-th likely speaker, then go on to the next one."""
        if self.refuse_read_only() or self.snapshot is None:  # type: ignore[attr-defined]
            return
        row = self.query_one(UtteranceView).current()  # type: ignore[attr-defined]
        if row is None or row.kind != "line":
            self.notify("Only a spoken line takes a speaker.", severity="warning")  # type: ignore[attr-defined]
            return
        names = self.likely()
        if choice >= len(names):
            self.notify("No likely speaker there yet; s names one.", severity="warning")  # type: ignore[attr-defined]
            return
        self._advance = True
        self._record([row], names[choice], None)  # type: ignore[attr-defined]

    def advance_after_reload(self) -> None:
        """After a one-key choice is saved and the corpus reloaded, move to the next line to do."""
        if self._advance:
            self._advance = False
            self.action_next_unattributed()

    def action_bulk(self) -> None:
        """Assign one speaker to every line a rule covers, after showing how many."""
        if self.refuse_read_only() or self.snapshot is None:  # type: ignore[attr-defined]
            return
        view = self.query_one(UtteranceView)  # type: ignore[attr-defined]
        info = self.snapshot.files[self.file_index]  # type: ignore[attr-defined]
        rows_by_file = self.snapshot.rows  # type: ignore[attr-defined]
        marked = list(view.selection()) if view.mark is not None else []
        cursor = view.cursor

        def count(rule: BulkRule) -> int:
            return len(bulk_targets(rule, rows_by_file, info.path, cursor, marked))

        def chosen(result: tuple[BulkRule, str] | None) -> None:
            if result is None:
                return
            rule, speaker = result
            self._record(bulk_targets(rule, rows_by_file, info.path, cursor, marked), speaker, None)  # type: ignore[attr-defined]

        names = self.likely()
        scope = "marked" if marked else "scene"
        speakers = self.snapshot.speakers  # type: ignore[attr-defined]
        dialog = BulkDialog(speakers, count, scope, len(marked), names[0] if names else "")
        self.app.push_screen(dialog, chosen)  # type: ignore[attr-defined]
