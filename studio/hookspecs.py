"""Provides the hook specifications: the complete plugin API of the studio.

A plugin is a module (or object) with ``@hookimpl`` functions named like the specs below,
listed under the ``persona_studio`` entry-point group of its distribution. The built-in
plugins in ``plugins/`` are found the same way. See docs/plugins.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from studio.api import Augmenter, CorpusParser, ModelAdapter

PROJECT = "persona_studio"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_corpus_parsers(register: Callable[[CorpusParser], None]) -> None:
    """Register parsers that turn corpus files into utterances.

    Args:
        register: call once per parser; two parsers with one name is an error that disables
            the later one and is reported by ``persona-studio plugins``.
    """


@hookspec
def register_augmenters(register: Callable[[Augmenter], None]) -> None:
    """Register augmentation strategies that propose new samples for review.

    Args:
        register: call once per augmenter.
    """


@hookspec
def register_model_adapters(register: Callable[[ModelAdapter], None]) -> None:
    """Register base-model families: fetch, load, chat template, LoRA targets, presets.

    Args:
        register: call once per adapter.
    """
