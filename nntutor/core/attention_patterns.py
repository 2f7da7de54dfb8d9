"""Measuring what an attention head does: where, on average, its weight goes.

For a causal head's weights A (n × n, row i over keys 0…i), averaged over the
queries i = 1…n−1 (query 0 can only see itself, so it says nothing):

    itself    = mean Aᵢᵢ            previous = mean Aᵢ,ᵢ₋₁
    first     = mean Aᵢ₀            spread   = mean of e^(entropy of row i) / (i + 1)
    one key   = the key j whose mean weight from the later queries, mean over i > j of Aᵢⱼ,
                is largest (a head that keeps looking back at one token, e.g. a sentence's
                subject); only keys at least two queries look back at (j ≤ n − 3) count

``spread`` is 1 for a head that spreads its weight evenly over everything it
may see and near 1/(i + 1) for one that looks at a single key. The measure
with the largest value names the head's habit (:func:`describe`), only when it
clearly dominates (≥ :data:`CLEAR`); otherwise the head is called mixed.

>>> A = np.array([[1.0, 0, 0], [1.0, 0, 0], [0.2, 0.8, 0]])   # query 1 → key 0, query 2 → key 1
>>> s = head_stats(A)
>>> round(s.previous, 4), round(s.first, 4), round(s.itself, 4)
(0.9, 0.6, 0.0)
>>> describe(s)
('previous token', 0.9)
>>> s.key, round(s.key_weight, 4)   # key 0: (1 + 0.2) / 2 from queries 1 and 2 (key 1: one query only)
(0, 0.6)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

CLEAR = 0.5  # a habit is named only when at least half the weight goes there on average
HABITS = ("previous token", "first token", "itself", "one token")


class HeadStats(NamedTuple):
    """Average weight on the token itself, the previous one and the first, and how spread out, over queries 1…n−1."""

    itself: float
    previous: float
    first: float
    spread: float
    queries: int  # how many queries were averaged (n − 1)
    key: int  # the key the later queries give the most weight on average (0 … n − 3: two queries at least)
    key_weight: float  # that average, mean over i > key of A[i, key]


def head_stats(weights) -> HeadStats:
    """The measures of one head's n × n causal weights (n ≥ 2)."""
    A = np.asarray(weights, dtype=np.float64)
    n = A.shape[0]
    if A.ndim != 2 or A.shape[1] != n or n < 2:
        raise ValueError("expected square weights of at least 2 tokens")
    rows = np.arange(1, n)
    itself = float(A[rows, rows].mean())
    previous = float(A[rows, rows - 1].mean())
    first = float(A[rows, 0].mean())
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(A > 0, np.log(np.where(A > 0, A, 1.0)), 0.0)
    entropy = -(A * logs).sum(axis=1)
    spread = float((np.exp(entropy[rows]) / (rows + 1)).mean())
    # keys seen by at least two later queries (one query's weight is not a habit); key 0 when n = 2
    from_later = np.array([A[j + 1 :, j].mean() for j in range(max(1, n - 2))])
    key = int(np.argmax(from_later))
    return HeadStats(itself, previous, first, spread, n - 1, key, float(from_later[key]))


def describe(s: HeadStats) -> tuple[str, float]:
    """The head's habit and its measured weight, e.g. ``('previous token', 0.9)``; ``('mixed', largest)`` when none is clear.

    ``one token`` is :attr:`HeadStats.key` (key 0 is the first token, counted as that). Ties go
    to the earlier of :data:`HABITS`.
    """
    values = (s.previous, s.first, s.itself, s.key_weight if s.key > 0 else 0.0)
    best = int(np.argmax(values))
    return (HABITS[best], values[best]) if values[best] >= CLEAR else ("mixed", values[best])
