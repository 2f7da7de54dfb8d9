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

``--model PATH.gguf``: a Llama-family model (SmolLM2-135M, say) runs on --text in NumPy
(:func:`nntutor.core.llama.forward`); h is the last row after its final RMSNorm and W_U
its output matrix (the embedding transposed when the file ties them). Its vocabulary
(49,152 tokens for SmolLM2) is never shown whole: the vectors show the
:data:`TOP_SHOWN` most probable tokens, the sums and the ranked tables run over all.
"""

from __future__ import annotations

import math
import os
from typing import Any, NamedTuple

import numpy as np

from nntutor.core.sampling import (
    Filter,
    Sampling,
    rank,
    sample_logits,
    sample_next,
    temperature_softmax,
    unembed_rows,
)
from nntutor.errors import InputError
from nntutor.trace import Step, Table, Trace, Value
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
from nntutor.walkthroughs._declare import Args, Input, Target, Walkthrough
from nntutor.walkthroughs._gguf import is_gguf

MAX_RANDOM_WEIGHTS = 1_000_000  # d × V numbers drawn for a random W_U
TABLE_ROWS = 30  # ranked tables show at most this many rows, then "…"
TOP_SHOWN = 10  # with a GGUF model: the tokens a vector over the vocabulary shows (the most probable)
REAL_HEAD = 4  # with a GGUF model: the first ranks a ranked table shows (and the rows at its cut; --full: TABLE_ROWS)


def _top(values) -> tuple[int, ...]:
    """The most probable token's column: a table too wide for the terminal keeps it."""
    return (int(np.argmax(values)),)

def _random_inputs(seed: int, d: int, V: int, need_weights: bool) -> tuple[float, np.ndarray | None]:
    rng = np.random.default_rng(seed)
    u = math.floor(float(rng.random()) * 10_000) / 10_000
    if not need_weights:
        return u, None
    return u, np.round(rng.normal(size=(d, V)), 2)


class TokenNames:
    """A GGUF model's tokens as the screen writes them (' Paris', quoted), made when asked for:
    a lesson names a few dozen of its tens of thousands."""

    def __init__(self, tokenizer: Any, size: int) -> None:
        self.tokenizer, self.size = tokenizer, size
        self.names: dict[int, str] = {}

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, token_id: int) -> str:
        from nntutor.walkthroughs._gguf import token_text

        token_id = int(token_id)
        if not 0 <= token_id < self.size:
            raise IndexError(token_id)
        if token_id not in self.names:
            self.names[token_id] = token_text(self.tokenizer, token_id)
        return self.names[token_id]


def _quoted(vocab, name: str) -> str:
    """A token name in a sentence: quoted once (a GGUF model's names already are)."""
    return name if isinstance(vocab, TokenNames) else repr(name)


class Inputs(NamedTuple):
    """Checked inputs: h, W_U (typed, drawn from the seed, or the trained model's), the token names and the sampling settings."""

    model: str  # "random" (h, W_U and the names as typed or drawn), "tiny", a model file or a GGUF file
    text: str  # with a trained model: the text whose last token's h is used ("" otherwise)
    about: str  # with a trained model: where it came from
    h: np.ndarray | None  # the final hidden vector (length d); None for a GGUF model (computed by build)
    W_U: np.ndarray | None  # the unembedding matrix, d × V: --wu, or drawn from --seed; None for a GGUF model
    wu_random: bool  # whether W_U was drawn from the seed (--wu not given)
    vocab: tuple[str, ...]  # one distinct name per column of W_U
    temperature: float  # T > 0
    top_k: int | None  # keep the k most probable tokens (1 to V); None: off
    top_p: float  # nucleus threshold, 0 < p ≤ 1
    greedy: bool  # take the most probable token instead of drawing
    seed: int  # the seed u (and a random W_U) came from
    u: float  # the draw's uniform number: the seed's first number, floored to 4 decimals
    prompt: Any = None  # a GGUF model: walkthroughs._gguf.Prompt (the model opened, --text tokenised, the cost)


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
        if is_gguf(model):
            return _check_gguf(args, model)
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


