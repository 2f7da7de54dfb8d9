"""The attention-cost lesson: score memory, FLOPs, the crossover, a sliding window, a timing.

Defaults: n = 512, 2,048, 8,192, 32,768, 131,072; d_model = 512, 8 heads, 6 layers, batch 1,
d_ff = 4·512 = 2048, FP16. One n = 512 score matrix is 512² = 262,144 numbers, 1 MiB at
FP32 and 512 KiB at FP16; at n = 131,072 it is 64 GiB at FP32, 32 GiB at FP16. All of them,
× 8 heads × 6 layers × 1 sequence × 2 bytes: 24 MiB at n = 512. Attention takes
4n²d = 4 × 512² × 512 = 536,870,912 FLOPs per layer at n = 512, the projections and the FFN
8nd² + 4nd·d_ff = 3,221,225,472; they are equal at n = 2d + d_ff = 3072.

>>> from nntutor.catalog.lessonfile import load_lesson
>>> from nntutor.catalog.run import run_lesson
>>> trace = run_lesson(load_lesson("attention-cost"), {"no-timing": True})
>>> trace.outputs["crossover"], float(trace.outputs["memory"]["all_scores_bytes"][0])
(3072, 25165824.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from nntutor.core import attention_cost as core
from nntutor.errors import InputError
from nntutor.trace import Step, Table, Trace, Value
from nntutor.walkthroughs._common import Context, answer
from nntutor.walkthroughs._declare import Args, Input, Mistake, Target, Walkthrough
from nntutor.walkthroughs.multi_head import check_heads

MAX_LENGTHS = 12  # rows of the tables
MAX_TIMING_SECONDS = 5.0  # the estimate (core.timing_estimate) a timing may take
MAX_TIMING_BYTES = 1024**3
FORMAT_NAMES = {"fp64": "FP64", "fp32": "FP32", "fp16": "FP16", "bf16": "BF16"}
BINARY_UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")
FLOP_UNITS = ((1e9, "GFLOP"), (1e6, "MFLOP"), (1e3, "kFLOP"), (1.0, "FLOP"))


class Inputs(NamedTuple):
    """Checked inputs: the lengths and the model's sizes, the window, and the timing."""

    lengths: tuple[int, ...]  # increasing, no repeats
    d_model: int
    heads: int
    layers: int
    batch: int
    d_ff: int  # 4·d_model unless given
    dtype: str  # a key of core.BYTES
    window: int | None
    timing: bool
    time_lengths: tuple[int, ...]  # increasing, at least two
    repeats: int
    seed: int


def _whole_numbers(flag: str, values: np.ndarray, what: str) -> tuple[int, ...]:
    """Increasing whole numbers (repeats dropped) from a vector input."""
    for value in values:
        if not float(value).is_integer():
            raise InputError(flag, f"{float(value):g} is not a whole number (expected {what}, e.g. 512,2048)")
    numbers = tuple(sorted({int(value) for value in values}))
    if len(numbers) > MAX_LENGTHS:
        raise InputError(flag, f"has {len(numbers)} lengths; at most {MAX_LENGTHS} are shown (one table row each)")
    return numbers


def _timing(args: Args, d_model: int, heads: int) -> tuple[bool, tuple[int, ...], int, int]:
    """Whether to time, at which lengths, how often, from which seed; refused when too big."""
    given = args.given
    timed = ("time-lens", "repeats", "seed")
    lengths = _whole_numbers("--time-lens", args["time-lens"], "sequence lengths")
    repeats, seed = int(args["repeats"]), int(args["seed"])
    if args["no-timing"]:
        for name in timed:
            if name in given:
                raise InputError(f"--{name}", "only sets up the timing, which --no-timing turns off (give one or the other)")
        return False, lengths, repeats, seed
    if len(lengths) < 2:
        raise InputError("--time-lens", f"has one length ({lengths[0]}); a slope needs at least two different lengths")
    width = d_model // heads
    seconds, needed = core.timing_estimate(lengths, width, repeats)
    if needed > MAX_TIMING_BYTES:
        raise InputError(
            "--time-lens",
            f"timing n = {lengths[-1]:,} needs about {binary_bytes(needed)} for its {lengths[-1]:,}×{lengths[-1]:,} "
            f"float64 scores and weights (at most {binary_bytes(MAX_TIMING_BYTES)} here); time shorter lengths",
        )
    if seconds > MAX_TIMING_SECONDS:
        flag = next((name for name in ("time-lens", "repeats", "d-model", "heads") if name in given), "time-lens")
        shown = ", ".join(f"{n:,}" for n in lengths)
        raise InputError(
            f"--{flag}",
            f"timing one head of width {width} (d_model/h = {d_model}/{heads}) at n = {shown} ({repeats} runs each) "
            f"would take about {seconds:.0f} s (at most {MAX_TIMING_SECONDS:.0f} s here); "
            "time shorter lengths, fewer --repeats, or pass --no-timing",
        )
    return True, lengths, repeats, seed


