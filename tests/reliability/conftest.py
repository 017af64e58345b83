"""Helpers of the reliability tests: driver processes to kill, a larger self-written play."""

from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

PEOPLE = ("阿蘅", "老周", "小梅", "掌柜", "小贩")
WORDS = (
    "茶",
    "雨",
    "船",
    "灯笼",
    "账本",
    "集市",
    "雾",
    "伞",
    "棋",
    "河边",
    "算盘",
    "客人",
    "好天气",
    "竹子",
)


def write_play(path: Path, scenes: int, seed: int = 0) -> None:
    """A screenplay of ``scenes`` scenes (self-written, seeded): 阿蘅 answers in every exchange."""
    rng = random.Random(seed)
    lines = []
    for number in range(1, scenes + 1):
        lines += [f"第{number}幕", f"（{rng.choice(WORDS)}）"]
        for _ in range(rng.randint(3, 6)):
            other = rng.choice(PEOPLE[1:])
            lines.append(f"{other}：{''.join(rng.choices(WORDS, k=rng.randint(2, 6)))}怎么样了？")
            lines.append(f"阿蘅：{''.join(rng.choices(WORDS, k=rng.randint(3, 9)))}，您别急。")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


@pytest.fixture
def big_workspace(tmp_path: Path) -> Path:
    """A workspace whose play gives a few thousand samples (a build takes a moment)."""
    root = tmp_path / "big-ws"
    (root / "corpus").mkdir(parents=True)
    write_play(root / "corpus" / "play.txt", 600)
    (root / "studio.toml").write_text(
        '[character]\nname = "阿蘅"\npersona = "你是阿蘅，茶馆里的伙计。"\n\n'
        '[dataset]\nmode = "multi"\n'
        'eval_fraction = 0.2\n\n[model]\nname = "tiny-qwen2"\nsource = "tiny"\n',
        encoding="utf-8",
    )
    return root


class Driver:
    """A Python process running ``code``; its stdout lines are acknowledgements to read.

    Args:
        code: the program (``sys.argv[1:]`` are ``args``).
        args: its arguments.
        env: extra environment variables.
    """

    def __init__(self, code: str, *args: Any, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, *map(str, args)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(
            target=self._pump, args=(self.process.stdout, self.lines.put), daemon=True
        ).start()
        threading.Thread(
            target=self._pump, args=(self.process.stderr, self.stderr.append), daemon=True
        ).start()

    @staticmethod
    def _pump(stream: Any, put: Callable[[Any], None]) -> None:
        for line in stream:
            put(line.rstrip("\n"))
        put(None)

    def line(self, timeout: float = 120.0) -> str:
        """The next stdout line; fails when the process ends first or ``timeout`` passes."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            raise AssertionError(f"no line within {timeout}s") from None
        if line is None:
            code = self.process.wait()
            raise AssertionError(
                f"the driver ended (exit {code}): " + "\n".join(x for x in self.stderr if x)[-3000:]
            )
        return line

    def kill(self) -> None:
        """SIGKILL: no handler runs, no buffer is flushed."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def rest(self, timeout: float = 30.0) -> list[str]:
        """After :meth:`kill`: the lines it wrote that were not read yet (still in the pipe)."""
        out: list[str] = []
        while (line := self.lines.get(timeout=timeout)) is not None:
            out.append(line)
        return out


def wait_for(predicate: Callable[[], Any], timeout: float = 120.0, poll: float = 0.005) -> Any:
    """Poll ``predicate`` until it returns something true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError("timed out")
