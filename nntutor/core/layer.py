"""A dense layer: every neuron of the layer at once, z = W·x + b, y = f(z).

``W`` has shape (outputs × inputs): row i holds neuron i's weights. A batch is a
matrix ``X`` with one example per row; then ``Z = X·Wᵀ + b`` (the bias is added
to every row).

>>> r = dense(np.array([1.0, 0.0]), np.array([[0.1, 0.2], [0.3, 0.4]]), np.zeros(2))
>>> r.z.tolist(), r.y.tolist()
([0.1, 0.3], [0.1, 0.3])
>>> dense(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[0.1, 0.2], [0.3, 0.4]]), np.zeros(2)).z.tolist()
[[0.1, 0.3], [0.2, 0.4]]
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nntutor.core import activations


class LayerResult(NamedTuple):
    """Inputs, pre-activations and outputs of one dense layer.

    ``x`` is a vector (one example) or a matrix (a batch, one example per row);
    ``products`` holds W·x without the bias, ``z`` adds it, ``y = f(z)``.
    """

    x: np.ndarray
    w: np.ndarray
    b: np.ndarray
    activation: str
    products: np.ndarray
    z: np.ndarray
    y: np.ndarray

    @property
    def batched(self) -> bool:
        return self.x.ndim == 2


def dense(x, w, b, activation: str = "identity", *, alpha: float = 0.01) -> LayerResult:
    """y = f(W·x + b) for a vector x, or Y = f(X·Wᵀ + b) for a batch X."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if w.ndim != 2:
        raise ValueError("W must be a matrix (outputs × inputs)")
    if x.shape[-1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[-1]} inputs but W has {w.shape[1]} columns")
    if b.shape != (w.shape[0],):
        raise ValueError(f"b must have {w.shape[0]} entries, one per row of W")
    products = x @ w.T
    z = products + b
    y = np.asarray(activations.activate(activation, z, alpha=alpha), dtype=np.float64)
    return LayerResult(x, w, b, activation, products, z, y)
