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
    sum 0. Leading axes (a batch of sequences) are kept; ``allowed`` broadcasts. ``exps`` is ``scaled`` itself: no n×n float array is allocated (a mask
    costs one n×n array of booleans), so pass a copy if the scores are still needed.

    >>> exps, row_max, row_sum, empty = exp_rows_in_place(np.array([[0.0, np.log(3.0)]]), None)
    >>> np.round(exps, 4).tolist(), round(float(row_sum[0]), 4)
    ([[0.3333, 1.0]], 1.3333)
    """
    rows = scaled.shape[:-1]
    if allowed is None:
        empty = np.zeros(rows, dtype=bool)
        row_max = scaled.max(axis=-1)
    else:
        empty = np.broadcast_to(~allowed.any(axis=-1), rows)
        np.copyto(scaled, -np.inf, where=~allowed)
        row_max = scaled.max(axis=-1)
        row_max[empty] = 0.0
    scaled -= row_max[..., None]
    np.exp(scaled, out=scaled)  # exp(−∞) = 0 exactly
    return scaled, row_max, scaled.sum(axis=-1), empty


def softmax_rows_in_place(scaled: np.ndarray, allowed: np.ndarray | None):
    """Row-wise softmax over allowed cells, written over ``scaled``: (weights, row_max, row_sum, empty_rows).

    A row with no allowed cell gets all-zero weights instead of 0/0 = NaN.

    >>> weights, _, _, _ = softmax_rows_in_place(np.array([[0.0, np.log(3.0)]]), None)
    >>> weights.tolist()
    [[0.25, 0.75]]
    """
    exps, row_max, row_sum, empty = exp_rows_in_place(scaled, allowed)
    exps /= _safe_sums(row_sum, empty)[..., None]
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
    are divided into the array that becomes the weights, in place. Q, K and V may
    carry leading axes (a batch of B sequences: B × n × d_k); the mask is shared.
    """
    q = np.asarray(q, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    d_k = q.shape[-1]
    scores = q @ k.swapaxes(-1, -2)
    factor = math.sqrt(d_k) if scale else 1.0
    if allowed is None:
        allowed = build_mask(q.shape[-2], k.shape[-2], causal=causal, key_padding=key_padding)
    weights, row_max, row_sum, empty = softmax_rows_in_place(scores / factor, allowed)
    output = weights @ v
    return AttentionResult(q, k, v, scores, factor, allowed, row_max, row_sum, weights, output, empty)


# --------------------------------------------------------------------------- backward


class AttentionGrads(NamedTuple):
    """The gradients of a loss L through single-head attention, for an upstream ∂L/∂O.

    Each gradient has the shape of what it is the gradient of: ``dv`` is n_k × d_v
    like V, ``dweights``, ``dscaled`` and ``dscores`` are n_q × n_k like A, S′ and S,
    ``dq`` is n_q × d_k like Q, ``dk`` is n_k × d_k like K. ``row_dots`` is the
    softmax backward's per-row term Σⱼ dAᵢⱼ·Aᵢⱼ (length n_q). ``forward`` is the
    :class:`AttentionResult` the gradients were taken at.
    """

    forward: AttentionResult
    dout: np.ndarray  # ∂L/∂O, n_q × d_v (as given)
    dv: np.ndarray  # ∂L/∂V = Aᵀ·dO
    dweights: np.ndarray  # ∂L/∂A = dO·Vᵀ
    row_dots: np.ndarray  # Σⱼ dAᵢⱼ·Aᵢⱼ
    dscaled: np.ndarray  # ∂L/∂S′ = A ⊙ (dA − row_dots), 0 where masked
    dscores: np.ndarray  # ∂L/∂S = ∂L/∂S′ / √d_k (the same array as dscaled without scaling)
    dq: np.ndarray  # ∂L/∂Q = dS·K
    dk: np.ndarray  # ∂L/∂K = dSᵀ·Q


def softmax_rows_backward(weights, dweights) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise softmax backward: (∂L/∂S′, row dots) from A = softmax(S′) and ∂L/∂A.

    ∂L/∂S′ᵢⱼ = Aᵢⱼ·(dAᵢⱼ − Σₖ dAᵢₖ·Aᵢₖ), the softmax Jacobian diag(a) − a·aᵀ of
    each row applied to that row of dA. Wherever a weight is 0 (a masked key, or
    a query whose keys are all masked) the gradient is exactly 0, never NaN.

    >>> ds, dots = softmax_rows_backward(np.array([[0.25, 0.75]]), np.array([[1.0, 0.0]]))
    >>> dots.tolist(), ds.tolist()  # 1×0.25 + 0×0.75 = 0.25; 0.25×(1 − 0.25), 0.75×(0 − 0.25)
    ([0.25], [[0.1875, -0.1875]])
    """
    a = np.asarray(weights, dtype=np.float64)
    da = np.asarray(dweights, dtype=np.float64)
    dots = np.einsum("...j,...j->...", da, a)
    return a * (da - dots[..., None]), dots


def attend_backward_from(result: AttentionResult, dout) -> AttentionGrads:
    """The backward pass through :func:`attend` (or :func:`attention`) at a forward result.

    dV = Aᵀ·dO, dA = dO·Vᵀ, ∂L/∂S′ = A ⊙ (dA − rowsum(dA ⊙ A)), dS = ∂L/∂S′ / √d_k,
    dQ = dS·K, dK = dSᵀ·Q. Masks need nothing more: a masked weight is a constant
    0, so its score gets zero gradient (and a fully masked query zero dQ).

    >>> r = attend(np.array([[1.0, 0.0]]), np.array([[1.0, 0.0]]), np.array([[2.0, 3.0]]))
    >>> g = attend_backward_from(r, np.array([[1.0, 1.0]]))
    >>> g.dv.tolist(), g.dweights.tolist(), g.dq.tolist()  # one key: A = [[1]], dA = 1×2 + 1×3
    ([[1.0, 1.0]], [[5.0]], [[0.0, 0.0]])
    """
    dout = np.asarray(dout, dtype=np.float64)
    expected = (*result.q.shape[:-1], result.v.shape[-1])
    if dout.shape != expected:
        raise ValueError(f"dout has shape {dout.shape}; the output O has shape {expected}")
    a = result.weights
    dv = a.swapaxes(-1, -2) @ dout
    dweights = dout @ result.v.swapaxes(-1, -2)
    dscaled, dots = softmax_rows_backward(a, dweights)
    dscores = dscaled / result.scale if result.scale != 1.0 else dscaled
    dq = dscores @ result.k
    dk = dscores.swapaxes(-1, -2) @ result.q
    return AttentionGrads(result, dout, dv, dweights, dots, dscaled, dscores, dq, dk)


def attend_backward(
    q, k, v, dout, *, causal: bool = False, scale: bool = True, key_padding=None, allowed=None
) -> AttentionGrads:
    """dQ, dK, dV (and every stage between) of attention on already projected Q, K, V.

    The forward pass is :func:`attend` with the same options (used per head by
    multi-head attention); ``dout`` is ∂L/∂O, one row per query. Any number of
    queries and keys; ``allowed`` (n_q × n_k booleans) overrides ``causal`` and
    ``key_padding``. Worked example: one query and two keys, Q·Kᵀ = [0, 0], so
    A = [0.5, 0.5]; with V = [[1], [3]] and dO = [[1]], dA = [1, 3], the row dot is
    0.5×1 + 0.5×3 = 2 and ∂L/∂S′ = [0.5×(1 − 2), 0.5×(3 − 2)] = [−0.5, 0.5]:

    >>> g = attend_backward(np.array([[1.0]]), np.array([[0.0], [0.0]]), np.array([[1.0], [3.0]]), np.array([[1.0]]))
    >>> g.dv.tolist(), g.dscaled.tolist(), g.dq.tolist()  # dQ = dS·K = 0 (both keys are 0)
    ([[0.5], [0.5]], [[-0.5, 0.5]], [[0.0]])
    """
    forward = attend(q, k, v, causal=causal, scale=scale, key_padding=key_padding, allowed=allowed)
    return attend_backward_from(forward, dout)


class ProjectionGrads(NamedTuple):
    """Gradients of the projections Q = X·W_Q (+ b_Q), K = X·W_K (+ b_K), V = X·W_V (+ b_V).

    ``dwq`` has the shape of W_Q (d_model × d_k), ``dbq`` of b_Q (d_k), and so on;
    X feeds all three, so ∂L/∂X = ``dx_q + dx_k + dx_v`` (= ``dx``, n × d_model).
    """

    dwq: np.ndarray  # Xᵀ·dQ
    dwk: np.ndarray  # Xᵀ·dK
    dwv: np.ndarray  # Xᵀ·dV
    dbq: np.ndarray  # column sums of dQ
    dbk: np.ndarray
    dbv: np.ndarray
    dx_q: np.ndarray  # dQ·W_Qᵀ: the path through the queries
    dx_k: np.ndarray  # dK·W_Kᵀ: through the keys
    dx_v: np.ndarray  # dV·W_Vᵀ: through the values
    dx: np.ndarray  # the three paths summed


def projection_backward(x, wq, wk, wv, dq, dk, dv) -> ProjectionGrads:
    """dW_Q, dW_K, dW_V (and the bias gradients) and dX from dQ, dK, dV of a self-attention.

    dW = Xᵀ·dQ (and the same for K and V), db = Σ over the rows of dQ, and
    dX = dQ·W_Qᵀ + dK·W_Kᵀ + dV·W_Vᵀ; with leading batch axes the weight and bias
    gradients sum over every row of every sequence. For multi-head attention call it once per
    head with that head's columns of W_Q, W_K, W_V (and of dQ, dK, dV): each head's
    dW fills its columns, and the heads' dX add up.

    >>> x = np.array([[1.0, 2.0]])
    >>> eye = np.eye(2)
    >>> p = projection_backward(x, eye, eye, 2 * eye, np.array([[1.0, 0.0]]), np.zeros((1, 2)), np.array([[0.0, 1.0]]))
    >>> p.dwq.tolist(), p.dx_v.tolist(), p.dx.tolist()  # Xᵀ·dQ; dV·(2I)ᵀ; [1, 0] + [0, 0] + [0, 2]
    ([[1.0, 0.0], [2.0, 0.0]], [[0.0, 2.0]], [[1.0, 2.0]])
    """
    x = np.asarray(x, dtype=np.float64)
    wq, wk, wv, dq, dk, dv = (np.asarray(a, dtype=np.float64) for a in (wq, wk, wv, dq, dk, dv))
    dx_q, dx_k, dx_v = matmul_rows(dq, wq.T), matmul_rows(dk, wk.T), matmul_rows(dv, wv.T)
    xr = rows_of(x).T
    return ProjectionGrads(
        xr @ rows_of(dq), xr @ rows_of(dk), xr @ rows_of(dv),
        rows_of(dq).sum(axis=0), rows_of(dk).sum(axis=0), rows_of(dv).sum(axis=0),
        dx_q, dx_k, dx_v, dx_q + dx_k + dx_v,
    )


def matmul_rows(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """a·w for a matrix w and rows a with any leading axes (a batch of sequences), as ONE matrix product.

    The same numbers as ``a @ w``; folding the batch into rows first lets BLAS do one
    large product instead of one small product per sequence.

    >>> matmul_rows(np.ones((2, 3, 4)), np.ones((4, 5))).shape
    (2, 3, 5)
    """
    if a.ndim <= 2:
        return a @ w
    return (a.reshape(-1, a.shape[-1]) @ w).reshape(*a.shape[:-1], w.shape[-1])


def rows_of(a: np.ndarray) -> np.ndarray:
    """Every leading axis folded into one (a batch of sequences as one list of rows).

    >>> rows_of(np.zeros((2, 3, 4))).shape
    (6, 4)
    """
    return a.reshape(-1, a.shape[-1])
