"""The tiny-mlp lesson: two ReLU hinges make a ramp, a peak or a valley.

Default: f(x) = 1·ReLU(1·x + 1) + (−1.5)·ReLU(2·x − 1) + 0 at x0 = 1, which is
1·2 − 1.5·1 = 0.5; kinks at −1 and 0.5; a peak at f(0.5) = 1.5 that then falls
without bound (slope −2): a bump would need a third hinge, 2·ReLU(x − 1.25).

Outputs: ``y`` (f(x0)), ``grads`` (parameter → ∂f/∂θ at x0) and ``kinks``
(``{"hinge1": x, "hinge2": x}``; a hinge with w = 0 has no kink and no entry).

>>> values = {"w1": 1.0, "b1": 1.0, "v1": 1.0, "w2": 2.0, "b2": -1.0, "v2": -1.5, "c": 0.0, "x0": 1.0}
>>> outputs = build(Context(), check(Args(values))).outputs
>>> outputs["y"], outputs["kinks"]
(0.5, {'hinge1': -1.0, 'hinge2': 0.5})
"""

from __future__ import annotations

import math
from typing import NamedTuple

from nntutor.core import tiny_mlp as tm
from nntutor.trace import Plot, Series, Step, Table, Trace, Value
from nntutor.walkthroughs._common import Context, answer
from nntutor.walkthroughs._declare import Args, Input, Walkthrough

SHAPE_WHY = {
    "peak": "The curve rises and then falls: a peak, where one hinge's slope overturns the other's.",
    "valley": "The curve falls and then rises: a valley, the peak turned upside down (negate v1, v2).",
    "ramp": "The curve only ever goes one way. With slopes 0, s, 0 it is a ramp from one level to another "
    "(a soft step); with slopes that keep their sign it is a ramp that bends.",
    "flat": "Neither hinge ever changes the slope: f is constant.",
}


class Inputs(NamedTuple):
    """The seven parameters of f(x) = v1·ReLU(w1·x + b1) + v2·ReLU(w2·x + b2) + c, and x0.

    Any finite numbers will do (w = 0: a hinge without a kink); the fields are named
    and ordered as :data:`nntutor.core.tiny_mlp.PARAMS`, then x0.
    """

    w1: float  # weight of hinge 1 (its kink is at −b1/w1)
    b1: float  # bias of hinge 1
    v1: float  # output weight of hinge 1
    w2: float  # weight of hinge 2 (its kink is at −b2/w2)
    b2: float  # bias of hinge 2
    v2: float  # output weight of hinge 2
    c: float  # the output bias
    x0: float  # the input at which f and its gradient are computed


def check(args: Args) -> Inputs:
    """Each input is a number on its own; no rule ties them together."""
    return Inputs(*(float(args[name]) for name in Inputs._fields))


