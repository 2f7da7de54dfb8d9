"""The attention lesson: single-head scaled dot-product attention, step by step.

Default X (4 tokens × 3 dims) with identity projections, so Q = K = V = X:
s[1,0] = q1·k0 = 0.5×1 + 1×0 + 0.2×0.5 = 0.6, scaled by √3.

With ``--model PATH.gguf`` (or ``--model builtin-llama``, the built-in tiny random
Llama) the same steps run on one head of a real model: Q and K (after RoPE) and V
of ``--layer``/``--head`` for the tokens of ``--text``, always causal, d_k = the
model's head size (64 for SmolLM2):

>>> from nntutor.catalog.run import run_lesson
>>> from nntutor.catalog.lessonfile import load_lesson
>>> trace = run_lesson(load_lesson("attention"), {"model": "builtin-llama", "layer": "1", "head": "3"})
>>> trace.outputs["weights"].shape, trace.inputs["key_value_head"], [s.id for s in trace.steps]
((5, 5), 1, ['projections', 'scores', 'scale', 'mask', 'softmax', 'output'])
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import numpy as np

from nntutor.core.attention import attend, attention
from nntutor.errors import InputError
from nntutor.numfmt import human_bytes
from nntutor.trace import Deferred, Step, Trace, Value
from nntutor.walkthroughs._budget import allowance
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

MAX_MEMORY_BYTES = 4 * 1024**3
DEFAULT_SEQ_LEN = 4
DEFAULT_D_MODEL = 3
BUILT_IN_LLAMA = "builtin-llama"  # --model value for the built-in tiny Llama (nntutor.models.demo)
MODEL_FLAGS = ("text", "layer", "head")  # go with --model only
HAND_FLAGS = ("x", "tokens", "wq", "wk", "wv", "padding", "seq-len", "d-model", "seed")  # clash with --model


def memory_estimate(n: int, d: int) -> int:
    """Bytes a run may need, with room to spare: six n×n float64 matrices plus the n×d ones.

    The run keeps two (S and A) and computes the scaled and masked scores and the
    exponentials again when they are shown; an export that writes them in full
    holds them too, with its own working space.
    """
    return 8 * (6 * n * n + 6 * n * d)


def check_size(flag: str, n: int, d: int) -> None:
    """Refuse, before allocating anything, a run that would exhaust memory."""
    need = memory_estimate(n, d)
    limit, why = allowance(MAX_MEMORY_BYTES)
    if need > limit:
        scores = 8 * n * n
        raise InputError(
            flag,
            f"{n} tokens × {d} dims needs ~{human_bytes(need)} (the {n}×{n} score matrix alone is "
            f"{human_bytes(scores)}); at most {human_bytes(limit)} is allowed{why}",
        )


class ModelHead(NamedTuple):
    """``--model``: a model opened (weights not yet read), the prompt tokenised, the head chosen."""

    prompt: Any  # walkthroughs._gguf.Prompt (its loaded model, text, encoding, estimate)
    layer: int
    head: int


class Inputs(NamedTuple):
    """Checked inputs: X (n × d_model), token labels, optional projections, masking and scaling.

    With ``--model`` X, the labels and the projections are placeholders (n × 0, t0…): ``model``
    says whose Q, K and V the steps use, and ``causal`` is always on.
    """

    x: np.ndarray
    tokens: tuple[str, ...]
    wq: np.ndarray | None
    wk: np.ndarray | None
    wv: np.ndarray | None
    causal: bool
    scale: bool
    padding: np.ndarray | None
    drawn: dict[str, Any]  # seed and sizes when X was drawn at random, else empty
    model: ModelHead | None = None  # with --model: the head whose Q, K, V the steps use


def resolve_x(args: Args) -> tuple[np.ndarray, dict[str, Any]]:
    """X from --x, or random from --seed/--seq-len/--d-model (rounded to 2 decimals)."""
    given = args.given
    sized = [name for name in ("seq-len", "d-model", "seed") if name in given]
    if "x" in given:
        for name in ("seq-len", "d-model"):
            if name in given:
                raise InputError(f"--{name}", "cannot be combined with --x (the sizes come from --x)")
        return args["x"], {}
    if not sized:
        return args["x"], {}
    n = args["seq-len"] if args["seq-len"] is not None else DEFAULT_SEQ_LEN
    d = args["d-model"] if args["d-model"] is not None else DEFAULT_D_MODEL
    check_size("--seq-len" if "seq-len" in given else "--d-model", n, d)
    seed = args["seed"] if args["seed"] is not None else 0
    rng = np.random.default_rng(seed)
    x = np.round(rng.uniform(-1.0, 1.0, size=(n, d)), 2)
    return x, {"seed": seed, "seq-len": n, "d-model": d}


def _check_projection(args: Args, name: str, x: np.ndarray, drawn: bool) -> None:
    """A typed projection has one row per column of X (typed, the default, or drawn)."""
    w, d = args[name], x.shape[1]
    if w is not None and w.shape[0] != d:
        if drawn:
            raise InputError(f"--{name}", f"expected {d} rows to match the {d} columns of the random X, got {w.shape[0]}")
        raise mismatch(
            args.given, Size(name, w.shape[0], "rows", shape_words(w)), Size("x", d, "columns", shape_words(x)),
            why="one row per column of X",
        )


def check_padding(padding: np.ndarray | None, n: int) -> np.ndarray | None:
    """``--padding``: one 0 (masked) or 1 (kept) per token, or none."""
    if padding is not None:
        if padding.size != n:
            raise InputError("--padding", f"expected {n} values (one per token), got {padding.size}")
        if not np.all((padding == 0) | (padding == 1)):
            raise InputError("--padding", "expected only 0 (masked) and 1 (kept) values")
    return padding


def check(args: Args) -> Inputs:
    """The flags checked together: sizes, projection shapes, one label and one padding entry per token."""
    if args.get("model") is not None or any(name in args.given for name in MODEL_FLAGS):
        return check_model(args)
    x, drawn = resolve_x(args)
    n, d = x.shape
    check_size("--x", n, d)
    wq, wk, wv = args["wq"], args["wk"], args["wv"]
    for name in ("wq", "wk", "wv"):
        _check_projection(args, name, x, bool(drawn))
    d_q = wq.shape[1] if wq is not None else d
    d_k = wk.shape[1] if wk is not None else d
    if d_q != d_k:  # a projection left out is the identity: Q = X or K = X, d columns
        raise mismatch(
            args.given,
            Size("wk", d_k, "columns", shape_words(wk) if wk is not None else "none, so K = X"),
            Size("wq", d_q, "columns", shape_words(wq) if wq is not None else "none, so Q = X"),
            why="queries and keys need the same size",
        )
    tokens = args["tokens"]
    if tokens is None or ("tokens" not in args.given and len(tokens) != n):
        tokens = tuple(f"t{i}" for i in range(n))
    if len(tokens) != n:
        raise InputError("--tokens", f"expected {n} names to match the {n} rows of --x, got {len(tokens)}")
    padding = check_padding(args["padding"], n)
    return Inputs(x, tuple(tokens), wq, wk, wv, bool(args["causal"]), not bool(args["no-scale"]), padding, drawn)


def _in_range(flag: str, value: int, count: int, what: str) -> None:
    if not 0 <= value < count:
        raise InputError(flag, f"{value} is out of range: this model has {count} {what}, numbered 0 to {count - 1}")


def check_model(args: Args) -> Inputs:
    """``--model PATH.gguf`` (or ``builtin-llama``) with ``--text``, ``--layer``, ``--head``: the model
    opened and its prompt tokenised (refusals are one line: :func:`~nntutor.walkthroughs._gguf.open_prompt`),
    the layer and head in range; the hand-typed flags refused, since the model supplies X and the projections."""
    from nntutor.walkthroughs._gguf import DEFAULT_PROMPT, open_prompt

    model = args.get("model")
    if model is None:
        flag = next(name for name in MODEL_FLAGS if name in args.given)
        raise InputError(f"--{flag}", f"goes with --model (a model's prompt, layer and head): add --model PATH.gguf "
                                      f"or --model {BUILT_IN_LLAMA}")
    for name in HAND_FLAGS:
        if name in args.given:
            raise InputError(f"--{name}", "cannot be combined with --model (the model gives X, W_Q, W_K, W_V "
                                          "and the tokens of --text)")
    path = None if str(model).strip() == BUILT_IN_LLAMA else model
    if path is not None and not os.path.exists(path):  # also a mistyped builtin-llama
        raise InputError("--model", f"{path!r} does not exist (expected a .gguf model file, or {BUILT_IN_LLAMA} "
                                    "for nntutor's tiny one; see: nntutor models)")
    text = args["text"] if args.get("text") is not None else DEFAULT_PROMPT
    prompt = open_prompt(path, text)
    config = prompt.loaded.config
    layer = config.n_layer // 2 if args.get("layer") is None else int(args["layer"])
    head = 0 if args.get("head") is None else int(args["head"])
    _in_range("--layer", layer, config.n_layer, "layers")
    _in_range("--head", head, config.n_head, "query heads")
    n = len(prompt.encoding.ids)
    empty = np.zeros((n, 0))
    tokens = tuple(f"t{i}" for i in range(n))
    return Inputs(empty, tokens, None, None, None, True, not bool(args["no-scale"]), None, {},
                  ModelHead(prompt, layer, head))


def notice(inputs: Inputs) -> str | None:
    """What a GGUF run will cost, said before the weights are read (None otherwise).

    >>> from nntutor.catalog.run import parse_args, prepare
    >>> from nntutor.catalog.lessonfile import load_lesson
    >>> lesson = load_lesson("attention")
    >>> notice(prepare(lesson, parse_args(lesson, {})).inputs) is None
    True
    """
    from nntutor.walkthroughs._gguf import notice as gguf_notice

    return gguf_notice(inputs.model.prompt) if inputs.model is not None else None


def no_script(args: Args) -> str | None:
    """Why --format py is refused: with --model the numbers come from a model's weights (None otherwise)."""
    if args.get("model") is None:
        return None
    from nntutor.walkthroughs._gguf import py_refusal

    return py_refusal("the typed matrices", "drop --model", weights="a model's")


