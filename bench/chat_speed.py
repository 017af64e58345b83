"""Provides the chat-speed benchmark: time to first token and decode tokens/s, batch 1; prints a table.

    python bench/chat_speed.py --device cpu --shape tiny            # seconds, checks every code path
    python bench/chat_speed.py --device cuda --shape llama-8b       # the real question, on a GPU
    python bench/chat_speed.py --device cuda --shape llama-8b --json speed.json

Random weights of a real shape (no download: speed does not depend on the values) with a
random LoRA adapter (r 16 on all 7 projections, non-zero so merging changes the weights), in
bf16 on CUDA and fp32 on the CPU. One run measures, on the same prompt:

1. ``model.generate`` with the adapter unmerged (the seed recipe's chat snippet): the baseline;
2. our engine, adapter unmerged (dynamic KV cache, eager);
3. our engine, adapter unmerged, static KV cache + ``torch.compile`` (CUDA graphs): the LoRA
   matmuls are compiled into the same graph as the base ones;
4. ``model.generate`` on the merged model;
5. our engine, merged, eager;
6. our engine, merged, static KV cache + ``torch.compile`` (CUDA graphs): the fast path.

TTFT is from the call to the first new token on the host (prefill + first sample; for
``generate``, a call for one token). Decode tokens/s is (new tokens - 1) / (time of the last
token - time of the first). Each row
is the median of ``--repeat`` runs after warm-up runs (compiled rows warm up three times:
compile, CUDA-graph recording, replay). Greedy decoding, no early stop. The "same tokens"
column counts the leading tokens equal to the baseline's (bf16 kernels of a compiled graph may
round differently, and random weights give near-ties, so a late divergence is expected).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHAPES: dict[str, dict[str, Any]] = {
    # Llama-3.1-8B: 8.03 B parameters
    "llama-8b": dict(arch="llama", hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                     num_attention_heads=32, num_key_value_heads=8, vocab_size=128256, rope_theta=500000.0,
                     max_position_embeddings=8192),
    # Qwen2.5-0.5B: the CPU-sized real model
    "qwen-0.5b": dict(arch="qwen2", hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                      num_attention_heads=14, num_key_value_heads=2, vocab_size=151936, rope_theta=1000000.0,
                      max_position_embeddings=4096, tie_word_embeddings=True),
    "tiny": dict(arch="llama", hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=320, max_position_embeddings=4096),
}
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def build(shape: str, device: Any, dtype: Any, lora_r: int, seed: int = 0) -> Any:
    """A random model of ``shape`` on ``device`` with a random, non-zero LoRA adapter."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    spec = dict(SHAPES[shape])
    arch = spec.pop("arch")
    config = (LlamaConfig if arch == "llama" else Qwen2Config)(**spec, use_cache=True, bos_token_id=None,
                                                               eos_token_id=None, pad_token_id=None)
    torch.manual_seed(seed)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):  # initialise on the device: seconds, not minutes, for 8 B
            model = (LlamaForCausalLM if arch == "llama" else Qwen2ForCausalLM)(config)
    finally:
        torch.set_default_dtype(previous)
    model.eval()
    lora = LoraConfig(r=lora_r, lora_alpha=2 * lora_r, lora_dropout=0.0, target_modules=TARGETS, init_lora_weights=False)
    model = get_peft_model(model, lora)
    for name, param in model.named_parameters():  # small random B: merged weights differ, values stay sane
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=1e-3)
    model.eval()
    return model


def sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_generate(model: Any, prompt: list[int], new: int, device: Any) -> tuple[float, float, list[int]]:
    """(ttft_s, decode tokens/s, tokens) of transformers' generate, greedy, no early stop.

    Plain calls, no streamer (which would add a host copy per token): the time to first token
    is a call for one new token; the decode rate is the rest of a full call.
    """
    import torch
    from transformers import GenerationConfig

    ids = torch.tensor([prompt], device=device)

    def call(count: int) -> tuple[float, Any]:
        config = GenerationConfig(max_new_tokens=count, min_new_tokens=count, do_sample=False, eos_token_id=None,
                                  pad_token_id=0, bos_token_id=None)
        sync(device)
        start = time.perf_counter()
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=config)
        sync(device)
        return time.perf_counter() - start, out

    ttft, _ = call(1)
    total, out = call(new)
    tokens = out[0, len(prompt):].tolist()
    return ttft, (len(tokens) - 1) / max(1e-9, total - ttft), tokens


def run_engine(engine: Any, prompt: list[int], new: int, device: Any) -> tuple[float, float, list[int]]:
    """(ttft_s, decode tokens/s, tokens) of the studio's engine, greedy, no early stop."""
    from studio.chat.engine import Sampling

    engine.reset()  # measure a cold prompt: no prefix from the previous run
    sync(device)
    start = time.perf_counter()
    tokens = list(engine.generate(prompt, sampling=Sampling(do_sample=False), max_new_tokens=new))
    sync(device)
    end = time.perf_counter()
    first = start + engine.last_stats.ttft_s
    return first - start, (len(tokens) - 1) / max(1e-9, end - first), tokens


