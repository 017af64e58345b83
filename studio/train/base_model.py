"""Provides base-model loading through the model-adapter plugins (training, chat, eval, serve)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.api import ModelAdapter, ModelSpec
from studio.config import ModelConfig
from studio.errors import StudioError


def model_spec(cfg: ModelConfig, workspace_root: Path | None = None) -> ModelSpec:
    """Turn studio.toml ``[model]`` into a ModelSpec;
    a relative local path is workspace-relative."""
    name = cfg.name
    source = cfg.source
    if source == "local" and workspace_root is not None and not Path(name).is_absolute():
        name = str((workspace_root / name).resolve())
    cache = cfg.cache_dir
    if not cache and source == "tiny" and workspace_root is not None:
        cache = str(workspace_root / ".cache" / "models")
    return ModelSpec(
        name=name,
        source=source,
        adapter=cfg.adapter,
        revision=cfg.revision or None,
        trust_remote_code=cfg.trust_remote_code,
        gguf_file=cfg.gguf_file or None,
        cache_dir=cache or None,
    )


def is_demo_model(cfg: ModelConfig, adapters: Mapping[str, ModelAdapter]) -> bool:
    """True when studio.toml's ``[model]`` is a demo model (random weights: its words are noise)."""
    try:
        return bool(getattr(pick_adapter(model_spec(cfg), adapters), "demo", False))
    except StudioError:
        return False


def pick_adapter(spec: ModelSpec, adapters: Mapping[str, ModelAdapter]) -> ModelAdapter:
    """The adapter named in the spec, or the first whose pattern occurs in the model id.

    Raises:
        StudioError: no adapter claims the model.
    """
    if spec.adapter:
        if spec.adapter not in adapters:
            raise StudioError(
                f"[model] adapter: no model adapter {spec.adapter!r}; "
                f"installed: {', '.join(sorted(adapters))}"
            )
        return adapters[spec.adapter]
    lowered = spec.name.lower()
    if spec.source == "tiny" and lowered in adapters:
        return adapters[lowered]
    best: tuple[int, str, ModelAdapter] | None = None
    for adapter in adapters.values():
        for pattern in adapter.patterns:
            if pattern in lowered and (best is None or len(pattern) > best[0]):
                best = (len(pattern), adapter.name, adapter)
    if best is None:
        folder = Path(spec.name)
        config = folder / "config.json"
        if config.exists():  # a local folder: pick by its architecture
            import json

            model_type = json.loads(config.read_text()).get("model_type", "")
            for adapter in adapters.values():
                if any(p in model_type for p in adapter.patterns):
                    return adapter
        raise StudioError(
            f"no model adapter claims {spec.name!r}; "
            f"set [model] adapter to one of {', '.join(sorted(adapters))}"
        )
    return best[2]


def resolve_device(preferred: str = "auto") -> Any:
    import torch

    if preferred != "auto":
        return torch.device(preferred)
    if torch.cuda.is_available():
        import os

        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def resolve_dtype(name: str, device: Any) -> Any:
    """``auto`` is bf16 on a GPU that supports it and fp32 elsewhere."""
    import torch

    table = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
    if name in table:
        return table[name]
    if getattr(device, "type", str(device)) == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


@dataclass
class LoadedModel:
    """A base model (optionally with a LoRA adapter) ready for training or generation."""

    model: Any
    tokenizer: Any
    adapter: ModelAdapter
    spec: ModelSpec
    path: Path
    end_of_turn_ids: list[int]


def quiet_transformers() -> None:
    """Silence download/loading progress bars and deprecation chatter from the libraries."""
    import os
    import warnings

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except Exception:
        pass


def end_of_turn_ids(adapter: ModelAdapter, tokenizer: Any) -> list[int]:
    ids: list[int] = []
    for token in (*adapter.end_of_turn, tokenizer.eos_token):
        if not token:
            continue
        token_id = tokenizer.convert_tokens_to_ids(token)
        if (
            isinstance(token_id, int)
            and token_id >= 0
            and token_id != tokenizer.unk_token_id
            and token_id not in ids
        ):
            ids.append(token_id)
    return ids


def load_for_training(
    adapter: ModelAdapter,
    spec: ModelSpec,
    *,
    dtype: Any,
    device: Any,
    quantization: str = "",
    progress: Any = None,
) -> tuple[Any, Any]:
    """Fetch and load a base model and its tokenizer for LoRA training.

    Args:
        adapter: the model's family adapter.
        spec: the base model.
        dtype: weights dtype (bf16 on GPUs).
        device: where it trains.
        quantization: ``4bit`` loads the base weights in NF4 through bitsandbytes (QLoRA).
        progress: ``progress(done_bytes, total_bytes, file)`` while the model downloads.

    Raises:
        StudioError: 4-bit asked without CUDA, without bitsandbytes, or from an adapter that cannot.
    """
    path = adapter.fetch(spec, progress=progress)
    tokenizer = adapter.load_tokenizer(path, spec)
    if not quantization:
        return tokenizer, adapter.load_model(path, spec, dtype=dtype, device=device)
    if getattr(device, "type", str(device)) != "cuda":
        raise StudioError(
            f"[train] quantization = {quantization!r} needs a CUDA GPU (bitsandbytes); "
            "use no quantization on the CPU"
        )
    try:
        return tokenizer, adapter.load_model(
            path, spec, dtype=dtype, device=device, quantization=quantization
        )
    except TypeError as exc:
        if "quantization" not in str(exc):
            raise
        raise StudioError(
            f"model adapter {adapter.name} cannot load {quantization} weights"
        ) from None


def load_model(
    spec: ModelSpec,
    adapters: Mapping[str, ModelAdapter],
    *,
    device: Any = None,
    dtype: Any = None,
    lora_path: str | Path | None = None,
    merge: bool = False,
) -> LoadedModel:
    """Fetch and load a base model, optionally with a trained LoRA adapter.

    Args:
        spec: the base model.
        adapters: registered model adapters.
        device / dtype: where and in what precision; ``None`` picks automatically.
        lora_path: a peft adapter folder to attach.
        merge: fold the adapter into the weights (faster generation, no unmerge).
    """
    quiet_transformers()
    adapter = pick_adapter(spec, adapters)
    device = device if device is not None else resolve_device()
    dtype = dtype if dtype is not None else resolve_dtype("auto", device)
    path = adapter.fetch(spec)
    tokenizer = adapter.load_tokenizer(path, spec)
    model = adapter.load_model(path, spec, dtype=dtype, device=device)
    if lora_path is not None:
        from peft import PeftModel

        lora_path = Path(lora_path)
        if not (lora_path / "adapter_config.json").exists():
            raise StudioError(
                f"{lora_path}: no adapter_config.json; expected a LoRA adapter folder"
            )
        model = PeftModel.from_pretrained(model, str(lora_path))
        if merge:
            model = model.merge_and_unload()
    model.eval()
    return LoadedModel(model, tokenizer, adapter, spec, path, end_of_turn_ids(adapter, tokenizer))
