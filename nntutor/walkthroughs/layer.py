"""The layer lesson: many neurons at once, z = W·x + b, y = f(z).

Default run: W = [[0.1, 0.2], [0.3, 0.4]], x = [1, 0], b = [0, 0]:
z₀ = 0.1×1 + 0.2×0 = 0.1, z₁ = 0.3×1 + 0.4×0 = 0.3, and ReLU keeps both.
A matrix --x is a batch (one example per row): Z = X·Wᵀ + b.

>>> args = Args({"x": np.array([1.0, 0]), "W": np.array([[0.1, 0.2], [0.3, 0.4]]), "b": None,
...              "activation": "relu"})
>>> inputs = check(args)
>>> inputs.b  # no --b: one zero bias per row of W
array([0., 0.])
>>> build(Context(), inputs).outputs["y"]
array([0.1, 0.3])
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nntutor.core.layer import dense
from nntutor.errors import InputError
from nntutor.trace import Step, Trace, Value
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
from nntutor.walkthroughs._declare import Args, Input, Target, Walkthrough

MAX_WORKED_ROWS = 8


class Inputs(NamedTuple):
    """Checked inputs: x (a vector, or a batch with one example per row) matching W's columns."""

    x: np.ndarray  # one input vector (n_in), or a batch (examples × n_in)
    w: np.ndarray  # the weights W, one row per neuron (n_out × n_in)
    b: np.ndarray  # one bias per row of W (zeros when --b is not given)
    activation: str  # applied to every entry of z


def check(args: Args) -> Inputs:
    """x's width must match W's columns (the flag the learner typed is named); b one number per row."""
    x, w, b = args["x"], args["W"], args["b"]
    given = args.given
    n_out, n_in = w.shape
    width = x.shape[-1]
    if width != n_in:
        raise mismatch(
            given, Size("x", width, "numbers per example", shape_words(x)), Size("W", n_in, "columns", shape_words(w)),
            why="one weight per input",
        )
    if b is None:
        b = np.zeros(n_out)
    elif b.shape != (n_out,):
        raise InputError("--b", f"expected {n_out} numbers (one per row of --W), got {b.size}")
    return Inputs(x, w, b, args["activation"])


def build(ctx: Context, inputs: Inputs) -> Trace:
    x, w, b, activation = inputs
    result = dense(x, w, b, activation)
    n, f = ctx.n, ctx.f
    n_out, n_in = w.shape
    neurons = index_labels(n_out, "n")
    input_labels = index_labels(n_in, "x")
    batched = result.batched

    trace = ctx.new_trace({"x": x, "W": w, "b": b, "activation": activation})
    if batched:
        shape_line = (
            f"X ({x.shape[0]}×{n_in}, one example per row) · Wᵀ ({n_in}×{n_out}) = "
            f"{x.shape[0]}×{n_out}, plus b ({n_out}) added to every row"
        )
    else:
        shape_line = f"W ({n_out}×{n_in}) · x ({n_in}) = {n_out} numbers, plus b ({n_out})"
    trace.add(
        Step(
            id="shapes",
            title="Shapes: one row of W per neuron",
            formula=rf"W \in \mathbb{{R}}^{{{n_out} \times {n_in}}}",
            formula_text=f"W is {n_out}×{n_in} (outputs × inputs)",
            values=[
                Value("W", w, rows=neurons, cols=input_labels),
                Value("x", x, label="X" if batched else "x", cols=input_labels, rows=index_labels(x.shape[0], "ex") if batched else None),
                Value("b", b, cols=neurons),
            ],
            worked=[shape_line],
            why="Each neuron has one weight per input, so the layer's weights stack into a matrix: "
            "row i holds neuron i's weights. The number of rows is the number of outputs.",
        )
    )
    if not batched:
        worked = [
            dot_worked(ctx, f"W[{i}]·x", w[i], x, result.products[i]) for i in range(min(n_out, MAX_WORKED_ROWS))
        ]
        if n_out > MAX_WORKED_ROWS:
            worked.append(f"… and {n_out - MAX_WORKED_ROWS} more rows, each the same way")
        trace.add(
            Step(
                id="products",
                title="Each output is its row's dot product with x",
                formula=r"(W\mathbf{x})_i = \sum_j W_{ij}\, x_j",
                formula_text="(W·x)ᵢ = Σⱼ Wᵢⱼ·xⱼ",
                values=[Value("Wx", result.products, label="W·x", cols=neurons)],
                worked=worked,
                why="A matrix-vector product is just every neuron's weighted sum computed side by side.",
            )
        )
    else:
        first = x[0]
        worked = [shape_line]
        worked += [
            dot_worked(ctx, f"(X·Wᵀ)[0,{i}] = X[0]·W[{i}]", first, w[i], result.products[0, i])
            for i in range(min(n_out, MAX_WORKED_ROWS))
        ]
        trace.add(
            Step(
                id="products",
                title="The whole batch as one matrix product",
                formula=r"(X W^\top)_{ki} = \sum_j X_{kj}\, W_{ij}",
                formula_text="(X·Wᵀ)ₖᵢ = Σⱼ Xₖⱼ·Wᵢⱼ",
                values=[
                    Value("WT", w.T, label="Wᵀ", rows=input_labels, cols=neurons),
                    Value("XWT", result.products, label="X·Wᵀ", rows=index_labels(x.shape[0], "ex"), cols=neurons),
                ],
                worked=worked,
                why="With examples as rows, X·Wᵀ computes every neuron for every example at once: "
                "entry (k, i) is example k's input dotted with neuron i's weights.",
            )
        )
    if batched:
        bias_worked = [
            f"Z[0,{i}] = {n(result.products[0, i])} + {f(b[i])} = {n(result.z[0, i])}"
            for i in range(min(n_out, MAX_WORKED_ROWS))
        ]
    else:
        bias_worked = [
            f"z{i} = {n(result.products[i])} + {f(b[i])} = {n(result.z[i])}" for i in range(min(n_out, MAX_WORKED_ROWS))
        ]
    trace.add(
        Step(
            id="bias",
            title="Add the biases",
            formula=r"Z = X W^\top + \mathbf{b}" if batched else r"\mathbf{z} = W\mathbf{x} + \mathbf{b}",
            formula_text="Z = X·Wᵀ + b (b added to every row)" if batched else "z = W·x + b",
            values=[Value("z", result.z, label="Z" if batched else "z", cols=neurons,
                          rows=index_labels(x.shape[0], "ex") if batched else None)],
            worked=bias_worked,
            why="Each neuron has its own bias, one number per output, shared by every example.",
        )
    )
    latex, text = FORMULAS[activation]
    flat_z = result.z.ravel()
    trace.add(
        Step(
            id="activation",
            title=f"Apply the activation ({activation}) to every entry",
            formula=r"\mathbf{y} = f(\mathbf{z}),\quad " + latex,
            formula_text=f"y = f(z) element by element, {text}",
            values=[Value("y", result.y, label="Y" if batched else "y", cols=neurons,
                          rows=index_labels(x.shape[0], "ex") if batched else None)],
            worked=[activation_worked(ctx, activation, float(v)) for v in flat_z[:n_out][:MAX_WORKED_ROWS]],
            why="The activation acts on each number separately; it is what stops two stacked "
            "layers from collapsing into one matrix.",
        )
    )
    trace.outputs = {"z": result.z, "y": result.y}
    trace.result = answer(trace, "activation.y")
    return trace


