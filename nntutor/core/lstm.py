"""One LSTM cell run over a sequence, and the products that carry a gradient back through it.

Column-vector convention, as for a layer: each gate's weights ``W_k`` have shape
H × (H + d) and read the column ``[hₜ₋₁, xₜ]`` (the previous output, then the new
input): its first H columns weigh h, the last d weigh x.

    fₜ = σ(W_f·[hₜ₋₁, xₜ] + b_f)        forget gate: how much of cₜ₋₁ is kept
    iₜ = σ(W_i·[hₜ₋₁, xₜ] + b_i)        input gate: how much of the candidate is written
    c̃ₜ = tanh(W_c·[hₜ₋₁, xₜ] + b_c)     candidate cell values
    oₜ = σ(W_o·[hₜ₋₁, xₜ] + b_o)        output gate: how much of the cell is shown
    cₜ = fₜ ⊙ cₜ₋₁ + iₜ ⊙ c̃ₜ
    hₜ = oₜ ⊙ tanh(cₜ)

Worked example, one unit and one input (H = d = 1), x₁ = 1, h₀ = c₀ = 0, every weight
0 except the candidate's x weight 1, every bias 0: each gate is σ(0) = 0.5,
c̃₁ = tanh(1) = 0.76159, c₁ = 0.5×0 + 0.5×0.76159 = 0.38080 and
h₁ = 0.5×tanh(0.38080) = 0.5×0.36340 = 0.18170.

>>> zero = np.zeros((1, 2))
>>> weights = Weights(zero, zero, np.array([[0.0, 1.0]]), zero, *[np.zeros(1)] * 4)
>>> fw = lstm_forward(np.array([[1.0]]), weights)
>>> round(float(fw.g[0, 0]), 5), round(float(fw.c[0, 0]), 5), round(float(fw.h[0, 0]), 5)
(0.76159, 0.3808, 0.1817)

Along the cell state alone a step multiplies by fₜ, so ∂c_T/∂c₁ = Π_{t=2..T} diag(fₜ)
(:func:`cell_path`). The gates also read hₜ₋₁, which depends on cₜ₋₁, so the whole
derivative adds the paths through h (:func:`step_jacobian`). The comparison is the
plain recurrent network hₜ = tanh(W_hh·hₜ₋₁ + W_xh·xₜ + b) (:func:`rnn_forward`),
whose ∂h_T/∂h₁ = Π diag(1 − hₜ²)·W_hh.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from nntutor.core.layer import dense

GATES = ("f", "i", "c", "o")  # the order used here; PyTorch stacks its rows as i, f, c (its "g"), o
TORCH_ORDER = ("i", "f", "c", "o")


class Weights(NamedTuple):
    """The cell's parameters: four H × (H + d) matrices (h columns first) and four biases of H."""

    wf: np.ndarray
    wi: np.ndarray
    wc: np.ndarray
    wo: np.ndarray
    bf: np.ndarray
    bi: np.ndarray
    bc: np.ndarray
    bo: np.ndarray

    @property
    def hidden(self) -> int:
        return int(self.wf.shape[0])

    @property
    def inputs(self) -> int:
        return int(self.wf.shape[1] - self.wf.shape[0])

    def matrix(self, gate: str) -> np.ndarray:
        return {"f": self.wf, "i": self.wi, "c": self.wc, "o": self.wo}[gate]

    def bias(self, gate: str) -> np.ndarray:
        return {"f": self.bf, "i": self.bi, "c": self.bc, "o": self.bo}[gate]

    def stacked(self, order: Sequence[str] = GATES) -> tuple[np.ndarray, np.ndarray]:
        """(W, b): the four gates' rows one under the other, in ``order`` (4H × (H + d), 4H).

        >>> w = Weights(*[np.full((1, 2), k) for k in (1.0, 2.0, 3.0, 4.0)], *[np.zeros(1)] * 4)
        >>> w.stacked(TORCH_ORDER)[0][:, 0].tolist()  # i, f, c, o
        [2.0, 1.0, 3.0, 4.0]
        """
        return (np.vstack([self.matrix(g) for g in order]), np.concatenate([self.bias(g) for g in order]))


