"""The pipeline lesson on a GGUF model (``--model PATH.gguf``): the same path, text to the next
token, with each stage as a Llama-family model has it.

byte-level BPE tokens → ids → embedding rows (no position vector: RoPE turns Q and K
inside attention) → every block summarised at the last position (the length of its row,
what attention and SwiGLU added, how far its direction turned, the token the output
would pick from it) → the final RMSNorm → logits over the whole vocabulary → softmax at
--temperature → the next token. One head, one RMSNorm and one SwiGLU unit in full are
the real-model lesson's; this overview points there.

Only :func:`check` refuses input (one line each); :func:`build` never does. The steps
after the blocks (softmax, the next token) are the tiny model's own, from ``pipeline``.

>>> from nntutor.walkthroughs._declare import Args
>>> flags = {"model": "m.gguf", "text": "hi", "temperature": 1.0, "sample": False, "seed": 0}
>>> check(Args(flags, given={"model", "d-model"}), ("d-model",))
Traceback (most recent call last):
...
nntutor.errors.InputError: --d-model: sets up the random model; --model m.gguf has its own (add --model random)
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import numpy as np

from nntutor.core import llama
from nntutor.core.pipeline import draw_u
from nntutor.core.sampling import inverse_cdf_draw
from nntutor.core.softmax import temperature_softmax
from nntutor.errors import InputError
from nntutor.numfmt import subscript
from nntutor.trace import Step, Trace, Value
from nntutor.walkthroughs._common import Context, dot_worked, index_labels
from nntutor.walkthroughs._gguf import (
    Prompt,
    lens_runs,
    open_prompt,
    token_text,
    typed_or_default,
    unbroken,
)

TOP = 5  # the largest logits shown
PIECES = 8  # pre-tokenised pieces listed
SUMMARY = ("The whole path on a real model: byte-level BPE tokens, ids, embedding rows, the blocks, the final "
           "RMSNorm, logits, softmax, the next token.")
NARRATIVE = """\
A Llama-family model read from a GGUF file, start to end, in NumPy: each block
is RMSNorm, attention (RoPE, grouped-query heads), added; RMSNorm, SwiGLU,
added. A final RMSNorm, then the last position's vector times the output matrix
gives one logit per token; softmax at --temperature picks the next token. The
weights and the tokenizer are the file's: the prediction is the real model's."""


class GGUFInputs(NamedTuple):
    """Checked inputs for a GGUF model: the model opened (weights not yet read), the prompt tokenised."""

    prompt: Prompt
    temperature: float
    sample: bool
    seed: int
    u: float | None  # the uniform draw that picks the next token (None: greedy)


class Choice(NamedTuple):
    """The softmax and the draw, as the pipeline's last two steps read them."""

    softmax: Any  # nntutor.core.softmax.SoftmaxSteps
    overflow: bool
    draw: Any  # nntutor.core.sampling.Draw


def check(args: Any, random_only: tuple[str, ...]) -> GGUFInputs:
    """The shape flags refused (the file has its own sizes), the model opened, the prompt bounded."""
    path = args["model"].strip()
    for name in random_only:
        if name in args.given:
            raise InputError(f"--{name}", f"sets up the random model; --model {os.path.basename(path)} has its own "
                                          "(add --model random)")
    prompt = open_prompt(path, typed_or_default(args))
    seed, sample = int(args["seed"]), bool(args["sample"])
    u = draw_u(np.random.default_rng(seed)) if sample else None
    return GGUFInputs(prompt, float(args["temperature"]), sample, seed, u)


class Names:
    """Token ids as quoted text for the screen (' Paris'), written only for the ids asked for."""

    def __init__(self, tokenizer: Any, size: int) -> None:
        self.tokenizer, self.size, self.cache = tokenizer, size, {}

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int) -> str:
        i = int(i)
        if i not in self.cache:
            self.cache[i] = token_text(self.tokenizer, i)
        return self.cache[i]


