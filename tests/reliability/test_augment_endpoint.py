"""An augmentation endpoint that hangs, drips, resets, truncates or returns garbage.

Each job ends in a clear error or with failed items reported (never a traceback, never past its
time budget); the workspace loads, its journal reads, nothing from the garbage lands in the
dataset, and a rerun against a healthy endpoint resumes the job. The API key, which the hostile
endpoint quotes back in its answers, never lands in the workspace or in what the CLI prints.
"""

from __future__ import annotations

import pytest

from studio.augment import run_augment
from studio.augment.journal import list_jobs
from studio.cli import main
from studio.dataset.store import DatasetStore
from studio.errors import StudioError
from studio.plugins import load_host
from studio.workspace import Workspace
from tests.plugins.test_augment_pipeline import proposals
from tests.reliability.hostile import OK_REPLY, HostileEndpoint

KEY = "sk-reliability-key-0123456789"
BAD_MODES = [
    "hang",
    "drip",
    "reset",
    "truncated",
    "garbage",
    "echo401",
    "echo500",
    "nested",
    "schema",
    "huge",
]


@pytest.fixture
def endpoint():
    server = HostileEndpoint()
    yield server
    server.close()


def make_ws(root, augment: str) -> Workspace:
    """The workspace at ``root`` with an ``[augment]`` section, its dataset built."""
    from studio.dataset.service import build_dataset

    with open(root / "studio.toml", "a", encoding="utf-8") as handle:
        handle.write("\n[augment]\nretry_backoff = 0.0\n" + augment)
    ws = Workspace(root)
    build_dataset(ws, load_host().parsers)
    return ws


def files_with(root, needle: bytes) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.mark.parametrize("mode", BAD_MODES)
def test_a_misbehaving_endpoint_fails_the_job_cleanly_and_it_resumes(
    zh_workspace, endpoint, monkeypatch, capsys, mode
):
    monkeypatch.setenv("RELIABILITY_KEY", KEY)
    ws = make_ws(
        zh_workspace,
        f'base_url = "{endpoint.base_url}"\nmodel = "m"\napi_key_env = "RELIABILITY_KEY"\n'
        "retries = 1\nconcurrency = 2\ntimeout = 0.6\n",
    )
    endpoint.mode = mode
    code = main(["augment", str(zh_workspace), "everyday", "--opt", "count=4", "--seed", "3"])
    out, err = capsys.readouterr()
    assert (
        code == 2 and err.strip().splitlines()[-1].startswith("error: ") and "Traceback" not in err
    )
    assert KEY not in out + err
    assert endpoint.headers_seen and all(
        h == f"Bearer {KEY}" for h in endpoint.headers_seen
    )  # it was sent
    assert not proposals(Workspace(zh_workspace))  # nothing from the garbage
    [(job, state)] = list_jobs(ws.dataset_dir())
    assert state.ended == "failed" and not state.committed

    endpoint.mode = "ok"  # the endpoint recovers: the same command resumes the same job
    assert main(["augment", str(zh_workspace), "everyday", "--opt", "count=4", "--seed", "3"]) == 0
    kept = proposals(Workspace(zh_workspace))
    assert kept and {s.reply for s in kept} == {OK_REPLY}
    [(again, state)] = list_jobs(ws.dataset_dir())
    assert again == job and state.ended == "finished" and len(state.committed) == 4
    assert files_with(zh_workspace, KEY.encode()) == []


def test_a_flaky_endpoint_keeps_what_worked(zh_workspace, endpoint, monkeypatch):
    monkeypatch.setenv("RELIABILITY_KEY", KEY)
    ws = make_ws(
        zh_workspace,
        f'base_url = "{endpoint.base_url}"\nmodel = "m"\napi_key_env = "RELIABILITY_KEY"\n'
        "retries = 0\nconcurrency = 1\ntimeout = 0.6\n",
    )
    modes = iter(["ok", "ok", "echo500", "ok", "garbage", "ok", "nested", "ok"] * 4)
    original = endpoint._answer
    endpoint._answer = lambda conn, mode, auth: original(conn, next(modes), auth)
    report = run_augment(ws, "everyday", {"count": 6}, seed=1, host=load_host())
    assert report.status == "finished" and report.failed >= 1 and report.ran + report.failed == 6
    assert all(KEY not in error for error in report.errors)
    store = DatasetStore(ws.dataset_dir())
    assert (
        store.journal() == [] and len(store.samples()) > 0
    )  # the dataset reads, no decision invented
    assert files_with(zh_workspace, KEY.encode()) == []


def test_the_prose_parsers_llm_pass_survives_a_hostile_endpoint(tmp_path, endpoint):
    from studio.corpus.inspect import parse_file

    novel = tmp_path / "novel.txt"
    novel.write_text(
        "第一章\n\n“你好。”\n\n“今天去哪里？”\n\n阿蘅道：“去河边。”\n", encoding="utf-8"
    )
    for mode in BAD_MODES:
        if mode in ("hang", "drip"):
            continue  # the rules keep the quote unknown after the timeout (unit tests)
        endpoint.mode = mode
        result = parse_file(
            novel,
            load_host().parsers,
            parser="prose",
            options={
                "llm": "openai",
                "llm_base_url": endpoint.base_url,
                "llm_retries": 1,
                "llm_timeout": 1.0,
                "llm_cache": str(tmp_path / f"cache-{mode}.jsonl"),
            },
        )
        assert any("LLM gave no usable answer" in str(w) for w in result.warnings), mode
        assert [u.text for u in result.utterances if u.kind == "dialogue"] == [
            "你好。",
            "今天去哪里？",
            "去河边。",
        ]


def test_an_unreachable_endpoint_is_a_clear_error(zh_workspace):
    ws = make_ws(zh_workspace, 'base_url = "http://127.0.0.1:9/v1"\nmodel = "m"\nretries = 0\n')
    with pytest.raises(StudioError, match="cannot connect"):
        run_augment(ws, "everyday", {"count": 3}, host=load_host())
