"""The pipeline capstone: one trace from text to the next token.

tokenize → ids → embedding + positions → L causal pre-norm blocks → final layer
norm → the last token's vector → logits = h·W_U → softmax(z / T) → next token.

With ``--model PATH.gguf`` a Llama-family model runs instead (``walkthroughs/_pipeline_gguf``):
the same path as that architecture has it (byte-level BPE, no position vector, RMSNorm,
RoPE, SwiGLU), every block summarised; the softmax and next-token steps are shared.

Every number comes from the cores (``nntutor.core.pipeline`` chains them); each
step summarises one stage with its shapes and a few key numbers worked out, and
names the lesson that explains it in full (``see: nntutor lesson …``).

Default run: the trained model (``--model tiny``) on "the fisher sat on the",
greedy at T = 1: it predicts "bank". With ``--model random`` the model is drawn
from the seed: BPE learned from the built-in corpus (47 merges, then no pair
occurs twice), d_model = 8, 2 blocks of 2 heads (E is V × d_model, W_U is
d_model × V):

>>> flags = {"model": "random", "text": "Was the bank flooded?", "tokenizer": "bpe", "d-model": 8, "layers": 2,
...          "heads": 2, "temperature": 1.0, "sample": False, "seed": 0}
>>> inputs = check(Args(flags))
>>> inputs.pieces
(('Was</w>',), ('the</w>',), ('bank</w>',), ('floode', 'd', '?</w>'))
>>> len(inputs.vocab), inputs.weights.E.shape, inputs.weights.W_U.shape
(88, (88, 8), (8, 88))

With ``--model tiny`` (the default) the model, its sizes and its tokenizer are the trained ones:

>>> trained = check(Args({**flags, "model": "tiny", "text": "the fisher sat on the"}))
>>> trained.pieces[1], trained.d_model, len(trained.vocab)
(('fisher</w>',), 32, 238)
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
from nntutor.numfmt import subscript
from nntutor.trace import Step, Table, Trace, Value
from nntutor.walkthroughs._common import Context, answer, dot_worked, index_labels, sum_worked
from nntutor.walkthroughs._declare import Args, Input, Target, Walkthrough
from nntutor.walkthroughs._gguf import is_gguf
from nntutor.walkthroughs._transformer import check_memory, shape_text
from nntutor.walkthroughs.multi_head import check_heads

MAX_TOKENS = 256  # every token gets a row in every table: more is unreadable
TOP = 5  # tokens listed in the ranked table


def see(*lessons: str) -> str:
    return " See: " + "; ".join(f"nntutor lesson {name}" for name in lessons) + "."


class Inputs(NamedTuple):
    """Checked inputs: the text cut into tokens, the model (trained, or its weights drawn from the seed)."""

    model: str  # "tiny", "random" or a model file's path
    about: str  # where the weights came from, for the screen
    merges: tuple[tuple[str, str], ...]  # the BPE merges the tokenizer applies, in order
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


RANDOM_ONLY = ("tokenizer", "d-model", "layers", "heads")


def check(args: Args) -> Any:
    """--model tiny or PATH: the trained model with its own tokenizer; --model PATH.gguf: a Llama-family
    model with its own (``_pipeline_gguf``); --model random: some words, an even d_model that h divides,
    at most MAX_TOKENS tokens, within the memory limit."""
    if is_gguf(args["model"]):
        from nntutor.walkthroughs import _pipeline_gguf

        return _pipeline_gguf.check(args, RANDOM_ONLY)
    if args["model"].strip() != "random":
        return _check_trained(args)
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
    merges = tuple(learned_bpe().pairs) if tokenizer == "bpe" else ()
    about = f"random weights from --seed {seed} (untrained: its prediction means nothing)"
    return Inputs(
        "random", about, merges, text, tokenizer, words, pieces, vocab, d, layers, heads, float(args["temperature"]),
        sample, seed, weights, u,
    )


def _check_trained(args: Args) -> Inputs:
    """The trained model (or a file): its own tokenizer, sizes and weights; the shape flags are for --model random."""
    from nntutor.core.bpe import encode_word
    from nntutor.models.tokenizer import normalize
    from nntutor.walkthroughs._model import choose

    for name in RANDOM_ONLY:
        if name in args.given:
            raise InputError(f"--{name}", f"sets up the random model; --model {args['model'].strip()} has its own (add --model random)")
    m = choose(args["model"])
    text = args["text"]
    words = tuple(normalize(text))
    if not words:
        raise InputError("--text", 'has no words (expected some text, e.g. "the fisher sat on the")')
    merges = tuple(m.source.tokenizer.merges)
    ranks = merge_ranks(merges)
    pieces = tuple(encode_word(w, ranks) for w in words)
    n = sum(len(p) for p in pieces)
    if n > m.context:
        raise InputError("--text", f"gives {n} tokens; the model's context is {m.context}")
    seed, sample = int(args["seed"]), bool(args["sample"])
    u = draw_u(np.random.default_rng(seed)) if sample else None
    return Inputs(
        m.name, m.about, merges, text, "bpe", words, pieces, m.vocab, m.d_model, m.layers, m.heads,
        float(args["temperature"]), sample, seed, m.weights, u,
    )


# --------------------------------------------------------------------------- build


def build(ctx: Context, inputs: Any) -> Trace:
    if not isinstance(inputs, Inputs):  # a GGUF model
        from nntutor.walkthroughs import _pipeline_gguf

        trace = _pipeline_gguf.build(ctx, inputs, _softmax_step, _next_step, see)
        next_id = trace.outputs["next_token_id"]
        trace.result = answer(
            trace, "tokenize.tokens=tokens read", "next-token.next_token=the next token",
            Value("p_next", float(trace.outputs["probs"][next_id]),
                  label=f"its probability p[{trace.outputs['next_token']}]"),
        )
        return trace
    tokenizer, words, pieces, vocab = inputs.tokenizer, inputs.words, inputs.pieces, inputs.vocab
    d, heads, layers = inputs.d_model, inputs.heads, inputs.layers
    T, sample, seed = inputs.temperature, inputs.sample, inputs.seed
    weights, u = inputs.weights, inputs.u

    tokens = tuple(t for p in pieces for t in p)
    ids, unknown = ids_with_unk(vocab, tokens)
    r = forward(ids, weights, heads=heads, temperature=T, u=u)

    # A trained model's tokenizer lower-cases and splits "." and ",": the text recorded is what it
    # read (its words, space-separated), so splitting the recorded text at spaces gives its words.
    read = inputs.text if inputs.model == "random" else " ".join(words)
    recorded: dict[str, Any] = {
        "model": inputs.model, "text": read, "tokenizer": tokenizer, "d-model": d, "layers": layers, "heads": heads,
        "temperature": T, "sample": sample, "seed": seed, "vocab": list(vocab),
    }
    if inputs.model == "random":
        recorded["corpus"] = CORPUS
    elif read != inputs.text:
        recorded["typed_text"] = inputs.text
    if tokenizer == "bpe":
        recorded["merges"] = [list(p) for p in inputs.merges]
    recorded.update({"d_ff": int(np.shape(weights.blocks[0]["W1"])[1]), "E": weights.E, "blocks": [dict(w) for w in weights.blocks], "W_U": weights.W_U})
    if weights.final_gamma is not None:
        recorded.update({"final_gamma": weights.final_gamma, "final_beta": weights.final_beta})
    if sample:
        recorded["u"] = u
    if inputs.model != "random" and not sample:  # a trained model, greedy: nothing was drawn
        del recorded["seed"]
    trace = ctx.new_trace(recorded)

    rows = tuple(f"{i} {t}" for i, t in enumerate(tokens))
    feats = index_labels(d, "d")
    _tokenize_step(ctx, trace, inputs, words, pieces, vocab)
    _ids_step(ctx, trace, vocab, tokens, ids, unknown, tokenizer)
    _positions_step(ctx, trace, inputs, r, rows, feats, tokens)
    for k in range(layers):
        _block_step(ctx, trace, r, k, heads, tokens, feats)
    _final_norm_step(ctx, trace, r, rows, feats, tokens)
    _unembed_step(ctx, trace, r, vocab, feats)
    _softmax_step(ctx, trace, r.sampling, vocab)
    _next_step(ctx, trace, r.sampling, vocab, seed)

    trace.result = answer(
        trace, "tokenize.tokens=tokens read", "next-token.next_token=the next token",
        Value("p_next", float(r.probs[r.next_id]), label=f"its probability p[{vocab[r.next_id]}]"),
    )
    trace.outputs = {
        "tokens": list(tokens),
        "ids": [int(i) for i in ids],
        "probs": r.probs,
        "next_token": vocab[r.next_id],
        "next_token_id": r.next_id,
    }
    return trace


# --------------------------------------------------------------------------- steps


def _tokenize_step(ctx, trace: Trace, inputs: Inputs, words, pieces, vocab) -> None:
    n = sum(len(p) for p in pieces)
    tokens = [t for p in pieces for t in p]
    if inputs.tokenizer == "whitespace":
        trace.add(
            Step(
                id="tokenize",
                title=f"Tokenize: {len(words)} words → {n} tokens (whitespace)",
                formula_text="tokens = the text split at whitespace",
                values=[Value("tokens", tokens, label="tokens")],
                worked=[
                    f"every word is one token; the vocabulary is the {len(vocab) - 1} distinct words of the "
                    f"built-in corpus plus {UNK}: a word spelled differently (case, punctuation) is another "
                    "token, and an unseen one is unknown"
                ],
                why="BPE (the default) splits a new word into known pieces instead." + see("bpe", "embedding"),
            )
        )
        return
    ranks = merge_ranks(inputs.merges)
    # Work the word that needed the most merges (ties: the first).
    steps = [encode_steps(w, ranks) for w in words]
    j = max(range(len(words)), key=lambda i: (len(steps[i]), -i))
    source = ("merges learned from the built-in corpus of the random model" if inputs.model == "random"
              else f"--model {inputs.model}'s tokenizer learned them from its training corpus")
    worked = [f"{len(inputs.merges)} merges: {source}"]
    chain = " → ".join(" ".join(after) for _, _, after in steps[j][:6])
    if steps[j]:
        worked.append(f"{words[j]!r}: {' '.join(initial_symbols(words[j]))} → {chain}"
                      + (f" → … ({len(steps[j]) - 6} more merges)" if len(steps[j]) > 6 else ""))
    trace.add(
        Step(
            id="tokenize",
            title=f"Tokenize: {len(words)} words → {n} tokens (BPE)",
            formula_text="word → characters (the last one + </w>) → apply the learned merges, earliest first",
            values=[Value("tokens", tokens, label="tokens")],
            worked=worked,
            why="Frequent character sequences are single symbols; '</w>' ends a word." + see("bpe"),
        )
    )


def _ids_step(ctx, trace: Trace, vocab, tokens, ids, unknown, tokenizer: str) -> None:
    n_unknown = sum(unknown)
    step = Step(
        id="ids",
        title=f"Token ids: {len(tokens)} tokens in a vocabulary of V = {len(vocab)}",
        formula_text=f"id(t) = the row of t in the vocabulary; a token not in it gets id({UNK}) = 0",
        worked=[
            "ids: " + ", ".join(str(int(i)) for i in ids),
            f"{tokens[0]!r} → id {int(ids[0])}" + (f" ({UNK}: not in the vocabulary)" if unknown[0] else f" (vocab[{int(ids[0])}] = {vocab[int(ids[0])]!r})")
            + f"; {n_unknown} of {len(tokens)} tokens unknown",
        ],
        why="From here on a token is only its number: the id selects a row of the embedding table."
        + see("embedding"),
    )
    for i, t in enumerate(tokens):
        if unknown[i]:
            step.warnings.append(f"{t!r} (position {i}) is not in the vocabulary: it is mapped to {UNK} (id 0).")
    if n_unknown == len(tokens):
        trace.warnings.append(
            f"every token is unknown: the model sees only {UNK} at each position (the positions still differ)."
        )
    trace.add(step)


def _positions_step(ctx, trace: Trace, inputs: Inputs, r: Forward, rows, feats, tokens) -> None:
    n, f = ctx.n, ctx.f
    pos = r.positions
    p = min(1, pos.pe.shape[0] - 1)
    d = pos.d_model
    E = trace.inputs["E"]
    i = int(r.ids[p])
    trace.add(
        Step(
            id="positions",
            title=f"Embedding plus position: X₀ = E[ids] + PE ({shape_text(r.x0)})",
            formula_text="X₀[p] = E[id_p] + PE[p],  PE[p, 2i] = sin(p / 10000^(2i/d)),  PE[p, 2i+1] = cos(p / 10000^(2i/d))",
            values=[Value("x0", r.x0, label=f"X₀ ({shape_text(r.x0)}: one row per token)", rows=rows, cols=feats, detail=True)],
            worked=[
                f"E is {E.shape[0]}×{E.shape[1]}: {inputs.about}; position {p}, {tokens[p]!r}, reads row {i}: "
                f"E[{i}, d0] = {n(r.lookup.vectors[p, 0])}",
                f"PE[{p}, d0] = sin({p} / 10000^(0/{d})) = sin({n(pos.angles[p, 0])}) = {n(pos.pe[p, 0])}; "
                f"X₀[{p}, d0] = {n(r.lookup.vectors[p, 0])} + {f(pos.pe[p, 0])} = {n(r.x0[p, 0])}",
            ],
            why="A causal attention layer sees which tokens come before a position, not their order: shuffling the "
            "earlier tokens leaves its output unchanged. A different pattern at each position shows the order."
            + see("embedding", "positional-encoding"),
        )
    )


def _block_step(ctx, trace: Trace, r: Forward, k: int, heads: int, tokens, feats) -> None:
    n, f = ctx.n, ctx.f
    b = r.blocks[k]
    L = len(r.blocks)
    last = b.x.shape[0] - 1
    weights = np.stack([h.weights for h in b.mha.heads])
    x_in = "X₀" if k == 0 else f"X{subscript(k)}"
    x_out = f"X{subscript(k + 1)}"
    tops = [int(np.argmax(weights[h, last])) for h in range(heads)]
    before, after = norms(b.x[last:])[0], norms(b.y[last:])[0]
    worked = [
        "last token: " + "; ".join(f"head {h + 1} puts most weight, {n(weights[h, last, t])}, on {t} {tokens[t]!r}" for h, t in enumerate(tops)),
        f"{x_out}[{last}, d0] = {x_in}[{last}, d0] + MHA + FFN = {n(b.x[last, 0])} + {f(b.mha.output[last, 0])} + "
        f"{f(b.ffn.y[last, 0])} = {n(b.y[last, 0])}; |{x_in}[{last}]| = {n(before)} → |{x_out}[{last}]| = {n(after)}",
    ]
    positions = tuple(f"{i} {t}" for i, t in enumerate(tokens))
    values = [Value("attention_weights", weights[:, last, :], label="the last token's attention weights, one row per head",
                    rows=tuple(f"head {h + 1}" for h in range(heads)), cols=positions, heat=True)]
    if ctx.full:  # --full: every position's weights and the block's two outputs, as in transformer-block
        values += [
            Value("all_weights", weights, label=f"every position's attention weights ({heads}×{len(tokens)}×{len(tokens)}, one matrix per head)",
                  rows=positions, cols=positions, heat=True),
            Value("after_attention", b.after_attention, label=f"h = {x_in} + MHA(LN₁({x_in}))", rows=positions, cols=feats),
            Value("y", b.y, label=f"{x_out} = h + FFN(LN₂(h)) ({shape_text(b.y)})", rows=positions, cols=feats),
        ]
    why = ""
    if k == 0:
        why = ("Each block lets every token gather from the tokens before it (causal attention), then "
               "transforms each token on its own (FFN); both are added to the running vector (the residual "
               "stream)." + see("transformer-block", "attention", "multi-head", "layernorm", "ffn"))
    trace.add(
        Step(
            id=f"block-{k + 1}",
            title=f"Block {k + 1} of {L}: pre-norm, causal, {heads} heads, d_ff = {b.ffn.hidden.shape[1]} ({shape_text(b.y)})",
            formula_text=f"h = {x_in} + MHA(LN₁({x_in})),  {x_out} = h + FFN(LN₂(h))   (position p sees 0…p)",
            values=values,
            worked=worked,
            why=why,
            detail=k > 0,  # the later blocks repeat the first one's computation; --full shows them
        )
    )


def _final_norm_step(ctx, trace: Trace, r: Forward, rows, feats, tokens) -> None:
    n, f = ctx.n, ctx.f
    fin = r.final
    last = fin.x.shape[0] - 1
    L = len(r.blocks)
    trace.add(
        Step(
            id="final",
            title=f"Final layer norm; keep the last token's vector h ({r.h_last.size} numbers)",
            formula_text=f"h = LN_f(X{subscript(L)})[{last}] = γ·(X{subscript(L)}[{last}] − μ) / √(σ² + ε) + β",
            values=[Value("h", r.h_last, label=f"h = row {last}, {tokens[last]!r}", cols=feats)],
            worked=[
                (f"X{subscript(L)}[{last}, d0] = {n(fin.x[last, 0])} (block {L}'s output); " if L > 1 else "")
                + f"μ = {n(fin.mean[last])}, σ² = {n(fin.var[last])}; h[d0] = {n(fin.gamma[0])}·({n(fin.x[last, 0])} − {f(fin.mean[last])}) "
                f"/ √({n(fin.var[last])} + {n(fin.eps)}) + {f(fin.beta[0])} = {n(r.h_last[0])}",
            ],
            why="Pre-norm blocks never normalise the residual stream, so it is normalised once at the end; "
            "the last position has seen every token."
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
            formula_text="zⱼ = h·W_U[:, j]   (one logit per vocabulary entry)",
            values=[Value("logits", s.logits, label="z = h·W_U", cols=vocab)],
            worked=[dot_worked(ctx, f"z[{vocab[j]}]", s.h, s.W_U[:, j], float(s.logits[j])) + " (the largest logit)",
                    f"W_U is {s.h.size}×{len(vocab)}: one column per token (--format json has every number)"],
            why="Each column of W_U stands for one token; its logit measures how far h points along it."
            + see("next-token"),
        )
    )


def _ranked(r: Forward, vocab, count: int) -> Table:
    s = r.sampling
    order = rank(s.softmax.probs)[:count]
    return Table(
        ("rank", "token", "logit", "p"),
        tuple((i + 1, vocab[int(t)], float(s.logits[t]), float(s.softmax.probs[t])) for i, t in enumerate(order)),
    )


def _softmax_step(ctx, trace: Trace, s, vocab) -> None:
    """``s`` has the softmax stages and whether z/T overflowed (core.sampling.Sampling, or the GGUF run's)."""
    n = ctx.n
    sm = s.softmax
    T = sm.temperature
    order = rank(sm.probs)
    top = int(order[0])
    shown = [int(t) for t in order[:TOP]]
    names = tuple(vocab[t] for t in shown)
    j = shown[1] if len(shown) > 1 else top
    worked = [
        # the largest terms first: a few tokens hold most of the sum
        sum_worked(ctx, "Σ e^(z/T − max), largest first", np.sort(sm.exps)[::-1], sm.total),
        f"p[{vocab[j]}] = e^({n(sm.scaled[j])} − {ctx.f(sm.maximum)}) / {n(sm.total)} = {n(sm.exps[j])} / {n(sm.total)} = {n(sm.probs[j])}",
    ]
    step = Step(
        id="softmax",
        title=f"Softmax at temperature T = {n(T)} ({len(vocab):,} probabilities)",
        formula_text="pⱼ = e^(zⱼ/T − max) / Σₖ e^(zₖ/T − max)",
        values=[
            Value("z/T", sm.scaled[shown], label=f"the {len(shown)} most probable tokens: z/T", cols=names),
            Value("total", sm.total, label="Σ e^(z/T − max) over all tokens"),
            Value("p", sm.probs[shown], label="and their probabilities p", cols=names),
        ],
        worked=worked,
        why="T below 1 sharpens the probabilities, above 1 flattens them." + see("softmax", "next-token"),
    )
    if s.overflow:
        step.warnings.append(
            f"T = {n(T)} is so small that z/T overflows float64; the T → 0 limit was used: "
            "all the probability goes to the largest logit(s)."
        )
    trace.add(step)


def _next_step(ctx, trace: Trace, s, vocab, seed: int, show=repr) -> None:
    """``s.draw`` picks the token; ``show`` writes it (a GGUF model's token names are quoted already)."""
    n = ctx.n
    dr = s.draw
    token = vocab[dr.token]
    if dr.greedy:
        worked = [f"greedy: the largest probability is p[{token}] = {n(dr.probs[0])}, so the next token is {show(token)} (id {dr.token})"]
        title = f"Next token (greedy): {show(token)}"
        formula_text = "next = argmax pⱼ"
        why = "Greedy decoding takes the most probable token; --sample draws from p instead."
    else:
        i = dr.position
        worked = [
            f"u = {n(dr.u)} (from --seed {seed}, floored to 4 decimals); ranked by p and laid end to end on [0, 1): "
            f"{n(dr.lower[i])} ≤ {n(dr.u)} < {n(dr.upper[i])} is the slice of rank {i + 1}, {show(token)}",
        ]
        title = f"Next token (sampled): u = {n(dr.u)} picks {show(token)}"
        formula_text = "next = the first ranked token whose cumulative p exceeds u,  u ~ U[0, 1)"
        why = "Sampling picks each token with its probability (inverse-CDF sampling)."
    trace.add(
        Step(
            id="next-token",
            title=title,
            formula_text=formula_text,
            values=[Value("next_token", token, label="next token")],
            worked=worked,
            why=why + " Appending the token and running again generates text." + see("next-token", "generate"),
        )
    )


def script(trace: Trace) -> str:
    """The whole decoder, text to next token, as NumPy source (``--format py``)."""
    from nntutor.walkthroughs._script import BPE_SEGMENT, SOFTMAX_ROWS, heading

    reason = no_script(Args({"model": trace.inputs.get("model")}))
    if reason:
        raise InputError("--format", reason)
    if trace.inputs["tokenizer"] == "bpe":
        tokenize = [
            *BPE_SEGMENT.splitlines(),
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
    # A trained model learned the final norm's γ and β; the random one has γ = 1, β = 0.
    first_block = next(i for i, step in enumerate(trace.steps, 1) if step.id == "block-1")
    final = ("final_gamma, final_beta" if "final_gamma" in trace.inputs else "1.0, 0.0")
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
        heading(trace, "positions"),
        "x = E[ids]",
        "divisors = 10000.0 ** (np.arange(0, d_model, 2) / d_model)",
        "angles = np.arange(len(ids))[:, None] / divisors",
        "pe = np.empty((len(ids), d_model))",
        "pe[:, 0::2], pe[:, 1::2] = np.sin(angles), np.cos(angles)",
        "x = x + pe",
        "",
        f"# Steps {first_block} on. The blocks, one after another",
        "for w in blocks:",
        "    x = block(x, w)",
        "",
        heading(trace, "final"),
        f"h = layer_norm(x, {final})[-1]",
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


def no_script(args: Args) -> str | None:
    """Why --format py is refused for these arguments: a GGUF file (None for tiny, random or an nntutor model)."""
    if not is_gguf(args["model"]):
        return None
    from nntutor.walkthroughs._gguf import py_refusal

    return py_refusal("nntutor's own models", "use --model tiny or random")


def notice(inputs: Any) -> str | None:
    """What a GGUF run will cost, said before its weights are read (None for nntutor's own models)."""
    if isinstance(inputs, Inputs):
        return None
    from nntutor.walkthroughs._gguf import notice as gguf_notice

    return gguf_notice(inputs.prompt)


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    notice=notice,
    no_script=no_script,
    inputs={
        "model": Input("path"),
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
        Target("softmax", "p", uses=("softmax.z/T", "softmax.total"), symbol="p"),
    ),
    script=script,
    keep=("model",),
)
