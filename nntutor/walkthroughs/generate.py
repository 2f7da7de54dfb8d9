"""The generate lesson: new tokens one at a time, with a key–value cache.

prompt → one full pass (it fills each layer's cache with the prompt's keys and
values, and its last row gives the first new token) → feed that token back:
one new row per layer, its query scored against every cached key, its key and
value appended → the next token → … The first step is shown in full (layer 1,
head 1), the others as one table; then the proof that the cached logits equal
a full recomputation, and the multiply-adds the cache saves.

The maths is :mod:`nntutor.core.kvcache`; the model comes from ``--model``
(:mod:`nntutor.walkthroughs._model`). ``--model PATH.gguf`` runs a real Llama-family
model instead (:mod:`nntutor.walkthroughs._generate_llama`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from nntutor.core.kvcache import Generation, cost_table, full_recompute_logits, generate
from nntutor.core.pipeline import draw_u
from nntutor.core.sampling import rank
from nntutor.errors import InputError
from nntutor.trace import Step, Table, Trace, Value
from nntutor.walkthroughs import _generate_llama as _llama
from nntutor.walkthroughs._common import Context, dot_worked, index_labels
from nntutor.walkthroughs._declare import Args, Input, Target, Walkthrough
from nntutor.walkthroughs._gguf import is_gguf
from nntutor.walkthroughs._model import LessonModel, choose
from nntutor.walkthroughs._tokens import shown as word

MAX_NEW = 64
MAX_PROMPT = 256  # tokens; a model's own context may be shorter
TOLERANCE = 1e-12  # cached and recomputed logits agree to this in float64


def see(*lessons: str) -> str:
    return " See: " + "; ".join(f"nntutor lesson {name}" for name in lessons) + "."


class Inputs(NamedTuple):
    """Checked inputs: the model, the prompt as tokens and ids, how many new tokens, how they are chosen."""

    model: LessonModel
    prompt: str
    tokens: tuple[str, ...]  # the prompt's tokens
    ids: np.ndarray
    unknown: tuple[bool, ...]
    count: int  # new tokens
    sample: bool
    temperature: float
    top_k: int | None
    top_p: float
    seed: int
    us: tuple[float, ...] | None  # one uniform number per new token (None: greedy)


def _draws(seed: int, count: int) -> tuple[float, ...]:
    """One uniform number per new token, from --seed (the draws of --sample)."""
    rng = np.random.default_rng(seed)
    return tuple(draw_u(rng) for _ in range(count))


def check(args: Args) -> Inputs | _llama.Inputs:
    """A known model, a prompt with at least one known token, prompt + new tokens within the context.

    ``--model PATH.gguf``: a Llama-family model, checked by :mod:`nntutor.walkthroughs._generate_llama`."""
    if is_gguf(args["model"]):
        return _llama.check(args, _draws)
    seed = int(args["seed"])
    model = choose(args["model"], seed=seed)
    prompt = args["prompt"]
    tokens, ids, unknown = model.encode(prompt)
    if not tokens:
        raise InputError("--prompt", 'has no words (expected some text, e.g. "the farmer sat on the")')
    if all(unknown):
        raise InputError("--prompt", f"{prompt!r} has no token the model knows (every one would be <unk>)")
    if len(tokens) > MAX_PROMPT:
        raise InputError("--prompt", f"gives {len(tokens)} tokens; at most {MAX_PROMPT}")
    count = int(args["tokens"])
    limit = model.context or MAX_PROMPT + MAX_NEW
    if len(tokens) + count > limit:
        flag = "--tokens" if "tokens" in args.given and len(tokens) < limit else "--prompt"
        raise InputError(
            flag, f"{len(tokens)} prompt tokens + {count} new ones = {len(tokens) + count}, more than the model's context of {limit}"
        )
    k = args["top-k"]
    if k is not None and k > len(model.vocab):
        raise InputError("--top-k", f"{k} is larger than the vocabulary (expected 1 to {len(model.vocab)})")
    sample = bool(args["sample"])
    us = _draws(seed, count) if sample else None
    return Inputs(model, prompt, tuple(tokens), ids, tuple(unknown), count, sample,
                  float(args["temperature"]), k, float(args["top-p"]), seed, us)


# --------------------------------------------------------------------------- build


def notice(inputs: Inputs | _llama.Inputs) -> str | None:
    """What a GGUF model's run will cost, said before its weights are read (None for the built-in models)."""
    return _llama.notice(inputs) if isinstance(inputs, _llama.Inputs) else None