# --------------------------------------------------------------------------- the asked element, worked


def _row_of(case) -> tuple[int, tuple[int, ...]]:
    """The neuron asked (the last index) and the element's index into z (a row of Z in a batch)."""
    return case.index[-1], case.index


def _product_line(case) -> str:
    i, index = _row_of(case)
    x, w = case.trace.inputs["x"], case.trace.inputs["W"]
    if x.ndim == 1:
        return dot_worked(case.ctx, f"W[{i}]·x", w[i], x, case.data("products", "Wx")[i])
    k = index[0]
    return dot_worked(case.ctx, f"X[{k}]·W[{i}]", x[k], w[i], case.data("products", "XWT")[k, i])


def _bias_lines(case) -> list[str]:
    i, index = _row_of(case)
    z = case.data("bias", "z")[index]
    products = case.data("products", "Wx" if case.trace.inputs["x"].ndim == 1 else "XWT")[index]
    name = f"z{i}" if len(index) == 1 else f"Z[{index[0]},{i}]"
    return [_product_line(case), f"{name} = {case.ctx.n(products)} + b{i} = {case.ctx.n(products)} + {case.ctx.f(case.trace.inputs['b'][i])} = {case.ctx.n(z)}"]


def _explain_activation(case) -> list[str]:
    z = case.data("bias", "z")[case.index]
    return [*_bias_lines(case), activation_worked(case.ctx, case.trace.inputs["activation"], z)]


def script(trace: Trace) -> str:
    """The layer as NumPy source (``--format py``): one matrix product, the biases, the activation."""
    from nntutor.walkthroughs._script import activation, heading, python_name

    chosen = trace.inputs["activation"]
    batched = np.ndim(trace.inputs["x"]) == 2
    return "\n".join([
        heading(trace, "products"),
        "XWT = x @ W.T  # one row per example, one column per neuron" if batched else "Wx = W @ x  # row i of W dotted with x",
        "",
        heading(trace, "bias"),
        "z = XWT + b  # b added to every row" if batched else "z = Wx + b",
        "",
        heading(trace, "activation"),
        activation(chosen),
        "",
        "",
        f"y = {python_name(chosen)}(z)",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "x": Input("array"),
        "W": Input("matrix"),
        "b": Input("vector"),
        "activation": Input("choice", choices=("relu", "leaky-relu", "sigmoid", "tanh", "gelu", "gelu-tanh", "identity")),
    },
    targets=(
        Target("products", "Wx", explain=lambda case: [_product_line(case)], symbol="W·x"),
        Target("bias", "z", explain=_bias_lines),
        Target("activation", "y", explain=_explain_activation),
    ),
    script=script,
)
