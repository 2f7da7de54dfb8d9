"""Softmax with temperature, written out in its stable steps, and cross-entropy; forward and backward.

>>> np.round(softmax(np.array([2.0, 1.0, 0.1])), 4).tolist()
[0.659, 0.2424, 0.0986]

The backward functions (:func:`softmax_jacobian`, :func:`softmax_backward`,
:func:`cross_entropy_grad_probs`, :func:`cross_entropy_backward`) take any number
of rows (the classes along the last axis) and return a gradient of the same shape
as what it is the gradient of.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class SoftmaxSteps(NamedTuple):
    """Every stage of a stable softmax of one vector at one temperature."""

    logits: np.ndarray
    temperature: float
    scaled: np.ndarray  # logits / T
    maximum: float  # max of scaled
    shifted: np.ndarray  # scaled − max (all ≤ 0: exp cannot overflow)
    exps: np.ndarray  # e^shifted
    total: float  # Σ exps
    probs: np.ndarray  # exps / total


def softmax_steps(logits, temperature: float = 1.0) -> SoftmaxSteps:
    """softmax(z / T) in stages: divide, subtract the max, exponentiate, normalise.

    >>> s = softmax_steps(np.array([1000.0, 1001.0, 1002.0]))
    >>> np.round(s.probs, 4).tolist()
    [0.09, 0.2447, 0.6652]
    """
    z = np.asarray(logits, dtype=np.float64)
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    scaled = z / temperature
    maximum = float(np.max(scaled))
    shifted = scaled - maximum
    exps = np.exp(shifted)
    total = float(np.sum(exps))
    return SoftmaxSteps(z, float(temperature), scaled, maximum, shifted, exps, total, exps / total)


def softmax(logits, temperature: float = 1.0, axis: int = -1) -> np.ndarray:
    """Stable softmax along ``axis``."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    shifted = z - np.max(z, axis=axis, keepdims=True)
    exps = np.exp(shifted)
    return exps / np.sum(exps, axis=axis, keepdims=True)