def build(ctx: Context, inputs: Inputs) -> Trace:
    if inputs.model is not None:
        return build_model(ctx, inputs)
    x, wq, wk, wv, causal, scale, padding = (
        inputs.x, inputs.wq, inputs.wk, inputs.wv, inputs.causal, inputs.scale, inputs.padding
    )
    n, d = x.shape
    d_k = wk.shape[1] if wk is not None else d
    tokens = inputs.tokens
    random_info = inputs.drawn

    result = attention(x, wq, wk, wv, causal=causal, scale=scale, key_padding=padding)
    labels = tuple(tokens)
    n_ = ctx.n
    i = 1 if n > 1 else 0  # the query worked out in full
    j = 0

    recorded: dict[str, Any] = {"x": x, "tokens": list(labels), "causal": causal, "scale": scale}
    for name, w in (("wq", wq), ("wk", wk), ("wv", wv)):
        recorded[name] = w if w is not None else "identity"
    if padding is not None:
        recorded["padding"] = padding
    recorded.update(random_info)
    trace = ctx.new_trace(recorded)

    identity = wq is None and wk is None and wv is None
    dims = [f"d{c}" for c in range(d)]
    if identity:
        proj_values = [Value("x", x, label="X (= Q = K = V)", rows=labels, cols=tuple(dims))]
        worked = [f"W_Q = W_K = W_V = I (the {d}×{d} identity), so q{i} = x{i} = [{', '.join(n_(v) for v in x[i])}]"]
    else:
        proj_values = [
            Value("q", result.q, label="Q = X·W_Q", rows=labels),
            Value("k", result.k, label="K = X·W_K", rows=labels),
            Value("v", result.v, label="V = X·W_V", rows=labels),
        ]
        w_q = wq if wq is not None else np.eye(d)
        worked = [dot_worked(ctx, f"Q[{i},0] = x{i}·W_Q[:,0]", x[i], w_q[:, 0], result.q[i, 0])]
    trace.add(
        Step(
            id="projections",
            title="Project each token into a query, a key and a value",
            formula=r"Q = X W_Q,\quad K = X W_K,\quad V = X W_V",
            formula_text="Q = X·W_Q,  K = X·W_K,  V = X·W_V",
            values=proj_values,
            worked=worked,
            why="The query says what a token is looking for, the key what it offers to others, "
            "and the value what it passes on when attended to.",
        )
    )
    return attention_steps(ctx, trace, result, labels, d_k, causal=causal, scale=scale, padding=padding, where=(i, j))


