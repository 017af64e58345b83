"""Provides ``persona-studio eval``: did the fine-tune work, and would memory do as well?

One model is loaded with the adapter unmerged; the base model is the same weights with the
adapter disabled (and the same persona prompt). Up to four rows answer the very same held-out
items: ``base`` (base + card), ``base+memory``, ``adapter`` and ``adapter+memory``, where memory
puts the character's k most similar real exchanges of the run's **train split** into the system
prompt (:mod:`studio.chat.memory`; an item's own reply is never among them). Per row:

- **loss per character** of the character's real lines (the summed token losses of each reply,
  masked exactly as in training, over the reply's characters: comparable across tokenizers),
  and the per-token loss / perplexity;
- **chrF and ROUGE-L** of each greedy reply against the real line;
- **style**: a classifier trained on the corpus (the character's lines vs other speakers'),
  held-out lines excluded, scores each reply P(character); its held-out accuracy is reported;
- **identity probes** (six: "你是谁？", "你叫什么名字？" and four phrasings that no identity
  sample of the training set uses, "怎么称呼你？", "报上名来。"…): does the reply name her?
- mean reply length against her real lines, empty replies, echoes of the prompt, a verdict.

Losses are scored many conversations per forward and replies are generated together on the
batched engine (:mod:`studio.eval.batched`). The report lands in ``runs/<id>/eval/``:
``report.json``, ``report.md`` (the table the CLI prints and the TUI shows) and ``items.jsonl``
(every item with each row's reply and the ids memory retrieved for it).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from studio.api.text import has_cjk
from studio.chat.batch import BatchEngine
from studio.chat.memory import Memory, token_counter
from studio.chat.persona import load_persona
from studio.chat.sampling import Sampling
from studio.chat.session import SAMPLING_PRESETS, render_prompt
from studio.errors import StudioError
from studio.eval.batched import batch_losses, generate_all
from studio.eval.items import heldout_samples, memory_contexts, names_of, side_by_side, style_lines
from studio.eval.metrics import chrf, corpus_chrf, count_unusable, names_character, rouge_l
from studio.eval.report import verdict, write_report
from studio.eval.style import StyleClassifier
from studio.train.rundir import RunDir, pick_run

# the first two are asked in training's identity samples, the other four never: a persona that
# knows who she is answers them too, one that learnt two answers by heart does not
PROBES_ZH = (
    "你是谁？",
    "你叫什么名字？",
    "怎么称呼你？",
    "报上名来。",
    "你到底是什么人？",
    "我该叫你什么？",
)
PROBES_EN = (
    "Who are you?",
    "What is your name?",
    "What should I call you?",
    "Who might you be?",
    "Tell me your name.",
    "And you are...?",
)
ROWS = ("base", "base+memory", "adapter", "adapter+memory")
"""The systems an eval compares: the base model with the card, with memory, and the adapter."""
Progress = Callable[[str, int, int], None]


def parse_rows(text: str) -> tuple[str, ...]:
    """The rows asked for (``base,adapter+memory`` …), in the report's order.

    Raises:
        StudioError: an unknown or missing row name.
    """
    asked = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [part for part in asked if part not in ROWS]
    if unknown or not asked:
        raise StudioError(
            f"--rows: expected a comma-separated subset of {','.join(ROWS)}, got {text!r}"
        )
    return tuple(row for row in ROWS if row in asked)


def evaluate_run(
    ws: Any,
    adapters: Mapping[str, Any],
    parsers: Mapping[str, Any],
    *,
    run: str = "",
    checkpoint: int | None = None,
    limit: int = 0,
    max_new_tokens: int = 96,
    sampling: str = "greedy",
    rows: Sequence[str] = ROWS,
    memory_k: int = 3,
    max_batch: int = 64,
    device: Any = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Evaluate the rows (base, base+memory, adapter, adapter+memory) on a run's held-out items.

    Args:
        ws: the workspace.
        adapters / parsers: registered model adapters and corpus parsers.
        run: run id (default: the newest finished run, :func:`studio.train.rundir.pick_run`).
        checkpoint: evaluate a checkpoint's adapter (-1: latest) instead of the final one.
        limit: evaluate at most this many held-out items (0: all).
        max_new_tokens: reply length cap of the generated replies.
        sampling: a :data:`studio.chat.session.SAMPLING_PRESETS` name (greedy: reproducible).
        rows: which of :data:`ROWS` to evaluate.
        memory_k: exchanges memory retrieves per item in the ``+memory`` rows.
        max_batch: replies generated together.
        device: where to run (default: CUDA when available).
        progress: ``progress(phase, done, total)``.

    Returns:
        The report (also written to ``runs/<id>/eval/``).
    """
    started = time.perf_counter()
    say = progress or (lambda phase, done, total: None)
    rows = tuple(row for row in ROWS if row in rows)
    if not rows:
        raise StudioError(f"rows: expected some of {', '.join(ROWS)}")
    if any(row.endswith("+memory") for row in rows) and memory_k < 1:
        raise StudioError(
            f"--memory: expected 1 or more exchanges for the +memory rows, got {memory_k}"
        )
    picked, _ = pick_run(ws, run, checkpoint=checkpoint)
    run_dir = picked.path
    held = heldout_samples(run_dir)  # before the slow model load: fail fast
    persona = load_persona(
        ws,
        adapters,
        run=run_dir.name,
        checkpoint=checkpoint,
        merge=False,
        fast=False,
        device=device,
    )
    assert persona.adapter_dir is not None
    if limit:
        held = held[:limit]
    train = [s for s in picked.samples() if s.split == "train"]
    character = persona.character
    tokenizer = persona.loaded.tokenizer
    memory = Memory(train, k=memory_k, count_tokens=token_counter(tokenizer))
    recalls = memory_contexts(memory, persona.system, held)

    say("style classifier", 0, 1)
    lines = style_lines(ws, parsers, character, held, train)
    classifier = StyleClassifier.fit(lines["train_char"], lines["train_other"])
    real_scores = classifier.score(lines["test_char"])
    other_scores = classifier.score(lines["test_other"])
    say("style classifier", 1, 1)

    zh = has_cjk(persona.system + character)
    probes = PROBES_ZH if zh else PROBES_EN
    names = names_of(ws, character)
    eot = persona.loaded.end_of_turn_ids
    settings = Sampling.from_dict(SAMPLING_PRESETS[sampling], seed=0)
    model = persona.loaded.model
    # Eager decoding, on a static cache on a GPU: an eval's few thousand decode steps never pay
    # back compiling a graph for every batch size with and without the adapter (14 graphs at
    # max_batch 64; on an H100 the 0.5B model's 104 short replies of a four-row eval took 120 s).
    engine = BatchEngine(
        model,
        eot,
        max_batch=max_batch,
        max_cache_len=persona.engine.capacity,
        vocab_size=persona.engine.vocab_size,
        static=getattr(next(model.parameters()).device, "type", "cpu") == "cuda",
    )

    def systems(row: str) -> list[str]:
        return (
            [r.system for r in recalls] if row.endswith("+memory") else [persona.system] * len(held)
        )

    def probe_system(row: str, probe: str) -> str:
        return (
            memory.recall(persona.system, probe).system
            if row.endswith("+memory")
            else persona.system
        )

    def ticker(phase: str) -> Callable[[int, int], None]:
        return lambda done, total: say(phase, done, total)

    losses: dict[str, list[tuple[float, int]]] = {}
    for row in rows:
        conversations = [s.messages(system) for s, system in zip(held, systems(row), strict=True)]
        losses[row] = batch_losses(
            model,
            tokenizer,
            conversations,
            eot,
            use_adapter=row.startswith("adapter"),
            tick=ticker(f"{row}: loss"),
        )
    prompts: list[tuple[list[int], bool]] = []
    for row in rows:
        use_adapter = row.startswith("adapter")
        prompts += [
            (render_prompt(tokenizer, s.messages(system)[:-1]), use_adapter)
            for s, system in zip(held, systems(row), strict=True)
        ]
        prompts += [
            (
                render_prompt(
                    tokenizer,
                    [
                        {"role": "system", "content": probe_system(row, probe)},
                        {"role": "user", "content": probe},
                    ],
                ),
                use_adapter,
            )
            for probe in probes
        ]
    generation_start = time.perf_counter()
    try:
        flat, tokens = generate_all(
            engine,
            tokenizer,
            prompts,
            max_new_tokens=max_new_tokens,
            sampling=settings,
            tick=ticker("replies"),
        )
    finally:
        engine.close()
    generation_seconds = time.perf_counter() - generation_start
    replies: dict[str, list[str]] = {}
    probe_replies: dict[str, list[str]] = {}
    size = len(held) + len(probes)
    for index, row in enumerate(rows):
        chunk = flat[index * size : (index + 1) * size]
        replies[row], probe_replies[row] = chunk[: len(held)], chunk[len(held) :]

    real_chars = sum(len(s.reply) for s in held)
    results: dict[str, dict[str, Any]] = {}
    for row in rows:
        nll = sum(loss for loss, _ in losses[row])
        count = sum(n for _, n in losses[row])
        scores = classifier.score(replies[row])
        mean_loss = nll / max(1, count)
        results[row] = {
            "loss_per_char": round(nll / max(1, real_chars), 4),
            "loss": round(mean_loss, 4),
            "ppl": round(math.exp(min(mean_loss, 50)), 3),
            "loss_tokens": count,
            "loss_chars": real_chars,
            "chrf": round(corpus_chrf(replies[row], [s.reply for s in held]), 2),
            "rouge_l": round(
                sum(rouge_l(r, s.reply) for r, s in zip(replies[row], held, strict=True))
                / len(held),
                2,
            ),
            "style": round(sum(scores) / len(scores), 4),
            "identity": sum(names_character(r, names) for r in probe_replies[row]),
            "identity_total": len(probes),
            "reply_chars": round(sum(len(r) for r in replies[row]) / len(held), 1),
            **count_unusable(replies[row]),
            # copying the line said to the character scores chrF against the real reply
            # without answering it
            "echoes": sum(
                1 for r, s in zip(replies[row], held, strict=True) if r and chrf(r, s.prompt) >= 70
            ),
            "memory": memory_k if row.endswith("+memory") else 0,
        }
    for row in rows:
        if row != rows[0]:
            results[row]["verdict"] = verdict(
                {"models": {"base": results[rows[0]], "adapter": results[row]}, "items": len(held)}
            )

    items = []
    for index, sample in enumerate(held):
        item: dict[str, Any] = {
            "id": sample.id,
            "scene": sample.scene,
            "prompt": sample.prompt,
            "real": sample.reply,
            "memory_ids": recalls[index].ids,
        }
        for row in rows:
            loss, count = losses[row][index]
            reply = replies[row][index]
            item[row] = {
                "reply": reply,
                "chrf": round(chrf(reply, sample.reply), 2),
                "rouge_l": round(rouge_l(reply, sample.reply), 2),
                "style": round(classifier.score([reply])[0], 4),
                "loss": round(loss / count, 4) if count else None,
                "loss_per_char": round(loss / len(sample.reply), 4) if sample.reply else None,
            }
        items.append(item)
    report: dict[str, Any] = {
        "run": run_dir.name,
        "label": persona.label,
        "character": character,
        "adapter": persona.adapter_dir.relative_to(ws.root).as_posix(),
        "base_model": ws.config.model.name,
        "created": datetime.now().isoformat(timespec="seconds"),
        "items": len(held),
        "scenes": len({s.scene for s in held}),
        "rows": list(rows),
        "real_reply_chars": round(real_chars / len(held), 1),
        "settings": {
            "sampling": sampling,
            "max_new_tokens": max_new_tokens,
            "limit": limit,
            "memory": memory_k,
            "memory_budget": memory.budget,
            "memory_index": len(memory),
        },
        "classifier": {
            "train_lines": classifier.counts,
            "heldout_lines": {"character": len(real_scores), "other": len(other_scores)},
            "heldout_accuracy": round(
                classifier.balanced_accuracy(lines["test_char"], lines["test_other"]), 4
            ),
            "heldout_auc": round(classifier.auc(lines["test_char"], lines["test_other"]), 4),
            "real_lines_score": round(sum(real_scores) / max(1, len(real_scores)), 4),
            "other_lines_score": round(sum(other_scores) / max(1, len(other_scores)), 4),
        },
        "models": results,
        "identity": [
            {
                "probe": probe,
                **{row: probe_replies[row][i] for row in rows},
                **{f"{row}_named": names_character(probe_replies[row][i], names) for row in rows},
            }
            for i, probe in enumerate(probes)
        ],
        "side_by_side": side_by_side(held, replies),
        "names": names,
        "timing": {
            "generation_s": round(generation_seconds, 1),
            "generated_tokens": tokens,
            "replies": len(prompts),
            "max_batch": max_batch,
        },
    }
    if "base" in results and "adapter" in results:
        report["verdict"] = verdict(report)
    if "base+memory" in results and "adapter" in results:
        report["memory_verdict"] = verdict(
            {
                "models": {"base": results["base+memory"], "adapter": results["adapter"]},
                "items": len(held),
            }
        )
    report["seconds"] = round(time.perf_counter() - started, 1)
    write_report(
        run_dir,
        report,
        items,
        checkpoint_label=None
        if persona.adapter_dir.parent == run_dir
        else persona.adapter_dir.parent.name,
    )
    return report


def load_report(run_dir: Path) -> dict[str, Any] | None:
    """The run's latest eval report (``eval/report.json``).

    None when it has not been evaluated.
    """
    path = RunDir(run_dir).eval_dir / "report.json"
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))
