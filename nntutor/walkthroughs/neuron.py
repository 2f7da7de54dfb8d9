"""The neuron lesson: z = w·x + b, then an activation.

Default run: x = [1.5, 2, -0.5], w = [0.5, -1, 0.3], b = 0.5 gives
z = 0.75 − 2 − 0.15 + 0.5 = -0.9 and ReLU(z) = 0.

>>> inputs = check(Args({"x": np.array([1.5, 2, -0.5]), "w": np.array([0.5, -1, 0.3]),
...                      "b": 0.5, "activation": "relu"}))
>>> trace = build(Context(), inputs)
>>> round(trace.outputs["z"], 10), trace.outputs["y"]
(-0.9, 0.0)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nntutor.core import activations
from nntutor.core.neuron import weighted_sum
from nntutor.trace import Step, Table, Trace, Value
from nntutor.walkthroughs._activation_notes import FORMULAS, activation_worked
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
from nntutor.walkthroughs._script import activation, heading, python_name

COMPARED = ("relu", "leaky-relu", "sigmoid", "tanh", "gelu", "identity")


class Inputs(NamedTuple):
    """Checked inputs: one weight per input, a bias and the activation's name."""

    x: np.ndarray  # the inputs (a vector)
    w: np.ndarray  # the weights, the same length as x
    b: float  # the bias
    activation: str  # one of the lesson's choices (COMPARED)


def check(args: Args) -> Inputs:
    """--w must have one weight per entry of --x (the error names the one the learner typed)."""
    x, w = args["x"], args["w"]
    if x.shape != w.shape:
        raise mismatch(args.given, Size("w", w.size, "numbers", shape_words(w)), Size("x", x.size, "numbers", shape_words(x)))
    return Inputs(x, w, float(args["b"]), args["activation"])


def build(ctx: Context, inputs: Inputs) -> Trace:
    x, w, b, activation = inputs
    s = weighted_sum(x, w, b)
    y = float(activations.activate(activation, s.z))
    n, f = ctx.n, ctx.f
    labels = index_labels(x.size, "x")

    trace = ctx.new_trace({"x": x, "w": w, "b": b, "activation": activation})
    trace.add(
        Step(
            id="products",
            title="Multiply each input by its weight",
            formula=r"p_i = w_i \, x_i",
            formula_text="pᵢ = wᵢ × xᵢ",
            values=[Value("products", np.vstack([x, w, s.products]), label="inputs, weights and their products", rows=("x", "w", "w×x"), cols=labels)],
            worked=[f"p{i} = {f(wi)}×{f(xi)} = {n(pi)}" for i, (xi, wi, pi) in enumerate(zip(x, w, s.products, strict=True))][:8],
            why="Each weight says how much its input matters and in which direction: "
            "a negative weight turns a large input into evidence against firing.",
        )
    )
    trace.add(
        Step(
            id="sum",
            title="Add the products and the bias",
            formula=r"z = \sum_i w_i x_i + b = \mathbf{w}\cdot\mathbf{x} + b",
            formula_text="z = Σᵢ wᵢxᵢ + b = w·x + b",
            values=[
                Value("running", s.running, label="running sum", cols=labels),
                Value("dot", s.dot, label="w·x"),
                Value("b", b),
                Value("z", s.z),
            ],
            worked=[dot_worked(ctx, "w·x", w, x, s.dot), f"z = w·x + b = {n(s.dot)} + {f(b)} = {n(s.z)}"],
            why="The bias shifts the threshold: it lets the neuron fire (or stay quiet) "
            "even when the weighted inputs add up to zero.",
        )
    )
    latex, text = FORMULAS[activation]
    trace.add(
        Step(
            id="activation",
            title=f"Apply the activation ({activation})",
            formula=rf"y = {latex}" if not latex.startswith("f(") else "y = z",
            formula_text=text,
            values=[Value("z", s.z), Value("y", y)],
            worked=[activation_worked(ctx, activation, s.z)],
            why="Without a non-linear activation, stacked neurons would collapse into one "
            "linear map; the activation is what lets a network bend.",
        )
    )
    rows = tuple(
        (name, float(activations.activate(name, s.z)), float(activations.derivative(name, s.z)))
        for name in COMPARED
    )
    trace.add(
        Step(
            id="compare",
            title="The same z through every activation",
            formula=r"f(z) \text{ for } f \in \{\mathrm{ReLU}, \mathrm{LeakyReLU}, \sigma, \tanh, \mathrm{GELU}, \mathrm{id}\}",
            formula_text="f(z) for each activation f",
            values=[Value("compare", Table(("activation", "f(z)", "f'(z)"), rows), label=f"z = {n(s.z)}")],
            worked=[activation_worked(ctx, name, s.z) for name in ("sigmoid", "gelu")],
            why="The choice matters most near zero: ReLU cuts a negative z to 0, while "
            "sigmoid, tanh and GELU still pass a graded signal (and a gradient).",
        )
    )
    trace.outputs = {"z": s.z, "y": y}
    trace.result = answer(trace, "activation.z", "activation.y")
    return trace


