"""The pipeline capstone: one trace from text to the next token.

tokenize → ids → embedding + positions → L causal pre-norm blocks → final layer
norm → the last token's vector → logits = h·W_U → softmax(z / T) → next token.

Every number comes from the cores (``nntutor.core.pipeline`` chains them); each
step summarises one stage with its shapes and a few key numbers worked out, and
names the lesson that explains it in full (``see: nntutor lesson …``).

Default run: "Was the bank flooded?", BPE learned from the built-in corpus
(47 merges, then no pair occurs twice), 6 tokens, d_model = 8, 2 blocks of 2
heads, seed 0, T = 1, greedy. The check cuts the text into tokens and draws the
model from the seed (E is V × d_model, W_U is d_model × V):

>>> flags = {"text": "Was the bank flooded?", "tokenizer": "bpe", "d-model": 8, "layers": 2,
...          "heads": 2, "temperature": 1.0, "sample": False, "seed": 0}
>>> inputs = check(Args(flags))
>>> inputs.pieces
(('Was</w>',), ('the</w>',), ('bank</w>',), ('floode', 'd', '?</w>'))
>>> len(inputs.vocab), inputs.weights.E.shape, inputs.weights.W_U.shape
(88, (88, 8), (8, 88))
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from nntutor.core import ffn as ffn_core
from nntutor.core import multihead as mha_core
from nntutor.core.bpe import encode_steps, initial_symbols, merge_ranks
from nntutor.core.embedding import norms
from nntutor.core.pipeline import (
    CORPUS,
    FFN_EXPANSION,
    MIN_FREQUENCY,
    UNK,
    Forward,
    PipelineWeights,
    build_vocabulary,
    draw_u,
    forward,
    ids_with_unk,
    learned_bpe,
    random_pipeline_weights,
    segment,
    words_of,
)
from nntutor.core.sampling import rank
from nntutor.errors import InputError
from nntutor.trace import Step, Table, Trace, Value
from nntutor.walkthroughs._common import Context, dot_worked, index_labels, sum_worked
from nntutor.walkthroughs._declare import Args, Input, Target, Walkthrough
from nntutor.walkthroughs._transformer import check_memory, shape_text
from nntutor.walkthroughs.multi_head import check_heads

MAX_TOKENS = 256  # every token gets a row in every table: more is unreadable
TOP = 5  # tokens listed in the ranked table


def see(*lessons: str) -> str:
    return " See: " + "; ".join(f"nntutor lesson {name}" for name in lessons) + "."


class Inputs(NamedTuple):
    """Checked inputs: the text cut into tokens, the model's sizes, its weights drawn from the seed."""

    text: str  # the text to continue, as typed
    tokenizer: str  # "bpe" or "whitespace"
    words: tuple[str, ...]  # the text's words (at least one)
    pieces: tuple[tuple[str, ...], ...]  # each word's tokens (at most MAX_TOKENS in all)
    vocab: tuple[str, ...]  # the tokenizer's vocabulary, <unk> first
    d_model: int  # the width of every token vector (even, a multiple of heads)
    layers: int  # the number of blocks
    heads: int  # attention heads per block
    temperature: float  # T of the softmax
    sample: bool  # draw the next token (else greedy)
    seed: int  # the seed E, the blocks, W_U and u were drawn from
    weights: PipelineWeights  # E, the blocks' weights and W_U, drawn from the seed in that order
    u: float | None  # the uniform draw that picks the next token (None: greedy), drawn after the weights


# --------------------------------------------------------------------------- check


