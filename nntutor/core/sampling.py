"""Choosing the next token: unembed, temperature, top-k, top-p, then draw.

The final hidden vector h (a row, length d) times the unembedding matrix W_U
(d × V) gives one logit per vocabulary entry. Softmax at temperature T turns the
logits into probabilities; top-k and top-p (nucleus) filtering keep only the
most probable tokens and renormalise; a uniform number u in [0, 1) is then
located on the cumulative distribution of what is left (inverse-CDF sampling),
or the most probable token is taken (greedy decoding).

Orders and ties are fixed so every run is reproducible: tokens are ranked by
probability, highest first, and equal probabilities keep vocabulary order
(lower index first).

- top-k keeps exactly the k highest-ranked tokens. (Hugging Face
  ``TopKLogitsWarper`` also keeps any token *tied* with the k-th one; we do
  not, so "k" always means k tokens.)
- top-p keeps the smallest prefix of the ranking whose cumulative probability
  reaches p (≥ p): a token is kept when the probability ranked above it sums
  to less than p. This is the set Hugging Face ``TopPLogitsWarper`` keeps (it
  computes the same cut as "remove where the ascending cumulative sum ≤ 1 − p",
  which can differ from ours only through rounding at an exact boundary).
  p = 1 keeps every token. The top token is always kept.
- Filters apply in the order temperature → top-k → top-p, as in Hugging Face
  ``generate``: top-p sees the probabilities renormalised after top-k.

>>> s = sample_next([1.0, 0.0], [[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]], top_p=0.8, u=0.7)
>>> np.round(s.softmax.probs, 4).tolist()
[0.6652, 0.2447, 0.09]
>>> s.top_p.count, np.round(s.filtered_probs, 4).tolist(), s.draw.token
(2, [0.7311, 0.2689, 0.0], 0)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nntutor.core.softmax import SoftmaxSteps, temperature_softmax


class Filter(NamedTuple):
    """One filtering stage (top-k or top-p) over a probability vector.

    ``order`` ranks all V tokens (highest probability first); ``sorted_probs``
    and ``cumulative`` follow that ranking; ``count`` tokens (a prefix of the
    ranking) are kept; ``probs`` is the input and ``renormalised`` the output
    (removed tokens 0, the rest divided by ``kept_mass``).
    """

    kind: str  # "top-k" or "top-p"
    parameter: float | int | None  # k or p; None when the filter is off
    probs: np.ndarray
    order: np.ndarray
    sorted_probs: np.ndarray
    cumulative: np.ndarray
    count: int
    kept: np.ndarray  # bool per vocabulary entry
    kept_mass: float
    renormalised: np.ndarray

    @property
    def active(self) -> bool:
        return self.parameter is not None


class Draw(NamedTuple):
    """Where the draw lands: ``u`` on the cumulative distribution of kept tokens.

    ``order`` lists the kept tokens by rank; ``lower``/``upper`` are each one's
    interval [lower, upper) on the cumulative axis; ``position`` is the rank the
    draw picked and ``token`` its vocabulary index. Greedy draws have no ``u``.
    """

    greedy: bool
    u: float | None
    order: np.ndarray
    probs: np.ndarray  # kept probabilities in rank order
    lower: np.ndarray
    upper: np.ndarray
    position: int
    token: int


class Sampling(NamedTuple):
    """Every stage from the hidden vector to the chosen token."""

    h: np.ndarray | None  # None when the logits were given (:func:`sample_logits`)
    W_U: np.ndarray | None
    logits: np.ndarray
    softmax: SoftmaxSteps
    overflow: bool  # logits/T overflowed float64: the T → 0 limit was used
    top_k: Filter
    top_p: Filter
    kept: np.ndarray  # bool per vocabulary entry: survived both filters
    kept_mass: float  # Σ softmax probabilities of the kept tokens
    filtered_probs: np.ndarray
    draw: Draw


def rank(probs) -> np.ndarray:
    """Token indices by probability, highest first; ties keep vocabulary order.

    >>> rank([0.2, 0.5, 0.2, 0.1]).tolist()
    [1, 0, 2, 3]
    """
    p = np.asarray(probs, dtype=np.float64)
    return np.argsort(-p, kind="stable")


def unembed(h, W_U) -> np.ndarray:
    """logits = h·W_U: one logit per vocabulary entry.

    >>> unembed([1.0, 2.0], [[1.0, 0.0, -1.0], [0.5, 1.0, 0.0]]).tolist()
    [2.0, 2.0, -1.0]
    """
    return np.asarray(h, dtype=np.float64) @ np.asarray(W_U, dtype=np.float64)


def _filter(kind: str, parameter, probs: np.ndarray, count: int) -> Filter:
    order = rank(probs)
    sorted_probs = probs[order]
    cumulative = np.cumsum(sorted_probs)
    kept = np.zeros(probs.size, dtype=bool)
    kept[order[:count]] = True
    kept_mass = float(np.sum(probs[kept]))
    renormalised = np.where(kept, probs, 0.0) / kept_mass
    return Filter(kind, parameter, probs, order, sorted_probs, cumulative, count, kept, kept_mass, renormalised)


def top_k_filter(probs, k: int | None) -> Filter:
    """Keep the k most probable tokens (all of them when k is None).

    >>> f = top_k_filter([0.1, 0.6, 0.3], 2)
    >>> f.kept.tolist(), np.round(f.renormalised, 4).tolist()
    ([False, True, True], [0.0, 0.6667, 0.3333])
    """
    p = np.asarray(probs, dtype=np.float64)
    if k is not None and not 1 <= k <= p.size:
        raise ValueError(f"top-k must be between 1 and {p.size}")
    return _filter("top-k", k, p, p.size if k is None else int(k))


def top_p_count(sorted_probs, p: float) -> int:
    """How many of the ranked probabilities top-p keeps: the smallest prefix reaching p.

    A token stays when the probability ranked above it sums to less than p.

    >>> top_p_count([0.5, 0.3, 0.2], 0.6)   # 0.5 < 0.6, 0.5 + 0.3 = 0.8 ≥ 0.6
    2
    >>> top_p_count([0.5, 0.25, 0.25], 0.5)  # 0.5 already reaches 0.5
    1
    """
    s = np.asarray(sorted_probs, dtype=np.float64)
    if p >= 1.0:
        return int(s.size)
    before = np.concatenate(([0.0], np.cumsum(s)[:-1]))
    return max(1, int(np.count_nonzero(before < p)))


def top_p_filter(probs, p: float | None) -> Filter:
    """Nucleus filtering: keep the smallest set of top tokens whose mass reaches p.

    >>> f = top_p_filter([0.2, 0.5, 0.3], 0.75)
    >>> f.order.tolist(), np.round(f.cumulative, 4).tolist(), f.count
    ([1, 2, 0], [0.5, 0.8, 1.0], 2)
    """
    probs = np.asarray(probs, dtype=np.float64)
    if p is not None and not 0.0 < p <= 1.0:
        raise ValueError("top-p must be in (0, 1]")
    order = rank(probs)
    count = probs.size if p is None else top_p_count(probs[order], float(p))
    return _filter("top-p", p, probs, count)


def inverse_cdf_draw(probs, u: float | None, *, greedy: bool = False) -> Draw:
    """Pick a token: the first ranked token whose cumulative probability exceeds u.

    Each kept token owns the interval [lower, upper) of the cumulative axis, of
    width its probability; u lands in exactly one. ``greedy`` takes the top one.

    >>> d = inverse_cdf_draw([0.2, 0.5, 0.3], 0.6)
    >>> d.order.tolist(), np.round(d.upper, 4).tolist(), d.token
    ([1, 2, 0], [0.5, 0.8, 1.0], 2)
    """
    p = np.asarray(probs, dtype=np.float64)
    order = rank(p)
    order = order[p[order] > 0]
    ranked = p[order]
    upper = np.cumsum(ranked)
    lower = np.concatenate(([0.0], upper[:-1]))
    if greedy:
        position = 0
    else:
        if u is None or not 0.0 <= u < 1.0:
            raise ValueError("u must be in [0, 1)")
        position = int(np.searchsorted(upper, u, side="right"))
        position = min(position, order.size - 1)  # u beyond a total rounded below 1
    return Draw(greedy, None if greedy else float(u), order, ranked, lower, upper, position, int(order[position]))


def unembed_rows(h, rows, block: int = 4096) -> np.ndarray:
    """logits = h·W_U for W_U stored as its transpose, one row per token (V × d, as GGUF
    files store the output matrix and the embedding), in float64, a block of rows at a
    time: a float64 copy of a 49,152 × 576 matrix would cost 226 MB.

    >>> unembed_rows([1.0, 2.0], np.array([[1.0, 0.5], [0.0, 1.0], [-1.0, 0.0]], dtype=np.float32), block=2).tolist()
    [2.0, 2.0, -1.0]
    """
    h = np.asarray(h, dtype=np.float64)
    out = np.empty(len(rows), dtype=np.float64)
    for start in range(0, len(rows), block):
        out[start:start + block] = np.asarray(rows[start:start + block], dtype=np.float64) @ h
    return out


def sample_next(
    h,
    W_U,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    u: float | None = None,
    greedy: bool = False,
) -> Sampling:
    """The whole path from a hidden vector to the next token.

    >>> s = sample_next([1.0, 0.0], [[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]], greedy=True)
    >>> s.logits.tolist(), s.draw.token
    ([2.0, 1.0, 0.0], 0)
    """
    h = np.asarray(h, dtype=np.float64)
    W_U = np.asarray(W_U, dtype=np.float64)
    return sample_logits(unembed(h, W_U), temperature=temperature, top_k=top_k, top_p=top_p, u=u,
                         greedy=greedy, h=h, W_U=W_U)


def sample_logits(
    logits,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    u: float | None = None,
    greedy: bool = False,
    h=None,
    W_U=None,
) -> Sampling:
    """From logits already computed to the next token (``h`` and ``W_U`` are kept as given, if at all).

    >>> s = sample_logits([2.0, 1.0, 0.0], top_p=0.8, u=0.7)
    >>> s.top_p.count, s.draw.token, s.W_U is None
    (2, 0, True)
    """
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    logits = np.asarray(logits, dtype=np.float64)
    steps, overflow = temperature_softmax(logits, temperature)
    k_filter = top_k_filter(steps.probs, top_k)
    p_filter = top_p_filter(k_filter.renormalised, top_p)
    kept = k_filter.kept & p_filter.kept
    kept_mass = float(np.sum(steps.probs[kept]))
    # Equal to renormalising after each filter in turn (p·1_kept / Σ p·1_kept).
    filtered = np.where(kept, steps.probs, 0.0) / kept_mass
    draw = inverse_cdf_draw(filtered, u, greedy=greedy)
    return Sampling(h, W_U, logits, steps, overflow, k_filter, p_filter, kept, kept_mass, filtered, draw)
