"""Provides tiny models of real architectures for tests and offline demos.

``tiny-qwen2`` and ``tiny-llama`` are random weights of a small Qwen2 / Llama config with a
byte-level tokenizer built here (any UTF-8 text, Chinese included) and the family's real chat
template. ``fetch`` writes them once as an ordinary model folder (safetensors + tokenizer), so
everything after it runs the same code as a real downloaded model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from studio.api import ALL_LINEAR, HFModelAdapter, ModelSpec, Preset
from studio_models.templates import CHATML, LLAMA3

_SPECIALS = {
    "qwen2": (
        ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        "<|im_end|>",
        "<|endoftext|>",
        None,
        CHATML,
    ),
    "llama": (
        [
            "<|begin_of_text|>",
            "<|end_of_text|>",
            "<|start_header_id|>",
            "<|end_header_id|>",
            "<|eot_id|>",
        ],
        "<|eot_id|>",
        "<|end_of_text|>",
        "<|begin_of_text|>",
        LLAMA3,
    ),
}

FORMAT_VERSION = 1


def _byte_alphabet() -> list[str]:
    """The 256 printable characters that byte-level pre-tokenisation maps the bytes 0..255 to."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    table: dict[int, str] = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return [table[b] for b in range(256)]


def build_tokenizer(arch: str) -> Any:
    """A byte-level tokenizer
    (256 byte tokens + the family's special tokens) with its chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials, eos, pad, bos, template = _SPECIALS[arch]
    vocab = {char: index for index, char in enumerate(_byte_alphabet())}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    core.add_special_tokens(specials)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token=eos,
        pad_token=pad,
        bos_token=bos,
        chat_template=template,
    )
    return tokenizer


def build_model(arch: str, vocab_size: int, seed: int = 0, **overrides: Any) -> Any:
    """Random weights of a small config of the real architecture (seeded:
    same seed, same weights)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    shape = dict(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        vocab_size=vocab_size,
        tie_word_embeddings=False,
        use_cache=True,
    )
    shape.update(overrides)
    torch.manual_seed(seed)
    if arch == "qwen2":
        return Qwen2ForCausalLM(Qwen2Config(**shape))
    return LlamaForCausalLM(LlamaConfig(**shape))


class TinyAdapter(HFModelAdapter):
    """A tiny random model of a real architecture, written to a local folder on first use."""

    def __init__(self, name: str, arch: str) -> None:
        specials = _SPECIALS[arch]
        super().__init__(
            name=name,
            description=f"random-weight {arch} (2 layers, hidden 64), byte tokenizer: tests, demos",
            patterns=(name,),
            lora_targets=ALL_LINEAR,
            end_of_turn=(specials[1],),
            default_model=name,
            demo=True,
            presets=(
                Preset(
                    "cpu-tiny",
                    0,
                    {"dtype": "fp32", "tokens_per_batch": 4096, "lr": 2e-3, "lora_r": 8},
                    "tiny model on the CPU",
                ),
            ),
        )
        self.arch = arch

    def fetch(self, spec: ModelSpec, progress: Any = None) -> Path:
        """Write the tiny model folder under ``cache_dir`` (or the user cache) once;
        reuse it after."""
        import os

        from studio.api import atomic_write_text

        root = (
            Path(spec.cache_dir)
            if spec.cache_dir
            else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "persona-studio"
        )
        folder = root / f"{self.name}-v{FORMAT_VERSION}"
        if (folder / "model.safetensors").exists() and (folder / "tokenizer.json").exists():
            return folder
        tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
        tmp.mkdir(parents=True, exist_ok=True)
        tokenizer = build_tokenizer(self.arch)
        vocab = ((len(tokenizer) + 63) // 64) * 64
        model = build_model(self.arch, vocab)
        model.config.bos_token_id = tokenizer.bos_token_id
        model.config.eos_token_id = tokenizer.eos_token_id
        model.config.pad_token_id = tokenizer.pad_token_id
        model.generation_config.eos_token_id = tokenizer.eos_token_id
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        atomic_write_text(
            tmp / "persona_studio_tiny.json",
            json.dumps({"arch": self.arch, "format": FORMAT_VERSION}),
        )
        try:
            os.replace(tmp, folder)
        except OSError:  # another process won the race: use its folder
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
        return folder
