"""The mlp lesson: dense layers stacked, a forward pass layer by layer, and a parameter count.

Default run: sizes 3,4,3,4, weights drawn with seed 0 from ±1/√n_in and rounded
to 2 decimals, x drawn from ±1 the same way. ``--sizes 784,16,16,10`` has
784×16 + 16×16 + 16×10 = 12,960 weights and 16 + 16 + 10 = 42 biases: 13,002.

``check`` turns the flags into the network itself (the layers drawn or read from
``--weights``, x drawn when not given), every shape chained:

>>> from nntutor.catalog.lessonfile import load_lesson
>>> from nntutor.catalog.run import parse_args
>>> inputs = check(parse_args(load_lesson("mlp"), {"sizes": "784,16,16,10"}))
>>> [w.shape for w, _ in inputs.layers], inputs.x.shape
([(16, 784), (16, 16), (10, 16)], (784,))
>>> mlp.param_count(sizes_of(inputs.layers)).total
13002
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import numpy as np

from nntutor.catalog.inputs import parse_matrix, parse_vector, read_text_file
from nntutor.core import mlp
from nntutor.core.softmax import softmax_steps
from nntutor.errors import InputError
from nntutor.numfmt import human_bytes
from nntutor.trace import Step, Table, Trace, Value
from nntutor.walkthroughs._activation_notes import FORMULAS, activation_worked
from nntutor.walkthroughs._common import Context, dot_worked, index_labels
from nntutor.walkthroughs._declare import Args, Input, Walkthrough

MAX_LAYERS = 32
MAX_BYTES = 16 * 1024 * 1024  # what a forward pass may hold (float64), checked before allocating
MAX_WORKED = 8


# --------------------------------------------------------------------------- inputs


def _sizes(raw: np.ndarray) -> list[int]:
    sizes = []
    for number, value in enumerate(raw.tolist(), start=1):
        if not float(value).is_integer() or value < 1:
            raise InputError("--sizes", f"entry {number} is {value:g} (expected whole numbers ≥ 1, e.g. 3,4,3,4)")
        sizes.append(int(value))
    if len(sizes) < 2:
        raise InputError("--sizes", "needs at least 2 numbers: the input size and the output size (e.g. 3,4,3,4)")
    if len(sizes) - 1 > MAX_LAYERS:
        raise InputError("--sizes", f"gives {len(sizes) - 1} layers (at most {MAX_LAYERS})")
    return sizes


def _check_memory(flag: str, sizes: list[int]) -> None:
    needed = mlp.memory_bytes(sizes)
    if needed > MAX_BYTES:
        count = mlp.param_count(sizes).total
        raise InputError(
            flag,
            f"{','.join(map(str, sizes))} has {count:,} parameters: about {human_bytes(needed)} as float64 "
            f"(at most {human_bytes(MAX_BYTES)} here)",
        )


def _layer_array(where: str, value: Any, matrix: bool) -> np.ndarray:
    if not isinstance(value, list):
        raise InputError("--weights", f"{where} must be a JSON list")
    if matrix and not all(isinstance(row, list) for row in value):
        raise InputError("--weights", f"{where} must be a list of rows (outputs × inputs), e.g. [[0.1, 0.2]]")
    try:
        return parse_matrix("--weights", value) if matrix else parse_vector("--weights", value)
    except InputError as exc:
        raise InputError("--weights", f"{where}: {exc.message}") from None


def read_weights(path: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """W and b per layer from a JSON file: ``[{"W": [[…]], "b": […]}, …]`` or ``{"layers": [...]}``."""
    text = read_text_file("--weights", path)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise InputError("--weights", f"{path!r} is not valid JSON{where}") from None
    if isinstance(data, dict):
        extra = sorted(set(data) - {"layers"})
        if extra or "layers" not in data:
            raise InputError("--weights", 'expected a list of layers or an object {"layers": [...]}')
        data = data["layers"]
    if not isinstance(data, list) or not data:
        raise InputError("--weights", 'expected a non-empty list of layers, each {"W": [[...]], "b": [...]}')
    if len(data) > MAX_LAYERS:
        raise InputError("--weights", f"has {len(data)} layers (at most {MAX_LAYERS})")
    layers = []
    for number, layer in enumerate(data, start=1):
        if not isinstance(layer, dict):
            raise InputError("--weights", f'layer {number} must be an object {{"W": [[...]], "b": [...]}}')
        unknown = sorted(set(layer) - {"W", "b"})
        if unknown:
            raise InputError("--weights", f"layer {number} has the unknown key {unknown[0]!r} (expected 'W' and 'b')")
        for key in ("W", "b"):
            if key not in layer:
                raise InputError("--weights", f"layer {number} has no {key!r}")
        w = _layer_array(f"layer {number} 'W'", layer["W"], matrix=True)
        b = _layer_array(f"layer {number} 'b'", layer["b"], matrix=False)
        if b.size != w.shape[0]:
            raise InputError(
                "--weights", f"layer {number} 'b' has {b.size} numbers but 'W' has {w.shape[0]} rows (one bias per row)"
            )
        if layers and w.shape[1] != layers[-1][0].shape[0]:
            raise InputError(
                "--weights",
                f"layer {number} 'W' has {w.shape[1]} columns but layer {number - 1} has "
                f"{layers[-1][0].shape[0]} outputs (columns must match the previous layer's rows)",
            )
        layers.append((w, b))
    return layers


class Inputs(NamedTuple):
    """Checked inputs: the network (every layer's W and b, shapes chained), x and the activations."""

    x: np.ndarray  # a0: one number per input of the first layer
    layers: tuple[tuple[np.ndarray, np.ndarray], ...]  # (W, b) per layer; W is outputs × inputs
    activation: str  # hidden layers
    output_activation: str  # last layer
    seed: int  # what the random layers (and a drawn x) come from
    weights_file: str | None  # the --weights file the layers were read from (None: drawn from seed)
    x_drawn: bool  # x was drawn from seed (no --x given)


def sizes_of(layers) -> list[int]:
    """The width of every layer, input first: ``[W1 columns, W1 rows, W2 rows, …]``."""
    return [layers[0][0].shape[1]] + [w.shape[0] for w, _ in layers]


def check(args: Args) -> Inputs:
    """The flags checked together: the layers (drawn, or read and shape-checked), x against them, memory."""
    given = args.given
    seed = int(args["seed"])
    rng = np.random.default_rng(seed)
    weights_file = args["weights"] or None
    if weights_file:
        if "seed" in given:
            raise InputError("--seed", "cannot be combined with --weights (the weights come from the file)")
        params = read_weights(weights_file)
        sizes = sizes_of(params)
        if "sizes" in given and _sizes(args["sizes"]) != sizes:
            raise InputError(
                "--sizes", f"is {','.join(map(str, _sizes(args['sizes'])))} but --weights has the shapes "
                f"{','.join(map(str, sizes))}"
            )
        _check_memory("--weights", sizes)
    else:
        sizes = _sizes(args["sizes"])
        _check_memory("--sizes", sizes)
        params = mlp.random_parameters(sizes, rng)
    x = args["x"]
    if x is None:
        x = np.round(rng.uniform(-1.0, 1.0, size=sizes[0]), 2) + 0.0
    elif x.size != sizes[0]:
        flag = "--weights" if weights_file and "x" not in given else "--x"
        raise InputError(flag, f"--x has {x.size} numbers but the network's input size is {sizes[0]}")
    return Inputs(
        x=x,
        layers=tuple(params),
        activation=args["activation"],
        output_activation=args["output-activation"],
        seed=seed,
        weights_file=weights_file,
        x_drawn=args["x"] is None,
    )


# --------------------------------------------------------------------------- steps


def _count_step(ctx: Context, sizes: list[int]) -> Step:
    count = mlp.param_count(sizes)
    rows = tuple(
        (f"{i + 1}", f"{c.n_out}×{c.n_in}", c.weights, c.biases, c.total) for i, c in enumerate(count.layers)
    ) + (("total", "", count.weights, count.biases, count.total),)
    worked = [
        f"layer {i + 1}: {c.n_in:,}×{c.n_out:,} = {c.weights:,} weights + {c.biases:,} biases = {c.total:,}"
        for i, c in enumerate(count.layers[:MAX_WORKED])
    ]
    worked.append(f"total: {count.weights:,} weights + {count.biases:,} biases = {count.total:,} parameters")
    biggest = max(range(len(count.layers)), key=lambda i: count.layers[i].total)
    share = count.layers[biggest].total / count.total
    return Step(
        id="params",
        title="Count the parameters",
        formula=r"P = \sum_{l=1}^{L} \left(n_{l-1}\, n_l + n_l\right)",
        formula_text="P = Σₗ (n_(l−1)·n_l + n_l): weights plus biases per layer",
        values=[Value("param_table", Table(("layer", "W shape", "weights", "biases", "total"), rows), label="parameters")],
        worked=worked,
        why="Every connection between consecutive layers is one weight and every neuron has one "
        f"bias, so the count grows with the product of neighbouring widths: layer {biggest + 1} "
        f"alone holds {share:.0%} of the parameters.",
    )


def _layer_step(ctx: Context, index: int, result: mlp.ForwardPass, last: bool) -> Step:
    w, b = result.params[index]
    a_in = result.layer_input(index)
    z = result.zs[index]
    a = result.outputs[index]
    name = result.output_activation if last else result.activation
    n_out = w.shape[0]
    k = index + 1
    worked = [
        f"W{k}: {w.shape[0]}×{w.shape[1]}, a{index}: {a_in.size} → z{k}: {n_out}",
        dot_worked(ctx, f"W{k}[0]·a{index}", w[0], a_in, float(w[0] @ a_in)),
        f"z{k}[0] = W{k}[0]·a{index} + b{k}[0] = {ctx.n(float(w[0] @ a_in))} + {ctx.f(b[0])} = {ctx.n(z[0])}",
    ]
    if name == "softmax":
        s = softmax_steps(z)
        worked.append(
            f"softmax: e^(z{k}[0] − max) / Σ = e^({ctx.n(s.shifted[0])}) / {ctx.n(s.total)} = "
            f"{ctx.n(s.exps[0])} / {ctx.n(s.total)} = {ctx.n(a[0])}"
        )
        formula, text = r"\mathbf{a} = \mathrm{softmax}(\mathbf{z})", "a = softmax(z): e^(zᵢ − max z) / Σⱼ e^(zⱼ − max z)"
    else:
        worked += [activation_worked(ctx, name, float(v)) for v in z[: min(3, n_out)]]
        formula, text = FORMULAS[name]
    labels = index_labels(n_out, "n")
    return Step(
        id=f"layer-{k}",
        title=f"Layer {k} of {len(result.params)}: {w.shape[1]} → {n_out} ({name})",
        formula=rf"\mathbf{{z}}_{k} = W_{k}\,\mathbf{{a}}_{index} + \mathbf{{b}}_{k}, \quad \mathbf{{a}}_{k} = f(\mathbf{{z}}_{k}), \quad {formula}",
        formula_text=f"z{k} = W{k}·a{index} + b{k};  a{k} = f(z{k}), {text}",
        values=[
            Value(f"W{k}", w, rows=labels, cols=index_labels(w.shape[1], "in")),
            Value(f"b{k}", b, cols=labels),
            Value(f"z{k}", z, cols=labels),
            Value(f"a{k}", a, cols=labels),
        ],
        worked=worked,
        why=(
            "The output layer turns the last hidden values into the network's answer"
            + (": softmax makes them probabilities that sum to 1." if name == "softmax" else ".")
            if last
            else "Each layer re-describes its input: its outputs are the next layer's inputs."
        ),
    )


def build(ctx: Context, inputs: Inputs) -> Trace:
    x, params = inputs.x, list(inputs.layers)
    activation, output_activation = inputs.activation, inputs.output_activation
    sizes = sizes_of(params)
    if inputs.weights_file is not None:
        source = f"read from {inputs.weights_file}"
    else:
        source = f"drawn with seed {inputs.seed}, uniform in ±1/√n_in, rounded to 2 decimals"
    if inputs.x_drawn:
        source += f"; x drawn with seed {inputs.seed}, uniform in ±1, rounded to 2 decimals"
    result = mlp.forward(x, params, activation, output_activation)
    count = mlp.param_count(sizes)

    recorded: dict[str, Any] = {
        "sizes": sizes,
        "x": x,
        "weights": [{"W": w, "b": b} for w, b in params],
        "activation": activation,
        "output-activation": output_activation,
    }
    if inputs.weights_file is not None:
        recorded["weights_file"] = inputs.weights_file
    else:
        recorded["seed"] = inputs.seed
    trace = ctx.new_trace(recorded)
    arch = tuple(
        (f"{i + 1}", f"{w.shape[1]} → {w.shape[0]}", f"{w.shape[0]}×{w.shape[1]}", f"{b.size}",
         output_activation if i == len(params) - 1 else activation)
        for i, (w, b) in enumerate(params)
    )
    trace.add(
        Step(
            id="architecture",
            title=f"The network: {' → '.join(map(str, sizes))}",
            formula=r"W_l \in \mathbb{R}^{n_l \times n_{l-1}}, \quad \mathbf{b}_l \in \mathbb{R}^{n_l}",
            formula_text="W_l is n_l × n_(l−1) (outputs × inputs); b_l has n_l entries",
            values=[
                Value("layers", Table(("layer", "in → out", "W shape", "b size", "activation"), arch)),
                Value("x", x, label="x = a0", cols=index_labels(x.size, "in")),
            ],
            worked=[f"weights and biases {source}"] + [
                f"layer {i + 1}: W{i + 1} is {w.shape[0]}×{w.shape[1]}, so it takes {w.shape[1]} numbers "
                f"and gives {w.shape[0]}" for i, (w, _) in enumerate(params[:MAX_WORKED])
            ],
            why="Each layer's W has one row per output and one column per input, so consecutive "
            "shapes must chain: layer l's columns equal layer l−1's rows.",
        )
    )
    trace.add(_count_step(ctx, sizes))
    for index in range(len(params)):
        trace.add(_layer_step(ctx, index, result, index == len(params) - 1))
    trace.outputs = {"activations": list(result.outputs), "param_count": count.total}
    return trace


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "sizes": Input("vector"),
        "x": Input("vector"),
        "seed": Input("integer", minimum=0),
        "weights": Input("path"),
        "activation": Input("choice", choices=("relu", "leaky-relu", "sigmoid", "tanh", "gelu", "gelu-tanh", "identity")),
        "output-activation": Input("choice", choices=("identity", "softmax", "sigmoid")),
    },
    keep=("sizes",),
)