class Run(NamedTuple):
    """Everything the steps show, computed once."""

    out: llama.Forward  # rows: the last position's row entering layer 0 and after every block
    h: np.ndarray  # the final RMSNorm of the last row
    gain: np.ndarray  # the final norm's gain g
    logits: np.ndarray  # (vocab,), float64
    choice: Choice


def compute(inputs: GGUFInputs) -> Run:
    """One pass over the prompt (the logit lens and the residual rows kept), the softmax and the draw."""
    loaded = inputs.prompt.loaded
    c = loaded.config
    ids = inputs.prompt.encoding.ids
    out = llama.forward(c, loaded.weights, ids, lens=True, rows=True, all_logits=False, dtype=loaded.dtype)
    gain = np.asarray(loaded.weights("output_norm.weight"), dtype=np.float64)
    h = llama.rms_norm(out.rows[-1].astype(np.float64), gain, c.rms_eps)[0]
    logits = out.logits[-1].astype(np.float64)
    steps, overflow = temperature_softmax(logits, inputs.temperature)
    draw = inverse_cdf_draw(steps.probs, inputs.u, greedy=inputs.u is None)
    return Run(out, h, gain, logits, Choice(steps, overflow, draw))


def build(ctx: Context, inputs: GGUFInputs, softmax_step, next_step, see) -> Trace:
    """The trace; ``softmax_step``/``next_step``/``see`` are the pipeline's own (shared with the tiny model)."""
    prompt = inputs.prompt
    loaded, enc = prompt.loaded, prompt.encoding
    c, tok = loaded.config, loaded.tokenizer
    r = compute(inputs)
    names = Names(tok, c.vocab)
    symbols = [tok.tokens[i] for i in enc.ids]
    recorded: dict[str, Any] = {"model": prompt.path, "text": prompt.text, "temperature": inputs.temperature,
                                "sample": inputs.sample}
    if inputs.sample:
        recorded.update({"seed": inputs.seed, "u": inputs.u})
    trace = ctx.new_trace(recorded)
    # the lesson file introduces nntutor's own models; a real one is introduced as it is
    seeded = trace.narrative.split("\n\n")[-1] if "seed" in recorded else ""
    trace.summary, trace.narrative = SUMMARY, NARRATIVE + (f"\n\n{seeded}" if seeded else "")
    trace.add(_tokenize_step(ctx, prompt, symbols, see))
    trace.add(_ids_step(ctx, prompt, symbols))
    trace.add(_embedding_step(ctx, prompt, r, names, see))
    trace.add(_blocks_step(ctx, prompt, r, names, see))
    trace.add(_final_step(ctx, prompt, r, names, see))
    trace.add(_unembed_step(ctx, prompt, r, names, see))
    softmax_step(ctx, trace, r.choice, names)
    next_step(ctx, trace, r.choice, names, inputs.seed, show=str)
    token = int(r.choice.draw.token)
    trace.outputs = {
        "tokens": symbols,
        "ids": [int(i) for i in enc.ids],
        "probs": r.choice.softmax.probs,
        "next_token": names[token],
        "next_token_id": token,
    }
    return trace


# --------------------------------------------------------------------------- steps


def _tokenize_step(ctx: Context, prompt: Prompt, symbols: list[str], see) -> Step:
    enc, tok = prompt.encoding, prompt.loaded.tokenizer
    busiest = max(range(len(enc.pieces)), key=lambda i: sum(m.piece == i for m in enc.merges))
    count = sum(m.piece == busiest for m in enc.merges)
    final = [m.result for m in enc.merges if m.piece == busiest]
    return Step(
        id="tokenize",
        title=f"Tokenize: byte-level BPE, {len(enc.pieces)} pieces → {len(enc.ids)} tokens",
        formula_text="text → pieces → bytes as symbols → the model's merges, lowest rank first",
        values=[Value("tokens", symbols, label="tokens (Ġ stands for a space)")],
        worked=[
            "pieces (a word keeps the space before it, ␣): " + " | ".join(unbroken(repr(p)) for p in enc.pieces[:PIECES])
            + (f" … ({len(enc.pieces) - PIECES} more)" if len(enc.pieces) > PIECES else ""),
            f"{enc.pieces[busiest]!r}: bytes " + " ".join(enc.symbols[busiest])
            + (f", {count} merges → " + " ".join(final[-1]) if count else ", no merge applies"),
        ],
        why=f"Every byte has a symbol of its own, so any text can be read: no <unk>. The model's "
        f"{len(tok.ranks):,} merges are read from its file." + see("bpe"),
    )


