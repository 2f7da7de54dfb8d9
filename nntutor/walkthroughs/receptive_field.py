"""The receptive-field lesson: stacked convolutions, how far one output sees, and attention.

Default run: the signal x = (1, 2, 0, −1, 3, 1, 0, 2) through three 3-tap layers with
kernels (1, 2, 1), (1, 1, 1), (1, −1, 1), stride and dilation 1 (no padding):
y₁[0] = 1×1 + 2×2 + 1×0 = 5, y₁ = (5, 1, 1, 6, 5, 3), y₂ = (7, 8, 12, 14), y₃ = (11, 10).
Receptive fields r = 1 + 2 = 3, 3 + 2 = 5, 5 + 2 = 7: y₃[0] sees x0 … x6, not x7, and the
gradient ∂y₃[0]/∂x = (1, 2, 2, 2, 2, 2, 1, 0) says the same. The 8×8 image (drawn from
--seed) goes through the same stack with the 3×3 kernels k·kᵀ: Y₃[0,0] sees a 7×7 patch.
One attention layer gives position 0 a non-zero weight on all 8 positions.

>>> from nntutor.catalog.lessonfile import load_lesson
>>> from nntutor.catalog.run import run_lesson
>>> trace = run_lesson(load_lesson("receptive-field"))
>>> trace.outputs["outputs"]["layer 3"].tolist(), trace.outputs["receptive_fields"]
([11.0, 10.0], {'layer 1': 3, 'layer 2': 5, 'layer 3': 7})
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import numpy as np

from nntutor.catalog.inputs import parse_vector
from nntutor.core import convolution as conv
from nntutor.core.attention import attend
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
    sum_worked,
)
from nntutor.walkthroughs._declare import Args, Input, Mistake, Target, Walkthrough

MAX_LAYERS = 8
MAX_TAPS = 64  # numbers in one kernel
MAX_OPS = 300_000_000  # multiply-adds of a run (forward, gradient and paths, 1-D and 2-D): a few seconds
OPS_PER_SECOND = 100_000_000  # a conservative rate for the estimate in the refusal
MAX_BYTES = 1_000_000_000  # what the arrays of a run may take
SIGNAL_VALUES = 3  # a drawn signal has whole numbers from −3 to 3
IMAGE_VALUES = 2  # a drawn image has whole numbers from −2 to 2
LONGER = (1_024, 131_072)  # sequence lengths the attention comparison adds
STACK_FLAGS = ("kernels", "strides", "dilations")
EXAMPLE = 'one kernel per layer, rows separated by ";", e.g. "1,2,1;1,1,1"'


class Inputs(NamedTuple):
    """Checked inputs: the signal, the layers (kernel, stride, dilation each) and the image."""

    signal: np.ndarray  # n numbers, at least the last layer's receptive field
    layers: tuple[conv.Layer, ...]  # 1-D kernels; the 2-D step uses k·kᵀ
    image: np.ndarray  # H × W, each side at least the receptive field
    seed: int  # what the image (and a --length signal) are drawn from
    drawn: tuple[str, ...]  # which inputs were drawn from the seed: "signal", "image"


# --------------------------------------------------------------------------- checking


def parse_kernels(raw: str) -> tuple[np.ndarray, ...]:
    """``"1,2,1;1,1,1"`` (or ``[[1,2,1],[1,1,1]]``): one kernel per layer; rows may differ in length.

    >>> [k.tolist() for k in parse_kernels("1,2,1; 1,1")]
    [[1.0, 2.0, 1.0], [1.0, 1.0]]
    """
    text = str(raw).strip()
    if text == "":
        raise InputError("--kernels", f"found an empty value (expected {EXAMPLE})")
    if text.startswith("["):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            raise InputError("--kernels", f"{text[:40]!r} is not a valid JSON list (expected {EXAMPLE})") from None
        if not isinstance(data, list) or not data:
            raise InputError("--kernels", f"expected a non-empty JSON list of kernels ({EXAMPLE})")
        rows = data if all(isinstance(item, list) for item in data) else [data]
    else:
        rows = text.split(";")
        if len(rows) > 1 and rows[-1].strip() == "":
            rows = rows[:-1]  # a trailing ';' is harmless
    if len(rows) > MAX_LAYERS:
        raise InputError("--kernels", f"has {len(rows)} layers (at most {MAX_LAYERS} here)")
    kernels = []
    for number, row in enumerate(rows, start=1):
        if isinstance(row, str) and row.strip() == "":
            raise InputError("--kernels", f"layer {number} is empty (expected {EXAMPLE})")
        try:
            kernel = parse_vector("--kernels", row)
        except InputError as exc:
            raise InputError("--kernels", f"layer {number}: {exc.message}") from None
        if kernel.size > MAX_TAPS:
            raise InputError("--kernels", f"layer {number} has {kernel.size} numbers (at most {MAX_TAPS} per kernel here)")
        kernels.append(kernel)
    return tuple(kernels)


def _per_layer(args: Args, name: str, count: int) -> tuple[int, ...]:
    """--strides or --dilations: one whole number per layer (all 1 when not given)."""
    values = args[name]
    if values is None:
        return (1,) * count
    for number, value in enumerate(values.tolist(), start=1):
        if not float(value).is_integer():
            raise InputError(f"--{name}", f"entry {number} is {value:g} (expected whole numbers ≥ 1, one per layer)")
    if values.size != count:
        raise mismatch(
            args.given, Size(name, values.size, "numbers"), Size("kernels", count, "layers"), why="one per layer"
        )
    return tuple(int(v) for v in values)


def _stack_flag(given) -> str:
    """The layer flag to name in a rule between the stack and a size (the first one typed)."""
    return next((name for name in STACK_FLAGS if name in given), "kernels")


def _signal(args: Args, seed: int) -> tuple[np.ndarray, bool]:
    if args["length"] is None:
        return args["signal"], False
    if "signal" in args.given:
        raise InputError("--length", "cannot be combined with --signal (give one or the other)")
    rng = np.random.default_rng([seed, 1])
    return rng.integers(-SIGNAL_VALUES, SIGNAL_VALUES + 1, size=int(args["length"])).astype(np.float64), True


def _too_short(given, flag: str, length: int, r: int, what: str, shape: str = "", *, layers: int) -> InputError:
    """Fewer inputs than the last layer's receptive field: the rule between the stack and a size."""
    return mismatch(
        given,
        Size(_stack_flag(given), r, "inputs in an output's receptive field", f"{layers} layers"),
        Size(flag, length, what, shape),
        fix=f"give --length {r} or more" if flag == "length" else f"give at least {r} {what}",
    )


