"""Provides the studio's one sample query: filters, text search, counts, length histograms.

``review --list --search`` and the studio's curation list (``/``, ``f``) both select samples
through :func:`matches`, so the same query finds the same samples both ways. Samples are taken
with their review decisions applied (status, edited texts). UI-free and fast enough to re-run on
every keystroke of a search over 50,000 samples (the searchable text of a sample is cached).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from studio.api import Sample

STATUSES = ("pending", "accepted", "rejected", "edited")
"""Review statuses, in the order lists and counts show them."""
LENGTH_BINS = (0, 5, 10, 20, 40, 80, 160, 320, 640)
"""Lower edges of the reply-length rows ``review`` prints."""
STATUS_GLYPH = {"pending": "·", "accepted": "✓", "rejected": "✗", "edited": "✎"}


def source_of(sample: Sample) -> str:
    """``corpus``, ``identity`` or ``augment:<strategy>``."""
    provenance = sample.provenance or {}
    kind = provenance.get("kind", "corpus")
    if kind == "augment":
        return f"augment:{provenance.get('strategy', '?')}"
    return str(kind)


def search_text(sample: Sample) -> str:
    """What a text search looks in: the scene and every turn, case-folded."""
    return "\n".join([sample.scene, *(t.content for t in sample.turns)]).casefold()


@dataclass
class Query:
    """Which samples to show.

    Attributes:
        status: ``all``, one of :data:`STATUSES`, or a tuple of several.
        source: ``all``, ``corpus``, ``identity``, ``augment`` (any augmenter) or
            ``augment:<strategy>``.
        split: ``all``, ``train`` or ``eval``.
        min_len / max_len: reply length bounds in characters (0 = no bound).
        text: case-insensitive substring of any turn or of the scene.
    """

    status: str | tuple[str, ...] = "all"
    source: str = "all"
    split: str = "all"
    min_len: int = 0
    max_len: int = 0
    text: str = ""

    def is_empty(self) -> bool:
        return self == Query()

    def describe(self) -> str:
        parts = [f"status {self.status}", f"source {self.source}"]
        if self.split != "all":
            parts.append(f"split {self.split}")
        if self.min_len or self.max_len:
            parts.append(f"length {self.min_len or 0}–{self.max_len or '∞'}")
        if self.text:
            parts.append(f"/{self.text}")
        return " · ".join(parts)


def matches(sample: Sample, query: Query, text: str | None = None) -> bool:
    """True when ``sample`` (decisions applied) passes every filter of ``query``.

    Args:
        sample: the sample with its review decision applied.
        query: the filters.
        text: ``search_text(sample)`` when already known (a cache); computed otherwise.
    """
    if query.status != "all" and not (
        sample.status == query.status
        if isinstance(query.status, str)
        else sample.status in query.status
    ):
        return False
    if query.split != "all" and sample.split != query.split:
        return False
    if query.source != "all":
        source = source_of(sample)
        if query.source == "augment":
            if not source.startswith("augment:"):
                return False
        elif source != query.source:
            return False
    if query.min_len or query.max_len:
        length = len(sample.reply)
        if length < query.min_len or (query.max_len and length > query.max_len):
            return False
    if query.text:
        haystack = search_text(sample) if text is None else text
        if query.text.casefold() not in haystack:
            return False
    return True


@dataclass
class Searcher:
    """Runs queries over one list of samples, caching each sample's searchable text.

    The cache is keyed by the sample object: a sample replaced by its updated copy (after an
    edit) is searched by its new text.
    """

    samples: Sequence[Sample]
    _texts: dict[int, tuple[Sample, str]] = field(default_factory=dict)

    def text_of(self, sample: Sample) -> str:
        cached = self._texts.get(id(sample))
        if cached is not None and cached[0] is sample:
            return cached[1]
        text = search_text(sample)
        self._texts[id(sample)] = (sample, text)
        return text

    def select(self, query: Query) -> list[int]:
        """Indices of the samples that pass ``query``, in dataset order."""
        if query.is_empty():
            return list(range(len(self.samples)))
        if not query.text:
            return [i for i, s in enumerate(self.samples) if matches(s, query, "")]
        return [i for i, s in enumerate(self.samples) if matches(s, query, self.text_of(s))]


def select(samples: Sequence[Sample], query: Query) -> list[Sample]:
    """The samples that pass ``query``, in dataset order."""
    return [s for s in samples if matches(s, query)]


def status_counts(samples: Iterable[Sample]) -> dict[str, int]:
    """Samples per review status, every status present (zero included)."""
    counts = dict.fromkeys(STATUSES, 0)
    for sample in samples:
        counts[sample.status] = counts.get(sample.status, 0) + 1
    return counts


def sources(samples: Iterable[Sample]) -> list[str]:
    """The choices for ``source``: all, corpus, identity, augment, then each strategy."""
    found = sorted({source_of(s) for s in samples})
    out = ["all"] + [s for s in ("corpus", "identity") if s in found]
    strategies = [s for s in found if s.startswith("augment:")]
    if strategies:
        out += ["augment", *strategies]
    out += [s for s in found if s not in out]
    return out


def length_histogram(lengths: Sequence[int], bins: int) -> tuple[list[int], int, int]:
    """Counts of ``lengths`` in ``bins`` equal-width bins; returns (counts, low, high)."""
    if not lengths or bins <= 0:
        return [0] * max(0, bins), 0, 0
    low, high = min(lengths), max(lengths)
    span = max(1, high - low + 1)
    counts = [0] * bins
    for value in lengths:
        counts[min(bins - 1, (value - low) * bins // span)] += 1
    return counts, low, high


def length_table(
    lengths: Iterable[int], bins: Sequence[int] = LENGTH_BINS
) -> list[tuple[int, int | None, int]]:
    """``lengths`` counted in rows ``(low, high, count)`` of the lower ``bins`` edges.

    The last row has no ``high``.
    """
    edges = sorted(bins)
    counts = [0] * len(edges)
    for length in lengths:
        counts[max(bisect.bisect_right(edges, length) - 1, 0)] += 1
    return [
        (edges[i], edges[i + 1] if i + 1 < len(edges) else None, counts[i])
        for i in range(len(edges))
    ]


def kind_source(kind: str) -> str:
    """The source filter of a provenance kind (``review --kind``); ``augment``: any augmenter."""
    return kind or "all"


def query_of(**filters: Any) -> Query:
    """A query from ``review``-style filters (``status``, ``split``, ``kind``, ``text``)."""
    status = filters.get("status") or "all"
    return Query(
        status=status if isinstance(status, str) else tuple(status),
        split=filters.get("split") or "all",
        source=kind_source(filters.get("kind") or ""),
        text=filters.get("text") or "",
    )