def check(args: Args) -> Inputs:
    """Whole-number lengths, heads that divide d_model, a timing small enough to run."""
    lengths = _whole_numbers("--seq-lens", args["seq-lens"], "sequence lengths")
    d_model, heads = int(args["d-model"]), int(args["heads"])
    check_heads(d_model, heads, "d-model", given=args.given)
    d_ff = int(args["d-ff"]) if args["d-ff"] is not None else 4 * d_model
    window = int(args["window"]) if args["window"] is not None else None
    timing, time_lengths, repeats, seed = _timing(args, d_model, heads)
    return Inputs(
        lengths, d_model, heads, int(args["layers"]), int(args["batch"]), d_ff, str(args["dtype"]),
        window, timing, time_lengths, repeats, seed,
    )


# --------------------------------------------------------------------------- how numbers are written


def binary_bytes(count: float) -> str:
    """A memory size in binary units, 3 significant digits: 1 KiB = 1,024 bytes, 1 MiB = 1,024² …

    >>> binary_bytes(1048576), binary_bytes(25165824), binary_bytes(1.5 * 1024**4), binary_bytes(300)
    ('1 MiB', '24 MiB', '1.5 TiB', '300 bytes')
    """
    value, unit = float(count), 0
    while value >= 1024 and unit < len(BINARY_UNITS) - 1:
        value /= 1024
        unit += 1
    text = f"{value:.3g}" if value < 1000 else f"{value:,.0f}"
    return f"{text} {BINARY_UNITS[unit]}"


def _unit(values: np.ndarray, units: Sequence[tuple[float, str]], least: float = 0.1) -> tuple[float, str]:
    """The largest unit in which the smallest value is still at least ``least`` (the last unit otherwise)."""
    smallest = float(np.min(values))
    return next(((size, name) for size, name in units if smallest / size >= least), units[-1])


def _memory_unit(values: np.ndarray) -> tuple[float, str]:
    """MiB when every value is at least 1 MiB, and so on (whole numbers of MiB read best)."""
    units = [(1024.0**k, name) for k, name in enumerate(BINARY_UNITS)][::-1]
    return _unit(values, units, least=1.0)


def _number(x: float) -> int | float:
    """An exact whole number as an int (shown without decimals), anything else as a float."""
    x = float(x)
    return int(x) if x.is_integer() and abs(x) < 2**53 else x


def _binary_divisor(unit_name: str) -> str:
    """`` / 1,024²`` for MiB (nothing for bytes): how a byte count becomes the unit."""
    power = BINARY_UNITS.index(unit_name)
    return "" if power == 0 else " / 1,024" + ("" if power == 1 else "⁰¹²³⁴⁵⁶⁷⁸⁹"[power])


def _decimal_divisor(unit: float) -> str:
    """`` / 10⁹`` for GFLOP (nothing for FLOP)."""
    power = int(round(math.log10(unit)))
    return "" if power == 0 else " / 10" + "".join("⁰¹²³⁴⁵⁶⁷⁸⁹"[int(c)] for c in str(power))


def _n(x: float) -> str:
    """A count with thousands separators: ``17,179,869,184``."""
    return f"{int(round(float(x))):,}"


def _times(ratio: float) -> str:
    return f"×{_n(ratio)}" if float(ratio).is_integer() else f"×{ratio:,.4g}"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


# --------------------------------------------------------------------------- steps


