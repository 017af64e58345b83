"""Provides the corpus screen's speaker fixes: assign a speaker, merge an alias, undo a fix.

``s`` gives the current line (or the marked run of lines) a speaker, ``m`` folds one speaker
name into another in studio.toml, ``u`` takes back the last assignment. The fixes themselves
are recorded by :mod:`studio.corpus.fixes`; an unparsed ``name；text`` line keeps its text.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from studio.tui.screens.dialogs import AliasDialog, SpeakerDialog
from studio.tui.widgets.utterance_view import UtteranceView

if TYPE_CHECKING:
    from studio.tui.corpus_model import CorpusSnapshot, Row
    from studio.tui.screens.base import StudioScreen as _Host
else:
    _Host = object

_PREFIX = re.compile(r"^\s*([^\s：:；;（(]{1,12})\s*(?:[（(][^）)]*[）)])?\s*[：:；;]\s*(.+)$")


def guess_speaker(raw: str) -> tuple[str, str]:
    """Split an unparsed ``name；text`` line into (name, text); ("", raw) when it has no prefix."""
    match = _PREFIX.match(raw)
    return (match.group(1), match.group(2).strip()) if match else ("", raw.strip())


class FixActions(_Host):
    """The corpus screen's fix actions (mixed into CorpusScreen, which has the rest)."""

    snapshot: CorpusSnapshot | None

    def action_speaker(self) -> None:
        """Assign the speaker of the current line or of the marked run of lines."""
        if self.refuse_read_only() or self.snapshot is None:
            return
        view = self.query_one(UtteranceView)
        rows = [row for row in view.selected() if row.kind != "scene"]
        if not rows:
            self.notify("Scene headings have no speaker.", severity="warning")
            return
        text: str | None = None
        current = rows[0].speaker or ""
        if len(rows) == 1 and rows[0].kind == "warning":
            current, text = guess_speaker(rows[0].text)
        title = (
            f"Speaker of line {rows[0].line}" if len(rows) == 1 else f"Speaker of {len(rows)} lines"
        )

        def chosen(result: tuple[str, str | None] | None) -> None:
            if result is None:
                return
            speaker, new_text = result
            self._record(rows, speaker, new_text)

        self.app.push_screen(SpeakerDialog(title, self.snapshot.speakers, current, text), chosen)

    def _record(self, rows: list[Row], speaker: str, text: str | None) -> None:
        from studio.corpus.fixes import record_fixes

        targets = []
        for row in rows:
            spoken = None
            if row.kind == "warning":  # an unparsed line becomes an utterance: keep its text
                spoken = text if len(rows) == 1 and text is not None else guess_speaker(row.text)[1]
            targets.append((row.file, row.line, spoken))
        try:
            count = record_fixes(self.ws, targets, speaker)
        except Exception as exc:
            self.notify(str(exc), severity="error")
            return
        view = self.query_one(UtteranceView)
        view.mark = None
        what = f"speaker {speaker}" if speaker else "cleared the speaker fix"
        self.notify(f"{what} on {count} line{'s' if count != 1 else ''} (u undoes)")
        self._changed()

    def action_alias(self) -> None:
        """Merge one speaker name into another (studio.toml aliases)."""
        if self.refuse_read_only() or self.snapshot is None:
            return
        row = self.query_one(UtteranceView).current()
        alias = row.speaker if row is not None and row.speaker else ""

        def chosen(result: tuple[str, str] | None) -> None:
            if result is None:
                return
            from studio.corpus.fixes import merge_alias

            try:
                section = merge_alias(self.ws, *result)
            except Exception as exc:
                self.notify(str(exc), severity="error")
                return
            self.notify(f"{result[0]} → {result[1]} saved to studio.toml [{section}] aliases")
            self._changed()

        self.app.push_screen(
            AliasDialog(self.snapshot.speakers, alias, self.snapshot.suggestions), chosen
        )

    def action_undo(self) -> None:
        """Take back the last speaker assignment."""
        if self.refuse_read_only():
            return
        from studio.corpus.fixes import undo_fixes

        try:
            lines = undo_fixes(self.ws)
        except Exception as exc:
            self.notify(str(exc), severity="error")
            return
        if not lines:
            self.notify("No speaker fix to undo.", severity="warning")
            return
        self.notify(f"Undid the fix of {len(lines)} line{'s' if len(lines) != 1 else ''}.")
        self._changed()

    def _changed(self) -> None:
        self.app.corpus_changed()  # type: ignore[attr-defined]
        self.load()  # type: ignore[attr-defined]
