"""The lstm lesson: one LSTM cell over a short sequence, every gate at every step, and why
its cell state carries gradients.

Default run: X = [[1, 0], [0.5, −1], [0, 1], [−1, 0.5]] (T = 4, d = 2), H = 2 units,
h₀ = c₀ = 0, b_f = 2 and the other biases 0. At t = 1 only the x columns count:
z_f[0] = 0.4×1 + (−0.2)×0 + 2 = 2.4, so f₁[0] = σ(2.4) = 0.9168; c̃₁[0] = tanh(0.5) = 0.4621,
i₁[0] = σ(0.6) = 0.6457, so c₁[0] = 0.9168×0 + 0.6457×0.4621 = 0.2984.

>>> from nntutor.catalog.lessonfile import load_lesson
>>> from nntutor.catalog.run import run_lesson
>>> trace = run_lesson(load_lesson("lstm"))
>>> round(float(trace.outputs["c"][0, 0]), 4), round(float(trace.outputs["gates"][0, 0]), 4)  # c₁[0], f₁[0]
(0.2984, 0.9168)
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from nntutor.core import activations
from nntutor.core import lstm as core
from nntutor.errors import InputError
from nntutor.numfmt import human_bytes
from nntutor.numfmt import subscript as sub
from nntutor.trace import Step, Trace, Value
from nntutor.walkthroughs._common import Context, Size, answer, mismatch, products, shape_words
from nntutor.walkthroughs._declare import Args, Input, Mistake, Target, Walkthrough

WEIGHTS = ("wf", "wi", "wc", "wo")  # the flags, in the order of core.GATES
BIASES = ("bf", "bi", "bc", "bo")
SIZES = ("seq-len", "d-in", "hidden")
DEFAULT_SIZES = {"seq-len": 4, "d-in": 2, "hidden": 2}
SYMBOL = {"f": "f", "i": "i", "c": "c̃", "o": "o"}  # how each gate is written
NAME = {"f": "forget", "i": "input", "c": "candidate", "o": "output"}  # its key in the gates output
MAX_LENGTHS = 6
MAX_SECONDS = 2.0  # a run's estimated time, at most
MAX_BYTES = 1_000_000_000
STEP_SECONDS = 1.2e-4  # per time step, measured here for small H (and rounded up)
FLOP_RATE = 3e9  # multiply-adds per second for the (2H × 2H) Jacobian products, conservatively
SHOWN_STEPS = 6  # worked lines per step table, at most



def step_labels(steps: int, start: int = 1) -> tuple[str, ...]:
    return tuple(f"t={t}" for t in range(start, start + steps))


def unit_labels(prefix: str, hidden: int) -> tuple[str, ...]:
    return tuple(f"{prefix}[{u}]" for u in range(hidden))


# --------------------------------------------------------------------------- checking


class Inputs(NamedTuple):
    """Checked inputs: the sequence, the cell's weights, its starting states and the long-range lengths."""

    x: np.ndarray  # T × d, one row per step
    weights: core.Weights  # four H × (H + d) matrices (h columns first) and four biases of H
    h0: np.ndarray  # H
    c0: np.ndarray  # H
    lengths: tuple[int, ...]  # sequence lengths of the long-range table
    drawn: dict[str, Any]  # seed and sizes when some inputs were drawn at random, else empty


def estimate_seconds(steps: int, hidden: int) -> float:
    """How long ``steps`` time steps take with their Jacobian products (2H × 2H each)."""
    return steps * (STEP_SECONDS + 2 * (2 * hidden) ** 3 / FLOP_RATE)


def estimate_bytes(steps: int, hidden: int, d: int) -> int:
    """Every array a run keeps per step (gates, pre-activations, states, the RNN's), the weights
    and the running 2H × 2H products, float64."""
    return 8 * (steps * (18 * hidden + d) + 4 * hidden * (hidden + d + 1) + 16 * hidden * hidden)


