"""``init``: a persona card in the name's language, corpus globs for the parsers' extensions."""

from __future__ import annotations

from studio.cli import main
from studio.workspace import Workspace


def test_init_writes_a_chinese_card_for_a_chinese_name(tmp_path, host):
    assert main(["init", str(tmp_path / "ws"), "--character", "林黛玉"]) == 0
    ws = Workspace(tmp_path / "ws")
    assert ws.config.character.persona.startswith("你是林黛玉。")
    assert "You are" not in ws.config.character.persona
    from studio.dataset.identity import identity_samples

    replies = {s.reply for s in identity_samples("林黛玉", ws.config.character.persona)}
    assert replies == {"我是林黛玉。", "我叫林黛玉。"}


def test_init_writes_an_english_card_for_a_latin_name(tmp_path):
    assert main(["init", str(tmp_path / "ws"), "--character", "Juliet"]) == 0
    assert Workspace(tmp_path / "ws").config.character.persona.startswith("You are Juliet.")


def test_init_globs_only_the_extensions_parsers_read(tmp_path):
    assert main(["init", str(tmp_path / "ws"), "--character", "Juliet"]) == 0
    ws = Workspace(tmp_path / "ws")
    assert "corpus/*" not in ws.config.corpus.files
    assert {"corpus/*.txt", "corpus/*.srt", "corpus/*.vtt", "corpus/*.ass"} <= set(
        ws.config.corpus.files
    )
    for name in ("play.txt", "film.srt", "notes.py", "README", "data.json"):
        (ws.corpus_dir / name).write_text("x", encoding="utf-8")
    assert sorted(p.name for p in ws.corpus_files()) == ["film.srt", "play.txt"]