def check(args: Args) -> Inputs:
    """Some words, an even d_model that h divides, at most MAX_TOKENS tokens, within the memory limit."""
    text, tokenizer = args["text"], args["tokenizer"]
    d, heads, layers = args["d-model"], args["heads"], args["layers"]
    words = words_of(text)
    if not words:
        raise InputError("--text", 'has no words (expected some text, e.g. "Was the bank flooded?")')
    if d % 2:
        raise InputError(
            "--d-model", f"{d} is odd (expected an even number: the positional encoding pairs dimensions as sin, cos)"
        )
    check_heads(d, heads, "d-model", args.given)
    pieces = segment(words, tokenizer)
    n = sum(len(p) for p in pieces)
    if n > MAX_TOKENS:
        raise InputError("--text", f"gives {n} tokens; at most {MAX_TOKENS} (every token gets a row in every table)")
    d_ff = FFN_EXPANSION * d
    attention = layers * mha_core.estimate_bytes(n, d, heads)
    feed = layers * ffn_core.estimate_bytes(n, d, d_ff)
    flag = ("--heads" if heads > 1 else "--text") if attention >= feed else "--d-model"
    check_memory(flag, attention + feed + 8 * 16 * layers * n * d, f"{layers} blocks of {heads} heads, d_model = {d}, on {n} tokens")
    vocab = build_vocabulary(tokenizer)
    seed, sample = int(args["seed"]), bool(args["sample"])
    rng = np.random.default_rng(seed)
    weights = random_pipeline_weights(rng, len(vocab), d, layers)
    u = draw_u(rng) if sample else None
    return Inputs(
        text, tokenizer, words, pieces, vocab, d, layers, heads, float(args["temperature"]), sample, seed, weights, u
    )


# --------------------------------------------------------------------------- build


def build(ctx: Context, inputs: Inputs) -> Trace:
    tokenizer, words, pieces, vocab = inputs.tokenizer, inputs.words, inputs.pieces, inputs.vocab
    d, heads, layers = inputs.d_model, inputs.heads, inputs.layers
    T, sample, seed = inputs.temperature, inputs.sample, inputs.seed
    weights, u = inputs.weights, inputs.u

    tokens = tuple(t for p in pieces for t in p)
    ids, unknown = ids_with_unk(vocab, tokens)
    r = forward(ids, weights, heads=heads, temperature=T, u=u)

    recorded: dict[str, Any] = {
        "text": inputs.text, "tokenizer": tokenizer, "d-model": d, "layers": layers, "heads": heads,
        "temperature": T, "sample": sample, "seed": seed, "corpus": CORPUS, "vocab": list(vocab),
    }
    if tokenizer == "bpe":
        recorded["merges"] = [list(p) for p in learned_bpe().pairs]
    recorded.update({"d_ff": FFN_EXPANSION * d, "E": weights.E, "blocks": [dict(w) for w in weights.blocks], "W_U": weights.W_U})
    if sample:
        recorded["u"] = u
    trace = ctx.new_trace(recorded)

    rows = tuple(f"{i} {t}" for i, t in enumerate(tokens))
    feats = index_labels(d, "d")
    _tokenize_step(ctx, trace, tokenizer, words, pieces, vocab)
    _ids_step(ctx, trace, vocab, tokens, ids, unknown, tokenizer)
    _embedding_step(ctx, trace, vocab, tokens, r, rows, feats, seed)
    _positions_step(ctx, trace, r, rows, feats)
    for k in range(layers):
        _block_step(ctx, trace, r, k, heads, rows, feats, tokens)
    _final_norm_step(ctx, trace, r, rows, feats, tokens)
    _unembed_step(ctx, trace, r, vocab, feats)
    _softmax_step(ctx, trace, r, vocab)
    _next_step(ctx, trace, r, vocab, seed)

    trace.outputs = {
        "tokens": list(tokens),
        "ids": [int(i) for i in ids],
        "probs": r.probs,
        "next_token": vocab[r.next_id],
        "next_token_id": r.next_id,
    }
    return trace


# --------------------------------------------------------------------------- steps


