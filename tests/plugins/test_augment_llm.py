"""The OpenAI-compatible backend against a real HTTP server on loopback, and tolerant parsing.

``FakeOpenAI`` is a small stdlib server answering ``/v1/chat/completions`` with text derived
from the request (deterministic), with knobs to delay, hang, fail with 500/429, return garbage
or wrap the answer in code fences; the augmentation tests import it from here.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from studio.llm.backends import (
    Cancelled,
    LLMError,
    OpenAIBackend,
    RetryingLLM,
    clean_message,
    extract_json,
    is_garbled,
    make_backend,
)

_ZH = (
    "今日",
    "天色",
    "甚好",
    "只是",
    "心中",
    "挂念",
    "姐姐",
    "不必",
    "担忧",
    "我自有",
    "分寸",
    "且慢",
    "说来",
    "话长",
    "倒也",
    "无妨",
    "原是",
    "一桩",
    "小事",
    "何必",
    "放在",
    "心上",
    "夜里",
    "风凉",
    "记得",
    "添衣",
)
_EN = (
    "well",
    "indeed",
    "the",
    "garden",
    "is",
    "quiet",
    "tonight",
    "and",
    "I",
    "think",
    "of",
    "home",
    "often",
    "perhaps",
    "tomorrow",
    "we",
    "shall",
    "see",
    "a",
    "letter",
    "came",
    "for",
    "you",
    "my",
    "friend",
)


def fake_text(body: dict[str, Any]) -> str:
    """A deterministic reply derived from the messages and the seed of a request."""
    blob = json.dumps([body.get("messages"), body.get("seed")], ensure_ascii=False, sort_keys=True)
    digest = hashlib.sha256(blob.encode()).digest()
    last = body["messages"][-1]["content"]
    zh = any("\u4e00" <= ch <= "\u9fff" for ch in last)
    pool = _ZH if zh else _EN
    words = [pool[b % len(pool)] for b in digest[: 6 + digest[31] % 6]]
    return ("".join(words) + "。") if zh else (" ".join(words).capitalize() + ".")


class FakeOpenAI:
    """An OpenAI-compatible chat server on 127.0.0.1 with failure knobs (thread-safe).

    Attributes:
        delay: seconds before each answer.
        fail_next / rate_limit_next / hang_next / garbage_next: how many coming requests get a
            500, a 429 (Retry-After: 0), no answer for ``hang_seconds``, or a non-JSON body.
        style: ``plain``, ``fenced`` (JSON in a code fence plus chatter) or ``labelled``.
        require_key: answer 401 unless this bearer key is sent.
        requests: every request body received, in order.
    """

    def __init__(self) -> None:
        self.delay = 0.0
        self.fail_next = self.rate_limit_next = self.hang_next = self.garbage_next = 0
        self.hang_seconds = 3.0
        self.style = "plain"
        self.require_key: str | None = None
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = json.loads(
                    self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}"
                )
                with server.lock:
                    server.requests.append(body)
                    server.auth.append(self.headers.get("Authorization", ""))
                    mode = server._next_mode()
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                if (
                    server.require_key
                    and self.headers.get("Authorization") != f"Bearer {server.require_key}"
                ):
                    return self._send(401, {"error": {"message": "bad key"}})
                time.sleep(server.delay)
                if mode == "hang":
                    time.sleep(server.hang_seconds)
                    return None
                if mode == "fail":
                    return self._send(500, {"error": {"message": "overloaded"}})
                if mode == "rate":
                    return self._send(
                        429, {"error": {"message": "slow down"}}, {"Retry-After": "0"}
                    )
                if mode == "garbage":
                    return self._raw(200, b"<html>proxy error</html>")
                text = fake_text(body)
                if server.style == "fenced":
                    text = (
                        "Sure! Here it is:\n```json\n"
                        + json.dumps({"reply": text}, ensure_ascii=False)
                        + "\n```\nHope it helps."
                    )
                elif server.style == "labelled":
                    text = f"Answer: {text}\nUser: and then?"
                return self._send(
                    200,
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "model": body.get("model"),
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": text},
                            }
                        ],
                    },
                )

            def _send(
                self, code: int, data: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                self._raw(code, json.dumps(data, ensure_ascii=False).encode(), headers)

            def _raw(
                self, code: int, payload: bytes, headers: dict[str, str] | None = None
            ) -> None:
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _next_mode(self) -> str:
        for name in ("hang_next", "fail_next", "rate_limit_next", "garbage_next"):
            if getattr(self, name) > 0:
                setattr(self, name, getattr(self, name) - 1)
                return {
                    "hang_next": "hang",
                    "fail_next": "fail",
                    "rate_limit_next": "rate",
                    "garbage_next": "garbage",
                }[name]
        return "ok"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    with FakeOpenAI() as fake:
        yield fake


MESSAGES = [{"role": "system", "content": "你是莞莞。"}, {"role": "user", "content": "你好"}]


def test_backend_sends_model_seed_and_key_and_reads_the_reply(server):
    server.require_key = "sk-test-123"
    backend = OpenAIBackend(server.base_url, "tiny", api_key="sk-test-123", timeout=5)
    text = backend(MESSAGES, seed=7, temperature=0.5, max_tokens=20)
    body = server.requests[-1]
    assert text == fake_text(body)
    assert body["model"] == "tiny" and body["seed"] == 7 and body["max_tokens"] == 20
    assert "sk-test-123" not in repr(backend) and "sk-test-123" not in json.dumps(
        backend.describe()
    )


def test_a_bare_host_gets_v1_and_a_wrong_key_is_not_retried(server):
    server.require_key = "right"
    backend = OpenAIBackend(server.base_url.removesuffix("/v1"), "m", api_key="wrong", timeout=5)
    assert backend.url.endswith("/v1/chat/completions")
    client = RetryingLLM(backend, retries=3, backoff=0.0)
    with pytest.raises(LLMError) as info:
        client(MESSAGES)
    assert (
        "HTTP 401" in str(info.value)
        and "api_key_env" in str(info.value)
        and not info.value.retryable
    )
    assert len(server.requests) == 1 and "wrong" not in str(info.value)


def test_retries_500_429_garbage_and_a_hung_request(server):
    server.fail_next, server.rate_limit_next, server.garbage_next, server.hang_next = 1, 1, 1, 1
    server.hang_seconds = 2.0
    client = RetryingLLM(OpenAIBackend(server.base_url, "m", timeout=0.5), retries=4, backoff=0.01)
    text = client(MESSAGES, seed=1)
    assert text == fake_text(server.requests[-1])
    assert len(server.requests) == 5
    assert client.stats.requests == 5 and client.stats.retries == 4 and client.stats.failures == 4


def test_gives_up_after_the_retries(server):
    server.fail_next = 10
    client = RetryingLLM(OpenAIBackend(server.base_url, "m", timeout=5), retries=2, backoff=0.0)
    with pytest.raises(LLMError, match="HTTP 500"):
        client(MESSAGES)
    assert len(server.requests) == 3


def test_cancel_interrupts_the_backoff(server):
    server.fail_next = 10
    flag = threading.Event()
    client = RetryingLLM(
        OpenAIBackend(server.base_url, "m", timeout=5),
        retries=5,
        backoff=30.0,
        cancelled=flag.is_set,
    )
    threading.Timer(0.2, flag.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        client(MESSAGES)
    assert time.monotonic() - started < 5


def test_connection_refused_is_a_retryable_error():
    with FakeOpenAI() as fake:
        url = fake.base_url
    backend = OpenAIBackend(url, "m", timeout=1)
    with pytest.raises(LLMError) as info:
        backend(MESSAGES)
    assert info.value.retryable and "cannot connect" in str(info.value)


def test_make_backend_reads_the_key_only_from_the_named_variable(server):
    from studio.config import AugmentConfig

    cfg = AugmentConfig(base_url=server.base_url, model="m", api_key_env="MY_STUDIO_KEY")
    backend = make_backend(
        cfg, {}, lambda: None, env={"MY_STUDIO_KEY": "sk-secret", "OPENAI_API_KEY": "other"}
    )
    server.require_key = "sk-secret"
    assert backend(MESSAGES)
    assert server.auth[-1] == "Bearer sk-secret"
    local = make_backend(AugmentConfig(), {"model": "tiny-qwen2"}, lambda: None, env={})
    assert local.describe() == {"backend": "local", "model": "tiny-qwen2"}
    with pytest.raises(Exception, match="model"):
        make_backend(AugmentConfig(base_url=server.base_url), {}, lambda: None, env={})


@pytest.mark.parametrize(
    "raw, names, expected",
    [
        ('```json\n{"reply": "“臣妾明白。”"}\n```\n以上是回答。', (), "臣妾明白。"),
        ('Sure! {"line": "Good night, Nurse."} I hope this fits.', (), "Good night, Nurse."),
        ("莞莞：（笑）姐姐说笑了。\n宜修：是吗？", ("莞莞", "宜修"), "姐姐说笑了。"),
        ("Answer: I will go.\n\nNote: she is brave here.", (), "I will go."),
        ("臣妾以为：此事不妥。", ("莞莞",), "臣妾以为：此事不妥。"),
        ("   \n\n", (), ""),
    ],
)
def test_clean_message_reads_what_models_actually_write(raw, names, expected):
    assert clean_message(raw, names) == expected


def test_extract_json_and_garbled():
    assert extract_json('noise [1, 2] {"a": 1}') == [1, 2]
    assert extract_json("no json here") is None
    assert is_garbled("abc\ufffd") and is_garbled("a\x07b") and not is_garbled("好的，\n走吧。")
