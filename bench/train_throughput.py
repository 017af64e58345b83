"""Provides the training-throughput bench: the seed's recipe, what a careful user runs with
transformers' own fast paths, and ours, side by side in one process, one factor per row.

    python bench/train_throughput.py --shape tiny --row-tokens 2048 --steps 3   # any CPU
    python bench/train_throughput.py --shape llama-8b --out r.json              # one GPU

Variants (LoRA r 8 on all 7 projections everywhere; random weights from a config, no download):

- ``a``  the seed: HF Trainer + peft, alpha 32, dropout 0.1, batch 4 x grad-accum 4, gradient
  checkpointing, pad to longest, max length 384, bf16 weights.
- ``b[+liger][+varlen][+compile][+recipe]``  HF model + peft on packed rows of 8,192 tokens with
  position ids restarting per sample, ``attention_mask=None``, ``use_cache=False``, a plain loop;
  each flag adds one difference (see ``train_models``): Liger's kernels, transformers' varlen
  attention path, compiled decoder layers, c's recipe (dropout 0, no fp32 input casts).
- ``c``  our trainer as a user runs it: ``studio.train.recipe.run`` on a run folder with the
  preset the GPU gets; ``c:KEY=VALUE;...`` runs it with config overrides (``c:lora_dropout=0.1``).

Data: synthetic conversations with the length profile of the 甄嬛传 single-turn samples
(3,339 train samples). The histograms below were measured on the real samples with the
Qwen2.5 tokenizer (0.77 tokens per character); the Llama-3.1 chat template adds 35 tokens (its
header tokens and the default "Cutting Knowledge Date" system preamble) and the seed's system
prompt 9, so a sample is 88 tokens on average, 22 of them supervised (the reply + one end of turn).
The text is ASCII so the byte-level tokenizer gives exactly those lengths.

Each row: the median tokens/s of ``--repeats`` runs of ``--steps`` optimizer steps after
``--warmup`` steps, peak memory allocated and reserved, the time to the first optimizer step
(compilation included) and the end-to-end time of 3 epochs. Parity (``train_parity``): for b rows,
a packed row against its samples run one by one through the same attention path, with a leaking
row as the control; for c rows, c's timed configuration against plain HF + peft one sample at a
time, loss and LoRA gradients, on ``--parity-shape``.
"""

from __future__ import annotations

import argparse
import functools
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
sys.path[:0] = [str(ROOT), str(ROOT / "plugins"), str(ROOT / "bench")]

from train_models import (  # noqa: E402
    SHAPES,
    TARGETS,
    BenchAdapter,
    Timeline,
    add_lora,
    build_model,
    free,
    parse_flags,
    peak,
    reset_peak,
    run_user,
    sync,
    varlen_implementation,
)
from train_parity import c_parity, isolation  # noqa: E402

from studio.api import ModelSpec, Sample, Turn  # noqa: E402
from studio.train.data import IGNORE, Encoded, encode_samples  # noqa: E402

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


# -- variants --------------------------------------------------------------------------------


def run_seed(
    shape: str,
    device: Any,
    dtype: Any,
    items: list[Encoded],
    tokenizer: Any,
    warmup: int,
    repeats: int,
    steps: int,
) -> dict[str, Any]:
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

    total = warmup + repeats * steps
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            out,
            per_device_train_batch_size=4,
            gradient_accumulation_steps=4,
            learning_rate=1e-4,
            max_steps=total,
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
        reset_peak(device)
        sync()
        start = time.perf_counter()
        trainer.train()
    per_step = 16
    line = Timeline(first_step_s=times[0] - start, ends=times)
    for k in range(total):
        step_items = [items[(k * per_step + j) % len(items)] for j in range(per_step)]
        line.tokens.append(sum(len(i) for i in step_items))
        line.supervised.append(sum(i.supervised for i in step_items))
    timed = items[warmup * per_step : total * per_step]
    real = sum(len(i) for i in timed)
    padded = sum(4 * max(len(i) for i in timed[k : k + 4]) for k in range(0, len(timed), 4))
    result = {
        **line.rates(warmup, repeats, steps),
        **peak(device),
        "padding": 1 - real / padded,
        "note": "sdpa, dropout 0.1, 4 x 4 padded, gradient checkpointing",
    }
    del trainer, model
    free()
    return result