def attention_steps(ctx: Context, trace: Trace, result, labels: tuple[str, ...], d_k: int, *, causal: bool,
                    scale: bool, padding: np.ndarray | None, where: tuple[int, int], model: bool = False) -> Trace:
    """Steps 2 on (scores, scaling, the mask, softmax, output) added to ``trace``, worked for the query
    and key ``where``; ``model`` (a model's head: d_k = 64 columns, many tokens) leaves the tables
    the worked lines spell out to --full and says what the head's output becomes."""
    n = len(labels)
    n_, f = ctx.n, ctx.f
    i, j = where
    trace.add(
        Step(
            id="scores",
            title="Score every query against every key",
            formula=r"S = Q K^\top,\quad S_{ij} = \mathbf{q}_i \cdot \mathbf{k}_j",
            formula_text="S = Q·Kᵀ,  Sᵢⱼ = qᵢ·kⱼ",
            values=[Value("scores", result.scores, label="raw scores Q·Kᵀ (rows: queries, columns: keys)", rows=labels, cols=labels,
                          key=(j,))],
            worked=[dot_worked(ctx, f"S[{i},{j}] = q{i}·k{j}", result.q[i], result.k[j], result.scores[i, j])],
            why="A dot product is large when two vectors point the same way: "
            "each row says how well one token's query matches every key.",
        )
    )
    # The scaled scores, the masked scores and the exponentials are shown but not kept: at
    # n tokens each is n×n numbers, and the rows the learner sees (or an export asks for)
    # are recomputed with the arithmetic the softmax used.
    scaled = Deferred((n, n), result.scaled)
    step = scale_step(ctx, result, scaled, (i, j), f"{i},{j}", d_k, scale, labels, labels)
    if model:  # the worked line divides one score: the table repeats the rule n × n times
        step.values[:] = [value._replace(detail=True) for value in step.values]
    trace.add(step)
    if result.allowed is not None:
        what = []
        if causal and model:
            what.append("causal, as in every decoder: always on with --model")
        elif causal:
            what.append("causal: token i may only look at tokens 0..i")
        if padding is not None:
            what.append("padding: keys marked 0 are hidden from every query")
        step = Step(
            id="mask",
            title="Mask what may not be seen",
            formula=r"S'_{ij} = -\infty \text{ where masked}",
            formula_text="S′ᵢⱼ = −∞ where masked (" + "; ".join(what) + ")",
            values=[Value("masked", Deferred((n, n), result.masked), label="scores after masking", rows=labels, cols=labels,
                          detail=model)],
            worked=[_mask_worked(ctx, result, i, labels) if not model else
                    f"row {i} ({labels[i]}) sees positions 0 to {i}; row 0 sees only itself"],
            why="e^(−∞) = 0, so a masked key gets exactly zero weight while the remaining weights still sum to 1.",
        )
        for row in np.flatnonzero(result.empty_rows):
            step.warnings.append(
                f"query {labels[row]} has every key masked: its weights are set to 0 and its output to 0 "
                "(plain softmax would compute 0/0 = NaN here)"
            )
        trace.add(step)
    exps = Deferred((n, n), result.exponentials)
    weights = result.weights
    row_terms = result.exponentials([i])[0]
    trace.add(
        Step(
            id="softmax",
            title="Softmax along each row",
            formula=r"A_{ij} = \frac{e^{S'_{ij} - \max_k S'_{ik}}}{\sum_k e^{S'_{ik} - \max_k S'_{ik}}}",
            formula_text="Aᵢⱼ = exp(S′ᵢⱼ − maxₖ S′ᵢₖ) / Σₖ exp(S′ᵢₖ − maxₖ S′ᵢₖ)",
            values=[
                Value("exp", exps, label="exp(S′ − row max)", rows=labels, cols=labels, detail=model),
                Value("row_sum", result.row_sum, label="row sums of exp" if model else "row sums of the exponentials",
                      cols=labels, detail=model),
                Value("weights", weights, label="attention weights A (each row sums to 1)", rows=labels, cols=labels, heat=True,
                      key=(j,)),  # the column the worked lines use stays when a long prompt's columns are left out
            ],
            worked=[
                f"row max for {labels[i]} = {n_(result.row_max[i])}",
                sum_worked(ctx, f"Σ exp (row {labels[i]})", row_terms, result.row_sum[i]),
                f"A[{i},{j}] = {n_(row_terms[j])} / {n_(result.row_sum[i])} = {n_(weights[i, j])}"
                if result.row_sum[i] > 0
                else f"A[{i},{j}] = 0 (every key masked)",
            ],
            why="Softmax turns each row of scores into a probability distribution over the keys: "
            "how much of its attention a query spends on each token.",
        )
    )
    d_v = result.v.shape[1]
    column = 0
    terms = " + ".join(f"{f(weights[i, c])}×{f(result.v[c, column])}" for c in range(min(n, 6)))
    if n > 6:
        terms += f" + … ({n - 6} more)"
    trace.add(
        Step(
            id="output",
            title="Mix the values with the weights",
            formula=r"\mathrm{Attention}(Q,K,V) = A V,\quad \mathbf{o}_i = \sum_j A_{ij}\,\mathbf{v}_j",
            formula_text="O = A·V,  oᵢ = Σⱼ Aᵢⱼ vⱼ",
            values=[Value("output", result.output, label=f"output O ({n}×{d_v})", rows=labels, detail=model)],
            worked=[
                *([] if model else [f"o{i} = " + " + ".join(f"{n_(weights[i, c])}·v{c}" for c in range(min(n, 6)))
                                    + (" + …" if n > 6 else "")]),
                f"O[{i},{column}] = {terms} = {n_(result.output[i, column])}",
            ],
            why="Each output row is a weighted average of the value rows: "
            "a token's new representation blends in the tokens it attends to."
            + (" In the model, W_O then mixes this head's rows with the other heads'." if model else ""),
        )
    )
    trace.outputs = {
        "q": result.q,
        "k": result.k,
        "v": result.v,
        "scores": result.scores,
        "scaled": scaled,
        "weights": weights,
        "output": result.output,
    }
    trace.result = answer(trace, "softmax.weights", "output.output")
    if model:  # the last token's rows: what the token that predicts the next one reads, and what it gets
        trace.result = [Value("weights_row", weights[-1], label=f"what {labels[-1]} reads: row {n - 1} of A", cols=labels),
                        Value("output_row", result.output[-1], label=f"this head's output for {labels[-1]} "
                              f"(row {n - 1} of O, {d_v} numbers)", cols=index_labels(d_v, ""))]
    return trace


