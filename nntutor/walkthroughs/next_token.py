"""The next-token lesson: logits = h·W_U, temperature, top-k, top-p, the draw.

Randomness comes from ``--seed`` alone, in a fixed order: ``u`` (the uniform
number of the draw) is the first number of ``np.random.default_rng(seed)``,
floored to 4 decimals; when ``--wu`` is not given, W_U (d × V, standard normal,
rounded to 2 decimals) is drawn next from the same generator. So one seed gives
the same u whether or not W_U is typed in, and both are recorded in
``trace.inputs``.

Default run: h = [2, -1, 1.5, 0.5], vocabulary "the cat sat on a mat dog .",
seed 0, T = 1, top-p 0.9: the nucleus keeps 5 of the 8 tokens and u = 0.6369
picks "dog" (rank 2).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from nntutor.core.sampling import Filter, Sampling, sample_next, temperature_softmax
from nntutor.errors import InputError
from nntutor.trace import Step, Table, Trace, Value
from nntutor.walkthroughs._common import (
    Context,
    Size,
    dot_worked,
    index_labels,
    mismatch,
    shape_words,
    sum_worked,
)
from nntutor.walkthroughs._declare import Args, Input, Target, Walkthrough

MAX_RANDOM_WEIGHTS = 1_000_000  # d × V numbers drawn for a random W_U
TABLE_ROWS = 30  # ranked tables show at most this many rows, then "…"



def _top(values) -> tuple[int, ...]:
    """The most probable token's column: a table too wide for the terminal keeps it."""
    return (int(np.argmax(values)),)

def _random_inputs(seed: int, d: int, V: int, need_weights: bool) -> tuple[float, np.ndarray | None]:
    rng = np.random.default_rng(seed)
    u = math.floor(float(rng.random()) * 10_000) / 10_000
    if not need_weights:
        return u, None
    return u, np.round(rng.normal(size=(d, V)), 2)


class Inputs(NamedTuple):
    """Checked inputs: h, W_U (typed, drawn from the seed, or the trained model's), the token names and the sampling settings."""

    model: str  # "random" (h, W_U and the names as typed or drawn), "tiny" or a model file
    text: str  # with a trained model: the text whose last token's h is used ("" otherwise)
    about: str  # with a trained model: where it came from
    h: np.ndarray  # the final hidden vector (length d)
    W_U: np.ndarray  # the unembedding matrix, d × V: --wu, or drawn from --seed
    wu_random: bool  # whether W_U was drawn from the seed (--wu not given)
    vocab: tuple[str, ...]  # one distinct name per column of W_U
    temperature: float  # T > 0
    top_k: int | None  # keep the k most probable tokens (1 to V); None: off
    top_p: float  # nucleus threshold, 0 < p ≤ 1
    greedy: bool  # take the most probable token instead of drawing
    seed: int  # the seed u (and a random W_U) came from
    u: float  # the draw's uniform number: the seed's first number, floored to 4 decimals


HAND = ("h", "wu", "vocab")  # the inputs of the hand-made setting, --model random


def check(args: Args) -> Inputs:
    """--model tiny or PATH: h, W_U and the vocabulary from the trained model run on --text.
    --model random (or any of --h, --wu, --vocab typed): shapes of --h, --wu and --vocab checked
    together, --top-k bounded; u and a missing W_U drawn from --seed.

    >>> from nntutor.catalog.run import parse_args
    >>> from nntutor.catalog.lessonfile import load_lesson
    >>> inputs = check(parse_args(load_lesson("next-token"), {"vocab": "yes,no"}))
    >>> inputs.model, inputs.u, inputs.W_U.shape, inputs.wu_random
    ('random', 0.6369, (4, 2), True)
    >>> trained = check(parse_args(load_lesson("next-token"), {}))
    >>> trained.model, trained.h.shape, len(trained.vocab)
    ('tiny', (32,), 238)
    """
    typed = [name for name in HAND if name in args.given]
    model = args["model"].strip()
    if "model" not in args.given and typed:
        model = "random"  # h, W_U or the names typed: today's hand-made setting
    if model != "random":
        if typed:
            raise InputError(f"--{typed[0]}", f"is for --model random (--model {model} computes h, W_U and the vocabulary from --text)")
        return _check_trained(args, model)
    if "text" in args.given:
        raise InputError("--text", "needs a trained model (--model tiny or a PATH); --model random uses --h")
    _check_shapes(args)
    h, vocab, seed = args["h"], tuple(args["vocab"]), int(args["seed"])
    u, random_wu = _random_inputs(seed, h.size, len(vocab), args["wu"] is None)
    W_U = args["wu"] if args["wu"] is not None else random_wu
    return Inputs(
        model="random",
        text="",
        about="",
        h=h,
        W_U=W_U,
        wu_random=args["wu"] is None,
        vocab=vocab,
        temperature=float(args["temperature"]),
        top_k=args["top-k"],
        top_p=args["top-p"],
        greedy=bool(args["greedy"]),
        seed=seed,
        u=u,
    )


