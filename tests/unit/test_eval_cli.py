"""``persona-studio eval`` on a really trained tiny run: base vs adapter on the held-out scenes."""

from __future__ import annotations

import json

import pytest

from studio.cli import main
from studio.eval.evaluate import PROBES_ZH
from studio.train.events import EvalEvent
from studio.train.rundir import RunDir


def test_eval_reports_base_vs_adapter_on_heldout_scenes(persona_workspace, capsys):
    ws = str(persona_workspace)
    assert main(["build", ws]) == 0
    assert main(["train", ws, "--run", "t1", "--max-steps", "3"]) == 0
    run = persona_workspace / "runs" / "t1"
    trained_eval = [e for e in RunDir(run).events() if isinstance(e, EvalEvent)][-1].eval_loss
    capsys.readouterr()

    assert main(["eval", ws, "--run", "t1", "--max-new-tokens", "6", "--examples", "1"]) == 0
    printed = capsys.readouterr().out
    report = json.loads((RunDir(run).eval_dir / "report.json").read_text(encoding="utf-8"))
    held = [s.to_json() for s in RunDir(run).samples() if s.split == "eval"]
    assert report["items"] == len(held) and report["scenes"] == len({s["scene"] for s in held})
    # the loss is measured exactly as in training: same template, same mask, same persona prompt
    assert report["models"]["adapter"]["loss"] == pytest.approx(trained_eval, rel=2e-3)
    assert (
        report["models"]["base"]["loss"] > report["models"]["adapter"]["loss"]
    )  # 3 steps already help
    assert report["rows"] == ["base", "base+memory", "adapter", "adapter+memory"]
    for side in report["rows"]:
        metrics = report["models"][side]
        assert 0 <= metrics["chrf"] <= 100 and 0 <= metrics["style"] <= 1
        assert metrics["identity_total"] == len(PROBES_ZH) and metrics["loss_tokens"] > 0
    assert [p["probe"] for p in report["identity"]] == list(PROBES_ZH)
    assert report["classifier"]["heldout_lines"]["character"] == len(held)
    assert report["verdict"]["answer"] in ("yes", "partly", "no")
    items = [
        json.loads(line)
        for line in (RunDir(run).eval_dir / "items.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert {i["real"] for i in items} == {s["turns"][-1]["content"] for s in held}
    assert "did it work?" in printed and "loss/char of real lines" in printed
    assert (RunDir(run).eval_dir / "report.md").read_text(encoding="utf-8").count(
        "did it work?"
    ) == 1

    from studio.eval.evaluate import load_report

    assert load_report(run)["run"] == "t1"


def test_eval_without_heldout_scenes_says_how_to_get_them(zh_workspace, host, capsys):
    from studio.dataset.service import build_dataset
    from studio.train.runner import prepare_run
    from studio.workspace import Workspace

    ws = Workspace(zh_workspace)  # eval_fraction = 0: every scene is in train
    build_dataset(ws, host.parsers)
    prepare_run(ws, host.adapters, run_id="t0")
    assert main(["eval", str(zh_workspace), "--run", "t0"]) == 2
    err = capsys.readouterr().err
    assert "no held-out (eval) samples" in err and "eval_fraction" in err
    assert main(["eval", str(zh_workspace), "--run", "missing"]) == 2
    assert "no run 'missing'" in capsys.readouterr().err
    assert main(["eval", str(zh_workspace), "--rows", "base,memory"]) == 2
    assert (
        "--rows: expected a comma-separated subset of base,base+memory" in capsys.readouterr().err
    )
