"""Training throughput, side by side in one process:
the seed's recipe, what a competent user runs, and ours.

    python bench/train_throughput.py --shape tiny                  # any CPU, seconds
    python bench/train_throughput.py --shape llama-8b --out r.json # one GPU, Llama-3.1-8B shape

Variants (LoRA r 8 on all 7 projections everywhere; random weights from a config, no download):

- ``a``  the seed: HF Trainer + peft, alpha 32, dropout 0.1, batch 4 x grad-accum 4, gradient
  checkpointing, pad to longest, max length 384, bf16 weights.
- ``b``  a competent user: HF model + peft, packed rows of 8,192 tokens with position ids restarting
  per sample, ``attention_mask=None`` and ``use_cache=False`` (transformers then isolates the
  samples), no gradient checkpointing, a plain loop.
- ``b+liger``  ``b`` with Liger's fused kernels (only when liger-kernel is importable; Liger's
  patches to transformers' Llama classes are undone after it).
- ``c``  our trainer as a user runs it: ``studio.train.recipe.run`` on a run folder with the
  preset the GPU gets; ``c:KEY=VALUE,...`` runs it with config overrides (``c:compile=true``).

Data: synthetic conversations with the length profile of the 甄嬛传 single-turn samples
(3,339 train samples). The histograms below were measured on the real samples with the
Qwen2.5 tokenizer (0.77 tokens per character); the Llama-3.1 chat template adds 35 tokens (its
header tokens and the default "Cutting Knowledge Date" system preamble) and the seed's system
prompt 9, so a sample is 88 tokens on average, 22 of them supervised (the reply + one end of turn).
The text is ASCII so the byte-level tokenizer gives exactly those lengths.

Each variant times ``--steps`` optimizer steps after ``--warmup`` steps. The parity column is the
packed-vs-unpacked check: the summed loss of a packed row against the same samples run one by
one, on a 2-layer model of the same width (fp32 where the kernel allows it, else bf16), with the
relative difference of a row whose attention crosses samples shown as the control.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

from studio.api import ModelSpec, Preset, Sample, Turn  # noqa: E402
from studio.train.data import IGNORE, Encoded, encode_samples  # noqa: E402
from studio.train.packing import collate  # noqa: E402

# tokens per sample of the 甄嬛传 single-turn data: (bin centre, count), bins of 8 tokens
USER_TOKENS = [
    (4, 735),
    (12, 890),
    (20, 724),
    (28, 468),
    (36, 312),
    (44, 219),
    (52, 136),
    (60, 97),
    (68, 50),
    (76, 36),
    (84, 24),
    (92, 9),
    (100, 15),
    (108, 4),
    (116, 2),
    (124, 5),
    (132, 1),
    (140, 5),
    (148, 3),
    (180, 2),
    (212, 1),
]
REPLY_TOKENS = [
    (4, 822),
    (12, 1038),
    (20, 669),
    (28, 443),
    (36, 260),
    (44, 157),
    (52, 131),
    (60, 77),
    (68, 54),
    (76, 35),
    (84, 18),
    (92, 13),
    (100, 7),
    (108, 4),
    (116, 5),
    (124, 2),
    (140, 2),
    (156, 1),
]
SYSTEM_TOKENS = 9
LLAMA31_OVERHEAD = (
    36  # <|begin_of_text|>, 3 headers of 4 tokens, 3 <|eot_id|>, the 20-token date preamble
)
TRAIN_SAMPLES = 3339

SHAPES = {
    "tiny": dict(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=320,
    ),
    "llama-8b": dict(
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        vocab_size=128256,
        rope_theta=500000.0,
    ),
}
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


# -- data ------------------------------------------------------------------------------------


def synthetic_samples(n: int, overhead: int, seed: int = 0) -> list[Sample]:
    """Conversations whose token lengths follow the histograms (one token per ASCII byte).

    Args:
        n: how many.
        overhead: tokens the byte tokenizer's template adds around an empty conversation; the
            system text makes up the difference to Llama-3.1's overhead.
        seed: seed of the draw.
    """
    rng = random.Random(seed)

    def draw(hist: list[tuple[int, int]]) -> int:
        centre = rng.choices([c for c, _ in hist], weights=[w for _, w in hist])[0]
        return max(1, centre + rng.randint(-4, 3))

    def text(length: int) -> str:
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ,.") for _ in range(length))

    system = text(SYSTEM_TOKENS + LLAMA31_OVERHEAD - overhead)
    return [
        Sample(
            id=f"s{i}",
            character="bench",
            system=system,
            turns=[
                Turn("user", text(draw(USER_TOKENS))),
                Turn("assistant", text(draw(REPLY_TOKENS))),
            ],
        )
        for i in range(n)
    ]


def tokenizer_and_overhead() -> tuple[Any, int]:
    from studio_models.tiny import build_tokenizer

    tokenizer = build_tokenizer("llama")
    empty = [
        {"role": "system", "content": ""},
        {"role": "user", "content": ""},
        {"role": "assistant", "content": ""},
    ]
    text = tokenizer.apply_chat_template(empty, tokenize=False)
    return tokenizer, len(tokenizer(text, add_special_tokens=False)["input_ids"])


def encode(tokenizer: Any, samples: list[Sample]) -> list[Encoded]:
    items, _ = encode_samples(
        tokenizer, samples, [tokenizer.convert_tokens_to_ids("<|eot_id|>")], 384
    )
    return items


def pack_sequential(items: list[Encoded], capacity: int) -> list[list[Encoded]]:
    """What a user writes: concatenate in order until the row is full."""
    rows: list[list[Encoded]] = [[]]
    used = 0
    for item in items:
        if used + len(item) > capacity:
            rows.append([])
            used = 0
        rows[-1].append(item)
        used += len(item)
    return rows


# -- models ----------------------------------------------------------------------------------


def build_model(shape: str, device: Any, dtype: Any, layers: int | None = None) -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        **{**SHAPES[shape], **({"num_hidden_layers": layers} if layers else {})},
        max_position_embeddings=8192,
        tie_word_embeddings=False,
        use_cache=False,
    )
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM._from_config(config, dtype=dtype)
    return model


def add_lora(model: Any, alpha: int, dropout: float) -> Any:
    from peft import LoraConfig, get_peft_model

    return get_peft_model(
        model,
        LoraConfig(
            r=8,
            lora_alpha=alpha,
            lora_dropout=dropout,
            target_modules=TARGETS,
            task_type="CAUSAL_LM",
        ),
    )


def free(*objects: Any) -> None:
    for obj in objects:
        del obj
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


class Result(dict):
    """One row of the table."""


# -- parity ----------------------------------------------------------------------------------


def parity(shape: str, device: Any, items: list[Encoded], kind: str) -> tuple[float, float, str]:
    """Relative difference packed vs alone, and the same for a leaky row (the control)."""
    from studio.train import attention
    from studio.train.loss import supervised_loss

    dtype = torch.float32
    kernel = "segments"
    if kind == "c" and device.type == "cuda":
        kernel = attention.register("auto", "cuda")
        dtype = torch.bfloat16 if kernel == "varlen" else torch.float32
    model = build_model(shape, device, dtype, layers=2).eval()
    rows = items[:8]

    def hf_loss(
        batch: dict[str, Any], use_cache: bool = False
    ) -> float:  # b's loss: HF logits, supervised tokens
        logits = model(
            input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=use_cache
        ).logits
        labels = batch["labels"][:, 1:]
        mask = labels != IGNORE
        return float(
            torch.nn.functional.cross_entropy(
                logits[:, :-1][mask].float(), labels[mask], reduction="sum"
            )
        )

    with torch.no_grad():
        alone = 0.0
        for item in rows:
            batch = {k: v.to(device) if hasattr(v, "to") else v for k, v in collate([item]).items()}
            alone += hf_loss(batch)
        row = {k: v.to(device) if hasattr(v, "to") else v for k, v in collate(rows).items()}
        if kind == "c":
            attention.register(kernel, device.type)
            attention.use_packed_attention(model)
            packed = float(supervised_loss(model, row)[0])
            # control: positions still restart, but attention runs over the whole row
            leaky = float(
                supervised_loss(
                    model, {k: v for k, v in row.items() if k not in ("cu_seqlens", "max_seqlen")}
                )[0]
            )
        else:
            packed = hf_loss(row)
            leaky = hf_loss(
                row, use_cache=True
            )  # control: the KV cache makes transformers skip isolation
    free(model)
    return (
        abs(packed - alone) / alone,
        abs(leaky - alone) / alone,
        f"{str(dtype).replace('torch.', '')} {kernel}",
    )


# -- variants --------------------------------------------------------------------------------


def run_seed(
    shape: str,
    device: Any,
    dtype: Any,
    items: list[Encoded],
    tokenizer: Any,
    warmup: int,
    steps: int,
) -> Result:
    """(a) HF Trainer + peft as the seed tutorial runs it."""
    from torch.utils.data import SequentialSampler
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainerCallback, TrainingArguments

    model = build_model(shape, device, dtype)
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.enable_input_require_grads()
    model = add_lora(model, alpha=32, dropout=0.1)
    data = [
        {
            "input_ids": i.input_ids,
            "attention_mask": [1] * len(i),
            "labels": [IGNORE] + i.labels[1:],
        }
        for i in items
    ]
    times: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            sync()
            times.append(time.perf_counter())

    class SeedTrainer(Trainer):
        def _get_train_sampler(
            self, *args: Any, **kwargs: Any
        ) -> Any:  # a known order: tokens per step are exact
            return SequentialSampler(self.train_dataset)

    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            out,
            per_device_train_batch_size=4,
            gradient_accumulation_steps=4,
            learning_rate=1e-4,
            max_steps=warmup + steps,
            gradient_checkpointing=True,
            logging_steps=10,
            save_strategy="no",
            report_to=[],
            remove_unused_columns=False,
            disable_tqdm=True,
            dataloader_num_workers=0,
            use_cpu=device.type == "cpu",
        )
        collator = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=IGNORE)
        trainer = SeedTrainer(
            model=model, args=args, train_dataset=data, data_collator=collator, callbacks=[Clock()]
        )
        _reset_peak(device)
        trainer.train()
    per_step = 16
    timed = items[warmup * per_step : (warmup + steps) * per_step]
    real = sum(len(i) for i in timed)
    padded = sum(4 * max(len(i) for i in timed[k : k + 4]) for k in range(0, len(timed), 4))
    seconds = times[-1] - times[warmup - 1]
    result = Result(
        real=real,
        supervised=sum(i.supervised for i in timed),
        seconds=seconds,
        padding=1 - real / padded,
        peak_gb=_peak(device),
    )
    free(trainer, model)
    return result


def run_user(
    shape: str, device: Any, dtype: Any, items: list[Encoded], warmup: int, steps: int, liger: bool
) -> Result:
    """(b) HF model + peft, packed 8,192-token rows, no checkpointing, a plain loop."""
    restore = None
    if liger:
        from liger_kernel.transformers import apply_liger_kernel_to_llama

        restore = _snapshot_llama()
        apply_liger_kernel_to_llama(
            rope=True, rms_norm=True, swiglu=True, fused_linear_cross_entropy=True
        )
    try:
        return _user_loop(shape, device, dtype, items, warmup, steps)
    finally:
        if restore:
            restore()


def _snapshot_llama() -> Any:
    """Liger patches transformers' Llama module and classes;
    this undoes it for the variants after."""
    from transformers.models.llama import modeling_llama

    module_vars = dict(vars(modeling_llama))
    classes = {v: dict(vars(v)) for v in module_vars.values() if isinstance(v, type)}

    def restore() -> None:
        for name, value in module_vars.items():
            setattr(modeling_llama, name, value)
        for cls, attrs in classes.items():
            for name in [n for n in vars(cls) if n not in attrs]:
                delattr(cls, name)
            for name, value in attrs.items():
                if name not in ("__dict__", "__weakref__") and vars(cls).get(name) is not value:
                    setattr(cls, name, value)

    return restore


def _user_loop(
    shape: str, device: Any, dtype: Any, items: list[Encoded], warmup: int, steps: int
) -> Result:
    model = add_lora(build_model(shape, device, dtype), alpha=32, dropout=0.1)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    rows = pack_sequential(items, 8192)
    _reset_peak(device)
    real = supervised = 0
    start = 0.0
    for index, row in enumerate(rows[: warmup + steps]):
        if index == warmup:
            sync()
            start = time.perf_counter()
        batch = {
            k: v.to(device)
            for k, v in collate(row).items()
            if k in ("input_ids", "labels", "position_ids")
        }
        loss = model(**batch, use_cache=False).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if index >= warmup:
            real += sum(len(i) for i in row)
            supervised += sum(i.supervised for i in row)
    sync()
    result = Result(
        real=real,
        supervised=supervised,
        seconds=time.perf_counter() - start,
        padding=0.0,
        peak_gb=_peak(device),
    )
    free(optimizer, model)
    return result


def run_ours(
    shape: str,
    device: Any,
    samples: list[Sample],
    warmup: int,
    steps: int,
    overrides: dict[str, Any],
) -> Result:
    """(c) studio.train.recipe.run on a run folder, with the preset this GPU gets."""
    from studio.train.events import read_events
    from studio.train.recipe import run
    from studio.train.runconfig import RunConfig
    from studio.train.runner import pick_preset

    adapter = BenchAdapter(shape)
    preset = pick_preset(adapter, "cpu-tiny" if device.type == "cpu" else "")
    with tempfile.TemporaryDirectory() as folder:
        run_dir = Path(folder)
        spec = ModelSpec(
            name=f"bench-{shape}", source="local", adapter=adapter.name, cache_dir=folder
        )
        settings = {
            **preset.settings,
            "lora_r": 8,
            "lora_targets": TARGETS,
            "max_steps": warmup + steps,
            "eval_every": 0,
            "save_every": 0,
            "log_every": 1,
            "max_length": 384,
            **overrides,
        }
        config = RunConfig.from_dict(
            {"model": spec.__dict__, "persona": samples[0].system, **settings}
        )
        (run_dir / "config.json").write_text(json.dumps(config.__dict__))
        (run_dir / "samples.jsonl").write_text(
            "\n".join(json.dumps(s.to_json()) for s in samples) + "\n"
        )
        _reset_peak(device)
        code = run(run_dir, adapters={adapter.name: adapter})
        events = read_events(run_dir / "events.jsonl")
    if code != 0:
        raise RuntimeError(
            next((e["error"] for e in events if e["event"] == "failed"), "the run failed")
        )
    step_events = [e for e in events if e["event"] == "step"]
    print(
        "  steps (t, tokens, tok/s):",
        [
            (e["step"], round(e["t"] % 1000, 2), e["tokens"], round(e["tokens_per_s"]))
            for e in step_events
        ],
        flush=True,
    )
    print("  last step event:", json.dumps(step_events[-1]), flush=True)
    timed = step_events[warmup:]
    seconds = timed[-1]["t"] - step_events[warmup - 1]["t"]
    config = next(e for e in events if e["event"] == "config")
    return Result(
        real=sum(e["tokens"] for e in timed),
        supervised=sum(e["supervised"] for e in timed),
        seconds=seconds,
        padding=0.0,
        peak_gb=_peak(device),
        preset=preset.name,
        note=f"{config['attention']}, dropout {config['config']['lora_dropout']}, "
        f"{config['config']['tokens_per_batch']} tok/step"
        + (", compiled" if config["config"]["compile"] else ""),
    )


class BenchAdapter:
    """A model adapter whose model is random weights at a shape (no download),
    with the tiny Llama tokenizer."""

    def __init__(self, shape: str) -> None:
        from studio.api.hf_adapter import LORA_PRESETS

        self.shape = shape
        self.name = f"bench-{shape}"
        self.description = "random weights for benchmarks"
        self.patterns = (self.name,)
        self.lora_targets = TARGETS
        self.end_of_turn = ("<|eot_id|>",)
        self.presets: tuple[Preset, ...] = LORA_PRESETS

    def fetch(self, spec: ModelSpec, progress: Any = None) -> Path:
        from studio_models.tiny import build_tokenizer

        folder = Path(spec.cache_dir or tempfile.mkdtemp()) / "tokenizer"
        build_tokenizer("llama").save_pretrained(folder)
        return folder

    def load_tokenizer(self, path: Path, spec: ModelSpec) -> Any:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(path))

    def load_model(
        self, path: Path, spec: ModelSpec, *, dtype: Any, device: Any, quantization: str = ""
    ) -> Any:
        return build_model(self.shape, device, dtype)


def _reset_peak(device: Any) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()


def _peak(device: Any) -> float:
    return torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")


# -- main ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="tiny")
    parser.add_argument(
        "--variants",
        default="a,b,b+liger,c",
        help="comma list: a, b, b+liger, c, c:key=value;key=value",
    )
    parser.add_argument(
        "--warmup", type=int, default=0, help="untimed steps first (default: 2, 1 for tiny)"
    )
    parser.add_argument("--steps", type=int, default=0, help="timed steps (default: 4, 2 for tiny)")
    parser.add_argument("--out", default="", help="also write the results as JSON here")
    args = parser.parse_args()
    args.warmup = args.warmup or (1 if args.shape == "tiny" else 2)
    args.steps = args.steps or (2 if args.shape == "tiny" else 4)

    from studio.train.base_model import quiet_transformers

    quiet_transformers()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    tokenizer, overhead = tokenizer_and_overhead()
    samples = synthetic_samples(TRAIN_SAMPLES, overhead)
    items = encode(tokenizer, samples)
    epoch_tokens = sum(len(i) for i in items)
    print(
        f"data: {len(items)} samples, mean {epoch_tokens / len(items):.1f} tokens, supervised "
        f"{sum(i.supervised for i in items) / epoch_tokens:.1%}; device {device}"
        + (f" ({torch.cuda.get_device_name()})" if device.type == "cuda" else "")
        + f", {versions()}",
        flush=True,
    )
    results: dict[str, Result] = {}
    for name in [v.strip() for v in args.variants.split(",") if v.strip()]:
        kind, _, extra = name.partition(":")
        overrides = {
            k: json.loads(v) for k, v in (pair.split("=", 1) for pair in extra.split(";") if pair)
        }
        t0 = time.perf_counter()
        try:
            if kind == "b+liger":
                import liger_kernel  # noqa: F401  (skip cleanly when absent)
            if kind == "a":
                result = run_seed(
                    args.shape, device, dtype, items, tokenizer, args.warmup, args.steps
                )
                result["parity"] = "n/a (padded)"
            elif kind in ("b", "b+liger"):
                check = parity(args.shape, device, items, "b")
                result = run_user(
                    args.shape,
                    device,
                    dtype,
                    items,
                    args.warmup,
                    args.steps,
                    liger=kind == "b+liger",
                )
                result["parity"] = f"{check[0]:.1e} (leak {check[1]:.1e}, {check[2]})"
                result["parity_ok"] = check[0] < 1e-3
            elif kind == "c":
                check = parity(args.shape, device, items, "c")
                result = run_ours(args.shape, device, samples, args.warmup, args.steps, overrides)
                result["parity"] = f"{check[0]:.1e} (leak {check[1]:.1e}, {check[2]})"
                result["parity_ok"] = check[0] < 1e-3
            else:
                raise ValueError(f"unknown variant {kind!r}")
        except ImportError as exc:
            print(f"{name}: skipped ({exc})", flush=True)
            continue
        except Exception as exc:  # one variant failing must not lose the others
            import traceback

            traceback.print_exc()
            print(f"{name}: FAILED {type(exc).__name__}: {exc}", flush=True)
            results[name] = Result(error=f"{type(exc).__name__}: {exc}")
            continue
        result["wall_s"] = time.perf_counter() - t0
        result["tok_s"] = result["real"] / result["seconds"]
        result["sup_s"] = result["supervised"] / result["seconds"]
        result["epochs3_s"] = 3 * epoch_tokens / result["tok_s"]
        results[name] = result
        print(
            f"{name}: {result['tok_s']:.0f} tok/s, parity {result.get('parity')}, "
            f"{result['wall_s']:.0f}s wall",
            flush=True,
        )
        if args.out:  # after every variant: a run cut short keeps what it measured
            Path(args.out).write_text(json.dumps(results, indent=2))
    table(results)
    return 0


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for name in ("torch", "transformers", "peft", "liger-kernel"):
        try:
            out.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            out.append(f"{name} -")
    return ", ".join(out)


def table(results: dict[str, Result]) -> None:
    ok = {k: r for k, r in results.items() if "error" not in r}
    base_a = ok.get("a", {}).get("tok_s")
    base_b = max((r["tok_s"] for k, r in ok.items() if k.startswith("b")), default=None)
    print()
    print(
        "| variant | real tok/s | supervised tok/s | padding | peak GiB | 3 epochs "
        "| packed-vs-unpacked rel. diff | c/a | c/b |"
    )
    print("|---|---:|---:|---:|---:|---:|---|---:|---:|")
    for name, r in results.items():
        if "error" in r:
            print(f"| {name} | failed: {r['error'][:80]} | | | | | | | |")
            continue
        ca = f"{r['tok_s'] / base_a:.1f}x" if base_a and name.startswith("c") else ""
        cb = f"{r['tok_s'] / base_b:.2f}x" if base_b and name.startswith("c") else ""
        label = name + (f" ({r['note']})" if r.get("note") else "")
        print(
            f"| {label} | {r['tok_s']:,.0f} | {r['sup_s']:,.0f} | {r['padding']:.1%} "
            f"| {r['peak_gb']:.1f} | "
            f"{_duration(r['epochs3_s'])} | {r.get('parity', '')} | {ca} | {cb} |"
        )
    print(
        "\n3 epochs: the time for 3 passes over the 3,339 training samples at the measured rate; "
        "c/b is against the fastest b variant."
    )


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "-"
    minutes, sec = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{sec:02d}s"


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
