"""Position encodings: the sinusoidal table of "Attention Is All You Need" and RoPE.

Sinusoidal: dimension pair ``i`` (dimensions 2i and 2i+1) turns at the
frequency ``ω_i = 1 / base^(2i/d)``; position ``pos`` sits at the angle
``pos·ω_i`` and is written as ``(sin, cos)`` of that angle.

>>> enc = sinusoidal([1], d_model=4)
>>> np.round(enc.pe, 4).tolist()          # sin 1, cos 1, sin 0.01, cos 0.01
[[0.8415, 0.5403, 0.01, 1.0]]

Rotary (Su et al. 2021): each pair of a query or key is rotated by the angle
``m·θ_i`` of its position ``m``, with ``θ_i = ω_i``. A rotated query and key
score ``q·R((n−m)θ)·k``: only the offset ``m − n`` remains.

>>> r = rope(np.array([1.0, 0.0]), np.array([1.0, 0.0]), m=1, n=0)
>>> round(r.score, 4)                     # cos(1·1 − 0·1)
0.5403
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np


class Sinusoidal(NamedTuple):
    """The table and its ingredients.

    ``angles[p, i] = positions[p] · frequencies[i]``;
    ``pe[p, 2i] = sin(angles[p, i])`` and ``pe[p, 2i+1] = cos(angles[p, i])``.
    """

    positions: np.ndarray  # (n,)
    d_model: int
    base: float
    exponents: np.ndarray  # (d/2,) 2i/d
    divisors: np.ndarray  # (d/2,) base^(2i/d)
    frequencies: np.ndarray  # (d/2,) 1 / base^(2i/d), radians per position
    wavelengths: np.ndarray  # (d/2,) 2π / frequency, positions per full turn
    angles: np.ndarray  # (n, d/2)
    pe: np.ndarray  # (n, d)


def frequencies(d_model: int, base: float = 10000.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(exponents 2i/d, divisors base^(2i/d), frequencies 1/base^(2i/d)) for each pair.

    >>> [x.tolist() for x in frequencies(4, 100.0)]
    [[0.0, 0.5], [1.0, 10.0], [1.0, 0.1]]
    """
    if d_model < 2 or d_model % 2:
        raise ValueError(f"d_model must be a positive even number, got {d_model}")
    exponents = np.arange(0, d_model, 2, dtype=np.float64) / d_model
    divisors = np.power(float(base), exponents)
    return exponents, divisors, 1.0 / divisors


def sinusoidal(positions: Sequence[float] | np.ndarray, d_model: int, base: float = 10000.0) -> Sinusoidal:
    """The sinusoidal encoding of each position (one row each)."""
    pos = np.asarray(positions, dtype=np.float64).ravel()
    exponents, divisors, freq = frequencies(d_model, base)
    angles = pos[:, None] / divisors[None, :]
    pe = np.empty((pos.size, d_model), dtype=np.float64)
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles)
    return Sinusoidal(pos, d_model, float(base), exponents, divisors, freq, 2 * np.pi / freq, angles, pe)


def add_encoding(x: np.ndarray, pe: np.ndarray) -> np.ndarray:
    """Token embeddings plus their positions' encodings, row by row (shapes must match).

    >>> add_encoding(np.array([[1.0, 1.0]]), sinusoidal([0], 2).pe).tolist()
    [[1.0, 2.0]]
    """
    x = np.asarray(x, dtype=np.float64)
    if x.shape != pe.shape:
        raise ValueError(f"x has shape {x.shape} but the encoding has {pe.shape}")
    return x + pe


def pair_similarity(pe_a: np.ndarray, pe_b: np.ndarray) -> np.ndarray:
    """Per dimension pair, the dot product of two encodings' (sin, cos) pieces.

    Each piece is a unit vector, so this is its cosine similarity, and it equals
    ``cos(ω_i·(a − b))``: sin a·sin b + cos a·cos b = cos(a − b).

    >>> enc = sinusoidal([0, 1], d_model=2)
    >>> round(float(pair_similarity(enc.pe[0], enc.pe[1])[0]), 4)   # cos(1)
    0.5403
    """
    a = np.asarray(pe_a, dtype=np.float64)
    b = np.asarray(pe_b, dtype=np.float64)
    return a[..., 0::2] * b[..., 0::2] + a[..., 1::2] * b[..., 1::2]


