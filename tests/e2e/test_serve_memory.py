"""``serve`` with memory: a request's ``memory`` field (``extra_body``) and the server default."""

from __future__ import annotations

import openai
import pytest
import torch

from studio.chat.memory import HEADERS
from studio.chat.persona import load_persona
from studio.serve.openai_schema import ApiError, ServedModel, parse_chat_request
from studio.serve.server import PersonaServer, serve_in_thread
from studio.workspace import Workspace


@pytest.fixture
def persona(persona_run, host):
    return load_persona(
        Workspace(persona_run.parent.parent), host.adapters, device=torch.device("cpu")
    )


def test_a_request_field_switches_memory_and_the_reply_says_what_was_retrieved(persona):
    ws = Workspace(persona.run_dir.parent.parent)
    server = PersonaServer(
        ("127.0.0.1", 0),
        persona,
        log=None,
        max_tokens_cap=32,
        memory=persona.memory(ws, 0),
        memory_default=0,
    )
    serve_in_thread(server)
    try:
        client = openai.OpenAI(base_url=server.url, api_key="none", max_retries=0, timeout=60)
        ask = {
            "model": "r1",
            "messages": [{"role": "user", "content": "阿蘅，今天的茶怎么这样苦？"}],
            "temperature": 0,
            "max_tokens": 4,
        }
        with_memory = client.chat.completions.create(**ask, extra_body={"memory": 2}).model_dump()
        assert with_memory["memory"]["k"] == 2 and 1 <= len(with_memory["memory"]["ids"]) <= 2
        train = {s.id for s in server.memory.items}
        assert set(with_memory["memory"]["ids"]) <= train
        plain = client.chat.completions.create(**ask).model_dump()
        assert "memory" not in plain or not plain["memory"]  # the server default is off
        for bad in (-1, "3", True, 99):
            with pytest.raises(openai.BadRequestError, match="memory"):
                client.chat.completions.create(**ask, extra_body={"memory": bad})
    finally:
        server.shutdown()
        server.server_close()


def test_the_server_default_applies_unless_the_request_says_otherwise(persona):
    ws = Workspace(persona.run_dir.parent.parent)
    memory = persona.memory(ws, 3)
    models = {"r1": ServedModel("r1", persona)}
    body = {"model": "r1", "messages": [{"role": "user", "content": "今天的茶怎么这样苦？"}]}
    default = parse_chat_request(body, models, 64, memory=memory, memory_default=3)
    header = HEADERS["zh"][0]
    assert default.memory == 3 and default.recalled and header in default.messages[0]["content"]
    assert default.messages[0]["content"].startswith(persona.system)
    off = parse_chat_request({**body, "memory": 0}, models, 64, memory=memory, memory_default=3)
    assert off.messages[0]["content"] == persona.system and off.recalled == []
    with pytest.raises(ApiError) as refused:
        parse_chat_request({**body, "memory": 2}, models, 64, memory=None)
    assert refused.value.status == 400 and refused.value.param == "memory"
