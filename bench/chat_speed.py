"""Provides the chat-speed benchmark: batch 1, time to first token, decode tokens/s and one-time
compile seconds against transformers' strongest ``generate``; prints a table.

    python bench/chat_speed.py --device cpu --shape tiny --prompts 32,512 --compile on
    python bench/chat_speed.py --device cuda --shape llama-8b --json chat_speed.json

Random weights of a real shape (no download: speed does not depend on the values) with a random
LoRA adapter (r 16 on all 7 projections, non-zero so merging changes the weights), bf16 on CUDA
and fp32 on the CPU. For the adapter unmerged and merged, each of

- ``generate``: ``model.generate`` with its default dynamic cache, eager;
- ``generate static``: ``model.generate`` on a static cache of the production size, which
  transformers compiles by itself on CUDA (``reduce-overhead``: CUDA graphs); on the CPU only
  with ``--compile on``;
- ``engine``: the studio's engine as chat uses it, eager (dynamic cache);
- ``engine compiled``: the engine with its static cache and compiled decode step, as
  ``studio chat`` runs it on a GPU,

runs every prompt length (``--prompts``) with greedy decoding and with the sampling preset chat
uses by default. No early stop. TTFT is from the call to the first new token (for ``generate``, a
call for one token); decode tokens/s is (new tokens - 1) / (end - first token); each is the median
of ``--repeat`` runs after one warm-up run. Compile s is the warm-up run's time less the median
run's: what the first message pays once (0 for eager rows).

The static cache has the production size (the engine's own capacity rule, 4,096 tokens). The
compiled engine's logits are checked against the eager engine's, teacher-forced on the eager
engine's greedy tokens: max |difference| and the share of positions whose top token agrees.
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
    "llama-8b": dict(
        arch="llama",
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        vocab_size=128256,
        rope_theta=500000.0,
        max_position_embeddings=8192,
    ),
    # Qwen2.5-0.5B: the CPU-sized real model
    "qwen-0.5b": dict(
        arch="qwen2",
        hidden_size=896,
        intermediate_size=4864,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        vocab_size=151936,
        rope_theta=1000000.0,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
    ),
    "tiny": dict(
        arch="llama",
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=320,
        max_position_embeddings=4096,
    ),
}
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
DEFAULT_SAMPLING = "balanced"  # what ``studio chat`` samples with unless told otherwise


def build(shape: str, device: Any, dtype: Any, lora_r: int, seed: int = 0) -> Any:
    """A random model of ``shape`` on ``device`` with a random, non-zero LoRA adapter."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    spec = dict(SHAPES[shape])
    arch = spec.pop("arch")
    config = (LlamaConfig if arch == "llama" else Qwen2Config)(
        **spec, use_cache=True, bos_token_id=None, eos_token_id=None, pad_token_id=None
    )
    torch.manual_seed(seed)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):  # initialise on the device: seconds, not minutes, for 8 B
            model = (LlamaForCausalLM if arch == "llama" else Qwen2ForCausalLM)(config)
    finally:
        torch.set_default_dtype(previous)
    model.eval()
    lora = LoraConfig(
        r=lora_r,
        lora_alpha=2 * lora_r,
        lora_dropout=0.0,
        target_modules=TARGETS,
        init_lora_weights=False,
    )
    model = get_peft_model(model, lora)
    for (
        name,
        param,
    ) in model.named_parameters():  # small random B: merged weights differ, values stay sane
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=1e-3)
    model.eval()
    return model


def sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def sampling_presets() -> dict[str, dict[str, Any]]:
    from studio.chat.session import SAMPLING_PRESETS

    return {"greedy": SAMPLING_PRESETS["greedy"], "sampled": SAMPLING_PRESETS[DEFAULT_SAMPLING]}