def no_script(args: Args) -> str | None:
    """Why --format py is refused: a GGUF file (None for the built-in models and nntutor train's files)."""
    return _llama.no_script(args) if is_gguf(args.get("model")) else None


def build(ctx: Context, inputs: Inputs | _llama.Inputs) -> Trace:
    if isinstance(inputs, _llama.Inputs):
        return _llama.build(ctx, inputs)
    model = inputs.model
    w = model.weights
    settings = {"temperature": inputs.temperature, "top_k": inputs.top_k, "top_p": inputs.top_p} if inputs.sample else {}
    g = generate(inputs.ids, w, heads=model.heads, count=inputs.count, us=inputs.us, eps=model.eps, **settings)
    full = full_recompute_logits(g.sequence, g.prompt.size, w, heads=model.heads, eps=model.eps)
    errors = np.abs(g.logits - full).max(axis=1)

    record: dict[str, Any] = {
        "model": model.name, "prompt": inputs.prompt, "tokens": inputs.count, "sample": inputs.sample, "seed": inputs.seed,
    }
    if inputs.sample:
        record.update({"temperature": inputs.temperature, "top-k": inputs.top_k, "top-p": inputs.top_p, "u": list(inputs.us)})
    trace = ctx.new_trace(record)
    vocab = model.vocab
    _prompt_step(ctx, trace, inputs)
    _prefill_step(ctx, trace, inputs, g)
    if g.steps:
        _first_step(ctx, trace, inputs, g)
    if len(g.steps) > 1 and ctx.full:  # --full: every step as the first one
        for j in range(1, len(g.steps)):
            _first_step(ctx, trace, inputs, g, j)
    elif len(g.steps) > 1:
        _other_steps(ctx, trace, inputs, g)
    _proof_step(ctx, trace, inputs, g, errors)
    _cost_step(ctx, trace, inputs, g)

    new_ids = [int(t) for t in g.tokens]
    trace.outputs = {
        "text": model.decode(g.sequence),
        "tokens": [vocab[t] for t in new_ids],
        "logits": g.logits,
        "max_cache_error": float(errors.max()),
    }
    trace.result = [
        Value("text", trace.outputs["text"], label="the text"),
        _choices(inputs, g, float(errors.max())),
    ]
    return trace


def _choices(inputs: Inputs, g: Generation, worst: float) -> Value:
    """Each new token with its probability and the runner-up: the logits' answer, a row per token."""
    vocab = inputs.model.vocab
    rows = []
    for j, s in enumerate([g.first, *(step.sampling for step in g.steps)], start=1):
        p = s.softmax.probs
        chosen = s.draw.token
        other = next(int(i) for i in rank(p)[:2] if int(i) != chosen)
        rows.append((j, word(vocab[chosen]), float(p[chosen]), word(vocab[other]), float(p[other])))
    return Value("choices", Table(("new token", "chosen", "p", "next best", "its p"), tuple(rows)),
                 label="each new token: the one " + ("drawn" if inputs.sample else "chosen (greedy)")
                 + f" and the runner-up (the cache changed no logit by more than {worst:.1g})")


def _choice_words(ctx: Context, s, vocab) -> str:
    """``'bank' (p = 0.91; then 'river' 0.05)``: the token chosen and the runner-up."""
    n = ctx.n
    p = s.softmax.probs
    chosen = s.draw.token
    order = [int(i) for i in rank(p)[:2] if int(i) != chosen][:1]
    how = "greedy" if s.draw.greedy else f"drawn at u = {n(s.draw.u)}"
    other = f"; next best '{word(vocab[order[0]])}', {n(p[order[0]])}" if order else ""
    return f"'{word(vocab[chosen])}' (p = {n(p[chosen])}, {how}{other})"


