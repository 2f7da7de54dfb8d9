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
['file', 'tokens', 'layers', 'rmsnorm', 'rope', 'scores', 'swiglu', 'next-token']
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import numpy as np

from nntutor.core import llama
from nntutor.errors import InputError
from nntutor.models.threads import one_thread
from nntutor.numfmt import human_bytes
from nntutor.trace import Step, Table, Trace, Value
from nntutor.walkthroughs._common import Context, dot_worked, index_labels, sum_worked
from nntutor.walkthroughs._declare import Args, Input, Target, Walkthrough
from nntutor.walkthroughs._gguf import lens_runs, open_prompt, py_refusal, token_text
from nntutor.walkthroughs._gguf import notice as gguf_notice

MERGES_SHOWN = 8  # merges of one piece written out
PIECES_SHOWN = 8  # more pieces than this: the tokens as a list, the table of pieces with --full
TOKENS_LISTED = 16  # of those, the first 12 and the last 4
STORED = {  # what a tensor type holds, said for the type most of a file's tensors have
    "F64": "64-bit floats, as is", "F32": "32-bit floats, as is", "F16": "16-bit floats, widened as read",
    "Q8_0": "blocks of 32 weights as 8-bit integers and one scale",
    "Q4_0": "blocks of 32 weights as 4-bit integers and one scale",
    "Q4_1": "blocks of 32 weights as 4-bit integers, a scale and a minimum",
    "Q4_K": "super-blocks of 256 weights as 4-bit integers, with 6-bit scales and minimums per 32",
    "Q6_K": "super-blocks of 256 weights as 6-bit integers, with 8-bit scales per 16",
}


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
    prompt: Any  # walkthroughs._gguf.Prompt: the same, with the estimated cost


def _in_range(flag: str, value: int, count: int, what: str) -> None:
    if not 0 <= value < count:
        raise InputError(flag, f"{value} is out of range: this model has {count} {what}, numbered 0 to {count - 1}")


def check(args: Args) -> Inputs:
    """The model opened and validated, the text tokenised and bounded, --layer/--head/--position in range."""
    prompt = open_prompt(args["model"], args["text"], lens=True)
    config, n = prompt.loaded.config, len(prompt.encoding.ids)
    layer = config.n_layer // 2 if args["layer"] is None else int(args["layer"])
    _in_range("--layer", layer, config.n_layer, "layers")
    _in_range("--head", int(args["head"]), config.n_head, "query heads")
    position = n - 1 if args["position"] is None else int(args["position"])
    _in_range("--position", position, n, "tokens in --text")
    return Inputs(prompt.loaded, prompt.path, prompt.text, prompt.encoding, layer, int(args["head"]), position,
                  int(args["top"]), prompt)


def notice(inputs: Inputs) -> str | None:
    """What the run will cost, said before the weights are read (None for the built-in model).

    >>> from nntutor.catalog.run import parse_args, prepare
    >>> from nntutor.catalog.lessonfile import load_lesson
    >>> lesson = load_lesson("real-model")
    >>> notice(prepare(lesson, parse_args(lesson, {})).inputs) is None
    True
    """
    return gguf_notice(inputs.prompt)


# --------------------------------------------------------------------------- build


def _holds(model: Any) -> str:
    """Which tensors each type stores, most weights first: "Q4_1: 210 matrices; Q8_0: the embedding; …"."""
    parts = []
    for kind, _ in model.weights_by_type().most_common():
        names = [t.name for t in model.tensors.values() if t.type_name == kind]
        what = []
        if "token_embd.weight" in names:
            what.append("the embedding")
        if "output.weight" in names:
            what.append("the output matrix")
        gains = sum(name.endswith("norm.weight") for name in names)
        matrices = len(names) - gains - len(what)
        if matrices:
            what.insert(0, f"{matrices} matrices")
        if gains:
            what.append(f"{gains} norm gains")
        parts.append(f"{kind}: {', '.join(what)}")
    return "; ".join(parts)


