"""The decision-boundary lesson: a neuron as a classifier, XOR, and why linear layers collapse.

Default run: w = (1, 1), b = −1.5 (the AND gate). ‖w‖ = √(1² + 1²) = 1.4142, the line
x₁ + x₂ = 1.5 crosses both axes at 1.5, and of the corners (0,0), (0,1), (1,0), (1,1)
only (1,1) has z = 1 + 1 − 1.5 = 0.5 ≥ 0 (class 1, at 0.5/1.4142 = 0.3536 from the line).
XOR has no such line. W₁ = [[1, 1], [1, 1]], b₁ = (0, −1), W₂ = [[1, −2]], b₂ = (0)
collapse to W = W₂W₁ = [[−1, −1]], b = W₂b₁ + b₂ = (2); with a ReLU between the layers
the same weights compute XOR.

>>> from nntutor.catalog.lessonfile import load_lesson
>>> from nntutor.catalog.run import run_lesson
>>> trace = run_lesson(load_lesson("decision-boundary"))
>>> trace.outputs["classes"].tolist(), round(trace.outputs["boundary"]["norm"], 4)
([0, 0, 0, 1], 1.4142)
>>> trace.outputs["collapsed"]["merged"].tolist(), trace.outputs["collapsed"]["relu"].tolist()
([1.5], [0.5])
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from nntutor.core import boundary as core
from nntutor.errors import InputError
from nntutor.numfmt import human_bytes
from nntutor.trace import Step, Table, Trace, Value
from nntutor.walkthroughs._common import (
    Context,
    Size,
    answer,
    dot_worked,
    index_labels,
    mismatch,
    shape_words,
)
from nntutor.walkthroughs._declare import Args, Input, Mistake, Target, Walkthrough

MAX_CORNER_DIMS = 4  # the default points are the 2^d corners of the unit cube up to here
MAX_LINES = 8_000_000  # XOR grid: about a second here
LINES_PER_SECOND = 5_000_000  # a conservative rate for the estimate in the refusal
MAX_COMBINED = 1_000_000  # entries of W = W₂W₁
MAX_WORKED = 8
MIN_NORM = 1e-8  # below this, distances and crossings (÷‖w‖, ÷wᵢ) leave float64's range


class Inputs(NamedTuple):
    """Checked inputs: the neuron (w, b) and its points, the XOR grid, and the two layers at x."""

    w: np.ndarray  # d weights, not all 0
    b: float
    points: np.ndarray  # N × d, one point per row
    source: str  # where the points came from: "given", "corners" or "random"
    seed: int  # what random points are drawn from
    grid: int  # values per axis of the XOR grid (grid³ lines)
    span: float  # the grid runs from −span to span
    w1: np.ndarray  # hidden × inputs
    b1: np.ndarray
    w2: np.ndarray  # outputs × hidden
    b2: np.ndarray
    x: np.ndarray  # where the two networks are compared


def _points(args: Args, d: int) -> tuple[np.ndarray, str]:
    given, count, seed = args.given, args["random-points"], int(args["seed"])
    if count is not None:
        if "points" in given:
            raise InputError("--random-points", "cannot be combined with --points (give one or the other)")
        return core.random_points(count, d, np.random.default_rng(seed)), "random"
    if "seed" in given:
        raise InputError("--seed", "only draws points for --random-points N (give --random-points too)")
    points = args["points"]
    if "points" in given:
        if points.shape[1] != d:
            raise InputError(
                "--points", f"has {points.shape[1]} numbers per point but --w has {d} weights (one per coordinate)"
            )
        return points, "given"
    if points is not None and points.shape[1] == d:
        return points, "corners" if np.array_equal(points, core.corners(d)) else "given"
    if d > MAX_CORNER_DIMS:
        raise InputError(
            "--points",
            f"needed with {d} weights: give points with {d} numbers each, or --random-points N "
            f"(the default corners of the unit cube are for 1 to {MAX_CORNER_DIMS} weights)",
        )
    return core.corners(d), "corners"


def _count(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _layers(args: Args) -> tuple[np.ndarray, ...]:
    w1, b1, w2, b2, x = (args[name] for name in ("W1", "b1", "W2", "b2", "x"))
    given = args.given
    hidden, n_in = w1.shape
    if x.size != n_in:
        if "x" in given or "W1" not in given:
            raise InputError("--x", f"has {x.size} numbers but --W1 has {n_in} columns (one per input)")
        raise InputError("--W1", f"has {n_in} columns but --x has {x.size} numbers (give --x with {n_in} numbers)")
    if b1.size != hidden:
        raise mismatch(given, Size("b1", b1.size, "numbers"), Size("W1", hidden, "rows", shape_words(w1)), why="one bias per row of W1")
    n_out, width = w2.shape
    if width != hidden:
        if "W2" in given or "W1" not in given:
            raise InputError("--W2", f"has {width} columns but --W1 has {hidden} rows (layer 2 reads layer 1's outputs)")
        raise InputError("--W1", f"has {hidden} rows but --W2 has {width} columns (give --W2 with {hidden} columns)")
    if b2.size != n_out:
        raise mismatch(given, Size("b2", b2.size, "numbers"), Size("W2", n_out, "rows", shape_words(w2)), why="one bias per row of W2")
    if n_out * n_in > MAX_COMBINED:
        raise InputError(
            "--W2",
            f"times --W1 makes W = W₂W₁ of {n_out}×{n_in} = {n_out * n_in:,} numbers, about "
            f"{human_bytes(8 * n_out * n_in)} as float64 (at most {MAX_COMBINED:,} numbers here)",
        )
    return w1, b1, w2, b2, x


def check(args: Args) -> Inputs:
    """w not all 0; points with one number per weight (or drawn); the grid small enough; layer shapes chained."""
    w = args["w"]
    if not np.any(w):
        raise InputError(
            "--w", "is all zeros: then w·x + b is the constant b everywhere and there is no boundary "
            "(give at least one non-zero weight)"
        )
    length = math.hypot(*w.tolist())
    if length < MIN_NORM:
        raise InputError("--w", f"has length ‖w‖ = {length:.3g}, too close to 0 for a boundary (at least {MIN_NORM:g} here)")
    points, source = _points(args, w.size)
    grid = int(args["grid"])
    if grid**3 > MAX_LINES:
        limit = int(round(MAX_LINES ** (1 / 3)))
        raise InputError(
            "--grid",
            f"{grid} makes {grid}³ = {grid**3:,} lines to score (about {grid**3 / LINES_PER_SECOND:,.0f} s here); "
            f"at most {MAX_LINES:,} lines (--grid {limit})",
        )
    w1, b1, w2, b2, x = _layers(args)
    return Inputs(w, float(args["b"]), points, source, int(args["seed"]), grid, float(args["span"]), w1, b1, w2, b2, x)


# --------------------------------------------------------------------------- text helpers


def _point(ctx: Context, p: np.ndarray) -> str:
    return "(" + ", ".join(ctx.n(v) for v in p) + ")"


def _squares(ctx: Context, w: np.ndarray) -> str:
    terms = [f"{ctx.f(v)}²" for v in w]
    if len(terms) > MAX_WORKED:
        terms = [*terms[:3], f"… ({len(terms) - 5} more) …", *terms[-2:]]
    return " + ".join(terms)


def _none(count: int) -> str:
    return "none gets" if count == 0 else f"{count:,} get"


def _shape_name(d: int) -> str:
    return {1: "one point on the number line", 2: "a line in the plane", 3: "a plane in space"}.get(
        d, f"a hyperplane in {d} dimensions"
    )


# --------------------------------------------------------------------------- steps


def _boundary_step(ctx: Context, line: core.Boundary) -> Step:
    n, f = ctx.n, ctx.f
    w, b, d = line.w, line.b, line.w.size
    axes = index_labels(d, "x", start=1)
    worked = [f"‖w‖ = √({_squares(ctx, w)}) = √{n(line.norm**2)} = {n(line.norm)}"]
    crossing = next((i for i in range(d) if w[i] != 0), 0)
    worked.append(
        f"unit normal: w{crossing + 1}/‖w‖ = {f(w[crossing])}/{n(line.norm)} = {n(line.normal[crossing])}"
        + (", the same for the others" if d > 1 else "")
    )
    worked.append(
        f"axis x{crossing + 1} (other coordinates 0): {f(w[crossing])}×x{crossing + 1} + {f(b)} = 0, so "
        f"x{crossing + 1} = -{f(b)}/{f(w[crossing])} = {n(line.intercepts[crossing])}"
    )
    parallel = [f"x{i + 1}" for i in range(d) if w[i] == 0]
    if parallel:
        many = len(parallel) > 1
        never = "on the boundary: NaN" if b == 0 else "parallel to the boundary, never crossed: ∞"
        worked.append(f"{'axes' if many else 'axis'} {', '.join(parallel)}: weight 0, so {never}")
    side = "on the boundary" if b == 0 else "class 1 side" if b > 0 else "class 0 side"
    worked.append(f"the origin: z = b = {n(b)}, at b/‖w‖ = {n(b)}/{n(line.norm)} = {n(line.offset)} ({side})")
    if d == 1:
        above = "above" if w[0] > 0 else "below"
        worked.append(f"in 1-D the boundary is the point x1 = {n(line.intercepts[0])}: inputs {above} it are class 1")
    table = np.vstack([w, line.normal, line.intercepts])
    return Step(
        id="boundary",
        title=f"The boundary w·x + b = 0: {_shape_name(d)}",
        formula=r"\mathbf{w}\cdot\mathbf{x} + b = 0,\quad \|\mathbf{w}\| = \sqrt{\textstyle\sum_i w_i^2},"
        r"\quad \hat{\mathbf{n}} = \mathbf{w}/\|\mathbf{w}\|,\quad x_i = -b/w_i \text{ on axis } i",
        formula_text="w·x + b = 0;  ‖w‖ = √(Σ wᵢ²);  normal w/‖w‖;  axis i crossed at xᵢ = −b/wᵢ",
        values=[
            Value("norm", line.norm, label="‖w‖"),
            Value("offset", line.offset, label="origin at b/‖w‖"),
            Value("boundary", table, label="normal and axis crossings", rows=("w", "w/‖w‖", "crossing"), cols=axes),
        ],
        worked=worked,
        why="w is perpendicular to the boundary and points to the side where w·x + b > 0; "
        "b only slides the boundary along w, to a distance |b|/‖w‖ from the origin.",
    )


def _sides_step(ctx: Context, inputs: Inputs, line: core.Boundary, s: core.Sides) -> Step:
    n, f = ctx.n, ctx.f
    rows = tuple(
        (i, _point(ctx, p), float(z), float(dist), int(c))
        for i, (p, z, dist, c) in enumerate(zip(s.points, s.z, s.distance, s.classes, strict=True))
    )
    full = [i for i, p in enumerate(s.points) if np.all(p != 0)]
    k = full[0] if full else 0
    p, z = s.points[k], float(s.z[k])
    dot = z - inputs.b
    relation = "≥ 0, so class 1" if z >= 0 else "< 0, so class 0"
    ones = int(s.classes.sum())
    worked = [
        dot_worked(ctx, f"point {k}: w·p", inputs.w, p, dot),
        f"z = w·p + b = {n(dot)} + {f(inputs.b)} = {n(z)}, {relation}",
        f"distance = z/‖w‖ = {n(z)}/{n(line.norm)} = {n(float(s.distance[k]))}",
    ]
    if len(rows) > 1:
        others = "the other point" if len(rows) == 2 else f"the other {len(rows) - 1}"
        worked.append(f"the same for {others}: {ones} in class 1, {len(rows) - ones} in class 0")
    count = _count(len(rows), "point")
    shape = {1: "the 2 ends of the unit interval", 2: "the 4 corners of the unit square", 3: "the 8 corners of the unit cube"}
    source = {
        "corners": shape.get(line.w.size, f"the {len(rows)} corners of the unit hypercube"),
        "random": f"{count} drawn with seed {inputs.seed}, uniform in ±2, rounded to 2 decimals",
        "given": count,
    }[inputs.source]
    return Step(
        id="sides",
        title="Which side of the boundary is each point on?",
        formula=r"z = \mathbf{w}\cdot\mathbf{x} + b,\quad \text{distance} = z/\|\mathbf{w}\|,"
        r"\quad \text{class} = 1 \text{ if } z \ge 0 \text{ else } 0",
        formula_text="z = w·x + b;  distance = z/‖w‖;  class 1 if z ≥ 0, else 0",
        values=[Value("sides", Table(("#", "point", "z = w·x + b", "distance", "class"), rows), label=source)],
        worked=worked,
        why="The sign of w·x + b says which side a point is on and z/‖w‖ how far: a neuron "
        "followed by a threshold (or a sigmoid read at ½) is a linear classifier.",
    )


def _xor_step(ctx: Context, inputs: Inputs, search: core.XorSearch) -> Step:
    n, f = ctx.n, ctx.f
    own = inputs.w.size == 2
    w, b = (inputs.w, inputs.b) if own else (search.best_w, search.best_b)
    sums = core.xor_sums(w, b)
    z = sums.z
    which = "your line" if own else "the grid's best line"
    rows = tuple(
        (_point(ctx, p), int(t), float(zi), int(c), "yes" if c == t else "no")
        for p, t, zi, c in zip(core.XOR_POINTS, core.XOR_TARGETS, z, sums.classes, strict=True)
    )
    steps, span = inputs.grid, inputs.span
    best = search.counts[search.best_errors]
    worked = [
        "any line: z(0,0) = b, z(0,1) = w2 + b, z(1,0) = w1 + b, z(1,1) = w1 + w2 + b",
        f"here: z(0,1) + z(1,0) = {n(z[1])} + {f(z[2])} = {n(sums.ones)}",
        f"      z(0,0) + z(1,1) = {n(z[0])} + {f(z[3])} = {n(sums.zeros)}, the same",
        "XOR needs the first sum ≥ 0 and the second < 0: no w, b can do both",
        f"{steps}³ = {search.lines:,} grid lines: {_none(search.counts[0])} all 4 right, {best:,} miss "
        f"{search.best_errors}",
        f"fewest wrong with the widest margin: w = {_point(ctx, search.best_w)}, b = {n(search.best_b)}",
    ]
    return Step(
        id="xor",
        title="XOR: every line gets at least one point wrong",
        formula=r"z_{01} + z_{10} = (w_2 + b) + (w_1 + b) = w_1 + w_2 + 2b = z_{00} + z_{11}",
        formula_text="z(0,1) + z(1,0) = (w2 + b) + (w1 + b) = w1 + w2 + 2b = z(0,0) + z(1,1)",
        values=[
            Value("xor", Table(("point", "XOR", "z", "class", "right"), rows), label=f"{which}: w = {_point(ctx, w)}, b = {n(b)}"),
            Value(
                "lines",
                search.counts.copy(),
                label=f"grid: w1, w2, b each {steps} values in ±{n(span)}; lines by points wrong",
                cols=tuple(f"{e} wrong" for e in range(5)),
            ),
        ],
        worked=worked,
        why="XOR's two classes sit on opposite diagonals of the square, so no straight line "
        "separates them: a single neuron cannot compute XOR, however it is trained.",
    )


def _collapse_step(ctx: Context, c: core.Collapse) -> Step:
    n, f = ctx.n, ctx.f
    n_out, n_in = c.W.shape
    dot_b = float(c.w2[0] @ c.b1)
    worked = [
        dot_worked(ctx, "W[0,0] = W₂[0]·W₁[:,0]", c.w2[0], c.w1[:, 0], float(c.W[0, 0]))
        + (", the same for the others" if c.W.size > 1 else ""),
        dot_worked(ctx, "W₂[0]·b₁", c.w2[0], c.b1, dot_b) + f";  b[0] = {n(dot_b)} + {f(c.b2[0])} = {n(c.b[0])}",
    ]
    return Step(
        id="collapse",
        title="Two linear layers collapse into one",
        formula=r"W_2(W_1\mathbf{x} + \mathbf{b}_1) + \mathbf{b}_2 = (W_2W_1)\,\mathbf{x} + (W_2\mathbf{b}_1 + \mathbf{b}_2)",
        formula_text="W₂(W₁x + b₁) + b₂ = (W₂W₁)·x + (W₂b₁ + b₂)",
        values=[
            Value("layer", np.hstack([c.W, c.b[:, None]]), label="the single layer: W = W₂W₁ and b = W₂b₁ + b₂",
                  rows=index_labels(n_out, "y"), cols=(*index_labels(n_in, "x", start=1), "b")),
        ],
        worked=worked,
        why="Two linear layers are one in disguise: W = W₂W₁, b = W₂b₁ + b₂.",
    )


def _same_step(ctx: Context, c: core.Collapse) -> Step:
    n, f = ctx.n, ctx.f
    dot_h = float(c.w1[0] @ c.x)
    dot_s = float(c.w2[0] @ c.hidden)
    dot_m = float(c.W[0] @ c.x)
    worked = [
        dot_worked(ctx, "W₁[0]·x", c.w1[0], c.x, dot_h) + f";  h0 = {n(dot_h)} + {f(c.b1[0])} = {n(c.hidden[0])}"
        + (f"; h = {_point(ctx, c.hidden)}" if 1 < c.hidden.size <= MAX_WORKED else ""),
        dot_worked(ctx, "W₂[0]·h", c.w2[0], c.hidden, dot_s) + f";  stacked = {n(dot_s)} + {f(c.b2[0])} = {n(c.stacked[0])}",
        dot_worked(ctx, "W[0]·x", c.W[0], c.x, dot_m) + f";  merged = {n(dot_m)} + {f(c.b[0])} = {n(c.merged[0])}",
    ]
    return Step(
        id="same",
        title="Stacked or merged: the same output",
        formula=r"\text{stacked} = W_2(W_1\mathbf{x} + \mathbf{b}_1) + \mathbf{b}_2 = W\mathbf{x} + \mathbf{b} = \text{merged}",
        formula_text="stacked = W₂(W₁x + b₁) + b₂ = W·x + b = merged, for every x",
        values=[
            Value("outputs", np.vstack([c.stacked, c.merged]), label=f"at x = {_point(ctx, c.x)}",
                  rows=("stacked", "merged"), cols=index_labels(c.merged.size, "y")),
        ],
        worked=worked,
        why="No non-linearity between them: the layers add nothing, one flat boundary.",
    )


def _relu_step(ctx: Context, c: core.Collapse) -> Step:
    n, f = ctx.n, ctx.f
    hidden = index_labels(c.hidden.size, "h")
    outs = index_labels(c.relu.size, "y")
    cut = [i for i in range(c.hidden.size) if c.hidden[i] < 0]
    shown = (cut or list(range(c.hidden.size)))[:MAX_WORKED]
    worked = ["; ".join(f"ReLU(h{i}) = max(0, {n(c.hidden[i])}) = {n(c.activated[i])}" for i in shown[:3])]
    dot_r = float(c.w2[0] @ c.activated)
    worked.append(dot_worked(ctx, "W₂[0]·ReLU(h)", c.w2[0], c.activated, dot_r))
    worked.append(f"relu = {n(dot_r)} + {f(c.b2[0])} = {n(c.relu[0])}, not {n(c.merged[0])} (merged)")
    values = [
        Value("hidden", np.vstack([c.hidden, c.activated]), label="hidden values", rows=("W₁x + b₁", "ReLU"), cols=hidden),
        Value("relu", float(c.relu[0]) if c.relu.size == 1 else c.relu.copy(), label=f"relu at x = {_point(ctx, c.x)}", cols=outs),
    ]
    step = Step(
        id="relu",
        title="A ReLU between the layers breaks the collapse",
        formula=r"\mathbf{y} = W_2\,\mathrm{ReLU}(W_1\mathbf{x} + \mathbf{b}_1) + \mathbf{b}_2",
        formula_text="y = W₂·ReLU(W₁x + b₁) + b₂,  ReLU(h) = max(0, h)",
        values=values,
        worked=worked,
    )
    xor_net = c.w1.shape[1] == 2 and c.w2.shape[0] == 1
    solves = False
    if xor_net:
        linear = [float(core.collapse(c.w1, c.b1, c.w2, c.b2, p).merged[0]) for p in core.XOR_POINTS]
        relu = [float(core.collapse(c.w1, c.b1, c.w2, c.b2, p).relu[0]) for p in core.XOR_POINTS]
        rows = tuple(
            (_point(ctx, p), int(t), lin, r) for p, t, lin, r in zip(core.XOR_POINTS, core.XOR_TARGETS, linear, relu, strict=True)
        )
        values.append(Value("networks", Table(("point", "XOR", "merged", "relu"), rows), label="both networks on the XOR points"))
        solves = bool(np.allclose(relu, core.XOR_TARGETS, rtol=0, atol=1e-12))
        if solves:
            worked.append("on the XOR points the ReLU network gives 0, 1, 1, 0: exactly XOR")
    if not cut:
        step.warnings.append(
            "at this x no hidden value is negative, so ReLU changes nothing and the two outputs agree: "
            "give an --x where W₁x + b₁ has a negative entry"
        )
    step.why = (
        "Piecewise linear, the ReLU network matches no single W, b"
        + (": here, XOR." if solves else ".")
    )
    return step


def build(ctx: Context, inputs: Inputs) -> Trace:
    line = core.boundary(inputs.w, inputs.b)
    s = core.sides(inputs.points, inputs.w, inputs.b)
    search = core.xor_search(inputs.grid, inputs.span)
    c = core.collapse(inputs.w1, inputs.b1, inputs.w2, inputs.b2, inputs.x)
    recorded = {
        "w": inputs.w, "b": inputs.b, "points": inputs.points, "grid": inputs.grid, "span": inputs.span,
        "W1": inputs.w1, "b1": inputs.b1, "W2": inputs.w2, "b2": inputs.b2, "x": inputs.x,
    }
    if inputs.source == "random":
        recorded["seed"] = inputs.seed
    trace = ctx.new_trace(recorded)
    trace.add(_boundary_step(ctx, line))
    trace.add(_sides_step(ctx, inputs, line, s))
    trace.add(_xor_step(ctx, inputs, search))
    trace.add(_collapse_step(ctx, c))
    trace.add(_same_step(ctx, c))
    trace.add(_relu_step(ctx, c))
    trace.outputs = {
        "boundary": {"norm": line.norm, "normal": line.normal, "intercepts": line.intercepts, "offset": line.offset},
        "classes": s.classes.copy(),
        "collapsed": {"W": c.W, "b": c.b, "stacked": c.stacked, "merged": c.merged, "relu": c.relu},
    }
    trace.result = answer(trace, "sides.sides", "relu.networks")
    return trace


# --------------------------------------------------------------------------- known mistakes


def _no_sqrt(case) -> float | None:
    """Σ wᵢ² where ‖w‖ = √(Σ wᵢ²) belongs: in the norm, the unit normal, the origin's and a point's distance."""
    w, b = case.inputs.w, case.inputs.b
    squares = float(np.sum(w**2))
    if squares == 1.0:
        return None
    if case.value == "norm":
        return squares
    if case.value == "offset":
        return b / squares
    if case.value == "boundary" and case.index[0] == 1:
        return float(w[case.index[1]]) / squares
    if case.value == "sides" and case.index[1] == 3:
        return float(case.trace.step("sides").value("sides").data.rows[case.index[0]][2]) / squares
    return None


def _intercept_sign(case) -> float | None:
    """b/wᵢ for −b/wᵢ."""
    if case.value != "boundary" or case.index[0] != 2:
        return None
    wi = float(case.inputs.w[case.index[1]])
    return case.inputs.b / wi if wi != 0 and case.inputs.b != 0 else None


def _distance_not_divided(case) -> float | None:
    """z itself for the distance z/‖w‖."""
    if case.value != "sides" or case.index[1] != 3:
        return None
    return float(case.trace.step("sides").value("sides").data.rows[case.index[0]][2])


def _no_bias(case) -> float | None:
    """w·x for z = w·x + b (and w·x/‖w‖ for the distance)."""
    if case.value != "sides" or case.inputs.b == 0:
        return None
    dot = float(case.inputs.points[case.index[0]] @ case.inputs.w)
    if case.index[1] == 2:
        return dot
    if case.index[1] == 3:
        return dot / float(np.sqrt(np.sum(case.inputs.w**2)))
    return None


def _bias_skips_w2(case) -> float | None:
    """b₂ alone for the merged bias W₂b₁ + b₂ (b₁ not carried through W₂)."""
    n_in = case.inputs.w1.shape[1]
    if case.value != "layer" or case.index[1] != n_in or not np.any(case.inputs.b1):
        return None
    return float(case.inputs.b2[case.index[0]])


def _wrong_order(case) -> float | None:
    """(W₁W₂)[i, j] for (W₂W₁)[i, j], where both products exist with the same shape."""
    w1, w2 = case.inputs.w1, case.inputs.w2
    if case.value != "layer" or case.index[1] >= w1.shape[1] or not (w1.shape == w2.shape == (w1.shape[0],) * 2):
        return None
    return float((w1 @ w2)[case.index])


def _row_for_column(case) -> float | None:
    """W₂[i]·W₁[j, :] (a row of W₁) for W₂[i]·W₁[:, j] (its column), where W₁ is square."""
    w1, w2 = case.inputs.w1, case.inputs.w2
    if case.value != "layer" or case.index[1] >= w1.shape[1] or w1.shape[0] != w1.shape[1]:
        return None
    return float((w2 @ w1.T)[case.index])


def _inner_bias_dropped(case) -> float | None:
    """W₂(W₁x) + b₂ for W₂(W₁x + b₁) + b₂: b₁ forgotten (merged row: the same with b = b₂)."""
    i = case.index[1] if len(case.index) == 2 else 0
    if case.value != "outputs" or not np.any(case.inputs.b1):
        return None
    return float((case.inputs.w2 @ (case.inputs.w1 @ case.inputs.x))[i] + case.inputs.b2[i])


def _relu_ignored(case) -> float | None:
    """The linear answer where the ReLU should have cut: h for ReLU(h), merged for relu."""
    c = core.collapse(case.inputs.w1, case.inputs.b1, case.inputs.w2, case.inputs.b2, case.inputs.x)
    if case.value == "hidden" and case.index[0] == 1:
        return float(c.hidden[case.index[1]])
    if case.value == "relu":
        return float(c.merged[case.index[0] if case.index else 0])
    return None


MISTAKES = (
    Mistake("no-sqrt", "forgot the square root: ‖w‖ = √(Σ wᵢ²), not Σ wᵢ²", _no_sqrt,
            values=("norm", "offset", "boundary", "sides")),
    Mistake("intercept-sign", "dropped the minus sign: the axis is crossed at xᵢ = −b/wᵢ", _intercept_sign, values=("boundary",)),
    Mistake("distance-not-divided", "did not divide by ‖w‖: the distance is (w·x + b)/‖w‖", _distance_not_divided, values=("sides",)),
    Mistake("no-bias", "left out the bias b (z = w·x + b)", _no_bias, values=("sides",)),
    Mistake("bias-skips-W2", "did not carry b₁ through W₂: the merged bias is W₂b₁ + b₂", _bias_skips_w2, values=("layer",)),
    Mistake("wrong-order", "multiplied W₁W₂: the first layer acts first, so W = W₂W₁", _wrong_order, values=("layer",)),
    Mistake("row-for-column", "used a row of W₁ where W₂W₁ takes its column j", _row_for_column, values=("layer",)),
    Mistake("inner-bias-dropped", "left out b₁: the first layer is W₁x + b₁", _inner_bias_dropped, values=("outputs",)),
    Mistake("relu-ignored", "left out the ReLU (negative hidden values become 0)", _relu_ignored, values=("hidden", "relu")),
)


def script(trace: Trace) -> str:
    """The boundary, each point's side and the collapse of two linear layers, as NumPy source."""
    from nntutor.walkthroughs._script import heading

    return "\n".join([
        heading(trace, "boundary"),
        "norm = math.sqrt(np.sum(w * w))  # ‖w‖",
        "normal = w / norm",
        "# where the line crosses each axis: inf if it never does (nan if it lies on it)",
        "safe_w = np.where(w != 0, w, 1.0)",
        "intercepts = np.where(w != 0, -b / safe_w, np.inf if b != 0 else np.nan)",
        "offset = b / norm  # the signed distance of the origin",
        "boundary = {'norm': norm, 'normal': normal, 'intercepts': intercepts,",
        "            'offset': offset}",
        "",
        heading(trace, "sides"),
        "z = points @ w + b",
        "classes = np.where(z >= 0, 1, 0)",
        "",
        heading(trace, "collapse"),
        "W = W2 @ W1",
        "b_merged = W2 @ b1 + b2",
        "",
        heading(trace, "same"),
        "stacked = W2 @ (W1 @ x + b1) + b2",
        "merged = W @ x + b_merged",
        "",
        heading(trace, "relu"),
        "relu = W2 @ np.maximum(W1 @ x + b1, 0.0) + b2",
        "collapsed = {'W': W, 'b': b_merged, 'stacked': stacked, 'merged': merged,",
        "             'relu': relu}",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "w": Input("vector"),
        "b": Input("scalar"),
        "points": Input("matrix"),
        "random-points": Input("integer", minimum=1, maximum=10000),
        "seed": Input("integer", minimum=0),
        "grid": Input("integer", minimum=2),
        "span": Input("scalar", above=0),
        "W1": Input("matrix"),
        "b1": Input("vector"),
        "W2": Input("matrix"),
        "b2": Input("vector"),
        "x": Input("vector"),
    },
    targets=(
        Target("boundary", "offset"),
        Target("boundary", "boundary", rows=(1, 2)),
        Target("sides", "sides", cols=(2, 3)),
        Target("collapse", "layer"),
        Target("same", "outputs"),
        Target("relu", "hidden", rows=(1,)),
        Target("relu", "relu"),
    ),
    mistakes=MISTAKES,
    keep=("span", "grid", "seed", "random-points"),
    script=script,
)
