"""Layer normalisation of each row (token vector) over its d features.

LN(x) = γ ⊙ (x − μ) / √(σ² + ε) + β, with μ the mean of the row and σ² its
*biased* variance (divide by d, as PyTorch's ``layer_norm`` does).

>>> r = layer_norm(np.array([1.0, 2.0, 3.0, 4.0]))
>>> float(r.mean), float(r.var)
(2.5, 1.25)
>>> np.round(r.normalized, 4).tolist()
[-1.3416, -0.4472, 0.4472, 1.3416]
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class LayerNormResult(NamedTuple):
    """Every stage of LN over the last axis; shapes follow ``x`` (a vector or rows).

    ``var`` is the biased variance used (Σ(x−μ)²/d); ``var_unbiased`` is
    Σ(x−μ)²/(d−1), kept only for comparison (``None`` when d = 1).
    """

    x: np.ndarray
    mean: np.ndarray
    deviations: np.ndarray
    squared: np.ndarray
    var: np.ndarray
    var_unbiased: np.ndarray | None
    eps: float
    std: np.ndarray  # √(var + eps)
    normalized: np.ndarray
    normalized_unbiased: np.ndarray | None  # what dividing by √(var_unbiased + eps) would give
    gamma: np.ndarray
    beta: np.ndarray
    y: np.ndarray

    @property
    def width(self) -> int:
        return self.x.shape[-1]


def layer_norm(x, gamma=None, beta=None, eps: float = 1e-5) -> LayerNormResult:
    """Normalise ``x`` over its last axis, then scale by γ and shift by β.

    Missing γ is all ones and missing β all zeros (LN's starting values).
    """
    x = np.asarray(x, dtype=np.float64)
    d = x.shape[-1]
    gamma = np.ones(d) if gamma is None else np.asarray(gamma, dtype=np.float64)
    beta = np.zeros(d) if beta is None else np.asarray(beta, dtype=np.float64)
    mean = x.mean(axis=-1)
    deviations = x - mean[..., None]
    squared = deviations * deviations
    total = squared.sum(axis=-1)
    var = total / d
    var_unbiased = total / (d - 1) if d > 1 else None
    std = np.sqrt(var + eps)
    normalized = deviations / std[..., None]
    normalized_unbiased = None
    if var_unbiased is not None:
        normalized_unbiased = deviations / np.sqrt(var_unbiased + eps)[..., None]
    y = normalized * gamma + beta
    return LayerNormResult(
        x, mean, deviations, squared, var, var_unbiased, float(eps), std, normalized, normalized_unbiased, gamma, beta, y
    )
