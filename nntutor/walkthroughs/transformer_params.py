"""The transformer-params lesson: every weight of a GPT-style transformer counted, and its memory.

Default run: V = 50, d_model = 8, L = 2 blocks of h = 2 heads, d_ff = 4·8 = 32, n_ctx = 16,
tied embeddings. Per block: attention 4·8² + 4·8 = 288, FFN 2·8·32 + 32 + 8 = 552, layer
norms 4·8 = 32, so 872; the model: 50·8 + 16·8 + 2·872 + 2·8 = 2,288 parameters, 9,152
bytes in FP32. ``--preset gpt2-small`` counts 124,439,808, the published number.

A preset sets every size; a flag typed beside it changes that size:

>>> from nntutor.catalog.lessonfile import load_lesson
>>> from nntutor.catalog.run import parse_args
>>> lesson = load_lesson("transformer-params")
>>> check(parse_args(lesson, {"preset": "gpt2-small", "layers": "24"})).sizes.layers
24
>>> check(parse_args(lesson, {"d-model": "9"}))
Traceback (most recent call last):
  ...
nntutor.errors.InputError: --d-model: is 9 but --heads (default 2) does not divide 9: each head takes d_model/h columns; pass --heads too (e.g. 1, 3, 9)
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, NamedTuple

from nntutor.core import param_count as pc
from nntutor.errors import InputError
from nntutor.numfmt import human_bytes
from nntutor.trace import Step, Table, Trace, Value
from nntutor.walkthroughs._common import Context, answer, blamed
from nntutor.walkthroughs._declare import Args, Input, Mistake, Target, Walkthrough
from nntutor.walkthroughs.multi_head import check_heads, divisors

PRESET_NAMES = {"gpt2-small": "GPT-2 small", "gpt3": "GPT-3 175B"}
SIZE_FLAGS = {"vocab": "vocab", "d-model": "d_model", "layers": "layers", "heads": "heads", "context": "context"}


class Inputs(NamedTuple):
    """Checked inputs: the sizes the count depends on, and where they came from."""

    sizes: pc.Sizes
    preset: str | None  # the published model the sizes start from (None: the flags alone)
    as_published: bool  # the preset's sizes unchanged (so its published count applies)


# --------------------------------------------------------------------------- check


def _head_dim(d: int, heads: int, given: Collection[str], preset: str | None) -> int:
    """d_model / h, or an error naming the flag the learner typed (the preset's value said as such)."""
    if preset is None or (heads <= d and d % heads == 0):
        return check_heads(d, heads, "d-model", given)
    options = ", ".join(str(k) for k in divisors(d)[:12])
    if blamed(given, "heads", "d-model") == "d-model":
        raise InputError(
            "--d-model",
            f"is {d} but --heads ({heads} in --preset {preset}) does not divide {d}: each head takes "
            f"d_model/h columns; pass --heads too (e.g. {options})",
        )
    source = "--d-model" if "d-model" in given else f"--preset {preset}"
    raise InputError(
        "--heads",
        f"d_model = {d} ({source}) is not divisible by h = {heads}: each head takes d_model/h columns, "
        f"so h must divide {d} (e.g. {options})",
    )


def check(args: Args) -> Inputs:
    """The sizes: the preset's (if any), changed by every typed flag; d_ff is 4·d_model unless typed."""
    given = args.given
    preset = args["preset"]
    base = pc.PRESETS[preset] if preset else None
    values: dict[str, int] = {}
    for flag, field in SIZE_FLAGS.items():
        values[field] = getattr(base, field) if base is not None and flag not in given else int(args[flag])
    d = values["d_model"]
    _head_dim(d, values["heads"], given, preset)
    if "d-ff" in given:
        d_ff = int(args["d-ff"])
    elif base is not None and "d-model" not in given:
        d_ff = base.d_ff
    else:
        d_ff = 4 * d
    tied = not args["untied"]
    sizes = pc.Sizes(d_ff=d_ff, tied=tied, **values)
    return Inputs(sizes, preset, base is not None and sizes == base)


# --------------------------------------------------------------------------- build


def _int(x: int) -> str:
    """A count as the lesson writes it: ``2288``, ``124,439,808`` (separators from 10,000 up)."""
    return f"{x:,}" if abs(x) >= 10_000 else str(x)


def _about(x: int) -> str:
    """A count rounded for reading: ``2288``, ``786.4K``, ``124.4M``, ``174.6B``."""
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e4, "K")):
        if x >= size:
            return f"{x / size:.1f}{unit}"
    return str(x)


