"""Provides the decode attention benchmark: one attention layer's decode step, KV copies or none.

    python bench/decode_attention.py --device cpu --rows 1,8 --cache 4096
    python bench/decode_attention.py --device cuda --rows 1,8,32 --cache 4096

The Llama-3.1-8B attention geometry (32 query heads, 8 key/value heads, head size 128), one new
token a row over a masked static cache of ``--cache`` slots, bf16 on CUDA and fp32 on the CPU,
each function compiled as the engines compile their decode step:

- ``sdpa``: transformers' SDPA attention function, which copies each key/value head to its
  query heads (``repeat_kv``) when a mask is given, as every static-cache step has;
- ``decode``: ``studio.chat.attention.decode_attention``, the query heads of a group read as that
  key/value head's query rows; no copies.

Prints the median milliseconds of a step per function, the ratio, and the largest difference
between the two outputs. A step of the whole model runs this once per layer (32 at 8B).
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

    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    heads, kv_heads, dim = 32, 8, 128

    class Layer(torch.nn.Module):
        num_key_value_groups = heads // kv_heads
        is_causal = True

    layer = Layer().eval()
    print(f"{device.type}, {dtype}, cache {args.cache} slots, {heads}/{kv_heads} heads of {dim}")
    print(f"{'rows':>5} {'sdpa ms':>9} {'decode ms':>10} {'ratio':>7} {'max |diff|':>11}")
    for rows in (int(r) for r in args.rows.split(",")):
        query = torch.randn(rows, heads, 1, dim, device=device, dtype=dtype)
        key = torch.randn(rows, kv_heads, args.cache, dim, device=device, dtype=dtype)
        value = torch.randn_like(key)
        mask = torch.zeros(rows, 1, 1, args.cache, dtype=torch.bool, device=device)
        for row in range(rows):
            mask[row, :, :, : args.cache // 2 + row] = True  # each row has its own length
        timings, outputs = [], []
        for function in (sdpa_attention_forward, decode_attention):
            step = torch.compile(
                lambda q, k, v, m, f=function: f(layer, q, k, v, m, scaling=dim**-0.5)[0],
                dynamic=False,
            )
            with torch.no_grad():
                for _ in range(3):
                    out = step(query, key, value, mask)
                times = []
                for _ in range(args.repeat):
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    started = time.perf_counter()
                    out = step(query, key, value, mask)
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    times.append(time.perf_counter() - started)
            timings.append(1000 * statistics.median(times))
            outputs.append(out.float())
        diff = (outputs[0] - outputs[1]).abs().max().item()
        print(
            f"{rows:>5} {timings[0]:>9.2f} {timings[1]:>10.2f} "
            f"{timings[0] / timings[1]:>6.2f}x {diff:>11.2e}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