# --------------------------------------------------------------------------- known mistakes


def _without_bias(case) -> float | None:
    """z − b, put through the activation when y was asked."""
    z = case.trace.outputs.get("z")
    b = case.trace.inputs.get("b")
    if z is None or b is None or float(b) == 0.0:
        return None
    if case.value == "z":
        return float(z) - float(b)
    return float(activations.activate(case.trace.inputs["activation"], float(z) - float(b)))


def _other_activation(asked: str, used: str):
    def compute(case) -> float | None:
        if case.trace.inputs.get("activation") != asked:
            return None
        return float(activations.activate(used, float(case.trace.outputs["z"])))

    return compute


def _no_activation(case) -> float | None:
    if case.trace.inputs.get("activation") == "identity":
        return None
    return float(case.trace.outputs["z"])


# --------------------------------------------------------------------------- the asked element, worked


def _sum_lines(case) -> list[str]:
    """``w·x = … = -1.4`` and ``z = w·x + b = -1.4 + 0.5 = -0.9`` for this run."""
    x, w, b = case.trace.inputs["x"], case.trace.inputs["w"], case.trace.inputs["b"]
    dot, z = case.data("sum", "dot"), case.data("sum", "z")
    return [dot_worked(case.ctx, "w·x", w, x, dot), f"z = w·x + b = {case.ctx.n(dot)} + {case.ctx.f(b)} = {case.ctx.n(z)}"]


def _explain_product(case) -> list[str]:
    j = case.index[1]
    x, w = case.trace.inputs["x"], case.trace.inputs["w"]
    return [f"p{j} = w{j}×x{j} = {case.ctx.f(w[j])}×{case.ctx.f(x[j])} = {case.ctx.n(case.data('products', 'products')[2, j])}"]


def _explain_activation(case) -> list[str]:
    return [*_sum_lines(case), activation_worked(case.ctx, case.trace.inputs["activation"], case.data("sum", "z"))]


def script(trace: Trace) -> str:
    """The neuron as NumPy source (``--format py``)."""
    chosen = trace.inputs["activation"]
    return "\n".join([
        heading(trace, "products"),
        "products = w * x",
        "",
        heading(trace, "sum"),
        "dot = products.sum()  # w·x",
        "z = dot + b",
        "",
        heading(trace, "activation"),
        activation(chosen),
        "",
        "",
        f"y = {python_name(chosen)}(z)",
    ])


NEURON_MISTAKES = (
    Mistake("no-bias", "left out the bias b (z = w·x + b)", _without_bias, values=("z", "y")),
    Mistake("relu-for-sigmoid", "applied ReLU where the question asks for sigmoid", _other_activation("sigmoid", "relu"), values=("y",)),
    Mistake("sigmoid-for-relu", "applied sigmoid where the question asks for ReLU", _other_activation("relu", "sigmoid"), values=("y",)),
    Mistake("relu-for-tanh", "applied ReLU where the question asks for tanh", _other_activation("tanh", "relu"), values=("y",)),
    Mistake("no-activation", "stopped at z and forgot the activation", _no_activation, values=("y",)),
)


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "x": Input("vector"),
        "w": Input("vector"),
        "b": Input("scalar"),
        "activation": Input("choice", choices=("relu", "leaky-relu", "sigmoid", "tanh", "gelu", "identity")),
    },
    targets=(
        Target("products", "products", rows=(2,), explain=_explain_product),
        Target("sum", "dot", explain=lambda case: _sum_lines(case)[:1], symbol="w·x"),
        Target("sum", "z", explain=_sum_lines),
        Target("activation", "y", explain=_explain_activation),
    ),
    mistakes=NEURON_MISTAKES,
    extra=lambda rng, values: {"activation": str(rng.choice(["relu", "sigmoid", "tanh"]))},
    script=script,
)
