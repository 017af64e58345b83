"""Provides the dataset screen's review actions: decide on samples, undo, and the inline edit.

``a`` / ``r`` / ``x`` accept, reject or reset the current sample or every marked one (one
journal entry, so one undo takes a range back), ``u`` reverts the latest decision, ``e`` edits
the reply in place and ``ctrl+s`` saves it as an edit. The decisions are the dataset store's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.widgets import TextArea

from studio.tui.widgets.sample_list import SampleList

if TYPE_CHECKING:
    from studio.tui.screens.base import StudioScreen as _Host
else:
    _Host = object


class ReviewActions(_Host):
    """The dataset screen's review actions (mixed into DatasetScreen, which has the rest)."""

    samples: list[Any]
    store: Any
    _at: dict[str, int]

    def _show_updated(self, updated: list[Any]) -> None:
        """Put the store's updated samples in place of the ones shown."""
        for sample in updated:
            index = self._at.get(sample.id)
            if index is not None:
                self.samples[index] = sample

    def action_decide(self, action: str) -> None:
        """Accept, reject or reset the current sample (or every marked one), then move on."""
        if self.refuse_read_only() or self.store is None:
            return
        sample_list = self.query_one(SampleList)
        targets = sample_list.selected()
        if not targets:
            return
        try:  # several marked: one journal entry, one undo takes the whole range back
            updated = self.store.decide(action, [sample.id for sample in targets])
        except Exception as exc:
            self.notify(f"not saved: {exc}", severity="error")
            return
        rows = sample_list.selection()
        if sample_list.mark is not None:
            sample_list.mark = None
            sample_list.refresh()
        else:
            sample_list.refresh_rows(rows)
        self._show_updated(updated)
        self._show_counts()  # type: ignore[attr-defined]
        if len(targets) > 1 and updated:
            self.notify(f"{updated[0].status}: {len(targets)} samples")
        sample_list.move_to(rows[-1] + 1)
        self._highlighted()  # type: ignore[attr-defined]

    def action_undo(self) -> None:
        """Revert the last decision (of this session or an earlier one; a range as a whole)."""
        if self.refuse_read_only() or self.store is None:
            return
        try:
            entry, updated = self.store.revert()
        except Exception as exc:
            self.notify(f"not undone: {exc}", severity="error")
            return
        if entry is None:
            self.notify("Nothing to undo.", severity="warning")
            return
        ids = list(entry.get("ids") or [entry.get("id")])
        sample_list = self.query_one(SampleList)
        self._show_updated(updated)
        for position, index in enumerate(sample_list.view):
            if self.samples[index].id == ids[0]:
                sample_list.move_to(position)
                break
        sample_list.refresh()
        self._show_counts()  # type: ignore[attr-defined]
        self._highlighted()  # type: ignore[attr-defined]
        self.notify(
            f"undid {entry.get('action')} of {len(ids)} sample{'s' if len(ids) != 1 else ''}"
        )

    def action_next_pending(self) -> None:
        """Jump to the next pending sample in the list."""
        sample_list = self.query_one(SampleList)
        for position in range(sample_list.cursor + 1, len(sample_list.view)):
            if self.samples[sample_list.view[position]].status == "pending":
                sample_list.move_to(position)
                return
        self.notify("No pending sample below.", severity="warning")

    # -- inline edit ----------------------------------------------------------------------------

    def action_edit(self) -> None:
        """Edit the reply of the current sample in place."""
        if self.refuse_read_only():
            return
        sample = self.query_one(SampleList).current()
        if sample is None:
            return
        editor = self.query_one("#dataset-editor", TextArea)
        editor.load_text(sample.reply)
        editor.border_title = f"edit reply of {sample.id} · ctrl+s saves · escape cancels"
        editor.display = True
        self.query_one("#dataset-detail").display = False
        editor.focus()
        self._editing = sample

    def action_save_edit(self) -> None:
        """Save the edited reply as an ``edit`` decision."""
        editor = self.query_one("#dataset-editor", TextArea)
        sample = getattr(self, "_editing", None)
        if not editor.display or sample is None or self.store is None:
            return
        try:
            self._show_updated([self.store.edit(sample.id, editor.text.strip())])
        except ValueError as exc:
            self.notify(f"{str(exc)[:1].upper()}{str(exc)[1:]}.", severity="warning")
            return
        except Exception as exc:
            self.notify(f"not saved: {exc}", severity="error")
            return
        self._close_editor()
        self._show_counts()  # type: ignore[attr-defined]
        self.notify("edit saved")

    def _close_editor(self) -> None:
        self._editing = None
        self.query_one("#dataset-editor").display = False
        self.query_one("#dataset-detail").display = True
        sample_list = self.query_one(SampleList)
        sample_list.refresh()
        sample_list.focus()
        self._highlighted()  # type: ignore[attr-defined]