def _prompt_step(ctx: Context, trace: Trace, inputs: Inputs) -> None:
    model = inputs.model
    step = Step(
        id="prompt",
        title=f"The prompt: {len(inputs.tokens)} tokens; the model: {model.layers} layers of {model.heads} heads",
        formula_text="ids = the prompt's tokens, looked up in the model's vocabulary",
        values=[Value("prompt_tokens", [word(t) for t in inputs.tokens], label="the prompt as tokens")],
        worked=["ids: " + ", ".join(str(int(i)) for i in inputs.ids) + f"; model {model.name}: {model.about}", model.shape_words],
        why="Everything after the prompt is the model predicting and appending." + see("pipeline"),
    )
    for i, t in enumerate(inputs.tokens):
        if inputs.unknown[i]:
            step.warnings.append(f"{t!r} (position {i}) is not in the vocabulary: it is read as <unk>.")
    trace.add(step)


def _prefill_step(ctx: Context, trace: Trace, inputs: Inputs, g: Generation) -> None:
    model = inputs.model
    n = g.prompt.size
    d, heads = model.d_model, model.heads
    dh = d // heads
    trace.add(
        Step(
            id="prefill",
            title=f"Prefill: one pass over the {n} prompt tokens fills the cache",
            formula_text="K = LN₁(X)·W_K + b_K,  V = LN₁(X)·W_V + b_V  in every layer, kept; the last row's logits give new token 1",
            worked=[
                f"each layer keeps K and V of {n}×{d}: {heads} heads × {n}×{dh} each (head i owns columns "
                f"{dh}·i … {dh}·i + {dh - 1}); {2 * model.layers * n * d} numbers in all",
                f"new token 1 = {_choice_words(ctx, g.first, model.vocab)}",
            ],
            why="The prompt goes through the model once, all positions at once (as in the pipeline "
            "lesson); its keys and values are kept." + see("attention"),
        )
    )


def _first_step(ctx: Context, trace: Trace, inputs: Inputs, g: Generation, number: int = 0) -> None:
    """Decode step ``number`` (0: the first) in full: layer 1, head 1 worked out, every head summarised."""
    n_ = ctx.n
    model = inputs.model
    vocab = model.vocab
    s = g.steps[number]
    layer = s.layers[0]
    head = layer.heads[0]
    dh = head.q.shape[1]
    m = layer.cached
    pos = s.position
    fed = word(vocab[s.token])
    seq = [word(vocab[int(t)]) for t in g.sequence[: pos + 1]]
    rows = tuple(f"{i} {t}" for i, t in enumerate(seq))
    j = m - 1  # the new key: the query against itself
    weights = head.weights[0]
    top = int(np.argmax(weights))
    summary = Table(
        ("layer", "head", "keys scored", "weight on the new token", "largest weight (position)"),
        tuple(
            (li + 1, hi + 1, lay.cached, float(hd.weights[0, -1]),
             f"{n_(hd.weights[0].max())} ({int(np.argmax(hd.weights[0]))} {seq[int(np.argmax(hd.weights[0]))]})")
            for li, lay in enumerate(s.layers) for hi, hd in enumerate(lay.heads)
        ),
    )
    trace.add(
        Step(
            id=f"step-{number + 1}",
            title=f"Feed new token {number + 1}, '{fed}' (position {pos}): one row per layer",
            formula_text="q, k, v = LN₁(x)·W_Q, ·W_K, ·W_V (one row);  K ← [K; k], V ← [V; v];  "
            "a = softmax(K·q / √d_head);  out = a·V",
            values=[
                Value("qkv", np.stack([head.q[0], head.k[j], head.v[j]]),
                      label=f"layer 1 head 1's new query/key/value rows ({dh} each)",
                      rows=("q (new query)", f"k (appended: K row {j})", f"v (appended: V row {j})"), cols=index_labels(dh),
                      detail=True),  # the worked dot product below uses two of its rows
                Value("weights", weights, label=f"a = softmax(K·q / √{dh}) over the {m} cached keys", cols=rows),
                Value("heads", summary, label="every layer and head at this step"),
            ],
            worked=[
                f"x = E[{s.token}] + PE[{pos}], the only new row; the caches held {m - 1} keys and values",
                dot_worked(ctx, f"k{j}·q", head.k[j], head.q[0], float(head.scores[0, j]))
                + f"; ÷ √{dh} = {n_(head.scaled()[0, j])}",
                f"softmax over the {m} scores: the most weight, {n_(weights[top])}, on position {top} ('{seq[top]}'); "
                f"out = Σ aᵢ·vᵢ = [{', '.join(n_(x) for x in head.output[0][:4])}{', …' if dh > 4 else ''}]",
                f"the cache of every layer grows from {m - 1} to {m} rows; new token {number + 2} = {_choice_words(ctx, s.sampling, vocab)}",
            ],
            why="" if number else "Only the new position is computed: its query meets the cached keys (its own "
            "appended first); the FFN and the unembedding are one row each." + see("multi-head", "next-token"),
        )
    )


