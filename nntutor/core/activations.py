"""Activation functions and their derivatives, element-wise on NumPy arrays.

>>> round(float(sigmoid(0.15)), 4)
0.5374
>>> round(float(gelu(1.0)), 10)
0.8413447461
>>> relu(np.array([-1.0, 0.0, 2.0])).tolist()
[0.0, 0.0, 2.0]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

_erf = np.vectorize(math.erf, otypes=[np.float64])
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def identity(z):
    """f(z) = z."""
    return np.asarray(z, dtype=np.float64) * 1.0


def relu(z):
    """f(z) = max(0, z)."""
    return np.maximum(np.asarray(z, dtype=np.float64), 0.0)


def leaky_relu(z, alpha: float = 0.01):
    """f(z) = z for z > 0, alpha·z otherwise."""
    z = np.asarray(z, dtype=np.float64)
    return np.where(z > 0, z, alpha * z)


def sigmoid(z):
    """f(z) = 1 / (1 + e^(−z)), computed without overflow for large |z|."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    ez = np.exp(z[~positive])
    out[~positive] = ez / (1.0 + ez)
    return out if out.ndim else out[()]


def tanh(z):
    """f(z) = (e^z − e^−z) / (e^z + e^−z)."""
    return np.tanh(np.asarray(z, dtype=np.float64))


def erf(z):
    """The error function, element-wise (math.erf; exact to double precision)."""
    z = np.asarray(z, dtype=np.float64)
    return _erf(z) if z.ndim else np.float64(math.erf(float(z)))


def gelu(z):
    """GELU, exact form: f(z) = z·Φ(z) = ½·z·(1 + erf(z/√2))."""
    z = np.asarray(z, dtype=np.float64)
    return 0.5 * z * (1.0 + erf(z / math.sqrt(2.0)))


def gelu_tanh(z):
    """GELU, tanh approximation: ½·z·(1 + tanh(√(2/π)·(z + 0.044715·z³)))."""
    z = np.asarray(z, dtype=np.float64)
    return 0.5 * z * (1.0 + np.tanh(_SQRT_2_OVER_PI * (z + 0.044715 * z**3)))


def d_identity(z):
    return np.ones_like(np.asarray(z, dtype=np.float64))


def d_relu(z):
    """1 for z > 0, else 0 (0 at z = 0, the convention PyTorch uses)."""
    return (np.asarray(z, dtype=np.float64) > 0).astype(np.float64)


def d_leaky_relu(z, alpha: float = 0.01):
    """1 for z > 0, else alpha (alpha at z = 0, as PyTorch)."""
    return np.where(np.asarray(z, dtype=np.float64) > 0, 1.0, alpha)


def d_sigmoid(z):
    """σ(z)·(1 − σ(z))."""
    s = sigmoid(z)
    return s * (1.0 - s)


def d_tanh(z):
    """1 − tanh²(z)."""
    t = tanh(z)
    return 1.0 - t * t


def d_gelu(z):
    """Φ(z) + z·φ(z), with φ the standard normal density."""
    z = np.asarray(z, dtype=np.float64)
    cdf = 0.5 * (1.0 + erf(z / math.sqrt(2.0)))
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return cdf + z * pdf


def d_gelu_tanh(z):
    """Derivative of the tanh approximation of GELU."""
    z = np.asarray(z, dtype=np.float64)
    inner = _SQRT_2_OVER_PI * (z + 0.044715 * z**3)
    t = np.tanh(inner)
    return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * z * z)


ACTIVATIONS: dict[str, Callable] = {
    "relu": relu,
    "leaky-relu": leaky_relu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "gelu": gelu,
    "gelu-tanh": gelu_tanh,
    "identity": identity,
}

DERIVATIVES: dict[str, Callable] = {
    "relu": d_relu,
    "leaky-relu": d_leaky_relu,
    "sigmoid": d_sigmoid,
    "tanh": d_tanh,
    "gelu": d_gelu,
    "gelu-tanh": d_gelu_tanh,
    "identity": d_identity,
}


def activate(name: str, z, *, alpha: float = 0.01):
    """Apply the activation called ``name`` (``leaky-relu`` takes ``alpha``)."""
    if name == "leaky-relu":
        return leaky_relu(z, alpha)
    return ACTIVATIONS[name](z)


def derivative(name: str, z, *, alpha: float = 0.01):
    """f'(z) for the activation called ``name``."""
    if name == "leaky-relu":
        return d_leaky_relu(z, alpha)
    return DERIVATIVES[name](z)


class ActivationTable(NamedTuple):
    """f(z) and f'(z) of several activations at the same points.

    >>> t = tabulate(("relu", "sigmoid"), [-1.0, 0.0, 1.0])
    >>> t.values["relu"].tolist(), t.derivatives["relu"].tolist()
    ([0.0, 0.0, 1.0], [0.0, 0.0, 1.0])
    >>> np.round(t.derivatives["sigmoid"], 4).tolist()
    [0.1966, 0.25, 0.1966]
    """

    points: np.ndarray
    alpha: float
    values: dict[str, np.ndarray]
    derivatives: dict[str, np.ndarray]


def tabulate(names, points, *, alpha: float = 0.01) -> ActivationTable:
    """Every named activation and its derivative evaluated at ``points``."""
    z = np.asarray(points, dtype=np.float64)
    values = {name: np.asarray(activate(name, z, alpha=alpha), dtype=np.float64) for name in names}
    derivatives = {name: np.asarray(derivative(name, z, alpha=alpha), dtype=np.float64) for name in names}
    return ActivationTable(z, float(alpha), values, derivatives)


def curves(names, low: float = -4.0, high: float = 4.0, points: int = 161, *, alpha: float = 0.01):
    """f and f' of each named activation on an even grid: (grid, {name: f}, {name: f'}).

    >>> grid, f, df = curves(["relu"], -1.0, 1.0, 3)
    >>> grid.tolist(), f["relu"].tolist(), df["relu"].tolist()
    ([-1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0])
    """
    grid = np.linspace(low, high, points)
    values = {name: activate(name, grid, alpha=alpha) for name in names}
    slopes = {name: derivative(name, grid, alpha=alpha) for name in names}
    return grid, values, slopes
