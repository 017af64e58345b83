"""Provides the optional LLM pass of the prose parser: a model names the speakers rules cannot.

Off by default (``llm = "off"``); the rules stand alone. With ``llm = "openai"`` every hard quote
(unknown speaker; with ``llm_scope = "uncertain"`` also turn-taking, action and pronoun guesses) is
sent with a few paragraphs of context to the model; with ``llm = "transformers"`` a local model
folder (``llm_model``) answers instead. The model client is the host's (``ParseContext.llm``,
built from the ``llm*`` options by the studio's LLM layer, which retries transport errors with
back-off); this module writes the prompts and reads the answers.

Answers are parsed tolerantly (code fences, single quotes, trailing commas, a bare name), checked
against the names of the text, asked again when unusable, reported through ``progress``, and
appended to a JSONL cache (``llm_cache``) so that a rerun resumes where it stopped.

Where the rules had a guess too unsure to name, an answer naming someone else names nobody
(``llm_accept = "agree"``, the default): two opinions that differ leave the quote to the Corpus
screen. ``confirm`` also ignores answers where the rules had no guess (for small local models,
whose free answers are mostly wrong: ``bench/prose_accuracy.md``); ``any`` takes every answer.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from studio.api import (
    HAN_CLASS,
    LLM,
    Cancelled,
    ChoiceOption,
    FloatOption,
    IntOption,
    LLMError,
    ParseWarning,
    PathOption,
    StrOption,
    StudioError,
    append_jsonl,
    ask_many,
    read_jsonl,
    stable_id,
)
from studio_prose import quotes
from studio_prose.words_zh import NAME_SEPARATORS

OPTIONS = (  # the parser's settings of this pass
    ChoiceOption(
        "llm",
        "off",
        "LLM pass for quotes the rules leave unknown",
        choices=("off", "openai", "transformers"),
    ),
    ChoiceOption(
        "llm_scope",
        "unknown",
        "Quotes the LLM sees: unknown only, or also turn-taking and pronoun guesses",
        choices=("unknown", "uncertain"),
    ),
    ChoiceOption(
        "llm_accept",
        "agree",
        "Which answers name a speaker: confirm (only a rule's guess the model repeats), agree "
        "(those, and answers where the rules had no guess) or any",
        choices=("confirm", "agree", "any"),
    ),
    StrOption(
        "llm_base_url", "", "OpenAI-compatible endpoint (…/v1); empty uses [augment] base_url"
    ),
    StrOption(
        "llm_model", "", "Model name at the endpoint, or a local model folder for transformers"
    ),
    StrOption("llm_api_key_env", "OPENAI_API_KEY", "Environment variable that holds the API key"),
    PathOption("llm_cache", "", "JSONL file of answers: a rerun resumes where it stopped"),
    IntOption("llm_retries", 3, "Attempts per request", minimum=1, maximum=10),
    IntOption(
        "llm_batch",
        16,
        "Quotes asked together (one padded batch, or concurrent requests)",
        minimum=1,
        maximum=256,
    ),
    IntOption("llm_context", 3, "Paragraphs of context before a quote", minimum=0, maximum=20),
    FloatOption("llm_timeout", 60.0, "Seconds per request", minimum=1.0),
)

_HARD = {"unknown"}
_UNCERTAIN = {"unknown", "turn", "action", "zero", "continue"}
_UNKNOWN_WORDS = {"unknown", "none", "null", "未知", "不明", "无", "narrator?", ""}

SYSTEM = (
    'You attribute quoted speech in novels. Answer with JSON only: {"speaker": "NAME"}, '
    'NAME exactly as the text spells it, or "UNKNOWN" when the text does not say who speaks.'
)


def default_cache() -> Path:
    """Where answers go when ``llm_cache`` is not set."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "persona-studio" / "prose-llm.jsonl"


