"""The generate lesson on a real Llama-family model: ``--model PATH.gguf``.

The same story as the tiny model's run (:mod:`nntutor.walkthroughs.generate`), told with
what a Llama model does differently: its own byte-level BPE, keys turned by RoPE before
they are cached, grouped-query attention (a layer caches n_head_kv key/value heads, not
n_head), SwiGLU, and the multiply-adds counted for those shapes. The maths is
:mod:`nntutor.core.llama_generate`; the model is opened by :func:`nntutor.walkthroughs._gguf.open_prompt`.

Steps: prompt, prefill, step-1 (layer 0, query head 0 worked out; every step so with
--full), steps (the others as a table), cache (its contents and size), proof (cached
against recomputed logits), cost (multiply-adds with and without the cache).
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import numpy as np

from nntutor.core import llama
from nntutor.core import llama_generate as gen
from nntutor.errors import InputError
from nntutor.numfmt import about_bytes, human_bytes
from nntutor.trace import Step, Table, Trace, Value
from nntutor.walkthroughs._common import Context, dot_worked, index_labels
from nntutor.walkthroughs._declare import Args
from nntutor.walkthroughs._gguf import (
    MAX_PEAK_BYTES,
    MAX_SECONDS,
    MAX_TOKENS,
    open_prompt,
    py_refusal,
    seconds_text,
    token_text,
    typed_or_default,
)

FLOAT64_UP_TO = 50_000_000  # parameters: a model this small runs in float64 (the course's rule); larger ones in float32
ZOOM = llama.Zoom(layer=0, head=0, position=0)  # what a fed-back token shows in full
SHOWN_TOKENS = 10  # the prompt's tokens and ids listed (all with --full)
SAMPLING_ONLY = ("seed", "temperature", "top-k", "top-p")  # flags that only shape the draws of --sample


def see(*lessons: str) -> str:
    return " See: " + "; ".join(f"nntutor lesson {name}" for name in lessons) + "."


class Cost(NamedTuple):
    """The whole run's estimated cost: prefill, the cached steps and the uncached check pass."""

    peak_bytes: int
    seconds: float
    passes: str  # the passes, in words


class Inputs(NamedTuple):
    """Checked inputs for a GGUF model: the model opened (weights not yet read), the prompt, the choices."""

    prompt: Any  # walkthroughs._gguf.Prompt
    weights: llama.Weights
    dtype: Any
    count: int
    sample: bool
    temperature: float
    top_k: int | None
    top_p: float
    seed: int
    us: tuple[float, ...] | None
    cost: Cost


def run_cost(config: Any, file_bytes: int, n: int, count: int, itemsize: int,
             weights_by_type: dict[str, int] | None = None) -> Cost:
    """Every pass of the run, estimated with :func:`nntutor.models.gguf_file.estimate`.

    Time: the prompt's pass (n tokens) and the count − 1 fed-back tokens over the KV cache,
    every weight dequantised once and kept; then the computing of the check pass without
    the cache (n + count − 1 tokens: its weights are already held). Memory: the larger of
    the two passes with every weight held, plus the logits and probabilities of every new token.

    >>> from nntutor.models.gguf_file import LlamaConfig
    >>> c = LlamaConfig(30, 576, 9, 3, 1536, 49152, 8192, 1e5, 1e-5, True)   # SmolLM2-135M
    >>> cost = run_cost(c, 98_400_000, 5, 8, 4, {"Q4_1": 106_168_320, "Q8_0": 28_311_552})
    >>> round(cost.peak_bytes / 1e6), round(cost.seconds, 1)
    (891, 1.4)
    """
    from nntutor.models.gguf_file import estimate

    run = estimate(config, file_bytes, n, itemsize, new_tokens=count - 1, keep_all=True, weights_by_type=weights_by_type)
    check = estimate(config, file_bytes, n + count - 1, itemsize, keep_all=True, weights_by_type=weights_by_type)
    held = 2 * count * config.vocab * 8  # the logits and probabilities of every new token
    steps = f", {count - 1} one-token step{'s' if count > 2 else ''} with the cache" if count > 1 else ""
    words = f"the prompt's {n} tokens{steps} and one check pass over {n + count - 1} without it"
    return Cost(max(run.peak_bytes, check.peak_bytes) + held, run.seconds + check.compute_seconds, words)