def _other_steps(ctx: Context, trace: Trace, inputs: Inputs, g: Generation) -> None:
    vocab = inputs.model.vocab
    rows = []
    for j, s in enumerate(g.steps[1:], start=2):
        rows.append((
            j, s.position, word(vocab[s.token]), s.layers[0].cached,
            word(vocab[s.sampling.draw.token]), float(s.sampling.softmax.probs[s.sampling.draw.token]),
        ))
    table = Table(("step", "position", "token fed", "keys cached", "next token", "p"), tuple(rows))
    last = g.steps[-1]
    trace.add(
        Step(
            id="steps",
            title=f"The other {len(g.steps) - 1} step{'s' if len(g.steps) > 2 else ''}: one row each, the cache one longer",
            formula_text="step j: the token chosen at step j − 1 goes in at position n + j − 1; every cache grows by one row",
            values=[Value("steps", table, label="each step: what went in, how long the cache was, what came out")],
            worked=[
                f"last step: '{word(vocab[last.token])}' at position {last.position} scored against {last.layers[0].cached} "
                f"cached keys per head; it chose {_choice_words(ctx, last.sampling, vocab)}",
            ],
            why="Every step repeats the first with a cache one row longer.",
        )
    )


def _proof_step(ctx: Context, trace: Trace, inputs: Inputs, g: Generation, errors: np.ndarray) -> None:
    vocab = inputs.model.vocab
    worst = float(errors.max())
    step = Step(
        id="proof",
        title=f"The cache changes nothing: largest |Δ logit| = {worst:.1e}",
        formula_text="Δ = logits with the cache − logits recomputed without it, every new token",
        values=[
            Value("|Δ|", errors, label="largest |Δ| over the vocabulary, for each new token",
                  cols=tuple(f"{j + 1} {word(vocab[int(t)])}" for j, t in enumerate(g.tokens)), detail=True),
        ],
        worked=[
            f"recomputing, new token j runs all {g.prompt.size} + j − 1 positions through the model again; the largest "
            f"difference over all {g.tokens.size} tokens × {len(vocab)} logits = {worst:.3g}"
            + (f" ≤ {TOLERANCE:g}: the same numbers, up to the order of float64 additions" if worst <= TOLERANCE else ""),
        ],
        why="The cache is not an approximation: it holds exactly the keys and values a full pass "
        "would compute again; only sums done in another order round differently (about 1e-15).",
    )
    if worst > TOLERANCE:
        step.warnings.append(f"the difference {worst:.3g} is larger than {TOLERANCE:g}")
    trace.add(step)


