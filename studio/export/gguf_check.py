"""Provides the checks of a GGUF export: the file read back by transformers, and the Ollama prompt.

Nothing is assumed about the written file. :func:`compare_logits` loads it with
``AutoModelForCausalLM.from_pretrained(folder, gguf_file=...)`` (and the tokenizer the same way)
and compares its logits with the merged model's on a few persona prompts, every position:
the largest difference relative to the largest logit must stay within the type's tolerance, and
the top-1 token must agree wherever the merged model's lead over its runner-up is larger than
twice that difference (elsewhere rounding may legitimately swap a near tie).
:func:`compare_prompts` renders a two-turn conversation with the Modelfile's TEMPLATE (as Ollama
does) and with the GGUF's own chat template, and compares both with the studio chat's prompt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.errors import StudioError

# largest |Δlogit| / largest |logit| allowed per type: float16 keeps 11 significant bits, bfloat16
# 8, q8_0 8 bits per value with one scale per 32 values. Measured (bench/gguf_roundtrip.py): tiny
# models 4e-4 / 5e-3 / 1.1e-2, Qwen2.5-Coder-0.5B 4.4e-4 (f16) and 4.8e-2 (q8_0)
TOLERANCE = {"f16": 5e-3, "bf16": 5e-2, "q8_0": 1e-1}

PROBE_USERS = ("你是谁？ Who are you?", "今天的茶怎么这样苦？", "Tell me about the river at dawn.")
CONVERSATION = (
    {"role": "user", "content": "今天生意怎么样？"},
    {"role": "assistant", "content": "客人不多，话倒不少。"},
    {"role": "user", "content": "那你明天还来吗？ Will you come tomorrow?"},
)


@dataclass
class LogitReport:
    """The round-trip figures of one GGUF file."""

    qtype: str
    positions: int
    max_abs: float
    relative: float
    top1: float
    decisive_kept: bool
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.relative <= self.tolerance and self.decisive_kept

    def line(self) -> str:
        return (
            f"GGUF {self.qtype} read back by transformers: max |Δlogit| {self.max_abs:.4f} "
            f"({self.relative:.2e} of the largest logit, tolerance {self.tolerance:.0e}), "
            f"top-1 agreement {self.top1:.1%} over {self.positions} positions"
        )


def probe_prompts(system: str) -> list[list[dict[str, str]]]:
    """The conversations the logits are compared on, the persona as system message."""
    return [
        [{"role": "system", "content": system}, {"role": "user", "content": text}]
        for text in PROBE_USERS
    ]


def render(tokenizer: Any, messages: Sequence[Mapping[str, str]]) -> list[int]:
    """The studio chat's prompt ids (the same rule as :func:`studio.chat.session.render_prompt`)."""
    from studio.chat.session import render_prompt

    return render_prompt(tokenizer, messages)


def reference_logits(model: Any, tokenizer: Any, system: str) -> list[Any]:
    """The merged model's logits (float32, CPU) at every position of each probe prompt."""
    import torch

    device = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for messages in probe_prompts(system):
            ids = torch.tensor([render(tokenizer, messages)], device=device)
            out.append(model(input_ids=ids).logits[0].float().cpu())
    return out


def load_gguf(path: Path, like: Any = None) -> tuple[Any, Any]:
    """The GGUF file as transformers reads it: (model, tokenizer).

    Args:
        path: the file.
        like: the merged model; the file is computed in its dtype and on its device, so that
            only the file's rounding differs (default: float32 on the CPU).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    first = next(like.parameters()) if like is not None else None
    model = AutoModelForCausalLM.from_pretrained(
        str(path.parent),
        gguf_file=path.name,
        dtype=first.dtype if first is not None else torch.float32,
    )
    return model.to(first.device if first is not None else "cpu").eval(), tokenizer


def compare_logits(
    expected: Sequence[Any],
    tokenizer: Any,
    gguf_model: Any,
    gguf_tokenizer: Any,
    system: str,
    qtype: str,
) -> LogitReport:
    """Logits of the read-back file against the merged model's on the probe prompts.

    Raises:
        StudioError: the file's tokenizer encodes a probe prompt differently.
    """
    import torch

    worst, scale, agree, total, kept = 0.0, 0.0, 0, 0, True
    for reference, messages in zip(expected, probe_prompts(system), strict=True):
        ids = render(tokenizer, messages)
        text = tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=True
        )
        if gguf_tokenizer(text, add_special_tokens=False)["input_ids"] != ids:
            raise StudioError(
                "GGUF check: the file's tokenizer splits the persona prompt differently from the "
                "model's own; not exported"
            )
        with torch.no_grad():
            device = next(gguf_model.parameters()).device
            got = gguf_model(input_ids=torch.tensor([ids], device=device)).logits[0].float().cpu()
        diff = float((got - reference).abs().max())
        worst, scale = max(worst, diff), max(scale, float(reference.abs().max()))
        same = got.argmax(-1) == reference.argmax(-1)
        agree, total = agree + int(same.sum()), total + len(ids)
        top2 = torch.topk(reference, 2, dim=-1).values
        decisive = (top2[:, 0] - top2[:, 1]) > 2 * diff
        kept = kept and bool(same[decisive].all())
    return LogitReport(
        qtype, total, worst, worst / (scale or 1.0), agree / max(total, 1), kept, TOLERANCE[qtype]
    )


def compare_prompts(
    tokenizer: Any,
    gguf_tokenizer: Any,
    template: str,
    system: str,
    add_bos: bool,
    bos_token: str | None,
) -> list[str]:
    """The two-turn conversation through the Modelfile TEMPLATE and the GGUF chat template.

    Returns:
        The check lines.

    Raises:
        StudioError: either prompt differs from the studio chat's, with the first differing token.
    """
    from studio.export.ollama import render_go_template

    ours = render(tokenizer, [{"role": "system", "content": system}, *CONVERSATION])
    text = render_go_template(template, CONVERSATION, system=system)
    bos = [gguf_tokenizer.convert_tokens_to_ids(bos_token)] if add_bos and bos_token else []
    ollama = bos + gguf_tokenizer(text, add_special_tokens=False)["input_ids"]
    embedded = render(
        gguf_tokenizer, CONVERSATION
    )  # no system message: the persona comes from the template
    for name, ids in (
        ("the Modelfile TEMPLATE (Ollama)", ollama),
        ("the GGUF chat template", embedded),
    ):
        if ids != ours:
            at = next(
                (i for i, (a, b) in enumerate(zip(ids, ours, strict=False)) if a != b),
                min(len(ids), len(ours)),
            )
            raise StudioError(
                f"GGUF check: {name} renders a two-turn chat differently from the studio's chat at "
                f"token {at} ({len(ids)} vs {len(ours)} tokens: "
                f"{gguf_tokenizer.decode(ids[at : at + 8])!r} vs "
                f"{tokenizer.decode(ours[at : at + 8])!r}); "
                "not exported"
            )
    return [
        "a two-turn chat through the Modelfile TEMPLATE renders the studio chat's "
        f"{len(ours)} prompt tokens "
        "exactly (persona from SYSTEM)",
        "the GGUF's own chat template renders the same tokens with no system message given",
    ]
