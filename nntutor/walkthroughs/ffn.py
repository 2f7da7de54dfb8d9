"""The position-wise feed-forward lesson: each row through x·W₁ + b₁, an
activation, then ·W₂ + b₂, with no mixing between rows.

Default run: row 0, x = [1, -1]: hidden = [0.5, -1.5, 1, -0.9],
ReLU → [0.5, 0, 1, 0], y = [0.5 − 1 + 0.1, 1 − 0.1] = [-0.4, 0.9].

With --seed the weights are drawn instead, d_ff = expansion × d wide:

>>> from nntutor.walkthroughs._declare import Args
>>> flags = {"x": np.array([1.0, -1]), "W1": None, "b1": None, "W2": None, "b2": None,
...          "activation": "relu", "expansion": 4, "seed": 0}
>>> inputs = check(Args(flags, given={"seed"}))
>>> inputs.x.shape, inputs.w1.shape, inputs.w2.shape
((1, 2), (2, 8), (8, 2))
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from nntutor.core.ffn import estimate_bytes, feed_forward
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
from nntutor.walkthroughs._transformer import check_memory, random_matrix, refuse_with, shape_text

PARAMS = ("W1", "b1", "W2", "b2")
MAX_SHOWN = 8


class Inputs(NamedTuple):
    """Checked inputs: n rows of width d, the two layers' weights (typed or drawn), the activation."""

    x: np.ndarray  # n × d (a single vector becomes one row)
    w1: np.ndarray  # W₁, d × d_ff
    b1: np.ndarray  # b₁, d_ff numbers
    w2: np.ndarray  # W₂, d_ff × d
    b2: np.ndarray  # b₂, d numbers
    activation: str  # "relu" or "gelu"
    seed: int | None  # the seed W₁, b₁, W₂, b₂ were drawn from; None: they were typed
    expansion: int  # d_ff / d of drawn weights (recorded only with a seed)


# --------------------------------------------------------------------------- check


def _typed_weights(args: Args, n: int, d: int) -> tuple[np.ndarray, ...]:
    """W₁, b₁, W₂, b₂ as typed (or their defaults), checked against d and each other."""
    given = args.given
    if "expansion" in given:
        raise InputError("--expansion", "only sizes random weights: use it with --seed (otherwise d_ff is the column count of --W1)")
    w1, b1, w2, b2 = (args[k] for k in PARAMS)
    x = Size("x", d, "columns", shape_words(args["x"]))
    w1_cols = Size("W1", w1.shape[1], "columns", shape_words(w1))
    # each weight's size, the size that rules it and why (each error names the flag typed)
    rules = (
        (Size("W1", w1.shape[0], "rows", shape_words(w1)), x, "W1 is d × d_ff: one row per feature of x"),
        (Size("b1", b1.size, "numbers", shape_words(b1)), w1_cols, "one bias per column of W1, d_ff"),
        (Size("W2", w2.shape[0], "rows", shape_words(w2)), w1_cols, "W2 is d_ff × d: one row per column of W1"),
        (Size("W2", w2.shape[1] if w2.ndim == 2 else 1, "columns", shape_words(w2)), x, "W2 is d_ff × d: back to the width of x"),
        (Size("b2", b2.size, "numbers", shape_words(b2)), x, "one bias per feature of x"),
    )
    for checked, against, why in rules:
        if checked.count != against.count:
            stale = dict.fromkeys(
                f"--{c.name}" for c, a, _ in rules if a.name == against.name and c.count != a.count and c.name not in given
            )
            fix = f"pass {_listed(list(stale))} too" + (", or --seed to draw them" if against.name == "x" else "")
            raise mismatch(given, checked, against, why=why, fix=fix)
        if checked.name == "W1":
            d_ff = w1.shape[1]
            check_memory("--W1", estimate_bytes(n, d, d_ff), f"an FFN with d = {d}, d_ff = {d_ff} on {n} rows")
    return w1, b1, w2, b2


def _listed(flags: list[str]) -> str:
    """``--W1``, ``--W1 and --b2``, ``--W1, --W2 and --b2``."""
    return " and ".join(flags) if len(flags) < 3 else f"{', '.join(flags[:-1])} and {flags[-1]}"


def _drawn_weights(args: Args, n: int, d: int) -> tuple[np.ndarray, ...]:
    """W₁, b₁, W₂, b₂ drawn from --seed, d_ff = --expansion × d (none of them may be typed too)."""
    for key in PARAMS:
        if key in args.given:
            raise refuse_with(f"--{key}", "--seed", "--seed draws W1, b1, W2 and b2; drop one of the two")
    d_ff = args["expansion"] * d
    check_memory("--expansion", estimate_bytes(n, d, d_ff), f"an FFN with d = {d}, d_ff = {d_ff} on {n} rows")
    rng = np.random.default_rng(args["seed"])
    return (
        random_matrix(rng, (d, d_ff), 1.0 / np.sqrt(d)),
        random_matrix(rng, (d_ff,), 0.1),
        random_matrix(rng, (d_ff, d), 1.0 / np.sqrt(d_ff)),
        random_matrix(rng, (d,), 0.1),
    )


def check(args: Args) -> Inputs:
    """X as rows; the weights typed (shapes checked) or drawn from --seed (sizes from --expansion)."""
    x = args["x"]
    if x.ndim == 1:
        x = x[None, :]
    n, d = x.shape
    seed = args["seed"]
    weights = _typed_weights(args, n, d) if seed is None else _drawn_weights(args, n, d)
    return Inputs(x, *weights, activation=args["activation"], seed=seed, expansion=args["expansion"])


# --------------------------------------------------------------------------- build