def log_softmax(logits, temperature: float = 1.0, axis: int = -1) -> np.ndarray:
    """log softmax, computed as shifted − log Σ e^shifted (no log of a tiny number)."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def cross_entropy_from_logits(logits, target: int, temperature: float = 1.0) -> float:
    """−ln softmax(z/T)[target], natural log.

    >>> round(cross_entropy_from_logits(np.array([2.0, 1.0, 0.1]), 0), 4)
    0.417
    """
    return float(-log_softmax(logits, temperature)[target])


def temperature_softmax(logits, temperature: float) -> tuple[SoftmaxSteps, bool]:
    """softmax(logits / T) in stages, and whether logits / T overflowed.

    When T is so small that logits / T is not finite in float64, the limit
    T → 0 is returned instead: the stages are computed from (z − max z) / T
    (which cannot overflow: every entry is ≤ 0), so all the probability goes to
    the largest logit(s), shared equally when several tie. ``maximum`` is then 0,
    the largest of (z − max z) / T.

    >>> s, overflow = temperature_softmax(np.array([1000.0, 999.0, -3.0]), 1e-306)
    >>> overflow, s.probs.tolist()          # 1000 / 1e-306 = 1e309 overflows
    (True, [1.0, 0.0, 0.0])
    >>> temperature_softmax(np.array([2.0, 2.0, 0.0]), 1e-310)[0].probs.tolist()
    [0.5, 0.5, 0.0]
    """
    z = np.asarray(logits, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        steps = softmax_steps(z, temperature)
    if np.all(np.isfinite(steps.scaled)) and np.all(np.isfinite(steps.probs)):
        return steps, False
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        shifted = (z - np.max(z)) / temperature
    shifted = np.where(np.isnan(shifted), -np.inf, shifted)
    exps = np.exp(shifted)
    total = float(np.sum(exps))
    return SoftmaxSteps(z, float(temperature), shifted, 0.0, shifted, exps, total, exps / total), True


def temperature_sweep(logits, low: float = 0.1, high: float = 10.0, points: int = 80):
    """Probabilities over a geometric grid of temperatures: (temperatures, probs of shape T×n).

    Temperatures so small that logits / T overflows get the T → 0 limit
    (:func:`temperature_softmax`).

    >>> temps, probs = temperature_sweep(np.array([1.0, 0.0]), 1.0, 1.0, 1)
    >>> np.round(probs, 4).tolist()
    [[0.7311, 0.2689]]
    """
    temps = np.geomspace(low, high, points)
    return temps, np.vstack([temperature_softmax(logits, t)[0].probs for t in temps])


# --------------------------------------------------------------------------- backward


def _positive(temperature: float) -> float:
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    return float(temperature)


def softmax_jacobian(probs, temperature: float = 1.0) -> np.ndarray:
    """∂p/∂z for p = softmax(z / T): J[i, j] = ∂pᵢ/∂zⱼ = pᵢ(δᵢⱼ − pⱼ) / T, i.e. (diag(p) − p pᵀ) / T.

    ``probs`` holds the softmax output, one row per distribution (shape (..., n));
    the result has shape (..., n, n): one n×n matrix per row. It is symmetric, and
    each of its rows and columns sums to 0 (the pᵢ always sum to 1). Where a
    masked softmax gave p = 0, the row and column of J are 0 too.

    Two classes at T = 1 with p = [0.8, 0.2]: J[0,0] = 0.8×(1 − 0.8) = 0.16 and
    J[0,1] = −0.8×0.2 = −0.16; at T = 2 every entry is halved.

    >>> softmax_jacobian(np.array([0.8, 0.2])).round(4).tolist()
    [[0.16, -0.16], [-0.16, 0.16]]
    >>> softmax_jacobian(np.array([[0.8, 0.2], [0.5, 0.5]]), temperature=2.0).round(4).tolist()
    [[[0.08, -0.08], [-0.08, 0.08]], [[0.125, -0.125], [-0.125, 0.125]]]
    """
    t = _positive(temperature)
    p = np.asarray(probs, dtype=np.float64)
    column = p[..., :, None]
    jacobian = column * np.eye(p.shape[-1]) - column * p[..., None, :]
    jacobian /= t
    return jacobian


def softmax_backward(probs, grad_probs, temperature: float = 1.0, *, allowed=None) -> np.ndarray:
    """∂L/∂z from ∂L/∂p through p = softmax(z / T), row by row: p ⊙ (g − Σⱼ pⱼgⱼ) / T.

    This is the vector-Jacobian product Jᵀ·g of :func:`softmax_jacobian` without
    building J (n numbers per row instead of n²); J is symmetric, so Jᵀ·g = J·g.
    ``probs`` and ``grad_probs`` have the same shape (..., n) and so does the result.

    ``allowed`` (boolean, broadcastable to that shape) marks the positions that took
    part in the softmax; masked ones (False: a −∞ score, as in causal or padding
    attention) get exactly 0, and a row with no allowed position gets a row of 0,
    never NaN, whatever ``probs`` and ``grad_probs`` hold there.

    p = [0.8, 0.2], g = [1, 0]: Σ pⱼgⱼ = 0.8, so ∂L/∂z = [0.8×(1 − 0.8), 0.2×(0 − 0.8)]
    = [0.16, −0.16] (the first column of J, as g picks it).

    >>> softmax_backward(np.array([0.8, 0.2]), np.array([1.0, 0.0])).round(4).tolist()
    [0.16, -0.16]
    >>> p = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 0.0]])  # key 2 masked; row 1 fully masked
    >>> ok = np.array([[True, True, False], [False, False, False]])
    >>> softmax_backward(p, np.array([[2.0, 0.0, 9.0], [1.0, 1.0, 1.0]]), allowed=ok).tolist()
    [[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]]
    """
    t = _positive(temperature)
    p = np.asarray(probs, dtype=np.float64)
    g = np.asarray(grad_probs, dtype=np.float64)
    if p.shape != g.shape:
        raise ValueError(f"grad_probs has shape {g.shape}; it must have the shape of probs, {p.shape}")
    if allowed is not None:
        keep = np.broadcast_to(np.asarray(allowed, dtype=bool), p.shape)
        p = np.where(keep, p, 0.0)
        g = np.where(keep, g, 0.0)
    weighted = np.sum(p * g, axis=-1, keepdims=True)
    return p * (g - weighted) / t + 0.0  # + 0.0: no −0 where p = 0


def _checked_targets(targets, n_rows_shape: tuple[int, ...], n_classes: int) -> np.ndarray:
    y = np.asarray(targets)
    if y.shape != n_rows_shape or y.dtype.kind not in "iu":
        raise ValueError(f"targets must be class indices of shape {n_rows_shape}, got {y.dtype} of shape {y.shape}")
    if np.any(y < 0) or np.any(y >= n_classes):
        raise ValueError(f"every target must be a class index from 0 to {n_classes - 1}")
    return y


def one_hot(targets, n_classes: int) -> np.ndarray:
    """y with a 1 at each row's target class: one_hot([2, 0], 3) -> [[0, 0, 1], [1, 0, 0]].

    >>> one_hot(np.array([2, 0]), 3).tolist()
    [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    y = np.asarray(targets)
    y = _checked_targets(y, y.shape, n_classes)
    return (y[..., None] == np.arange(n_classes)).astype(np.float64)


def cross_entropy_grad_probs(probs, targets) -> np.ndarray:
    """∂L/∂p for L = −ln p[target] (one loss per row): −1/p at the target, 0 elsewhere.

    Same shape as ``probs``. Where the target's probability is exactly 0 (it
    underflowed) the entry is −∞: use :func:`cross_entropy_backward`, which
    never divides by p.

    >>> cross_entropy_grad_probs(np.array([0.8, 0.2]), 1).tolist()
    [0.0, -5.0]
    """
    p = np.asarray(probs, dtype=np.float64)
    y = one_hot(_checked_targets(targets, p.shape[:-1], p.shape[-1]), p.shape[-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(y == 1.0, -1.0 / np.where(y == 1.0, p, 1.0), 0.0)


def cross_entropy_backward(
    logits, targets, temperature: float = 1.0, *, keep=None, reduction: str = "mean", probs=None
) -> np.ndarray:
    """∂L/∂z for the cross-entropy of softmax(z / T) against class targets: (p − y) / T per row.

    ``logits`` has shape (..., n) and ``targets`` holds one class index per row
    (shape (...)); the result has the shape of ``logits``. The loss is
    L = Σ_rows −ln softmax(z/T)[target] with ``reduction="sum"``, or that sum
    divided by the number of rows kept with ``"mean"`` (PyTorch's default); one
    row alone is the same either way. ``keep`` (boolean, shape (...)) leaves rows
    out of the loss, such as padding tokens: their gradient is 0 and they are not
    counted in the mean (no rows kept at all: the gradient is all 0).

    ``probs``, when given, is softmax(z / T) already computed (a forward pass that
    kept it): it is used instead of computing the softmax again.

    Logits [0, ln 4] give p = [0.2, 0.8]; with target 0: (p − y) = [0.2 − 1, 0.8 − 0].

    >>> cross_entropy_backward(np.array([0.0, np.log(4.0)]), 0).round(4).tolist()
    [-0.8, 0.8]
    >>> cross_entropy_backward(np.array([[0.0, np.log(4.0)], [5.0, 1.0]]), np.array([0, 1]),
    ...                        keep=np.array([True, False])).round(4).tolist()
    [[-0.8, 0.8], [0.0, 0.0]]
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', not {reduction!r}")
    t = _positive(temperature)
    z = np.asarray(logits, dtype=np.float64)
    y = _checked_targets(targets, z.shape[:-1], z.shape[-1])
    # p − onehot(y): p with 1 taken off at each row's target (no V-wide one-hot built)
    grad = softmax(z, t) if probs is None else np.array(probs, dtype=np.float64)
    flat = grad.reshape(-1, z.shape[-1])
    flat[np.arange(flat.shape[0]), y.reshape(-1)] -= 1.0
    if t != 1.0:
        grad /= t
    rows = z.shape[:-1]
    if keep is not None:
        kept = np.broadcast_to(np.asarray(keep, dtype=bool), rows)
        count = int(np.count_nonzero(kept))
        if count != kept.size:
            grad = np.where(kept[..., None], grad, 0.0)
    else:
        count = int(np.prod(rows, dtype=np.int64))
    if reduction == "mean" and count > 1:
        grad /= count
    return grad
