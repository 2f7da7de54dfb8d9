"""The backprop-attention lesson: the backward pass through single-head attention.

Default run: 3 tokens (The, cat, sat), d_model = d_k = d_v = 2. For the query
'cat', q1 = [0, 1] and S[1] = q1·Kᵀ = [0, 1, 1], so A[1] = softmax([0, 1, 1]/√2)
= [0.1978, 0.4011, 0.4011]; dO[1] = [0, 1] gives dA[1] = dO[1]·Vᵀ = [0, 2, 2],
c1 = Σⱼ dA[1,j]·A[1,j] = 1.6044 and ∂L/∂S′[1,0] = 0.1978×(0 − 1.6044) = −0.3173.

Inputs not typed are the lesson file's defaults, or drawn from ``--seed`` (and
the sizes ``--seq-len``/``--d-model``); a default that does not fit a typed
``--x`` is refused, naming the flag typed and what to pass too:

>>> from nntutor.catalog.lessonfile import load_lesson
>>> from nntutor.catalog.run import parse_args
>>> lesson = load_lesson("backprop-attention")
>>> check(parse_args(lesson, {"x": "1,0,0;0,1,0", "seed": "1"})).wq.shape
(3, 3)
>>> check(parse_args(lesson, {"x": "1,0,0;0,1,0"}))
Traceback (most recent call last):
  ...
nntutor.errors.InputError: --x: has 3 columns but --wq (default 2×2) has 2 rows (one row per column of X); pass --wq, --wk and --wv too, or --seed to draw them
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from nntutor.core.attention import (
    AttentionGrads,
    ProjectionGrads,
    attend_backward_from,
    attention,
    projection_backward,
)
from nntutor.errors import InputError
from nntutor.numfmt import human_bytes
from nntutor.trace import Step, Trace, Value
from nntutor.walkthroughs._budget import allowance
from nntutor.walkthroughs._common import (
    Context,
    Size,
    answer,
    dot_worked,
    index_labels,
    mismatch,
    shape_words,
)
from nntutor.walkthroughs._declare import Args, Input, Mistake, Target, Walkthrough
from nntutor.walkthroughs._transformer import random_matrix, shape_text, token_labels
from nntutor.walkthroughs.attention import INPUTS as attention_inputs
from nntutor.walkthroughs.attention import MAX_MEMORY_BYTES, check_padding

DEFAULT_SEQ_LEN = 3
DEFAULT_D_MODEL = 2


class Inputs(NamedTuple):
    """Checked inputs: X, the three projections, the upstream gradient dO, masking and scaling."""

    x: np.ndarray  # n × d_model
    tokens: tuple[str, ...]  # one label per row of X
    wq: np.ndarray  # d_model × d_k
    wk: np.ndarray  # d_model × d_k
    wv: np.ndarray  # d_model × d_v
    dout: np.ndarray  # ∂L/∂O, n × d_v
    causal: bool
    scale: bool  # divide the scores by √d_k
    padding: np.ndarray | None  # one 0/1 per token (0: a key nobody may attend to)
    drawn: dict[str, Any]  # the seed, the sizes and the names of the inputs drawn from it; empty if none


# --------------------------------------------------------------------------- check


def memory_estimate(n: int, d: int, d_k: int, d_v: int) -> int:
    """Bytes a run may need, with room to spare: ten n×n float64 matrices and the smaller ones.

    The forward keeps S and A; the backward adds dA, ∂L/∂S′ and dS; showing or
    exporting them needs working space of the same size.
    """
    return 8 * (10 * n * n + 12 * n * (d + d_k + d_v) + 8 * d * (2 * d_k + d_v))


def _check_size(flag: str, n: int, d: int, d_k: int, d_v: int) -> None:
    need = memory_estimate(n, d, d_k, d_v)
    limit, why = allowance(MAX_MEMORY_BYTES)
    if need > limit:
        if 10 * n * n >= 8 * d * (2 * d_k + d_v):
            part = f"each {n}×{n} matrix is {human_bytes(8 * n * n)}"
        else:
            part = f"each {d}×{max(d_k, d_v)} projection is {human_bytes(8 * d * max(d_k, d_v))}"
        raise InputError(
            flag,
            f"{n} tokens × {d} dims needs ~{human_bytes(need)} for the forward and backward pass "
            f"({part}); at most {human_bytes(limit)} is allowed{why}",
        )


def _listed(flags: list[str]) -> str:
    """``--wq``, ``--wq and --wk``, ``--wq, --wk and --wv``."""
    return " and ".join(flags) if len(flags) < 3 else f"{', '.join(flags[:-1])} and {flags[-1]}"


def _as_matrix(value: np.ndarray) -> np.ndarray:
    return value if value.ndim == 2 else value[None, :]


def check(args: Args) -> Inputs:
    """The flags checked together: X (typed or drawn), projection and dO shapes, labels, padding, size."""
    given = args.given
    sized = [name for name in ("seq-len", "d-model") if name in given]
    if "x" in given and sized:
        raise InputError(f"--{sized[0]}", "cannot be combined with --x (the sizes come from --x)")
    seed = args["seed"] if args["seed"] is not None else 0
    rng = np.random.default_rng(seed) if "seed" in given or sized else None
    drawn: list[str] = []

    if rng is not None and "x" not in given:
        n = args["seq-len"] if args["seq-len"] is not None else DEFAULT_SEQ_LEN
        d = args["d-model"] if args["d-model"] is not None else DEFAULT_D_MODEL
        size_flag = "--seed" if not sized else "--d-model" if "d-model" in given and d * d > n * n else f"--{sized[0]}"
        _check_size(size_flag, n, d, d, d)
        x = np.round(rng.uniform(-1.0, 1.0, size=(n, d)), 2)
        drawn.append("x")
    else:
        x = _as_matrix(args["x"])
        size_flag = "--x"
    n, d = x.shape
    # Typed projections (or dO) set d_k and d_v; drawn ones are d_model wide.
    typed = {name: _as_matrix(args[name]) for name in ("wq", "wk", "wv", "dout") if rng is None or name in given}
    d_k = next((typed[name].shape[1] for name in ("wq", "wk") if name in typed), d)
    d_v = typed["wv"].shape[1] if "wv" in typed else typed["dout"].shape[1] if "dout" in typed else d
    _check_size(size_flag, n, d, d_k, d_v)

    weights = {}
    for name, cols in (("wq", d_k), ("wk", d_k), ("wv", d_v)):
        if name not in typed:
            weights[name] = random_matrix(rng, (d, cols), 1.0 / np.sqrt(d))
            drawn.append(name)
            continue
        w = typed[name]
        if w.shape[0] != d:
            if rng is None:  # X and the projections typed or at their defaults: name the flag typed
                stale = [f"--{p}" for p in ("wq", "wk", "wv") if p not in given and typed[p].shape[0] != d]
                raise mismatch(
                    given, Size(name, w.shape[0], "rows", shape_words(w)), Size("x", d, "columns", shape_words(x)),
                    why="one row per column of X", fix=f"pass {_listed(stale)} too, or --seed to draw them",
                )
            raise InputError(f"--{name}", f"expected {d} rows to match the {d} columns of X, got {w.shape[0]}")
        if name == "wk" and w.shape[1] != d_k:
            raise mismatch(
                given, Size("wk", w.shape[1], "columns", shape_words(w)), Size("wq", d_k, "columns", shape_words(typed["wq"])),
                why="queries and keys need the same size",
            )
        weights[name] = w
    if "dout" in typed:
        dout = typed["dout"]
        if dout.shape != (n, d_v):
            if rng is None:  # dO must have the shape of O: a row per row of X, a column per column of W_V
                rows = dout.shape[0] != n
                raise mismatch(
                    given,
                    Size("dout", dout.shape[0 if rows else 1], "rows" if rows else "columns", shape_words(dout)),
                    Size("x", n, "rows", shape_words(x)) if rows else Size("wv", d_v, "columns", shape_words(weights["wv"])),
                    why="dO has the shape of O: " + ("one row per token" if rows else "one column per column of V"),
                    fix="pass --dout too, or --seed to draw it",
                )
            raise InputError(
                "--dout",
                f"expected a {n}×{d_v} matrix, the shape of O (one row per token, one column per column of V), "
                f"got {shape_text(dout)}",
            )
    else:
        dout = random_matrix(rng, (n, d_v))
        drawn.append("dout")

    tokens = token_labels(args["tokens"], n, given)
    padding = check_padding(args["padding"], n)
    record: dict[str, Any] = {}
    if drawn:
        record = {"seed": seed, "drawn": drawn, **{name: args[name] for name in sized}}
    return Inputs(
        x, tokens, weights["wq"], weights["wk"], weights["wv"], dout,
        bool(args["causal"]), not bool(args["no-scale"]), padding, record,
    )


# --------------------------------------------------------------------------- build


def build(ctx: Context, inputs: Inputs) -> Trace:
    x, wq, wk, wv, dout = inputs.x, inputs.wq, inputs.wk, inputs.wv, inputs.dout
    n, d = x.shape
    d_k, d_v = wq.shape[1], wv.shape[1]
    toks = inputs.tokens
    num, f = ctx.n, ctx.f

    fw = attention(x, wq, wk, wv, causal=inputs.causal, scale=inputs.scale, key_padding=inputs.padding)
    g = attend_backward_from(fw, dout)
    p = projection_backward(x, wq, wk, wv, g.dq, g.dk, g.dv)

    recorded: dict[str, Any] = {
        "x": x, "tokens": list(toks), "wq": wq, "wk": wk, "wv": wv, "dout": dout,
        "causal": inputs.causal, "scale": inputs.scale,
    }
    if inputs.padding is not None:
        recorded["padding"] = inputs.padding
    recorded.update(inputs.drawn)
    trace = ctx.new_trace(recorded)

    i = 1 if n > 1 else 0  # the query (row) worked out in full
    j, c = 0, 0  # the key and the column worked out in full
    dims = index_labels(d, "d")
    qcols, vcols = index_labels(d_k, "q"), index_labels(d_v, "v")
    kcols = index_labels(d_k, "k")
    a = fw.weights

    # 1. The forward values the backward pass needs.
    qkv = np.hstack([fw.q, fw.k, fw.v])
    worked = [dot_worked(ctx, f"Q[{i},0] = x{i}·W_Q[:,0]", x[i], wq[:, 0], fw.q[i, 0])]
    if inputs.scale:
        worked.append(f"S′[{i}] = q{i}·Kᵀ / √{d_k} = [{_row(ctx, fw.scores[i])}] / {num(fw.scale)} = [{_row(ctx, fw.scaled([i])[0])}]")
    else:
        worked.append(f"S′[{i}] = q{i}·Kᵀ = [{_row(ctx, fw.scores[i])}]")
    if fw.empty_rows[i]:
        worked.append(f"A[{i}] = 0: every key is masked for {toks[i]}")
    elif fw.allowed is not None and not fw.allowed[i].all():
        worked.append(f"A[{i}] = softmax([{_row(ctx, fw.masked([i])[0])}]) = [{_row(ctx, a[i])}] (masked keys: -∞)")
    else:
        worked.append(f"A[{i}] = softmax(S′[{i}]) = [{_row(ctx, a[i])}]")
    trace.add(
        Step(
            id="forward",
            title="Forward: what the backward pass reuses",
            formula=r"Q = XW_Q,\ K = XW_K,\ V = XW_V,\ A = \mathrm{softmax}\!\left("
            + (r"QK^\top/\sqrt{d_k}" if inputs.scale else r"QK^\top")
            + r"\right),\ O = AV",
            formula_text="Q = X·W_Q, K = X·W_K, V = X·W_V, A = softmax(Q·Kᵀ/√d_k), O = A·V"
            if inputs.scale
            else "Q = X·W_Q, K = X·W_K, V = X·W_V, A = softmax(Q·Kᵀ) (not scaled), O = A·V",
            values=[
                Value("x", x, label=f"X ({shape_text(x)})", rows=toks, cols=dims),
                Value("w", np.hstack([wq, wk, wv]), label="W_Q | W_K | W_V, side by side", rows=dims,
                      cols=(*qcols, *kcols, *vcols)),
                Value("qkv", qkv, label="Q | K | V, side by side", rows=toks, cols=(*qcols, *kcols, *vcols)),
                Value("A", a, label="attention weights A (rows: queries, columns: keys)", rows=toks, cols=toks),
            ],
            worked=worked,
            why="Each gradient below multiplies an upstream gradient by a value kept here."
        )
    )

    # 2. Through O = A·V.
    dv_terms = " + ".join(f"{f(a[r, j])}×{f(dout[r, c])}" for r in range(min(n, 6))) + (" + …" if n > 6 else "")
    trace.add(
        Step(
            id="values",
            title="Back through O = A·V: dV and dA",
            formula=r"dV = A^\top dO,\quad dA = dO\, V^\top",
            formula_text="dV = Aᵀ·dO,  dA = dO·Vᵀ",
            values=[
                Value("dO", dout, label=f"dO = ∂L/∂O, given ({shape_text(dout)}, the shape of O)", rows=toks, cols=vcols, detail=True),
                Value("dV", g.dv, label=f"dV = ∂L/∂V ({shape_text(g.dv)}, the shape of V)", rows=toks, cols=vcols, detail=True),
                Value("dOV", np.hstack([dout, g.dv]), label="dO = ∂L/∂O (given) | dV = ∂L/∂V, side by side (the shapes of O and V)",
                      rows=toks, cols=(*(f"dO {c}" for c in vcols), *(f"dV {c}" for c in vcols))),
                Value("dA", g.dweights, label=f"dA = ∂L/∂A ({n}×{n}, the shape of A)", rows=toks, cols=toks),
            ],
            worked=[
                f"dV[{j},{c}] = Σᵢ A[i,{j}]·dO[i,{c}] = {dv_terms} = {num(g.dv[j, c])}",
                dot_worked(ctx, f"dA[{i},{j}] = dO[{i}]·v{j}", dout[i], fw.v[j], g.dweights[i, j]),
            ],
            why="dV gathers dO's rows by A's columns; A[i,j] scales vⱼ, so dA[i,j] = dO[i]·vⱼ.",
        )
    )

    # 3. Through the softmax, row by row.
    softmax_step = Step(
        id="softmax",
        title="Back through the softmax, row by row",
        formula=r"c_i = \sum_j dA_{ij} A_{ij},\quad \frac{\partial L}{\partial S'_{ij}} = A_{ij}\,(dA_{ij} - c_i)",
        formula_text="cᵢ = Σⱼ dAᵢⱼ·Aᵢⱼ,  ∂L/∂S′ᵢⱼ = Aᵢⱼ·(dAᵢⱼ − cᵢ)",
        values=[
            Value("dS'", g.dscaled, label=f"∂L/∂S′ ({n}×{n}, the shape of S′; each row sums to 0)", rows=toks, cols=toks),
        ],
        worked=[
            f"c = rowsum(dA ⊙ A) = [{_row(ctx, g.row_dots)}], one number per query",
            _row_dot_worked(ctx, g, i),
            f"∂L/∂S′[{i},{j}] = A[{i},{j}]×(dA[{i},{j}] − c{i}) = {f(a[i, j])}×({num(g.dweights[i, j])} − "
            f"{f(g.row_dots[i])}) = {num(g.dscaled[i, j])}",
        ],
        why="Each weight depends on every score in its row (Jacobian diag(a) − a·aᵀ); applied to "
        "dA that is A ⊙ (dA − c), and a weight of 0 passes no gradient back.",
    )
    if fw.allowed is not None:
        hidden = np.argwhere(~fw.allowed)
        if hidden.size:
            r0, k0 = (int(v) for v in hidden[0])
            softmax_step.worked.append(
                f"masked: A[{r0},{k0}] = 0 ({toks[r0]} may not see {toks[k0]}), so ∂L/∂S′[{r0},{k0}] = 0; "
                "the same for every masked cell"
            )
    for r in np.flatnonzero(fw.empty_rows):
        softmax_step.warnings.append(
            f"query {toks[r]} has every key masked: its weights are 0, so its rows of ∂L/∂S′ and dQ are 0, not NaN"
        )
    trace.add(softmax_step)

    # 4. Through the ÷√d_k and S = Q·Kᵀ.
    if inputs.scale:
        title = "Back through ÷√d_k and S = Q·Kᵀ: dS, dQ, dK"
        formula = r"dS = \frac{1}{\sqrt{d_k}}\frac{\partial L}{\partial S'},\quad dQ = dS\,K,\quad dK = dS^\top Q"
        formula_text = f"dS = ∂L/∂S′ / √d_k (√{d_k} = {num(fw.scale)}),  dQ = dS·K,  dK = dSᵀ·Q"
        scale_line = f"dS[{i},{j}] = ∂L/∂S′[{i},{j}] / √{d_k} = {num(g.dscaled[i, j])} / {num(fw.scale)} = {num(g.dscores[i, j])}"
        why = "÷√d_k again; query i gathers keys by row i of dS, key j queries by column j."
    else:
        title = "Back through S = Q·Kᵀ (no ÷√d_k): dS, dQ, dK"
        formula = r"dS = \frac{\partial L}{\partial S'},\quad dQ = dS\,K,\quad dK = dS^\top Q"
        formula_text = "dS = ∂L/∂S′ (--no-scale: S′ = S),  dQ = dS·K,  dK = dSᵀ·Q"
        scale_line = f"dS[{i},{j}] = ∂L/∂S′[{i},{j}] = {num(g.dscores[i, j])} (nothing to divide by)"
        why = ("Sᵢⱼ = qᵢ·kⱼ: query i gathers the keys weighted by row i of dS, and key j the queries "
               "weighted by column j of dS (hence the transpose).")
    trace.add(
        Step(
            id="scores",
            title=title,
            formula=formula,
            formula_text=formula_text,
            values=[
                # dS is ∂L/∂S′ / √d_k (one entry worked below); dQ and dK are drawn side by side
                Value("dS", g.dscores, label=f"dS = ∂L/∂S, the raw scores Q·Kᵀ ({n}×{n})", rows=toks, cols=toks, detail=True),
                Value("dQ", g.dq, label=f"dQ = ∂L/∂Q ({shape_text(g.dq)}, the shape of Q)", rows=toks, cols=qcols, detail=True),
                Value("dK", g.dk, label=f"dK = ∂L/∂K ({shape_text(g.dk)}, the shape of K)", rows=toks, cols=kcols, detail=True),
                Value("dQK", np.hstack([g.dq, g.dk]), label="dQ | dK, side by side (the shapes of Q and K)", rows=toks,
                      cols=(*qcols, *kcols)),
            ],
            worked=[
                scale_line,
                dot_worked(ctx, f"dQ[{i},{c}] = dS[{i},:]·K[:,{c}]", g.dscores[i], fw.k[:, c], g.dq[i, c]),
                dot_worked(ctx, f"dK[{j},{c}] = dS[:,{j}]·Q[:,{c}]", g.dscores[:, j], fw.q[:, c], g.dk[j, c]),
            ],
            why=why,
        )
    )

    # 5. Through the projections, into X.
    worked = [dot_worked(ctx, f"dW_Q[0,{c}] = X[:,0]·dQ[:,{c}]", x[:, 0], g.dq[:, c], p.dwq[0, c])]
    for via, dgrad, w, part in (("Q", g.dq, wq, p.dx_q), ("K", g.dk, wk, p.dx_k), ("V", g.dv, wv, p.dx_v)):
        worked.append(dot_worked(ctx, f"dX[{i},{c}] via {via} = d{via}[{i},:]·W_{via}[{c},:]", dgrad[i], w[c], part[i, c]))
    worked.append(f"dX[{i},{c}] = {f(p.dx_q[i, c])} + {f(p.dx_k[i, c])} + {f(p.dx_v[i, c])} = {num(p.dx[i, c])}")
    trace.add(
        Step(
            id="projections",
            title="Back through the projections: dW_Q, dW_K, dW_V and dX",
            formula=r"dW_Q = X^\top dQ\ (\text{the same for } K, V),\quad dX = dQ\,W_Q^\top + dK\,W_K^\top + dV\,W_V^\top",
            formula_text="dW_Q = Xᵀ·dQ (K, V alike),  dX = dQ·W_Qᵀ + dK·W_Kᵀ + dV·W_Vᵀ",
            values=[
                Value("dW_Q", p.dwq, label=f"dW_Q ({shape_text(p.dwq)}, the shape of W_Q)", rows=dims, cols=qcols, detail=True),
                Value("dW_K", p.dwk, label=f"dW_K ({shape_text(p.dwk)}, the shape of W_K)", rows=dims, cols=kcols, detail=True),
                Value("dW_V", p.dwv, label=f"dW_V ({shape_text(p.dwv)}, the shape of W_V)", rows=dims, cols=vcols, detail=True),
                Value("dW", np.hstack([p.dwq, p.dwk, p.dwv]), label="dW_Q | dW_K | dW_V, side by side", rows=dims,
                      cols=(*qcols, *kcols, *vcols)),
                Value("dX", p.dx, label=f"dX = ∂L/∂X, the three paths added ({shape_text(p.dx)}, the shape of X)", rows=toks, cols=dims),
            ],
            worked=worked,
            why="A weight's gradient sums, over tokens, its input × its output's gradient; X feeds Q, K "
            "and V, so dX sums three paths.",
        )
    )

    for step in trace.steps:
        _note_rounding(ctx, step)
    trace.outputs = {
        "grad_v": g.dv,
        "grad_weights": g.dweights,
        "grad_scores": g.dscores,
        "grad_q": g.dq,
        "grad_k": g.dk,
        "grad_x": p.dx,
        "grad_wq": p.dwq,
        "grad_wk": p.dwk,
        "grad_wv": p.dwv,
    }
    trace.result = answer(trace, "projections.dX", "projections.dW")
    return trace


def _note_rounding(ctx: Context, step: Step) -> None:
    """Say so when shown gradients hold float64 rounding noise (1.4e-16 where the exact value is 0)."""
    names, example = [], ""
    for value in step.values:
        if value.name in ("qkv", "A", "dO"):
            continue
        data = np.asarray(value.data, dtype=np.float64)
        tiny = (data != 0) & (np.abs(data) < 1e-12 * float(np.max(np.abs(data), initial=0.0)))
        if tiny.any():
            names.append(value.label.split(" ")[0])
            example = example or ctx.n(float(data[tiny][0]))
    if names:
        step.warnings.append(
            f"{', '.join(names)}: numbers like {example} are float64 rounding noise "
            "(about 16 digits are kept); read them as 0"
        )


def _row(ctx: Context, row: np.ndarray) -> str:
    """``0, 0.7071, 0.7071`` (the first six numbers of a row)."""
    return ", ".join(ctx.n(v) for v in row[:6]) + (", …" if row.size > 6 else "")


def _row_dot_worked(ctx: Context, g: AttentionGrads, i: int) -> str:
    a, da = g.forward.weights[i], g.dweights[i]
    return dot_worked(ctx, f"c{i} = dA[{i}]·A[{i}]", da, a, g.row_dots[i])


# --------------------------------------------------------------------------- known mistakes


def _forward_and_grads(case) -> tuple[Inputs, AttentionGrads]:
    inp = case.inputs
    fw = attention(inp.x, inp.wq, inp.wk, inp.wv, causal=inp.causal, scale=inp.scale, key_padding=inp.padding)
    return inp, attend_backward_from(fw, inp.dout)


def _downstream(inp: Inputs, g: AttentionGrads, dscores: np.ndarray, dk: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The values after dS, recomputed from a (wrong) dS and optionally a (wrong) dK."""
    dq = dscores @ g.forward.k
    dk = dscores.T @ g.forward.q if dk is None else dk
    p: ProjectionGrads = projection_backward(inp.x, inp.wq, inp.wk, inp.wv, dq, dk, g.dv)
    return {"dS": dscores, "dQ": dq, "dK": dk, "dW_Q": p.dwq, "dW_K": p.dwk, "dX": p.dx}