def run_ours(
    shape: str,
    device: Any,
    samples: list[Sample],
    warmup: int,
    repeats: int,
    steps: int,
    overrides: dict[str, Any],
) -> dict[str, Any]:
    """(c) studio.train.recipe.run on a run folder, with the preset this GPU gets."""
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
            "max_steps": warmup + repeats * steps,
            "eval_every": 0,
            "save_every": 0,
            "log_every": 1,
            "max_length": 384,
            **overrides,
        }
        config = RunConfig.from_dict(
            {"model": spec.__dict__, "persona": samples[0].system, **settings}
        )
        from studio.train.rundir import RunDir

        RunDir(run_dir).write_config(config.__dict__)
        RunDir(run_dir).write_samples(samples)
        reset_peak(device)
        code = run(run_dir, adapters={adapter.name: adapter})
        line, error, used = run_timeline(run_dir)
    if code != 0:
        raise RuntimeError(error or "the run failed")
    torch._dynamo.reset()
    free()
    result = {**line.rates(warmup, repeats, steps), **peak(device), "padding": 0.0}
    result["note"] = (
        f"preset {preset.name}: {used['attention']}, dropout {used['lora_dropout']}, "
        f"{used['tokens_per_batch']} tok/step" + (", compiled" if used["compile"] else "")
    )
    return result


def run_timeline(run_dir: Path) -> tuple[Timeline, str, dict[str, Any]]:
    """What c's run folder says: its steps, its error, the settings it used.

    The only place the bench reads the run's events: the first step's time is measured from the
    ``config`` event (logged when the model, LoRA and optimizer are ready, before any compile).
    """
    from studio.train.events import ConfigEvent, FailedEvent, StepEvent
    from studio.train.rundir import RunDir

    events = RunDir(run_dir).events()
    error = next((e.error for e in events if isinstance(e, FailedEvent)), "")
    config = next((e for e in events if isinstance(e, ConfigEvent)), None)
    steps = [e for e in events if isinstance(e, StepEvent)]
    if config is None or not steps:
        return Timeline(), error, {}
    line = Timeline(
        first_step_s=steps[0].t - config.t,
        ends=[e.t for e in steps],
        tokens=[e.tokens for e in steps],
        supervised=[e.supervised for e in steps],
    )
    used = {**config.config, "attention": config.attention}
    return line, error, used


# -- main ------------------------------------------------------------------------------------


