"""The backprop lesson: one example through a two-layer network, and back.

Default network (2-2-2, sigmoid everywhere, half-sse, lr 0.5): x = (1, 0.5),
y = (1, 0), W1 = [[0.3, −0.4], [0.5, 0.3]], b1 = (0.1, −0.1),
W2 = [[0.6, −0.3], [−0.2, 0.4]], b2 = (0, 0.1). The first hidden unit has
z1₀ = 0.3×1 + (−0.4)×0.5 + 0.1 = 0.2.

``check`` chains the shapes and resolves ``--param`` into the parameters derived in
full; the lesson file's default ``W1[0,1];W2[1,0]`` falls back to one weight per
layer when it does not fit a smaller network:

>>> from nntutor.catalog.lessonfile import load_lesson
>>> from nntutor.catalog.run import parse_args
>>> lesson = load_lesson("backprop")
>>> check(parse_args(lesson, {})).chosen
(('W1', (0, 1)), ('W2', (1, 0)))
>>> check(parse_args(lesson, {"x": "1", "y": "5", "W1": "2", "b1": "0", "W2": "3", "b2": "1"})).chosen
(('W1', (0, 0)), ('W2', (0, 0)))
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np

from nntutor.core import backprop as bp
from nntutor.errors import InputError
from nntutor.numfmt import fmt
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
from nntutor.walkthroughs._declare import Args, Input, Target, Walkthrough
from nntutor.walkthroughs._network import layered

MAX_PARAMS = 1000
MAX_CHOSEN = 6
MAX_PARAM_CHARS = 200
# Whitespace is removed first, so the list pattern has one way to match (no backtracking blow-up).
_PARAM_ITEM = r"(W1|W2)\[([0-9]{1,4}),([0-9]{1,4})\]|(b1|b2)\[([0-9]{1,4})\]"
_PARAM = re.compile(_PARAM_ITEM)
_PARAM_LIST = re.compile(rf"(?:(?:{_PARAM_ITEM});?)+")
_PARAM_EXAMPLE = "e.g. W1[0,1] or 'W1[0,1];b2[0]' (W1, W2 take [row,column]; b1, b2 take [index])"

LOSS_TEXT = {
    "half-sse": (r"L = \tfrac{1}{2} \sum_k (y_k - \hat y_k)^2", "L = ½·Σₖ (yₖ − ŷₖ)²"),
    "mse": (r"L = \frac{1}{n} \sum_k (y_k - \hat y_k)^2", "L = (1/n)·Σₖ (yₖ − ŷₖ)²"),
    "ce-softmax": (r"L = -\sum_k y_k \ln \hat y_k", "L = −Σₖ yₖ·ln ŷₖ"),
    "ce-sigmoid": (
        r"L = -\sum_k \left[ y_k \ln \hat y_k + (1 - y_k) \ln (1 - \hat y_k) \right]",
        "L = −Σₖ [yₖ·ln ŷₖ + (1 − yₖ)·ln(1 − ŷₖ)]",
    ),
}


def parse_params(text: str, params: bp.Params) -> list[tuple[str, tuple[int, ...]]]:
    """``'W1[0,1];b2[0]'`` -> ``[('W1', (0, 1)), ('b2', (0,))]``, checked against the shapes.

    Read with a regular expression only (nothing is evaluated).
    """
    text = text or ""
    if len(text) > MAX_PARAM_CHARS:
        raise InputError("--param", f"is {len(text)} characters long; at most {MAX_PARAM_CHARS} are accepted")
    compact = re.sub(r"\s+", "", text)
    if not _PARAM_LIST.fullmatch(compact):
        raise InputError("--param", f"{text!r} is not a list of parameters ({_PARAM_EXAMPLE})")
    chosen: list[tuple[str, tuple[int, ...]]] = []
    shapes = {name: array.shape for name, array in params.as_dict().items()}
    for m in _PARAM.finditer(compact):
        if m.group(1):
            name, index = m.group(1), (int(m.group(2)), int(m.group(3)))
        else:
            name, index = m.group(4), (int(m.group(5)),)
        shape = shapes[name]
        if any(i >= s for i, s in zip(index, shape, strict=True)):
            size = "×".join(str(s) for s in shape)
            raise InputError(
                "--param", f"{name}[{','.join(map(str, index))}] is out of range: {name} is {size} (indices start at 0)"
            )
        if (name, index) not in chosen:
            chosen.append((name, index))
    if len(chosen) > MAX_CHOSEN:
        raise InputError("--param", f"{len(chosen)} parameters chosen; at most {MAX_CHOSEN} are derived in full")
    return chosen


class Inputs(NamedTuple):
    """Checked inputs: one example, a two-layer network whose shapes chain, and what to show of it."""

    x: np.ndarray  # the input example
    y: np.ndarray  # its target, one number per output
    params: bp.Params  # W1 (hidden × inputs), b1, W2 (outputs × hidden), b2
    activation: str  # hidden layer f
    output_activation: str  # output layer g
    loss: str  # half-sse, mse or ce
    lr: float  # of the gradient-descent step at the end
    chosen: tuple[tuple[str, tuple[int, ...]], ...]  # parameters derived in full: ("W1", (0, 1)), …


def check(args: Args) -> Inputs:
    """The flags checked together: shapes, size, loss and targets, and the chosen parameters."""
    params, x, y = _network(args)
    if "param" in args.given:
        chosen = parse_params(args["param"], params)
    else:
        try:  # the lesson file's default
            chosen = parse_params(args["param"], params)
        except InputError:
            # It does not fit this (smaller) network: one weight from each layer that does.
            n_in, n_out = params.W1.shape[1], params.W2.shape[0]
            chosen = [("W1", (0, min(1, n_in - 1))), ("W2", (min(1, n_out - 1), 0))]
    return Inputs(
        x=x,
        y=y,
        params=params,
        activation=args["activation"],
        output_activation=args["output-activation"],
        loss=args["loss"],
        lr=float(args["lr"]),
        chosen=tuple(chosen),
    )


def _network(args: Args) -> tuple[bp.Params, np.ndarray, np.ndarray]:
    """(params, x, y) with every shape checked against the others, and the loss against the outputs."""
    x = np.asarray(args["x"], dtype=np.float64)
    y = np.asarray(args["y"], dtype=np.float64)
    W1, b1 = np.asarray(args["W1"], dtype=np.float64), np.asarray(args["b1"], dtype=np.float64)
    W2, b2 = np.asarray(args["W2"], dtype=np.float64), np.asarray(args["b2"], dtype=np.float64)
    given = args.given
    # (input, its size, its unit), the size that rules it, and why: each error names the flag typed
    rules = (
        (("W1", W1.shape[1], "columns"), ("x", x.size, "numbers"), "W1 is hidden × inputs"),
        (("b1", b1.size, "numbers"), ("W1", W1.shape[0], "rows"), "one bias per hidden neuron"),
        (("W2", W2.shape[1], "columns"), ("W1", W1.shape[0], "rows"), "W2 is outputs × hidden"),
        (("b2", b2.size, "numbers"), ("W2", W2.shape[0], "rows"), "one bias per output"),
        (("y", y.size, "numbers"), ("W2", W2.shape[0], "rows"), "one target per output"),
    )
    for (name, size, unit), (rule_name, rule_size, rule_unit), why in rules:
        if size != rule_size:
            # the other inputs left at their defaults that the typed one no longer fits
            stale = [f"--{n}" for (n, s, _), (r, rs, _), _ in rules if r == rule_name and s != rs and n not in given]
            fix = f"pass {' and '.join(stale)} too" if len(stale) > 1 else ""
            raise mismatch(
                given,
                Size(name, size, unit, shape_words(args[name])),
                Size(rule_name, rule_size, rule_unit, shape_words(args[rule_name])),
                why=why,
                fix=fix,
            )
    params = bp.Params(W1, b1, W2, b2)
    if params.count() > MAX_PARAMS:
        raise InputError(
            "--W1", f"the network has {params.count():,} parameters; this lesson shows at most {MAX_PARAMS:,}"
        )
    out, loss = args["output-activation"], args["loss"]
    if loss == "ce":
        if out == "identity":
            raise InputError(
                "--loss", "ce needs probabilities: use --output-activation sigmoid or softmax (identity outputs are not)"
            )
        if np.any(y < 0) or np.any(y > 1):
            raise InputError("--y", "with --loss ce the targets must be probabilities between 0 and 1")
        if out == "softmax" and abs(float(np.sum(y)) - 1.0) > 1e-9:
            raise InputError(
                "--y", f"with softmax and --loss ce the targets must sum to 1 (a distribution), got {float(np.sum(y)):g}"
            )
    return params, x, y


SYMBOL = {"sigmoid": "σ", "identity": "", "relu": "ReLU", "tanh": "tanh"}  # g(z) as the worked lines write it


def build(ctx: Context, inputs: Inputs) -> Trace:
    params, x, y = inputs.params, inputs.x, inputs.y
    activation, out_act, loss = inputs.activation, inputs.output_activation, inputs.loss
    lr = inputs.lr
    chosen = list(inputs.chosen)
    n, f = ctx.n, ctx.f
    n_in, n_hid, n_out = x.size, params.W1.shape[0], params.W2.shape[0]
    xl, hl, ol = index_labels(n_in, "x"), index_labels(n_hid, "h"), index_labels(n_out, "ŷ")

    r = bp.backprop(params, x, y, activation, out_act, loss)
    fw = r.forward
    trace = ctx.new_trace(
        {
            "x": x,
            "y": y,
            "W1": params.W1,
            "b1": params.b1,
            "W2": params.W2,
            "b2": params.b2,
            "activation": activation,
            "output-activation": out_act,
            "loss": loss,
            "lr": lr,
            "param": [_label(name, index) for name, index in chosen],
        }
    )

    # 1. Hidden layer.
    worked = []
    for i in range(min(n_hid, 4)):
        if i:  # the first unit step by step, the others on one line each
            g = SYMBOL.get(activation, activation)
            worked.append(f"h[{i}] = {g}(W1[{i}]·x + b1[{i}]) = {g}({n(params.W1[i] @ x)} + {f(params.b1[i])}) = "
                          f"{g}({n(fw.z1[i])}) = {n(fw.h[i])}")
            continue
        worked.append(dot_worked(ctx, f"W1[{i}]·x", params.W1[i], x, float(params.W1[i] @ x)))
        worked.append(f"z1[{i}] = {n(params.W1[i] @ x)} + {f(params.b1[i])} = {n(fw.z1[i])}")
        worked.append(f"h[{i}] = {activation_worked(ctx, activation, fw.z1[i])}")
    trace.add(
        Step(
            id="hidden",
            title="Forward: the hidden layer",
            formula=r"\mathbf{z}^{(1)} = W^{(1)}\mathbf{x} + \mathbf{b}^{(1)}, \quad \mathbf{h} = f(\mathbf{z}^{(1)}), \quad "
            + FORMULAS[activation][0],
            formula_text=f"z1 = W1·x + b1,  h = f(z1),  {FORMULAS[activation][1]}",
            values=[
                Value("x", x, cols=xl),
                Value("W1", params.W1, rows=hl, cols=xl),
                Value("b1", params.b1, cols=hl),
                Value("z1", fw.z1, cols=hl, detail=True),  # the worked lines give each entry
                Value("h", fw.h, cols=hl, detail=n_hid <= 4),  # then every entry is worked out below
            ],
            worked=worked,
            why="Each hidden unit is a neuron: weighted inputs plus a bias, then f.",
        )
    )

    # 2. Output layer and loss.
    worked = []
    for k in range(min(n_out, 4)):
        if k and out_act != "softmax":  # the first output step by step, the others on one line each
            continue
        worked.append(dot_worked(ctx, f"W2[{k}]·h", params.W2[k], fw.h, float(params.W2[k] @ fw.h)))
        worked.append(f"z2[{k}] = {n(params.W2[k] @ fw.h)} + {f(params.b2[k])} = {n(fw.z2[k])}")
    if out_act == "softmax":
        exps = np.exp(fw.z2 - np.max(fw.z2))
        worked.append(
            f"ŷ = softmax(z2): ŷ[0] = e^(z2[0] − max z2) / Σⱼ e^(z2[j] − max z2) = e^({n(fw.z2[0] - np.max(fw.z2))}) / ({' + '.join(n(e) for e in exps[:6])}"
            f"{' + …' if n_out > 6 else ''}) = {n(fw.yhat[0])}"
        )
    else:
        g = SYMBOL.get(out_act, out_act)
        worked.append(f"ŷ[0] = {activation_worked(ctx, out_act, fw.z2[0])}")
        for k in range(1, min(n_out, 4)):
            line = f"W2[{k}]·h + b2[{k}] = {n(params.W2[k] @ fw.h)} + {f(params.b2[k])}"
            worked.append(f"ŷ[{k}] = {line} = {n(fw.yhat[k])}" if not g else
                          f"ŷ[{k}] = {g}({line.replace(' = ', ') = ' + g + '(', 1)}) = {g}({n(fw.z2[k])}) = {n(fw.yhat[k])}")
    worked.append(_loss_worked(ctx, loss, out_act, y, fw.yhat, float(r.loss)))
    loss_key = f"ce-{out_act}" if loss == "ce" else loss
    if out_act == "softmax":
        out_formula, out_text = r"\hat y_k = \frac{e^{z_k}}{\sum_j e^{z_j}}", "ŷₖ = e^(zₖ) / Σⱼ e^(zⱼ)"
    else:
        out_formula, out_text = FORMULAS[out_act]
    output_step = Step(
        id="output",
        title="Forward: the output layer and the loss",
        formula=r"\mathbf{z}^{(2)} = W^{(2)}\mathbf{h} + \mathbf{b}^{(2)}, \quad \hat{\mathbf{y}} = g(\mathbf{z}^{(2)}), \quad "
        + out_formula
        + r", \quad "
        + LOSS_TEXT[loss_key][0],
        formula_text=f"z2 = W2·h + b2,  ŷ = g(z2),  {out_text},  {LOSS_TEXT[loss_key][1]}",
        values=[
            # the network diagram below draws W2 and b2 with the values they connect
            Value("W2", params.W2, rows=ol, cols=hl, detail=True),
            Value("b2", params.b2, cols=ol, detail=True),
            Value("z2", fw.z2, cols=ol, detail=True),
            Value("output", fw.yhat, label="ŷ", cols=ol, detail=n_out <= 4 and out_act != "softmax"),
            Value("y", y, label="target y", cols=ol),
            Value("loss", float(r.loss), label="L"),
        ],
        worked=worked,
        why=("The outputs are left as they are (identity); " + _loss_why(loss, out_act)) if out_act == "identity"
        else _loss_why(loss, out_act)[0].upper() + _loss_why(loss, out_act)[1:],
    )
    if out_act == "softmax" and n_out == 1:
        output_step.warnings.append("softmax of a single output is always 1: nothing can be learned from it.")
    output_step.plots.append(layered(  # the forward pass as a picture, from the same arrays
        f"the network: {n_in} → {n_hid} → {n_out}, values after the forward pass",
        [x, fw.h, fw.yhat], [params.W1, params.W2], [params.b1, params.b2], ["x", "h", "ŷ"],
        ["input x", f"h = {activation}(W1·x + b1)", f"ŷ = {out_act}(W2·h + b2)"],
    ))
    trace.add(output_step)

    # 3. δ at the output.
    trace.add(_output_delta_step(ctx, r, y, out_act, loss))

    # 4. δ at the hidden layer.
    worked = []
    for i in range(min(n_hid, 4)):
        terms = " + ".join(f"{f(params.W2[k, i])}×{f(r.delta2[k])}" for k in range(min(n_out, 6)))
        worked.append(
            f"δ1[{i}] = ({terms}{' + …' if n_out > 6 else ''}) × f′({n(fw.z1[i])}) = {n(r.back[i])} × {f(r.f_prime[i])} = {n(r.delta1[i])}"
        )
    trace.add(
        Step(
            id="hidden-delta",
            title="Backward: δ at the hidden layer",
            formula=r"\boldsymbol{\delta}^{(1)} = \left(W^{(2)\top} \boldsymbol{\delta}^{(2)}\right) \odot f'(\mathbf{z}^{(1)})",
            formula_text="δ1 = (W2ᵀ·δ2) ⊙ f′(z1)",
            values=[
                Value("back", r.back, label="W2ᵀ·δ2 = ∂L/∂h", cols=hl, detail=True),
                Value("f_prime", r.f_prime, label="f′(z1)", cols=hl, detail=True),
                Value("delta1", r.delta1, label="δ1 = ∂L/∂z1", cols=hl),
            ],
            worked=worked,
            why="A hidden unit's δ: the output δs summed over its connections, times f′." + (" ReLU's derivative at exactly 0 is taken as 0, as PyTorch does." if activation == "relu" else ""),
        )
    )

    # 5. Full gradient tables.
    g = r.grads
    trace.add(
        Step(
            id="gradients",
            title="Every gradient",
            formula=r"\frac{\partial L}{\partial W^{(2)}} = \boldsymbol{\delta}^{(2)} \mathbf{h}^\top, \;"
            r"\frac{\partial L}{\partial \mathbf{b}^{(2)}} = \boldsymbol{\delta}^{(2)}, \;"
            r"\frac{\partial L}{\partial W^{(1)}} = \boldsymbol{\delta}^{(1)} \mathbf{x}^\top, \;"
            r"\frac{\partial L}{\partial \mathbf{b}^{(1)}} = \boldsymbol{\delta}^{(1)}",
            formula_text="∂L/∂W2 = δ2·hᵀ,  ∂L/∂b2 = δ2,  ∂L/∂W1 = δ1·xᵀ,  ∂L/∂b1 = δ1",
            values=[
                Value("dW1", g.W1, label="∂L/∂W1", rows=hl, cols=xl),
                Value("db1", g.b1, label="∂L/∂b1", cols=hl, detail=True),  # = δ1
                Value("dW2", g.W2, label="∂L/∂W2", rows=ol, cols=hl),
                Value("db2", g.b2, label="∂L/∂b2", cols=ol, detail=True),  # = δ2
            ],
            worked=[
                f"∂L/∂W2[0,0] = δ2[0]×h[0] = {f(r.delta2[0])}×{f(fw.h[0])} = {n(g.W2[0, 0])}",
                f"∂L/∂W1[0,0] = δ1[0]×x[0] = {f(r.delta1[0])}×{f(x[0])} = {n(g.W1[0, 0])}",
            ],
            why="A weight's gradient: the δ of the unit it feeds × the value it multiplies.",
        )
    )

    # Checks, left to --full: the exact derivatives (sympy), the chosen ones as chain-rule
    # factors, central finite differences. What they found is said with the gradients.
    first = len(trace.steps) + 1
    trace.add(_symbolic_step(ctx, params, x, y, activation, out_act, loss, chosen)).detail = True
    trace.add(_chain_step(ctx, params, r, chosen)).detail = True
    check = trace.add(_check_step(ctx, params, x, y, activation, out_act, loss, r))
    check.detail = True
    trace.step("gradients").worked.append(
        f"checked (steps {first}–{first + 2}, --full): sympy and finite differences agree to "
        f"{fmt(check.value('max_error').data, 3)}"
    )

    # 9. One step of gradient descent (after the three checks).
    new = bp.sgd_step(params, g, lr)
    after = bp.loss_value(bp.forward(new, x, activation, out_act), y, out_act, loss)
    trace.add(
        Step(
            id="update",
            title="One step of gradient descent",
            formula=r"\theta \leftarrow \theta - \eta \, \frac{\partial L}{\partial \theta}",
            formula_text="θ ← θ − η·∂L/∂θ",
            values=[
                Value("W1", new.W1, label="new W1", rows=hl, cols=xl, detail=True),  # one entry worked below
                Value("b1", new.b1, label="new b1", cols=hl, detail=True),
                Value("W2", new.W2, label="new W2", rows=ol, cols=hl, detail=True),
                Value("b2", new.b2, label="new b2", cols=ol, detail=True),
                Value("loss_before", float(r.loss), label="L before"),
                Value("loss_after", after, label="L after"),
            ],
            worked=[
                f"W1[0,0] ← {n(params.W1[0, 0])} − {n(lr)}×{f(g.W1[0, 0])} = {n(new.W1[0, 0])}",
                f"W2[0,0] ← {n(params.W2[0, 0])} − {n(lr)}×{f(g.W2[0, 0])} = {n(new.W2[0, 0])}",
            ],
            why="Each parameter steps against its gradient; a small step lowers the loss.",
        )
    )
    if after > float(r.loss):
        trace.step("update").warnings.append(
            f"The loss went up ({n(float(r.loss))} → {n(after)}): lr = {n(lr)} overshoots here; try a smaller --lr."
        )
    trace.result = answer(trace, "output.loss", "update.loss_after=L after", "gradients.dW1", "gradients.dW2",
                          Value("bias_gradients", "∂L/∂b1 = δ1, ∂L/∂b2 = δ2", label="bias gradients"))
    trace.outputs = {
        "hidden": fw.h,
        "output": fw.yhat,
        "loss": float(r.loss),
        "grads": g.as_dict(),
        "updated": new.as_dict(),
    }
    return trace


def _label(name: str, index: tuple[int, ...]) -> str:
    return f"{name}[{','.join(str(i) for i in index)}]"


def _loss_worked(ctx: Context, loss: str, out_act: str, y, yhat, value: float) -> str:
    n, f = ctx.n, ctx.f
    k = min(len(y), 6)
    more = " + …" if len(y) > 6 else ""
    if loss == "half-sse":
        terms = " + ".join(f"({n(y[i])} − {n(yhat[i])})²" for i in range(k))
        return f"L = ½×[{terms}{more}] = {n(value)}"
    if loss == "mse":
        terms = " + ".join(f"({n(y[i])} − {n(yhat[i])})²" for i in range(k))
        return f"L = (1/{len(y)})×[{terms}{more}] = {n(value)}"
    if out_act == "softmax":
        terms = " + ".join(f"{f(y[i])}×ln {n(yhat[i])}" for i in range(k) if y[i] != 0)
        return f"L = −({terms}{more}) = {n(value)} (natural log; terms with y = 0 vanish)"
    terms = " + ".join(f"{f(y[i])}×ln {n(yhat[i])} + {f(1 - y[i])}×ln {n(1 - yhat[i])}" for i in range(k))
    return f"L = −({terms}{more}) = {n(value)} (natural log)"


def _loss_why(loss: str, out_act: str) -> str:
    if loss == "half-sse":
        return "half the squared error: its ½ cancels the derivative's 2, so ∂L/∂ŷ = ŷ − y."
    if loss == "mse":
        return "the loss is the mean squared error over the outputs, so ∂L/∂ŷ = 2(ŷ − y)/n."
    if out_act == "softmax":
        return "the loss is the cross-entropy of the target distribution (natural log): only the probability given to the right answers counts."
    return "the loss is binary cross-entropy per output (natural log): each output is its own yes/no probability."


def _symbolic_step(ctx, params: bp.Params, x, y, activation, out_act, loss, chosen) -> Step:
    from nntutor.symbolic import backprop as sb

    step = Step(
        id="symbolic",
        title="The exact derivatives (sympy)",
        formula=r"\frac{\partial L}{\partial \theta} \text{ for each chosen } \theta",
        formula_text="∂L/∂θ for each chosen θ",
        why="sympy writes the loss as one formula in the parameters and differentiates it exactly; "
        "the chain rule is visible in the result as a product of factors, one per layer crossed. "
        "Here z1ᵢ and z2ₖ abbreviate the pre-activation sums" + (", and step(z) = 1 for z > 0, else 0." if activation == "relu" else "."),
    )
    if params.count() > sb.MAX_SYMBOLIC_PARAMS:
        step.warnings.append(
            f"The network has {params.count()} parameters; the symbolic derivation is shown for networks of at most "
            f"{sb.MAX_SYMBOLIC_PARAMS}. The δ rule below computes the same derivatives."
        )
        return step
    sym = sb.network_derivatives(params.as_dict(), x, y, activation, out_act, loss, chosen)
    lines = [sym.loss_latex, *(d[0] for d in sym.definitions), *(d.latex for d in sym.derivations)]
    step.formula = r"\begin{aligned} " + r" \\ ".join(line.replace(" = ", " &= ", 1) for line in lines) + r" \end{aligned}"
    step.formula_text = "\n".join([sym.loss_text, *(d[1] for d in sym.definitions), *(d.text for d in sym.derivations)])
    step.values = [
        Value(
            "derivatives",
            Table(("parameter", "∂L/∂θ (sympy, exact)"), tuple((d.name, d.value) for d in sym.derivations)),
        )
    ]
    step.worked = [f"{d.name}: the formula above evaluated at the numbers of this network = {ctx.n(d.value)}" for d in sym.derivations]
    return step


def _output_delta_step(ctx: Context, r: bp.Backprop, y, out_act: str, loss: str) -> Step:
    n, f = ctx.n, ctx.f
    fw = r.forward
    n_out = len(y)
    ol = index_labels(n_out, "ŷ")
    values = [Value("dL_dyhat", _finite_or_table(r.dL_dyhat, ol), label="∂L/∂ŷ", cols=ol, detail=True)]
    worked = []
    if loss == "ce":
        formula = r"\boldsymbol{\delta}^{(2)} = \hat{\mathbf{y}} - \mathbf{y}"
        if out_act == "softmax":
            text = "∂L/∂ŷₖ = −yₖ/ŷₖ; through the softmax Jacobian this collapses to δ2 = ŷ − y (the targets sum to 1)"
            values.append(Value("jacobian", bp.softmax_jacobian(fw.yhat), label="softmax Jacobian ∂ŷ/∂z2", rows=ol, cols=index_labels(n_out, "z2_")))
        else:
            text = "∂L/∂ŷₖ = −yₖ/ŷₖ + (1 − yₖ)/(1 − ŷₖ) and σ′ = ŷₖ(1 − ŷₖ): their product collapses to δ2 = ŷ − y"
            values.append(Value("g_prime", r.g_prime, label="g′(z2) = ŷ(1 − ŷ)", cols=ol, detail=True))
        for k in range(min(n_out, 4)):
            worked.append(f"δ2[{k}] = ŷ[{k}] − y[{k}] = {n(fw.yhat[k])} − {f(y[k])} = {n(r.delta2[k])}")
        formula_text = text
    elif out_act == "softmax":
        formula = r"\boldsymbol{\delta}^{(2)} = J^\top \frac{\partial L}{\partial \hat{\mathbf{y}}}, \quad J_{ij} = \hat y_i (\delta_{ij} - \hat y_j)"
        formula_text = "δ2 = Jᵀ·∂L/∂ŷ, with J[i,j] = ŷᵢ(δᵢⱼ − ŷⱼ) (every output depends on every z2)"
        J = bp.softmax_jacobian(fw.yhat)
        values.append(Value("jacobian", J, label="softmax Jacobian ∂ŷ/∂z2", rows=ol, cols=ol))
        for k in range(min(n_out, 3)):
            terms = " + ".join(f"{f(J[j, k])}×{f(r.dL_dyhat[j])}" for j in range(min(n_out, 6)))
            worked.append(f"δ2[{k}] = {terms}{' + …' if n_out > 6 else ''} = {n(r.delta2[k])}")
    else:
        formula = r"\boldsymbol{\delta}^{(2)} = \frac{\partial L}{\partial \hat{\mathbf{y}}} \odot g'(\mathbf{z}^{(2)})"
        formula_text = "δ2 = ∂L/∂ŷ ⊙ g′(z2)"
        values.append(Value("g_prime", r.g_prime, label="g′(z2)", cols=ol, detail=True))
        scale = "" if loss == "half-sse" else f"2/{n_out}×"
        for k in range(min(n_out, 4)):
            worked.append(
                f"δ2[{k}] = {scale}({n(fw.yhat[k])} − {f(y[k])}) × {n(r.g_prime[k])} = {f(r.dL_dyhat[k])}×{f(r.g_prime[k])} = {n(r.delta2[k])}"
            )
    values.append(Value("delta2", r.delta2, label="δ2 = ∂L/∂z2", cols=ol))
    step = Step(
        id="output-delta",
        title="Backward: δ at the output",
        formula=formula,
        formula_text=formula_text,
        values=values,
        worked=worked,
        why="δ2: how fast the loss moves with each z2 (the loss's slope × g's slope).",
    )
    if loss == "ce" and not np.all(np.isfinite(r.dL_dyhat)):
        step.warnings.append(
            "Some ŷ rounded to exactly 0 or 1, so ∂L/∂ŷ is infinite there; δ2 = ŷ − y is still finite."
        )
    return step


def _finite_or_table(a: np.ndarray, labels: tuple[str, ...]):
    """The vector itself, or (when ŷ saturated) a table that says which entries are infinite."""
    if np.all(np.isfinite(a)):
        return a
    rows = tuple(
        (label, float(v) if np.isfinite(v) else "infinite (ŷ rounded to exactly 0 or 1)")
        for label, v in zip(labels, a, strict=True)
    )
    return Table(("output", "∂L/∂ŷ"), rows)


def _chain_step(ctx: Context, params: bp.Params, r: bp.Backprop, chosen) -> Step:
    n, f = ctx.n, ctx.f
    fw = r.forward
    worked = []
    rows = []
    for name, index in chosen:
        label = _label(name, index)
        if name == "W2":
            k, i = index
            worked.append(f"∂L/∂{label} = δ2[{k}] × h[{i}] = {f(r.delta2[k])}×{f(fw.h[i])} = {n(r.grads.W2[k, i])}")
            value = r.grads.W2[k, i]
        elif name == "b2":
            (k,) = index
            worked.append(f"∂L/∂{label} = δ2[{k}] × 1 = {n(r.delta2[k])}")
            value = r.grads.b2[k]
        elif name == "W1":
            i, j = index
            worked.append(
                f"∂L/∂{label} = (Σₖ W2[k,{i}]·δ2[k]) × f′(z1[{i}]) × x[{j}] = {f(r.back[i])}×{f(r.f_prime[i])}×{f(fw.x[j])} = {n(r.grads.W1[i, j])}"
            )
            value = r.grads.W1[i, j]
        else:
            (i,) = index
            worked.append(
                f"∂L/∂{label} = (Σₖ W2[k,{i}]·δ2[k]) × f′(z1[{i}]) × 1 = {f(r.back[i])}×{f(r.f_prime[i])} = {n(r.grads.b1[i])}"
            )
            value = r.grads.b1[i]
        rows.append((label, float(value)))
    return Step(
        id="chain",
        title="The chosen derivatives as chain-rule factors",
        formula=r"\frac{\partial L}{\partial W^{(2)}_{ki}} = \delta^{(2)}_k h_i, \quad "
        r"\frac{\partial L}{\partial W^{(1)}_{ij}} = \Big(\sum_k W^{(2)}_{ki} \delta^{(2)}_k\Big) f'(z^{(1)}_i)\, x_j",
        formula_text="∂L/∂W2[k,i] = δ2[k]·h[i];  ∂L/∂W1[i,j] = (Σₖ W2[k,i]·δ2[k])·f′(z1[i])·x[j]",
        values=[Value("chosen", Table(("parameter", "∂L/∂θ (δ rule)"), tuple(rows)))],
        worked=worked,
        why="The same numbers as sympy's formulas, but computed from the δs: each factor is a value the "
        "forward or backward pass already holds, which is why backpropagation is cheap.",
    )


def _check_step(ctx: Context, params, x, y, activation, out_act, loss, r: bp.Backprop) -> Step:
    n = ctx.n
    fd = bp.finite_differences(params, x, y, activation, out_act, loss)
    rows = []
    worst = 0.0
    for name in bp.PARAM_NAMES:
        analytic = getattr(r.grads, name)
        numeric = getattr(fd.grads, name)
        for index in np.ndindex(analytic.shape):
            err = abs(float(analytic[index]) - float(numeric[index]))
            worst = max(worst, err)
            rows.append((_label(name, index), float(analytic[index]), float(numeric[index]), err))
    h = fd.h
    step = Step(
        id="check",
        title="Check: central finite differences",
        formula=r"\frac{\partial L}{\partial \theta} \approx \frac{L(\theta + h) - L(\theta - h)}{2h}, \quad h = 10^{-6}",
        formula_text="∂L/∂θ ≈ (L(θ + h) − L(θ − h)) / 2h,  h = 10⁻⁶",
        values=[
            Value("table", Table(("parameter", "backprop", "finite difference", "|difference|"), tuple(rows)),
                  label="every gradient: backprop against finite differences"),
            Value("max_error", worst, label="largest |difference|"),
        ],
        worked=[
            f"W1[0,0]: ({_long(fd.plus.W1[0, 0])} − {_long(fd.minus.W1[0, 0])}) / (2×{h:g}) = {n(fd.grads.W1[0, 0])}"
            f" vs backprop {n(r.grads.W1[0, 0])}"
        ],
        why="Nudging one parameter a tiny step each way and watching the loss needs no calculus at all; "
        "agreement to many digits means the backward pass is right. (The difference is not 0: a finite h "
        "and rounding each leave an error of about 1e-10.)",
    )
    if activation == "relu" and np.any(np.abs(r.forward.z1) < 10 * h * (1 + float(np.max(np.abs(x))))):
        step.warnings.append(
            "A hidden pre-activation sits at (or next to) ReLU's kink at 0: there the finite difference "
            "averages the two one-sided slopes and need not match the derivative convention (0)."
        )
    return step


def _long(v: float) -> str:
    return f"{float(v):.12g}"


# --------------------------------------------------------------------------- the asked element, worked
# Each question shows what its element is computed from (``uses``): the step before, not the
# whole network, so "compute δ1[0]" comes with W2, δ2 and z1.


def _pre_activation_lines(case, layer: int) -> list[str]:
    """``W1[0]·x = … = 0.1`` and ``z1[0] = 0.1 + 0.1 = 0.2`` for the asked unit of layer 1 or 2."""
    i = case.index[0]
    n, f = case.ctx.n, case.ctx.f
    inputs = case.trace.inputs
    w, b = inputs[f"W{layer}"], inputs[f"b{layer}"]
    source, name = (inputs["x"], "x") if layer == 1 else (case.data("hidden", "h"), "h")
    z = case.data("hidden", "z1") if layer == 1 else case.data("output", "z2")
    product = float(w[i] @ source)
    return [dot_worked(case.ctx, f"W{layer}[{i}]·{name}", w[i], source, product), f"z{layer}[{i}] = {n(product)} + {f(b[i])} = {n(z[i])}"]


def _explain_h(case) -> list[str]:
    i = case.index[0]
    return [f"h[{i}] = {activation_worked(case.ctx, case.trace.inputs['activation'], case.data('hidden', 'z1')[i])}"]


def _explain_output(case) -> list[str]:
    k = case.index[0]
    n = case.ctx.n
    z2, yhat, out_act = case.data("output", "z2"), case.data("output", "output"), case.trace.inputs["output-activation"]
    if out_act != "softmax":
        return [f"ŷ[{k}] = {activation_worked(case.ctx, out_act, z2[k])}"]
    top = float(np.max(z2))
    exps = np.exp(z2 - top)
    return [
        f"largest z2 = {n(top)}; Σⱼ e^(z2[j] − {n(top)}) = {' + '.join(n(e) for e in exps)} = {n(float(exps.sum()))}",
        f"ŷ[{k}] = e^({n(z2[k])} − {n(top)}) / {n(float(exps.sum()))} = {n(exps[k])} / {n(float(exps.sum()))} = {n(yhat[k])}",
    ]


def _explain_loss(case) -> list[str]:
    inputs = case.trace.inputs
    return [_loss_worked(case.ctx, inputs["loss"], inputs["output-activation"], inputs["y"], case.data("output", "output"), case.data("output", "loss"))]


def _explain_delta2(case) -> list[str]:
    """δ2[k] by the same rule as the lesson's step: ŷ − y for cross-entropy, the Jacobian for softmax, else ∂L/∂ŷ × g′."""
    k = case.index[0]
    n, f = case.ctx.n, case.ctx.f
    inputs = case.trace.inputs
    loss, out_act, y = inputs["loss"], inputs["output-activation"], inputs["y"]
    yhat, delta2 = case.data("output", "output"), case.data("output-delta", "delta2")
    if loss == "ce":
        return [f"δ2[{k}] = ŷ[{k}] − y[{k}] = {n(yhat[k])} − {f(y[k])} = {n(delta2[k])}"]
    dl = np.asarray(case.data("output-delta", "dL_dyhat"), dtype=np.float64)
    if out_act == "softmax":
        jacobian = case.data("output-delta", "jacobian")
        return [dot_worked(case.ctx, f"δ2[{k}] = Σⱼ J[j,{k}]·∂L/∂ŷ[j]", jacobian[:, k], dl, delta2[k])]
    g = case.data("output-delta", "g_prime")
    scale = "" if loss == "half-sse" else f"2/{len(y)}×"
    return [f"δ2[{k}] = {scale}({n(yhat[k])} − {f(y[k])}) × g′(z2[{k}]) = {f(dl[k])}×{f(g[k])} = {n(delta2[k])}"]