def _pick(case, values: dict[str, np.ndarray]) -> float | None:
    data = values.get(case.value)
    return None if data is None else float(np.asarray(data)[case.index])


def _elementwise_softmax(case) -> float | None:
    """∂L/∂S′ taken as A(1 − A)·dA, the diagonal of the softmax Jacobian only."""
    inp, g = _forward_and_grads(case)
    a = g.forward.weights
    wrong = a * (1.0 - a) * g.dweights
    values = _downstream(inp, g, wrong / g.forward.scale)
    values["dS'"] = wrong
    return _pick(case, values)


def _dk_not_transposed(case) -> float | None:
    """dK = dS·Q instead of dSᵀ·Q (possible when there are as many queries as keys)."""
    inp, g = _forward_and_grads(case)
    return _pick(case, _downstream(inp, g, g.dscores, dk=g.dscores @ g.forward.q))


def _no_scale_backward(case) -> float | None:
    """The forward divided by √d_k, the backward did not: dS = ∂L/∂S′."""
    if not case.inputs.scale:
        return None
    inp, g = _forward_and_grads(case)
    return _pick(case, _downstream(inp, g, g.dscaled))


def _one_path(via: str):
    def compute(case) -> float | None:
        inp, g = _forward_and_grads(case)
        p = projection_backward(inp.x, inp.wq, inp.wk, inp.wv, g.dq, g.dk, g.dv)
        return float({"Q": p.dx_q, "K": p.dx_k, "V": p.dx_v}[via][case.index])

    return compute