def _drawn(args: Args) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Every input not typed, drawn from --seed (when --seed or a size flag is given)."""
    given = args.given
    if not any(name in given for name in ("seed", *SIZES)):
        return {}, {}
    if "x" in given:
        for name in ("seq-len", "d-in"):
            if name in given:
                raise InputError(f"--{name}", "cannot be combined with --x (the sizes come from --x)")
    typed = [name for name in WEIGHTS if name in given]
    hidden = args["hidden"] if "hidden" in given else DEFAULT_SIZES["hidden"]
    d = args["d-in"] if "d-in" in given else DEFAULT_SIZES["d-in"]
    if typed:
        w = args[typed[0]]
        if "hidden" in given and w.shape[0] != hidden:
            raise InputError("--hidden", f"is {hidden} but --{typed[0]} has {w.shape[0]} rows (one per hidden unit)")
        hidden = w.shape[0]
        if "x" not in given and w.shape[1] > hidden:
            if "d-in" in given and w.shape[1] - hidden != d:
                raise InputError(
                    "--d-in", f"is {d} but --{typed[0]} has {w.shape[1] - hidden} columns for x ({w.shape[1]} in all)"
                )
            d = w.shape[1] - hidden
    if "x" in given:
        steps, d = args["x"].shape
    else:
        steps = args["seq-len"] if "seq-len" in given else DEFAULT_SIZES["seq-len"]
    _check_cost("--seq-len" if "seq-len" in given else "--hidden" if "hidden" in given else "--x", steps, hidden, d)
    seed = args["seed"] if args["seed"] is not None else 0
    rng = np.random.default_rng(seed)
    draws = {"x": rng.uniform(-1, 1, (steps, d))}  # every draw made, typed or not: the others stay the same
    for name in WEIGHTS:
        draws[name] = rng.uniform(-1, 1, (hidden, hidden + d))
    for name in BIASES:
        draws[name] = rng.uniform(-1, 1, hidden)
    values = {name: np.round(value, 2) + 0.0 for name, value in draws.items() if name not in given}
    return values, {"seed": seed, "seq-len": steps, "d-in": d, "hidden": hidden}


def _refuse_slow(given, steps: int, longest: int, hidden: int, d: int) -> None:
    """The sequence and the longest length together, blaming the flag that made the run large."""
    sized = "--hidden" if "hidden" in given else next((f"--{n}" for n in WEIGHTS if n in given), "--x")
    if estimate_seconds(steps, hidden) > MAX_SECONDS / 2:
        flag = "--seq-len" if "seq-len" in given else "--x" if "x" in given else sized
    else:
        flag = "--lengths" if "lengths" in given else sized
    _check_cost(flag, steps + longest, hidden, d)


def _check_cost(flag: str, steps: int, hidden: int, d: int) -> None:
    """Refuse, before computing anything, a run that would take more than a few seconds or a GB."""
    seconds = estimate_seconds(steps, hidden)
    need = estimate_bytes(steps, hidden, d)
    if seconds > MAX_SECONDS or need > MAX_BYTES:
        raise InputError(
            flag,
            f"{steps:,} time steps in all with {hidden:,} hidden units would take about {seconds:,.1f} s and "
            f"{human_bytes(need)} here; at most {MAX_SECONDS:g} s and {human_bytes(MAX_BYTES)} are allowed",
        )


def _stale(given, names) -> str:
    """``pass --wi, --wc and --wo too``: the inputs still at their defaults that must change as well."""
    left = [f"--{name}" for name in names if name not in given]
    listed = left[0] if len(left) == 1 else ", ".join(left[:-1]) + " and " + left[-1]
    return f"pass {listed} too (or --seed to draw them)"


def _per_unit(args: Args, values: dict[str, Any], name: str, hidden: int) -> np.ndarray:
    """A bias or a starting state: H numbers, or one number for every unit."""
    v = values.get(name, args[name])
    if v.size == 1:
        return np.full(hidden, float(v[0]))
    if v.size != hidden:
        if "wf" in values:  # drawn: no flag to blame but this one
            raise InputError(f"--{name}", f"has {v.size} numbers but the drawn weights have {hidden} hidden units "
                             f"(give {hidden} numbers, or one for all)")
        wf = args["wf"]
        raise mismatch(
            args.given, Size(name, v.size, "numbers"), Size("wf", hidden, "rows", shape_words(wf)),
            why="one per hidden unit, or one number for all",
        )
    return v


def _lengths(raw: np.ndarray) -> tuple[int, ...]:
    if raw.size > MAX_LENGTHS:
        raise InputError("--lengths", f"has {raw.size} lengths; at most {MAX_LENGTHS} are tabulated")
    for value in raw:
        if value != int(value) or value < 2:
            raise InputError("--lengths", f"{value:g} is not a whole number of at least 2 (a length T counts steps)")
    return tuple(int(v) for v in raw)


def check(args: Args) -> Inputs:
    """Sizes drawn or given; every W the same H × (H + d) shape, x with d columns; biases and states H (or 1)."""
    values, drawn = _drawn(args)
    given = args.given

    def get(name: str) -> np.ndarray:
        return values.get(name, args[name])

    x, wf = get("x"), get("wf")
    hidden, width = wf.shape
    if width <= hidden:
        raise InputError(
            "--wf", f"has {width} columns for {hidden} rows: it needs {hidden} for hₜ₋₁ and at least 1 for xₜ "
            "(hidden × (hidden + inputs))",
        )
    d = x.shape[1]
    if width - hidden != d:
        raise mismatch(
            given, Size("wf", width - hidden, "columns for x", shape_words(wf)),
            Size("x", d, "numbers per step", shape_words(x)),
            why="W_f is hidden × (hidden + inputs)",
            fix=_stale(given, WEIGHTS),
        )
    for name in WEIGHTS[1:]:
        w = get(name)
        if w.shape != wf.shape:
            raise mismatch(
                given, Size(name, shape_words(w), "shape", shape_words(w)), Size("wf", shape_words(wf), "shape", shape_words(wf)),
                why="every gate reads the same [hₜ₋₁, xₜ]",
                fix=_stale(given, WEIGHTS[1:]),
            )
    biases = {name: _per_unit(args, values, name, hidden) for name in BIASES}
    h0, c0 = (_per_unit(args, values, name, hidden) for name in ("h0", "c0"))
    lengths = _lengths(args["lengths"])
    _refuse_slow(given, x.shape[0], max(lengths), hidden, d)
    weights = core.Weights(*(get(name) for name in WEIGHTS), *(biases[name] for name in BIASES))
    return Inputs(x, weights, h0, c0, lengths, drawn)


# --------------------------------------------------------------------------- the steps


def _vector(ctx: Context, v) -> str:
    items = [ctx.n(float(a)) for a in np.ravel(v)]
    if len(items) > 8:
        items = [*items[:4], "…", *items[-2:]]
    return "(" + ", ".join(items) + ")"


def _terms(ctx: Context, a, b) -> str:
    """``0.3×0.1594 + 0.1×0.0724 + …``: a dot product's terms (elided in the middle past 8)."""
    a, b = list(np.ravel(a)), list(np.ravel(b))
    if len(a) > 8:
        return f"{products(ctx, a[:3], b[:3])} + … ({len(a) - 5} more terms) … + {products(ctx, a[-2:], b[-2:])}"
    return products(ctx, a, b)


