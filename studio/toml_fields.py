"""Provides the TOML helpers of studio.toml validation: the line of a key, type names in words
and the coercion of a TOML value to a dataclass field's type.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any


def key_line(text: str, section: str, key: str | None) -> int | None:
    """Find the line of ``[section] key`` in the TOML text (best effort)."""
    lines = text.splitlines()
    header = re.compile(r"^\s*\[\s*" + re.escape(section) + r"\s*\]")
    dotted = re.compile(r"^\s*" + re.escape(section) + r"\.")
    in_section = False
    section_line = None
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            in_section = bool(header.match(line))
            if in_section:
                section_line = number
                if key is None:
                    return number
            continue
        if key is None and dotted.match(line):
            return number
        if key is not None and (
            in_section and re.match(r"^\s*\"?" + re.escape(key) + r"\"?\s*=", line)
        ):
            return number
        if key is not None and re.match(
            r"^\s*" + re.escape(section) + r"\." + re.escape(key) + r"\s*=", line
        ):
            return number
    return section_line


def type_name(tp: Any) -> str:
    """What a value of type ``tp`` is, in words (``a number``)."""
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
    }.get(tp, "a list of strings" if typing.get_origin(tp) is list else "a table")


def coerce(value: Any, tp: Any) -> Any:
    """``value`` as type ``tp`` (an int widens to float, a string to a list).

    Raises:
        TypeError: the value does not fit the type.
    """
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        tp = next(a for a in typing.get_args(tp) if a is not type(None))
        origin = typing.get_origin(tp)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise TypeError
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise TypeError
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise TypeError
    if tp is str:
        if isinstance(value, str):
            return value
        raise TypeError
    if origin is list:
        if isinstance(value, str):
            return [value]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise TypeError
    if origin is dict:
        if not isinstance(value, dict):
            raise TypeError
        key_tp, val_tp = typing.get_args(tp)
        if val_tp is Any:
            return dict(value)
        return {str(k): coerce(v, val_tp) for k, v in value.items()}
    return value