def _about_words(x: int) -> str:
    """`` (≈ 124.4 million)`` for a label, nothing for a count read at a glance."""
    for size, unit in ((1e9, "billion"), (1e6, "million")):
        if x >= size:
            return f" (≈ {x / size:.1f} {unit})"
    return ""


def _share(part: int, whole: int) -> str:
    """A part of a whole: ``67%``, ``5.6%``, ``0.35%``, ``99.6%`` (never a rounded 0% or 100%)."""
    if part == whole or whole == 0:
        return "100%" if whole else "0%"
    if part == 0:
        return "0%"
    p = 100 * part / whole
    if p < 0.01:
        return "<0.01%"
    digits = 0 if p >= 9.5 else 1 if p >= 0.95 else 2
    text = f"{p:.{digits}f}"
    while float(text) >= 100 and digits < 4:
        digits += 1
        text = f"{p:.{digits}f}"
    return text + "%"


def _sizes_step(inputs: Inputs, count: pc.ModelCount) -> Step:
    s = count.sizes
    source = f"{PRESET_NAMES[inputs.preset]} (--preset {inputs.preset})" if inputs.preset else "the flags"
    if inputs.preset and not inputs.as_published:
        source += ", changed by the flags typed"
    rows = (
        ("vocabulary", "V", s.vocab),
        ("width", "d_model", s.d_model),
        ("blocks", "L", s.layers),
        ("heads per block", "h", s.heads),
        ("head width", "d_head = d_model/h", count.head_dim),
        ("FFN width", "d_ff", s.d_ff),
        ("context length", "n_ctx", s.context),
    )
    source += "; tied embeddings" if s.tied else "; untied embeddings"
    return Step(
        id="sizes",
        title="The sizes that fix the count",
        formula=r"d_{\text{head}} = d_{\text{model}} / h",
        formula_text="d_head = d_model / h",
        values=[Value("sizes", Table(("size", "symbol", "value"), rows), label=f"sizes from {source}")],
        worked=[
            f"d_head = d_model / h = {s.d_model} / {s.heads} = {count.head_dim}",
            f"heads in the model = h × L = {s.heads} × {s.layers} = {_int(s.heads * s.layers)}",
        ],
        why="A parameter is a number that training adjusts; how many there are depends only on these "
        "sizes, never on the text the model reads.",
    )


def _attention_step(count: pc.ModelCount) -> Step:
    d, h, dh = count.sizes.d_model, count.sizes.heads, count.head_dim
    parts = {p.name: p for p in count.block.parts}
    wq, bq = parts["wq"].count, parts["bq"].count
    rows = (
        ("each of W_Q, W_K, W_V, W_O", f"{d}×{d}", wq, bq, wq + bq),
        ("all four", "", 4 * d * d, 4 * d, count.block.attention),
    )
    attention = count.block.attention
    return Step(
        id="attention",
        title="Attention: 4d² + 4d",
        formula=r"P_{\text{attn}} = 4\,(d^2 + d) = 4d^2 + 4d",
        formula_text="P_attn = 4·(d² + d) = 4d² + 4d: W_Q, W_K, W_V, W_O with their biases",
        values=[
            Value("projections", Table(("projection", "W shape", "weights", "bias", "total"), rows),
                  label="the four projections of one block"),
            Value("attention", attention, label=f"attention parameters per block{_about_words(attention)}"),
        ],
        worked=[
            f"attention = 4·d² + 4·d = 4×{d}² + 4×{d} = {_int(4 * d * d)} + {_int(4 * d)} = {_int(attention)}",
            f"per head, W_Q is a {d}×{dh} slice: {h} heads × {_int(d * dh)} = {_int(d * d)} = d², whatever h is",
        ],
        why="The heads split d_model's columns among them (d_head = d/h), so more heads make each one "
        "narrower without adding parameters.",
    )