def _file_step(ctx: Context, inputs: Inputs) -> Step:
    model, c = inputs.loaded.model, inputs.loaded.config
    kv = c.n_head_kv * c.head_dim
    per_layer = 2 * c.d_model * c.d_model + 2 * kv * c.d_model + 3 * c.d_model * c.d_ff + 2 * c.d_model
    embed = c.vocab * c.d_model
    rows = [
        ("model", os.path.basename(inputs.path) + f", {human_bytes(model.file_bytes)}" if inputs.path else model.name),
        ("architecture", f"llama: {c.n_layer} layers, d_model {c.d_model}, feed-forward width {c.d_ff}"),
        ("attention", f"{c.n_head} query heads, {c.n_head_kv} key/value heads, {c.head_dim} numbers each"),
        ("vocabulary", f"{c.vocab:,} tokens, context {c.context:,}; output "
                       + ("tied (= the embedding)" if c.tied else "its own matrix")),
    ]
    if inputs.path is None:
        rows.append(("stored as", "64-bit floats, in memory (no file)"))
    else:
        rows += [("stored as", _holds(model)),
                 (model.quantisation(), STORED.get(model.quantisation(), "blocks of small integers with a scale per block"))]
    return Step(
        id="file",
        title="The model file: what its metadata says",
        values=[Value("facts", Table(("", ""), tuple(rows)), label="Read from its metadata")],
        worked=[
            f"parameters per layer: 2×{c.d_model}×{c.d_model} (W_Q, W_O) + 2×{kv}×{c.d_model} (W_K, W_V) + "
            f"3×{c.d_model}×{c.d_ff} (gate, up, down) + 2×{c.d_model} (gains) = {per_layer:,}; "
            f"in all {c.n_layer}×{per_layer:,} + {c.vocab:,}×{c.d_model} (embedding)"
            + ("" if c.tied else f" + {c.vocab:,}×{c.d_model} (output)") + f" + {c.d_model} (final gain) = "
            f"{c.n_layer * per_layer + embed * (1 if c.tied else 2) + c.d_model:,}",
        ],
        why="Built in and untrained (random weights): try a real one, see nntutor models." if inputs.path is None else "",
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
    shown = len(chain) if ctx.full else MERGES_SHOWN  # --full: every merge of the piece
    steps = [f"{m.left}+{m.right} ({m.rank:,})" for m in chain[:shown]]
    if len(chain) > shown:
        steps.append(f"… {len(chain) - shown} more (--full shows them)")
    worked = [f"{repr(enc.pieces[busiest])}: " + " ".join(enc.symbols[busiest]) + ", merges (rank) "
              + ", ".join(steps) + (f" → {' '.join(chain[-1].result)}" if chain else "")]
    table = Table(("piece", "byte symbols", "merges", "tokens", "ids"), tuple(rows))
    long = len(rows) > PIECES_SHOWN and not ctx.full  # a long text: its tokens in a few lines, the table with --full
    values = [Value("pieces", table, label="Pieces with their bytes and merges", detail=long)]
    if long:  # the first and the last tokens (every one is in the table)
        listed = [f"{tok.tokens[i]} {i}" for i in enc.ids]
        if len(listed) > TOKENS_LISTED:
            listed = [*listed[:TOKENS_LISTED - 4], f"… {len(listed) - TOKENS_LISTED} more …", *listed[-4:]]
        values.insert(0, Value("tokens", listed, label="tokens and their ids"))
    return Step(
        id="tokens",
        title=f"Tokenise with the model's own BPE: {len(enc.pieces)} pieces → {len(enc.ids)} tokens",
        values=values,
        worked=worked,
        why=f"Ġ is a space (kept with its word); the {len(tok.ranks):,} merges apply lowest rank first.",
    )


def _lens_runs(tok, layers: list[llama.LayerSummary]) -> str:
    """The logit lens as runs of layers with the same top token: "0→'␣a'; 1–4→'.'; …, p = 0.77"."""
    return lens_runs(layers, lambda i: token_text(tok, i)) + f", p = {layers[-1].lens_prob:.2f}"


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
                f"logit lens, the output's pick from the row after each layer (␣ is a space): "
                f"{_lens_runs(tok, out.layers)}"],
    )


