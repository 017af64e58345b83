"""Provides BM25 retrieval over a character's lines, with no model download.

Chinese (and other CJK) text is indexed as single characters plus character bigrams, which
matches words without a segmenter; other text as lower-cased words without common stop
words. Scores are Okapi BM25 (k1 = 1.5, b = 0.75); terms found in more than a quarter of the
documents are left out of queries.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from studio.api.text import HAN_CLASS

_WORD = re.compile(r"[a-z0-9']+")
_CJK_RUN = re.compile(f"[{HAN_CLASS}]+")
_STOP = frozenset(
    "a an and are as at be but by do does did for from had has have he her his i if in into is it its me my "
    "no not of on or our she so than that the their them then there they this to was we were what when "
    "where which who why will with would you your yours".split()
)
_CJK_STOP = frozenset("的了吗呢吧啊么")


def tokenize(text: str) -> list[str]:
    """Index terms: CJK characters and bigrams, and words of other scripts."""
    terms: list[str] = []
    for run in _CJK_RUN.findall(text):
        terms += [ch for ch in run if ch not in _CJK_STOP]
        terms += [run[i : i + 2] for i in range(len(run) - 1)]
    rest = _CJK_RUN.sub(" ", text).lower()
    terms += [
        w.strip("'") for w in _WORD.findall(rest) if w.strip("'") and w.strip("'") not in _STOP
    ]
    return terms


class BM25:
    """An Okapi BM25 index over short documents.

    Args:
        documents: the texts to search.
        k1: term-frequency saturation.
        b: length normalisation.
    """

    def __init__(self, documents: Sequence[str], k1: float = 1.5, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.docs = [Counter(tokenize(d)) for d in documents]
        self.lengths = [sum(d.values()) for d in self.docs]
        self.avg = (sum(self.lengths) / len(self.lengths)) if self.lengths else 0.0
        df: Counter[str] = Counter()
        self.postings: dict[str, list[int]] = {}
        for index, doc in enumerate(self.docs):
            for term in doc:
                df[term] += 1
                self.postings.setdefault(term, []).append(index)
        n = len(self.docs)
        self.idf = {
            term: math.log(1 + (n - count + 0.5) / (count + 0.5)) for term, count in df.items()
        }
        # terms in more than a quarter of the documents (你, 我, the commonest bigrams) barely move
        # the ranking but make every query walk huge posting lists: queries skip them
        self.common = {term for term, count in df.items() if count > max(8, n // 4)}

    def scores(self, query: str) -> dict[int, float]:
        """Document index → score, for documents sharing at least one term with ``query``."""
        out: dict[int, float] = {}
        for term in set(tokenize(query)):
            idf = self.idf.get(term)
            if idf is None or term in self.common:
                continue
            for index in self.postings[term]:
                tf = self.docs[index][term]
                norm = (
                    tf
                    * (self.k1 + 1)
                    / (tf + self.k1 * (1 - self.b + self.b * self.lengths[index] / (self.avg or 1)))
                )
                out[index] = out.get(index, 0.0) + idf * norm
        return out

    def top(self, query: str, k: int) -> list[tuple[int, float]]:
        """The ``k`` best ``(index, score)``, best first; ties go to the earlier document."""
        ranked = sorted(self.scores(query).items(), key=lambda item: (-item[1], item[0]))
        return ranked[:k]