def _check_gguf(args: Args, path: str) -> Inputs:
    """A GGUF model opened (its weights not yet read), --text tokenised and bounded, --top-k within its vocabulary."""
    from nntutor.walkthroughs._gguf import open_prompt, typed_or_default

    prompt = open_prompt(path, typed_or_default(args))
    V = prompt.loaded.config.vocab
    k = args["top-k"]
    if k is not None and k > V:
        raise InputError("--top-k", f"{k} is larger than the vocabulary (expected 1 to {V:,})")
    seed = int(args["seed"])
    u, _ = _random_inputs(seed, 0, 0, False)
    return Inputs(
        model=path, text=prompt.text, about="", h=None, W_U=None, wu_random=False,
        vocab=TokenNames(prompt.loaded.tokenizer, V), temperature=float(args["temperature"]), top_k=k,
        top_p=args["top-p"], greedy=bool(args["greedy"]), seed=seed, u=u, prompt=prompt,
    )


def notice(inputs: Inputs) -> str | None:
    """What a GGUF run will cost, said before its weights are read (None otherwise).

    >>> from nntutor.catalog.run import parse_args, prepare
    >>> from nntutor.catalog.lessonfile import load_lesson
    >>> lesson = load_lesson("next-token")
    >>> notice(prepare(lesson, parse_args(lesson, {})).inputs) is None
    True
    """
    from nntutor.walkthroughs._gguf import notice as gguf_notice

    return gguf_notice(inputs.prompt) if inputs.prompt is not None else None


def no_script(args: Args) -> str | None:
    """Why --format py is refused for these arguments: a GGUF file (None otherwise)."""
    if not is_gguf(args.get("model")):
        return None
    from nntutor.walkthroughs._gguf import py_refusal

    return py_refusal("--model tiny, random or a model nntutor trained")


class Real(NamedTuple):
    """A GGUF model's run: what build computed before sampling."""

    h: np.ndarray  # the last row after the final RMSNorm (d), as the model computed it
    rows: np.ndarray  # the output matrix as stored, one row per token (V × d): W_U is its transpose
    out: Any  # nntutor.core.llama.Forward of the prompt (its last position)


def _run_gguf(inputs: Inputs) -> Real:
    from nntutor.core import llama

    loaded = inputs.prompt.loaded
    c = loaded.config
    out = llama.forward(c, loaded.weights, inputs.prompt.encoding.ids, all_logits=False, dtype=loaded.dtype)
    rows = loaded.weights("token_embd.weight" if c.tied else "output.weight")
    return Real(out.final[-1], rows, out)


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


def _ranks(size: int, marks: list[int], head: int | None) -> list[int | None]:
    """The ranks a table shows (``None``: a run left out). ``head`` None: the first rows, past
    the cut (:func:`_shown_ranks`); else the first ``head`` and each marked rank with its
    neighbours, so a large vocabulary's table stays short and still shows where it is cut.

    >>> _ranks(49152, [9], 5)
    [0, 1, 2, 3, 4, None, 8, 9, 10, None]
    """
    if head is None:
        shown = _shown_ranks(size, max(marks) + 1)
        return [*range(shown), *([None] if shown < size else [])]
    chosen = sorted({*range(min(head, size)), *(r for m in marks for r in (m - 1, m, m + 1) if 0 <= r < size)})
    out: list[int | None] = []
    for r in chosen:
        if out and r != out[-1] + 1:
            out.append(None)
        out.append(r)
    return out + ([None] if chosen[-1] < size - 1 else [])


def _gaps(ranks: list[int | None], size: int) -> list[tuple[int, int]]:
    """For each ``None`` in ``ranks``: the ranks it stands for, [start, end)."""
    out = []
    for i, r in enumerate(ranks):
        if r is None:
            start = ranks[i - 1] + 1
            out.append((start, ranks[i + 1] if i + 1 < len(ranks) else size))
    return out