def _ffn_step(count: pc.ModelCount) -> Step:
    d, f = count.sizes.d_model, count.sizes.d_ff
    ffn = count.block.ffn
    rows = (
        ("W1, b1", f"{d}×{f}", d * f, f, d * f + f),
        ("W2, b2", f"{f}×{d}", f * d, d, f * d + d),
        ("total", "", 2 * d * f, f + d, ffn),
    )
    worked = [f"ffn = 2·d·d_ff + d_ff + d = 2×{d}×{f} + {f} + {d} = {_int(2 * d * f)} + {_int(f + d)} = {_int(ffn)}"]
    if f == 4 * d:
        worked.append(f"d_ff = 4d: 8d² + 5d = 8×{d}² + 5×{d} = {_int(ffn)}, twice the attention's 4d²")
    return Step(
        id="ffn",
        title="Feed-forward network: 2·d·d_ff + d_ff + d",
        formula=r"P_{\text{ffn}} = (d\,d_{ff} + d_{ff}) + (d_{ff}\,d + d) = 2\,d\,d_{ff} + d_{ff} + d",
        formula_text="P_ffn = (d·d_ff + d_ff) + (d_ff·d + d) = 2·d·d_ff + d_ff + d",
        values=[
            Value("layers", Table(("layer", "W shape", "weights", "bias", "total"), rows), label="the FFN's two layers"),
            Value("ffn", ffn, label=f"FFN parameters per block{_about_words(ffn)}"),
        ],
        worked=worked,
        why="The same two dense layers, d → d_ff → d, act on every token: one weight per input–output "
        f"pair and one bias per output (here {_share(ffn, count.block.total)} of the block).",
    )


def _block_step(count: pc.ModelCount) -> Step:
    d, f = count.sizes.d_model, count.sizes.d_ff
    b = count.block
    rows = (
        ("attention", "4d² + 4d", b.attention, _share(b.attention, b.total)),
        ("FFN", "2·d·d_ff + d_ff + d", b.ffn, _share(b.ffn, b.total)),
        ("layer norms", "2 × (γ + β) = 4d", b.norms, _share(b.norms, b.total)),
        ("block", "", b.total, "100%"),
    )
    columns = ("part", "formula", "parameters", "share")
    if b.total >= 1e6:
        columns += ("about",)
        rows = tuple((*row, _about(row[2])) for row in rows)
    worked = [
        f"layer norms = 2 × (γ + β) = 2 × ({d} + {d}) = {_int(b.norms)}",
        f"block = {_int(b.attention)} + {_int(b.ffn)} + {_int(b.norms)} = {_int(b.total)}",
    ]
    if f == 4 * d:
        worked.append(f"d_ff = 4d: 12d² + 13d = 12×{d}² + 13×{d} = {_int(12 * d * d)} + {_int(13 * d)} = {_int(b.total)}")
    return Step(
        id="block",
        title="Layer norms, and one whole block",
        formula=r"P_{\text{block}} = (4d^2 + 4d) + (2\,d\,d_{ff} + d_{ff} + d) + 4d",
        formula_text="P_block = P_attn + P_ffn + 4d   (= 12d² + 13d when d_ff = 4d)",
        values=[
            Value("parts", Table(columns, rows), label="one block"),
            Value("norms", b.norms, label="layer norms per block"),
            Value("block", b.total, label=f"parameters per block{_about_words(b.total)}"),
        ],
        worked=worked,
        why="Each layer norm learns a scale γ and a shift β per feature, 2d numbers, and a block has two; "
        "they grow like d while the matrices grow like d².",
    )


