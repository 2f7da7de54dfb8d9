"""The backprop-block lesson: the backward pass through one pre-norm transformer block.

Forward (as in transformer-block, pre-norm): h = x + MHA(N) with N = LN₁(x), and
y = h + FFN(F) with F = LN₂(h); on top, logits z = y·W_U and the mean cross-entropy
over every token that is not padding (or, with --dy, L = Σ y ⊙ dy). Backward, in order:
∂L/∂z and ∂L/∂y; the FFN (its activation's slope); LN₂ and the fan-in at h (around +
through); multi-head attention (per head, then the projections); LN₁ and the fan-in at
x; every parameter's gradient with its shape and norm; one SGD step and the loss again.

The maths is in :mod:`nntutor.core.block` (``block_backward``, ``unembed_loss``,
``unembed_backward``, ``sgd_step``); this module only teaches. The defaults are the
transformer-block lesson's (same x, seed 0 draws the same block weights), then W_U:

>>> from nntutor.catalog.lessonfile import load_lesson
>>> from nntutor.catalog.run import parse_args
>>> lesson = load_lesson("backprop-block")
>>> inputs = check(parse_args(lesson, {}))
>>> inputs.wu.shape, inputs.targets.tolist(), inputs.dy is None
((4, 3), [1, 2, 0], True)
>>> check(parse_args(lesson, {"dy": "1,0;0,1"}))
Traceback (most recent call last):
  ...
nntutor.errors.InputError: --dy: expected a 3×4 matrix, the shape of y (one row per token of --x, d = 4 columns), got 2×2
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from nntutor.core import ffn as ffn_core
from nntutor.core import multihead as mha_core
from nntutor.core.activations import activate
from nntutor.core.block import (
    BlockGrads,
    BlockResult,
    block_backward,
    random_weights,
    sgd_step,
    transformer_block,
    unembed_backward,
    unembed_loss,
)
from nntutor.core.layernorm import LayerNormResult, layer_norm_backward
from nntutor.errors import InputError
from nntutor.trace import Step, Trace, Value
from nntutor.walkthroughs._activation_notes import NAMES
from nntutor.walkthroughs._common import Context, answer, dot_worked, index_labels
from nntutor.walkthroughs._declare import Args, Input, Mistake, Target, Walkthrough
from nntutor.walkthroughs._transformer import (
    check_memory,
    random_matrix,
    refuse_with,
    shape_text,
    token_labels,
)
from nntutor.walkthroughs.multi_head import check_heads
from nntutor.walkthroughs.transformer_block import load_weights_file

# Every parameter in the order the backward pass reaches it: (key, name on screen).
PARAMETERS: tuple[tuple[str, str], ...] = (
    ("wu", "W_U"), ("W2", "W₂"), ("b2", "b₂"), ("W1", "W₁"), ("b1", "b₁"),
    ("ln2_gamma", "γ₂"), ("ln2_beta", "β₂"), ("wo", "W_O"), ("bo", "b_O"),
    ("wq", "W_Q"), ("bq", "b_Q"), ("wk", "W_K"), ("bk", "b_K"), ("wv", "W_V"), ("bv", "b_V"),
    ("ln1_gamma", "γ₁"), ("ln1_beta", "β₁"),
)
NAME_OF = dict(PARAMETERS)


class Inputs(NamedTuple):
    """Checked inputs: X, the block's variant and weights, the loss on top, the learning rate."""

    x: np.ndarray  # n × d
    tokens: tuple[str, ...]  # one label per row of X
    heads: int  # h, a divisor of d
    causal: bool
    padding: np.ndarray | None  # one 0/1 per token (0: hidden as a key, left out of the loss)
    activation: str  # "relu" or "gelu"
    weights: dict[str, np.ndarray]  # every key of core.block.WEIGHT_SHAPES
    wu: np.ndarray | None  # d × V, the unembedding (None with --dy)
    targets: np.ndarray | None  # n class indices (None with --dy)
    dy: np.ndarray | None  # ∂L/∂y given directly (n × d), or None for the cross-entropy
    lr: float
    record: dict[str, Any]  # where the weights came from and what was drawn


# --------------------------------------------------------------------------- check


def memory_estimate(n: int, d: int, d_ff: int, heads: int, vocab: int) -> int:
    """Bytes a run may need: the forward (twice, before and after the step), the backward, the head."""
    forward = mha_core.estimate_bytes(n, d, heads) + ffn_core.estimate_bytes(n, d, d_ff) + 8 * 12 * n * d
    return 3 * forward + 8 * (6 * n * vocab + 3 * d * vocab)


def _class_indices(flag: str, values: np.ndarray, n: int, vocab: int, source: str) -> np.ndarray:
    if values.size != n:
        raise InputError(flag, f"expected {n} class indices, one per row of --x, got {values.size}")
    for v in values:
        if not float(v).is_integer():
            raise InputError(flag, f"{v:g} is not a class index (expected whole numbers from 0 to {vocab - 1})")
        if not 0 <= v < vocab:
            raise InputError(flag, f"{int(v)} is outside the vocabulary: expected 0 to {vocab - 1} ({source})")
    return values.astype(np.int64)


