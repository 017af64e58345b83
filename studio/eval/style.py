"""Provides the "sounds like the character" classifier: character n-grams + logistic regression.

Trained on the corpus (the character's lines against other speakers' lines), nothing to
download. Features are character n-grams of orders 1-4 (with line-boundary marks), hashed into
2^18 buckets, weighted ``1 + log(count)`` and L2-normalised per line, so a long reply does
not score higher just for being long. The model is class-balanced logistic regression fitted
by full-batch Adam with L2 regularisation (chosen on held-out episodes of a real script), in numpy; its score is P(character | text) with
equal priors: 0.5 means "could be anyone".
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

DIM = 1 << 18
ORDERS = (1, 2, 3, 4)


def features(text: str) -> dict[int, float]:
    """Hashed, log-scaled, L2-normalised character n-gram features of one line."""
    marked = f"\x02{' '.join(text.split())}\x03"
    counts: Counter[int] = Counter()
    for n in ORDERS:
        for i in range(len(marked) - n + 1):
            gram = marked[i : i + n]
            if gram in ("\x02", "\x03"):
                continue
            counts[zlib.crc32(gram.encode("utf-8")) & (DIM - 1)] += 1
    weights = {k: 1.0 + math.log(v) for k, v in counts.items()}
    norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
    return {k: w / norm for k, w in weights.items()}


def _matrix(texts: Sequence[str]) -> tuple[Any, Any, Any]:
    """Sparse rows as flat arrays: (row index, column, value) of every non-zero."""
    import numpy as np

    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for r, text in enumerate(texts):
        for c, v in features(text).items():
            rows.append(r)
            cols.append(c)
            vals.append(v)
    return (
        np.asarray(rows, dtype=np.int64),
        np.asarray(cols, dtype=np.int64),
        np.asarray(vals, dtype=np.float64),
    )


@dataclass
class StyleClassifier:
    """Scores how much a line sounds like the character.

    Attributes:
        weights: one weight per hashed feature.
        bias: the intercept.
        counts: training lines per class (``character`` / ``other``).
    """

    weights: Any
    bias: float
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def fit(
        cls,
        character_lines: Sequence[str],
        other_lines: Sequence[str],
        *,
        l2: float = 1e-3,
        steps: int = 150,
        lr: float = 0.05,
    ) -> StyleClassifier:
        """Fit on the character's lines (label 1) against other speakers' lines (label 0).

        Raises:
            ValueError: one of the classes has no lines.
        """
        import numpy as np

        if not character_lines or not other_lines:
            raise ValueError(
                "the style classifier needs lines of the character and of other speakers"
            )
        texts = [*character_lines, *other_lines]
        labels = np.concatenate([np.ones(len(character_lines)), np.zeros(len(other_lines))])
        # each class weighs the same in total, whatever its size
        sample_weight = np.where(labels == 1, 0.5 / len(character_lines), 0.5 / len(other_lines))
        rows, cols, vals = _matrix(texts)
        # only features that occur get a weight (the others stay 0 under L2): optimise those alone
        active, cols = np.unique(cols, return_inverse=True)
        n, dim = len(texts), len(active)
        w = np.zeros(dim)
        b = 0.0
        m_w, v_w = np.zeros(dim), np.zeros(dim)
        m_b = v_b = 0.0
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        for step in range(1, steps + 1):
            z = np.bincount(rows, weights=w[cols] * vals, minlength=n) + b
            p = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
            err = (p - labels) * sample_weight  # d(loss)/dz per line
            g_w = np.bincount(cols, weights=vals * err[rows], minlength=dim) + l2 * w
            g_b = float(err.sum())
            m_w = beta1 * m_w + (1 - beta1) * g_w
            v_w = beta2 * v_w + (1 - beta2) * g_w * g_w
            m_b = beta1 * m_b + (1 - beta1) * g_b
            v_b = beta2 * v_b + (1 - beta2) * g_b * g_b
            correction1, correction2 = 1 - beta1**step, 1 - beta2**step
            w -= lr * (m_w / correction1) / (np.sqrt(v_w / correction2) + eps)
            b -= lr * (m_b / correction1) / (math.sqrt(v_b / correction2) + eps)
        weights = np.zeros(DIM)
        weights[active] = w
        return cls(
            weights, float(b), {"character": len(character_lines), "other": len(other_lines)}
        )

    def score(self, texts: Sequence[str]) -> list[float]:
        """P(character | text) per text; an empty text scores 0 (it says nothing in character)."""
        import numpy as np

        out: list[float] = []
        for text in texts:
            if not text.strip():
                out.append(0.0)
                continue
            feats = features(text)
            z = self.bias + sum(float(self.weights[k]) * v for k, v in feats.items())
            out.append(float(1.0 / (1.0 + np.exp(-max(-30.0, min(30.0, z))))))
        return out

    def balanced_accuracy(
        self, character_lines: Sequence[str], other_lines: Sequence[str]
    ) -> float:
        """Mean of the per-class accuracies at the 0.5 threshold (chance is 0.5 whatever the class sizes)."""
        hits_char = sum(1 for s in self.score(character_lines) if s >= 0.5) / max(
            1, len(character_lines)
        )
        hits_other = sum(1 for s in self.score(other_lines) if s < 0.5) / max(1, len(other_lines))
        return (hits_char + hits_other) / 2

    def auc(self, character_lines: Sequence[str], other_lines: Sequence[str]) -> float:
        """Area under the ROC curve: the chance a character line outscores another speaker's line."""
        pos, neg = self.score(character_lines), sorted(self.score(other_lines))
        if not pos or not neg:
            return float("nan")
        import bisect

        wins = sum(
            bisect.bisect_left(neg, s)
            + 0.5 * (bisect.bisect_right(neg, s) - bisect.bisect_left(neg, s))
            for s in pos
        )
        return wins / (len(pos) * len(neg))