def build_model(ctx: Context, inputs: Inputs) -> Trace:
    """The attention steps on one head of a model: its Q (after RoPE), K (after RoPE) and V for the prompt."""
    from nntutor.core import llama
    from nntutor.walkthroughs._gguf import token_text

    m = inputs.model
    loaded, encoding = m.prompt.loaded, m.prompt.encoding
    config = loaded.config
    n = len(encoding.ids)
    # The layers after the chosen one cannot change its head: the pass stops there.
    upto = config._replace(n_layer=m.layer + 1)
    out = llama.forward(upto, loaded.weights, encoding.ids, zoom=llama.Zoom(m.layer, m.head, n - 1),
                        all_logits=False, dtype=loaded.dtype)
    head = out.head
    result = attend(head.queries, head.k, head.v, causal=True, scale=inputs.scale)
    labels = tuple(token_text(loaded.tokenizer, t) for t in encoding.ids)
    d_k = config.head_dim
    kv = head.kv_head
    shared = [q for q in range(config.n_head) if llama.kv_head_of(q, config.n_head, config.n_head_kv) == kv]
    name = os.path.basename(m.prompt.path) if m.prompt.path else "the built-in tiny random Llama (untrained)"
    recorded: dict[str, Any] = {"model": m.prompt.path or BUILT_IN_LLAMA, "text": m.prompt.text, "tokens": list(labels),
                                "token_ids": [int(t) for t in encoding.ids], "layer": m.layer, "head": m.head,
                                "key_value_head": kv, "causal": True, "scale": inputs.scale}
    trace = ctx.new_trace(recorded)
    trace.narrative += (f"\n\nThe numbers below are a model's, not typed ones: {name}, layer {m.layer}, "
                        f"query head {m.head}, on the {n} tokens of --text: one row per token, row i at position i.")
    p = n - 1  # the last token: the one whose row predicts the next token
    cols = index_labels(d_k, "")
    trace.add(
        Step(
            id="projections",
            title=f"Take layer {m.layer}, head {m.head}'s queries, keys and values from the model",
            formula=r"Q = \mathrm{RoPE}(X W_Q),\quad K = \mathrm{RoPE}(X W_K),\quad V = X W_V",
            formula_text="Q = RoPE(X·W_Q),  K = RoPE(X·W_K),  V = X·W_V",
            values=[
                Value("q", result.q, label=f"Q: query head {m.head}, after RoPE ({n}×{d_k})", rows=labels, cols=cols),
                Value("k", result.k, label=f"K: key head {kv}, after RoPE ({n}×{d_k})", rows=labels, cols=cols),
                Value("v", result.v, label=f"V: value head {kv} ({n}×{d_k})", rows=labels, cols=cols, detail=True),
            ],
            worked=[
                f"X is the model's residual stream entering layer {m.layer}, after its RMSNorm ({n}×{config.d_model}); "
                f"W_Q, W_K, W_V are layer {m.layer}'s own matrices ({config.d_model}×{d_k} each: query head {m.head}'s "
                f"columns of W_Q, key/value head {kv}'s of W_K and W_V)",
                f"RoPE turned q_i and k_i by angles that grow with position i (V is not turned): pair 0 "
                f"(coordinates 0 and 1) of q{p} turns by {p} rad, ({ctx.n(head.q_raw[0])}, {ctx.n(head.q_raw[1])}) → "
                f"({ctx.n(head.q[0])}, {ctx.n(head.q[1])})",
                f"grouped-query attention: {config.n_head} query heads share {config.n_head_kv} key/value heads, so "
                f"key/value head {kv} serves query heads {', '.join(map(str, shared))}",
            ],
        )
    )
    j = int(np.argmax(result.weights[p]))  # the key the last token reads most
    return attention_steps(ctx, trace, result, labels, d_k, causal=True, scale=inputs.scale, padding=None,
                           where=(p, j), model=True)


