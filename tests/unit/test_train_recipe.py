"""The recipe on a tiny model: exact resume, the non-finite guard, the events a run writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from studio.dataset.service import build_dataset
from studio.train.events import RunState, read_events
from studio.train.recipe import run
from studio.train.runner import prepare_run
from studio.workspace import Workspace

SETTINGS = {
    "max_steps": 5,
    "lora_dropout": 0.1,
    "eval_every": 4,
    "save_every": 0,
    "tokens_per_batch": 512,
    "warmup_steps": 2,
}


@pytest.fixture
def ws(zh_workspace, host) -> Workspace:
    workspace = Workspace(zh_workspace)
    build_dataset(workspace, host.parsers)
    return workspace


def steps(run_dir: Path) -> dict[int, dict]:
    return {e["step"]: e for e in read_events(run_dir / "events.jsonl") if e["event"] == "step"}


def test_a_stopped_and_resumed_run_equals_a_straight_run(ws, host):
    straight = prepare_run(ws, host.adapters, run_id="straight", overrides=SETTINGS)
    assert run(straight, adapters=host.adapters) == 0
    resumed = prepare_run(ws, host.adapters, run_id="resumed", overrides=SETTINGS)
    assert run(resumed, adapters=host.adapters, stop_after=2) == 0
    events = read_events(resumed / "events.jsonl")
    assert events[-1]["event"] == "stopped" and events[-1]["step"] == 2
    assert (resumed / "checkpoints" / "step-000002" / "COMPLETE").exists()
    assert run(resumed, resume=True, adapters=host.adapters) == 0

    events = read_events(resumed / "events.jsonl")
    kinds = [e["event"] for e in events]
    assert kinds.count("config") == 2 and "resumed" in kinds and kinds[-1] == "finished"
    after = kinds.index("resumed")
    assert [e["step"] for e in events[after:] if e["event"] == "step"] == [3, 4, 5]
    a, b = steps(straight), steps(resumed)
    assert sorted(a) == sorted(b) == [1, 2, 3, 4, 5]
    assert a[5]["epoch"] > 1  # the run crossed an epoch boundary after the resume
    for step in a:
        assert b[step]["loss"] == pytest.approx(a[step]["loss"], rel=1e-5)
        assert b[step]["lr"] == pytest.approx(a[step]["lr"], rel=1e-9)
        assert b[step]["tokens"] == a[step]["tokens"]
    wa = load_file(str(straight / "adapter" / "adapter_model.safetensors"))
    wb = load_file(str(resumed / "adapter" / "adapter_model.safetensors"))
    assert wa.keys() == wb.keys()
    for key in wa:
        torch.testing.assert_close(wa[key], wb[key], rtol=1e-5, atol=1e-7)
    state = RunState.from_events(events)
    assert (
        state.status == "finished"
        and state.resumes == 1
        and [s for s, _ in state.losses] == [1, 2, 3, 4, 5]
    )


def test_step_events_carry_the_live_metrics(ws, host):
    run_dir = prepare_run(
        ws, host.adapters, run_id="metrics", overrides=dict(SETTINGS, max_steps=2)
    )
    assert run(run_dir, adapters=host.adapters) == 0
    events = read_events(run_dir / "events.jsonl")
    config, data = events[0], events[1]
    assert (
        config["event"] == "config"
        and config["attention"] == "segments"
        and config["end_of_turn"] == ["<|im_end|>"]
    )
    assert data["event"] == "data" and data["too_long"] == 0 and 0 < data["supervised_share"] < 1
    step = steps(run_dir)[1]
    for key in (
        "loss",
        "lr",
        "grad_norm",
        "tokens",
        "supervised",
        "supervised_share",
        "tokens_per_s",
        "supervised_per_s",
        "eta_s",
        "epoch",
    ):
        assert key in step, key
    assert step["supervised"] < step["tokens"] <= 512
    persona = json.loads((run_dir / "adapter" / "persona.json").read_text())
    assert persona["persona"] == ws.config.character.persona


def test_non_finite_loss_stops_the_run_with_a_clear_failed_event(ws, host, monkeypatch):
    import studio.train.loss as loss_module

    real = loss_module.supervised_loss
    calls = {"n": 0}

    def poisoned(model, batch):
        value, n = real(model, batch)
        calls["n"] += 1
        return (value * float("nan"), n) if calls["n"] >= 2 else (value, n)

    monkeypatch.setattr(loss_module, "supervised_loss", poisoned)
    run_dir = prepare_run(
        ws, host.adapters, run_id="nan", overrides=dict(SETTINGS, save_every=1, eval_every=0)
    )
    assert run(run_dir, adapters=host.adapters) == 1
    last = read_events(run_dir / "events.jsonl")[-1]
    assert last["event"] == "failed" and "non-finite loss at step 2" in last["error"]
    assert "Traceback" in last["traceback"]
    assert not (run_dir / "adapter").exists()  # no garbage adapter
    assert (
        run_dir / "checkpoints" / "step-000001" / "COMPLETE"
    ).exists()  # resumable from before it


def test_a_stop_request_saves_a_checkpoint_and_the_run_continues_from_it(
    ws, host, monkeypatch, capsys
):
    from studio.cli import main
    from studio.train.events import JsonlSink

    run_dir = prepare_run(
        ws, host.adapters, run_id="stop", overrides=dict(SETTINGS, max_steps=2, eval_every=0)
    )
    real_log = JsonlSink.log

    def log(
        self, event, **payload
    ):  # `persona-studio stop` writes this file while step 1 is logged
        if event == "step" and payload.get("step") == 1:
            (run_dir / "STOP").write_text("stop requested\n")
        return real_log(self, event, **payload)

    monkeypatch.setattr(JsonlSink, "log", log)
    assert run(run_dir, adapters=host.adapters) == 0
    monkeypatch.setattr(JsonlSink, "log", real_log)
    last = read_events(run_dir / "events.jsonl")[-1]
    assert last["event"] == "stopped" and last["step"] == 1
    assert (run_dir / "checkpoints" / "step-000001" / "COMPLETE").exists()
    (run_dir / "STOP").unlink()
    assert run(run_dir, resume=True, adapters=host.adapters) == 0
    assert sorted(steps(run_dir)) == [1, 2]
    capsys.readouterr()
    assert (
        main(["runs", str(ws.root), "--follow", "stop"]) == 0
    )  # a finished run: prints it all and returns
    out = capsys.readouterr().out
    assert (
        "stopped at step 1" in out
        and "resumed at step 1" in out
        and out.rstrip().endswith("adapter")
    )