def _gate_worked(ctx: Context, fw: core.LSTMForward, weights: core.Weights, gate: str, t: int, u: int) -> list[str]:
    """Two lines for one gate of one unit: z = its row of W times v plus its bias, then σ (or tanh)."""
    n, f = ctx.n, ctx.f
    s = SYMBOL[gate]
    z = float({"f": fw.zf, "i": fw.zi, "c": fw.zc, "o": fw.zo}[gate][t, u])
    value = float(fw.gate(gate)[t, u])
    b = float(weights.bias(gate)[u])
    line = f"z_{gate}[{u}] = {_terms(ctx, weights.matrix(gate)[u], fw.concat[t])} + {f(b)} = {n(z)}"
    if gate == "c":
        if abs(z) > 350:
            return [line, f"{s}[{u}] = tanh({n(z)}) = {n(value)}"]
        a, e = math.exp(z), math.exp(-z)
        return [line, f"{s}[{u}] = tanh({n(z)}) = ({n(a)} − {n(e)}) / ({n(a)} + {n(e)}) = {n(value)}"]
    e = math.exp(-z) if -z < 700 else math.inf
    return [line, f"{s}[{u}] = σ({n(z)}) = 1 / (1 + e^({n(-z)})) = 1 / (1 + {n(e)}) = {n(value)}"]