def build(ctx: Context, inputs: Inputs) -> Trace:
    params = {name: getattr(inputs, name) for name in tm.PARAMS}
    x0 = inputs.x0
    n, f = ctx.n, ctx.f
    r = tm.analyse(params, x0)
    h1, h2 = r.hinges
    trace = ctx.new_trace({**params, "x0": x0})

    # 1. Kinks.
    kink_rows = []
    kink_worked = []
    for i, h in enumerate(r.hinges, start=1):
        if h.beyond_range:
            kink_rows.append((f"hinge {i}", "none", "—", f"slope {n(h.v * h.w)} everywhere" if h.b > 0 else "0 everywhere"))
            kink_worked.append(
                f"hinge {i}: −b{i}/w{i} = −{f(h.b)}/{f(h.w)} is beyond the largest float (about 1.8e308): "
                "no kink at any x a computer can hold"
            )
        elif h.kink is None:
            kink_rows.append((f"hinge {i}", "none", "—", f"constant ReLU({n(h.b)}) = {n(max(h.b, 0.0))}"))
            kink_worked.append(f"hinge {i}: w{i} = 0, so w{i}·x + b{i} = {n(h.b)} for every x: no kink (the hinge is a constant)")
        else:
            kink_rows.append(
                (f"hinge {i}", h.kink, "x > kink" if h.faces == "right" else "x < kink", f"slope {n(h.v * h.w)} where on")
            )
            kink_worked.append(f"hinge {i}: w{i}·x + b{i} = 0 at x = −b{i}/w{i} = −{f(h.b)}/{f(h.w)} = {n(h.kink)}")
    trace.add(
        Step(
            id="kinks",
            title="Where each hinge bends",
            formula=r"w_i x + b_i = 0 \iff x = -\frac{b_i}{w_i} \quad (w_i \ne 0)",
            formula_text="wᵢ·x + bᵢ = 0  ⇔  x = −bᵢ/wᵢ  (wᵢ ≠ 0)",
            values=[Value("kinks", Table(("hinge", "kink at x", "on for", "contribution"), tuple(kink_rows)))],
            worked=kink_worked,
            why="ReLU is 0 until its input turns positive: each hinge is flat on one side of its kink and a "
            "straight line on the other. A positive w turns it on to the right, a negative w to the left; "
            "with w = 0 the input never changes, so there is no kink at all.",
        )
    )

    # 2. Value at x0.
    trace.add(
        Step(
            id="value",
            title=f"The value at x0 = {n(x0)}",
            formula=r"f(x) = v_1\,\mathrm{ReLU}(w_1 x + b_1) + v_2\,\mathrm{ReLU}(w_2 x + b_2) + c",
            formula_text="f(x) = v1·ReLU(w1·x + b1) + v2·ReLU(w2·x + b2) + c",
            values=[
                Value("z", [h1.z, h2.z], label="wᵢ·x0 + bᵢ", cols=("hinge 1", "hinge 2")),
                Value("relu", [h1.relu, h2.relu], label="ReLU", cols=("hinge 1", "hinge 2")),
                Value("y", r.y, label="f(x0)"),
            ],
            worked=[
                f"z1 = {f(h1.w)}×{f(x0)} + {f(h1.b)} = {n(h1.z)}, ReLU = {n(h1.relu)}",
                f"z2 = {f(h2.w)}×{f(x0)} + {f(h2.b)} = {n(h2.z)}, ReLU = {n(h2.relu)}",
                f"f = {f(h1.v)}×{f(h1.relu)} + {f(h2.v)}×{f(h2.relu)} + {f(params['c'])} = {n(r.y)}",
            ],
            why="Two neurons in the hidden layer, one output neuron without activation: the smallest network "
            "whose output can bend twice.",
        )
    )

    # 3. Gradients: sympy and numeric side by side.
    from nntutor.symbolic import backprop as sb

    sym = sb.tiny_mlp_derivatives(params, x0)
    s1, s2 = (1 if h1.z > 0 else 0), (1 if h2.z > 0 else 0)
    numeric_worked = {
        "w1": f"v1·step(z1)·x0 = {f(h1.v)}×{s1}×{f(x0)}",
        "b1": f"v1·step(z1) = {f(h1.v)}×{s1}",
        "v1": f"ReLU(z1) = ReLU({n(h1.z)})",
        "w2": f"v2·step(z2)·x0 = {f(h2.v)}×{s2}×{f(x0)}",
        "b2": f"v2·step(z2) = {f(h2.v)}×{s2}",
        "v2": f"ReLU(z2) = ReLU({n(h2.z)})",
        "c": "1 (c is added as it is)",
    }
    rows = tuple((name, sym[name].text, sym[name].value, r.grads[name]) for name in tm.PARAMS)
    grad_step = Step(
        id="gradients",
        title=f"The gradient at x0 = {n(x0)}, every parameter",
        formula=r"\begin{aligned} " + r" \\ ".join(sym[name].latex for name in tm.PARAMS) + r" \end{aligned}",
        formula_text="\n".join(sym[name].text for name in tm.PARAMS),
        values=[
            Value("grads", Table(("parameter", "sympy formula", "sympy value", "numeric"), rows)),
            Value("dydx", r.dydx, label="∂f/∂x at x0 (the slope of the curve)"),
        ],
        worked=[
            f"∂f/∂{name} = {numeric_worked[name]}" + ("" if name == "c" else f" = {n(r.grads[name])}")
            for name in tm.PARAMS
        ],
        why="step(z) = 1 for z > 0, else 0, is ReLU's derivative. A hinge that is off at x0 passes no "
        "gradient to its own w and b: nudging them changes nothing here (a 'dead' unit for this input). "
        "Its v still gets ReLU(z) = 0.",
    )
    for i in r.at_kink:
        grad_step.warnings.append(
            f"x0 is exactly at hinge {i}'s kink: f has no derivative there; the one-sided convention "
            "ReLU′(0) = 0 (as PyTorch) is used."
        )
    trace.add(grad_step)

    # 4. The shape.
    region_rows = []
    for reg in r.regions:
        active = " + ".join(f"hinge {i}" for i in reg.active) or "none"
        region_rows.append((_interval(ctx, reg.left, reg.right), active, reg.slope, f"{n(reg.slope)}·x + {f(reg.intercept)}"))
    slopes = ", ".join(n(reg.slope) for reg in r.regions)
    shape_worked = [f"slopes from left to right: {slopes} → {r.shape}"]
    for reg in r.regions:
        if reg.active:
            terms = " + ".join(f"{f(r.hinges[i - 1].v)}×{f(r.hinges[i - 1].w)}" for i in reg.active)
            shape_worked.append(f"slope on {_interval(ctx, reg.left, reg.right)} = {terms} = {n(reg.slope)}")
    grid, f_grid, t1, t2 = tm.curve(params, x0)
    turning = [k for k in sorted({k for k in r.kinks if k is not None})]
    if r.shape in ("peak", "valley") and turning:
        for k in turning:
            shape_worked.append(f"f({n(k)}) = {n(float(tm.value(params, k)))}")
    extra = tm.levelling_hinge(r)
    if extra is not None:
        shape_worked.append(_levelled_worked(ctx, params, r, extra))
    trace.add(
        Step(
            id="shape",
            title=f"Two hinges make a {r.shape}",
            formula=r"f'(x) = \sum_{i \text{ on at } x} v_i w_i",
            formula_text="f′(x) = Σ over the hinges that are on at x of vᵢ·wᵢ",
            values=[
                Value("regions", Table(("x", "hinges on", "slope", "f(x) there"), tuple(region_rows))),
                Value("shape", r.shape),
            ],
            worked=shape_worked,
            why=SHAPE_WHY[r.shape] + _not_a_bump(ctx, r, extra) + " A wider network adds more hinges, and "
            "enough of them can approximate any continuous curve on a bounded interval, piece by piece.",
            plots=[
                Plot(
                    "f(x) and its two hinges",
                    (Series("f", grid, f_grid), Series("v1·ReLU(w1·x + b1)", grid, t1), Series("v2·ReLU(w2·x + b2)", grid, t2)),
                    xlabel="x",
                    ylabel="f(x)",
                )
            ],
        )
    )
    # kinks: hinge → x of its kink; a hinge without a kink (w = 0) has no entry.
    kinks = {f"hinge{i}": k for i, k in enumerate(r.kinks, start=1) if k is not None}
    trace.outputs = {"y": r.y, "grads": dict(r.grads), "kinks": kinks}
    trace.result = answer(trace, "value.y", "gradients.dydx", "shape.shape")
    return trace


