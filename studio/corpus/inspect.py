"""Provides parsing of corpus files through the registered parsers, and the roster built from them.

``parse_file`` decodes a file (see :mod:`studio.api.encoding`), picks the parser that is most
confident about it (or the one named) and parses it; ``parse_workspace`` does that for every
corpus file of a workspace with the workspace's settings (the narrator, the known names, the
LLM endpoint of ``[augment]``). The roster lives in :mod:`studio.corpus.roster` and is
re-exported here.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.api import (
    CorpusParser,
    ParseContext,
    ParseResult,
    PathOption,
    SourceText,
    Utterance,
    resolve_options,
)
from studio.api.encoding import read_source_report
from studio.corpus.roster import (  # noqa: F401  (re-exported: the roster API of this module)
    AliasSuggestion,
    RosterEntry,
    alias_map,
    alias_suggestions,
    build_roster,
    canonical_speaker,
    suggest_aliases,
    unassigned_lines,
)
from studio.errors import InputError, StudioError

Progress = Callable[[int, int, str], None]


def corpus_globs(parsers: Mapping[str, CorpusParser], folder: str = "corpus") -> list[str]:
    """``[corpus] files`` for a new workspace: one glob per file extension a parser claims.

    A parser claims extensions with an optional ``extensions`` attribute (``(".srt", ".vtt")``);
    ``.txt`` is always read.
    """
    found = {".txt"}
    for parser in parsers.values():
        for ext in getattr(parser, "extensions", ()) or ():
            ext = str(ext).strip().lower()
            if ext and "/" not in ext and "*" not in ext:
                found.add(ext if ext.startswith(".") else "." + ext)
    return [f"{folder}/*{ext}" for ext in sorted(found)]


def sniff_scores(
    source: SourceText, parsers: Mapping[str, CorpusParser]
) -> list[tuple[float, str]]:
    """``(confidence, parser name)`` of every parser, most confident first; a failing sniff scores 0."""
    scored = []
    for parser in parsers.values():
        try:
            score = float(parser.sniff(source))
        except (Exception, SystemExit):  # a broken sniff must not stop the others
            score = 0.0
        if not math.isfinite(score):  # NaN would otherwise win every comparison below
            score = 0.0
        scored.append((max(0.0, min(1.0, score)), parser.name))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return scored


def choose_parser(
    source: SourceText, parsers: Mapping[str, CorpusParser], name: str = ""
) -> CorpusParser:
    """Pick the parser named ``name``, or the one most confident about ``source``.

    Raises:
        StudioError: an unknown name.
        InputError: no parser recognises the file.
    """
    if name:
        if name not in parsers:
            raise StudioError(
                f"no parser named {name!r}; installed: {', '.join(sorted(parsers)) or 'none'}"
            )
        return parsers[name]
    scored = sniff_scores(source, parsers)
    if not scored or scored[0][0] <= 0:
        raise InputError(
            source.path,
            "no parser recognises this file; installed: "
            f"{', '.join(sorted(parsers)) or 'none'} (use --parser NAME)",
        )
    return parsers[scored[0][1]]


def parse_file(
    path: str | Path,
    parsers: Mapping[str, CorpusParser],
    *,
    parser: str = "",
    encoding: str = "",
    options: Mapping[str, Any] | None = None,
    display_name: str | None = None,
    progress: Progress | None = None,
    cache_dir: str | Path | None = None,
    clients: dict[tuple[str, ...], Any] | None = None,
) -> ParseResult:
    """Decode and parse one file.

    Args:
        path: the file.
        parsers: registered parsers by name.
        parser: force this parser; empty means sniff.
        encoding: force this encoding; empty means detect.
        options: parser options (names the chosen parser does not declare are ignored).
        display_name: the file name recorded in utterances (a workspace-relative path).
        progress: ``progress(done, total, what)`` for long parses (the prose LLM pass).
        cache_dir: the workspace's cache folder, for the parser's :class:`ParseContext`.
        clients: model clients already built, by settings (the files of a workspace share one).

    Raises:
        InputError: unreadable, empty, binary or undecodable file, or no parser for it.
        StudioError: an unknown parser name or a bad option value.
    """
    source, decode_warnings = read_source_report(path, encoding or None)
    if display_name:
        source = SourceText(
            path=Path(display_name),
            text=source.text,
            encoding=source.encoding,
            newline=source.newline,
        )
    chosen = choose_parser(source, parsers, parser)
    declared = getattr(chosen, "options", ())
    known = {opt.name for opt in declared}
    try:
        resolved = resolve_options(
            declared, {k: v for k, v in (options or {}).items() if k in known}
        )
    except ValueError as exc:
        raise StudioError(f"parser {chosen.name}: {exc}") from None
    if progress is not None:
        resolved["progress"] = progress
    try:
        if _takes_context(chosen):
            context = ParseContext(
                llm=_parser_llm(resolved, clients),
                progress=progress,
                cache_dir=Path(cache_dir) if cache_dir else None,
            )
            result = chosen.parse(source, resolved, context=context)  # type: ignore[call-arg]
        else:
            result = chosen.parse(source, resolved)
    except (StudioError, MemoryError):
        raise
    except (Exception, SystemExit) as exc:  # a parser bug must name the file, not crash the studio
        raise InputError(
            source.path, f"parser {chosen.name} failed: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(result, ParseResult) or not isinstance(result.utterances, list):
        raise InputError(
            source.path,
            f"parser {chosen.name} returned {type(result).__name__}; expected a ParseResult",
        )
    for utt in result.utterances:
        if not (
            isinstance(utt, Utterance)
            and isinstance(utt.text, str)
            and isinstance(utt.line, int)
            and (utt.speaker is None or isinstance(utt.speaker, str))
        ):
            raise InputError(
                source.path,
                f"parser {chosen.name} returned a malformed utterance {str(utt)[:80]}; "
                "expected Utterance(speaker: str | None, text: str, line: int, …)",
            )
    result.parser = chosen.name
    result.warnings[:0] = [w.__class__(source.name, w.line, w.message) for w in decode_warnings]
    return result


def _takes_context(parser: CorpusParser) -> bool:
    """Whether ``parser.parse`` accepts ``context`` (a :class:`ParseContext`)."""
    try:
        return "context" in inspect.signature(parser.parse).parameters
    except (TypeError, ValueError):
        return False


_LLM_KEYS = ("llm", "llm_base_url", "llm_model", "llm_api_key_env", "llm_timeout", "llm_retries")


def _parser_llm(options: Mapping[str, Any], built: dict[tuple[str, ...], Any] | None) -> Any:
    """The host's model client for a parser's options (None with ``llm`` off), built once per settings."""
    if str(options.get("llm") or "off") == "off":
        return None
    from studio.llm.parsers import (
        parser_llm,  # the one LLM layer: only when a parser asks for a model
    )

    key = tuple(str(options.get(k)) for k in _LLM_KEYS)
    if built is not None and key in built:
        return built[key]
    client = parser_llm(options)
    if built is not None:
        built[key] = client
    return client


@dataclass
class CorpusReport:
    """Everything parsed from a workspace's corpus."""

    results: list[ParseResult]
    errors: list[str]

    @property
    def utterances(self) -> list[Utterance]:
        return [u for r in self.results for u in r.utterances]

    @property
    def warnings(self) -> int:
        return sum(len(r.warnings) for r in self.results)