def _one_matrix_step(ctx: Context, inputs: Inputs) -> Step:
    n = np.asarray(inputs.lengths, dtype=np.float64)
    one = core.score_numbers(n)
    fp32, fp16 = core.score_memory(n, bytes_per_number=4), core.score_memory(n, bytes_per_number=2)
    rows = tuple(
        (_n(length), _n(count), binary_bytes(a), binary_bytes(b), _times(count / one[0]))
        for length, count, a, b in zip(n, one, fp32, fp16, strict=True)
    )
    first, last = inputs.lengths[0], inputs.lengths[-1]
    worked = [f"{first:,}² = {_n(one[0])} scores × 4 bytes = {_n(fp32[0])} bytes = {binary_bytes(fp32[0])} at FP32"]
    if len(n) > 1:
        worked.append(
            f"{last:,}² = {_n(one[-1])} × 4 bytes = {binary_bytes(fp32[-1])} (FP32); "
            f"× 2 bytes = {binary_bytes(fp16[-1])} (FP16)"
        )
        second = inputs.lengths[1]
        worked.append(
            f"({second:,}/{first:,})² = {(second / first) ** 2:,.4g}: n × {second / first:.4g} makes the memory "
            f"× {(second / first) ** 2:,.4g}, the same for the others"
        )
    worked.append("FP16 and BF16 take 2 bytes, half of FP32; 1 MiB = 1,024² bytes, 1 GiB = 1,024³")
    return Step(
        id="one",
        title="One score matrix: n × n numbers",
        formula=r"\text{memory} = n^2 \cdot \text{bytes}\quad(\text{FP32: } 4,\ \text{FP16, BF16: } 2)",
        formula_text="memory = n² · bytes per number  (FP32: 4, FP16 and BF16: 2)",
        values=[
            Value(
                "one",
                Table(("n", "scores n²", "FP32", "FP16, BF16", f"× n = {first:,}"), rows),
                label="one head, one layer, one sequence",
            )
        ],
        worked=worked,
        why="Each of the n queries has a score for each of the n keys, so the matrix has n² "
        "entries: twice the length is four times the memory, and half the bytes per number "
        "(FP32 to FP16) only halves it.",
    )


def _memory_step(ctx: Context, inputs: Inputs) -> Step:
    n = np.asarray(inputs.lengths, dtype=np.float64)
    h, layers, batch, dtype = inputs.heads, inputs.layers, inputs.batch, inputs.dtype
    size = core.BYTES[dtype]
    numbers = core.score_numbers(n, h, layers, batch)
    memory = numbers * size
    unit, unit_name = _memory_unit(memory)
    rows = tuple(
        (_n(length), _n(count), binary_bytes(b), _number(b / unit))
        for length, count, b in zip(n, numbers, memory, strict=True)
    )
    first, name = inputs.lengths[0], FORMAT_NAMES[dtype]
    shown = _number(memory[0] / unit)
    plugged = f"{first:,}²×{h}×{layers}×{batch}×{size}"
    divisor = _binary_divisor(unit_name)
    worked = [
        f"memory({first:,}) in {unit_name} = n²·h·L·B·bytes{divisor} = {plugged}{divisor} = {ctx.n(shown)}",
        f"{plugged} = {_n(memory[0])} bytes" + (f" = {binary_bytes(memory[0])}" if divisor else ""),
    ]
    if len(n) > 1:
        worked.append(
            f"{inputs.lengths[-1]:,}² × {h * layers * batch:,} = {_n(numbers[-1])} scores × {size} bytes "
            f"= {binary_bytes(memory[-1])}"
        )
    return Step(
        id="memory",
        title=f"All the score matrices: × h·L·B = {h}×{layers}×{batch}",
        formula=r"\text{memory} = n^2 \cdot h \cdot L \cdot B \cdot \text{bytes}",
        formula_text=f"memory = n²·h·L·B·bytes  (h = {h} heads, L = {layers} layers, B = {batch}, "
        f"{name}: {size})",
        values=[
            Value(
                "memory",
                Table(("n", "scores n²·h·L·B", name, f"in {unit_name}"), rows),
                label=f"all the score matrices, at {name}",
            )
        ],
        worked=worked,
        why="Training with plain attention keeps every layer's weights for the backward pass, so the n² "
        "term is paid once per head, per layer and per sequence of the batch: at long contexts "
        "it is what runs out of memory first.",
    )


