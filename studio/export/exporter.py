"""Provides ``persona-studio export``: the adapter, a merged model plain transformers loads, a model card.

``exports/<run>/`` (or ``exports/<run>-step-N/`` for a checkpoint) receives:

- ``adapter/``: the LoRA adapter in peft format, the tokenizer with its chat template,
  ``persona.json`` (character, system prompt, chat template, end-of-turn tokens, base model)
  and a ``README.md`` model card;
- ``merged/`` (with ``--merged``): the base weights with the adapter folded in, as safetensors;
  its chat template puts the persona prompt first when a conversation has no system message,
  and its generation config stops at the end-of-turn tokens, so
  ``AutoModelForCausalLM.from_pretrained`` + ``apply_chat_template`` + ``generate`` talks as
  the character with no studio code. It is checked by loading it back and comparing logits.

Each folder is written beside its target and renamed into place: a failed export leaves the
previous one intact.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.errors import StudioError

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


@dataclass
class ExportResult:
    """What was written."""

    folder: Path
    adapter: Path | None = None
    merged: Path | None = None
    checks: list[str] = field(default_factory=list)


def persona_template(template: str, persona: str) -> str:
    """``template`` with the persona as the default system message (used when none is given).

    Without it, Qwen2.5's template would insert its own "You are Qwen…" system prompt.
    """
    literal = json.dumps(persona, ensure_ascii=False)  # a valid Jinja string literal
    return ("{%- if not messages or messages[0]['role'] != 'system' %}"
            "{%- set messages = [{'role': 'system', 'content': " + literal + "}] + messages %}"
            "{%- endif %}\n" + template)


@contextmanager
def _staging(tmp: Path, what: str) -> Iterator[Path]:
    """A fresh temporary folder for one part of an export, removed when writing it fails.

    Raises:
        StudioError: the disk (or a file-size limit) ran out while writing; nothing was replaced.
    """
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)  # never leave half a model taking the space
        if _disk_full(exc):
            raise StudioError(f"{tmp.parent}: no space left while writing the {what} ({exc}); nothing was replaced "
                              "(an earlier export there is intact); free some space or export with --out elsewhere"
                              ) from None
        raise


def _disk_full(exc: BaseException) -> bool:
    """True for a full disk, a file-size limit or a quota, also when a library wrapped the OSError."""
    from studio.fsutil import DISK_FULL

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in DISK_FULL:
            return True
        if any(text in str(seen) for text in ("No space left on device", "File too large", "Disk quota exceeded")):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _replace_folder(tmp: Path, final: Path) -> None:
    from studio.fsutil import fsync_dir

    for path in tmp.rglob("*"):  # temp files are created private; an export is meant to be shared
        path.chmod(0o755 if path.is_dir() else 0o644)
    old = final.with_name(f".old-{final.name}")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    fsync_dir(final.parent)


def model_card(info: dict[str, Any], kind: str) -> str:
    """The README.md of an export (``kind`` is ``adapter`` or ``merged``)."""
    name, base, character = info["label"], info["base_model"], info["character"]
    library = "peft" if kind == "adapter" else "transformers"
    lines = ["---", f"base_model: {json.dumps(base, ensure_ascii=False)}", f"library_name: {library}",
             "pipeline_tag: text-generation", "tags:", "  - persona-studio", "  - lora", "  - character-chat", "---", "",
             f"# {character}: a persona chat model ({kind})", "",
             f"A LoRA fine-tune of `{base}` that answers as **{character}**, made with persona-studio from "
             f"{info['samples']['train']} dialogue samples (run `{name}`).", "",
             "## System prompt", "", "The model was trained with this system prompt; use the same one:", "",
             *[f"> {line}" for line in info["persona"].splitlines() or [""]], ""]
    train = info["training"]
    lines += ["## Training", "", "| setting | value |", "|---|---|"]
    for key in ("steps", "epochs", "lr", "lora_r", "lora_alpha", "lora_targets", "max_length", "dtype",
                "final_loss", "eval_loss"):
        if train.get(key) not in (None, "", []):
            value = ", ".join(train[key]) if isinstance(train[key], list) else train[key]
            lines.append(f"| {key} | {value} |")
    lines.append("")
    report = info.get("eval")
    if report:
        base_m, adapter_m = report["models"]["base"], report["models"]["adapter"]
        lines += ["## Evaluation", "",
                  f"On {report['items']} held-out replies of {report['scenes']} scenes never seen in training; "
                  "the base model gets the same system prompt.", "",
                  "| metric | base | adapter |", "|---|---|---|",
                  f"| loss on real lines (nats/token) | {base_m['loss']:.3f} | {adapter_m['loss']:.3f} |",
                  f"| chrF vs real lines | {base_m['chrf']:.1f} | {adapter_m['chrf']:.1f} |",
                  f"| ROUGE-L F | {base_m['rouge_l']:.1f} | {adapter_m['rouge_l']:.1f} |",
                  f"| style score (P(character)) | {base_m['style']:.3f} | {adapter_m['style']:.3f} |",
                  f"| identity probes | {base_m['identity']}/{base_m['identity_total']} | "
                  f"{adapter_m['identity']}/{adapter_m['identity_total']} |", "",
                  f"Verdict: {report['verdict']['summary']}.", ""]
    lines += ["## Use", "", "```python"]
    if kind == "merged":
        lines += ["from transformers import AutoModelForCausalLM, AutoTokenizer",
                  "tokenizer = AutoTokenizer.from_pretrained(\"PATH\")",
                  "model = AutoModelForCausalLM.from_pretrained(\"PATH\")",
                  "# no system message needed: the chat template inserts the persona prompt",
                  "ids = tokenizer.apply_chat_template([{\"role\": \"user\", \"content\": \"你是谁？\"}],",
                  "                                    add_generation_prompt=True, return_tensors=\"pt\")",
                  "out = model.generate(ids, max_new_tokens=128)",
                  "print(tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True))"]
    else:
        lines += ["import json",
                  "from peft import PeftModel",
                  "from transformers import AutoModelForCausalLM, AutoTokenizer",
                  f"base = AutoModelForCausalLM.from_pretrained({json.dumps(base, ensure_ascii=False)})",
                  "model = PeftModel.from_pretrained(base, \"PATH\")",
                  "tokenizer = AutoTokenizer.from_pretrained(\"PATH\")",
                  "system = json.load(open(\"PATH/persona.json\"))[\"persona\"]",
                  "messages = [{\"role\": \"system\", \"content\": system}, {\"role\": \"user\", \"content\": \"你是谁？\"}]",
                  "ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors=\"pt\")",
                  "print(tokenizer.decode(model.generate(ids, max_new_tokens=128)[0, ids.shape[1]:], skip_special_tokens=True))"]
    lines += ["```", "", "## Limits", "",
              f"It imitates a fictional character from the corpus it was trained on ({', '.join(info['corpus']) or 'not recorded'}); "
              "it is not a factual assistant. Check the corpus's licence before sharing the weights.", ""]
    return "\n".join(lines)


def _base_name(model: Any) -> str:
    """The base model as a card names it: the hub id, or a local folder's name (and GGUF file)."""
    if model.source != "local":
        return model.name
    name = Path(model.name).name
    return f"{name}/{model.gguf_file}" if model.gguf_file else name


