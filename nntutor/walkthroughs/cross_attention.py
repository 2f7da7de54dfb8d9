"""The cross-attention lesson: encoder–decoder attention, queries from the target, keys and values from the source.

Default run: the decoder has the target tokens <s>, The, cat so far (X, 3×4), the
encoder the source tokens Le, chat (M, 2×4); the projections take both to d_k = d_v = 2.
Q = X·W_Q gives <s> the query [0.7, 0.5]; K = M·W_K gives Le the key [2, 0] and chat
[0, 2]. The 3×2 scores have no causal mask: S[<s>, chat] = 0.7×0 + 0.5×2 = 1 and
S[<s>, Le] = 1.4; after ÷√2 and a softmax along the row, <s> puts 0.5702 of its
attention on Le and 0.4298 on chat.

>>> from nntutor.catalog.lessonfile import load_lesson
>>> from nntutor.catalog.run import run_lesson
>>> trace = run_lesson(load_lesson("cross-attention"))
>>> trace.outputs["scores"].tolist()
[[1.4, 1.0], [2.5, 0.0], [0.0, 3.0]]
>>> [round(float(w), 4) for w in trace.outputs["weights"][0]]
[0.5702, 0.4298]
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from nntutor.core.attention import attend
from nntutor.core.cross_attention import (
    cross_attention,
    estimate_bytes,
    mask_patterns,
)
from nntutor.core.softmax import softmax
from nntutor.errors import InputError
from nntutor.numfmt import human_bytes
from nntutor.trace import Deferred, Step, Table, Trace, Value
from nntutor.walkthroughs._common import (
    Context,
    Size,
    answer,
    dot_worked,
    index_labels,
    mismatch,
    shape_words,
    sum_worked,
)
from nntutor.walkthroughs._declare import Args, Input, Mistake, Target, Walkthrough
from nntutor.walkthroughs._transformer import MAX_BYTES, feature_labels, random_matrix, refuse_with
from nntutor.walkthroughs.attention import scale_step

TYPED = ("x", "memory", "wq", "wk", "wv")  # what --seed draws instead
SIZES = ("target-len", "source-len", "d-model")
MAX_SHOWN_TERMS = 6  # terms written out in a worked sum before "…"
MAX_SHOWN_WEIGHTS = 9  # a projection with at most this many numbers is written out in its step
SIDE_BY_SIDE_WIDTH = 80  # the three masks in one table up to this width, else one after another

# Which attentions each architecture has (encoder self-attention is full, decoder
# self-attention causal, cross-attention a full target × source rectangle).
MODELS = (
    ("BERT", "encoder-only", "yes", "–", "–"),
    ("GPT", "decoder-only", "–", "yes", "–"),
    ("T5", "encoder–decoder", "yes", "yes", "yes"),
)


class Inputs(NamedTuple):
    """Checked inputs: decoder states X and encoder states M with their labels, the projections, options."""

    x: np.ndarray  # n_t × d_dec, one row per target token so far
    memory: np.ndarray  # n_s × d_enc, one row per source token
    target: tuple[str, ...]  # one label per row of X
    source: tuple[str, ...]  # one label per row of M
    wq: np.ndarray  # d_dec × d_k
    wk: np.ndarray  # d_enc × d_k
    wv: np.ndarray  # d_enc × d_v
    scale: bool  # divide by √d_k
    padding: np.ndarray | None  # one 0/1 per source token, or None
    drawn: dict[str, int]  # the seed and sizes when X, M and the projections were drawn, else empty


# --------------------------------------------------------------------------- check


def _sizes(args: Args) -> tuple[int, int, int]:
    """n_t, n_s and d_model of a random draw (each defaults to the size of the default inputs)."""
    defaults = (args["x"].shape[0], args["memory"].shape[0], args["x"].shape[1])
    return tuple(args[name] if args[name] is not None else default for name, default in zip(SIZES, defaults, strict=True))


def _check_size(flag: str, n_t: int, n_s: int, d_dec: int, d_enc: int, d_k: int, d_v: int, widths: str) -> None:
    """Refuse, before anything is allocated, a run that would need more than 256 MB (naming its biggest part).

    Within that limit a run takes at most about a second here: its multiply-adds, n_t·n_s·(d_k + d_v)
    for the attention and (n_t·d_dec + n_s·d_enc)·d for the projections, stay below a few billion.
    """
    need = estimate_bytes(n_t, n_s, d_dec, d_enc, d_k, d_v)
    if need.total <= MAX_BYTES:
        return
    parts = (
        (need.matrices, f"the {n_t}×{n_s} scores, weights and masks take"),
        (need.vectors, "the token vectors X, M, Q, K, V and the output take"),
        (need.weights, "W_Q, W_K and W_V take"),
    )
    size, what = max(parts)
    raise InputError(
        flag,
        f"{n_t} target × {n_s} source tokens ({widths}) need ~{human_bytes(need.total)} ({what} "
        f"{human_bytes(size)}); at most {human_bytes(MAX_BYTES)} is allowed",
    )


def _blamed_size(given, sizes: tuple[int, int, int]) -> str:
    """The size flag the learner typed that costs the most memory (--seed when none was typed)."""
    typed = [k for k, name in enumerate(SIZES) if name in given]
    if not typed:
        return "--seed"

    def without(k: int) -> int:  # the estimate with that size set to 1
        n_t, n_s, d = (1 if m == k else v for m, v in enumerate(sizes))
        return estimate_bytes(n_t, n_s, d, d, d, d).total

    return f"--{SIZES[min(typed, key=without)]}"


def _drawn(args: Args) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """X, M, W_Q, W_K, W_V drawn from --seed (0 by default) at --target-len × --source-len × --d-model."""
    given = args.given
    asked = [name for name in ("seed", *SIZES) if name in given]
    for name in TYPED:
        if name in given:
            raise refuse_with(f"--{name}", f"--{asked[0]}", "--seed and the sizes draw X, M, W_Q, W_K and W_V at random; drop one of the two")
    n_t, n_s, d = _sizes(args)
    _check_size(_blamed_size(given, (n_t, n_s, d)), n_t, n_s, d, d, d, d, f"d_model = {d}")
    seed = args["seed"] if args["seed"] is not None else 0
    rng = np.random.default_rng(seed)
    arrays = {"x": random_matrix(rng, (n_t, d)), "memory": random_matrix(rng, (n_s, d))}
    for name in ("wq", "wk", "wv"):
        arrays[name] = random_matrix(rng, (d, d), 1.0 / math.sqrt(d))
    drawn = {"seed": seed, "target-len": n_t, "source-len": n_s, "d-model": d}
    return arrays, drawn


def _check_shapes(args: Args, a: dict[str, np.ndarray]) -> None:
    """W_Q fits X, W_K and W_V fit M, and queries and keys have the same width d_k."""
    given = args.given
    x, memory, wq, wk, wv = (a[name] for name in TYPED)
    if wq.shape[0] != x.shape[1]:
        raise mismatch(
            given, Size("wq", wq.shape[0], "rows", shape_words(wq)), Size("x", x.shape[1], "columns", shape_words(x)),
            why="one row of W_Q per column of X",
        )
    stale = [f"--{name}" for name in ("wk", "wv") if name not in given and a[name].shape[0] != memory.shape[1]]
    for name in ("wk", "wv"):
        w = a[name]
        if w.shape[0] != memory.shape[1]:
            raise mismatch(
                given, Size(name, w.shape[0], "rows", shape_words(w)), Size("memory", memory.shape[1], "columns", shape_words(memory)),
                why=f"one row of W_{name[1].upper()} per column of M",
                fix="pass --wk and --wv too" if len(stale) == 2 else "",
            )
    if wk.shape[1] != wq.shape[1]:
        raise mismatch(
            given, Size("wk", wk.shape[1], "columns", shape_words(wk)), Size("wq", wq.shape[1], "columns", shape_words(wq)),
            why="queries and keys need the same width d_k",
        )


def _labels(args: Args, name: str, rows: int, against: Size, prefix: str) -> tuple[str, ...]:
    """One label per row: the typed ones (refused when they do not fit), else the defaults when they fit, else indices."""
    labels = args[name]
    if name not in args.given:
        return tuple(labels) if labels is not None and len(labels) == rows and against.name not in SIZES else index_labels(rows, prefix)
    if len(labels) != rows:
        raise mismatch(args.given, Size(name, len(labels), "names"), against, why=f"one name per {name} token")
    return tuple(labels)


def _padding(args: Args, n_s: int, against: Size) -> np.ndarray | None:
    padding = args["padding"]
    if padding is None:
        return None
    if padding.size != n_s:
        raise mismatch(args.given, Size("padding", padding.size, "numbers"), against, why="one 0/1 per source token")
    if not np.all((padding == 0) | (padding == 1)):
        raise InputError("--padding", "expected only 0 (padding, hidden) and 1 (a real source token) values")
    return padding.ravel()


def check(args: Args) -> Inputs:
    """Typed or drawn arrays, shapes that chain, sizes that fit, one label per token, one padding entry per source token."""
    given = args.given
    if any(name in given for name in ("seed", *SIZES)):
        arrays, drawn = _drawn(args)
        n_t, n_s = arrays["x"].shape[0], arrays["memory"].shape[0]
        against_x, against_m = Size("target-len", n_t, "tokens"), Size("source-len", n_s, "tokens")
    else:
        arrays, drawn = {name: args[name] for name in TYPED}, {}
        x, memory = arrays["x"], arrays["memory"]
        flag = "--memory" if "memory" in given and ("x" not in given or memory.shape[0] >= x.shape[0]) else "--x"
        wq, wv = arrays["wq"], arrays["wv"]
        widths = f"X {shape_words(x)}, M {shape_words(memory)}, d_k = {wq.shape[1]}, d_v = {wv.shape[1]}"
        _check_size(flag, x.shape[0], memory.shape[0], x.shape[1], memory.shape[1], wq.shape[1], wv.shape[1], widths)
        _check_shapes(args, arrays)
        n_t, n_s = x.shape[0], memory.shape[0]
        against_x = Size("x", n_t, "rows", shape_words(x))
        against_m = Size("memory", n_s, "rows", shape_words(memory))
    target = _labels(args, "target", n_t, against_x, "t")
    source = _labels(args, "source", n_s, against_m, "s")
    padding = _padding(args, n_s, against_m)
    return Inputs(
        arrays["x"], arrays["memory"], target, source, arrays["wq"], arrays["wk"], arrays["wv"],
        not bool(args["no-scale"]), padding, drawn,
    )


# --------------------------------------------------------------------------- build


def _worked_column(inputs: Inputs, allowed: np.ndarray | None) -> int:
    """The source token worked in full for the first target token: the last one it may see."""
    n_s = inputs.memory.shape[0]
    if allowed is None or not allowed[0].any():
        return n_s - 1
    return int(np.flatnonzero(allowed[0])[-1])


def _weights_shown(ctx: Context, *named: tuple[str, np.ndarray]) -> list[str]:
    """``W_K rows: (1, 0), (0, 1), (1, 1), (1, -1)`` for small projections (on one line when they fit), none for big ones."""
    parts = [
        f"{name} rows: " + ", ".join("(" + ", ".join(ctx.n(v) for v in row) + ")" for row in w)
        for name, w in named
        if w.size <= MAX_SHOWN_WEIGHTS
    ]
    line = ";  ".join(parts)
    return ([line] if len(line) <= 78 else parts) if parts else []


def _terms(ctx: Context, weights: np.ndarray, column: np.ndarray) -> str:
    """``0.5702×1.75 + 0.4298×(-0.25)`` (the first terms only past MAX_SHOWN_TERMS)."""
    shown = min(len(weights), MAX_SHOWN_TERMS)
    text = " + ".join(f"{ctx.f(weights[c])}×{ctx.f(column[c])}" for c in range(shown))
    return text + (f" + … ({len(weights) - shown} more)" if len(weights) > shown else "")


def _side_by_side(masks, tgt: tuple[str, ...], src: tuple[str, ...]) -> Table | None:
    """The three masks in one table, each after a column of its row labels (None when too wide for 80 columns)."""
    groups = (("encoder", src, src, masks.encoder), ("decoder", tgt, tgt, masks.decoder), ("cross", tgt, src, masks.cross))
    columns: list[str] = []
    width = 2 - 3  # the indent, and no gap after the last column
    for name, labels, cols, _ in groups:
        columns += [name, *cols]
        width += max(len(name), *(len(label) for label in labels)) + 3 + sum(len(c) + 3 for c in cols)
    if width > SIDE_BY_SIDE_WIDTH:
        return None
    rows = []
    for r in range(max(len(tgt), len(src))):
        row: list[Any] = []
        for _, labels, cols, mask in groups:
            row += [labels[r], *(int(v) for v in mask[r])] if r < len(labels) else [""] * (1 + len(cols))
        rows.append(tuple(row))
    return Table(tuple(columns), tuple(rows))


def build(ctx: Context, inputs: Inputs) -> Trace:
    x, memory, wq, wk, wv, padding = inputs.x, inputs.memory, inputs.wq, inputs.wk, inputs.wv, inputs.padding
    tgt, src = inputs.target, inputs.source
    n_t, n_s = x.shape[0], memory.shape[0]
    r = cross_attention(x, memory, wq, wk, wv, scale=inputs.scale, key_padding=padding)
    d_k, d_v = r.q.shape[1], r.v.shape[1]
    num, f = ctx.n, ctx.f
    i = 0  # the first target token, worked in full
    j = _worked_column(inputs, r.allowed)
    ti, sj = tgt[i], src[j]
    c = int(np.argmax(np.abs(r.k[j])))  # the key entry worked in full: the largest in size (not a 0)

    recorded: dict[str, Any] = {
        "x": x, "memory": memory, "target": list(tgt), "source": list(src), "wq": wq, "wk": wk, "wv": wv,
        "scale": inputs.scale,
    }
    if padding is not None:
        recorded["padding"] = padding
    recorded.update(inputs.drawn)
    trace = ctx.new_trace(recorded)

    trace.add(
        Step(
            id="queries",
            title="Queries from the decoder: one per target token",
            formula=r"Q = X W_Q",
            formula_text=f"Q = X·W_Q   ({n_t}×{x.shape[1]} · {wq.shape[0]}×{d_k} = {n_t}×{d_k})",
            values=[
                Value("x", x, label="decoder states X (target tokens so far)", rows=tgt, cols=feature_labels(x.shape[1])),
                Value("queries", r.q, label="queries Q = X·W_Q", rows=tgt, cols=feature_labels(d_k)),
            ],
            worked=[*_weights_shown(ctx, ("W_Q", wq)), dot_worked(ctx, f"Q[{ti}, d0] = X[{ti}]·W_Q[:, 0]", x[i], wq[:, 0], r.q[i, 0])],
            why="Queries come from the text being written: what each target token needs.",
        )
    )
    trace.add(
        Step(
            id="keys-values",
            title="Keys and values from the encoder: one per source token",
            formula=r"K = M W_K,\quad V = M W_V",
            formula_text=f"K = M·W_K,  V = M·W_V   (M is {n_s}×{memory.shape[1]}: K is {n_s}×{d_k}, V is {n_s}×{d_v})",
            values=[
                Value("memory", memory, label="encoder states M (source tokens)", rows=src, cols=feature_labels(memory.shape[1])),
                Value("keys", r.k, label="keys K = M·W_K", rows=src, cols=feature_labels(d_k), detail=True),
                Value("values", r.v, label="values V = M·W_V", rows=src, cols=feature_labels(d_v), detail=True),
                Value("kv", np.hstack([r.k, r.v]), label="keys K = M·W_K | values V = M·W_V, side by side", rows=src,
                      cols=(*(f"k{c}" for c in range(d_k)), *(f"v{c}" for c in range(d_v)))),
            ],
            worked=[
                *_weights_shown(ctx, ("W_K", wk), ("W_V", wv)),
                dot_worked(ctx, f"K[{sj}, d{c}] = M[{sj}]·W_K[:, {c}]", memory[j], wk[:, c], r.k[j, c]),
                dot_worked(ctx, f"V[{sj}, d0] = M[{sj}]·W_V[:, 0]", memory[j], wv[:, 0], r.v[j, 0]),
            ],
            why="The source is what is looked up: encoded once, read at every decoding step.",
        )
    )
    trace.add(
        Step(
            id="scores",
            title=f"Score each target token against each source token ({n_t}×{n_s})",
            formula=r"S = Q K^\top \in \mathbb{R}^{n_t \times n_s},\quad S_{ij} = \mathbf{q}_i \cdot \mathbf{k}_j",
            formula_text=f"S = Q·Kᵀ,  Sᵢⱼ = qᵢ·kⱼ   ({n_t} target rows × {n_s} source columns)",
            values=[
                Value("scores", r.scores, label="raw scores Q·Kᵀ (rows: target, columns: source)", rows=tgt, cols=src),
            ],
            worked=[dot_worked(ctx, f"S[{ti}, {sj}] = Q[{ti}]·K[{sj}]", r.q[i], r.k[j], r.scores[i, j])],
            why="Target × source, no causal mask: the whole source is known before decoding.",
        )
    )
    scaled = Deferred((n_t, n_s), r.scaled)
    trace.add(scale_step(ctx, r, scaled, (i, j), f"{ti}, {sj}", d_k, inputs.scale, tgt, src))
    if r.allowed is not None:
        hidden = [src[c] for c in np.flatnonzero(~r.allowed[0])]
        step = Step(
            id="mask",
            title="Hide the padded source tokens",
            formula=r"S'_{ij} = -\infty \text{ where source token } j \text{ is padding}",
            formula_text="S′ᵢⱼ = −∞ where source token j is padding (--padding 0)",
            values=[Value("masked", Deferred((n_t, n_s), r.masked), label="scores after masking", rows=tgt, cols=src)],
            worked=[f"hidden from every target token: {', '.join(hidden[:8])}{', …' if len(hidden) > 8 else ''} (set to −∞)"],
            why="Sources of different lengths are padded to one length in a batch; e^(−∞) = 0 gives the "
            "padding exactly zero weight, and the real source tokens' weights still sum to 1.",
        )
        if r.empty_rows.any():
            step.warnings.append(
                "every source token is padding: each target token's weights are set to 0 and its output to 0 "
                "(plain softmax would compute 0/0 = NaN here)"
            )
        trace.add(step)
    row = r.exponentials([i])[0]
    scaled_i = r.scaled([i])[0]
    visible = [c for c in range(n_s) if r.allowed is None or r.allowed[i, c]]
    others = [(tgt[t], r.row_sum[t]) for t in range(1, n_t)]
    softmax_worked = [
        f"row {ti}: max = {num(r.row_max[i])}; "
        + ", ".join(f"e^({num(scaled_i[c])} − {f(r.row_max[i])}) = {num(row[c])}" for c in visible[:MAX_SHOWN_TERMS])
        + (", …" if len(visible) > MAX_SHOWN_TERMS else ""),
        sum_worked(ctx, f"Σ exp (row {ti})", row[visible] if visible else row, r.row_sum[i])
        + ("   (other rows: " + ", ".join(f"{label} {num(total)}" for label, total in others[:MAX_SHOWN_TERMS])
           + (", …" if len(others) > MAX_SHOWN_TERMS else "") + ")" if others else ""),
        f"A[{ti}, {sj}] = {num(row[j])} / {num(r.row_sum[i])} = {num(r.weights[i, j])}"
        if r.row_sum[i] > 0
        else f"A[{ti}, {sj}] = 0 (every source token is padding)",
    ]
    trace.add(
        Step(
            id="softmax",
            title="Softmax along each row: over the source tokens",
            formula=r"A_{ij} = \frac{e^{S'_{ij} - \max_k S'_{ik}}}{\sum_k e^{S'_{ik} - \max_k S'_{ik}}}",
            formula_text="Aᵢⱼ = exp(S′ᵢⱼ − maxₖ S′ᵢₖ) / Σₖ exp(S′ᵢₖ − maxₖ S′ᵢₖ)",
            values=[
                Value("weights", r.weights, label="cross-attention weights A (each row sums to 1)", rows=tgt, cols=src, heat=True),
            ],
            worked=softmax_worked,
            why="Each row spreads a target token's attention over the source: a soft alignment.",
        )
    )
    trace.add(
        Step(
            id="output",
            title="Mix the source values: one output row per target token",
            formula=r"O = A V,\quad \mathbf{o}_i = \sum_j A_{ij}\,\mathbf{v}_j",
            formula_text=f"O = A·V,  oᵢ = Σⱼ Aᵢⱼ vⱼ   ({n_t}×{n_s} · {n_s}×{d_v} = {n_t}×{d_v})",
            values=[Value("output", r.output, label=f"output O ({n_t}×{d_v}, rows: target)", rows=tgt, cols=feature_labels(d_v))],
            worked=[f"O[{ti}, d0] = A[{ti}]·V[:, 0] = {_terms(ctx, r.weights[i], r.v[:, 0])} = {num(r.output[i, 0])}"],
            why="Each target token gets a weighted average of the source values.",
        )
    )
    masks = mask_patterns(n_t, n_s, padding)
    allowed_decoder = n_t * (n_t + 1) // 2
    side_by_side = _side_by_side(masks, tgt, src)
    if side_by_side is not None:
        mask_values = [Value("masks", side_by_side, label="the three masks side by side (1 = may attend)")]
    else:
        mask_values = [
            Value("encoder_mask", masks.encoder, label="encoder self-attention, source × source (1 = may attend)", rows=src, cols=src),
            Value("decoder_mask", masks.decoder, label="decoder self-attention, target × target: causal", rows=tgt, cols=tgt),
            Value("cross_mask", masks.cross, label="cross-attention, target × source: no causal mask", rows=tgt, cols=src),
        ]
    mask_values.append(
        Value("models", Table(("model", "architecture", "encoder self", "decoder self", "cross"), MODELS),
              label="which attentions each model has", detail=True)
    )
    trace.add(
        Step(
            id="masks",
            title="Three attentions, three masks",
            formula=r"\text{encoder: } n_s \times n_s \text{, full};\quad \text{decoder: } n_t \times n_t"
            r"\text{, causal};\quad \text{cross: } n_t \times n_s \text{, full}",
            formula_text="encoder: n_s×n_s, full;  decoder: n_t×n_t, causal;  cross: n_t×n_s, full",
            values=mask_values,
            worked=[
                f"pairs allowed: encoder {int(masks.encoder.sum()):,} of {n_s}×{n_s}; decoder "
                f"{n_t}×{n_t + 1}/2 = {allowed_decoder:,} of {n_t}×{n_t}; cross {int(masks.cross.sum()):,} of {n_t}×{n_s}",
            ],
            why="BERT has only the first, GPT the second, encoder–decoder models (T5) all three.",
        )
    )
    trace.outputs = {"scores": r.scores, "weights": r.weights, "output": r.output}
    trace.result = answer(trace, "softmax.weights", "output.output")
    return trace


# --------------------------------------------------------------------------- known mistakes


def _causal_cross(case) -> float | None:
    """A causal mask on the cross-attention scores: target token i sees only source tokens 0..i."""
    inputs = case.inputs
    q, k, v = inputs.x @ inputs.wq, inputs.memory @ inputs.wk, inputs.memory @ inputs.wv
    wrong = attend(q, k, v, causal=True, scale=inputs.scale, key_padding=inputs.padding)
    value = wrong.weights if case.value == "weights" else wrong.output
    asked = case.element()
    found = float(value[case.index])
    return None if asked is None or math.isclose(found, asked, rel_tol=1e-12, abs_tol=0.0) else found


def _no_scale(case) -> float | None:
    if not case.inputs.scale:
        return None
    return case.element(case.rerun(scale=False))


def _column_softmax(case) -> float | None:
    """The softmax taken down each column (over the target tokens) instead of along each row."""
    if case.inputs.padding is not None:
        return None
    scaled = np.asarray(case.trace.step("scale").value("scaled").data)
    return float(softmax(scaled, axis=0)[case.index])


def _keys_from_decoder(case) -> float | None:
    """K = X·W_K: the keys taken from the decoder states, as in self-attention."""
    inputs = case.inputs
    i, j = case.index
    if inputs.x.shape[1] != inputs.wk.shape[0] or j >= inputs.x.shape[0]:
        return None
    keys = inputs.x @ inputs.wk
    return float((inputs.x @ inputs.wq)[i] @ keys[j])


def script(trace: Trace) -> str:
    """Cross-attention as NumPy source (``--format py``): decoder queries against encoder keys."""
    from nntutor.walkthroughs._script import SOFTMAX_ROWS, has_step, heading

    padding = trace.inputs.get("padding")
    return "\n".join([
        SOFTMAX_ROWS,
        "",
        "",
        heading(trace, "queries"),
        "q = x @ wq  # from the decoder",
        "",
        heading(trace, "keys-values"),
        "k, v = memory @ wk, memory @ wv  # from the encoder",
        "",
        heading(trace, "scores"),
        "scores = q @ k.T  # target rows × source columns",
        "",
        heading(trace, "scale"),
        "scaled = scores / math.sqrt(k.shape[1])" if trace.inputs["scale"] else "scaled = scores  # --no-scale",
        *(["", heading(trace, "mask")] if has_step(trace, "mask") else []),
        ("keep = np.asarray(padding) != 0  # padded source tokens are hidden\n"
         "allowed = np.broadcast_to(keep[None, :], scores.shape)"
         if padding is not None else "allowed = None  # every target token sees every source token"),
        "",
        heading(trace, "softmax"),
        "weights = softmax_rows(scaled, allowed)",
        "",
        heading(trace, "output"),
        "output = weights @ v",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "x": Input("matrix"),
        "target": Input("labels"),
        "memory": Input("matrix"),
        "source": Input("labels"),
        "wq": Input("matrix"),
        "wk": Input("matrix"),
        "wv": Input("matrix"),
        "padding": Input("vector"),
        "no-scale": Input("flag"),
        "seed": Input("integer", minimum=0),
        "target-len": Input("integer", minimum=1),
        "source-len": Input("integer", minimum=1),
        "d-model": Input("integer", minimum=1),
    },
    targets=(
        Target("queries", "queries"),
        Target("keys-values", "keys"),
        Target("keys-values", "values"),
        Target("scores", "scores"),
        Target("scale", "scaled"),
        Target("softmax", "weights"),
        Target("output", "output"),
    ),
    mistakes=(
        Mistake(
            "causal-cross", "put a causal mask on cross-attention (target token i seeing only source tokens 0..i)",
            _causal_cross, values=("weights", "output"),
        ),
        Mistake("no-scale", "forgot to divide the scores by √d_k", _no_scale, values=("scaled", "weights", "output")),
        Mistake(
            "column-softmax", "took the softmax down a column (over the target tokens) instead of along a row",
            _column_softmax, values=("weights",),
        ),
        Mistake("keys-from-decoder", "took the keys from the decoder states X instead of the encoder's M", _keys_from_decoder, values=("scores",)),
    ),
    script=script,
)