def _check_trained(args: Args, name: str) -> Inputs:
    from nntutor.walkthroughs._model import choose

    m = choose(name)
    text = args["text"]
    tokens, ids, unknown = m.encode(text)
    if not tokens:
        raise InputError("--text", 'has no words (expected some text, e.g. "the fisher sat on the")')
    if all(unknown):
        raise InputError("--text", f"{text!r} has no token the model knows (every one would be <unk>)")
    if len(tokens) > m.context:
        raise InputError("--text", f"gives {len(tokens)} tokens; the model's context is {m.context}")
    k = args["top-k"]
    if k is not None and k > len(m.vocab):
        raise InputError("--top-k", f"{k} is larger than the vocabulary (expected 1 to {len(m.vocab)})")
    seed = int(args["seed"])
    u, _ = _random_inputs(seed, 0, 0, False)
    h = m.source.forward(ids).h_last
    return Inputs(
        model=m.name, text=text, about=m.about, h=h, W_U=np.asarray(m.weights.W_U), wu_random=False,
        vocab=tuple(m.vocab), temperature=float(args["temperature"]), top_k=k, top_p=args["top-p"],
        greedy=bool(args["greedy"]), seed=seed, u=u,
    )


def _check_shapes(args: Args) -> None:
    h, wu, vocab = args["h"], args["wu"], args["vocab"]
    given = args.given
    d = h.size
    if wu is not None:
        if wu.shape[0] != d:
            raise mismatch(
                given, Size("wu", wu.shape[0], "rows", shape_words(wu)), Size("h", d, "numbers", shape_words(h)),
                why="W_U is d×V: one row per entry of h, one column per token",
            )
        V = wu.shape[1]
        if len(vocab) != V:
            raise mismatch(
                given, Size("vocab", len(vocab), "names", shape_words(vocab)), Size("wu", V, "columns", shape_words(wu)),
                why="one name per column of W_U",
            )
    else:
        V = len(vocab)
        if d * V > MAX_RANDOM_WEIGHTS:
            gigabytes = d * V * 8 / 1e9
            raise InputError(
                "--vocab",
                f"a random W_U of {d}×{V} = {d * V:,} numbers (~{gigabytes:.1f} GB) is too large; "
                f"at most {MAX_RANDOM_WEIGHTS:,} (shorten --h or --vocab)",
            )
    seen: set[str] = set()
    for name in vocab:
        if name in seen:
            raise InputError("--vocab", f"{name!r} appears twice (each token needs its own name)")
        seen.add(name)
    k = args["top-k"]
    if k is not None and k > V:
        raise InputError("--top-k", f"{k} is larger than the vocabulary (expected 1 to {V})")


def _shown_ranks(V: int, count: int) -> int:
    """How many ranked rows a table shows: all when small, else past the cut."""
    if V <= TABLE_ROWS:
        return V
    return min(V, max(count + 3, 10), TABLE_ROWS)


def _ranked_table(f: Filter, vocab, label: str, mark: str) -> Table:
    """Tokens by rank with the sum before each, the cumulative sum and the cut marked."""
    shown = _shown_ranks(f.order.size, f.count)
    rows = []
    for r in range(shown):
        token = int(f.order[r])
        before = float(f.cumulative[r - 1]) if r else 0.0
        note = mark if r == f.count - 1 else ""
        rows.append(
            (r + 1, vocab[token], float(f.sorted_probs[r]), before, float(f.cumulative[r]),
             "kept" if r < f.count else "cut", note)
        )
    if shown < f.order.size:
        rows.append(("…", f"{f.order.size - shown} more", "", "", "", "cut" if f.count <= shown else "", ""))
    return Table(("rank", "token", label, "sum before", "cumulative", "kept?", ""), tuple(rows))


