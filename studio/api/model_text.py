"""Provides tolerant parsing of model output: the one message a model was asked for, from what it wrote.

Models wrap answers in code fences, JSON with chatter around it, speaker labels, notes and stage
directions; these helpers read through all of that. Used by the augmentation strategies (as ``studio.api``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from studio.api.text import is_wide_char

_FENCE = re.compile(r"```[\w+-]*[ \t]*\n?(.*?)(?:```|\Z)", re.S)
_LABEL = re.compile(r"^\s*[\*#>]*\s*([^\s：:，,。\"“”]{1,12}|[A-Z][\w .'-]{0,24})\s*[：:]\s*")
_NOTE = re.compile(
    r"^\s*[（(\[]?\s*(注|备注|说明|解释|提示|note|notes|explanation|translation|comment)\b\s*[：:）)\]]?",
    re.I,
)
_ACTION = re.compile(r"[（(][^（）()]{1,24}[）)]")
_QUOTES = ("“”", '""', "「」", "『』", "‘’", "''")
_GENERIC_LABELS = {
    "回答",
    "答",
    "答案",
    "回复",
    "助手",
    "用户",
    "问",
    "Answer",
    "A",
    "Reply",
    "Response",
    "Assistant",
    "assistant",
    "User",
    "user",
    "Q",
    "Question",
}
_JSON_KEYS = (
    "reply",
    "line",
    "content",
    "text",
    "answer",
    "response",
    "message",
    "回答",
    "台词",
    "回复",
)


def strip_fences(text: str) -> str:
    """The inside of the first fenced code block, or the text itself when there is none."""
    match = _FENCE.search(text)
    return match.group(1).strip() if match else text.strip()


def extract_json(text: str) -> Any:
    """The first JSON object or array in ``text``, ignoring fences and text before or after it.

    Returns:
        The decoded value, or None when the text holds no JSON.
    """
    text = strip_fences(text)
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        return value
    return None


def is_garbled(text: str) -> bool:
    """True when the text holds replacement or control characters (broken bytes, random tokens)."""
    return any(
        ch == "\ufffd" or (ord(ch) < 32 and ch not in "\n\t") or 0x7F <= ord(ch) < 0xA0
        for ch in text
    )


def clean_message(text: str, names: Sequence[str] = ()) -> str:
    """The one message a model was asked for, from what it wrote.

    Takes the first fenced block; a JSON object gives its ``reply``/``line``/``content`` value;
    a leading speaker label (``甄嬛：``, ``Answer:``) is removed; the text stops at the next
    speaker label (the model writing both sides), at a blank line or a note; stage directions
    in parentheses and wrapping quotes are dropped.

    Args:
        text: the raw model output.
        names: speaker names the model may write as labels.

    Returns:
        The cleaned message; empty when nothing usable is left.
    """
    body = strip_fences(text)
    value = extract_json(body) if "{" in body or body[:1] == "[" else None
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, dict):
        picked = next((value[k] for k in _JSON_KEYS if isinstance(value.get(k), str)), None)
        if picked is None and body[:1] in "{[":  # a bare object: take its first text field
            picked = next((v for v in value.values() if isinstance(v, str)), "")
        body = body if picked is None else picked
    elif isinstance(value, str) and body[:1] == "[":
        body = value
    known = {n for n in names if n} | _GENERIC_LABELS
    lines: list[str] = []
    for line in body.splitlines():
        if not line.strip():
            if lines:
                break  # a blank line ends the message; what follows is commentary
            continue
        label = _LABEL.match(line)
        if label and label.group(1).strip() in known:
            if lines:
                break  # the next speaker: the model went on writing the dialogue
            line = line[label.end() :]
        if _NOTE.match(line):
            break
        if line.strip():
            lines.append(line.strip())
    joined = _join(lines)
    joined = _ACTION.sub("", joined).strip()
    for pair in _QUOTES:
        if len(joined) >= 2 and joined[0] == pair[0] and joined[-1] == pair[1]:
            joined = joined[1:-1].strip()
    return joined


def _join(lines: Sequence[str]) -> str:
    out = ""
    for line in lines:
        if out and not (is_wide_char(out[-1]) or is_wide_char(line[:1])):
            out += " "
        out += line
    return out
