"""Multi-head attention: h single-head attentions on column slices, concatenated.

Row-vector convention: ``Q = X·W_Q + b_Q`` with ``W_Q`` of shape (d_model × d_model).
Head i uses columns ``i·d_head … (i+1)·d_head − 1`` of Q, K and V
(``d_head = d_model / h``) and runs :func:`nntutor.core.attention.attend` on
them; the head outputs are laid side by side and projected by ``W_O``.
:func:`multi_head_backward` runs it backwards, head by head.

With identity projections and one token per row, e.g. two heads on
X = [[1, 0, 0, 1], [0, 1, 1, 0]]: head 0 sees columns 0–1, head 1 columns 2–3.

>>> x = np.array([[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 1.0, 0.0]])
>>> eye = np.eye(4)
>>> r = multi_head_attention(x, eye, eye, eye, eye, heads=2)
>>> np.round(r.weights[0], 4).tolist()
[[0.6698, 0.3302], [0.3302, 0.6698]]
>>> r.concat.shape, r.head_dim
((2, 4), 2)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nntutor.core.attention import (
    AttentionGrads,
    AttentionResult,
    ProjectionGrads,
    attend,
    attend_backward_from,
    build_mask,
    matmul_rows,
    projection_backward,
    rows_of,
)


class MultiHeadResult(NamedTuple):
    """Every stage of multi-head attention.

    ``q``, ``k``, ``v`` are the full projections (n × d_model); ``heads[i]`` is
    the single-head :class:`AttentionResult` of head i on its column slice;
    ``concat`` is the head outputs side by side (n × d_model) and ``output``
    is ``concat·W_O + b_O``.
    """

    x: np.ndarray
    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    head_dim: int
    heads: tuple[AttentionResult, ...]
    concat: np.ndarray
    wo: np.ndarray
    bo: np.ndarray
    output: np.ndarray

    @property
    def n_heads(self) -> int:
        return len(self.heads)

    @property
    def weights(self) -> np.ndarray:
        """Attention weights of every head, shape (h × n_queries × n_keys)."""
        return np.stack([head.weights for head in self.heads])

    @property
    def head_outputs(self) -> np.ndarray:
        """Every head's output, shape (h × n × d_head)."""
        return np.stack([head.output for head in self.heads])

    def columns(self, head: int) -> slice:
        """The columns of Q, K, V that head ``head`` works on."""
        return head_columns(head, self.head_dim)


def head_columns(head: int, head_dim: int) -> slice:
    """``head_columns(1, 2) -> slice(2, 4)``: head 1 of width 2 takes columns 2 and 3."""
    return slice(head * head_dim, (head + 1) * head_dim)


def head_dim_for(d_model: int, heads: int) -> int:
    """d_model / h, refusing a split that does not come out even.

    >>> head_dim_for(6, 3)
    2
    """
    if heads < 1:
        raise ValueError("the number of heads must be at least 1")
    if d_model % heads:
        raise ValueError(f"d_model = {d_model} is not divisible by h = {heads}")
    return d_model // heads


def _bias(b, width: int) -> np.ndarray:
    return np.zeros(width) if b is None else np.asarray(b, dtype=np.float64)


def multi_head_attention(
    x,
    wq,
    wk,
    wv,
    wo,
    *,
    heads: int,
    causal: bool = False,
    bq=None,
    bk=None,
    bv=None,
    bo=None,
    key_padding=None,
) -> MultiHeadResult:
    """concat(head₁, …, head_h)·W_O + b_O with headᵢ = attention on columns of Q, K, V.

    ``key_padding`` (one 0/1 per token, 0 = padding) hides keys from every query, in
    every head; a query left with no key gets a zero head output (not NaN). ``x``
    may be a batch of sequences (B × n × d_model): every sequence on its own.
    """
    x = np.asarray(x, dtype=np.float64)
    n, d = x.shape[-2:]
    head_dim = head_dim_for(d, heads)
    q = matmul_rows(x, np.asarray(wq, dtype=np.float64)) + _bias(bq, d)
    k = matmul_rows(x, np.asarray(wk, dtype=np.float64)) + _bias(bk, d)
    v = matmul_rows(x, np.asarray(wv, dtype=np.float64)) + _bias(bv, d)
    allowed = build_mask(n, n, causal=causal, key_padding=key_padding)
    results = []
    for i in range(heads):
        cols = head_columns(i, head_dim)
        results.append(attend(q[..., cols], k[..., cols], v[..., cols], allowed=allowed))
    concat = np.concatenate([r.output for r in results], axis=-1)
    wo = np.asarray(wo, dtype=np.float64)
    bo = _bias(bo, wo.shape[1])
    output = matmul_rows(concat, wo) + bo
    return MultiHeadResult(x, q, k, v, head_dim, tuple(results), concat, wo, bo, output)


# --------------------------------------------------------------------------- backward


