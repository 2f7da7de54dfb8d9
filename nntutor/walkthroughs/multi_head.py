"""The multi-head attention lesson: project, split into h heads, attend per head,
concatenate, project with W_O.

Default run: 3 tokens (The, cat, sat), d_model = 4, h = 2 heads of 2 columns.
Head 1's weights for 'sat' are [0.1978, 0.4011, 0.4011]; the output row of
'The' is [1.0521, 0.8937, 0.3903, -0.1961].

Each head takes d_model/h columns, so h must divide d_model:

>>> check_heads(4, 2)
2
>>> check_heads(6, 4)
Traceback (most recent call last):
  ...
nntutor.errors.InputError: --heads: d_model = 6 (the columns of --x) is not divisible by h = 4: each head takes d_model/h columns, so h must divide 6 (e.g. 1, 2, 3, 6)
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, NamedTuple

import numpy as np

from nntutor.core.multihead import estimate_bytes, head_columns, head_costs, multi_head_attention
from nntutor.errors import InputError
from nntutor.trace import Step, Table, Trace, Value
from nntutor.walkthroughs._common import (
    Context,
    Size,
    answer,
    blamed,
    dot_worked,
    mismatch,
    shape_words,
)
from nntutor.walkthroughs._declare import Args, Input, Target, Walkthrough
from nntutor.walkthroughs._transformer import (
    check_memory,
    feature_labels,
    random_matrix,
    refuse_with,
    shape_text,
    token_labels,
)

WEIGHTS = ("wq", "wk", "wv", "wo")


class Inputs(NamedTuple):
    """Checked inputs: X and its row labels, h (dividing d_model), the four projections, masking."""

    x: np.ndarray  # n × d_model (typed, or drawn from the seed with --seq-len/--d-model)
    tokens: tuple[str, ...]  # one label per row of X
    heads: int  # h, a divisor of d_model
    wq: np.ndarray  # W_Q, d_model × d_model
    wk: np.ndarray  # W_K, d_model × d_model
    wv: np.ndarray  # W_V, d_model × d_model
    wo: np.ndarray  # W_O, d_model × d_model
    causal: bool  # mask the future
    seed: int | None  # the seed the weights (and a sized X) were drawn from; None: typed
    sizes: dict[str, int]  # the --seq-len/--d-model a random X was drawn with (recorded as given)


# --------------------------------------------------------------------------- check


def divisors(d: int) -> list[int]:
    return [k for k in range(1, d + 1) if d % k == 0]


def check_heads(d: int, heads: int, source: str = "x", given: Collection[str] = ()) -> int:
    """d/h, or an InputError naming the head counts that would work.

    ``source`` is the input d_model comes from (``x``, its columns, or ``d-model``); the error
    names it when the learner typed it and left --heads at its default:

    >>> check_heads(6, 4, "d-model", given={"d-model"})
    Traceback (most recent call last):
      ...
    nntutor.errors.InputError: --d-model: is 6 but --heads (default 4) does not divide 6: each head takes d_model/h columns; pass --heads too (e.g. 1, 2, 3, 6)
    """
    if heads > d or d % heads:
        options = ", ".join(str(k) for k in divisors(d)[:12])
        if blamed(given, "heads", source) == source:
            has = f"has {d} columns (d_model = {d})" if source == "x" else f"is {d}"
            raise InputError(
                f"--{source}",
                f"{has} but --heads (default {heads}) does not divide {d}: each head takes d_model/h columns; "
                f"pass --heads too (e.g. {options})",
            )
        what = "the columns of --x" if source == "x" else f"--{source}"
        raise InputError(
            "--heads",
            f"d_model = {d} ({what}) is not divisible by h = {heads}: each head takes d_model/h "
            f"columns, so h must divide {d} (e.g. {options})",
        )
    return d // heads


def _x_and_weights(args: Args) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """X and the four weight matrices, typed or drawn from --seed (drawn in that order)."""
    given = args.given
    seed = args["seed"]
    x = args["x"]
    if x.ndim == 1:
        x = x[None, :]
    sizes = [name for name in ("seq-len", "d-model") if name in given]
    random_x = bool(sizes)
    if random_x:
        if seed is None:
            raise InputError(f"--{sizes[0]}", "needs --seed: the random X of that size is drawn from the seed")
        if "x" in given:
            raise refuse_with("--x", f"--{sizes[0]}", "--x gives X itself; --seq-len/--d-model ask for a random X")
    n = args["seq-len"] if "seq-len" in given else x.shape[0]
    d = args["d-model"] if "d-model" in given else x.shape[1]
    heads = args["heads"]
    check_heads(d, heads, "d-model" if "d-model" in given else "x", given)
    flag = f"--{sizes[0]}" if random_x else "--x"
    check_memory(flag, estimate_bytes(n, d, heads), f"{heads} heads over {n} tokens of width {d}")
    weights: dict[str, np.ndarray] = {}
    if seed is None:
        for name in WEIGHTS:
            w = args[name]
            if w.shape != (d, d):  # W_Q, W_K, W_V, W_O are all d_model × d_model
                rows = w.shape[0] != d
                stale = [f"--{k}" for k in WEIGHTS if k not in given and args[k].shape != (d, d)]
                raise mismatch(
                    given,
                    Size(name, w.shape[0 if rows else 1], "rows" if rows else "columns", shape_words(w)),
                    Size("x", d, "columns", shape_words(x)),
                    why=f"W_{name[1].upper()} is d_model × d_model",
                    fix=f"pass {', '.join(stale[:-1])} and {stale[-1]} too, or --seed to draw them"
                    if len(stale) > 1 else "",
                )
            weights[name] = w
        return x, weights
    for name in WEIGHTS:
        if name in given:
            raise refuse_with(f"--{name}", "--seed", "--seed draws all four weight matrices; drop one of the two")
    rng = np.random.default_rng(seed)
    if random_x:
        x = random_matrix(rng, (n, d))
    for name in WEIGHTS:
        weights[name] = random_matrix(rng, (d, d), 1.0 / np.sqrt(d))
    return x, weights


def check(args: Args) -> Inputs:
    """X (typed or of --seq-len × --d-model), h dividing d_model, d_model × d_model weights, one label per row."""
    x, w = _x_and_weights(args)
    toks = token_labels(args["tokens"], x.shape[0], args.given)
    sizes = {name: args[name] for name in ("seq-len", "d-model") if name in args.given}
    return Inputs(x, toks, args["heads"], **w, causal=bool(args["causal"]), seed=args["seed"], sizes=sizes)


# --------------------------------------------------------------------------- build


def build(ctx: Context, inputs: Inputs) -> Trace:
    x, heads, causal, seed, toks = inputs.x, inputs.heads, inputs.causal, inputs.seed, inputs.tokens
    w = {name: getattr(inputs, name) for name in WEIGHTS}
    n, d = x.shape
    feats = feature_labels(d)
    r = multi_head_attention(x, w["wq"], w["wk"], w["wv"], w["wo"], heads=heads, causal=causal)
    dh = r.head_dim
    num, f = ctx.n, ctx.f

    recorded: dict[str, Any] = {"x": x, "tokens": list(toks), "heads": heads, "causal": causal}
    recorded.update(w)
    if seed is not None:
        recorded["seed"] = seed
    recorded.update(inputs.sizes)
    trace = ctx.new_trace(recorded)

    # 1. projections
    trace.add(
        Step(
            id="projections",
            title=f"Project X ({shape_text(x)}) into queries, keys and values",
            formula=r"Q = X W_Q,\quad K = X W_K,\quad V = X W_V",
            formula_text="Q = X·W_Q,  K = X·W_K,  V = X·W_V",
            values=[
                Value("x", x, label=f"X ({shape_text(x)})", rows=toks, cols=feats),
                Value("wq", w["wq"], label=f"W_Q ({shape_text(w['wq'])})", rows=feats, cols=feats),
                Value("q", r.q, label=f"Q ({shape_text(r.q)})", rows=toks, cols=feats),
                # K and V follow the same rule as Q (their first entries are worked below)
                Value("wk", w["wk"], label=f"W_K ({shape_text(w['wk'])})", rows=feats, cols=feats, detail=True),
                Value("k", r.k, label=f"K ({shape_text(r.k)})", rows=toks, cols=feats, detail=True),
                Value("wv", w["wv"], label=f"W_V ({shape_text(w['wv'])})", rows=feats, cols=feats, detail=True),
                Value("v", r.v, label=f"V ({shape_text(r.v)})", rows=toks, cols=feats, detail=True),
            ],
            worked=[
                dot_worked(ctx, f"Q[{toks[0]}, d0] = X[{toks[0]}]·W_Q[:, 0]", x[0], w["wq"][:, 0], r.q[0, 0]),
                dot_worked(ctx, f"K[{toks[0]}, d0] = X[{toks[0]}]·W_K[:, 0]", x[0], w["wk"][:, 0], r.k[0, 0]),
                dot_worked(ctx, f"V[{toks[0]}, d0] = X[{toks[0]}]·W_V[:, 0]", x[0], w["wv"][:, 0], r.v[0, 0]),
            ],
            why=_cost_why(ctx, n, d, heads),
        )
    )

    # 2. split
    rows = []
    for i in range(heads):
        cols = head_columns(i, dh)
        span = f"{cols.start}–{cols.stop - 1}" if dh > 1 else str(cols.start)
        rows.append((f"head {i + 1}", span, f"{n}×{dh}", f"{n}×{dh}", f"{n}×{dh}"))
    first = head_columns(0, dh)
    trace.add(
        Step(
            id="split",
            title=f"Split into h = {heads} heads of d_model/h = {d}/{heads} = {dh} columns",
            formula=r"Q_i = Q[:, (i-1)d_h : i\,d_h],\quad d_h = d_{model}/h",
            formula_text="Qᵢ = columns (i−1)·d_h … i·d_h − 1 of Q (same for K, V),  d_h = d_model / h",
            values=[
                Value("split", Table(("head", "columns", "Qᵢ", "Kᵢ", "Vᵢ"), tuple(rows)), label="who gets which columns"),
                Value("q1", r.q[:, first], label=f"Q₁ ({n}×{dh})", rows=toks, cols=feats[first], detail=True),
                Value("k1", r.k[:, first], label=f"K₁ ({n}×{dh})", rows=toks, cols=feats[first], detail=True),
                Value("v1", r.v[:, first], label=f"V₁ ({n}×{dh})", rows=toks, cols=feats[first], detail=True),
            ],
            worked=[f"d_h = d_model / h = {d} / {heads} = {dh}", f"Q ({n}×{d}) → {heads} blocks of {n}×{dh}"],
            why="Each head sees only its own slice of Q, K and V, so each can learn its own notion of "
            "relevance (one may track the previous word, another the subject).",
        )
    )

    # 3. head 1 in full
    h1 = r.heads[0]
    i = n - 1  # the last token: it may attend to every token even with --causal
    j = 0
    exps = h1.exponentials([i])[0]
    scaled_i = h1.scaled(i)
    allowed_i = np.ones(n, dtype=bool) if h1.allowed is None else h1.allowed[i]
    shown = [k for k in range(n) if allowed_i[k]][:8]
    values = [
        Value("scores", h1.scores, label="Q₁·K₁ᵀ", rows=toks, cols=toks, detail=True),  # the worked lines divide it
        Value("scaled", h1.scaled(), label=f"Q₁·K₁ᵀ / √{dh}", rows=toks, cols=toks, detail=True),
    ]
    if h1.allowed is not None:
        values.append(Value("allowed", h1.allowed.astype(np.int64), label="causal mask (1 = may attend)", rows=toks, cols=toks))
    values += [
        Value("weights1", h1.weights, label="head 1 weights", rows=toks, cols=toks, heat=True),
        Value("head1", h1.output, label=f"head 1 output ({n}×{dh})", rows=toks, cols=feats[first], detail=True),
    ]
    trace.add(
        Step(
            id="head-1",
            title="Head 1, worked in full",
            formula=r"\mathrm{head}_1 = \mathrm{softmax}\!\left(\frac{Q_1 K_1^\top}{\sqrt{d_h}}"
            + (r" + M" if causal else "")
            + r"\right) V_1",
            formula_text="head₁ = softmax(Q₁·K₁ᵀ / √d_h" + (" + M" if causal else "") + ")·V₁",
            values=values,
            worked=[
                dot_worked(ctx, f"s[{toks[i]}, {toks[j]}] = Q₁[{toks[i]}]·K₁[{toks[j]}]", h1.q[i], h1.k[j], h1.scores[i, j]),
                f"{num(h1.scores[i, j])} / √{dh} = {num(h1.scores[i, j])} / {num(h1.scale)} = {num(scaled_i[j])}",
                f"row {toks[i]}: max = {num(h1.row_max[i])}; "
                + ", ".join(f"e^({num(scaled_i[k])} − {f(h1.row_max[i])}) = {num(exps[k])}" for k in shown),
                f"sum = {num(h1.row_sum[i])}; weights = "
                + ", ".join(f"{num(exps[k])}/{num(h1.row_sum[i])} = {num(h1.weights[i, k])}" for k in shown),
                dot_worked(ctx, f"head₁[{toks[i]}, {feats[0]}] = weights[{toks[i]}]·V₁[:, 0]", h1.weights[i], h1.v[:, 0], h1.output[i, 0]),
            ],
            why=f"Single-head attention on {dh} of the {d} columns: the scale is √d_h = √{dh}, the head's width.",
        )
    )

    # 4. the other heads
    if heads > 1:
        values = []
        worked = []
        for hi in range(1, heads):
            res = r.heads[hi]
            cols = head_columns(hi, dh)
            values.append(Value(f"weights{hi + 1}", res.weights, label=f"head {hi + 1} weights", rows=toks, cols=toks, heat=True))
            values.append(Value(f"head{hi + 1}", res.output, label=f"head {hi + 1} output", rows=toks, cols=feats[cols], detail=True))
            if len(worked) < 8:
                worked.append(
                    f"head {hi + 1}: {toks[i]} attends most to {_most_attended(ctx, res.weights[i], toks)}; "
                    f"in head 1 to {_most_attended(ctx, h1.weights[i], toks)}"
                )
        trace.add(
            Step(
                id="other-heads",
                title=f"Heads 2–{heads}: the same computation on their own columns" if heads > 2 else "Head 2: the same computation on its own columns",
                formula=r"\mathrm{head}_i = \mathrm{softmax}\!\left(\frac{Q_i K_i^\top}{\sqrt{d_h}}"
                + (r" + M" if causal else "")
                + r"\right) V_i",
                formula_text="headᵢ = softmax(Qᵢ·Kᵢᵀ / √d_h" + (" + M" if causal else "") + ")·Vᵢ",
                values=values,
                worked=worked,
                why="Different columns give different scores: the heads attend differently to the same tokens.",
            )
        )

    # 5. concat
    trace.add(
        Step(
            id="concat",
            title=f"Concatenate the {heads} head outputs side by side ({n}×{dh} each → {n}×{d})",
            formula=r"C = [\mathrm{head}_1 \mid \cdots \mid \mathrm{head}_h]",
            formula_text="C = [head₁ | head₂ | … | headₕ]",
            values=[Value("concat", r.concat, label=f"C ({shape_text(r.concat)})", rows=toks, cols=feats, detail=True)],
            worked=[
                f"C[{toks[0]}] = "
                + " | ".join("[" + ", ".join(num(v) for v in r.heads[hi].output[0][:4]) + (", …" if dh > 4 else "") + "]" for hi in range(min(heads, 4)))
                + (" | …" if heads > 4 else "")
            ],
            why="Side by side the heads fill d_model columns again, so the output can be added to the input.",
        )
    )

    # 6. output projection
    trace.add(
        Step(
            id="output",
            title="Mix the heads with the output projection W_O",
            formula=r"\mathrm{MHA}(X) = C\, W_O",
            formula_text="MHA(X) = C·W_O",
            values=[
                Value("wo", w["wo"], label=f"W_O ({shape_text(w['wo'])})", rows=feats, cols=feats),
                Value("output", r.output, label=f"MHA(X) = C·W_O ({shape_text(r.output)})", rows=toks, cols=feats),
            ],
            worked=[dot_worked(ctx, f"out[{toks[0]}, d0] = C[{toks[0]}]·W_O[:, 0]", r.concat[0], w["wo"][:, 0], r.output[0, 0])],
            why="Each head wrote its own columns; W_O lets every output column combine what all heads found.",
        )
    )
    trace.outputs = {
        "weights": r.weights,
        "heads": r.head_outputs,
        "concat": r.concat,
        "output": r.output,
    }
    trace.result = answer(trace, "output.output")
    return trace


def _cost_why(ctx: Context, n: int, d: int, heads: int) -> str:
    """What splitting into heads costs and what it does not, in this run's sizes."""
    num = ctx.n
    c = head_costs(n, d, heads)
    dh = d // heads
    if heads == 1:
        return (
            f"The projections are done once, at full width d_model: four {d}×{d} weight matrices, "
            f"{c.weights} numbers. With h = 1 the single head uses every column."
        )
    return (
        "Projected once at full width, then split by columns: h heads cost what one wide head costs in "
        f"parameters (four {d}×{d} weight matrices, {num(c.weights)} numbers, whatever h) and in "
        f"multiply-adds (h × n² × d_h = {heads}×{n}²×{dh} = {num(c.score_mults)}, as one head of width {d} "
        f"would: {n}²×{d}). Only the attention weights grow: h matrices of n × n, "
        f"{heads}×{n}² = {num(c.attention_numbers)} numbers against {num(c.one_head_attention_numbers)} "
        "for one head."
    )


