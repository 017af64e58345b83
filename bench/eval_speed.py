"""Provides a benchmark of the eval's model work: one item at a time vs batched; prints a table.

    python bench/eval_speed.py WORKSPACE [--run RUN] [--items 400] [--max-new-tokens 96]
                               [--max-batch 64] [--device cuda]

The four rows of ``persona-studio eval`` (base, base+memory, adapter, adapter+memory) on the
run's held-out items (repeated up to ``--items``): the loss of every real reply and a greedy
reply to every prompt, timed

- **one at a time**: one forward per loss, one request at a time on the single-request
  :class:`studio.chat.engine.Engine` (what ``eval`` did before);
- **batched**: :func:`studio.eval.batched.batch_losses` and
  :func:`studio.eval.batched.generate_all` on a :class:`studio.chat.batch.BatchEngine` (what
  ``eval`` does now: eager decoding, a static cache on CUDA);
- **batched compiled** (CUDA only): the same with the decode step compiled (CUDA graphs), its
  compile time counted, as ``eval`` did before.

Wall seconds and process CPU seconds (steadier when other jobs share the cores) per phase, the
ratio, and whether the batched replies equal the one-at-a-time ones. ``--one-at-a-time-items``
caps the slow side (its time is scaled up to all items, and said so).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workspace")
    parser.add_argument("--run", default="")
    parser.add_argument(
        "--items",
        type=int,
        default=0,
        help="held-out items (repeated to reach it; 0: as many as there are)",
    )
    parser.add_argument(
        "--one-at-a-time-items", type=int, default=0, help="time the slow side on this many only"
    )
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--memory", type=int, default=3)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()

    import torch

    from studio.api import Sample
    from studio.chat.batch import BatchEngine
    from studio.chat.memory import Memory, token_counter
    from studio.chat.persona import load_persona
    from studio.chat.sampling import Sampling
    from studio.chat.session import render_prompt, stream_text
    from studio.eval.batched import batch_losses, generate_all
    from studio.eval.evaluate import ROWS
    from studio.eval.items import heldout_samples
    from studio.fsutil import read_jsonl
    from studio.plugins import load_host
    from studio.train.rundir import pick_run
    from studio.workspace import Workspace

    ws = Workspace(args.workspace)
    host = load_host()
    run_dir = pick_run(ws, args.run)[0].path
    device = torch.device(args.device) if args.device else None
    persona = load_persona(
        ws, host.adapters, run=run_dir.name, merge=False, fast=False, device=device
    )
    held = heldout_samples(run_dir)
    if args.items:
        held = [held[i % len(held)] for i in range(args.items)]
    train = [
        s
        for s in (Sample.from_json(d) for d in read_jsonl(run_dir / "samples.jsonl"))
        if s.split == "train"
    ]
    tok = persona.loaded.tokenizer
    memory = Memory(train, k=args.memory, count_tokens=token_counter(tok))
    recalls = [memory.recall(persona.system, s.prompt).system for s in held]
    eot = persona.loaded.end_of_turn_ids
    model = persona.loaded.model
    greedy = Sampling(do_sample=False, seed=0)

    def conversations(row: str, items: list[int]) -> list[list[dict[str, str]]]:
        return [
            held[i].messages(recalls[i] if row.endswith("+memory") else persona.system)
            for i in items
        ]

    def clock() -> tuple[float, float]:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return time.perf_counter(), time.process_time()

    everything = list(range(len(held)))
    slow = everything[: args.one_at_a_time_items] if args.one_at_a_time_items else everything
    table: dict[str, dict[str, float]] = {}
    replies: dict[str, list[str]] = {}

    start = clock()
    for row in ROWS:
        batch_losses(
            model,
            tok,
            conversations(row, slow),
            eot,
            use_adapter=row.startswith("adapter"),
            batch_tokens=1,
        )
    mid = clock()
    replies["one"] = []
    for row in ROWS:
        for messages in conversations(row, slow):
            ids = render_prompt(tok, messages[:-1])
            replies["one"].append(
                "".join(
                    stream_text(
                        persona.engine,
                        tok,
                        ids,
                        sampling=greedy,
                        max_new_tokens=args.max_new_tokens,
                        use_adapter=row.startswith("adapter"),
                    )
                ).strip()
            )
    end = clock()
    scale = len(everything) / len(slow)
    table["one at a time"] = {
        "loss_wall": (mid[0] - start[0]) * scale,
        "loss_cpu": (mid[1] - start[1]) * scale,
        "gen_wall": (end[0] - mid[0]) * scale,
        "gen_cpu": (end[1] - mid[1]) * scale,
    }

    fast = getattr(next(model.parameters()).device, "type", "cpu") == "cuda"
    prompts = [
        (render_prompt(tok, m[:-1]), row.startswith("adapter"))
        for row in ROWS
        for m in conversations(row, everything)
    ]
    tokens = 0
    # what eval does (eager decoding; a static cache on CUDA), and on CUDA the same with the
    # decode step compiled, its compile time counted: a graph per batch size and adapter setting
    for name, compiled in [("batched", False)] + ([("batched compiled", True)] if fast else []):
        start = clock()
        engine = BatchEngine(
            model,
            eot,
            max_batch=args.max_batch,
            max_cache_len=persona.engine.capacity,
            vocab_size=persona.engine.vocab_size,
            static=fast,
            compiled=compiled,
        )
        for row in ROWS:
            batch_losses(
                model,
                tok,
                conversations(row, everything),
                eot,
                use_adapter=row.startswith("adapter"),
            )
        mid = clock()
        replies[name], tokens = generate_all(
            engine, tok, prompts, max_new_tokens=args.max_new_tokens, sampling=greedy
        )
        end = clock()
        engine.close()
        table[name] = {
            "loss_wall": mid[0] - start[0],
            "loss_cpu": mid[1] - start[1],
            "gen_wall": end[0] - mid[0],
            "gen_cpu": end[1] - mid[1],
        }

    where = "GPU " + torch.cuda.get_device_name() if fast else "CPU"
    print(
        f"{len(held)} held-out items x {len(ROWS)} rows on {persona.label} "
        f"({ws.config.model.name}, {where}); "
        f"up to {args.max_new_tokens} new tokens, {tokens} generated; max batch {args.max_batch}"
        + ("; compiled: compile time counted" if fast else "")
    )
    if scale != 1:
        print(
            f"one at a time: timed on {len(slow)} items, scaled x{scale:.1f} to {len(everything)}"
        )
    print(
        f"{'':<16}"
        + "".join(f"{h:>12}" for h in ("loss wall s", "loss cpu s", "gen wall s", "gen cpu s"))
        + f"{'total wall':>12}{'total cpu':>12}"
    )
    for name, t in table.items():
        print(
            f"{name:<16}{t['loss_wall']:>12.1f}{t['loss_cpu']:>12.1f}{t['gen_wall']:>12.1f}{t['gen_cpu']:>12.1f}"
            f"{t['loss_wall'] + t['gen_wall']:>12.1f}{t['loss_cpu'] + t['gen_cpu']:>12.1f}"
        )
    one, batched = table["one at a time"], table["batched"]
    wall = (one["loss_wall"] + one["gen_wall"]) / max(
        1e-9, batched["loss_wall"] + batched["gen_wall"]
    )
    cpu = (one["loss_cpu"] + one["gen_cpu"]) / max(1e-9, batched["loss_cpu"] + batched["gen_cpu"])
    print(f"ratio one-at-a-time / batched: wall x{wall:.1f}, cpu x{cpu:.1f}")
    if "batched compiled" in table:
        compiled = table["batched compiled"]
        ratio = (compiled["loss_wall"] + compiled["gen_wall"]) / max(
            1e-9, batched["loss_wall"] + batched["gen_wall"]
        )
        print(f"ratio batched compiled / batched: wall x{ratio:.2f}")
    if scale == 1:
        same = sum(a == b for a, b in zip(replies["one"], replies["batched"], strict=True))
        print(f"batched greedy replies equal to one-at-a-time: {same}/{len(replies['one'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