def _explain_delta1(case) -> list[str]:
    i = case.index[0]
    n, f = case.ctx.n, case.ctx.f
    w2, delta2 = case.trace.inputs["W2"], case.data("output-delta", "delta2")
    back, f_prime, delta1 = case.data("hidden-delta", "back"), case.data("hidden-delta", "f_prime"), case.data("hidden-delta", "delta1")
    return [
        dot_worked(case.ctx, f"(W2ᵀ·δ2)[{i}] = Σₖ W2[k,{i}]·δ2[k]", w2[:, i], delta2, back[i]),
        f"f′(z1[{i}]) = {n(f_prime[i])} (the slope of {case.trace.inputs['activation']} at {n(case.data('hidden', 'z1')[i])})",
        f"δ1[{i}] = {n(back[i])} × {f(f_prime[i])} = {n(delta1[i])}",
    ]


def _explain_weight_gradient(layer: int):
    def explain(case) -> list[str]:
        i, j = case.index
        n, f = case.ctx.n, case.ctx.f
        delta = case.data("hidden-delta", "delta1") if layer == 1 else case.data("output-delta", "delta2")
        source, name = (case.trace.inputs["x"], "x") if layer == 1 else (case.data("hidden", "h"), "h")
        grad = case.data("gradients", f"dW{layer}")[i, j]
        return [f"∂L/∂W{layer}[{i},{j}] = δ{layer}[{i}] × {name}[{j}] = {f(delta[i])}×{f(source[j])} = {n(grad)}"]

    return explain


