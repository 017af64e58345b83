"""Provides the real model families, each with its end-of-turn tokens and LoRA targets."""

from __future__ import annotations

from studio.api import HFModelAdapter
from studio_models import templates

FAMILIES = (
    HFModelAdapter(
        "qwen2",
        "Qwen2.5 / Qwen3 instruct models (ChatML template)",
        patterns=("qwen2", "qwen3", "qwen"),
        end_of_turn=("<|im_end|>",),
        default_model="Qwen/Qwen2.5-7B-Instruct",
        chat_template=templates.CHATML,
    ),
    HFModelAdapter(
        "llama3",
        "Llama-3.x instruct models",
        patterns=("llama-3", "llama3", "llama"),
        end_of_turn=("<|eot_id|>",),
        default_model="LLM-Research/Meta-Llama-3.1-8B-Instruct",
        chat_template=templates.LLAMA3,
    ),
    HFModelAdapter(
        "internlm2",
        "InternLM2.5 chat models (needs trust_remote_code = true)",
        patterns=("internlm",),
        end_of_turn=("<|im_end|>",),
        lora_targets=("wqkv", "wo", "w1", "w2", "w3"),
        default_model="Shanghai_AI_Laboratory/internlm2_5-7b-chat",
        chat_template=templates.INTERNLM2,
    ),
    HFModelAdapter(
        "glm4",
        "GLM-4 chat models (glm-4-9b-chat-hf)",
        patterns=("glm-4", "glm4"),
        end_of_turn=("<|user|>", "<|endoftext|>", "<|observation|>"),
        lora_targets=("q_proj", "k_proj", "v_proj", "o_proj", "gate_up_proj", "down_proj"),
        default_model="ZhipuAI/glm-4-9b-chat-hf",
        chat_template=templates.GLM4,
    ),
    HFModelAdapter(
        "mistral",
        "Mistral instruct models",
        patterns=("mistral", "ministral"),
        end_of_turn=("</s>",),
        default_model="mistralai/Mistral-7B-Instruct-v0.3",
        chat_template=templates.MISTRAL,
    ),
)