def _padding(args: Args, n: int) -> np.ndarray | None:
    padding = args["padding"]
    if padding is None:
        return None
    if padding.size != n:
        raise InputError("--padding", f"expected {n} values (one per token), got {padding.size}")
    if not np.all((padding == 0) | (padding == 1)):
        raise InputError("--padding", "expected only 0 (padding) and 1 (kept) values")
    return padding


def _block_weights(args: Args, d: int) -> tuple[dict[str, np.ndarray] | None, int, dict[str, Any]]:
    """The weights from --weights (then d_ff is W1's columns), or None to draw them from --seed."""
    if args["weights"] is None:
        return None, args["d-ff"], {"seed": args["seed"]}
    if "d-ff" in args.given:
        raise refuse_with("--d-ff", "--weights", "d_ff is the column count of the file's W1")
    w = load_weights_file(args["weights"], d)
    return w, w["W1"].shape[1], {"weights": args["weights"], "seed": args["seed"]}


def check(args: Args) -> Inputs:
    """Shapes of --dy, --wu, --target, --padding against --x; heads; flags that clash; the size."""
    given = args.given
    x = args["x"]
    n, d = x.shape
    heads = args["heads"]
    check_heads(d, heads, "x", given)
    tokens = token_labels(args["tokens"], n, given)
    padding = _padding(args, n)
    weights, d_ff, record = _block_weights(args, d)

    dy = wu = targets = None
    vocab = 0
    if "dy" in given:
        for name in ("target", "wu", "vocab"):
            if name in given:
                raise refuse_with(f"--{name}", "--dy", "with --dy the loss is L = Σ y ⊙ dy, not a cross-entropy")
        dy = args["dy"]
        if dy.shape != (n, d):
            raise InputError(
                "--dy",
                f"expected a {n}×{d} matrix, the shape of y (one row per token of --x, d = {d} columns), got {shape_text(dy)}",
            )
    else:
        if "wu" in given:
            if "vocab" in given:
                raise refuse_with("--vocab", "--wu", "the vocabulary is the column count of --wu")
            wu = args["wu"]
            if wu.shape[0] != d:
                raise InputError("--wu", f"expected {d} rows (d, the width of --x), got {wu.shape[0]}")
            vocab = wu.shape[1]
        else:
            vocab = args["vocab"]
        if padding is not None and not padding.any():
            raise InputError("--padding", "every token is padding, so the cross-entropy has no token to average over")

    flag = "--vocab" if "vocab" in given and 9 * vocab > n * d_ff else "--d-ff" if "d-ff" in given else "--x"
    classes = f", {vocab} classes" if vocab else ""
    what = f"a block with {heads} heads, d = {d}, d_ff = {d_ff}{classes}, on {n} tokens, backwards"
    check_memory(flag, memory_estimate(n, d, d_ff, heads, vocab), what)

    rng = np.random.default_rng(args["seed"])
    drawn: list[str] = []
    if weights is None:
        weights = random_weights(rng, d, d_ff)
    if dy is None:
        if wu is None:
            wu = random_matrix(rng, (d, vocab), 1.0 / np.sqrt(d))
            drawn.append("wu")
        source = "the columns of --wu" if "wu" in given else f"--vocab {vocab}"
        default = args["target"]
        if "target" in given:
            targets = _class_indices("--target", default, n, vocab, source)
        elif default.size == n and np.all(default < vocab):
            targets = default.astype(np.int64)
        else:  # the file's default does not fit this --x or vocabulary: draw one class per token
            targets = rng.integers(0, vocab, size=n).astype(np.int64)
            drawn.append("target")
    if drawn:
        record["drawn"] = drawn
    return Inputs(
        x, tokens, heads, bool(args["causal"]), padding, args["activation"], weights, wu, targets, dy, float(args["lr"]), record
    )


# --------------------------------------------------------------------------- the computation


class Run(NamedTuple):
    """Everything the lesson shows, computed once with the core functions."""

    forward: BlockResult
    head: Any  # core.block.UnembedLoss, or None with --dy
    head_grads: Any  # core.block.UnembedGrads, or None
    dy: np.ndarray  # ∂L/∂y
    loss: float
    g: BlockGrads
    grads: dict[str, np.ndarray]  # every parameter, in PARAMETERS order
    after: dict[str, np.ndarray]  # the parameters after one SGD step
    loss_after: float


def _keep(inputs: Inputs) -> np.ndarray | None:
    return None if inputs.padding is None else inputs.padding != 0


def _forward(inputs: Inputs, weights: dict[str, np.ndarray]) -> BlockResult:
    return transformer_block(
        inputs.x, weights, heads=inputs.heads, norm="pre", causal=inputs.causal,
        activation=inputs.activation, key_padding=inputs.padding,
    )


def _loss(inputs: Inputs, forward: BlockResult, wu: np.ndarray | None):
    """(loss, head result): the mean cross-entropy over z = y·W_U, or Σ y ⊙ dy with --dy."""
    if inputs.dy is not None:
        return float(np.sum(forward.y * inputs.dy)), None
    head = unembed_loss(forward.y, wu, inputs.targets, _keep(inputs))
    return head.loss, head