def _flops_step(ctx: Context, inputs: Inputs, flops: core.LayerFlops) -> Step:
    n = inputs.lengths
    d, h, d_ff = inputs.d_model, inputs.heads, inputs.d_ff
    d_h = d // h
    unit, unit_name = _unit(np.concatenate([flops.attention, flops.linear]), FLOP_UNITS)
    rows = tuple(
        (_n(length), float(a / unit), float(p / unit), float(f / unit), float(r))
        for length, a, p, f, r in zip(n, flops.attention, flops.projections, flops.ffn, flops.ratio, strict=True)
    )
    first = n[0]
    per = _decimal_divisor(unit)
    worked = [
        f"Q·Kᵀ: h·n²·d_h = {h}×{first:,}²×{d_h} = {_n(flops.scores[0] / 2)} multiply-adds (= n²·d); A·V the same",
        f"attention({first:,}) in {unit_name} = 4n²d{per} = 4×{first:,}²×{d}{per} = {ctx.n(flops.attention[0] / unit)}",
        f"projections = 8nd²{per} = 8×{first:,}×{d}²{per} = {ctx.n(flops.projections[0] / unit)}",
        f"FFN = 4nd·d_ff{per} = 4×{first:,}×{d}×{d_ff}{per} = {ctx.n(flops.ffn[0] / unit)}",
        f"÷ rest = {ctx.n(flops.attention[0] / unit)} / ({ctx.n(flops.projections[0] / unit)} + "
        f"{ctx.n(flops.ffn[0] / unit)}) = {ctx.n(flops.ratio[0])}; the same for the others",
    ]
    return Step(
        id="flops",
        title="FLOPs of one layer: attention's n²·d against n·d² for the rest",
        formula=r"\text{attention} = 2 \cdot 2n^2d,\quad \text{projections} = 4 \cdot 2nd^2,"
        r"\quad \text{FFN} = 2 \cdot 2nd\,d_{ff}",
        formula_text="attention 4n²d;  projections 8nd²;  FFN 4nd·d_ff  (a multiply-add = 2 FLOPs)",
        values=[
            Value(
                "flops",
                Table(("n", "attention", "projections", "FFN", "attention ÷ rest"), rows),
                label=f"one layer, one sequence, in {unit_name} (d = {d}, d_ff = {d_ff:,})",
            )
        ],
        worked=worked,
        why="Q·Kᵀ and A·V pair every query with every key, so their FLOPs grow with n²; the "
        "projections and the FFN act on each token alone, so theirs grow with n: the weights "
        "dominate short sequences and attention long ones.",
    )


def _crossover_step(ctx: Context, inputs: Inputs, flops: core.LayerFlops) -> Step:
    d, d_ff = inputs.d_model, inputs.d_ff
    n = core.crossover(d, d_ff)
    worked = [
        "4n²d = 8nd² + 4nd·d_ff; divide both sides by 4nd: n = 2d + d_ff",
        f"crossover = 2d + d_ff = 2×{d} + {d_ff} = {n}" + (" (= 6d, as d_ff = 4d)" if d_ff == 4 * d else ""),
        f"attention ÷ rest = 4n²d / (8nd² + 4nd·d_ff) = n / {n:,}",
    ]
    past = [length for length in inputs.lengths if length > n]
    if past:
        listed = ", ".join(f"{length:,}" for length in past)
        worked.append(f"past it here: n = {listed}")
    else:
        worked.append(f"none of these lengths reaches it (the longest is {inputs.lengths[-1]:,})")
    return Step(
        id="crossover",
        title="Where attention overtakes the rest",
        formula=r"4n^2d = 8nd^2 + 4nd\,d_{ff} \iff n = 2d + d_{ff}",
        formula_text="4n²d = 8nd² + 4nd·d_ff  ⇔  n = 2d + d_ff",
        values=[Value("crossover", n, label="crossover n")],
        worked=worked,
        why="Beyond 2d + d_ff tokens most of a layer's arithmetic is attention rather than the "
        "weights, which is why longer contexts cost more even though the model's parameters "
        "stay the same.",
    )