def _most_attended(ctx: Context, row: np.ndarray, toks: tuple[str, ...]) -> str:
    """The token(s) with the largest weight in a row, ties named together: 'cat and sat (0.4011 each)'."""
    top = float(np.max(row))
    tied = [t for t, w in zip(toks, row, strict=True) if np.isclose(w, top, rtol=1e-12, atol=0.0)]
    if len(tied) == 1:
        return f"{tied[0]} ({ctx.n(top)})"
    names = ", ".join(tied[:-1]) + f" and {tied[-1]}"
    return f"{names} ({ctx.n(top)} each)"


def script(trace: Trace) -> str:
    """Multi-head attention as NumPy source (``--format py``): one attention per block of columns."""
    from nntutor.walkthroughs._script import SOFTMAX_ROWS, heading, mask_source

    return "\n".join([
        SOFTMAX_ROWS,
        "",
        "",
        heading(trace, "projections"),
        "q, k, v = x @ wq, x @ wk, x @ wv",
        "",
        heading(trace, "split"),
        "d_h = x.shape[1] // heads  # columns per head",
        *mask_source(trace.inputs["causal"], trace.inputs.get("padding")),
        "",
        heading(trace, "head-1"),
        "head_weights, head_outputs = [], []",
        "for i in range(heads):",
        "    columns = slice(i * d_h, (i + 1) * d_h)",
        "    scores = q[:, columns] @ k[:, columns].T / math.sqrt(d_h)",
        "    head_weights.append(softmax_rows(scores, allowed))",
        "    head_outputs.append(head_weights[-1] @ v[:, columns])",
        "weights = np.stack(head_weights)  # one n×n matrix per head",
        "heads = np.stack(head_outputs)",
        "",
        heading(trace, "concat"),
        "concat = np.concatenate(head_outputs, axis=1)",
        "",
        heading(trace, "output"),
        "output = concat @ wo",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "x": Input("matrix"),
        "tokens": Input("labels"),
        "heads": Input("integer", minimum=1),
        "wq": Input("matrix"),
        "wk": Input("matrix"),
        "wv": Input("matrix"),
        "wo": Input("matrix"),
        "seed": Input("integer", minimum=0),
        "causal": Input("flag"),
        "seq-len": Input("integer", minimum=1),
        "d-model": Input("integer", minimum=1),
    },
    targets=(
        Target("projections", "q", uses=("x", "wq"), symbol="Q"),
        Target("projections", "k", uses=("x", "wk"), symbol="K"),
        Target("projections", "v", uses=("x", "wv"), symbol="V"),
        Target("split", "q1", uses=("projections.q", "heads"), symbol="Q₁"),
        Target("head-1", "scores", uses=("split.q1", "split.k1"), symbol="Q₁·K₁ᵀ"),
        Target("head-1", "scaled", uses=("head-1.scores", "heads"), symbol="Q₁·K₁ᵀ/√d_h"),
        Target("head-1", "weights1", uses=("head-1.scaled",), symbol="A₁"),
        Target("head-1", "head1", uses=("head-1.weights1", "split.v1"), symbol="head₁"),
        Target("other-heads", "weights2", uses=("projections.q", "projections.k", "heads"), symbol="A₂"),
        Target("concat", "concat", uses=("head-1.head1", "other-heads.head2"), symbol="C"),
        Target("output", "output", uses=("concat.concat", "wo"), symbol="MHA(X)"),
    ),
    script=script,
)
