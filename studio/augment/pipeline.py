"""Provides run_augment: one augmentation job from strategy to pending samples in the dataset.

The job: build the strategy's context from the dataset (real train-split lines as examples),
plan its items, run them concurrently against the LLM backend, journal each result, pass the
proposals in plan order through the filters, and add the survivors to the dataset as
*pending* samples with provenance. The same strategy, options, seed and backend make the same
job id, so running the same job again resumes it: committed items are skipped, finished but
uncommitted ones are replayed from the journal, failed ones are tried again.

UI-free and thread-safe: the TUI calls it from a worker thread with ``progress`` and
``cancelled`` callbacks; the CLI calls it in the foreground.
"""

from __future__ import annotations

import queue
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from studio.api import AugmentContext, AugmentItem, Sample, resolve_options, stable_id
from studio.augment.filters import FilterSettings, PersonaScorer, ProposalFilter
from studio.augment.journal import JobJournal, JournalState
from studio.augment.llm_setup import build_llm, find_persona_scorer
from studio.augment.report import AugmentProgress, AugmentReport
from studio.augment.workers import Committer, Pool, describe_error, hide_secrets
from studio.corpus.inspect import alias_map
from studio.dataset.store import DatasetStore
from studio.errors import StudioError
from studio.llm.backends import Cancelled, LLMError, UnusableOutput
from studio.plugins import default_host

_GIVE_UP_AFTER = 3  # items failing in a row before any success: the backend is down, stop


def _context_samples(
    store: DatasetStore, ws: Any
) -> tuple[list[Sample], list[Sample], list[Sample], dict[str, int]]:
    """(examples, real, proposals, roster) from the dataset with review decisions applied."""
    samples = store.samples()
    real = [s for s in samples if s.provenance.get("kind") != "augment"]
    proposals = [s for s in samples if s.provenance.get("kind") == "augment"]
    rank = {"accepted": 0, "edited": 0, "pending": 1}
    examples = [
        s
        for s in real
        if s.provenance.get("kind") == "corpus" and s.split == "train" and s.status != "rejected"
    ]
    examples.sort(key=lambda s: rank.get(s.status, 2))
    mapping = alias_map(ws.config.aliases())
    roster: Counter[str] = Counter()
    for sample in real:
        for source in sample.provenance.get("sources", []):
            speaker = source.get("speaker")
            if speaker:
                roster[mapping.get(speaker, speaker)] += 1
    return examples, real, proposals, dict(roster.most_common())