class LSTMForward(NamedTuple):
    """Every value of a run, one row per time step t = 1 … T (row 0 is t = 1).

    ``concat[t]`` is [hₜ₋₁, xₜ]; ``zf … zo`` the pre-activations W_k·[hₜ₋₁, xₜ] + b_k
    (``products`` holds W_k·[hₜ₋₁, xₜ] without the bias, per gate); ``f, i, g, o`` the
    gates (``g`` is the candidate c̃); ``c`` the cell states, ``tanh_c`` = tanh(c) and
    ``h`` the outputs. ``h0`` and ``c0`` are the states before the first step.
    """

    x: np.ndarray
    h0: np.ndarray
    c0: np.ndarray
    concat: np.ndarray
    products: dict[str, np.ndarray]
    zf: np.ndarray
    zi: np.ndarray
    zc: np.ndarray
    zo: np.ndarray
    f: np.ndarray
    i: np.ndarray
    g: np.ndarray
    o: np.ndarray
    c: np.ndarray
    tanh_c: np.ndarray
    h: np.ndarray

    def previous_h(self, t: int) -> np.ndarray:
        """hₜ₋₁ for the row ``t`` (h₀ for row 0)."""
        return self.h0 if t == 0 else self.h[t - 1]

    def previous_c(self, t: int) -> np.ndarray:
        """cₜ₋₁ for the row ``t`` (c₀ for row 0)."""
        return self.c0 if t == 0 else self.c[t - 1]

    def gate(self, name: str) -> np.ndarray:
        return {"f": self.f, "i": self.i, "c": self.g, "o": self.o}[name]

    def gates(self) -> np.ndarray:
        """T × 4H: the columns f, i, c̃, o, H each (the order of :data:`GATES`)."""
        return np.hstack([self.f, self.i, self.g, self.o])


def lstm_forward(x, weights: Weights, h0=None, c0=None) -> LSTMForward:
    """Run the cell over the rows of ``x`` (T × d) from h₀ and c₀ (zeros when omitted).

    Each gate is a dense layer on [hₜ₋₁, xₜ] (:func:`nntutor.core.layer.dense`).
    """
    x = np.asarray(x, dtype=np.float64)
    hidden, d = weights.hidden, weights.inputs
    if x.ndim != 2 or x.shape[1] != d:
        raise ValueError(f"x must be T × {d} (one row per step), got shape {x.shape}")
    for gate in GATES:
        if weights.matrix(gate).shape != (hidden, hidden + d) or weights.bias(gate).shape != (hidden,):
            raise ValueError(f"gate {gate}: W must be {hidden}×{hidden + d} and b must have {hidden} entries")
    h = np.zeros(hidden) if h0 is None else np.asarray(h0, dtype=np.float64)
    c = np.zeros(hidden) if c0 is None else np.asarray(c0, dtype=np.float64)
    h_start, c_start = h.copy(), c.copy()
    steps = x.shape[0]
    concat = np.empty((steps, hidden + d))
    products = {gate: np.empty((steps, hidden)) for gate in GATES}
    z = {gate: np.empty((steps, hidden)) for gate in GATES}
    act = {gate: np.empty((steps, hidden)) for gate in GATES}
    cs, tanh_cs, hs = (np.empty((steps, hidden)) for _ in range(3))
    for t in range(steps):
        concat[t] = np.concatenate([h, x[t]])
        for gate in GATES:
            layer = dense(concat[t], weights.matrix(gate), weights.bias(gate), "tanh" if gate == "c" else "sigmoid")
            products[gate][t], z[gate][t], act[gate][t] = layer.products, layer.z, layer.y
        c = act["f"][t] * c + act["i"][t] * act["c"][t]
        cs[t] = c
        tanh_cs[t] = np.tanh(c)
        h = act["o"][t] * tanh_cs[t]
        hs[t] = h
    return LSTMForward(
        x, h_start, c_start, concat, products, z["f"], z["i"], z["c"], z["o"],
        act["f"], act["i"], act["c"], act["o"], cs, tanh_cs, hs,
    )


# --------------------------------------------------------------------------- gradients through time


def cell_path(f) -> np.ndarray:
    """∂cₜ/∂c₁ along the cell state alone: row t−2 holds Π_{s=2..t} f_s, one column per unit.

    The gates held as they are, cₜ = fₜ ⊙ cₜ₋₁ + (terms without cₜ₋₁), so each step
    multiplies by fₜ: the Jacobian is diagonal, and the product is unit by unit.

    >>> cell_path(np.array([[0.9, 0.5], [0.8, 0.5], [0.5, 0.5]])).tolist()  # f₂, f₂·f₃
    [[0.8, 0.5], [0.4, 0.25]]
    """
    f = np.asarray(f, dtype=np.float64)
    return np.cumprod(f[1:], axis=0)


