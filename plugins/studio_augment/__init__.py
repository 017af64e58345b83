"""Provides the built-in augmentation strategies."""

from studio import hookimpl
from studio_augment.persona_qa import PersonaQA


@hookimpl
def register_augmenters(register):
    register(PersonaQA())