def _window_step(ctx: Context, inputs: Inputs, full: core.LayerFlops) -> Step:
    w = inputs.window
    n = np.asarray(inputs.lengths, dtype=np.float64)
    h, layers, batch, dtype = inputs.heads, inputs.layers, inputs.batch, inputs.dtype
    size = core.BYTES[dtype]
    keys = core.keys_seen(n, w)
    memory = core.score_memory(n, h, layers, batch, size, window=w)
    flops = core.layer_flops(n, inputs.d_model, inputs.d_ff, window=w)
    unit, unit_name = _unit(np.concatenate([flops.attention, full.attention]), FLOP_UNITS)
    rows = tuple(
        (_n(length), _n(k), binary_bytes(b), float(a / unit), _times(length / k))
        for length, k, b, a in zip(n, keys, memory, flops.attention, strict=True)
    )
    last, k = inputs.lengths[-1], int(keys[-1])
    per = _decimal_divisor(unit)
    crossing = core.window_crossover(inputs.d_model, inputs.d_ff, w)
    share = w / core.crossover(inputs.d_model, inputs.d_ff)
    worked = [
        f"n = {last:,}: k = min(w, n) = min({w:,}, {last:,}) = {k:,} keys per query",
        f"memory = n·k·h·L·B·bytes = {last:,}×{k:,}×{h}×{layers}×{batch}×{size} = {binary_bytes(memory[-1])} "
        f"(full: {binary_bytes(core.score_memory([last], h, layers, batch, size)[0])})",
        f"attention({last:,}) in {unit_name} = 4·n·k·d{per} = 4×{last:,}×{k:,}×{inputs.d_model}{per} = "
        f"{ctx.n(flops.attention[-1] / unit)} (full: {ctx.n(full.attention[-1] / unit)})",
    ]
    pairs = float(core.causal_window_pairs([last], w)[0])
    band = float(last) * k
    if pairs < band:
        worked.append(
            f"a causal window gives the first {min(w, last) - 1:,} queries fewer keys: {_n(pairs)} pairs, "
            f"{ctx.n(100 * (band - pairs) / band)}% below n·k"
        )
    if crossing is None:
        worked.append(
            f"past n = w its share of the work stays at w / (2d + d_ff) = {w:,}/{core.crossover(inputs.d_model, inputs.d_ff):,} "
            f"= {ctx.n(share)}: attention never overtakes the rest"
        )
    else:
        worked.append(
            f"w > 2d + d_ff: attention still overtakes at n = {crossing:,}, but past n = w it stays "
            f"{ctx.n(share)} × the rest"
        )
    step = Step(
        id="window",
        title=f"A sliding window of {w:,} keys: n·w instead of n²",
        formula=r"k = \min(w, n),\quad \text{memory} = n k \cdot h L B \cdot \text{bytes},\quad \text{attention} = 4nkd",
        formula_text="k = min(w, n) keys at most;  memory = n·k·h·L·B·bytes;  attention = 4·n·k·d",
        values=[
            Value(
                "window",
                Table(("n", "keys k", FORMAT_NAMES[dtype], f"attention ({unit_name})", "saved"), rows),
                label=f"window w = {w:,}: all score matrices; FLOPs of one layer",
            )
        ],
        worked=worked,
        why="Each token scores only its w nearest keys, so memory and FLOPs grow like n·w, "
        f"linearly in n; tokens further back are reached through the layers, up to about "
        f"L·w = {layers * w:,} tokens away.",
    )
    if w >= inputs.lengths[-1]:
        step.warnings.append(f"the window ({w:,}) is at least as long as every sequence here: nothing is saved")
    return step


