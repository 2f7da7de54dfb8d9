"""The transformer-block lesson: attention and FFN sublayers, each with its residual
addition and layer norm, in the pre-norm or post-norm order.

pre:  h = x + MHA(LN₁(x)),  y = h + FFN(LN₂(h))
post: h = LN₁(x + MHA(x)),  y = LN₂(h + FFN(h))

Weights come from --seed (default 0: every matrix and vector drawn and rounded to
2 decimals) or from --weights FILE.json with the keys of
:data:`nntutor.core.block.WEIGHT_SHAPES`; a file may leave out the biases, betas
(zeros) and gammas (ones). A file's W1 sets d_ff:

>>> import json, os, tempfile
>>> eye = np.eye(4).tolist()
>>> with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
...     json.dump({"wq": eye, "wk": eye, "wv": eye, "wo": eye, "W1": np.ones((4, 6)).tolist(),
...                "W2": np.ones((6, 4)).tolist()}, f)
>>> w = load_weights_file(f.name, 4)
>>> w["W1"].shape, w["b1"].tolist(), w["ln1_gamma"].tolist()
((4, 6), [0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0])
>>> load_weights_file(f.name, 3)
Traceback (most recent call last):
  ...
nntutor.errors.InputError: --weights: key 'wq': expected 3×3 matrix (d, the width of --x × d, the width of --x), got 4×4
>>> os.remove(f.name)
"""

from __future__ import annotations

import difflib
import json
from typing import Any, NamedTuple

import numpy as np

from nntutor.catalog.inputs import parse_matrix, parse_vector, read_json_file
from nntutor.core import ffn as ffn_core
from nntutor.core import multihead as mha_core
from nntutor.core.block import (
    MATRICES,
    WEIGHT_SHAPES,
    default_for,
    random_weights,
    shape_of,
    transformer_block,
)
from nntutor.core.layernorm import LayerNormResult
from nntutor.errors import InputError
from nntutor.trace import Step, Trace, Value
from nntutor.walkthroughs._activation_notes import activation_worked
from nntutor.walkthroughs._common import Context, answer, dot_worked, index_labels, sum_worked
from nntutor.walkthroughs._declare import Args, Input, Target, Walkthrough
from nntutor.walkthroughs._transformer import check_memory, refuse_with, shape_text, token_labels
from nntutor.walkthroughs.multi_head import check_heads

SUB = {"1": "₁", "2": "₂"}
KEY_HELP = {
    "d": "d, the width of --x",
    "f": "d_ff, the columns of W1",
}


class Inputs(NamedTuple):
    """Checked inputs: X and its row labels, h (dividing d), every block weight, the variant."""

    x: np.ndarray  # n × d
    tokens: tuple[str, ...]  # one label per row of X
    heads: int  # h, a divisor of d
    norm: str  # "pre" or "post"
    causal: bool  # mask the future in attention
    activation: str  # the FFN's non-linearity, "relu" or "gelu"
    weights: dict[str, np.ndarray]  # every key of WEIGHT_SHAPES, drawn from the seed or read from the file
    source: dict[str, Any]  # where the weights came from: {"seed": 0} or {"weights": "FILE.json"}


# --------------------------------------------------------------------------- check


def _shape_words(key: str, d: int, d_ff: int) -> str:
    shape = shape_of(key, d, d_ff)
    return "×".join(str(s) for s in shape) + (" matrix" if len(shape) == 2 else " numbers")


