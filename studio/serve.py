"""Provides ``persona-studio serve``: an OpenAI-compatible chat API over a persona, standard library only.

Routes: ``GET /v1/models``, ``GET /v1/models/{id}``, ``POST /v1/chat/completions`` (JSON, or
server-sent events with ``"stream": true`` ending with ``data: [DONE]``) and ``GET /health``.

- The persona card is always the system prompt (the adapter was trained with it); a request's
  own system messages are appended below it.
- With an unmerged adapter a second model id, ``<id>:base``, answers with the adapter disabled:
  the base model with the same persona prompt, for A/B comparisons from any OpenAI client.
- Requests are validated; a bad one gets a 4xx with OpenAI's error object
  ``{"error": {"message", "type", "param", "code"}}``; an unexpected failure a 500 with the
  same shape (the traceback goes to the server's log, never to the client).
- Generation is serialised by the engine's lock; listing models never waits for it.
- It binds 127.0.0.1 unless told otherwise; ``--api-key`` (or ``PERSONA_STUDIO_API_KEY``)
  makes every ``/v1`` route require ``Authorization: Bearer <key>``.
"""

from __future__ import annotations

import hmac
import json
import secrets
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from studio.chat import Persona, render_prompt, stream_text
from studio.engine import ContextOverflow, Sampling

MAX_BODY = 4 * 1024 * 1024
KNOWN_FIELDS = {
    "model", "messages", "stream", "stream_options", "temperature", "top_p", "max_tokens", "max_completion_tokens",
    "n", "stop", "seed", "presence_penalty", "frequency_penalty", "user", "metadata", "store", "logprobs",
    "top_logprobs", "response_format", "tools", "tool_choice", "parallel_tool_calls", "repetition_penalty", "top_k",
}