def measure(name: str, fn: Any, warmup: int, repeat: int, baseline: list[int] | None) -> dict[str, Any]:
    row: dict[str, Any] = {"variant": name}
    try:
        for _ in range(warmup):
            fn()
        runs = [fn() for _ in range(repeat)]
    except Exception as exc:  # one broken variant must not hide the others
        traceback.print_exc(file=sys.stderr)
        row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:80] if str(exc) else ''}"
        return row
    tokens = runs[-1][2]
    same = 0
    if baseline is not None:
        for a, b in zip(tokens, baseline, strict=False):
            if a != b:
                break
            same += 1
    row.update(ttft_ms=statistics.median(r[0] for r in runs) * 1000, tokens_per_s=statistics.median(r[1] for r in runs),
               tokens=len(tokens), same_tokens=same if baseline is not None else None, ids=tokens)
    print(f"  {name}: ttft {row['ttft_ms']:.1f} ms, {row['tokens_per_s']:.1f} tokens/s", file=sys.stderr, flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu")
    parser.add_argument("--shape", default="llama-8b", choices=sorted(SHAPES))
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lora-r", type=int, default=16)
    parser.add_argument("--compile", choices=("auto", "on", "off"), default="auto",
                        help="the static-cache rows with torch.compile (auto: on for CUDA; on the CPU the static "
                             "rows run eager unless 'on', since compiling takes minutes there)")
    parser.add_argument("--max-cache", type=int, default=1024, help="static cache size (tokens)")
    parser.add_argument("--bandwidth-gbs", type=float, default=4800.0,
                        help="memory bandwidth for the roofline note (H200: 4800 GB/s)")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads for torch (default: 1 for the tiny shape, whose ops are too small to split)")
    parser.add_argument("--json", default="", help="also write the results here")
    args = parser.parse_args(argv)

    import torch

    if args.threads or args.shape == "tiny":
        torch.set_num_threads(args.threads or 1)

    from studio.chat.engine import Engine

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but CUDA is not available", file=sys.stderr)
        return 2
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    compile_on = args.compile == "on" or (args.compile == "auto" and device.type == "cuda")
    started = time.perf_counter()
    model = build(args.shape, device, dtype, args.lora_r)
    params = sum(p.numel() for n, p in model.named_parameters() if "lora_" not in n)
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    print(f"built {args.shape} ({params / 1e9:.2f} B params) in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    vocab = model.get_base_model().config.vocab_size
    prompt = torch.randint(0, vocab, (args.prompt_tokens,), generator=torch.Generator().manual_seed(1)).tolist()
    new, rep = args.new_tokens, args.repeat
    static_name = "static cache + compile" if compile_on else "static cache (eager)"

    rows: list[dict[str, Any]] = []
    base = measure("generate, adapter unmerged (seed)", lambda: run_generate(model, prompt, new, device), 1, rep, None)
    rows.append(base)
    ref = base.get("ids")

    def engine_rows(label: str, target: Any) -> None:
        eager = Engine(target, stop_ids=[])
        rows.append(measure(f"engine, {label}", lambda: run_engine(eager, prompt, new, device), 1, rep, ref))
        fast = Engine(target, stop_ids=[], static=True, compiled=compile_on, max_cache_len=args.max_cache)
        warm = 3 if compile_on else 1
        rows.append(measure(f"engine, {label}, {static_name}", lambda: run_engine(fast, prompt, new, device), warm, rep, ref))

    engine_rows("adapter unmerged", model)
    merged = model.merge_and_unload()
    rows.append(measure("generate, merged", lambda: run_generate(merged, prompt, new, device), 1, rep, ref))
    engine_rows("merged", merged)

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"\nchat speed: {args.shape} shape ({params / 1e9:.2f} B params, {str(dtype).replace('torch.', '')}), "
          f"{name}, batch 1, prompt {args.prompt_tokens} tokens, {new} new tokens, LoRA r{args.lora_r} on 7 projections, "
          f"median of {rep}")
    if device.type == "cuda":
        print(f"memory-bandwidth bound: {args.bandwidth_gbs * 1e9 / weight_bytes:.0f} tokens/s "
              f"({weight_bytes / 1e9:.1f} GB of weights read per token at {args.bandwidth_gbs:.0f} GB/s)")
    base_rate = base.get("tokens_per_s")
    print(f"\n{'variant':<52} {'TTFT ms':>9} {'tokens/s':>9} {'vs seed':>8} {'same tokens':>12}")
    print("-" * 94)
    for row in rows:
        if "error" in row:
            print(f"{row['variant']:<52} failed: {row['error']}")
            continue
        speedup = f"{row['tokens_per_s'] / base_rate:.2f}x" if base_rate else "-"
        same = "-" if row["same_tokens"] is None else f"{row['same_tokens']}/{row['tokens']}"
        print(f"{row['variant']:<52} {row['ttft_ms']:>9.1f} {row['tokens_per_s']:>9.1f} {speedup:>8} {same:>12}")
    if args.json:
        payload = {"shape": args.shape, "device": name, "dtype": str(dtype), "prompt_tokens": args.prompt_tokens,
                   "new_tokens": new, "repeat": rep, "compile": compile_on,
                   "rows": [{k: v for k, v in r.items() if k != "ids"} for r in rows]}
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