def _ranked_table(f: Filter, vocab, label: str, mark: str, head: int | None = None) -> Table:
    """Tokens by rank with the sum before each, the cumulative sum and the cut marked."""
    size = f.order.size
    ranks = _ranks(size, [f.count - 1], head)
    gaps = iter(_gaps(ranks, size))
    rows = []
    for r in ranks:
        if r is None:
            start, end = next(gaps)
            status = "kept" if end <= f.count else "cut" if start >= f.count else ""
            rows.append(("…", f"{end - start:,} more", "", "", "", status, ""))
            continue
        token = int(f.order[r])
        before = float(f.cumulative[r - 1]) if r else 0.0
        note = mark if r == f.count - 1 else ""
        rows.append(
            (r + 1, vocab[token], float(f.sorted_probs[r]), before, float(f.cumulative[r]),
             "kept" if r < f.count else "cut", note)
        )
    return Table(("rank", "token", label, "sum before", "cumulative", "kept?", ""), tuple(rows))


def build(ctx: Context, inputs: Inputs) -> Trace:
    h, W_U, vocab = inputs.h, inputs.W_U, inputs.vocab
    T, k, p = inputs.temperature, inputs.top_k, inputs.top_p
    greedy, seed, u = inputs.greedy, inputs.seed, inputs.u
    real = None
    if inputs.prompt is not None:  # a GGUF model: h and the logits from its run, in float64 from its float32 numbers
        real = _run_gguf(inputs)
        s = sample_logits(unembed_rows(real.h, real.rows), temperature=T, top_k=k, top_p=p, u=u, greedy=greedy)
        view: np.ndarray | None = rank(s.logits)[:TOP_SHOWN]
        if s.draw.token not in view:  # the token drawn is worked in the steps: its column is shown too
            view = np.append(view, s.draw.token)
        record: dict[str, Any] = {"model": inputs.model, "text": inputs.text, "temperature": T, "top-k": k,
                                  "top-p": p, "greedy": greedy, "seed": seed}
    else:
        s = sample_next(h, W_U, temperature=T, top_k=k, top_p=p, u=u, greedy=greedy)
        view = None
        record = {
            "model": inputs.model, "h": h, "wu": W_U, "vocab": list(vocab), "temperature": T, "top-k": k, "top-p": p,
            "greedy": greedy, "seed": seed, "wu_random": inputs.wu_random,
        }
        if inputs.model != "random":
            record["text"] = inputs.text
    if not greedy:
        record["u"] = u
    trace = ctx.new_trace(record)
    if real is not None:
        trace.add(_hidden_step(ctx, inputs, real))
        trace.add(_real_logits_step(ctx, inputs, real, s, view))
    else:
        _logits_step(ctx, trace, s, vocab, random=inputs.wu_random, seed=seed, inputs=inputs)
    _temperature_step(ctx, trace, s, vocab, view)
    head = None if view is None else TABLE_ROWS if ctx.full else REAL_HEAD
    _top_k_step(ctx, trace, s, vocab, view, head)
    _top_p_step(ctx, trace, s, vocab, head)
    _renormalise_step(ctx, trace, s, vocab, view)
    _draw_step(ctx, trace, s, vocab, seed, head)
    token = vocab[s.draw.token]
    trace.result = answer(
        trace, "draw.token=the next token",
        Value("p_next", float(s.filtered_probs[s.draw.token]), label=f"its probability p′[{token}]"),
    )
    trace.outputs = {
        "logits": s.logits,
        "probs": s.softmax.probs,
        "filtered_probs": s.filtered_probs,
        # a GGUF model's token as text (' Paris'), the others' as the vocabulary writes it ('water</w>')
        "token": vocab.tokenizer.decode([s.draw.token]) if isinstance(vocab, TokenNames) else vocab[s.draw.token],
        "token_id": s.draw.token,
    }
    return trace


