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
from nntutor.walkthroughs._common import Context, answer, counted, dot_worked, index_labels
from nntutor.walkthroughs._declare import Args, Input, Target, Walkthrough
from nntutor.walkthroughs._network import layered

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
    same_weights: bool = False  # every weight of a layer set to its W[0, 0] (and every bias to b[0])


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
    same_weights = bool(args["same-weights"])
    if same_weights:
        if len(sizes) < 3:
            raise InputError(
                "--same-weights", f"needs a hidden layer, but --sizes {','.join(map(str, sizes))} has none "
                "(give at least 3 numbers, e.g. 3,4,2)",
            )
        params = mlp.equal_weights(params)
    x = args["x"]
    if x is None:
        x = np.round(rng.uniform(-1.0, 1.0, size=sizes[0]), 2) + 0.0
    elif x.size != sizes[0]:  # x is only ever typed (otherwise it is drawn to fit)
        if weights_file:
            raise InputError("--x", f"has {counted(x.size, 'numbers')} but the network in --weights takes {sizes[0]} inputs")
        has, layout = counted(x.size, "numbers"), ",".join(map(str, sizes))
        if "sizes" in given:
            raise InputError("--x", f"has {has} but --sizes {layout} starts with {sizes[0]}, the network's input size")
        fitting = ",".join(map(str, [x.size, *sizes[1:]]))
        raise InputError(
            "--x",
            f"has {has} but --sizes (default {layout}) starts with {sizes[0]}, the network's input size; "
            f"pass --sizes too (e.g. {fitting})",
        )
    return Inputs(
        x=x,
        layers=tuple(params),
        activation=args["activation"],
        output_activation=args["output-activation"],
        seed=seed,
        weights_file=weights_file,
        x_drawn=args["x"] is None,
        same_weights=same_weights,
    )


# --------------------------------------------------------------------------- steps


def _count_step(ctx: Context, sizes: list[int]) -> Step:
    count = mlp.param_count(sizes)
    rows = tuple(
        (f"{i + 1}", f"{c.n_out}×{c.n_in}", c.weights, c.biases, c.total) for i, c in enumerate(count.layers)
    ) + (("total", "", count.weights, count.biases, count.total),)
    worked = [  # the first layer in words; the table has the others
        f"layer {i + 1}: {c.n_out:,}×{c.n_in:,} = {c.weights:,} weights + {c.biases:,} biases = {c.total:,}"
        for i, c in enumerate(count.layers[:1])
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
        why=f"One weight per connection, one bias per neuron: layer {biggest + 1} holds {share:.0%} of them.",
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
        worked += [activation_worked(ctx, name, float(v)) for v in z[: min(3, n_out)]] if name != "identity" else [
            f"f(z) = z: a{k} = z{k}"]
        if n_out > 3 and name != "identity":
            worked[-1] += f"   (3 of the {n_out} neurons shown; a{k} has them all)"
        formula, text = FORMULAS[name]
    labels = index_labels(n_out, "n")
    return Step(
        id=f"layer-{k}",
        title=f"Layer {k} of {len(result.params)}: {w.shape[1]} → {n_out} ({name})",
        formula=rf"\mathbf{{z}}_{k} = W_{k}\,\mathbf{{a}}_{index} + \mathbf{{b}}_{k}, \quad \mathbf{{a}}_{k} = f(\mathbf{{z}}_{k}), \quad {formula}",
        formula_text=f"z{k} = W{k}·a{index} + b{k};  a{k} = f(z{k}), {text}",
        values=[
            # W's columns are the entries of the vector it multiplies: x = a0, then each layer's output
            Value(f"W{k}", w, rows=labels, cols=tuple(f"a{index}[{j}]" for j in range(w.shape[1]))),
            Value(f"b{k}", b, cols=labels),
            Value(f"z{k}", z, cols=labels, detail=True),  # z[0] worked below; a holds f of every entry
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
        source = f"drawn at random (--seed {inputs.seed}), uniform in ±1/√n_in, rounded to 2 decimals"
    if inputs.x_drawn:
        source += f"; x drawn at random (--seed {inputs.seed}), uniform in ±1, rounded to 2 decimals"
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
                Value("x", x, label="x = a0", cols=tuple(f"a0[{j}]" for j in range(x.size))),
            ],
            worked=[f"weights and biases {source}",
                    f"layer 1: W1 is {params[0][0].shape[0]}×{params[0][0].shape[1]}: it takes "
                    f"{params[0][0].shape[1]} numbers and gives {params[0][0].shape[0]}, the next layer's input"],
            why="W has a row per output and a column per input: layer l's columns = layer l−1's rows.",
        )
    )
    trace.add(_count_step(ctx, sizes))
    for index in range(len(params)):
        step = trace.add(_layer_step(ctx, index, result, index == len(params) - 1))
        # a middle layer repeats layer 1's rule; the network diagram of the last step draws its numbers
        step.detail = 0 < index < len(params) - 1
    trace.steps[-1].plots.append(layered(  # the forward pass as a picture, from the same arrays
        f"the network: {' → '.join(map(str, sizes))}, values after the forward pass",
        [x, *result.outputs], [w for w, _ in params], [b for _, b in params], ["in", *(f"a{k}[" for k in range(1, len(sizes)))],
        ["input a0 = x", *(f"a{k} = {output_activation if k == len(params) else activation}(W{k}·a{k - 1} + b{k})"
                           for k in range(1, len(sizes)))],
    ))
    last = len(params)
    trace.result = answer(trace, f"layer-{last}.a{last}=the network's output a{last}",
                          Value("param_count", count.total, label="parameters"))
    trace.outputs = {"activations": list(result.outputs), "param_count": count.total}
    if inputs.same_weights:
        back = mlp.backward(result)
        trace.add(_symmetry_step(ctx, result, back))
        trace.outputs["grads"] = [{"W": dw, "b": db} for dw, db in back.grads]
    return trace


