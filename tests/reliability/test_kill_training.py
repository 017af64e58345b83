"""kill -9 of a training run during a checkpoint write and between two, then resume to the end.

First attempt: a driver runs the real recipe and is killed in the middle of writing the step-4
checkpoint (its adapter written, ``state.pt`` half written, as a crash inside ``torch.save``
leaves it). Second attempt: the real CLI resumes it detached and is killed between checkpoints
(step 4 complete, step 5 under way). Third: resumed to the end. Each resume must start from the
last complete checkpoint and never read the half-written one; the run must end with the same
losses as a run that was never interrupted.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from studio.cli import main
from studio.dataset.service import build_dataset
from studio.train import checkpoint as ckpt
from studio.train.events import ConfigEvent, FinishedEvent, ResumedEvent, StepEvent
from studio.train.recipe import run
from studio.train.rundir import RunDir
from studio.train.runner import prepare_run
from studio.workspace import Workspace
from tests.reliability.conftest import Driver, wait_for

TORN_CHECKPOINT = r"""
import io, os, sys, time
import torch
from studio.train import checkpoint as ckpt
from studio.train.recipe import run
from studio.train.rundir import RunDir

original = ckpt.write

def write(tmp, final, *, peft_model, trainable, state):
    if state["step"] != 4:
        return original(tmp, final, peft_model=peft_model, trainable=trainable, state=state)
    peft_model.save_pretrained(str(tmp / RunDir.ADAPTER), state_dict=trainable)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    with open(tmp / "state.pt", "wb") as handle:  # half of it, then the process dies
        handle.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        handle.flush()
        os.fsync(handle.fileno())
    print("mid-checkpoint", flush=True)
    time.sleep(600)

ckpt.write = write
sys.exit(run(sys.argv[1]))
"""


def step_losses(run_dir) -> dict[int, float]:
    """Loss by step; a step redone after a resume counts in its last version."""
    return {e.step: e.loss for e in RunDir(run_dir).events() if isinstance(e, StepEvent)}


def test_kill_during_and_between_checkpoint_writes_then_resume(zh_workspace, host, monkeypatch):
    key = "sk-in-the-environment-of-training-7"
    monkeypatch.setenv("OPENAI_API_KEY", key)  # the run processes inherit it: it must stay there
    ws = Workspace(zh_workspace)
    build_dataset(ws, host.parsers)
    overrides = {"max_steps": 6, "save_every": 2, "keep_checkpoints": 0}
    run_dir = prepare_run(ws, host.adapters, run_id="killed", overrides=overrides)
    rundir = RunDir(run_dir)
    checkpoints = rundir.checkpoints_dir

    # 1. killed in the middle of writing the step-4 checkpoint
    driver = Driver(TORN_CHECKPOINT, run_dir)
    deadline = time.monotonic() + 180
    while driver.line(timeout=max(1.0, deadline - time.monotonic())) != "mid-checkpoint":
        pass  # the run's own log lines (config, data, steps) come first
    driver.kill()
    assert [p.name for p in ckpt.complete_checkpoints(checkpoints)] == ["step-000002"]
    assert (
        checkpoints / ".tmp-step-000004" / RunDir.ADAPTER
    ).is_dir()  # the half-written one is there…
    assert not rundir.checkpoint_dir(4).exists()  # …under a name no reader takes
    assert rundir.state().status == "crashed"
    assert rundir.adapter().parent.name == "step-000002"  # chat and eval see the last complete one

    # 2. resumed by the CLI, killed between two checkpoint writes
    assert main(["train", str(zh_workspace), "--run", "killed", "--resume", "--detach"]) == 0
    wait_for(
        lambda: any(isinstance(e, StepEvent) and e.step == 5 for e in rundir.events()),
        timeout=180,
    )
    attempts = [e for e in rundir.events() if isinstance(e, ConfigEvent)]
    os.kill(attempts[-1].pid, signal.SIGKILL)
    wait_for(lambda: rundir.state().status == "crashed", timeout=60)
    resumed = [e for e in rundir.events() if isinstance(e, ResumedEvent)]
    assert [e.step for e in resumed] == [2]  # from the last complete checkpoint, not the torn one
    assert [p.name for p in ckpt.complete_checkpoints(checkpoints)] == [
        "step-000002",
        "step-000004",
    ]

    # 3. resumed to the end
    assert run(run_dir, resume=True, adapters=host.adapters) == 0
    history = rundir.events()
    assert [e.step for e in history if isinstance(e, ResumedEvent)] == [2, 4]
    assert isinstance(history[-1], FinishedEvent) and rundir.has_adapter()
    assert not list(checkpoints.glob(".tmp-*"))
    assert not [p for p in run_dir.rglob("*") if p.is_file() and key.encode() in p.read_bytes()]

    # the same curve as a run nobody interrupted
    reference = prepare_run(ws, host.adapters, run_id="reference", overrides=overrides)
    assert run(reference, adapters=host.adapters) == 0
    expected, got = step_losses(reference), step_losses(run_dir)
    assert sorted(got) == sorted(expected) == list(range(1, 7))
    for step, loss in expected.items():
        assert got[step] == pytest.approx(loss, rel=1e-4), step
