"""The position-wise feed-forward network of a transformer block.

Each row (token) on its own: h = x·W₁ + b₁, a = f(h), y = a·W₂ + b₂ with
W₁ of shape (d × d_ff) and W₂ of shape (d_ff × d). Rows never mix.
:func:`feed_forward_backward` is the backward pass (the activation's derivative
from :mod:`nntutor.core.activations`).

>>> r = feed_forward(np.array([[1.0, -1.0]]), np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]),
...                  np.zeros(3), np.array([[1.0], [1.0], [1.0]]).repeat(2, axis=1), np.zeros(2))
>>> r.hidden.tolist(), r.activated.tolist(), r.y.tolist()
([[1.0, -1.0, 0.0]], [[1.0, 0.0, 0.0]], [[1.0, 1.0]])
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nntutor.core.activations import activate, derivative
from nntutor.core.attention import matmul_rows


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
    hidden = matmul_rows(x, w1) + b1
    activated = np.asarray(activate(activation, hidden), dtype=np.float64)
    y = matmul_rows(activated, w2) + b2
    return FFNResult(x, w1, b1, hidden, activation, activated, w2, b2, y)


def estimate_bytes(n: int, d: int, d_ff: int) -> int:
    """Bytes for the weights (2·d·d_ff) and the n×d_ff intermediates, generously.

    >>> estimate_bytes(2, 2, 8)
    1152
    """
    return 8 * (4 * d * d_ff + 4 * n * d_ff + 4 * n * d)


# --------------------------------------------------------------------------- backward


class FFNGrads(NamedTuple):
    """The gradients of a loss L through the FFN, for an upstream ∂L/∂y.

    Each has the shape of what it is the gradient of: ``dw1`` like W₁ (d × d_ff),
    ``db1`` like b₁ (d_ff), ``dhidden`` and ``dactivated`` like the hidden layer
    (n × d_ff), ``dx`` like x (n × d). The weight and bias gradients are summed
    over every row (token).
    """

    dy: np.ndarray  # ∂L/∂y, as given (n × d)
    dw2: np.ndarray  # activatedᵀ·dy  (d_ff × d)
    db2: np.ndarray  # dy summed over the rows  (d)
    dactivated: np.ndarray  # ∂L/∂f(h) = dy·W₂ᵀ  (n × d_ff)
    slope: np.ndarray  # f′(h), element-wise  (n × d_ff)
    dhidden: np.ndarray  # ∂L/∂h = ∂L/∂f(h) ⊙ f′(h)  (n × d_ff)
    dw1: np.ndarray  # xᵀ·dhidden  (d × d_ff)
    db1: np.ndarray  # dhidden summed over the rows  (d_ff)
    dx: np.ndarray  # dhidden·W₁ᵀ  (n × d)


def _rows(a: np.ndarray) -> np.ndarray:
    """Every leading axis folded into one: the rows of a batch of sequences."""
    return a.reshape(-1, a.shape[-1])


def feed_forward_backward(r: FFNResult, dy) -> FFNGrads:
    """The backward pass through :func:`feed_forward` at its result ``r``, for ∂L/∂y = ``dy``.

    ∂L/∂f(h) = dy·W₂ᵀ, ∂L/∂h = ∂L/∂f(h) ⊙ f′(h) (the activation's derivative from
    :mod:`nntutor.core.activations`), dx = ∂L/∂h·W₁ᵀ; dW₂ = f(h)ᵀ·dy and
    dW₁ = xᵀ·∂L/∂h sum over the rows, as do db₂ and db₁. Any number of rows (and
    leading axes); a row whose dy is 0 (a padding token) adds nothing.

    Worked example (the module's): x = [1, −1], h = [1, −1, 0], ReLU gives [1, 0, 0];
    with W₂ all ones and dy = [1, 0]: ∂L/∂f(h) = [1, 1, 1], f′(h) = [1, 0, 0]
    (ReLU′(0) = 0), ∂L/∂h = [1, 0, 0], dx = ∂L/∂h·W₁ᵀ = [1·1, 1·0] = [1, 0].

    >>> r = feed_forward(np.array([[1.0, -1.0]]), np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]),
    ...                  np.zeros(3), np.ones((3, 2)), np.zeros(2))
    >>> g = feed_forward_backward(r, np.array([[1.0, 0.0]]))
    >>> g.dactivated.tolist(), g.dhidden.tolist(), g.dx.tolist()
    ([[1.0, 1.0, 1.0]], [[1.0, 0.0, 0.0]], [[1.0, 0.0]])
    >>> g.dw1.tolist(), g.db2.tolist()
    ([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]], [1.0, 0.0])
    """
    dy = np.asarray(dy, dtype=np.float64)
    if dy.shape != r.y.shape:
        raise ValueError(f"dy has shape {dy.shape}; it must have the shape of y, {r.y.shape}")
    dactivated = matmul_rows(dy, r.w2.T)
    slope = np.asarray(derivative(r.activation, r.hidden), dtype=np.float64)
    dhidden = dactivated * slope
    return FFNGrads(
        dy,
        _rows(r.activated).T @ _rows(dy),
        _rows(dy).sum(axis=0),
        dactivated,
        slope,
        dhidden,
        _rows(r.x).T @ _rows(dhidden),
        _rows(dhidden).sum(axis=0),
        matmul_rows(dhidden, r.w1.T),
    )