def _vector(name: str, values: np.ndarray, label: str, vocab, view: np.ndarray | None, *,
            key: bool = False, detail: bool = False) -> Value:
    """A vector over the vocabulary as a table shows it: every token, or (a GGUF model) the
    tokens of ``view``, labelled with how many of how many (a ``detail`` value is only named);
    ``key`` keeps the largest shown."""
    cols: tuple[str, ...] = tuple(vocab)
    if view is not None:
        values, cols = values[view], tuple(vocab[int(i)] for i in view)
        if not detail:
            label = f"{label}: the {min(len(view), TOP_SHOWN)} most probable of {len(vocab):,} tokens" + (
                ", then the one drawn" if len(view) > TOP_SHOWN else "")
    return Value(name, values, label=label, cols=cols, key=_top(values) if key else (), detail=detail)


def _listed(names: list[str], head: int = 6, tail: int = 2) -> str:
    """Tokens one after the other: all of a short text, the ends of a long one."""
    if len(names) <= head + tail + 1:
        return " | ".join(names)
    return " | ".join(names[:head]) + f" | … ({len(names) - head - tail} more) … | " + " | ".join(names[-tail:])


def _hidden_step(ctx: Context, inputs: Inputs, real: Real) -> Step:
    """Where h came from, in one step: the model ran, the last row was normalised."""
    loaded, n = inputs.prompt.loaded, ctx.n
    c, ids = loaded.config, inputs.prompt.encoding.ids
    names = [inputs.vocab[i] for i in ids]
    name = os.path.basename(inputs.model)
    norm, rms = real.out.layers[-1].norm_out, real.out.final_rms
    return Step(
        id="hidden",
        title=f"h: the last token's vector after {c.n_layer} layers of the model",
        formula_text="h = x / √(mean(x²) + ε) · g   (the final RMSNorm, gain g)",
        values=[Value("h", real.h.astype(np.float64), label=f"h ({c.d_model} numbers, the model's own)",
                      cols=index_labels(c.d_model, "h"))],
        worked=[
            f"{name} ran in NumPy on the {len(ids)} tokens of --text: {_listed(names)}",
            f"x = the row of {names[-1]} leaving layer {c.n_layer - 1}, ‖x‖ = {n(norm)}; "
            f"rms = √(‖x‖²/{c.d_model} + ε) = √({n(norm)}²/{c.d_model} + {c.rms_eps:g}) = {n(rms)}; h = x / rms · g "
            "(the layers inside, in full arithmetic: nntutor lesson real-model with the same --model)",
        ],
    )


def _real_logits_step(ctx: Context, inputs: Inputs, real: Real, s: Sampling, view: np.ndarray) -> Step:
    c, vocab = inputs.prompt.loaded.config, inputs.vocab
    j = int(np.argmax(s.logits))
    V, d = len(vocab), c.d_model
    if c.tied:
        source = (f"W_U = Eᵀ: this model's output is tied to its token embedding E ({V:,}×{d}): "
                  "column j of W_U is token j's embedding.")
    else:
        source = (f"W_U is this model's own output matrix (not tied to the token embedding; stored "
                  f"{V:,}×{d}, a row per token).")
    return Step(
        id="logits",
        title=f"Unembed: {V:,} logits, one per token",
        formula=r"z_j = \mathbf{h}\cdot W_U[:, j] = \sum_i h_i \, W_{U,ij}",
        formula_text="zⱼ = h·W_U[:, j] = Σᵢ hᵢ·W_U[i, j]",
        values=[_vector("logits", s.logits, "z = h·W_U", vocab, view, key=True)],
        worked=[
            dot_worked(ctx, f"z[{vocab[j]}]", real.h, real.rows[j], float(s.logits[j])),
            source,
        ],
        why=f"h ({d} numbers) times W_U ({d}×{V:,}) is {d * V:,} multiply-adds: the model's whole forward "
        "pass ends in this one matrix product.",
    )


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
                Value("W_U", s.W_U, label=f"W_U ({s.h.size}×{len(vocab)})", rows=dims, cols=vocab, detail=True),
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