def compute(inputs: Inputs) -> Run:
    forward = _forward(inputs, inputs.weights)
    loss, head = _loss(inputs, forward, inputs.wu)
    head_grads = None if head is None else unembed_backward(head)
    dy = inputs.dy if head_grads is None else head_grads.dy
    g = block_backward(forward, inputs.weights, dy)
    every = dict(g.grads)
    params = dict(inputs.weights)
    if head_grads is not None:
        every["wu"] = head_grads.dwu
        params["wu"] = inputs.wu
    grads = {key: every[key] for key, _ in PARAMETERS if key in every}
    after = sgd_step(params, grads, inputs.lr)
    loss_after, _ = _loss(inputs, _forward(inputs, after), after.get("wu"))
    return Run(forward, head, head_grads, dy, loss, g, grads, after, loss_after)


# --------------------------------------------------------------------------- build


def worked_row(inputs: Inputs) -> int:
    """The token worked out in full: the first one that is not padding (its gradients are not all 0)."""
    if inputs.padding is None or not inputs.padding.any():
        return 0
    return int(np.flatnonzero(inputs.padding)[0])


def _vec(ctx: Context, row: np.ndarray, limit: int = 6) -> str:
    """``[0.1, -0.2, …]`` (the first ``limit`` numbers)."""
    row = np.asarray(row).ravel()
    return "[" + ", ".join(ctx.n(v) for v in row[:limit]) + (", …" if row.size > limit else "") + "]"


def _ln_worked(ctx: Context, ln: LayerNormResult, upstream: np.ndarray, through: np.ndarray, i: int, xhat: str) -> str:
    """One entry of a layer norm's backward in its compact form (row i, feature 0)."""
    gvec = ln.gamma * upstream[i]
    mean_g = float(gvec.mean())
    mean_gx = float((gvec * ln.normalized[i]).mean())
    f = ctx.f
    return (
        f"(g − mean(g) − {xhat}·mean(g ⊙ {xhat}))/σ = ({ctx.n(gvec[0])} − {f(mean_g)} − {f(ln.normalized[i, 0])}×{f(mean_gx)})"
        f" / {ctx.n(ln.std[i])} = {ctx.n(through[i, 0])}"
    )


def _fan_in_worked(ctx: Context, name: str, tok: str, around: np.ndarray, through: np.ndarray, total: np.ndarray) -> str:
    return f"{name}[{tok}] = around + through = {_vec(ctx, around)} + {_vec(ctx, through)} = {_vec(ctx, total)}"


