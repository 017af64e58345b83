"""The build, review and export-data subcommands on small workspaces."""

from __future__ import annotations

import json

from studio.cli import main
from studio.dataset.store import DatasetStore


def samples_of(ws):
    return DatasetStore(ws / "datasets" / "default")


def test_build_reports_compares_with_the_seed_and_shows_samples(zh_workspace, capsys):
    assert main(["build", str(zh_workspace), "--compare-seed", "--show", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("莞莞: ") and "replies" in out and "split by scene" in out
    assert "the seed recipe's rule on the same files" in out and "label with an action" in out
    assert "identity samples from the persona card" in out and "user> " in out
    assert samples_of(zh_workspace).exists()


def test_dry_run_writes_nothing_and_json_is_machine_readable(zh_workspace, capsys):
    assert main(["build", str(zh_workspace), "--dry-run", "--json", "--mode", "multi"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["report"]["mode"] == "multi" and payload["report"]["samples"] > 0
    assert not samples_of(zh_workspace).exists()


def test_review_decisions_survive_a_rebuild_and_undo(zh_workspace, capsys):
    ws = str(zh_workspace)
    assert main(["build", ws]) == 0
    store = samples_of(zh_workspace)
    first, second = [s.id for s in store.raw_samples() if s.provenance["kind"] == "corpus"][:2]
    assert main(["review", ws, "--accept", first, "--edit", second, "--reply", "改过的回答。"]) == 0
    capsys.readouterr()
    assert main(["build", ws]) == 0
    assert "kept 2 review decisions" in capsys.readouterr().out
    again = samples_of(zh_workspace)
    assert again.get(first).status == "accepted" and again.get(second).reply == "改过的回答。"
    assert main(["review", ws, "--undo", "1"]) == 0
    assert samples_of(zh_workspace).get(second).status == "pending"
    assert main(["review", ws, "--all", "reject", "--search", "姐姐"]) == 0
    assert "reject: " in capsys.readouterr().out
    assert main(["review", ws]) == 0
    summary = capsys.readouterr().out
    assert "rejected" in summary and "reply length" in summary
    assert main(["review", ws, "--accept", "no-such-id"]) == 2
    assert "no sample no-such-id" in capsys.readouterr().err


def test_export_data_writes_llamafactory_files(zh_workspace, tmp_path, capsys):
    ws = str(zh_workspace)
    assert main(["build", ws]) == 0
    out = tmp_path / "export"
    assert (
        main(
            [
                "export-data",
                ws,
                "--format",
                "alpaca,sharegpt",
                "--format",
                "messages",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "LLaMA-Factory" in printed
    info = json.loads((out / "dataset_info.json").read_text(encoding="utf-8"))
    assert set(info) == {
        "莞莞_alpaca_train",
        "莞莞_alpaca_eval",
        "莞莞_sharegpt_train",
        "莞莞_sharegpt_eval",
    }
    rows = json.loads((out / "莞莞_alpaca_train.json").read_text(encoding="utf-8"))
    assert rows and all(r["system"].startswith("你是莞莞") and r["output"] for r in rows)
    assert main(["export-data", ws, "--format", "csv", "--out", str(out)]) == 2
    assert "expected one of alpaca" in capsys.readouterr().err


def test_shipped_play_without_scene_headings_gets_an_eval_split(shipped_workspace, capsys):
    assert main(["build", str(shipped_workspace), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["report"]
    assert report["eval"] > 0 and report["train"] > report["eval"]
    identity = [
        s for s in samples_of(shipped_workspace).raw_samples() if s.provenance["kind"] == "identity"
    ]
    assert identity and all(s.reply.startswith(("I ", "My ")) for s in identity)


def test_review_list_shows_whole_names(shipped_workspace, capsys):
    assert main(["build", str(shipped_workspace)]) == 0
    capsys.readouterr()
    assert main(["review", str(shipped_workspace), "--list", "--limit", "3"]) == 0
    out = capsys.readouterr().out
    assert "  JULIET> " in out and "JULI>" not in out
    assert "  user  > " in out