def _inputs_step(ctx: Context, inputs: Inputs) -> Step:
    x, w = inputs.x, inputs.weights
    hidden, d = w.hidden, w.inputs
    stacked, bias = w.stacked()
    rows = tuple(f"{SYMBOL[g]}[{u}]" for g in core.GATES for u in range(hidden))
    cols = (*unit_labels("h", hidden), *unit_labels("x", d), "b")
    h0, c0 = _vector(ctx, inputs.h0), _vector(ctx, inputs.c0)
    states = f"h₀ = c₀ = {h0}" if h0 == c0 else f"h₀ = {h0}, c₀ = {c0}"
    worked = [
        f"each W is H×(H + d) = {hidden}×{hidden + d}: {hidden} column{'s' if hidden > 1 else ''} read hₜ₋₁, "
        f"then {d} read xₜ",
        f"{states}: the states before the first step",
        "PyTorch's nn.LSTM stacks these rows as i, f, g, o (its g is c̃)",
    ]
    drawn = inputs.drawn
    if drawn:
        worked.insert(0, f"drawn from seed {drawn['seed']}: each input not typed, uniform in ±1, 2 decimals")
    return Step(
        id="inputs",
        title="The sequence, and four gates that read [hₜ₋₁, xₜ]",
        formula=r"z_k = W_k\,[\mathbf{h}_{t-1}, \mathbf{x}_t] + \mathbf{b}_k,\quad k \in \{f, i, \tilde c, o\}",
        formula_text="z_k = W_k·[hₜ₋₁, xₜ] + b_k  for each of f, i, c̃, o",
        values=[
            Value("x", x, label=f"X ({x.shape[0]} steps × {d} inputs)", rows=step_labels(x.shape[0]), cols=unit_labels("x", d)),
            Value("weights", np.hstack([stacked, bias[:, None]]), label="each gate's weights W and bias b, one row per unit",
                  rows=rows, cols=cols),
        ],
        worked=worked,
        why="Each gate is a layer of its own on the same vector, the previous output beside the new "
        "input; the same weights are used at every step.",
    )


def _one_step(ctx: Context, inputs: Inputs, fw: core.LSTMForward, t: int) -> Step:
    """Row ``t`` worked in full for unit 0."""
    n, f = ctx.n, ctx.f
    w = inputs.weights
    hidden = w.hidden
    k = t + 1  # the step's number
    worked = [f"v = [h{sub(k - 1)}, x{sub(k)}] = {_vector(ctx, fw.concat[t])}"]
    for gate in core.GATES:
        worked += _gate_worked(ctx, fw, w, gate, t, 0)
    c_prev = float(fw.previous_c(t)[0])
    ft, it, gt, ot = (float(fw.gate(g)[t, 0]) for g in core.GATES)
    c, tc, h = float(fw.c[t, 0]), float(fw.tanh_c[t, 0]), float(fw.h[t, 0])
    worked.append(f"c{sub(k)}[0] = f[0]×c{sub(k - 1)}[0] + i[0]×c̃[0] = {f(ft)}×{f(c_prev)} + {f(it)}×{f(gt)} = {n(c)}")
    worked.append(f"h{sub(k)}[0] = o[0]×tanh(c{sub(k)}[0]) = {f(ot)}×tanh({n(c)}) = {f(ot)}×{f(tc)} = {n(h)}")
    if hidden > 1:
        others = "unit 1" if hidden == 2 else f"units 1 to {hidden - 1}"
        worked.append(f"the same for {others}: c{sub(k)}[1] = {n(fw.c[t, 1])}, h{sub(k)}[1] = {n(fw.h[t, 1])}")
    z = np.vstack([fw.zf[t], fw.zi[t], fw.zc[t], fw.zo[t]])
    gates = np.vstack([fw.f[t], fw.i[t], fw.g[t], fw.o[t]])
    return Step(
        id="step",
        title=f"One time step in full: t = {k}" + (" (the first to read a computed h)" if k == 2 else ""),
        formula=r"f, i, o = \sigma(z),\ \tilde c = \tanh(z);\quad "
        r"\mathbf{c}_t = \mathbf{f} \odot \mathbf{c}_{t-1} + \mathbf{i} \odot \tilde{\mathbf{c}},\quad "
        r"\mathbf{h}_t = \mathbf{o} \odot \tanh(\mathbf{c}_t)",
        formula_text="f, i, o = σ(z), c̃ = tanh(z);  cₜ = f⊙cₜ₋₁ + i⊙c̃,  hₜ = o⊙tanh(cₜ)",
        values=[
            Value("z", np.hstack([z, gates]), label=f"t = {k}: each gate's z = W·[h{sub(k - 1)}, x{sub(k)}] + b, and after σ or tanh",
                  rows=tuple(SYMBOL[g] for g in core.GATES), cols=(*unit_labels("z", hidden), *unit_labels("gate", hidden))),
        ],
        worked=worked,
        why="The sigmoid gates are shares between 0 and 1: f is how much of the old cell is kept, i how much "
        "of the candidate c̃ is written, o how much of the cell is shown as h.",
    )


