"""Provides atomic file writes and an append-only journal writer.

Every file the studio writes goes through here: write a temporary file beside the target,
fsync it, rename it over the target, fsync the folder. A reader never sees half a file.

Journals (``append_jsonl``) never follow a symbolic link at their own name (a workspace from
elsewhere cannot make the studio append to a file outside it), serialise appenders with an
advisory lock, cut away a torn last line that a crash or a full disk left before appending,
and take back a line they could not write whole.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from studio.errors import StudioError

DISK_FULL = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})
"""Errors of a write that did not fit: no space left, file too large, quota exceeded."""


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (temp file + fsync + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Replace ``path`` with UTF-8 ``text`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, data: Any) -> None:
    """Replace ``path`` with pretty JSON atomically."""
    atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def fsync_dir(path: str | Path) -> None:
    """Flush a folder's entries (so a rename survives a power cut); a no-op where unsupported."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def append_jsonl(path: str | Path, record: Any, *, sync: bool = True) -> None:
    """Append one JSON line; with ``sync`` the line is on disk when this returns.

    A crash can leave at most a partial last line: :func:`read_jsonl` skips it, and the next
    append cuts it away first, so it never glues onto the line after it. When the line cannot
    be written whole (a full disk), the file is cut back to where it was and the error raised.

    Raises:
        StudioError: ``path`` is a symbolic link (never followed).
        OSError: the line could not be written (a full disk: ``errno`` in :data:`DISK_FULL`).
    """
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    try:
        fd = os.open(
            path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644
        )
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise StudioError(
                f"{path}: a symbolic link; refused (a journal is never written through a link)"
            ) from None
        raise
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = _drop_torn_tail(fd)
        try:
            view = memoryview(line)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if sync:
                os.fsync(fd)
        except BaseException:
            try:
                os.ftruncate(fd, size)  # never leave half a line behind
            except OSError:
                pass
            raise
    finally:
        os.close(fd)  # also releases the lock


def open_append(path: str | Path) -> BinaryIO:
    """Open a log for appending (binary), never through a symbolic link at ``path``.

    Raises:
        StudioError: ``path`` is a symbolic link.
    """
    try:
        fd = os.open(
            path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644
        )
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise StudioError(
                f"{path}: a symbolic link; refused (a log is never written through a link)"
            ) from None
        raise
    return os.fdopen(fd, "ab")


def _drop_torn_tail(fd: int) -> int:
    """Cut a last line without its newline (left by a crash mid-write); returns the new size."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    end = size
    while end > 0:
        start = max(0, end - 65536)
        chunk = os.pread(fd, end - start, start)
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            keep = start + cut + 1
            break
        end = start
    else:
        keep = 0
    os.ftruncate(fd, keep)
    return keep


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSON-lines file, skipping a torn last line left by a crash.

    Like :func:`append_jsonl`, it never follows a symbolic link at ``path``: a journal planted as a
    link to a file elsewhere is refused, not read.

    Raises:
        ValueError: a line other than the last is not a JSON object (or nests too deeply to
            read), naming the file and the line.
        StudioError: ``path`` is a symbolic link.
    """
    out: list[dict[str, Any]] = []
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return out
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise StudioError(
                f"{path}: a symbolic link; refused (a journal is never read through a link)"
            ) from None
        raise
    with os.fdopen(fd, "rb") as handle:
        raw = handle.read()
    lines = raw.split(b"\n")
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, absurd nesting
            if index == len(lines) - 1 and not isinstance(exc, RecursionError):
                break  # torn tail: the write in flight at a crash
            what = "nested too deeply" if isinstance(exc, RecursionError) else "not valid JSON"
            raise ValueError(f"{path}:{index + 1}: {what}") from None
        if not isinstance(record, dict):
            raise ValueError(
                f"{path}:{index + 1}: expected a JSON object, got {type(record).__name__}"
            )
        out.append(record)
    return out
