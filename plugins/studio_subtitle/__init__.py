"""Provides the subtitle corpus parser: SRT, ASS/SSA and WebVTT."""

from studio import hookimpl
from studio_subtitle.parser import SubtitleParser


@hookimpl
def register_corpus_parsers(register):
    register(SubtitleParser())
