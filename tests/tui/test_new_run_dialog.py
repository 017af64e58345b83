"""The new-run dialog at 80×24: every field reachable, buttons and key hint shown, its own keys."""

from __future__ import annotations

from textual.widgets import Button, Footer, Label
from textual.widgets._footer import FooterKey

from studio import settings
from studio.tui.screens.new_run import NewRunDialog, hyper_options


def _shown(screen, widget) -> bool:
    """True when the widget is what the terminal shows at the middle of its region."""
    region = widget.region
    if not region.height or not region.width:
        return False
    try:
        found, _ = screen.get_widget_at(region.x + region.width // 2, region.y + region.height // 2)
    except Exception:
        return False
    return found is widget or widget in found.ancestors


async def _open(app, pilot) -> NewRunDialog:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.press("5")
    await pilot.pause()
    await pilot.press("n")
    await pilot.pause()
    assert isinstance(app.screen, NewRunDialog)
    return app.screen


async def test_every_field_buttons_and_hint_fit_80x24(studio_ws, make_app):
    app = make_app(studio_ws)
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await _open(app, pilot)
        for widget in (
            dialog.query_one("#start", Button),
            dialog.query_one("#cancel", Button),
            dialog.query_one(".dialog-note", Label),
        ):
            assert _shown(dialog, widget), widget
        names = [option.name for option in hyper_options()]
        assert {"dtype", "gradient_checkpointing", "seed"} <= set(names)
        for name in names:  # each field scrolls into view when it gets the focus
            field = dialog.query_one(f"#opt-{name}")
            field.focus()
            await pilot.pause()
            assert _shown(dialog, field), name
        assert _shown(dialog, dialog.query_one("#start", Button))


async def test_footer_shows_the_dialogs_keys(studio_ws, make_app):
    app = make_app(studio_ws)
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await _open(app, pilot)
        footer = dialog.query_one(Footer)
        assert footer.region.height == 1 and footer.region.y == 23
        keys = {key.description for key in dialog.query(FooterKey)}
        assert {"Start", "Cancel"} <= keys
        assert "New run" not in keys  # the Train screen's keys are not the dialog's


def test_form_is_generated_from_the_declarations():
    shown = [option.name for option in hyper_options()]
    assert shown == [s.name for s in settings.SETTINGS.values() if s.form]
    docs = {option.name: option.description for option in hyper_options()}
    assert docs["lr"] == settings.SETTINGS["lr"].doc