def _embeddings_step(count: pc.ModelCount) -> Step:
    s = count.sizes
    d = s.d_model
    rows = (
        ("token embedding", f"V×d = {s.vocab}×{d}", count.token_embedding),
        ("positions", f"n_ctx×d = {s.context}×{d}", count.positions),
        ("final layer norm", f"γ, β = 2×{d}", count.final_norm),
        ("output layer", "tied: reuses the token embedding" if s.tied else f"V×d = {s.vocab}×{d}", count.output),
    )
    worked = [
        f"token embedding = V·d = {s.vocab}×{d} = {_int(count.token_embedding)}",
    ]
    if s.tied:
        worked.append(f"output layer: logits = h·Eᵀ reuses E, so 0 more (--untied adds V·d = {_int(s.vocab * d)})")
    else:
        worked.append(f"output layer = V·d = {s.vocab}×{d} = {_int(count.output)} (no bias)")
    return Step(
        id="embeddings",
        title="Around the blocks: embeddings and the output layer",
        formula=r"P_{\text{emb}} = V d + n_{\text{ctx}} d + 2d + \begin{cases} 0 & \text{tied} \\ V d & \text{untied} \end{cases}",
        formula_text="P_emb = V·d + n_ctx·d + 2d (final layer norm) + (0 if tied, else V·d)",
        values=[
            Value("around", Table(("part", "shape", "parameters"), rows), label="outside the blocks"),
            Value("embedding", count.token_embedding, label="token embedding"),
            Value("positions", count.positions, label="positions"),
        ],
        worked=worked,
        why="Each token id and each position looks up one learned row of d numbers, so these tables "
        "grow with V and n_ctx but not with the number of blocks.",
    )


def _published_lines(inputs: Inputs, total: int) -> list[str]:
    if inputs.preset is None:
        return ["compare a published model: --preset gpt2-small or --preset gpt3"]
    published, how = pc.PUBLISHED[inputs.preset]
    name = PRESET_NAMES[inputs.preset]
    if not inputs.as_published:
        return [f"{name} as published has {_int(published)} parameters; the sizes typed change it"]
    if how == "exact":
        diff = total - published
        return [f"published for {name}: {_int(published)}; counted − published = {_int(diff)}"]
    return [
        f"published for {name}: 175.0B ({how}); counted {total / 1e9:.1f}B, "
        f"{abs(total - published) / published:.2%} {'below' if total < published else 'above'}"
    ]


def _total_step(inputs: Inputs, count: pc.ModelCount) -> Step:
    s = count.sizes
    total = count.total
    rows = (
        ("token embedding", count.token_embedding, _share(count.token_embedding, total)),
        ("positions", count.positions, _share(count.positions, total)),
        (f"{s.layers} blocks", count.blocks, _share(count.blocks, total)),
        ("final layer norm", count.final_norm, _share(count.final_norm, total)),
        ("output layer", count.output, _share(count.output, total)),
        ("total", total, "100%"),
    )
    if s.tied:  # the output layer adds nothing: said in the step before
        rows = rows[:4] + rows[5:]
    columns = ("part", "parameters", "share")
    if total >= 1e6:
        columns += ("about",)
        rows = tuple((*row, _about(row[1])) for row in rows)
    terms = f"{_int(count.token_embedding)} + {_int(count.positions)} + {s.layers}×{_int(count.block.total)} + {_int(count.final_norm)}"
    if not s.tied:
        terms += f" + {_int(count.output)}"
    worked = [
        "total = V·d + n_ctx·d + L·P_block + 2d" + ("" if s.tied else " + V·d") + f" = {terms} = {_int(total)}",
        f"rule of thumb 12·L·d² = 12×{s.layers}×{s.d_model}² = {_int(count.estimate)} ({_share(count.estimate, total)} of the total)",
        *_published_lines(inputs, total),
    ]
    return Step(
        id="total",
        title="The whole model",
        formula=r"P = V d + n_{\text{ctx}} d + L\,P_{\text{block}} + 2d \;(+\,V d \text{ untied})",
        formula_text="P = V·d + n_ctx·d + L·P_block + 2d (+ V·d untied)",
        values=[
            Value("parts", Table(columns, rows), label="every parameter"),
            Value("total", total, label=f"parameters in the model{_about_words(total)}"),
        ],
        worked=worked,
        why="The blocks' matrices grow like L·d²: in a wide model they hold almost every parameter, "
        "hence 12·L·d²; in a narrow one the V×d embedding can dominate.",
    )