def _tokenize_step(ctx, trace: Trace, tokenizer: str, words, pieces, vocab) -> None:
    n = sum(len(p) for p in pieces)
    table = Table(("word", "tokens"), tuple((w, " ".join(p)) for w, p in zip(words, pieces, strict=True)))
    if tokenizer == "whitespace":
        trace.add(
            Step(
                id="tokenize",
                title=f"Tokenize: {len(words)} words → {n} tokens (whitespace)",
                formula=r"\text{tokens} = \text{the text split at whitespace}",
                formula_text="tokens = the text split at whitespace",
                values=[Value("segmentation", table, label="words and their tokens"), Value("tokens", list(p[0] for p in pieces))],
                worked=[
                    f"every word is one token; the vocabulary is the {len(vocab) - 1} distinct words of the "
                    f"built-in corpus plus {UNK}, so a word spelled differently (other case, punctuation "
                    "attached) is a different token, and an unseen one is unknown"
                ],
                why="Word-level tokens are easy to read but the vocabulary can never hold every word: "
                "anything new becomes <unk> and its meaning is lost. BPE (the default) splits a new word "
                "into known pieces instead." + see("bpe", "embedding"),
            )
        )
        return
    bpe = learned_bpe()
    ranks = merge_ranks(bpe.pairs)
    # Work the word that needed the most merges (ties: the first).
    steps = [encode_steps(w, ranks) for w in words]
    j = max(range(len(words)), key=lambda i: (len(steps[i]), -i))
    worked = [
        f"corpus: {sum(bpe.word_counts.values())} words ({len(bpe.word_counts)} distinct); "
        f"{len(bpe.merges)} merges learned, then "
        + (
            f"the best pair, {' + '.join(bpe.stop_pair)}, occurs {bpe.stop_frequency} time(s), fewer than {MIN_FREQUENCY}"
            if bpe.stop == "min-frequency"
            else ("no pair was left" if bpe.stop == "no-pairs" else "the merge limit was reached")
        ),
        "first merges: " + ", ".join(f"{a} + {b} → {a + b} ({m.frequency}×)" for m, (a, b) in zip(bpe.merges[:6], bpe.pairs[:6], strict=True)),
        f"{words[j]!r}: start from " + " ".join(initial_symbols(words[j])),
    ]
    for rank_, (a, b), after in steps[j][:10]:
        worked.append(f"  merge #{rank_ + 1} {a} + {b} → " + " ".join(after))
    if len(steps[j]) > 10:
        worked.append(f"  … {len(steps[j]) - 10} more merges → " + " ".join(pieces[j]))
    merges = Table(
        ("#", "pair", "new symbol", "count"),
        tuple((m.rank, f"{a} {b}", a + b, m.frequency) for m, (a, b) in zip(bpe.merges, bpe.pairs, strict=True)),
    )
    trace.add(
        Step(
            id="tokenize",
            title=f"Tokenize: {len(words)} words → {n} tokens (BPE, {len(bpe.merges)} merges from the built-in corpus)",
            formula=r"\text{word} \to \text{characters} \to \text{apply the learned merges, earliest first}",
            formula_text="word → characters (last one + </w>) → apply the learned merges, earliest first",
            values=[
                Value("segmentation", table, label="words and their tokens"),
                Value("merges", merges, label="merges learned from the corpus, in order"),
            ],
            worked=worked,
            why="Byte-pair encoding learns which character sequences are frequent in a corpus and "
            "makes them single symbols; a word it never saw is still split into known pieces. "
            "'</w>' marks the end of a word, so 'd' inside a word and 'd</w>' at its end are "
            "different tokens." + see("bpe"),
        )
    )


def _ids_step(ctx, trace: Trace, vocab, tokens, ids, unknown, tokenizer: str) -> None:
    table = Table(
        ("position", "token", "id", ""),
        tuple((i, t, int(ids[i]), f"unknown → {UNK}" if unknown[i] else "") for i, t in enumerate(tokens)),
    )
    n_unknown = sum(unknown)
    step = Step(
        id="ids",
        title=f"Token ids: {len(tokens)} tokens in a vocabulary of V = {len(vocab)}",
        formula=r"\mathrm{id}(t) = \text{the row of } t \text{ in the vocabulary}, \ \text{or } \mathrm{id}(\langle unk \rangle) = 0",
        formula_text=f"id(t) = the row of t in the vocabulary; a token not in it gets id({UNK}) = 0",
        values=[Value("ids_table", table, label="tokens and their ids"), Value("ids", ids, label="ids", cols=index_labels(len(tokens)))],
        worked=[
            (
                f"vocabulary: {UNK} (id 0), the corpus's {len(vocab) - 1} "
                + ("symbols (characters, then one new symbol per merge)" if tokenizer == "bpe" else "distinct words")
            ),
            f"{tokens[0]!r} → id {int(ids[0])}" + (f" ({UNK}: not in the vocabulary)" if unknown[0] else f" (vocab[{int(ids[0])}] = {vocab[int(ids[0])]!r})"),
            f"{n_unknown} of {len(tokens)} tokens unknown",
        ],
        why="From here on a token is only its number: the id selects a row of the embedding table, "
        "and every unknown token shares the same <unk> row." + see("embedding"),
    )
    for i, t in enumerate(tokens):
        if unknown[i]:
            step.warnings.append(f"{t!r} (position {i}) is not in the vocabulary: it is mapped to {UNK} (id 0).")
    if n_unknown == len(tokens):
        trace.warnings.append(
            f"every token is unknown: the model sees only {UNK} at each position (the positions still differ)."
        )
    trace.add(step)