def _run_info(ws: Any, persona: Any) -> dict[str, Any]:
    """What the card tells: what the run actually did up to the exported adapter (its events),
    not what it was configured to do."""
    from studio.chat.session import training_persona
    from studio.eval.evaluate import load_report
    from studio.train.rundir import RunDir

    run = RunDir(persona.run_dir)
    config = run.config()
    state = run.state()
    at = run.adapter_step(persona.adapter_dir)  # None: the final adapter
    steps = state.step if at is None else at
    epochs = state.epoch if at is None else state.epoch_at(at)
    if state.data is not None:  # the samples the trainer kept (over max_length ones are dropped)
        samples = {"train": state.data.train_samples, "eval": state.data.eval_samples}
    else:
        frozen = run.samples()
        samples = {split: sum(1 for s in frozen if s.split == split) for split in ("train", "eval")}
    return {
        "label": persona.label, "character": persona.character, "persona": persona.system,
        "base_model": _base_name(ws.config.model),
        "recorded": training_persona(run.path, persona.adapter_dir),
        "samples": samples,
        "training": {"steps": steps, "epochs": round(epochs, 2) if epochs is not None else None,
                     "lr": config.get("lr"), "lora_r": config.get("lora_r"),
                     "lora_alpha": config.get("lora_alpha"),
                     "lora_targets": config.get("lora_targets") or [],
                     "max_length": config.get("max_length"), "dtype": config.get("dtype"),
                     "final_loss": dict(state.losses).get(steps, state.loss if at is None else None),
                     "eval_loss": dict(state.eval_losses).get(steps) if at is not None else state.eval_loss},
        "eval": load_report(run.path) if at is None else None,
        "corpus": [p.name for p in ws.corpus_files()],
    }


