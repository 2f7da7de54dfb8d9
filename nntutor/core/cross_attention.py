"""Cross-attention (encoder–decoder attention): queries from the decoder, keys and values from the encoder.

Row-vector convention: ``X`` holds the decoder states (one row per target token so
far, n_t × d_dec), ``M`` the encoder states (one row per source token, n_s × d_enc).
``Q = X·W_Q`` (W_Q is d_dec × d_k), ``K = M·W_K`` (d_enc × d_k), ``V = M·W_V``
(d_enc × d_v). The scores ``Q·Kᵀ`` are n_t × n_s: rectangular, one row per target
token and one column per source token, and nothing in them is masked as "future"
(the whole source is known before decoding starts). The attention itself is
:func:`nntutor.core.attention.attend`, which takes any number of queries and keys.

Worked example: two target tokens and one source token. With identity projections,
X = [[1, 0], [0, 1]] and M = [[2, 0]], the scores are [[2], [0]]; a single key gets
weight 1 from every query, so both output rows are M's only value row:

>>> r = cross_attention(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[2.0, 0.0]]))
>>> r.scores.tolist(), r.weights.tolist(), r.output.tolist()
([[2.0], [0.0]], [[1.0], [1.0]], [[2.0, 0.0], [2.0, 0.0]])
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nntutor.core.attention import AttentionResult, attend, build_mask


def cross_attention(x, memory, wq=None, wk=None, wv=None, *, scale: bool = True, key_padding=None) -> AttentionResult:
    """softmax(Q·Kᵀ/√d_k)·V with Q = X·W_Q from the decoder and K = M·W_K, V = M·W_V from the encoder.

    Missing projections are the identity. ``key_padding`` (one 1 = real or 0 = padding
    per source token) hides padded source tokens from every target token. No causal
    mask is ever applied: a target token may look at every source token.

    One target token [1, 1] against the source tokens [1, 0] and [0, 3] (identity
    projections): scores 1 and 3, scaled by √2 to 0.7071 and 2.1213; e^(0.7071 − 2.1213)
    = 0.2431, so the weights are 0.2431/1.2431 = 0.1956 and 1/1.2431 = 0.8044:

    >>> r = cross_attention(np.array([[1.0, 1.0]]), np.array([[1.0, 0.0], [0.0, 3.0]]))
    >>> np.round(r.weights, 4).tolist(), np.round(r.output, 4).tolist()  # 0.1956×[1, 0] + 0.8044×[0, 3]
    ([[0.1956, 0.8044]], [[0.1956, 2.4133]])
    """
    x = np.asarray(x, dtype=np.float64)
    memory = np.asarray(memory, dtype=np.float64)
    q = x if wq is None else x @ np.asarray(wq, dtype=np.float64)
    k = memory if wk is None else memory @ np.asarray(wk, dtype=np.float64)
    v = memory if wv is None else memory @ np.asarray(wv, dtype=np.float64)
    return attend(q, k, v, scale=scale, key_padding=key_padding)


class MaskPatterns(NamedTuple):
    """Who may attend to whom in the three attentions of an encoder–decoder transformer (1 = may).

    ``encoder``: encoder self-attention, n_s × n_s, every source token sees every source token;
    ``decoder``: decoder self-attention, n_t × n_t, causal (target token i sees 0..i);
    ``cross``: cross-attention, n_t × n_s, every target token sees every source token.
    Padded source tokens (``key_padding`` 0) are hidden in ``encoder`` and ``cross``.
    int8, so that the three cost one byte a cell.
    """

    encoder: np.ndarray
    decoder: np.ndarray
    cross: np.ndarray


def mask_patterns(n_target: int, n_source: int, key_padding=None) -> MaskPatterns:
    """The three masks for n_t target and n_s source tokens.

    >>> m = mask_patterns(3, 2)
    >>> m.encoder.tolist(), m.decoder.tolist(), m.cross.tolist()
    ([[1, 1], [1, 1]], [[1, 0, 0], [1, 1, 0], [1, 1, 1]], [[1, 1], [1, 1], [1, 1]])
    >>> mask_patterns(1, 2, key_padding=[1, 0]).cross.tolist()
    [[1, 0]]
    """

    def pattern(n_queries: int, n_keys: int, *, causal: bool = False, padding=None) -> np.ndarray:
        allowed = build_mask(n_queries, n_keys, causal=causal, key_padding=padding)
        if allowed is None:
            return np.ones((n_queries, n_keys), dtype=np.int8)
        return allowed.astype(np.int8)

    return MaskPatterns(
        pattern(n_source, n_source, padding=key_padding),
        pattern(n_target, n_target, causal=True),
        pattern(n_target, n_source, padding=key_padding),
    )


class MemoryEstimate(NamedTuple):
    """A generous estimate of the bytes a run needs, in three parts (``total`` is their sum).

    ``matrices``: six n_t × n_s float64 arrays (the scores, the weights, the softmax's
    working copy, the scaled scores and the exponentials when shown or exported, a spare)
    plus the three one-byte masks and the boolean padding mask; ``vectors``: X, M, Q, K, V
    and the output, four times over (copies made for display and export); ``weights``:
    W_Q, W_K and W_V, four times over.
    """

    matrices: int
    vectors: int
    weights: int

    @property
    def total(self) -> int:
        return self.matrices + self.vectors + self.weights


def estimate_bytes(n_target: int, n_source: int, d_dec: int, d_enc: int, d_k: int, d_v: int) -> MemoryEstimate:
    """The memory a run of these sizes needs, as :class:`MemoryEstimate`.

    For 3 target and 2 source tokens, all widths 2: matrices 8·6·(3·2) = 288 plus masks
    2·2 + 3·3 + 2·(3·2) = 25, so 313; vectors 8·4·(3·(2 + 2 + 2) + 2·(2 + 2 + 2)) = 32·30 = 960;
    weights 8·4·(2·2 + 2·(2 + 2)) = 32·12 = 384; in all 1657:

    >>> estimate_bytes(3, 2, 2, 2, 2, 2)
    MemoryEstimate(matrices=313, vectors=960, weights=384)
    >>> estimate_bytes(3, 2, 2, 2, 2, 2).total
    1657
    """
    rect = n_target * n_source
    masks = n_source * n_source + n_target * n_target + 2 * rect
    vectors = n_target * (d_dec + d_k + d_v) + n_source * (d_enc + d_k + d_v)
    weights = d_dec * d_k + d_enc * (d_k + d_v)
    return MemoryEstimate(8 * 6 * rect + masks, 8 * 4 * vectors, 8 * 4 * weights)