def run_augment(
    ws: Any,
    strategy: str,
    options: Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    host: Any = None,
    llm: Callable[..., str] | None = None,
    job_id: str | None = None,
    progress: Callable[[AugmentProgress], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    persona_scorer: PersonaScorer | None | str = "auto",
) -> AugmentReport:
    """Run (or resume) one augmentation job; proposals land in the dataset as pending.

    Args:
        ws: the workspace (its lock is the caller's business: the TUI already holds it).
        strategy: augmenter name (``fewshot``, ``everyday``, ``persona-qa``, ``continue`` …).
        options: the strategy's options; unknown names and bad values are errors.
        seed: seed of every choice; the same seed, options and backend give the same job.
        host: the plugin host (default: every installed plugin).
        llm: a backend callable to use instead of the one studio.toml ``[augment]`` names.
        job_id: name the job yourself; by default it is derived from strategy, options, seed
            and backend, so the same command resumes the same job.
        progress: called with an :class:`AugmentProgress` after every item.
        cancelled: polled often; return True to stop (what finished stays committed).
        persona_scorer: a "sounds like the character" scorer, None for no off-persona filter,
            or ``"auto"`` to use the evaluation classifier when the studio has one.

    Returns:
        The report: counts per filter, new pending samples, the job id to resume.

    Raises:
        StudioError: unknown strategy, bad options, no dataset yet, a job name reused with
            other settings.
    """
    if host is None:
        host = default_host()
    started = time.perf_counter()
    cancelled = cancelled or (lambda: False)
    augmenter = host.augmenters.get(strategy)
    if augmenter is None:
        raise StudioError(
            f"no augmentation strategy {strategy!r}; installed: {', '.join(sorted(host.augmenters)) or 'none'}"
        )
    try:
        resolved = resolve_options(getattr(augmenter, "options", ()), options)
    except ValueError as exc:
        raise StudioError(f"strategy {strategy}: {exc}") from None
    store = DatasetStore(ws.dataset_dir())
    if not store.exists():
        raise StudioError(
            f"{store.samples_path}: no dataset yet; expected one built by: persona-studio build {ws.root}"
        )
    examples, real, proposals, roster = _context_samples(store, ws)

    cfg = ws.config.augment
    client = (
        build_llm(ws, host, backend=llm, cancelled=cancelled)
        if getattr(augmenter, "needs_llm", False)
        else None
    )
    backend = client.describe() if client is not None else None
    recorded = hide_secrets(
        resolved, _secret_names(augmenter)
    )  # what the journal and provenance keep
    job_id = job_id or f"{strategy}-{stable_id(strategy, recorded, seed, backend)}"
    ws.safe_name(job_id)
    journal = JobJournal(ws.dataset_dir() / "augment" / f"{job_id}.jsonl")
    state = journal.read()
    header = {
        "strategy": strategy,
        "options": recorded,
        "seed": seed,
        "backend": backend,
        "character": ws.config.character.name,
    }
    if state.header is not None and any(
        state.header.get(k) != header[k] for k in ("strategy", "options", "seed")
    ):
        raise StudioError(
            f"{journal.path}: job {job_id} was started with other settings "
            f"({state.header.get('strategy')} {state.header.get('options')} seed {state.header.get('seed')}); "
            "expected the same settings to resume it, or another job name"
        )

    report = AugmentReport(job_id, strategy, dict(recorded), seed, journal.path, backend)
    scorer, report.persona_filter = _scorer(ws, persona_scorer, real)
    settings = FilterSettings(
        min_chars=ws.config.dataset.min_chars,
        max_chars=ws.config.dataset.max_chars,
        max_user_chars=4 * ws.config.dataset.max_chars,
        near_duplicate=cfg.near_duplicate,
        persona_threshold=cfg.persona_threshold,
    )
    filt = ProposalFilter(real, proposals, settings, scorer)
    context = AugmentContext(
        character=ws.config.character.name,
        persona=ws.config.character.persona,
        samples=examples,
        roster=roster,
        workspace=ws.root,
        llm=client,
        seed=seed,
        progress=lambda done, total: None,
        cancelled=cancelled,
        aliases=ws.config.aliases(),
    )
    journal.start(header)
    try:
        if hasattr(augmenter, "plan") and hasattr(augmenter, "run"):
            complete = _run_planned(
                augmenter,
                context,
                resolved,
                state,
                journal,
                store,
                filt,
                report,
                progress,
                cancelled,
                workers=1 if (backend or {}).get("backend") == "local" else cfg.concurrency,
            )
        else:
            complete = _run_streamed(
                augmenter,
                context,
                resolved,
                state,
                journal,
                store,
                filt,
                report,
                progress,
                cancelled,
            )
    except BaseException:
        journal.end("failed", report.counts())
        raise
    if client is not None:
        report.llm = client.stats
    report.persona_filter = getattr(scorer, "description", report.persona_filter)
    report.status = "finished" if complete else "cancelled"
    report.seconds = time.perf_counter() - started
    journal.end(report.status, report.counts())
    return report


def _secret_names(augmenter: Any) -> frozenset[str]:
    """Names of the strategy's secret options (their values are used, never written)."""
    return frozenset(
        opt.name for opt in getattr(augmenter, "options", ()) if getattr(opt, "secret", False)
    )


def _scorer(
    ws: Any, given: PersonaScorer | None | str, real: list[Sample]
) -> tuple[PersonaScorer | None, str]:
    if given == "auto":
        return find_persona_scorer(ws, real)
    if given is None:
        return None, "off"
    return given, getattr(given, "__name__", type(given).__name__)  # type: ignore[return-value]


def _run_planned(
    augmenter: Any,
    context: AugmentContext,
    options: dict[str, Any],
    state: JournalState,
    journal: JobJournal,
    store: DatasetStore,
    filt: ProposalFilter,
    report: AugmentReport,
    progress: Callable[[AugmentProgress], None] | None,
    cancelled: Callable[[], bool],
    *,
    workers: int,
) -> bool:
    """Run the plan's items; True when every item was dealt with (False: cancelled)."""
    items = list(augmenter.plan(context, options))
    keys = [item.key for item in items]
    if len(set(keys)) != len(keys):
        raise StudioError(
            f"strategy {report.strategy}: its plan repeats item keys; expected one key per item"
        )
    report.items = len(items)
    todo = [item for item in items if item.key not in state.committed]
    report.skipped = report.items - len(todo)
    committer = Committer(
        report.strategy,
        report.job_id,
        report.seed,
        journal,
        store,
        filt,
        report,
        secrets=_secret_names(augmenter),
    )
    ready: dict[int, list[Sample] | None] = {}
    to_run: list[tuple[int, AugmentItem]] = []
    for index, item in enumerate(todo):
        if item.key in state.results:
            ready[index] = state.results[item.key]
            report.replayed += 1
        else:
            to_run.append((index, item))

    def work(item: AugmentItem) -> list[Sample]:
        return [committer.normalise(s, item.key) for s in augmenter.run(context, options, item)]

    pool = Pool(workers, work, to_run)
    done = report.skipped
    position = 0

    def tell(last: Sample | None = None) -> None:
        if progress is not None:
            progress(
                AugmentProgress(
                    done,
                    report.items,
                    report.kept + len(committer.kept),
                    sum(report.dropped.values()),
                    report.failed,
                    last,
                )
            )

    tell()
    try:
        while position < len(todo):
            if position in ready:
                samples = ready.pop(position)
                done += 1
                last = committer.add(todo[position].key, samples) if samples is not None else None
                position += 1
                tell(last)
                continue
            if cancelled():
                break
            try:
                index, samples, error = pool.outbox.get(timeout=0.05)
            except queue.Empty:
                continue
            key = todo[index].key
            if error is None:
                journal.result(key, samples or [])
                report.ran += 1
                ready[index] = samples
            elif isinstance(error, Cancelled):
                break
            else:
                message = describe_error(error)
                journal.failed(key, message)
                report.failed += 1
                if len(report.errors) < 5:
                    report.errors.append(f"{key}: {message}")
                ready[index] = None
                backend_down = isinstance(error, LLMError) and not isinstance(error, UnusableOutput)
                if (
                    backend_down
                    and report.ran == 0
                    and report.failed >= min(_GIVE_UP_AFTER, len(to_run))
                ):
                    raise StudioError(
                        f"strategy {report.strategy}: the first {report.failed} items all failed; "
                        f"stopped. Last error: {message}"
                    )
    finally:
        pool.stop()
        committer.flush()
    return position >= len(todo)


def _run_streamed(
    augmenter: Any,
    context: AugmentContext,
    options: dict[str, Any],
    state: JournalState,
    journal: JobJournal,
    store: DatasetStore,
    filt: ProposalFilter,
    report: AugmentReport,
    progress: Callable[[AugmentProgress], None] | None,
    cancelled: Callable[[], bool],
) -> bool:
    """An augmenter with only ``propose``: one item per sample, in the order it yields them."""
    committer = Committer(
        report.strategy,
        report.job_id,
        report.seed,
        journal,
        store,
        filt,
        report,
        secrets=_secret_names(augmenter),
    )
    try:
        for sample in augmenter.propose(context, options):
            if cancelled():
                return False
            key = sample.id
            report.items += 1
            if key in state.committed:
                report.skipped += 1
                continue
            report.ran += 1
            normalised = committer.normalise(sample, key)
            journal.result(key, [normalised])
            last = committer.add(key, [normalised])
            if progress is not None:
                progress(
                    AugmentProgress(
                        report.items,
                        report.items,
                        report.kept + len(committer.kept),
                        sum(report.dropped.values()),
                        report.failed,
                        last,
                    )
                )
    finally:
        committer.flush()
    return not cancelled()