def _embedding_step(ctx, trace: Trace, vocab, tokens, r: Forward, rows, feats, seed: int) -> None:
    n = ctx.n
    X = r.lookup.vectors
    E = trace.inputs["E"]
    i = int(r.ids[0])
    trace.add(
        Step(
            id="embedding",
            title=f"Embedding lookup: E[ids] ({len(vocab)}×{E.shape[1]} table → {shape_text(X)})",
            formula=r"X_{\text{emb}}[p] = E[\mathrm{id}_p] = \mathrm{onehot}(\mathrm{id}_p)\, E",
            formula_text="X_emb[p] = E[id_p] = onehot(id_p)·E",
            values=[
                Value("E", E, label=f"E ({len(vocab)}×{E.shape[1]}), seeded", rows=vocab, cols=feats),
                Value("embedded", X, label=f"X_emb ({shape_text(X)})", rows=rows, cols=feats),
            ],
            worked=[
                f"E drawn from np.random.default_rng({seed}): N(0, 1), rounded to 2 decimals (an untrained model)",
                f"position 0, {tokens[0]!r}, id {i}: X_emb[0] = E[{i}] = [{', '.join(n(v) for v in X[0])}]",
                f"onehot({i})·E picks the same row: it has a single 1, at column {i}",
            ],
            why="The embedding table holds one learned vector per vocabulary entry; here it is random, "
            "so the prediction at the end means nothing, but every number on the way is real." + see("embedding"),
        )
    )


def _positions_step(ctx, trace: Trace, r: Forward, rows, feats) -> None:
    n, f = ctx.n, ctx.f
    pos = r.positions
    p = min(1, pos.pe.shape[0] - 1)
    d = pos.d_model
    worked = [
        f"PE[{p}, d0] = sin({p} / 10000^(0/{d})) = sin({n(pos.angles[p, 0])}) = {n(pos.pe[p, 0])}; "
        f"PE[{p}, d1] = cos({n(pos.angles[p, 0])}) = {n(pos.pe[p, 1])}",
        f"X₀[{p}, d0] = {n(r.lookup.vectors[p, 0])} + {f(pos.pe[p, 0])} = {n(r.x0[p, 0])}",
    ]
    trace.add(
        Step(
            id="positions",
            title=f"Add the sinusoidal positional encoding ({shape_text(pos.pe)})",
            formula=r"X_0 = X_{\text{emb}} + PE, \quad PE_{p,2i} = \sin\frac{p}{10000^{2i/d}},\ PE_{p,2i+1} = \cos\frac{p}{10000^{2i/d}}",
            formula_text="X₀ = X_emb + PE,  PE[p, 2i] = sin(p / 10000^(2i/d)),  PE[p, 2i+1] = cos(p / 10000^(2i/d))",
            values=[
                Value("pe", pos.pe, label=f"PE ({shape_text(pos.pe)})", rows=rows, cols=feats, heat=True),
                Value("x0", r.x0, label=f"X₀ = X_emb + PE ({shape_text(r.x0)})", rows=rows, cols=feats),
            ],
            worked=worked,
            why="A causal attention layer sees which tokens come before a position but not in what order: "
            "position p averages over the tokens 0…p with weights that depend only on their vectors, so "
            "shuffling the earlier tokens leaves its output unchanged ('dog bites man' and 'bites dog man' "
            "look the same from 'man'). Adding a different pattern at each position makes the order "
            "visible to the blocks." + see("positional-encoding"),
        )
    )