class Neighbours(NamedTuple):
    """How alike the first position's encoding is to each other one, pair by pair.

    ``pairs[j, i]`` compares pair i of positions ``a[j]`` and ``b[j]``
    (= cos(ω_i·(b[j] − a[j]))); ``dots[j]`` is the whole dot product and
    ``cosines[j]`` the cosine similarity of the two rows (every row has length
    √(d/2), so the cosine is the mean of the pair similarities).
    """

    a: np.ndarray  # (k,) first position of each compared pair
    b: np.ndarray  # (k,) second position
    a_pe: np.ndarray  # (k, d) encoding of a
    b_pe: np.ndarray  # (k, d) encoding of b
    pairs: np.ndarray  # (k, d/2)
    dots: np.ndarray  # (k,)
    cosines: np.ndarray  # (k,)


def neighbours(enc: Sinusoidal) -> Neighbours:
    """Compare the first listed position with every later one (with pos + 1 when only one is listed).

    >>> nb = neighbours(sinusoidal([0, 1, 2], d_model=4, base=100.0))
    >>> np.round(nb.pairs, 4).tolist()                    # cos(1), cos(0.1); cos(2), cos(0.2)
    [[0.5403, 0.995], [-0.4161, 0.9801]]
    """
    if enc.positions.size >= 2:
        b_pos, b_pe = enc.positions[1:], enc.pe[1:]
        a_pos = np.full(b_pos.size, enc.positions[0])
        a_pe = np.broadcast_to(enc.pe[0], b_pe.shape)
    else:
        extra = sinusoidal([enc.positions[0], enc.positions[0] + 1], enc.d_model, enc.base)
        a_pos, b_pos = extra.positions[:1], extra.positions[1:]
        a_pe, b_pe = extra.pe[:1], extra.pe[1:]
    pairs = pair_similarity(a_pe, b_pe)
    dots = pairs.sum(axis=1)
    norms = np.linalg.norm(a_pe, axis=1) * np.linalg.norm(b_pe, axis=1)
    return Neighbours(a_pos, b_pos, np.array(a_pe), np.array(b_pe), pairs, dots, dots / norms)


def row_lengths(pe: np.ndarray) -> np.ndarray:
    """The length ‖PE(pos)‖ of each row: √(d/2) at every position, since each pair has sin² + cos² = 1.

    >>> row_lengths(sinusoidal([0, 7, 1000], d_model=8).pe).round(12).tolist()   # √(8/2) = 2
    [2.0, 2.0, 2.0]
    """
    return np.linalg.norm(np.asarray(pe, dtype=np.float64), axis=-1)


def learned_table(context: int, d_model: int, seed: int = 0) -> np.ndarray:
    """A stand-in for a trained position table: ``context`` rows of ``d_model`` numbers, uniform in ±1, 2 decimals.

    A real table is learned by gradient descent like the token embeddings; this one is only
    drawn, so the lesson's numbers are short and reproducible.

    >>> learned_table(2, 3, seed=0).tolist()
    [[0.27, -0.46, -0.92], [-0.97, 0.63, 0.83]]
    """
    rng = np.random.default_rng(seed)
    return np.round(rng.uniform(-1.0, 1.0, size=(context, d_model)), 2) + 0.0


