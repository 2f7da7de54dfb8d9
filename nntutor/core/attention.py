"""Single-head scaled dot-product attention, every stage available to show.

Row-vector convention: ``X`` has one row per token; ``Q = X·W_Q`` with ``W_Q`` of
shape (d_model × d_k).

>>> x = np.array([[1.0, 0.0], [0.0, 1.0]])
>>> result = attention(x)
>>> np.round(result.weights, 4).tolist()  # e^(1/√2) / (e^(1/√2) + e^0) = 0.6698
[[0.6698, 0.3302], [0.3302, 0.6698]]
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


class AttentionResult(NamedTuple):
    """Q, K, V, the raw scores, the weights and the output.

    ``allowed`` is the boolean mask (True where query i may attend to key j) or
    ``None`` when nothing is masked; ``empty_rows`` marks queries whose keys are
    all masked: their weights and output are all zero. Only two n×n arrays are
    kept, the scores and the weights: the scaled scores, the masked scores and
    the exponentials would be three more, so :meth:`scaled`, :meth:`masked` and
    :meth:`exponentials` compute any rows of them again, with the same
    arithmetic as the softmax used, so the numbers are identical.
    """

    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    scores: np.ndarray  # Q·Kᵀ
    scale: float  # √d_k, or 1 without scaling
    allowed: np.ndarray | None
    row_max: np.ndarray  # max over allowed keys (0 for an empty row)
    row_sum: np.ndarray  # Σ exp over allowed keys (0 for an empty row)
    weights: np.ndarray
    output: np.ndarray
    empty_rows: np.ndarray

    def scaled(self, rows=slice(None)) -> np.ndarray:
        """Rows of the scaled scores S / √d_k (S itself without scaling; a new array; all rows by default).

        >>> result = attention(np.array([[1.0, 0.0], [0.0, 1.0]]))
        >>> np.round(result.scaled([0]), 4).tolist()  # [1/√2, 0/√2]
        [[0.7071, 0.0]]
        """
        return self.scores[rows] / self.scale

    def masked(self, rows=slice(None)) -> np.ndarray:
        """Rows of the scaled scores with masked cells set to −∞ (a new array; all rows by default)."""
        scaled = self.scaled(rows)
        if self.allowed is not None:
            np.copyto(scaled, -np.inf, where=~self.allowed[rows])
        return scaled

    def exponentials(self, rows=slice(None)) -> np.ndarray:
        """Rows of e^(score − row max), 0 where masked (a new array; all rows by default).

        >>> result = attention(np.array([[1.0, 0.0], [0.0, 1.0]]))
        >>> np.round(result.exponentials([1]), 4).tolist()  # e^(0 − 1/√2), e^0
        [[0.4931, 1.0]]
        """
        allowed = None if self.allowed is None else self.allowed[rows]
        exps, _, _, _ = exp_rows_in_place(self.scaled(rows), allowed)
        return exps


def causal_mask(n: int) -> np.ndarray:
    """True on and below the diagonal: token i sees tokens 0..i.

    >>> causal_mask(3).astype(int).tolist()
    [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    """
    return np.tril(np.ones((n, n), dtype=bool))


def build_mask(n_queries: int, n_keys: int, *, causal: bool = False, key_padding=None) -> np.ndarray | None:
    """Combine a causal mask and a key padding mask (1 = real token, 0 = padding)."""
    allowed = None
    if causal:
        allowed = np.tril(np.ones((n_queries, n_keys), dtype=bool))
    if key_padding is not None:
        keep = np.asarray(key_padding, dtype=np.float64) != 0
        row = np.broadcast_to(keep[None, :], (n_queries, n_keys))
        allowed = row.copy() if allowed is None else (allowed & row)
    return allowed


def exp_rows_in_place(scaled: np.ndarray, allowed: np.ndarray | None):
    """Row-wise e^(s − row max) over allowed cells, written over ``scaled``: (exps, row_max, row_sum, empty_rows).

    Masked cells become exactly 0 (e^(−∞)); a row with no allowed cell has max 0 and
    sum 0. ``exps`` is ``scaled`` itself: no n×n float array is allocated (a mask
    costs one n×n array of booleans), so pass a copy if the scores are still needed.

    >>> exps, row_max, row_sum, empty = exp_rows_in_place(np.array([[0.0, np.log(3.0)]]), None)
    >>> np.round(exps, 4).tolist(), round(float(row_sum[0]), 4)
    ([[0.3333, 1.0]], 1.3333)
    """
    n_rows = scaled.shape[0]
    if allowed is None:
        empty = np.zeros(n_rows, dtype=bool)
        row_max = scaled.max(axis=1)
    else:
        empty = ~allowed.any(axis=1)
        np.copyto(scaled, -np.inf, where=~allowed)
        row_max = scaled.max(axis=1)
        row_max[empty] = 0.0
    scaled -= row_max[:, None]
    np.exp(scaled, out=scaled)  # exp(−∞) = 0 exactly
    return scaled, row_max, scaled.sum(axis=1), empty


def softmax_rows_in_place(scaled: np.ndarray, allowed: np.ndarray | None):
    """Row-wise softmax over allowed cells, written over ``scaled``: (weights, row_max, row_sum, empty_rows).

    A row with no allowed cell gets all-zero weights instead of 0/0 = NaN.

    >>> weights, _, _, _ = softmax_rows_in_place(np.array([[0.0, np.log(3.0)]]), None)
    >>> weights.tolist()
    [[0.25, 0.75]]
    """
    exps, row_max, row_sum, empty = exp_rows_in_place(scaled, allowed)
    exps /= _safe_sums(row_sum, empty)[:, None]
    return exps, row_max, row_sum, empty


def _safe_sums(row_sum: np.ndarray, empty: np.ndarray) -> np.ndarray:
    """The row sums with 1 for empty rows (whose exponentials are all 0), so 0/1 = 0."""
    return np.where(empty, 1.0, row_sum) if empty.any() else row_sum


def attention(
    x,
    wq=None,
    wk=None,
    wv=None,
    *,
    causal: bool = False,
    scale: bool = True,
    key_padding=None,
) -> AttentionResult:
    """softmax(Q·Kᵀ/√d_k + mask)·V with Q = X·W_Q, K = X·W_K, V = X·W_V.

    Missing projection matrices are the identity (so Q = K = V = X, no copy).
    """
    x = np.asarray(x, dtype=np.float64)
    q = x if wq is None else x @ np.asarray(wq, dtype=np.float64)
    k = x if wk is None else x @ np.asarray(wk, dtype=np.float64)
    v = x if wv is None else x @ np.asarray(wv, dtype=np.float64)
    return attend(q, k, v, causal=causal, scale=scale, key_padding=key_padding)


def attend(q, k, v, *, causal: bool = False, scale: bool = True, key_padding=None, allowed=None) -> AttentionResult:
    """Attention from already projected Q, K, V (used by multi-head attention per head).

    Memory: the scores and the weights are one n×n array each; the scaled scores
    are divided into the array that becomes the weights, in place.
    """
    q = np.asarray(q, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    d_k = q.shape[1]
    scores = q @ k.T
    factor = math.sqrt(d_k) if scale else 1.0
    if allowed is None:
        allowed = build_mask(q.shape[0], k.shape[0], causal=causal, key_padding=key_padding)
    weights, row_max, row_sum, empty = softmax_rows_in_place(scores / factor, allowed)
    output = weights @ v
    return AttentionResult(q, k, v, scores, factor, allowed, row_max, row_sum, weights, output, empty)
