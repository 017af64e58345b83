"""Provides the decode attention benchmark: one attention layer's decode step, KV copies or none.

    python bench/decode_attention.py --device cpu --rows 1,8 --cache 4096
    python bench/decode_attention.py --device cuda --rows 1,8,32 --cache 4096

The Llama-3.1-8B attention geometry (32 query heads, 8 key/value heads, head size 128), one new
token a row over a masked static cache of ``--cache`` slots, bf16 on CUDA and fp32 on the CPU,
each function compiled as the engines compile their decode step:

- ``sdpa``: transformers' SDPA attention function, which copies each key/value head to its
  query heads (``repeat_kv``) when a mask is given, as every static-cache step has;
- ``decode``: ``studio.chat.attention.decode_attention``, the query heads of a group read as that
  key/value head's query rows; no copies;
- ``matmul``: the same grouping with the two products written out (scores, fp32 softmax,
  weighted sum), which the compiler hands to matrix kernels that split the cache's length across
  the GPU, where a fused attention kernel gives one row only rows × key/value heads blocks.

Prints the milliseconds of a call per function (on CUDA, the kernels alone: 20 calls replayed
from one CUDA graph, median of ``--repeat`` replays), each against ``sdpa``, and the largest
difference from ``sdpa``'s output. A step of the whole model runs this once per layer (32 at 8B).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rows", default="1,8,32")
    parser.add_argument("--cache", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    from studio.chat.attention import decode_attention

    def matmul_attention(module, query, key, value, mask, scaling):
        batch, heads, _, dim = query.shape
        kv_heads = key.shape[1]
        grouped = query.reshape(batch, kv_heads, heads // kv_heads, dim)
        scores = torch.matmul(grouped, key.transpose(-1, -2)).float() * scaling
        scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1).to(value.dtype)
        out = torch.matmul(weights, value)
        return out.reshape(batch, heads, 1, dim).transpose(1, 2).contiguous(), None

    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    heads, kv_heads, dim = 32, 8, 128

    class Layer(torch.nn.Module):
        num_key_value_groups = heads // kv_heads
        is_causal = True

    layer = Layer().eval()
    print(f"{device.type}, {dtype}, cache {args.cache} slots, {heads}/{kv_heads} heads of {dim}")
    functions = {
        "sdpa": sdpa_attention_forward,
        "decode": decode_attention,
        "matmul": matmul_attention,
    }
    print("| rows | " + " | ".join(f"{n} ms" for n in functions) + " | ", end="")
    print(" | ".join(f"{n} vs sdpa" for n in list(functions)[1:]) + " | max abs diff |")
    print("|---:|" + "---:|" * (2 * len(functions)))
    for rows in (int(r) for r in args.rows.split(",")):
        query = torch.randn(rows, heads, 1, dim, device=device, dtype=dtype)
        key = torch.randn(rows, kv_heads, args.cache, dim, device=device, dtype=dtype)
        value = torch.randn_like(key)
        mask = torch.zeros(rows, 1, 1, args.cache, dtype=torch.bool, device=device)
        for row in range(rows):
            mask[row, :, :, : args.cache // 2 + row] = True  # each row has its own length
        timings, outputs = [], []
        for function in functions.values():
            step = torch.compile(
                lambda q, k, v, m, f=function: f(layer, q, k, v, m, scaling=dim**-0.5)[0],
                dynamic=False,
            )
            with torch.no_grad():
                for _ in range(3):
                    out = step(query, key, value, mask)
                times = _time(step, (query, key, value, mask), device, args.repeat)
            timings.append(1000 * statistics.median(times))
            outputs.append(out.float())
        diff = max((outputs[0] - o).abs().max().item() for o in outputs[1:])
        cells = [f"{t:.3f}" for t in timings] + [f"{timings[0] / t:.2f}x" for t in timings[1:]]
        print(f"| {rows} | " + " | ".join(cells) + f" | {diff:.1e} |")
    return 0


def _time(step, inputs, device, repeat: int, calls: int = 20) -> list[float]:
    """Seconds a call: on CUDA ``calls`` calls captured in one CUDA graph and replayed (kernel
    time, no launch or guard overhead); on the CPU one call at a time."""
    import torch

    if device.type != "cuda":
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            step(*inputs)
            times.append(time.perf_counter() - started)
        return times
    graph = torch.cuda.CUDAGraph()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        step(*inputs)  # side-stream warm-up before capture
    torch.cuda.current_stream().wait_stream(stream)
    with torch.cuda.graph(graph):
        for _ in range(calls):
            step(*inputs)
    times = []
    for _ in range(repeat):
        torch.cuda.synchronize()
        started = time.perf_counter()
        graph.replay()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - started) / calls)
    return times


if __name__ == "__main__":
    sys.exit(main())
