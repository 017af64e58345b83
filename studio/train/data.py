"""Provides sample encoding with the model's own chat template and the loss mask.

Loss is on the character's tokens plus exactly one end-of-turn token per assistant turn;
everything else (system prompt, user turns, template scaffolding, a newline the template puts
after the end-of-turn) is masked with -100. The system prompt is the run's persona card, the
same text chat uses, so training and chat see the same prompt.

How an assistant turn is located: the template renders ``messages[:i]`` with the generation
prompt, and ``messages[:i+1]``; when both are prefixes of the whole conversation (ChatML,
Llama-3, GLM-4), the text between them is the turn. Templates that rewrite earlier turns
(Mistral moves the system prompt into the last user turn) fall back to finding each reply's
text in order in the rendered conversation. The end-of-turn token is the first one inside the
turn; when the template writes none there (GLM-4 ends a turn by starting the next one), the
token that follows the turn is supervised when it is an end-of-turn token, and for the last
turn the tokenizer's end-of-sequence token is appended.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from studio.api import Sample
from studio.errors import StudioError
from studio.settings import OVERLONG as OVERLONG_CHOICES

IGNORE = -100


@dataclass
class Encoded:
    """One tokenised conversation.

    Attributes:
        sample_id: the sample's id (``id#2`` for the second piece of a split conversation).
        input_ids: token ids of the whole rendered conversation.
        labels: the token id where the loss applies, -100 elsewhere (not shifted).
    """

    sample_id: str
    input_ids: list[int]
    labels: list[int]

    @property
    def supervised(self) -> int:
        """Tokens that carry loss."""
        return sum(1 for label in self.labels if label != IGNORE)

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass
class EncodeReport:
    """What encoding did to the samples, for the ``data`` event.

    Attributes:
        samples: conversations read.
        encoded: items produced (a split conversation gives several).
        too_long: ids of samples (or exchanges) over ``max_length`` that were dropped.
        split: ids of conversations split into pieces that fit.
        no_reply: ids of samples without an assistant turn to learn from.
        system_replaced: samples whose own system prompt differed from the run's persona.
        appended_eot: assistant turns whose end-of-turn token was appended (template writes none).
    """

    samples: int = 0
    encoded: int = 0
    too_long: list[str] = field(default_factory=list)
    split: list[str] = field(default_factory=list)
    no_reply: list[str] = field(default_factory=list)
    system_replaced: int = 0
    appended_eot: int = 0

    def summary(self) -> dict[str, Any]:
        """Counts for the ``data`` event (the first 50 dropped ids, for looking them up)."""
        return {
            "too_long": len(self.too_long),
            "too_long_ids": self.too_long[:50],
            "split": len(self.split),
            "no_reply": len(self.no_reply),
            "system_replaced": self.system_replaced,
            "appended_eot": self.appended_eot,
        }

    def merge(self, other: EncodeReport) -> EncodeReport:
        """Sum of two reports (train + eval)."""
        return EncodeReport(
            self.samples + other.samples,
            self.encoded + other.encoded,
            self.too_long + other.too_long,
            self.split + other.split,
            self.no_reply + other.no_reply,
            self.system_replaced + other.system_replaced,
            self.appended_eot + other.appended_eot,
        )


def render(
    tokenizer: Any, messages: list[dict[str, str]], add_generation_prompt: bool = False
) -> str:
    """The chat template's text for ``messages``."""
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt
    )


def _turn_spans(tokenizer: Any, messages: list[dict[str, str]], full: str) -> list[tuple[int, int]]:
    """Character spans ``[start, end)`` of each assistant turn in ``full``."""
    spans: list[tuple[int, int]] = []
    prefix_ok = True
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = render(tokenizer, messages[:index], add_generation_prompt=True)
        upto = render(tokenizer, messages[: index + 1])
        if not (full.startswith(before) and full.startswith(upto) and len(upto) > len(before)):
            prefix_ok = False
            break
        spans.append((len(before), len(upto)))
    if prefix_ok:
        return spans
    # the template rewrites earlier turns: find each reply's text, in order, after the previous one
    spans = []
    cursor = 0
    for message in messages:
        if message["role"] != "assistant":
            continue
        content = message["content"].strip()
        start = full.find(content, cursor)
        if not content or start < 0:
            raise StudioError(
                "the chat template does not render the assistant's text verbatim; "
                "cannot place the loss mask"
            )
        cursor = start + len(content)
        spans.append((start, cursor))
    return spans


def encode_messages(
    tokenizer: Any,
    messages: list[dict[str, str]],
    eot_ids: Sequence[int],
    sample_id: str = "",
    eos_id: int | None = None,
    supervise_from: int = 0,
) -> tuple[Encoded, int]:
    """Tokenise a conversation with its chat template;
    supervise each assistant turn + one end-of-turn.

    Args:
        tokenizer: the model's tokenizer (with its chat template).
        messages: system, then alternating user/assistant messages.
        eot_ids: token ids that end an assistant turn in this template.
        sample_id: carried into the result.
        eos_id: appended (and supervised) after the last turn when the template ends it with no
            end-of-turn token; defaults to the first of ``eot_ids``.
        supervise_from: assistant turns before this ordinal are context only (the history of a
            multi-turn window, whose replies are learnt in their own samples).

    Returns:
        The encoded conversation and the number of end-of-turn tokens that had to be appended.

    Raises:
        StudioError: the template cannot be masked (it does not show the assistant's text).
    """
    full = render(tokenizer, messages)
    spans = _turn_spans(tokenizer, messages, full)
    encoding = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = list(encoding["input_ids"])
    offsets = encoding["offset_mapping"]
    labels = [IGNORE] * len(ids)
    eot = set(eot_ids)
    appended = 0
    for ordinal, (start, end) in enumerate(spans):
        if ordinal < supervise_from:
            continue
        inside = [i for i, (a, b) in enumerate(offsets) if a >= start and b <= end and b > a]
        closed = False
        for i in inside:
            labels[i] = ids[i]
            if ids[i] in eot:  # the reply ends here; what the template adds after it is not ours
                closed = True
                break
        if closed or not inside:
            continue
        following = inside[-1] + 1
        if following < len(ids):
            # the template ends the turn by starting the next message (GLM-4's <|user|>)
            if ids[following] in eot:
                labels[following] = ids[following]
            continue
        stop = eos_id if eos_id is not None else (eot_ids[0] if eot_ids else None)
        if stop is not None:
            ids.append(stop)
            labels.append(stop)
            appended += 1
    return Encoded(sample_id, ids, labels), appended