def export_run(ws: Any, adapters: Mapping[str, Any], *, run: str = "", checkpoint: int | None = None,
               merged: bool = False, dtype: str = "auto", verify: bool = True, out: str | Path | None = None) -> ExportResult:
    """Export a run's adapter (always) and a merged model (when ``merged``).

    Args:
        ws: the workspace.
        adapters: registered model adapters.
        run / checkpoint: which adapter (default: the newest finished run's final adapter).
        merged: also write the merged model.
        dtype: the merged weights' precision: ``auto`` (the base config's bf16/fp16, else fp32),
            ``bf16``, ``fp16`` or ``fp32``.
        verify: load the merged folder back with plain transformers and compare logits.
        out: the export folder (default: ``exports/<run>``).

    Raises:
        StudioError: no such run, or the merged model does not reproduce the adapter's logits.
    """
    import torch

    from studio.chat.session import load_persona
    from studio.fsutil import atomic_write_json, atomic_write_text
    from studio.train.base_model import resolve_device

    device = resolve_device()
    # on the CPU merge in fp32 (then cast); on a GPU in the model's own precision
    persona = load_persona(ws, adapters, run=run, checkpoint=checkpoint, merge=False, fast=False, device=device,
                           dtype=torch.float32 if device.type == "cpu" else None, partial_ok=False)
    if persona.run_dir is None or persona.adapter_dir is None:
        raise StudioError("export needs a run with an adapter")
    folder = Path(out) if out else ws.exports_dir / persona.label.replace("@", "-")
    folder.mkdir(parents=True, exist_ok=True)
    result = ExportResult(folder)
    info = _run_info(ws, persona)
    tokenizer = persona.loaded.tokenizer
    record = {"character": persona.character, "persona": persona.system, "chat_template": tokenizer.chat_template,
              "end_of_turn": [tokenizer.convert_ids_to_tokens(i) for i in persona.loaded.end_of_turn_ids],
              "end_of_turn_ids": persona.loaded.end_of_turn_ids, "base_model": info["base_model"],
              "run": persona.run_dir.name, "step": info["training"]["steps"]}

    # adapter/: the peft files as trained, the tokenizer, the persona, a card
    with _staging(folder / ".tmp-adapter", "adapter") as tmp:
        for name in ADAPTER_FILES:
            shutil.copy2(persona.adapter_dir / name, tmp / name)
        config = json.loads((tmp / "adapter_config.json").read_text(encoding="utf-8"))
        config["base_model_name_or_path"] = info["base_model"]
        atomic_write_json(tmp / "adapter_config.json", config)
        tokenizer.save_pretrained(str(tmp))
        atomic_write_json(tmp / "persona.json", record)
        atomic_write_text(tmp / "README.md", model_card(info, "adapter"))
        _replace_folder(tmp, folder / "adapter")
    result.adapter = folder / "adapter"

    if merged:
        result.merged = folder / "merged"
        result.checks = _write_merged(persona, record, info, result.merged, dtype, verify)
    return result


