"""The train-step lesson: one batch through forward, loss, backward and one AdamW update.

The batch is drawn as ``nntutor train`` draws it (:func:`nntutor.models.train.draw_batch`
from the training sentences); the step is :func:`nntutor.core.train_step.train_step`.
The forward pass is summarised (its lessons show it in full), every parameter's
gradient norm is listed, one parameter's AdamW update is worked out entry by entry,
and the loss on the same batch is computed again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from nntutor.core.block import WEIGHT_SHAPES
from nntutor.core.lm import parameter_names
from nntutor.core.train_step import TrainStep, train_step
from nntutor.errors import InputError
from nntutor.models.threads import on_one_thread
from nntutor.trace import Step, Table, Trace, Value
from nntutor.walkthroughs._common import Context, answer
from nntutor.walkthroughs._declare import Args, Input, Target, Walkthrough
from nntutor.walkthroughs._model import LessonModel, choose

SHOWN_TOKENS = 10  # tokens of each window shown in the batch table
ENTRIES = 4  # entries of the chosen parameter in the update table

_PRETTY = {
    "wq": "W_Q", "wk": "W_K", "wv": "W_V", "wo": "W_O", "bq": "b_Q", "bk": "b_K", "bv": "b_V", "bo": "b_O",
    "W1": "W₁", "b1": "b₁", "W2": "W₂", "b2": "b₂",
    "ln1_gamma": "LN₁ γ", "ln1_beta": "LN₁ β", "ln2_gamma": "LN₂ γ", "ln2_beta": "LN₂ β",
}


LARGEST = 5  # gradient norms shown by default; --full shows every one


def pretty(name: str) -> str:
    """``block0.wq -> 'W_Q of layer 1'``, ``final_gamma -> 'final LN γ'``."""
    if name.startswith("block"):
        index, key = name[5:].split(".", 1)
        return f"{_PRETTY[key]} of layer {int(index) + 1}"
    return {"final_gamma": "final LN γ", "final_beta": "final LN β"}.get(name, name)


def _g(x: float, digits: int = 6) -> str:
    """A factor in worked arithmetic: ``-0.5 -> '(-0.5)'``."""
    text = f"{x:.{digits}g}"
    return f"({text})" if x < 0 else text


def see(*lessons: str) -> str:
    return " See: " + "; ".join(f"nntutor lesson {name}" for name in lessons) + "."


class _SentenceIds(Sequence):
    """The training sentences as ids, each tokenized when the batch first draws it.

    ``nntutor train`` tokenizes them all up front (``sentence_ids``); a batch of a few windows
    needs a dozen of the 485, and :func:`nntutor.models.train.draw_batch` only asks for
    ``len`` and items, so the same seed draws the same batch either way.
    """

    def __init__(self, tokenizer, sentences) -> None:
        self._tokenizer, self._sentences, self._ids = tokenizer, sentences, {}

    def __len__(self) -> int:
        return len(self._sentences)

    def __getitem__(self, i):
        if i not in self._ids:
            self._ids[i] = self._tokenizer.encode(self._sentences[i].text)
        return self._ids[i]


class Inputs(NamedTuple):
    model: LessonModel
    batch: np.ndarray  # B × (context + 1) token ids
    lr: float
    weight_decay: float
    param: str
    seed: int


@on_one_thread
def check(args: Args) -> Inputs:
    seed = int(args["seed"])
    model = choose(args["model"], seed=seed)
    names = parameter_names(model.layers)
    param = args["param"].strip()
    if param not in names:
        shown = ", ".join((*names[:3], "…", *names[-3:]))
        raise InputError("--param", f"{param!r} is not a parameter of this model (expected one of {shown}; blocks count from block0)")
    if model.source is None:
        raise InputError("--model", "needs a model with its own tokenizer and training sentences (tiny, random or a PATH)")
    from nntutor.models import corpus
    from nntutor.models.train import draw_batch

    sequences = _SentenceIds(model.source.tokenizer, corpus.split().train)
    rng = np.random.default_rng(seed)
    batch = draw_batch(rng, sequences, int(args["batch-size"]), model.context + 1)
    return Inputs(model, batch, float(args["lr"]), float(args["weight-decay"]), param, seed)


# --------------------------------------------------------------------------- build


@on_one_thread
def build(ctx: Context, inputs: Inputs) -> Trace:
    model = inputs.model
    s = train_step(inputs.batch, model.weights, heads=model.heads, lr=inputs.lr, weight_decay=inputs.weight_decay, eps=model.eps)
    trace = ctx.new_trace({
        "model": model.name, "batch-size": int(inputs.batch.shape[0]), "lr": inputs.lr,
        "weight-decay": inputs.weight_decay, "param": inputs.param, "seed": inputs.seed, "batch": inputs.batch,
    })
    _batch_step(ctx, trace, inputs, s)
    _loss_step(ctx, trace, inputs, s)
    _backward_step(ctx, trace, inputs, s)
    _adamw_step(ctx, trace, inputs, s)
    _after_step(ctx, trace, inputs, s)
    norms = s.grad_norms
    trace.outputs = {
        "loss_before": s.loss_before,
        "loss_after": s.loss_after,
        "grad_norms": norms,
    }
    trace.result = answer(trace, "loss.loss_before", "after.loss_after", "backward.largest")
    return trace


def _batch_step(ctx: Context, trace: Trace, inputs: Inputs, s: TrainStep) -> None:
    model = inputs.model
    B, n = inputs.batch.shape
    T = n - 1
    rows = tuple((b + 1, model.decode(inputs.batch[b, :SHOWN_TOKENS]) + " …") for b in range(B))
    fw = s.before.forward
    trace.add(
        Step(
            id="forward",
            title=f"A batch of {B} windows of {n} tokens, forward ({B}×{T} predictions at once)",
            formula_text=f"inputs = tokens 0…{T - 1} of each window, targets = tokens 1…{T};  "
            f"X₀ = E[ids] + PE ({B}×{T}×{model.d_model}) → {model.layers} blocks → final LN → logits ({B}×{T}×{len(model.vocab)})",
            values=[Value("batch", Table(("window", f"its first {SHOWN_TOKENS} tokens"), rows), label="the batch (windows cut from the training sentences)")],
            worked=[
                f"model {model.name}: {model.about}",
                f"each window: {n} tokens from a random sentence start on (into the next sentences), drawn as nntutor train does, --seed {inputs.seed}",
            ],
            why=f"The same forward pass as the pipeline lesson, on all {B}×{T} positions at once; every "
            f"block's output keeps the shape of X₀ ({'×'.join(map(str, fw.x0.shape))})." + see("pipeline", "lm-loss"),
        )
    )


def _loss_step(ctx: Context, trace: Trace, inputs: Inputs, s: TrainStep) -> None:
    n_ = ctx.n
    un = s.before.unembed
    losses = un.losses.reshape(-1)
    count = losses.size
    V = len(inputs.model.vocab)
    trace.add(
        Step(
            id="loss",
            title=f"The loss: the mean −ln p[target] over {count} positions = {n_(s.loss_before)}",
            formula_text="L = (1/(B·T))·Σ −ln p[target]  over every position of every window",
            values=[Value("loss_before", s.loss_before, label="L before the step")],
            worked=[
                f"largest −ln p = {n_(losses.max())}, smallest = {n_(losses.min())}; their mean L = {n_(s.loss_before)}",
                f"perplexity e^L = {n_(np.exp(s.loss_before))} against the uniform {V} (L = ln {V} = {n_(np.log(V))})."
                + see("lm-loss"),
            ],
        )
    )


def _backward_step(ctx: Context, trace: Trace, inputs: Inputs, s: TrainStep) -> None:
    n_ = ctx.n
    norms = s.grad_norms
    L = inputs.model.layers
    keys = list(WEIGHT_SHAPES)
    rows = [("E (embedding)", "×".join(map(str, s.grads.grads["E"].shape)), norms["E"], *([""] * (L - 1)))]
    for key in keys:
        shape = "×".join(map(str, s.grads.grads[f"block0.{key}"].shape))
        rows.append((_PRETTY[key], shape, *(norms[f"block{i}.{key}"] for i in range(L))))
    for name in ("final_gamma", "final_beta", "W_U"):
        rows.append((pretty(name), "×".join(map(str, s.grads.grads[name].shape)), norms[name], *([""] * (L - 1))))
    columns = ("parameter", "shape", *(f"‖g‖ layer {i + 1}" if L > 1 else "‖g‖" for i in range(L)))
    largest = max(norms, key=norms.get)
    g = s.grads.grads[inputs.param]
    trace.add(
        Step(
            id="backward",
            title=f"Backward: a gradient for every one of the {len(norms)} parameters",
            formula_text="‖g‖ = √(Σ g²) of each parameter's gradient ∂L/∂θ (same shape as θ)",
            values=[
                Value("largest", Table(("parameter", "shape", "‖g‖"), tuple(
                    (pretty(name), "×".join(map(str, s.grads.grads[name].shape)), norms[name])
                    for name in sorted(norms, key=norms.get, reverse=True)[:LARGEST]
                )), label=f"the {LARGEST} largest gradient norms, of {len(norms)}"),
                Value("grad_norms", Table(columns, tuple(rows)), label="every gradient norm (E, final LN γ, β and W_U: one each; "
                      "the rest: one per layer)", detail=True),
            ],
            worked=[
                f"the largest: {pretty(largest)}, ‖g‖ = {n_(norms[largest])}; "
                f"{pretty(inputs.param)} (--param {inputs.param}): √(Σ of its {g.size} squared entries) = {n_(norms[inputs.param])}",
                "b_K gets no gradient (up to rounding): adding one vector to every key shifts all of a "
                "query's scores equally, and softmax ignores that",
            ],
            why="The backward pass runs the forward in reverse: the unembedding, the final layer norm, "
            "each block's own backward (attention, FFN, layer norms, the two residual copies), then the "
            "embedding, where each token's row collects the gradient of every position it appeared at."
            + see("backprop-block", "backprop-softmax"),
        )
    )


def _adamw_step(ctx: Context, trace: Trace, inputs: Inputs, s: TrainStep) -> None:
    n_ = ctx.n
    u = s.adam.updates[inputs.param]
    flat = np.abs(u.grad).reshape(-1)
    order = np.argsort(-flat, kind="stable")[:ENTRIES]
    shape = u.p.shape
    idx = [np.unravel_index(int(i), shape) for i in order]

    def cell(a, i):
        return float(np.asarray(a)[i])

    names = tuple(str(tuple(int(x) for x in i)) if len(shape) > 1 else str(int(i[0])) for i in idx)
    rows = tuple((name, cell(u.p, i), cell(u.grad, i), cell(u.m, i), cell(u.v, i)) for name, i in zip(names, idx, strict=True))
    i0 = idx[0]
    b1, b2 = u.betas
    p, g = cell(u.p, i0), cell(u.grad, i0)
    where = str(tuple(int(x) for x in i0)) if len(shape) > 1 else f"[{int(i0[0])}]"
    name = f"{pretty(inputs.param)}, entry {where}"
    decay_note = f"λ = {n_(u.decay)}" + ("" if u.decay else " (no decay: not a matrix)")
    trace.add(
        Step(
            id="adamw",
            title=f"AdamW on {pretty(inputs.param)} ({'×'.join(map(str, shape))}), step t = {u.t}",
            formula_text="p ← p·(1 − lr·λ);  m = β₁m + (1−β₁)g;  v = β₂v + (1−β₂)g²;  m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ);  "
            "p ← p − lr·m̂/(√v̂ + ε)",
            values=[
                Value("update", Table(("entry", "p", "g", "m", "v"), rows), label=f"the {len(rows)} entries with the largest gradients"),
                Value("step", np.array([cell(u.update, i) for i in idx]), label="lr·m̂ / (√v̂ + ε) for each", cols=names),
                Value("new p", np.array([cell(u.new, i) for i in idx]), label="p·(1 − lr·λ) − step", cols=names),
            ],
            worked=[
                f"{name}: p = {p:.8g}, g = {g:.6g}; lr = {n_(u.lr)}, {decay_note}, β₁ = {b1:g}, β₂ = {b2:g}, ε = {u.eps:g}",
                f"decay: {_g(p, 8)}·(1 − {n_(u.lr)}·{n_(u.decay)}) = {cell(u.decayed, i0):.8g}",
                f"m = {b1:g}·0 + {1 - b1:.1f}·g = {cell(u.m, i0):.6g};  v = {b2:g}·0 + {1 - b2:.3f}·g² = {cell(u.v, i0):.6g}",
                f"m̂ = m / (1 − {b1:g}^{u.t}) = m / {u.correction1:.4g} = {cell(u.m_hat, i0):.6g};  "
                f"v̂ = v / {u.correction2:.4g} = {cell(u.v_hat, i0):.6g}",
                f"step = {n_(u.lr)}·m̂ / (√v̂ + ε) = {n_(u.lr)}·{_g(cell(u.m_hat, i0))} / ({np.sqrt(cell(u.v_hat, i0)):.6g} + {u.eps:g}) = {cell(u.update, i0):.8g}",
                f"new p = {cell(u.decayed, i0):.8g} − {_g(cell(u.update, i0), 8)} = {cell(u.new, i0):.8g}",
            ],
            why="The moments start at 0, so at t = 1 the corrections undo the (1 − β) factors: m̂ = g, "
            "v̂ = g², and every entry moves by almost exactly lr against the sign of its gradient, "
            "large gradient or small. Later steps average over many batches. (A saved model keeps "
            "its weights, not its moments, so this step starts at t = 1.)" + see("gradient-descent"),
        )
    )


def _after_step(ctx: Context, trace: Trace, inputs: Inputs, s: TrainStep) -> None:
    n_ = ctx.n
    change = s.loss_after - s.loss_before
    went = "down" if change < 0 else "up"
    trace.add(
        Step(
            id="after",
            title=f"The same batch after the step: L {n_(s.loss_before)} → {n_(s.loss_after)}",
            formula_text="L after = the loss of the updated weights on the same batch;  predicted change ≈ Σ g·Δθ",
            values=[Value("loss_after", s.loss_after, label="L after the step")],
            worked=[
                f"change: {n_(s.loss_after)} − {n_(s.loss_before)} = {change:.6g} ({went})",
                f"first-order prediction Σ g·Δθ over all parameters = {s.predicted_change:.6g}",
            ],
            why="A step against the gradient lowers the loss on the batch it was computed on while the "
            "step is small enough for the slope to hold. "
            + ("Here the prediction and the change agree within 20%. " if abs(change - s.predicted_change) <= 0.2 * abs(s.predicted_change)
               else "Here the real change is not the predicted one: every weight moved by about lr, too far for "
               "the slope alone to describe the loss. ")
            + "Try --model random for an untrained model's first step.",
        )
    )


TRAIN_STEP_SOURCE = '''\
def layer_norm(x, gamma, beta):
    """y = γ·x̂ + β, x̂ = (x − μ)/√(σ² + ε) over the last axis; x̂ and
    1/√(σ² + ε) are kept for backward."""
    centred = x - x.mean(axis=-1, keepdims=True)
    inv = 1.0 / np.sqrt((centred**2).mean(axis=-1, keepdims=True) + eps)
    x_hat = centred * inv
    return gamma * x_hat + beta, (x_hat, inv)


def layer_norm_backward(dy, gamma, kept):
    """∂L/∂x, ∂L/∂γ, ∂L/∂β from ∂L/∂y (μ and σ² depend on the whole row)."""
    x_hat, inv = kept
    d_hat = dy * gamma
    mean_d = d_hat.mean(axis=-1, keepdims=True)
    mean_dx = (d_hat * x_hat).mean(axis=-1, keepdims=True)
    dx = inv * (d_hat - mean_d - x_hat * mean_dx)
    return dx, (dy * x_hat).sum(axis=(0, 1)), dy.sum(axis=(0, 1))


def split(t):
    """B×T×d → B×heads×T×d_head: head i owns columns d_head·i onwards."""
    B, T, d = t.shape
    return t.reshape(B, T, heads, d // heads).transpose(0, 2, 1, 3)


def join(t):
    """B×heads×T×d_head → B×T×d (the inverse of split)."""
    B, H, T, d_h = t.shape
    return t.transpose(0, 2, 1, 3).reshape(B, T, H * d_h)


def outer(a, g):
    """Σ of aᵀ·g over every window and position: the gradient of the weight
    matrix that a is multiplied by."""
    return np.einsum('bti,btj->ij', a, g)


def block_forward(x, w):
    """A pre-norm causal block on B windows: y, and what backward needs."""
    a, ln1 = layer_norm(x, w['ln1_gamma'], w['ln1_beta'])
    q = split(a @ w['wq'] + w['bq'])
    k = split(a @ w['wk'] + w['bk'])
    v = split(a @ w['wv'] + w['bv'])
    d_h = q.shape[-1]
    causal = np.tril(np.ones((x.shape[1], x.shape[1]), dtype=bool))
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d_h)
    scores = np.where(causal, scores, -np.inf)
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    P = e / e.sum(axis=-1, keepdims=True)
    heads_out = join(P @ v)
    h = x + heads_out @ w['wo'] + w['bo']
    f, ln2 = layer_norm(h, w['ln2_gamma'], w['ln2_beta'])
    z = f @ w['W1'] + w['b1']
    r = np.maximum(z, 0.0)
    y = h + r @ w['W2'] + w['b2']
    return y, (a, ln1, q, k, v, P, heads_out, f, ln2, z, r)


def block_backward(dy, w, kept):
    """∂L/∂x and the gradient of every weight of the block, from ∂L/∂y."""
    a, ln1, q, k, v, P, heads_out, f, ln2, z, r = kept
    g = {}
    # y = h + FFN(LN₂(h)): the residual copies dy straight to h
    g['W2'], g['b2'] = outer(r, dy), dy.sum(axis=(0, 1))
    dz = (dy @ w['W2'].T) * (z > 0)  # ReLU passes the gradient where z > 0
    g['W1'], g['b1'] = outer(f, dz), dz.sum(axis=(0, 1))
    df = dz @ w['W1'].T
    dh_ln, g['ln2_gamma'], g['ln2_beta'] = layer_norm_backward(
        df, w['ln2_gamma'], ln2)
    dh = dy + dh_ln
    # h = x + concat(heads)·W_O + b_O
    g['wo'], g['bo'] = outer(heads_out, dh), dh.sum(axis=(0, 1))
    d_out = split(dh @ w['wo'].T)
    d_h = q.shape[-1]
    dP = d_out @ v.transpose(0, 1, 3, 2)
    dv = P.transpose(0, 1, 3, 2) @ d_out
    # softmax backward, then ÷ √d_head
    dS = P * (dP - (dP * P).sum(axis=-1, keepdims=True)) / math.sqrt(d_h)
    dq, dk = dS @ k, dS.transpose(0, 1, 3, 2) @ q
    da = 0.0
    for m, b, dt in (('wq', 'bq', dq), ('wk', 'bk', dk), ('wv', 'bv', dv)):
        dt = join(dt)
        g[m], g[b] = outer(a, dt), dt.sum(axis=(0, 1))
        da = da + dt @ w[m].T
    dx_ln, g['ln1_gamma'], g['ln1_beta'] = layer_norm_backward(
        da, w['ln1_gamma'], ln1)
    return dh + dx_ln, g


def positions(count):
    d_model = E.shape[1]
    divisors = 10000.0 ** (np.arange(0, d_model, 2) / d_model)
    angles = np.arange(count)[:, None] / divisors
    pe = np.empty((count, d_model))
    pe[:, 0::2], pe[:, 1::2] = np.sin(angles), np.cos(angles)
    return pe


def forward_loss(params):
    """The mean −ln p[target] over every position of every window, and what
    backward needs."""
    x = params['E'][inputs] + positions(inputs.shape[1])
    kept = []
    for i in range(layers):
        w = {key: params[f'block{i}.{key}'] for key in keys}
        x, block_kept = block_forward(x, w)
        kept.append(block_kept)
    hf, lnf = layer_norm(x, params['final_gamma'], params['final_beta'])
    logits = hf @ params['W_U']
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True)
    B, T = targets.shape
    p_target = p[np.arange(B)[:, None], np.arange(T)[None, :], targets]
    loss = -np.log(p_target).mean()
    return loss, (kept, hf, lnf, p)
'''
"""The forward pass, the backward pass and AdamW written out in NumPy for the --format py script."""


def script(trace: Trace) -> str:
    """One training step as NumPy source (``--format py``): forward, loss, the backward pass
    through every layer written out by hand, the AdamW update, the loss again."""
    from nntutor.core.block import MATRICES
    from nntutor.core.optim import BETAS, EPS
    from nntutor.walkthroughs._script import heading, model_literals

    model = choose(trace.inputs["model"], seed=int(trace.inputs["seed"]))
    b1, b2 = BETAS
    return "\n".join([
        model_literals(model, f"--model {model.name}, {model.about}", tokenizer=False),
        "keys = [  # each block's weights",
        *(f"    {key!r}," for key in WEIGHT_SHAPES),
        "]",
        "layers = len(blocks)",
        "params = {'E': E}  # every parameter by its name",
        "for i in range(layers):",
        "    params.update({f'block{i}.{key}': blocks[i][key] for key in keys})",
        "params.update(final_gamma=final_gamma, final_beta=final_beta, W_U=W_U)",
        "",
        "",
        TRAIN_STEP_SOURCE.rstrip("\n"),
        "",
        "",
        heading(trace, "forward"),
        "# each window predicts its next token at every position",
        "inputs, targets = batch[:, :-1], batch[:, 1:]",
        "",
        heading(trace, "loss"),
        "loss_before, (kept, hf, lnf, p) = forward_loss(params)",
        "",
        heading(trace, "backward"),
        "B, T = targets.shape",
        "dlogits = p.copy()",
        "dlogits[np.arange(B)[:, None], np.arange(T)[None, :], targets] -= 1.0",
        "dlogits /= B * T  # ∂L/∂z = (p − onehot(target)) / (B·T)",
        "grads = {'W_U': outer(hf, dlogits)}",
        "dx, grads['final_gamma'], grads['final_beta'] = layer_norm_backward(",
        "    dlogits @ W_U.T, final_gamma, lnf)",
        "for i in reversed(range(layers)):  # the blocks in reverse order",
        "    w = {key: params[f'block{i}.{key}'] for key in keys}",
        "    dx, g = block_backward(dx, w, kept[i])",
        "    grads.update({f'block{i}.{key}': g[key] for key in keys})",
        "grads['E'] = np.zeros_like(E)",
        "# a token's row collects the gradient of every position it was read at",
        "np.add.at(grads['E'], inputs, dx)",
        "grad_norms = {name: math.sqrt((grads[name] ** 2).sum()) for name in params}",
        "",
        heading(trace, "adamw"),
        f"beta1, beta2, adam_eps = {b1!r}, {b2!r}, {EPS!r}",
        "matrices = {'E', 'W_U'} | {f'block{i}.{m}' for i in range(layers)",
        f"                          for m in {list(MATRICES)!r}}}",
        "new = {}",
        "for name, value in params.items():",
        "    g = grads[name]",
        "    m, v = (1 - beta1) * g, (1 - beta2) * g * g  # t = 1: moments from 0",
        "    m_hat, v_hat = m / (1 - beta1), v / (1 - beta2)",
        "    decay = weight_decay if name in matrices else 0.0  # matrices only",
        "    step = lr * m_hat / (np.sqrt(v_hat) + adam_eps)",
        "    new[name] = value * (1 - lr * decay) - step",
        "",
        heading(trace, "after"),
        "loss_after, _ = forward_loss(new)",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "model": Input("path"),
        "batch-size": Input("integer", minimum=1, maximum=64),
        "lr": Input("scalar", above=0, maximum=1),
        "weight-decay": Input("scalar", minimum=0, below=1),
        "param": Input("text"),
        "seed": Input("integer", minimum=0),
    },
    targets=(Target("adamw", "new p", uses=("adamw.update", "adamw.step", "lr", "weight-decay"), symbol="new p"),),
    script=script,
    keep=("model", "batch-size", "param"),
)
