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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from studio.api.llm import LLM, LLMError, Messages
from studio.errors import StudioError
from studio.llm.backends import OpenAIBackend, RetryingLLM


class FolderBackend:
    """A transformers model folder answering greedily, on the GPU when there is one.

    Loaded on first use; one batch at a time. ``many`` left-pads several requests into batches
    of ``batch_size`` rows and generates them together (what the prose LLM pass uses).

    Args:
        folder: the model folder (tokenizer with a chat template, and weights).
        batch_size: rows generated together by ``many``.
    """

    def __init__(self, folder: str, batch_size: int = 16) -> None:
        if not folder or not Path(folder).is_dir():
            raise StudioError(
                f"llm = transformers needs llm_model set to a local model folder, got {folder!r}"
            )
        self.folder = folder
        self.batch_size = max(1, batch_size)
        self._loaded: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    def describe(self) -> dict[str, Any]:
        return {"backend": "transformers", "model": self.folder}

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            cuda = torch.cuda.is_available()
            tokenizer = AutoTokenizer.from_pretrained(self.folder)
            tokenizer.padding_side = "left"
            if tokenizer.pad_token_id is None:
                tokenizer.pad_token = tokenizer.eos_token
            model = AutoModelForCausalLM.from_pretrained(
                self.folder, dtype=torch.bfloat16 if cuda else torch.float32
            )
            self._loaded = (tokenizer, model.to("cuda" if cuda else "cpu").eval())
        return self._loaded

    def __call__(
        self,
        messages: Messages,
        *,
        seed: int | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> str:
        reply = self.many([messages], max_tokens=max_tokens)[0]
        if isinstance(reply, LLMError):
            raise reply
        return reply

    def many(
        self,
        requests: Sequence[Messages],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> list[str | LLMError]:
        """Greedy replies to ``requests``, generated ``batch_size`` at a time."""
        import torch

        with self._lock:
            tokenizer, model = self._load()
            replies: list[str | LLMError] = []
            for start in range(0, len(requests), self.batch_size):
                chunk = requests[start : start + self.batch_size]
                try:
                    texts = [
                        tokenizer.apply_chat_template(
                            list(m), add_generation_prompt=True, tokenize=False
                        )
                        for m in chunk
                    ]
                    batch = tokenizer(
                        texts, return_tensors="pt", padding=True, add_special_tokens=False
                    ).to(model.device)
                    with torch.no_grad():
                        out = model.generate(
                            **batch,
                            max_new_tokens=max_tokens or 32,
                            do_sample=False,
                            pad_token_id=tokenizer.pad_token_id,
                        )
                except (ValueError, RuntimeError) as exc:
                    error = LLMError(f"local model {self.folder}: {exc}", retryable=False)
                    replies.extend(error for _ in chunk)
                    continue
                width = batch["input_ids"].shape[1]
                replies.extend(
                    str(tokenizer.decode(row[width:], skip_special_tokens=True)) for row in out
                )
            return replies


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
        backend = FolderBackend(
            str(options.get("llm_model") or ""), batch_size=int(options.get("llm_batch", 16))
        )
    else:
        raise StudioError(f"llm: expected off, openai or transformers, got {mode!r}")
    return RetryingLLM(backend, retries=retries, backoff=0.25, temperature=0.0, max_tokens=64)