def check(args: Args, us_of) -> Inputs:
    """The model opened, the prompt tokenised, prompt + new tokens within the context and the lesson's bound."""
    sample = bool(args["sample"])
    for flag in SAMPLING_ONLY:
        if flag in args.given and not sample:
            what = ("nothing is drawn without --sample, and the weights are the file's" if flag == "seed"
                    else "it only shapes the draws of --sample; without it the most probable token is taken")
            raise InputError(f"--{flag}", f"changes nothing here: {what} (add --sample)")
    prompt = open_prompt(args["model"], typed_or_default(args, "prompt"), text_flag="--prompt", keep_all=True)
    config = prompt.loaded.config
    n, count = len(prompt.encoding.ids), int(args["tokens"])
    limit = min(config.context, MAX_TOKENS)
    if n + count > limit:
        flag = "--tokens" if "tokens" in args.given and n < limit else "--prompt"
        bound = (f"more than this model's context of {config.context:,}" if limit == config.context
                 else f"more than this lesson runs ({MAX_TOKENS}: NumPy computes every layer in front of you)")
        raise InputError(flag, f"{n} prompt tokens + {count} new ones = {n + count}, {bound}")
    k = args["top-k"]
    if k is not None and k > config.vocab:
        raise InputError("--top-k", f"{k} is larger than the vocabulary (expected 1 to {config.vocab:,})")
    small = gen.parameters(config) <= FLOAT64_UP_TO
    dtype = np.float64 if small else np.float32
    by_type = prompt.loaded.model.weights_by_type() if hasattr(prompt.loaded.model, "weights_by_type") else None
    cost = run_cost(config, prompt.loaded.model.file_bytes, n, count, np.dtype(dtype).itemsize, by_type or None)
    if cost.seconds > MAX_SECONDS or cost.peak_bytes > MAX_PEAK_BYTES:
        raise InputError("--model", f"generating {count} tokens would need about {human_bytes(cost.peak_bytes)} and "
                                    f"{cost.seconds:.0f} s (at most {human_bytes(MAX_PEAK_BYTES)} and {MAX_SECONDS:.0f} s): "
                                    "choose a smaller model or fewer --tokens")
    if small and prompt.path is not None:
        from nntutor.models.gguf_file import weights_of

        weights = weights_of(prompt.loaded.model, np.float64, keep_all=True)
    else:
        weights = prompt.loaded.weights
    seed = int(args["seed"])
    return Inputs(prompt, weights, dtype, count, sample, float(args["temperature"]), k, float(args["top-p"]), seed,
                  us_of(seed, count) if sample else None, cost)


def notice(inputs: Inputs) -> str:
    """What the whole run will cost, said before the weights are read."""
    cost = inputs.cost
    return (f"Reading {os.path.basename(inputs.prompt.path)}: about {seconds_text(cost.seconds)}, "
            f"{about_bytes(cost.peak_bytes)} for {cost.passes} (estimated) …")


# --------------------------------------------------------------------------- build


def build(ctx: Context, inputs: Inputs) -> Trace:
    config, tok = inputs.prompt.loaded.config, inputs.prompt.loaded.tokenizer
    ids = inputs.prompt.encoding.ids
    settings = {"temperature": inputs.temperature, "top_k": inputs.top_k, "top_p": inputs.top_p} if inputs.sample else {}
    g = gen.generate(config, inputs.weights, ids, inputs.count, dtype=inputs.dtype, us=inputs.us,
                     zoom=(ZOOM.layer, ZOOM.head), **settings)
    full = gen.recompute_logits(config, inputs.weights, g.sequence, len(ids), inputs.dtype)
    errors = np.abs(g.logits - full).max(axis=1)
    record: dict[str, Any] = {"model": inputs.prompt.path, "prompt": inputs.prompt.text, "tokens": inputs.count,
                              "sample": inputs.sample}
    if inputs.sample:
        record.update({"seed": inputs.seed, "temperature": inputs.temperature, "top-k": inputs.top_k,
                       "top-p": inputs.top_p, "u": list(inputs.us)})
    trace = ctx.new_trace(record)
    words = [token_text(tok, int(t)) for t in g.sequence]
    trace.add(_prompt_step(ctx, inputs, words))
    trace.add(_prefill_step(ctx, inputs, g))
    shown = range(len(g.steps)) if ctx.full else range(min(1, len(g.steps)))
    for j in shown:
        trace.add(_fed_step(ctx, inputs, g, words, j))
    if len(g.steps) > 1 and not ctx.full:
        trace.add(_other_steps(ctx, inputs, g, words))
    _control_warnings(trace, tok, g, ctx.full)
    trace.add(_cache_step(ctx, inputs, g, words))
    trace.add(_proof_step(inputs, g, full, errors))
    trace.add(_cost_step(inputs, g))
    new = [int(t) for t in g.tokens]
    text = tok.decode([int(t) for t in g.sequence])
    trace.outputs = {
        "text": text,
        "tokens": [tok.tokens[t] for t in new],
        "token_ids": new,
        "probabilities": [c.p for c in g.choices],
        "max_cache_error": float(errors.max()),
    }
    shown = text.replace("\n", "⏎")  # one line: a new line in the text is shown as ⏎
    trace.result = [Value("text", shown, label="the text (⏎: a new line)" if shown != text else "the text"),
                    _choices(inputs, g)]
    return trace