def build(ctx: Context, inputs: Inputs) -> Trace:
    h, W_U, vocab = inputs.h, inputs.W_U, inputs.vocab
    T, k, p = inputs.temperature, inputs.top_k, inputs.top_p
    greedy, seed, u = inputs.greedy, inputs.seed, inputs.u
    s = sample_next(h, W_U, temperature=T, top_k=k, top_p=p, u=u, greedy=greedy)

    record: dict[str, Any] = {
        "model": inputs.model, "h": h, "wu": W_U, "vocab": list(vocab), "temperature": T, "top-k": k, "top-p": p,
        "greedy": greedy, "seed": seed, "wu_random": inputs.wu_random,
    }
    if inputs.model != "random":
        record["text"] = inputs.text
    if not greedy:
        record["u"] = u
    trace = ctx.new_trace(record)
    _logits_step(ctx, trace, s, vocab, random=inputs.wu_random, seed=seed, inputs=inputs)
    _temperature_step(ctx, trace, s, vocab)
    _top_k_step(ctx, trace, s, vocab)
    _top_p_step(ctx, trace, s, vocab)
    _renormalise_step(ctx, trace, s, vocab)
    _draw_step(ctx, trace, s, vocab, seed)
    trace.outputs = {
        "logits": s.logits,
        "probs": s.softmax.probs,
        "filtered_probs": s.filtered_probs,
        "token": vocab[s.draw.token],
        "token_id": s.draw.token,
    }
    return trace


def _logits_step(ctx: Context, trace: Trace, s: Sampling, vocab, *, random: bool, seed: int, inputs: Inputs) -> None:
    n = ctx.n
    j = int(np.argmax(s.logits))
    if inputs.model != "random":
        source = (f"h is the final vector of --model {inputs.model} ({inputs.about}) at the last token of "
                  f"{inputs.text!r}, and W_U its unembedding (see: nntutor lesson pipeline).")
    elif random:
        source = f"W_U was drawn from --seed {seed} (standard normal, rounded to 2 decimals); give --wu to type your own."
    else:
        source = "W_U as given with --wu."
    dims = index_labels(s.h.size, "h")
    trace.add(
        Step(
            id="logits",
            title="Unembed: one logit per token",
            formula=r"z_j = \mathbf{h}\cdot W_U[:, j] = \sum_i h_i \, W_{U,ij}",
            formula_text="zⱼ = h·W_U[:, j] = Σᵢ hᵢ·W_U[i, j]",
            values=[
                Value("h", s.h, label="h (final hidden vector)", cols=dims),
                Value("W_U", s.W_U, label=f"W_U ({s.h.size}×{len(vocab)})", rows=dims, cols=vocab),
                Value("logits", s.logits, label="z = h·W_U", cols=vocab, key=_top(s.logits)),
            ],
            worked=[
                dot_worked(ctx, f"z[{vocab[j]}]", s.h, s.W_U[:, j], float(s.logits[j])),
                f"{source} The largest logit is z[{vocab[j]}] = {n(s.logits[j])}.",
            ],
            why="Each column of W_U is a direction in the hidden space that stands for one token: "
            "a logit measures how far h points along it. The model's whole forward pass "
            "ends in this one matrix product.",
        )
    )


