"""run_augment: filters with exact counts, provenance, determinism, cancel/resume, replay, failures.

LLM strategies talk to ``FakeOpenAI``, a real HTTP server on loopback.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from studio import hookimpl
from studio.api import AugmentItem, IntOption, Sample, Turn
from studio.augment import run_augment
from studio.dataset.service import build_dataset
from studio.dataset.store import DatasetStore
from studio.errors import StudioError
from studio.fsutil import read_jsonl
from studio.plugins import load_host
from studio.workspace import Workspace
from tests.plugins.test_augment_llm import FakeOpenAI


def make_ws(root: Path, augment: str = "", persona: str | None = None) -> Workspace:
    """The workspace at ``root`` with ``[augment]`` settings appended (and another persona card),
    its dataset built."""
    text = (root / "studio.toml").read_text(encoding="utf-8")
    if persona is not None:
        text = re.sub(
            r"(?m)^persona = .*$",
            lambda m: f"persona = {json.dumps(persona, ensure_ascii=False)}",
            text,
        )
    (root / "studio.toml").write_text(
        text + "\n[augment]\nretry_backoff = 0.0\ntimeout = 5\n" + augment, encoding="utf-8"
    )
    ws = Workspace(root)
    build_dataset(ws, load_host().parsers)
    return ws


def proposals(ws: Workspace) -> list[Sample]:
    return [
        s for s in DatasetStore(ws.dataset_dir()).samples() if s.provenance.get("kind") == "augment"
    ]


@pytest.fixture
def server():
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def host():
    return load_host()


# -- filters ----------------------------------------------------------------------------------


class Canned:
    """A strategy that proposes fixed exchanges, one per item (no model)."""

    name = "canned"
    description = "fixed proposals for filter tests"
    needs_llm = False
    options = (IntOption("count", 0, "unused"),)

    def __init__(self, exchanges):
        self.exchanges = exchanges

    def plan(self, context, options):
        return [AugmentItem(f"k{i:02d}", {"i": i}) for i in range(len(self.exchanges))]

    def run(self, context, options, item):
        turns = self.exchanges[item.data["i"]]
        return [
            Sample(
                id=item.key,
                character=context.character,
                system=context.persona,
                turns=[Turn(role, text) for role, text in turns],
                provenance={"examples": []},
            )
        ]

    def propose(self, context, options):
        for item in self.plan(context, options):
            yield from self.run(context, options, item)


class CannedPlugin:
    def __init__(self, strategy):
        self.strategy = strategy

    @hookimpl
    def register_augmenters(self, register):
        register(self.strategy)


def test_each_filter_drops_what_it_should_and_counts_it(zh_workspace):
    ws = make_ws(zh_workspace)
    assert ws.config.dataset.min_chars == 2
    too_long = "长" * (ws.config.dataset.max_chars + 1)
    good = ("今天冷吗？", "有些凉意，添件衣裳便好，莫要着凉了。")
    canned = Canned(
        [
            [("user", good[0]), ("assistant", good[1])],  # kept
            [
                ("user", "随便问问"),
                ("assistant", "姐姐说笑了，昨夜睡得早些罢了！"),
            ],  # a real reply, new punctuation
            [
                ("user", "又问"),
                ("assistant", "温大人快请起。近来宫中可有什么新鲜事？说来听听。"),
            ],  # a real line copied whole
            [("user", "你好"), ("assistant", "好\ufffd的")],  # broken bytes
            [("user", "讲讲"), ("assistant", too_long)],
            [("user", "你说呢？"), ("assistant", "嗯")],  # one character
            [("user", "你在做什么？"), ("assistant", "你在做什么？")],  # echo
            [("assistant", "没有问题的回答。")],  # no user turn
            [("user", good[0]), ("assistant", good[1])],  # the same again
            [
                ("user", "今天冷吗"),
                ("assistant", "有些凉意，添件衣裳便好，莫要着凉了啊。"),
            ],  # almost the same
            [("user", "你用什么手机？"), ("assistant", "我用的是最新款的手机。")],  # off-persona
            [("user", "明日做什么？"), ("assistant", "去御花园走走，看看新开的海棠。")],  # kept
        ]
    )

    def scorer(samples):
        return [0.1 if "手机" in s.reply else 0.9 for s in samples]

    host = load_host(extra=[("canned", CannedPlugin(canned))])
    report = run_augment(ws, "canned", host=host, persona_scorer=scorer)
    assert report.dropped == {
        "duplicate of a real line": 1,
        "near-duplicate of a real line": 1,
        "garbled": 1,
        "too long": 1,
        "too short": 1,
        "invalid": 2,
        "duplicate of a proposal": 1,
        "near-duplicate of a proposal": 1,
        "off-persona": 1,
    }
    assert report.proposed == 12 and report.kept == 2
    assert [row[1] for row in report.funnel()][-1] == 2
    kept = proposals(ws)
    assert sorted(s.reply for s in kept) == sorted([good[1], "去御花园走走，看看新开的海棠。"])
    assert all(s.status == "pending" and s.split == "train" for s in kept)
    assert all(
        s.provenance["strategy"] == "canned" and s.provenance["job"] == report.job_id for s in kept
    )


# -- an LLM strategy end to end ------------------------------------------------------------


def test_fewshot_job_stores_pending_proposals_with_provenance_and_a_rerun_is_a_noop(
    zh_workspace, server, host
):
    ws = make_ws(zh_workspace, f'base_url = "{server.base_url}"\nmodel = "fake"\nconcurrency = 3\n')
    real_ids = {
        s.id
        for s in DatasetStore(ws.dataset_dir()).samples()
        if s.provenance.get("kind") == "corpus"
    }
    report = run_augment(ws, "fewshot", {"count": 6, "shots": 3}, seed=5, host=host)
    assert (
        report.status == "finished" and report.items == 6 and report.ran == 6 and report.failed == 0
    )
    assert report.kept == 6 and len(server.requests) == 12  # an opening line and a reply per item
    assert report.backend == {"backend": "openai", "base_url": server.base_url, "model": "fake"}
    kept = proposals(ws)
    assert {s.id for s in kept} == {s.id for s in report.new_samples}
    for sample in kept:
        prov = sample.provenance
        assert prov["strategy"] == "fewshot" and prov["options"]["count"] == 6 and prov["seed"] == 5
        assert set(prov["examples"]) <= real_ids and len(prov["examples"]) == 3
        assert prov["speaker"] in {"宜修", "槿汐", "温实初"} and prov["situation"]
        assert [t.role for t in sample.turns] == ["user", "assistant"]
    reply_requests = [
        r for r in server.requests if r["messages"][0]["content"].startswith("你是莞莞")
    ]
    assert len(reply_requests) == 6
    assert all(
        len(r["messages"]) == 2 + 2 * 3 for r in reply_requests
    )  # system, 3 shown exchanges, the new line

    again = run_augment(ws, "fewshot", {"count": 6, "shots": 3}, seed=5, host=host)
    assert (
        again.job_id == report.job_id and again.skipped == 6 and again.ran == 0 and again.kept == 0
    )
    assert len(server.requests) == 12 and len(proposals(ws)) == 6

    other = run_augment(ws, "fewshot", {"count": 6, "shots": 3}, seed=6, host=host)
    assert other.job_id != report.job_id and other.ran == 6
    assert not {s.id for s in other.new_samples} & {s.id for s in kept}


def test_cancel_then_resume_gives_exactly_the_samples_of_one_uninterrupted_run(
    tmp_path, zh_workspace, server, host
):
    import shutil

    twin = tmp_path / "twin"
    shutil.copytree(zh_workspace, twin)
    cfg = f'base_url = "{server.base_url}"\nmodel = "fake"\nconcurrency = 2\n'
    whole = run_augment(
        make_ws(twin, cfg), "continue", {"count": 4, "turns": 2, "min_reply_chars": 0}, host=host
    )
    assert whole.kept == 4 and all(len(s.turns) == 6 for s in whole.new_samples)
    assert all(s.provenance["generated_from"] == 2 for s in whole.new_samples)
    requests_whole = len(server.requests)

    ws = make_ws(zh_workspace, cfg)
    server.delay = 0.05
    seen = []

    def progress(p):
        seen.append(p.done)

    first = run_augment(
        ws,
        "continue",
        {"count": 4, "turns": 2, "min_reply_chars": 0},
        host=host,
        progress=progress,
        cancelled=lambda: len(seen) > 0 and seen[-1] >= 2,
    )
    assert first.status == "cancelled" and 2 <= first.kept < 4
    second = run_augment(ws, "continue", {"count": 4, "turns": 2, "min_reply_chars": 0}, host=host)
    assert (
        second.status == "finished"
        and second.skipped == first.kept
        and second.kept + first.kept == 4
    )
    assert sorted(s.id for s in proposals(ws)) == sorted(s.id for s in whole.new_samples)
    assert [s.turns for s in sorted(proposals(ws), key=lambda s: s.id)] == [
        s.turns for s in sorted(whole.new_samples, key=lambda s: s.id)
    ]
    in_flight = 2 * 2 * 2  # two workers, two requests per turn, two turns
    assert len(server.requests) - requests_whole <= requests_whole + in_flight


def test_a_crash_between_result_and_commit_is_replayed_without_asking_again(
    zh_workspace, server, host
):
    ws = make_ws(zh_workspace, f'base_url = "{server.base_url}"\nmodel = "fake"\n')
    report = run_augment(ws, "everyday", {"count": 5}, host=host)
    assert report.kept == 5
    # what a kill right after the results were journaled leaves: results, no commits, no samples
    lines = [e for e in read_jsonl(report.journal) if e["event"] in ("job", "result")]
    report.journal.write_text(
        "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in lines), encoding="utf-8"
    )
    store = DatasetStore(ws.dataset_dir())
    store.write_samples([s for s in store.raw_samples() if s.provenance.get("kind") != "augment"])
    asked = len(server.requests)
    resumed = run_augment(ws, "everyday", {"count": 5}, host=host)
    assert resumed.replayed == 5 and resumed.ran == 0 and resumed.kept == 5
    assert len(server.requests) == asked
    assert sorted(s.id for s in proposals(ws)) == sorted(s.id for s in report.new_samples)


def test_a_down_backend_stops_the_job_and_failed_items_are_retried_later(
    zh_workspace, server, host
):
    ws = make_ws(
        zh_workspace,
        f'base_url = "{server.base_url}"\nmodel = "fake"\nretries = 1\nconcurrency = 1\n',
    )
    server.fail_next = 100
    with pytest.raises(StudioError, match="HTTP 500"):
        run_augment(ws, "everyday", {"count": 4}, host=host)
    server.fail_next = 0
    report = run_augment(ws, "everyday", {"count": 4}, host=host)
    assert report.status == "finished" and report.ran == 4 and report.kept == 4


def test_some_failing_items_are_reported_and_the_rest_kept(zh_workspace, server, host):
    ws = make_ws(
        zh_workspace,
        f'base_url = "{server.base_url}"\nmodel = "fake"\nretries = 0\nconcurrency = 1\n',
    )
    server.garbage_next = 0
    report = run_augment(ws, "everyday", {"count": 2}, host=host)  # a success first
    server.fail_next = 1
    more = run_augment(ws, "everyday", {"count": 5}, seed=1, host=host)
    assert more.failed == 1 and more.errors and "HTTP 500" in more.errors[0]
    assert more.kept == 5 - more.skipped - 1
    assert report.kept == 2


@pytest.mark.parametrize("style", ["fenced", "labelled"])
def test_fenced_and_labelled_replies_are_read_tolerantly(zh_workspace, server, host, style):
    server.style = style
    ws = make_ws(zh_workspace, f'base_url = "{server.base_url}"\nmodel = "fake"\n')
    report = run_augment(ws, "everyday", {"count": 3}, host=host)
    assert report.kept == 3
    for sample in report.new_samples:
        assert (
            "```" not in sample.reply
            and "Answer" not in sample.reply
            and "User" not in sample.reply
        )
        assert sample.reply.endswith("。")


def test_the_api_key_is_sent_but_never_written_to_the_workspace(
    zh_workspace, server, host, monkeypatch
):
    secret = "sk-never-on-disk-4242"
    monkeypatch.setenv("STUDIO_TEST_KEY", secret)
    server.require_key = secret
    ws = make_ws(
        zh_workspace,
        f'base_url = "{server.base_url}"\nmodel = "fake"\napi_key_env = "STUDIO_TEST_KEY"\n',
    )
    report = run_augment(ws, "fewshot", {"count": 2}, host=host)
    assert report.kept == 2 and server.auth[-1] == f"Bearer {secret}"
    for path in ws.root.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_examples_come_from_the_train_split_only(shipped_workspace, server, host):
    ws = make_ws(shipped_workspace, f'base_url = "{server.base_url}"\nmodel = "fake"\n')
    samples = DatasetStore(ws.dataset_dir()).samples()
    train = {s.id for s in samples if s.split == "train"}
    assert any(s.split == "eval" for s in samples)
    report = run_augment(ws, "everyday", {"count": 4, "shots": 4}, host=host)
    assert report.kept == 4
    for sample in report.new_samples:
        assert sample.provenance["examples"] and set(sample.provenance["examples"]) <= train
        assert sample.provenance["question_source"].startswith("builtin:en:")


def test_errors_name_what_was_expected(zh_workspace, tmp_path, server, host):
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "studio.toml").write_text('[character]\nname = "X"\n', encoding="utf-8")
    with pytest.raises(StudioError, match="no dataset yet"):
        run_augment(Workspace(bare), "persona-qa", host=host)
    ws = make_ws(zh_workspace, f'base_url = "{server.base_url}"\nmodel = "fake"\n')
    with pytest.raises(StudioError, match="no augmentation strategy 'nope'; installed: .*fewshot"):
        run_augment(ws, "nope", host=host)
    with pytest.raises(StudioError, match="count: expected at least 1"):
        run_augment(ws, "fewshot", {"count": 0}, host=host)
    with pytest.raises(StudioError, match="unknown option"):
        run_augment(ws, "fewshot", {"colour": "red"}, host=host)
    run_augment(ws, "persona-qa", {"count": 2}, host=host, job_id="mine")
    with pytest.raises(StudioError, match="started with other settings"):
        run_augment(ws, "persona-qa", {"count": 3}, host=host, job_id="mine")


def test_the_style_classifier_filters_off_persona_proposals(
    shipped_workspace, server, host, monkeypatch
):
    pytest.importorskip("studio.eval.style")
    import studio.augment.llm_setup as setup

    ws = make_ws(
        shipped_workspace,
        f'base_url = "{server.base_url}"\nmodel = "fake"\npersona_threshold = 1.0\n',
    )
    trained = sum(
        1
        for s in DatasetStore(ws.dataset_dir()).samples()
        if s.provenance.get("kind") == "corpus" and s.split == "train"
    )
    monkeypatch.setattr(setup, "MIN_CLASSIFIER_LINES", trained + 1)
    off = run_augment(ws, "everyday", {"count": 2}, host=host)
    assert off.persona_filter.startswith(f"off: {trained} real train exchanges")
    monkeypatch.setattr(setup, "MIN_CLASSIFIER_LINES", 10)
    report = run_augment(ws, "everyday", {"count": 3}, seed=1, host=host)
    assert report.persona_filter.startswith(
        f"style classifier on {trained} real exchanges, held-out balanced accuracy"
    )
    assert (
        report.dropped == {"off-persona": 3} and report.kept == 0
    )  # P(character) < 1 for every reply
