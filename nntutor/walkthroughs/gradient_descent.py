"""The gradient-descent lesson: minimise f(x, y) = a·x² + b·y² one step at a time.

Default run: a = 1, b = 10, start (2, 1), lr = 0.08. The first step has
∇f = (2×1×2, 2×10×1) = (4, 20), update −0.08×(4, 20) = (−0.32, −1.6), new point
(1.68, −0.6) and f = 1.68² + 10×0.36 = 6.4224. The limit is 2/(2·10) = 0.1.

>>> inputs = check(Args({"a": 1.0, "b": 10.0, "start": np.array([2.0, 1.0]), "lr": 0.08, "steps": 15}))
>>> trace = build(Context(), inputs)
>>> trace.outputs["path"][1].round(10).tolist(), round(float(trace.outputs["losses"][1]), 4)
([1.68, -0.6], 6.4224)

With b = 0 the bowl is the parabola f(x) = a·x² and only x is followed:

>>> inputs = check(Args({"a": 1.0, "b": 0.0, "start": np.array([2.0, 1.0]), "lr": 0.08, "steps": 15}))
>>> inputs.start, inputs.y_ignored
(array([2.]), True)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nntutor.core import descent
from nntutor.errors import InputError
from nntutor.trace import Plot, Series, Step, Table, Trace, Value
from nntutor.walkthroughs._common import Context, answer
from nntutor.walkthroughs._declare import Args, Input, Mistake, Target, Walkthrough


class Inputs(NamedTuple):
    """Checked inputs: a bowl that is not flat, a start point with one number per coordinate."""

    a: float  # the curvature coefficient of x (≥ 0)
    b: float  # the curvature coefficient of y (≥ 0; 0: the one-dimensional f = a·x²); not both 0
    start: np.ndarray  # the start point (x, y), or (x,) when b = 0
    lr: float  # the learning rate (> 0)
    steps: int  # how many steps to take (1 to 1000)
    y_ignored: bool  # b = 0 but --start also gave a y, which the run leaves out


def check(args: Args) -> Inputs:
    """Not both a and b 0; --start gives x,y (or just x when --b is 0)."""
    a, b = float(args["a"]), float(args["b"])
    start = np.asarray(args["start"], dtype=np.float64)
    if a == 0 and b == 0:
        raise InputError("--a", "a and b are both 0: f is 0 everywhere and there is nothing to descend")
    y_ignored = False
    if b == 0:
        if start.size not in (1, 2):
            raise InputError("--start", f"expected 1 number (x) when --b is 0, got {start.size}")
        y_ignored = start.size == 2
        start = start[:1]
    elif start.size != 2:
        raise InputError("--start", f"expected 2 numbers (x,y), got {start.size} (one number works only with --b 0)")
    return Inputs(a, b, start, float(args["lr"]), int(args["steps"]), y_ignored)


def build(ctx: Context, inputs: Inputs) -> Trace:
    a, b, start, lr, steps = inputs.a, inputs.b, inputs.start, inputs.lr, inputs.steps
    n, f = ctx.n, ctx.f
    notes: list[str] = []
    if b == 0:
        # The one-dimensional case: f(x) = a·x²; y plays no part.
        if inputs.y_ignored:
            notes.append(f"With b = 0, f does not depend on y: only x = {n(start[0])} is followed.")
        coefficients = np.array([a])
        names = ("x",)
    else:
        coefficients = np.array([a, b])
        names = ("x", "y")
    one_d = len(names) == 1

    run = descent.descend(coefficients, start, lr, steps)
    lambdas = descent.hessian_eigenvalues(coefficients)
    trace = ctx.new_trace({"a": a, "b": b, "start": start, "lr": lr, "steps": steps})

    # 1. The function and its gradient.
    if one_d:
        formula = r"f(x) = a x^2, \quad f'(x) = 2 a x"
        formula_text = "f(x) = a·x²,  f′(x) = 2a·x"
        f_start = f"f({n(start[0])}) = {n(a)}×{f(start[0])}² = {n(run.losses[0])}"
        g0 = descent.gradient(coefficients, start)
        g_start = f"f′({n(start[0])}) = 2×{n(a)}×{f(start[0])} = {n(g0[0])}"
    else:
        formula = r"f(x, y) = a x^2 + b y^2, \quad \nabla f = (2 a x,\; 2 b y)"
        formula_text = "f(x, y) = a·x² + b·y²,  ∇f = (2a·x, 2b·y)"
        x0, y0 = start
        f_start = f"f({n(x0)}, {n(y0)}) = {n(a)}×{f(x0)}² + {n(b)}×{f(y0)}² = {n(run.losses[0])}"
        g0 = descent.gradient(coefficients, start)
        g_start = f"∇f({n(x0)}, {n(y0)}) = (2×{n(a)}×{f(x0)}, 2×{n(b)}×{f(y0)}) = ({n(g0[0])}, {n(g0[1])})"
    trace.add(
        Step(
            id="function",
            title="The bowl and its slope",
            formula=formula,
            formula_text=formula_text,
            values=[
                Value("start", start, label="start", cols=names, detail=True),  # both in the worked lines
                Value("f_start", run.losses[0], label="f(start)"),
                Value("gradient_start", g0, label="gradient at start", cols=names, detail=True),
            ],
            worked=[f_start, g_start],
            why="The gradient points uphill, steepest where the bowl is steepest; "
            "gradient descent walks the other way. "
            + ("With b = 0 this is the one-dimensional parabola a·x². " if one_d else "")
            + " ".join(notes),
        )
    )

    # 2. The stability limit.
    lam_max = float(np.max(lambdas))
    factor_rows = []
    factor_worked = []
    for name, c, lam, k in zip(names, coefficients, lambdas, run.factors, strict=True):
        factor_rows.append((name, float(c), float(lam), float(k), _verdict(float(k))))
        factor_worked.append(f"{name}: 1 − 2×{n(c)}×{n(lr)} = {n(k)}")
    limit_worked = (
        f"λ = 2·c: ({', '.join(n(v) for v in lambdas)}); lr < 2/λ_max = 2/{n(lam_max)} = {n(run.limit)}"
    )
    stability = Step(
        id="stability",
        title="How large may the learning rate be?",
        formula=r"p_i \leftarrow p_i - \eta \cdot 2 c_i p_i = (1 - 2 c_i \eta)\, p_i, \quad "
        r"\text{stable iff } |1 - 2 c_i \eta| < 1 \iff \eta < \frac{2}{\lambda_{\max}} = \frac{2}{2 \max_i c_i}",
        formula_text="pᵢ ← pᵢ − η·2cᵢ·pᵢ = (1 − 2cᵢη)·pᵢ;  stable iff |1 − 2cᵢη| < 1, i.e. η < 2/λ_max = 2/(2·max cᵢ)",
        values=[
            Value(
                "factors",
                Table(("coordinate", "c", "curvature λ = 2c", "factor 1 − 2c·lr", "each step"), tuple(factor_rows)),
            ),
            Value("limit", run.limit, label="2/λ_max"),
            Value("lr", lr),
        ],
        worked=[limit_worked, *factor_worked],
        why="Each step multiplies a coordinate by its factor. A factor between 0 and 1 shrinks it "
        "smoothly, between −1 and 0 it flips sign and still shrinks (zig-zag), and beyond −1 it "
        "overshoots further than it started: the steepest direction sets the limit for all of them.",
    )
    if lr > run.limit:
        stability.warnings.append(
            f"lr = {n(lr)} is above the limit {n(run.limit)}: the run diverges "
            f"(|factor| = {n(float(np.max(np.abs(run.factors))))} > 1)."
        )
    elif lr == run.limit:
        stability.warnings.append(
            f"lr = {n(lr)} is exactly the limit: the steepest coordinate flips sign forever without shrinking."
        )
    trace.add(stability)

    # 3. The steps.
    columns = ("step", *names, *(f"∂f/∂{v}" for v in names), *(f"Δ{v}" for v in names), *(f"new {v}" for v in names), "f(new)")
    rows = []
    for t in range(run.steps_done):
        rows.append(
            (
                t + 1,
                *(float(v) for v in run.points[t]),
                *(float(v) for v in run.gradients[t]),
                *(float(v) for v in run.updates[t]),
                *(float(v) for v in run.points[t + 1]),
                float(run.losses[t + 1]),
            )
        )
    worked = []
    if run.steps_done:
        p, g, u, q = run.points[0], run.gradients[0], run.updates[0], run.points[1]
        worked = [
            f"step 1: gradient = ({', '.join(f'2×{n(c)}×{f(v)}' for c, v in zip(coefficients, p, strict=True))}) = ({_vec(ctx, g)})",
            f"update = −{n(lr)}×({_vec(ctx, g)}) = ({_vec(ctx, u)})",
            f"new point = ({', '.join(f'{n(v)} + {f(d)}' for v, d in zip(p, u, strict=True))}) = ({_vec(ctx, q)})",
            f"f = {' + '.join(f'{n(c)}×{f(v)}²' for c, v in zip(coefficients, q, strict=True))}"
            + ("" if one_d else f" = {' + '.join(f(c * v * v) for c, v in zip(coefficients, q, strict=True))}")
            + f" = {n(run.losses[1])}",
        ]
    steps_step = Step(
        id="steps",
        title="Step by step",
        formula=r"\mathbf{p}_{t+1} = \mathbf{p}_t - \eta\, \nabla f(\mathbf{p}_t)",
        formula_text="p(t+1) = p(t) − η·∇f(p(t))",
        values=[Value("steps", Table(columns, tuple(rows)), label="gradient, update, new point and f per step")],
        worked=worked,
        why="Every step uses only the slope at the current point: a big slope means a big step.",
    )
    if run.overflow_step is not None:
        message = (
            f"Stopped after step {run.steps_done} of {steps}: step {run.overflow_step} would overflow "
            f"float64 (numbers beyond about 1.8e308). The run diverged because lr = {n(lr)} > {n(run.limit)}."
        )
        steps_step.warnings.append(message)
        trace.warnings.append(message)
    trace.add(steps_step)

    # 4. Where the run ended.
    final = run.points[-1]
    trend = _trend(run.losses)
    trace.add(
        Step(
            id="result",
            title="Where the run ended",
            formula=r"f(\mathbf{p}_T)",
            formula_text="f(p_T)",
            values=[
                # the step table and the plot show both; --full draws them whole
                Value("path", run.points, label="path", rows=tuple(str(t) for t in range(len(run.points))), cols=names,
                      detail=True),
                Value("losses", run.losses, label="f at each point", cols=tuple(str(t) for t in range(len(run.losses))),
                      detail=True),
                Value("final", final, label="final point", cols=names),
            ],
            worked=[
                f"after {run.steps_done} steps: p = ({_vec(ctx, final)}), f = {n(run.losses[-1])} "
                f"(started at f = {n(run.losses[0])}); {trend}"
            ],
            plots=_plots(run, names),
            why=_ending(ctx, run, names),
        )
    )
    trace.outputs = {"path": run.points, "losses": run.losses}
    trace.result = answer(trace, "result.final", Value("loss", float(run.losses[-1]), label="f at the final point"))
    return trace


def _vec(ctx: Context, v) -> str:
    return ", ".join(ctx.n(float(x)) for x in np.asarray(v).ravel())


def _verdict(k: float) -> str:
    if k == 0:
        return "lands on 0 in one step"
    if abs(k) < 1:
        return "shrinks" if k > 0 else "shrinks, flipping sign"
    if abs(k) == 1:
        return "stays put" if k == 1 else "flips sign, never shrinks"
    return "grows, flipping sign" if k < 0 else "grows"


CONVERGED = (
    "How fast a coordinate gets there is set by its factor |1 − 2c·lr|: the shallow direction "
    "(small c) is the slow one, the steep direction (large c) limits how large lr may be."
)


def _ending(ctx: Context, run: descent.DescentRun, names: tuple[str, ...]) -> str:
    """What the run did, coordinate by coordinate: converged, flipped forever, or diverged.

    With a = 1, b = 10, lr = 0.11 the y factor is 1 − 2×10×0.11 = −1.2: y grows and flips
    sign at every step while x (factor 0.78) still shrinks, so the text says the run diverged.
    """
    n = ctx.n
    first, last, steps = run.points[0], run.points[-1], run.steps_done
    flat = [v for v, c in zip(names, run.coefficients, strict=True) if c == 0]
    where = (
        f"The minimum is wherever {' and '.join(v for v in names if v not in flat)} = 0 "
        f"(f does not depend on {', '.join(flat)}, which stays where it started). "
        if flat
        else "The minimum is at the origin, where f = 0. "
    )

    def moved(i: int) -> str:
        return f"{n(float(first[i]))} → {n(float(last[i]))} in {steps} steps"

    def factor(i: int) -> str:
        return f"1 − 2×{n(float(run.coefficients[i]))}×{n(run.lr)} = {n(float(run.factors[i]))}"

    live = [i for i in range(len(names)) if first[i] != 0 and run.coefficients[i] != 0]
    growing = [i for i in live if abs(run.factors[i]) > 1]
    flipping = [i for i in live if run.factors[i] == -1]
    shrinking = [i for i in live if abs(run.factors[i]) < 1]
    if not growing and not flipping:
        return where + CONVERGED
    if growing:
        parts = []
        for i in growing:
            k = float(run.factors[i])
            parts.append(
                f"{names[i]}'s factor {factor(i)} has |factor| > 1, so every step multiplies |{names[i]}| by "
                f"{n(abs(k))}" + (" and flips its sign" if k < 0 else "") + f" ({moved(i)})"
            )
        text = where + "This run moves away from it: " + "; ".join(parts) + "."
    else:
        i = flipping[0]
        text = (
            where + f"This run never gets there: {names[i]}'s factor {factor(i)} flips its sign at every step "
            f"without shrinking it ({moved(i)}): lr = {n(run.lr)} is exactly the limit 2/λ_max."
        )
    for j in shrinking:
        text += f" {names[j]}'s factor {n(float(run.factors[j]))} still shrinks it ({moved(j)})."
    if growing:
        text += (
            f" One coordinate with |factor| > 1 is enough: f grows without bound. Keep lr below "
            f"2/λ_max = {n(run.limit)}."
        )
        if run.losses[-1] < run.losses[0]:
            text += (
                f" (f still fell over these {steps} steps, while the shrinking coordinates outweighed the "
                "growing one; with more steps it rises.)"
            )
    return text


def _trend(losses: np.ndarray) -> str:
    if len(losses) < 2:
        return "no step was taken."
    if losses[-1] < losses[0]:
        return "f went down."
    if losses[-1] > losses[0]:
        return "f went up: the run diverged."
    return "f did not change."


def _plots(run: descent.DescentRun, names: tuple[str, ...]) -> list[Plot]:
    steps = np.arange(len(run.losses), dtype=np.float64)
    plots = [Plot("f at each step", (Series("f", steps, run.losses),), xlabel="step", ylabel="f")]
    if len(names) == 2:
        a, b = (float(c) for c in run.coefficients)
        finite = run.points[np.all(np.isfinite(run.points), axis=1)]
        series = [Series("path", finite[:, 0], finite[:, 1], style="path")]
        if a > 0 and b > 0 and len(finite):
            # the contour lines through the first points: each step crosses to a lower one
            for level in sorted({float(a * x * x + b * y * y) for x, y in finite[:4]}, reverse=True):
                if level > 0:
                    xs, ys = descent.contour(a, b, level, points=400)
                    series.append(Series(f"f = {level:.3g}", xs, ys, style="contour"))
        plots.append(Plot("the path over the bowl's contour lines", tuple(series), xlabel="x", ylabel="y",
                          frame=_frame(finite)))
    return plots


def _frame(points: np.ndarray) -> tuple[float, float, float, float] | None:
    """The path's bounding box with a margin: the zig-zag fills the picture."""
    if not len(points):
        return None
    low, high = points.min(axis=0), points.max(axis=0)
    margin = np.maximum((high - low) * 0.08, 1e-9)
    return (float(low[0] - margin[0]), float(high[0] + margin[0]), float(low[1] - margin[1]), float(high[1] + margin[1]))