def _temperature_step(ctx: Context, trace: Trace, s: Sampling, vocab) -> None:
    n, f = ctx.n, ctx.f
    sm = s.softmax
    T = sm.temperature
    top = int(s.draw.order[0])  # the most probable token
    lo = int(np.argmin(sm.probs))
    # Work one element that is not trivially e^0: the chosen token, or the runner-up.
    ranking = np.argsort(-sm.probs, kind="stable")
    j = s.draw.token if s.draw.token != int(ranking[0]) or len(vocab) == 1 else int(ranking[1])
    worked = []
    if not s.overflow:
        worked.append(f"z[{vocab[j]}]/T = {n(s.logits[j])} / {n(T)} = {n(sm.scaled[j])}")
        worked.append(f"subtract the largest, {n(sm.maximum)}: e^({n(sm.scaled[j])} − {f(sm.maximum)}) = e^{f(sm.shifted[j])} = {n(sm.exps[j])}")
    else:
        worked.append(f"(z[{vocab[j]}] − max z)/T = ({n(s.logits[j])} − {f(np.max(s.logits))}) / {n(T)} = {n(sm.shifted[j])}")
    worked.append(sum_worked(ctx, "Σ e^(…)", sm.exps, sm.total))
    worked.append(f"p[{vocab[j]}] = {n(sm.exps[j])} / {n(sm.total)} = {n(sm.probs[j])}")
    temps = sorted({0.5, 1.0, 2.0, T})
    compare = tuple(
        (("T = " + n(t)) + (" (this run)" if t == T else ""), float(q[top]), float(q[lo]))
        for t in temps
        for q in [temperature_softmax(s.logits, t)[0].probs]
    )
    step = Step(
        id="temperature",
        title=f"Softmax at temperature T = {n(T)}",
        formula=r"p_j = \frac{e^{z_j / T}}{\sum_k e^{z_k / T}}",
        formula_text="pⱼ = e^(zⱼ/T) / Σₖ e^(zₖ/T)",
        values=[
            Value("scaled", sm.scaled, label="z / T" if not s.overflow else "(z − max z) / T", cols=vocab),
            Value("exps", sm.exps, label="e^(z/T − max)", cols=vocab),
            Value("probs", sm.probs, label="p = softmax(z / T)", cols=vocab, key=_top(sm.probs)),
            Value(
                "compare",
                Table(("temperature", f"p[{vocab[top]}] (most likely)", f"p[{vocab[lo]}] (least likely)"), compare),
                label="the same logits at other temperatures",
            ),
        ],
        worked=worked,
        why="Dividing by T before the softmax changes how peaked the distribution is without "
        "changing the ranking: T < 1 sharpens it towards the top token (T → 0 is greedy), "
        "T > 1 flattens it towards uniform. Subtracting the largest value first keeps e^x from overflowing.",
    )
    if s.overflow:
        step.warnings.append(
            f"T = {n(T)} is so small that z/T overflows float64; the T → 0 limit was used: "
            "all the probability goes to the largest logit(s)."
        )
    trace.add(step)


def _top_k_step(ctx: Context, trace: Trace, s: Sampling, vocab) -> None:
    n = ctx.n
    f = s.top_k
    V = len(vocab)
    if not f.active:
        trace.add(
            Step(
                id="top-k",
                title="Top-k filtering (off)",
                formula=r"\text{keep the } k \text{ most probable tokens}",
                formula_text="keep the k most probable tokens",
                worked=[f"--top-k not given: all {V} tokens stay."],
                why="Top-k cuts the long tail of unlikely tokens by count; try --top-k 3.",
            )
        )
        return
    removed = V - f.count
    trace.add(
        Step(
            id="top-k",
            title=f"Top-k filtering: keep the {f.count} most probable",
            formula=r"\text{keep token } j \iff \mathrm{rank}(p_j) \le k",
            formula_text="keep token j ⇔ its rank by probability ≤ k",
            values=[
                Value("ranked", _ranked_table(f, vocab, "p", f"← k = {f.count}"), label="tokens ranked by probability"),
                Value("kept_mass", f.kept_mass, label="probability kept"),
                Value("after_top_k", f.renormalised, label="renormalised after top-k", cols=vocab),
            ],
            worked=[
                f"ranks 1–{f.count} kept, {removed} cut; kept mass = {n(f.kept_mass)}",
                f"p[{vocab[int(f.order[0])]}] after top-k = {n(f.sorted_probs[0])} / {n(f.kept_mass)} = {n(f.renormalised[int(f.order[0])])}",
            ],
            why="Top-k removes the tail by count, whatever its shape: with a flat distribution it may "
            "cut plausible tokens, with a peaked one it may keep absurd ones. Equal probabilities "
            "keep vocabulary order, so exactly k tokens stay.",
        )
    )


