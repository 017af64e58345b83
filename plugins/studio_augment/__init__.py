"""Provides the built-in augmentation strategies.

Few-shot style, everyday retrieval, persona Q&A, continuation.
"""

from studio import hookimpl
from studio_augment.continuation import Continuation
from studio_augment.everyday import EverydayRetrieval
from studio_augment.fewshot import FewShotStyle
from studio_augment.persona_qa import PersonaQA


@hookimpl
def register_augmenters(register):
    register(FewShotStyle())
    register(EverydayRetrieval())
    register(PersonaQA())
    register(Continuation())
