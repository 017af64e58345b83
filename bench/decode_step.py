"""Provides a look at one-row decoding: the single-request engine against the batched engine.

    python bench/decode_step.py --device cuda --shape llama-8b      # one GPU, ~2 minutes
    python bench/decode_step.py --device cpu --shape tiny           # every path runs

The serving bench (``bench/serve_load.md``) found one client streaming at 0.80x on the batched
server: a one-row step of the batched engine takes longer than the single-request engine's. This
script generates the same greedy reply on both (the ``bench/chat_speed.py`` model: random
weights of a real shape, a random LoRA adapter active, unmerged), each compiled as ``serve``
runs it (CUDA graphs on a GPU; the batched engine at ``--max-batch`` slots, one of them used),
and splits each token's wall time into what the device was busy with (CUDA kernels, from the
profiler) and the rest (the host: Python, launches, waits). Then the ten costliest operations of
each, by device time and by host time (host operations of the calling thread only: the batched
engine's steps run in its scheduler thread), so the difference has a name.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT / "bench"))


def engines(model: Any, compiled: bool, max_batch: int, cache: int) -> dict[str, Any]:
    from studio.chat.batch import BatchEngine
    from studio.chat.engine import Engine

    return {
        "single": Engine(model, static=True, compiled=compiled, max_cache_len=cache),
        "batched": BatchEngine(
            model, max_batch=max_batch, max_cache_len=cache, static=True, compiled=compiled
        ),
    }


def reply(engine: Any, prompt: list[int], tokens: int) -> list[int]:
    from studio.chat.sampling import Sampling

    return list(engine.generate(prompt, max_new_tokens=tokens, sampling=Sampling(do_sample=False)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--shape", default="llama-8b")
    parser.add_argument("--tokens", type=int, default=128, help="reply length")
    parser.add_argument("--repeat", type=int, default=3, help="timed replies per engine")
    parser.add_argument("--max-batch", type=int, default=32, help="the batched engine's slots")
    parser.add_argument("--cache", type=int, default=4096, help="KV cache columns (production)")
    parser.add_argument(
        "--skip-guards",
        action="store_true",
        help="also time each engine with TorchDynamo's guards skipped after the warm-up "
        "(torch.compiler.set_stance(skip_guard_eval_unsafe=True)): what guard checks cost",
    )
    args = parser.parse_args()

    import torch
    from chat_speed import build, sync
    from torch.profiler import ProfilerActivity, profile

    device = torch.device(args.device)
    cuda = device.type == "cuda"
    dtype = torch.bfloat16 if cuda else torch.float32
    model = build(args.shape, device, dtype, lora_r=16)
    prompt = [(7 * i) % 200 + 3 for i in range(32)]
    rows = []
    replies = {}
    for name, engine in engines(model, cuda, args.max_batch, args.cache).items():
        started = time.perf_counter()
        replies[name] = reply(engine, prompt, args.tokens)  # compiles the one-row graph
        sync(device)
        warm = time.perf_counter() - started
        walls = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            reply(engine, prompt, args.tokens)
            sync(device)
            walls.append((time.perf_counter() - started) / args.tokens)
        skipped = float("nan")
        if args.skip_guards:
            times, same = [], True
            with torch.compiler.set_stance(skip_guard_eval_unsafe=True):
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    same = reply(engine, prompt, args.tokens) == replies[name] and same
                    sync(device)
                    times.append((time.perf_counter() - started) / args.tokens)
            skipped = sorted(times)[len(times) // 2] * 1e3 if same else float("inf")
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
        with profile(activities=activities) as prof:
            reply(engine, prompt, args.tokens)
            sync(device)
        # kernels only: a compiled graph's call is also an event with device time (its kernels')
        events = [e for e in prof.key_averages() if not e.key.startswith("## Call CompiledFxGraph")]
        busy = sum(e.self_device_time_total for e in events) / 1e3 / args.tokens if cuda else 0.0
        wall = sorted(walls)[len(walls) // 2] * 1e3
        rows.append((name, warm, wall, busy, events, skipped))
        if hasattr(engine, "close"):
            engine.close()

    where = torch.cuda.get_device_name() if cuda else "CPU"
    print(
        f"{args.shape} on {where}, {dtype}, LoRA r 16 unmerged, cache {args.cache} columns, "
        f"greedy, {args.tokens}-token reply after a {len(prompt)}-token prompt, "
        f"median of {args.repeat}; batched: {args.max_batch} slots, one used"
    )
    same = replies["single"] == replies["batched"]
    print(f"the two replies are {'the same' if same else 'different'}\n")
    print(
        "| engine | first reply s (compile) | ms a token | device busy ms | rest ms "
        "| ms a token, guards skipped (inf: reply changed) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, warm, wall, busy, _, skipped in rows:
        rest = wall - busy if cuda else float("nan")
        print(f"| {name} | {warm:.1f} | {wall:.2f} | {busy:.2f} | {rest:.2f} | {skipped:.2f} |")
    for name, _, _, _, events, _ in rows:
        for key, label in (("self_device_time_total", "device"), ("self_cpu_time_total", "host")):
            if key == "self_device_time_total" and not cuda:
                continue
            top = [e for e in events if getattr(e, key) > 0]
            top = sorted(top, key=lambda e: getattr(e, key), reverse=True)[:10]
            print(f"\n{name}: the ten costliest operations by {label} time (ms a token, calls)")
            if not top:  # the profiler records the host ops of the calling thread only
                print("  (none recorded: this engine's steps run in its scheduler thread)")
            for e in top:
                ms = getattr(e, key) / 1e3 / args.tokens
                print(f"  {ms:8.3f}  {e.count / args.tokens:6.1f}  {e.key[:90]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