def build(ctx: Context, inputs: Inputs) -> Trace:
    run = compute(inputs)
    fw, g = run.forward, run.g
    x, toks, w = inputs.x, inputs.tokens, inputs.weights
    n, d = x.shape
    num, f = ctx.n, ctx.f
    feats = index_labels(d, "d")
    r0 = worked_row(inputs)
    t0 = toks[r0]
    kept = int(n if inputs.padding is None else np.count_nonzero(inputs.padding))

    recorded: dict[str, Any] = {
        "x": x, "tokens": list(toks), "heads": inputs.heads, "norm": "pre", "causal": inputs.causal,
        "activation": inputs.activation, "lr": inputs.lr,
    }
    if inputs.padding is not None:
        recorded["padding"] = inputs.padding
    recorded.update(inputs.record)
    recorded.update(w)
    if inputs.dy is None:
        recorded.update({"wu": inputs.wu, "target": inputs.targets})
    else:
        recorded["dy"] = inputs.dy
    trace = ctx.new_trace(recorded)
    if "target" in inputs.record.get("drawn", ()):
        trace.warnings.append(
            f"the default --target does not fit {n} tokens and {inputs.wu.shape[1]} classes, so the targets were drawn "
            f"from --seed {inputs.record['seed']}: {', '.join(str(int(t)) for t in inputs.targets)}"
        )

    # 1. The loss and ∂L/∂y.
    trace.add(_loss_step(ctx, inputs, run, toks, feats, kept, r0))

    # 2. Back through the FFN.
    ff = g.ffn
    active = np.flatnonzero(fw.ffn.hidden[r0] > 0)
    j = int(active[0]) if active.size else 0
    act = NAMES.get(inputs.activation, inputs.activation)
    p0 = float(fw.ffn.hidden[r0, j])
    trace.add(
        Step(
            id="ffn",
            title="Back through the FFN: y = h + FFN(F) sends ∂L/∂y into it",
            formula=r"\frac{\partial L}{\partial P} = \left(\frac{\partial L}{\partial y} W_2^\top\right) \odot f'(P),\quad "
            r"\frac{\partial L}{\partial F} = \frac{\partial L}{\partial P} W_1^\top,\quad dW_2 = H^\top \frac{\partial L}{\partial y},\quad "
            r"dW_1 = F^\top \frac{\partial L}{\partial P}",
            formula_text="∂L/∂P = (∂L/∂y·W₂ᵀ) ⊙ f′(P),  ∂L/∂F = ∂L/∂P·W₁ᵀ\n"
            f"dW₂ = Hᵀ·∂L/∂y,  dW₁ = Fᵀ·∂L/∂P   (F = LN₂(h), P = F·W₁ + b₁, H = {act}(P))",
            worked=[
                dot_worked(ctx, f"∂L/∂H[{t0},h{j}] = ∂L/∂y[{t0}]·W₂[h{j},:]", run.dy[r0], w["W2"][j], ff.dactivated[r0, j]),
                f"∂L/∂P[{t0},h{j}] = ∂L/∂H × {act}′(P) = {f(ff.dactivated[r0, j])}×{act}′({num(p0)}) = "
                f"{f(ff.dactivated[r0, j])}×{num(ff.slope[r0, j])} = {num(ff.dhidden[r0, j])}",
                dot_worked(ctx, f"dW₁[d0,h{j}] = F[:,d0]·∂L/∂P[:,h{j}]", fw.ffn_input[:, 0], ff.dhidden[:, j], ff.dw1[0, j]),
                dot_worked(ctx, f"∂L/∂F[{t0},d0] = ∂L/∂P[{t0}]·W₁[d0,:]", ff.dhidden[r0], w["W1"][0], ff.dx[r0, 0]),
            ],
            why="Through a linear layer the gradient is multiplied by the transposed weights, and through "
            "the activation by its slope at each hidden unit.",
        )
    )

    # 3. LN₂ and the fan-in at h.
    trace.add(
        Step(
            id="residual-h",
            title="Back through LN₂; at h the two paths add up",
            formula=r"\frac{\partial L}{\partial h} = \frac{\partial L}{\partial y} + J_{\mathrm{LN}_2}^{\top} \frac{\partial L}{\partial F}",
            formula_text="∂L/∂h = ∂L/∂y (around the FFN) + LN₂ backward of ∂L/∂F (through it)",
            values=[Value("∂L/∂h", g.dh, label=f"∂L/∂h ({shape_text(g.dh)}, the shape of h)", rows=toks, cols=feats)],
            worked=[
                f"through LN₂, [{t0},d0]: g = γ₂ ⊙ ∂L/∂F, " + _ln_worked(ctx, fw.ln2, ff.dx, g.dh_through, r0, "ĥ"),
                _fan_in_worked(ctx, "∂L/∂h", t0, g.dh_around[r0], g.dh_through[r0], g.dh[r0]),
            ],
            why="h reaches the loss directly and through the FFN, so the chain rule adds the gradients "
            "of the two paths (backprop-layernorm derives the LN part).",
        )
    )

    # 4. Back through multi-head attention.
    trace.add(_attention_step(ctx, inputs, run, toks, r0))

    # 5. LN₁ and the fan-in at x.
    trace.add(
        Step(
            id="residual-x",
            title="Back through LN₁; at x the two paths add up",
            formula=r"\frac{\partial L}{\partial x} = \frac{\partial L}{\partial h} + J_{\mathrm{LN}_1}^{\top} \frac{\partial L}{\partial N}",
            formula_text="∂L/∂x = ∂L/∂h (around attention) + LN₁ backward of ∂L/∂N (through it)",
            values=[Value("∂L/∂x", g.dx, label=f"∂L/∂x ({shape_text(g.dx)}, the shape of x)", rows=toks, cols=feats)],
            worked=[
                f"through LN₁, [{t0},d0]: g = γ₁ ⊙ ∂L/∂N, " + _ln_worked(ctx, fw.ln1, g.mha.dx, g.dx_through, r0, "x̂"),
                _fan_in_worked(ctx, "∂L/∂x", t0, g.dx_around[r0], g.dx_through[r0], g.dx[r0]),
            ],
            why="The residual copy carries ∂L/∂h to x unchanged, so even a sublayer that passes little "
            "gradient back cannot cut the input off from the loss.",
        )
    )

    # 6. Every parameter's gradient, and one SGD step.
    trace.add(_update_step(ctx, inputs, run))

    for step in trace.steps:
        _note_rounding(ctx, step)
    trace.outputs = {"loss": run.loss, "grads": run.grads, "loss_after": run.loss_after}
    trace.result = answer(trace, "update.L", "update.L_after", "residual-x.∂L/∂x", "update.gradients")
    return trace


