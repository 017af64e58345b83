"""The recipe on a tiny model: exact resume, the non-finite guard, the events a run writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from studio.dataset.service import build_dataset
from studio.train.events import (
    ConfigEvent,
    DataEvent,
    FailedEvent,
    StepEvent,
    StoppedEvent,
)
from studio.train.recipe import run
from studio.train.rundir import RunDir
from studio.train.runner import prepare_run
from studio.train.state import RunState
from studio.workspace import Workspace

SETTINGS = {
    "max_steps": 5,
    "lora_dropout": 0.1,
    "eval_every": 4,
    "save_every": 0,
    "tokens_per_batch": 512,
    "warmup_steps": 2,
}
STEPS = 8
LONGER = dict(SETTINGS, max_steps=STEPS)  # past the end of the first epoch


@pytest.fixture
def ws(zh_workspace, host) -> Workspace:
    workspace = Workspace(zh_workspace)
    build_dataset(workspace, host.parsers)
    return workspace


def steps(run_dir: Path) -> dict[int, StepEvent]:
    return {e.step: e for e in RunDir(run_dir).events() if isinstance(e, StepEvent)}


def test_a_stopped_and_resumed_run_equals_a_straight_run(ws, host):
    straight = prepare_run(ws, host.adapters, run_id="straight", overrides=LONGER)
    assert run(straight, adapters=host.adapters) == 0
    resumed = prepare_run(ws, host.adapters, run_id="resumed", overrides=LONGER)
    assert run(resumed, adapters=host.adapters, stop_after=2) == 0
    events = RunDir(resumed).events()
    assert isinstance(events[-1], StoppedEvent) and events[-1].step == 2
    assert [p.name for p in RunDir(resumed).checkpoints()] == ["step-000002"]
    assert run(resumed, resume=True, adapters=host.adapters) == 0

    events = RunDir(resumed).events()
    kinds = [e.kind for e in events]
    assert kinds.count("config") == 2 and "resumed" in kinds and kinds[-1] == "finished"
    after = kinds.index("resumed")
    assert [e.step for e in events[after:] if isinstance(e, StepEvent)] == list(range(3, STEPS + 1))
    a, b = steps(straight), steps(resumed)
    assert sorted(a) == sorted(b) == list(range(1, STEPS + 1))
    assert a[STEPS].epoch > 1  # the run crossed an epoch boundary after the resume
    for step in a:
        assert b[step].loss == pytest.approx(a[step].loss, rel=1e-5)
        assert b[step].lr == pytest.approx(a[step].lr, rel=1e-9)
        assert b[step].tokens == a[step].tokens
    wa = load_file(str(RunDir(straight).adapter_dir / "adapter_model.safetensors"))
    wb = load_file(str(RunDir(resumed).adapter_dir / "adapter_model.safetensors"))
    assert wa.keys() == wb.keys()
    for key in wa:
        torch.testing.assert_close(wa[key], wb[key], rtol=1e-5, atol=1e-7)
    state = RunState.from_events(events)
    assert (
        state.status == "finished"
        and state.resumes == 1
        and [s for s, _ in state.losses] == list(range(1, STEPS + 1))
    )


def test_step_events_carry_the_live_metrics(ws, host):
    run_dir = prepare_run(
        ws, host.adapters, run_id="metrics", overrides=dict(SETTINGS, max_steps=2)
    )
    assert run(run_dir, adapters=host.adapters) == 0
    events = RunDir(run_dir).events()
    config, data = events[0], events[1]
    assert (
        isinstance(config, ConfigEvent)
        and config.attention == "segments"
        and config.end_of_turn == ["<|im_end|>"]
    )
    assert isinstance(data, DataEvent) and data.too_long == 0 and 0 < data.supervised_share < 1
    step = steps(run_dir)[1]
    for key in ("loss", "lr", "grad_norm", "tokens_per_s", "supervised_per_s", "eta_s"):
        assert getattr(step, key) is not None, key
    assert 0 < step.supervised < step.tokens <= 512 and 0 < step.supervised_share < 1
    assert step.epoch > 0
    persona = json.loads((RunDir(run_dir).adapter_dir / "persona.json").read_text())
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
    last = RunDir(run_dir).events()[-1]
    assert isinstance(last, FailedEvent) and "non-finite loss at step 2" in last.error
    assert "Traceback" in last.traceback
    assert not RunDir(run_dir).adapter_dir.exists()  # no garbage adapter
    assert [p.name for p in RunDir(run_dir).checkpoints()] == ["step-000001"]  # resumable


def test_a_stop_request_saves_a_checkpoint_and_the_run_continues_from_it(
    ws, host, monkeypatch, capsys
):
    from studio.cli import main
    from studio.train.events import JsonlSink

    run_dir = prepare_run(
        ws, host.adapters, run_id="stop", overrides=dict(SETTINGS, max_steps=2, eval_every=0)
    )
    real_log = JsonlSink.log

    def log(self, event, **kwargs):  # `persona-studio stop` asks while step 1 is logged
        if isinstance(event, StepEvent) and event.step == 1:
            RunDir(run_dir).request_stop()
        return real_log(self, event, **kwargs)

    monkeypatch.setattr(JsonlSink, "log", log)
    assert run(run_dir, adapters=host.adapters) == 0
    monkeypatch.setattr(JsonlSink, "log", real_log)
    last = RunDir(run_dir).events()[-1]
    assert isinstance(last, StoppedEvent) and last.step == 1
    assert [p.name for p in RunDir(run_dir).checkpoints()] == ["step-000001"]
    RunDir(run_dir).clear_stop()
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
