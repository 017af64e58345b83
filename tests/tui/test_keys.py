"""Keys at 80×24: j/k in every list, `.` on the corpus, escape first in chat, a described key map."""

from __future__ import annotations

from textual.widgets import Footer, Input

from studio.tui.screens.help import HelpScreen, binding_sections


async def _settle(app, pilot) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_j_and_k_move_the_strategy_list(studio_ws, make_app):
    app = make_app(studio_ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(app, pilot)
        await pilot.press("4")
        await _settle(app, pilot)
        strategies = app.screen.query_one("#augment-strategies")
        strategies.focus()
        start = strategies.highlighted
        await pilot.press("j")
        assert strategies.highlighted == start + 1
        await pilot.press("k")
        assert strategies.highlighted == start


async def test_j_and_k_scroll_the_help(studio_ws, make_app):
    app = make_app(studio_ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(app, pilot)
        await pilot.press("question_mark")
        await _settle(app, pilot)
        assert isinstance(app.screen, HelpScreen)
        scroll = app.screen.query_one("VerticalScroll")
        await pilot.press("j", "j", "j")
        await pilot.pause(0.3)
        assert scroll.scroll_y >= 3
        before = scroll.scroll_y
        await pilot.press("k")
        await pilot.pause(0.3)
        assert scroll.scroll_y == before - 1


def test_every_binding_has_a_description_and_keys_show_as_typed(studio_ws, make_app):
    app = make_app(studio_ws)
    vague = []
    for title, bindings in binding_sections(app):
        for binding in bindings:
            if not binding.tooltip and len(binding.description.split()) < 2:
                vague.append(f"{title}: {binding.key} {binding.description!r}")
    assert not vague
    shown = [
        app.get_key_display(b.__class__(k, b.action))
        for _, bs in binding_sections(app)
        for b in bs
        for k in b.key.split(",")
    ]
    assert not [key for key in shown if key in ("period", "full_stop", "slash", "question_mark")]
    assert "." in shown


async def test_dot_jumps_to_the_characters_next_line(studio_ws, make_app):
    app = make_app(studio_ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(app, pilot)
        await pilot.press("2")
        await _settle(app, pilot)
        view = app.screen.query_one("#corpus-lines")
        await pilot.press("full_stop")
        await pilot.pause()
        row = view.rows[view.cursor]
        assert row.kind == "line" and row.speaker == "MIRA"


async def test_chat_footer_says_escape_first_and_escape_frees_the_keys(studio_ws, make_app):
    app = make_app(studio_ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(app, pilot)
        await pilot.press("6")
        await _settle(app, pilot)
        prompt = app.screen.query_one("#chat-input", Input)
        assert prompt.has_focus
        footer_keys = [
            (key.key_display or key.key, key.description)
            for key in app.screen.query_one(Footer).query("FooterKey")
        ]
        assert footer_keys and footer_keys[0][0] == "esc", footer_keys
        assert "prompt" in footer_keys[0][1]
        await pilot.press("escape")
        assert not prompt.has_focus
        await pilot.press("escape")
        assert prompt.has_focus  # escape goes back to the prompt as well
        await pilot.press("escape", "3")
        await _settle(app, pilot)
        assert app.screen.MODE == "dataset"