class Generate:
    """``model.generate``: dynamic cache (eager) or a static cache of ``capacity`` tokens."""

    def __init__(
        self, model: Any, device: Any, static: bool, compile_cpu: bool, capacity: int
    ) -> None:
        self.model, self.device, self.static = model, device, static
        self.compile_cpu, self.capacity = compile_cpu, capacity
        self.cache: Any = None

    def __call__(
        self, prompt: list[int], new: int, mode: dict[str, Any]
    ) -> tuple[float, float, list[int]]:
        ttft, _ = self._call(prompt, 1, mode)
        total, tokens = self._call(prompt, new, mode)
        return ttft, (len(tokens) - 1) / max(1e-9, total - ttft), tokens

    def _call(self, prompt: list[int], count: int, mode: dict[str, Any]) -> tuple[float, list[int]]:
        import torch
        from transformers import CompileConfig, GenerationConfig, StaticCache

        ids = torch.tensor([prompt], device=self.device)
        extra: dict[str, Any] = {}
        if self.static:
            if self.cache is None:  # one cache for every call: compiled graphs keep its addresses
                self.cache = StaticCache(config=self.model.config, max_cache_len=self.capacity)
            self.cache.reset()
            extra["past_key_values"] = self.cache
        config = GenerationConfig(
            max_new_tokens=count,
            min_new_tokens=count,
            eos_token_id=None,
            pad_token_id=0,
            bos_token_id=None,
            **mode,
        )
        if self.static and self.compile_cpu and self.device.type != "cuda":
            config.compile_config = CompileConfig()
            config.compile_config._compile_all_devices = (
                True  # transformers compiles on CUDA only unless told
            )
        if mode.get("do_sample"):
            torch.manual_seed(0)
        sync(self.device)
        start = time.perf_counter()
        with torch.no_grad():
            out = self.model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                generation_config=config,
                **extra,
            )
        sync(self.device)
        return time.perf_counter() - start, out[0, len(prompt) :].tolist()


class EngineRun:
    """The studio's engine, a cold prompt each call."""

    def __init__(self, engine: Any, device: Any) -> None:
        self.engine, self.device = engine, device

    def __call__(
        self, prompt: list[int], new: int, mode: dict[str, Any]
    ) -> tuple[float, float, list[int]]:
        from studio.chat.sampling import Sampling

        self.engine.reset()  # measure a cold prompt: no prefix from the previous run
        sampling = Sampling.from_dict(mode, seed=0 if mode.get("do_sample") else None)
        sync(self.device)
        start = time.perf_counter()
        tokens = list(
            self.engine.generate(prompt, sampling=sampling, max_new_tokens=new, stop_ids=[])
        )
        sync(self.device)
        end = time.perf_counter()
        first = start + self.engine.last_stats.ttft_s
        return first - start, (len(tokens) - 1) / max(1e-9, end - first), tokens


def measure(label: dict[str, Any], fn: Any, repeat: int) -> dict[str, Any]:
    """Warm-up once (compile s = its time less the median call's), then ``repeat`` timed calls."""
    row: dict[str, Any] = dict(label)
    try:
        started = time.perf_counter()
        fn()
        first = time.perf_counter() - started
        runs, totals = [], []
        for _ in range(repeat):
            started = time.perf_counter()
            runs.append(fn())
            totals.append(time.perf_counter() - started)
    except Exception as exc:  # one broken variant must not hide the others
        traceback.print_exc(file=sys.stderr)
        row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:80] if str(exc) else ''}"
        return row
    row.update(
        ttft_ms=statistics.median(r[0] for r in runs) * 1000,
        tokens_per_s=statistics.median(r[1] for r in runs),
        compile_s=max(0.0, first - statistics.median(totals)) if label["compiled"] else 0.0,
        tokens=len(runs[-1][2]),
    )
    print(
        f"  {row['variant']}, {row['target']}, prompt {row['prompt']}, {row['sampling']}: ttft "
        f"{row['ttft_ms']:.1f} ms, {row['tokens_per_s']:.1f} tokens/s, "
        f"compile {row['compile_s']:.1f}s",
        file=sys.stderr,
        flush=True,
    )
    return row