def _loss_step(ctx: Context, inputs: Inputs, run: Run, toks, feats, kept: int, r0: int) -> Step:
    num = ctx.n
    n, d = inputs.x.shape
    t0 = toks[r0]
    label = f"∂L/∂y ({n}×{d}, the shape of y)"
    if inputs.dy is not None:
        y = run.forward.y
        return Step(
            id="loss",
            title="The upstream gradient ∂L/∂y = dy, given",
            formula=r"L = \sum_{i,j} y_{ij}\, dy_{ij},\quad \frac{\partial L}{\partial y} = dy",
            formula_text="L = Σ y ⊙ dy, whose gradient with respect to y is dy itself",
            values=[Value("L", run.loss, label="L"), Value("∂L/∂y", run.dy, label=label, rows=toks, cols=feats)],
            worked=[dot_worked(ctx, f"L, row {t0} = y[{t0}]·dy[{t0}]", y[r0], inputs.dy[r0], float(y[r0] @ inputs.dy[r0]))
                    + "; the same for the other rows, added"],
            why="Any loss enters the backward pass only through ∂L/∂y, so a given dy stands for whatever "
            "the layers above the block would send down.",
        )
    head, hg = run.head, run.head_grads
    vocab = inputs.wu.shape[1]
    classes = index_labels(vocab, "c")
    t = int(inputs.targets[r0])
    onehot = np.eye(vocab)[t]
    rows = [i for i in range(n) if head.keep[i]]
    terms = [f"ln {num(head.probs[i, inputs.targets[i]])}" for i in rows[:3]] + (["…"] if len(rows) > 3 else [])
    over = f"{kept} token" + ("s" if kept != 1 else "")
    worked = [
        f"L = −({' + '.join(terms)}) / {kept} = {num(run.loss)}"
        if kept > 1 else f"L = −{terms[0]} = {num(run.loss)}",
    ]
    worked.append(
        f"∂L/∂z[{t0}] = (p − t) / {kept} = ({_vec(ctx, head.probs[r0])} − {_vec(ctx, onehot)}) / {kept} "
        f"= {_vec(ctx, hg.dlogits[r0])}   (t: 1 at {classes[t]})"
    )
    padded = [toks[i] for i in range(n) if not head.keep[i]]
    if padded:
        worked.append(f"∂L/∂z = 0 for {', '.join(padded)}: padding, left out of the loss")
    worked += [
        dot_worked(ctx, f"∂L/∂y[{t0},d0] = ∂L/∂z[{t0}]·W_U[d0,:]", hg.dlogits[r0], inputs.wu[0], run.dy[r0, 0]),
        dot_worked(ctx, "dW_U[d0,c0] = y[:,d0]·∂L/∂z[:,c0]", run.forward.y[:, 0], hg.dlogits[:, 0], hg.dwu[0, 0])
        + f"  (dW_U: {d}×{vocab}, the shape of W_U)",
    ]
    return Step(
        id="loss",
        title=f"The loss, and back through softmax and z = y·W_U ({n}×{vocab} logits)",
        formula=r"L = \frac{1}{n}\sum_i -\ln p_{i,t_i},\quad \frac{\partial L}{\partial z} = \frac{p - t}{n},\quad "
        r"dW_U = y^\top \frac{\partial L}{\partial z},\quad \frac{\partial L}{\partial y} = \frac{\partial L}{\partial z} W_U^\top",
        formula_text="L = mean −ln p[target], ∂L/∂z = (p − t)/n, dW_U = yᵀ·∂L/∂z, ∂L/∂y = ∂L/∂z·W_Uᵀ",
        values=[Value("L", run.loss, label=f"L (mean over {over})"), Value("∂L/∂y", run.dy, label=label, rows=toks, cols=feats)],
        worked=worked,
        why="Softmax with cross-entropy differentiates to p − t (backprop-softmax); the product "
        "z = y·W_U sends it back through W_Uᵀ.",
    )


def _attention_step(ctx: Context, inputs: Inputs, run: Run, toks, r0: int) -> Step:
    num, f = ctx.n, ctx.f
    fw, g, w = run.forward, run.g, inputs.weights
    m, mg = fw.mha, g.mha
    n, d = inputs.x.shape
    t0 = toks[r0]
    i = n - 1  # the query worked out in head 1 (it sees every earlier key, even when causal)
    h1, g1 = m.heads[0], mg.heads[0]
    keys = np.flatnonzero(h1.weights[i] > 0)
    k = int(keys[0]) if keys.size else 0
    p = mg.projections
    worked = [
        dot_worked(ctx, "dW_O[d0,d0] = C[:,d0]·∂L/∂h[:,d0]", m.concat[:, 0], g.dh[:, 0], mg.dwo[0, 0]),
        dot_worked(ctx, f"∂L/∂C[{t0},d0] = ∂L/∂h[{t0}]·W_O[d0,:]", g.dh[r0], w["wo"][0], mg.dconcat[r0, 0]),
        f"head 1, query {toks[i]}: c = Σ dA ⊙ A = {num(g1.row_dots[i])}, ∂L/∂S′[{toks[i]},{toks[k]}] = "
        f"A×(dA − c) = {f(h1.weights[i, k])}×({num(g1.dweights[i, k])} − {f(g1.row_dots[i])}) = {num(g1.dscaled[i, k])}",
        f"∂L/∂N[{t0},d0] = via Q, K, V = {f(p.dx_q[r0, 0])} + {f(p.dx_k[r0, 0])} + {f(p.dx_v[r0, 0])} = {num(p.dx[r0, 0])}",
        f"dQ, dK, dV: {n}×{d} (each head's {n}×{d // inputs.heads} side by side); dW_Q, dW_K, dW_V, dW_O: {d}×{d}",
    ]
    step = Step(
        id="attention",
        title=f"Back through attention: h = x + MHA(N) sends ∂L/∂h into {inputs.heads} heads",
        formula=r"\frac{\partial L}{\partial C} = \frac{\partial L}{\partial h} W_O^\top,\ "
        r"dS' = A \odot (dA - c),\ \frac{\partial L}{\partial N} = dQ\,W_Q^\top + dK\,W_K^\top + dV\,W_V^\top",
        formula_text="∂L/∂C = ∂L/∂h·W_Oᵀ, dW_O = Cᵀ·∂L/∂h; per head dS′ = A ⊙ (dA − c), dQ, dK, dV\n"
        "∂L/∂N = dQ·W_Qᵀ + dK·W_Kᵀ + dV·W_Vᵀ   (N = LN₁(x), C = heads side by side)",
        worked=worked,
        why="Each head runs the single-head backward (backprop-attention) on its own columns, and N "
        "feeds Q, K and V, so its gradient adds the three paths.",
    )
    empty = [toks[r] for r in range(n) if h1.empty_rows[r]]
    if empty:
        step.warnings.append(
            f"query {', '.join(empty)}: every key is masked, so its attention weights, dQ and ∂L/∂S′ are 0, not NaN"
        )
    return step