def parse_answer(text: str) -> str | None:
    """The speaker in a model's answer, tolerant of fences, quotes, trailing commas and prose.

    Returns:
        The name, ``""`` for an explicit UNKNOWN, or None when nothing usable was found.
    """
    body = text.strip()
    body = re.sub(r"^```(?:json)?\s*|\s*```$", "", body, flags=re.I).strip()
    for candidate in _objects(body):
        for attempt in (candidate, re.sub(r",\s*}", "}", candidate.replace("'", '"'))):
            try:
                data = json.loads(attempt)
            except json.JSONDecodeError:
                continue
            if isinstance(data, dict):
                value = data.get("speaker", data.get("name"))
                if isinstance(value, str):
                    return "" if value.strip().lower() in _UNKNOWN_WORDS else value.strip()
    match = re.search(r"[\"']?speaker[\"']?\s*[:：]\s*[\"'“]?([^\"'”,}\n]+)", body, re.I)
    if match:
        value = match.group(1).strip()
        return "" if value.lower() in _UNKNOWN_WORDS else value
    bare = body.strip("。.\"'“” ")
    if bare.lower() in _UNKNOWN_WORDS and bare:
        return ""
    han = rf"[{HAN_CLASS}{NAME_SEPARATORS}]{{1,15}}"  # 玛丽·布朗, 艾辛格.斯坦顿
    if re.fullmatch(rf"{han}|[A-Z][\w.'’-]*(?: [A-Z][\w.'’-]*){{0,3}}", bare):
        return bare  # a bare name
    return None


def _objects(text: str) -> list[str]:
    """Balanced ``{…}`` spans of ``text``."""
    spans, depth, start = [], 0, -1
    for index, ch in enumerate(text):
        if ch == "{":
            if depth == 0:
                start = index
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
            if depth == 0:
                spans.append(text[start : index + 1])
    return spans


def build_prompt(document: Any, attribution: Any, context: int) -> tuple[str, list[str]]:
    """The user message for one quote, and the candidate names it offers.

    The narrator is offered only where the narration around the quote is in the first person:
    in a third-person novel, a quote's own 我 / I says nothing about who speaks it.
    """
    index = attribution.paragraph
    paragraphs = document.paragraphs[max(0, index - context) : index + 1]
    lang = document.style.lang
    quote = _flat(attribution.utterance.text, lang)
    body = []
    for para in paragraphs:
        text = _flat(para.text, lang)
        if para is document.paragraphs[index]:
            text = text.replace(quote, f"【{quote}】", 1)
        body.append(text)
    seen = [m.group() for p in paragraphs for m in document.pattern.finditer(p.text)]
    candidates = [n for n in dict.fromkeys(reversed(seen)) if n in document.names][:12]
    lines = ["Text:", *body, "", f"Who says the quote marked 【】: 【{quote[:200]}】?"]
    if candidates:
        lines.append(f"Names in the text nearby: {', '.join(candidates)}.")
    if _first_person_narration(document, paragraphs):
        narrator = document.narrator or document.first_person
        lines.append(f"The first-person narrator ({document.first_person}) is {narrator}.")
        candidates.append(narrator)
    else:
        lines.append(
            f"The narrator is not a character: answer a name, not {document.first_person}."
        )
    return "\n".join(lines), candidates


def _flat(text: str, lang: str) -> str:
    """A paragraph or quote on one line, spaced as the prompt shows it."""
    if lang == "en":
        return " ".join(text.split())
    return "".join(line.strip() for line in text.split("\n"))


def _first_person_narration(document: Any, paragraphs: list[Any]) -> bool:
    """Whether the narration (the text outside quotes) of ``paragraphs`` says 我 / I."""
    word = re.compile(r"我" if document.style.lang == "zh" else r"\bI\b")
    return any(
        word.search(segment.text)
        for para in paragraphs
        for segment in quotes.split_quotes(para.text, document.style)
        if segment.kind == "text"
    )


def _messages(prompt: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}]


def _ask(llm: LLM, prompt: str, attempts: int, first: str = "") -> tuple[str | None, str]:
    """``(answer, error)``, asking again while the answer is unusable.

    The client itself retries transport errors.
    """
    error = f"unusable answer {first[:60]!r}" if first else ""
    for _ in range(attempts):
        try:
            raw = llm(_messages(prompt), temperature=0.0, max_tokens=64)
        except Cancelled:
            raise
        except LLMError as exc:
            return None, str(exc)
        answer = parse_answer(raw)
        if answer is not None:
            return answer, ""
        error = f"unusable answer {raw[:60]!r}"
    return None, error


def asked(attributions: list[Any], options: Mapping[str, Any]) -> list[Any]:
    """The quotes the pass asks about (``llm_scope``): unknown or unresolved speakers, and with
    ``uncertain`` also the turn-taking, action, zero and continuation guesses."""
    scope = _UNCERTAIN if options.get("llm_scope") == "uncertain" else _HARD
    return [a for a in attributions if a.method in scope or a.method.endswith("-unresolved")]


