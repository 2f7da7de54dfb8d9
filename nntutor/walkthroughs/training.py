"""The training lesson: mini-batch SGD on XOR (or two blobs), epoch by epoch.

Default run: XOR, 4 tanh hidden units, one sigmoid output, binary cross-entropy,
batch size 2, lr 1, 200 epochs, seed 0. Before training every prediction is
near 0.5; after it the four corners are classified correctly.

``check`` draws everything random from the seed: the initial weights (uniform in
[−1, 1], rounded to 2 decimals; biases 0) and one shuffled order per epoch. With
4 examples and batch size 2, one epoch is 2 updates:

>>> from nntutor.catalog.lessonfile import load_lesson
>>> from nntutor.catalog.run import parse_args
>>> inputs = check(parse_args(load_lesson("training"), {}))
>>> inputs.params.W1.shape, inputs.orders.shape, inputs.batch_size
((4, 2), (200, 4), 2)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from nntutor.core import backprop as bp
from nntutor.core import training as tr
from nntutor.errors import InputError
from nntutor.trace import Plot, Series, Step, Table, Trace, Value
from nntutor.walkthroughs._common import Context, answer, index_labels, sum_worked
from nntutor.walkthroughs._declare import Args, Input, Target, Walkthrough


class Inputs(NamedTuple):
    """Checked inputs: the data set, the initial network and the shuffles drawn from the seed, the SGD settings."""

    data: tr.Dataset  # the built-in data set (one example per row of X, 0/1 targets)
    activation: str  # hidden layer
    params: bp.Params  # initial W1 (hidden × 2), b1, W2 (1 × hidden), b2, drawn from seed
    orders: np.ndarray  # epochs × examples: the shuffled order of every epoch, drawn from seed
    batch_size: int  # at most the number of examples
    lr: float
    seed: int  # what params and orders were drawn from
    data_size: int | None = None  # another data-set size to work out the batches per epoch for


def check(args: Args) -> Inputs:
    """The flags checked together (a batch fits the data set); the random start drawn from the seed."""
    data = tr.dataset(args["dataset"])
    hidden, epochs = int(args["hidden"]), int(args["epochs"])
    batch_size, seed = int(args["batch-size"]), int(args["seed"])
    n_examples = len(data.X)
    if batch_size > n_examples:
        raise InputError(
            "--batch-size", f"{batch_size} is larger than the {data.name} data set ({n_examples} examples)"
        )
    return Inputs(
        data=data,
        activation=args["activation"],
        params=tr.init_params(seed, data.X.shape[1], hidden),
        orders=tr.batch_orders(seed, n_examples, epochs),
        batch_size=batch_size,
        lr=float(args["lr"]),
        seed=seed,
        data_size=None if args["data-size"] is None else int(args["data-size"]),
    )


def build(ctx: Context, inputs: Inputs) -> Trace:
    data, params, orders, activation = inputs.data, inputs.params, inputs.orders, inputs.activation
    batch_size, lr, seed = inputs.batch_size, inputs.lr, inputs.seed
    hidden, epochs = params.W1.shape[0], orders.shape[0]
    n_examples = len(data.X)
    assert batch_size <= n_examples, "check keeps a batch within the data set"
    n, f = ctx.n, ctx.f
    run = tr.train(data, params, orders, batch_size, lr, activation)

    trace = ctx.new_trace(
        {
            "dataset": data.name,
            "hidden": hidden,
            "epochs": epochs,
            "batch-size": batch_size,
            "lr": lr,
            "seed": seed,
            "activation": activation,
            "W1": params.W1,
            "b1": params.b1,
            "W2": params.W2,
            "b2": params.b2,
            "orders": orders,
        }
    )
    hl = index_labels(hidden, "h")
    examples = tuple(f"({', '.join(n(v) for v in row)})" for row in data.X)

    # 1. Data and network.
    trace.add(
        Step(
            id="setup",
            title="The data and the network",
            formula=r"\hat y = \sigma\!\left(W^{(2)} f(W^{(1)}\mathbf{x} + \mathbf{b}^{(1)}) + b^{(2)}\right), \quad "
            r"L = -\tfrac{1}{|B|}\sum_{n \in B} \left[y_n \ln \hat y_n + (1 - y_n)\ln(1 - \hat y_n)\right]",
            formula_text="ŷ = σ(W2·f(W1·x + b1) + b2);  L = −(1/|B|)·Σₙ [yₙ·ln ŷₙ + (1 − yₙ)·ln(1 − ŷₙ)]",
            values=[
                Value(
                    "data",
                    Table(("example", "x0", "x1", "target"), tuple((i, *map(float, x), int(t)) for i, (x, t) in enumerate(zip(data.X, data.y[:, 0], strict=True)))),
                    label=f"the {data.name} data set",
                ),
                Value("W1", params.W1, label="initial W1", rows=hl, cols=("x0", "x1")),
                Value("b1", params.b1, label="initial b1", cols=hl, detail=not np.any(params.b1)),  # zeros: said below
                Value("W2", params.W2, label="initial W2", rows=("out",), cols=hl),
                Value("b2", params.b2, label="initial b2", cols=("out",), detail=not np.any(params.b2)),
                Value("initial_loss", run.initial_loss, label="loss before training"),
            ],
            worked=[
                f"2 inputs → {hidden} hidden ({activation}) → 1 output (sigmoid): "
                f"{params.W1.size} + {hidden} + {params.W2.size} + 1 = {params.count()} parameters",
                "weights uniform in [−1, 1], rounded to 2 decimals; biases start at 0",
            ]
            + [f"the {data.name} data set: {_batches_worked(ctx, n_examples, batch_size)}"]
            + ([f"a data set of {inputs.data_size:,}: {_batches_worked(ctx, inputs.data_size, batch_size)}"]
               if inputs.data_size else []),
            why="No line separates XOR; the hidden units bend the input space until one does."
            if data.name == "xor"
            else "Two clusters that one straight line separates: an easy problem, learned in a few epochs.",
        )
    )

    # 2. The shuffled order of each epoch, cut into mini-batches.
    trace.add(_shuffle_step(ctx, orders, batch_size, seed))

    # 3. The first mini-batch in detail.
    first = run.first
    detail = first.detail
    cols = (*(f"example {int(i)}" for i in first.indices), "mean", "before", "after")
    rows = []
    for name in bp.PARAM_NAMES:
        per = getattr(detail.grads, name)
        mean = getattr(first.mean, name)
        before = getattr(first.before, name)
        after = getattr(first.after, name)
        for index in np.ndindex(mean.shape):
            label = f"{name}[{','.join(str(i) for i in index)}]"
            rows.append(
                (label, *(float(per[(b, *index)]) for b in range(len(first.indices))), float(mean[index]), float(before[index]), float(after[index]))
            )
    fw = detail.forward
    forward_rows = tuple(
        (int(i), *map(float, data.X[i]), float(data.y[i, 0]), float(fw.yhat[b, 0]), float(detail.loss[b]), float(detail.delta2[b, 0]))
        for b, i in enumerate(first.indices)
    )
    g_per = detail.grads.W2[:, 0, 0]
    mean_w2 = float(first.mean.W2[0, 0])
    # Work out an example whose h[0] is not 0 (at x = (0, 0) a tanh unit with b = 0 gives 0).
    b = next((k for k in range(len(first.indices)) if fw.h[k, 0] != 0), 0)
    ex = int(first.indices[b])
    trace.add(
        Step(
            id="first-batch",
            title=f"The first mini-batch in detail (examples {', '.join(str(int(i)) for i in first.indices)})",
            formula=r"\mathbf{g} = \frac{1}{|B|} \sum_{n \in B} \nabla_\theta L_n, \quad \theta \leftarrow \theta - \eta\, \mathbf{g}",
            formula_text="g = (1/|B|)·Σₙ ∇L_n,   θ ← θ − η·g",
            values=[
                Value(
                    "forward",
                    Table(("example", "x0", "x1", "y", "ŷ", "loss", "δ2 = ŷ − y"), forward_rows),
                    label="each example's forward pass",
                ),
                # the output layer's rows by default (the worked lines use them), the hidden layer's with --full
                Value("gradients", Table(("parameter", *cols), tuple(r for r in rows if r[0][:2] in ("W2", "b2"))),
                      label="per-example gradients, their mean, the update (output layer)"),
                Value("gradients_hidden", Table(("parameter", *cols), tuple(r for r in rows if r[0][:2] in ("W1", "b1"))),
                      label="the same for the hidden layer", detail=True),
            ],
            worked=[
                f"example {ex}: ŷ = {n(fw.yhat[b, 0])}, δ2 = ŷ − y = {n(fw.yhat[b, 0])} − {n(data.y[ex, 0])} = {n(detail.delta2[b, 0])}",
                f"∂L/∂W2[0,0] for example {ex} = δ2×h[0] = {f(detail.delta2[b, 0])}×{f(fw.h[b, 0])} = {n(g_per[b])}",
                sum_worked(ctx, "sum over the batch", g_per, float(np.sum(g_per))) + f"; mean = {n(np.sum(g_per))} / {len(g_per)} = {n(mean_w2)}",
                f"W2[0,0] ← {n(first.before.W2[0, 0])} − {n(lr)}×{f(mean_w2)} = {n(first.after.W2[0, 0])}",
            ],
            why="A batch's mean gradient is less noisy than one example's, cheaper than all.",
        )
    )

    # 4. Loss per epoch.
    losses = run.losses
    shown = _epochs_to_show(len(losses))
    loss_rows = tuple((e + 1, float(losses[e])) for e in shown)
    batches = -(-n_examples // batch_size)
    loss_step = Step(
        id="epochs",
        title="The loss after every epoch",
        formula=r"\bar L_{\text{epoch}} = \frac{1}{N} \sum_{n=1}^{N} L_n",
        formula_text="mean loss over all N examples, after each epoch",
        values=[
            Value("losses", losses, label="loss per epoch", cols=tuple(str(e + 1) for e in range(len(losses))),
                  detail=True),  # the table and the plot show it
            Value("table", Table(("epoch", "loss"), loss_rows), label="loss at selected epochs", detail=True),
        ],
        worked=[
            f"one epoch = {n_examples} examples in batches of {batch_size} = {batches} updates; "
            f"{run.epochs_done} epochs = {run.epochs_done * batches} updates",
            f"loss: {n(run.initial_loss)} before training → {n(losses[0])} after epoch 1 → {n(losses[-1])} after epoch {len(losses)}",
        ],
        why="The batches change, so the loss need not fall every epoch, but it trends down.",
        plots=[
            Plot(
                "loss per epoch",
                (Series("loss", np.arange(1, len(losses) + 1, dtype=np.float64), losses),),
                xlabel="epoch",
                ylabel="loss",
            )
        ],
    )
    if run.epochs_done < epochs:
        loss_step.warnings.append(f"Stopped after epoch {run.epochs_done}: the parameters overflowed (lr = {n(lr)} is too large).")
        trace.warnings.extend(loss_step.warnings)
    if len(losses) and losses[-1] > run.initial_loss:
        loss_step.warnings.append("The loss ended higher than it started: try a smaller --lr.")
    trace.add(loss_step)

    # 5. Final predictions.
    preds = run.predictions
    pred_rows = tuple(
        (i, examples[i], int(data.y[i, 0]), float(preds[i]), int(preds[i] >= 0.5), "yes" if int(preds[i] >= 0.5) == int(data.y[i, 0]) else "no")
        for i in range(n_examples)
    )
    correct = sum(1 for row in pred_rows if row[-1] == "yes")
    trace.add(
        Step(
            id="predictions",
            title="Final predictions against the targets",
            formula=r"\text{class} = [\hat y \ge 0.5]",
            formula_text="class = 1 if ŷ ≥ 0.5 else 0",
            values=[
                Value("predictions", preds, label="ŷ", cols=tuple(str(i) for i in range(n_examples)), detail=True),  # the table has it
                Value("table", Table(("example", "x", "target", "ŷ", "class", "correct"), pred_rows),
                      label="the trained network on every example"),
            ],
            worked=[f"{correct} of {n_examples} examples classified correctly"],
            why="ŷ is the probability of class 1; pushing it to each target lowered the loss.",
        )
    )
    trace.outputs = {"losses": losses, "predictions": preds}
    trace.result = answer(trace, Value("final_loss", float(losses[-1]), label=f"loss after {len(losses)} epochs"),
                          "predictions.table")
    return trace


def _batches_worked(ctx: Context, n_examples: int, batch_size: int) -> str:
    """``batches per epoch = ⌈N/B⌉ = ⌈8/3⌉ = ⌈2.6667⌉ = 3: 2 of 3 and a last of 8 − 2×3 = 2 examples``."""
    count, last = tr.batches_per_epoch(n_examples, batch_size)
    text = (f"batches per epoch = ⌈N/B⌉ = ⌈{n_examples:,}/{batch_size:,}⌉ = ⌈{ctx.n(n_examples / batch_size)}⌉ = "
            f"{count:,}")
    if last == batch_size:
        return text + f", each of {_examples(batch_size)}"
    if count == 1:
        return text + f": one batch of all {_examples(n_examples)}, fewer than {batch_size:,}"
    return (text + f": {count - 1:,} of {batch_size:,} and a last of {n_examples:,} − {count - 1:,}×{batch_size:,}"
            f" = {_examples(last)}")


def _examples(count: int) -> str:
    return f"{count:,} example{'' if count == 1 else 's'}"


def _batches(order: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """One epoch's order cut into mini-batches, as :func:`nntutor.core.training.train` takes them."""
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def _shuffle_step(ctx: Context, orders: np.ndarray, batch_size: int, seed: int) -> Step:
    """The order of the first epochs (and the last), each cut into its mini-batches.

    XOR with seed 0 and batch size 2: epoch 1 visits the examples in an order such as
    2, 0, 3, 1, so its batches are (2, 0) and (3, 1).
    """
    epochs, count = orders.shape
    shown = sorted({*range(min(epochs, 3)), epochs - 1})

    def ids(indices) -> str:
        return ", ".join(str(int(i)) for i in indices)

    def cut(order) -> str:
        return "  ".join(f"({ids(batch)})" for batch in _batches(order, batch_size))

    rows = tuple((e + 1, ids(orders[e]), cut(orders[e])) for e in shown)
    first = _batches(orders[0], batch_size)
    worked = []
    if np.array_equal(orders[0], np.arange(count)) and count > 1:
        worked.append(
            f"epoch 1's random order happens to be the original one: with {count} examples the chance "
            f"is 1 in {count}! = {math.factorial(count):,}"
        )
    worked.append(
        f"the first batch, example{'s' if len(first[0]) > 1 else ''} {ids(first[0])}, is worked in full in the next step"
    )
    if count % batch_size:
        worked.append(f"{count} examples in batches of {batch_size}: the last batch of each epoch holds {count % batch_size}")
    return Step(
        id="shuffle",
        title=f"Shuffle the {count} examples, then cut them into mini-batches of {batch_size}",
        formula=r"\pi_e = \text{a random order of the } N \text{ examples}, \quad "
        r"B_{e,k} = \text{the } k\text{-th run of } |B| \text{ examples in } \pi_e",
        formula_text="each epoch e: a new random order πₑ of the N examples, cut into batches of |B|",
        values=[
            Value(
                "orders",
                Table(("epoch", "order", "mini-batches"), rows),
                label=f"the order of each epoch (drawn at random, --seed {seed}; epochs {', '.join(str(e + 1) for e in shown)})",
            )
        ],
        worked=worked,
        why="Every epoch visits each example once, in a new order: the batches change.",
    )


