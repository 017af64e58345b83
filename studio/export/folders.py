"""Provides the export folders' safety: each part is written beside its target, then renamed in.

A failed or interrupted export leaves the previous one intact, and a full disk is reported as such.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from studio.errors import StudioError


@contextmanager
def staging(tmp: Path, what: str) -> Iterator[Path]:
    """A fresh temporary folder for one part of an export, removed when writing it fails.

    Raises:
        StudioError: the disk (or a file-size limit) ran out while writing; nothing was replaced.
    """
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)  # never leave half a model taking the space
        if _disk_full(exc):
            raise StudioError(
                f"{tmp.parent}: no space left while writing the {what} ({exc}); "
                "nothing was replaced (an earlier export there is intact); "
                "free some space or export with --out elsewhere"
            ) from None
        raise


def _disk_full(exc: BaseException) -> bool:
    """True for a full disk, a file-size limit or a quota, also wrapped by a library."""
    from studio.fsutil import DISK_FULL

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in DISK_FULL:
            return True
        if any(
            text in str(seen)
            for text in ("No space left on device", "File too large", "Disk quota exceeded")
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def replace_folder(tmp: Path, final: Path) -> None:
    from studio.fsutil import fsync_dir

    for path in tmp.rglob("*"):  # temp files are created private; an export is meant to be shared
        path.chmod(0o755 if path.is_dir() else 0o644)
    old = final.with_name(f".old-{final.name}")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    fsync_dir(final.parent)