def scale_step(ctx: Context, result, scaled: Deferred, where: tuple[int, int], named: str, d_k: int, scale: bool,
               rows: tuple[str, ...], cols: tuple[str, ...]) -> Step:
    """The ``÷√d_k`` step (or its absence with ``--no-scale``), worked for the element ``where``,
    written ``S′[named]`` (``"1,0"``, or ``"Le, chat"`` in cross-attention).

    Shared by the attention and cross-attention lessons; ``result`` is an
    :class:`~nntutor.core.attention.AttentionResult` (its ``scores``, ``scale`` and ``scaled``).
    """
    n_ = ctx.n
    i, j = where
    raw = result.scores[i, j]
    scaled_ij = result.scaled([i])[0, j]
    if scale:
        return Step(
            id="scale",
            title=f"Divide by √d_k = √{d_k}",
            formula=r"S' = \frac{Q K^\top}{\sqrt{d_k}}",
            formula_text=f"S′ = S / √d_k = S / {n_(result.scale)}",
            values=[Value("scaled", scaled, label="scaled scores", rows=rows, cols=cols)],
            worked=[f"S′[{named}] = {n_(raw)} / √{d_k} = {n_(raw)} / {n_(result.scale)} = {n_(scaled_ij)}"],
            why="A dot product of d_k random terms has variance ∝ d_k; unscaled, large scores push "
            "softmax into a near one-hot corner where gradients vanish.",
        )
    return Step(
        id="scale",
        title="No scaling (--no-scale)",
        formula=r"S' = Q K^\top",
        formula_text="S′ = S (not divided by √d_k)",
        values=[Value("scaled", scaled, label="unscaled scores", rows=rows, cols=cols)],
        worked=[f"S′[{named}] = S[{named}] = {n_(scaled_ij)} (√d_k = {n_(np.sqrt(d_k))} would divide it)"],
        why="Compare the weights below with a scaled run: unscaled scores are larger, so softmax is peakier.",
    )


