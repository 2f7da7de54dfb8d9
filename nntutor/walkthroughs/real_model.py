"""The real-model lesson: a Llama-architecture GGUF model's next token, every layer summarised,
one layer, head and position expanded in full arithmetic.

Without --model, the built-in tiny untrained model (:mod:`nntutor.models.demo`) runs: 2
layers, d_model 16, 4 query heads over 2 key/value heads. Its default run tokenises "The
capital of France is" into The | ␣capital | ␣of | ␣France | ␣is, expands layer 1, head 0
at position 4 (the last token) and lists the 10 most probable next tokens.

>>> from nntutor.catalog.run import run_lesson
>>> from nntutor.catalog.lessonfile import load_lesson
>>> trace = run_lesson(load_lesson("real-model"), {})
>>> [step.id for step in trace.steps]
['file', 'tokens', 'layers', 'rmsnorm', 'rope', 'scores', 'softmax', 'swiglu', 'next-token']
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import numpy as np

from nntutor.core import llama
from nntutor.errors import InputError
from nntutor.numfmt import human_bytes
from nntutor.trace import Step, Table, Trace, Value
from nntutor.walkthroughs._common import Context, dot_worked, index_labels, sum_worked
from nntutor.walkthroughs._declare import Args, Input, Target, Walkthrough

MAX_TOKENS = 256  # the prompt, in tokens: bounds the time of a NumPy pass and the attention rows shown
MAX_SECONDS = 120.0  # estimated time of one pass above which a model is refused up front
MAX_PEAK_BYTES = 8_000_000_000  # estimated memory above which a model is refused up front
MERGES_SHOWN = 8  # merges of one piece written out


class Inputs(NamedTuple):
    """Checked inputs: the model opened (not yet run), the prompt tokenised, the place to expand."""

    loaded: Any  # nntutor.models.llama_model.Loaded
    path: str | None  # --model (None: the built-in tiny model)
    text: str
    encoding: Any  # nntutor.core.byte_bpe.Encoding of the text
    layer: int
    head: int
    position: int
    top: int
    estimate: Any  # nntutor.models.gguf_file.Estimate


def _in_range(flag: str, value: int, count: int, what: str) -> None:
    if not 0 <= value < count:
        raise InputError(flag, f"{value} is out of range: this model has {count} {what}, numbered 0 to {count - 1}")


def check(args: Args) -> Inputs:
    """The model opened and validated, the text tokenised and bounded, --layer/--head/--position in range."""
    from nntutor.models.gguf_file import estimate
    from nntutor.models.llama_model import load_model

    text = args["text"]
    if not text:
        raise InputError("--text", "is empty (give a prompt, e.g. --text \"The capital of France is\")")
    loaded = load_model(args["model"])
    config = loaded.config
    encoding = loaded.tokenizer.encode(text)
    n = len(encoding.ids)
    if n > config.context:
        raise InputError("--text", f"is {n:,} tokens, longer than this model's context of {config.context:,} tokens")
    if n > MAX_TOKENS:
        raise InputError("--text", f"is {n:,} tokens; this lesson runs at most {MAX_TOKENS} (NumPy computes every layer in front of you)")
    layer = config.n_layer // 2 if args["layer"] is None else int(args["layer"])
    _in_range("--layer", layer, config.n_layer, "layers")
    _in_range("--head", int(args["head"]), config.n_head, "query heads")
    position = n - 1 if args["position"] is None else int(args["position"])
    _in_range("--position", position, n, "tokens in --text")
    cost = estimate(config, loaded.model.file_bytes, n)
    if cost.seconds > MAX_SECONDS or cost.peak_bytes > MAX_PEAK_BYTES:
        raise InputError("--model", f"would need about {human_bytes(cost.peak_bytes)} and {cost.seconds:.0f} s for one pass "
                         f"(at most {human_bytes(MAX_PEAK_BYTES)} and {MAX_SECONDS:.0f} s): choose a smaller model")
    return Inputs(loaded, args["model"], text, encoding, layer, int(args["head"]), position, int(args["top"]), cost)


# --------------------------------------------------------------------------- build


def _tok(tokenizer, token_id: int) -> str:
    """A token as text, quoted, control characters escaped: ' Paris', '\\n'; a lone byte as <0xA5>."""
    text = tokenizer.decode([int(token_id)])
    if "\ufffd" in text and len(tokenizer.tokens[int(token_id)]) == 1:  # part of a UTF-8 character
        from nntutor.core.byte_bpe import byte_symbols

        symbol = tokenizer.tokens[int(token_id)]
        if symbol in byte_symbols():
            return f"<0x{byte_symbols().index(symbol):02X}>"
    return repr(text)


def _file_step(ctx: Context, inputs: Inputs) -> Step:
    model, c = inputs.loaded.model, inputs.loaded.config
    kv = c.n_head_kv * c.head_dim
    per_layer = 2 * c.d_model * c.d_model + 2 * kv * c.d_model + 3 * c.d_model * c.d_ff + 2 * c.d_model
    embed = c.vocab * c.d_model
    types = ", ".join(f"{name} ×{count}" for name, count in model.type_counts().most_common())
    groups = "; ".join(
        f"heads {g * c.group}–{g * c.group + c.group - 1} share K/V head {g}" if c.group > 1 else f"head {g}: K/V head {g}"
        for g in range(min(c.n_head_kv, 3))
    ) + ("; …" if c.n_head_kv > 3 else "")
    rows = (
        ("model", f"{model.name} ({os.path.basename(inputs.path)})" if inputs.path
         else f"{model.name}; pass --model PATH.gguf (see: nntutor models)"),
        ("architecture", f"llama: {c.n_layer} layers, d_model {c.d_model}, d_ff {c.d_ff}"),
        ("attention", f"{c.n_head} query heads, {c.n_head_kv} key/value heads, {c.head_dim} numbers each"),
        ("vocabulary", f"{c.vocab:,} tokens, context {c.context:,}; output "
                       + ("tied (the embedding, reused)" if c.tied else "its own matrix")),
        ("stored as", f"{model.quantisation()} mostly ({types} tensors)"
                      + (f", {human_bytes(model.file_bytes)}" if model.file_bytes else "")
                      + "; dequantised to floats as each layer runs"),
        ("estimate", f"peak about {human_bytes(inputs.estimate.peak_bytes)}, about {inputs.estimate.seconds:.1f} s "
                     f"for {len(inputs.encoding.ids)} tokens"),
    )
    return Step(
        id="file",
        title="The model file: what it holds",
        values=[Value("facts", Table(("", ""), rows), label="Read from its metadata")],
        worked=[
            f"per layer: 2×{c.d_model}×{c.d_model} (W_Q, W_O) + 2×{kv}×{c.d_model} (W_K, W_V) + "
            f"3×{c.d_model}×{c.d_ff} (gate, up, down) + 2×{c.d_model} (gains) = {per_layer:,}; "
            f"in all {c.n_layer}×{per_layer:,} + {c.vocab:,}×{c.d_model} (embedding)"
            + ("" if c.tied else f" + {c.vocab:,}×{c.d_model} (output)") + f" + {c.d_model} (final gain) = "
            f"{c.n_layer * per_layer + embed * (1 if c.tied else 2) + c.d_model:,}",
            f"grouped-query attention, {c.n_head} / {c.n_head_kv} = {c.group} query heads per key/value head: {groups}",
        ],
        why="Quantised types store blocks of weights as small integers with a scale (Q4_1: 32 weights as "
        "4-bit integers, a scale and a minimum per block).",
    )


def _token_step(ctx: Context, inputs: Inputs) -> Step:
    enc, tok = inputs.encoding, inputs.loaded.tokenizer
    rows = []
    token_at = 0
    for index, (piece, symbols) in enumerate(zip(enc.pieces, enc.symbols, strict=True)):
        merges = [m for m in enc.merges if m.piece == index]
        final = merges[-1].result if merges else symbols
        ids = enc.ids[token_at: token_at + len(final)]
        token_at += len(final)
        rows.append((repr(piece), " ".join(symbols), str(len(merges)), " | ".join(final), ", ".join(map(str, ids))))
    busiest = max(range(len(enc.pieces)), key=lambda i: sum(m.piece == i for m in enc.merges))
    chain = [m for m in enc.merges if m.piece == busiest]
    worked = [f"{repr(enc.pieces[busiest])}: " + " ".join(enc.symbols[busiest])]
    worked += [f"  merge {m.left} + {m.right} (rank {m.rank:,}) → {' '.join(m.result)}" for m in chain[:MERGES_SHOWN]]
    if len(chain) > MERGES_SHOWN:
        worked.append(f"  … {len(chain) - MERGES_SHOWN} more merges")
    return Step(
        id="tokens",
        title=f"Tokenise with the model's own BPE: {len(enc.pieces)} pieces → {len(enc.ids)} tokens",
        values=[Value("pieces", Table(("piece", "byte symbols", "merges", "tokens", "ids"), tuple(rows)),
                      label="Pieces, their bytes and tokens")],
        worked=worked,
        why=f"Pieces keep a space with the word after it, so no token spans two words. Each byte becomes one "
        f"printable symbol; the file's {len(tok.ranks):,} merges, ranked in the order they were learned, are "
        f"applied inside each piece, the lowest rank first.",
    )


def _lens_runs(tok, layers: list[llama.LayerSummary]) -> str:
    """The logit lens as runs of layers with the same top token: "0: ' a' 0.45; 1–4: '.'; …"."""
    runs: list[str] = []
    start = 0
    for i in range(1, len(layers) + 1):
        if i == len(layers) or layers[i].lens_top != layers[start].lens_top:
            span = f"{start}" if i - 1 == start else f"{start}–{i - 1}"
            runs.append(f"{span} {_tok(tok, layers[start].lens_top)}")
            start = i
    return "; ".join(runs) + f" (p = {layers[-1].lens_prob:.2f} after the last)"


def _layers_step(ctx: Context, inputs: Inputs, out: llama.Forward, tokens: list[str]) -> Step:
    p, tok, c = inputs.position, inputs.loaded.tokenizer, inputs.loaded.config
    norms = np.array([[la.norm_in, la.attn_norm, la.ffn_norm, la.norm_out] for la in out.layers], dtype=np.float64)
    return Step(
        id="layers",
        title=f"Every layer at position {p} ({tokens[p]}), summarised: {c.n_layer} blocks",
        formula_text="x ← x + Attention(RMSNorm(x)·g₁);  x ← x + SwiGLU(RMSNorm(x)·g₂)",
        values=[Value("norms", norms, label=f"Lengths of the row of {tokens[p]} and of what each block adds",
                      rows=index_labels(c.n_layer, "layer "), cols=("‖x‖ in", "‖attention‖", "‖FFN‖", "‖x‖ out"))],
        worked=[f"x₀ = row {inputs.encoding.ids[p]} of the token embedding ({c.vocab:,}×{c.d_model}), "
                f"‖x₀‖ = {ctx.n(out.layers[0].norm_in)}",
                f"logit lens, by layer: {_lens_runs(tok, out.layers)}"],
        why="Each block adds what attention gathered from earlier tokens and what the feed-forward made of the "
        "row. The logit lens: the token the final norm and output matrix would pick from the row so far.",
    )


def _rmsnorm_step(ctx: Context, inputs: Inputs, out: llama.Forward, tokens: list[str]) -> Step:
    h, L, p = out.head, inputs.layer, inputs.position
    d = h.x_row.size
    x = h.x_row.astype(np.float64)
    mean_sq = float(np.mean(x * x))
    eps = inputs.loaded.config.rms_eps
    worked = [sum_worked(ctx, f"mean(x²) = (1/{d})·Σ x²", x * x / d, mean_sq),
              f"rms = √(mean(x²) + ε) = √({ctx.n(mean_sq)} + {eps:g}) = {ctx.n(h.rms)}"]
    worked += [f"y[{j}] = x[{j}] / rms × g[{j}] = {ctx.f(x[j])} / {ctx.n(h.rms)} × {ctx.f(h.gain[j])} = {ctx.n(h.normed_row[j])}"
               for j in range(min(1, d))]
    rows = np.vstack([x, h.gain.astype(np.float64), h.normed_row.astype(np.float64)])
    return Step(
        id="rmsnorm",
        title=f"Layer {L}, RMSNorm of the row of {tokens[p]} (position {p})",
        formula_text="y = x / √(mean(x²) + ε) · g",
        values=[Value("rmsnorm", rows, label=f"x entering layer {L}, its gain g, y = x / rms · g ({d} numbers each)",
                      rows=("x", "g", "y"), cols=index_labels(d, "d"))],
        worked=worked,
        why="Unlike layer norm, RMSNorm subtracts no mean and adds no bias: it only rescales the row to a "
        "steady size, however much the residual stream has grown.",
    )


def _rope_step(ctx: Context, inputs: Inputs, out: llama.Forward) -> Step:
    h, p, c = out.head, inputs.position, inputs.loaded.config
    hd = c.head_dim
    worked = []
    for i in sorted({0, hd // 2 - 1}):
        theta = c.rope_base ** (-2 * i / hd)
        a, b = float(h.q_raw[2 * i]), float(h.q_raw[2 * i + 1])
        worked.append(
            f"pair {i} (q[{2 * i}], q[{2 * i + 1}]): θ = {c.rope_base:g}^(−{2 * i}/{hd}) = {theta:.4g}, angle {p}×θ = {p * theta:.4g} rad; "
            f"({ctx.f(a)}·{ctx.n(h.cos[i])} − {ctx.f(b)}·{ctx.n(h.sin[i])}, {ctx.f(a)}·{ctx.n(h.sin[i])} + {ctx.f(b)}·{ctx.n(h.cos[i])}) "
            f"= ({ctx.n(h.q[2 * i])}, {ctx.n(h.q[2 * i + 1])})")
    return Step(
        id="rope",
        title=f"Rotary position embedding: head {inputs.head}'s query at position {p}",
        formula_text="(q₂ᵢ, q₂ᵢ₊₁) ← (q₂ᵢ cos pθᵢ − q₂ᵢ₊₁ sin pθᵢ, q₂ᵢ sin pθᵢ + q₂ᵢ₊₁ cos pθᵢ),  θᵢ = base^(−2i/d_head)",
        values=[Value("q", np.vstack([h.q_raw, h.q]).astype(np.float64), label=f"head {inputs.head}'s query q = y·W_Qᵀ ({hd} numbers)",
                      rows=("before", "after"), cols=index_labels(hd, "q"))],
        worked=worked,
        why="Queries and keys are turned pair by pair by their position (the first pairs fast, the last slowly), "
        "so q·k depends on how far apart two tokens are. In GGUF the pairs are adjacent coordinates: "
        "llama.cpp's converter reorders the rows of W_Q and W_K (Hugging Face pairs i with i + d_head/2).",
    )


def _scores_step(ctx: Context, inputs: Inputs, out: llama.Forward, tokens: list[str]) -> Step:
    h, c, p = out.head, inputs.loaded.config, inputs.position
    hd = c.head_dim
    shared = [q for q in range(c.n_head) if llama.kv_head_of(q, c.n_head, c.n_head_kv) == h.kv_head]
    cols = tuple(tokens[: p + 1])
    j = int(np.argmax(h.scores))
    worked = [dot_worked(ctx, f"q·k[{j}]", h.q, h.k[j], float(h.q.astype(np.float64) @ h.k[j].astype(np.float64)))
              + f"; ÷ √{hd} = {ctx.n(h.scores[j])}"]
    return Step(
        id="scores",
        title=f"Layer {inputs.layer}, head {inputs.head}: scores of {tokens[p]} against positions 0…{p}",
        formula_text="score[j] = q · k[j] / √d_head  (j ≤ position: the causal mask hides later tokens)",
        values=[Value("scores", h.scores.astype(np.float64), label="scores", cols=cols)],
        worked=[f"query head {inputs.head} reads key/value head {h.kv_head}, shared by query heads "
                f"{', '.join(map(str, shared))}; each key was rotated by its own position"] + worked,
        why=f"Grouped-query attention: {c.n_head} query heads share {c.n_head_kv} key/value heads, which "
        f"shrinks the KV cache {c.group}-fold.",
    )


def _softmax_step(ctx: Context, inputs: Inputs, out: llama.Forward, tokens: list[str]) -> Step:
    h, p = out.head, inputs.position
    s = h.scores.astype(np.float64)
    e = np.exp(s - s.max())
    total = float(e.sum())
    worked = [sum_worked(ctx, "Σ e^(score − max)", e, total)]
    shown = sorted({0, int(np.argmax(s)), p})
    worked += [f"a[{j}] = e^({ctx.f(s[j])} − {ctx.f(s.max())}) / {ctx.n(total)} = {ctx.n(e[j])} / {ctx.n(total)} = {ctx.n(h.weights[j])}"
               for j in shown]
    v0 = h.v[:, 0].astype(np.float64)
    worked.append(dot_worked(ctx, f"output[0] (of {h.out.size}) = Σ a[j]·v[j][0]", h.weights, v0, float(h.out[0])))
    return Step(
        id="softmax",
        title=f"Softmax of the scores: how much {tokens[p]} reads from each earlier token",
        formula_text="a[j] = e^(score[j] − max) / Σ e^(score − max);   output = Σ a[j]·v[j]",
        values=[Value("weights", h.weights.astype(np.float64), label="a (the softmax row)", cols=tuple(tokens[: p + 1]))],
        worked=worked,
        why="W_O then mixes this head's output with the other heads'.",
    )


def _swiglu_step(ctx: Context, inputs: Inputs, out: llama.Forward, tokens: list[str]) -> Step:
    f, p = out.ffn, inputs.position
    u = f.unit
    g, up = float(f.gate[u]), float(f.up[u])
    silu = g / (1.0 + np.exp(-g))
    off = int(np.count_nonzero(np.abs(f.hidden) < 0.01 * np.abs(f.hidden).max()))
    return Step(
        id="swiglu",
        title=f"Layer {inputs.layer}, SwiGLU of the row of {tokens[p]}: its strongest hidden unit",
        formula_text="hidden = SiLU(b·W_gateᵀ) ⊙ (b·W_upᵀ),  SiLU(z) = z / (1 + e^(−z));  out = hidden·W_downᵀ",
        worked=[f"b = RMSNorm of the row after attention: rms {ctx.n(f.rms)}, ‖b‖ = {ctx.n(float(np.linalg.norm(f.normed_row)))}",
                dot_worked(ctx, f"gate[{u}] = b·W_gate[{u}]", f.normed_row, f.w_gate_row, g),
                f"SiLU(gate[{u}]) = {ctx.f(g)} / (1 + e^{ctx.f(-g)}) = {ctx.n(silu)}",
                dot_worked(ctx, f"up[{u}] = b·W_up[{u}]", f.normed_row, f.w_up_row, up),
                f"hidden[{u}] = {ctx.n(silu)} × {ctx.f(up)} = {ctx.n(f.hidden[u])}",
                f"{off} of {f.hidden.size} hidden units are below 1% of the strongest; out = hidden·W_downᵀ, "
                f"‖out‖ = {ctx.n(float(np.linalg.norm(f.out)))}"],
        why="The gate decides how much of each 'up' unit passes: SiLU is near 0 for very negative inputs and "
        "near z for positive ones.",
    )


def _next_step(ctx: Context, inputs: Inputs, out: llama.Forward) -> tuple[Step, dict[str, Any]]:
    tok, c = inputs.loaded.tokenizer, inputs.loaded.config
    z = out.logits[-1].astype(np.float64)
    e = np.exp(z - z.max())
    probs = e / e.sum()
    order = np.argsort(-probs, kind="stable")[: inputs.top]
    rows = tuple((str(r + 1), _tok(tok, i), str(int(i)), ctx.n(z[i]), ctx.n(probs[i])) for r, i in enumerate(order))
    best = int(order[0])
    step = Step(
        id="next-token",
        title=f"The next token: {len(z):,} logits, softmax, the top {len(order)}",
        formula_text="z = RMSNorm(x_last)·g · Eᵀ (tied output) ;  p = softmax(z)" if c.tied
        else "z = RMSNorm(x_last)·g · W_outᵀ ;  p = softmax(z)",
        values=[Value("top", Table(("rank", "token", "id", "logit", "p"), rows), label="Most probable next tokens")],
        worked=[f"p[{_tok(tok, best)}] = e^({ctx.f(z[best])} − {ctx.f(z.max())}) / Σ e^(z − max) = 1 / {ctx.n(float(e.sum()))} "
                f"= {ctx.n(probs[best])}",
                f"the top {len(order)} hold {ctx.n(float(probs[order].sum()))} of the probability"],
        why="The last row, normalised once more, is compared with every token's output row. Greedy decoding "
        "takes the first row of the table.",
    )
    outputs = {"next_token": _tok(tok, best), "next_token_id": best, "probability": float(probs[best])}
    return step, outputs


def build(ctx: Context, inputs: Inputs) -> Trace:
    loaded = inputs.loaded
    zoom = llama.Zoom(inputs.layer, inputs.head, inputs.position)
    out = llama.forward(loaded.config, loaded.weights, inputs.encoding.ids, zoom=zoom, lens=True, dtype=loaded.dtype)
    tokens = [_tok(loaded.tokenizer, i) for i in inputs.encoding.ids]
    recorded: dict[str, Any] = {"model": inputs.path, "text": inputs.text, "layer": inputs.layer, "head": inputs.head,
                                "position": inputs.position, "top": inputs.top}
    trace = ctx.new_trace(recorded)
    for step in (_file_step(ctx, inputs), _token_step(ctx, inputs), _layers_step(ctx, inputs, out, tokens),
                 _rmsnorm_step(ctx, inputs, out, tokens), _rope_step(ctx, inputs, out),
                 _scores_step(ctx, inputs, out, tokens), _softmax_step(ctx, inputs, out, tokens),
                 _swiglu_step(ctx, inputs, out, tokens)):
        trace.add(step)
    step, outputs = _next_step(ctx, inputs, out)
    trace.add(step)
    trace.outputs = outputs
    return trace


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "model": Input("path"),
        "text": Input("text"),
        "layer": Input("integer", minimum=0),
        "head": Input("integer", minimum=0),
        "position": Input("integer", minimum=0),
        "top": Input("integer", minimum=1, maximum=50),
    },
    targets=(
        Target("softmax", "weights", uses=("scores.scores",), symbol="a"),
    ),
    keep=("model", "text", "layer", "head", "position", "top"),
)