def _block_step(ctx, trace: Trace, r: Forward, k: int, heads: int, rows, feats, tokens) -> None:
    n, f = ctx.n, ctx.f
    b = r.blocks[k]
    L = len(r.blocks)
    last = b.x.shape[0] - 1
    weights = np.stack([h.weights for h in b.mha.heads])
    x_in = "X₀" if k == 0 else f"X{_sub(k)}"
    x_out = f"X{_sub(k + 1)}"
    a = int(np.argmax(weights[0, last]))
    before, after = norms(b.x[last:])[0], norms(b.y[last:])[0]
    worked = [
        f"LN₁: row {last} ({tokens[last]!r}) has μ = {n(b.ln1.mean[last])}, σ² = {n(b.ln1.var[last])} → mean 0, variance ≈ 1, then γ₁, β₁",
        f"causal attention, head 1, last row: weights over positions 0…{last} = [{', '.join(n(v) for v in weights[0, last][:12])}"
        + (", …" if last >= 12 else "")
        + f"] (sum 1; most on position {a}, {tokens[a]!r})",
        f"h[{last}, d0] = {x_in}[{last}, d0] + MHA[{last}, d0] = {n(b.x[last, 0])} + {f(b.mha.output[last, 0])} = {n(b.residual1[last, 0])}",
        f"{x_out}[{last}, d0] = h[{last}, d0] + FFN[{last}, d0] = {n(b.after_attention[last, 0])} + {f(b.ffn.y[last, 0])} = {n(b.y[last, 0])}",
        f"length of the last row: |{x_in}[{last}]| = {n(before)} → |{x_out}[{last}]| = {n(after)}",
    ]
    trace.add(
        Step(
            id=f"block-{k + 1}",
            title=f"Block {k + 1} of {L}: pre-norm, causal, {heads} heads, d_ff = {b.ffn.hidden.shape[1]} "
            f"({shape_text(b.x)} → {shape_text(b.y)})",
            formula=r"h = X + \mathrm{MHA}(\mathrm{LN}_1(X)), \quad X' = h + \mathrm{FFN}(\mathrm{LN}_2(h))",
            formula_text=f"h = {x_in} + MHA(LN₁({x_in})),  {x_out} = h + FFN(LN₂(h))   (MHA causal: position p sees 0…p)",
            values=[
                Value("attention_weights", weights, label=f"attention weights ({heads}×{len(rows)}×{len(rows)}, one matrix per head)", rows=rows, cols=rows, heat=True),
                Value("after_attention", b.after_attention, label=f"h = {x_in} + MHA(LN₁({x_in}))", rows=rows, cols=feats),
                Value("y", b.y, label=f"{x_out} = h + FFN(LN₂(h)) ({shape_text(b.y)})", rows=rows, cols=feats),
            ],
            worked=worked,
            why="Each block lets every token gather information from the tokens before it (attention, "
            "causal: never from later ones, since those are what the model must predict), then "
            "transforms each token on its own (FFN); both results are added to the running vector "
            "(the residual stream). Block weights are seeded, N(0, 1/fan-in) rounded to 2 decimals."
            + see("transformer-block", "attention", "multi-head", "layernorm", "ffn"),
        )
    )


def _sub(k: int) -> str:
    return "".join("₀₁₂₃₄₅₆₇₈₉"[int(c)] for c in str(k))