MISTAKES = (
    Mistake(
        "softmax-elementwise",
        "took the softmax Jacobian as elementwise, A(1 − A)·dA, leaving out the other entries of the row",
        _elementwise_softmax,
        values=("dS'", "dS", "dQ", "dK", "dW_Q", "dW_K", "dX"),
    ),
    Mistake("dk-not-transposed", "computed dK as dS·Q instead of dSᵀ·Q", _dk_not_transposed, values=("dK", "dW_K", "dX")),
    Mistake(
        "no-scale-backward",
        "left the 1/√d_k out of the backward pass (dS = ∂L/∂S′)",
        _no_scale_backward,
        values=("dS", "dQ", "dK", "dW_Q", "dW_K", "dX"),
    ),
    *(
        Mistake(f"only-path-{via.lower()}", f"kept only the path through {via}: X feeds Q, K and V, add all three", _one_path(via), values=("dX",))
        for via in ("Q", "K", "V")
    ),
)


def _quiz_masks(rng: np.random.Generator, values: dict[str, Any]) -> dict[str, Any]:
    """Half the quiz runs are causal (their masked cells get zero gradient)."""
    return {"causal": bool(rng.integers(0, 2))}


# --------------------------------------------------------------------------- the asked element, worked


def _explain_dv(case) -> list[str]:
    j, c = case.index
    inp, g = _forward_and_grads(case)
    return [dot_worked(case.ctx, f"dV[{j},{c}] = Σᵢ A[i,{j}]·dO[i,{c}]", g.forward.weights[:, j], inp.dout[:, c], g.dv[j, c])]