def build(ctx: Context, inputs: Inputs) -> Trace:
    x, seed = inputs.x, inputs.seed
    n, d = x.shape
    w = {"W1": inputs.w1, "b1": inputs.b1, "W2": inputs.w2, "b2": inputs.b2}
    activation = inputs.activation
    r = feed_forward(x, w["W1"], w["b1"], w["W2"], w["b2"], activation)
    d_ff = r.hidden.shape[1]
    num, f = ctx.n, ctx.f
    rows = index_labels(n, "row ")
    feats = index_labels(d, "d")
    units = index_labels(d_ff, "h")

    recorded: dict[str, Any] = {"x": x, **w, "activation": activation}
    if seed is not None:
        recorded["seed"] = seed
        recorded["expansion"] = inputs.expansion
    trace = ctx.new_trace(recorded)

    k = min(d_ff, MAX_SHOWN)
    trace.add(
        Step(
            id="hidden",
            title=f"Expand each row (row 0 worked in full): x·W₁ + b₁ ({n}×{d} · {d}×{d_ff} → {n}×{d_ff})",
            formula=r"H = X W_1 + b_1",
            formula_text="H = X·W₁ + b₁   (each row: hᵢ = xᵢ·W₁ + b₁)",
            values=[
                Value("x", x, label=f"X ({shape_text(x)})", rows=rows, cols=feats),
                Value("W1", w["W1"], label=f"W₁ ({shape_text(w['W1'])})", rows=feats, cols=units),
                Value("b1", w["b1"], label="b₁", cols=units),
                Value("hidden", r.hidden, label=f"H ({shape_text(r.hidden)})", rows=rows, cols=units),
            ],
            worked=[
                dot_worked(ctx, f"row 0: x·W₁[:, {j}]", x[0], w["W1"][:, j], float(x[0] @ w["W1"][:, j]))
                + f"; + b₁[{j}] = {num(float(x[0] @ w['W1'][:, j]))} + {f(w['b1'][j])} = {num(r.hidden[0, j])}"
                for j in range(k)
            ]
            + ([f"… and {d_ff - k} more hidden units of row 0, each the same way"] if d_ff > k else []),
            why=f"Every row is multiplied by the same W₁ on its own: rows never mix here, unlike "
            f"attention. The FFN is one small MLP applied at every position, widening each "
            f"token's vector from d = {d} to d_ff = {d_ff} features.",
        )
    )
    latex, text = FORMULAS[activation]
    zeros = int(np.count_nonzero(r.activated[0] == 0.0))
    worked = [f"row 0: {activation_worked(ctx, activation, r.hidden[0, j])}" for j in range(k)]
    if activation == "relu":
        worked.append(f"row 0: ReLU set {zeros} of the {d_ff} hidden units to 0")
    trace.add(
        Step(
            id="activation",
            title=f"Apply {activation} to every hidden unit",
            formula=latex,
            formula_text=text,
            values=[Value("activated", r.activated, label=f"A = {activation}(H)", rows=rows, cols=units)],
            worked=worked,
            why="The non-linearity is what makes the FFN more than one matrix: without it, "
            "W₁ and W₂ would collapse into the single matrix W₁·W₂.",
        )
    )
    trace.add(
        Step(
            id="output",
            title=f"Project back: A·W₂ + b₂ ({n}×{d_ff} · {d_ff}×{d} → {n}×{d})",
            formula=r"Y = A W_2 + b_2",
            formula_text="Y = A·W₂ + b₂",
            values=[
                Value("W2", w["W2"], label=f"W₂ ({shape_text(w['W2'])})", rows=units, cols=feats),
                Value("b2", w["b2"], label="b₂", cols=feats),
                Value("y", r.y, label=f"Y ({shape_text(r.y)})", rows=rows, cols=feats),
            ],
            worked=[
                dot_worked(ctx, f"row 0: a·W₂[:, {j}]", r.activated[0], w["W2"][:, j], float(r.activated[0] @ w["W2"][:, j]))
                + f"; + b₂[{j}] = {num(float(r.activated[0] @ w['W2'][:, j]))} + {f(w['b2'][j])} = {num(r.y[0, j])}"
                for j in range(min(d, MAX_SHOWN))
            ]
            + ([f"… and {d - MAX_SHOWN} more outputs of row 0, each the same way"] if d > MAX_SHOWN else []),
            why="W₂ brings each row back to width d, so the result can be added to the block's "
            "input by the residual connection.",
        )
    )
    trace.outputs = {"hidden": r.hidden, "activated": r.activated, "y": r.y}
    trace.result = answer(trace, "output.y")
    return trace


def script(trace: Trace) -> str:
    """The position-wise feed-forward network as NumPy source (``--format py``)."""
    from nntutor.walkthroughs._script import activation, heading, python_name

    chosen = trace.inputs["activation"]
    return "\n".join([
        heading(trace, "hidden"),
        "hidden = x @ W1 + b1  # every row (token) on its own",
        "",
        heading(trace, "activation"),
        activation(chosen),
        "",
        "",
        f"activated = {python_name(chosen)}(hidden)",
        "",
        heading(trace, "output"),
        "y = activated @ W2 + b2",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "x": Input("array"),
        "W1": Input("matrix"),
        "b1": Input("vector"),
        "W2": Input("matrix"),
        "b2": Input("vector"),
        "activation": Input("choice", choices=("relu", "gelu")),
        "expansion": Input("integer", minimum=1),
        "seed": Input("integer", minimum=0),
    },
    targets=(
        Target("hidden", "hidden", uses=("x", "W1", "b1"), symbol="H"),
        Target("activation", "activated", uses=("hidden.hidden", "activation"), symbol="A"),
        Target("output", "y", uses=("activation.activated", "W2", "b2"), symbol="Y"),
    ),
    script=script,
)