def _final_norm_step(ctx, trace: Trace, r: Forward, rows, feats, tokens) -> None:
    n, f = ctx.n, ctx.f
    fin = r.final
    last = fin.x.shape[0] - 1
    L = len(r.blocks)
    trace.add(
        Step(
            id="final",
            title=f"Final layer norm; keep the last token's vector h ({shape_text(fin.y)} → {r.h_last.size})",
            formula=r"\mathbf{h} = \mathrm{LN}_f(X_L)[n-1] = \frac{X_L[n-1] - \mu}{\sqrt{\sigma^2 + \varepsilon}}",
            formula_text=f"h = LN_f(X{_sub(L)})[{last}] = (X{_sub(L)}[{last}] − μ) / √(σ² + ε)   (γ = 1, β = 0)",
            values=[
                Value("final", fin.y, label=f"LN_f(X{_sub(L)}) ({shape_text(fin.y)})", rows=rows, cols=feats),
                Value("h", r.h_last, label=f"h = row {last}, {tokens[last]!r}", cols=feats),
            ],
            worked=[
                sum_worked(ctx, f"Σ X{_sub(L)}[{last}]", fin.x[last], float(np.sum(fin.x[last])))
                + f"; μ = that / {fin.width} = {n(fin.mean[last])}",
                f"σ² = Σ(x − μ)² / {fin.width} = {n(fin.var[last])}",
                f"h[d0] = ({n(fin.x[last, 0])} − {f(fin.mean[last])}) / √({n(fin.var[last])} + {n(fin.eps)}) = {n(r.h_last[0])}",
            ],
            why="Pre-norm blocks add to the residual stream without normalising it, so GPT-2-style models "
            "normalise once more at the end. Only the last position's vector is needed to predict the "
            "next token: causal attention has already brought into it what it needs from the earlier ones."
            + see("layernorm", "next-token"),
        )
    )


def _unembed_step(ctx, trace: Trace, r: Forward, vocab, feats) -> None:
    s = r.sampling
    j = int(np.argmax(s.logits))
    trace.add(
        Step(
            id="unembed",
            title=f"Unembed: logits = h·W_U ({s.h.size} · {s.h.size}×{len(vocab)} → {len(vocab)})",
            formula=r"z_j = \mathbf{h} \cdot W_U[:, j]",
            formula_text="zⱼ = h·W_U[:, j]   (one logit per vocabulary entry)",
            values=[
                Value("W_U", s.W_U, label=f"W_U ({s.h.size}×{len(vocab)}), seeded", rows=feats, cols=vocab),
                Value("logits", s.logits, label="z = h·W_U", cols=vocab),
            ],
            worked=[
                dot_worked(ctx, f"z[{vocab[j]}]", s.h, s.W_U[:, j], float(s.logits[j])) + " (the largest logit)",
                "W_U drawn after the blocks: N(0, 1/d) rounded to 2 decimals",
            ],
            why="Each column of W_U is a direction standing for one token; the logit measures how far h "
            "points along it." + see("next-token"),
        )
    )


def _ranked(r: Forward, vocab, count: int) -> Table:
    s = r.sampling
    order = rank(s.softmax.probs)[:count]
    return Table(
        ("rank", "token", "logit", "p"),
        tuple((i + 1, vocab[int(t)], float(s.logits[t]), float(s.softmax.probs[t])) for i, t in enumerate(order)),
    )


def _softmax_step(ctx, trace: Trace, r: Forward, vocab) -> None:
    n, f = ctx.n, ctx.f
    sm = r.sampling.softmax
    T = sm.temperature
    order = rank(sm.probs)
    top = int(order[0])
    j = int(order[1]) if order.size > 1 else top  # the runner-up: its exponential is not e^0
    worked = []
    if not r.sampling.overflow:
        worked.append(
            f"z[{vocab[j]}]/T = {n(sm.logits[j])} / {n(T)} = {n(sm.scaled[j])}; minus the largest "
            f"(z[{vocab[top]}]/T = {n(sm.maximum)}): e^({n(sm.scaled[j])} − {f(sm.maximum)}) = e^{f(sm.shifted[j])} = {n(sm.exps[j])}"
        )
    worked.append(sum_worked(ctx, "Σ e^(z/T − max)", sm.exps, sm.total))
    worked.append(f"p[{vocab[j]}] = {n(sm.exps[j])} / {n(sm.total)} = {n(sm.probs[j])}")
    worked.append(f"p[{vocab[top]}] = e^0 / {n(sm.total)} = {n(sm.probs[top])} (the most probable)")
    step = Step(
        id="softmax",
        title=f"Softmax at temperature T = {n(T)} ({len(vocab)} probabilities)",
        formula=r"p_j = \frac{e^{z_j / T}}{\sum_k e^{z_k / T}}",
        formula_text="pⱼ = e^(zⱼ/T) / Σₖ e^(zₖ/T)",
        values=[
            Value("probs", sm.probs, label="p = softmax(z / T)", cols=vocab),
            Value("top", _ranked(r, vocab, min(TOP, len(vocab))), label=f"the {min(TOP, len(vocab))} most probable tokens"),
        ],
        worked=worked,
        why="Softmax turns logits into probabilities that sum to 1; T below 1 sharpens them, above 1 "
        "flattens them." + see("softmax", "next-token"),
    )
    if r.sampling.overflow:
        step.warnings.append(
            f"T = {n(T)} is so small that z/T overflows float64; the T → 0 limit was used: "
            "all the probability goes to the largest logit(s)."
        )
    trace.add(step)