def _top_p_step(ctx: Context, trace: Trace, s: Sampling, vocab) -> None:
    n = ctx.n
    f = s.top_p
    if not f.active:
        trace.add(
            Step(
                id="top-p",
                title="Top-p (nucleus) filtering (off)",
                formula=r"\text{keep the smallest set of top tokens with } \sum p \ge p_{\text{top}}",
                formula_text="keep the smallest set of top tokens whose probabilities sum to ≥ p",
                worked=["--top-p not given: no token is cut here."],
                why="Top-p adapts to the distribution: few tokens when it is peaked, many when it is flat.",
            )
        )
        return
    # Only tokens that top-k kept take part (the others have probability 0 here).
    mask = s.top_k.kept[f.order]
    considered = int(np.count_nonzero(mask))
    count = int(np.count_nonzero(s.kept))
    f = Filter(f.kind, f.parameter, f.probs, f.order[mask], f.sorted_probs[mask],
               f.cumulative[mask], count, s.kept, f.kept_mass, f.renormalised)
    last = count - 1
    before = float(f.cumulative[last - 1]) if last else 0.0
    worked = []
    if f.parameter >= 1.0:
        worked.append("p = 1: every token is kept.")
    else:
        worked.append(
            f"rank {count} ({vocab[int(f.order[last])]}): sum before = {n(before)} < {n(f.parameter)}, "
            f"so it is kept; cumulative = {n(f.cumulative[last])} ≥ {n(f.parameter)}, so the nucleus ends here"
        )
        if count < considered:
            worked.append(
                f"rank {count + 1} ({vocab[int(f.order[count])]}): sum before = {n(f.cumulative[last])} ≥ {n(f.parameter)}: cut"
            )
    cut = considered - count
    worked.append(f"{count} of {considered} tokens kept, {cut} cut; kept mass = {n(f.kept_mass)}")
    trace.add(
        Step(
            id="top-p",
            title=f"Top-p (nucleus) filtering: p = {n(f.parameter)}",
            formula=r"\text{keep rank } r \iff \sum_{s < r} p_{(s)} < p",
            formula_text="keep the token at rank r ⇔ the probabilities ranked above it sum to < p",
            values=[
                Value(
                    "ranked",
                    _ranked_table(f, vocab, "p" if not s.top_k.active else "p after top-k", f"← cumulative ≥ {n(f.parameter)}"),
                    label="tokens ranked by probability",
                ),
                Value("kept_mass", f.kept_mass, label="probability kept"),
            ],
            worked=worked,
            why="Top-p keeps the smallest set of most-probable tokens whose probabilities add up to "
            "at least p (the set Hugging Face's TopPLogitsWarper keeps). Unlike top-k it adapts: a "
            "confident model keeps a few tokens, an unsure one keeps many.",
        )
    )


def _renormalise_step(ctx: Context, trace: Trace, s: Sampling, vocab) -> None:
    n = ctx.n
    kept = [i for i in range(len(vocab)) if s.kept[i]]
    j = int(s.draw.order[0])
    trace.add(
        Step(
            id="renormalise",
            title=f"Renormalise the {len(kept)} kept tokens",
            formula=r"p'_j = \frac{p_j \, [j \text{ kept}]}{\sum_{k \text{ kept}} p_k}",
            formula_text="p′ⱼ = pⱼ / Σ(kept p)  for kept j, 0 for cut j",
            values=[
                Value("kept_mass", s.kept_mass, label="Σ kept p"),
                Value("filtered_probs", s.filtered_probs, label="p′ (filtered, renormalised)", cols=vocab, key=_top(s.filtered_probs)),
            ],
            worked=[
                sum_worked(ctx, "Σ kept p", s.softmax.probs[kept], s.kept_mass),
                f"p′[{vocab[j]}] = {n(s.softmax.probs[j])} / {n(s.kept_mass)} = {n(s.filtered_probs[j])}",
            ],
            why="The kept probabilities no longer add up to 1; dividing by their sum restores a "
            "distribution with the same ratios between the tokens that survived.",
        )
    )


def _draw_step(ctx: Context, trace: Trace, s: Sampling, vocab, seed: int) -> None:
    n = ctx.n
    dr = s.draw
    m = dr.order.size
    shown = m if m <= TABLE_ROWS else min(m, max(dr.position + 3, 10), TABLE_ROWS)
    rows = []
    for r in range(shown):
        mark = ""
        if r == dr.position:
            mark = "← greedy (largest p′)" if dr.greedy else f"← u = {n(dr.u)} falls here"
        rows.append((r + 1, vocab[int(dr.order[r])], float(dr.probs[r]), float(dr.lower[r]), float(dr.upper[r]), mark))
    if shown < m:
        rows.append(("…", f"{m - shown} more", "", "", "", ""))
    table = Table(("rank", "token", "p′", "from", "to", ""), tuple(rows))
    token = vocab[dr.token]
    if dr.greedy:
        worked = [f"greedy: the largest p′ is p′[{token}] = {n(dr.probs[0])}, so the next token is {token!r}"]
        step = Step(
            id="draw",
            title=f"Greedy choice: {token!r}",
            formula=r"\text{next} = \arg\max_j p'_j",
            formula_text="next = argmax p′ⱼ",
            values=[Value("cdf", table, label="kept tokens and their slices of [0, 1)"), Value("token", token)],
            worked=worked,
            why="Greedy decoding always takes the most probable token (ties: the first in the "
            "vocabulary). It is deterministic, so temperature and filtering do not change the "
            "result, but it tends to repeat itself.",
        )
    else:
        r = dr.position
        worked = [
            f"u = {n(dr.u)} (the first number of np.random.default_rng({seed}), floored to 4 decimals)",
            f"{n(dr.lower[r])} ≤ {n(dr.u)} < {n(dr.upper[r])}: u falls in the slice of rank {r + 1}, {token!r}",
        ]
        step = Step(
            id="draw",
            title=f"Draw: u = {n(dr.u)} picks {token!r}",
            formula=r"\text{next} = \text{the first ranked token with } \sum_{s \le r} p'_{(s)} > u, \quad u \sim U[0, 1)",
            formula_text="next = the first ranked token whose cumulative p′ exceeds u,  u ~ U[0, 1)",
            values=[
                Value("u", dr.u),
                Value("cdf", table, label="kept tokens and their slices of [0, 1)"),
                Value("token", token),
            ],
            worked=worked,
            why="Laying the kept tokens end to end on [0, 1) gives each a slice as wide as its "
            "probability, so a uniform u lands in a token's slice with exactly that probability "
            "(inverse-CDF sampling). Another --seed gives another u.",
        )
    trace.add(step)