def _image(args: Args, seed: int, n: int, r: int, layers: int) -> tuple[np.ndarray, bool]:
    given = args.given
    image = args["image"]
    if image is not None:
        if "image-size" in given:
            raise InputError("--image-size", "cannot be combined with --image (the size comes from --image)")
        rows, cols = image.shape
        if min(rows, cols) < r:
            unit = "rows" if rows < r else "columns"
            raise _too_short(given, "image", min(rows, cols), r, unit, f"{rows}×{cols}", layers=layers)
        return image, False
    side = args["image-size"]
    if side is None:
        side = n  # as long as the signal (which fits the stack already)
    elif side < r:
        raise _too_short(given, "image-size", side, r, "pixels a side", layers=layers)
    return _drawn_image(seed, int(side)), True


def _drawn_image(seed: int, side: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 2])
    return rng.integers(-IMAGE_VALUES, IMAGE_VALUES + 1, size=(side, side)).astype(np.float64)


def cost(n: int, shape: tuple[int, int], layers) -> tuple[int, int]:
    """(multiply-adds, bytes) of a run: forward, gradient and paths, in 1-D over n and in 2-D over ``shape``."""
    ops, cells = 0, n
    length, (rows, cols) = n, shape
    pixels = rows * cols
    for layer in layers:
        k = layer.kernel.size
        length = conv.output_length(length, k, layer.stride, layer.dilation)
        rows = conv.output_length(rows, k, layer.stride, layer.dilation)
        cols = conv.output_length(cols, k, layer.stride, layer.dilation)
        ops += 3 * (length * k + rows * cols * k * k)
        cells += length
        pixels += rows * cols
    return ops, 8 * 4 * (cells + pixels)


def _check_cost(given, n: int, shape: tuple[int, int], layers) -> None:
    """Refuse, before computing anything, a run that would take more than a few seconds or a GB."""
    ops, need = cost(n, shape, layers)
    if ops <= MAX_OPS and need <= MAX_BYTES:
        return
    sized = [name for name in ("image", "image-size", "length", "signal") if name in given]
    flag = sized[0] if sized else _stack_flag(given)
    rows, cols = shape
    side = " (the image is as long as the signal unless --image-size says otherwise)" if flag in ("length", "signal") else ""
    raise InputError(
        f"--{flag}",
        f"a signal of {n:,} numbers and a {rows:,}×{cols:,} image{side} need about {ops:,.0f} multiply-adds "
        f"(~{ops / OPS_PER_SECOND:,.0f} s here) and {human_bytes(need)}; at most {MAX_OPS:,} and "
        f"{human_bytes(MAX_BYTES)} are allowed",
    )