def _rmsnorm_step(ctx: Context, inputs: Inputs, out: llama.Forward, tokens: list[str]) -> Step:
    h, L, p = out.head, inputs.layer, inputs.position
    d = h.x_row.size
    x = h.x_row.astype(np.float64)
    mean_sq = float(np.mean(x * x))
    eps = inputs.loaded.config.rms_eps
    worked = [sum_worked(ctx, f"mean(x²) = (1/{d})·Σ x²", x * x / d, mean_sq),
              f"rms = √(mean(x²) + ε) = √({ctx.n(mean_sq)} + {eps:g}) = {ctx.n(h.rms)};  "
              f"y[0] = x[0] / rms × g[0] = {ctx.f(x[0])} / {ctx.n(h.rms)} × {ctx.f(h.gain[0])} = {ctx.n(h.normed_row[0])}"]
    rows = np.vstack([x, h.gain.astype(np.float64), h.normed_row.astype(np.float64)])
    return Step(
        id="rmsnorm",
        title=f"Layer {L}, RMSNorm of the row of {tokens[p]} (position {p})",
        formula_text="y = x / √(mean(x²) + ε) · g   (unlike layer norm: no mean subtracted, no bias)",
        values=[Value("rmsnorm", rows, label=f"x entering layer {L}, its gain g, y = x / rms · g ({d} numbers each)",
                      rows=("x", "g", "y"), cols=index_labels(d, "d"))],
        worked=worked,
    )


def _rope_step(ctx: Context, inputs: Inputs, out: llama.Forward) -> Step:
    h, p, c = out.head, inputs.position, inputs.loaded.config
    hd = c.head_dim
    a, b = float(h.q_raw[0]), float(h.q_raw[1])
    last = hd // 2 - 1
    theta = c.rope_base ** (-2 * last / hd)
    middle = [  # --full: every pair between the first and the last
        f"pair {i}: angle {p * c.rope_base ** (-2 * i / hd):.4g} rad, ({ctx.n(h.q_raw[2 * i])}, {ctx.n(h.q_raw[2 * i + 1])}) → "
        f"({ctx.n(h.q[2 * i])}, {ctx.n(h.q[2 * i + 1])})" for i in range(1, last)] if ctx.full else []
    worked = [
        f"pair 0 (angle {p} rad): q[0] = {ctx.f(a)}·cos {p} − {ctx.f(b)}·sin {p} = {ctx.n(h.q[0])}, "
        f"q[1] = {ctx.f(a)}·sin {p} + {ctx.f(b)}·cos {p} = {ctx.n(h.q[1])} (cos {p} = {ctx.n(h.cos[0])}, "
        f"sin {p} = {ctx.n(h.sin[0])})",
        *middle,
        f"pair {last}: θ = {c.rope_base:g}^(−{2 * last}/{hd}) = {theta:.4g}, angle {p * theta:.4g} rad, "
        f"({ctx.n(h.q_raw[2 * last])}, {ctx.n(h.q_raw[2 * last + 1])}) → ({ctx.n(h.q[2 * last])}, {ctx.n(h.q[2 * last + 1])})",
    ]
    return Step(
        id="rope",
        title=f"Rotary position embedding: head {inputs.head}'s query at position {p}",
        formula_text="pair i turns by the angle p·θᵢ,  θᵢ = base^(−2i/d_head)",
        values=[Value("q", np.vstack([h.q_raw, h.q]).astype(np.float64), label=f"head {inputs.head}'s query q = y·W_Qᵀ ({hd} numbers)",
                      rows=("before", "after"), cols=index_labels(hd, "q"), detail=True)],  # pairs 0 and last: below
        worked=worked,
        why="Keys turn the same way, so q·k depends on how far apart two tokens are. GGUF pairs adjacent "
        "coordinates (its converter reorders the rows of W_Q and W_K).",
    )


