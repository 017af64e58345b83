"""Provides HFModelAdapter:
fetch from ModelScope / Hugging Face / a local folder, load with transformers."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.api.plugins import ModelSpec, Preset
from studio.errors import StudioError

# Presets by GPU memory for a ~7-9B model; without a [train] preset the largest that fits is used.
# Each preset states only what differs from the defaults of studio.train.runconfig.RunConfig;
# studio.toml [train] keys the user changed win over the preset.
LORA_PRESETS: tuple[Preset, ...] = (
    Preset(
        "cpu-tiny",
        0,
        {"dtype": "fp32", "tokens_per_batch": 2048, "lora_r": 8, "lr": 1e-3},
        "CPU: only for tiny models and smoke tests",
    ),
    Preset(
        "16g-qlora",
        14,
        {
            "quantization": "4bit",
            "dtype": "bf16",
            "tokens_per_batch": 4096,
            "gradient_checkpointing": True,
            "lora_r": 16,
            "lr": 2e-4,
        },
        "4-bit QLoRA (bitsandbytes) for 16 GB cards",
    ),
    Preset(
        "24g-lora",
        22,
        {
            "dtype": "bf16",
            "tokens_per_batch": 4096,
            "gradient_checkpointing": True,
            "lora_r": 16,
            "lr": 2e-4,
        },
        "bf16 LoRA with gradient checkpointing, 24 GB cards",
    ),
    Preset(
        "48g-lora",
        44,
        {
            "dtype": "bf16",
            "tokens_per_batch": 8192,
            "row_tokens": 4096,
            "lora_r": 16,
            "lora_dropout": 0.0,
            "lr": 2e-4,
            "compile": True,
        },
        "bf16 LoRA, compiled layers, no checkpointing, 8k-token steps in 4k rows, 40-48 GB cards",
    ),
    # measured on an H200 (bench/train_throughput.py, Llama-3.1-8B shape): compiling adds ~22% tok/s
    Preset(
        "80g-lora",
        76,
        {
            "dtype": "bf16",
            "tokens_per_batch": 8192,
            "lora_r": 16,
            "lora_dropout": 0.0,
            "lr": 2e-4,
            "compile": True,
        },
        "bf16 LoRA, compiled layers, no checkpointing, 8k-token packed rows, 80 GB and larger",
    ),
)

ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class HFModelAdapter:
    """A family of transformers causal LMs.

    Attributes:
        name: adapter name.
        description: one line.
        patterns: lower-case substrings of model ids this family claims.
        lora_targets: module names LoRA wraps.
        end_of_turn: tokens that end an assistant turn in the family's chat template.
        default_model: the model id suggested for a new workspace.
        presets: settings by GPU memory.
        chat_template: the family's template, used when a checkpoint's tokenizer has none.
        demo: random weights for tests and demos: the flow works, the words it writes are noise.
    """

    name: str
    description: str
    patterns: Sequence[str]
    lora_targets: Sequence[str] = ALL_LINEAR
    end_of_turn: Sequence[str] = ()
    default_model: str = ""
    presets: Sequence[Preset] = field(default_factory=lambda: LORA_PRESETS)
    chat_template: str = ""
    demo: bool = False

    # -- fetch ----------------------------------------------------------------------------

    def fetch(self, spec: ModelSpec, progress: Any = None) -> Path:
        """Return a local folder with the model, downloading it when needed (downloads resume).

        Args:
            spec: the model as studio.toml names it.
            progress: ``progress(done_bytes, total_bytes, file)`` during a download.

        Raises:
            StudioError: a missing local folder, an unknown source or a failed download.
        """
        from studio.api import hf_download as download

        local = Path(os.path.expanduser(spec.name))
        if spec.source == "local" or local.is_dir():
            if not local.is_dir():
                raise StudioError(
                    f"[model] name: {spec.name!r} is not a folder; expected a local model folder"
                )
            return local
        if spec.source == "modelscope":
            return download.modelscope(spec, progress)
        if spec.source == "huggingface":
            return download.huggingface(spec, progress)
        raise StudioError(
            f"[model] source: {spec.source!r} is not supported by adapter {self.name}"
        )

    # -- load -----------------------------------------------------------------------------

    def load_tokenizer(self, path: Path, spec: ModelSpec) -> Any:
        from transformers import AutoTokenizer

        kwargs: dict[str, Any] = {"trust_remote_code": spec.trust_remote_code}
        if spec.gguf_file:
            kwargs["gguf_file"] = spec.gguf_file
        tokenizer = _from_pretrained(AutoTokenizer, path, **kwargs)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        if not getattr(tokenizer, "chat_template", None):
            if not self.chat_template:
                raise StudioError(
                    f"{path}: the tokenizer has no chat template; expected an instruct/chat model"
                )
            tokenizer.chat_template = self.chat_template  # a base checkpoint: the family's template
        return tokenizer

    def load_model(
        self, path: Path, spec: ModelSpec, *, dtype: Any, device: Any, quantization: str = ""
    ) -> Any:
        """Load the causal LM;
        ``quantization="4bit"`` loads NF4 weights for QLoRA (CUDA + bitsandbytes).

        Raises:
            StudioError: 4-bit without bitsandbytes installed.
        """
        from transformers import AutoModelForCausalLM

        kwargs: dict[str, Any] = {"trust_remote_code": spec.trust_remote_code, "dtype": dtype}
        if spec.gguf_file:
            kwargs["gguf_file"] = spec.gguf_file
        else:  # safetensors only, unless the user allowed this folder's pickles
            kwargs["use_safetensors"] = not _refuse_pickles(path, spec)
        if quantization == "4bit":
            kwargs["quantization_config"] = _nf4_config(dtype)
            kwargs["device_map"] = {"": device}
            return prepare_for_qlora(_from_pretrained(AutoModelForCausalLM, path, **kwargs))
        if quantization:
            raise StudioError(
                f"[train] quantization: expected 4bit or nothing, got {quantization!r}"
            )
        model = _from_pretrained(AutoModelForCausalLM, path, **kwargs)
        return model.to(device)


def _from_pretrained(auto: Any, path: Path, **kwargs: Any) -> Any:
    """``auto.from_pretrained`` with its refusals (remote code, missing or unreadable files) as
    StudioError naming the folder, instead of a traceback.

    Raises:
        StudioError: the folder cannot be loaded as asked.
    """
    try:
        return auto.from_pretrained(str(path), **kwargs)
    except (OSError, ValueError) as exc:
        text = " ".join(str(exc).split())
        if "trust_remote_code" in text:
            raise StudioError(
                f"{path}: this model needs its own Python code to load, which the studio does not run "
                "unless [model] trust_remote_code = true (only for a repository you trust)"
            ) from None
        raise StudioError(f"{path}: cannot load with {auto.__name__}: {text[:300]}") from None


def prepare_for_qlora(model: Any) -> Any:
    """Make a model loaded with NF4 weights ready for LoRA training: every base weight frozen,
    the norms (vectors) in fp32 for stable training. Embeddings and the LM head stay in the
    compute dtype: they are frozen, and fp32 copies of a 128k-token vocabulary's embedding and
    head would add 2 GiB at the 8B shape."""
    import torch

    for param in model.parameters():
        param.requires_grad_(False)
        if param.ndim == 1 and param.dtype in (torch.float16, torch.bfloat16):
            param.data = param.data.float()
    return model


def _nf4_config(dtype: Any) -> Any:
    """QLoRA's settings: NF4 weights, double quantisation, compute in the training dtype."""
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise StudioError(
            '[train] quantization = "4bit" needs bitsandbytes: '
            "pip install 'persona-studio[qlora]'"
        ) from None
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=dtype,
    )


def _refuse_pickles(path: Path, spec: ModelSpec) -> bool:
    """Pickled weights (``*.bin``, ``*.pt``) can run code when loaded: require safetensors.

    Returns:
        True when the folder has only pickled weights and the user allowed them
        (``PERSONA_STUDIO_ALLOW_PICKLE=1``); they are then read with ``weights_only``.
    """
    if any(path.glob("*.safetensors")):
        return False
    if any(path.glob("*.bin")) or any(path.glob("*.pt")):
        if os.environ.get("PERSONA_STUDIO_ALLOW_PICKLE") != "1":
            raise StudioError(
                f"{path}: only pickled weights (*.bin) here, which can run code when loaded; "
                "expected *.safetensors "
                "(set PERSONA_STUDIO_ALLOW_PICKLE=1 if you trust this folder)"
            )
        return True
    return False
