"""A neuron as a classifier: its decision boundary w·x + b = 0, XOR, and why linear layers collapse.

The boundary of one neuron is the set of points where ``z = w·x + b`` is 0: a point on
the number line for one input, a line in the plane for two, a plane for three. ``w`` is
normal to it, ``(w·x + b)/‖w‖`` is the signed distance of ``x`` from it, and the neuron
puts ``x`` in class 1 when ``z ≥ 0`` (as a sigmoid does when it outputs ≥ ½).

Worked example: w = (3, 4), b = −12 gives ‖w‖ = √(9 + 16) = 5, intercepts x₁ = 12/3 = 4
and x₂ = 12/4 = 3, and the point (4, 3) lies at (12 + 12 − 12)/5 = 2.4 on the positive side.

>>> line = boundary(np.array([3.0, 4.0]), -12.0)
>>> line.norm, line.intercepts.tolist(), line.offset
(5.0, [4.0, 3.0], -2.4)
>>> s = sides(np.array([[4.0, 3.0], [0.0, 0.0]]), np.array([3.0, 4.0]), -12.0)
>>> s.z.tolist(), s.distance.tolist(), s.classes.tolist()
([12.0, -12.0], [2.4, -2.4], [1, 0])
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import numpy as np

from nntutor.core import mlp
from nntutor.core.layer import dense

XOR_POINTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_TARGETS = np.array([0, 1, 1, 0])


def corners(dims: int) -> np.ndarray:
    """The 2^d corners of the unit (hyper)cube, in binary order.

    >>> corners(2).tolist()
    [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    """
    return np.array(list(itertools.product((0.0, 1.0), repeat=int(dims))), dtype=np.float64).reshape(-1, int(dims))


def random_points(count: int, dims: int, rng: np.random.Generator, half_width: float = 2.0) -> np.ndarray:
    """``count`` points drawn uniformly from [−half_width, half_width]^d, rounded to 2 decimals (readable)."""
    return np.round(rng.uniform(-half_width, half_width, size=(int(count), int(dims))), 2) + 0.0


# --------------------------------------------------------------------------- the boundary


class Boundary(NamedTuple):
    """The hyperplane w·x + b = 0: its normal, its axis intercepts and how far it is from the origin.

    ``intercepts[i]`` is where the boundary crosses axis i (every other coordinate 0):
    −b/wᵢ; ``inf`` when wᵢ = 0 and b ≠ 0 (parallel to that axis, never crossing it),
    ``nan`` when wᵢ = 0 and b = 0 (the whole axis lies on the boundary).
    ``offset = b/‖w‖`` is the signed distance of the origin; ``foot = −b·w/‖w‖²`` the
    boundary's point closest to the origin.
    """

    w: np.ndarray
    b: float
    norm: float  # ‖w‖ = √(Σ wᵢ²)
    normal: np.ndarray  # w/‖w‖, the unit normal (points to the class-1 side)
    intercepts: np.ndarray
    offset: float
    foot: np.ndarray


def boundary(w, b: float) -> Boundary:
    """The decision boundary of the neuron z = w·x + b (w must not be all zeros).

    >>> boundary(np.array([1.0, 1.0]), -1.5).intercepts.tolist()
    [1.5, 1.5]
    >>> boundary(np.array([2.0, 0.0]), 1.0).intercepts.tolist()
    [-0.5, inf]
    """
    w = np.asarray(w, dtype=np.float64)
    b = float(b)
    norm = math.sqrt(float(np.sum(w * w)))
    if norm == 0.0:
        raise ValueError("w is all zeros: w·x + b is the constant b, so there is no boundary")
    with np.errstate(divide="ignore", invalid="ignore"):
        intercepts = np.where(w != 0.0, -b / np.where(w != 0.0, w, 1.0), math.inf if b != 0.0 else math.nan)
    return Boundary(w, b, norm, w / norm, intercepts + 0.0, b / norm, -b * w / (norm * norm) + 0.0)


class Sides(NamedTuple):
    """Each point's z = w·x + b, its signed distance z/‖w‖ and its class (1 when z ≥ 0)."""

    points: np.ndarray
    z: np.ndarray
    distance: np.ndarray
    classes: np.ndarray  # int: 1 where z ≥ 0, else 0


def sides(points, w, b: float) -> Sides:
    """Which side of the boundary each point (a row of ``points``) is on, and how far."""
    points = np.asarray(points, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    z = dense(points, w.reshape(1, -1), np.array([float(b)])).z[:, 0]
    norm = math.sqrt(float(np.sum(w * w)))
    return Sides(points, z, z / norm, (z >= 0.0).astype(np.int64))


# --------------------------------------------------------------------------- XOR


class XorSums(NamedTuple):
    """z at the four XOR points for one line, and the two sums that can never differ.

    z(0,1) + z(1,0) = (w₂ + b) + (w₁ + b) and z(0,0) + z(1,1) = b + (w₁ + w₂ + b):
    both are w₁ + w₂ + 2b, so the class-1 pair cannot both be ≥ 0 while the class-0
    pair are both < 0.

    >>> s = xor_sums(np.array([1.0, 1.0]), -1.5)
    >>> s.z.tolist(), s.ones, s.zeros
    ([-1.5, -0.5, -0.5, 0.5], -1.0, -1.0)
    """

    w: np.ndarray
    b: float
    z: np.ndarray  # at (0,0), (0,1), (1,0), (1,1)
    classes: np.ndarray
    ones: float  # z(0,1) + z(1,0): the points XOR calls 1
    zeros: float  # z(0,0) + z(1,1): the points XOR calls 0

    @property
    def errors(self) -> int:
        return int(np.sum(self.classes != XOR_TARGETS))


def xor_sums(w, b: float) -> XorSums:
    s = sides(XOR_POINTS, w, b)
    return XorSums(np.asarray(w, dtype=np.float64), float(b), s.z, s.classes, float(s.z[1] + s.z[2]), float(s.z[0] + s.z[3]))


def grid_values(steps: int, span: float) -> np.ndarray:
    """``steps`` evenly spaced values from −span to span, exactly symmetric around 0.

    >>> grid_values(5, 2.0).tolist()
    [-2.0, -1.0, 0.0, 1.0, 2.0]
    """
    steps = int(steps)
    k = 2.0 * np.arange(steps) - (steps - 1)
    return float(span) * k / (steps - 1) + 0.0


class XorSearch(NamedTuple):
    """Every line w₁x₁ + w₂x₂ + b = 0 with w₁, w₂, b on a grid, scored on the four XOR points.

    ``counts[e]`` is the number of lines that misclassify exactly e of the 4 points;
    ``best_w``/``best_b`` is a line with the fewest errors, chosen for the widest margin
    (its nearest XOR point as far as possible from it).
    """

    values: np.ndarray
    counts: np.ndarray  # 5 ints: lines with 0, 1, 2, 3, 4 errors
    best_w: np.ndarray
    best_b: float
    best_errors: int
    best_margin: float

    @property
    def lines(self) -> int:
        return int(self.counts.sum())


def xor_search(steps: int, span: float) -> XorSearch:
    """Brute force over steps³ lines (one w₁ at a time: steps² lines × 4 points in memory).

    Every grid value is span·k/(steps − 1) for a whole number k, and the XOR points have
    coordinates 0 and 1, so z has the sign of k₁x₁ + k₂x₂ + k_b: the lines are scored in
    exact integer arithmetic (a point exactly on a line counts as z = 0, class 1, never as
    a rounding error either side). The example line is one with the fewest errors and the
    widest margin; among equal margins the smallest |w₁| + |w₂| + |b|, the grid walked
    from +span down.

    >>> r = xor_search(5, 2.0)
    >>> r.lines, r.counts.tolist(), r.best_errors
    (125, [0, 19, 90, 16, 0], 1)
    """
    steps = int(steps)
    ks = (2 * np.arange(steps, dtype=np.int64) - (steps - 1))[::-1]
    k2, kb = np.meshgrid(ks, ks, indexing="ij")
    k2, kb = k2.ravel(), kb.ravel()
    points = XOR_POINTS.astype(np.int64)
    counts = np.zeros(5, dtype=np.int64)
    best: tuple[tuple[int, float, int], float, int, int, int] | None = None  # key, margin, k1, k2, kb
    for k1 in ks:
        z = k1 * points[:, 0] + k2[:, None] * points[:, 1] + kb[:, None]
        errors = np.sum((z >= 0) != XOR_TARGETS, axis=1)
        counts += np.bincount(errors, minlength=5)
        fewest = int(errors.min())
        candidates = np.flatnonzero(errors == fewest)
        norm = np.hypot(float(k1), k2[candidates].astype(np.float64))
        margin = np.where(norm > 0, np.abs(z[candidates]).min(axis=1) / np.where(norm > 0, norm, 1.0), 0.0)
        size = abs(int(k1)) + np.abs(k2[candidates]) + np.abs(kb[candidates])
        pick = int(np.lexsort((size, -np.round(margin, 12)))[0])  # widest margin first, then smallest
        key = (fewest, -round(float(margin[pick]), 12), int(size[pick]))
        if best is None or key < best[0]:
            chosen = int(candidates[pick])
            best = (key, float(margin[pick]), int(k1), int(k2[chosen]), int(kb[chosen]))
    assert best is not None
    key, margin, k1, k2_best, kb_best = best
    unit = float(span) / (steps - 1)  # grid values are unit·k (the margin |z|/‖w‖ does not depend on unit)
    return XorSearch(grid_values(steps, span), counts, np.array([unit * k1, unit * k2_best]) + 0.0, unit * kb_best + 0.0, key[0], margin)


# --------------------------------------------------------------------------- collapse


class Collapse(NamedTuple):
    """Two layers without an activation, the single layer they equal, and the same two with ReLU.

    ``W = W₂W₁`` and ``b = W₂b₁ + b₂``; at x: ``hidden = W₁x + b₁``,
    ``stacked = W₂·hidden + b₂``, ``merged = W·x + b`` (equal to stacked for every x),
    ``activated = ReLU(hidden)`` and ``relu = W₂·activated + b₂``.

    >>> c = collapse(np.array([[1.0, 1.0], [1.0, 1.0]]), np.array([0.0, -1.0]),
    ...              np.array([[1.0, -2.0]]), np.array([0.0]), np.array([1.0, -0.5]))
    >>> c.W.tolist(), c.b.tolist(), c.stacked.tolist(), c.merged.tolist(), c.relu.tolist()
    ([[-1.0, -1.0]], [2.0], [1.5], [1.5], [0.5])
    """

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    x: np.ndarray
    W: np.ndarray
    b: np.ndarray
    hidden: np.ndarray
    stacked: np.ndarray
    merged: np.ndarray
    activated: np.ndarray
    relu: np.ndarray


def collapse(w1, b1, w2, b2, x) -> Collapse:
    """Both networks at x, and the collapsed layer (W₁ is hidden × inputs, W₂ outputs × hidden)."""
    w1, b1, w2, b2, x = (np.asarray(a, dtype=np.float64) for a in (w1, b1, w2, b2, x))
    linear = mlp.forward(x, [(w1, b1), (w2, b2)], activation="identity")
    with_relu = mlp.forward(x, [(w1, b1), (w2, b2)], activation="relu")
    W = w2 @ w1
    b = w2 @ b1 + b2
    merged = dense(x, W, b).z
    return Collapse(
        w1, b1, w2, b2, x, W, b, linear.zs[0], linear.outputs[-1], merged, with_relu.outputs[0], with_relu.outputs[-1]
    )