def _attention_step(ctx: Context, inputs: Inputs, out: llama.Forward, tokens: list[str]) -> Step:
    h, c, p = out.head, inputs.loaded.config, inputs.position
    hd = c.head_dim
    shared = [q for q in range(c.n_head) if llama.kv_head_of(q, c.n_head, c.n_head_kv) == h.kv_head]
    cols = tuple(tokens[: p + 1])
    j = int(np.argmax(h.scores))
    s = h.scores.astype(np.float64)
    e = np.exp(s - s.max())
    total = float(e.sum())
    v0 = h.v[:, 0].astype(np.float64)
    return Step(
        id="scores",
        title=f"Layer {inputs.layer}, head {inputs.head}: how much {tokens[p]} reads from positions 0…{p}",
        formula_text="score[j] = q·k[j] / √d_head, j ≤ p;  a = softmax(score);  out = Σⱼ a[j]·v[j]",
        values=[Value("scores", s, label="scores", cols=cols),
                Value("weights", h.weights.astype(np.float64), label="a (the softmax row)", cols=cols)],
        worked=[f"grouped-query attention: query head {inputs.head} reads key/value head {h.kv_head}, shared by "
                f"query heads {', '.join(map(str, shared))} ({c.n_head} / {c.n_head_kv} = {c.group}); "
                f"k[j] was turned by its own position j",
                dot_worked(ctx, f"q·k[{j}]", h.q, h.k[j], float(h.q.astype(np.float64) @ h.k[j].astype(np.float64)))
                + f"; ÷ √{hd} = {ctx.n(h.scores[j])}",
                sum_worked(ctx, "Σ e^(score − max)", e, total)
                + f";  a[{j}] = e^0 / {ctx.n(total)} = {ctx.n(h.weights[j])}",
                dot_worked(ctx, f"out[0] (of {h.out.size}) = Σ a[j]·v[j][0]", h.weights, v0, float(h.out[0]))
],
    )


def _swiglu_step(ctx: Context, inputs: Inputs, out: llama.Forward, tokens: list[str]) -> Step:
    f, p = out.ffn, inputs.position
    u = f.unit
    g, up = float(f.gate[u]), float(f.up[u])
    silu = g / (1.0 + np.exp(-g))
    off = int(np.count_nonzero(np.abs(f.hidden) < 0.01 * np.abs(f.hidden).max()))
    return Step(
        id="swiglu",
        title=f"Layer {inputs.layer}, SwiGLU at position {p}: unit {u}, the strongest",
        formula_text="hidden = SiLU(b·W_gᵀ) ⊙ (b·W_uᵀ),  SiLU(z) = z / (1 + e^(−z))",
        worked=[dot_worked(ctx, f"gate[{u}] = b·W_g[{u}]", f.normed_row, f.w_gate_row, g),
                f"SiLU({ctx.n(g)}) = {ctx.f(g)} / (1 + e^{ctx.f(-g)}) = {ctx.n(silu)};  up[{u}] = b·W_u[{u}] = {ctx.n(up)};  "
                f"hidden[{u}] = {ctx.n(silu)} × {ctx.f(up)} = {ctx.n(f.hidden[u])}",
                f"{off} of {f.hidden.size} units are below 1% of it; out = hidden·W_dᵀ, "
                f"‖out‖ = {ctx.n(float(np.linalg.norm(f.out)))}"],
        why="b: the row after attention, through RMSNorm (gain g₂); W_g, W_u, W_d: the gate, up and down "
        "matrices. A very negative gate shuts its unit (SiLU ≈ 0).",
    )


def _bytes_why(shown: list[str]) -> str:
    """What a token written <0xA4> is, when one is shown (a byte-level vocabulary has one token per byte).

    >>> _bytes_why(["' Paris'", "<0xA4>"])
    '<0xA4> is one byte (hex A4) alone: part of a character UTF-8 writes in several bytes.'
    """
    byte = next((t for t in shown if t.startswith("<0x")), None)
    return f"{byte} is one byte (hex {byte[3:-1]}) alone: part of a character UTF-8 writes in several bytes." if byte else ""


