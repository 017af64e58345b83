"""Provides the model card (README.md) of an export and the run facts it is written from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def model_card(info: dict[str, Any], kind: str) -> str:
    """The README.md of an export (``kind`` is ``adapter`` or ``merged``)."""
    name, base, character = info["label"], info["base_model"], info["character"]
    library = "peft" if kind == "adapter" else "transformers"
    lines = [
        "---",
        f"base_model: {json.dumps(base, ensure_ascii=False)}",
        f"library_name: {library}",
        "pipeline_tag: text-generation",
        "tags:",
        "  - persona-studio",
        "  - lora",
        "  - character-chat",
        "---",
        "",
        f"# {character}: a persona chat model ({kind})",
        "",
        f"A LoRA fine-tune of `{base}` that answers as **{character}**, "
        "made with persona-studio from "
        f"{info['samples']['train']} dialogue samples (run `{name}`).",
        "",
        "## System prompt",
        "",
        "The model was trained with this system prompt; use the same one:",
        "",
        *[f"> {line}" for line in info["persona"].splitlines() or [""]],
        "",
    ]
    train = info["training"]
    lines += ["## Training", "", "| setting | value |", "|---|---|"]
    for key in (
        "steps",
        "epochs",
        "lr",
        "lora_r",
        "lora_alpha",
        "lora_targets",
        "max_length",
        "dtype",
        "final_loss",
        "eval_loss",
    ):
        if train.get(key) not in (None, "", []):
            value = ", ".join(train[key]) if isinstance(train[key], list) else train[key]
            lines.append(f"| {key} | {value} |")
    lines.append("")
    report = info.get("eval")
    if report:
        base_m, adapter_m = report["models"]["base"], report["models"]["adapter"]
        lines += [
            "## Evaluation",
            "",
            f"On {report['items']} held-out replies of {report['scenes']} scenes "
            "never seen in training; "
            "the base model gets the same system prompt.",
            "",
            "| metric | base | adapter |",
            "|---|---|---|",
            f"| loss on real lines (nats/token) | {base_m['loss']:.3f} | {adapter_m['loss']:.3f} |",
            f"| chrF vs real lines | {base_m['chrf']:.1f} | {adapter_m['chrf']:.1f} |",
            f"| ROUGE-L F | {base_m['rouge_l']:.1f} | {adapter_m['rouge_l']:.1f} |",
            f"| style score (P(character)) | {base_m['style']:.3f} | {adapter_m['style']:.3f} |",
            f"| identity probes | {base_m['identity']}/{base_m['identity_total']} | "
            f"{adapter_m['identity']}/{adapter_m['identity_total']} |",
            "",
            f"Verdict: {report['verdict']['summary']}.",
            "",
        ]
    lines += ["## Use", "", "```python"]
    if kind == "merged":
        lines += [
            "from transformers import AutoModelForCausalLM, AutoTokenizer",
            'tokenizer = AutoTokenizer.from_pretrained("PATH")',
            'model = AutoModelForCausalLM.from_pretrained("PATH")',
            "# no system message needed: the chat template inserts the persona prompt",
            'ids = tokenizer.apply_chat_template([{"role": "user", "content": "你是谁？"}],',
            '                                    add_generation_prompt=True, return_tensors="pt")',
            "out = model.generate(ids, max_new_tokens=128)",
            "print(tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True))",
        ]
    else:
        lines += [
            "import json",
            "from peft import PeftModel",
            "from transformers import AutoModelForCausalLM, AutoTokenizer",
            f"base = AutoModelForCausalLM.from_pretrained({json.dumps(base, ensure_ascii=False)})",
            'model = PeftModel.from_pretrained(base, "PATH")',
            'tokenizer = AutoTokenizer.from_pretrained("PATH")',
            'system = json.load(open("PATH/persona.json"))["persona"]',
            'messages = [{"role": "system", "content": system},'
            ' {"role": "user", "content": "你是谁？"}]',
            "ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True,"
            ' return_tensors="pt")',
            "out = model.generate(ids, max_new_tokens=128)",
            "print(tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True))",
        ]
    lines += [
        "```",
        "",
        "## Limits",
        "",
        "It imitates a fictional character from the corpus it was trained on "
        f"({', '.join(info['corpus']) or 'not recorded'}); "
        "it is not a factual assistant. Check the corpus's licence before sharing the weights.",
        "",
    ]
    return "\n".join(lines)


def base_name(model: Any) -> str:
    """The base model as a card names it: the hub id, or a local folder's name (and GGUF file)."""
    if model.source != "local":
        return model.name
    name = Path(model.name).name
    return f"{name}/{model.gguf_file}" if model.gguf_file else name


def run_info(ws: Any, persona: Any) -> dict[str, Any]:
    """What the card tells: what the run actually did up to the exported adapter (its events),
    not what it was configured to do."""
    from studio.chat.persona import training_persona
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
    losses, eval_losses = dict(state.losses), dict(state.eval_losses)
    return {
        "label": persona.label,
        "character": persona.character,
        "persona": persona.system,
        "base_model": base_name(ws.config.model),
        "recorded": training_persona(run.path, persona.adapter_dir),
        "samples": samples,
        "training": {
            "steps": steps,
            "epochs": round(epochs, 2) if epochs is not None else None,
            "lr": config.get("lr"),
            "lora_r": config.get("lora_r"),
            "lora_alpha": config.get("lora_alpha"),
            "lora_targets": config.get("lora_targets") or [],
            "max_length": config.get("max_length"),
            "dtype": config.get("dtype"),
            "final_loss": losses.get(steps, state.loss if at is None else None),
            "eval_loss": state.eval_loss if at is None else eval_losses.get(steps),
        },
        "eval": load_report(run.path) if at is None else None,
        "corpus": [p.name for p in ws.corpus_files()],
    }
