"""Provides the parser speed benchmark: MB/s of each built-in parser on a ~10 MB input, one core.

Inputs are public-domain or CC-BY texts from the shared corpora, repeated up to the target size:
tiny-shakespeare for the screenplay parser, 红楼梦 for the prose parser, the Tears of Steel
subtitles (times shifted on every repetition) for the subtitle parser. ``--file PARSER=PATH``
measures a file of your own instead (it is read as is, not repeated).

    python bench/parse_speed.py                    # 10 MB each
    python bench/parse_speed.py --mb 2 --file prose=/path/to/novel.txt

Times include decoding (encoding detection) and parsing; the file is written to a temporary
folder first, so the disk cache is warm. ``cpu s`` is the process CPU time (one core), which
other work on the machine does not inflate; ``MB/s`` is from the wall clock.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

from studio.corpus.inspect import parse_file
from studio.plugins import load_host

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
SOURCES = {
    "screenplay": CORPORA / "tiny-shakespeare" / "input.txt",
    "prose": CORPORA / "hongloumeng" / "hongloumeng.txt",
    "subtitle": CORPORA / "tears-of-steel-subtitles" / "TOS-en.srt",
}
FALLBACK = {
    "screenplay": "ANNA:\nWhere were you last night?\n\nBEN:\nOut walking, by the river.\n\n",
    "prose": "    眉庄笑道：“妹妹来了。”我点头道：“姐姐好。”她握住我的手，“外头冷，快进来。”\n",
    "subtitle": "1\n00:00:01,000 --> 00:00:02,500\nMARA: Is anyone up here?\n\n",
}
_TIME = re.compile(r"(\d{2}):(\d{2}):(\d{2}),(\d{3})")


def _shift(srt: str, seconds: float) -> str:
    def move(match: re.Match[str]) -> str:
        h, m, s, ms = (int(g) for g in match.groups())
        total = h * 3600 + m * 60 + s + ms / 1000 + seconds
        h, rest = divmod(total, 3600)
        m, s = divmod(rest, 60)
        return f"{int(h):02d}:{int(m):02d}:{int(s):02d},{int(round((s % 1) * 1000)) % 1000:03d}"

    return _TIME.sub(move, srt)


def build_input(parser: str, megabytes: float) -> str:
    """The text of about ``megabytes`` MB (UTF-8) for ``parser``."""
    path = SOURCES[parser]
    base = path.read_text(encoding="utf-8-sig") if path.exists() else FALLBACK[parser]
    target = int(megabytes * 1_000_000)
    size = len(base.encode("utf-8"))
    copies = max(1, -(-target // size))
    if parser != "subtitle":
        return (base.rstrip("\n") + "\n\n") * copies
    span = 0.0
    for match in _TIME.finditer(base):
        h, m, s, ms = (int(g) for g in match.groups())
        span = max(span, h * 3600 + m * 60 + s + ms / 1000)
    return "\n".join(
        _shift(base.replace("\r\n", "\n").strip() + "\n", k * (span + 30)) for k in range(copies)
    )


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument(
        "--mb", type=float, default=10.0, help="input size per parser in MB (default 10)"
    )
    args.add_argument(
        "--file", action="append", default=[], metavar="PARSER=PATH", help="measure this file"
    )
    opts = args.parse_args()
    parsers = load_host().parsers
    own = dict(item.split("=", 1) for item in opts.file)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("screenplay", "prose", "subtitle"):
            if name in own:
                path = Path(own[name])
                label = path.name
            else:
                path = Path(tmp) / f"{name}.txt"
                path.write_text(build_input(name, opts.mb), encoding="utf-8")
                label = f"{SOURCES[name].name if SOURCES[name].exists() else 'synthetic'} x n"
            size = path.stat().st_size / 1_000_000
            started, cpu = time.perf_counter(), time.process_time()
            result = parse_file(path, parsers, parser=name)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            rows.append((name, label, size, seconds, cpu, len(result.utterances)))
    print(
        f"{'parser':<11} {'input':<22} {'MB':>5} {'wall s':>7} {'cpu s':>6} {'MB/s':>5} {'cpu s/MB':>8} {'utterances':>10}"
    )
    for name, label, size, seconds, cpu, count in rows:
        print(
            f"{name:<11} {label:<22} {size:>5.1f} {seconds:>7.2f} {cpu:>6.2f} {size / seconds:>5.2f} "
            f"{cpu / size:>8.3f} {count:>10,}"
        )


if __name__ == "__main__":
    main()