def check(args: Args) -> Inputs:
    """Every rule between the flags: one stride and dilation per layer, inputs at least one receptive field, cost."""
    kernels = parse_kernels(args["kernels"])
    count = len(kernels)
    strides = _per_layer(args, "strides", count)
    dilations = _per_layer(args, "dilations", count)
    layers = tuple(conv.Layer(k, s, d) for k, s, d in zip(kernels, strides, dilations, strict=True))
    r = conv.receptive_fields([k.size for k in kernels], strides, dilations).sizes[-1]
    seed = int(args["seed"])
    signal, signal_drawn = _signal(args, seed)
    n = signal.size
    if n < r:
        flag = "length" if signal_drawn else "signal"
        raise _too_short(args.given, flag, n, r, "numbers", layers=count)
    if args["image"] is None:  # a drawn image is refused by its size before it is drawn
        side = args["image-size"] if args["image-size"] is not None else n
        _check_cost(args.given, n, (max(side, r), max(side, r)), layers)
    image, image_drawn = _image(args, seed, n, r, count)
    _check_cost(args.given, n, image.shape, layers)
    drawn = tuple(name for name, flag in (("signal", signal_drawn), ("image", image_drawn)) if flag)
    return Inputs(signal, layers, image, seed, drawn)


# --------------------------------------------------------------------------- text helpers


def _vector(ctx: Context, values, limit: int = 8) -> str:
    items = [ctx.n(v) for v in np.asarray(values).ravel()]
    if len(items) > limit:
        items = [*items[:4], "…", *items[-2:]]
    return "(" + ", ".join(items) + ")"


def _kernel_text(ctx: Context, kernel: np.ndarray) -> str:
    items = [ctx.n(v) for v in kernel]
    if len(items) > 4:
        return f"k = {len(items)}: {items[0]}, {items[1]}, …, {items[-1]}"
    return ", ".join(items)


def _inputs_read(i: int, layer: conv.Layer) -> list[int]:
    """The positions output i of a layer reads in the level below: i·s + j·d."""
    return [i * layer.stride + j * layer.dilation for j in range(layer.kernel.size)]


def _window(name: str, read: list[int]) -> str:
    """``x0, x1, x2`` for the signal; ``y1[0, 1, 2]`` for a layer's output."""
    if name == "x":
        shown = [f"x{i}" for i in read] if len(read) <= 6 else [f"x{read[0]}", f"x{read[1]}", "…", f"x{read[-1]}"]
        return "(" + ", ".join(shown) + ")"
    shown = [str(i) for i in read] if len(read) <= 6 else [str(read[0]), str(read[1]), "…", str(read[-1])]
    return f"{name}[{', '.join(shown)}]"


def _range(first: int, last: int, name: str = "x") -> str:
    return f"{name}{first}" if first == last else f"{name}{first}–{name}{last}"


def _listed(indices: list[int], name: str = "x") -> str:
    return ", ".join(f"{name}{i}" for i in indices[:6]) + (" …" if len(indices) > 6 else "")


# --------------------------------------------------------------------------- steps