def _every_step(ctx: Context, inputs: Inputs, fw: core.LSTMForward) -> Step:
    n, f = ctx.n, ctx.f
    w = inputs.weights
    hidden, d = w.hidden, w.inputs
    steps = fw.x.shape[0]
    cols = tuple(f"{SYMBOL[g]}[{u}]" for g in core.GATES for u in range(hidden))
    if np.any(inputs.h0):
        worked = [f"f₁[0] = σ(W_f[0]·[h₀, x₁] + b_f[0]) = σ({n(fw.zf[0, 0])}) = {n(fw.f[0, 0])}"]
    else:
        x_part = " + ".join(f"{f(a)}×{f(b)}" for a, b in list(zip(w.wf[0, hidden:], fw.x[0], strict=True))[:3])
        x_part += " + …" if d > 3 else ""
        worked = [f"f₁[0] = σ({x_part} + {f(w.bf[0])}) = σ({n(fw.zf[0, 0])}) = {n(fw.f[0, 0])} (h₀ = 0: only x counts)"]
    for t in range(min(steps, SHOWN_STEPS)):
        k = t + 1
        worked.append(
            f"c{sub(k)}[0] = f{sub(k)}[0]×c{sub(k - 1)}[0] + i{sub(k)}[0]×c̃{sub(k)}[0] = "
            f"{f(fw.f[t, 0])}×{f(fw.previous_c(t)[0])} + {f(fw.i[t, 0])}×{f(fw.g[t, 0])} = {n(fw.c[t, 0])}"
        )
    if steps > SHOWN_STEPS:
        worked.append(f"… and {steps - SHOWN_STEPS} more steps, each the same way")
    last = steps - 1
    worked.append(
        f"h{sub(steps)}[0] = o{sub(steps)}[0]×tanh(c{sub(steps)}[0]) = {f(fw.o[last, 0])}×tanh({n(fw.c[last, 0])}) = "
        f"{n(fw.h[last, 0])}"
    )
    if hidden > 1:
        worked.append("the same for the other unit" + ("s" if hidden > 2 else ""))
    return Step(
        id="every",
        title="Every step: the gates, the cell state and the output",
        formula=r"\mathbf{c}_t = \mathbf{f}_t \odot \mathbf{c}_{t-1} + \mathbf{i}_t \odot \tilde{\mathbf{c}}_t,\quad "
        r"\mathbf{h}_t = \mathbf{o}_t \odot \tanh(\mathbf{c}_t)",
        formula_text="row t reads hₜ₋₁ from the row before: cₜ = fₜ⊙cₜ₋₁ + iₜ⊙c̃ₜ, hₜ = oₜ⊙tanh(cₜ)",
        values=[
            Value("gates", fw.gates(), label="the gates", rows=step_labels(steps), cols=cols),
            Value("c", fw.c, label="the cell state c", rows=step_labels(steps), cols=unit_labels("c", hidden), detail=True),
            Value("h", fw.h, label="the output h", rows=step_labels(steps), cols=unit_labels("h", hidden), detail=True),
            Value("ch", np.hstack([fw.c, fw.h]), label="the cell state c | the output h, side by side",
                  rows=step_labels(steps), cols=(*unit_labels("c", hidden), *unit_labels("h", hidden))),
        ],
        worked=worked,
        why="The weights stay the same; the gates change with xₜ and hₜ₋₁, and the cell changes only by a "
        "gated sum: what f keeps of cₜ₋₁ passes on as it is.",
    )


