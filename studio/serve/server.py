"""Provides ``persona-studio serve``: an OpenAI-compatible chat API over a persona.

Standard library only.

Routes: ``GET /v1/models``, ``GET /v1/models/{id}``, ``POST /v1/chat/completions`` (JSON, or
server-sent events with ``"stream": true`` ending with ``data: [DONE]``) and ``GET /health``.

- The persona card is always the system prompt (the adapter was trained with it); a request's
  own system messages are appended below it.
- With an unmerged adapter a second model id, ``<id>:base``, answers with the adapter disabled:
  the base model with the same persona prompt, for A/B comparisons from any OpenAI client.
- Requests are validated; a bad one gets a 4xx with OpenAI's error object
  ``{"error": {"message", "type", "param", "code"}}``; an unexpected failure a 500 with the
  same shape (the traceback goes to the server's log, never to the client).
- Concurrent requests decode together (continuous batching, :mod:`studio.chat.batch`): a new
  request joins the running batch between decode steps, a finished or abandoned one leaves it;
  ``--max-batch 1`` serialises them on the single-request engine instead (its static cache and
  compiled step on a GPU). Listing models never waits for generation.
- It binds 127.0.0.1 unless told otherwise; ``--api-key`` (or ``PERSONA_STUDIO_API_KEY``)
  makes every ``/v1`` route require ``Authorization: Bearer <key>``.
"""

from __future__ import annotations

import hmac
import json
import secrets
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from studio.chat.batch import BatchEngine
from studio.chat.engine import ContextOverflow, Engine
from studio.chat.memory import Memory
from studio.chat.persona import Persona
from studio.chat.session import render_prompt, stream_text
from studio.serve.openai_schema import (
    MAX_BODY,
    ApiError,
    ChatRequest,
    ServedModel,
    parse_chat_request,
)


