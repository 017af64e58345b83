"""Provides the serve load benchmark: 50 concurrent streaming clients on loopback, bounded time.

    python bench/serve_load.py [--clients 50] [--seconds 60] [--max-tokens 24] [--workspace DIR]

Copies the shipped workspace (or ``--workspace``) to a temporary folder, builds its dataset,
trains a 5-step run of its tiny model, and starts ``persona-studio serve`` on 127.0.0.1 with an
API key, as a user would. ``--clients`` threads then stream chat completions over raw HTTP
(keep-alive, server-sent events) back to back for ``--seconds``. Prints requests done, errors by
kind, latency and time-to-first-token percentiles, and the server's resident memory over time;
then checks that the server still answers.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-bench-serve"
PROMPTS = (
    "Who are you?",
    "What do you think of Romeo?",
    "Where is the nurse?",
    "Good night!",
    "你是谁？",
    "Tell me about the garden.",
    "Why so sad?",
    "What should we do tomorrow?",
)


def prepare(source: Path, folder: Path) -> Path:
    """A copy of the workspace with a dataset and a 5-step run."""
    root = folder / "ws"
    root.mkdir()
    shutil.copy(source / "studio.toml", root / "studio.toml")
    shutil.copytree(source / "corpus", root / "corpus")
    cli = [sys.executable, "-m", "studio"]
    subprocess.run([*cli, "build", str(root)], check=True, capture_output=True)
    subprocess.run(
        [*cli, "train", str(root), "--run", "bench", "--max-steps", "5"],
        check=True,
        capture_output=True,
    )
    return root


def rss_mb(pid: int) -> tuple[float, int]:
    """Resident memory (MiB) and thread count of a process."""
    fields = dict(
        line.split(":", 1)
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if ":" in line
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["Threads"])


class Client(threading.Thread):
    """Streams completions back to back until the deadline; records each request."""

    def __init__(self, port: int, deadline: float, max_tokens: int, seed: int) -> None:
        super().__init__(daemon=True)
        self.port, self.deadline, self.max_tokens = port, deadline, max_tokens
        self.rng = random.Random(seed)
        self.records: list[dict] = []

    def run(self) -> None:
        conn = None
        while time.monotonic() < self.deadline:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
            record = {"start": time.monotonic(), "error": None, "chunks": 0, "first": None}
            try:
                self._one(conn, record)
            except Exception as exc:  # what the benchmark counts
                record["error"] = type(exc).__name__
                conn.close()
                conn = None
            record["end"] = time.monotonic()
            self.records.append(record)
        if conn is not None:
            conn.close()

    def _one(self, conn: http.client.HTTPConnection, record: dict) -> None:
        body = json.dumps(
            {
                "model": "bench",
                "stream": True,
                "max_tokens": self.max_tokens,
                "temperature": 0.8,
                "messages": [{"role": "user", "content": self.rng.choice(PROMPTS)}],
            }
        )
        conn.request(
            "POST",
            "/v1/chat/completions",
            body=body,
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        if response.status != 200:
            response.read()
            record["error"] = f"HTTP {response.status}"
            return
        done = False
        while True:
            line = response.readline()
            if not line:
                break
            line = line.strip()
            if not line.startswith(b"data: "):
                continue
            data = line[6:]
            if data == b"[DONE]":
                done = True
                continue
            event = json.loads(data)
            if "error" in event:
                record["error"] = "error event"
                continue
            delta = event["choices"][0]["delta"] if event.get("choices") else {}
            if delta.get("content"):
                record["chunks"] += 1
                record["first"] = record["first"] or time.monotonic()
        if not done:
            record["error"] = "no [DONE]"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))] if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-tokens", type=int, default=24)
    parser.add_argument("--workspace", default=str(ROOT / "workspace"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        root = prepare(Path(args.workspace), Path(tmp))
        print(
            f"workspace built and a 5-step run trained in {time.perf_counter() - t0:.0f}s",
            file=sys.stderr,
        )
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "studio",
                "serve",
                str(root),
                "--run",
                "bench",
                "--port",
                "0",
                "--api-key",
                KEY,
                "--model-name",
                "bench",
                "--quiet",
            ],
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        port = 0
        for line in server.stderr:
            match = re.search(r"at http://127\.0\.0\.1:(\d+)/v1", line)
            if match:
                port = int(match.group(1))
                break
        if not port:
            print("error: the server did not start", file=sys.stderr)
            return 1
        threading.Thread(
            target=lambda: [None for _ in server.stderr], daemon=True
        ).start()  # keep the pipe drained

        memory: list[tuple[float, float, int]] = []
        stop = threading.Event()

        def sample() -> None:
            started = time.monotonic()
            while not stop.is_set():
                memory.append((time.monotonic() - started, *rss_mb(server.pid)))
                stop.wait(1.0)

        idle_rss = rss_mb(server.pid)[0]
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        deadline = time.monotonic() + args.seconds
        clients = [Client(port, deadline, args.max_tokens, seed) for seed in range(args.clients)]
        started = time.monotonic()
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        elapsed = time.monotonic() - started
        stop.set()
        sampler.join()

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)  # still answering?
        conn.request("GET", "/health")
        health = conn.getresponse().status
        conn.close()
        after = Client(port, time.monotonic() + 0.001, 8, 99)
        after.run()
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)

    records = [r for c in clients for r in c.records]
    ok = [r for r in records if r["error"] is None]
    errors = Counter(r["error"] for r in records if r["error"] is not None)
    latency = [r["end"] - r["start"] for r in ok]
    first = [r["first"] - r["start"] for r in ok if r["first"]]
    chunks = sum(r["chunks"] for r in ok)
    print(
        f"\n{args.clients} streaming clients for {args.seconds:.0f}s on 127.0.0.1 "
        "(tiny model on the CPU, "
        f"max_tokens {args.max_tokens}); the load took {elapsed:.0f}s to drain\n"
    )
    rows = [
        ("requests completed", f"{len(ok)}"),
        ("errors", f"{sum(errors.values())}" + (f" {dict(errors)}" if errors else "")),
        ("requests/s", f"{len(ok) / elapsed:.1f}"),
        ("streamed chunks/s", f"{chunks / elapsed:.0f}"),
        (
            "latency p50 / p95 / max",
            f"{pct(latency, 0.5):.2f} / {pct(latency, 0.95):.2f} / {max(latency, default=0):.2f} s",
        ),
        ("first token p50 / p95", f"{pct(first, 0.5):.2f} / {pct(first, 0.95):.2f} s"),
        (
            "requests per client min / max",
            f"{min(len(c.records) for c in clients)} / {max(len(c.records) for c in clients)}",
        ),
        (
            "after the load: /health, a new request",
            f"{health}, {'ok' if after.records and not after.records[0]['error'] else 'failed'}",
        ),
    ]
    for name, value in rows:
        print(f"{name:<40}{value}")
    print(f"\nserver memory (RSS MiB; idle before the load: {idle_rss:.0f})")
    print(f"{'t s':>6}{'RSS MiB':>10}{'threads':>9}")
    step = max(1, len(memory) // 12)
    for t, mb, threads in memory[::step] + (
        [memory[-1]] if memory and (len(memory) - 1) % step else []
    ):
        print(f"{t:>6.0f}{mb:>10.0f}{threads:>9}")
    if memory:
        half = [mb for t, mb, _ in memory if t >= memory[-1][0] / 2]
        print(
            f"peak {max(mb for _, mb, _ in memory):.0f} MiB; "
            f"second half of the run {min(half):.0f}-{max(half):.0f} MiB"
        )
    return 0 if not errors and health == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