def _conv_step(ctx: Context, inputs: Inputs, outputs: list[np.ndarray]) -> Step:
    x, layer, y1 = inputs.signal, inputs.layers[0], outputs[0]
    w, k, s, d, n = layer.kernel, layer.kernel.size, layer.stride, layer.dilation, inputs.signal.size
    read = _inputs_read(0, layer)
    worked = [dot_worked(ctx, f"y1[0] = w1·{_window('x', read)}", w, x[read], y1[0])]
    if y1.size > 1:
        nxt = _inputs_read(1, layer)
        worked.append(dot_worked(ctx, f"y1[1] = w1·{_window('x', nxt)}", w, x[nxt], y1[1])
                      + (f", the same for the other {y1.size - 2}" if y1.size > 2 else ""))
    lengths = " → ".join(str(v) for v in [n, *(y.size for y in outputs)])
    worked.append(f"n1 = ⌊({n} − {d}×({k} − 1) − 1)/{s}⌋ + 1 = {y1.size}"
                  + (f";  lengths {lengths}" if len(inputs.layers) > 1 else ""))
    drawn = "signal" in inputs.drawn
    label = f"signal x ({n} whole numbers from ±{SIGNAL_VALUES}, seed {inputs.seed})" if drawn else "signal x"
    return Step(
        id="conv",
        title="One convolution worked in full: layer 1 on the signal",
        formula=r"y_1[i] = \sum_{j=0}^{k-1} w_1[j]\; x[i\,s + j\,d],\quad n_1 = \left\lfloor \frac{n - d\,(k-1) - 1}{s} \right\rfloor + 1",
        formula_text="y1[i] = Σⱼ w1[j]·x[i·s + j·d];  n1 = ⌊(n − d·(k − 1) − 1)/s⌋ + 1 outputs",
        values=[
            Value("x", x, label=label, cols=index_labels(n, "x")),
            Value("y1", y1, label=f"y1 (w1 = {_kernel_text(ctx, w)})", cols=index_labels(y1.size)),
        ],
        worked=worked,
        why="One kernel slides along the signal (not flipped, no padding): every output is the "
        "same weighted sum of its own window and sees nothing outside it.",
    )


def _stack_step(ctx: Context, inputs: Inputs, outputs: list[np.ndarray]) -> Step:
    worked, values = [], []
    for number in range(2, len(outputs) + 1):
        layer, below, y = inputs.layers[number - 1], outputs[number - 2], outputs[number - 1]
        read = _inputs_read(0, layer)
        if number <= 4:
            worked.append(dot_worked(ctx, f"y{number}[0] = w{number}·{_window(f'y{number - 1}', read)}",
                                     layer.kernel, below[read], y[0]))
        values.append(Value(f"y{number}", y, label=f"y{number} (w{number} = {_kernel_text(ctx, layer.kernel)})",
                            cols=index_labels(y.size)))
    if len(outputs) > 4:
        worked.append(f"… the same for layers 5 to {len(outputs)}")
    return Step(
        id="stack",
        title="Deeper layers: the same on the layer below",
        formula=r"y_l[i] = \sum_j w_l[j]\; y_{l-1}[i\,s_l + j\,d_l]",
        formula_text="y_l[i] = Σⱼ w_l[j]·y_(l−1)[i·s_l + j·d_l]",
        values=values,
        worked=worked,
        why="Each entry of the layer below already summed a window of the signal, so a window of "
        "those entries reaches further back: windows of windows.",
    )


def _fields_table(ctx: Context, inputs: Inputs, fields: conv.Fields) -> Table:
    rows = []
    jump_before = 1
    for number, (layer, r) in enumerate(zip(inputs.layers, fields.sizes, strict=True), start=1):
        rows.append((number, _kernel_text(ctx, layer.kernel), layer.stride, layer.dilation, jump_before, r,
                     _range(0, r - 1)))
        jump_before *= layer.stride
    return Table(("layer", "kernel", "stride", "dilation", "J below", "field r", "y[0] sees"), tuple(rows))


def _fields_step(ctx: Context, inputs: Inputs, fields: conv.Fields) -> Step:
    worked = []
    r_before, jump = 1, 1
    for number, (layer, r) in enumerate(zip(inputs.layers, fields.sizes, strict=True), start=1):
        if number <= 4:
            worked.append(
                f"r{number} = r{number - 1} + (k{number} − 1)×d{number}×J{number - 1} = "
                f"{r_before} + ({layer.kernel.size} − 1)×{layer.dilation}×{jump} = {r}"
                + (f";  J{number} = {jump}×{layer.stride} = {jump * layer.stride}" if layer.stride > 1 else "")
            )
        r_before, jump = r, jump * layer.stride
    if len(inputs.layers) > 4:
        worked.append(f"… the same for layers 5 to {len(inputs.layers)}")
    return Step(
        id="fields",
        title="How many inputs one output sees: the receptive field",
        formula=r"r_0 = 1,\quad r_l = r_{l-1} + (k_l - 1)\, d_l\, J_{l-1},\quad J_{l} = \prod_{j \le l} s_j",
        formula_text="r0 = 1, r_l = r_(l−1) + (k_l − 1)·d_l·J_(l−1);  J0 = 1, J_l = s_1·…·s_l",
        values=[Value("fields", _fields_table(ctx, inputs, fields), label="receptive field r of each layer")],
        worked=worked,
        why="A layer adds k − 1 taps, d entries apart, and entries of the layer below start J "
        "inputs apart: a stride multiplies what every later layer adds.",
    )


