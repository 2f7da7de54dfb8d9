"""Gradient descent on a bowl f(p) = Σᵢ cᵢ·pᵢ² (f(x, y) = a·x² + b·y² in 2-D).

Each step is p ← p − lr·∇f(p) with ∇f(p) = 2·c·p, so every coordinate is simply
multiplied by (1 − 2·cᵢ·lr). The Hessian is diag(2c): the run is stable when
lr < 2/λ_max = 2/(2·max c); above that the steepest coordinate overshoots by
more than it started with, and the run diverges.

>>> run = descend([1.0, 10.0], [1.0, 1.0], lr=0.05, steps=2)
>>> run.points.tolist()   # x: 1 → 1 − 0.05×2 = 0.9 → 0.81; y: 1 → 1 − 0.05×20 = 0
[[1.0, 1.0], [0.9, 0.0], [0.81, 0.0]]
>>> np.round(run.losses, 10).tolist()   # 1·1² + 10·1² = 11, then 0.9² = 0.81, then 0.81²
[11.0, 0.81, 0.6561]
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


class DescentRun(NamedTuple):
    """A whole run, every step kept.

    ``points[t]`` and ``losses[t]`` are the point and f after t steps (row 0 is
    the start); ``gradients[t]`` and ``updates[t]`` (= −lr·gradient) are what
    moved ``points[t]`` to ``points[t + 1]``. ``overflow_step`` is the step
    (1-based) whose values no longer fit in float64; the run stopped before
    recording it. ``None`` when the run completed.
    """

    coefficients: np.ndarray
    lr: float
    points: np.ndarray  # (steps_done + 1, d)
    losses: np.ndarray  # (steps_done + 1,)
    gradients: np.ndarray  # (steps_done, d)
    updates: np.ndarray  # (steps_done, d)
    factors: np.ndarray  # 1 − 2·cᵢ·lr, per coordinate
    limit: float  # 2 / λ_max (inf when every cᵢ is 0)
    steps_requested: int
    overflow_step: int | None

    @property
    def steps_done(self) -> int:
        return len(self.points) - 1


def value(coefficients, point) -> float:
    """f(p) = Σ cᵢ·pᵢ².

    >>> value([1.0, 10.0], [3.0, 1.0])   # 1×3² + 10×1² = 19
    19.0
    """
    c = np.asarray(coefficients, dtype=np.float64)
    p = np.asarray(point, dtype=np.float64)
    return float(np.sum(c * p * p))


def gradient(coefficients, point) -> np.ndarray:
    """∇f(p) = 2·c·p.

    >>> gradient([1.0, 10.0], [3.0, 1.0]).tolist()   # (2×1×3, 2×10×1)
    [6.0, 20.0]
    """
    c = np.asarray(coefficients, dtype=np.float64)
    return 2.0 * c * np.asarray(point, dtype=np.float64)


def hessian_eigenvalues(coefficients) -> np.ndarray:
    """The curvatures λᵢ = 2·cᵢ (f is a sum of independent parabolas)."""
    return 2.0 * np.asarray(coefficients, dtype=np.float64)


def stability_limit(coefficients) -> float:
    """2 / λ_max = 2 / (2·max cᵢ): learning rates below it converge.

    >>> stability_limit([1.0, 10.0])
    0.1
    """
    lam = float(np.max(hessian_eigenvalues(coefficients)))
    return math.inf if lam <= 0 else 2.0 / lam


def descend(coefficients, start, lr: float, steps: int) -> DescentRun:
    """Run ``steps`` steps of gradient descent from ``start``.

    Stops early, without recording the bad step, when a value overflows
    float64 (a diverging run): no infinity or NaN ever enters the result.
    """
    c = np.asarray(coefficients, dtype=np.float64)
    p = np.asarray(start, dtype=np.float64).copy()
    if c.shape != p.shape or c.ndim != 1:
        raise ValueError("coefficients and start must be vectors of the same length")
    points = [p.copy()]
    losses = [value(c, p)]
    gradients: list[np.ndarray] = []
    updates: list[np.ndarray] = []
    overflow_step = None
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, steps + 1):
            g = gradient(c, p)
            u = -lr * g
            new = p + u
            loss = value(c, new)
            if not (np.all(np.isfinite(g)) and np.all(np.isfinite(u)) and np.all(np.isfinite(new)) and math.isfinite(loss)):
                overflow_step = t
                break
            gradients.append(g)
            updates.append(u)
            points.append(new)
            losses.append(loss)
            p = new
    d = c.size
    return DescentRun(
        coefficients=c,
        lr=float(lr),
        points=np.array(points),
        losses=np.array(losses),
        gradients=np.array(gradients).reshape(-1, d),
        updates=np.array(updates).reshape(-1, d),
        factors=1.0 - 2.0 * c * lr,
        limit=stability_limit(c),
        steps_requested=int(steps),
        overflow_step=overflow_step,
    )


def contour(a: float, b: float, level: float, points: int = 120):
    """The ellipse a·x² + b·y² = level as (xs, ys), for drawing the bowl's contour lines.

    >>> xs, ys = contour(1.0, 4.0, 4.0, 4)
    >>> np.round(xs, 6).tolist(), np.round(ys, 6).tolist()
    ([2.0, -1.0, -1.0, 2.0], [0.0, 0.866025, -0.866025, -0.0])
    """
    t = np.linspace(0.0, 2.0 * np.pi, points)
    return np.sqrt(level / a) * np.cos(t), np.sqrt(level / b) * np.sin(t)
