"""Provides ``persona-studio eval``: did the fine-tune work? Base vs adapter on held-out scenes.

One model is loaded with the adapter unmerged; the base model is the same weights with the
adapter disabled (and the same persona prompt), so both answer the very same items:

- **loss / perplexity** of the character's real lines (the held-out replies, masked exactly as
  in training: the character's tokens plus one end-of-turn);
- **chrF and ROUGE-L** of each generated reply against the real line;
- **style**: a classifier trained on the corpus (the character's lines vs other speakers'),
  held-out lines excluded, scores each reply P(character); its held-out accuracy is reported;
- **identity probes** ("你是谁？", "你叫什么名字？"): does the reply name the character?

The report lands in ``runs/<id>/eval/``: ``report.json``, ``report.md`` (the table the CLI
prints and the TUI shows) and ``items.jsonl`` (every item with both replies).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from studio.api import Sample
from studio.api.text import has_cjk
from studio.chat.engine import Sampling
from studio.chat.session import SAMPLING_PRESETS, load_persona, render_prompt, stream_text
from studio.corpus.inspect import alias_map, canonical_speaker
from studio.corpus.load import load_utterances
from studio.errors import StudioError
from studio.eval.metrics import chrf, corpus_chrf, count_unusable, names_character, rouge_l
from studio.eval.report import verdict, write_report
from studio.eval.style import StyleClassifier
from studio.fsutil import read_jsonl
from studio.train.data import IGNORE, encode_messages

PROBES_ZH = ("你是谁？", "你叫什么名字？")
PROBES_EN = ("Who are you?", "What is your name?")
Progress = Callable[[str, int, int], None]


def heldout_samples(run_dir: Path) -> list[Sample]:
    """The run's eval split: real corpus samples only (no identity or augmented ones).

    Raises:
        StudioError: the run has no eval samples.
    """
    samples = [Sample.from_json(d) for d in read_jsonl(run_dir / "samples.jsonl")]
    held = [s for s in samples if s.split == "eval" and s.provenance.get("kind", "corpus") == "corpus"
            and s.turns and s.turns[-1].role == "assistant" and s.reply.strip()]
    if not held:
        raise StudioError(f"{run_dir / 'samples.jsonl'}: no held-out (eval) samples from the corpus; set [dataset] "
                          "eval_fraction above 0 (e.g. 0.1), rebuild the dataset and train a new run")
    return held


def _encode(tokenizer: Any, messages: list[dict[str, str]], eot_ids: Sequence[int]) -> Any:
    result = encode_messages(tokenizer, messages, eot_ids)
    return result[0] if isinstance(result, tuple) else result


def reply_loss(model: Any, tokenizer: Any, messages: list[dict[str, str]], eot_ids: Sequence[int]) -> tuple[float, int]:
    """Summed negative log-likelihood of the assistant turns (+ end-of-turn) and their token count."""
    import torch
    import torch.nn.functional as F

    item = _encode(tokenizer, messages, eot_ids)
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    device = next(inner.parameters()).device
    ids = torch.tensor([item.input_ids], device=device)
    labels = torch.tensor([item.labels], device=device)[:, 1:]
    mask = labels != IGNORE
    if not bool(mask.any()):
        return 0.0, 0
    with torch.no_grad():
        hidden = inner.get_decoder()(input_ids=ids, use_cache=False).last_hidden_state[:, :-1]  # [1, T-1, H]
        logits = inner.get_output_embeddings()(hidden[mask]).float()  # [N, V]: only the supervised positions
        loss = F.cross_entropy(logits, labels[mask], reduction="sum")
    return float(loss), int(mask.sum())


def style_lines(ws: Any, parsers: Mapping[str, Any], character: str, held: Sequence[Sample],
                train: Sequence[Sample]) -> dict[str, list[str]]:
    """Lines for the style classifier: ``train_char`` / ``train_other`` from the corpus with
    every held-out line removed, ``test_char`` (the held-out replies) / ``test_other`` (other
    speakers' lines of the held-out scenes). Falls back to the run's train samples (replies vs
    the lines said to the character) when the corpus cannot be read.
    """
    blob = "\n".join(t.content for s in held for t in s.turns)
    held_texts = {t.content.strip() for s in held for t in s.turns}
    out: dict[str, list[str]] = {"train_char": [], "train_other": [], "test_char": [s.reply for s in held],
                                 "test_other": []}
    try:
        corpus = load_utterances(ws, parsers)  # the user's speaker fixes apply here too
    except StudioError:
        corpus = None
    if corpus is not None:
        mapping = alias_map(ws.config.aliases())
        ignore = set(ws.config.roster.ignore)
        for utt in corpus.utterances:
            text = utt.text.strip()
            if utt.kind != "dialogue" or not utt.speaker or not text:
                continue
            speaker = canonical_speaker(utt.speaker, mapping)
            if speaker in ignore:
                continue
            is_char = speaker == character
            held_out = text in held_texts or (len(text) >= 4 and text in blob)
            if held_out:
                if not is_char:
                    out["test_other"].append(text)
                continue
            out["train_char" if is_char else "train_other"].append(text)
    if not out["train_char"] or not out["train_other"]:
        out["train_char"] = [s.reply for s in train if s.provenance.get("kind", "corpus") == "corpus"]
        out["train_other"] = [s.prompt for s in train if s.provenance.get("kind", "corpus") == "corpus"]
    if not out["test_other"]:
        out["test_other"] = [s.prompt for s in held]
    return out


def _names(ws: Any, character: str) -> list[str]:
    names = [character, *ws.config.character.aliases]
    if ws.config.character.name and ws.config.character.name not in names:
        names.append(ws.config.character.name)
    return names


def evaluate_run(ws: Any, adapters: Mapping[str, Any], parsers: Mapping[str, Any], *, run: str = "",
                 checkpoint: int | None = None, limit: int = 0, max_new_tokens: int = 96,
                 sampling: str = "greedy", device: Any = None, progress: Progress | None = None) -> dict[str, Any]:
    """Evaluate base vs adapter on a run's held-out items and write the report.

    Args:
        ws: the workspace.
        adapters / parsers: registered model adapters and corpus parsers.
        run: run id (default: the newest).
        checkpoint: evaluate a checkpoint's adapter (-1: latest) instead of the final one.
        limit: evaluate at most this many held-out items (0: all).
        max_new_tokens: reply length cap of the generated replies.
        sampling: a :data:`studio.chat.session.SAMPLING_PRESETS` name (greedy: reproducible).
        device: where to run (default: CUDA when available).
        progress: ``progress(phase, done, total)``.

    Returns:
        The report (also written to ``runs/<id>/eval/``).
    """
    started = time.perf_counter()
    say = progress or (lambda phase, done, total: None)
    run_dir = ws.run_dir(run) if run else ws.latest_run()
    if run_dir is None or not (run_dir / "config.json").exists():
        raise StudioError(f"{ws.root}: no run {run!r}" if run else f"{ws.root}: no runs yet; train first")
    held = heldout_samples(run_dir)  # before the slow model load: fail fast
    persona = load_persona(ws, adapters, run=run_dir.name, checkpoint=checkpoint, merge=False, fast=False, device=device)
    assert persona.adapter_dir is not None
    if limit:
        held = held[:limit]
    train = [Sample.from_json(d) for d in read_jsonl(run_dir / "samples.jsonl")]
    train = [s for s in train if s.split == "train"]
    character = persona.character

    say("style classifier", 0, 1)
    lines = style_lines(ws, parsers, character, held, train)
    classifier = StyleClassifier.fit(lines["train_char"], lines["train_other"])
    real_scores = classifier.score(lines["test_char"])
    other_scores = classifier.score(lines["test_other"])
    say("style classifier", 1, 1)

    zh = has_cjk(persona.system + character)
    probes = PROBES_ZH if zh else PROBES_EN
    names = _names(ws, character)
    tokenizer = persona.loaded.tokenizer
    eot = persona.loaded.end_of_turn_ids
    settings = Sampling.from_dict(SAMPLING_PRESETS[sampling], seed=0)
    model = persona.loaded.model
    results: dict[str, dict[str, Any]] = {}
    replies: dict[str, list[str]] = {}
    losses: dict[str, list[tuple[float, int]]] = {}
    probe_replies: dict[str, list[str]] = {}

    def generate(messages: list[dict[str, str]], use_adapter: bool) -> str:
        prompt = render_prompt(tokenizer, messages)
        return "".join(stream_text(persona.engine, tokenizer, prompt, sampling=settings,
                                   max_new_tokens=max_new_tokens, use_adapter=use_adapter)).strip()

    for side, use_adapter in (("adapter", True), ("base", False)):
        phase_start = time.perf_counter()
        tokens = 0
        context = model.disable_adapter() if not use_adapter else contextlib.nullcontext()
        with context:
            losses[side] = []
            for index, sample in enumerate(held):
                losses[side].append(reply_loss(model, tokenizer, sample.messages(persona.system), eot))
                say(f"{side}: loss", index + 1, len(held))
        replies[side] = []
        for index, sample in enumerate(held):
            messages = sample.messages(persona.system)[:-1]
            replies[side].append(generate(messages, use_adapter))
            tokens += persona.engine.last_stats.new_tokens
            say(f"{side}: replies", index + 1, len(held))
        probe_replies[side] = [generate([{"role": "system", "content": persona.system},
                                         {"role": "user", "content": probe}], use_adapter) for probe in probes]
        nll = sum(loss for loss, _ in losses[side])
        count = sum(n for _, n in losses[side])
        scores = classifier.score(replies[side])
        mean_loss = nll / max(1, count)
        results[side] = {
            "loss": round(mean_loss, 4), "ppl": round(math.exp(min(mean_loss, 50)), 3), "loss_tokens": count,
            "chrf": round(corpus_chrf(replies[side], [s.reply for s in held]), 2),
            "rouge_l": round(sum(rouge_l(r, s.reply) for r, s in zip(replies[side], held, strict=True)) / len(held), 2),
            "style": round(sum(scores) / len(scores), 4),
            "identity": sum(names_character(r, names) for r in probe_replies[side]),
            "identity_total": len(probes),
            "reply_chars": round(sum(len(r) for r in replies[side]) / len(held), 1),
            **count_unusable(replies[side]),
            # copying the line said to the character scores chrF against the real reply without answering it
            "echoes": sum(1 for r, s in zip(replies[side], held, strict=True) if r and chrf(r, s.prompt) >= 70),
            "generated_tokens": tokens, "seconds": round(time.perf_counter() - phase_start, 1),
        }

    items = []
    for index, sample in enumerate(held):
        row: dict[str, Any] = {"id": sample.id, "scene": sample.scene, "prompt": sample.prompt, "real": sample.reply}
        for side in ("base", "adapter"):
            loss, count = losses[side][index]
            reply = replies[side][index]
            row[side] = {"reply": reply, "chrf": round(chrf(reply, sample.reply), 2),
                         "rouge_l": round(rouge_l(reply, sample.reply), 2),
                         "style": round(classifier.score([reply])[0], 4),
                         "loss": round(loss / count, 4) if count else None}
        items.append(row)
    report: dict[str, Any] = {
        "run": run_dir.name, "label": persona.label, "character": character,
        "adapter": persona.adapter_dir.relative_to(ws.root).as_posix(),
        "base_model": ws.config.model.name, "created": datetime.now().isoformat(timespec="seconds"),
        "items": len(held), "scenes": len({s.scene for s in held}),
        "real_reply_chars": round(sum(len(s.reply) for s in held) / len(held), 1),
        "settings": {"sampling": sampling, "max_new_tokens": max_new_tokens, "limit": limit},
        "classifier": {
            "train_lines": classifier.counts, "heldout_lines": {"character": len(real_scores), "other": len(other_scores)},
            "heldout_accuracy": round(classifier.balanced_accuracy(lines["test_char"], lines["test_other"]), 4),
            "heldout_auc": round(classifier.auc(lines["test_char"], lines["test_other"]), 4),
            "real_lines_score": round(sum(real_scores) / max(1, len(real_scores)), 4),
            "other_lines_score": round(sum(other_scores) / max(1, len(other_scores)), 4),
        },
        "models": results,
        "identity": [{"probe": probe, "base": probe_replies["base"][i], "adapter": probe_replies["adapter"][i],
                      "base_named": names_character(probe_replies["base"][i], names),
                      "adapter_named": names_character(probe_replies["adapter"][i], names)}
                     for i, probe in enumerate(probes)],
        "names": names,
    }
    report["verdict"] = verdict(report)
    report["seconds"] = round(time.perf_counter() - started, 1)
    write_report(run_dir, report, items, checkpoint_label=None if persona.adapter_dir.parent == run_dir else persona.adapter_dir.parent.name)
    return report


def load_report(run_dir: Path) -> dict[str, Any] | None:
    """The run's latest eval report (``eval/report.json``), or None when it has not been evaluated."""
    path = run_dir / "eval" / "report.json"
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))