def _temperature_step(ctx: Context, trace: Trace, s: Sampling, vocab, view: np.ndarray | None = None) -> None:
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
    if view is None:
        worked.append(sum_worked(ctx, "Σ e^(…)", sm.exps, sm.total))
    else:  # the largest terms first: a few tokens hold most of the sum
        worked.append(sum_worked(ctx, f"Σ e^(…) over all {len(vocab):,} tokens, largest first",
                                 np.sort(sm.exps)[::-1], sm.total))
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
            _vector("scaled", sm.scaled, "z / T" if not s.overflow else "(z − max z) / T", vocab, view, detail=True),
            _vector("exps", sm.exps, "e^(z/T − max)", vocab, view, detail=True),
            _vector("probs", sm.probs, "p = softmax(z / T)", vocab, view, key=True),
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


def _top_k_step(ctx: Context, trace: Trace, s: Sampling, vocab, view: np.ndarray | None = None,
                head: int | None = None) -> None:
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
                worked=[f"--top-k not given: all {V:,} tokens stay."],
                why="Top-k cuts the long tail of unlikely tokens by count; try --top-k 3.",
                detail=view is not None,  # a real model's run is long enough: an idle filter is one line
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
                Value("ranked", _ranked_table(f, vocab, "p", f"← k = {f.count}", head), label="tokens ranked by probability"),
                Value("kept_mass", f.kept_mass, label="probability kept"),
                # a real model's run: the top-p table lists the kept tokens' p after top-k
                _vector("after_top_k", f.renormalised, "renormalised after top-k", vocab, view, detail=view is not None),
            ],
            worked=[
                f"ranks 1–{f.count} kept, {removed:,} cut; kept mass = {n(f.kept_mass)}",
                f"p[{vocab[int(f.order[0])]}] after top-k = {n(f.sorted_probs[0])} / {n(f.kept_mass)} = {n(f.renormalised[int(f.order[0])])}",
            ],
            why="Top-k removes the tail by count, whatever its shape: with a flat distribution it may "
            "cut plausible tokens, with a peaked one it may keep absurd ones. Equal probabilities "
            "keep vocabulary order, so exactly k tokens stay.",
        )
    )


