"""Provides parsing of corpus files through the registered parsers, and the roster built from them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.api import CorpusParser, ParseResult, Utterance, resolve_options
from studio.corpus.encoding import read_source
from studio.errors import InputError, StudioError


def choose_parser(source, parsers: Mapping[str, CorpusParser], name: str = "") -> CorpusParser:
    """Pick the parser named ``name``, or the one most confident about ``source``.

    Raises:
        StudioError: an unknown name, or no parser recognises the file.
    """
    if name:
        if name not in parsers:
            raise StudioError(f"no parser named {name!r}; installed: {', '.join(sorted(parsers)) or 'none'}")
        return parsers[name]
    scored = []
    for parser in parsers.values():
        try:
            scored.append((float(parser.sniff(source)), parser.name, parser))
        except Exception:  # a broken sniff must not stop the others
            continue
    scored.sort(key=lambda item: (-item[0], item[1]))
    if not scored or scored[0][0] <= 0:
        raise InputError(source.path, f"no parser recognises this file; installed: {', '.join(sorted(parsers)) or 'none'} (use --parser NAME)")
    return scored[0][2]


def parse_file(
    path: str | Path,
    parsers: Mapping[str, CorpusParser],
    *,
    parser: str = "",
    encoding: str = "",
    options: Mapping[str, Any] | None = None,
    display_name: str | None = None,
) -> ParseResult:
    """Decode and parse one file.

    Args:
        path: the file.
        parsers: registered parsers by name.
        parser: force this parser; empty means sniff.
        encoding: force this encoding; empty means detect.
        options: parser options (unknown names for the chosen parser are ignored).
        display_name: the file name recorded in utterances (a workspace-relative path).

    Raises:
        InputError / StudioError: unreadable file, no parser.
    """
    source = read_source(path, encoding or None)
    if display_name:
        source = type(source)(path=Path(display_name), text=source.text, encoding=source.encoding, newline=source.newline)
    chosen = choose_parser(source, parsers, parser)
    known = {opt.name for opt in getattr(chosen, "options", ())}
    try:
        resolved = resolve_options(getattr(chosen, "options", ()), {k: v for k, v in (options or {}).items() if k in known})
    except ValueError as exc:
        raise StudioError(f"parser {chosen.name}: {exc}") from None
    result = chosen.parse(source, resolved)
    result.parser = chosen.name
    return result


@dataclass
class RosterEntry:
    """One character of the roster."""

    name: str
    lines: int
    chars: int
    aliases: dict[str, int] = field(default_factory=dict)
    """Alias → lines counted under it (the canonical name included)."""


def alias_map(aliases: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Turn ``canonical → [aliases]`` into ``alias → canonical`` (the canonical maps to itself)."""
    out: dict[str, str] = {}
    for canonical, others in aliases.items():
        out[canonical] = canonical
        for other in others:
            out[other] = canonical
    return out


def canonical_speaker(speaker: str | None, mapping: Mapping[str, str]) -> str | None:
    if speaker is None:
        return None
    return mapping.get(speaker, speaker)


def build_roster(
    utterances: Iterable[Utterance],
    aliases: Mapping[str, Sequence[str]] | None = None,
    ignore: Iterable[str] = (),
) -> list[RosterEntry]:
    """Speakers with dialogue line counts after alias merging, most lines first."""
    mapping = alias_map(aliases or {})
    ignored = set(ignore)
    lines: Counter[str] = Counter()
    chars: Counter[str] = Counter()
    by_alias: dict[str, Counter[str]] = {}
    for utt in utterances:
        if utt.kind != "dialogue" or not utt.speaker or utt.speaker in ignored:
            continue
        name = mapping.get(utt.speaker, utt.speaker)
        lines[name] += 1
        chars[name] += len(utt.text)
        by_alias.setdefault(name, Counter())[utt.speaker] += 1
    return [
        RosterEntry(name, count, chars[name], dict(by_alias[name].most_common()))
        for name, count in sorted(lines.items(), key=lambda item: (-item[1], item[0]))
    ]


# Titles and honorifics that make a longer label the same person as a shorter one.
_AFFIXES = ("小主", "娘娘", "姑娘", "公公", "大人", "小姐", "姐姐", "妹妹", "贵人", "常在", "答应", "嫔", "妃",
            "Lady ", "Lord ", "Sir ", "Mr. ", "Mrs. ", "Miss ", "King ", "Queen ")


def suggest_aliases(roster: Sequence[RosterEntry], limit: int = 30) -> list[tuple[str, str]]:
    """Suggest ``(alias, canonical)`` pairs for the user to confirm.

    A short name contained in a longer one (嬛嬛 / 甄嬛, 悟空 / 孙悟空) or a name plus a title
    (华妃娘娘 / 华妃) is suggested as the same character; the one with more lines is canonical.
    """
    names = [entry.name for entry in roster]
    counts = {entry.name: entry.lines for entry in roster}
    pairs: list[tuple[str, str]] = []
    for short in names:
        if len(short) < 2:
            continue
        for long in names:
            if long == short or short not in long:
                continue
            rest = long.replace(short, "", 1).strip()
            if not rest or rest in _AFFIXES or rest.strip() in {a.strip() for a in _AFFIXES} or len(short) >= 2 and len(rest) <= 1:
                alias, canonical = (long, short) if counts[short] >= counts[long] else (short, long)
                if (alias, canonical) not in pairs:
                    pairs.append((alias, canonical))
    pairs.sort(key=lambda p: -(counts[p[0]] + counts[p[1]]))
    return pairs[:limit]


@dataclass
class CorpusReport:
    """Everything parsed from a workspace's corpus."""

    results: list[ParseResult]
    errors: list[str]

    @property
    def utterances(self) -> list[Utterance]:
        return [u for r in self.results for u in r.utterances]


def parse_workspace(ws, parsers: Mapping[str, CorpusParser]) -> CorpusReport:
    """Parse every corpus file of a workspace; a bad file is reported, the others still parse."""
    results: list[ParseResult] = []
    errors: list[str] = []
    cfg = ws.config.corpus
    files = ws.corpus_files()
    if not files:
        errors.append(f"{ws.root}: no corpus files match {cfg.files}; put a script, novel or subtitle file in corpus/")
    for path in files:
        rel = path.relative_to(ws.root).as_posix()
        try:
            results.append(parse_file(path, parsers, parser=cfg.parser, encoding=cfg.encoding, options=cfg.options, display_name=rel))
        except StudioError as exc:
            errors.append(str(exc))
    return CorpusReport(results, errors)