def _gradient_step(ctx: Context, inputs: Inputs, fields: conv.Fields) -> Step:
    n, layers = inputs.signal.size, inputs.layers
    depth = len(layers)
    grads = conv.gradients_1d(layers, n)
    paths = conv.paths_1d(layers, n)
    grad_x = grads[0]
    r = fields.sizes[-1]
    top = f"y{depth}[0]"
    worked = []
    if depth > 1:
        worked.append(f"g{depth - 1} = ∂{top}/∂y{depth - 1} = w{depth} where {top} reads: {_vector(ctx, grads[depth - 1])}")
    if depth > 2:
        through = "layer 2" if depth == 3 else f"layers {depth - 1} … 2"
        worked.append(f"g1 = ∂{top}/∂y1 = {_vector(ctx, grads[1])}, the same way through {through}")
    # one input's gradient in full: the one in the middle of the field (x_p, read by y1 at (p − j·d)/s)
    p = min(r // 2, n - 1)
    first, g1 = layers[0], grads[1]
    terms_g, terms_w, names = [], [], []
    for j in range(first.kernel.size):
        at = p - j * first.dilation
        if at >= 0 and at % first.stride == 0 and at // first.stride < g1.size:
            terms_g.append(g1[at // first.stride])
            terms_w.append(first.kernel[j])
            names.append(f"g1[{at // first.stride}]·w1[{j}]")
    if names:
        shown = " + ".join(names) if len(names) <= 4 else f"{names[0]} + … + {names[-1]}"
        worked.append(dot_worked(ctx, f"∂{top}/∂x{p} = {shown}", terms_g, terms_w, grad_x[p]))
    else:
        worked.append(f"∂{top}/∂x{p} = 0: no tap of layer 1 reads x{p}")
    first_in, last_in, _ = conv.nonzero_span(paths)
    outside = list(range(last_in + 1, n))
    worked.append(
        f"paths (every weight 1) are non-zero for {_range(first_in, last_in)}: {last_in - first_in + 1} inputs, r{depth} = {r}"
        + (f"; {_range(outside[0], outside[-1])} {'get' if len(outside) > 1 else 'gets'} 0" if outside else "")
    )
    step = Step(
        id="gradient",
        title=f"Measured: which inputs move {top}?",
        formula=r"\frac{\partial y_L[0]}{\partial x_p} = \sum_{\text{paths } x_p \to y_L[0]} \prod w \;=\; 0 "
        r"\text{ outside the receptive field}",
        formula_text=f"∂{top}/∂x_p = Σ over paths from x_p of the product of their weights",
        values=[
            Value("gradient", np.vstack([grad_x, paths.astype(np.float64)]),
                  label=f"∂{top}/∂x, and the number of paths from each input", rows=("∂/∂x", "paths"),
                  cols=index_labels(n, "x")),
        ],
        worked=worked,
        why="An output's gradient is zero for every input outside its receptive field: that is "
        "how the field of a trained network is measured.",
    )
    holes = [i for i in range(first_in, last_in + 1) if paths[i] == 0]
    if holes:
        step.warnings.append(
            f"{len(holes)} inputs inside the span have no path at all ({_listed(holes)}): the dilations or "
            "strides step over them, so the field has holes"
        )
    cancelled = [i for i in range(n) if paths[i] != 0 and grad_x[i] == 0]
    if cancelled:
        step.warnings.append(
            f"{_listed(cancelled)}: paths exist but their weights cancel, so the gradient is 0 with these "
            "weights (still inside the receptive field)"
        )
    return step


def _image_step(ctx: Context, inputs: Inputs, fields: conv.Fields) -> Step:
    layers2d = [layer._replace(kernel=conv.separable(layer.kernel)) for layer in inputs.layers]
    image = inputs.image
    outputs = conv.stack_2d(image, layers2d)
    paths = conv.paths_2d(layers2d, image.shape)
    depth, r = len(layers2d), fields.sizes[-1]
    k1, d = layers2d[0].kernel, layers2d[0].dilation
    kk = k1.shape[0]
    rows_n, cols_n = image.shape
    drawn = "image" in inputs.drawn
    source = f"{rows_n}×{cols_n} whole numbers in ±{IMAGE_VALUES} drawn from seed {inputs.seed}" if drawn \
        else f"the {rows_n}×{cols_n} image given"
    worked = [f"X: {source} (every pixel in --format json)", "K1 = w1·w1ᵀ: K1[a,b] = w1[a]·w1[b]"]
    sums = []
    cols = [b * d for b in range(kk)]
    for a in range(min(kk, 3)):
        sums.append(float(k1[a] @ image[a * d, cols]))
        columns = f"0:{cols[-1] + 1}" + (f":{d}" if d > 1 else "")
        worked.append(dot_worked(ctx, f"row {a}: K1[{a}]·X[{a * d}, {columns}]", k1[a], image[a * d, cols], sums[-1]))
    if kk <= 3:
        worked.append(sum_worked(ctx, "Y1[0,0]", sums, outputs[0][0, 0]))
    else:
        worked.append(f"… and {kk - 3} more rows: Y1[0,0] = {ctx.n(outputs[0][0, 0])}")
    found_rows = conv.nonzero_span(paths.any(axis=1))
    found_cols = conv.nonzero_span(paths.any(axis=0))
    worked.append(
        f"Y{depth}[0,0] reads rows {found_rows[0]}–{found_rows[1]} and columns {found_cols[0]}–{found_cols[1]}: "
        f"{r}×{r} = {r * r} of {image.size} pixels"
    )
    line = conv.paths_1d(inputs.layers, max(rows_n, cols_n))
    c = r // 2
    worked.append(f"paths[{c},{c}] = {line[c]}×{line[c]} = {paths[c, c]}: the 1-D paths along each axis, multiplied")
    final = outputs[-1]
    return Step(
        id="image",
        title=f"In 2-D: {depth} layers of {kk}×{kk} see {r}×{r}",
        formula=r"Y_l[i,j] = \sum_{a,b} K_l[a,b]\; Y_{l-1}[i\,s + a\,d,\; j\,s + b\,d],\quad K_l = w_l w_l^\top",
        formula_text="Y_l[i,j] = Σ_(a,b) K_l[a,b]·Y_(l−1)[i·s + a·d, j·s + b·d]",
        values=[
            Value(f"Y{depth}", final, label=f"layer {depth} output Y{depth} ({final.shape[0]}×{final.shape[1]})",
                  rows=index_labels(final.shape[0], "r"), cols=index_labels(final.shape[1], "c")),
            Value("paths", paths, label=f"paths from each pixel of X to Y{depth}[0,0]",
                  rows=index_labels(rows_n, "r"), cols=index_labels(cols_n, "c"), detail=True),  # its centre is worked below
        ],
        worked=worked,
        why="The recurrence holds along rows and columns alike, so k×k layers see an r×r patch: "
        "its area grows with the square of the depth, yet it stays bounded.",
    )


def _attention_step(ctx: Context, inputs: Inputs) -> Step:
    x = inputs.signal
    n = x.size
    tokens = x.reshape(-1, 1)  # each number a 1-dimensional token; Q = K = V = X
    result = attend(tokens[:1], tokens, tokens)
    weights = result.weights[0]
    exps = np.exp(result.scores[0] / result.scale - result.row_max[0])
    last = n - 1
    sizes = [n, *(m for m in LONGER if m != n)]
    rows = tuple((m, conv.plain_layers_to_see(m, 3), conv.dilated_layers_to_see(m, 3), 1) for m in sizes)
    top = ctx.n(result.row_max[0])
    worked = [
        sum_worked(ctx, f"Σ exp(s − {top})", exps, result.row_sum[0]),
        f"A[0,{last}] = exp({ctx.n(result.scores[0, last])} − {ctx.n(result.row_max[0])})/{ctx.n(result.row_sum[0])} "
        f"= {ctx.n(weights[last])}; every A[0,j] > 0, as exp is never 0",
        f"3 taps: 1 + 2L ≥ {n} at L = {rows[0][1]};  dilated 1, 2, 4, …: 2^(L+1) − 1 ≥ {n} at L = {rows[0][2]}",
    ]
    return Step(
        id="attention",
        title=f"Against attention: one layer sees all {n} positions",
        formula=r"A_{0j} = \frac{e^{s_{0j}}}{\sum_k e^{s_{0k}}} > 0 \text{ for every } j",
        formula_text="A[0,j] = exp(s[0,j]) / Σₖ exp(s[0,k]) > 0,  s[0,j] = x0·xj/√1",
        values=[
            Value("A", weights, label="A[0] (each number a token, Q = K = V = x)",
                  cols=index_labels(n, "x")),
            Value("depth", Table(("positions n", "3-tap layers", "dilated", "attention"), rows),
                  label="layers before one output sees all n positions"),
        ],
        worked=worked,
        why="A convolution's reach grows a fixed amount per layer (doubling with dilation); "
        "attention scores every pair of positions: one layer, n² scores.",
    )


def build(ctx: Context, inputs: Inputs) -> Trace:
    layers = inputs.layers
    outputs = conv.stack_1d(inputs.signal, layers)
    fields = conv.receptive_fields([la.kernel.size for la in layers], [la.stride for la in layers],
                                   [la.dilation for la in layers])
    recorded: dict[str, Any] = {
        "signal": inputs.signal,
        "kernels": [la.kernel for la in layers],
        "strides": [la.stride for la in layers],
        "dilations": [la.dilation for la in layers],
        "image": inputs.image,
    }
    if inputs.drawn:
        recorded["seed"] = inputs.seed
    trace = ctx.new_trace(recorded)
    trace.add(_conv_step(ctx, inputs, outputs))
    if len(outputs) > 1:
        trace.add(_stack_step(ctx, inputs, outputs))
    trace.add(_fields_step(ctx, inputs, fields))
    trace.add(_gradient_step(ctx, inputs, fields))
    trace.add(_image_step(ctx, inputs, fields))
    trace.add(_attention_step(ctx, inputs))
    trace.outputs = {
        "outputs": {f"layer {number}": y for number, y in enumerate(outputs, start=1)},
        "receptive_fields": {f"layer {number}": r for number, r in enumerate(fields.sizes, start=1)},
    }
    trace.result = answer(trace, "fields.fields")
    return trace

# --------------------------------------------------------------------------- known mistakes

R_COLUMN = 5  # "field r" in the fields table


def _field_cell(case) -> int | None:
    """The layer (0-based) whose receptive field is asked, or None for another cell."""
    if case.value != "fields" or len(case.index) != 2 or case.index[1] != R_COLUMN:
        return None
    return case.index[0]


def _summed_kernels(case) -> float | None:
    """k₁ + k₂ + … + k_l: every layer's k counted whole, the shared input counted again each time."""
    row = _field_cell(case)
    if row is None:
        return None
    return float(sum(layer.kernel.size for layer in case.inputs.layers[: row + 1]))


def _no_jump(case) -> float | None:
    """1 + Σ (k − 1)·d: the strides of the layers below left out."""
    row = _field_cell(case)
    if row is None or all(layer.stride == 1 for layer in case.inputs.layers[:row]):
        return None
    return float(1 + sum((layer.kernel.size - 1) * layer.dilation for layer in case.inputs.layers[: row + 1]))


def _no_dilation(case) -> float | None:
    """1 + Σ (k − 1)·J: the dilations left out."""
    row = _field_cell(case)
    layers = case.inputs.layers[: row + 1] if row is not None else ()
    if row is None or all(layer.dilation == 1 for layer in layers):
        return None
    return float(conv.receptive_fields([la.kernel.size for la in layers], [la.stride for la in layers], [1] * len(layers)).sizes[-1])


def _below(case) -> tuple[np.ndarray, conv.Layer] | None:
    """The input a conv output was computed from, and its layer (None for other values)."""
    name = case.value
    if not (name.startswith("y") and name[1:].isdigit()) or len(case.index) != 1:
        return None
    number = int(name[1:])
    layers = case.inputs.layers
    if not 1 <= number <= len(layers):
        return None
    below = case.inputs.signal if number == 1 else conv.stack_1d(case.inputs.signal, layers[: number - 1])[-1]
    return below, layers[number - 1]


def _flipped(case) -> float | None:
    """Σ w[k−1−j]·x[i·s + j·d]: the mathematician's convolution, kernel flipped."""
    found = _below(case)
    if found is None:
        return None
    below, layer = found
    read = _inputs_read(case.index[0], layer)
    return float(layer.kernel[::-1] @ below[read])


def _stride_ignored(case) -> float | None:
    """The window of output i started at input i instead of i·s."""
    found = _below(case)
    if found is None or found[1].stride == 1:
        return None
    below, layer = found
    read = [case.index[0] + j * layer.dilation for j in range(layer.kernel.size)]
    return float(layer.kernel @ below[read]) if read[-1] < below.size else None


def _paths_for_gradient(case) -> float | None:
    """The number of paths for the gradient: the weights along each path not multiplied in."""
    if case.value != "gradient" or len(case.index) != 2 or case.index[0] != 0:
        return None
    return float(conv.paths_1d(case.inputs.layers, case.inputs.signal.size)[case.index[1]])


MISTAKES = (
    Mistake("summed-kernels", "added the kernel sizes (k₁ + k₂ + …): each layer adds k − 1, its first tap is shared",
            _summed_kernels, values=("fields",)),
    Mistake("no-jump", "left out the jump: the strides of the layers below multiply what a layer adds",
            _no_jump, values=("fields",)),
    Mistake("no-dilation", "left out the dilation: a dilated kernel's taps are d apart", _no_dilation, values=("fields",)),
    # the outputs of every layer, y1, y2, … (as many as the run has layers: _below picks them out)
    Mistake("flipped-kernel", "flipped the kernel (convolution layers do not flip it)", _flipped),
    Mistake("stride-ignored", "started window i at position i instead of i·s", _stride_ignored),
    Mistake("paths-for-gradient", "counted the paths without multiplying the weights along them", _paths_for_gradient,
            values=("gradient",)),
)


# --------------------------------------------------------------------------- quiz runs

# Stacks whose last receptive field fits the default 8 numbers: (kernel sizes, strides, dilations).
QUIZ_STACKS = (
    ((3, 3, 3), (1, 1, 1), (1, 1, 1)),
    ((3, 3), (1, 1), (1, 2)),
    ((3, 3), (2, 1), (1, 1)),
    ((2, 2, 2), (1, 1, 1), (1, 2, 4)),
    ((2, 3, 2), (1, 1, 1), (1, 1, 1)),
    ((3, 2), (2, 1), (1, 1)),
)


def _quiz_stack(rng: np.random.Generator, values: dict[str, Any]) -> dict[str, Any]:
    """A stack from :data:`QUIZ_STACKS` with fresh whole-number kernels (−2 … 2, none all zero)."""
    sizes, strides, dilations = QUIZ_STACKS[int(rng.integers(0, len(QUIZ_STACKS)))]
    kernels = []
    for k in sizes:
        kernel = rng.integers(-2, 3, size=k)
        while not kernel.any():
            kernel = rng.integers(-2, 3, size=k)
        kernels.append(",".join(str(int(v)) for v in kernel))
    return {
        "kernels": ";".join(kernels),
        "strides": np.array(strides, dtype=np.float64),
        "dilations": np.array(dilations, dtype=np.float64),
    }


def script(trace: Trace) -> str:
    """The stacked 1-D convolutions and their receptive fields as NumPy source (``--format py``)."""
    from nntutor.walkthroughs._script import heading

    return "\n".join([
        heading(trace, "conv"),
        "",
        "",
        "def conv1d(x, w, stride, dilation):",
        "    \"\"\"y[i] = Σⱼ w[j]·x[i·s + j·d]: no kernel flip, no padding.\"\"\"",
        "    n_out = (len(x) - dilation * (len(w) - 1) - 1) // stride + 1",
        "    y = np.zeros(max(n_out, 0))",
        "    for i in range(len(y)):",
        "        y[i] = sum(w[j] * x[i * stride + j * dilation] for j in range(len(w)))",
        "    return y",
        "",
        "",
        heading(trace, "stack"),
        "outputs, y = {}, signal",
        "for number, (w, s, d) in enumerate(zip(kernels, strides, dilations), 1):",
        "    y = conv1d(y, np.asarray(w, dtype=float), s, d)",
        "    outputs[f'layer {number}'] = y",
        "",
        heading(trace, "fields"),
        "receptive_fields, r, jump = {}, 1, 1",
        "for number, (w, s, d) in enumerate(zip(kernels, strides, dilations), 1):",
        "    r += (len(w) - 1) * d * jump  # (k − 1)·d steps of the layer below",
        "    jump *= s",
        "    receptive_fields[f'layer {number}'] = r",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "signal": Input("vector"),
        "kernels": Input("text"),
        "strides": Input("vector", minimum=1, maximum=1000),
        "dilations": Input("vector", minimum=1, maximum=1000),
        "image": Input("matrix"),
        "image-size": Input("integer", minimum=1),
        "length": Input("integer", minimum=1, maximum=1000000),
        "seed": Input("integer", minimum=0),
    },
    targets=(
        Target("conv", "y1"),
        Target("stack", "y2"),
        Target("fields", "fields", cols=(R_COLUMN,)),
        Target("gradient", "gradient", rows=(0,)),
    ),
    mistakes=MISTAKES,
    keep=("length", "image-size", "seed"),
    extra=_quiz_stack,
    script=script,
)