def _explain_da(case) -> list[str]:
    i, j = case.index
    inp, g = _forward_and_grads(case)
    return [dot_worked(case.ctx, f"dA[{i},{j}] = dO[{i}]·v{j}", inp.dout[i], g.forward.v[j], g.dweights[i, j])]


def _explain_dscaled(case) -> list[str]:
    i, j = case.index
    n, f = case.ctx.n, case.ctx.f
    _, g = _forward_and_grads(case)
    a = g.forward.weights
    return [
        _row_dot_worked(case.ctx, g, i),
        f"∂L/∂S′[{i},{j}] = A[{i},{j}]×(dA[{i},{j}] − c{i}) = {f(a[i, j])}×({n(g.dweights[i, j])} − {f(g.row_dots[i])}) = {n(g.dscaled[i, j])}",
    ]


def _explain_dscores(case) -> list[str]:
    i, j = case.index
    n = case.ctx.n
    inp, g = _forward_and_grads(case)
    if not inp.scale:
        return [f"dS[{i},{j}] = ∂L/∂S′[{i},{j}] = {n(g.dscores[i, j])} (not scaled: nothing to divide by)"]
    d_k = inp.wq.shape[1]
    return [f"dS[{i},{j}] = ∂L/∂S′[{i},{j}] / √{d_k} = {n(g.dscaled[i, j])} / {n(g.forward.scale)} = {n(g.dscores[i, j])}"]


