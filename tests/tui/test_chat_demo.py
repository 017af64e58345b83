"""The chat screen at 80×24 says plainly when the model is a demo model whose words are noise."""

from __future__ import annotations


async def _settle(app, pilot) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_chat_says_a_demo_models_words_are_noise(studio_ws, make_app):
    app = make_app(studio_ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(app, pilot)
        await pilot.press("6")
        await _settle(app, pilot)
        note = app.screen.query_one("#chat-demo")
        assert note.region.height >= 1 and "noise" in str(note.render())


async def test_chat_says_nothing_of_the_kind_for_a_real_model(studio_ws, make_app):
    config = studio_ws / "studio.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace(
            'name = "tiny-qwen2"\nsource = "tiny"',
            'name = "Qwen/Qwen2.5-7B-Instruct"\nsource = "modelscope"',
        ),
        encoding="utf-8",
    )
    app = make_app(studio_ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(app, pilot)
        await pilot.press("6")
        await _settle(app, pilot)
        assert not app.screen.query("#chat-demo")