def workspace_parser_options(ws: Any) -> dict[str, Any]:
    """Parser options implied by a workspace: narrator, known names, LLM endpoint; user options win."""
    cfg = ws.config
    implied: dict[str, Any] = {}
    if cfg.character.name and getattr(cfg.character, "narrator", False):
        implied["narrator"] = cfg.character.name
    names = [name for canonical, others in cfg.aliases().items() for name in (canonical, *others)]
    if names:
        implied["names"] = ",".join(dict.fromkeys(names))
    augment = getattr(cfg, "augment", None)
    if augment is not None:
        implied["llm_base_url"] = augment.base_url
        implied["llm_model"] = augment.model
        implied["llm_api_key_env"] = augment.api_key_env
    cache_dir = getattr(ws, "cache_dir", None)
    if cache_dir is not None:
        implied["llm_cache"] = str(Path(cache_dir) / "prose-llm.jsonl")
    user = dict(cfg.corpus.options)
    merged = {**implied, **{k: v for k, v in user.items() if v not in ("", None)}}
    if user.get("names") and implied.get("names"):
        merged["names"] = f"{user['names']},{implied['names']}"
    return merged


def confine_path_options(
    ws: Any, parsers: Mapping[str, CorpusParser], options: Mapping[str, Any]
) -> dict[str, Any]:
    """Resolve the values of options any parser declares as :class:`PathOption` inside the workspace.

    Raises:
        InputError: such a value leads outside the workspace (naming studio.toml).
    """
    paths = {
        opt.name
        for parser in parsers.values()
        for opt in getattr(parser, "options", ())
        if isinstance(opt, PathOption)
    }
    out = dict(options)
    for name in paths:
        value = out.get(name)
        if value in ("", None):
            continue
        try:
            out[name] = str(ws.inside(str(value)))
        except StudioError:
            raise InputError(
                ws.config_path,
                f"[corpus] options {name} = {str(value)!r} leads outside the workspace; "
                "expected a path inside it (relative to the workspace folder)",
            ) from None
    return out


def parse_workspace(
    ws: Any, parsers: Mapping[str, CorpusParser], progress: Progress | None = None
) -> CorpusReport:
    """Parse every corpus file of a workspace; a bad file is reported, the others still parse."""
    results: list[ParseResult] = []
    errors: list[str] = []
    cfg = ws.config.corpus
    files = ws.corpus_files()
    if not files:
        errors.append(
            f"{ws.root}: no corpus files match {cfg.files}; put a script, novel or subtitle file in corpus/"
        )
    options = confine_path_options(ws, parsers, workspace_parser_options(ws))
    clients: dict[tuple[str, ...], Any] = {}
    for path in files:
        rel = path.relative_to(ws.root).as_posix()
        try:
            results.append(
                parse_file(
                    path,
                    parsers,
                    parser=cfg.parser,
                    encoding=cfg.encoding,
                    options=options,
                    display_name=rel,
                    progress=progress,
                    cache_dir=getattr(ws, "cache_dir", None),
                    clients=clients,
                )
            )
        except StudioError as exc:
            errors.append(str(exc))
    return CorpusReport(results, errors)