def _control_warnings(trace: Trace, tok: Any, g: gen.Generation, full: bool) -> None:
    """The first new token that is a control token (<|im_end|>, <|endoftext|>): a chat program would stop there."""
    special = set(tok.special)
    for j, token in enumerate(g.tokens.tolist(), start=1):
        if tok.tokens[token] in special:
            where = "prefill" if j == 1 else f"step-{j - 1}" if j == 2 or full else "steps"
            trace.step(where).warnings.append(
                f"new token {j}, {token_text(tok, token)}, is a control token: a chat program would stop at it; "
                "the lesson goes on for --tokens")
            return


def _how(inputs: Inputs) -> str:
    return "drawn" if inputs.sample else "chosen (greedy)"


def _choices(inputs: Inputs, g: gen.Generation) -> Value:
    tok = inputs.prompt.loaded.tokenizer
    rows = tuple((j, token_text(tok, c.token), c.p, token_text(tok, c.runner_up()), float(c.probs[c.runner_up()]))
                 for j, c in enumerate(g.choices, start=1))
    return Value("choices", Table(("new token", "chosen", "p", "next best", "its p"), rows),
                 label=f"each new token: the one {_how(inputs)} and the runner-up")


def _choice_words(ctx: Context, tok: Any, c: gen.Choice) -> str:
    """``' Paris' (p = 0.91, greedy; next best ' the', 0.05)``."""
    how = "greedy" if c.u is None else f"drawn at u = {ctx.n(c.u)}"
    other = c.runner_up()
    return f"{token_text(tok, c.token)} (p = {ctx.n(c.p)}, {how}; next best {token_text(tok, other)}, {ctx.n(c.probs[other])})"


def _model_words(inputs: Inputs) -> str:
    model, c = inputs.prompt.loaded.model, inputs.prompt.loaded.config
    digits = "float64" if inputs.dtype == np.float64 else "float32"
    return (f"{os.path.basename(inputs.prompt.path)}: {gen.parameters(c):,} parameters ({model.quantisation()}), "
            f"computed in {digits}")


def _few(items: list[str], full: bool) -> list[str]:
    """At most :data:`SHOWN_TOKENS` items: the first ones, '…', the last three (all with --full)."""
    if full or len(items) <= SHOWN_TOKENS:
        return items
    return [*items[:SHOWN_TOKENS - 4], "…", *items[-3:]]


def _prompt_step(ctx: Context, inputs: Inputs, words: list[str]) -> Step:
    c, enc = inputs.prompt.loaded.config, inputs.prompt.encoding
    n = len(enc.ids)
    return Step(
        id="prompt",
        title=f"The prompt: {n} tokens; the model: {c.n_layer} layers, {c.n_head} query heads",
        formula_text="ids = the prompt split into the model's own byte-level BPE tokens",
        values=[Value("prompt_tokens", _few(words[:n], ctx.full), label="the prompt as tokens")],
        worked=[
            "ids: " + ", ".join(_few([str(int(i)) for i in enc.ids], ctx.full)),
            _model_words(inputs) + f"; d_model {c.d_model}, {c.n_head} query heads over {c.n_head_kv} key/value "
            f"heads of {c.head_dim}, SwiGLU width {c.d_ff}, vocabulary {c.vocab:,}, context {c.context:,}",
        ],
        why="A space stays with the word after it." + see("real-model"),
    )


def _prefill_step(ctx: Context, inputs: Inputs, g: gen.Generation) -> Step:
    c, tok = inputs.prompt.loaded.config, inputs.prompt.loaded.tokenizer
    n = g.prompt.size
    kv = gen.kv_width(c)
    return Step(
        id="prefill",
        title=f"Prefill: one pass over the {n} prompt tokens fills the cache",
        formula_text="K = RoPE(RMSNorm(X)·W_Kᵀ),  V = RMSNorm(X)·W_Vᵀ  in every layer, kept",
        worked=[
            f"K and V of {n}×{kv} per layer ({c.n_head_kv} kv heads × {n}×{c.head_dim}): "
            f"{c.n_layer}·2·{n}·{kv} = {gen.cache_numbers(c, n):,} numbers",
            f"new token 1 = {_choice_words(ctx, tok, g.first)}",
        ],
        why="Keys are cached after RoPE has turned them by their own position; the last row's logits give "
        "new token 1.",
    )