def scaled_lengths(x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(√d_model, ‖x_pos‖, ‖√d_model·x_pos‖) for each row of the token embeddings ``x``.

    The original transformer multiplies the embeddings by √d_model before adding the encoding.

    >>> root, before, after = scaled_lengths(np.array([[0.5, 0.5, 0.5, 0.5]]))
    >>> root, before.tolist(), after.tolist()   # √4 = 2; ‖x‖ = √(4 × 0.25) = 1; 2 × 1 = 2
    (2.0, [1.0], [2.0])
    """
    x = np.asarray(x, dtype=np.float64)
    root = float(np.sqrt(x.shape[-1]))
    return root, row_lengths(x), row_lengths(root * x)


class WrapAround(NamedTuple):
    """A farther position that looks more alike than a nearer one, and the pair that makes it so.

    ``near`` and ``far`` index the comparisons of :class:`Neighbours`; ``pair`` is
    the dimension pair whose similarity rose the most from ``near`` to ``far``;
    ``angle`` is that pair's angle ω·Δ at the far distance and ``turn_gap`` how far
    (in radians) it is from a whole number of turns; ``near_angle`` and
    ``near_gap`` the same at the near distance (a pair's similarity is the cosine
    of its gap, so the far gap is the smaller one).
    """

    near: int
    far: int
    pair: int
    angle: float
    turn_gap: float
    near_angle: float
    near_gap: float


def wrap_around(enc: Sinusoidal, nb: Neighbours) -> WrapAround | None:
    """Where the whole-row cosine does not fall with distance: the fast pairs wrapping around.

    Compared with the nearest position, the farther one with the highest cosine if it beats
    the nearest; else the nearer/farther couple whose cosine rises the most. None when the
    cosine falls steadily with distance.

    Positions 0–7 at d = 8: 0 vs 6 (0.9459) beats 0 vs 1 (0.8838), because pair 0 turns
    1 rad per position and 6 rad is 2π − 6 = 0.2832 rad short of a full turn.

    >>> w = wrap_around(enc := sinusoidal(range(8), 8), neighbours(enc))
    >>> w.near, w.far, w.pair, round(w.turn_gap, 4), w.near_gap
    (0, 5, 0, 0.2832, 1.0)
    """
    distance = np.abs(nb.b - nb.a)
    order = [int(j) for j in np.argsort(distance, kind="stable")]
    if len(order) < 2:
        return None
    near = order[0]
    farther = [j for j in order[1:] if distance[j] > distance[near]]
    best = max(farther, key=lambda j: nb.cosines[j], default=None)
    if best is not None and nb.cosines[best] > nb.cosines[near] + 1e-12:
        couple = (near, best)
    else:
        rises = [
            (nb.cosines[j] - nb.cosines[i], i, j)
            for k, i in enumerate(order)
            for j in order[k + 1 :]
            if distance[j] > distance[i] and nb.cosines[j] > nb.cosines[i] + 1e-12
        ]
        if not rises:
            return None
        _, i, j = max(rises)
        couple = (i, j)
    i, j = couple
    pair = int(np.argmax(nb.pairs[j] - nb.pairs[i]))

    def gap(angle: float) -> float:
        turns = angle % (2 * np.pi)
        return float(min(turns, 2 * np.pi - turns))

    angle, near_angle = (float(enc.frequencies[pair] * distance[m]) for m in (j, i))
    return WrapAround(i, j, pair, angle, gap(angle), near_angle, gap(near_angle))


# ----------------------------------------------------------------------------- RoPE


def rotation(angle: float) -> np.ndarray:
    """The 2×2 matrix turning a pair counter-clockwise by ``angle`` radians.

    >>> rotation(0.0).tolist()
    [[1.0, -0.0], [0.0, 1.0]]
    """
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]], dtype=np.float64)


def rotate(x: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Rotate pair i of ``x`` (x[2i], x[2i+1]) by ``angles[i]``.

    >>> np.round(rotate(np.array([1.0, 0.0]), np.array([np.pi / 2])), 4).tolist()
    [0.0, 1.0]
    """
    x = np.asarray(x, dtype=np.float64)
    even, odd = x[0::2], x[1::2]
    c, s = np.cos(angles), np.sin(angles)
    out = np.empty_like(x)
    out[0::2] = even * c - odd * s
    out[1::2] = even * s + odd * c
    return out


class Rope(NamedTuple):
    """A query at position m and a key at position n, rotated, and their score."""

    q: np.ndarray
    k: np.ndarray
    m: int
    n: int
    base: float
    frequencies: np.ndarray  # (d/2,) θ_i
    angles_q: np.ndarray  # (d/2,) m·θ_i
    angles_k: np.ndarray  # (d/2,) n·θ_i
    cos_q: np.ndarray  # (d/2,) cos m·θ_i
    sin_q: np.ndarray
    cos_k: np.ndarray  # (d/2,) cos n·θ_i
    sin_k: np.ndarray
    rotations_q: np.ndarray  # (d/2, 2, 2)
    rotations_k: np.ndarray  # (d/2, 2, 2)
    rotated_q: np.ndarray
    rotated_k: np.ndarray
    pair_scores: np.ndarray  # (d/2,) contribution of each pair to the score
    score: float  # rotated_q · rotated_k
    plain_score: float  # q · k without rotation


def rope(q: np.ndarray, k: np.ndarray, m: int, n: int, base: float = 10000.0) -> Rope:
    """Rotate q by its position m and k by its position n, then take their dot product."""
    q = np.asarray(q, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    if q.shape != k.shape or q.ndim != 1:
        raise ValueError("q and k must be vectors of the same length")
    _, _, theta = frequencies(q.size, base)
    aq, ak = m * theta, n * theta
    rq, rk = rotate(q, aq), rotate(k, ak)
    pairs = rq[0::2] * rk[0::2] + rq[1::2] * rk[1::2]
    return Rope(
        q,
        k,
        int(m),
        int(n),
        float(base),
        theta,
        aq,
        ak,
        np.cos(aq),
        np.sin(aq),
        np.cos(ak),
        np.sin(ak),
        np.array([rotation(a) for a in aq]).reshape(-1, 2, 2),
        np.array([rotation(a) for a in ak]).reshape(-1, 2, 2),
        rq,
        rk,
        pairs,
        float(np.sum(pairs)),
        float(np.dot(q, k)),
    )


class Relative(NamedTuple):
    """The score rebuilt from the offset m − n alone, pair by pair.

    ``terms[i] = aligned[i]·cos(phi[i]) + crossed[i]·sin(phi[i])`` with
    ``aligned = q₀k₀ + q₁k₁``, ``crossed = q₀k₁ − q₁k₀`` and ``phi = (m − n)·θ_i``.
    """

    offset: float
    aligned: np.ndarray
    crossed: np.ndarray
    phi: np.ndarray
    cos_phi: np.ndarray
    sin_phi: np.ndarray
    terms: np.ndarray
    score: float


def relative_score(q: np.ndarray, k: np.ndarray, offset: float, base: float = 10000.0) -> Relative:
    """Each pair's score written with the offset m − n alone.

    ``R(mθ)q · R(nθ)k = q·R((n−m)θ)k = (q₀k₀ + q₁k₁)·cos((m−n)θ) + (q₀k₁ − q₁k₀)·sin((m−n)θ)``
    for the pair (q₀, q₁), (k₀, k₁).

    >>> np.round(relative_score(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 1.0).terms, 4).tolist()
    [0.8415]
    """
    q = np.asarray(q, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    _, _, theta = frequencies(q.size, base)
    phi = offset * theta
    aligned = q[0::2] * k[0::2] + q[1::2] * k[1::2]
    crossed = q[0::2] * k[1::2] - q[1::2] * k[0::2]
    c, s = np.cos(phi), np.sin(phi)
    terms = aligned * c + crossed * s
    return Relative(float(offset), aligned, crossed, phi, c, s, terms, float(np.sum(terms)))


def relative_pair_scores(q: np.ndarray, k: np.ndarray, offset: float, base: float = 10000.0) -> np.ndarray:
    """Just the per-pair terms of :func:`relative_score`."""
    return relative_score(q, k, offset, base).terms