def _next_step(ctx: Context, inputs: Inputs, out: llama.Forward) -> tuple[Step, dict[str, Any]]:
    tok, c = inputs.loaded.tokenizer, inputs.loaded.config
    z = out.logits[-1].astype(np.float64)
    e = np.exp(z - z.max())
    probs = e / e.sum()
    order = np.argsort(-probs, kind="stable")[: inputs.top]
    rows = tuple((str(r + 1), token_text(tok, i), str(int(i)), ctx.n(z[i]), ctx.n(probs[i])) for r, i in enumerate(order))
    best = int(order[0])
    step = Step(
        id="next-token",
        title=f"The next token: {len(z):,} logits, softmax, the top {len(order)}",
        formula_text="z = RMSNorm(x)·g · Eᵀ (x: the last row; output tied to E) ;  p = softmax(z)" if c.tied
        else "z = RMSNorm(x)·g · W_Uᵀ (x: the last row) ;  p = softmax(z)",
        values=[Value("top", Table(("rank", "token", "id", "logit", "p"), rows),
                      label="Most probable next tokens (greedy decoding takes rank 1)")],
        worked=[f"p[{token_text(tok, best)}] = e^0 / Σ e^(z − max) = 1 / {ctx.n(float(e.sum()))} = {ctx.n(probs[best])}; "
                f"the top {len(order)} hold {ctx.n(float(probs[order].sum()))}"],
        why=_bytes_why([token_text(tok, i) for i in order]),
    )
    outputs = {"next_token": token_text(tok, best), "next_token_id": best, "probability": float(probs[best])}
    return step, outputs


def build(ctx: Context, inputs: Inputs) -> Trace:
    if inputs.path is None:  # the built-in model's products are tiny: no need to set BLAS's threads (12 ms)
        return _build(ctx, inputs)
    with one_thread():  # products of a few rows: a second BLAS thread only waits for a busy core (2× slower here)
        return _build(ctx, inputs)


def _build(ctx: Context, inputs: Inputs) -> Trace:
    loaded = inputs.loaded
    zoom = llama.Zoom(inputs.layer, inputs.head, inputs.position)
    out = llama.forward(loaded.config, loaded.weights, inputs.encoding.ids, zoom=zoom, lens=True, dtype=loaded.dtype)
    tokens = [token_text(loaded.tokenizer, i) for i in inputs.encoding.ids]
    recorded: dict[str, Any] = {"model": inputs.path, "text": inputs.text, "layer": inputs.layer, "head": inputs.head,
                                "position": inputs.position, "top": inputs.top}
    trace = ctx.new_trace(recorded)
    for step in (_file_step(ctx, inputs), _token_step(ctx, inputs), _layers_step(ctx, inputs, out, tokens),
                 _rmsnorm_step(ctx, inputs, out, tokens), _rope_step(ctx, inputs, out),
                 _attention_step(ctx, inputs, out, tokens),
                 _swiglu_step(ctx, inputs, out, tokens)):
        trace.add(step)
    step, outputs = _next_step(ctx, inputs, out)
    trace.add(step)
    trace.outputs = outputs
    trace.result = [
        Value("next_token", outputs["next_token"],
              label="the next token (greedy)" if inputs.path else "the untrained model's next token (greedy)"),
        Value("probability", outputs["probability"], label="its probability p"),
    ]
    return trace


# --------------------------------------------------------------------------- --format py

