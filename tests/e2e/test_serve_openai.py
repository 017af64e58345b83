"""``serve`` end to end: the official openai client against a loopback server, tiny model."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import openai
import pytest
import torch

from studio.chat.persona import load_persona
from studio.serve.server import PersonaServer, serve_in_thread
from studio.workspace import Workspace


@pytest.fixture
def server(persona_run, host):
    persona = load_persona(
        Workspace(persona_run.parent.parent), host.adapters, device=torch.device("cpu")
    )
    server = PersonaServer(
        ("127.0.0.1", 0), persona, api_key="sk-test", log=None, max_tokens_cap=64
    )
    serve_in_thread(server)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server.url, api_key="sk-test", max_retries=0, timeout=60)


def test_models_and_both_kinds_of_completion(server, client):
    assert server.server_address[0] == "127.0.0.1"
    assert sorted(m.id for m in client.models.list()) == ["r1", "r1:base"]

    done = client.chat.completions.create(
        model="r1",
        messages=[{"role": "user", "content": "今天的茶苦吗？"}],
        temperature=0,
        max_tokens=12,
    )
    choice = done.choices[0]
    assert choice.message.role == "assistant" and choice.finish_reason in ("stop", "length")
    assert done.usage.completion_tokens <= 12 and done.usage.prompt_tokens > 10
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens

    chunks = list(
        client.chat.completions.create(
            model="r1",
            messages=[{"role": "user", "content": "今天的茶苦吗？"}],
            temperature=0,
            max_tokens=12,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == choice.message.content  # greedy: streaming and not give the same reply
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == choice.finish_reason
    assert chunks[-1].usage.completion_tokens == done.usage.completion_tokens
    assert len({c.id for c in chunks}) == 1

    base = client.chat.completions.create(
        model="r1:base",
        messages=[{"role": "user", "content": "今天的茶苦吗？"}],
        temperature=0,
        max_tokens=12,
    )
    assert base.choices[0].message.content != choice.message.content  # the adapter is off for :base


def test_bad_requests_get_openai_errors(server, client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="r1", messages=[{"role": "user", "content": "hi"}], temperature=3
        )
    assert caught.value.status_code == 400
    assert (
        caught.value.body["param"] == "temperature"
        and "temperature" in caught.value.body["message"]
    )

    with pytest.raises(openai.BadRequestError, match="last message must be from the user"):
        client.chat.completions.create(
            model="r1", messages=[{"role": "assistant", "content": "hi"}]
        )
    with pytest.raises(openai.BadRequestError, match="max_tokens"):
        client.chat.completions.create(
            model="r1", messages=[{"role": "user", "content": "hi"}], max_tokens=10_000
        )
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert missing.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError) as long:
        client.chat.completions.create(
            model="r1", messages=[{"role": "user", "content": "长" * 4000}], max_tokens=8
        )
    assert long.value.body["code"] == "context_length_exceeded"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server.url, api_key="wrong", max_retries=0).models.list()

    # malformed JSON: a 400 error object, never a traceback; the connection stays usable
    request = urllib.request.Request(
        server.url + "/chat/completions",
        data=b"{not json",
        method="POST",
        headers={"Authorization": "Bearer sk-test", "Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as raw:
        urllib.request.urlopen(request, timeout=30)
    body = json.loads(raw.value.read())
    assert raw.value.code == 400 and set(body["error"]) == {"message", "type", "param", "code"}
    assert "Traceback" not in body["error"]["message"]
    assert client.models.list().data


def test_stop_sequences_and_system_messages(server, client):
    free = (
        client.chat.completions.create(
            model="r1",
            messages=[{"role": "user", "content": "说点什么"}],
            temperature=0,
            max_tokens=16,
        )
        .choices[0]
        .message.content
    )
    assert len(free) >= 4  # the tiny model's greedy reply is deterministic
    cut = client.chat.completions.create(
        model="r1",
        messages=[{"role": "user", "content": "说点什么"}],
        temperature=0,
        max_tokens=16,
        stop=[free[2:4]],
    )
    assert cut.choices[0].message.content == free[: free.index(free[2:4])]
    assert cut.choices[0].finish_reason == "stop"
    # a client's system message is added below the persona card, which stays first
    from studio.serve.server import parse_chat_request

    request = parse_chat_request(
        {
            "model": "r1",
            "messages": [
                {"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": "hi"},
            ],
        },
        server.models,
        64,
    )
    assert request.messages[0]["content"].startswith("你是阿蘅") and request.messages[0][
        "content"
    ].endswith("Answer briefly.")


def test_request_validation_names_the_parameter():
    from types import SimpleNamespace

    from studio.serve.openai_schema import ApiError, ServedModel, parse_chat_request

    models = {
        "p": ServedModel(
            "p", SimpleNamespace(system="你是阿蘅。", character="阿蘅", adapter_dir=None)
        )
    }

    def error(body):
        with pytest.raises(ApiError) as caught:
            parse_chat_request(body, models, 256)
        return caught.value

    ok = {
        "model": "p",
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "你"}, {"type": "text", "text": "好"}],
            }
        ],
    }
    request = parse_chat_request(
        {**ok, "temperature": 0, "stop": "。", "seed": 3, "max_completion_tokens": 9}, models, 256
    )
    assert request.messages == [
        {"role": "system", "content": "你是阿蘅。"},
        {"role": "user", "content": "你好"},
    ]
    assert (
        request.sampling.do_sample is False and request.stop == ["。"] and request.max_tokens == 9
    )
    assert error({**ok, "frobnicate": 1}).param == "frobnicate"
    assert error({**ok, "messages": [{"role": "tool", "content": "x"}]}).param == "messages[0].role"
    assert (
        error({**ok, "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}).param
        == "messages[0].content"
    )
    assert error({**ok, "stop": ["a", "b", "c", "d", "e"]}).param == "stop"
    assert error({**ok, "top_p": 0}).param == "top_p"
    assert error({**ok, "presence_penalty": 0.5}).param == "presence_penalty"
    assert error({**ok, "stream": "yes"}).param == "stream"
    assert error({**ok, "tools": [{"type": "function"}]}).param == "tools"
    assert error({"messages": ok["messages"]}).param == "model"
    assert error([1, 2]).status == 400
    assert error({**ok, "model": "q"}).status == 404
    body = error({**ok, "max_tokens": 0}).body()
    assert (
        set(body["error"]) == {"message", "type", "param", "code"}
        and body["error"]["param"] == "max_tokens"
    )
