"""Provides the novel-prose corpus parser: quotes with rule-based speaker attribution."""

from studio import hookimpl
from studio_prose.parser import ProseParser


@hookimpl
def register_corpus_parsers(register):
    register(ProseParser())