def _carry_step(ctx: Context, inputs: Inputs, fw: core.LSTMForward) -> Step:
    n, f = ctx.n, ctx.f
    w = inputs.weights
    hidden = w.hidden
    steps = fw.x.shape[0]
    w_hh = w.wc[:, :hidden]
    sigma = core.spectral_norm(w_hh)
    lengths = ((steps,) if steps > 1 else ()) + inputs.lengths
    rows = core.horizons(inputs.x, w, lengths, inputs.h0, inputs.c0)
    values = []
    worked = []
    if steps > 1:
        products = core.cell_path(fw.f)
        first = min(steps, 3)  # ∂c₃/∂c₁ = f₂×f₃ in full, then on to T
        names = "×".join(f"f{sub(t + 1)}[0]" for t in range(1, first))
        terms = "×".join(f(fw.f[t, 0]) for t in range(1, first))
        worked.append(f"∂c{sub(first)}/∂c₁[0] = {names} = {terms} = {n(products[first - 2, 0])}")
        if steps > first:
            rest = [float(fw.f[t, 0]) for t in range(first, steps)]
            shown = "×".join(f(a) for a in rest) if len(rest) <= 3 else f"{f(rest[0])}×…×{f(rest[-1])}"
            names = "f₄[0]" if steps == 4 else f"f₄[0]×…×f{sub(steps)}[0]"
            worked.append(f"∂c{sub(steps)}/∂c₁[0] = ∂c₃/∂c₁[0]×{names} = {f(products[first - 2, 0])}×{shown} = "
                          f"{n(products[-1, 0])}")
        values.append(Value("carry", products, label="∂cₜ/∂c₁ along the cell: the product of f, unit by unit",
                            rows=step_labels(steps - 1, start=2), cols=unit_labels("Π f", hidden)))
    rnn = core.rnn_forward(inputs.x, w.wc, w.bc, inputs.h0)
    t = 1 if steps > 1 else 0
    s, slope = float(rnn.h[t, 0]), 1.0 - float(rnn.h[t, 0]) ** 2
    worked += [
        "RNN: the candidate on its own, sₜ = tanh(W_c·[sₜ₋₁, xₜ] + b_c)",
        f"W_hh = the h columns of W_c, ‖W_hh‖₂ = {n(sigma)}",
        f"J{sub(t + 1)}[0,0] = (1 − s{sub(t + 1)}[0]²)×W_hh[0,0] = (1 − {f(s)}²)×{f(w_hh[0, 0])} = {n(slope * w_hh[0, 0])}",
        "all paths: the gates also read hₜ₋₁, and hₜ₋₁ depends on cₜ₋₁",
    ]
    longest = max(rows, key=lambda r: r.steps)
    factors = longest.steps - 1
    if math.isfinite(longest.cell_path.log10):
        mean = 10 ** (longest.cell_path.log10 / factors)
        worked.append(f"T = {longest.steps}: the largest Π f = {n(longest.cell_path.value)} = {n(mean)}^{factors}, "
                      f"an average f of {n(mean)}")
    bound = core.Norm.of(1.0, factors * math.log(sigma)) if sigma > 0 else core.Norm(0.0, -math.inf)
    worked.append(f"RNN: at most ‖W_hh‖₂^{factors} = {n(sigma)}^{factors} = {n(bound.value)}, "
                  f"{n(longest.rnn.value)} with the slopes")
    table = np.array([[r.cell_path.value, r.all_paths.value, r.rnn.value] for r in rows])
    labels = tuple(f"T = {r.steps}" + ("" if i or steps == 1 else " (as given)") for i, r in enumerate(rows))
    values.append(Value("horizons", table, label="‖∂c_T/∂c₁‖₂ along the cell and by every path; the RNN's ‖∂s_T/∂s₁‖₂",
                        rows=labels, cols=("cell path", "all paths", "RNN")))
    step = Step(
        id="carry",
        title="Why the cell state carries gradients",
        formula=r"\frac{\partial \mathbf{c}_T}{\partial \mathbf{c}_1}\Big|_{\text{cell}} = \prod_{t=2}^{T} \mathrm{diag}(\mathbf{f}_t)"
        r",\quad \text{RNN: } \frac{\partial \mathbf{s}_T}{\partial \mathbf{s}_1} = \prod_{t=2}^{T} \mathrm{diag}(1 - \mathbf{s}_t^2)\,W_{hh}",
        formula_text="cell: ∂c_T/∂c₁ = Π diag(fₜ);  RNN: ∂s_T/∂s₁ = Π Jₜ, Jₜ = diag(1 − sₜ²)·W_hh",
        values=values,
        worked=worked,
        why="Along the cell each step only multiplies by f, with no weight matrix and no tanh slope between, "
        "so the gradient keeps what the forget gates keep, and f is learned; the RNN's passes W_hh and "
        "tanh′ ≤ 1 at every step.",
    )
    for r in rows:
        for label, norm in (("cell path", r.cell_path), ("all paths", r.all_paths), ("RNN", r.rnn)):
            if norm.out_of_range:
                step.warnings.append(
                    f"T = {r.steps}, {label}: about 10^{norm.log10:.1f}, beyond float64's range (shown as {n(norm.value)})"
                )
    return step


