"""Provides the GGUF writer of ``export --gguf``: a merged persona model as one llama.cpp file.

The file holds the weights under llama.cpp's tensor names (the ``gguf`` package's name map for
the architecture), the hyper-parameters llama.cpp and transformers read, the byte-level BPE
tokenizer (tokens, token types, merges, special ids) and the chat template with the persona as
the default system message. Only families that transformers can read back from GGUF are written,
so that every file is checked by loading it again (:mod:`studio.export.gguf_check`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.errors import StudioError

TYPES = ("f16", "bf16", "q8_0")

# model_type -> the gguf package's architecture name; each one transformers reads back
WRITABLE = {"qwen2": "qwen2", "qwen3": "qwen3", "llama": "llama"}
# families the studio trains whose GGUF transformers cannot read (or the studio cannot write yet)
WHY_NOT = {
    "internlm2": "transformers cannot read an InternLM2 GGUF back to check the file",
    "glm": "transformers cannot read a GLM-4 GGUF back, so the file could not be checked",
    "glm4": "transformers cannot read a GLM-4 GGUF back, so the file could not be checked",
    "mistral": "its SentencePiece tokenizer is not written by the studio's GGUF export yet",
}
# pre-tokenizer names llama.cpp knows, preferred when several share one split pattern
PREFERRED_PRE = ("qwen2", "llama-bpe")
# the split patterns of those two, as their tokenizer.json files state them
SPLITS = {
    "qwen2": (
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
        r"|\s*[\r\n]+|\s+(?!\S)|\s+"
    ),
    "llama-bpe": (
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
        r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
    ),
}


@dataclass
class GGUFFacts:
    """What was written, for the Modelfile and the checks."""

    path: Path
    arch: str
    qtype: str
    add_bos: bool
    bos_token: str | None
    end_of_turn: list[str]


def gguf_arch(model_type: str) -> str:
    """The gguf architecture name for a transformers ``model_type``.

    Raises:
        StudioError: a family the export does not write, with the reason.
    """
    if model_type in WRITABLE:
        return WRITABLE[model_type]
    reason = WHY_NOT.get(model_type, "transformers cannot read it back from GGUF to check the file")
    raise StudioError(
        f"--gguf: a {model_type!r} model is not exported as GGUF: {reason}; "
        f"supported: {', '.join(sorted(WRITABLE))} (the adapter and --merged exports still work)"
    )


def rope_theta(config: Any) -> float:
    """The rotary base, from ``rope_parameters`` (transformers 5) or ``rope_theta``."""
    params = getattr(config, "rope_parameters", None) or {}
    theta = params.get("rope_theta") if isinstance(params, dict) else None
    return float(theta or getattr(config, "rope_theta", None) or 10000.0)


def _rope_kind(config: Any) -> str:
    params = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    return (
        str(params.get("rope_type") or params.get("type") or "default")
        if isinstance(params, dict)
        else "default"
    )


def head_dim(config: Any) -> int:
    return int(
        getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    )


def _permute_rotary(weight: Any, heads: int) -> Any:
    """Reorder the rows of a Llama q/k projection from transformers' half-split rotary layout to
    llama.cpp's interleaved one (transformers undoes this when it reads the file)."""
    rows = weight.shape[0]
    return (
        weight.reshape(heads, 2, rows // heads // 2, *weight.shape[1:])
        .swapaxes(1, 2)
        .reshape(weight.shape)
    )


def tokenizer_pre(tokenizer: Any) -> str:
    """llama.cpp's name for the tokenizer's pre-tokenizer split (``default`` when it has none).

    Raises:
        StudioError: not a byte-level BPE tokenizer, or a split pattern llama.cpp has no name for.
    """
    try:  # the table transformers reads GGUF files with, when this version has it
        from transformers.integrations.gguf.gguf_tokenizer_mapping import GGUF_PRE_TOKENIZER_SPLITS
    except ImportError:
        GGUF_PRE_TOKENIZER_SPLITS = SPLITS
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    if spec["model"]["type"] != "BPE" or "ByteLevel" not in json.dumps(spec.get("pre_tokenizer")):
        raise StudioError(
            "--gguf: only byte-level BPE tokenizers (Qwen2, Llama-3) are written as GGUF; "
            f"this one is {spec['model']['type']}"
        )
    patterns = [
        node["pattern"]["Regex"]
        for node in _walk(spec.get("pre_tokenizer"))
        if node.get("type") == "Split" and "Regex" in node.get("pattern", {})
    ]
    if not patterns:
        return "default"
    names = [name for name, regex in GGUF_PRE_TOKENIZER_SPLITS.items() if regex == patterns[0]]
    for name in PREFERRED_PRE:
        if name in names:
            return name
    if names:
        return names[0]
    raise StudioError(
        "--gguf: the tokenizer splits text with a pattern llama.cpp has no pre-tokenizer name for; "
        "not written (llama.cpp would tokenize differently from training)"
    )


def _walk(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node, *[n for value in node.values() for n in _walk(value)]]
    if isinstance(node, list):
        return [n for value in node for n in _walk(value)]
    return []


def vocabulary(tokenizer: Any, rows: int) -> tuple[list[str], list[int], list[str]]:
    """Tokens by id for every embedding row, their llama.cpp token types and the BPE merges.

    Ids the tokenizer does not use (the embedding is often padded) become ``[PADn]``, unused.
    """
    from gguf import TokenType

    by_id = {index: token for token, index in tokenizer.get_vocab().items()}
    added = tokenizer.added_tokens_decoder
    if max(by_id) >= rows:
        raise StudioError(
            f"--gguf: the tokenizer has id {max(by_id)} but the model only {rows} embedding rows"
        )
    tokens, types = [], []
    for index in range(rows):
        if index not in by_id:
            tokens.append(f"[PAD{index}]")
            types.append(int(TokenType.UNUSED))
        elif index in added:
            tokens.append(added[index].content)
            types.append(int(TokenType.CONTROL if added[index].special else TokenType.USER_DEFINED))
        else:
            tokens.append(by_id[index])
            types.append(int(TokenType.NORMAL))
    merges = json.loads(tokenizer.backend_tokenizer.to_str())["model"].get("merges") or []
    merges = [" ".join(m) if isinstance(m, list) else m for m in merges]
    return tokens, types, merges


def starts_with_bos(tokenizer: Any) -> bool:
    """True when the chat template writes BOS first (Llama-3): llama.cpp adds it instead."""
    bos = tokenizer.bos_token
    if not bos:
        return False
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "x"}], tokenize=False, add_generation_prompt=True
    )
    return bool(text.startswith(bos))