def _hinge_text(ctx: Context, w: float, b: float, v: float) -> str:
    """2·ReLU(x − 1.25) or −1·ReLU(−x + 0.5): the third hinge as a formula."""
    inner = ("x" if w > 0 else "−x") + (f" + {ctx.n(b)}" if b > 0 else f" − {ctx.n(-b)}" if b < 0 else "")
    return f"{ctx.n(v)}·ReLU({inner})"


def _levelled_worked(ctx: Context, params: dict[str, float], r: tm.TinyMLP, extra: tuple[float, float, float]) -> str:
    """The arithmetic that shows the third hinge levels the curve off."""
    n = ctx.n
    w, b, v = extra
    x_back = -b / w
    open_side = r.regions[-1] if w > 0 else r.regions[0]
    side = f"x > {n(x_back)}" if w > 0 else f"x < {n(x_back)}"
    return (
        f"a third hinge {_hinge_text(ctx, w, b, v)}, on for {side}, starts where "
        f"f({n(x_back)}) = {n(float(tm.value(params, x_back)))} and adds its slope {n(v * w)} there: "
        f"{n(open_side.slope)} + {ctx.f(v * w)} = {n(open_side.slope + v * w)}"
    )


def _not_a_bump(ctx: Context, r: tm.TinyMLP, extra: tuple[float, float, float] | None) -> str:
    """Why a peak (valley) of two hinges is not a bump (dip), and what would make one."""
    if r.shape not in ("peak", "valley"):
        return ""
    n = ctx.n
    goes = "falls" if r.shape == "peak" else "rises"
    bump = "bump" if r.shape == "peak" else "dip"
    first, last = r.regions[0], r.regions[-1]
    ends = []
    if first.slope != 0:
        ends.append(f"left of x = {n(first.right)} it has slope {n(first.slope)}")
    if last.slope != 0:
        ends.append(f"right of x = {n(last.left)} it has slope {n(last.slope)}")
    text = (
        f" It is not a {bump}: {' and '.join(ends)}, so f {goes} without bound. A {bump} that levels off "
        f"again needs its slopes to end at 0 on both sides ({'0, up, down, 0' if r.shape == 'peak' else '0, down, up, 0'}), "
        "which takes at least three hinges."
    )
    if extra is not None:
        w, b, v = extra
        x_back = -b / w
        level = first.intercept if w > 0 else last.intercept
        lo, hi = (first.right, x_back) if w > 0 else (x_back, last.left)
        text += (
            f" Here a third hinge, {_hinge_text(ctx, w, b, v)}, would do it: it switches on where f is "
            f"back at its level {n(level)} and cancels the slope, leaving a {bump} from x = {n(lo)} to {n(hi)}."
        )
    else:
        text += " Here f is unbounded on both sides, so levelling it off takes a hinge at each end."
    return text