class MultiHeadGrads(NamedTuple):
    """The gradients of a loss L through multi-head attention, for an upstream ∂L/∂output.

    Each has the shape of what it is the gradient of: ``dwo`` like W_O, ``dconcat``
    like the concatenated heads (n × d_model), ``heads[i]`` is head i's
    :class:`~nntutor.core.attention.AttentionGrads` on its columns; ``dq``, ``dk``,
    ``dv`` lay the heads' dQ, dK, dV side by side (n × d_model, like Q, K, V);
    ``projections`` holds dW_Q, dW_K, dW_V, the bias gradients and ∂L/∂x along its
    three paths (through Q, K and V), whose sum is ``dx``.
    """

    dout: np.ndarray  # ∂L/∂output, as given (n × d_model)
    dwo: np.ndarray  # concatᵀ·dout
    dbo: np.ndarray  # dout summed over the rows
    dconcat: np.ndarray  # dout·W_Oᵀ
    heads: tuple[AttentionGrads, ...]
    dq: np.ndarray
    dk: np.ndarray
    dv: np.ndarray
    projections: ProjectionGrads

    @property
    def dx(self) -> np.ndarray:
        """∂L/∂x, the paths through Q, K and V added (n × d_model)."""
        return self.projections.dx


def multi_head_backward(r: MultiHeadResult, dout, wq, wk, wv) -> MultiHeadGrads:
    """The backward pass through :func:`multi_head_attention` at its result ``r``.

    ``wq``, ``wk``, ``wv`` are the projections the forward used (the result keeps
    only W_O). Back through the output projection (dW_O = Cᵀ·dout, ∂L/∂C =
    dout·W_Oᵀ), then each head on its own columns of ∂L/∂C with
    :func:`~nntutor.core.attention.attend_backward_from` (masks included: masked
    keys and fully masked queries get zero gradient), then the projections with
    :func:`~nntutor.core.attention.projection_backward` on the heads' dQ, dK, dV
    side by side: each head's columns of dW_Q come from its own dQ, and ∂L/∂x adds
    every head and the three paths.

    Worked example: one token (its only weight is 1, so dQ = dK = 0 and dV = ∂L/∂C),
    identity projections, x = [1, 2], dout = [1, 0]: ∂L/∂C = [1, 0], dW_O = Cᵀ·dout
    with C = V = x, and dx = dV·W_Vᵀ = [1, 0].

    >>> eye = np.eye(2)
    >>> r = multi_head_attention(np.array([[1.0, 2.0]]), eye, eye, eye, eye, heads=2)
    >>> g = multi_head_backward(r, np.array([[1.0, 0.0]]), eye, eye, eye)
    >>> g.dwo.tolist(), g.dv.tolist(), g.dq.tolist(), g.dx.tolist()
    ([[1.0, 0.0], [2.0, 0.0]], [[1.0, 0.0]], [[0.0, 0.0]], [[1.0, 0.0]])
    """
    dout = np.asarray(dout, dtype=np.float64)
    if dout.shape != r.output.shape:
        raise ValueError(f"dout has shape {dout.shape}; it must have the shape of the output, {r.output.shape}")
    dconcat = matmul_rows(dout, r.wo.T)
    heads = tuple(attend_backward_from(res, dconcat[..., r.columns(i)]) for i, res in enumerate(r.heads))
    dq = np.concatenate([g.dq for g in heads], axis=-1)
    dk = np.concatenate([g.dk for g in heads], axis=-1)
    dv = np.concatenate([g.dv for g in heads], axis=-1)
    projections = projection_backward(r.x, wq, wk, wv, dq, dk, dv)
    dwo = rows_of(r.concat).T @ rows_of(dout)
    return MultiHeadGrads(dout, dwo, rows_of(dout).sum(axis=0), dconcat, heads, dq, dk, dv, projections)


def estimate_bytes(n: int, d_model: int, heads: int) -> int:
    """A generous estimate of the memory a multi-head run of this size needs.

    Per head at most six n×n arrays (the scores, the weights, and temporaries
    while the softmax and the stacking run; the boolean mask is shared), plus a
    dozen n×d arrays and four d×d weight matrices, 8 bytes each.

    >>> estimate_bytes(3, 4, 2)
    2528
    """
    return 8 * (6 * heads * n * n + 12 * n * d_model + 4 * d_model * d_model)


class HeadCosts(NamedTuple):
    """What h heads of width d_model/h cost, next to one head of width d_model.

    ``weights``: the numbers in W_Q, W_K, W_V and W_O (4·d², whatever h);
    ``score_mults``: the multiply-adds of the h score matrices Qᵢ·Kᵢᵀ
    (h·n²·d_h = n²·d, whatever h; mixing the values, Aᵢ·Vᵢ, costs the same again);
    ``attention_numbers``: the attention weights kept, h matrices of n × n (h·n²),
    against ``one_head_attention_numbers`` = n² for a single head.
    """

    weights: int
    score_mults: int
    attention_numbers: int
    one_head_attention_numbers: int


def head_costs(n: int, d_model: int, heads: int) -> HeadCosts:
    """Sizes and multiply-adds of h heads over n tokens of width d_model.

    3 tokens, d_model = 4, 2 heads of 2 columns: weights 4×4² = 64; scores
    2 heads × 3² × 2 = 36 = 3² × 4 (as one wide head); attention weights
    2 × 3² = 18 numbers, against 9 for one head.

    >>> head_costs(3, 4, 2)
    HeadCosts(weights=64, score_mults=36, attention_numbers=18, one_head_attention_numbers=9)
    """
    d_head = d_model // heads
    return HeadCosts(4 * d_model * d_model, heads * n * n * d_head, heads * n * n, n * n)