def _target_dtype(model: Any, name: str) -> Any:
    import torch

    table = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
    if name in table:
        return table[name]
    declared = getattr(model.config, "dtype", None) or getattr(model.config, "torch_dtype", None)
    declared = str(declared).replace("torch.", "")
    return {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(declared, torch.float32)


def _write_merged(persona: Any, record: dict[str, Any], info: dict[str, Any], final: Path, dtype: str,
                  verify: bool) -> list[str]:
    """Fold the adapter in, save as safetensors with the persona chat template, check it."""
    import torch
    from transformers import AutoModelForCausalLM

    from studio.fsutil import atomic_write_json, atomic_write_text

    model = persona.loaded.model
    tokenizer = persona.loaded.tokenizer
    device = next(model.parameters()).device
    probe = [{"role": "system", "content": persona.system}, {"role": "user", "content": "你是谁？ Who are you?"}]
    ids = torch.tensor([tokenizer(tokenizer.apply_chat_template(probe, tokenize=False, add_generation_prompt=True),
                                  add_special_tokens=False)["input_ids"]], device=device)
    with torch.no_grad():
        expected = model(input_ids=ids).logits[0, -1].float().cpu()
    merged = model.merge_and_unload()
    target = _target_dtype(merged, dtype)
    if persona.loaded.spec.gguf_file:
        # a model loaded from GGUF cannot save_pretrained: rebuild it from its config
        plain = AutoModelForCausalLM.from_config(merged.config, dtype=target)
        try:
            plain.load_state_dict({k: v.to(target) for k, v in merged.state_dict().items()}, strict=True)
        except RuntimeError as exc:
            raise StudioError(f"cannot rebuild the merged model from its config: {exc}") from None
    else:
        plain = merged.to(target)
    eot = list(record["end_of_turn_ids"])
    plain.generation_config.eos_token_id = eot if len(eot) > 1 else (eot[0] if eot else None)
    plain.generation_config.pad_token_id = tokenizer.pad_token_id
    with _staging(final.with_name(".tmp-merged"), "merged model") as tmp:
        plain.save_pretrained(str(tmp), safe_serialization=True)
        del plain, merged
        original = tokenizer.chat_template
        tokenizer.chat_template = persona_template(original, persona.system)
        try:
            tokenizer.save_pretrained(str(tmp))
        finally:
            tokenizer.chat_template = original
        atomic_write_json(tmp / "persona.json", record)
        atomic_write_text(tmp / "README.md", model_card(info, "merged"))
        checks: list[str] = []
        if verify:
            checks = _verify(tmp, probe, expected, target, device)
        _replace_folder(tmp, final)
    return checks


def _verify(folder: Path, probe: list[dict[str, str]], expected: Any, dtype: Any, device: Any) -> list[str]:
    """Load the folder with plain transformers; its logits must match the adapter's."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype).to(device)
    text = tokenizer.apply_chat_template(probe, tokenize=False, add_generation_prompt=True)
    ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]], device=device)
    with torch.no_grad():
        got = model(input_ids=ids).logits[0, -1].float().cpu()
    scale = float(expected.abs().max()) or 1.0
    error = float((got - expected).abs().max()) / scale
    tolerance = 0.02 if dtype == torch.float32 else 0.1
    top_kept = int(expected.argmax()) in torch.topk(got, 5).indices.tolist()
    if error > tolerance or not top_kept:
        raise StudioError(f"{folder}: the merged model does not reproduce the adapter (relative logit error {error:.3g}, "
                          f"adapter's next token in the merged top 5: {top_kept}); not exported")
    default = tokenizer.apply_chat_template(probe[1:], tokenize=False, add_generation_prompt=True)
    if probe[0]["content"] and probe[0]["content"] not in default:
        raise StudioError(f"{folder}: the chat template does not insert the persona prompt; not exported")
    return [f"plain transformers reload: relative logit error {error:.2e} (tolerance {tolerance})",
            "the chat template inserts the persona prompt when no system message is given"]


def run_cli(args: Any) -> int:
    """``persona-studio export``."""
    import sys

    from studio.plugins import load_host
    from studio.train.rundir import pick_run
    from studio.workspace import Workspace

    ws = Workspace(args.workspace)
    picked, why = pick_run(ws, args.run, checkpoint=args.checkpoint)  # say which before loading
    if why:
        print(f"note: {why}", file=sys.stderr)
    result = export_run(ws, load_host().adapters, run=picked.name, checkpoint=args.checkpoint, merged=args.merged,
                        dtype=args.dtype, verify=not args.no_verify, out=args.out or None)
    for path in (result.adapter, result.merged):
        if path is not None:
            size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
            print(f"{path}  ({size / 2**20:.1f} MiB)")
    for check in result.checks:
        print(f"  ok: {check}", file=sys.stderr)
    return 0
