"""Provides text similarity metrics for replies against the character's real lines.

- chrF (Popović, 2015): character n-grams of orders 1-6, whitespace ignored; precision and
  recall are averaged over the orders both texts have, then combined as F-beta with beta = 2
  (recall weighs more). Works the same for Chinese and English; 0-100.
- ROUGE-L F1: longest common subsequence over characters for CJK text and over words for
  other text; 0-100.
- ``names_character``: whether a reply names the character (identity probes).
- ``is_empty_reply`` / ``count_unusable``: replies with no visible character (spaces, invisible
  or control characters only) are empty; replies with replacement or control characters are
  garbled (:func:`studio.api.model_text.is_garbled`).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from studio.api.text import CJK_CLASS, is_cjk_char

CHRF_ORDER = 6
_INVISIBLE = ("Cc", "Cf", "Zs", "Zl", "Zp")
_TOKEN = re.compile(f"[{CJK_CLASS}]|[^\\W_]+")
CHRF_BETA = 2.0


@dataclass
class ChrfStats:
    """Matched / hypothesis / reference n-gram counts per order.

    Sums over sentences give corpus chrF.
    """

    matched: list[int] = field(default_factory=lambda: [0] * CHRF_ORDER)
    hyp: list[int] = field(default_factory=lambda: [0] * CHRF_ORDER)
    ref: list[int] = field(default_factory=lambda: [0] * CHRF_ORDER)

    def add(self, other: ChrfStats) -> None:
        for n in range(CHRF_ORDER):
            self.matched[n] += other.matched[n]
            self.hyp[n] += other.hyp[n]
            self.ref[n] += other.ref[n]

    def score(self, beta: float = CHRF_BETA) -> float:
        """chrF on 0-100; 0 when either side is empty."""
        precisions, recalls = [], []
        for n in range(CHRF_ORDER):
            if self.hyp[n] and self.ref[n]:
                precisions.append(self.matched[n] / self.hyp[n])
                recalls.append(self.matched[n] / self.ref[n])
        if not precisions:
            return 0.0
        p = sum(precisions) / len(precisions)
        r = sum(recalls) / len(recalls)
        if p == 0 and r == 0:
            return 0.0
        b2 = beta * beta
        return 100.0 * (1 + b2) * p * r / (b2 * p + r)


def chrf_stats(hypothesis: str, reference: str) -> ChrfStats:
    """The n-gram statistics of one hypothesis against one reference."""
    hyp = re.sub(r"\s+", "", hypothesis)
    ref = re.sub(r"\s+", "", reference)
    stats = ChrfStats()
    for n in range(1, CHRF_ORDER + 1):
        h = Counter(hyp[i : i + n] for i in range(len(hyp) - n + 1))
        r = Counter(ref[i : i + n] for i in range(len(ref) - n + 1))
        stats.hyp[n - 1] = sum(h.values())
        stats.ref[n - 1] = sum(r.values())
        stats.matched[n - 1] = sum((h & r).values())
    return stats


def chrf(hypothesis: str, reference: str) -> float:
    """Sentence chrF (0-100)."""
    return chrf_stats(hypothesis, reference).score()


def corpus_chrf(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus chrF: statistics summed over all pairs, then scored once (0-100)."""
    total = ChrfStats()
    for hyp, ref in zip(hypotheses, references, strict=True):
        total.add(chrf_stats(hyp, ref))
    return total.score()


def _units(text: str) -> list[str]:
    """ROUGE units: each CJK character is a unit; other text splits into lower-cased words."""
    units: list[str] = []
    for token in _TOKEN.findall(text.lower()):
        units.append(token)
    return units


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    if not a or not b:
        return 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(hypothesis: str, reference: str) -> float:
    """ROUGE-L F1 (0-100) over characters (CJK) or words."""
    hyp, ref = _units(hypothesis), _units(reference)
    common = _lcs(hyp, ref)
    if not common:
        return 0.0
    p, r = common / len(hyp), common / len(ref)
    return 100.0 * 2 * p * r / (p + r)


def names_character(reply: str, names: Iterable[str]) -> bool:
    """True when the reply contains one of ``names``.

    Case-insensitive, whole words for Latin names.
    """
    lowered = reply.lower()
    for name in names:
        name = name.strip().lower()
        if not name:
            continue
        if any(is_cjk_char(ch) for ch in name):
            if name in lowered:
                return True
        elif re.search(r"(?<![\w])" + re.escape(name) + r"(?![\w])", lowered):
            return True
    return False


def is_empty_reply(text: str) -> bool:
    """True when the reply shows nothing: only whitespace, invisible or control characters."""
    return all(ch.isspace() or unicodedata.category(ch) in _INVISIBLE for ch in text)


def count_unusable(replies: Iterable[str]) -> dict[str, int]:
    """``empty_replies`` and ``garbled_replies`` (not empty, with broken or control characters)."""
    from studio.api.model_text import is_garbled

    empty = garbled = 0
    for reply in replies:
        if is_empty_reply(reply):
            empty += 1
        elif is_garbled(reply):
            garbled += 1
    return {"empty_replies": empty, "garbled_replies": garbled}