def _cost_step(ctx: Context, trace: Trace, inputs: Inputs, g: Generation) -> None:
    model = inputs.model
    d, f, L, V = model.d_model, model.d_ff, model.layers, len(model.vocab)
    end = g.sequence.size
    limit = model.context or max(end, 64)
    lengths = sorted({1, 8, 32, 64, 256, g.prompt.size + 1, end} & set(range(1, limit + 1)))
    cost = cost_table(lengths, d=d, d_ff=f, layers=L, vocab=V)
    table = Table(
        ("sequence length m", "with the cache", "without"),
        tuple((r.cached, r.with_cache, r.without_cache) for r in cost),
    )
    last = cost[-1]
    m = last.cached
    trace.add(
        Step(
            id="cost",
            title="What the cache saves: multiply-adds for one new token",
            formula_text=f"with: L·(4d² + 2md + 2d·d_ff) + dV;  without: L·(4md² + 2m²d + 2m·d·d_ff) + dV   "
            f"(L = {L}, d = {d}, d_ff = {f}, V = {V})",
            values=[
                Value("cost", table, label="multiply-adds in the matrix products, per new token"),
                Value("without ÷ with", np.array([r.ratio for r in cost]), label="how many times as many without the cache",
                      cols=tuple(f"m = {r.cached}" for r in cost)),
            ],
            worked=[
                f"m = {m}, with: {L}·(4·{d}² + 2·{m}·{d} + 2·{d}·{f}) + {d}·{V} = {last.with_cache:,}",
                f"m = {m}, without: {L}·(4·{m}·{d}² + 2·{m}²·{d} + 2·{m}·{d}·{f}) + {d}·{V} = {last.without_cache:,} "
                f"({last.ratio:.1f}× as many)",
            ],
            why="With the cache a token pays for its own projections and FFN plus one score and one "
            "weighted value per cached key (growing like m); without it every position is projected again "
            "and the scores are m × m (like m²). The price: 2·L·m·d cached numbers." + see("attention-cost"),
        )
    )


