"""The run folder's owner: which run a command means, the log a run leaves, no zombie, the lock,
typed events that round-trip, and an exported card that tells what the run really did."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from studio.cli import main
from studio.errors import StudioError
from studio.train.events import (
    ConfigEvent,
    DataEvent,
    Event,
    FinishedEvent,
    StepEvent,
    UnknownEvent,
)
from studio.train.rundir import ADAPTER_CONFIG, RunDir, pick_run
from studio.train.state import RunState
from studio.workspace import Workspace


def fake_run(
    root: Path,
    name: str,
    events: list[Event],
    *,
    adapter: bool = False,
    checkpoints: tuple[int, ...] = (),
) -> RunDir:
    """A run folder written through RunDir (layout only, no weights)."""
    run = RunDir(root / "runs" / name)
    run.path.mkdir(parents=True)
    run.write_config({"model": {"name": "tiny-qwen2", "source": "tiny"}, "epochs": 2.0})
    run.write_events(events)
    for step in checkpoints:
        folder = run.checkpoint_dir(step)
        (folder / RunDir.ADAPTER).mkdir(parents=True)
        run.mark_complete(folder, step)
    if adapter:
        run.adapter_dir.mkdir()
        (run.adapter_dir / ADAPTER_CONFIG).write_text("{}", encoding="utf-8")
    return run


@pytest.fixture
def sleeper():
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process
    process.kill()
    process.wait()


def _running(pid: int) -> list[Event]:
    return [ConfigEvent(pid=pid, total_steps=10), StepEvent(step=2, total_steps=10, loss=3.0)]


def test_a_newer_run_still_training_is_not_taken_for_a_finished_one(zh_workspace, sleeper):
    ws = Workspace(zh_workspace)
    done = fake_run(
        zh_workspace,
        "old",
        [ConfigEvent(pid=1), FinishedEvent(step=4)],
        adapter=True,
        checkpoints=(4,),
    )
    time.sleep(0.01)
    running = fake_run(zh_workspace, "new", _running(sleeper.pid), checkpoints=(2,))
    assert running.state().status == "running" and running.is_alive()

    picked, why = pick_run(ws)  # eval, export
    assert picked == done and why == "using old, the newest finished run"
    assert pick_run(ws, partial_ok=True)[0] == done  # chat prefers a finished run too
    assert pick_run(ws, checkpoint=-1)[0] == running  # a checkpoint asked for: the newest one
    assert pick_run(ws, "new")[0] == running  # a named run is the named run


def test_only_a_running_run_says_to_pass_run(zh_workspace, sleeper, capsys):
    ws = Workspace(zh_workspace)
    fake_run(zh_workspace, "busy", _running(sleeper.pid))
    with pytest.raises(StudioError, match="busy still training.*--run busy --checkpoint -1"):
        pick_run(ws)
    for command in ("eval", "export"):
        assert main([command, str(zh_workspace)]) == 2
        assert "--run busy --checkpoint -1" in capsys.readouterr().err
    RunDir(zh_workspace / "runs" / "busy").checkpoint_dir(2).joinpath(RunDir.ADAPTER).mkdir(
        parents=True
    )
    RunDir.mark_complete(RunDir(zh_workspace / "runs" / "busy").checkpoint_dir(2), 2)
    picked, why = pick_run(ws, partial_ok=True)  # chat: a complete checkpoint will do
    assert picked.name == "busy" and "newest run with a complete checkpoint" in why


def test_chat_without_run_takes_the_newest_finished_run_and_says_which(
    persona_run, sleeper, capsys
):
    ws = persona_run.parent.parent
    time.sleep(0.01)
    fake_run(ws, "r2", _running(sleeper.pid))  # newer, still training, nothing saved yet
    assert (
        main(
            [
                "chat",
                str(ws),
                "--prompt",
                "你是谁？",
                "--max-new-tokens",
                "2",
                "--sampling",
                "greedy",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "using r1, the newest finished run" in err and "adapter: runs/r1/adapter" in err


def test_events_round_trip_and_unknown_kinds_survive():
    events = [
        ConfigEvent(pid=7, world_size=2, config={"model": {"name": "m"}}, t=1.5),
        StepEvent(step=3, loss=1.25, epoch=0.5, gpu={"util": 90}),
        FinishedEvent(step=3, adapter="adapter"),
    ]
    again = [Event.from_json(e.to_json()) for e in events]
    assert again == events
    assert again[0].model_name == "m" and again[-1].terminal
    odd = Event.from_json({"event": "from-the-future", "t": 2.0, "x": 1})
    assert isinstance(odd, UnknownEvent) and odd.kind == "from-the-future"
    state = RunState.from_events([*again, odd])
    assert state.status == "finished" and state.losses == [(3, 1.25)] and state.epoch_at(3) == 0.5


def test_the_run_log_holds_the_runs_lines(zh_workspace, host):
    from studio.dataset.service import build_dataset

    build_dataset(Workspace(zh_workspace), host.parsers)
    assert main(["train", str(zh_workspace), "--run", "logged", "--max-steps", "2"]) == 0
    lines = RunDir(zh_workspace / "runs" / "logged").log_tail()
    text = "\n".join(lines)
    assert "config: tiny-qwen2" in text and "data:" in text
    assert "step     2/2" in text and lines[-1].endswith("finished at step 2: adapter")


def test_a_launched_run_is_reaped_when_it_ends(zh_workspace, host, monkeypatch):
    from studio.dataset.service import build_dataset
    from studio.train import runner

    build_dataset(Workspace(zh_workspace), host.parsers)
    run_dir = runner.prepare_run(Workspace(zh_workspace), host.adapters, run_id="short")
    monkeypatch.setattr(runner, "command", lambda *a, **k: [sys.executable, "-c", "pass"])
    process = runner.launch(run_dir, detach=True)  # as the studio does; it keeps no handle
    deadline = time.monotonic() + 20
    while Path(f"/proc/{process.pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{process.pid}").exists(), "the ended run process lingers as a zombie"


def test_train_refuses_while_a_studio_holds_the_workspace(zh_workspace, host, capsys):
    from studio.dataset.service import build_dataset

    build_dataset(Workspace(zh_workspace), host.parsers)
    holder = Workspace(zh_workspace).lock()  # what the studio does when it opens the workspace
    try:
        assert main(["train", str(zh_workspace), "--run", "behind", "--max-steps", "1"]) == 2
        assert "open in another studio" in capsys.readouterr().err
        assert not (zh_workspace / "runs" / "behind").exists()
    finally:
        holder.unlock()
    assert (
        main(["train", str(zh_workspace), "--run", "behind", "--max-steps", "1", "--detach"]) == 0
    )


def test_the_model_card_tells_what_the_run_did(persona_run):
    from studio.export.card import model_card, run_info

    run = RunDir(persona_run)
    assert run.config()["epochs"] == 1.0  # configured: one pass
    run.write_events(
        [
            ConfigEvent(pid=1, total_steps=6),
            DataEvent(train_samples=83, eval_samples=9, total_steps=6),
            *[
                StepEvent(step=s, total_steps=6, epoch=round(s * 0.0717, 2), loss=2.0 - s / 10)
                for s in range(1, 7)
            ],
            FinishedEvent(step=6, adapter="adapter"),
        ]
    )
    persona = SimpleNamespace(
        run_dir=run.path,
        adapter_dir=run.adapter_dir,
        label="r1",
        character="阿蘅",
        system="你是阿蘅",
    )
    card = model_card(run_info(Workspace(persona_run.parent.parent), persona), "adapter")
    assert "from 83 dialogue samples" in card
    assert "| steps | 6 |" in card and "| epochs | 0.43 |" in card
    assert "| final_loss | 1.4 |" in card
