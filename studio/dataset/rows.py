"""Provides the store's rows on disk: fast JSON-lines reading, sample rows, journal entry checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from studio.api import Sample, Turn
from studio.fsutil import read_jsonl

_STATUS = {"accept": "accepted", "reject": "rejected", "edit": "edited", "reset": "pending"}


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_size, stat.st_mtime_ns


def _read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSON-lines file, decoded in one call (several times faster than line by line);
    falls back to :func:`read_jsonl` (which skips a torn last line and names a bad line)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    body = b",".join(line for line in raw.split(b"\n") if line.strip())
    try:
        rows = json.loads(b"[" + body + b"]")
    except (ValueError, RecursionError):
        return read_jsonl(path)
    if not all(isinstance(row, dict) for row in rows):
        return read_jsonl(path)  # names the line that is not an object
    return rows


def _sample(data: dict[str, Any], shared: dict[str, str]) -> Sample:
    """``Sample.from_json`` for the store's own rows, faster (no field filtering)."""
    system = data.get("system", "")
    if not isinstance(data["id"], str) or not isinstance(system, str):
        raise TypeError("id and system must be strings")
    return Sample(
        data["id"],
        data.get("character", ""),
        shared.setdefault(system, system),
        [Turn(t["role"], t["content"]) for t in data.get("turns", ())],
        data.get("scene", ""),
        data.get("split", "train"),
        data.get("provenance") or {},
        data.get("status", "pending"),
    )


def _well_formed(entry: dict[str, Any]) -> bool:
    """A journal entry the replay can apply: a known action on string ids, texts as strings."""
    if entry.get("action") == "undo":
        return True
    if entry.get("action") not in _STATUS:
        return False
    ids = entry["ids"] if "ids" in entry else [entry.get("id")]
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return False
    return all(entry.get(key) is None or isinstance(entry[key], str) for key in ("reply", "prompt"))


def sample_json(sample: Sample) -> dict[str, Any]:
    """``Sample.to_json()`` without the deep copy of :func:`dataclasses.asdict` (same keys)."""
    return {
        "id": sample.id,
        "character": sample.character,
        "system": sample.system,
        "turns": [{"role": t.role, "content": t.content} for t in sample.turns],
        "scene": sample.scene,
        "split": sample.split,
        "provenance": sample.provenance,
        "status": sample.status,
    }


def samples_of_kind(path: Path, kind: str) -> list[Sample]:
    """Samples of ``path`` of provenance ``kind``, decoding only the lines that can match."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    needle = json.dumps(kind).encode()
    out = []
    for line in raw.split(b"\n"):
        if needle in line:
            try:
                sample = Sample.from_json(json.loads(line))
            except ValueError:
                continue  # a torn last line
            if sample.provenance.get("kind") == kind:
                out.append(sample)
    return out
