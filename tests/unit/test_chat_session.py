"""ChatSession, streamed text and loading a run's persona (tiny-qwen2 on the CPU)."""

from __future__ import annotations

import json

import pytest
import torch

from studio.chat.engine import ContextOverflow, Engine
from studio.chat.persona import adapter_path, load_persona
from studio.chat.sampling import Sampling
from studio.chat.session import ChatSession, _held_back, render_prompt, stream_text
from studio.errors import StudioError
from studio.train.rundir import ADAPTER_CONFIG, RunDir


@pytest.fixture
def persona(persona_run, host):
    from studio.workspace import Workspace

    return load_persona(
        Workspace(persona_run.parent.parent), host.adapters, device=torch.device("cpu")
    )


def test_persona_uses_the_runs_system_prompt_and_adapter(persona_run, host):
    from studio.workspace import Workspace

    ws_root = persona_run.parent.parent
    toml = ws_root / "studio.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("爱打趣", "爱唱歌"), encoding="utf-8")
    persona = load_persona(Workspace(ws_root), host.adapters, device=torch.device("cpu"))
    assert persona.label == "r1" and persona.adapter_dir == RunDir(persona_run).adapter_dir
    assert (
        persona.system == "你是阿蘅，茶馆里的伙计，说话利落，爱打趣。"
    )  # what the adapter learned, not the edit
    assert any("changed since this run was trained" in note for note in persona.notes)
    assert persona.can_disable_adapter and persona.character == "阿蘅"


def test_session_streams_keeps_history_and_trims_it_to_the_context(persona):
    session = persona.session(sampling={"do_sample": False}, max_new_tokens=8)
    pieces = list(session.stream("今天的茶苦吗？"))
    reply = "".join(pieces).strip()
    assert reply
    assert session.history == [
        {"role": "user", "content": "今天的茶苦吗？"},
        {"role": "assistant", "content": reply},
    ]
    assert session.last_stats is not None and session.last_stats.new_tokens <= 8
    # the same prompt through the engine directly gives the same text: nothing is added or lost
    ids = render_prompt(
        persona.loaded.tokenizer,
        [
            {"role": "system", "content": persona.system},
            {"role": "user", "content": "今天的茶苦吗？"},
        ],
    )
    direct = "".join(
        stream_text(
            persona.engine,
            persona.loaded.tokenizer,
            ids,
            sampling=Sampling(do_sample=False),
            max_new_tokens=8,
        )
    )
    assert direct.strip() == reply
    # a long history is trimmed oldest-first, the newest exchange stays
    session.history = [
        {"role": r, "content": f"{r} {i} " + "很长的话" * 40}
        for i in range(30)
        for r in ("user", "assistant")
    ]
    session.engine = Engine(
        persona.loaded.model,
        persona.loaded.end_of_turn_ids,
        max_cache_len=1500,
        vocab_size=len(persona.loaded.tokenizer),
    )
    ids = session._prompt_ids("最后一句")
    assert len(ids) + session.max_new_tokens <= 1500
    text = persona.loaded.tokenizer.decode(ids)
    assert "user 29 " in text and "user 0 " not in text
    with pytest.raises(ContextOverflow, match="shorten it"):
        session._prompt_ids("太长" * 2000)


def test_base_and_adapter_answer_differently_on_one_model(persona):
    adapter = persona.session(sampling={"do_sample": False}, max_new_tokens=12)
    base = adapter.fork(use_adapter=False)
    assert base.engine is adapter.engine and base.loaded is adapter.loaded
    a, b = adapter.reply("你是谁？"), base.reply("你是谁？")
    assert a != b
    # the base side equals a model loaded without any adapter
    from studio.train.base_model import load_model

    plain = load_model(
        persona.loaded.spec,
        {persona.loaded.adapter.name: persona.loaded.adapter},
        device=torch.device("cpu"),
    )
    assert (
        ChatSession(plain, persona.system, sampling={"do_sample": False}, max_new_tokens=12).reply(
            "你是谁？"
        )
        == b
    )


def test_cancel_keeps_the_partial_reply(persona):
    session = persona.session(
        sampling={"do_sample": True, "temperature": 1.0, "seed": 1}, max_new_tokens=64
    )
    session.engine.stop_ids = set()  # never stop early: the cancel must do it
    got = ""
    for piece in session.stream("讲个故事"):
        got += piece
        session.cancel()
    assert session.last_stats.finish_reason == "cancelled"
    assert session.last_stats.new_tokens < 64
    if got.strip():
        assert session.history[-1] == {"role": "assistant", "content": got.strip()}


def test_bad_sampling_is_a_studio_error(persona):
    session = persona.session(sampling={"do_sample": True, "temperature": 0})
    with pytest.raises(StudioError, match="temperature"):
        session.reply("你好")


def test_save_writes_the_transcript(persona, tmp_path):
    session = persona.session(sampling={"do_sample": False}, max_new_tokens=4)
    session.history = [
        {"role": "user", "content": "你好"},
        {"role": "assistant", "content": "您好"},
    ]
    session.save(tmp_path / "chats" / "t.json", {"model": "r1"})
    data = json.loads((tmp_path / "chats" / "t.json").read_text(encoding="utf-8"))
    assert (
        data["system"] == persona.system
        and data["messages"][1]["content"] == "您好"
        and data["model"] == "r1"
    )