def _exchanges(sample: Sample) -> list[list[dict[str, str]]]:
    """The sample's turns cut into exchanges, each ending with an assistant turn."""
    groups: list[list[dict[str, str]]] = []
    current: list[dict[str, str]] = []
    for turn in sample.turns:
        current.append({"role": turn.role, "content": turn.content})
        if turn.role == "assistant":
            groups.append(current)
            current = []
    return groups


def encode_samples(
    tokenizer: Any,
    samples: Sequence[Sample],
    eot_ids: Sequence[int],
    max_length: int,
    *,
    system: str | None = None,
    overlong: str = "drop",
    eos_id: int | None = None,
) -> tuple[list[Encoded], EncodeReport]:
    """Encode samples; none is ever cut silently.

    Args:
        tokenizer: the model's tokenizer.
        samples: the conversations.
        eot_ids: end-of-turn token ids.
        max_length: longest item in tokens.
        system: the persona card to use as system prompt (the sample's own when None).
        overlong: ``drop`` a sample over ``max_length``, or ``split`` a multi-turn one into
            consecutive pieces that fit (each piece keeps the system prompt; a single exchange
            that does not fit is still dropped). Both are counted in the report.
        eos_id: see :func:`encode_messages`.

    Returns:
        The encoded items and a report of what was dropped, split or changed.
    """
    if overlong not in OVERLONG_CHOICES:
        raise StudioError(
            f"[train] overlong: expected one of {', '.join(OVERLONG_CHOICES)}, got {overlong!r}"
        )
    report = EncodeReport(samples=len(samples))
    encoded: list[Encoded] = []
    for sample in samples:
        prompt = sample.system if system is None else system
        if system is not None and sample.system != system:
            report.system_replaced += 1
        head = [{"role": "system", "content": prompt}]
        exchanges = _exchanges(sample)
        if not exchanges:
            report.no_reply.append(sample.id)
            continue
        messages = head + [m for group in exchanges for m in group]
        # a multi-turn window learns its last reply; the earlier ones are learnt in their
        # own samples
        history = int(sample.provenance.get("history", 0) or 0)
        supervise_from = min(history, len(exchanges) - 1)
        item, appended = encode_messages(
            tokenizer, messages, eot_ids, sample.id, eos_id, supervise_from
        )
        if len(item) <= max_length:
            encoded.append(item)
            report.appended_eot += appended
            continue
        if overlong == "drop" or len(exchanges) == 1:
            report.too_long.append(sample.id)
            continue
        report.split.append(sample.id)
        pieces = _split(tokenizer, head, exchanges, eot_ids, max_length, sample.id, eos_id, report)
        encoded.extend(pieces)
    report.encoded = len(encoded)
    return encoded, report


def _split(
    tokenizer: Any,
    head: list[dict[str, str]],
    exchanges: list[list[dict[str, str]]],
    eot_ids: Sequence[int],
    max_length: int,
    sample_id: str,
    eos_id: int | None,
    report: EncodeReport,
) -> list[Encoded]:
    """Greedy pieces of consecutive exchanges that fit ``max_length``;
    every reply is learnt once."""
    pieces: list[Encoded] = []
    start = 0
    while start < len(exchanges):
        best: tuple[Encoded, int] | None = None
        end = start
        while end < len(exchanges):
            messages = head + [m for group in exchanges[start : end + 1] for m in group]
            candidate = encode_messages(
                tokenizer, messages, eot_ids, f"{sample_id}#{len(pieces) + 1}", eos_id
            )
            if len(candidate[0]) > max_length:
                break
            best = candidate
            end += 1
        if best is None:  # this exchange alone is too long
            report.too_long.append(f"{sample_id}@{start + 1}")
            start += 1
            continue
        pieces.append(best[0])
        report.appended_eot += best[1]
        start = end
    return pieces


def with_identity_share(samples: list[Sample], share: float) -> tuple[list[Sample], int]:
    """The training samples with identity samples repeated up to ``share`` of them.

    A card gives a dozen identity samples against thousands of corpus lines: seen a few times
    each, they are outweighed and the adapter forgets who she is. Each is repeated in turn
    (round robin, so every phrasing gets the same weight) until identity samples make up at
    least ``share`` of the list.

    Returns:
        The samples (repeats at the end; the epoch plan shuffles) and how many were added.
    """
    identity = [s for s in samples if s.provenance.get("kind") == "identity"]
    if not identity or share <= 0:
        return samples, 0
    others = len(samples) - len(identity)
    need = math.ceil(share * others / (1 - share))
    extra = max(0, need - len(identity))
    return samples + [identity[i % len(identity)] for i in range(extra)], extra