def script(trace: Trace) -> str:
    """The prompt continued with a KV cache, the uncached recomputation and the multiply-add
    counts, as NumPy source (``--format py``); the model's weights are written out as literals."""
    from nntutor.render.python_script import assignment
    from nntutor.walkthroughs._script import has_step, heading, tiny_model_preamble

    model = choose(trace.inputs["model"], seed=int(trace.inputs["seed"]))
    if trace.inputs["sample"]:
        top_k = "len(p)" if trace.inputs["top-k"] is None else "top_k"
        choose_lines = [
            "def choose(logits, j):",
            "    \"\"\"New token j: softmax at the temperature, keep the top-k, then the",
            "    smallest top set reaching top-p; renormalise; the first ranked token",
            "    whose cumulative p exceeds u[j].\"\"\"",
            "    e = np.exp((logits - logits.max()) / temperature)",
            "    p = e / e.sum()",
            "    order = np.argsort(-p, kind='stable')  # most probable first",
            f"    kept = order[:{top_k}]",
            "    q = p[kept] / p[kept].sum()",
            "    before = np.concatenate(([0.0], np.cumsum(q)[:-1]))  # mass ranked above",
            "    if top_p < 1.0:",
            "        kept = kept[:max(1, int(np.count_nonzero(before < top_p)))]",
            "    q = p[kept] / p[kept].sum()",
            "    kept, q = kept[q > 0], q[q > 0]",
            "    where = int(np.searchsorted(np.cumsum(q), u[j], side='right'))",
            "    return int(kept[min(where, len(kept) - 1)])",
        ]
    else:
        choose_lines = [
            "def choose(logits, j):",
            "    return int(np.argmax(logits))  # greedy: the most probable token",
        ]
    decode = [
        "def decode_one(token, position):",
        "    \"\"\"One new row through every layer: its query against the cached keys",
        "    (its own key and value appended first); the logits of the next token.\"\"\"",
        "    x = E[token] + positions(1, position)[0]",
        "    for (K, V), w in zip(cache, blocks):",
        "        a = layer_norm(x, w['ln1_gamma'], w['ln1_beta'])",
        "        q = a @ w['wq'] + w['bq']",
        "        k = a @ w['wk'] + w['bk']",
        "        v = a @ w['wv'] + w['bv']",
        "        K.append(k)",
        "        V.append(v)",
        "        keys, values = np.array(K), np.array(V)",
        "        d_h = len(x) // heads",
        "        out = []",
        "        for i in range(heads):",
        "            s = slice(i * d_h, (i + 1) * d_h)",
        "            scores = keys[:, s] @ q[s] / math.sqrt(d_h)",
        "            a_i = softmax_rows(scores[None, :])[0]",
        "            out.append(a_i @ values[:, s])",
        "        h = x + np.concatenate(out) @ w['wo'] + w['bo']",
        "        f = layer_norm(h, w['ln2_gamma'], w['ln2_beta'])",
        "        x = h + np.maximum(f @ w['W1'] + w['b1'], 0.0) @ w['W2'] + w['b2']",
        "    return layer_norm(x, final_gamma, final_beta) @ W_U",
    ]
    steps = [heading(trace, "step-1")] + ([heading(trace, "steps")] if has_step(trace, "steps") else [])
    for j in range(2, int(trace.inputs["tokens"])):
        if has_step(trace, f"step-{j}"):  # --full: every step has its own
            steps.append(heading(trace, f"step-{j}"))
    if not has_step(trace, "step-1"):  # one new token: the prefill gave it, nothing is fed back
        steps = []
    shown = next(v.data for st in trace.steps if st.id == "cost" for v in st.values if v.name == "cost")
    lengths = [int(row[0]) for row in shown.rows]
    counts = [[int(row[1]), int(row[2])] for row in shown.rows]
    return "\n".join([
        *tiny_model_preamble(model),
        *choose_lines,
        "",
        "",
        *decode,
        "",
        "",
        heading(trace, "prompt"),
        "prompt_tokens, ids = tokenize(prompt)",
        "",
        heading(trace, "prefill"),
        "cache = []  # per layer: its keys and its values, one row per position",
        "x = E[ids] + positions(len(ids))",
        "for w in blocks:",
        "    a = layer_norm(x, w['ln1_gamma'], w['ln1_beta'])",
        "    cache.append([list(a @ w['wk'] + w['bk']), list(a @ w['wv'] + w['bv'])])",
        "    x = block(x, w)",
        "# the logits new token 1 is chosen from:",
        "rows = [layer_norm(x, final_gamma, final_beta)[-1] @ W_U]",
        "new_ids = [choose(rows[0], 0)]",
        "",
        *steps,
        "for j in range(1, tokens):  # new token j goes in at position len(ids) + j − 1",
        "    rows.append(decode_one(new_ids[-1], len(ids) + j - 1))",
        "    new_ids.append(choose(rows[-1], j))",
        "logits = np.array(rows)",
        "sequence = ids + new_ids",
        "",
        heading(trace, "proof"),
        "# no cache: the whole sequence so far through the model, for every new token",
        "recomputed = np.array([all_logits(sequence[:m])[-1]",
        "                       for m in range(len(ids), len(sequence))])",
        "max_cache_error = np.abs(logits - recomputed).max()",
        "",
        heading(trace, "cost"),
        "d, d_ff = E.shape[1], blocks[0]['W1'].shape[1]",
        "layers, V = len(blocks), len(vocab)",
        f"lengths = {lengths!r}",
        "with_cache = [layers * (4 * d * d + 2 * m * d + 2 * d * d_ff) + d * V",
        "              for m in lengths]",
        "without_cache = [layers * (4 * m * d * d + 2 * m * m * d + 2 * m * d * d_ff)",
        "                 + d * V",
        "                 for m in lengths]",
        "# the table the lesson showed: [with, without] at each length",
        assignment("shown", counts),
        "for m, a, b, seen in zip(lengths, with_cache, without_cache, shown):",
        "    assert [a, b] == seen, f'multiply-adds at m = {m}'",
        "",
        "# The text: the prompt and the new tokens, </w> read as a space",
        "tokens = [vocab[t] for t in new_ids]",
        "pieces = [vocab[t] for t in sequence]",
        "text = ''.join(p[:-4] + ' ' if p.endswith('</w>') else",
        "               p + ' ' if p == '<unk>' else p for p in pieces).strip()",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "model": Input("path"),
        "prompt": Input("text"),
        "tokens": Input("integer", minimum=1, maximum=MAX_NEW),
        "sample": Input("flag"),
        "temperature": Input("scalar", above=0),
        "top-k": Input("integer", minimum=1),
        "top-p": Input("scalar", above=0, maximum=1),
        "seed": Input("integer", minimum=0),
    },
    targets=(Target("cost", "without ÷ with", uses=("cost.cost",), symbol="without ÷ with"),),
    script=script,
    no_script=no_script,
    notice=notice,
    keep=("model", "prompt", "tokens"),
)