def _next_step(ctx, trace: Trace, r: Forward, vocab, seed: int) -> None:
    n = ctx.n
    dr = r.sampling.draw
    token = vocab[dr.token]
    if dr.greedy:
        worked = [f"greedy: the largest probability is p[{token}] = {n(dr.probs[0])}, so the next token is {token!r} (id {dr.token})"]
        title = f"Next token (greedy): {token!r}"
        formula, formula_text = r"\text{next} = \arg\max_j p_j", "next = argmax pⱼ"
        why = ("Greedy decoding takes the most probable token (ties: the lower id), so the result does "
               "not depend on T. Add --sample to draw from p instead.")
    else:
        i = dr.position
        worked = [
            f"u = {n(dr.u)} (drawn from np.random.default_rng({seed}) after all the weights, floored to 4 decimals)",
            f"tokens ranked by p, laid end to end on [0, 1): {n(dr.lower[i])} ≤ {n(dr.u)} < {n(dr.upper[i])} is the slice of rank {i + 1}, {token!r}",
        ]
        title = f"Next token (sampled): u = {n(dr.u)} picks {token!r}"
        formula = r"\text{next} = \text{the first ranked token with } \sum_{s \le r} p_{(s)} > u"
        formula_text = "next = the first ranked token whose cumulative p exceeds u,  u ~ U[0, 1)"
        why = "Sampling picks each token with its probability (inverse-CDF sampling); another --seed gives another u."
    trace.add(
        Step(
            id="next-token",
            title=title,
            formula=formula,
            formula_text=formula_text,
            values=[Value("next_token", token)],
            worked=worked,
            why=why + " Appending the token to the text and running the pipeline again generates text, one token at a time."
            + see("next-token"),
        )
    )