def _ids_step(ctx: Context, prompt: Prompt, symbols: list[str]) -> Step:
    enc, c = prompt.encoding, prompt.loaded.config
    return Step(
        id="ids",
        title=f"Token ids: {len(enc.ids)} tokens in a vocabulary of V = {c.vocab:,}",
        formula_text="id(t) = the row of t in the model's vocabulary (and the row of E it selects)",
        values=[Value("ids", np.asarray(enc.ids, dtype=np.int64), label="ids", cols=tuple(symbols))],
    )


def _embedding_step(ctx: Context, prompt: Prompt, r: Run, names: Names, see) -> Step:
    enc, c = prompt.encoding, prompt.loaded.config
    last = len(enc.ids) - 1
    x0 = r.out.rows[0].astype(np.float64)
    return Step(
        id="embedding",
        title=f"Embedding rows: X₀ = E[ids] ({len(enc.ids)}×{c.d_model}), no position vector added",
        formula_text=f"X₀[p] = E[id_p]   (E is V × d_model = {c.vocab:,}×{c.d_model}, from the file)",
        values=[Value("x0", x0, label=f"X₀[{last}], the row of {names[enc.ids[-1]]} (row {enc.ids[-1]} of E)",
                      cols=index_labels(c.d_model, "d"), detail=True)],
        worked=[f"X₀[{last}] = E[{enc.ids[-1]}] = ({ctx.n(x0[0])}, {ctx.n(x0[1])}, …, {ctx.n(x0[-1])}); "
                f"‖X₀[{last}]‖ = √(Σ x²) = {ctx.n(float(np.linalg.norm(x0)))}"],
        why="The tiny model adds a sinusoidal position vector at this point; a Llama model adds none: "
        "RoPE turns each head's queries and keys by an angle that grows with the position, inside "
        "attention, so q·k depends on how far apart two tokens are." + see("positional-encoding"),
    )


def _blocks_step(ctx: Context, prompt: Prompt, r: Run, names: Names, see) -> Step:
    enc, c = prompt.encoding, prompt.loaded.config
    last, L = len(enc.ids) - 1, c.n_layer
    rows = r.out.rows.astype(np.float64)
    lengths, cos = llama.residual_turns(rows)
    table = np.array([[lengths[k + 1], s.attn_norm, s.ffn_norm, cos[k]] for k, s in enumerate(r.out.layers)],
                     dtype=np.float64)
    k = int(np.argmin(cos))  # the block that turned the row most
    a, b = rows[k], rows[k + 1]
    dot = float(a @ b)
    where = f"{last}"
    return Step(
        id="blocks",
        title=f"{L} blocks at the last position ({names[enc.ids[-1]]}), summarised",
        formula_text="x ← x + Attention(RMSNorm(x)·g₁);  x ← x + SwiGLU(RMSNorm(x)·g₂)",
        values=[
            Value("layers", table, label=f"The row X[{where}] after each layer, and what the layer added",
                  rows=index_labels(L, "layer "), cols=("‖x‖ after", "‖attention‖", "‖SwiGLU‖", "cos(before, after)")),
            Value("rows", rows, label=f"X[{where}] entering layer 0 and after each layer ({L + 1}×{c.d_model})",
                  rows=("X₀", *(f"X{subscript(i + 1)}" for i in range(L))), cols=index_labels(c.d_model, "d"),
                  detail=True),
        ],
        worked=[
            f"each block: RMSNorm, causal attention with RoPE, {c.n_head} query heads over {c.n_head_kv} key/value heads "
            f"(grouped-query: {c.group} share each), added; RMSNorm, SwiGLU of {c.d_ff:,} units, added",
            f"layer {k} turns the row most: cos = X{subscript(k)}·X{subscript(k + 1)} / (‖X{subscript(k)}‖·‖X{subscript(k + 1)}‖) = "
            f"{ctx.n(dot)} / ({ctx.f(lengths[k])} × {ctx.f(lengths[k + 1])}) = {ctx.n(cos[k])}",
            "top token from the row after each layer (the logit lens: final RMSNorm, then the output matrix; "
            "␣ is a space): " + lens_runs(r.out.layers, names.__getitem__),
        ],
        why="Attention mixes in what the tokens up to this one hold, SwiGLU transforms the row on its own; "
        "both are added to it (the residual stream). One head, one RMSNorm and one SwiGLU unit in full: "
        "nntutor lesson real-model --model PATH --layer L (the same file)."
        + see("transformer-block"),
    )


