"""Provides the serving benchmark: 1, 8 and 32 streaming clients, serialised vs batched, one table.

    python bench/serve_load.py --device cpu --shape tiny                  # minutes, on the CPU
    python bench/serve_load.py --device cuda --shape llama-8b --seconds 20   # the real question

Each server runs ``PersonaServer`` in a child process (as ``persona-studio serve`` does) over a
random-weight model of a real shape with a random, non-zero LoRA adapter active (unmerged; built
by ``bench/chat_speed.py``), bf16 on CUDA and fp32 on the CPU, and the tiny byte-level Llama
tokenizer with the Llama-3 chat template. Replies are restricted to ASCII ids and never stop
early, so every request streams exactly ``--max-tokens`` tokens, one character each. Two servers
run in turn on the same model shape:

- **serialised**: ``--max-batch 1``, today's path: one request at a time on the single-request
  engine (static KV cache + compiled decode step with CUDA graphs on a GPU, eager on the CPU);
- **batched**: ``--max-batch N`` (default 32), continuous batching (``studio/chat/batch.py``).

For each client count, that many threads stream chat completions over HTTP (keep-alive, the
server-sent events of the OpenAI API) back to back for ``--seconds``, then finish what they
started. Aggregate tokens/s is the completion tokens of all requests over the time from the
first request to the last reply; time to first token is from sending a request to its first
piece of text; per-request tokens/s is a reply's tokens after the first over the time after the
first. Each server is warmed up (compilation, first kernels) before it is measured.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT / "bench"))
PERSONA = (
    "You are Juliet Capulet of Verona: thirteen, quick-witted and in love. Speak as she would."
)
QUESTIONS = (
    "Who are you?",
    "What do you think of Romeo?",
    "Where is the nurse? She promised to be back an hour ago; I have waited in the garden.",
    "Good night!",
    "你是谁？",
    "Tell me about the garden, the orchard wall, and the moon over the trees tonight.",
    "Why so sad?",
    "What should we do tomorrow, when the friar expects us at his cell before noon?",
)


# -- the server side (a child process) ---------------------------------------------------------


def serve(args: argparse.Namespace) -> int:
    """Build the model, start the server, print its port, serve until SIGINT/SIGTERM."""
    from types import SimpleNamespace

    import torch
    from chat_speed import build
    from studio_models.tiny import build_tokenizer

    from studio.chat.engine import Engine
    from studio.chat.persona import Persona
    from studio.serve.server import PersonaServer

    device = torch.device(args.device)
    if args.shape == "tiny":
        torch.set_num_threads(1)  # its ops are too small to split
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    model = build(args.shape, device, dtype, args.lora_r)
    tokenizer = build_tokenizer("llama")
    fast = device.type == "cuda" and args.max_batch == 1  # what `serve` does on a GPU
    # ids 0..127 are the ASCII bytes: one character a token, and never an end-of-turn id
    engine = Engine(
        model, stop_ids=[], static=fast, compiled=fast, vocab_size=128, max_cache_len=args.context
    )
    engine.warmup()
    persona = Persona(
        SimpleNamespace(model=model, tokenizer=tokenizer, end_of_turn_ids=[]),
        engine,
        PERSONA,
        "Juliet",
        "bench",
    )
    started = time.perf_counter()
    server = PersonaServer(
        ("127.0.0.1", 0),
        persona,
        log=None,
        max_tokens_cap=args.max_tokens,
        max_batch=args.max_batch,
        fast=device.type == "cuda",
    )  # as `serve` on a GPU
    print(
        f"server ready in {time.perf_counter() - started:.0f}s (warm-up included)",
        file=sys.stderr,
        flush=True,
    )
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


# -- the client side -----------------------------------------------------------------------------


def one_request(conn: http.client.HTTPConnection, question: str, max_tokens: int) -> dict[str, Any]:
    body = json.dumps(
        {
            "model": "bench",
            "stream": True,
            "max_tokens": max_tokens,
            "temperature": 0.8,
            "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": question}],
        }
    )
    record: dict[str, Any] = {
        "start": time.perf_counter(),
        "first": None,
        "tokens": 0,
        "error": None,
    }
    conn.request(
        "POST", "/v1/chat/completions", body=body, headers={"Content-Type": "application/json"}
    )
    response = conn.getresponse()
    if response.status != 200:
        response.read()
        record["error"] = f"HTTP {response.status}"
        return record
    done = False
    while line := response.readline():
        if not line.startswith(b"data: "):
            continue
        data = line[6:].strip()
        if data == b"[DONE]":
            done = True
            continue
        event = json.loads(data)
        if "error" in event:
            record["error"] = "error event"
        elif event.get("usage"):
            record["tokens"] = event["usage"]["completion_tokens"]
        elif (
            event["choices"]
            and event["choices"][0]["delta"].get("content")
            and record["first"] is None
        ):
            record["first"] = time.perf_counter()
    record["end"] = time.perf_counter()
    if not done:
        record["error"] = "no [DONE]"
    return record


def load(port: int, clients: int, seconds: float, max_tokens: int) -> list[dict[str, Any]]:
    """``clients`` threads streaming requests back to back for ``seconds``; all the records."""
    deadline = time.perf_counter() + seconds
    records: list[dict[str, Any]] = []

    def client(seed: int) -> None:
        rng = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        while True:  # at least one request each
            try:
                records.append(one_request(conn, rng.choice(QUESTIONS), max_tokens))
            except (OSError, http.client.HTTPException) as exc:
                records.append({"error": type(exc).__name__})
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            if time.perf_counter() >= deadline:
                break
        conn.close()

    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return records


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))] if values else float("nan")


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in records if r["error"] is None and r["first"] is not None]
    span = max(r["end"] for r in ok) - min(r["start"] for r in ok) if ok else float("nan")
    ttft = [r["first"] - r["start"] for r in ok]
    rates = [
        (r["tokens"] - 1) / (r["end"] - r["first"])
        for r in ok
        if r["tokens"] > 1 and r["end"] > r["first"]
    ]
    return {
        "requests": len(ok),
        "errors": len(records) - len(ok),
        "tokens": sum(r["tokens"] for r in ok),
        "tokens_per_s": sum(r["tokens"] for r in ok) / span if ok else 0.0,
        "ttft_p50": pct(ttft, 0.5),
        "ttft_p95": pct(ttft, 0.95),
        "request_tokens_per_s": statistics.median(rates) if rates else 0.0,
    }


def start_server(args: argparse.Namespace, max_batch: int) -> tuple[subprocess.Popen[str], int]:
    command = [
        sys.executable,
        __file__,
        "--child",
        "--device",
        args.device,
        "--shape",
        args.shape,
        "--max-batch",
        str(max_batch),
        "--max-tokens",
        str(args.max_tokens),
        "--lora-r",
        str(args.lora_r),
        "--context",
        str(args.context),
    ]
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("PORT "):
            return child, int(line.split()[1])
    raise SystemExit(
        f"error: the {'serialised' if max_batch == 1 else 'batched'} server did not start "
        f"(exit {child.wait()})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument(
        "--shape", default="tiny", help="a shape of bench/chat_speed.py: tiny, qwen-0.5b, llama-8b"
    )
    parser.add_argument("--clients", default="1,8,32", help="client counts, comma-separated")
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="load time per row (requests then drain)"
    )
    parser.add_argument(
        "--max-tokens", type=int, default=64, help="tokens per reply (every reply is this long)"
    )
    parser.add_argument(
        "--max-batch", type=int, default=32, help="the batched server's --max-batch"
    )
    parser.add_argument("--lora-r", type=int, default=16)
    parser.add_argument(
        "--context", type=int, default=2048, help="context budget per request (tokens)"
    )
    parser.add_argument("--json", default="", help="also write the rows here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return serve(args)

    counts = [int(c) for c in args.clients.split(",")]
    rows: list[dict[str, Any]] = []
    for mode, max_batch in (("serialised", 1), ("batched", args.max_batch)):
        started = time.perf_counter()
        child, port = start_server(args, max_batch)
        print(
            f"{mode} server up in {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True
        )
        try:
            load(port, 1, 0.0, 8)  # first kernels, allocations
            load(port, min(8, max(counts)), 0.0, 8)
            for clients in counts:
                row = {
                    "server": mode,
                    "clients": clients,
                    **summarise(load(port, clients, args.seconds, args.max_tokens)),
                }
                rows.append(row)
                print(
                    f"  {mode} x{clients}: {row['tokens_per_s']:.0f} tokens/s, first token p95 "
                    f"{row['ttft_p95'] * 1000:.0f} ms",
                    file=sys.stderr,
                    flush=True,
                )
        finally:
            child.send_signal(signal.SIGTERM)
            child.wait(timeout=120)

    import torch

    device = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "CPU"
    print(
        f"\nserving: {args.shape} shape, LoRA adapter (r {args.lora_r}, unmerged), {device}; "
        "streaming "
        f"clients back to back for {args.seconds:g}s each, {args.max_tokens} tokens a reply; "
        "batched: "
        f"--max-batch {args.max_batch}\n"
    )
    print(
        f"{'server':<12}{'clients':>8}{'requests':>10}{'errors':>8}{'tokens/s':>10}"
        f"{'vs serial':>10}"
        f"{'TTFT p50 ms':>13}{'TTFT p95 ms':>13}{'per-request tok/s':>19}"
    )
    serial = {r["clients"]: r["tokens_per_s"] for r in rows if r["server"] == "serialised"}
    for r in rows:
        ratio = (
            r["tokens_per_s"] / serial[r["clients"]] if serial.get(r["clients"]) else float("nan")
        )
        print(
            f"{r['server']:<12}{r['clients']:>8}{r['requests']:>10}{r['errors']:>8}{r['tokens_per_s']:>10.0f}"
            f"{ratio:>9.2f}x{r['ttft_p50'] * 1000:>13.0f}{r['ttft_p95'] * 1000:>13.0f}"
            f"{r['request_tokens_per_s']:>19.1f}"
        )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"shape": args.shape, "device": device, "rows": rows}, indent=2) + "\n",
            encoding="utf-8",
        )
    return 0 if all(r["errors"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