def _top_p_step(ctx: Context, trace: Trace, s: Sampling, vocab, head: int | None = None) -> None:
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
    worked.append(f"{count:,} of {considered:,} tokens kept, {cut:,} cut; kept mass = {n(f.kept_mass)}")
    trace.add(
        Step(
            id="top-p",
            title=f"Top-p (nucleus) filtering: p = {n(f.parameter)}",
            formula=r"\text{keep rank } r \iff \sum_{s < r} p_{(s)} < p",
            formula_text="keep the token at rank r ⇔ the probabilities ranked above it sum to < p",
            values=[
                Value(
                    "ranked",
                    _ranked_table(f, vocab, "p" if not s.top_k.active else "p after top-k", f"← p = {n(f.parameter)}", head),
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


def _renormalise_step(ctx: Context, trace: Trace, s: Sampling, vocab, view: np.ndarray | None = None) -> None:
    n = ctx.n
    kept = np.flatnonzero(s.kept)
    j = int(s.draw.order[0])
    trace.add(
        Step(
            id="renormalise",
            title=f"Renormalise the {len(kept):,} kept token{'' if len(kept) == 1 else 's'}",
            formula=r"p'_j = \frac{p_j \, [j \text{ kept}]}{\sum_{k \text{ kept}} p_k}",
            formula_text="p′ⱼ = pⱼ / Σ(kept p)  for kept j, 0 for cut j",
            values=[
                Value("kept_mass", s.kept_mass, label="Σ kept p"),
                # the draw's table lists the kept p′
                _vector("filtered_probs", s.filtered_probs, "p′ (filtered, renormalised)", vocab, view, key=True, detail=True),
            ],
            worked=[
                sum_worked(ctx, "Σ kept p", s.softmax.probs[kept], s.kept_mass),
                f"p′[{vocab[j]}] = {n(s.softmax.probs[j])} / {n(s.kept_mass)} = {n(s.filtered_probs[j])}",
            ],
            why="The kept probabilities no longer add up to 1; dividing by their sum restores a "
            "distribution with the same ratios between the tokens that survived.",
            detail=view is not None,  # a real model's run: said in one line of the draw
        )
    )


def _draw_step(ctx: Context, trace: Trace, s: Sampling, vocab, seed: int, head: int | None = None) -> None:
    n = ctx.n
    dr = s.draw
    m = dr.order.size
    if head is None:
        shown = m if m <= TABLE_ROWS else min(m, max(dr.position + 3, 10), TABLE_ROWS)
        ranks: list[int | None] = [*range(shown), *([None] if shown < m else [])]
    else:
        ranks = _ranks(m, [dr.position], head)
    gaps = iter(_gaps(ranks, m))
    rows = []
    for r in ranks:
        if r is None:
            start, end = next(gaps)
            rows.append(("…", f"{end - start:,} more", "", "", "", ""))
            continue
        mark = ""
        if r == dr.position:
            mark = "← greedy (largest p′)" if dr.greedy else f"← u = {n(dr.u)} falls here"
        rows.append((r + 1, vocab[int(dr.order[r])], float(dr.probs[r]), float(dr.lower[r]), float(dr.upper[r]), mark))
    table = Table(("rank", "token", "p′", "from", "to", ""), tuple(rows))
    token = vocab[dr.token]
    said = _quoted(vocab, token)
    rescaled = [] if head is None else [  # a real model's run leaves the renormalise step to --full
        f"p′ = p / {n(s.kept_mass)} (the kept mass): "
        + ("the kept token's p′ is 1, " if m == 1 else f"the {m:,} kept tokens rescaled to add up to 1, ")
        + f"p′[{vocab[int(dr.order[0])]}] = {n(s.softmax.probs[int(dr.order[0])])} / {n(s.kept_mass)} = {n(dr.probs[0])}"]
    if dr.greedy:
        worked = [*rescaled, f"greedy: the largest p′ is p′[{token}] = {n(dr.probs[0])}, so the next token is {said}"]
        step = Step(
            id="draw",
            title=f"Greedy choice: {said}",
            formula=r"\text{next} = \arg\max_j p'_j",
            formula_text="next = argmax p′ⱼ",
            values=[Value("cdf", table, label="kept tokens and their slices of [0, 1)"), Value("token", token, label="the next token")],
            worked=worked,
            why="Greedy decoding always takes the most probable token (ties: the first in the "
            "vocabulary). It is deterministic, so temperature and filtering do not change the "
            "result, but it tends to repeat itself.",
        )
    else:
        r = dr.position
        worked = [
            *rescaled,
            f"u = {n(dr.u)} (the first number of np.random.default_rng({seed}), floored to 4 decimals)",
            f"{n(dr.lower[r])} ≤ {n(dr.u)} < {n(dr.upper[r])}: u falls in the slice of rank {r + 1}, {said}",
        ]
        step = Step(
            id="draw",
            title=f"Draw: u = {n(dr.u)} picks {said}",
            formula=r"\text{next} = \text{the first ranked token with } \sum_{s \le r} p'_{(s)} > u, \quad u \sim U[0, 1)",
            formula_text="next = the first ranked token whose cumulative p′ exceeds u,  u ~ U[0, 1)",
            values=[
                Value("u", dr.u),
                Value("cdf", table, label="kept tokens and their slices of [0, 1)"),
                Value("token", token, label="the next token"),
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

    reason = no_script(Args({"model": trace.inputs.get("model")}))
    if reason:
        raise InputError("--format", reason)
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
    no_script=no_script,
    notice=notice,
    keep=("model", "text"),
    fixed={"model": "random"},  # the quiz asks about the small hand-made setting: h·W_U is 4 × 8
)