def _mask_worked(ctx: Context, result, i: int, labels: tuple[str, ...]) -> str:
    allowed = result.allowed[i]
    seen = [labels[c] for c in np.flatnonzero(allowed)]
    hidden = [labels[c] for c in np.flatnonzero(~allowed)]
    text = f"query {labels[i]} sees {', '.join(seen) if seen else 'nothing'}"
    if hidden:
        text += f"; hidden: {', '.join(hidden)} (set to −∞)"
    return text


# --------------------------------------------------------------------------- known mistakes


def _no_scale(case) -> float | None:
    if not case.inputs.scale:
        return None
    return case.element(case.rerun(scale=False))


def _not_normalised(case) -> float | None:
    return case.element(step="softmax", value="exp")


# --------------------------------------------------------------------------- the asked element, worked


def _explain_scores(case) -> list[str]:
    """``S[2,3] = q2·k3 = … = 0.2913``: the dot product of the asked query and key."""
    i, j = case.index
    q, k = case.trace.outputs["q"], case.trace.outputs["k"]
    return [dot_worked(case.ctx, f"S[{i},{j}] = q{i}·k{j}", q[i], k[j], case.data("scores", "scores")[i, j])]


def _explain_scaled(case) -> list[str]:
    i, j = case.index
    n_ = case.ctx.n
    s, scaled = case.data("scores", "scores")[i, j], case.data("scale", "scaled")[i, j]
    if not case.inputs.scale:
        return [f"S′[{i},{j}] = S[{i},{j}] = {n_(scaled)} (not scaled: --no-scale)"]
    d_k = case.trace.outputs["k"].shape[1]
    return [
        dot_worked(case.ctx, f"S[{i},{j}] = q{i}·k{j}", case.trace.outputs["q"][i], case.trace.outputs["k"][j], s),
        f"S′[{i},{j}] = S[{i},{j}] / √{d_k} = {n_(s)} / {n_(np.sqrt(d_k))} = {n_(scaled)}",
    ]