DEFAULT_VARIANTS = (
    "a,b,b+liger,b+varlen,b+liger+varlen,b+liger+varlen+compile,b+recipe,b+liger+varlen+recipe,"
    "c,c:lora_dropout=0.1"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="tiny")
    parser.add_argument(
        "--variants",
        default=DEFAULT_VARIANTS,
        help="comma list: a, b[+liger][+varlen][+compile][+recipe], c, c:key=value;key=value",
    )
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per repeat")
    parser.add_argument("--repeats", type=int, default=3, help="repeats; the row is their median")
    parser.add_argument(
        "--varlen-impl",
        default="auto",
        help="attention implementation of +varlen (auto: flash_attention_2 when flash-attn is "
        "importable on CUDA, else flex_attention; or any name transformers accepts)",
    )
    parser.add_argument(
        "--parity-shape",
        default="",
        choices=["", *sorted(SHAPES)],
        help="c's loss-and-gradient parity on this shape (default: llama-8b-narrow on CUDA, "
        "tiny on the CPU); 'none' is not a shape: use --no-parity",
    )
    parser.add_argument(
        "--row-tokens",
        type=int,
        default=8192,
        help="b's packed row length (8,192 as c's GPU preset; smaller only to check code on a CPU)",
    )
    parser.add_argument(
        "--b-accum",
        default="auto",
        help="b rows: split each step's --row-tokens into this many rows with gradient "
        "accumulation (auto: 1, doubled after each out-of-memory, as a user finds what fits)",
    )
    parser.add_argument("--no-parity", action="store_true", help="skip every parity check")
    parser.add_argument("--out", default="", help="also write the results as JSON here")
    parser.add_argument(
        "--append",
        action="store_true",
        help="start from the rows in --out (a table measured in several runs on one machine)",
    )
    args = parser.parse_args()
    if args.warmup < 1 or args.steps < 1 or args.repeats < 1:
        parser.error("--warmup, --steps and --repeats must be at least 1")

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
        + f", {versions()}; {args.warmup} warm-up + {args.repeats} x {args.steps} timed steps",
        flush=True,
    )
    results: dict[str, dict[str, Any]] = {}
    if args.append and args.out and Path(args.out).exists():
        results = json.loads(Path(args.out).read_text())
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    c_check: dict[str, Any] | None = None
    if not args.no_parity and any(n.startswith("c") for n in names):
        shape = args.parity_shape or ("llama-8b-narrow" if device.type == "cuda" else "tiny")
        c_check = checked("c parity", lambda: c_parity(shape, device, items[:24]))
        results["parity:c"] = c_check
    for name in names:
        results.pop(name, None)
        kind, _, extra = name.partition(":")
        overrides = {
            k: json.loads(v) for k, v in (pair.split("=", 1) for pair in extra.split(";") if pair)
        }
        t0 = time.perf_counter()
        reps = (args.warmup, args.repeats, args.steps)
        try:
            if "liger" in kind.split("+"):
                import liger_kernel  # noqa: F401  (skip cleanly when absent)
            if kind == "a":
                result = run_seed(args.shape, device, dtype, items, tokenizer, *reps)
                result["parity"] = "n/a (padded)"
            elif kind.startswith("b"):
                flags = parse_flags(kind)
                attn = (
                    varlen_implementation(device, args.varlen_impl) if "varlen" in flags else "sdpa"
                )
                if not args.no_parity:
                    check = isolation(args.shape, device, items, attn)
                    result_parity = (
                        f"{check['rel']:.1e} (leak {check['leak']:.1e}, {check['dtype']} {attn})"
                    )
                result = run_fitting(
                    functools.partial(
                        run_user,
                        kind,
                        args.shape,
                        device,
                        dtype,
                        items,
                        *reps,
                        args.varlen_impl,
                        args.row_tokens,
                    ),
                    args.b_accum,
                )
                if not args.no_parity:
                    result["parity"] = result_parity
                    result["parity_ok"] = check["rel"] < 1e-3 < check["leak"]
            elif kind == "c":
                result = run_ours(args.shape, device, samples, *reps, overrides)
                if overrides:  # dropout > 0 or other settings: the check covers the preset only
                    result["parity"] = "n/a (settings differ from the preset checked)"
                elif c_check and "error" not in c_check:
                    result["parity"] = (
                        f"loss {c_check['loss_rel']:.1e}, grad {c_check['grad_rel']:.1e}"
                        + ("" if c_check["ok"] else " FAIL")
                    )
            else:
                raise ValueError(f"unknown variant {kind!r}")
        except ImportError as exc:
            print(f"{name}: skipped ({exc})", flush=True)
            results[name] = {"error": f"skipped: {exc}"}
            continue
        except Exception as exc:  # one variant failing must not lose the others
            import traceback

            traceback.print_exc()
            print(f"{name}: FAILED {type(exc).__name__}: {exc}", flush=True)
            results[name] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"}
        if "error" in results.get(name, {}):  # out of the except block: its frames are gone
            torch._dynamo.reset()
            free()  # a row out of memory must not leave its tensors to the next
            continue
        result["wall_s"] = time.perf_counter() - t0
        # 3 epochs end to end: the first step as measured (compile included), the rest at the rate
        rest = 3 * epoch_tokens - result["first_step_tokens"]
        result["epochs3_s"] = result["first_step_s"] + rest / result["tok_s"]
        results[name] = result
        print(
            f"{name}: {result['tok_s']:.0f} tok/s {[round(x) for x in result['repeats_tok_s']]}, "
            "first step "
            f"{result['first_step_s']:.1f}s, parity {result.get('parity')}, "
            f"{result['wall_s']:.0f}s wall",
            flush=True,
        )
        if args.out:  # after every variant: a run cut short keeps what it measured
            Path(args.out).write_text(json.dumps(results, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))
    table(results)
    return 0