def _epochs_to_show(count: int) -> list[int]:
    """First 3, about five evenly spaced, and the last epoch (0-based indices)."""
    chosen = set(range(min(count, 3)))
    step = max(1, count // 5)
    chosen.update(range(0, count, step))
    if count:
        chosen.add(count - 1)
    return sorted(chosen)


# The data and the starting network: what a question on the first batch needs (not the
# shuffled order of every epoch, a 200×4 table).
_NETWORK = ("setup.data", "W1", "b1", "W2", "b2", "activation")

def script(trace: Trace) -> str:
    """Mini-batch training of the small network, epoch by epoch, as NumPy source (``--format py``)."""
    from nntutor.core.training import dataset
    from nntutor.render.python_script import assignment
    from nntutor.walkthroughs._script import activations as sources
    from nntutor.walkthroughs._script import heading, python_name

    data = dataset(trace.inputs["dataset"])
    f = python_name(trace.inputs["activation"])
    return "\n".join([
        heading(trace, "setup"),
        "# the data set: one example per row, and its classes",
        assignment("X", data.X),
        assignment("targets", data.y),
        sources(trace.inputs["activation"], slopes=True),
        "",
        "",
        "def sigmoid(z):",
        "    return 1.0 / (1.0 + np.exp(-z))",
        "",
        "",
        "def mean_loss(W1, b1, W2, b2):",
        "    \"\"\"Binary cross-entropy over every example, from z2.\"\"\"",
        f"    z2 = {f}(X @ W1.T + b1) @ W2.T + b2",
        "    # −ln σ(z) = ln(1 + e^(−z)) and −ln(1 − σ(z)) = ln(1 + e^z)",
        "    terms = targets * np.logaddexp(0.0, -z2)",
        "    terms = terms + (1.0 - targets) * np.logaddexp(0.0, z2)",
        "    return np.mean(np.sum(terms, axis=1))",
        "",
        "",
        heading(trace, "shuffle"),
        "# (the random orders are recorded above, in orders: one row per epoch)",
        heading(trace, "first-batch"),
        "# each mini-batch: forward, δ2 = ŷ − y averaged over the batch, back, one step",
        "epoch_losses = []",
        "for order in orders:",
        "    for start in range(0, len(order), batch_size):",
        "        batch = order[start:start + batch_size]",
        "        x, y = X[batch], targets[batch]",
        "        z1 = x @ W1.T + b1",
        f"        h = {f}(z1)",
        "        z2 = h @ W2.T + b2",
        "        d2 = (sigmoid(z2) - y) / len(x)",
        f"        d1 = (d2 @ W2) * {f}_slope(z1)",
        "        W1, b1 = W1 - lr * (d1.T @ x), b1 - lr * d1.sum(axis=0)",
        "        W2, b2 = W2 - lr * (d2.T @ h), b2 - lr * d2.sum(axis=0)",
        "    " + heading(trace, "epochs").replace("\n", "\n    "),
        "    epoch_losses.append(mean_loss(W1, b1, W2, b2))",
        "losses = np.array(epoch_losses)",
        "",
        heading(trace, "predictions"),
        f"predictions = sigmoid({f}(X @ W1.T + b1) @ W2.T + b2)[:, 0]",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "dataset": Input("choice", choices=("xor", "blobs")),
        "hidden": Input("integer", minimum=1, maximum=64),
        "activation": Input("choice", choices=("tanh", "sigmoid", "relu")),
        "epochs": Input("integer", minimum=1, maximum=5000),
        "batch-size": Input("integer", minimum=1),
        "data-size": Input("integer", minimum=1),
        "lr": Input("scalar", maximum=100, above=0),
        "seed": Input("integer", minimum=0),
    },
    targets=(
        Target("setup", "initial_loss", uses=_NETWORK, symbol="L"),
        Target("first-batch", "forward", cols=(4, 5, 6), uses=_NETWORK),
        Target("first-batch", "gradients", cols=(1, 2, 3, 5), uses=(*_NETWORK, "lr", "first-batch.forward")),
        Target("first-batch", "gradients_hidden", cols=(1, 2, 3, 5), uses=(*_NETWORK, "lr", "first-batch.forward"),
               symbol="hidden-layer gradients"),
    ),
    script=script,
)