def _interval(ctx: Context, left: float, right: float) -> str:
    if math.isinf(left) and math.isinf(right):
        return "all x"
    if math.isinf(left):
        return f"x < {ctx.n(right)}"
    if math.isinf(right):
        return f"x > {ctx.n(left)}"
    return f"{ctx.n(left)} < x < {ctx.n(right)}"


def script(trace: Trace) -> str:
    """The two hinges, their value, gradient and kinks at x0, as NumPy source (``--format py``)."""
    from nntutor.walkthroughs._script import heading

    return "\n".join([
        heading(trace, "kinks"),
        "kinks = {}",
        "for name, w, b in (('hinge1', w1, b1), ('hinge2', w2, b2)):",
        "    if w != 0 and math.isfinite(-b / w):  # w = 0: a flat hinge, no kink",
        "        kinks[name] = -b / w",
        "",
        heading(trace, "value"),
        "z1, z2 = w1 * x0 + b1, w2 * x0 + b2",
        "y = v1 * max(z1, 0.0) + v2 * max(z2, 0.0) + c",
        "",
        heading(trace, "gradients"),
        "s1 = 1.0 if z1 > 0 else 0.0  # ReLU'(z), 0 at z = 0",
        "s2 = 1.0 if z2 > 0 else 0.0",
        "grads = {",
        "    'w1': v1 * s1 * x0, 'b1': v1 * s1, 'v1': max(z1, 0.0),",
        "    'w2': v2 * s2 * x0, 'b2': v2 * s2, 'v2': max(z2, 0.0),",
        "    'c': 1.0,",
        "}",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "w1": Input("scalar"),
        "b1": Input("scalar"),
        "v1": Input("scalar"),
        "w2": Input("scalar"),
        "b2": Input("scalar"),
        "v2": Input("scalar"),
        "c": Input("scalar"),
        "x0": Input("scalar"),
    },
    script=script,
)