def resolve_with_llm(document: Any, options: Mapping[str, Any], llm: LLM | None) -> int:
    """Ask the model about the hard quotes of ``document``; returns how many got a speaker.

    Args:
        document: the parsed novel.
        options: the parser's options (``llm`` mode, scope, cache, attempts, context size).
        llm: the host's model client (``ParseContext.llm``).

    Raises:
        StudioError: ``llm`` is on but no client was given, or an unknown mode.
    """
    mode = options.get("llm", "off")
    todo = asked(document.attributions, options)
    progress = options.get("progress")
    if not todo:
        return 0
    if llm is None:
        raise StudioError(
            f"prose llm = {mode}: no model client; parse through the studio (persona-studio parse, "
            "build or the studio's corpus view), which builds it from the llm options"
        )
    if mode == "openai":
        model_id = f"openai:{options.get('llm_base_url')}:{options.get('llm_model')}"
    elif mode == "transformers":
        model_id = f"transformers:{options.get('llm_model')}"
    else:
        raise StudioError(f"prose llm: expected off, openai or transformers, got {mode!r}")
    cache_path = Path(str(options.get("llm_cache") or default_cache()))
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    cached = {row["key"]: row for row in read_jsonl(cache_path) if "key" in row}
    retries = int(options.get("llm_retries", 3))
    context = int(options.get("llm_context", 3))
    size = int(options.get("llm_batch", 16))
    accept = options.get("llm_accept", "agree")
    same = _same_person(document)
    asks = []
    for attribution in todo:
        prompt, candidates = build_prompt(document, attribution, context)
        asks.append((attribution, prompt, candidates, stable_id(model_id, SYSTEM, prompt)))
    named = 0
    for start in range(0, len(asks), size):
        chunk = asks[start : start + size]
        answers = _ask_chunk(llm, [a for a in chunk if a[3] not in cached], retries)
        for attribution, _prompt, candidates, key in chunk:
            row = cached.get(key)
            if row is None:
                answer, error = answers[key]
                if answer is None:
                    document.warnings.append(
                        ParseWarning(
                            document.file,
                            attribution.utterance.line,
                            f"LLM gave no usable answer after {retries} attempts: {error}",
                        )
                    )
                    continue
                row = {"key": key, "line": attribution.utterance.line, "speaker": answer}
                append_jsonl(cache_path, row)
                cached[key] = row
            speaker = _accept(document, str(row.get("speaker") or ""), candidates)
            if speaker and _agrees(same, speaker, attribution.guess, accept):
                attribution.utterance.speaker = speaker
                attribution.method = "llm"
                named += 1
        if progress:
            progress(min(start + size, len(asks)), len(asks), "llm")
    return named


def _ask_chunk(
    llm: LLM, chunk: list[tuple[Any, str, list[str], str]], attempts: int
) -> dict[str, tuple[str | None, str]]:
    """``{key: (answer, error)}`` for a chunk of quotes: asked together, unusable ones alone."""
    if not chunk:
        return {}
    replies = ask_many(
        llm, [_messages(prompt) for _a, prompt, _c, _k in chunk], temperature=0.0, max_tokens=64
    )
    out: dict[str, tuple[str | None, str]] = {}
    for (_a, prompt, _c, key), raw in zip(chunk, replies, strict=True):
        if isinstance(raw, LLMError):
            out[key] = (None, str(raw))
            continue
        answer = parse_answer(raw)
        out[key] = (answer, "") if answer is not None else _ask(llm, prompt, attempts - 1, raw)
    return out


def _agrees(same: Callable[[str, str], bool], speaker: str, guess: str | None, accept: str) -> bool:
    """Whether the model's answer names the speaker under the ``llm_accept`` policy: two
    opinions that differ (the rules' unsure guess and the answer) name nobody."""
    if accept == "any":
        return True
    if guess is None:
        return accept == "agree"
    return same(speaker, guess)


def _same_person(document: Any) -> Callable[[str, str], bool]:
    """``same(a, b)``: whether two names, as the text spells them, are one person of the roster."""
    back = {shown: name for name, shown in document.display.items()}

    def canonical(name: str) -> str:
        return str(document._canonical(back.get(name, name)))

    return lambda a, b: canonical(a) == canonical(b)


def _accept(document: Any, answer: str, candidates: list[str]) -> str | None:
    """The answer when it names someone the text knows (the narrator maps to its name)."""
    answer = answer.strip()
    if not answer:
        return None
    narrator = document.narrator or document.first_person
    if answer in (document.first_person, "narrator", "Narrator", document.narrator):
        return narrator if narrator in candidates else None  # 我 in a third-person novel: nobody
    if answer in document.names or answer in candidates:
        return answer
    return None