def build(ctx: Context, inputs: Inputs) -> Trace:
    x, w = inputs.x, inputs.weights
    fw = core.lstm_forward(x, w, inputs.h0, inputs.c0)
    steps = x.shape[0]
    recorded: dict[str, Any] = {
        "x": x, "wf": w.wf, "wi": w.wi, "wc": w.wc, "wo": w.wo, "bf": w.bf, "bi": w.bi, "bc": w.bc, "bo": w.bo,
        "h0": inputs.h0, "c0": inputs.c0, "lengths": list(inputs.lengths),
    }
    recorded.update(inputs.drawn)
    trace = ctx.new_trace(recorded)
    trace.add(_inputs_step(ctx, inputs))
    trace.add(_one_step(ctx, inputs, fw, 1 if steps > 1 else 0))
    every = trace.add(_every_step(ctx, inputs, fw))
    trace.add(_carry_step(ctx, inputs, fw))
    trace.outputs = {name: every.value(name).data for name in ("h", "c", "gates")}
    trace.result = answer(trace, "every.ch")
    return trace


# --------------------------------------------------------------------------- known mistakes


def _forward(case) -> core.LSTMForward:
    i = case.inputs
    return core.lstm_forward(i.x, i.weights, i.h0, i.c0)


def _gate_at(case) -> tuple[int, str, int, bool] | None:
    """(row t, gate, unit, whether z was asked) of the asked element of the gates table or the step's z table."""
    hidden = case.inputs.weights.hidden
    if case.value == "gates":
        t, col = case.index
        return t, core.GATES[col // hidden], col % hidden, False
    if case.value == "z":
        row, col = case.index
        t = 1 if case.inputs.x.shape[0] > 1 else 0
        return t, core.GATES[row], col % hidden, col < hidden
    return None


def _activate(gate: str, z: float, asked_z: bool) -> float:
    if asked_z:
        return z
    return float(activations.tanh(z) if gate == "c" else activations.sigmoid(z))


def _candidate_sigmoid(case) -> float | None:
    """σ(z) for the candidate, which is tanh(z)."""
    at = _gate_at(case)
    if at is None or at[1] != "c" or at[3]:
        return None
    t, _, u, _ = at
    return float(activations.sigmoid(_forward(case).zc[t, u]))


def _gate_without_bias(case) -> float | None:
    """σ(W·v) (tanh for c̃) with the bias left out."""
    at = _gate_at(case)
    if at is None:
        return None
    t, gate, u, asked_z = at
    if case.inputs.weights.bias(gate)[u] == 0:
        return None
    return _activate(gate, float(_forward(case).products[gate][t, u]), asked_z)


def _h_left_out(case) -> float | None:
    """The gate computed as if hₜ₋₁ were 0 (as at t = 1), at a later step."""
    at = _gate_at(case)
    if at is None or at[0] == 0:
        return None
    t, gate, u, asked_z = at
    fw = _forward(case)
    w = case.inputs.weights
    hidden = w.hidden
    if not np.any(fw.h[t - 1]):
        return None
    return _activate(gate, float(w.matrix(gate)[u, hidden:] @ fw.x[t] + w.bias(gate)[u]), asked_z)


def _no_forget(case) -> float | None:
    """cₜ₋₁ + iₜ⊙c̃ₜ: the old cell kept whole, as if f were 1."""
    if case.value != "c":
        return None
    t, u = case.index
    fw = _forward(case)
    if fw.previous_c(t)[u] == 0:
        return None
    return float(fw.previous_c(t)[u] + fw.i[t, u] * fw.g[t, u])


def _no_input_gate(case) -> float | None:
    """fₜ⊙cₜ₋₁ + c̃ₜ: the candidate written whole, as if i were 1."""
    if case.value != "c":
        return None
    t, u = case.index
    fw = _forward(case)
    return float(fw.f[t, u] * fw.previous_c(t)[u] + fw.g[t, u])


def _h_without_tanh(case) -> float | None:
    """oₜ⊙cₜ: the cell shown without its tanh."""
    if case.value != "h":
        return None
    t, u = case.index
    fw = _forward(case)
    return float(fw.o[t, u] * fw.c[t, u])


def _counted_f1(case) -> float | None:
    """Π f from f₁ on: one factor too many (f₁ multiplies c₀, not c₁)."""
    if case.value != "carry":
        return None
    t, u = case.index
    return float(_forward(case).f[0, u]) * float(case.element())


MISTAKES = (
    Mistake("candidate-sigmoid", "used σ for the candidate c̃: it is a tanh", _candidate_sigmoid, values=("gates",)),
    Mistake("no-bias", "left out the gate's bias b", _gate_without_bias, values=("gates", "z")),
    Mistake("previous-h-left-out", "left out hₜ₋₁: after t = 1 the gates read [hₜ₋₁, xₜ], not xₜ alone", _h_left_out,
            values=("gates", "z")),
    Mistake("no-forget", "kept cₜ₋₁ whole: cₜ = fₜ⊙cₜ₋₁ + iₜ⊙c̃ₜ multiplies it by f", _no_forget, values=("c",)),
    Mistake("no-input-gate", "wrote c̃ whole: cₜ = fₜ⊙cₜ₋₁ + iₜ⊙c̃ₜ multiplies it by i", _no_input_gate, values=("c",)),
    Mistake("h-without-tanh", "left out the tanh: hₜ = oₜ⊙tanh(cₜ), not oₜ⊙cₜ", _h_without_tanh, values=("h",)),
    Mistake("counted-f1", "multiplied f₁ in too: ∂c_T/∂c₁ runs over f₂ … f_T", _counted_f1, values=("carry",)),
)


def script(trace: Trace) -> str:
    """The LSTM cell, step by step, as NumPy source (``--format py``)."""
    from nntutor.walkthroughs._script import heading

    return "\n".join([
        "def sigmoid(z):",
        "    return 1.0 / (1.0 + np.exp(-z))",
        "",
        "",
        heading(trace, "inputs"),
        heading(trace, "every"),
        "h_t, c_t, hs, cs, gate_rows = h0, c0, [], [], []",
        "for x_t in x:",
        "    hx = np.concatenate([h_t, x_t])  # [hₜ₋₁, xₜ]",
        "    f = sigmoid(wf @ hx + bf)  # forget gate",
        "    i = sigmoid(wi @ hx + bi)  # input gate",
        "    c_tilde = np.tanh(wc @ hx + bc)  # candidate",
        "    o = sigmoid(wo @ hx + bo)  # output gate",
        "    c_t = f * c_t + i * c_tilde",
        "    h_t = o * np.tanh(c_t)",
        "    hs.append(h_t)",
        "    cs.append(c_t)",
        "    gate_rows.append(np.concatenate([f, i, c_tilde, o]))",
        "h, c, gates = np.array(hs), np.array(cs), np.array(gate_rows)",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "x": Input("matrix"),
        "wf": Input("matrix"),
        "wi": Input("matrix"),
        "wc": Input("matrix"),
        "wo": Input("matrix"),
        "bf": Input("vector"),
        "bi": Input("vector"),
        "bc": Input("vector"),
        "bo": Input("vector"),
        "h0": Input("vector"),
        "c0": Input("vector"),
        "lengths": Input("vector"),
        "seq-len": Input("integer", minimum=1),
        "d-in": Input("integer", minimum=1),
        "hidden": Input("integer", minimum=1),
        "seed": Input("integer", minimum=0),
    },
    targets=(
        Target("step", "z", cols=(0, 1)),
        Target("every", "gates", rows=(0, 1)),
        Target("every", "c", rows=(0, 1)),
        Target("every", "h", rows=(0, 1)),
        Target("carry", "carry", rows=(0, 1)),
    ),
    mistakes=MISTAKES,
    keep=("lengths", "h0", "c0"),
    script=script,
)