_SCRIPT = r'''
import re
import unicodedata

# The built-in model, regenerated exactly: its settings, its merges, its seeded weights
# (NumPy's default_rng(SEED).normal draws the same numbers on every platform)
N_LAYER, D_MODEL, N_HEAD, N_HEAD_KV, D_FF = {n_layer}, {d_model}, {n_head}, {n_head_kv}, {d_ff}
ROPE_BASE, RMS_EPS, SEED = {rope_base!r}, {rms_eps!r}, {seed}
MERGES = {merges}
SPECIAL = "<|endoftext|>"  # token 0
# Unicode White_Space, what the pre-tokeniser calls a space (str.isspace also counts \x1c-\x1f)
SPACES = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"


def byte_symbol_table():
    """GPT-2's printable stand-in for each byte: printable bytes are themselves,
    the others (space, control bytes …) get the characters from chr(256) on."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = [], 0
    for b in range(256):
        if b in keep:
            table.append(chr(b))
        else:
            table.append(chr(256 + extra))
            extra += 1
    return table


BYTE_SYMBOLS = byte_symbol_table()
VOCAB = [SPECIAL, *BYTE_SYMBOLS]  # id 0, then byte b as id 1 + b, then each new merged token
for merge in MERGES:
    if merge.replace(" ", "") not in VOCAB:
        VOCAB.append(merge.replace(" ", ""))
RANK = {{tuple(m.split(" ")): r for r, m in enumerate(MERGES)}}

rng = np.random.default_rng(SEED)
KV = N_HEAD_KV * (D_MODEL // N_HEAD)
W = {{}}


def draw(name, shape):
    """The next weights from the seeded generator, rounded to 3 decimals as the model stores them."""
    if len(shape) == 1:  # a norm's gain, about 1
        W[name] = np.round(1.0 + 0.2 * rng.normal(size=shape), 3)
    else:
        scale = 1.0 if name == "token_embd" else 1.5 / math.sqrt(shape[1])
        W[name] = np.round(rng.normal(0.0, scale, size=shape), 3)


draw("token_embd", (len(VOCAB), D_MODEL))
draw("output_norm", (D_MODEL,))
for block in range(N_LAYER):
    for part, shape in (("attn_norm", (D_MODEL,)), ("attn_q", (D_MODEL, D_MODEL)), ("attn_k", (KV, D_MODEL)),
                        ("attn_v", (KV, D_MODEL)), ("attn_output", (D_MODEL, D_MODEL)), ("ffn_norm", (D_MODEL,)),
                        ("ffn_gate", (D_FF, D_MODEL)), ("ffn_up", (D_FF, D_MODEL)), ("ffn_down", (D_MODEL, D_FF))):
        draw(f"{{block}}.{{part}}", shape)


{tokens_heading}
def kind(ch):
    """S (space), L (letter), N (number) or O (anything else): what the pre-tokeniser tells apart."""
    if ch in SPACES:
        return "S"
    first = unicodedata.category(ch)[0]
    return first if first in "LN" else "O"


def pieces_of(text):
    """GPT-2's pieces: a contraction ('s 't 're 've 'm 'll 'd), or a run of one kind that takes
    one space before it, or a run of spaces that leaves its last space to the word after it."""
    out, i, n = [], 0, len(text)
    while i < n:
        contraction = re.match(r"'(?:s|t|re|ve|m|ll|d)", text[i:])
        if contraction:
            out.append(contraction.group())
            i += len(contraction.group())
            continue
        start = i
        if text[i] == " " and i + 1 < n and kind(text[i + 1]) != "S":
            i += 1  # this space belongs to the run after it
        k, j = kind(text[i]), i + 1
        while j < n and kind(text[j]) == k:
            j += 1
        if k == "S" and j < n and j - i > 1:
            j -= 1
        out.append(text[start:j])
        i = j
    return out


def bpe(symbols):
    """Merge the adjacent pair of lowest rank, everywhere in the piece, until none is left."""
    word = list(symbols)
    while len(word) > 1:
        pairs = [(RANK[pair], pair) for pair in zip(word, word[1:]) if pair in RANK]
        if not pairs:
            break
        best = min(pairs)[1]
        merged, i = [], 0
        while i < len(word):
            if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                merged.append(word[i] + word[i + 1])
                i += 2
            else:
                merged.append(word[i])
                i += 1
        word = merged
    return word


ids = []
for part in re.split("(" + re.escape(SPECIAL) + ")", text):
    if part == SPECIAL:
        ids.append(0)
        continue
    for piece in pieces_of(part):
        ids += [VOCAB.index(t) for t in bpe(BYTE_SYMBOLS[b] for b in piece.encode("utf-8"))]
n = len(ids)


{layers_heading}
def rms_norm(x, gain):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + RMS_EPS) * gain


def rope(x):
    """Turn coordinates (0, 1), (2, 3), … at position p by p·θᵢ, θᵢ = base^(−2i/d_head)."""
    theta = ROPE_BASE ** (-np.arange(0, x.shape[-1], 2) / x.shape[-1])
    angle = np.arange(x.shape[-2])[:, None] * theta[None, :]
    even, odd = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = even * np.cos(angle) - odd * np.sin(angle)
    out[..., 1::2] = even * np.sin(angle) + odd * np.cos(angle)
    return out


d_head = D_MODEL // N_HEAD
group = N_HEAD // N_HEAD_KV  # query head h reads key/value head h // group
causal = np.tril(np.ones((n, n), dtype=bool))  # position i sees positions 0..i
x = W["token_embd"][ids]
for block in range(N_LAYER):
    w = {{part: W[f"{{block}}.{{part}}"] for part in ("attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                                                  "ffn_norm", "ffn_gate", "ffn_up", "ffn_down")}}
    y = rms_norm(x, w["attn_norm"])
    q = rope((y @ w["attn_q"].T).reshape(n, N_HEAD, d_head).transpose(1, 0, 2))  # (heads, n, d_head)
    k = rope((y @ w["attn_k"].T).reshape(n, N_HEAD_KV, d_head).transpose(1, 0, 2))
    v = (y @ w["attn_v"].T).reshape(n, N_HEAD_KV, d_head).transpose(1, 0, 2)
    k, v = np.repeat(k, group, axis=0), np.repeat(v, group, axis=0)
    scores = np.where(causal, q @ k.transpose(0, 2, 1) / math.sqrt(d_head), -np.inf)
    a = np.exp(scores - scores.max(axis=-1, keepdims=True))
    a /= a.sum(axis=-1, keepdims=True)
    x = x + (a @ v).transpose(1, 0, 2).reshape(n, D_MODEL) @ w["attn_output"].T
    b = rms_norm(x, w["ffn_norm"])
    gate = b @ w["ffn_gate"].T
    x = x + (gate / (1.0 + np.exp(-gate)) * (b @ w["ffn_up"].T)) @ w["ffn_down"].T  # SwiGLU


{next_heading}
logits = rms_norm(x[-1], W["output_norm"]) @ W["token_embd"].T  # tied: the embedding is the output matrix
p = np.exp(logits - logits.max())
p /= p.sum()
next_token_id = int(np.argmax(p))
probability = float(p[next_token_id])
token = VOCAB[next_token_id]
raw = token.encode("utf-8") if next_token_id == 0 else bytes(BYTE_SYMBOLS.index(ch) for ch in token)
decoded = raw.decode("utf-8", errors="replace")
next_token = f"<0x{{raw[0]:02X}}>" if "\ufffd" in decoded and len(token) == 1 else repr(decoded)
'''