def _measured_step(ctx: Context, inputs: Inputs, seconds: np.ndarray, fit: core.SlopeFit) -> Step:
    n = inputs.time_lengths
    width = inputs.d_model // inputs.heads
    rows = []
    for i, (length, t) in enumerate(zip(n, seconds, strict=True)):
        if i == 0:
            rows.append((_n(length), float(t * 1e3), "", ""))
        else:
            rows.append((_n(length), float(t * 1e3), _times_ratio(t / seconds[i - 1]), _times_ratio((length / n[i - 1]) ** 2)))
    xs = ", ".join(ctx.n(x) for x in fit.x)
    ys = ", ".join(ctx.n(y) for y in fit.y)
    dx, dy = fit.x - fit.x_mean, fit.y - fit.y_mean
    worked = [
        f"x = log₂ n = {xs} (mean {ctx.n(fit.x_mean)}); y = log₂ t = {ys} (mean {ctx.n(fit.y_mean)})",
        f"slope = Σ(x − x̄)(y − ȳ) / Σ(x − x̄)² = {ctx.n(float(np.sum(dx * dy)))} / "
        f"{ctx.n(float(np.sum(dx * dx)))} = {ctx.n(fit.slope)}",
        f"doubling n multiplies the time by 2^{ctx.n(fit.slope)} = {ctx.n(2.0**fit.slope)}; "
        "pure n² work would give 4",
    ]
    step = Step(
        id="measured",
        title="Measured: nntutor's own attention, timed",
        formula=r"\log_2 t = s \log_2 n + c,\quad s = \frac{\sum (x - \bar x)(y - \bar y)}{\sum (x - \bar x)^2}",
        formula_text="log₂ t = s·log₂ n + c;  s = Σ(x − x̄)(y − ȳ) / Σ(x − x̄)²",
        values=[
            Value(
                "timings",
                Table(("n", "time (ms)", "÷ row above", "n² ÷ row above"), tuple(rows)),
                label=f"one head, Q, K, V of n × {width} (float64); the fastest of {_plural(inputs.repeats, 'run')}",
            ),
            Value("measured_slope", fit.slope, label="fitted slope s"),
        ],
        worked=worked,
        why="The scores, the softmax and A·V all touch the n² query-key pairs, so for large n the "
        "time grows like n², a slope near 2: fixed overheads flatten it at small n, the n × n "
        "arrays outgrowing the CPU's caches steepen it, and a busy machine adds noise.",
    )
    if fit.slope < 1.5:
        step.warnings.append(
            f"a slope of {ctx.n(fit.slope)} is well below 2: something other than the n² work dominates these "
            "times (fixed overheads, or on a busy machine the linear-algebra library's threads waiting for a "
            "free core); try longer --time-lens, more --repeats, or OPENBLAS_NUM_THREADS=1 in the environment"
        )
    elif fit.slope > 3:
        step.warnings.append(
            f"a slope of {ctx.n(fit.slope)} is well above 2: the shortest times were probably disturbed less "
            "than the longest by other work on this machine; try more --repeats"
        )
    return step


def _times_ratio(ratio: float) -> str:
    return f"×{ratio:.3g}"


def build(ctx: Context, inputs: Inputs) -> Trace:
    n = np.asarray(inputs.lengths, dtype=np.float64)
    size = core.BYTES[inputs.dtype]
    recorded: dict[str, Any] = {
        "seq-lens": list(inputs.lengths), "d-model": inputs.d_model, "heads": inputs.heads,
        "layers": inputs.layers, "batch": inputs.batch, "d-ff": inputs.d_ff, "dtype": inputs.dtype,
    }
    if inputs.window is not None:
        recorded["window"] = inputs.window
    if inputs.timing:
        recorded.update({"time-lens": list(inputs.time_lengths), "repeats": inputs.repeats, "seed": inputs.seed})
    trace = ctx.new_trace(recorded)
    flops = core.layer_flops(n, inputs.d_model, inputs.d_ff)
    trace.add(_one_matrix_step(ctx, inputs))
    trace.add(_memory_step(ctx, inputs))
    trace.add(_flops_step(ctx, inputs, flops))
    trace.add(_crossover_step(ctx, inputs, flops))
    per_model = inputs.layers * inputs.batch
    lengths = np.array(inputs.lengths, dtype=np.int64)
    memory: dict[str, Any] = {
        "n": lengths,
        "all_scores_bytes": core.score_memory(n, inputs.heads, inputs.layers, inputs.batch, size),
        "one_matrix_fp32_bytes": core.score_memory(n, bytes_per_number=4),
        "one_matrix_fp16_bytes": core.score_memory(n, bytes_per_number=2),
    }
    model_flops: dict[str, Any] = {
        "n": lengths.copy(),
        "attention": flops.attention * per_model,
        "projections": flops.projections * per_model,
        "ffn": flops.ffn * per_model,
        "total": flops.total * per_model,
    }
    if inputs.window is not None:
        trace.add(_window_step(ctx, inputs, flops))
        windowed = core.layer_flops(n, inputs.d_model, inputs.d_ff, window=inputs.window)
        memory["window_scores_bytes"] = core.score_memory(n, inputs.heads, inputs.layers, inputs.batch, size, window=inputs.window)
        model_flops["attention_window"] = windowed.attention * per_model
    trace.outputs = {"memory": memory, "flops": model_flops, "crossover": core.crossover(inputs.d_model, inputs.d_ff)}
    if inputs.timing:
        width = inputs.d_model // inputs.heads
        seconds = core.time_attention(inputs.time_lengths, width, inputs.repeats, inputs.seed)
        fit = core.loglog_slope(inputs.time_lengths, seconds)
        trace.add(_measured_step(ctx, inputs, seconds, fit))
        trace.outputs["measured_slope"] = fit.slope
    trace.result = answer(trace, "memory.memory", "crossover.crossover", "measured.measured_slope")
    return trace


