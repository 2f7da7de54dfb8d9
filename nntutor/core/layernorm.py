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


# --------------------------------------------------------------------------- backward
#
# Given ∂L/∂y (``dy``, the shape of y), every gradient below has the shape of what
# it is the gradient of: ∂L/∂x the shape of x, ∂L/∂γ and ∂L/∂β one number per
# feature (summed over every row), ∂L/∂σ² and ∂L/∂μ one number per row.
#
# There is no mask argument: rows never interact in layer norm, so a padded row
# whose upstream gradient is 0 gets ∂L/∂x = 0 and adds nothing to ∂L/∂γ or ∂L/∂β.


class LayerNormGrads(NamedTuple):
    """∂L/∂x (the shape of x), ∂L/∂γ and ∂L/∂β (d numbers each, summed over rows)."""

    dx: np.ndarray
    dgamma: np.ndarray
    dbeta: np.ndarray


class LayerNormPaths(NamedTuple):
    """∂L/∂x split into the three ways x reaches x̂ = (x − μ)/σ_ε (shapes follow ``x``).

    ``direct`` holds μ and σ² fixed; ``via_var`` goes through σ², ``via_mean`` through μ;
    ``dx`` is their sum. ``dvar`` (∂L/∂σ²) and ``dmean`` (∂L/∂μ) have one number per row.
    """

    dxhat: np.ndarray  # ∂L/∂x̂ = γ ⊙ ∂L/∂y
    dvar: np.ndarray  # ∂L/∂σ² = −½ (σ² + ε)^(−3/2) Σᵢ ∂L/∂x̂ᵢ (xᵢ − μ)
    dmean: np.ndarray  # ∂L/∂μ = −Σᵢ ∂L/∂x̂ᵢ / σ_ε + ∂L/∂σ² · (−2/d) Σᵢ (xᵢ − μ)
    direct: np.ndarray  # ∂L/∂x̂ / σ_ε
    via_var: np.ndarray  # ∂L/∂σ² · 2(x − μ)/d
    via_mean: np.ndarray  # ∂L/∂μ / d
    dx: np.ndarray  # direct + via_var + via_mean


def _checked_dy(r: LayerNormResult, dy) -> np.ndarray:
    dy = np.asarray(dy, dtype=np.float64)
    if dy.shape != r.x.shape:
        raise ValueError(f"dy has shape {dy.shape}; it must have the shape of y, {r.x.shape}")
    return dy


def _per_feature(a: np.ndarray) -> np.ndarray:
    """Sum over every leading axis (the rows): d numbers."""
    return a.reshape(-1, a.shape[-1]).sum(axis=0)


def layer_norm_backward(r: LayerNormResult, dy) -> LayerNormGrads:
    """Gradients of a loss L through layer norm, given the forward result ``r`` and ∂L/∂y.

    The compact form, one pass per row (what a training loop uses):
    ∂L/∂x = (1/σ_ε)·(∂L/∂x̂ − mean(∂L/∂x̂) − x̂·mean(∂L/∂x̂ ⊙ x̂)), with ∂L/∂x̂ = γ ⊙ ∂L/∂y;
    ∂L/∂γ = Σ_rows ∂L/∂y ⊙ x̂ and ∂L/∂β = Σ_rows ∂L/∂y.

    Worked example: x = [0, 2] (μ = 1, σ² = 1), ε = 0 so σ_ε = 1 and x̂ = [−1, 1];
    γ = 1, ∂L/∂y = [1, 0]: mean(∂L/∂x̂) = 0.5, mean(∂L/∂x̂ ⊙ x̂) = −0.5, so
    ∂L/∂x = [1 − 0.5 − (−1)(−0.5), 0 − 0.5 − 1·(−0.5)] = [0, 0]: moving both inputs
    together, or spreading them apart, leaves x̂ as it is.

    >>> r = layer_norm(np.array([0.0, 2.0]), eps=0.0)
    >>> g = layer_norm_backward(r, np.array([1.0, 0.0]))
    >>> g.dx.tolist(), g.dgamma.tolist(), g.dbeta.tolist()
    ([0.0, 0.0], [-1.0, 0.0], [1.0, 0.0])
    """
    dy = _checked_dy(r, dy)
    dxhat = dy * r.gamma
    xhat = r.normalized
    mean_dxhat = dxhat.mean(axis=-1, keepdims=True)
    mean_dxhat_xhat = (dxhat * xhat).mean(axis=-1, keepdims=True)
    dx = (dxhat - mean_dxhat - xhat * mean_dxhat_xhat) / r.std[..., None]
    return LayerNormGrads(dx, _per_feature(dy * xhat), _per_feature(dy))


def layer_norm_paths(r: LayerNormResult, dy) -> LayerNormPaths:
    """∂L/∂x by the chain rule along each path from x to x̂: direct, through σ², through μ.

    x̂ᵢ = (xᵢ − μ)·(σ² + ε)^(−½) depends on xᵢ directly and through μ and σ², which
    depend on every x of the row; the three contributions add up to the compact form of
    :func:`layer_norm_backward`.

    Worked example: x = [0, 4], ε = 0: μ = 2, σ² = 4, σ_ε = 2, x̂ = [−1, 1]; γ = 1 and
    ∂L/∂y = [1, 0]. Direct: ∂L/∂x̂ / 2 = [0.5, 0]. Through σ²: ∂L/∂σ² =
    −½·4^(−3/2)·(1·(−2) + 0·2) = 0.125, times 2(x − μ)/2 = [−2, 2]: [−0.25, 0.25].
    Through μ: ∂L/∂μ = −(1 + 0)/2 = −0.5, divided by d = 2: [−0.25, −0.25].
    Sum: [0, 0].

    >>> p = layer_norm_paths(layer_norm(np.array([0.0, 4.0]), eps=0.0), np.array([1.0, 0.0]))
    >>> p.direct.tolist(), p.via_var.tolist(), p.via_mean.tolist(), p.dx.tolist()
    ([0.5, 0.0], [-0.25, 0.25], [-0.25, -0.25], [0.0, 0.0])
    """
    dy = _checked_dy(r, dy)
    d = r.width
    dxhat = dy * r.gamma
    std = r.std[..., None]
    dvar = -0.5 * (dxhat * r.deviations).sum(axis=-1) * (r.var + r.eps) ** -1.5
    dmean = -(dxhat / std).sum(axis=-1) + dvar * (-2.0 / d) * r.deviations.sum(axis=-1)
    direct = dxhat / std
    via_var = dvar[..., None] * 2.0 * r.deviations / d
    via_mean = np.broadcast_to(dmean[..., None] / d, r.x.shape).copy()
    return LayerNormPaths(dxhat, dvar, dmean, direct, via_var, via_mean, direct + via_var + via_mean)