def _fed_step(ctx: Context, inputs: Inputs, g: gen.Generation, words: list[str], number: int) -> Step:
    c, tok = inputs.prompt.loaded.config, inputs.prompt.loaded.tokenizer
    s = g.steps[number]
    h = s.head
    m, pos, hd = s.cached, s.position, c.head_dim
    shared = [q for q in range(c.n_head) if llama.kv_head_of(q, c.n_head, c.n_head_kv) == h.kv_head]
    cols = tuple(f"{i} {w}" for i, w in enumerate(words[:m]))
    weights = h.weights.astype(np.float64)
    top = int(np.argmax(weights))
    j = m - 1  # the new key: the query against itself
    q, k = h.q.astype(np.float64), h.k.astype(np.float64)
    out = h.out.astype(np.float64)
    layer, head = ZOOM.layer, ZOOM.head
    return Step(
        id=f"step-{number + 1}",
        title=f"Feed new token {number + 1}, {words[pos]} (position {pos}): one row per layer",
        formula_text="q, k = RoPE(RMSNorm(x)·W_Qᵀ, ·W_Kᵀ), v = RMSNorm(x)·W_Vᵀ (one row);  K ← [K; k], "
        "V ← [V; v];  a = softmax(K·q / √d_head);  out = a·V",
        values=[
            Value("qkv", np.stack([q, k[j], h.v[j].astype(np.float64)]),
                  label=f"the new q/k/v rows of layer {layer}'s query head {head} ({hd} numbers each)",
                  rows=("q (new query)", f"k (appended: K row {j})", f"v (appended: V row {j})"),
                  cols=index_labels(hd), detail=True),
            Value("weights", weights, label=f"layer {layer}, query head {head}: a = softmax(K·q / √{hd}) over the "
                  f"{m} cached keys", cols=cols),
        ],
        worked=[
            f"x = row {s.token} of the token embedding, the only new row; the caches held {m - 1} keys; query head "
            f"{head} reads key/value head {h.kv_head}, shared by query heads {', '.join(map(str, shared))}",
            dot_worked(ctx, f"k{j}·q", k[j], q, float(k[j] @ q)) + f"; ÷ √{hd} = {ctx.n(h.scores[j])}",
            f"softmax: most weight, {ctx.n(weights[top])}, on {top} {words[top]}; out = Σ aᵢ·vᵢ = "
            f"[{', '.join(ctx.n(x) for x in out[:2])}, …]",
            f"every cache grows to {m} rows; new token {number + 2} = {_choice_words(ctx, tok, s.choice)}",
        ],
        why="" if number else "Only the new row is computed, SwiGLU and output included; its query meets "
        "every cached key." + see("next-token"),
    )


def _other_steps(ctx: Context, inputs: Inputs, g: gen.Generation, words: list[str]) -> Step:
    tok = inputs.prompt.loaded.tokenizer
    rows = tuple((j, s.position, words[s.position], s.cached, token_text(tok, s.choice.token), s.choice.p)
                 for j, s in enumerate(g.steps[1:], start=2))
    return Step(
        id="steps",
        title=f"The other {len(g.steps) - 1} step{'s' if len(g.steps) > 2 else ''}: one row each, the cache one longer",
        formula_text="step j feeds new token j at position n + j − 1; every cache grows by one row",
        values=[Value("steps", Table(("step", "position", "token fed", "keys cached", "next token", "p"), rows),
                      label="each step: what went in, how long the cache was, what came out")],
    )


