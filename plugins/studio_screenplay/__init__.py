"""Provides the screenplay corpus parser.

Chinese scripts (角色：台词) and English plays/screenplays.
"""

from studio import hookimpl
from studio_screenplay.parser import ScreenplayParser


@hookimpl
def register_corpus_parsers(register):
    register(ScreenplayParser())