def _update_step(ctx: Context, inputs: Inputs, run: Run) -> Step:
    num, f = ctx.n, ctx.f
    params = dict(inputs.weights)
    if inputs.wu is not None:
        params["wu"] = inputs.wu
    rows = tuple(
        (NAME_OF[key], shape_text(grad), float(np.sqrt(np.sum(grad * grad)))) for key, grad in run.grads.items()
    )
    squares = float(sum(np.sum(grad * grad) for grad in run.grads.values()))
    first = "wo"
    gw = run.grads[first]
    worked = [
        f"‖dW_O‖ = √(Σ of its {gw.size} squared entries) = √{num(float(np.sum(gw * gw)))} = {num(float(np.sqrt(np.sum(gw * gw))))}",
        f"W_O[d0,d0] ← {num(params[first][0, 0])} − {num(inputs.lr)}×{f(gw[0, 0])} = {num(run.after[first][0, 0])}, "
        "and so on for every entry",
        f"ΔL ≈ −lr·Σ‖∂L/∂w‖² = −{num(inputs.lr)}×{num(squares)} = {num(-inputs.lr * squares)}; "
        f"measured: {num(run.loss_after - run.loss)}",
    ]
    step = Step(
        id="update",
        title="Every parameter's gradient, and one SGD step w ← w − lr·∂L/∂w",
        formula=r"w \leftarrow w - \mathrm{lr}\, \frac{\partial L}{\partial w},\quad \Delta L \approx -\mathrm{lr} \sum_w \left\lVert \frac{\partial L}{\partial w} \right\rVert^2",
        formula_text="w ← w − lr·∂L/∂w for every parameter;  ΔL ≈ −lr·Σ‖∂L/∂w‖²",
        values=[
            Value("gradients", [f"{name} ({shape}) {num(norm)}" for name, shape, norm in rows],
                  label="‖∂L/∂w‖ of each gradient (each has its parameter's shape)"),
            Value("L", run.loss, label="L before"),
            Value("L_after", run.loss_after, label="L after"),
        ],
        worked=worked,
        why="A step against the gradient is the steepest first-order descent: for a small enough lr the "
        "loss falls by about lr·‖∇L‖².",
    )
    if "bk" in run.grads and np.any(run.grads["bk"] != 0):
        step.warnings.append(
            f"‖∂L/∂b_K‖ = {num(float(np.sqrt(np.sum(run.grads['bk'] ** 2))))} is rounding noise: b_K adds the same "
            "number to every score of a query's row, which the softmax ignores, so its exact gradient is 0"
        )
    if run.loss_after >= run.loss:
        step.warnings.append(f"the loss did not go down: lr = {num(inputs.lr)} is too large a step here; try a smaller --lr")
    return step


def _note_rounding(ctx: Context, step: Step) -> None:
    """Say so when a shown gradient holds float64 rounding noise (about 1e-17 where the exact value is 0)."""
    for value in step.values:
        data = value.data
        if not isinstance(data, np.ndarray) or data.ndim != 2:
            continue
        tiny = (data != 0) & (np.abs(data) < 1e-12 * float(np.max(np.abs(data), initial=0.0)))
        if tiny.any():
            step.warnings.append(
                f"{value.name}: numbers like {ctx.n(float(data[tiny][0]))} are float64 rounding noise; read them as 0"
            )


# --------------------------------------------------------------------------- known mistakes


def _asked(case, values: dict[str, np.ndarray]) -> float | None:
    data = values.get(case.value)
    return None if data is None else float(np.asarray(data)[case.index])


def _run_of(case) -> Run:
    return compute(case.inputs)


def _only_through(case) -> float | None:
    """The gradient not passed around the residual: the sum keeps only the path through the sublayer."""
    g = _run_of(case).g
    return _asked(case, {"∂L/∂h": g.dh_through, "∂L/∂x": g.dx_through})


def _only_around(case) -> float | None:
    """The sublayer's path left out: the residual stream's gradient copied down unchanged."""
    g = _run_of(case).g
    return _asked(case, {"∂L/∂h": g.dh_around, "∂L/∂x": g.dx_around})


def _ln_direct_only(case) -> float | None:
    """Layer norm backward without its mean and variance paths: γ ⊙ upstream / σ."""
    r = _run_of(case)
    fw, g = r.forward, r.g
    dh = g.dh_around + fw.ln2.gamma * g.ffn.dx / fw.ln2.std[:, None]
    dx = g.dx_around + fw.ln1.gamma * g.mha.dx / fw.ln1.std[:, None]
    return _asked(case, {"∂L/∂h": dh, "∂L/∂x": dx})