def _explain_dq(case) -> list[str]:
    i, c = case.index
    _, g = _forward_and_grads(case)
    return [dot_worked(case.ctx, f"dQ[{i},{c}] = dS[{i},:]·K[:,{c}]", g.dscores[i], g.forward.k[:, c], g.dq[i, c])]


def _explain_dk(case) -> list[str]:
    j, c = case.index
    _, g = _forward_and_grads(case)
    return [dot_worked(case.ctx, f"dK[{j},{c}] = dS[:,{j}]·Q[:,{c}]", g.dscores[:, j], g.forward.q[:, c], g.dk[j, c])]


def _explain_weight(which: str):
    """dW_Q[r,c] = X[:,r]·dQ[:,c] (K and V alike)."""

    def explain(case) -> list[str]:
        r, c = case.index
        inp, g = _forward_and_grads(case)
        upstream = {"Q": g.dq, "K": g.dk, "V": g.dv}[which]
        grads = projection_backward(inp.x, inp.wq, inp.wk, inp.wv, g.dq, g.dk, g.dv)
        value = {"Q": grads.dwq, "K": grads.dwk, "V": grads.dwv}[which][r, c]
        return [dot_worked(case.ctx, f"dW_{which}[{r},{c}] = X[:,{r}]·d{which}[:,{c}]", inp.x[:, r], upstream[:, c], value)]

    return explain


