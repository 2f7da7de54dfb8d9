"""One neuron: a weighted sum plus a bias, then an activation.

>>> s = weighted_sum(np.array([1.5, 2.0, -0.5]), np.array([0.5, -1.0, 0.3]), 0.5)
>>> s.products.tolist(), round(s.z, 10)
([0.75, -2.0, -0.15], -0.9)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class WeightedSum(NamedTuple):
    """z = w·x + b, with each product and the running sum kept."""

    x: np.ndarray
    w: np.ndarray
    b: float
    products: np.ndarray  # wᵢ·xᵢ
    running: np.ndarray  # partial sums of the products
    dot: float  # w·x
    z: float  # w·x + b


def weighted_sum(x, w, b: float) -> WeightedSum:
    """w·x + b, term by term."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    products = w * x
    running = np.cumsum(products)
    dot = float(running[-1]) if running.size else 0.0
    return WeightedSum(x, w, float(b), products, running, dot, dot + float(b))