def teacher_forced(engine: Any, prompt: list[int], forced: list[int]) -> Any:
    """The engine's next-token logits at each position of ``prompt + forced`` ([len(forced), V])."""
    import torch

    device = engine.device
    engine.reset()
    with torch.no_grad():
        engine._prepare_cache(prompt, True)
        out = [
            engine._forward(
                torch.tensor([prompt], device=device),
                torch.arange(len(prompt), device=device)[None],
            ).float()
        ]
        position = torch.tensor([[len(prompt)]], device=device)
        for token in forced[:-1]:
            out.append(engine._decode_step(torch.tensor([token], device=device), position).float())
            position.add_(1)
    engine.reset()
    return torch.cat(out).cpu()


def agreement(eager: Any, compiled: Any, prompt: list[int], new: int) -> dict[str, Any]:
    """Teacher-forced logits of ``compiled`` against ``eager`` on ``eager``'s greedy tokens."""
    from studio.chat.sampling import Sampling

    eager.reset()
    forced = list(
        eager.generate(prompt, sampling=Sampling(do_sample=False), max_new_tokens=new, stop_ids=[])
    )
    a, b = teacher_forced(eager, prompt, forced), teacher_forced(compiled, prompt, forced)
    return {
        "positions": len(forced),
        "max_abs_diff": float((a - b).abs().max()),
        "logit_scale": float(a.abs().max()),
        "top1_agree": float((a.argmax(-1) == b.argmax(-1)).float().mean()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu")
    parser.add_argument("--shape", default="llama-8b", choices=sorted(SHAPES))
    parser.add_argument(
        "--prompts", default="32,512,2048", help="prompt lengths in tokens, comma list"
    )
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lora-r", type=int, default=16)
    parser.add_argument(
        "--sampling",
        default="greedy,sampled",
        help=f"greedy and/or sampled (the {DEFAULT_SAMPLING!r} preset chat uses)",
    )
    parser.add_argument(
        "--compile",
        choices=("auto", "on", "off"),
        default="auto",
        help="compile the static rows (auto: on for CUDA; on the CPU it takes minutes)",
    )
    parser.add_argument(
        "--max-cache",
        type=int,
        default=0,
        help="static cache size (default: the engine's production capacity)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="CPU threads for torch (default: 1 for the tiny shape, too small to split)",
    )
    parser.add_argument(
        "--targets", default="unmerged,merged", help="the adapter unmerged and/or merged"
    )
    parser.add_argument("--json", default="", help="also write the results here")
    parser.add_argument(
        "--append",
        action="store_true",
        help="add to the rows already in --json (a table measured in several runs on one machine)",
    )
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
    presets = sampling_presets()
    modes = [m.strip() for m in args.sampling.split(",") if m.strip()]
    lengths = [int(n) for n in args.prompts.split(",") if n.strip()]
    started = time.perf_counter()
    model = build(args.shape, device, dtype, args.lora_r)
    params = sum(p.numel() for n, p in model.named_parameters() if "lora_" not in n)
    capacity = args.max_cache or Engine(model, static=True).capacity
    print(
        f"built {args.shape} ({params / 1e9:.2f} B params) in "
        f"{time.perf_counter() - started:.1f}s; "
        f"static cache {capacity} tokens",
        file=sys.stderr,
    )
    vocab = model.get_base_model().config.vocab_size
    gen = torch.Generator().manual_seed(1)
    prompts = {n: torch.randint(0, vocab, (n,), generator=gen).tolist() for n in lengths}
    new, rep = args.new_tokens, args.repeat

    rows: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    earlier: dict[str, Any] = {}
    if args.append and args.json and Path(args.json).exists():
        earlier = json.loads(Path(args.json).read_text(encoding="utf-8"))
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if not set(targets) <= {"unmerged", "merged"}:
        parser.error(f"--targets: expected unmerged and/or merged, got {args.targets!r}")
    for target_name in ("unmerged", "merged"):
        if target_name not in targets:
            continue
        target = model if target_name == "unmerged" else model.merge_and_unload()
        eager_engine = Engine(target, stop_ids=[])
        fast_engine = Engine(
            target, stop_ids=[], static=True, compiled=compile_on, max_cache_len=capacity
        )
        runners = [
            ("generate", False, Generate(target, device, False, compile_on, capacity)),
            (
                "generate static" + (" + compile" if compile_on else ""),
                compile_on,
                Generate(target, device, True, compile_on, capacity),
            ),
            ("engine", False, EngineRun(eager_engine, device)),
            (
                "engine compiled" if compile_on else "engine static",
                compile_on,
                EngineRun(fast_engine, device),
            ),
        ]
        for variant, compiled, runner in runners:
            for n in lengths:
                for mode in modes:
                    label = {
                        "variant": variant,
                        "target": target_name,
                        "prompt": n,
                        "sampling": mode,
                        "compiled": compiled,
                    }
                    rows.append(
                        measure(
                            label, lambda r=runner, p=prompts[n], m=presets[mode]: r(p, new, m), rep
                        )
                    )
        for n in lengths:
            try:
                checks.append(
                    {
                        "target": target_name,
                        "prompt": n,
                        **agreement(eager_engine, fast_engine, prompts[n], new),
                    }
                )
            except Exception as exc:
                traceback.print_exc(file=sys.stderr)
                checks.append(
                    {"target": target_name, "prompt": n, "error": f"{type(exc).__name__}: {exc}"}
                )

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    ok = all("error" not in r for r in rows + checks)
    rows, checks = earlier.get("rows", []) + rows, earlier.get("logits", []) + checks
    report(
        rows,
        checks,
        f"{args.shape} shape ({params / 1e9:.2f} B params, {str(dtype).replace('torch.', '')}), "
        f"{name}, batch 1, {new} new tokens, LoRA r{args.lora_r} on 7 projections, "
        f"static cache {capacity} "
        f"tokens, median of {rep}, torch {torch.__version__}",
    )
    if args.json:
        payload = {
            "shape": args.shape,
            "device": name,
            "dtype": str(dtype),
            "new_tokens": new,
            "repeat": rep,
            "compile": compile_on,
            "capacity": capacity,
            "rows": rows,
            "logits": checks,
        }
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0 if ok else 1


def report(rows: list[dict[str, Any]], checks: list[dict[str, Any]], title: str) -> None:
    print(f"\nchat speed: {title}\n")
    print(
        "| variant | adapter | prompt | sampling | TTFT ms | decode tokens/s | compile s "
        "| vs generate |"
    )
    print("|---|---|---:|---|---:|---:|---:|---:|")
    base = {
        (r["target"], r["prompt"], r["sampling"]): r.get("tokens_per_s")
        for r in rows
        if r["variant"] == "generate" and "error" not in r
    }
    for r in rows:
        head = f"| {r['variant']} | {r['target']} | {r['prompt']} | {r['sampling']} |"
        if "error" in r:
            print(f"{head} failed: {r['error']} | | | |")
            continue
        ref = base.get((r["target"], r["prompt"], r["sampling"]))
        ratio = f"{r['tokens_per_s'] / ref:.2f}x" if ref else "-"
        print(
            f"{head} {r['ttft_ms']:.1f} | {r['tokens_per_s']:.1f} | {r['compile_s']:.1f} "
            f"| {ratio} |"
        )
    print(
        "\nteacher-forced logits, compiled engine against eager engine (eager's greedy tokens):\n"
    )
    print("| adapter | prompt | positions | max abs diff | max abs logit | top-1 agreement |")
    print("|---|---:|---:|---:|---:|---:|")
    for c in checks:
        if "error" in c:
            print(f"| {c['target']} | {c['prompt']} | failed: {c['error'][:80]} | | | |")
            continue
        print(
            f"| {c['target']} | {c['prompt']} | {c['positions']} | {c['max_abs_diff']:.2e} "
            f"| {c['logit_scale']:.2f} | {c['top1_agree']:.1%} |"
        )


if __name__ == "__main__":
    sys.exit(main())