SYMMETRY_LR = 0.1  # the step size of the one update shown; any step keeps the copies equal


def _symmetry_step(ctx: Context, result: mlp.ForwardPass, back: mlp.Backward) -> Step:
    """Equal neurons get equal gradients, so one gradient step leaves them equal.

    Layer 1 of 3,4,3,4 with every W1 entry c: a1 = f(c·Σx + b) in all 4 neurons;
    ∂L/∂a1[j] = Σ_k W2[k, j]·δ2[k] is the same for every j (W2's columns are equal),
    so the rows of ∂L/∂W1 = δ1·xᵀ are equal and W1 − lr·∂L/∂W1 keeps equal rows.
    """
    n, f = ctx.n, ctx.f
    w1, _ = result.params[0]
    dw1, db1 = back.grads[0]
    updated = w1 - SYMMETRY_LR * dw1
    w2, _ = result.params[1]
    delta2, delta1 = back.deltas[1], back.deltas[0]
    g = back.grad_inputs[0]
    x = result.x
    row_spread = float(np.max(np.ptp(updated, axis=0)))
    hidden = index_labels(w1.shape[0], "n")
    inputs = index_labels(w1.shape[1], "in")
    worked = [
        f"a1 = ({', '.join(n(v) for v in result.outputs[0][:4])}{', …' if result.outputs[0].size > 4 else ''}): "
        f"every neuron of layer 1 computes {n(w1[0, 0])}×(sum of x) + {f(result.params[0][1][0])}, the same number",
        f"loss L = ½·Σ a{len(result.params)}² = {n(back.loss)} (as if every target were 0; with any loss the hidden copies stay alike)",
        dot_worked(ctx, "∂L/∂a1[0] = Σₖ W2[k, 0]·δ2[k]", w2[:, 0], delta2, float(g[0]))
        + (f"; ∂L/∂a1[1] = {n(g[1])}: the same, as W2's columns are equal" if g.size > 1 else ""),
        f"∂L/∂W1[0, 0] = δ1[0]×x[0] = {n(delta1[0])}×{f(x[0])} = {n(dw1[0, 0])} = ∂L/∂W1[1, 0]"
        if dw1.shape[0] > 1 else f"∂L/∂W1[0, 0] = δ1[0]×x[0] = {n(delta1[0])}×{f(x[0])} = {n(dw1[0, 0])}",
        f"after one step, lr {n(SYMMETRY_LR)}: W1[0, 0] = {n(w1[0, 0])} − {n(SYMMETRY_LR)}×{f(dw1[0, 0])} = "
        f"{n(updated[0, 0])}; largest difference between two rows of W1: {n(row_spread)}",
    ]
    return Step(
        id="symmetry",
        title="Why the initial weights must differ",
        formula=r"rac{\partial L}{\partial W_1} = oldsymbol{\delta}_1\,\mathbf{x}^	op,\quad "
        r"\delta_1[j] = f'(z_1[j]) \sum_k W_2[k,j]\,\delta_2[k]",
        formula_text="∂L/∂W1 = δ1·xᵀ with δ1[j] = f′(z1[j])·Σₖ W2[k, j]·δ2[k]",
        values=[
            Value("grad_W1", dw1, label="∂L/∂W1 (one row per neuron)", rows=hidden, cols=inputs),
            Value("grad_b1", db1, label="∂L/∂b1", rows=("∂L/∂b1",), cols=hidden),
            Value("updated_W1", updated, label=f"W1 after one step (lr {n(SYMMETRY_LR)})", rows=hidden, cols=inputs),
        ],
        worked=worked,
        why="With equal weights every neuron of a layer computes the same activation"
        + ", receives the same gradient and so makes the same update: after any number of steps they "
        "are still copies, and the layer is no wider than one neuron. Random initial weights break "
        "this symmetry, so each neuron can learn a different feature.",
    )


