"""The activations lesson: f(z) and f'(z) of six activations at a few points.

Each derivative formula is derived by sympy (``nntutor.symbolic.derivatives``), then
evaluated with NumPy (``nntutor.core.activations``). Default points
-2, -1, 0, 1, 2: e.g. GELU(1) = 1×Φ(1) = 0.8413 and σ'(0) = 0.5×0.5 = 0.25.

>>> inputs = check(Args({"at": np.array([-2.0, -1, 0, 1, 2]), "alpha": 0.01}))
>>> trace = build(Context(), inputs)
>>> round(float(trace.outputs["values"]["gelu"][3]), 4), float(trace.outputs["derivatives"]["sigmoid"][2])
(0.8413, 0.25)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nntutor.core import activations
from nntutor.errors import InputError
from nntutor.trace import Plot, Series, Step, Trace, Value
from nntutor.walkthroughs._activation_notes import NAMES, activation_worked, derivative_worked
from nntutor.walkthroughs._common import Context, answer
from nntutor.walkthroughs._declare import Args, Input, Target, Walkthrough

SHOWN = ("relu", "leaky-relu", "sigmoid", "tanh", "gelu", "gelu-tanh")
MAX_POINTS = 10_000

WHY = {
    "relu": "ReLU passes positive numbers and silences negative ones; its slope is 1 or 0, so "
    "gradients cross active units unshrunk and inactive units pass none.",
    "leaky-relu": "A small slope α for z ≤ 0 keeps a trickle of gradient flowing, so a unit "
    "stuck on the negative side can still learn.",
    "sigmoid": "σ squashes any number into (0, 1), like a probability; its slope is at most 0.25 "
    "(at z = 0) and vanishes for large |z|: stacked sigmoids shrink gradients.",
    "tanh": "tanh squashes into (−1, 1) and is centred on 0; its slope is 1 at z = 0 and vanishes "
    "for large |z|, like σ (tanh(z) = 2σ(2z) − 1).",
    "gelu": "GELU weights z by Φ(z), the chance that a standard normal is below z: a smooth ReLU "
    "dipping slightly below 0 for negative z, used in BERT and GPT-2.",
    "gelu-tanh": "The tanh form approximates Φ(z) with a cheap formula; it differs from the exact "
    "GELU by less than 0.001 everywhere, which is why both appear in libraries.",
}


def _point_labels(ctx: Context, points: np.ndarray) -> tuple[str, ...]:
    return tuple(f"z={ctx.n(p)}" for p in points)


def _example_point(points: np.ndarray) -> float:
    """The point worked out in full: 1 if present, else the first non-zero point."""
    if np.any(points == 1.0):
        return 1.0
    nonzero = points[points != 0]
    return float(nonzero[0]) if nonzero.size else float(points[0])


class Inputs(NamedTuple):
    """Checked inputs: the points z (at most MAX_POINTS) and leaky ReLU's slope."""

    points: np.ndarray  # the points z where every activation is evaluated (--at)
    alpha: float  # leaky ReLU's slope for z ≤ 0 (between 0 and 1: the lesson file bounds it)


def check(args: Args) -> Inputs:
    """At most MAX_POINTS points (every one is shown and exported)."""
    points = args["at"]
    if points.size > MAX_POINTS:
        raise InputError("--at", f"{points.size:,} points is too many (at most {MAX_POINTS:,})")
    return Inputs(points, float(args["alpha"]))


