"""Provides ``persona-studio export``: the adapter, a merged model, GGUF + Modelfile, a vLLM folder.

``exports/<run>/`` (or ``exports/<run>-step-N/`` for a checkpoint) receives:

- ``adapter/``: the LoRA adapter in peft format, the tokenizer with its chat template,
  ``persona.json`` (character, system prompt, chat template, end-of-turn tokens, base model)
  and a ``README.md`` model card;
- ``vllm/``: what ``vllm serve`` needs, and the command (:mod:`studio.export.vllm`);
- ``merged/`` (with ``--merged``): the base weights with the adapter folded in, as safetensors
  (:mod:`studio.export.merged`);
- ``gguf-<type>/`` (with ``--gguf``): the merged model as one GGUF file for llama.cpp and an
  Ollama ``Modelfile`` (:mod:`studio.export.gguf_file`, :mod:`studio.export.ollama`).

Every model written is loaded back and compared with the adapter it came from before it replaces
an earlier export; each folder is written beside its target and renamed into place.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.errors import StudioError

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


@dataclass
class ExportResult:
    """What was written, what was checked and how to run it elsewhere."""

    folder: Path
    adapter: Path | None = None
    merged: Path | None = None
    gguf: Path | None = None
    vllm: Path | None = None
    checks: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    logits: list[Any] = field(default_factory=list)


def export_run(
    ws: Any,
    adapters: Mapping[str, Any],
    *,
    run: str = "",
    checkpoint: int | None = None,
    merged: bool = False,
    dtype: str = "auto",
    verify: bool = True,
    out: str | Path | None = None,
    gguf: str = "",
) -> ExportResult:
    """Export a run's adapter and vLLM folder (always), a merged model and a GGUF file (when asked).

    Args:
        ws: the workspace.
        adapters: registered model adapters.
        run / checkpoint: which adapter (default: the newest run's final adapter).
        merged: also write the merged model.
        dtype: the merged weights' precision: ``auto`` (the base config's bf16/fp16, else fp32),
            ``bf16``, ``fp16`` or ``fp32``.
        verify: load what was written back and compare it (logits, prompts).
        out: the export folder (default: ``exports/<run>``).
        gguf: also write the merged model as GGUF of this type (``f16``, ``bf16``, ``q8_0``).

    Raises:
        StudioError: no such run, a family GGUF cannot hold, or a written model that does not
            reproduce the adapter.
    """
    import torch

    from studio.chat.persona import load_persona
    from studio.export.card import model_card, run_info
    from studio.export.folders import replace_folder, staging
    from studio.export.gguf_file import TYPES, gguf_arch
    from studio.fsutil import atomic_write_json, atomic_write_text
    from studio.train.base_model import resolve_device

    if gguf and gguf not in TYPES:
        raise StudioError(f"--type: expected one of {', '.join(TYPES)}, got {gguf!r}")
    device = resolve_device()
    # on the CPU merge in fp32 (then cast); on a GPU in the model's own precision
    persona = load_persona(
        ws,
        adapters,
        run=run,
        checkpoint=checkpoint,
        merge=False,
        fast=False,
        device=device,
        dtype=torch.float32 if device.type == "cpu" else None,
        partial_ok=False,
    )
    if persona.run_dir is None or persona.adapter_dir is None:
        raise StudioError("export needs a run with an adapter")
    if gguf:  # refuse before anything is written
        gguf_arch(persona.loaded.model.config.model_type)
    folder = Path(out) if out else ws.exports_dir / persona.label.replace("@", "-")
    folder.mkdir(parents=True, exist_ok=True)
    result = ExportResult(folder)
    info = run_info(ws, persona)
    tokenizer = persona.loaded.tokenizer
    record = {
        "character": persona.character,
        "persona": persona.system,
        "chat_template": tokenizer.chat_template,
        "end_of_turn": [tokenizer.convert_ids_to_tokens(i) for i in persona.loaded.end_of_turn_ids],
        "end_of_turn_ids": persona.loaded.end_of_turn_ids,
        "base_model": info["base_model"],
        "run": persona.run_dir.name,
        "step": info["training"]["steps"],
    }

    # adapter/: the peft files as trained, the tokenizer, the persona, a card
    with staging(folder / ".tmp-adapter", "adapter") as tmp:
        for name in ADAPTER_FILES:
            shutil.copy2(persona.adapter_dir / name, tmp / name)
        config = json.loads((tmp / "adapter_config.json").read_text(encoding="utf-8"))
        config["base_model_name_or_path"] = info["base_model"]
        atomic_write_json(tmp / "adapter_config.json", config)
        tokenizer.save_pretrained(str(tmp))
        atomic_write_json(tmp / "persona.json", record)
        atomic_write_text(tmp / "README.md", model_card(info, "adapter"))
        replace_folder(tmp, folder / "adapter")
    result.adapter = folder / "adapter"

    if merged or gguf:
        from studio.export.merged import adapter_probe, fold, write_merged

        probe, expected = adapter_probe(persona)
        plain = fold(persona)
        if gguf:
            _write_gguf(plain, persona, folder, gguf, verify, result)
        if merged:
            result.merged = folder / "merged"
            result.checks += write_merged(
                plain, persona, record, info, result.merged, dtype, verify, probe, expected
            )
            result.commands.append(
                f"transformers: AutoModelForCausalLM.from_pretrained({str(result.merged)!r})"
            )
    _write_vllm(ws, persona, folder, verify, result)
    return result


def _write_gguf(
    plain: Any, persona: Any, folder: Path, qtype: str, verify: bool, result: ExportResult
) -> None:
    """``gguf-<type>/``: the GGUF file, its Modelfile and a README; read back and compared."""
    from studio.export.folders import replace_folder, staging
    from studio.export.gguf_check import (
        compare_logits,
        compare_prompts,
        load_gguf,
        reference_logits,
    )
    from studio.export.gguf_file import write_gguf
    from studio.export.merged import persona_template
    from studio.export.ollama import modelfile, parse_modelfile
    from studio.fsutil import atomic_write_text

    tokenizer = persona.loaded.tokenizer
    label = persona.label.replace("@", "-")
    name = f"{label}-{qtype}.gguf"
    final = folder / f"gguf-{qtype}"
    expected = reference_logits(plain, tokenizer, persona.system) if verify else []
    with staging(folder / f".tmp-gguf-{qtype}", "GGUF file") as tmp:
        facts = write_gguf(
            plain,
            tokenizer,
            tmp / name,
            qtype=qtype,
            chat_template=persona_template(tokenizer.chat_template, persona.system),
            end_of_turn_ids=persona.loaded.end_of_turn_ids,
            name=f"{persona.character} ({label})",
        )
        text = modelfile(name, facts.arch, persona.system, facts.end_of_turn)
        atomic_write_text(tmp / "Modelfile", text)
        atomic_write_text(tmp / "README.md", _gguf_readme(persona.character, name, label, qtype))
        if verify:
            model, gguf_tokenizer = load_gguf(tmp / name, like=plain)
            report = compare_logits(
                expected, tokenizer, model, gguf_tokenizer, persona.system, qtype
            )
            if not report.ok:
                raise StudioError(
                    f"{final / name}: {report.line()}; "
                    f"top-1 {'kept' if report.decisive_kept else 'changed'} "
                    "where the lead was decisive; "
                    "does not reproduce the merged model, not exported"
                )
            parsed = parse_modelfile(text)
            result.logits.append(report)
            result.checks += [
                report.line(),
                *compare_prompts(
                    tokenizer,
                    gguf_tokenizer,
                    parsed["TEMPLATE"],
                    parsed["SYSTEM"],
                    facts.add_bos,
                    facts.bos_token,
                ),
            ]
            del model
        replace_folder(tmp, final)
    result.gguf = final / name
    result.commands += [
        f"ollama: cd {final} && ollama create {label} -f Modelfile && ollama run {label}",
        f"llama.cpp: llama-server -m {final / name} --jinja",
    ]


def _gguf_readme(character: str, name: str, label: str, qtype: str) -> str:
    return "\n".join(
        [
            f"# {character}: GGUF ({qtype})",
            "",
            f"`{name}` is the merged persona model for llama.cpp and Ollama. Its chat template "
            "puts the persona prompt first when a conversation has no system message; "
            "`Modelfile` does the same for Ollama "
            "(TEMPLATE in Ollama's syntax, SYSTEM the persona, stop at the end-of-turn token).",
            "",
            "```sh",
            f"ollama create {label} -f Modelfile",
            f"ollama run {label}",
            "",
            f"llama-server -m {name} --jinja      # OpenAI-compatible server on :8080",
            f"llama-cli -m {name} -cnv --jinja    # chat in the terminal",
            "```",
            "",
        ]
    )


def _write_vllm(ws: Any, persona: Any, folder: Path, verify: bool, result: ExportResult) -> None:
    """``vllm/``: adapter, persona chat template, ``vllm serve`` command (not for a GGUF base)."""
    from studio.export.folders import replace_folder, staging
    from studio.export.merged import persona_template
    from studio.export.vllm import base_reference, check_folder, write_folder

    if persona.loaded.spec.gguf_file:
        note = "vLLM applies no LoRA to a GGUF base: " + (
            f"vllm serve {result.merged}"
            if result.merged
            else "export with --merged and serve that folder"
        )
        result.commands.append(note)
        return
    tokenizer = persona.loaded.tokenizer
    model = ws.config.model
    final = folder / "vllm"
    with staging(folder / ".tmp-vllm", "vLLM folder") as tmp:
        record = write_folder(
            tmp,
            final,
            adapter_dir=persona.adapter_dir,
            base=base_reference(model, persona.loaded.path),
            model_type=persona.loaded.model.config.model_type,
            template=persona_template(tokenizer.chat_template, persona.system),
            persona=persona.system,
            character=persona.character,
            modelscope=model.source == "modelscope",
            merged=result.merged,
        )
        if verify:
            result.checks += check_folder(
                tmp, tokenizer, persona.system, base_path=persona.loaded.path
            )
        replace_folder(tmp, final)
    result.vllm = final
    result.commands.append(f"vLLM: {record['command']}")
    if record["merged_command"]:
        result.commands.append(f"vLLM (merged): {record['merged_command']}")
