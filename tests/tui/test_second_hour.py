"""A new user's workspace on a Chinese novel (80×24).

The book prints its hero 阿Ｑ and the user types 阿Q.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.plugins.test_parser_prose_names import STORY

CONFIG = """[character]
name = "阿Q"
persona = "你是阿Q，未庄的短工。"

[dataset]
eval_fraction = 0.0

[model]
name = "tiny-qwen2"
source = "tiny"
"""


@pytest.fixture
def story_ws(tmp_path: Path) -> Path:
    root = tmp_path / "weizhuang"
    (root / "corpus").mkdir(parents=True)
    (root / "corpus" / "story.txt").write_text(STORY * 3, encoding="utf-8")
    (root / "studio.toml").write_text(CONFIG, encoding="utf-8")
    return root


async def _settle(app, pilot) -> None:
    for _ in range(3):
        await pilot.pause()
        await app.workers.wait_for_complete()
    await pilot.pause(0.1)


async def test_dot_finds_the_characters_lines_in_the_books_spelling(story_ws, make_app):
    app = make_app(story_ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(app, pilot)
        await pilot.press("2")
        await _settle(app, pilot)
        view = app.screen.query_one("#corpus-lines")
        await pilot.press("full_stop")
        await pilot.pause()
        row = view.rows[view.cursor]
        assert row.kind == "line" and row.speaker == "阿Ｑ"
        assert "阿Ｑ" in view.character_names  # highlighted as the character
