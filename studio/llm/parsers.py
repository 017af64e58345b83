"""Provides the host's model client for corpus parsers, built from the parser's own options.

A parser that declares ``llm`` (``off`` / ``openai`` / ``transformers``) and its companions
(``llm_base_url``, ``llm_model``, ``llm_api_key_env``, ``llm_timeout``, ``llm_retries``) gets a
client of the studio's one LLM layer in its :class:`studio.api.ParseContext`: the same
OpenAI-compatible backend, retries with backoff and error reporting as augmentation. With
``transformers``, ``llm_model`` names a local model folder answered greedily in this process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from studio.api.llm import LLM, LLMError, Messages
from studio.errors import StudioError
from studio.llm.backends import OpenAIBackend, RetryingLLM


class FolderBackend:
    """A transformers model folder answering greedily; loaded on first use, one request at a time.

    Args:
        folder: the model folder (tokenizer with a chat template, and weights).
    """

    def __init__(self, folder: str) -> None:
        if not folder or not Path(folder).is_dir():
            raise StudioError(
                f"llm = transformers needs llm_model set to a local model folder, got {folder!r}"
            )
        self.folder = folder
        self._loaded: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    def describe(self) -> dict[str, Any]:
        return {"backend": "transformers", "model": self.folder}

    def __call__(
        self,
        messages: Messages,
        *,
        seed: int | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> str:
        import torch

        with self._lock:
            if self._loaded is None:
                from transformers import AutoModelForCausalLM, AutoTokenizer

                tokenizer = AutoTokenizer.from_pretrained(self.folder)
                model = AutoModelForCausalLM.from_pretrained(self.folder)
                model.eval()
                self._loaded = (tokenizer, model)
            tokenizer, model = self._loaded
            try:
                ids = tokenizer.apply_chat_template(
                    list(messages), add_generation_prompt=True, return_tensors="pt"
                )
                with torch.no_grad():
                    out = model.generate(
                        ids,
                        max_new_tokens=max_tokens or 32,
                        do_sample=False,
                        pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
                    )
            except (ValueError, RuntimeError) as exc:
                raise LLMError(f"local model {self.folder}: {exc}", retryable=False) from None
            return str(tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True))


def parser_llm(options: Mapping[str, Any], env: Mapping[str, str] | None = None) -> LLM | None:
    """The client a parser's options ask for, or None when ``llm`` is ``off`` (or not declared).

    Args:
        options: the parser's resolved options.
        env: the environment (``os.environ`` by default); the API key is read from the variable
            ``llm_api_key_env`` names, and only there.

    Raises:
        StudioError: ``openai`` without a base URL, ``transformers`` without a model folder, or
            an unknown mode.
    """
    mode = str(options.get("llm") or "off")
    if mode == "off":
        return None
    retries = max(0, int(options.get("llm_retries", 3)) - 1)
    timeout = float(options.get("llm_timeout", 60.0))
    backend: Any
    if mode == "openai":
        base_url = str(options.get("llm_base_url") or "")
        if not base_url:
            raise StudioError(
                "llm = openai needs llm_base_url (or [augment] base_url), e.g. http://127.0.0.1:8000/v1"
            )
        env = os.environ if env is None else env
        key_env = str(options.get("llm_api_key_env") or "")
        backend = OpenAIBackend(
            base_url,
            str(options.get("llm_model") or "default"),
            env.get(key_env) if key_env else None,
            timeout=timeout,
        )
    elif mode == "transformers":
        backend = FolderBackend(str(options.get("llm_model") or ""))
    else:
        raise StudioError(f"llm: expected off, openai or transformers, got {mode!r}")
    return RetryingLLM(backend, retries=retries, backoff=0.25, temperature=0.0, max_tokens=64)