def _activation_value(case) -> float | None:
    """f(P) used in place of its derivative f′(P) in the FFN backward (everything after it follows)."""
    inp, r = case.inputs, _run_of(case)
    fw, g = r.forward, r.g
    dhidden = g.ffn.dactivated * activate(inp.activation, fw.ffn.hidden)
    dh = r.dy + layer_norm_backward(fw.ln2, dhidden @ fw.ffn.w1.T).dx
    mha = mha_core.multi_head_backward(fw.mha, dh, inp.weights["wq"], inp.weights["wk"], inp.weights["wv"])
    dx = dh + layer_norm_backward(fw.ln1, mha.dx).dx
    return _asked(case, {"∂L/∂h": dh, "∂L/∂x": dx})


def _no_mean(case) -> float | None:
    """∂L/∂z = p − t, without dividing by the number of tokens in the mean (every gradient is n times too big)."""
    inp, r = case.inputs, _run_of(case)
    if inp.dy is not None:
        return None
    kept = int(np.count_nonzero(r.head.keep))
    if kept < 2:
        return None
    g = r.g
    return _asked(case, {"∂L/∂y": kept * r.dy, "∂L/∂h": kept * g.dh, "∂L/∂x": kept * g.dx})


MISTAKES = (
    Mistake(
        "residual-not-passed-around",
        "did not pass the gradient around the residual: kept only the path through the sublayer",
        _only_through,
        values=("∂L/∂h", "∂L/∂x"),
    ),
    Mistake(
        "sublayer-path-dropped",
        "passed the gradient only around the residual, leaving out the path through the sublayer",
        _only_around,
        values=("∂L/∂h", "∂L/∂x"),
    ),
    Mistake(
        "layernorm-direct-only",
        "left the mean and variance paths of layer norm out (γ ⊙ upstream / σ only)",
        _ln_direct_only,
        values=("∂L/∂h", "∂L/∂x"),
    ),
    Mistake(
        "activation-not-derivative",
        "multiplied by the activation f(P) instead of its derivative f′(P) in the FFN backward",
        _activation_value,
        values=("∂L/∂h", "∂L/∂x"),
    ),
    Mistake(
        "mean-not-divided",
        "took ∂L/∂z = p − t without dividing by the number of tokens in the mean",
        _no_mean,
        values=("∂L/∂y", "∂L/∂h", "∂L/∂x"),
    ),
)


def _quiz_masks(rng: np.random.Generator, values: dict[str, Any]) -> dict[str, Any]:
    """Half the quiz runs are causal."""
    return {"causal": bool(rng.integers(0, 2))}


