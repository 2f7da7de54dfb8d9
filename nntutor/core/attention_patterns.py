"""Measuring what an attention head does: where, on average, its weight goes.

For a causal head's weights A (n × n, row i over keys 0…i), averaged over the
queries i = 1…n−1 (query 0 can only see itself, so it says nothing):

    itself    = mean Aᵢᵢ            previous = mean Aᵢ,ᵢ₋₁
    first     = mean Aᵢ₀            spread   = mean of e^(entropy of row i) / (i + 1)

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
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

CLEAR = 0.5  # a habit is named only when at least half the weight goes there on average
HABITS = ("previous token", "first token", "itself")


class HeadStats(NamedTuple):
    """Average weight on the token itself, the previous one and the first, and how spread out, over queries 1…n−1."""

    itself: float
    previous: float
    first: float
    spread: float
    queries: int  # how many queries were averaged (n − 1)


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
    return HeadStats(itself, previous, first, spread, n - 1)


def describe(s: HeadStats) -> tuple[str, float]:
    """The head's habit and its measured weight, e.g. ``('previous token', 0.9)``; ``('mixed', largest)`` when none is clear.

    Ties go to the earlier of :data:`HABITS`.
    """
    values = (s.previous, s.first, s.itself)
    best = int(np.argmax(values))
    return (HABITS[best], values[best]) if values[best] >= CLEAR else ("mixed", values[best])
