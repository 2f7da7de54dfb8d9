"""Loss functions, every term kept: cross-entropy, binary cross-entropy, MSE, ½·SSE.

Logarithms are natural (ln). A probability below ``eps`` is clipped up to
``eps`` before its log is taken, so a prediction of exactly 0 gives a large
finite loss instead of ∞.

>>> round(cross_entropy_probs([0.1, 0.2, 0.6, 0.1], 2).loss, 4)
0.5108
>>> round(cross_entropy_probs([0.8, 0.1, 0.05, 0.05], 2).loss, 4)
2.9957
>>> mse([1.0, 0.0], [0.5, 0.5]).loss
0.25
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from nntutor.core.softmax import log_softmax, softmax

DEFAULT_EPS = 1e-7


class CrossEntropy(NamedTuple):
    """−ln p[target], with the clipping (if any) that kept it finite.

    ``probs`` are the probabilities (computed by softmax when ``logits`` is
    given); ``p_target`` is probs[target] before clipping and ``p_used`` after.
    """

    probs: np.ndarray
    target: int
    p_target: float
    p_used: float
    clipped: bool
    loss: float
    logits: np.ndarray | None = None
    log_sum_exp: float | None = None  # ln Σ e^zⱼ, when computed from logits


def cross_entropy_probs(probs, target: int, eps: float = DEFAULT_EPS) -> CrossEntropy:
    """−ln max(p[target], eps)."""
    p = np.asarray(probs, dtype=np.float64)
    p_target = float(p[target])
    p_used = max(p_target, eps)
    return CrossEntropy(p, int(target), p_target, p_used, p_used != p_target, -math.log(p_used))


def cross_entropy_logits(logits, target: int) -> CrossEntropy:
    """−ln softmax(z)[target] = ln Σⱼ e^zⱼ − z_target (no clipping needed).

    >>> round(cross_entropy_logits([2.0, 1.0, 0.1], 0).loss, 4)
    0.417
    """
    z = np.asarray(logits, dtype=np.float64)
    log_p = log_softmax(z)
    top = float(np.max(z))
    lse = top + math.log(float(np.sum(np.exp(z - top))))
    p = softmax(z)
    return CrossEntropy(p, int(target), float(p[target]), float(p[target]), False, float(-log_p[target]), z, lse)


class BinaryCrossEntropy(NamedTuple):
    """Mean over elements of −[y·ln p + (1 − y)·ln(1 − p)], p clipped into [eps, 1 − eps]."""

    y_true: np.ndarray
    y_pred: np.ndarray
    p_used: np.ndarray
    clipped: np.ndarray  # True where p was moved by the clipping
    terms: np.ndarray  # the per-element losses
    loss: float


def binary_cross_entropy(y_true, y_pred, eps: float = DEFAULT_EPS) -> BinaryCrossEntropy:
    """BCE averaged over elements.

    >>> round(binary_cross_entropy([1.0, 0.0], [0.9, 0.2]).loss, 4)
    0.1643
    """
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    p_used = np.clip(p, eps, 1.0 - eps)
    terms = -(y * np.log(p_used) + (1.0 - y) * np.log1p(-p_used))
    return BinaryCrossEntropy(y, p, p_used, p_used != p, terms, float(np.mean(terms)))


class SquaredError(NamedTuple):
    """Differences, their squares, their sum and the loss (mean or half sum)."""

    y_true: np.ndarray
    y_pred: np.ndarray
    diffs: np.ndarray  # y_pred − y_true
    squares: np.ndarray
    total: float  # Σ squares
    loss: float


def mse(y_true, y_pred) -> SquaredError:
    """(1/n)·Σ(ŷ − y)²."""
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    diffs = p - y
    squares = diffs * diffs
    total = float(np.sum(squares))
    return SquaredError(y, p, diffs, squares, total, total / y.size)


def half_sse(y_true, y_pred) -> SquaredError:
    """½·Σ(y − ŷ)² (its gradient with respect to ŷ is simply ŷ − y).

    >>> half_sse([1.0, 0.0], [0.5, 0.5]).loss
    0.25
    """
    result = mse(y_true, y_pred)
    return SquaredError(result.y_true, result.y_pred, result.diffs, result.squares, result.total, 0.5 * result.total)


def surprisal(probs) -> np.ndarray:
    """−ln p for each probability: the cross-entropy if that p were the target's.

    >>> np.round(surprisal([1.0, 0.5, 0.05]), 4).tolist()
    [0.0, 0.6931, 2.9957]
    """
    return 0.0 - np.log(np.asarray(probs, dtype=np.float64))  # 0.0 − 0 avoids printing -0.0