def step_jacobian(fw: LSTMForward, weights: Weights, t: int) -> np.ndarray:
    """∂(hₜ, cₜ)/∂(hₜ₋₁, cₜ₋₁) at row ``t``: 2H × 2H, the state ordered (h, c).

    With A_k = W_k's h columns, σ′ = s(1 − s) and tanh′ = 1 − tanh²:

        ∂c/∂h = diag(cₜ₋₁ ⊙ f(1−f))·A_f + diag(c̃ ⊙ i(1−i))·A_i + diag(i ⊙ (1−c̃²))·A_c
        ∂c/∂c = diag(f)
        ∂h/∂h = diag(tanh cₜ ⊙ o(1−o))·A_o + diag(o ⊙ (1 − tanh² cₜ))·∂c/∂h
        ∂h/∂c = diag(o ⊙ (1 − tanh² cₜ) ⊙ f)

    >>> zero = np.zeros((1, 2))
    >>> w = Weights(zero, zero, zero, zero, *[np.zeros(1)] * 4)  # h read by no gate
    >>> fw = lstm_forward(np.zeros((2, 1)), w)
    >>> step_jacobian(fw, w, 1).tolist()  # f = 0.5; c = 0, so ∂h/∂c = o·1·f = 0.25
    [[0.0, 0.25], [0.0, 0.5]]
    """
    hidden = weights.hidden
    f, i, g, o, tc = fw.f[t], fw.i[t], fw.g[t], fw.o[t], fw.tanh_c[t]
    c_prev = fw.previous_c(t)
    a = {gate: weights.matrix(gate)[:, :hidden] for gate in GATES}
    dc_dh = (c_prev * f * (1 - f))[:, None] * a["f"] + (g * i * (1 - i))[:, None] * a["i"] + (i * (1 - g * g))[:, None] * a["c"]
    through = o * (1 - tc * tc)
    dh_dh = (tc * o * (1 - o))[:, None] * a["o"] + through[:, None] * dc_dh
    jac = np.empty((2 * hidden, 2 * hidden))
    jac[:hidden, :hidden] = dh_dh
    jac[:hidden, hidden:] = np.diag(through * f)
    jac[hidden:, :hidden] = dc_dh
    jac[hidden:, hidden:] = np.diag(f)
    return jac


class RNNForward(NamedTuple):
    """A plain recurrent network's run: ``h`` one row per step, ``h0`` the state before."""

    x: np.ndarray
    h0: np.ndarray
    h: np.ndarray


