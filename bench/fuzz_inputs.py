"""Provides the hostile inputs of bench/fuzz_parsers.py: generators, special paths and 100 MB lines.

Every generator is ``make(rng, seeds) -> bytes``; ``seeds`` are ``(name, bytes)`` of public-domain
corpora to mutate. Nothing here is copied from a corpus into the repository: the seeds are read
at run time.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path

Seeds = list[tuple[str, bytes]]

NAMES = (
    "ROMEO",
    "JULIET",
    "Nurse",
    "宝玉",
    "黛玉",
    "王熙凤",
    "A",
    "",
    "X" * 300,
    "甄",
    "First Citizen",
    "LADY CAPULET",
)
WORDS = (
    "love",
    "night",
    "the",
    "我",
    "你",
    "说",
    "道",
    "“",
    "”",
    "「",
    "」",
    '"',
    "'",
    "‘",
    "’",
    "（",
    "）",
    "(",
    ")",
    "：",
    ":",
    "；",
    ".",
    "。",
    "!",
    "？",
    "—",
    "…",
    "\t",
    " ",
    "　",
    "\u200b",
    "\u202e",
    "\ufeff",
    "\x0c",
    "said",
    "asked",
    "笑道",
    "INT.",
    "EXT.",
    "第一回",
    "CHAPTER I",
    "ACT II",
    "SCENE III.",
    "-->",
    "00:00:01,000",
    "[",
    "]",
    "【",
    "】",
    "<v Bob>",
    "<i>",
    "{\\an8}",
    "♪",
    "\r",
    "\r\n",
)


def _text(rng: random.Random, low: int, high: int, controls: float = 0.002) -> str:
    """Random words and characters: ASCII, CJK, symbols, astral, and (rarely) control characters."""
    out = []
    for _ in range(rng.randint(low, high)):
        roll = rng.random()
        if roll < controls:
            out.append(chr(rng.randint(0, 31)))
        elif roll < 0.6:
            out.append(rng.choice(WORDS))
        else:
            out.append(
                chr(
                    rng.choice(
                        (
                            rng.randint(32, 126),
                            rng.randint(0x4E00, 0x9FFF),
                            rng.randint(0xA0, 0x2FFF),
                            rng.randint(0x10000, 0x1FAFF),
                        )
                    )
                )
            )
    return "".join(out)


def _slice(rng: random.Random, seeds: Seeds, low: int = 64, high: int = 20000) -> bytes:
    _, data = rng.choice(seeds)
    size = rng.randint(low, high)
    start = rng.randint(0, max(0, len(data) - size))
    return data[start : start + size]


# -- generators -------------------------------------------------------------------------------


def random_bytes(rng: random.Random, seeds: Seeds) -> bytes:
    return rng.randbytes(rng.choice((0, 1, 2, 3, 7, 64, 500, 4096, 30000)))


def random_text(rng: random.Random, seeds: Seeds) -> bytes:
    return _text(rng, 0, 3000, controls=rng.choice((0.0, 0.01, 0.1))).encode(
        "utf-8", "surrogatepass"
    )


def mutated_corpus(rng: random.Random, seeds: Seeds) -> bytes:
    data = bytearray(_slice(rng, seeds))
    for _ in range(rng.randint(1, 40)):
        if not data:
            break
        at = rng.randrange(len(data))
        op = rng.random()
        if op < 0.3:
            data[at] = rng.randrange(256)
        elif op < 0.5:
            del data[at : at + rng.randint(1, 200)]
        elif op < 0.7:
            data[at:at] = data[max(0, at - 300) : at] * rng.randint(1, 20)
        elif op < 0.85:
            data[at:at] = rng.choice(WORDS).encode("utf-8", "surrogatepass")
        else:
            data[at:at] = b"\n" * rng.randint(1, 5)
    return bytes(data)


def truncated_multibyte(rng: random.Random, seeds: Seeds) -> bytes:
    text = _slice(rng, seeds, 200, 8000).decode("utf-8", "replace")
    encoding = rng.choice(
        ("utf-8", "utf-8-sig", "gb18030", "big5", "utf-16", "utf-16-le", "utf-16-be", "utf-32")
    )
    data = text.encode(encoding, "replace")
    start = rng.randint(0, 3) if rng.random() < 0.5 else 0
    end = len(data) - rng.randint(1, 3)
    return data[start : max(start, end)]


def mixed_encodings(rng: random.Random, seeds: Seeds) -> bytes:
    parts = []
    for _ in range(rng.randint(2, 6)):
        text = _slice(rng, seeds, 50, 3000).decode("utf-8", "replace")
        encoding = rng.choice(
            ("utf-8", "gb18030", "big5", "utf-16-le", "latin-1", "shift_jis", "cp1252", "koi8-r")
        )
        parts.append(text.encode(encoding, "replace"))
        if rng.random() < 0.2:
            parts.append(rng.choice((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00")))
    return b"".join(parts)


def script_grammar(rng: random.Random, seeds: Seeds) -> bytes:
    lines = []
    for _ in range(rng.randint(0, 400)):
        shape = rng.random()
        name = rng.choice(NAMES)
        if shape < 0.45:
            lines.append(
                name
                + rng.choice(("：", ":", "∶", "；", ". ", "（笑）：", " (V.O.)", ""))
                + _text(rng, 0, 60)
            )
        elif shape < 0.55:
            lines.append(
                rng.choice(
                    (
                        "第一集",
                        "第3幕",
                        "ACT II",
                        "SCENE III. A street.",
                        "INT. KITCHEN - NIGHT",
                        "【另分一幕】",
                        "1-2 碎玉轩 日 内",
                        "第" + "一" * rng.randint(1, 500) + "回",
                    )
                )
            )
        elif shape < 0.65:
            lines.append(
                rng.choice(("（", "(", "[")) + _text(rng, 0, 80) + rng.choice(("）", ")", "]", ""))
            )
        elif shape < 0.8:
            lines.append("")
        else:
            lines.append(_text(rng, 0, 200))
    return (
        rng.choice(("\n", "\r\n", "\r"))
        .join(lines)
        .encode(rng.choice(("utf-8", "gb18030")), "replace")
    )


def prose_grammar(rng: random.Random, seeds: Seeds) -> bytes:
    paras = []
    for _ in range(rng.randint(0, 120)):
        pieces = []
        for _ in range(rng.randint(1, 12)):
            open_, close = rng.choice(
                (("“", "”"), ("「", "」"), ('"', '"'), ("‘", "’"), ("『", "』"), ("“", ""))
            )
            pieces.append(
                rng.choice(
                    (
                        _text(rng, 0, 40),
                        f"{rng.choice(NAMES)}{rng.choice(('道：', '说：', ' said, '))}",
                        open_ + _text(rng, 0, 80) + close,
                        f"{open_}{open_}{_text(rng, 0, 9)}",
                    )
                )
            )
        paras.append("".join(pieces))
    return ("\n" * rng.randint(1, 3)).join(paras).encode("utf-8", "surrogatepass")


def _clock(rng: random.Random, sep: str = ",") -> str:
    if rng.random() < 0.6:
        h, m, s, ms = (
            rng.randint(0, 99),
            rng.randint(0, 59),
            rng.randint(0, 59),
            rng.randint(0, 999),
        )
        return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"
    return rng.choice(
        (
            "99:99:99,999",
            "00:00:00",
            "-1:00:00,000",
            "1:2:3,4",
            "0:00:00.00",
            "aa:bb:cc,ddd",
            "999999999999:00:00,000",
            "00:00:00,000000000",
            "",
            "00:60:61,1000",
            "１２:００:００,０００",
        )
    )


def srt_malformed(rng: random.Random, seeds: Seeds) -> bytes:
    cues = []
    for index in range(rng.randint(0, 80)):
        arrow = rng.choice((" --> ", "-->", " -> ", " --> ", " —> ", ""))
        number = rng.choice((str(index + 1), str(index + 1), "", "x", "-5", "1" * 40))
        cues.append(f"{number}\n{_clock(rng)}{arrow}{_clock(rng)}\n{_text(rng, 0, 80)}\n")
    return "\n".join(cues).encode("utf-8", "surrogatepass")


def ass_malformed(rng: random.Random, seeds: Seeds) -> bytes:
    fields = [
        "Layer",
        "Start",
        "End",
        "Style",
        "Name",
        "MarginL",
        "MarginR",
        "MarginV",
        "Effect",
        "Text",
    ]
    if rng.random() < 0.5:
        rng.shuffle(fields)
    if rng.random() < 0.3:
        del fields[rng.randrange(len(fields))]
    lines = [
        "[Script Info]",
        f"ScriptType: {rng.choice(('v4.00+', 'v4.00', 'x', ''))}",
        "",
        rng.choice(("[V4+ Styles]", "[V4 Styles]", "")),
        "Format: Name, Fontname",
        "Style: Default,Arial",
        "",
        "[Events]",
        "Format: " + ", ".join(fields),
    ]
    for _ in range(rng.randint(0, 60)):
        values = [
            rng.choice(("0", _clock(rng, "."), rng.choice(NAMES), _text(rng, 0, 10)))
            for _ in range(len(fields) - 1)
        ]
        lines.append(
            f"{rng.choice(('Dialogue', 'Comment', 'Dialog', ''))}: "
            + ",".join(values)
            + ","
            + _text(rng, 0, 60)
        )
    return "\n".join(lines).encode("utf-8", "surrogatepass")


def vtt_malformed(rng: random.Random, seeds: Seeds) -> bytes:
    lines = [rng.choice(("WEBVTT", "WEBVTT - title", "WEBVTTX", "\ufeffWEBVTT")), ""]
    for _ in range(rng.randint(0, 60)):
        lines += [
            f"{_clock(rng, '.')} --> {_clock(rng, '.')}"
            + rng.choice(("", " align:start", " line:0%")),
            rng.choice(("<v Roger>", "<v.loud Anne>", "<v>", "<c.yellow>", "", "- "))
            + _text(rng, 0, 60),
            "",
        ]
    return "\n".join(lines).encode("utf-8", "surrogatepass")


GENERATORS: dict[str, Callable[[random.Random, Seeds], bytes]] = {
    "random bytes": random_bytes,
    "random text": random_text,
    "mutated corpus": mutated_corpus,
    "truncated multi-byte": truncated_multibyte,
    "mixed encodings": mixed_encodings,
    "script grammar": script_grammar,
    "prose grammar": prose_grammar,
    "SRT timings": srt_malformed,
    "ASS fields": ass_malformed,
    "WebVTT cues": vtt_malformed,
}


# -- special paths ----------------------------------------------------------------------------


def special_paths(folder: Path) -> Iterator[tuple[str, Path]]:
    """Files that are not ordinary text files: empty, blank, a folder, links, a pipe, a device."""
    folder.mkdir(parents=True, exist_ok=True)
    made: list[tuple[str, Path]] = []
    for kind, data in (
        ("empty file", b""),
        ("blank file", " \n\t\r\n \u3000".encode()),
        ("BOM only", b"\xef\xbb\xbf"),
        ("UTF-16 BOM only", b"\xff\xfe"),
        ("NUL bytes", b"\0" * 1000),
        ("one newline", b"\n"),
        ("CR only", b"\r" * 100),
    ):
        path = folder / f"{kind.replace(' ', '-')}.txt"
        path.write_bytes(data)
        made.append((kind, path))
    target = folder / "real.txt"
    target.write_text("ROMEO: Good night.\nJULIET: Good night, good night!\n", encoding="utf-8")
    (folder / "a-folder").mkdir(exist_ok=True)
    made.append(("folder", folder / "a-folder"))
    links = {
        "link to file": target,
        "link to folder": folder / "a-folder",
        "dangling link": folder / "gone.txt",
    }
    for kind, points_to in links.items():
        link = folder / f"{kind.replace(' ', '-')}.txt"
        link.symlink_to(points_to)
        made.append((kind, link))
    loop = folder / "loop.txt"
    loop.symlink_to(loop)
    made.append(("link loop", loop))
    fifo = folder / "pipe.txt"
    os.mkfifo(fifo)
    made.append(("named pipe", fifo))
    for device in ("/dev/null", "/dev/zero", "/dev/urandom"):
        if os.path.exists(device):
            made.append((f"device {device}", Path(device)))
    made.append(("missing file", folder / "missing.txt"))
    yield from made


# -- 100 MB single lines ----------------------------------------------------------------------


def _repeat(unit: bytes) -> Callable[[Path, int], None]:
    def write(path: Path, size: int) -> None:
        block = unit * max(1, (1 << 20) // len(unit))
        with open(path, "wb") as handle:
            written = 0
            while written < size:
                handle.write(block)
                written += len(block)

    return write


def _random_line(path: Path, size: int) -> None:
    rng = random.Random(1)
    with open(path, "wb") as handle:
        for _ in range(size // (1 << 20)):
            handle.write(
                bytes(rng.choice(b"abcdefghij klmnopqrstuvwxyz,.;:\"'") for _ in range(1 << 20))
            )


BIG_KINDS: dict[str, Callable[[Path, int], None]] = {
    "ASCII letters": _repeat(b"abcdefghijklmnopqrstuvwxyz"),
    "random ASCII words": _random_line,
    "Chinese UTF-8": _repeat("天下大势分久必合".encode()),
    "Chinese GB18030": _repeat("天下大势分久必合".encode("gb18030")),
    "straight quotes": _repeat(b'"a" '),
    "curly quotes": _repeat("“你好，”他说。".encode()),
    "NAME: labels": _repeat(b"ROMEO: hi "),
    "Chinese labels": _repeat("宝玉：好。".encode()),
    "SRT arrows": _repeat(b"00:00:01,000 --> 00:00:02,000 "),
    "brackets": _repeat("（【[(".encode()),
}