def _explain_dx(case) -> list[str]:
    i, c = case.index
    inp, g = _forward_and_grads(case)
    p = projection_backward(inp.x, inp.wq, inp.wk, inp.wv, g.dq, g.dk, g.dv)
    lines = [
        dot_worked(case.ctx, f"dX[{i},{c}] via {via} = d{via}[{i},:]·W_{via}[{c},:]", grad[i], w[c], part[i, c])
        for via, grad, w, part in (("Q", g.dq, inp.wq, p.dx_q), ("K", g.dk, inp.wk, p.dx_k), ("V", g.dv, inp.wv, p.dx_v))
    ]
    f = case.ctx.f
    lines.append(f"dX[{i},{c}] = {f(p.dx_q[i, c])} + {f(p.dx_k[i, c])} + {f(p.dx_v[i, c])} = {case.ctx.n(p.dx[i, c])}")
    return lines


def script(trace: Trace) -> str:
    """Attention's backward pass, stage by stage, as NumPy source (``--format py``)."""
    from nntutor.walkthroughs._script import SOFTMAX_ROWS, heading, mask_source

    scale = trace.inputs["scale"]
    return "\n".join([
        SOFTMAX_ROWS,
        "",
        "",
        heading(trace, "forward"),
        "q, k, v = x @ wq, x @ wk, x @ wv",
        "factor = math.sqrt(q.shape[1])" if scale else "factor = 1.0  # --no-scale",
        *mask_source(trace.inputs["causal"], trace.inputs.get("padding")),
        "A = softmax_rows(q @ k.T / factor, allowed)",
        "",
        heading(trace, "values"),
        "grad_v = A.T @ dout",
        "grad_weights = dout @ v.T  # dA",
        "",
        heading(trace, "softmax"),
        "c = np.sum(grad_weights * A, axis=1, keepdims=True)  # one number per row",
        "grad_scaled = A * (grad_weights - c)  # ∂L/∂S′",
        "",
        heading(trace, "scores"),
        "grad_scores = grad_scaled / factor  # dS",
        "grad_q = grad_scores @ k",
        "grad_k = grad_scores.T @ q",
        "",
        heading(trace, "projections"),
        "grad_wq, grad_wk, grad_wv = x.T @ grad_q, x.T @ grad_k, x.T @ grad_v",
        "grad_x = grad_q @ wq.T + grad_k @ wk.T + grad_v @ wv.T  # X feeds all three",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={**attention_inputs, "dout": Input("matrix")},
    targets=(
        Target("values", "dV", uses=("forward.A", "values.dO"), explain=_explain_dv),
        Target("values", "dA", uses=("values.dO", "forward.qkv"), explain=_explain_da),
        Target("softmax", "dS'", uses=("forward.A", "values.dA"), explain=_explain_dscaled, symbol="∂L/∂S′"),
        Target("scores", "dS", uses=("softmax.dS'", "scale"), explain=_explain_dscores),
        Target("scores", "dQ", uses=("scores.dS", "forward.qkv"), explain=_explain_dq),
        Target("scores", "dK", uses=("scores.dS", "forward.qkv"), explain=_explain_dk),
        Target("projections", "dW_Q", uses=("x", "scores.dQ"), explain=_explain_weight("Q")),
        Target("projections", "dW_K", uses=("x", "scores.dK"), explain=_explain_weight("K")),
        Target("projections", "dW_V", uses=("x", "values.dV"), explain=_explain_weight("V")),
        Target("projections", "dX", uses=("scores.dQ", "scores.dK", "values.dV", "wq", "wk", "wv"), explain=_explain_dx),
    ),
    mistakes=MISTAKES,
    keep=("seq-len", "d-model", "seed"),
    extra=_quiz_masks,
    script=script,
)