def _final_step(ctx: Context, prompt: Prompt, r: Run, names: Names, see) -> Step:
    enc, c = prompt.encoding, prompt.loaded.config
    last, L = len(enc.ids) - 1, c.n_layer
    x = r.out.rows[-1].astype(np.float64)
    mean_sq = float(np.mean(x * x))
    rms = float(np.sqrt(mean_sq + c.rms_eps))
    xl = f"X{subscript(L)}[{last}]"
    return Step(
        id="final",
        title=f"Final RMSNorm; keep the last token's vector h ({c.d_model} numbers)",
        formula_text=f"h = {xl} / √(mean(x²) + ε) · g   (no mean subtracted, no bias)",
        values=[Value("h", r.h, label=f"h, the row of {names[enc.ids[-1]]}", cols=index_labels(c.d_model, "d"),
                      detail=True)],
        worked=[
            f"mean(x²) = ‖{xl}‖² / {c.d_model} = {ctx.f(float(np.linalg.norm(x)))}² / {c.d_model} = {ctx.n(mean_sq)}; "
            f"rms = √({ctx.n(mean_sq)} + {c.rms_eps:g}) = {ctx.n(rms)}",
            f"h[d0] = x[d0] / rms × g[d0] = {ctx.f(x[0])} / {ctx.n(rms)} × {ctx.f(r.gain[0])} = {ctx.n(r.h[0])}",
        ],
        why="The blocks normalise what they read, never the row itself: it is normalised once, here."
        + see("real-model"),
    )


def _unembed_step(ctx: Context, prompt: Prompt, r: Run, names: Names, see) -> Step:
    loaded = prompt.loaded
    c = loaded.config
    order = np.argsort(-r.logits, kind="stable")[:TOP]
    j = int(order[0])
    matrix = "token_embd.weight" if c.tied else "output.weight"
    row = np.asarray(loaded.weights(matrix)[j], dtype=np.float64)
    name, what = ("E", "tied: the output matrix is E itself") if c.tied else ("W_U", "the file's output matrix")
    return Step(
        id="unembed",
        title=f"Unembed: logits = h·{name}ᵀ ({c.d_model} · {c.d_model}×{c.vocab:,} → V = {c.vocab:,})",
        formula_text=f"zⱼ = h·{name}[j]   (one row per token; {what})",
        values=[Value("logits", r.logits[order], label=f"the {len(order)} largest of the {c.vocab:,} logits",
                      cols=tuple(names[int(t)] for t in order))],
        worked=[dot_worked(ctx, f"z[{names[j]}] = h·{name}[{j}]", r.h, row, float(r.logits[j])) + " (the largest logit)"],
        why="Each row stands for one token: its logit measures how far h points along it.",
    )
