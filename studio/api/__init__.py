"""Provides the plugin API: everything a parser, augmenter or model-adapter plugin needs.

A plugin imports ``studio`` (for ``hookimpl``) and ``studio.api``, nothing else of the studio.
Nothing here imports Textual, torch or transformers at import time.

The flow: a :class:`CorpusParser` turns a :class:`SourceText` into :class:`Utterance` records;
the dataset builder turns utterances into :class:`Sample` conversations for one character;
an :class:`Augmenter` proposes more samples, asking the host's :class:`LLM` when it needs a
model; a :class:`ModelAdapter` (most simply an :class:`HFModelAdapter`) knows how to fetch,
load and fine-tune one family of base models.

The API is kept in small modules re-exported here: :mod:`studio.api.options` (options as
data), :mod:`studio.api.records` (utterances, samples, the parser contract),
:mod:`studio.api.plugins` (augmenter and model-adapter contracts), :mod:`studio.api.llm` (the
model client protocol and its errors), :mod:`studio.api.progress` (typed progress and cancel),
:mod:`studio.api.text` (CJK detection, normalisation, n-gram similarity),
:mod:`studio.api.model_text` (reading what a model wrote), :mod:`studio.api.retrieval` (BM25),
:mod:`studio.api.encoding` (reading text files of any encoding) and
:mod:`studio.api.hf_adapter` (the transformers model-adapter base class).
"""

from __future__ import annotations

from studio.api.encoding import read_source as read_text_file
from studio.api.hf_adapter import ALL_LINEAR, LORA_PRESETS, HFModelAdapter
from studio.api.llm import LLM, Cancelled, LLMError, Messages, UnusableOutput, ask_many
from studio.api.model_text import clean_message, extract_json, is_garbled, strip_fences
from studio.api.options import (
    BoolOption,
    ChoiceOption,
    FloatOption,
    IntOption,
    Option,
    PathOption,
    StrOption,
    resolve_options,
)
from studio.api.plugins import (
    AugmentContext,
    Augmenter,
    AugmentItem,
    ModelAdapter,
    ModelSpec,
    PlannedAugmenter,
    Preset,
)
from studio.api.progress import CancelCheck, ParseProgress, Progress
from studio.api.records import (
    LOW_CONFIDENCE,
    CorpusParser,
    ParseContext,
    ParseResult,
    ParseWarning,
    ReviewStatus,
    Sample,
    SourceText,
    Turn,
    Utterance,
    UtteranceKind,
    iter_jsonl,
    stable_id,
)
from studio.api.retrieval import BM25
from studio.api.text import (
    CJK_CLASS,
    HAN_CLASS,
    cjk_share,
    has_cjk,
    is_cjk_char,
    is_han,
    is_wide_char,
    jaccard,
    ngrams,
    normalize,
    similarity,
)
from studio.errors import InputError, StudioError
from studio.fsutil import append_jsonl, atomic_write_text, read_jsonl

__all__ = [
    "ALL_LINEAR",
    "BM25",
    "LOW_CONFIDENCE",
    "AugmentContext",
    "AugmentItem",
    "Augmenter",
    "BoolOption",
    "CJK_CLASS",
    "CancelCheck",
    "Cancelled",
    "ChoiceOption",
    "CorpusParser",
    "FloatOption",
    "HAN_CLASS",
    "HFModelAdapter",
    "InputError",
    "IntOption",
    "LLM",
    "LLMError",
    "LORA_PRESETS",
    "Messages",
    "ModelAdapter",
    "ModelSpec",
    "Option",
    "ParseContext",
    "ParseProgress",
    "ParseResult",
    "ParseWarning",
    "PathOption",
    "PlannedAugmenter",
    "Preset",
    "Progress",
    "ReviewStatus",
    "Sample",
    "SourceText",
    "StrOption",
    "StudioError",
    "Turn",
    "UnusableOutput",
    "Utterance",
    "UtteranceKind",
    "append_jsonl",
    "ask_many",
    "atomic_write_text",
    "cjk_share",
    "clean_message",
    "extract_json",
    "has_cjk",
    "is_cjk_char",
    "is_garbled",
    "is_han",
    "is_wide_char",
    "iter_jsonl",
    "jaccard",
    "ngrams",
    "normalize",
    "read_jsonl",
    "read_text_file",
    "resolve_options",
    "similarity",
    "stable_id",
    "strip_fences",
]
