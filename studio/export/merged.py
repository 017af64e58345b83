"""Provides the merged export: the adapter folded into the base weights, saved as safetensors.

Its chat template puts the persona prompt first when a conversation has no system message, and
its generation config stops at the end-of-turn tokens, so ``AutoModelForCausalLM.from_pretrained``
+ ``apply_chat_template`` + ``generate`` talks as the character with no studio code. It is checked
by loading it back and comparing logits.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from studio.errors import StudioError


def persona_template(template: str, persona: str) -> str:
    """``template`` with the persona as the default system message (used when none is given).

    Without it, Qwen2.5's template would insert its own "You are Qwen…" system prompt.
    """
    literal = json.dumps(persona, ensure_ascii=False)  # a valid Jinja string literal
    return (
        "{%- if not messages or messages[0]['role'] != 'system' %}"
        "{%- set messages = [{'role': 'system', 'content': " + literal + "}] + messages %}"
        "{%- endif %}\n" + template
    )


def _target_dtype(model: Any, name: str) -> Any:
    import torch

    table = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
    if name in table:
        return table[name]
    declared = getattr(model.config, "dtype", None) or getattr(model.config, "torch_dtype", None)
    declared = str(declared).replace("torch.", "")
    return {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(declared, torch.float32)


def adapter_probe(persona: Any) -> tuple[list[dict[str, str]], Any]:
    """A persona prompt and the adapter's next-token logits on it (before anything is folded in)."""
    import torch

    model, tokenizer = persona.loaded.model, persona.loaded.tokenizer
    device = next(model.parameters()).device
    probe = [
        {"role": "system", "content": persona.system},
        {"role": "user", "content": "你是谁？ Who are you?"},
    ]
    ids = torch.tensor(
        [
            tokenizer(
                tokenizer.apply_chat_template(probe, tokenize=False, add_generation_prompt=True),
                add_special_tokens=False,
            )["input_ids"]
        ],
        device=device,
    )
    with torch.no_grad():
        return probe, model(input_ids=ids).logits[0, -1].float().cpu()


def fold(persona: Any) -> Any:
    """The base model with the adapter folded in, as a plain transformers model in its loaded dtype.

    Raises:
        StudioError: a GGUF-loaded base whose weights do not fit its own config.
    """
    from transformers import AutoModelForCausalLM

    merged = persona.loaded.model.merge_and_unload()
    if not persona.loaded.spec.gguf_file:
        return merged
    # a model loaded from GGUF cannot save_pretrained: rebuild it from its config
    dtype = next(merged.parameters()).dtype
    plain = AutoModelForCausalLM.from_config(merged.config, dtype=dtype)
    try:
        plain.load_state_dict(merged.state_dict(), strict=True, assign=True)  # shares, no copy
    except RuntimeError as exc:
        raise StudioError(f"cannot rebuild the merged model from its config: {exc}") from None
    return plain.to(next(merged.parameters()).device).eval()


def write_merged(
    plain: Any,
    persona: Any,
    record: dict[str, Any],
    info: dict[str, Any],
    final: Path,
    dtype: str,
    verify: bool,
    probe: list[dict[str, str]],
    expected: Any,
) -> list[str]:
    """Save the folded model as safetensors with the persona chat template, and check it.

    Args:
        plain: the folded model (:func:`fold`); cast to ``dtype`` in place.
        persona: the loaded persona (tokenizer, system prompt).
        record / info: ``persona.json`` and the card's facts.
        final: the folder to write.
        dtype: ``auto``, ``bf16``, ``fp16`` or ``fp32``.
        verify: reload and compare with ``expected`` (from :func:`adapter_probe`).
    """
    from studio.export.card import model_card
    from studio.export.folders import replace_folder, staging
    from studio.fsutil import atomic_write_json, atomic_write_text

    tokenizer = persona.loaded.tokenizer
    device = next(plain.parameters()).device
    target = _target_dtype(plain, dtype)
    plain = plain.to(target)
    eot = list(record["end_of_turn_ids"])
    plain.generation_config.eos_token_id = eot if len(eot) > 1 else (eot[0] if eot else None)
    plain.generation_config.pad_token_id = tokenizer.pad_token_id
    with staging(final.with_name(".tmp-merged"), "merged model") as tmp:
        plain.save_pretrained(str(tmp), safe_serialization=True)
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
        replace_folder(tmp, final)
    return checks


def _verify(
    folder: Path, probe: list[dict[str, str]], expected: Any, dtype: Any, device: Any
) -> list[str]:
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
        raise StudioError(
            f"{folder}: the merged model does not reproduce the adapter "
            f"(relative logit error {error:.3g}, "
            f"adapter's next token in the merged top 5: {top_kept}); not exported"
        )
    default = tokenizer.apply_chat_template(probe[1:], tokenize=False, add_generation_prompt=True)
    if probe[0]["content"] and probe[0]["content"] not in default:
        raise StudioError(
            f"{folder}: the chat template does not insert the persona prompt; not exported"
        )
    return [
        f"plain transformers reload: relative logit error {error:.2e} (tolerance {tolerance})",
        "the chat template inserts the persona prompt when no system message is given",
    ]
