"""A recurrent network (Elman RNN, tanh) over a sequence, and backpropagation through time.

Column-vector convention, as for a layer: ``W_xh`` is (hidden × inputs), ``W_hh`` is
(hidden × hidden), and for t = 1 … T::

    h_t = tanh(W_xh·x_t + W_hh·h_{t−1} + b),   h_0 given (0 by default)

The same weights are used at every step. Going back in time, one step's Jacobian is
``J_t = ∂h_t/∂h_{t−1} = diag(1 − h_t²)·W_hh``, and ``∂h_T/∂h_1 = J_T·J_{T−1}···J_2``.
Since tanh′ ≤ 1, ``‖J_t‖₂ ≤ σ_max(W_hh)``, so ``‖∂h_T/∂h_1‖₂ ≤ σ_max^(T−1)``.

Worked example: one input, one hidden unit, x = (1, 0), W_xh = 1, W_hh = 0.5, b = 0.
h₁ = tanh(1) = 0.761594; z₂ = 0 + 0.5×0.761594 = 0.380797, h₂ = tanh(0.380797) = 0.363399;
J₂ = (1 − 0.363399²)×0.5 = (1 − 0.132059)×0.5 = 0.43397:

>>> fw = rnn_forward([[1.0], [0.0]], [[1.0]], [[0.5]], [0.0])
>>> np.round(fw.h[:, 0], 6).tolist()
[0.761594, 0.363399]
>>> round(float(step_jacobians(fw)[0, 0, 0]), 6)
0.43397
>>> round(jacobian_norm([[1.0], [0.0]], [[1.0]], [[0.5]], [0.0], None, 2).value, 6)
0.43397
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from nntutor.core.activations import d_tanh, tanh
from nntutor.core.layer import dense

_LOG_MAX = math.log(np.finfo(np.float64).max)  # e^709.78: the largest float64


class RNNForward(NamedTuple):
    """Every stage of a forward pass, one row per time step (row t−1 holds step t).

    ``drive`` is W_xh·x_t (no bias), ``recurrent`` is W_hh·h_{t−1}; ``z`` adds them and
    b; ``h = tanh(z)``. ``h0`` is the state before the first step.
    """

    x: np.ndarray  # T × d
    wxh: np.ndarray  # H × d
    whh: np.ndarray  # H × H
    b: np.ndarray  # H
    h0: np.ndarray  # H
    drive: np.ndarray  # T × H
    recurrent: np.ndarray  # T × H
    z: np.ndarray  # T × H
    h: np.ndarray  # T × H

    def previous(self, t: int) -> np.ndarray:
        """h_{t−1} for step t (1-based): h0 for t = 1."""
        return self.h0 if t == 1 else self.h[t - 2]


def rnn_forward(x, wxh, whh, b, h0=None) -> RNNForward:
    """h_t = tanh(W_xh·x_t + W_hh·h_{t−1} + b) for every row x_t of ``x`` (T × d).

    W_xh·x_t for every step at once is a dense layer without activation (one example
    per row); the recurrence then runs one step at a time.
    """
    x = np.asarray(x, dtype=np.float64)
    wxh = np.asarray(wxh, dtype=np.float64)
    whh = np.asarray(whh, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    hidden = wxh.shape[0]
    h0 = np.zeros(hidden) if h0 is None else np.asarray(h0, dtype=np.float64)
    if whh.shape != (hidden, hidden) or h0.shape != (hidden,):
        raise ValueError(f"W_hh must be {hidden}×{hidden} and h0 must have {hidden} entries")
    drive = dense(x, wxh, np.zeros(hidden)).products
    steps = x.shape[0]
    recurrent = np.empty((steps, hidden))
    z = np.empty((steps, hidden))
    h = np.empty((steps, hidden))
    previous = h0
    for t in range(steps):
        recurrent[t] = whh @ previous
        z[t] = drive[t] + recurrent[t] + b
        h[t] = tanh(z[t])
        previous = h[t]
    return RNNForward(x, wxh, whh, b, h0, drive, recurrent, z, h)


def tanh_slopes(fw: RNNForward) -> np.ndarray:
    """tanh′(z_t) = 1 − h_t² for every step (T × H)."""
    return d_tanh(fw.z)


def step_jacobians(fw: RNNForward) -> np.ndarray:
    """J_t = ∂h_t/∂h_{t−1} = diag(1 − h_t²)·W_hh for t = 2 … T, stacked ((T−1) × H × H).

    Row i of J_t is row i of W_hh times unit i's slope: J_t[i, j] = (1 − h_t[i]²)·W_hh[i, j].
    """
    slopes = tanh_slopes(fw)[1:]
    return slopes[:, :, None] * fw.whh[None, :, :]


def backward_products(jacobians: np.ndarray) -> np.ndarray:
    """∂h_T/∂h_t for t = 1 … T (T × H × H; the last is the identity), from the step Jacobians.

    Backwards from the end: ∂h_T/∂h_t = (∂h_T/∂h_{t+1})·J_{t+1}, so
    ∂h_T/∂h_1 = J_T·J_{T−1}···J_2 (the order matters: matrices do not commute).

    >>> J = np.array([[[2.0]], [[3.0]]])  # J_2 = 2, J_3 = 3
    >>> backward_products(J)[:, 0, 0].tolist()  # ∂h3/∂h1, ∂h3/∂h2, ∂h3/∂h3
    [6.0, 3.0, 1.0]
    """
    count, hidden = jacobians.shape[0], jacobians.shape[-1]
    out = np.empty((count + 1, hidden, hidden))
    out[count] = np.eye(hidden)
    for k in range(count - 1, -1, -1):
        out[k] = out[k + 1] @ jacobians[k]
    return out


def spectral_norm(a) -> float:
    """‖A‖₂, the largest singular value: the most A stretches any vector.

    >>> spectral_norm([[3.0, 0.0], [0.0, -4.0]])
    4.0
    """
    a = np.asarray(a, dtype=np.float64)
    return float(np.linalg.norm(a, 2)) if a.size else 0.0


def spectral_radius(a) -> float:
    """ρ(A), the largest |eigenvalue|; ‖A^k‖ grows or shrinks like ρ^k for large k (ρ ≤ σ_max).

    >>> spectral_radius([[0.0, 2.0], [0.0, 0.0]])  # σ_max is 2, but A² = 0
    0.0
    """
    return float(np.max(np.abs(np.linalg.eigvals(np.asarray(a, dtype=np.float64)))))


def scaled_to(whh, sigma: float) -> np.ndarray:
    """W_hh times σ / σ_max(W_hh): the same directions, largest singular value σ.

    >>> scaled_to([[0.5, 0.0], [0.0, 0.25]], 2.0).tolist()
    [[2.0, 0.0], [0.0, 1.0]]
    """
    whh = np.asarray(whh, dtype=np.float64)
    largest = spectral_norm(whh)
    if largest == 0:
        raise ValueError("W_hh is all zeros: it has no largest singular value to scale")
    return whh * (float(sigma) / largest)


class Norm(NamedTuple):
    """A norm that may lie beyond float64's range: ``value`` (0 or inf there) and its natural log.

    ``log`` is −inf when the norm is exactly 0 (a product that reached the zero matrix).
    """

    value: float
    log: float

    @property
    def overflows(self) -> bool:
        return math.isinf(self.value) and math.isfinite(self.log)

    @property
    def underflows(self) -> bool:
        return self.value == 0.0 and math.isfinite(self.log)

    @property
    def log10(self) -> float:
        return self.log / math.log(10.0)


def norm_from_log(log: float) -> Norm:
    """``Norm(e^log, log)``, with e^log taken as inf or 0 outside float64's range.

    >>> round(norm_from_log(math.log(8.0)).value, 12), norm_from_log(2000.0).value, norm_from_log(-2000.0).value
    (8.0, inf, 0.0)
    """
    if log > _LOG_MAX:
        return Norm(math.inf, log)
    return Norm(math.exp(log), log)


def bound(sigma: float, factors: int) -> Norm:
    """σ^factors, the upper bound on ‖∂h_T/∂h_1‖₂ for factors = T − 1.

    >>> round(bound(0.5, 9).value, 8)
    0.00195312
    """
    if sigma <= 0:
        return Norm(0.0 if factors else 1.0, -math.inf if factors else 0.0)
    return norm_from_log(factors * math.log(sigma))


class _Running:
    """A product of matrices kept as (P / s, log s), so it never overflows or underflows."""

    def __init__(self, hidden: int) -> None:
        self.p = np.eye(hidden)
        self.log = 0.0

    def times(self, left: np.ndarray) -> None:
        """P ← left·P."""
        if self.log == -math.inf:
            return
        self.p = left @ self.p
        self._rescale()

    def squared(self) -> None:
        """P ← P·P."""
        if self.log == -math.inf:
            return
        self.p = self.p @ self.p
        self.log *= 2.0
        self._rescale()

    def times_running(self, other: _Running) -> None:
        """P ← other·P."""
        if self.log == -math.inf or other.log == -math.inf:
            self.log = -math.inf
            return
        self.p = other.p @ self.p
        self.log += other.log
        self._rescale()

    def _rescale(self) -> None:
        largest = float(np.max(np.abs(self.p)))
        if largest == 0.0:
            self.log = -math.inf
            return
        self.p = self.p / largest
        self.log += math.log(largest)

    def norm(self) -> Norm:
        if self.log == -math.inf:
            return Norm(0.0, -math.inf)
        inner = spectral_norm(self.p)
        if inner == 0.0:
            return Norm(0.0, -math.inf)
        return norm_from_log(self.log + math.log(inner))


def repeated(x, steps: int) -> np.ndarray:
    """The rows of ``x`` repeated in order until there are ``steps`` of them (x₅ = x₁ for 4 rows).

    >>> repeated([[1.0], [2.0]], 5)[:, 0].tolist()
    [1.0, 2.0, 1.0, 2.0, 1.0]
    """
    x = np.asarray(x, dtype=np.float64)
    return x[np.arange(steps) % x.shape[0]]


def jacobian_norm(x, wxh, whh, b, h0, steps: int) -> Norm:
    """‖∂h_T/∂h_1‖₂ for T = ``steps``, the network run on the rows of ``x`` repeated to T steps.

    J_T···J_2 is accumulated step by step as the states are computed (no T × H × H array),
    rescaled at each step so that values like 1e-400 keep their logarithm.
    """
    x = np.asarray(x, dtype=np.float64)
    wxh = np.asarray(wxh, dtype=np.float64)
    whh = np.asarray(whh, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    hidden = whh.shape[0]
    drive = dense(x, wxh, b).z  # W_xh·x_t + b, for one pass through x
    h = np.zeros(hidden) if h0 is None else np.asarray(h0, dtype=np.float64)
    product = _Running(hidden)
    for t in range(steps):
        h = tanh(drive[t % x.shape[0]] + whh @ h)
        if t >= 1:
            product.times((1.0 - h * h)[:, None] * whh)
    return product.norm()


def power_norm(whh, power: int) -> Norm:
    """‖W_hh^power‖₂, by repeated squaring (what ∂h_T/∂h_1 would be if every tanh′ were 1).

    >>> round(power_norm([[0.5, 1.0], [0.0, 0.5]], 3).value, 6)  # ‖[[0.125, 0.75], [0, 0.125]]‖₂
    0.770285
    """
    whh = np.asarray(whh, dtype=np.float64)
    result = _Running(whh.shape[0])
    base = _Running(whh.shape[0])
    base.times(whh)
    while power > 0:
        if power & 1:
            result.times_running(base)
        power >>= 1
        if power:
            base.squared()
    return result.norm()


class NormRow(NamedTuple):
    """One W_hh and one sequence length T: the norms that say whether gradients vanish or explode."""

    label: str  # "as given" or "scaled"
    whh: np.ndarray
    sigma: float  # σ_max of this W_hh (for a scaled one, the σ asked for: equal up to rounding)
    steps: int  # T
    actual: Norm  # ‖∂h_T/∂h_1‖₂ of the tanh network
    linear: Norm  # ‖W_hh^(T−1)‖₂: every tanh′ taken as 1
    ceiling: Norm  # σ_max^(T−1)


def gradient_norms(x, wxh, whh, b, h0, lengths: Sequence[int], sigmas: Sequence[float]) -> list[NormRow]:
    """For W_hh as given and scaled to each σ in ``sigmas``, and each T in ``lengths``: a :class:`NormRow`.

    The sequence is the rows of ``x`` repeated to T steps; W_xh, b and h0 stay as given.
    """
    whh = np.asarray(whh, dtype=np.float64)
    variants = [("as given", whh, spectral_norm(whh))] + [("scaled", scaled_to(whh, s), float(s)) for s in sigmas]
    rows = []
    for label, w, sigma in variants:
        for steps in lengths:
            rows.append(
                NormRow(
                    label, w, sigma, int(steps),
                    jacobian_norm(x, wxh, w, b, h0, int(steps)),
                    power_norm(w, int(steps) - 1),
                    bound(sigma, int(steps) - 1),
                )
            )
    return rows


def work_estimate(steps: int, inputs: int, hidden: int, lengths: Sequence[int], variants: int) -> tuple[int, int]:
    """(multiply-adds, steps of the Python loop) a lesson run needs, for refusing big runs up front.

    The sequence itself: T steps of W_xh·x_t and W_hh·h, and T − 1 products of H × H
    matrices going back; each table row: its T steps plus one H × H product per step.
    """
    square = hidden * hidden
    cube = square * hidden
    main = steps * (inputs * hidden + square) + (steps - 1) * cube
    table = variants * sum(length * (inputs * hidden + square + cube) + 2 * max(length, 2).bit_length() * cube for length in lengths)
    loop = 2 * steps + variants * sum(lengths)
    return main + table, loop