def _layer_targets(layer: int, last: bool) -> tuple[Target, ...]:
    """z_l from W_l, b_l and the layer's input; a_l from z_l and the activation."""
    before = "x" if layer == 1 else f"layer-{layer - 1}.a{layer - 1}"
    step = f"layer-{layer}"
    activation = "output-activation" if last else "activation"
    return (
        Target(step, f"z{layer}", uses=(f"{step}.W{layer}", f"{step}.b{layer}", before)),
        Target(step, f"a{layer}", uses=(f"{step}.z{layer}", activation)),
    )


def script(trace: Trace) -> str:
    """The forward pass layer by layer (and, with --same-weights, the backward pass) as NumPy source."""
    from nntutor.walkthroughs._script import activation as source
    from nntutor.walkthroughs._script import activation_slope, heading, python_name

    hidden, last = trace.inputs["activation"], trace.inputs["output-activation"]
    names = list(dict.fromkeys([hidden, last]))
    functions = []
    for name in names:
        if name == "softmax":
            functions.append("def softmax(z):\n    e = np.exp(z - z.max())\n    return e / e.sum()")
        else:
            functions.append(source(name))
    lines = [
        heading(trace, "params"),
        "param_count = sum(layer['W'].size + layer['b'].size for layer in weights)",
        "",
        "# The activations: " + ", ".join(names) + " (the last layer uses output-activation)",
        "\n\n\n".join(functions),
        "",
        "",
        "# Each layer: z_l = W_l·a_(l−1) + b_l, a_l = f(z_l), starting from a0 = x",
        "a = x",
        "zs, activations = [], []",
        "for number, layer in enumerate(weights, 1):",
        "    z = layer['W'] @ a + layer['b']",
        f"    a = {python_name(last)}(z) if number == len(weights) else {python_name(hidden)}(z)",
        "    zs.append(z)",
        "    activations.append(a)",
    ]
    if "grads" in trace.outputs:
        slope_of = {name: f"{python_name(name)}_slope" for name in names}
        slopes = [activation_slope(name) for name in names if name != "softmax"]
        if last == "softmax":
            delta_last = "delta = a * (grad_a - a @ grad_a)  # the softmax Jacobian times grad_a"
        else:
            delta_last = f"delta = grad_a * {slope_of[last]}(z)"
        lines += [
            "",
            "# Equal weights: backpropagate L = ½·Σ a_L²,",
            "# δ_l = ∂L/∂z_l and ∂L/∂W_l = δ_l·a_(l−1)ᵀ",
            "\n\n\n".join(slopes),
            "",
            "",
            "grad_a = activations[-1]  # ∂L/∂a_L = a_L",
            "grads = [None] * len(weights)",
            "for index in reversed(range(len(weights))):",
            "    z, a = zs[index], activations[index]",
            "    layer_input = x if index == 0 else activations[index - 1]",
            "    if index == len(weights) - 1:",
            "        " + delta_last,
            "    else:",
            f"        delta = grad_a * {slope_of[hidden]}(z)",
            "    grads[index] = {'W': np.outer(delta, layer_input), 'b': delta}",
            "    grad_a = weights[index]['W'].T @ delta",
        ]
    return "\n".join(lines)


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
        "same-weights": Input("flag"),
    },
    targets=(
        Target("params", "param_table", uses=("sizes",), symbol="parameters"),
        *_layer_targets(1, False),
        *_layer_targets(2, False),
        *_layer_targets(3, True),
    ),
    keep=("sizes",),
    script=script,
)