def _explain_weights(case) -> list[str]:
    """The softmax of the asked row, down to the asked weight."""
    i, j = case.index
    n_ = case.ctx.n
    scores = case.data("mask", "masked") if any(s.id == "mask" for s in case.trace.steps) else case.data("scale", "scaled")
    exps, row_sum, weights = case.data("softmax", "exp"), case.data("softmax", "row_sum"), case.data("softmax", "weights")
    if not np.isfinite(scores[i, j]):
        return [f"A[{i},{j}] = 0: key {j} is masked for query {i} (e^(−∞) = 0)"]
    top = float(np.max(scores[i][np.isfinite(scores[i])]))
    return [
        f"row {i} of S′: largest value {n_(top)}",
        sum_worked(case.ctx, f"Σₖ e^(S′[{i},k] − {n_(top)})", exps[i], row_sum[i]),
        f"A[{i},{j}] = e^({n_(scores[i, j])} − {n_(top)}) / {n_(row_sum[i])} = {n_(exps[i, j])} / {n_(row_sum[i])} = {n_(weights[i, j])}",
    ]


def _explain_output(case) -> list[str]:
    i, c = case.index
    weights, v = case.data("softmax", "weights"), case.trace.outputs["v"]
    return [dot_worked(case.ctx, f"O[{i},{c}] = A[{i}]·V[:,{c}]", weights[i], v[:, c], case.data("output", "output")[i, c])]