def rnn_forward(x, w, b, h0=None) -> RNNForward:
    """hₜ = tanh(W·[hₜ₋₁, xₜ] + b) = tanh(W_hh·hₜ₋₁ + W_xh·xₜ + b) with W = [W_hh | W_xh] (H × (H + d)).

    The LSTM's candidate c̃ is exactly this layer, so its weights make the comparison network.

    >>> rnn_forward(np.array([[1.0], [0.0]]), np.array([[0.0, 1.0]]), np.zeros(1)).h.round(4).tolist()
    [[0.7616], [0.0]]
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    hidden = w.shape[0]
    h = np.zeros(hidden) if h0 is None else np.asarray(h0, dtype=np.float64)
    start = h.copy()
    hs = np.empty((x.shape[0], hidden))
    for t in range(x.shape[0]):
        h = dense(np.concatenate([h, x[t]]), w, b, "tanh").y
        hs[t] = h
    return RNNForward(x, start, hs)


def rnn_jacobian(rnn: RNNForward, w_hh, t: int) -> np.ndarray:
    """∂hₜ/∂hₜ₋₁ = diag(1 − hₜ²)·W_hh at row ``t``: row i of W_hh times unit i's tanh slope.

    >>> rnn_jacobian(RNNForward(None, None, np.array([[0.5, 0.0]])), np.array([[1.0, 2.0], [3.0, 4.0]]), 0).tolist()
    [[0.75, 1.5], [3.0, 4.0]]
    """
    h = rnn.h[t]
    return (1.0 - h * h)[:, None] * np.asarray(w_hh, dtype=np.float64)


def spectral_norm(a) -> float:
    """The largest singular value ‖A‖₂ (for a diagonal matrix: its largest |entry|).

    >>> spectral_norm([[3.0, 0.0], [0.0, -4.0]])
    4.0
    """
    a = np.asarray(a, dtype=np.float64)
    return float(np.linalg.norm(a, 2)) if a.size else 0.0


class Norm(NamedTuple):
    """A norm that may lie beyond float64's range: ``value`` (0 or inf out there) and its log10.

    >>> Norm.of(3.0, math.log(10.0) * -400).value, round(Norm.of(3.0, math.log(10.0) * -400).log10, 4)
    (0.0, -399.5229)
    """

    value: float
    log10: float

    @classmethod
    def of(cls, norm: float, log_scale: float) -> Norm:
        """The norm of a product kept as (matrix of norm ``norm``) × e^``log_scale``."""
        if norm == 0.0 or log_scale == -math.inf:
            return cls(0.0, -math.inf)
        log10 = (math.log(norm) + log_scale) / math.log(10.0)
        value = 10.0**log10 if log10 < 308 else math.inf
        return cls(value, log10)

    @property
    def out_of_range(self) -> bool:
        return (self.value == 0.0 and self.log10 != -math.inf) or math.isinf(self.value)


class RunningProduct:
    """J_t ⋯ J_2, one factor at a time from the left, rescaled so it never under- or overflows.

    >>> p = RunningProduct(1)
    >>> for _ in range(1000):
    ...     p.times(np.array([[0.1]]))
    >>> round(p.norm(slice(None), slice(None)).log10, 6)
    -1000.0
    """

    def __init__(self, size: int) -> None:
        self.p = np.eye(size)
        self.log = 0.0

    def times(self, left: np.ndarray) -> None:
        self.p = left @ self.p
        scale = float(np.max(np.abs(self.p))) if self.p.size else 0.0
        if scale == 0.0 or not math.isfinite(scale):
            self.log = -math.inf if scale == 0.0 else self.log
            return
        self.p /= scale
        self.log += math.log(scale)

    def norm(self, rows: slice, cols: slice) -> Norm:
        return Norm.of(spectral_norm(self.p[rows, cols]), self.log)


def repeated(x, steps: int) -> np.ndarray:
    """The sequence repeated (and cut) to ``steps`` rows: row t is x[t mod T].

    >>> repeated(np.array([[1.0], [2.0]]), 5)[:, 0].tolist()
    [1.0, 2.0, 1.0, 2.0, 1.0]
    """
    x = np.asarray(x, dtype=np.float64)
    return x[np.arange(int(steps)) % x.shape[0]]


class Horizon(NamedTuple):
    """The three norms at one sequence length T (from step 1 to step T)."""

    steps: int
    cell_path: Norm  # ‖Π_{t=2..T} diag(fₜ)‖₂ = the largest unit's product
    all_paths: Norm  # ‖∂c_T/∂c₁‖₂ through every path (the h paths too)
    rnn: Norm  # ‖∂h_T/∂h₁‖₂ of the RNN with the candidate's weights


def horizons(x, weights: Weights, lengths: Iterable[int], h0=None, c0=None) -> list[Horizon]:
    """The sequence repeated to each length T (:func:`repeated`) and the three norms at T.

    One run to the longest length; each shorter one is read off on the way. The cell
    path's product is summed in logarithms, so it never underflows.
    """
    wanted = sorted({int(n) for n in lengths})
    fw, full, plain = _norms(repeated(x, wanted[-1]), weights, h0, c0, wanted)
    with np.errstate(divide="ignore"):  # a gate of exactly 0 is a product of exactly 0: log −inf
        log_f = np.cumsum(np.log(fw.f[1:]), axis=0)
    rows = {
        steps: Horizon(steps, Norm.of(1.0, float(np.max(log_f[steps - 2]))), full[k], plain[k])
        for k, steps in enumerate(wanted)
    }
    return [rows[int(n)] for n in lengths]


def _norms(x, weights: Weights, h0, c0, record: Iterable[int]) -> tuple[LSTMForward, list[Norm], list[Norm]]:
    """The run, and the all-path ∂c_T/∂c₁ and RNN ∂h_T/∂h₁ norms at each T in ``record`` (sorted)."""
    x = np.asarray(x, dtype=np.float64)
    hidden = weights.hidden
    wanted = {int(n) for n in record}
    fw = lstm_forward(x, weights, h0, c0)
    rnn = rnn_forward(x, weights.wc, weights.bc, h0)
    w_hh = weights.wc[:, :hidden]
    lstm_product, rnn_product = RunningProduct(2 * hidden), RunningProduct(hidden)
    full, plain = [], []
    for t in range(1, x.shape[0]):  # row t is step t + 1: the factor ∂(state t+1)/∂(state t)
        lstm_product.times(step_jacobian(fw, weights, t))
        rnn_product.times(rnn_jacobian(rnn, w_hh, t))
        if t + 1 in wanted:
            full.append(lstm_product.norm(slice(hidden, None), slice(hidden, None)))
            plain.append(rnn_product.norm(slice(None), slice(None)))
    return fw, full, plain