def script(trace: Trace) -> str:
    """A pre-norm block's forward pass, every gradient by hand and one SGD step, as NumPy source."""
    from nntutor.walkthroughs._script import (
        SOFTMAX_ROWS,
        activation,
        activation_slope,
        heading,
        mask_source,
        python_name,
    )

    chosen = trace.inputs["activation"]
    f = python_name(chosen)
    with_dy = "dy" in trace.inputs
    names = [key for key, _ in PARAMETERS if key in trace.inputs]
    keep = "np.asarray(padding) != 0" if "padding" in trace.inputs else "np.ones(len(x), dtype=bool)"
    if with_dy:
        loss_lines = ["    return c, float(np.sum(c['y'] * dy))  # --dy: L = Σ y ⊙ dy"]
        top = ["dy_ = dy  # ∂L/∂y"]
    else:
        loss_lines = [
            "    z = c['y'] @ p['wu']  # logits",
            "    logp = z - z.max(axis=1, keepdims=True)",
            "    logp = logp - np.log(np.exp(logp).sum(axis=1, keepdims=True))",
            "    c['p'] = np.exp(logp)",
            "    picked = -logp[np.arange(len(target)), target.astype(int)]",
            "    return c, float(np.sum(np.where(keep, picked, 0.0)) / keep.sum())",
        ]
        top = [
            "onehot = np.zeros_like(c['p'])",
            "onehot[np.arange(len(target)), target.astype(int)] = 1.0",
            "dz = np.where(keep[:, None], c['p'] - onehot, 0.0) / keep.sum()  # (p − t)/n",
            "grads['wu'] = c['y'].T @ dz",
            "dy_ = dz @ params['wu'].T  # ∂L/∂y",
        ]
    packed = ["params = {"]
    for start in range(0, len(names), 4):
        packed.append("    " + " ".join(f"{name!r}: {name}," for name in names[start:start + 4]))
    packed.append("}")
    return "\n".join([
        SOFTMAX_ROWS,
        "",
        "",
        activation(chosen),
        "",
        "",
        activation_slope(chosen),
        "",
        "",
        "def layer_norm(v, gamma, beta, eps=1e-5):",
        "    mean = v.mean(axis=1, keepdims=True)",
        "    std = np.sqrt(((v - mean) ** 2).mean(axis=1, keepdims=True) + eps)",
        "    xhat = (v - mean) / std",
        "    return gamma * xhat + beta, xhat, std",
        "",
        "",
        "def layer_norm_backward(d_out, gamma, xhat, std):",
        "    \"\"\"∂L/∂v, ∂L/∂γ, ∂L/∂β of a layer norm, from ∂L/∂(its output).\"\"\"",
        "    g = gamma * d_out  # ∂L/∂x̂",
        "    mean_g = g.mean(axis=1, keepdims=True)",
        "    mean_gx = (g * xhat).mean(axis=1, keepdims=True)",
        "    dv = (g - mean_g - xhat * mean_gx) / std",
        "    return dv, (d_out * xhat).sum(axis=0), d_out.sum(axis=0)",
        "",
        "",
        *packed,
        f"keep = {keep}  # the rows (tokens) the loss counts",
        *mask_source(trace.inputs["causal"], trace.inputs.get("padding")),
        "d_h = x.shape[1] // heads",
        "columns = [slice(i * d_h, (i + 1) * d_h) for i in range(heads)]  # one per head",
        "",
        "",
        "def forward(p):",
        "    \"\"\"h = x + MHA(LN₁(x)), y = h + FFN(LN₂(h)), then the loss.",
        "",
        "    c keeps what the backward pass reuses.\"\"\"",
        "    c = {}",
        "    N, c['xhat1'], c['std1'] = layer_norm(x, p['ln1_gamma'], p['ln1_beta'])",
        "    c['N'] = N",
        "    q = N @ p['wq'] + p['bq']",
        "    k = N @ p['wk'] + p['bk']",
        "    v = N @ p['wv'] + p['bv']",
        "    c['q'], c['k'], c['v'] = q, k, v",
        "    c['A'] = [softmax_rows(q[:, s] @ k[:, s].T / math.sqrt(d_h), allowed)",
        "              for s in columns]  # one weight matrix per head",
        "    heads_out = [a @ v[:, s] for a, s in zip(c['A'], columns)]",
        "    c['C'] = np.concatenate(heads_out, axis=1)",
        "    c['h'] = x + c['C'] @ p['wo'] + p['bo']",
        "    F, c['xhat2'], c['std2'] = layer_norm(c['h'], p['ln2_gamma'], p['ln2_beta'])",
        "    c['F'] = F",
        "    c['P'] = c['F'] @ p['W1'] + p['b1']",
        f"    c['H'] = {f}(c['P'])",
        "    c['y'] = c['h'] + c['H'] @ p['W2'] + p['b2']",
        *loss_lines,
        "",
        "",
        "c, loss = forward(params)",
        "",
        heading(trace, "loss"),
        "grads = {}",
        *top,
        "",
        heading(trace, "ffn"),
        "grads['W2'], grads['b2'] = c['H'].T @ dy_, dy_.sum(axis=0)",
        f"dP = (dy_ @ params['W2'].T) * {f}_slope(c['P'])",
        "grads['W1'], grads['b1'] = c['F'].T @ dP, dP.sum(axis=0)",
        "",
        heading(trace, "residual-h"),
        "dF = dP @ params['W1'].T",
        "through, grads['ln2_gamma'], grads['ln2_beta'] = layer_norm_backward(",
        "    dF, params['ln2_gamma'], c['xhat2'], c['std2'])",
        "dh = dy_ + through  # around the FFN, and through it",
        "",
        heading(trace, "attention"),
        "grads['wo'], grads['bo'] = c['C'].T @ dh, dh.sum(axis=0)",
        "dC = dh @ params['wo'].T",
        "dq, dk, dv = (np.zeros_like(c[name]) for name in ('q', 'k', 'v'))",
        "for a, s in zip(c['A'], columns):",
        "    dv[:, s] = a.T @ dC[:, s]",
        "    dA = dC[:, s] @ c['v'][:, s].T",
        "    dS = a * (dA - np.sum(dA * a, axis=1, keepdims=True)) / math.sqrt(d_h)",
        "    dq[:, s], dk[:, s] = dS @ c['k'][:, s], dS.T @ c['q'][:, s]",
        "for name, d_proj in (('q', dq), ('k', dk), ('v', dv)):",
        "    grads['w' + name] = c['N'].T @ d_proj",
        "    grads['b' + name] = d_proj.sum(axis=0)",
        "",
        heading(trace, "residual-x"),
        "dN = dq @ params['wq'].T + dk @ params['wk'].T + dv @ params['wv'].T",
        "_, grads['ln1_gamma'], grads['ln1_beta'] = layer_norm_backward(",
        "    dN, params['ln1_gamma'], c['xhat1'], c['std1'])",
        "",
        heading(trace, "update"),
        "grads = {name: grads[name] for name in params}  # in the lesson's order",
        "after = {name: value - lr * grads[name] for name, value in params.items()}",
        "_, loss_after = forward(after)",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "x": Input("matrix"),
        "tokens": Input("labels"),
        "target": Input("vector"),
        "wu": Input("matrix"),
        "vocab": Input("integer", minimum=2),
        "dy": Input("matrix"),
        "heads": Input("integer", minimum=1),
        "d-ff": Input("integer", minimum=1),
        "causal": Input("flag"),
        "padding": Input("vector"),
        "activation": Input("choice", choices=("relu", "gelu")),
        "lr": Input("scalar", above=0),
        "seed": Input("integer", minimum=0),
        "weights": Input("path"),
    },
    targets=(Target("loss", "∂L/∂y"), Target("residual-h", "∂L/∂h"), Target("residual-x", "∂L/∂x")),
    mistakes=MISTAKES,
    keep=("target", "lr"),
    vary=("activation",),
    extra=_quiz_masks,
    script=script,
)
