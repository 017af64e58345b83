"""``persona-studio augment`` end to end: listing, a job, a real kill and resume, a tiny model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from studio_augment.base import llm_seed

from studio.cli import main
from studio.fsutil import read_jsonl
from tests.plugins.test_augment_llm import FakeOpenAI
from tests.plugins.test_augment_pipeline import make_ws, proposals

ROOT = Path(__file__).resolve().parents[2]


CARD = (
    "你是莞莞，甄家的长女。你入宫后被封为莞贵人。"
    "宜修是你的表姐，待你表面亲厚。槿汐是你最信任的宫女。"
)


def test_cli_lists_strategies_runs_a_job_and_lists_jobs(zh_workspace, capsys):
    ws = make_ws(zh_workspace, persona=CARD)
    assert main(["augment", str(zh_workspace)]) == 0
    out = capsys.readouterr().out
    for name in ("fewshot", "everyday", "persona-qa", "continue"):
        assert name in out
    assert "prompts_file=''" in out and "no model" in out

    assert (
        main(["augment", str(zh_workspace), "persona-qa", "--opt", "count=12", "--show", "12"]) == 0
    )
    out = capsys.readouterr().out
    assert "job persona-qa-" in out and "A: 宜修是我的表姐，待我表面亲厚。" in out
    assert "duplicate of a real line" in out  # the identity answers the dataset build already made
    assert "duplicate of a real line" in out and "off-persona filter:" in out
    kept = proposals(ws)
    assert kept and all(s.status == "pending" for s in kept)

    assert main(["augment", str(zh_workspace), "--jobs"]) == 0
    assert "finished" in capsys.readouterr().out
    assert main(["augment", str(zh_workspace), "persona-qa", "--opt", "count=zero"]) == 2
    assert "count: expected an integer" in capsys.readouterr().err


def test_a_killed_job_resumes_without_redoing_or_duplicating_work(zh_workspace):
    with FakeOpenAI() as server:
        server.delay = 0.1
        ws = make_ws(zh_workspace, f'base_url = "{server.base_url}"\nmodel = "fake"\n')
        command = [
            sys.executable,
            "-m",
            "studio",
            "augment",
            str(zh_workspace),
            "fewshot",
            "--opt",
            "count=16",
            "--opt",
            "shots=2",
            "--seed",
            "9",
            "--concurrency",
            "2",
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        journal = ws.dataset_dir() / "augment"
        deadline = time.monotonic() + 30
        committed: set[str] = set()
        while time.monotonic() < deadline and process.poll() is None:
            entries = [e for p in journal.glob("*.jsonl") for e in read_jsonl(p)]
            committed = {e["key"] for e in entries if e["event"] == "committed"}
            if len(committed) >= 8:
                break
            time.sleep(0.05)
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGKILL)
        process.wait()
        [path] = list(journal.glob("*.jsonl"))
        entries = read_jsonl(path)
        committed = {e["key"] for e in entries if e["event"] == "committed"}
        assert 8 <= len(committed) < 16 and not any(e["event"] == "end" for e in entries)
        before = len(server.requests)

        result = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        assert f"{len(committed)} done earlier" in result.stdout

        # no request of a committed item was sent again
        asked_again = {r["seed"] for r in server.requests[before:]}
        for key in committed:
            for step in ("opening", "reply"):
                assert llm_seed(9, key, step, 0) not in asked_again
        # every item done once, every sample stored once
        entries = read_jsonl(path)
        assert {e["key"] for e in entries if e["event"] == "committed"} == {
            f"{n:05d}" for n in range(16)
        }
        stored = [
            json.loads(line)
            for line in (ws.dataset_dir() / "samples.jsonl").read_text().splitlines()
        ]
        ids = [s["id"] for s in stored]
        assert len(ids) == len(set(ids))
        kept = [s for s in stored if s["provenance"].get("kind") == "augment"]
        assert len(kept) == sum(len(e["kept"]) for e in entries if e["event"] == "committed") == 16
        assert len({s["provenance"]["item"] for s in kept}) == 16
        # at most the items in flight at the kill were asked twice (two workers, two requests each)
        assert len(server.requests) - 32 <= 2 * 2


def test_the_tiny_model_locally_and_through_the_studios_own_serve(zh_workspace, capsys):
    """Random weights write random bytes (dropped as garbled); the pipes are real: load, prompt,
    generate, parse, filter, journal, store, locally and over HTTP through ``serve``."""
    from studio.augment import run_augment
    from studio.chat.persona import load_persona
    from studio.plugins import load_host
    from studio.serve.server import PersonaServer, serve_in_thread

    ws = make_ws(zh_workspace, "max_tokens = 12\n")
    assert (
        main(["augment", str(zh_workspace), "everyday", "--opt", "count=1", "--opt", "shots=1"])
        == 0
    )
    out = capsys.readouterr().out
    assert "backend local tiny-qwen2" in out and "items 1:" in out
    lines = [e for p in (ws.dataset_dir() / "augment").glob("*.jsonl") for e in read_jsonl(p)]
    results = [e for e in lines if e["event"] == "result"]
    assert len(results) == 1 and len(results[0]["samples"]) == 1
    header = next(e for e in lines if e["event"] == "job")
    assert header["backend"] == {"backend": "local", "model": "tiny-qwen2", "adapter": None}
    committed = [e for e in lines if e["event"] == "committed"]
    assert sum(sum(e["dropped"].values()) + len(e["kept"]) for e in committed) == 1

    host = load_host()
    server = PersonaServer(("127.0.0.1", 0), load_persona(ws, host.adapters, base=True), log=None)
    serve_in_thread(server)
    try:
        ws.config.augment.base_url = server.url
        ws.config.augment.model = next(iter(server.models))
        report = run_augment(ws, "everyday", {"count": 1, "shots": 1}, seed=1, host=host)
    finally:
        server.shutdown()
        server.server_close()
    assert report.backend == {
        "backend": "openai",
        "base_url": server.url,
        "model": next(iter(server.models)),
    }
    assert report.failed == 0 and report.ran == 1 and report.proposed == 1
    assert report.llm is not None and report.llm.requests >= 1 and report.llm.failures == 0
    assert sum(report.dropped.values()) + report.kept == 1


def test_ctrl_c_cancels_cleanly_and_says_how_to_resume(zh_workspace):
    with FakeOpenAI() as server:
        server.delay = 0.2
        ws = make_ws(
            zh_workspace, f'base_url = "{server.base_url}"\nmodel = "fake"\nconcurrency = 1\n'
        )
        command = [
            sys.executable,
            "-m",
            "studio",
            "augment",
            str(zh_workspace),
            "everyday",
            "--opt",
            "count=30",
        ]
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        journal = ws.dataset_dir() / "augment"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            if (
                sum(e["event"] == "result" for p in journal.glob("*.jsonl") for e in read_jsonl(p))
                >= 2
            ):
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
        assert process.returncode == 130, err
        assert "(cancelled)" in out and "run the same command again to resume" in err
        [path] = list(journal.glob("*.jsonl"))
        entries = read_jsonl(path)
        assert entries[-1]["event"] == "end" and entries[-1]["status"] == "cancelled"
        done = {e["key"] for e in entries if e["event"] == "committed"}
        assert 2 <= len(done) < 30
        assert len(proposals(ws)) == sum(
            len(e["kept"]) for e in entries if e["event"] == "committed"
        )
