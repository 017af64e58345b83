"""Provides the built-in model adapters:
Qwen2.5/Qwen3, Llama-3.x, InternLM2.5, GLM-4, Mistral, and tiny test models."""

from studio import hookimpl
from studio_models.families import FAMILIES
from studio_models.tiny import TinyAdapter


@hookimpl
def register_model_adapters(register):
    for adapter in FAMILIES:
        register(adapter)
    register(TinyAdapter("tiny-qwen2", "qwen2"))
    register(TinyAdapter("tiny-llama", "llama"))