# --------------------------------------------------------------------------- known mistakes


def _cell(case) -> tuple[Any, float] | None:
    """(the asked table's row, the asked number) for a table cell, else None."""
    if len(case.index) != 2:
        return None
    element = case.element()
    return (case.index, element) if element is not None else None


def _fp32_bytes(case) -> float | None:
    """4 bytes per number where the format has 2 (FP16/BF16 counted as FP32), in the memory table."""
    size = core.BYTES[case.inputs.dtype]
    found = _cell(case)
    if case.value != "memory" or found is None or found[0][1] != 3 or size == 4:
        return None
    return found[1] * 4 / size


def _one_head(case) -> float | None:
    """One score matrix per layer: the memory without the × h."""
    found = _cell(case)
    if case.value != "memory" or found is None or found[0][1] != 3 or case.inputs.heads == 1:
        return None
    return found[1] / case.inputs.heads


def _decimal_units(case) -> float | None:
    """MB (10⁶ bytes) where the table has MiB (2²⁰), or KB/GB for KiB/GiB."""
    found = _cell(case)
    if case.value != "memory" or found is None or found[0][1] != 3:
        return None
    unit = case.trace.step("memory").value("memory").data.columns[3].removeprefix("in ")
    power = BINARY_UNITS.index(unit)
    return found[1] * 1024.0**power / 1000.0**power if power else None


def _one_flop_per_multiply_add(case) -> float | None:
    """A multiply-add counted as 1 FLOP: half of every FLOP count."""
    found = _cell(case)
    if case.value != "flops" or found is None or found[0][1] not in (1, 2, 3):
        return None
    return found[1] / 2


def _heads_times(case) -> float | None:
    """Attention multiplied by h, as if every head had all d columns (it has d/h)."""
    found = _cell(case)
    if case.value != "flops" or found is None or found[0][1] != 1 or case.inputs.heads == 1:
        return None
    return found[1] * case.inputs.heads


def _no_ffn(case) -> float | None:
    """The crossover without the FFN: 4n²d = 8nd² gives n = 2d."""
    return 2.0 * case.inputs.d_model if case.value == "crossover" else None


def _full_not_windowed(case) -> float | None:
    """The window ignored: attention FLOPs of all n keys, 4n²d, where the window gives 4·n·k·d."""
    found = _cell(case)
    if case.value != "window" or found is None or found[0][1] != 3:
        return None
    n = case.inputs.lengths[found[0][0]]
    k = min(case.inputs.window, n)
    return None if k == n else found[1] * n / k


MISTAKES = (
    Mistake("fp32-bytes", "used FP32's 4 bytes per number: FP16 and BF16 take 2", _fp32_bytes, values=("memory",)),
    Mistake("one-head", "counted one score matrix per layer: each of the h heads has its own n × n", _one_head,
            values=("memory",)),
    Mistake("decimal-units", "used 10⁶ bytes for a MiB: 1 MiB is 2²⁰ = 1,048,576 bytes", _decimal_units, values=("memory",)),
    Mistake("multiply-add-as-one-flop", "counted a multiply-add as 1 FLOP (it is 2: a multiply and an add)",
            _one_flop_per_multiply_add, values=("flops",)),
    Mistake("heads-times-d", "multiplied by h: the h heads have d/h columns each, so h·n²·(d/h) = n²·d", _heads_times,
            values=("flops",)),
    Mistake("no-ffn", "left out the FFN: 4n²d = 8nd² alone gives n = 2d", _no_ffn, values=("crossover",)),
    Mistake("window-ignored", "left out the window: full attention scores all n keys", _full_not_windowed, values=("window",)),
)


