"""The position-wise feed-forward network of a transformer block.

Each row (token) on its own: h = x·W₁ + b₁, a = f(h), y = a·W₂ + b₂ with
W₁ of shape (d × d_ff) and W₂ of shape (d_ff × d). Rows never mix.

>>> r = feed_forward(np.array([[1.0, -1.0]]), np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]),
...                  np.zeros(3), np.array([[1.0], [1.0], [1.0]]).repeat(2, axis=1), np.zeros(2))
>>> r.hidden.tolist(), r.activated.tolist(), r.y.tolist()
([[1.0, -1.0, 0.0]], [[1.0, 0.0, 0.0]], [[1.0, 1.0]])
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nntutor.core.activations import activate


class FFNResult(NamedTuple):
    """x, the hidden pre-activations, the activated values and the output (rows)."""

    x: np.ndarray
    w1: np.ndarray
    b1: np.ndarray
    hidden: np.ndarray  # x·W₁ + b₁  (n × d_ff)
    activation: str
    activated: np.ndarray  # f(hidden)
    w2: np.ndarray
    b2: np.ndarray
    y: np.ndarray  # activated·W₂ + b₂  (n × d)


def feed_forward(x, w1, b1, w2, b2, activation: str = "relu") -> FFNResult:
    """FFN(x) = f(x·W₁ + b₁)·W₂ + b₂, row by row (``x`` is n × d)."""
    x = np.asarray(x, dtype=np.float64)
    w1 = np.asarray(w1, dtype=np.float64)
    w2 = np.asarray(w2, dtype=np.float64)
    b1 = np.zeros(w1.shape[1]) if b1 is None else np.asarray(b1, dtype=np.float64)
    b2 = np.zeros(w2.shape[1]) if b2 is None else np.asarray(b2, dtype=np.float64)
    hidden = x @ w1 + b1
    activated = np.asarray(activate(activation, hidden), dtype=np.float64)
    y = activated @ w2 + b2
    return FFNResult(x, w1, b1, hidden, activation, activated, w2, b2, y)


def estimate_bytes(n: int, d: int, d_ff: int) -> int:
    """Bytes for the weights (2·d·d_ff) and the n×d_ff intermediates, generously.

    >>> estimate_bytes(2, 2, 8)
    1152
    """
    return 8 * (4 * d * d_ff + 4 * n * d_ff + 4 * n * d)
