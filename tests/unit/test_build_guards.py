"""A build that finds nothing for the character keeps the dataset; names match the roster."""

from __future__ import annotations

import pytest

from studio.cli import main
from studio.corpus.names import match_speaker, name_hints
from studio.dataset.identity import identity_samples
from studio.dataset.service import NothingToBuild, build_dataset
from studio.dataset.store import DatasetStore
from studio.errors import StudioError
from studio.train.runner import prepare_run
from studio.workspace import Workspace


def _set_character(root, name: str) -> None:
    toml = (root / "studio.toml").read_text(encoding="utf-8")
    (root / "studio.toml").write_text(
        toml.replace('name = "莞莞"', f'name = "{name}"'), encoding="utf-8"
    )


def test_a_failed_build_keeps_the_dataset_on_disk(zh_workspace, capsys):
    assert main(["build", str(zh_workspace)]) == 0
    store = DatasetStore(Workspace(zh_workspace).dataset_dir())
    before = store.samples_path.read_bytes()
    _set_character(zh_workspace, "不存在的人")
    capsys.readouterr()
    assert main(["build", str(zh_workspace)]) != 0
    err = capsys.readouterr().err
    assert "no dialogue line of 不存在的人" in err and "unchanged" in err
    assert store.samples_path.read_bytes() == before


def test_an_empty_corpus_builds_nothing_and_says_why(zh_workspace, host):
    (zh_workspace / "corpus" / "script.txt").unlink()
    ws = Workspace(zh_workspace)
    with pytest.raises(NothingToBuild, match="no corpus files match"):
        build_dataset(ws, host.parsers)
    assert not DatasetStore(ws.dataset_dir()).exists()


def test_train_refuses_a_dataset_of_identity_samples_only(zh_workspace, host):
    ws = Workspace(zh_workspace)
    DatasetStore(ws.dataset_dir()).write_samples(
        identity_samples("莞莞", "你是莞莞，碎玉轩的小主。")
    )
    with pytest.raises(StudioError, match="only the .* identity samples"):
        prepare_run(ws, host.adapters)
    assert not list(ws.root.glob("runs/*"))


def test_character_names_match_the_roster_case_insensitively(shipped_workspace, host, capsys):
    toml = (shipped_workspace / "studio.toml").read_text(encoding="utf-8")
    assert 'name = "JULIET"' in toml
    (shipped_workspace / "studio.toml").write_text(
        toml.replace('name = "JULIET"', 'name = "juliet"'), encoding="utf-8"
    )
    result = build_dataset(Workspace(shipped_workspace), host.parsers, write=False)
    assert result.character == "JULIET" and result.report.character_lines > 50
    assert any("matched 'JULIET'" in note for note in result.notes)


def test_an_unknown_name_suggests_the_closest_roster_names(shipped_workspace, capsys):
    assert main(["build", str(shipped_workspace), "--character", "JULEIT"]) != 0
    err = capsys.readouterr().err
    assert "did you mean JULIET (" in err and "utterances)" in err


def test_a_full_name_is_offered_the_short_forms_the_text_uses():
    counts = {"黛玉": 573, "林黛玉": 109, "宝玉": 600, "林之孝": 12}
    assert (
        match_speaker("林黛玉", counts) == "林黛玉"
        and match_speaker("juliet", {"JULIET": 3}) == "JULIET"
    )
    hints = name_hints("林黛玉", counts)
    assert [(h.name, h.utterances, h.reason) for h in hints][:1] == [("黛玉", 573, "contained")]
    assert "宝玉" not in {h.name for h in hints if h.reason != "close"}


def test_lines_said_together_are_not_offered_as_aliases():
    counts = {
        "甄嬛": 3989,
        "眉庄": 700,
        "陵容": 500,
        "甄嬛陵容": 10,
        "甄嬛眉庄陵容": 4,
        "莞嫔甄嬛": 3,
    }
    hints = {h.name for h in name_hints("甄嬛", counts)}
    assert "莞嫔甄嬛" in hints  # a title before her name: perhaps her
    assert not hints & {"甄嬛陵容", "甄嬛眉庄陵容"}  # 甄嬛 and 陵容 at once: never an alias


def test_build_offers_the_short_form_as_an_alias(zh_workspace, host):
    script = zh_workspace / "corpus" / "script.txt"
    script.write_text(
        script.read_text(encoding="utf-8").replace("莞莞：请他进来。", "沈莞莞：请他进来。"),
        encoding="utf-8",
    )
    _set_character(zh_workspace, "沈莞莞")
    result = build_dataset(Workspace(zh_workspace), host.parsers, write=False)
    assert any("莞莞 (4 utterances)" in note and "aliases" in note for note in result.notes), (
        result.notes
    )
