"""The thin flow end to end on the CPU: parse → roster → build → train a tiny model → chat."""

from __future__ import annotations

import json

from studio.cli import main
from studio.train.events import StepEvent
from studio.train.rundir import RunDir


def test_parse_roster_build_train_chat(zh_workspace, capsys):
    ws = str(zh_workspace)
    assert main(["parse", f"{ws}/corpus/script.txt", "--jsonl"]) == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert {"speaker", "text", "kind", "scene", "file", "line"} <= set(rows[0])
    said = [r for r in rows if r["speaker"] == "莞莞"]
    assert said[0]["text"] == "姐姐说笑了。昨夜睡得早些罢了。"
    assert "皇上：朝政繁忙" in said[1]["text"]  # text after a second colon is kept
    assert "parser screenplay" in captured.err and "utf-8" in captured.err

    assert main(["roster", ws]) == 0
    assert "莞莞" in capsys.readouterr().out

    assert main(["build", ws]) == 0
    out = capsys.readouterr().out
    assert "莞莞:" in out
    samples = [
        json.loads(line)
        for line in (zh_workspace / "datasets/default/samples.jsonl").read_text().splitlines()
    ]
    corpus = [s for s in samples if s["provenance"]["kind"] == "corpus"]
    assert all(s["turns"][0]["content"] != s["turns"][1]["content"] for s in corpus)
    merged = [s for s in corpus if s["turns"][1]["content"].startswith("温大人快请起")]
    assert merged and "近来宫中" in merged[0]["turns"][1]["content"]  # consecutive lines merge

    assert main(["train", ws, "--run", "r1", "--max-steps", "3"]) == 0
    run = zh_workspace / "runs" / "r1"
    events = RunDir(run).events()
    kinds = [e.kind for e in events]
    assert kinds[0] == "config" and kinds[-1] == "finished"
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert [e.step for e in steps] == [1, 2, 3]
    assert all(e.loss > 0 for e in steps)
    assert RunDir(run).has_adapter()
    persona = json.loads((RunDir(run).adapter_dir / "persona.json").read_text())
    assert persona["persona"].startswith("你是莞莞")

    capsys.readouterr()
    assert (
        main(["chat", ws, "--prompt", "你是谁？", "--max-new-tokens", "8", "--sampling", "greedy"])
        == 0
    )
    reply = capsys.readouterr()
    assert "runs/r1/adapter" in reply.err
    assert reply.out.endswith("\n")