def _memory_step(count: pc.ModelCount) -> Step:
    total = count.total
    sizes = {name: pc.weight_bytes(total, name) for name in pc.BYTES_PER_NUMBER}
    rows = tuple(
        (name if name == "FP32" else f"{name} / BF16", pc.BYTES_PER_NUMBER[name], sizes[name], human_bytes(sizes[name]))
        for name in pc.BYTES_PER_NUMBER
    )
    worked = [
        f"FP32 = P × 4 bytes = {_int(total)} × 4 = {_int(sizes['FP32'])} bytes = {human_bytes(sizes['FP32'])}; "
        "FP16 takes half"
    ]
    return Step(
        id="memory",
        title="Memory of the weights",
        formula=r"\text{bytes} = P \times \text{bytes per number}\quad(\text{FP32}: 4,\ \text{FP16}: 2)",
        formula_text="bytes = P × bytes per number   (FP32: 4, FP16 and BF16: 2)",
        values=[
            Value("formats", Table(("format", "bytes each", "bytes", "about"), rows), label="the weights stored"),
            Value("FP32", sizes["FP32"], label="FP32 bytes"),
            Value("FP16", sizes["FP16"], label="FP16 bytes"),
        ],
        worked=worked,
        why="This is the weights alone: training also keeps a gradient and optimizer state for every "
        "parameter, and running the model keeps activations besides.",
    )


def build(ctx: Context, inputs: Inputs) -> Trace:
    s = inputs.sizes
    count = pc.model_count(s)
    recorded: dict[str, Any] = {
        "vocab": s.vocab, "d-model": s.d_model, "layers": s.layers, "heads": s.heads,
        "d-ff": s.d_ff, "context": s.context, "untied": not s.tied,
    }
    if inputs.preset:
        recorded["preset"] = inputs.preset
    trace = ctx.new_trace(recorded)
    trace.add(_sizes_step(inputs, count))
    trace.add(_attention_step(count))
    trace.add(_ffn_step(count))
    trace.add(_block_step(count))
    trace.add(_embeddings_step(count))
    trace.add(_total_step(inputs, count))
    trace.add(_memory_step(count))
    b = count.block
    trace.outputs = {
        "per_block": {"attention": b.attention, "ffn": b.ffn, "layer_norms": b.norms, "total": b.total},
        "total": count.total,
        "memory": {f"{name} bytes": pc.weight_bytes(count.total, name) for name in pc.BYTES_PER_NUMBER},
    }
    trace.result = answer(trace, "total.total", "memory.FP32", "memory.FP16")
    return trace


# --------------------------------------------------------------------------- known mistakes


def _sizes(case) -> pc.Sizes:
    return case.inputs.sizes


def _no_biases(case) -> float | None:
    """Only the matrices counted: 4d² for attention, 2·d·d_ff for the FFN (the layer norms kept)."""
    s = _sizes(case)
    d, f = s.d_model, s.d_ff
    biases = 4 * d + f + d
    right = case.element()
    if right is None:
        return None
    if case.value == "attention":
        return float(right - 4 * d)
    if case.value == "ffn":
        return float(right - f - d)
    if case.value == "block":
        return float(right - biases)
    return float(right - s.layers * biases)  # total


def _full_width_heads(case) -> float | None:
    """Every head given its own d×d W_Q, W_K and W_V (instead of d×d_head slices)."""
    s = _sizes(case)
    if s.heads == 1:
        return None
    extra = 3 * (s.heads - 1) * s.d_model**2
    right = case.element()
    if right is None:
        return None
    return float(right + (s.layers * extra if case.value == "total" else extra))


def _one_norm(case) -> float | None:
    """2d for the layer norms: γ and β of one layer norm only (a block has two)."""
    s = _sizes(case)
    right = case.element()
    return None if right is None else float(right - 2 * s.d_model)


def _tied_counted(case) -> float | None:
    """A V×d output layer counted although it is tied to the token embedding."""
    s = _sizes(case)
    if not s.tied:
        return None
    right = case.element()
    return None if right is None else float(right + s.vocab * s.d_model)