def script(trace: Trace) -> str:
    """The whole decoder, text to next token, as NumPy source (``--format py``)."""
    from nntutor.walkthroughs._script import SOFTMAX_ROWS, heading

    if trace.inputs["tokenizer"] == "bpe":
        tokenize = [
            "rank = {}",
            "for number, (a, b) in enumerate(merges):",
            "    rank.setdefault((a, b), number)",
            "",
            "",
            "def merge(symbols, pair):",
            "    out, i = [], 0",
            "    while i < len(symbols):",
            "        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:",
            "            out.append(symbols[i] + symbols[i + 1])",
            "            i += 2",
            "        else:",
            "            out.append(symbols[i])",
            "            i += 1",
            "    return out",
            "",
            "",
            "def segment(word):",
            "    \"\"\"Characters (the last with </w>), then the earliest merge, again.\"\"\"",
            "    symbols = list(word[:-1]) + [word[-1] + '</w>']",
            "    while len(symbols) > 1:",
            "        known = [pair for pair in zip(symbols, symbols[1:]) if pair in rank]",
            "        if not known:",
            "            break",
            "        symbols = merge(symbols, min(known, key=rank.get))",
            "    return symbols",
            "",
            "",
            "tokens = [token for word in text.split() for token in segment(word)]",
        ]
    else:
        tokenize = ["tokens = text.split()  # whitespace: every word is a token"]
    if trace.inputs["sample"]:
        choose = [
            "order = np.argsort(-probs, kind='stable')  # most probable first",
            "cdf = np.cumsum(probs[order])",
            "next_token_id = int(order[min(int(np.searchsorted(cdf, u, side='right')), len(order) - 1)])",
        ]
    else:
        choose = ["next_token_id = int(np.argmax(probs))  # greedy: the most probable token"]
    return "\n".join([
        SOFTMAX_ROWS,
        "",
        "",
        "def layer_norm(v, gamma, beta, eps=1e-5):",
        "    mean = v.mean(axis=-1, keepdims=True)",
        "    var = ((v - mean) ** 2).mean(axis=-1, keepdims=True)",
        "    return gamma * (v - mean) / np.sqrt(var + eps) + beta",
        "",
        "",
        "def block(x, w):",
        "    \"\"\"A pre-norm block, causal: h = x + MHA(LN₁(x)), y = h + FFN(LN₂(h)).\"\"\"",
        "    a = layer_norm(x, w['ln1_gamma'], w['ln1_beta'])",
        "    q = a @ w['wq'] + w['bq']",
        "    k = a @ w['wk'] + w['bk']",
        "    v = a @ w['wv'] + w['bv']",
        "    d_h = x.shape[1] // heads",
        "    causal = np.tril(np.ones((len(x), len(x)), dtype=bool))",
        "    outputs = []",
        "    for i in range(heads):",
        "        s = slice(i * d_h, (i + 1) * d_h)",
        "        weights = softmax_rows(q[:, s] @ k[:, s].T / math.sqrt(d_h), causal)",
        "        outputs.append(weights @ v[:, s])",
        "    h = x + np.concatenate(outputs, axis=1) @ w['wo'] + w['bo']",
        "    f = layer_norm(h, w['ln2_gamma'], w['ln2_beta'])",
        "    return h + np.maximum(f @ w['W1'] + w['b1'], 0.0) @ w['W2'] + w['b2']",
        "",
        "",
        heading(trace, "tokenize"),
        *tokenize,
        "",
        heading(trace, "ids"),
        "unknown = vocab.index('<unk>')",
        "ids = [vocab.index(token) if token in vocab else unknown for token in tokens]",
        "",
        heading(trace, "embedding"),
        "x = E[ids]",
        "",
        heading(trace, "positions"),
        "divisors = 10000.0 ** (np.arange(0, d_model, 2) / d_model)",
        "angles = np.arange(len(ids))[:, None] / divisors",
        "pe = np.empty((len(ids), d_model))",
        "pe[:, 0::2], pe[:, 1::2] = np.sin(angles), np.cos(angles)",
        "x = x + pe",
        "",
        "# Steps 5 on. The blocks, one after another",
        "for w in blocks:",
        "    x = block(x, w)",
        "",
        heading(trace, "final"),
        "h = layer_norm(x, 1.0, 0.0)[-1]",
        "",
        heading(trace, "unembed"),
        "logits = h @ W_U",
        "",
        heading(trace, "softmax"),
        "e = np.exp((logits - logits.max()) / temperature)",
        "probs = e / e.sum()",
        "",
        heading(trace, "next-token"),
        *choose,
        "next_token = vocab[next_token_id]",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "text": Input("text"),
        "tokenizer": Input("choice", choices=("bpe", "whitespace")),
        "d-model": Input("integer", minimum=2, maximum=512),
        "layers": Input("integer", minimum=1, maximum=8),
        "heads": Input("integer", minimum=1),
        "temperature": Input("scalar", above=0),
        "sample": Input("flag"),
        "seed": Input("integer", minimum=0),
    },
    targets=(
        Target("positions", "x0", uses=("embedding.embedded", "positions.pe"), symbol="X₀"),
        # the first logits only: their columns of W_U are the ones a screen shows
        Target("unembed", "logits", rows=(0, 1, 2), uses=("final.h", "unembed.W_U"), symbol="z"),
    ),
    script=script,
)