def _quiz_sizes(rng: np.random.Generator, values: dict[str, Any]) -> dict[str, Any]:
    """A fresh small model for a quiz run: sizes, lengths, a window and a format."""
    d = int(rng.choice([64, 128, 256, 512, 768, 1024]))
    heads = int(rng.choice([h for h in (1, 2, 4, 8, 12, 16) if d % h == 0]))
    lengths = np.sort(rng.choice([128, 256, 512, 1024, 2048, 4096, 8192], size=3, replace=False)).astype(np.float64)
    return {
        "seq-lens": lengths,
        "d-model": d,
        "heads": heads,
        "layers": int(rng.integers(1, 13)),
        "batch": int(rng.choice([1, 2, 4, 8])),
        "dtype": str(rng.choice(list(core.BYTES))),
        "window": int(rng.choice([64, 128, 256, 512])),
    }


def script(trace: Trace) -> str:
    """The memory and FLOP counts, the crossover and the slope of the timings, as NumPy source.

    The timings are a measurement, not a computation: the script records the times the
    lesson measured and recomputes the slope from them.
    """
    from nntutor.render.python_script import assignment
    from nntutor.walkthroughs._script import heading

    window = "window" in trace.inputs
    lines = [
        "n = np.array(seq_lens, dtype=float)",
        "bytes_per_number = {'fp64': 8, 'fp32': 4, 'fp16': 2, 'bf16': 2}[dtype]",
        "per_model = layers * batch  # every layer, every sequence of the batch",
        *(["keys = np.minimum(window, n)  # keys each query scores with a sliding window"] if window else []),
        "",
        heading(trace, "one"),
        "memory = {'n': np.array(seq_lens)}",
        "memory['one_matrix_fp32_bytes'] = n * n * 4",
        "memory['one_matrix_fp16_bytes'] = n * n * 2",
        "",
        heading(trace, "memory"),
        "memory['all_scores_bytes'] = n * n * heads * layers * batch * bytes_per_number",
        *(["memory['window_scores_bytes'] = (",
            "    n * keys * heads * layers * batch * bytes_per_number)"] if window else []),
        "",
        heading(trace, "flops"),
        "flops = {",
        "    'n': np.array(seq_lens),",
        "    'attention': 4 * n * n * d_model * per_model,  # Q·Kᵀ and A·V: 2n²d each",
        "    'projections': 8 * n * d_model**2 * per_model,  # Q, K, V, output: 2nd²",
        "    'ffn': 4 * n * d_model * d_ff * per_model,",
        "}",
        "flops['total'] = flops['attention'] + flops['projections'] + flops['ffn']",
        *(["flops['attention_window'] = 4 * n * keys * d_model * per_model"] if window else []),
        "",
        heading(trace, "crossover"),
        "crossover = 2 * d_model + d_ff  # 4n²d = 8nd² + 4nd·d_ff, divided by 4nd",
    ]
    if "measured_slope" in trace.outputs:
        table = trace.step("measured").value("timings").data
        lines += [
            "",
            heading(trace, "measured"),
            "# the times the lesson measured (recorded here; the slope is recomputed):",
            assignment("time_ms", [row[1] for row in table.rows]),
            "x, y = np.log2(time_lens), np.log2(np.array(time_ms) / 1e3)",
            "dx, dy = x - x.mean(), y - y.mean()",
            "measured_slope = np.sum(dx * dy) / np.sum(dx * dx)",
        ]
    return "\n".join(lines)


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "seq-lens": Input("vector", minimum=1),
        "d-model": Input("integer", minimum=1, maximum=1000000),
        "heads": Input("integer", minimum=1),
        "layers": Input("integer", minimum=1, maximum=100000),
        "batch": Input("integer", minimum=1, maximum=1000000),
        "d-ff": Input("integer", minimum=1, maximum=10000000),
        "dtype": Input("choice", choices=("fp16", "bf16", "fp32", "fp64")),
        "window": Input("integer", minimum=1, maximum=1000000),
        "time-lens": Input("vector", minimum=1),
        "repeats": Input("integer", minimum=1, maximum=100),
        "seed": Input("integer", minimum=0),
        "no-timing": Input("flag"),
    },
    targets=(
        Target("memory", "memory", cols=(3,)),
        Target("flops", "flops", cols=(1, 2, 3)),
        Target("crossover", "crossover"),
        Target("window", "window", cols=(3,)),
    ),
    mistakes=MISTAKES,
    keep=("seq-lens", "time-lens", "repeats", "seed"),
    fixed={"no-timing": True},
    extra=_quiz_sizes,
    script=script,
)

