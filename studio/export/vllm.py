"""Provides the vLLM folder of an export: what ``vllm serve`` needs to serve the persona as is.

``exports/<run>/vllm/`` receives the peft adapter (``adapter/``), a copy of the chat template with
the persona as the default system message (``chat_template.jinja``: vLLM renders requests with
the template it is given, so a request without a system message still talks as the character),
``serve.json`` (base, adapter, rank, command) and a README with the exact command:

    vllm serve BASE --enable-lora --lora-modules persona=ADAPTER --max-lora-rank R --chat-template T

vLLM applies LoRA to the attention and MLP projections only, up to ``--max-lora-rank`` (16 unless
raised, from a fixed list of sizes); :func:`check_folder` loads the folder the way vLLM needs it
(transformers config and tokenizer of the base, peft's ``LoraConfig`` of the adapter) and checks
both limits and that the template renders the persona prompt.
"""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path
from typing import Any

from studio.errors import StudioError

# the adapter module names vLLM's LoRA layers accept, per model type (its packed layers cover these)
_PROJECTIONS = frozenset(
    {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
)
SUPPORTED_TARGETS = {
    "qwen2": _PROJECTIONS,
    "qwen3": _PROJECTIONS,
    "llama": _PROJECTIONS,
    "mistral": _PROJECTIONS,
    "internlm2": frozenset({"wqkv", "wo", "w1", "w2", "w3"}),
    "glm": frozenset({"q_proj", "k_proj", "v_proj", "o_proj", "gate_up_proj", "down_proj"}),
    "glm4": frozenset({"q_proj", "k_proj", "v_proj", "o_proj", "gate_up_proj", "down_proj"}),
}
# the values vLLM's --max-lora-rank accepts; 16 is its default
LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
DEFAULT_MAX_RANK = 16


def max_lora_rank(rank: int) -> int:
    """The smallest ``--max-lora-rank`` vLLM accepts that holds ``rank``.

    Raises:
        StudioError: a rank above vLLM's largest.
    """
    for size in LORA_RANKS:
        if size >= rank:
            return size
    raise StudioError(
        f"vLLM: LoRA rank {rank} is above the largest --max-lora-rank ({LORA_RANKS[-1]})"
    )


def base_reference(ws_model: Any, loaded_path: Path) -> str:
    """How ``vllm serve`` names the base: the hub id, or the local folder's absolute path."""
    if ws_model.source in ("huggingface", "modelscope"):
        return str(ws_model.name)
    return str(Path(loaded_path).resolve())


def serve_command(
    base: str, adapter: Path, rank: int, template: Path, modelscope: bool = False
) -> str:
    """The ``vllm serve`` command line with the persona adapter enabled."""
    env = "VLLM_USE_MODELSCOPE=True " if modelscope else ""
    return (
        f"{env}vllm serve {shlex.quote(base)} --enable-lora "
        f"--lora-modules persona={shlex.quote(str(adapter))} "
        f"--max-lora-rank {max_lora_rank(rank)} --chat-template {shlex.quote(str(template))}"
    )


def write_folder(
    tmp: Path,
    final: Path,
    *,
    adapter_dir: Path,
    base: str,
    model_type: str,
    template: str,
    persona: str,
    character: str,
    modelscope: bool,
    merged: Path | None,
) -> dict[str, Any]:
    """Fill ``tmp`` (renamed to ``final`` by the caller) with the vLLM folder.

    Returns:
        The ``serve.json`` record.


    Raises:
        StudioError: adapter settings vLLM refuses (targets, rank, DoRA, extra saved modules).
    """
    from studio.fsutil import atomic_write_json, atomic_write_text

    config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    _check_adapter(config, model_type, adapter_dir)
    (tmp / "adapter").mkdir()
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        shutil.copy2(adapter_dir / name, tmp / "adapter" / name)
    config["base_model_name_or_path"] = base
    atomic_write_json(tmp / "adapter" / "adapter_config.json", config)
    atomic_write_text(tmp / "chat_template.jinja", template)
    rank = int(config["r"])
    command = serve_command(
        base, final / "adapter", rank, final / "chat_template.jinja", modelscope
    )
    record = {
        "base": base,
        "adapter": str(final / "adapter"),
        "lora_name": "persona",
        "rank": rank,
        "max_lora_rank": max_lora_rank(rank),
        "target_modules": sorted(_targets(config)),
        "chat_template": str(final / "chat_template.jinja"),
        "default_system": persona,
        "command": command,
        "merged_command": f"vllm serve {shlex.quote(str(merged))}" if merged else None,
    }
    atomic_write_json(tmp / "serve.json", record)
    atomic_write_text(tmp / "README.md", _readme(record, character))
    return record


def _targets(config: dict[str, Any]) -> set[str]:
    targets = config.get("target_modules") or []
    return {targets} if isinstance(targets, str) else set(targets)


def _check_adapter(config: dict[str, Any], model_type: str, where: Path) -> None:
    supported = SUPPORTED_TARGETS.get(model_type)
    if supported is None:
        raise StudioError(
            f"vLLM: LoRA support for a {model_type!r} model is not known to the studio; "
            f"no vLLM folder written (known: {', '.join(sorted(SUPPORTED_TARGETS))})"
        )
    extra = sorted(_targets(config) - supported)
    if extra:
        raise StudioError(
            f"{where / 'adapter_config.json'}: vLLM applies LoRA only to "
            f"{', '.join(sorted(supported))}; "
            f"this adapter also targets {', '.join(extra)}"
        )
    if config.get("use_dora"):
        raise StudioError(f"{where / 'adapter_config.json'}: vLLM does not serve DoRA adapters")
    if config.get("modules_to_save"):
        raise StudioError(
            f"{where / 'adapter_config.json'}: vLLM does not load modules_to_save "
            f"({config['modules_to_save']})"
        )
    max_lora_rank(int(config["r"]))


def _readme(record: dict[str, Any], character: str) -> str:
    lines = [
        f"# {character}: serve with vLLM",
        "",
        "vLLM loads the base model once and applies this LoRA adapter per request "
        "(the model name `persona` selects it):",
        "",
        "```sh",
        record["command"],
        "```",
        "",
        "The chat template `chat_template.jinja` is the model's own with one addition: "
        "when a request has no "
        "system message, it puts this one first, the persona the adapter was trained with:",
        "",
        *[f"> {line}" for line in record["default_system"].splitlines() or [""]],
        "",
        "A request that brings its own system message replaces it.",
        "",
        "```sh",
        "curl localhost:8000/v1/chat/completions -H 'Content-Type: application/json' \\",
        '  -d \'{"model": "persona", "messages": [{"role": "user", "content": "你是谁？"}]}\'',
        "```",
        "",
        f"LoRA rank {record['rank']} (vLLM's `--max-lora-rank` defaults to {DEFAULT_MAX_RANK}; "
        f"the command passes {record['max_lora_rank']}); "
        f"target modules: {', '.join(record['target_modules'])}.",
        "",
    ]
    if record.get("merged_command"):
        lines += [
            "The merged model (no LoRA at serving time) serves with:",
            "",
            "```sh",
            record["merged_command"],
            "```",
            "",
        ]
    return "\n".join(lines)


def check_folder(
    folder: Path,
    studio_tokenizer: Any,
    persona: str,
    *,
    base_path: str | Path | None = None,
    check_base: bool = True,
) -> list[str]:
    """Load the folder as vLLM would need it and check what vLLM checks.

    Args:
        folder: the vLLM folder (with ``serve.json``).
        studio_tokenizer: the tokenizer the studio chats with, for the prompt comparison.
        persona: the default system message expected in the template.
        base_path: where the base's files are here (default: ``serve.json``'s base).
        check_base: also load the base's config and tokenizer.

    Returns:
        The check lines.

    Raises:
        StudioError: a check failed.
    """
    from peft import LoraConfig
    from transformers import AutoConfig, AutoTokenizer

    from studio.export.gguf_check import CONVERSATION, render

    record = json.loads((folder / "serve.json").read_text(encoding="utf-8"))
    lora = LoraConfig.from_pretrained(str(folder / "adapter"))
    checks = []
    tokenizer = studio_tokenizer
    if check_base:
        base = str(base_path or record["base"])
        config = AutoConfig.from_pretrained(base)
        tokenizer = AutoTokenizer.from_pretrained(base)
        supported = SUPPORTED_TARGETS.get(config.model_type, frozenset())
        targets = set(lora.target_modules or ())
        if not targets <= supported:
            raise StudioError(
                f"{folder}: targets {sorted(targets - supported)} are outside vLLM's LoRA layers"
            )
        checks.append(
            f"vLLM folder: base {config.model_type} config and tokenizer load with transformers"
        )
    if lora.r > record["max_lora_rank"] or record["max_lora_rank"] not in LORA_RANKS:
        raise StudioError(
            f"{folder}: rank {lora.r} does not fit --max-lora-rank {record['max_lora_rank']}"
        )
    template = (folder / "chat_template.jinja").read_text(encoding="utf-8")
    theirs = tokenizer(
        tokenizer.apply_chat_template(
            list(CONVERSATION), chat_template=template, tokenize=False, add_generation_prompt=True
        ),
        add_special_tokens=False,
    )["input_ids"]
    ours = render(studio_tokenizer, [{"role": "system", "content": persona}, *CONVERSATION])
    if theirs != ours:
        raise StudioError(
            f"{folder}: the chat template without a system message does not render the persona "
            "prompt the studio chats with"
        )
    checks.append(
        f"vLLM folder: peft LoraConfig loads (rank {lora.r}, "
        f"--max-lora-rank {record['max_lora_rank']}, "
        f"targets {', '.join(sorted(lora.target_modules or ()))}); "
        "the chat template renders the studio's "
        f"{len(ours)}-token two-turn prompt with the persona as default system message"
    )
    return checks