def write_gguf(
    model: Any,
    tokenizer: Any,
    path: Path,
    *,
    qtype: str,
    chat_template: str,
    end_of_turn_ids: Sequence[int],
    name: str,
) -> GGUFFacts:
    """Write ``model`` (merged, plain transformers) and ``tokenizer`` as one GGUF file.

    Args:
        model: the merged causal LM (any dtype; read as float32).
        tokenizer: its fast tokenizer.
        path: the file to write.
        qtype: ``f16``, ``bf16`` or ``q8_0`` for the matrices (norms and biases stay float32).
        chat_template: the Jinja template to store (the persona already baked in).
        end_of_turn_ids: the tokens that end an assistant turn (the first is the EOT id).
        name: ``general.name``.

    Raises:
        StudioError: an unsupported family, tokenizer, rope scaling or type.
    """
    import gguf
    import numpy as np

    if qtype not in TYPES:
        raise StudioError(f"--type: expected one of {', '.join(TYPES)}, got {qtype!r}")
    config = model.config
    arch_name = gguf_arch(config.model_type)
    if _rope_kind(config) != "default":
        raise StudioError(
            f"--gguf: rope scaling {_rope_kind(config)!r} is not written by the GGUF export "
            "(transformers would not read it back, so the file could not be checked)"
        )
    arch = next(a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == arch_name)
    layers = int(config.num_hidden_layers)
    heads, kv_heads = int(config.num_attention_heads), int(config.num_key_value_heads)
    state = model.state_dict()
    rows = int(state["model.embed_tokens.weight"].shape[0])
    tied = bool(getattr(config, "tie_word_embeddings", False))
    pre = tokenizer_pre(tokenizer)
    tokens, types, merges = vocabulary(tokenizer, rows)
    add_bos = starts_with_bos(tokenizer)

    writer = gguf.GGUFWriter(str(path), arch_name)
    writer.add_name(name)
    writer.add_file_type(
        int(
            {
                "f16": gguf.LlamaFileType.MOSTLY_F16,
                "bf16": gguf.LlamaFileType.MOSTLY_BF16,
                "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
            }[qtype]
        )
    )
    writer.add_context_length(int(config.max_position_embeddings))
    writer.add_embedding_length(int(config.hidden_size))
    writer.add_block_count(layers)
    writer.add_feed_forward_length(int(config.intermediate_size))
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_freq_base(rope_theta(config))
    writer.add_rope_dimension_count(head_dim(config))
    writer.add_layer_norm_rms_eps(float(config.rms_norm_eps))
    writer.add_vocab_size(rows)
    if head_dim(config) != config.hidden_size // heads:
        writer.add_key_length(head_dim(config))
        writer.add_value_length(head_dim(config))

    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    if merges:
        writer.add_token_merges(merges)
    else:
        # byte tokens only (the tiny test models): gguf writes no empty array, so readers get
        # equal scores, from which no merge follows; llama.cpp wants merges and loads no such file
        writer.add_token_scores([0.0] * rows)
    for setter, token_id in (
        (writer.add_bos_token_id, tokenizer.bos_token_id),
        (writer.add_eos_token_id, tokenizer.eos_token_id),
        (writer.add_pad_token_id, tokenizer.pad_token_id),
    ):
        if token_id is not None:
            setter(int(token_id))
    if end_of_turn_ids:
        writer.add_eot_token_id(int(end_of_turn_ids[0]))
    writer.add_add_bos_token(add_bos)
    writer.add_add_eos_token(False)
    writer.add_chat_template(chat_template)

    names = gguf.get_tensor_name_map(arch, layers)
    for key, tensor in state.items():
        if key == "lm_head.weight" and tied:
            continue
        stem, _, suffix = key.rpartition(".")
        mapped = names.get_name(stem)
        if mapped is None:
            raise StudioError(
                f"--gguf: no GGUF name for tensor {key!r} of a {config.model_type} model; "
                "not written"
            )
        data = tensor.detach().float().cpu().numpy()
        if arch_name == "llama" and stem.endswith("self_attn.q_proj") and suffix == "weight":
            data = _permute_rotary(data, heads)
        elif arch_name == "llama" and stem.endswith("self_attn.k_proj") and suffix == "weight":
            data = _permute_rotary(data, kv_heads)
        _add(writer, f"{mapped}.{suffix}", np.ascontiguousarray(data), qtype)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    bos = tokenizer.bos_token if add_bos else None
    return GGUFFacts(
        path,
        arch_name,
        qtype,
        add_bos,
        bos,
        [tokenizer.convert_ids_to_tokens(int(i)) for i in end_of_turn_ids],
    )


def _add(writer: Any, name: str, data: Any, qtype: str) -> None:
    """One tensor: vectors in float32, matrices in the chosen type (q8_0: rows of 32 values)."""
    import numpy as np
    from gguf import GGMLQuantizationType, quants

    if data.ndim < 2:
        writer.add_tensor(name, data.astype(np.float32))
    elif qtype == "f16" or (qtype == "q8_0" and data.shape[-1] % 32):
        writer.add_tensor(name, data.astype(np.float16))
    else:
        kind = GGMLQuantizationType.BF16 if qtype == "bf16" else GGMLQuantizationType.Q8_0
        writer.add_tensor(name, quants.quantize(data, kind), raw_shape=None, raw_dtype=kind)
