"""The smallest interesting network: two ReLU hinges and an offset.

    f(x) = v1·ReLU(w1·x + b1) + v2·ReLU(w2·x + b2) + c

Each hinge is 0 on one side of its kink x = −b/w and a straight line on the
other; adding two of them gives a piecewise-linear curve with (at most) two
bends: a ramp, a peak or a valley. A peak is not a bump: past its last kink it
keeps falling. A bump that levels off again needs a third hinge
(:func:`levelling_hinge`).

Worked example (the lesson's default): w1 = 1, b1 = 1, v1 = 1, w2 = 2, b2 = −1,
v2 = −1.5, c = 0 at x0 = 1: z1 = 1·1 + 1 = 2, z2 = 2·1 − 1 = 1,
f = 1·2 + (−1.5)·1 + 0 = 0.5; kinks at −1/1 = −1 and 1/2 = 0.5; slopes 0, 1 and
1 + (−1.5)·2 = −2 from left to right: a peak (falling without bound on the right).

>>> r = analyse(DEFAULTS, 1.0)
>>> r.y, r.kinks, [g.slope for g in r.regions], r.shape
(0.5, (-1.0, 0.5), [0.0, 1.0, -2.0], 'peak')
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from nntutor.core import activations

PARAMS = ("w1", "b1", "v1", "w2", "b2", "v2", "c")
DEFAULTS = {"w1": 1.0, "b1": 1.0, "v1": 1.0, "w2": 2.0, "b2": -1.0, "v2": -1.5, "c": 0.0}


class Hinge(NamedTuple):
    """One term v·ReLU(w·x + b), evaluated at x0."""

    w: float
    b: float
    v: float
    z: float  # w·x0 + b
    relu: float  # ReLU(z)
    term: float  # v·ReLU(z)
    kink: float | None  # −b/w; None when w = 0 (the hinge is constant) or when −b/w overflows
    faces: str  # "right" (w > 0: on for x > kink), "left" (w < 0), "none" (w = 0)
    beyond_range: bool = False  # w ≠ 0 but −b/w is beyond float64: no kink at any representable x


class Region(NamedTuple):
    """A stretch of x between kinks where f is one straight line: f = slope·x + intercept."""

    left: float  # −inf for the first region
    right: float  # +inf for the last region
    active: tuple[int, ...]  # hinges (1, 2) that are on here
    slope: float
    intercept: float


class TinyMLP(NamedTuple):
    params: dict[str, float]
    x0: float
    hinges: tuple[Hinge, Hinge]
    y: float
    grads: dict[str, float]  # ∂f/∂θ at x0 (ReLU'(0) taken as 0, as PyTorch)
    dydx: float  # ∂f/∂x at x0
    kinks: tuple[float | None, float | None]
    regions: tuple[Region, ...]
    shape: str  # "flat", "ramp", "peak" or "valley"
    at_kink: tuple[int, ...]  # hinges whose kink is exactly x0


def value(params: dict[str, float], x):
    """f(x), element-wise.

    >>> float(value(DEFAULTS, 0.5))   # 1·ReLU(1.5) − 1.5·ReLU(0) = 1.5
    1.5
    """
    x = np.asarray(x, dtype=np.float64)
    p = params
    return (
        p["v1"] * activations.relu(p["w1"] * x + p["b1"])
        + p["v2"] * activations.relu(p["w2"] * x + p["b2"])
        + p["c"]
    )


def _hinge(w: float, b: float, v: float, x0: float) -> Hinge:
    z = w * x0 + b
    r = max(z, 0.0)
    kink = None if w == 0 else -b / w
    beyond = kink is not None and not math.isfinite(kink)
    if beyond:
        kink = None
    faces = "none" if w == 0 else ("right" if w > 0 else "left")
    return Hinge(w, b, v, z, r, v * r, kink, faces, beyond)


def analyse(params: dict[str, float], x0: float) -> TinyMLP:
    """Value, gradients, kinks and the piecewise-linear shape of f."""
    p = {k: float(params[k]) for k in PARAMS}
    h1 = _hinge(p["w1"], p["b1"], p["v1"], x0)
    h2 = _hinge(p["w2"], p["b2"], p["v2"], x0)
    y = h1.term + h2.term + p["c"]
    s1 = 1.0 if h1.z > 0 else 0.0  # ReLU'(z), 0 at z = 0
    s2 = 1.0 if h2.z > 0 else 0.0
    grads = {
        "w1": p["v1"] * s1 * x0,
        "b1": p["v1"] * s1,
        "v1": h1.relu,
        "w2": p["v2"] * s2 * x0,
        "b2": p["v2"] * s2,
        "v2": h2.relu,
        "c": 1.0,
    }
    grads = {k: float(g) + 0.0 for k, g in grads.items()}  # + 0.0 turns −0.0 into 0.0
    dydx = p["v1"] * s1 * p["w1"] + p["v2"] * s2 * p["w2"]
    regions = _regions((h1, h2), p["c"])
    at_kink = tuple(i + 1 for i, h in enumerate((h1, h2)) if h.kink is not None and h.z == 0)
    return TinyMLP(
        params=p,
        x0=float(x0),
        hinges=(h1, h2),
        y=float(y),
        grads=grads,
        dydx=float(dydx),
        kinks=(h1.kink, h2.kink),
        regions=regions,
        shape=classify([r.slope for r in regions]),
        at_kink=at_kink,
    )


def _regions(hinges: tuple[Hinge, Hinge], c: float) -> tuple[Region, ...]:
    bounds = sorted({h.kink for h in hinges if h.kink is not None})
    edges = [-math.inf, *bounds, math.inf]
    out = []
    for left, right in zip(edges[:-1], edges[1:], strict=True):
        if math.isinf(left) and math.isinf(right):
            probe = 0.0
        elif math.isinf(left):
            probe = right - max(1.0, abs(right))  # a step that is not lost to rounding
        elif math.isinf(right):
            probe = left + max(1.0, abs(left))
        else:
            probe = 0.5 * (left + right)
        active = []
        slope, intercept = 0.0, c
        for i, h in enumerate(hinges, start=1):
            if h.w * probe + h.b > 0:
                active.append(i)
                slope += h.v * h.w
                intercept += h.v * h.b
        out.append(Region(left, right, tuple(active), slope, intercept))
    return tuple(out)


def classify(slopes: list[float]) -> str:
    """The shape made by a sequence of slopes, left to right.

    >>> classify([0, 1, -2]), classify([0, -1, 1]), classify([0, 1, 0]), classify([0, 0])
    ('peak', 'valley', 'ramp', 'flat')
    """
    signs = [int(np.sign(s)) for s in slopes if s != 0]
    if not signs:
        return "flat"
    for a, b in zip(signs[:-1], signs[1:], strict=True):
        if a > 0 > b:
            return "peak"
        if a < 0 < b:
            return "valley"
    return "ramp"


def levelling_hinge(r: TinyMLP) -> tuple[float, float, float] | None:
    """(w, b, v) of a third hinge v·ReLU(w·x + b) that levels a peak or valley off on its open side.

    It switches on where f is back at the level of its flat side and cancels the
    slope there, so f becomes a bump (or a dip): flat, up, down, flat again. None
    when f is not a peak or valley, or is unbounded on both sides (a hinge is then
    needed at each end).

    The default peak is flat at 0 left of −1 and falls with slope −2 right of 0.5
    from f(0.5) = 1.5: it is back at 0 at x = 0.5 + 1.5/2 = 1.25, so the third hinge
    is 2·ReLU(x − 1.25).

    >>> levelling_hinge(analyse(DEFAULTS, 1.0))
    (1.0, -1.25, 2.0)
    """
    if r.shape not in ("peak", "valley") or len(r.regions) < 2:
        return None
    first, last = r.regions[0], r.regions[-1]
    if first.slope == 0 and last.slope != 0:
        x_back = (first.intercept - last.intercept) / last.slope
        if math.isfinite(x_back) and x_back > last.left:
            return 1.0, -x_back + 0.0, -last.slope + 0.0
    if last.slope == 0 and first.slope != 0:
        x_back = (last.intercept - first.intercept) / first.slope
        if math.isfinite(x_back) and x_back < first.right:
            return -1.0, x_back + 0.0, first.slope + 0.0
    return None


def curve(params: dict[str, float], x0: float, points: int = 201):
    """f and each hinge's term on an even grid that shows every kink and x0: (grid, f, term1, term2).

    The grid runs from the leftmost of (kinks, x0) minus a margin to the rightmost plus
    one; the margin is half the span, at least 1.

    >>> grid, f, t1, t2 = curve(DEFAULTS, 1.0, 5)
    >>> grid.tolist(), f.tolist()   # span −1 … 1, margin 1: x = −2, −1, 0, 1, 2
    ([-2.0, -1.0, 0.0, 1.0, 2.0], [0.0, 0.0, 1.0, 0.5, -1.5])
    """
    p = {k: float(params[k]) for k in PARAMS}
    marks = [float(x0)] + [k for k in (_hinge(p["w1"], p["b1"], p["v1"], x0).kink, _hinge(p["w2"], p["b2"], p["v2"], x0).kink) if k is not None]
    low, high = min(marks), max(marks)
    margin = max(1.0, 0.5 * (high - low))
    grid = np.linspace(low - margin, high + margin, points)
    term1 = p["v1"] * activations.relu(p["w1"] * grid + p["b1"])
    term2 = p["v2"] * activations.relu(p["w2"] * grid + p["b2"])
    return grid, term1 + term2 + p["c"], term1, term2