def run_fitting(run: Any, accum: str) -> dict[str, Any]:
    """``run(accum)`` with the given accumulation, or (``auto``) the fewest rows a step that fit
    in memory: 1, 2, 4, 8."""
    sizes = (1, 2, 4, 8) if accum == "auto" else (int(accum),)
    for rows in sizes[:-1]:
        try:
            return run(rows)
        except torch.OutOfMemoryError as exc:
            print(f"  out of memory with {rows} row(s) a step ({exc!s:.60}); trying {rows * 2}")
        free()
    return run(sizes[-1])


def checked(label: str, fn: Any) -> dict[str, Any]:
    """Run a parity check; a failure to run is reported, not raised."""
    try:
        out = fn()
    except Exception as exc:
        import traceback

        traceback.print_exc()
        return {"error": f"{type(exc).__name__}: {exc}"}
    print(f"{label}: {json.dumps(out)}", flush=True)
    return out


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for name in ("torch", "transformers", "peft", "liger-kernel"):
        try:
            out.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            out.append(f"{name} -")
    return ", ".join(out)


def table(results: dict[str, dict[str, Any]]) -> None:
    rows = {k: r for k, r in results.items() if not k.startswith("parity:")}
    ok = {k: r for k, r in rows.items() if "error" not in r}
    base_a = ok.get("a", {}).get("tok_s")
    strongest = max((k for k in ok if k.startswith("b")), key=lambda k: ok[k]["tok_s"], default="")
    base_b = ok[strongest]["tok_s"] if strongest else None
    print()
    print(
        "| variant | tok/s (median) | supervised tok/s | repeats | padding | peak alloc GiB "
        "| peak reserved GiB | first step | 3 epochs | parity | c/a | c/b |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---|---:|---:|")
    for name, r in rows.items():
        if "error" in r:
            print(f"| {name} | {r['error'][:90]} | | | | | | | | | | |")
            continue
        ca = f"{r['tok_s'] / base_a:.1f}x" if base_a and name.startswith("c") else ""
        cb = f"{r['tok_s'] / base_b:.2f}x" if base_b and name.startswith("c") else ""
        label = name + (f" ({r['note']})" if r.get("note") else "")
        spread = "/".join(f"{x:,.0f}" for x in r["repeats_tok_s"])
        print(
            f"| {label} | {r['tok_s']:,.0f} | {r['sup_s']:,.0f} | {spread} | {r['padding']:.1%} "
            f"| {r['peak_gb']:.1f} | {r['reserved_gb']:.1f} | {r['first_step_s']:.1f}s "
            f"| {_duration(r['epochs3_s'])} | {r.get('parity', '')} | {ca} | {cb} |"
        )
    print(
        "\nfirst step: from the start of the loop to the end of the first optimizer step "
        "(compilation included). 3 epochs: that first step plus 3 passes over the 3,339 training "
        f"samples at the median rate. c/b is against the strongest b ({strongest or '-'})."
    )
    c_check = results.get("parity:c")
    if c_check:
        if "error" in c_check:
            print(f"c parity: could not run: {c_check['error']}")
        else:
            floor = (
                f"; plain HF + peft in the same dtype: loss {c_check['floor_loss']:.1e}, "
                f"grad {c_check['floor_grad']:.1e}"
                if "floor_loss" in c_check
                else ""
            )
            print(
                f"c parity ({c_check['what']}) against plain HF + peft one sample at a time in "
                f"fp32: loss rel. diff {c_check['loss_rel']:.1e} "
                f"(tolerance {c_check['tol_loss']:.0e}),"
                f" worst of {c_check['n_grads']} LoRA gradients {c_check['grad_rel']:.1e} "
                f"(tolerance {c_check['tol_grad']:.0e}){floor}: "
                + ("PASS" if c_check["ok"] else "FAIL")
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