class _Chars:
    """A tokenizer stand-in: token i is the i-th character of a fixed text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def decode(self, ids, skip_special_tokens=True):
        return "".join(self.text[i] for i in ids)


class _Replay:
    """An engine stand-in that yields 0, 1, 2, ... n-1."""

    def __init__(self, n: int) -> None:
        self.n = n
        from studio.chat.engine import GenerationStats

        self.last_stats = GenerationStats()

    def generate(self, prompt, **kwargs):
        yield from range(self.n)


def test_stop_strings_end_the_reply_and_are_never_shown():
    text = "你好呀。<END>后面的不要"
    pieces = list(
        stream_text(
            _Replay(len(text)),
            _Chars(text),
            [1],
            sampling=Sampling(),
            max_new_tokens=50,
            stop=["<END>"],
        )
    )
    assert "".join(pieces) == "你好呀。"
    assert all(
        "<" not in p for p in pieces
    )  # the start of the stop string was held back, not streamed
    stats: dict = {}
    assert (
        "".join(
            stream_text(
                _Replay(len(text)),
                _Chars(text),
                [1],
                sampling=Sampling(),
                max_new_tokens=50,
                stop=["<EN", "呀"],
                stats=stats,
            )
        )
        == "你好"
    )
    assert stats["finish_reason"] == "stop"
    assert _held_back("abc<E", ["<END>"]) == 2 and _held_back("abc", ["<END>"]) == 0


def test_a_split_utf8_character_is_never_streamed():
    class Bytes:
        def decode(self, ids, skip_special_tokens=True):
            return bytes(ids).decode("utf-8", errors="replace")

    data = list("茶".encode()) + list("馆".encode())

    class Table(Bytes):  # _Replay yields positions: map them to the bytes of the text
        def decode(self, ids, skip_special_tokens=True):
            return bytes(data[i] for i in ids).decode("utf-8", errors="replace")

    pieces = list(
        stream_text(_Replay(len(data)), Table(), [1], sampling=Sampling(), max_new_tokens=10)
    )
    assert pieces == ["茶", "馆"]


def test_adapter_path_picks_final_or_checkpoints(tmp_path):
    run = RunDir(tmp_path / "run")
    for step, complete in ((2, True), (4, True), (6, False)):
        folder = run.checkpoint_dir(step)
        (folder / "adapter").mkdir(parents=True)
        if complete:
            run.mark_complete(folder, step)
    assert (
        adapter_path(run.path) == run.checkpoint_dir(4) / "adapter"
    )  # still training: latest complete
    assert run.adapter(2) == run.checkpoint_dir(2) / "adapter"
    with pytest.raises(StudioError, match="no checkpoint at step 6"):
        run.adapter(6)
    run.adapter_dir.mkdir()
    (run.adapter_dir / ADAPTER_CONFIG).write_text("{}")
    assert run.adapter() == run.adapter_dir
    assert run.adapter(-1) == run.checkpoint_dir(4) / "adapter"


def test_chat_cli_one_shot_and_repl(persona_run, capsys, monkeypatch):
    import io

    from studio.cli import main

    ws = str(persona_run.parent.parent)
    assert (
        main(
            [
                "chat",
                ws,
                "--prompt",
                "你是谁？",
                "--sampling",
                "greedy",
                "--max-new-tokens",
                "6",
                "--stats",
            ]
        )
        == 0
    )
    out = capsys.readouterr()
    assert "runs/r1/adapter" in out.err and "tokens/s" in out.err and out.out.endswith("\n")
    monkeypatch.setattr("sys.stdin", io.StringIO("你好\n/base\n还在吗？\n/quit\n"))
    assert main(["chat", ws, "--sampling", "greedy", "--max-new-tokens", "4"]) == 0
    out = capsys.readouterr()
    assert "answering with the base model" in out.err and "阿蘅 (base)> " in out.out
    saved = list((persona_run.parent.parent / "chats").glob("*.json"))
    assert len(saved) == 1
    messages = json.loads(saved[0].read_text(encoding="utf-8"))["messages"]
    assert [m["content"] for m in messages if m["role"] == "user"][:1] == ["你好"] or not messages


def test_an_empty_finished_reply_is_recorded_a_cancelled_empty_one_is_not():
    from types import SimpleNamespace

    from studio.chat.engine import GenerationStats

    class Tokenizer:
        def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=True):
            return "|".join(m["content"] for m in messages)

        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": [ord(c) for c in text]}

        def decode(self, ids, skip_special_tokens=True):
            return ""

    class Silent:
        capacity = 4096

        def __init__(self, reason):
            self.last_stats = GenerationStats(finish_reason=reason)

        def generate(self, prompt, **kwargs):
            yield from ()

    loaded = SimpleNamespace(tokenizer=Tokenizer(), model=None, end_of_turn_ids=[])
    session = ChatSession(loaded, "sys", engine=Silent("stop"))
    assert session.reply("在吗？") == ""
    assert session.history == [
        {"role": "user", "content": "在吗？"},
        {"role": "assistant", "content": ""},
    ]
    cancelled = ChatSession(loaded, "sys", engine=Silent("cancelled"))
    cancelled.reply("在吗？")
    assert cancelled.history == []
