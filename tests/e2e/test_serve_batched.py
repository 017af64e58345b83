"""``serve`` under load: batched replies equal serialised ones; a client that hangs up leaves."""

from __future__ import annotations

import json
import socket
import threading
import time

import openai
import pytest
import torch

from studio.chat.batch import BatchEngine
from studio.chat.persona import load_persona
from studio.serve.server import PersonaServer, serve_in_thread
from studio.workspace import Workspace

QUESTIONS = [
    "今天的茶苦吗？",
    "你是谁？",
    "Where is the nurse?",
    "说点什么",
    "明天去哪里？",
    "Why so sad, my lady, on such a fine morning?",
    "好",
    "园子里的花开了没有？",
]


@pytest.fixture
def persona(persona_run, host):
    return load_persona(
        Workspace(persona_run.parent.parent), host.adapters, device=torch.device("cpu")
    )


def start(persona, max_batch):
    server = PersonaServer(
        ("127.0.0.1", 0),
        persona,
        api_key="sk-test",
        log=None,
        max_tokens_cap=2048,
        max_batch=max_batch,
    )
    serve_in_thread(server)
    return server


def stop(server):
    server.shutdown()
    server.server_close()


def ask(server, question, **extra):
    """A streamed greedy reply through the official client: (text, finish reason, tokens)."""
    client = openai.OpenAI(base_url=server.url, api_key="sk-test", max_retries=0, timeout=120)
    chunks = list(
        client.chat.completions.create(
            model="r1",
            messages=[{"role": "user", "content": question}],
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
            **{"max_tokens": 24, **extra},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
    return text, finish, chunks[-1].usage.completion_tokens


def concurrently(fn, count):
    results: list = [None] * count
    errors: list = []

    def run(i):
        try:
            results[i] = fn(i)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


def test_eight_streaming_clients_get_the_serialised_replies(persona):
    serial = start(persona, max_batch=1)
    try:
        expected = [ask(serial, q, max_tokens=8 + 2 * i) for i, q in enumerate(QUESTIONS)]
    finally:
        stop(serial)
    batched = start(persona, max_batch=32)
    try:
        assert isinstance(batched.engine, BatchEngine)
        got = concurrently(
            lambda i: ask(batched, QUESTIONS[i], max_tokens=8 + 2 * i), len(QUESTIONS)
        )
        assert batched.engine.running == 0
    finally:
        stop(batched)
    assert got == expected
    assert any(finish == "length" for _, finish, _ in got)


def test_a_client_that_hangs_up_mid_stream_leaves_the_batch(persona):
    server = start(persona, max_batch=32)
    engine = server.engine
    engine.stop_ids = set()  # the abandoned reply would run its full 2000 tokens
    streams = []
    generate = engine.generate
    engine.generate = lambda *args, **kwargs: (
        streams.append(generate(*args, **kwargs)) or streams[-1]
    )
    body = json.dumps(
        {
            "model": "r1",
            "stream": True,
            "max_tokens": 2000,
            "messages": [{"role": "user", "content": "讲一个很长的故事"}],
        }
    ).encode()
    try:
        quitter = socket.create_connection(server.server_address[:2], timeout=60)
        quitter.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-test\r\n"
            b"Content-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        received = b""
        while received.count(b"data: ") < 3:  # the role chunk and two pieces of text
            received += quitter.recv(4096)
        assert engine.running == 1
        others = threading.Thread(
            target=lambda: results.extend(
                concurrently(lambda i: ask(server, QUESTIONS[i], max_tokens=16), 4)
            )
        )
        results: list = []
        others.start()
        quitter.close()  # hangs up mid-stream while the others are being served
        others.join()
        assert len(results) == 4 and all(text and tokens <= 16 for text, _, tokens in results)
        deadline = time.monotonic() + 30
        while engine.running and time.monotonic() < deadline:
            time.sleep(0.05)
        assert engine.running == 0
        # it left at a decode step after a write failed, not after its 2000 tokens
        assert streams[0].stats.finish_reason == "cancelled" and streams[0].stats.new_tokens < 2000
        assert ask(server, QUESTIONS[0], max_tokens=4)[2] == 4  # and the server goes on serving
    finally:
        stop(server)