def load_weights_file(path: str, d: int) -> dict[str, np.ndarray]:
    """The weights in a JSON file, checked against d (and d_ff from W1); every problem names --weights and the key."""
    flag = "--weights"
    data = read_json_file(flag, path)
    if not isinstance(data, dict):
        raise InputError(flag, f"{path!r} must hold a JSON object with keys such as \"wq\", \"W1\" (got a {type(data).__name__})")
    for key in data:
        if key not in WEIGHT_SHAPES:
            close = difflib.get_close_matches(str(key), list(WEIGHT_SHAPES), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(flag, f"unknown key {key!r}{hint} (expected some of: {', '.join(WEIGHT_SHAPES)})")
    for key in MATRICES:
        if key not in data:
            raise InputError(
                flag, f"missing key {key!r} (the matrices {', '.join(MATRICES)} are required; only biases, betas and gammas may be left out)"
            )
    parsed: dict[str, np.ndarray] = {}
    for key, raw in data.items():
        if not isinstance(raw, list):
            raise InputError(flag, f"key {key!r}: expected a JSON list of numbers, got {json.dumps(raw)[:30]}")
        try:
            parsed[key] = parse_matrix(flag, raw) if len(WEIGHT_SHAPES[key]) == 2 else parse_vector(flag, raw)
        except InputError as exc:
            raise InputError(flag, f"key {key!r}: {exc.message}") from None
    d_ff = parsed["W1"].shape[1]
    for key, value in parsed.items():
        want = shape_of(key, d, d_ff)
        if value.shape != want:
            dims = " × ".join(KEY_HELP[s] for s in WEIGHT_SHAPES[key])
            raise InputError(
                flag,
                f"key {key!r}: expected {_shape_words(key, d, d_ff)} ({dims}), got {shape_text(value)}",
            )
    return {key: parsed[key] if key in parsed else default_for(key, d, d_ff) for key in WEIGHT_SHAPES}


def _weights(args: Args, n: int, d: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The block weights from --weights (not with --seed/--d-ff) or drawn from --seed, after the memory guard."""
    given = args.given
    heads = args["heads"]
    if args["weights"] is not None:
        for name in ("seed", "d-ff"):
            if name in given:
                raise refuse_with(f"--{name}", "--weights", "the file gives every weight, and d_ff is the column count of its W1")
        w = load_weights_file(args["weights"], d)
        d_ff = w["W1"].shape[1]
        source = {"weights": args["weights"]}
        flag = "--weights"
    else:
        d_ff = args["d-ff"]
        source = {"seed": args["seed"]}
        flag = "--d-ff" if "d-ff" in given else "--x"
        w = None
    need = mha_core.estimate_bytes(n, d, heads) + ffn_core.estimate_bytes(n, d, d_ff) + 8 * 12 * n * d
    check_memory(flag, need, f"a block with {heads} heads, d = {d}, d_ff = {d_ff} on {n} tokens")
    if w is None:
        w = random_weights(np.random.default_rng(args["seed"]), d, d_ff)
    return w, source


def check(args: Args) -> Inputs:
    """h dividing d, one label per row, the weights from the file or the seed (within the memory limit)."""
    x = args["x"]
    n, d = x.shape
    heads = args["heads"]
    check_heads(d, heads, "x", args.given)
    toks = token_labels(args["tokens"], n, args.given)
    w, source = _weights(args, n, d)
    return Inputs(x, toks, heads, args["norm"], bool(args["causal"]), args["activation"], w, source)


# --------------------------------------------------------------------------- build


def _ln_step(ctx: Context, sid: str, which: str, ln: LayerNormResult, in_name: str, out_name: str, toks, feats) -> Step:
    num, f = ctx.n, ctx.f
    d = ln.width
    s0 = ln.x[0]
    total = float(np.sum(s0))
    return Step(
        id=sid,
        title=f"Layer norm {which}: "
        + (f"{out_name} = " if out_name != f"LN{SUB[which]}({in_name})" else "")
        + f"LN{SUB[which]}({in_name}), each row on its own ({shape_text(ln.x)} → {shape_text(ln.y)})",
        formula=r"\mathrm{LN}(v) = \gamma \odot \frac{v - \mu}{\sqrt{\sigma^2 + \varepsilon}} + \beta",
        formula_text="LN(v) = γ ⊙ (v − μ) / √(σ² + ε) + β   (μ, σ² over the features of one row)",
        values=[
            Value("mean", ln.mean, label="μ per row", cols=toks),
            Value("var", ln.var, label="σ² per row (÷ d)", cols=toks),
            Value("y", ln.y, label=f"{out_name} ({shape_text(ln.y)})", rows=toks, cols=feats),
        ],
        worked=[
            f"{toks[0]}: μ = ({sum_worked(ctx, 'Σ', s0, total).split(' = ', 1)[1].rsplit(' = ', 1)[0]}) / {d} = {num(float(ln.mean[0]))}",
            f"{toks[0]}: σ² = Σ(v − μ)² / {d} = {num(float(np.sum(ln.squared[0])))} / {d} = {num(float(ln.var[0]))}",
            f"{toks[0]}, d0: {f(ln.gamma[0])}×({num(s0[0])} − {f(float(ln.mean[0]))}) / √({num(float(ln.var[0]))} + {num(ln.eps)}) "
            f"+ {f(ln.beta[0])} = {f(ln.gamma[0])}×{f(ln.normalized[0, 0])} + {f(ln.beta[0])} = {num(ln.y[0, 0])}",
        ],
        why="Each token's vector is brought to mean 0 and variance 1 before γ and β rescale it, so "
        "sublayers see numbers of a steady size however many blocks are stacked.",
    )


# The block's parameters as the steps write them, in the order they are used.
WEIGHT_NAMES: tuple[tuple[str, str], ...] = (
    ("ln1_gamma", "γ₁"), ("ln1_beta", "β₁"), ("wq", "W_Q"), ("bq", "b_Q"), ("wk", "W_K"), ("bk", "b_K"),
    ("wv", "W_V"), ("bv", "b_V"), ("wo", "W_O"), ("bo", "b_O"), ("ln2_gamma", "γ₂"), ("ln2_beta", "β₂"),
    ("W1", "W₁"), ("b1", "b₁"), ("W2", "W₂"), ("b2", "b₂"),
)


def _weights_step(w: dict[str, np.ndarray], toks, feats, units, source: dict[str, Any]) -> Step:
    """Every weight the worked lines cite, labelled as they cite it (a detail: ``--full``)."""
    d, d_ff = w["wq"].shape[0], w["W1"].shape[1]
    rows_of = {"wq": feats, "wk": feats, "wv": feats, "wo": feats, "W1": feats, "W2": units}
    cols_of = {"W1": units, "b1": units}
    values = [
        Value(key, w[key], label=name, rows=rows_of.get(key), cols=cols_of.get(key, feats))
        for key, name in WEIGHT_NAMES
    ]
    where = f"read from {source['weights']}" if "weights" in source else f"drawn at random, --seed {source.get('seed')}"
    return Step(
        id="weights",
        title=f"The block's weights ({where})",
        formula_text=f"W_Q, W_K, W_V, W_O: {d}×{d};  W₁: {d}×{d_ff};  W₂: {d_ff}×{d};  γ, β, b: one per column",
        values=values,
        worked=[f"{sum(int(np.size(w[k])) for k, _ in WEIGHT_NAMES):,} numbers in all; the worked lines below cite them"],
        why="The weights are what training learns; one block's are shared by every token.",
        detail=True,
    )


def build(ctx: Context, inputs: Inputs) -> Trace:
    x, toks, heads, w = inputs.x, inputs.tokens, inputs.heads, inputs.weights
    norm, causal, activation = inputs.norm, inputs.causal, inputs.activation
    n, d = x.shape
    r = transformer_block(x, w, heads=heads, norm=norm, causal=causal, activation=activation)
    d_ff = w["W1"].shape[1]
    dh = d // heads
    num, f = ctx.n, ctx.f
    feats = index_labels(d, "d")
    units = index_labels(d_ff, "h")
    m = r.mha
    pre = norm == "pre"

    recorded: dict[str, Any] = {"x": x, "tokens": list(toks), "heads": heads, "norm": norm, "causal": causal, "activation": activation}
    recorded.update(inputs.source)
    recorded.update(w)
    trace = ctx.new_trace(recorded)

    trace.add(
        Step(
            id="input",
            title=f"The input: {n} tokens of d = {d} features",
            formula_text=f"x: one row per token ({n}×{d}); each sublayer keeps that shape, so blocks stack",
            values=[Value("x", x, label=f"x ({n}×{d})", rows=toks, cols=feats)],
        )
    )
    a_in = "LN₁(x)" if pre else "x"
    if pre:
        trace.add(_ln_step(ctx, "ln1", "1", r.ln1, "x", "LN₁(x)", toks, feats))
    trace.add(_weights_step(w, toks, feats, units, inputs.source))  # with the projections that use most of them

    # attention: projections, heads, output
    trace.add(
        Step(
            id="attention-projections",
            title=f"Attention: Q, K, V = {a_in}·W + b ({n}×{d} · {d}×{d} → {n}×{d} each)",
            formula=r"Q = A W_Q + b_Q,\quad K = A W_K + b_K,\quad V = A W_V + b_V",
            formula_text=f"Q = A·W_Q + b_Q,  K = A·W_K + b_K,  V = A·W_V + b_V   (A = {a_in})",
            values=[
                Value("attention_input", r.attention_input, label=f"A = {a_in}", rows=toks, cols=feats),
                Value("q", m.q, label="Q", rows=toks, cols=feats),
                Value("k", m.k, label="K", rows=toks, cols=feats),
                Value("v", m.v, label="V", rows=toks, cols=feats),
            ],
            worked=[
                dot_worked(ctx, f"A[{toks[0]}]·W_Q[:, 0]", r.attention_input[0], w["wq"][:, 0], float(r.attention_input[0] @ w["wq"][:, 0]))
                + f"; Q[{toks[0]}, d0] = {num(float(r.attention_input[0] @ w['wq'][:, 0]))} + {f(w['bq'][0])} = {num(m.q[0, 0])}",
            ],
            why="The same three projections as in the multi-head lesson, now with biases; "
            + ("in pre-norm they read the normalised x." if pre else "in post-norm they read x itself."),
            detail=True,  # taught in the multi-head lesson; the heads' weights follow from them
        )
    )
    i = n - 1
    h1 = m.heads[0]
    head_values = [
        Value(f"weights{k + 1}", res.weights, label=f"head {k + 1} weights", rows=toks, cols=toks, heat=True)
        for k, res in enumerate(m.heads)
    ]
    scaled_i = h1.scaled(i)
    trace.add(
        Step(
            id="attention-heads",
            title=f"Attention: {heads} heads of {dh} columns" + (", causal" if causal else "") + f" ({heads}×{n}×{n} weights)",
            formula=r"\mathrm{head}_i = \mathrm{softmax}\!\left(\frac{Q_i K_i^\top}{\sqrt{d_h}}" + (" + M" if causal else "") + r"\right) V_i",
            formula_text="headᵢ = softmax(Qᵢ·Kᵢᵀ / √d_h" + (" + M" if causal else "") + ")·Vᵢ",
            values=head_values[:1],
            worked=[
                dot_worked(ctx, f"head 1: s[{toks[i]}, {toks[0]}] = Q₁[{toks[i]}]·K₁[{toks[0]}]", h1.q[i], h1.k[0], h1.scores[i, 0])
                + f"; ÷ √{dh} = {num(scaled_i[0])}",
                f"head 1, row {toks[i]}: softmax([{', '.join(num(v) for v in scaled_i[:8])}"
                + (", …" if n > 8 else "")
                + f"]) = [{', '.join(num(v) for v in h1.weights[i][:8])}" + (", …" if n > 8 else "") + "]",
            ],
            why="Attention is the only place in the block where tokens exchange information.",
        )
    )
    if heads > 1:
        trace.add(
            Step(
                id="attention-other-heads",
                title="Attention: the same rule for the other head" if heads == 2 else f"Attention: the same rule for the other {heads - 1} heads",
                formula_text="headᵢ = softmax(Qᵢ·Kᵢᵀ / √d_h)·Vᵢ, each head on its own columns of Q, K and V",
                values=head_values[1:],
                detail=True,
            )
        )
    trace.add(
        Step(
            id="attention-concat",
            title=f"Attention: the heads' outputs side by side, C = [head₁ | … | headₕ] ({n}×{d})",
            formula_text="C = [head₁ | … | headₕ]: head i fills columns (i−1)·d_h to i·d_h − 1",
            values=[Value("concat", m.concat, label=f"C ({n}×{d})", rows=toks, cols=feats)],
            detail=True,
        )
    )
    trace.add(
        Step(
            id="attention-output",
            title=f"Attention: mix the heads with W_O, C·W_O + b_O ({n}×{d})",
            formula=r"\mathrm{MHA}(A) = [\mathrm{head}_1 \mid \cdots \mid \mathrm{head}_h]\, W_O + b_O",
            formula_text="MHA(A) = [head₁ | … | headₕ]·W_O + b_O",
            values=[Value("attention", m.output, label=f"MHA({a_in}) ({n}×{d})", rows=toks, cols=feats)],
            worked=[
                dot_worked(ctx, f"C[{toks[0]}]·W_O[:, 0]", m.concat[0], w["wo"][:, 0], float(m.concat[0] @ w["wo"][:, 0]))
                + f"; + b_O[0] = {num(float(m.concat[0] @ w['wo'][:, 0]))} + {f(w['bo'][0])} = {num(m.output[0, 0])}"
            ],
            why="W_O mixes what the heads found back into the model's d columns.",
        )
    )
    res1_name = "h" if pre else "s₁"
    trace.add(
        Step(
            id="residual1",
            title=f"First residual addition: {res1_name} = x + MHA({a_in}) ({n}×{d})",
            formula=r"h = x + \mathrm{MHA}(\mathrm{LN}_1(x))" if pre else r"s_1 = x + \mathrm{MHA}(x)",
            formula_text=f"{res1_name} = x + MHA({a_in})",
            values=[Value("residual1", r.residual1, label=res1_name, rows=toks, cols=feats)],
            worked=[
                f"{res1_name}[{toks[0]}, d0] = {num(x[0, 0])} + {f(m.output[0, 0])} = {num(r.residual1[0, 0])}",
            ],
            why="The input goes around the sublayer unchanged and the output is added to it: the "
            "sublayer learns a correction, and gradients get a direct path back.",
        )
    )
    if not pre:
        trace.add(_ln_step(ctx, "ln1", "1", r.ln1, "s₁", "h", toks, feats))
    else:  # the same rule as layer norm 1; the FFN step shows its output F = LN₂(h)
        trace.add(_ln_step(ctx, "ln2", "2", r.ln2, "h", "LN₂(h)", toks, feats)).detail = True

    f_in = "LN₂(h)" if pre else "h"
    fr = r.ffn
    j0 = float(r.ffn_input[0] @ w["W1"][:, 0])
    trace.add(
        Step(
            id="ffn-hidden",
            title=f"FFN: {activation}({f_in}·W₁ + b₁), row by row ({n}×{d} → {n}×{d_ff})",
            formula=rf"H = \mathrm{{{activation}}}(F W_1 + b_1)",
            formula_text=f"H = {activation}(F·W₁ + b₁)   (F = {f_in})",
            values=[
                Value("ffn_input", r.ffn_input, label=f"F = {f_in}", rows=toks, cols=feats),
                Value("hidden", fr.hidden, label=f"F·W₁ + b₁ ({n}×{d_ff})", rows=toks, cols=units),
                Value("activated", fr.activated, label=f"{activation}(·)", rows=toks, cols=units),
            ],
            worked=[
                dot_worked(ctx, f"F[{toks[0]}]·W₁[:, 0]", r.ffn_input[0], w["W1"][:, 0], j0)
                + f"; + b₁[0] = {num(j0)} + {f(w['b1'][0])} = {num(fr.hidden[0, 0])}",
                activation_worked(ctx, activation, fr.hidden[0, 0]),
            ],
            why="The feed-forward network works on each token alone, widening it to d_ff features.",
            detail=True,  # taught in the ffn lesson; the next step shows what the FFN returns
        )
    )
    k0 = float(fr.activated[0] @ w["W2"][:, 0])
    trace.add(
        Step(
            id="ffn-output",
            title=f"FFN: back to width d, H·W₂ + b₂ ({n}×{d_ff} → {n}×{d})",
            formula=r"\mathrm{FFN}(F) = H W_2 + b_2",
            formula_text="FFN(F) = H·W₂ + b₂",
            values=[Value("ffn", fr.y, label=f"FFN({f_in})", rows=toks, cols=feats)],
            worked=[
                dot_worked(ctx, f"H[{toks[0]}]·W₂[:, 0]", fr.activated[0], w["W2"][:, 0], k0)
                + f"; + b₂[0] = {num(k0)} + {f(w['b2'][0])} = {num(fr.y[0, 0])}"
            ],
            why="Projecting back to d makes the second residual addition possible.",
        )
    )
    res2_name = "y" if pre else "s₂"
    trace.add(
        Step(
            id="residual2",
            title=f"Second residual addition: {res2_name} = h + FFN({f_in}) ({n}×{d})",
            formula=r"y = h + \mathrm{FFN}(\mathrm{LN}_2(h))" if pre else r"s_2 = h + \mathrm{FFN}(h)",
            formula_text=f"{res2_name} = h + FFN({f_in})",
            values=[Value("residual2", r.residual2, label=res2_name, rows=toks, cols=feats)],
            worked=[
                f"{res2_name}[{toks[0]}, d0] = {num(r.after_attention[0, 0])} + {f(fr.y[0, 0])} = {num(r.residual2[0, 0])}",
            ],
            why="Again the sublayer only adds"
            + (": in pre-norm nothing normalises the sum, so the residual stream runs through the whole "
               "stack (a final LN follows the last block)." if pre else "."),
        )
    )
    if not pre:
        trace.add(_ln_step(ctx, "ln2", "2", r.ln2, "s₂", "y", toks, feats))
    trace.outputs = {"attention_weights": m.weights, "after_attention": r.after_attention, "y": r.y}
    trace.result = answer(trace, "residual2.residual2=y, the block's output" if pre else "ln2.y=y, the block's output")
    return trace


# What each quiz question shows: the values its element is computed from, not all twenty
# inputs of the block (a question on q[1,1] needs A = LN₁(x), W_Q and b_Q).
_LN1 = ("x", "ln1.mean", "ln1.var", "ln1_gamma", "ln1_beta")
_A = "attention-projections.attention_input"

def script(trace: Trace) -> str:
    """One transformer block, pre-norm or post-norm, as NumPy source (``--format py``)."""
    from nntutor.walkthroughs._script import (
        SOFTMAX_ROWS,
        activation,
        heading,
        mask_source,
        python_name,
    )

    chosen = trace.inputs["activation"]
    pre = trace.inputs["norm"] == "pre"
    functions = [
        SOFTMAX_ROWS,
        "def layer_norm(v, gamma, beta, eps=1e-5):",
        "    \"\"\"γ ⊙ (v − μ) / √(σ² + ε) + β, μ and σ² over the features of each row.\"\"\"",
        "    mean = v.mean(axis=1, keepdims=True)",
        "    var = ((v - mean) ** 2).mean(axis=1, keepdims=True)",
        "    return gamma * (v - mean) / np.sqrt(var + eps) + beta",
        activation(chosen),
        "def attention(a):",
        "    \"\"\"Multi-head attention on the rows of a: per head",
        "    softmax(Qᵢ·Kᵢᵀ / √d_h)·Vᵢ, then C·W_O + b_O.\"\"\"",
        "    q, k, v = a @ wq + bq, a @ wk + bk, a @ wv + bv",
        "    d_h = a.shape[1] // heads",
        "    weights, outputs = [], []",
        "    for i in range(heads):",
        "        columns = slice(i * d_h, (i + 1) * d_h)",
        "        scores = q[:, columns] @ k[:, columns].T / math.sqrt(d_h)",
        "        weights.append(softmax_rows(scores, allowed))",
        "        outputs.append(weights[-1] @ v[:, columns])",
        "    return np.stack(weights), np.concatenate(outputs, axis=1) @ wo + bo",
        "def ffn(f):",
        f"    return {python_name(chosen)}(f @ W1 + b1) @ W2 + b2",
    ]
    text = "\n".join(functions).replace("\ndef ", "\n\n\ndef ")
    mask = [line for line in mask_source(trace.inputs["causal"], trace.inputs.get("padding"))]
    if pre:
        body = [
            heading(trace, "ln1"),
            "a = layer_norm(x, ln1_gamma, ln1_beta)",
            heading(trace, "attention-heads"),
            "attention_weights, mha = attention(a)",
            heading(trace, "residual1"),
            "after_attention = x + mha  # h",
            heading(trace, "ln2"),
            "f = layer_norm(after_attention, ln2_gamma, ln2_beta)",
            heading(trace, "ffn-hidden"),
            heading(trace, "ffn-output"),
            heading(trace, "residual2"),
            "y = after_attention + ffn(f)",
        ]
    else:
        body = [
            "# Post-norm: attention on x itself, then LN₁ of the sum",
            "attention_weights, mha = attention(x)",
            heading(trace, "residual1"),
            "after_attention = layer_norm(x + mha, ln1_gamma, ln1_beta)  # LN₁(x + MHA(x))",
            "# then y = LN₂(h + FFN(h))",
            "y = layer_norm(after_attention + ffn(after_attention), ln2_gamma, ln2_beta)",
        ]
    return "\n".join([text, "", "", *mask, "", *body])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "x": Input("matrix"),
        "tokens": Input("labels"),
        "heads": Input("integer", minimum=1),
        "d-ff": Input("integer", minimum=1),
        "norm": Input("choice", choices=("pre", "post")),
        "causal": Input("flag"),
        "activation": Input("choice", choices=("relu", "gelu")),
        "seed": Input("integer", minimum=0),
        "weights": Input("path"),
    },
    targets=(
        Target("ln1", "mean", uses=("x",), symbol="μ"),
        Target("ln1", "var", uses=("x", "ln1.mean"), symbol="σ²"),
        Target("ln1", "y", uses=_LN1, symbol="LN₁(x)"),
        Target("attention-projections", "q", uses=(_A, "wq", "bq"), symbol="Q"),
        Target("attention-projections", "k", uses=(_A, "wk", "bk"), symbol="K"),
        Target("attention-projections", "v", uses=(_A, "wv", "bv"), symbol="V"),
        Target("attention-heads", "weights1", uses=("attention-projections.q", "attention-projections.k", "heads"), symbol="A₁"),
        Target("attention-output", "attention", uses=("attention-concat.concat", "wo", "bo"), symbol="MHA"),
        Target("residual1", "residual1", uses=("x", "attention-output.attention"), symbol="h"),
        Target("ln2", "y", uses=("residual1.residual1", "ln2.mean", "ln2.var", "ln2_gamma", "ln2_beta"), symbol="LN₂(h)"),
        Target("ffn-hidden", "hidden", uses=("ffn-hidden.ffn_input", "W1", "b1"), symbol="F·W₁ + b₁"),
        Target("ffn-hidden", "activated", uses=("ffn-hidden.hidden", "activation"), symbol="H"),
        Target("ffn-output", "ffn", uses=("ffn-hidden.activated", "W2", "b2"), symbol="FFN"),
        Target("residual2", "residual2", uses=("residual1.residual1", "ffn-output.ffn"), symbol="y"),
    ),
    script=script,
)
