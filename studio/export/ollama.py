"""Provides the Ollama ``Modelfile`` of a GGUF export and a renderer of the template it writes.

The TEMPLATE is in Ollama's Go ``text/template`` syntax, one per chat format (ChatML for Qwen2,
Llama-3's header format for Llama); SYSTEM is the persona, which Ollama puts first as a system
message when a conversation has none; PARAMETER stop lists the end-of-turn tokens.

:func:`render_go_template` executes the subset of Go templates these use (``{{ .Field }}``,
``{{ if }}``, ``{{ range .Messages }}``, ``{{- }}`` / ``{{ -}}`` whitespace trimming) the way
Ollama does, so the prompt it builds can be compared with the studio's own, token for token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from studio.errors import StudioError

TEMPLATES = {
    "qwen2": (
        "{{- range .Messages }}<|im_start|>{{ .Role }}\n"
        "{{ .Content }}<|im_end|>\n"
        "{{ end }}<|im_start|>assistant\n"
    ),
    # Qwen3 speaks ChatML too; a template that differs is caught by the prompt comparison
    "qwen3": (
        "{{- range .Messages }}<|im_start|>{{ .Role }}\n"
        "{{ .Content }}<|im_end|>\n"
        "{{ end }}<|im_start|>assistant\n"
    ),
    # the BOS token is not written here: llama.cpp adds it (the GGUF says add_bos_token)
    "llama": (
        "{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n"
        "{{ .Content }}<|eot_id|>"
        "{{- end }}<|start_header_id|>assistant<|end_header_id|>\n\n"
    ),
}


def go_string(text: str) -> str:
    """A Modelfile value in triple quotes, or a JSON-quoted one when the text contains them."""
    return (
        f'"""{text}"""'
        if '"""' not in text and not text.endswith('"')
        else json.dumps(text, ensure_ascii=False)
    )


def modelfile(gguf_name: str, arch: str, persona: str, stops: Sequence[str]) -> str:
    """The Modelfile text: FROM the GGUF beside it, TEMPLATE, SYSTEM, stop parameters.

    Raises:
        StudioError: an architecture without an Ollama template here.
    """
    if arch not in TEMPLATES:
        raise StudioError(f"Modelfile: no Ollama template for a {arch!r} model")
    lines = [
        f"FROM ./{gguf_name}",
        f"TEMPLATE {go_string(TEMPLATES[arch])}",
        f"SYSTEM {go_string(persona)}",
    ]
    lines += [f"PARAMETER stop {json.dumps(stop, ensure_ascii=False)}" for stop in stops]
    return "\n".join(lines) + "\n"


def parse_modelfile(text: str) -> dict[str, Any]:
    """``FROM``, ``TEMPLATE``, ``SYSTEM`` and the ``stop`` parameters of a Modelfile we wrote."""
    found: dict[str, Any] = {"stop": []}
    pattern = re.compile(
        r'^(FROM|TEMPLATE|SYSTEM|PARAMETER)\s+(?:stop\s+)?("""(.*?)"""|"(?:[^"\\]|\\.)*"|\S.*?)$',
        re.S | re.M,
    )
    for match in pattern.finditer(text):
        key, raw, tripled = match.group(1), match.group(2), match.group(3)
        value = (
            tripled if tripled is not None else (json.loads(raw) if raw.startswith('"') else raw)
        )
        if key == "PARAMETER":
            found["stop"].append(value)
        else:
            found[key] = value
    return found


_ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)


def _lex(template: str) -> list[tuple[str, str]]:
    """Text and action pieces with Go's trim markers applied (``{{-`` eats whitespace before)."""
    pieces: list[tuple[str, str]] = []
    pos, trim_next = 0, False
    for match in _ACTION.finditer(template):
        text = template[pos : match.start()]
        if trim_next:
            text = text.lstrip()
        if match.group(1):
            text = text.rstrip()
        pieces.append(("text", text))
        pieces.append(("action", match.group(2)))
        trim_next, pos = bool(match.group(3)), match.end()
    tail = template[pos:]
    pieces.append(("text", tail.lstrip() if trim_next else tail))
    return pieces


def _parse(pieces: list[tuple[str, str]], pos: int = 0) -> tuple[list[Any], int]:
    nodes: list[Any] = []
    while pos < len(pieces):
        kind, value = pieces[pos]
        pos += 1
        if kind == "text":
            nodes.append(("text", value))
        elif value == "end":
            return nodes, pos
        elif value.startswith(("if ", "range ")):
            word, field = value.split(None, 1)
            body, pos = _parse(pieces, pos)
            nodes.append((word, field, body))
        elif value.startswith("."):
            nodes.append(("field", value))
        else:
            raise StudioError(
                f"Go template: {{{{ {value} }}}} is outside the subset the studio writes"
            )
    return nodes, pos


def _lookup(field: str, scope: Mapping[str, Any]) -> Any:
    value: Any = scope
    for part in field.strip(".").split("."):
        value = value.get(part, "") if isinstance(value, Mapping) else ""
    return value


def _run(nodes: list[Any], scope: Mapping[str, Any], out: list[str]) -> None:
    for node in nodes:
        if node[0] == "text":
            out.append(node[1])
        elif node[0] == "field":
            out.append(str(_lookup(node[1], scope)))
        elif node[0] == "if":
            if _lookup(node[1], scope):
                _run(node[2], scope, out)
        else:  # range: the dot becomes each element
            for item in _lookup(node[1], scope) or []:
                _run(node[2], item, out)


def render_go_template(
    template: str, messages: Sequence[Mapping[str, str]], system: str = ""
) -> str:
    """The prompt Ollama builds from ``template`` for a chat request.

    Args:
        template: the Modelfile TEMPLATE.
        messages: the request's messages.
        system: the Modelfile SYSTEM; Ollama puts it first when the messages have no system one.
    """
    msgs = [dict(m) for m in messages]
    if system and (not msgs or msgs[0].get("role") != "system"):
        msgs.insert(0, {"role": "system", "content": system})
    scope = {
        "Messages": [{"Role": m["role"], "Content": m["content"]} for m in msgs],
        "System": next((m["content"] for m in msgs if m["role"] == "system"), ""),
        "Prompt": "",
        "Response": "",
    }
    nodes, _ = _parse(_lex(template))
    out: list[str] = []
    _run(nodes, scope, out)
    return "".join(out)