def no_script(args: Args) -> str | None:
    """Why --format py is refused for these arguments: a GGUF file (None for the built-in model)."""
    if args["model"] is None:
        return None
    return py_refusal("the built-in model", "drop --model")


def script(trace: Trace) -> str:
    """The built-in model's run as NumPy source (``--format py``): the model regenerated from its
    seed, the text tokenised, every layer, the next token. A GGUF file's weights are not copied
    into a script: with --model it is refused."""
    from nntutor.models import demo
    from nntutor.walkthroughs._script import heading

    reason = no_script(Args({"model": trace.inputs.get("model")}))
    if reason:
        raise InputError("--format", reason)
    c = demo.demo_model().config
    body = _SCRIPT.format(
        n_layer=c.n_layer, d_model=c.d_model, n_head=c.n_head, n_head_kv=c.n_head_kv, d_ff=c.d_ff,
        rope_base=c.rope_base, rms_eps=c.rms_eps, seed=demo.SEED, merges=_wrapped_list(list(demo.MERGES)),
        tokens_heading=heading(trace, "tokens"), layers_heading=heading(trace, "layers"),
        next_heading=heading(trace, "next-token"))
    return body


def _wrapped_list(items: list[str], width: int = 100) -> str:
    """A list of strings as source, broken into lines of at most ``width`` characters.

    >>> print(_wrapped_list(["a b", "c d", "e f"], width=16))
    ['a b', 'c d',
        'e f']
    """
    lines, line = [], "["
    for item in items:
        piece = repr(item) + ", "
        if len(line) + len(piece) > width:
            lines.append(line.rstrip())
            line = "    "
        line += piece
    return "\n".join([*lines, line.rstrip(", ") + "]"])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    notice=notice,
    script=script,
    no_script=no_script,
    inputs={
        "model": Input("path"),
        "text": Input("text"),
        "layer": Input("integer", minimum=0),
        "head": Input("integer", minimum=0),
        "position": Input("integer", minimum=0),
        "top": Input("integer", minimum=1, maximum=50),
    },
    targets=(
        Target("scores", "weights", uses=("scores.scores",), symbol="a"),
    ),
    keep=("model", "text", "layer", "head", "position", "top"),
)