# --------------------------------------------------------------------------- known mistakes


def _wrong_sign(case) -> float | None:
    """On f = Σ cᵢ·pᵢ², a step multiplies coordinate i by (1 − 2·cᵢ·η); the wrong sign by (1 + 2·cᵢ·η)."""
    if len(case.index) != 2:
        return None
    inputs = case.trace.inputs
    step, coordinate = case.index
    coefficients = [float(inputs["a"]), float(inputs.get("b", 0.0))]
    start = np.asarray(inputs["start"], dtype=np.float64)
    if coordinate >= start.size:
        return None
    factor = 1.0 + 2.0 * coefficients[coordinate] * float(inputs["lr"])
    return float(start[coordinate] * factor**step)


DESCENT_MISTAKES = (
    Mistake("wrong-sign", "stepped up the gradient (p + η·∇f instead of p − η·∇f)", _wrong_sign, values=("path",)),
)


def script(trace: Trace) -> str:
    """Gradient descent on a·x² + b·y² as NumPy source (``--format py``)."""
    from nntutor.walkthroughs._script import heading

    return "\n".join([
        heading(trace, "function"),
        "c = np.array([a, b])",
        "",
        "",
        "def f(p):",
        "    return np.sum(c * p * p)",
        "",
        "",
        "def grad_f(p):",
        "    return 2.0 * c * p",
        "",
        "",
        heading(trace, "steps"),
        "p = start.copy()",
        "points, values = [p], [f(p)]",
        "with np.errstate(over='ignore', invalid='ignore'):",
        "    for t in range(steps):",
        "        new = p - lr * grad_f(p)",
        "        if not (np.all(np.isfinite(new)) and np.isfinite(f(new))):",
        "            break  # the run diverged: stop before a value overflows",
        "        p = new",
        "        points.append(p)",
        "        values.append(f(p))",
        "",
        heading(trace, "result"),
        "path = np.array(points)",
        "losses = np.array(values)",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "a": Input("scalar", minimum=0),
        "b": Input("scalar", minimum=0),
        "start": Input("vector"),
        "lr": Input("scalar", above=0),
        "steps": Input("integer", minimum=1, maximum=1000),
    },
    targets=(
        Target("function", "f_start", symbol="f(start)"),
        Target("function", "gradient_start", symbol="∇f(start)"),
        Target("stability", "limit"),
        Target("result", "path", rows=(1, 2)),
    ),
    mistakes=DESCENT_MISTAKES,
    script=script,
)