ATTENTION_MISTAKES = (
    Mistake("no-scale", "forgot to divide the scores by √d_k", _no_scale, values=("scaled", "weights", "output")),
    Mistake("not-normalised", "did not divide by the row sum (softmax not normalised)", _not_normalised, values=("weights",)),
)


# The flags of single-head attention (the backward lesson takes them too).
INPUTS = {
    "x": Input("matrix"),
    "tokens": Input("labels"),
    "wq": Input("matrix"),
    "wk": Input("matrix"),
    "wv": Input("matrix"),
    "causal": Input("flag"),
    "no-scale": Input("flag"),
    "padding": Input("vector"),
    "seq-len": Input("integer", minimum=1),
    "d-model": Input("integer", minimum=1),
    "seed": Input("integer", minimum=0),
}


def script(trace: Trace) -> str:
    """Scaled dot-product attention as NumPy source (``--format py``); not for a model's head (:func:`no_script`)."""
    from nntutor.walkthroughs._script import SOFTMAX_ROWS, has_step, heading, mask_source

    reason = no_script(Args({"model": trace.inputs.get("model")}))
    if reason:
        raise InputError("--format", reason)

    def project(name: str, weight: str) -> str:
        if isinstance(trace.inputs[weight], str):  # "identity": no matrix given
            return f"{name} = x  # no --{weight}: the identity, so {name.upper()} = X"
        return f"{name} = x @ {weight}"

    scale = trace.inputs["scale"]
    return "\n".join([
        SOFTMAX_ROWS,
        "",
        "",
        heading(trace, "projections"),
        project("q", "wq"),
        project("k", "wk"),
        project("v", "wv"),
        "",
        heading(trace, "scores"),
        "scores = q @ k.T",
        "",
        heading(trace, "scale"),
        "scaled = scores / math.sqrt(q.shape[1])" if scale else "scaled = scores  # --no-scale: not divided",
        *(["", heading(trace, "mask")] if has_step(trace, "mask") else []),
        *mask_source(trace.inputs["causal"], trace.inputs.get("padding")),
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
        **INPUTS,
        "model": Input("path"),
        "text": Input("text"),
        "layer": Input("integer", minimum=0),
        "head": Input("integer", minimum=0),
    },
    targets=(
        Target("scores", "scores", explain=_explain_scores),
        Target("scale", "scaled", explain=_explain_scaled),
        Target("softmax", "weights", explain=_explain_weights),
        Target("output", "output", explain=_explain_output),
    ),
    mistakes=ATTENTION_MISTAKES,
    script=script,
    notice=notice,
    no_script=no_script,
    keep=("model", "text", "layer", "head"),
)