def build(ctx: Context, inputs: Inputs) -> Trace:
    from nntutor.symbolic import derivatives as symbolic  # sympy loads only when this lesson runs

    points, alpha = inputs
    table = activations.tabulate(SHOWN, points, alpha=alpha)
    labels = _point_labels(ctx, points)
    example = _example_point(points)
    n = ctx.n

    trace = ctx.new_trace({"at": points, "alpha": alpha})
    trace.add(
        Step(
            id="points",
            title="The points z where every activation is evaluated",
            formula=r"z \in \{" + ", ".join(n(p) for p in points[:12]) + (r", \ldots" if points.size > 12 else "") + r"\}",
            formula_text="z ∈ {" + ", ".join(n(p) for p in points[:12]) + (", …" if points.size > 12 else "") + "}",
            values=[Value("at", points, label="z", cols=labels, detail=True), Value("alpha", alpha, label="α (leaky-relu slope)")],
            why="Each number is bent alone: a few points either side of 0 show the character.",
        )
    )
    for name in SHOWN:
        latex_f, latex_df = symbolic.activation_derivative_latex(name)
        text_f, text_df = symbolic.activation_derivative_text(name)
        worked = [
            activation_worked(ctx, name, example, alpha=alpha),
            derivative_worked(ctx, name, example, alpha=alpha),
        ]
        if name == "sigmoid" and symbolic.sigmoid_derivative_is_s_times_one_minus_s():
            worked.append("sympy: e^(−z)/(1 + e^(−z))² − σ·(1 − σ) simplifies to 0, so σ' = σ·(1 − σ)")
        if name == "leaky-relu" and example != 0 and np.any(points == 0):  # ReLU's: the step on the convention
            worked.append(derivative_worked(ctx, name, 0.0, alpha=alpha))
        label = NAMES[name]
        trace.add(
            Step(
                id=name,
                title=f"{label}: value and slope (derivative derived by sympy)",
                formula=rf"f(z) = {latex_f}, \qquad f'(z) = \frac{{d f}}{{d z}} = {latex_df}",
                formula_text=f"f(z) = {text_f};  f'(z) = {text_df}",
                values=[
                    Value(
                        name,
                        np.vstack([points, table.values[name], table.derivatives[name]]),
                        label=f"{label}: z, f(z), f'(z)",
                        rows=("z", "f(z)", "f'(z)"),
                        cols=labels,
                        detail=True,  # its rows are in the side-by-side tables of the last two steps
                    )
                ],
                worked=worked,
                why=WHY[name],
                # variants of a function already shown: their numbers are in the side-by-side tables
                detail=name in ("leaky-relu", "tanh", "gelu-tanh"),
            )
        )
    trace.add(
        Step(
            id="relu-at-zero",
            title="ReLU has no derivative at 0: the convention",
            formula=r"\lim_{h \to 0^-} \frac{\mathrm{ReLU}(h) - \mathrm{ReLU}(0)}{h} = 0 \ne 1 = "
            r"\lim_{h \to 0^+} \frac{\mathrm{ReLU}(h) - \mathrm{ReLU}(0)}{h}, \qquad \mathrm{ReLU}'(0) := 0",
            formula_text="slope from the left = 0, slope from the right = 1; ReLU'(0) is set to 0",
            values=[
                Value("left", 0.0, label="slope from the left"),
                Value("right", 1.0, label="slope from the right"),
                Value("convention", float(activations.derivative("relu", 0.0)), label="ReLU'(0) used"),
            ],
            worked=[derivative_worked(ctx, "relu", 0.0), derivative_worked(ctx, "leaky-relu", 0.0, alpha=alpha)],
            why="Any value between the one-sided slopes is a subgradient; PyTorch uses 0.",
        )
    )
    names = tuple(NAMES[name] for name in SHOWN)
    low = min(-4.0, float(points.min()))
    high = max(4.0, float(points.max()))
    grid, curve_f, curve_df = activations.curves(SHOWN, low, high, alpha=alpha)
    trace.add(
        Step(
            id="values",
            title="All activations side by side: f(z)",
            formula_text="f(z) for each activation f (rows) and point z (columns)",
            formula=r"f(z)",
            values=[Value("values", np.vstack([table.values[k] for k in SHOWN]), label="f(z)", rows=names, cols=labels, detail=True)],  # in the Result
            worked=[activation_worked(ctx, name, example, alpha=alpha) for name in ("gelu", "gelu-tanh")],
            why="Far from 0 they match ReLU (GELU) or saturate (σ, tanh); they differ near 0.",
            plots=[Plot("f(z)", tuple(Series(NAMES[k], grid, curve_f[k]) for k in SHOWN), xlabel="z", ylabel="f(z)")],
        )
    )
    trace.add(
        Step(
            id="derivatives",
            title="All activations side by side: f'(z)",
            formula_text="f'(z) for each activation f (rows) and point z (columns)",
            formula=r"f'(z)",
            values=[Value("derivatives", np.vstack([table.derivatives[k] for k in SHOWN]), label="f'(z)", rows=names, cols=labels, detail=True)],
            worked=[derivative_worked(ctx, name, example, alpha=alpha) for name in ("sigmoid", "tanh")],
            why="Backpropagation multiplies these slopes: well below 1 (σ, tanh at large |z|) they make "
            "gradients vanish; exactly 0, they stop them.",
            plots=[Plot("f'(z)", tuple(Series(NAMES[k], grid, curve_df[k]) for k in SHOWN), xlabel="z", ylabel="f'(z)")],
        )
    )
    # name -> array (a list in the JSON export; rounded to --precision on screen)
    trace.outputs = {
        "values": {name: table.values[name] for name in SHOWN},
        "derivatives": {name: table.derivatives[name] for name in SHOWN},
    }
    trace.result = answer(trace, "values.values", "derivatives.derivatives")
    return trace


def script(trace: Trace) -> str:
    """Every activation and its slope at the points, as NumPy source (``--format py``)."""
    from nntutor.walkthroughs._script import activations as sources
    from nntutor.walkthroughs._script import heading, python_name

    alpha = trace.inputs["alpha"]
    entries = ",\n".join(f"    {name!r}: {python_name(name)}(z)" for name in SHOWN)
    slopes = ",\n".join(f"    {name!r}: {python_name(name)}_slope(z)" for name in SHOWN)
    return "\n".join([
        heading(trace, "points"),
        "z = at",
        "",
        "# Each activation f and its slope f' (the lesson derives the slopes with sympy)",
        sources(*SHOWN, alpha=alpha, slopes=True),
        "",
        "",
        heading(trace, "values"),
        "values = {\n" + entries + ",\n}",
        heading(trace, "derivatives"),
        "derivatives = {\n" + slopes + ",\n}",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "at": Input("vector"),
        "alpha": Input("scalar", minimum=0, maximum=1),
    },
    targets=tuple(Target(name, name, rows=(1, 2)) for name in ("relu", "leaky-relu", "sigmoid", "tanh", "gelu")),
    script=script,
)
