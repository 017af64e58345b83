"""Provides the OpenAI chat-completions request schema: validation, errors and the served model ids.

A request is checked field by field against OpenAI's rules and what this server supports; a bad
one raises :class:`ApiError`, which carries OpenAI's error shape
``{"error": {"message", "type", "param", "code"}}`` and the HTTP status.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from studio.chat.memory import Memory
from studio.chat.persona import Persona
from studio.chat.sampling import Sampling

MAX_BODY = 4 * 1024 * 1024
KNOWN_FIELDS = {
    "model",
    "messages",
    "stream",
    "stream_options",
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "user",
    "metadata",
    "store",
    "logprobs",
    "top_logprobs",
    "response_format",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "repetition_penalty",
    "top_k",
    "memory",
}
MAX_MEMORY = 32
"""The most exchanges a request's ``memory`` may ask for."""


class ApiError(Exception):
    """A request the server refuses, in OpenAI's error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = (
            status,
            message,
            kind,
            param,
            code,
        )

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


@dataclass
class ServedModel:
    """One model id the server answers to."""

    id: str
    persona: Persona
    use_adapter: bool = True
    created: int = field(default_factory=lambda: int(time.time()))

    def card(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "model",
            "created": self.created,
            "owned_by": "persona-studio",
            "character": self.persona.character,
            "adapter": self.use_adapter and self.persona.adapter_dir is not None,
        }


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
    memory: int = 0
    recalled: list[str] = field(default_factory=list)


def _number(body: dict[str, Any], name: str, low: float, high: float, default: float) -> float:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ApiError(
            400, f"{name}: expected a number from {low} to {high}, got {value!r}", param=name
        )
    return float(value)


def _integer(body: dict[str, Any], name: str, low: int, high: int | None) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
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
            if (
                not isinstance(part, dict)
                or part.get("type") != "text"
                or not isinstance(part.get("text"), str)
            ):
                raise ApiError(
                    400,
                    f"messages[{index}].content: only text parts are supported",
                    param=f"messages[{index}].content",
                )
            texts.append(part["text"])
        return "".join(texts)
    raise ApiError(
        400,
        f"messages[{index}].content: expected a string or a list of text parts",
        param=f"messages[{index}].content",
    )


def parse_chat_request(
    body: Any,
    models: dict[str, ServedModel],
    max_tokens_cap: int,
    *,
    memory: Memory | None = None,
    memory_default: int = 0,
) -> ChatRequest:
    """Validate a request body against OpenAI's rules (and what this server supports).

    ``memory`` (an extension, sent by the openai client as ``extra_body={"memory": 3}``) is how
    many of the character's real train-split exchanges to retrieve into the system prompt for
    the last user turn; 0 switches it off; absent, the server's ``memory_default`` applies.

    Raises:
        ApiError: naming the parameter at fault.
    """
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    unknown = sorted(set(body) - KNOWN_FIELDS)
    if unknown:
        raise ApiError(
            400, f"Unrecognized request argument supplied: {', '.join(unknown)}", param=unknown[0]
        )
    name = body.get("model")
    if not isinstance(name, str) or not name:
        raise ApiError(400, "model: required; expected one of " + ", ".join(models), param="model")
    if name not in models:
        raise ApiError(
            404,
            f"The model `{name}` does not exist; this server has {', '.join(models)}",
            param="model",
            code="model_not_found",
        )
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise ApiError(400, "messages: expected a non-empty list of messages", param="messages")
    system_extra: list[str] = []
    turns: list[dict[str, str]] = []
    for index, message in enumerate(raw):
        if not isinstance(message, dict):
            raise ApiError(
                400,
                f"messages[{index}]: expected an object with role and content",
                param=f"messages[{index}]",
            )
        role = message.get("role")
        if role in ("system", "developer"):
            system_extra.append(_content(message, index))
        elif role in ("user", "assistant"):
            turns.append({"role": role, "content": _content(message, index)})
        else:
            raise ApiError(
                400,
                f"messages[{index}].role: expected system, developer, user or assistant, "
                f"got {role!r}",
                param=f"messages[{index}].role",
            )
    if not turns or turns[-1]["role"] != "user":
        raise ApiError(400, "messages: the last message must be from the user", param="messages")
    for flag in ("logprobs",):
        if body.get(flag):
            raise ApiError(400, f"{flag}: not supported by this server", param=flag)
    if body.get("tools"):
        raise ApiError(400, "tools: not supported by this server", param="tools")
    response_format = body.get("response_format")
    if response_format is not None and (
        not isinstance(response_format, dict) or response_format.get("type") != "text"
    ):
        raise ApiError(
            400, 'response_format: only {"type": "text"} is supported', param="response_format"
        )
    if _integer(body, "n", 1, None) not in (None, 1):
        raise ApiError(400, "n: only 1 choice per request is supported", param="n")
    for penalty in ("presence_penalty", "frequency_penalty"):
        if _number(body, penalty, -2.0, 2.0, 0.0) != 0.0:
            raise ApiError(
                400, f"{penalty}: not supported; use repetition_penalty (1.0 to 2.0)", param=penalty
            )
    temperature = _number(body, "temperature", 0.0, 2.0, 0.7)
    top_p = _number(body, "top_p", 0.0, 1.0, 1.0)
    if top_p == 0.0:
        raise ApiError(400, "top_p: expected a number above 0 and at most 1, got 0", param="top_p")
    repetition = _number(body, "repetition_penalty", 1.0, 2.0, 1.0)
    top_k = _integer(body, "top_k", 0, None) or 0
    seed = _integer(body, "seed", -(2**63), 2**63 - 1)
    max_tokens = _integer(body, "max_completion_tokens", 1, max_tokens_cap) or _integer(
        body, "max_tokens", 1, max_tokens_cap
    )
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
    k = _integer(body, "memory", 0, MAX_MEMORY)
    k = memory_default if k is None else k
    if k and memory is None:
        raise ApiError(
            400,
            "memory: this server has no memory index (the base model needs a built dataset)",
            param="memory",
        )
    served = models[name]
    system = served.persona.system
    recalled: list[str] = []
    if k and memory is not None:
        recall = memory.recall(system, turns[-1]["content"], k)
        system, recalled = recall.system, recall.ids
    if system_extra:
        system = "\n\n".join([system, *system_extra]) if system else "\n\n".join(system_extra)
    sampling = Sampling(
        do_sample=temperature > 0,
        temperature=temperature or 1.0,
        top_p=top_p,
        top_k=top_k,
        repetition_penalty=repetition,
        seed=seed,
    )
    # always a system message, as in training (an absent one makes Qwen's template insert its own)
    messages = [{"role": "system", "content": system}, *turns]
    return ChatRequest(
        served,
        messages,
        sampling,
        max_tokens or min(512, max_tokens_cap),
        stream,
        bool(options.get("include_usage")),
        stops,
        k,
        recalled,
    )