def _explain_bias_gradient(layer: int):
    def explain(case) -> list[str]:
        i = case.index[0]
        delta = case.data("hidden-delta", "delta1") if layer == 1 else case.data("output-delta", "delta2")
        return [f"∂L/∂b{layer}[{i}] = δ{layer}[{i}] × 1 = {case.ctx.n(delta[i])}"]

    return explain


def script(trace: Trace) -> str:
    """The forward pass, the δ terms, every gradient and one update, as NumPy source (``--format py``)."""
    from nntutor.walkthroughs._script import activations as sources
    from nntutor.walkthroughs._script import heading, python_name

    hidden_f, out_f, loss = trace.inputs["activation"], trace.inputs["output-activation"], trace.inputs["loss"]
    functions = [sources(hidden_f, slopes=True)]
    if out_f == "softmax":
        functions.append("def softmax(z):\n    e = np.exp(z - z.max())\n    return e / e.sum()")
    elif out_f != hidden_f:
        functions.append(sources(out_f, slopes=True))
    if loss == "half-sse":
        loss_lines = ["loss = 0.5 * np.sum((y - output) ** 2)"]
    elif loss == "mse":
        loss_lines = ["loss = np.mean((y - output) ** 2)"]
    elif out_f == "softmax":
        loss_lines = ["log_p = z2 - z2.max() - math.log(np.sum(np.exp(z2 - z2.max())))  # ln softmax(z2), never ln 0",
                      "loss = -np.sum(y * log_p)"]
    else:
        loss_lines = ["# ln σ(z) = −ln(1 + e^(−z)) and ln(1 − σ(z)) = −ln(1 + e^z), finite where σ rounds to 0 or 1",
                      "loss = -np.sum(y * -np.logaddexp(0.0, -z2) + (1.0 - y) * -np.logaddexp(0.0, z2))"]
    if loss == "ce" and out_f == "softmax":
        delta = ["delta2 = output * y.sum() - y  # ∂L/∂ŷ ⊙ softmax' simplifies to ŷ − y"]
    elif loss == "ce":
        delta = ["delta2 = output - y  # ∂L/∂ŷ ⊙ σ'(z2) simplifies to ŷ − y"]
    else:
        slope = "output - y" if loss == "half-sse" else "2.0 * (output - y) / y.size"
        delta = [f"dL_doutput = {slope}  # ∂L/∂ŷ"]
        if out_f == "softmax":
            delta.append("delta2 = output * (dL_doutput - np.sum(output * dL_doutput))  # the softmax Jacobian applied")
        else:
            delta.append(f"delta2 = dL_doutput * {python_name(out_f)}_slope(z2)")
    return "\n".join([
        "\n\n\n".join(functions),
        "",
        "",
        heading(trace, "hidden"),
        "z1 = W1 @ x + b1",
        f"hidden = {python_name(hidden_f)}(z1)  # h",
        "",
        heading(trace, "output"),
        "z2 = W2 @ hidden + b2",
        f"output = {python_name(out_f)}(z2)  # ŷ",
        *loss_lines,
        "",
        heading(trace, "output-delta"),
        *delta,
        "",
        heading(trace, "hidden-delta"),
        f"delta1 = (W2.T @ delta2) * {python_name(hidden_f)}_slope(z1)",
        "",
        heading(trace, "gradients"),
        "grads = {'W1': np.outer(delta1, x), 'b1': delta1,",
        "         'W2': np.outer(delta2, hidden), 'b2': delta2}",
        "",
        heading(trace, "update"),
        "params = {'W1': W1, 'b1': b1, 'W2': W2, 'b2': b2}",
        "updated = {name: value - lr * grads[name] for name, value in params.items()}",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "x": Input("vector"),
        "y": Input("vector"),
        "W1": Input("matrix"),
        "b1": Input("vector"),
        "W2": Input("matrix"),
        "b2": Input("vector"),
        "activation": Input("choice", choices=("sigmoid", "tanh", "relu")),
        "output-activation": Input("choice", choices=("sigmoid", "identity", "softmax")),
        "loss": Input("choice", choices=("half-sse", "mse", "ce")),
        "lr": Input("scalar", above=0),
        "param": Input("text"),
    },
    targets=(
        Target("hidden", "z1", uses=("x", "W1", "b1"), explain=lambda case: _pre_activation_lines(case, 1)),
        Target("hidden", "h", uses=("hidden.z1", "activation"), explain=_explain_h),
        Target("output", "z2", uses=("hidden.h", "W2", "b2"), explain=lambda case: _pre_activation_lines(case, 2)),
        Target("output", "output", uses=("output.z2", "output-activation"), explain=_explain_output, symbol="ŷ"),
        Target("output", "loss", uses=("output.output", "y", "loss", "output-activation"), explain=_explain_loss, symbol="L"),
        Target(
            "output-delta", "delta2", uses=("output.output", "y", "output.z2", "loss", "output-activation"),
            explain=_explain_delta2, symbol="δ2",
        ),
        Target("hidden-delta", "delta1", uses=("W2", "output-delta.delta2", "hidden.z1", "activation"), explain=_explain_delta1, symbol="δ1"),
        Target("gradients", "dW1", uses=("hidden-delta.delta1", "x"), explain=_explain_weight_gradient(1), symbol="∂L/∂W1"),
        Target("gradients", "db1", uses=("hidden-delta.delta1",), explain=_explain_bias_gradient(1), symbol="∂L/∂b1"),
        Target("gradients", "dW2", uses=("output-delta.delta2", "hidden.h"), explain=_explain_weight_gradient(2), symbol="∂L/∂W2"),
        Target("gradients", "db2", uses=("output-delta.delta2",), explain=_explain_bias_gradient(2), symbol="∂L/∂b2"),
    ),
    script=script,
)