class ApiError(Exception):
    """A request the server refuses, in OpenAI's error shape."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


@dataclass
class ServedModel:
    """One model id the server answers to."""

    id: str
    persona: Persona
    use_adapter: bool = True
    created: int = field(default_factory=lambda: int(time.time()))

    def card(self) -> dict[str, Any]:
        return {"id": self.id, "object": "model", "created": self.created, "owned_by": "persona-studio",
                "character": self.persona.character, "adapter": self.use_adapter and self.persona.adapter_dir is not None}


@dataclass
class ChatRequest:
    """A validated ``/v1/chat/completions`` request."""

    model: ServedModel
    messages: list[dict[str, str]]
    sampling: Sampling
    max_tokens: int
    stream: bool = False
    include_usage: bool = False
    stop: list[str] = field(default_factory=list)


def _number(body: dict[str, Any], name: str, low: float, high: float, default: float) -> float:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ApiError(400, f"{name}: expected a number from {low} to {high}, got {value!r}", param=name)
    return float(value)


def _integer(body: dict[str, Any], name: str, low: int, high: int | None) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise ApiError(400, f"{name}: expected an integer {bound}, got {value!r}", param=name)
    return value


def _content(message: dict[str, Any], index: int) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: only text here
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise ApiError(400, f"messages[{index}].content: only text parts are supported", param=f"messages[{index}].content")
            texts.append(part["text"])
        return "".join(texts)
    raise ApiError(400, f"messages[{index}].content: expected a string or a list of text parts", param=f"messages[{index}].content")


def parse_chat_request(body: Any, models: dict[str, ServedModel], max_tokens_cap: int) -> ChatRequest:
    """Validate a request body against OpenAI's rules (and what this server supports).

    Raises:
        ApiError: naming the parameter at fault.
    """
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    unknown = sorted(set(body) - KNOWN_FIELDS)
    if unknown:
        raise ApiError(400, f"Unrecognized request argument supplied: {', '.join(unknown)}", param=unknown[0])
    name = body.get("model")
    if not isinstance(name, str) or not name:
        raise ApiError(400, "model: required; expected one of " + ", ".join(models), param="model")
    if name not in models:
        raise ApiError(404, f"The model `{name}` does not exist; this server has {', '.join(models)}",
                       param="model", code="model_not_found")
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise ApiError(400, "messages: expected a non-empty list of messages", param="messages")
    system_extra: list[str] = []
    turns: list[dict[str, str]] = []
    for index, message in enumerate(raw):
        if not isinstance(message, dict):
            raise ApiError(400, f"messages[{index}]: expected an object with role and content", param=f"messages[{index}]")
        role = message.get("role")
        if role in ("system", "developer"):
            system_extra.append(_content(message, index))
        elif role in ("user", "assistant"):
            turns.append({"role": role, "content": _content(message, index)})
        else:
            raise ApiError(400, f"messages[{index}].role: expected system, developer, user or assistant, got {role!r}",
                           param=f"messages[{index}].role")
    if not turns or turns[-1]["role"] != "user":
        raise ApiError(400, "messages: the last message must be from the user", param="messages")
    for flag in ("logprobs",):
        if body.get(flag):
            raise ApiError(400, f"{flag}: not supported by this server", param=flag)
    if body.get("tools"):
        raise ApiError(400, "tools: not supported by this server", param="tools")
    response_format = body.get("response_format")
    if response_format is not None and (not isinstance(response_format, dict) or response_format.get("type") != "text"):
        raise ApiError(400, "response_format: only {\"type\": \"text\"} is supported", param="response_format")
    if _integer(body, "n", 1, None) not in (None, 1):
        raise ApiError(400, "n: only 1 choice per request is supported", param="n")
    for penalty in ("presence_penalty", "frequency_penalty"):
        if _number(body, penalty, -2.0, 2.0, 0.0) != 0.0:
            raise ApiError(400, f"{penalty}: not supported; use repetition_penalty (1.0 to 2.0)", param=penalty)
    temperature = _number(body, "temperature", 0.0, 2.0, 0.7)
    top_p = _number(body, "top_p", 0.0, 1.0, 1.0)
    if top_p == 0.0:
        raise ApiError(400, "top_p: expected a number above 0 and at most 1, got 0", param="top_p")
    repetition = _number(body, "repetition_penalty", 1.0, 2.0, 1.0)
    top_k = _integer(body, "top_k", 0, None) or 0
    seed = _integer(body, "seed", -(2**63), 2**63 - 1)
    max_tokens = _integer(body, "max_completion_tokens", 1, max_tokens_cap) or _integer(body, "max_tokens", 1, max_tokens_cap)
    stop = body.get("stop")
    if stop is None:
        stops: list[str] = []
    elif isinstance(stop, str):
        stops = [stop]
    elif isinstance(stop, list) and len(stop) <= 4 and all(isinstance(s, str) for s in stop):
        stops = list(stop)
    else:
        raise ApiError(400, "stop: expected a string or a list of up to 4 strings", param="stop")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, f"stream: expected true or false, got {stream!r}", param="stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise ApiError(400, "stream_options: expected an object", param="stream_options")
    served = models[name]
    system = served.persona.system
    if system_extra:
        system = "\n\n".join([system, *system_extra]) if system else "\n\n".join(system_extra)
    sampling = Sampling(do_sample=temperature > 0, temperature=temperature or 1.0, top_p=top_p, top_k=top_k,
                        repetition_penalty=repetition, seed=seed)
    messages = ([{"role": "system", "content": system}] if system else []) + turns
    return ChatRequest(served, messages, sampling, max_tokens or min(512, max_tokens_cap), stream,
                       bool(options.get("include_usage")), stops)


class PersonaServer(ThreadingHTTPServer):
    """The HTTP server: one persona, one or two model ids.

    Args:
        address: (host, port); port 0 picks a free port (see ``server_address``).
        persona: the loaded persona.
        api_key: required bearer token; None or empty for none.
        model_name: the model id (default: the persona's label).
        max_tokens_cap: the largest ``max_tokens`` a request may ask for.
        log: where the access log goes (None: nowhere).
    """

    daemon_threads = True

    def __init__(self, address: tuple[str, int], persona: Persona, *, api_key: str | None = None,
                 model_name: str = "", max_tokens_cap: int = 2048, log: Any = sys.stderr) -> None:
        super().__init__(address, _Handler)
        name = model_name or persona.label
        self.models = {name: ServedModel(name, persona)}
        if persona.can_disable_adapter:
            self.models[f"{name}:base"] = ServedModel(f"{name}:base", persona, use_adapter=False)
        self.api_key = api_key or None
        self.max_tokens_cap = max_tokens_cap
        self.log = log

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "persona-studio"
    server: PersonaServer

    # -- plumbing -------------------------------------------------------------------------

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
            raise ApiError(401, "Incorrect API key provided" if given else "Missing API key: send Authorization: Bearer <key>",
                           code="invalid_api_key")

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
        raw = self.rfile.read(size)
        self._consumed = True
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, f"the request body is not valid JSON: {exc}") from None

    def _guarded(self, work: Any) -> None:
        try:
            work()
        except ApiError as error:
            if not self._consumed:  # an unread body would be taken for the next request
                self.close_connection = True
            self._send_error(error)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # never a traceback to the client
            traceback.print_exc(file=sys.stderr)
            self._send_error(ApiError(500, f"internal error: {type(exc).__name__}", type="server_error"))

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
            self._send_json(200, {"object": "list", "data": [m.card() for m in self.server.models.values()]})
        elif path.startswith("/v1/models/"):
            name = path[len("/v1/models/"):]
            if name not in self.server.models:
                raise ApiError(404, f"The model `{name}` does not exist", param="model", code="model_not_found")
            self._send_json(200, self.server.models[name].card())
        else:
            raise ApiError(404, f"no route GET {path}; try GET /v1/models", code="not_found")

    def _post(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        body = self._read_json()
        self._check_key()
        if path != "/v1/chat/completions":
            raise ApiError(404, f"no route POST {path}; this server has POST /v1/chat/completions", code="not_found")
        request = parse_chat_request(body, self.server.models, self.server.max_tokens_cap)
        persona = request.model.persona
        tokenizer = persona.loaded.tokenizer
        prompt = render_prompt(tokenizer, request.messages)
        if len(prompt) + request.max_tokens > persona.engine.capacity:
            raise ApiError(400, f"This model's maximum context length is {persona.engine.capacity} tokens; the messages "
                           f"take {len(prompt)} and max_tokens asks for {request.max_tokens}",
                           param="messages", code="context_length_exceeded")
        stats: dict[str, Any] = {}
        pieces = stream_text(persona.engine, tokenizer, prompt, sampling=request.sampling,
                             max_new_tokens=request.max_tokens, stop=request.stop,
                             use_adapter=request.model.use_adapter, stats=stats)
        ident = f"chatcmpl-{secrets.token_hex(12)}"
        created = int(time.time())
        if request.stream:
            self._stream(request, pieces, stats, ident, created)
            return
        try:
            text = "".join(pieces)
        except ContextOverflow as exc:
            raise ApiError(400, str(exc), param="messages", code="context_length_exceeded") from None
        engine = stats["engine"]
        self._send_json(200, {
            "id": ident, "object": "chat.completion", "created": created, "model": request.model.id,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None,
                         "finish_reason": _finish(stats)}],
            "usage": _usage(engine),
        })

    def _stream(self, request: ChatRequest, pieces: Any, stats: dict[str, Any], ident: str, created: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def send(payload: Any) -> None:
            data = "data: " + (payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)) + "\n\n"
            raw = data.encode("utf-8")
            self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
            self.wfile.flush()

        def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
            return {"id": ident, "object": "chat.completion.chunk", "created": created, "model": request.model.id,
                    "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

        try:
            send(chunk({"role": "assistant", "content": ""}, None))
            try:
                for piece in pieces:
                    send(chunk({"content": piece}, None))
            except (BrokenPipeError, ConnectionResetError):
                raise
            except Exception as exc:  # headers are gone: report it as an error event
                traceback.print_exc(file=sys.stderr)
                kind = "invalid_request_error" if isinstance(exc, ContextOverflow) else "server_error"
                send(ApiError(500, f"generation failed: {type(exc).__name__}", type=kind).body())
            else:
                send(chunk({}, _finish(stats)))
                if request.include_usage:
                    send({"id": ident, "object": "chat.completion.chunk", "created": created, "model": request.model.id,
                          "choices": [], "usage": _usage(stats["engine"])})
            send("[DONE]")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        finally:
            pieces.close()  # a client that hung up stops the generation


def _finish(stats: dict[str, Any]) -> str:
    return "length" if stats.get("finish_reason") == "length" else "stop"


def _usage(engine: Any) -> dict[str, int]:
    return {"prompt_tokens": engine.prompt_tokens, "completion_tokens": engine.new_tokens,
            "total_tokens": engine.prompt_tokens + engine.new_tokens}


def serve_in_thread(server: PersonaServer) -> threading.Thread:
    """Run ``server`` in a daemon thread (tests, the TUI); stop it with ``server.shutdown()``."""
    thread = threading.Thread(target=server.serve_forever, name="persona-serve", daemon=True)
    thread.start()
    return thread


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def run_cli(args: Any) -> int:
    """``persona-studio serve``: load the persona, bind, serve until ctrl-c."""
    import os

    from studio.chat import load_persona
    from studio.plugins import load_host
    from studio.workspace import Workspace

    ws = Workspace(args.workspace)
    api_key = args.api_key or os.environ.get("PERSONA_STUDIO_API_KEY", "")
    if not is_loopback(args.host) and not api_key:
        print(f"warning: serving on {args.host} without an API key: anyone who can reach this port can use it; "
              "set --api-key or PERSONA_STUDIO_API_KEY", file=sys.stderr)
    persona = load_persona(ws, load_host().adapters, run=args.run, checkpoint=args.checkpoint, base=args.base,
                           merge=args.merge, fast=args.fast)
    for note in persona.notes:
        print(f"note: {note}", file=sys.stderr)
    try:
        server = PersonaServer((args.host, args.port), persona, api_key=api_key, model_name=args.model_name,
                               max_tokens_cap=args.max_tokens_cap, log=None if args.quiet else sys.stderr)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"serving {persona.character} ({persona.label}) at {server.url}  models: {', '.join(server.models)}"
          + ("  (API key required)" if api_key else ""), file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0