def script(trace: Trace) -> str:
    """Unembedding, temperature, top-k, top-p and the draw as NumPy source (``--format py``)."""
    from nntutor.walkthroughs._script import heading

    draw = ("position = 0  # --greedy: the most probable token" if trace.inputs["greedy"] else
            "# where u lands on the cumulative distribution\n"
            "position = min(int(np.searchsorted(cdf, u, side='right')), len(ranked) - 1)")
    return "\n".join([
        heading(trace, "logits"),
        "logits = h @ wu",
        "",
        heading(trace, "temperature"),
        "# the largest logit subtracted first: never an overflow",
        "e = np.exp((logits - logits.max()) / temperature)",
        "probs = e / e.sum()",
        "",
        "",
        "def ranking(p):",
        "    \"\"\"Token ids, most probable first (ties in vocabulary order).\"\"\"",
        "    return np.argsort(-p, kind='stable')",
        "",
        "",
        heading(trace, "top-k"),
        "keep_k = np.zeros(len(probs), dtype=bool)",
        "keep_k[ranking(probs)[:len(probs) if top_k is None else top_k]] = True",
        "after_k = np.where(keep_k, probs, 0.0) / probs[keep_k].sum()",
        "",
        heading(trace, "top-p"),
        "order = ranking(after_k)",
        "# the mass ranked above each token; keep a token while that is below top-p",
        "above = np.concatenate(([0.0], np.cumsum(after_k[order])[:-1]))",
        "if top_p is None or top_p >= 1.0:",
        "    count = len(probs)",
        "else:",
        "    count = max(1, int(np.count_nonzero(above < top_p)))",
        "keep_p = np.zeros(len(probs), dtype=bool)",
        "keep_p[order[:count]] = True",
        "",
        heading(trace, "renormalise"),
        "kept = keep_k & keep_p",
        "filtered_probs = np.where(kept, probs, 0.0) / probs[kept].sum()",
        "",
        heading(trace, "draw"),
        "ranked = ranking(filtered_probs)",
        "ranked = ranked[filtered_probs[ranked] > 0]",
        "cdf = np.cumsum(filtered_probs[ranked])",
        draw,
        "token_id = int(ranked[position])",
        "token = vocab[token_id]",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "model": Input("path"),
        "text": Input("text"),
        "h": Input("vector"),
        "wu": Input("matrix"),
        "vocab": Input("labels"),
        "temperature": Input("scalar", above=0),
        "top-k": Input("integer", minimum=1),
        "top-p": Input("scalar", maximum=1, above=0),
        "greedy": Input("flag"),
        "seed": Input("integer", minimum=0),
    },
    targets=(
        Target("logits", "logits", uses=("h", "wu", "vocab"), symbol="z"),
        Target("temperature", "scaled", uses=("logits.logits", "temperature"), symbol="z/T"),
        Target("temperature", "exps", uses=("temperature.scaled",)),
        Target("temperature", "probs", uses=("temperature.exps",), symbol="p"),
        Target("renormalise", "filtered_probs", uses=("top-p.ranked",), symbol="p′"),
    ),
    script=script,
    keep=("model", "text"),
    fixed={"model": "random"},  # the quiz asks about the small hand-made setting: h·W_U is 4 × 8
)
