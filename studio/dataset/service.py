"""Provides build_dataset: parse the workspace corpus, build samples, store them, keep decisions."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.api import Sample, Utterance
from studio.corpus.names import describe_hints, match_speaker, name_hints
from studio.dataset.builder import BuildReport, Exchange, build_samples
from studio.dataset.export import ExportResult, export_samples
from studio.dataset.seed import SeedComparison, compare_with_seed
from studio.dataset.store import DatasetStore
from studio.errors import StudioError


@dataclass
class BuildResult:
    """What a build did.

    Attributes:
        report: counts by reason.
        folder: the dataset folder written.
        seconds: wall time of parse + build + write.
        kept_decisions: review decisions whose sample still exists (they apply).
        orphaned_decisions: decisions whose sample vanished (kept in the journal, not applied).
        errors: corpus files that could not be parsed.
        parse_seconds / build_seconds: the parse and build phases alone.
        samples: the samples written (corpus, identity and carried-over augmenter proposals).
    """

    report: BuildReport
    folder: Path
    seconds: float
    kept_decisions: int = 0
    errors: list[str] = field(default_factory=list)
    orphaned_decisions: int = 0
    parse_seconds: float = 0.0
    build_seconds: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    utterances: list[Utterance] = field(default_factory=list)
    seed: SeedComparison | None = None
    """The seed rule compared line by line (when asked for)."""
    character: str = ""
    """The character built for, as the corpus spells it."""
    notes: list[str] = field(default_factory=list)
    """Things the user should know (a name matched in another case, names that may be the same person)."""


class NothingToBuild(StudioError):
    """The corpus gives no sample of the character; the dataset on disk is left as it was."""


def trainable_problem(samples: list[Sample]) -> str:
    """Why ``samples`` cannot be trained on, or ``""``: none at all, or only identity samples."""
    if not samples:
        return "the dataset has no samples to train on (all rejected?)"
    if all(s.provenance.get("kind") == "identity" for s in samples):
        return (
            f"the dataset holds only the {len(samples)} identity samples from the persona card and no line of "
            "the character from the corpus; fix [character] name or the corpus and build again"
        )
    return ""


def unparsed_lines(results: Any, utterances: Any = None) -> list[tuple[str, int]]:
    """``(file, line)`` of parse warnings that produced no utterance: lines nobody could read.

    Args:
        results: parse results (their warnings).
        utterances: the utterances after the user's corpus fixes; the parse results' own otherwise.
    """
    if utterances is None:
        utterances = [u for r in results for u in r.utterances]
    said = {(u.file, u.line) for u in utterances}
    return [(w.file, w.line) for r in results for w in r.warnings if (w.file, w.line) not in said]


def build_dataset(
    ws: Any, parsers: dict[str, Any], *, write: bool = True, compare_seed: bool = False
) -> BuildResult:
    """Parse every corpus file of ``ws`` and (re)build its dataset; review decisions are kept.

    Args:
        ws: the workspace.
        parsers: registered corpus parsers by name.
        write: store the samples (False: only build and report, e.g. to preview options).
        compare_seed: also apply the seed recipe's rule to the same files and compare.

    Raises:
        StudioError: no character is set.
        NothingToBuild: the corpus has no line of the character (or no corpus at all); nothing
            is written, and the message names the closest roster names.
    """
    from studio.corpus.load import load_utterances

    cfg = ws.config
    if not cfg.character.name:
        raise StudioError(
            f"{ws.config_path}: [character] name is empty; expected the character to build for"
        )
    started = time.perf_counter()
    corpus = load_utterances(ws, parsers)  # the user's speaker fixes, never the raw files
    parsed = time.perf_counter()
    utterances = corpus.utterances
    character, notes = _resolve_character(cfg, utterances)
    dropped: dict[tuple[str, int], str] = {}

    def note(reason: str, exchange: Exchange) -> None:
        for utt in exchange.reply:
            dropped[(utt.file, utt.line)] = reason

    samples, report = build_samples(
        utterances,
        character,
        cfg.character.persona,
        cfg.dataset,
        _aliases(cfg, character),
        ignore=cfg.roster.ignore,
        unparsed=unparsed_lines(corpus.results, utterances),
        on_drop=note if compare_seed else None,
    )
    built = time.perf_counter()
    if report.samples - report.identity <= 0:
        raise NothingToBuild(_nothing_message(cfg, character, utterances, corpus.errors))
    seed = None
    if compare_seed:
        seed = compare_with_seed(
            {r.source.name: r.source.text for r in corpus.results},
            utterances,
            samples,
            character,
            cfg.character.aliases,
            dropped,
        )
    store = DatasetStore(ws.dataset_dir())
    # augmenter proposals are not rebuilt from the corpus: carry them over
    kept_aug = store.raw_samples_of_kind("augment")
    everything = [*samples, *kept_aug]
    if write:
        store.write_samples(
            everything,
            {
                "report": dataclasses.asdict(report),
                "mode": cfg.dataset.mode,
                "character": character,
                "dataset": dataclasses.asdict(cfg.dataset),
                "built_at": time.time(),
                "files": [r.source.name for r in corpus.results],
                "errors": corpus.errors,
            },
        )
    ids = {s.id for s in everything}
    decided = store.decisions()
    kept = sum(1 for sample_id in decided if sample_id in ids)
    return BuildResult(
        report,
        store.folder,
        time.perf_counter() - started,
        kept,
        corpus.errors,
        orphaned_decisions=len(decided) - kept,
        parse_seconds=parsed - started,
        build_seconds=built - parsed,
        samples=everything,
        utterances=utterances,
        seed=seed,
        character=character,
        notes=notes,
    )


def _speaker_counts(utterances: list[Utterance]) -> Counter[str]:
    return Counter(u.speaker for u in utterances if u.kind == "dialogue" and u.speaker)


def _resolve_character(cfg: Any, utterances: list[Utterance]) -> tuple[str, list[str]]:
    """The character's name as the corpus spells it, and notes on names that may be the same person."""
    name = cfg.character.name
    counts = _speaker_counts(utterances)
    notes = []
    matched = match_speaker(name, counts)
    if matched is not None and matched != name:
        notes.append(
            f"[character] name {name!r} matched {matched!r} in the corpus ({counts[matched]} utterances)"
        )
        name = matched
    if name in counts:
        related = [
            h
            for h in name_hints(name, counts, known=cfg.character.aliases)
            if h.reason in ("contains", "contained")
        ]
        if related:
            notes.append(f"{name} has {counts[name]} utterances; " + describe_hints(name, related))
    return name, notes


