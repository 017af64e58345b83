"""Provides decoding of corpus files: encoding and line-ending detection with clear errors."""

from __future__ import annotations

import codecs
from pathlib import Path

from studio.api import SourceText
from studio.errors import InputError

# Chinese corpora are mostly UTF-8, GB18030/GBK or Big5; try the strict decoders in this order
# before asking charset-normalizer, which is slower and can confuse GBK with Big5 on short text.
_CANDIDATES = ("utf-8", "gb18030", "big5")
MAX_BYTES = 512 * 1024 * 1024


def _looks_binary(data: bytes) -> bool:
    sample = data[:8192]
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
    return control / len(sample) > 0.05


def _bom(data: bytes) -> str | None:
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def _utf16_without_bom(data: bytes) -> str | None:
    sample = data[:4096]
    if len(sample) < 4:
        return None
    even_zero = sample[0::2].count(0) / len(sample[0::2])
    odd_zero = sample[1::2].count(0) / len(sample[1::2])
    if odd_zero > 0.3 and even_zero < 0.05:
        return "utf-16-le"
    if even_zero > 0.3 and odd_zero < 0.05:
        return "utf-16-be"
    return None


def detect_newline(text: str) -> str:
    """The dominant line ending of ``text`` (before normalisation)."""
    crlf = text.count("\r\n")
    cr = text.count("\r") - crlf
    lf = text.count("\n") - crlf
    best = max((crlf, "\r\n"), (lf, "\n"), (cr, "\r"))
    return best[1] if best[0] else "\n"


def decode_bytes(data: bytes, path: str | Path, encoding: str | None = None) -> SourceText:
    """Decode ``data`` read from ``path``.

    Args:
        data: the raw bytes.
        path: for messages and the result.
        encoding: force an encoding instead of detecting one.

    Raises:
        InputError: empty, binary or undecodable content, naming the file and the line.
    """
    if not data:
        raise InputError(path, "the file is empty; expected text (a script, novel or subtitle file)")
    chosen = encoding or _bom(data) or _utf16_without_bom(data)
    if chosen is None and _looks_binary(data):
        raise InputError(path, "this looks like a binary file, not text; expected a UTF-8, GB18030, Big5 or UTF-16 text file")
    text: str | None = None
    if chosen:
        try:
            text = data.decode(chosen)
        except (UnicodeDecodeError, LookupError) as exc:
            raise InputError(path, f"cannot decode as {chosen}: {exc}", _line_of(data, exc)) from None
    else:
        first_error: UnicodeDecodeError | None = None
        for candidate in _CANDIDATES:
            try:
                text = data.decode(candidate)
                chosen = candidate
                break
            except UnicodeDecodeError as exc:
                first_error = first_error or exc
        if text is None:
            from charset_normalizer import from_bytes

            best = from_bytes(data[:1_000_000]).best()
            if best is not None and best.encoding:
                try:
                    text = data.decode(best.encoding)
                    chosen = best.encoding
                except (UnicodeDecodeError, LookupError):
                    text = None
            if text is None:
                line = _line_of(data, first_error) if first_error else None
                raise InputError(
                    path,
                    "cannot decode the text: not UTF-8, GB18030, Big5 or UTF-16 "
                    "(use --encoding to name it)",
                    line,
                )
    assert text is not None and chosen is not None
    if text.startswith("\ufeff"):
        text = text[1:]
    newline = detect_newline(text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return SourceText(path=Path(path), text=text, encoding=chosen, newline=newline)


def _line_of(data: bytes, exc: UnicodeDecodeError | None) -> int | None:
    if exc is None or not hasattr(exc, "start"):
        return None
    return data.count(b"\n", 0, exc.start) + 1


def read_source(path: str | Path, encoding: str | None = None) -> SourceText:
    """Read and decode a corpus file.

    Raises:
        InputError: missing file, a folder, too large, empty, binary or undecodable.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file")
    if path.is_dir():
        raise InputError(path, "this is a folder; expected a text file")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise InputError(path, f"the file is {size / 2**20:.0f} MiB; expected at most {MAX_BYTES // 2**20} MiB")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    return decode_bytes(data, path, encoding)