def _no_positions(case) -> float | None:
    """The n_ctx × d position embeddings left out of the total."""
    s = _sizes(case)
    right = case.element()
    return None if right is None else float(right - s.context * s.d_model)


def _bits_for_bytes(case) -> float | None:
    """Bits taken for bytes: P × 32 for FP32 (P × 16 for FP16), 8 times too many."""
    total = pc.model_count(_sizes(case)).total
    return float(total * (32 if case.value == "FP32" else 16))


MISTAKES = (
    Mistake("no-biases", "counted the weight matrices but not their biases", _no_biases,
            values=("attention", "ffn", "block", "total")),
    Mistake("full-width-heads", "gave every head its own d×d W_Q, W_K and W_V: each head's are d×d_head, h of them make d×d",
            _full_width_heads, values=("attention", "block", "total")),
    Mistake("one-layernorm", "counted 2d for the layer norms: a block has two, each with γ and β", _one_norm,
            values=("norms", "block")),
    Mistake("tied-counted", "counted a V×d output layer, but tied embeddings reuse the token embedding", _tied_counted,
            values=("total",)),
    Mistake("no-positions", "left out the n_ctx × d position embeddings", _no_positions, values=("total",)),
    Mistake("bits-for-bytes", "multiplied by the bits per number (32 or 16) instead of the bytes (4 or 2)",
            _bits_for_bytes, values=("FP32", "FP16")),
)


def _quiz_sizes(rng, values: dict[str, Any]) -> dict[str, Any]:
    """Small sizes worth counting by hand: d from 4 to 16, heads dividing it, d_ff often 4d."""
    d = int(rng.choice([4, 6, 8, 12, 16]))
    heads = int(rng.choice(divisors(d)))
    d_ff = 4 * d if rng.random() < 0.5 else int(rng.choice([2, 3, 6])) * d
    return {
        "vocab": int(rng.integers(10, 101)),
        "d-model": d,
        "layers": int(rng.integers(1, 7)),
        "heads": heads,
        "d-ff": d_ff,
        "context": int(rng.choice([4, 8, 16, 32, 64])),
        "untied": bool(rng.random() < 0.3),
    }


def script(trace: Trace) -> str:
    """The parameter count and the memory of the weights as plain Python (``--format py``)."""
    from nntutor.walkthroughs._script import heading

    return "\n".join([
        "d, V = d_model, vocab",
        heading(trace, "attention"),
        "attention = 4 * d * d + 4 * d  # W_Q, W_K, W_V, W_O (d×d each) and their biases",
        "",
        heading(trace, "ffn"),
        "ffn = (d * d_ff + d_ff) + (d_ff * d + d)",
        "",
        heading(trace, "block"),
        "layer_norms = 4 * d  # γ and β of two layer norms",
        "per_block = {'attention': attention, 'ffn': ffn, 'layer_norms': layer_norms}",
        "per_block['total'] = attention + ffn + layer_norms",
        "",
        heading(trace, "embeddings"),
        "# token embeddings, positions, the final layer norm, and an untied output layer",
        "around = V * d + context * d + 2 * d + (V * d if untied else 0)",
        "",
        heading(trace, "total"),
        "total = around + layers * per_block['total']",
        "",
        heading(trace, "memory"),
        "memory = {'FP32 bytes': 4 * total, 'FP16 bytes': 2 * total}",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "vocab": Input("integer", minimum=1, maximum=10000000),
        "d-model": Input("integer", minimum=1, maximum=100000),
        "layers": Input("integer", minimum=1, maximum=1000),
        "heads": Input("integer", minimum=1),
        "d-ff": Input("integer", minimum=1, maximum=1000000),
        "context": Input("integer", minimum=1, maximum=10000000),
        "untied": Input("flag"),
        "preset": Input("choice", choices=("gpt2-small", "gpt3")),
    },
    targets=(
        Target("attention", "attention"),
        Target("ffn", "ffn"),
        Target("block", "block"),
        Target("embeddings", "embedding"),
        Target("total", "total"),
        Target("memory", "FP32"),
    ),
    mistakes=MISTAKES,
    keep=("preset",),
    extra=_quiz_sizes,
    script=script,
)