def _aliases(cfg: Any, character: str) -> dict[str, list[str]]:
    aliases = cfg.aliases()
    if character != cfg.character.name and cfg.character.name in aliases:
        aliases[character] = [*aliases.pop(cfg.character.name), cfg.character.name]
    return aliases


def _nothing_message(
    cfg: Any, character: str, utterances: list[Utterance], errors: list[str]
) -> str:
    """Why no sample was built, and what to try; the dataset on disk is kept."""
    kept = "nothing written; the dataset on disk is unchanged"
    if not utterances:
        why = "; ".join(errors) or "the corpus has no utterances"
        return f"{why}; {kept}"
    counts = _speaker_counts(utterances)
    names = ", ".join([character, *cfg.character.aliases])
    hints = describe_hints(character, name_hints(character, counts, known=cfg.character.aliases))
    top = ", ".join(f"{name} {count}" for name, count in counts.most_common(8)) or "none"
    return (
        f"no dialogue line of {names} in the corpus; {hints + ' ' if hints else ''}speakers with the most "
        f"utterances: {top}. Set [character] name / aliases in {cfg.path or 'studio.toml'} to one of them; "
        f"{kept}"
    )


def export_dataset(
    ws: Any,
    out: str | Path,
    formats: list[str],
    *,
    name: str = "",
    reviewed_only: bool = False,
    bare: bool = False,
) -> ExportResult:
    """Export the workspace dataset, review decisions applied, in each of ``formats``.

    What is exported is what training uses (every sample not rejected; augmenter proposals
    once accepted), or only accepted and edited samples with ``reviewed_only``. The system
    prompt is the persona card of studio.toml now, the one chat uses.

    Raises:
        StudioError: no dataset yet, or nothing left to export.
    """
    store = DatasetStore(ws.dataset_dir())
    if not store.exists():
        raise StudioError(
            f"{store.samples_path}: no dataset yet; build it with: persona-studio build {ws.root}"
        )
    if reviewed_only:
        samples = [s for s in store.samples() if s.status in ("accepted", "edited")]
    else:
        samples = store.training_samples("train") + store.training_samples("eval")
    if not samples:
        what = "accepted or edited samples" if reviewed_only else "samples that are not rejected"
        raise StudioError(f"{store.folder}: no {what} to export")
    persona = ws.config.character.persona
    if persona:
        for sample in samples:
            sample.system = persona
    return export_samples(
        samples,
        out,
        formats,
        name=name or ws.config.character.name or ws.config.dataset.name,
        bare=bare,
    )