class PersonaServer(ThreadingHTTPServer):
    """The HTTP server: one persona, one or two model ids.

    Args:
        address: (host, port); port 0 picks a free port (see ``server_address``).
        persona: the loaded persona.
        api_key: required bearer token; None or empty for none.
        model_name: the model id (default: the persona's label).
        max_tokens_cap: the largest ``max_tokens`` a request may ask for.
        log: where the access log goes (None: nowhere).
        max_batch: the most requests decoding together; 1 serialises them on ``persona.engine``.
        fast: batched decoding on a static cache with a compiled step (CUDA graphs on a GPU),
            compiled here, before the first request.
        memory: the character's train-split exchanges a request may have retrieved into the
            system prompt (its ``memory`` field); None: such requests are refused.
        memory_default: exchanges per request when the request does not say (0: off).
    """

    daemon_threads = True
    request_queue_size = 128
    """Connections the kernel holds until they are accepted (the default 5 resets clients when
    dozens connect at once)."""

    def __init__(
        self,
        address: tuple[str, int],
        persona: Persona,
        *,
        api_key: str | None = None,
        model_name: str = "",
        max_tokens_cap: int = 2048,
        log: Any = sys.stderr,
        max_batch: int = 32,
        fast: bool = False,
        memory: Memory | None = None,
        memory_default: int = 0,
    ) -> None:
        super().__init__(address, _Handler)
        self.memory, self.memory_default = memory, memory_default
        self.engine: Engine | BatchEngine = persona.engine
        self.warmup_s = 0.0  # compiling the batched decode step before listening
        if max_batch > 1:
            loaded = persona.loaded
            self.engine = BatchEngine(
                loaded.model,
                loaded.end_of_turn_ids,
                max_batch=max_batch,
                max_cache_len=persona.engine.capacity,
                vocab_size=persona.engine.vocab_size,
                static=fast,
                compiled=fast,
            )
            self.warmup_s = self.engine.warmup()
        name = model_name or persona.label
        self.models = {name: ServedModel(name, persona)}
        if persona.can_disable_adapter:
            self.models[f"{name}:base"] = ServedModel(f"{name}:base", persona, use_adapter=False)
        self.api_key = api_key or None
        self.max_tokens_cap = max_tokens_cap
        self.log = log

    def server_close(self) -> None:
        super().server_close()
        if isinstance(self.engine, BatchEngine):
            self.engine.close()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "persona-studio"
    timeout = 60.0
    """Seconds a socket read or write may wait: a client that stalls mid-request (or stops reading
    a stream) is dropped instead of holding a thread forever."""
    server: PersonaServer

    # -- plumbing -------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        # a stream is many small writes: without this, Nagle's algorithm holds each one back
        # until the client acknowledges the last (tens of milliseconds per token)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        if self.server.log is not None:
            print(f"{self.address_string()} {format % args}", file=self.server.log, flush=True)

    def _send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, error: ApiError) -> None:
        self._send_json(error.status, error.body())

    def _check_key(self) -> None:
        if not self.server.api_key:
            return
        header = self.headers.get("Authorization", "")
        given = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not hmac.compare_digest(given.encode(), self.server.api_key.encode()):
            raise ApiError(
                401,
                "Incorrect API key provided"
                if given
                else "Missing API key: send Authorization: Bearer <key>",
                code="invalid_api_key",
            )

    def _read_json(self) -> Any:
        length = self.headers.get("Content-Length")
        if length is None:
            raise ApiError(411, "a Content-Length header is required")
        try:
            size = int(length)
        except ValueError:
            raise ApiError(400, f"bad Content-Length {length!r}") from None
        if size > MAX_BODY:
            raise ApiError(413, f"the request body is {size} bytes; the limit is {MAX_BODY}")
        try:
            raw = self.rfile.read(size)
        except TimeoutError:
            self._consumed = False  # the rest may still come: never read it as the next request
            raise ApiError(
                408, f"the request body did not arrive within {self.timeout:g}s", code="timeout"
            ) from None
        self._consumed = True
        if len(raw) < size:
            self._consumed = False
            raise ApiError(400, f"the request body ended after {len(raw)} of {size} bytes")
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, f"the request body is not valid JSON: {exc}") from None
        except RecursionError:
            raise ApiError(400, "the request body is JSON nested too deeply") from None

    def _guarded(self, work: Any) -> None:
        try:
            work()
        except ApiError as error:
            if not self._consumed:  # an unread body would be taken for the next request
                self.close_connection = True
            self._send_error(error)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):  # the client left or stalled
            self.close_connection = True
        except Exception as exc:  # never a traceback to the client
            traceback.print_exc(file=sys.stderr)
            self._send_error(
                ApiError(500, f"internal error: {type(exc).__name__}", kind="server_error")
            )

    # -- routes ---------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._consumed = True
        self._guarded(self._get)

    def do_POST(self) -> None:  # noqa: N802
        self._consumed = False
        self._guarded(self._post)

    def _get(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/health":
            self._send_json(200, {"status": "ok"})
            return
        self._check_key()
        if path == "/v1/models":
            self._send_json(
                200, {"object": "list", "data": [m.card() for m in self.server.models.values()]}
            )
        elif path.startswith("/v1/models/"):
            name = path[len("/v1/models/") :]
            if name not in self.server.models:
                raise ApiError(
                    404, f"The model `{name}` does not exist", param="model", code="model_not_found"
                )
            self._send_json(200, self.server.models[name].card())
        else:
            raise ApiError(404, f"no route GET {path}; try GET /v1/models", code="not_found")

    def _post(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        body = self._read_json()
        self._check_key()
        if path != "/v1/chat/completions":
            raise ApiError(
                404,
                f"no route POST {path}; this server has POST /v1/chat/completions",
                code="not_found",
            )
        request = parse_chat_request(
            body,
            self.server.models,
            self.server.max_tokens_cap,
            memory=self.server.memory,
            memory_default=self.server.memory_default,
        )
        persona = request.model.persona
        tokenizer = persona.loaded.tokenizer
        prompt = render_prompt(tokenizer, request.messages)
        engine = self.server.engine
        if len(prompt) + request.max_tokens > engine.capacity:
            raise ApiError(
                400,
                f"This model's maximum context length is {engine.capacity} tokens; the messages "
                f"take {len(prompt)} and max_tokens asks for {request.max_tokens}",
                param="messages",
                code="context_length_exceeded",
            )
        stats: dict[str, Any] = {}
        pieces = stream_text(
            engine,
            tokenizer,
            prompt,
            sampling=request.sampling,
            max_new_tokens=request.max_tokens,
            stop=request.stop,
            use_adapter=request.model.use_adapter,
            stats=stats,
        )
        ident = f"chatcmpl-{secrets.token_hex(12)}"
        created = int(time.time())
        if request.stream:
            self._stream(request, pieces, stats, ident, created)
            return
        try:
            text = "".join(pieces)
        except ContextOverflow as exc:
            raise ApiError(
                400, str(exc), param="messages", code="context_length_exceeded"
            ) from None
        self._send_json(
            200,
            {
                "id": ident,
                "object": "chat.completion",
                "created": created,
                "model": request.model.id,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "logprobs": None,
                        "finish_reason": _finish(stats),
                    }
                ],
                "usage": _usage(stats["engine"]),
                **(
                    {"memory": {"k": request.memory, "ids": request.recalled}}
                    if request.memory
                    else {}
                ),
            },
        )

    def _stream(
        self, request: ChatRequest, pieces: Any, stats: dict[str, Any], ident: str, created: int
    ) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def send(payload: Any) -> None:
            data = (
                "data: "
                + (payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False))
                + "\n\n"
            )
            raw = data.encode("utf-8")
            self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
            self.wfile.flush()

        def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
            return {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": request.model.id,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }

        try:
            send(chunk({"role": "assistant", "content": ""}, None))
            try:
                for piece in pieces:
                    send(chunk({"content": piece}, None))
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                raise
            except Exception as exc:  # headers are gone: report it as an error event
                traceback.print_exc(file=sys.stderr)
                kind = (
                    "invalid_request_error" if isinstance(exc, ContextOverflow) else "server_error"
                )
                send(ApiError(500, f"generation failed: {type(exc).__name__}", kind=kind).body())
            else:
                send(chunk({}, _finish(stats)))
                if request.include_usage:
                    send(
                        {
                            "id": ident,
                            "object": "chat.completion.chunk",
                            "created": created,
                            "model": request.model.id,
                            "choices": [],
                            "usage": _usage(stats["engine"]),
                        }
                    )
            send("[DONE]")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        finally:
            pieces.close()  # a client that hung up stops the generation


def _finish(stats: dict[str, Any]) -> str:
    return "length" if stats.get("finish_reason") == "length" else "stop"


def _usage(engine: Any) -> dict[str, int]:
    return {
        "prompt_tokens": engine.prompt_tokens,
        "completion_tokens": engine.new_tokens,
        "total_tokens": engine.prompt_tokens + engine.new_tokens,
    }


def serve_in_thread(server: PersonaServer) -> threading.Thread:
    """Run ``server`` in a daemon thread (tests, the TUI); stop it with ``server.shutdown()``."""
    thread = threading.Thread(target=server.serve_forever, name="persona-serve", daemon=True)
    thread.start()
    return thread


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")
