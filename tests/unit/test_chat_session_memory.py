"""Memory in a chat session: the prompt per turn, the ids in transcripts, the CLI flag."""

from __future__ import annotations

import json

import pytest
import torch

from studio.chat.memory import HEADERS
from studio.chat.persona import load_persona
from studio.cli import main
from studio.workspace import Workspace


@pytest.fixture
def persona(persona_run, host):
    return load_persona(
        Workspace(persona_run.parent.parent), host.adapters, device=torch.device("cpu")
    )


def test_each_turn_gets_its_own_recall_and_the_transcript_records_it(persona, tmp_path):
    ws = Workspace(persona.run_dir.parent.parent)
    memory = persona.memory(ws, 2)
    assert memory.items and all(s.split == "train" for s in memory.items)
    session = persona.session(sampling={"do_sample": False}, max_new_tokens=3, memory=memory)
    assert session.memory_on
    system, ids = session.system_for("阿蘅，今天的茶怎么这样苦？")
    assert system.startswith(persona.system + "\n\n" + HEADERS["zh"][0]) and 1 <= len(ids) <= 2
    assert session.messages("阿蘅，今天的茶怎么这样苦？")[0]["content"] == system
    session.reply("阿蘅，今天的茶怎么这样苦？")
    session.reply("xyz")  # nothing similar: the card alone
    assert session.recalled == [ids, []]
    path = tmp_path / "t.json"
    session.save(path, {"model": "r1"})
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["memory"] == {"k": 2, "recalled": [ids, []]} and saved["system"] == persona.system
    assert len(saved["messages"]) == 4 and saved["model"] == "r1"

    off = session.fork(memory=None)
    assert not off.memory_on and off.system_for("阿蘅，今天的茶怎么这样苦？") == (
        persona.system,
        [],
    )
    session.reset()
    assert session.recalled == [] and session.memory is memory


def test_without_memory_transcripts_stay_as_they_were(persona, tmp_path):
    session = persona.session(sampling={"do_sample": False}, max_new_tokens=2)
    session.reply("你好")
    session.save(tmp_path / "t.json")
    assert "memory" not in json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))


def test_the_base_model_recalls_from_the_workspace_dataset(persona_run, host):
    ws = Workspace(persona_run.parent.parent)
    base = load_persona(ws, host.adapters, base=True, device=torch.device("cpu"))
    memory = base.memory(ws, 3)
    dataset = [
        json.loads(line)
        for line in (ws.dataset_dir() / "samples.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert {s.id for s in memory.items} == {
        d["id"]
        for d in dataset
        if d["split"] == "train" and d.get("provenance", {}).get("kind", "corpus") == "corpus"
    }


def test_chat_cli_memory_flag(persona_run, capsys):
    ws = str(persona_run.parent.parent)
    assert (
        main(
            [
                "chat",
                ws,
                "--prompt",
                "今天的茶怎么这样苦？",
                "--memory",
                "2",
                "--sampling",
                "greedy",
                "--max-new-tokens",
                "3",
            ]
        )
        == 0
    )
    assert main(["chat", ws, "--prompt", "你好", "--memory", "-1"]) == 2
    assert "--memory: expected 0 (off) or more" in capsys.readouterr().err
