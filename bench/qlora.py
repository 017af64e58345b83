"""QLoRA against bf16 LoRA at a real model shape, side by side in one process.

    python bench/qlora.py --shape llama-8b --steps 50 --out qlora.json   # one CUDA GPU
    python bench/qlora.py --shape tiny --steps 6                          # a CUDA GPU, seconds

Both rows run the studio's own trainer (``studio.train.recipe.run`` on a run folder) with the
``16g-qlora`` preset's settings (4,096 tokens a step, gradient checkpointing, LoRA r 16 on all
seven projections, lr 2e-4, bf16 compute); the only difference is ``quantization``:

- ``qlora``  the base weights in NF4 through bitsandbytes (``bnb.nn.Linear4bit``, double
  quantisation, bf16 compute), LoRA weights fp32;
- ``bf16``   the same base weights in bf16.

The base weights are random (no download) but identical in both rows: one seeded bf16 model is
built on the GPU and then either kept or quantised in place, so the loss
curves differ only by the quantisation. Data: the synthetic conversations of
``bench/train_throughput.py`` (the 甄嬛传 length profile), in the same order in both rows.

Printed: tokens/s (median of the step events after ``--warmup``), peak GPU memory allocated and
reserved over the whole run (loading included), and the loss agreement over the same steps:
mean and max |Δ loss| and the mean relative difference.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("train_throughput", ROOT / "train_throughput.py")
tt = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(tt)  # type: ignore[union-attr]

from studio.api import ModelSpec  # noqa: E402


def quantise_linears(model: Any, device: Any, dtype: Any) -> Any:
    """Replace every decoder projection by an NF4 ``Linear4bit`` on ``device`` (QLoRA's base).

    Embeddings, norms and the LM head stay in ``dtype``, as bitsandbytes' own loader leaves them.
    """
    import bitsandbytes as bnb

    for layer in model.model.layers:
        for parent in (layer.self_attn, layer.mlp):
            for name, child in list(parent.named_children()):
                if not isinstance(child, torch.nn.Linear):
                    continue
                q = bnb.nn.Linear4bit(
                    child.in_features,
                    child.out_features,
                    bias=child.bias is not None,
                    compute_dtype=dtype,
                    quant_type="nf4",
                    compress_statistics=True,
                )
                q.weight = bnb.nn.Params4bit(
                    child.weight.data,
                    requires_grad=False,
                    quant_type="nf4",
                    compress_statistics=True,
                )
                setattr(parent, name, q.to(device))
    return model.to(device)


class QuantAdapter(tt.BenchAdapter):
    """Random weights at a shape, built on the GPU from one seed, then kept in bf16 or quantised
    to NF4 in place; the peak-memory counters restart once the model is ready, so the table's
    peak is what training needs (a real 4-bit load quantises shard by shard as it reads)."""

    def load_model(
        self, path: Path, spec: ModelSpec, *, dtype: Any, device: Any, quantization: str = ""
    ) -> Any:
        started = time.perf_counter()
        model = tt.build_model(self.shape, device, dtype)
        if quantization == "4bit":  # then the same preparation as the model adapters' loader
            from studio.api.hf_adapter import prepare_for_qlora

            model = prepare_for_qlora(quantise_linears(model, device, dtype))
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        print(
            f"  model ready in {time.perf_counter() - started:.0f}s ({quantization or 'bf16'}), "
            f"{torch.cuda.memory_allocated() / 2**30:.1f} GiB",
            flush=True,
        )
        torch.cuda.reset_peak_memory_stats()
        return model


def run_variant(shape: str, samples: list[Any], steps: int, quantization: str) -> dict[str, Any]:
    from studio.api.hf_adapter import LORA_PRESETS
    from studio.train.events import read_events
    from studio.train.recipe import run
    from studio.train.runconfig import RunConfig

    preset = next(p for p in LORA_PRESETS if p.name == "16g-qlora")
    adapter = QuantAdapter(shape)
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as folder:
        run_dir = Path(folder)
        spec = ModelSpec(
            name=f"bench-{shape}", source="local", adapter=adapter.name, cache_dir=folder
        )
        settings = {
            **preset.settings,
            "quantization": quantization,
            "lora_targets": tt.TARGETS,
            "max_steps": steps,
            "eval_every": 0,
            "save_every": 0,
            "log_every": 1,
            "max_length": 384,
        }
        config = RunConfig.from_dict(
            {"model": spec.__dict__, "persona": samples[0].system, **settings}
        )
        (run_dir / "config.json").write_text(json.dumps(config.__dict__))
        (run_dir / "samples.jsonl").write_text(
            "\n".join(json.dumps(s.to_json()) for s in samples) + "\n"
        )
        started = time.perf_counter()
        code = run(run_dir, adapters={adapter.name: adapter})
        wall = time.perf_counter() - started
        events = read_events(run_dir / "events.jsonl")
    if code != 0:
        failed = next((e.get("error") for e in events if e.get("event") == "failed"), "")
        raise RuntimeError(f"{quantization or 'bf16'} run failed: {failed}")
    step_events = [e for e in events if e["event"] == "step"]
    return {
        "losses": [e["loss"] for e in step_events],
        "tok_s": [e["tokens_per_s"] for e in step_events],
        "peak_alloc_gib": torch.cuda.max_memory_allocated() / 2**30,
        "peak_reserved_gib": torch.cuda.max_memory_reserved() / 2**30,
        "wall_s": wall,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=sorted(tt.SHAPES), default="llama-8b")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3, help="steps left out of tokens/s")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("QLoRA needs a CUDA GPU (bitsandbytes)", file=sys.stderr)
        return 2
    from studio.train.base_model import quiet_transformers

    quiet_transformers()
    tokenizer, overhead = tt.tokenizer_and_overhead()
    samples = tt.synthetic_samples(tt.TRAIN_SAMPLES, overhead)
    print(f"{args.shape} on {torch.cuda.get_device_name()}, {tt.versions()}", flush=True)
    results = {}
    for name, quantization in (("qlora", "4bit"), ("bf16", "")):
        results[name] = run_variant(args.shape, samples, args.steps, quantization)
        print(f"{name}: done in {results[name]['wall_s']:.0f}s", flush=True)
        if args.out:
            Path(args.out).write_text(json.dumps(results, indent=2))
    q, b = results["qlora"], results["bf16"]
    n = min(len(q["losses"]), len(b["losses"]))
    diffs = [abs(x - y) for x, y in zip(q["losses"][:n], b["losses"][:n], strict=False)]
    rel = [d / abs(y) for d, y in zip(diffs, b["losses"][:n], strict=False)]
    print(f"\n| row | tokens/s | peak allocated GiB | peak reserved GiB | loss step 1 → {n} |")
    print("|---|---:|---:|---:|---|")
    for name, r in results.items():
        speed = statistics.median(r["tok_s"][args.warmup :] or r["tok_s"])
        print(
            f"| {name} | {speed:,.0f} | {r['peak_alloc_gib']:.1f} | "
            f"{r['peak_reserved_gib']:.1f} | {r['losses'][0]:.3f} → {r['losses'][n - 1]:.3f} |"
        )
    print(
        f"\nloss agreement over {n} steps: mean |Δ| {statistics.mean(diffs):.4f}, "
        f"max |Δ| {max(diffs):.4f} (step {diffs.index(max(diffs)) + 1}), "
        f"mean relative {statistics.mean(rel):.2%}"
    )
    print(
        "per step (qlora, bf16):",
        [
            (round(x, 3), round(y, 3))
            for x, y in zip(q["losses"][:n], b["losses"][:n], strict=False)
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