def _cache_step(ctx: Context, inputs: Inputs, g: gen.Generation, words: list[str]) -> Step:
    c = inputs.prompt.loaded.config
    m = g.cache.length
    size = np.dtype(inputs.dtype).itemsize
    keys = np.asarray(g.cache.k[ZOOM.layer][0], dtype=np.float64)  # key/value head 0: m × head_dim

    def numbers(length: int, heads: int) -> str:
        count = gen.cache_numbers(c, length, heads)
        return f"{count:,} ({human_bytes(count * size)})"

    rows = (
        (f"this run: {m} positions", numbers(m, c.n_head_kv), numbers(m, c.n_head)),
        (f"the full context: {c.context:,}", numbers(c.context, c.n_head_kv), numbers(c.context, c.n_head)),
    )
    sizes = Table(("numbers cached", f"{c.n_head_kv} kv heads (this model)", f"{c.n_head} (one per query)"), rows)
    return Step(
        id="cache",
        title=f"The cache: {m} positions × {c.n_layer} layers, K and V of {c.n_head_kv} heads × {c.head_dim}",
        formula_text=f"numbers = layers × 2 (K, V) × positions × kv heads × d_head ({size} bytes each)",
        values=[
            Value("keys", keys, label=f"layer {ZOOM.layer}, key/value head 0: its keys, a row per position", rows=tuple(f"{i} {w}" for i, w in enumerate(words[:m])),
                  cols=index_labels(c.head_dim, "k")),
            Value("size", sizes, label="with grouped-query attention and without it"),
        ],
        worked=[
            f"{c.n_layer} × 2 × {m} × {c.n_head_kv} × {c.head_dim} = {gen.cache_numbers(c, m):,}; with {c.n_head} "
            f"kv heads, {c.group}× as many (the last new token is not in it: nothing has read it yet)",
        ],
        why=f"Grouped-query attention: {c.group} query heads share each key/value head, so the cache is {c.group} "
        "times smaller. Queries are used once, never cached.",
    )


def _proof_step(inputs: Inputs, g: gen.Generation, full: np.ndarray, errors: np.ndarray) -> Step:
    c = inputs.prompt.loaded.config
    worst = float(errors.max())
    size = float(np.abs(full).max())
    total = g.sequence.size - 1
    same = all(int(np.argmax(row)) == int(np.argmax(z)) for row, z in zip(full, g.logits, strict=True))
    if inputs.dtype == np.float64:
        tolerance, digits = 1e-9, "float64 keeps about 16 digits"
    else:
        tolerance, digits = 1e-5 * max(size, 1.0), "float32 keeps about 7 digits"
    step = Step(
        id="proof",
        title=f"The cache changes nothing: largest |Δ logit| = {worst:.1e}",
        formula_text="Δ = logits with the cache − logits recomputed without it, every new token",
        worked=[
            f"recomputed: one pass over all {total} tokens with no cache (causal: row p is what tokens 0…p alone "
            f"give); over {g.tokens.size} × {c.vocab:,} logits of up to ±{size:.3g}, the largest |Δ| = {worst:.3g}: "
            f"{digits}, sums in another order round differently"
            + ("; every row's most probable token is the same" if same else ""),
        ],
        why="Not an approximation: the cache holds the keys and values a full pass computes again.",
    )
    if worst > tolerance:
        step.warnings.append(f"the difference {worst:.3g} is larger than {tolerance:.3g}")
    return step


def _cost_step(inputs: Inputs, g: gen.Generation) -> Step:
    c = inputs.prompt.loaded.config
    d, kv, f, L, V = c.d_model, gen.kv_width(c), c.d_ff, c.n_layer, c.vocab
    end = g.sequence.size
    lengths = sorted({g.prompt.size + 1, end, 256, c.context} & set(range(2, c.context + 1)))
    rows = tuple((m, gen.macs_with_cache(m, c), gen.macs_without_cache(m, c),
                  gen.macs_without_cache(m, c) / gen.macs_with_cache(m, c)) for m in lengths)
    with_end, without_end = gen.macs_with_cache(end, c), gen.macs_without_cache(end, c)
    return Step(
        id="cost",
        title="What the cache saves: multiply-adds for one new token",
        formula_text=f"with: L·(2d² + 2d·kv + 2md + 3d·f) + dV;  without: L·(m(2d² + 2d·kv) + 2m²d + 3m·d·f) + dV  "
        f"(L = {L}, d = {d}, kv = {c.n_head_kv}·{c.head_dim} = {kv}, f = {f}, V = {V:,})",
        values=[
            Value("cost", Table(("sequence length m", "with the cache", "without", "without ÷ with"), rows),
                  label="multiply-adds in the matrix products, per new token"),
        ],
        worked=[
            f"m = {end}, with: {L}·(2·{d}² + 2·{d}·{kv} + 2·{end}·{d} + 3·{d}·{f}) + {d}·{V} = {with_end:,}",
            f"m = {end}, without: {L}·({end}·(2·{d}² + 2·{d}·{kv}) + 2·{end}²·{d} + 3·{end}·{d}·{f}) + {d}·{V} = "
            f"{without_end:,} ({without_end / with_end:.1f}× as many)",
        ],
        why=f"W_K, W_V are {kv} × {d} ({c.n_head_kv} kv heads), not {d} × {d}, yet all {c.n_head} query heads score "
        "m keys. SwiGLU: 3 matrices. Norms, RoPE, SiLU, softmax: left out.",
    )


def no_script(args: Args) -> str:
    return py_refusal("the built-in models (tiny, random, a file from nntutor train)")
