"""The rnn lesson: a recurrent network stepped through a short sequence, then backpropagation through time.

Default run: T = 4 steps of d = 2 inputs, 2 hidden units, h₀ = 0,
W_xh = [[0.5, −0.5], [0.3, 0.8]], W_hh = [[0.6, −0.4], [0.2, 0.5]], b = (0, 0.1).
Step 1: z₁ = W_xh·x₁ + b = (0.5, 0.3 + 0.1) = (0.5, 0.4), h₁ = tanh(z₁) = (0.4621, 0.3799).
Back in time, J_t = diag(1 − h_t²)·W_hh and ∂h₄/∂h₁ = J₄·J₃·J₂; the table then runs the
sequence repeated to T = 10 and 100 steps, with W_hh as given (σ_max = 0.7383) and scaled
to σ_max = 0.9 and 2.

Inputs not typed are the lesson file's defaults, or drawn from ``--seed`` (with the sizes
``--seq-len``, ``--d-in``, ``--hidden``); a default that does not fit a typed ``--x`` is
refused with a hint:

>>> from nntutor.catalog.lessonfile import load_lesson
>>> from nntutor.catalog.run import parse_args
>>> lesson = load_lesson("rnn")
>>> check(parse_args(lesson, {"x": "1,0,0;0,1,0", "seed": "1"})).wxh.shape
(2, 3)
>>> check(parse_args(lesson, {"x": "1,0,0;0,1,0"}))
Traceback (most recent call last):
  ...
nntutor.errors.InputError: --x: has 3 columns but --wxh (default 2×2) has 2 (W_xh is hidden × inputs); pass --wxh too
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from nntutor.core import recurrent as rnn
from nntutor.errors import InputError
from nntutor.numfmt import subscript as sub
from nntutor.trace import Step, Table, Trace, Value
from nntutor.walkthroughs._activation_notes import activation_worked
from nntutor.walkthroughs._common import Context, Size, answer, dot_worked, mismatch, shape_words
from nntutor.walkthroughs._declare import Args, Input, Mistake, Target, Walkthrough
from nntutor.walkthroughs._transformer import check_memory, random_matrix, refuse_with, shape_text

DEFAULT_STEPS = 4
DEFAULT_INPUTS = 2
DEFAULT_HIDDEN = 2
MAX_TABLE_VALUES = 8  # at most this many --lengths and --sigmas each
MAX_STEPS = 1000  # the sequence the lesson steps through (longer ones: --lengths)
MAX_LENGTH = 100_000
MAX_SECONDS = 5.0
# Measured on a shared 2-core machine, with room to spare: 100,000 steps of the loop in
# 3.6 s of CPU at 2 hidden units; 200 hidden units about 4e8 multiply-adds a second.
SECONDS_PER_LOOP_STEP = 30e-6
MULTIPLY_ADDS_PER_SECOND = 4e8
DIAGRAM_STEPS = 6  # the chain drawn in full up to this many steps

class Inputs(NamedTuple):
    """Checked inputs: the sequence, the weights whose shapes chain, h₀, and the table's T and σ values."""

    x: np.ndarray  # T × d, one row per time step
    wxh: np.ndarray  # hidden × d
    whh: np.ndarray  # hidden × hidden
    b: np.ndarray  # hidden
    h0: np.ndarray  # hidden (zeros unless --h0)
    lengths: tuple[int, ...]  # T values of the vanishing/exploding table
    sigmas: tuple[float, ...]  # σ_max values W_hh is scaled to, for the table
    drawn: dict[str, Any]  # the seed, the sizes and the names of the inputs drawn from it; empty if none


# --------------------------------------------------------------------------- check


def _hint(args: Args, name: str, what: str) -> str:
    """Why an untyped matrix does not fit: it is the lesson file's default, made for other sizes."""
    if name in args.given:
        return ""
    return f"; the default is for {what}: give --{name} or use --seed"


def _whole_numbers(values: np.ndarray) -> tuple[int, ...]:
    if values.size > MAX_TABLE_VALUES:
        raise InputError("--lengths", f"{values.size} lengths given; at most {MAX_TABLE_VALUES} fit the table")
    out = []
    for v in values.tolist():
        if not float(v).is_integer():
            raise InputError("--lengths", f"{v:g} is not a whole number of steps")
        if v < 2:
            raise InputError("--lengths", f"{v:g} is too small (a sequence needs at least 2 steps to have a gradient back in time)")
        if v > MAX_LENGTH:
            raise InputError("--lengths", f"{v:g} is too large (at most {MAX_LENGTH:,} steps)")
        out.append(int(v))
    return tuple(out)


def check(args: Args) -> Inputs:
    """The flags checked together: X (typed or drawn), weight shapes, h₀, the table's lengths and σ, the size."""
    given = args.given
    sized = [name for name in ("seq-len", "d-in") if name in given]
    if "x" in given and sized:
        raise refuse_with(f"--{sized[0]}", "--x", "the sizes come from --x")
    for typed in ("wxh", "whh"):
        if "hidden" in given and typed in given:
            raise refuse_with("--hidden", f"--{typed}", f"the hidden size comes from --{typed}")
    random = "seed" in given or bool(sized) or "hidden" in given
    seed = args["seed"] if args["seed"] is not None else 0
    rng = np.random.default_rng(seed) if random else None
    drawn: list[str] = []

    if rng is not None and "x" not in given:
        steps = args["seq-len"] if args["seq-len"] is not None else DEFAULT_STEPS
        if steps > MAX_STEPS:
            raise InputError(
                "--seq-len", f"{steps:,} steps: the lesson steps through at most {MAX_STEPS:,} (--lengths runs longer sequences)"
            )
        inputs = args["d-in"] if args["d-in"] is not None else DEFAULT_INPUTS
        _check_sizes(args, steps, inputs, _hidden_size(args, rng), "--seq-len" if "seq-len" in given else "--seed")
        x = np.round(rng.uniform(-1.0, 1.0, size=(steps, inputs)), 2)
        drawn.append("x")
    else:
        x = args["x"]
    steps, inputs = x.shape
    if steps < 2:
        raise InputError("--x", "has 1 row (one time step); going back through time needs at least 2")
    if steps > MAX_STEPS:
        raise InputError("--x", f"has {steps:,} rows: the lesson steps through at most {MAX_STEPS:,} (--lengths runs longer sequences)")

    typed = {name: args[name] for name in ("wxh", "whh", "b") if rng is None or name in given}
    hidden = _hidden_size(args, rng, typed)
    _check_sizes(args, steps, inputs, hidden, "--x" if "x" in given else "--seq-len" if "seq-len" in given else "--seed")

    if "wxh" in typed:
        wxh = typed["wxh"]
        if wxh.shape[1] != inputs:
            if "x" in given:
                raise mismatch(
                    given, Size("wxh", wxh.shape[1], "columns", shape_words(wxh)),
                    Size("x", inputs, "columns", shape_words(args["x"])), why="W_xh is hidden × inputs",
                )
            raise InputError(
                "--wxh",
                f"has {wxh.shape[1]} columns but --x has {inputs} numbers per step "
                f"(W_xh is hidden × inputs{_hint(args, 'wxh', f'{wxh.shape[1]} inputs')})",
            )
    else:
        wxh = random_matrix(rng, (hidden, inputs), 1.0 / np.sqrt(inputs))
        drawn.append("wxh")
    if "whh" in typed:
        whh = typed["whh"]
        if whh.shape != (hidden, hidden) and "wxh" in typed and whh.shape[0] != hidden:
            raise mismatch(
                given, Size("whh", whh.shape[0], "rows", shape_words(whh)),
                Size("wxh", hidden, "rows", shape_words(typed["wxh"])), why="W_hh is hidden × hidden",
            )
        if whh.shape != (hidden, hidden):
            raise InputError(
                "--whh",
                f"expected a {hidden}×{hidden} matrix (hidden × hidden, one row and column per row of --wxh), "
                f"got {shape_text(whh)}" + ("" if "whh" in given else f" (the default is for {whh.shape[0]} hidden units: give --whh or use --seed)"),
            )
    else:
        whh = random_matrix(rng, (hidden, hidden), 1.0 / np.sqrt(hidden))
        drawn.append("whh")
    if "b" in typed:
        b = typed["b"]
        if b.size != hidden and "wxh" in typed:
            raise mismatch(
                given, Size("b", b.size, "numbers"), Size("wxh", hidden, "rows", shape_words(typed["wxh"])),
                why="one bias per hidden unit",
            )
        if b.size != hidden:
            raise InputError(
                "--b", f"expected {hidden} numbers (one per hidden unit, the rows of --wxh), got {b.size}"
                + ("" if "b" in given else f" (the default is for {b.size} hidden units: give --b or use --seed)")
            )
    else:
        b = np.round(rng.uniform(-0.5, 0.5, size=hidden), 2)
        drawn.append("b")
    h0 = args["h0"]
    if h0 is None:
        h0 = np.zeros(hidden)
    elif h0.size != hidden:
        raise InputError("--h0", f"expected {hidden} numbers (one per hidden unit), got {h0.size}")

    lengths = _whole_numbers(np.asarray(args["lengths"]))
    sigma_values = np.asarray(args["sigmas"], dtype=np.float64)
    if sigma_values.size > MAX_TABLE_VALUES:
        raise InputError("--sigmas", f"{sigma_values.size} values given; at most {MAX_TABLE_VALUES} fit the table")
    sigmas = tuple(float(s) for s in sigma_values)
    if rnn.spectral_norm(whh) == 0.0:
        remedy = "give a --whh with a nonzero entry" if "whh" in given else "the drawn W_hh rounded to zeros: try another --seed"
        raise InputError("--whh", f"is all zeros, so it cannot be scaled to a largest singular value for the table ({remedy})")
    _check_work(args, steps, inputs, hidden, lengths, len(sigmas))

    record: dict[str, Any] = {}
    if drawn:
        record = {"seed": seed, "drawn": drawn, **{name: args[name] for name in ("seq-len", "d-in", "hidden") if name in given}}
    return Inputs(x, wxh, whh, b, h0, lengths, sigmas, record)


def _hidden_size(args: Args, rng, typed: dict[str, np.ndarray] | None = None) -> int:
    """The number of hidden units: from a typed --wxh, else a typed --whh, else --hidden (default 2)."""
    given = args.given
    if typed is None:
        typed = {name: args[name] for name in ("wxh", "whh") if rng is None or name in given}
    if "wxh" in typed:
        return int(typed["wxh"].shape[0])
    if "whh" in typed:
        return int(typed["whh"].shape[0])
    return int(args["hidden"]) if args["hidden"] is not None else DEFAULT_HIDDEN


def memory_estimate(steps: int, inputs: int, hidden: int) -> int:
    """Bytes the run keeps, with room to spare: every step's Jacobian and ∂h_T/∂h_t (T × H × H each), the states."""
    return 8 * (3 * steps * hidden * hidden + 8 * steps * (hidden + inputs) + 4 * hidden * (hidden + inputs))


def _check_sizes(args: Args, steps: int, inputs: int, hidden: int, flag: str) -> None:
    """Refuse a sequence whose arrays would exhaust memory (before anything is drawn)."""
    if "hidden" in args.given and hidden * hidden > steps * inputs:
        flag = "--hidden"
    check_memory(flag, memory_estimate(steps, inputs, hidden), f"{steps:,} steps with {hidden:,} hidden units")


def _check_work(args: Args, steps: int, inputs: int, hidden: int, lengths: tuple[int, ...], sigmas: int) -> None:
    """Refuse a run that would take more than a few seconds, with the estimate."""
    variants = 1 + sigmas
    madds, loop = rnn.work_estimate(steps, inputs, hidden, lengths, variants)
    seconds = loop * SECONDS_PER_LOOP_STEP + madds / MULTIPLY_ADDS_PER_SECOND
    if seconds <= MAX_SECONDS:
        return
    main, _ = rnn.work_estimate(steps, inputs, hidden, (), 0)
    given = args.given
    if hidden >= 64 and ("hidden" in given or "wxh" in given or "whh" in given):
        flag = "--hidden" if "hidden" in given else "--wxh" if "wxh" in given else "--whh"
    elif main > madds - main:
        flag = "--x" if "x" in given else "--seq-len" if "seq-len" in given else "--seed"
    else:
        flag = "--lengths"
    raise InputError(
        flag,
        f"{steps:,} steps, {hidden:,} hidden units and the table ({variants} × W_hh, T up to {max(lengths):,}) "
        f"need about {madds:.2g} multiply-adds in {loop:,} sequential steps (~{seconds:.0f} s); "
        f"at most about {MAX_SECONDS:.0f} s of work is allowed: choose smaller sizes",
    )


# --------------------------------------------------------------------------- build


def _row(ctx: Context, v: np.ndarray, limit: int = 6) -> str:
    return ", ".join(ctx.n(x) for x in v[:limit]) + (", …" if v.size > limit else "")


def _matrix_text(ctx: Context, a: np.ndarray) -> str:
    if a.shape[0] > 4 or a.shape[1] > 4:
        return f"({shape_text(a)})"
    return "[" + "; ".join(_row(ctx, r) for r in a) + "]"


def _diagram(steps: int) -> list[str]:
    """The unrolled chain: x_t feeding h_t, and h_{t−1} feeding h_t."""
    if steps <= DIAGRAM_STEPS:
        times: list[int | None] = list(range(1, steps + 1))
    else:
        times = [1, 2, 3, None, steps - 1, steps]
    cells = ["h₀"] + [f"h{sub(t)}" if t is not None else "⋯" for t in times]
    line_h, starts = "", []
    for i, cell in enumerate(cells):
        if i:
            line_h += " → "
        starts.append(len(line_h))
        line_h += cell
    top, mid = [" "] * len(line_h), [" "] * len(line_h)
    for start, t in zip(starts[1:], times, strict=True):
        if t is None:
            continue
        label = f"x{sub(t)}"
        top[start:start + len(label)] = list(label)
        mid[start] = "↓"
    return ["  " + "".join(top).rstrip(), "  " + "".join(mid).rstrip(), "  " + line_h]


def build(ctx: Context, inputs: Inputs) -> Trace:
    x, wxh, whh, b, h0 = inputs.x, inputs.wxh, inputs.whh, inputs.b, inputs.h0
    n, f = ctx.n, ctx.f
    steps, d = x.shape
    hidden = whh.shape[0]
    fw = rnn.rnn_forward(x, wxh, whh, b, h0)
    slopes = rnn.tanh_slopes(fw)
    jac = rnn.step_jacobians(fw)
    back = rnn.backward_products(jac)
    sigma = rnn.spectral_norm(whh)
    zero_start = not np.any(h0)

    recorded: dict[str, Any] = {"x": x, "wxh": wxh, "whh": whh, "b": b, "h0": h0,
                                "lengths": list(inputs.lengths), "sigmas": list(inputs.sigmas)}
    recorded.update(inputs.drawn)
    trace = ctx.new_trace(recorded)

    units = tuple(f"[{i}]" for i in range(hidden))
    step_rows = tuple(f"x{sub(t)}" for t in range(1, steps + 1))

    # 1. The unrolled network.
    params = hidden * d + hidden * hidden + hidden
    weights = np.hstack([wxh, whh, b[:, None]])
    values = [
        Value("X", x, label=f"X, one row per time step ({steps}×{d})", rows=step_rows, cols=tuple(f"[{j}]" for j in range(d))),
        Value(
            "weights", weights, label="W_xh (times x) | W_hh (times h) | b, one row per hidden unit",
            rows=tuple(f"unit {i}" for i in range(hidden)),
            cols=(*(f"x[{j}]" for j in range(d)), *(f"h[{j}]" for j in range(hidden)), "b"),
        ),
    ]
    if not zero_start:
        values.append(Value("h0", h0, label="h₀, the state before step 1", cols=units))
    trace.add(
        Step(
            id="unrolled",
            title="The network unrolled through time",
            formula=r"h_t = \tanh\left(W_{xh} x_t + W_{hh} h_{t-1} + b\right),\quad t = 1, \dots, T,\quad "
            + (r"h_0 = 0" if zero_start else r"h_0 \text{ given}"),
            formula_text="hₜ = tanh(W_xh·xₜ + W_hh·hₜ₋₁ + b),  t = 1 … T,  " + ("h₀ = 0" if zero_start else "h₀ given"),
            values=values,
            worked=[
                *_diagram(steps),
                "↓ is W_xh·xₜ, → is W_hh·hₜ₋₁; they add, with b, inside the tanh.",
                f"Every step shares W_xh ({hidden}×{d}), W_hh ({hidden}×{hidden}) and b ({hidden}): "
                f"{params} parameters for any T.",
            ],
            why="Unrolled: a layer per step, all sharing weights; hₜ sees the past via hₜ₋₁.",
        )
    )

    # 2. Forward, one step at a time.
    t = 2
    worked = []
    if zero_start:
        worked.append(f"t = 1: h₀ = 0, so W_hh·h₀ = 0 and z₁ = W_xh·x₁ + b = [{_row(ctx, fw.z[0])}]")
    else:
        worked.append(f"t = 1: z₁ = W_xh·x₁ + W_hh·h₀ + b = [{_row(ctx, fw.z[0])}]")
    worked.append(dot_worked(ctx, f"W_xh[0]·x{sub(t)}", wxh[0], x[t - 1], fw.drive[t - 1, 0]))
    worked.append(dot_worked(ctx, f"W_hh[0]·h{sub(t - 1)}", whh[0], fw.h[t - 2], fw.recurrent[t - 1, 0]))
    worked.append(f"z{sub(t)}[0] = {n(fw.drive[t - 1, 0])} + {f(fw.recurrent[t - 1, 0])} + {f(b[0])} = {n(fw.z[t - 1, 0])}")
    worked.append(f"h{sub(t)}[0] = {activation_worked(ctx, 'tanh', fw.z[t - 1, 0])}")
    if hidden > 1:
        worked.append(
            f"z{sub(t)}[1] = {n(fw.drive[t - 1, 1])} + {f(fw.recurrent[t - 1, 1])} + {f(b[1])} "
            f"= {n(fw.z[t - 1, 1])},  h{sub(t)}[1] = tanh({n(fw.z[t - 1, 1])}) = {n(fw.h[t - 1, 1])}"
        )
    rest = f"t = 3 … {steps}" if steps > 4 else "t = 3 and 4" if steps == 4 else "t = 3" if steps == 3 else ""
    others = "units 2 …" if hidden > 2 else ""
    if rest or others:
        worked.append("The same for " + " and ".join(part for part in (others, rest) if part) + ", each from the state before it.")
    trace.add(
        Step(
            id="forward",
            title="Step through time",
            formula=r"z_t = W_{xh} x_t + W_{hh} h_{t-1} + b,\quad h_t = \tanh(z_t)",
            formula_text="zₜ = W_xh·xₜ + W_hh·hₜ₋₁ + b,  hₜ = tanh(zₜ)",
            values=[
                Value("z", fw.z, label="zₜ, one row per step", rows=tuple(f"z{sub(s)}" for s in range(1, steps + 1)), cols=units,
                      detail=True),  # z₂ is worked below; hₜ = tanh(zₜ) follows
                Value("h", fw.h, label="hₜ = tanh(zₜ), the state after each step", rows=tuple(f"h{sub(s)}" for s in range(1, steps + 1)), cols=units),
            ],
            worked=worked,
            why="The state is all the network remembers of the inputs before.",
        )
    )

    # 3. One step back: J_t.
    later = tuple(f"t={s}" for s in range(2, steps + 1))
    pairs = tuple(f"[{i},{j}]" for i in range(hidden) for j in range(hidden))
    flat = jac.reshape(steps - 1, hidden * hidden)
    worked = [f"1 − h₂[0]² = 1 − {n(fw.h[1, 0])}² = {n(slopes[1, 0])}"]
    for j in range(min(hidden, 2)):
        worked.append(f"J₂[0,{j}] = (1 − h₂[0]²)×W_hh[0,{j}] = {f(slopes[1, 0])}×{f(whh[0, j])} = {n(jac[0, 0, j])}")
    worked.append("The same for every entry: row i of Jₜ is row i of W_hh times unit i's slope.")
    trace.add(
        Step(
            id="factors",
            title="Back one step: Jₜ = ∂hₜ/∂hₜ₋₁",
            formula=r"J_t = \frac{\partial h_t}{\partial h_{t-1}} = \mathrm{diag}\!\left(1 - h_t^2\right) W_{hh},"
            r"\quad \tanh'(z) = 1 - \tanh^2(z)",
            formula_text="Jₜ = ∂hₜ/∂hₜ₋₁ = diag(1 − hₜ²)·W_hh,  tanh′(z) = 1 − tanh²(z)",
            values=[
                Value("tanh'", slopes[1:], label=f"1 − hₜ², the tanh slope of each unit (t = 2 … {steps})" if steps > 2 else "1 − h₂², the tanh slope of each unit", rows=later, cols=units, detail=True),  # worked below; Jₜ carries it
                Value("J", flat, label="Jₜ, one row per step, entries [i,j] in reading order", rows=later, cols=pairs),
            ],
            worked=worked,
            why="By the chain rule: moving hₜ₋₁ moves zₜ by W_hh times the change, and each unit passes its "
            "part on scaled by its tanh slope, which is never more than 1.",
        )
    )

    # 4. Backpropagation through time.
    T = steps
    norms = np.array([rnn.spectral_norm(back[k]) for k in range(T)])
    product = back[0]
    factor_norms = [rnn.spectral_norm(jac[k]) for k in range(T - 1)]
    arrows = " ← ".join(f"h{sub(s)}" for s in (range(1, T + 1) if T <= DIAGRAM_STEPS else (1, 2, T)))
    if T > DIAGRAM_STEPS:
        arrows = arrows.replace(f"h₂ ← h{sub(T)}", f"h₂ ← ⋯ ← h{sub(T)}")
    chain = "·".join(f"J{sub(s)}" for s in range(T, 1, -1)) if T <= DIAGRAM_STEPS else f"J{sub(T)}·J{sub(T - 1)}···J₂"
    worked = [f"{arrows}, one Jₜ per arrow: ∂h{sub(T)}/∂h₁ = {chain}"]
    if T >= 4:
        worked.append(
            dot_worked(ctx, f"∂h{sub(T)}/∂h{sub(T - 2)}[0,0] = J{sub(T)}[0,:]·J{sub(T - 1)}[:,0]", jac[T - 2, 0], jac[T - 3][:, 0], back[T - 3][0, 0])
        )
        if T > 4:
            worked.append("… and so on, one more factor per step back …")
    if T >= 3:
        first = f"J{sub(3)}[0,:]" if T == 3 else f"∂h{sub(T)}/∂h₂[0,:]"
        worked.append(dot_worked(ctx, f"∂h{sub(T)}/∂h₁[0,0] = {first}·J₂[:,0]", back[1][0], jac[0][:, 0], product[0, 0]))
    else:
        worked.append(f"∂h₂/∂h₁ = J₂ (one step back): [0,0] = {n(product[0, 0])}")
    ceiling = rnn.bound(sigma, T - 1)
    chained = float(np.prod(factor_norms))
    if T == 2:
        worked.append(f"‖∂h₂/∂h₁‖₂ = ‖J₂‖₂ = {n(norms[0])} ≤ σ_max(W_hh) = {n(sigma)}")
    else:
        if T - 1 <= 4:
            lhs = "·".join(f"‖J{sub(s)}‖" for s in range(T, 1, -1))
            rhs = "×".join(n(v) for v in reversed(factor_norms))
        else:  # factor_norms[k] is ‖J_(k+2)‖
            lhs = f"‖J{sub(T)}‖·‖J{sub(T - 1)}‖···‖J₂‖"
            rhs = f"{n(factor_norms[-1])}×{n(factor_norms[-2])}×…×{n(factor_norms[0])}"
        worked.append(f"{lhs} = {rhs} = {n(chained)}")
        worked.append(
            f"‖∂h{sub(T)}/∂h₁‖₂ = {n(norms[0])} ≤ {n(chained)} ≤ σ_max(W_hh)^{T - 1} = {n(sigma)}^{T - 1} = {n(ceiling.value)}"
        )
    trace.add(
        Step(
            id="product",
            title=f"Backpropagation through time: ∂h{sub(T)}/∂h₁",
            formula=r"\frac{\partial h_T}{\partial h_1} = J_T J_{T-1} \cdots J_2 = \prod_{t=2}^{T} \mathrm{diag}\!\left(1 - h_t^2\right) W_{hh}"
            r"\ (\text{latest step on the left}),"
            r"\quad \left\|\frac{\partial h_T}{\partial h_1}\right\|_2 \le \sigma_{\max}(W_{hh})^{T-1}",
            formula_text="∂h_T/∂h₁ = J_T···J₂ = Π diag(1 − hₜ²)·W_hh,  ‖∂h_T/∂h₁‖₂ ≤ σ_max(W_hh)^(T−1)",
            values=[
                Value("P", product, label=f"∂h{sub(T)}/∂h₁ (rows: units of h{sub(T)}, columns: units of h₁)",
                      rows=tuple(f"h{sub(T)}{u}" for u in units), cols=tuple(f"h₁{u}" for u in units)),
                Value("norms", norms[None, :], label=f"how far a change in hₜ still reaches h{sub(T)}",
                      rows=(f"‖∂h{sub(T)}/∂hₜ‖₂",), cols=tuple(f"t={s}" for s in range(1, T + 1))),
            ],
            worked=worked,
            why="h₁ reaches h_T through T − 1 Jacobians: with norms below 1 it fades geometrically.",
        )
    )

    # 5. Vanishing and exploding.
    rows = rnn.gradient_norms(x, wxh, whh, b, h0, inputs.lengths, inputs.sigmas)
    trace.add(_table_step(ctx, inputs, rows, sigma))
    per_variant: dict[int, list[rnn.NormRow]] = {}
    for k, row in enumerate(rows):
        per_variant.setdefault(k // len(inputs.lengths), []).append(row)
    grad_norms = Table(
        ("W_hh", "σ_max", *(f"T = {length}" for length in inputs.lengths)),
        tuple((group[0].label, group[0].sigma, *(r.actual.value for r in group)) for group in per_variant.values()),
    )
    trace.outputs = {"h": fw.h, "grad_norms": grad_norms}
    trace.result = answer(trace, "forward.h", "norms.table")
    return trace


def _table_step(ctx: Context, inputs: Inputs, rows: list[rnn.NormRow], sigma: float) -> Step:
    n = ctx.n
    whh = inputs.whh
    table = Table(
        ("W_hh", "σ_max", "T", "‖∂h_T/∂h₁‖₂", "if tanh′ = 1", "σ_max^(T−1)"),
        tuple((r.label, r.sigma, r.steps, r.actual.value, r.linear.value, r.ceiling.value) for r in rows),
    )
    steps = inputs.x.shape[0]
    repeat = ", ".join(f"x{sub(steps + k)} = x{sub(k)}" for k in (1, 2))
    worked = [f"Each T runs X repeated ({repeat}, …) with W_xh, b and h₀ unchanged."]
    rho = rnn.spectral_radius(whh)
    if inputs.sigmas:
        s = inputs.sigmas[0]
        scaled = rnn.scaled_to(whh, s)
        worked.append(f"W_hh × ({n(s)} / {n(sigma)}) = {_matrix_text(ctx, scaled)} has σ_max = {n(s)}")
        last = inputs.sigmas[-1]
        worked.append(
            f"ρ(W_hh) = {n(rho)} (largest |eigenvalue|; {n(rho * last / sigma)} at σ_max = {n(last)}): ‖W_hhᵏ‖ ~ ρᵏ"
        )
    longest = max(rows, key=lambda r: (r.steps, r.sigma))
    worked.append(
        f"bound for σ_max = {n(longest.sigma)}, T = {longest.steps}: {n(longest.sigma)}^{longest.steps - 1} = {n(longest.ceiling.value)}"
    )
    step = Step(
        id="norms",
        title="Vanishing and exploding: T = " + ", ".join(str(length) for length in inputs.lengths),
        formula=r"\left\|\frac{\partial h_T}{\partial h_1}\right\|_2 \le \prod_{t=2}^{T} \left\|\mathrm{diag}(1 - h_t^2)\right\|_2"
        r" \|W_{hh}\|_2 \le \sigma_{\max}^{T-1}",
        formula_text="‖∂h_T/∂h₁‖₂ ≤ Π ‖diag(1 − hₜ²)‖·‖W_hh‖ ≤ σ_max^(T−1)",
        values=[Value("table", table, label="‖∂h_T/∂h₁‖₂ of the network, of W_hh^(T−1) alone, and the bound")],
        worked=worked,
        why="Below 1 every factor shrinks the gradient, so it vanishes at least as fast as σ_max^(T−1); above 1, "
        "W_hh^(T−1) alone can explode, and only tanh units pushed into saturation (1 − h² near 0) hold the product back.",
    )
    for r in rows:
        for what, norm in (("‖∂h_T/∂h₁‖₂", r.actual), ("‖W_hh^(T−1)‖₂", r.linear), ("σ_max^(T−1)", r.ceiling)):
            if norm.overflows or norm.underflows:
                side = "above float64's largest number, shown as ∞" if norm.overflows else "below float64's smallest number, shown as 0"
                step.warnings.append(f"{what} for σ_max = {n(r.sigma)}, T = {r.steps} is about 10^{norm.log10:.0f}: {side}")
    if len(step.warnings) > 3:
        step.warnings[3:] = [f"… and {len(step.warnings) - 3} more values beyond float64's range"]
    return step


# --------------------------------------------------------------------------- known mistakes


def _forward(case) -> rnn.RNNForward:
    i = case.inputs
    return rnn.rnn_forward(i.x, i.wxh, i.whh, i.b, i.h0)


def _no_recurrence(case) -> float | None:
    """zₜ and hₜ without W_hh·hₜ₋₁, as if each step had no past."""
    fw = _forward(case)
    t, i = case.index
    if fw.recurrent[t, i] == 0:
        return None
    z = fw.drive[t, i] + fw.b[i]
    return float(z if case.value == "z" else math.tanh(z))


def _no_tanh(case) -> float | None:
    """hₜ taken as zₜ (the tanh forgotten at this step)."""
    t, i = case.index
    return float(_forward(case).z[t, i])


def _slope_variant(kind: str):
    """tanh′ taken as 1 − z² or as 1 − h (instead of 1 − h²), in the slopes and in Jₜ."""

    def compute(case) -> float | None:
        fw = _forward(case)
        r, k = case.index
        hidden = fw.whh.shape[0]
        unit = k if case.value == "tanh'" else k // hidden
        wrong = 1.0 - fw.z[r + 1, unit] ** 2 if kind == "z" else 1.0 - fw.h[r + 1, unit]
        return float(wrong if case.value == "tanh'" else wrong * fw.whh[unit, k % hidden])

    return compute


def _no_slope(case) -> float | None:
    """Jₜ taken as W_hh alone (diag(1 − hₜ²) left out)."""
    fw = _forward(case)
    hidden = fw.whh.shape[0]
    _, k = case.index
    return float(fw.whh[k // hidden, k % hidden])


def _transposed(case) -> float | None:
    """Jₜ taken as W_hhᵀ·diag(1 − hₜ²), the transpose (how a gradient row vector flows back)."""
    fw = _forward(case)
    hidden = fw.whh.shape[0]
    r, k = case.index
    i, j = k // hidden, k % hidden
    return float(fw.whh[j, i] * (1.0 - fw.h[r + 1, j] ** 2))


MISTAKES = (
    Mistake("no-recurrence", "left out W_hh·hₜ₋₁, as if each step had no past", _no_recurrence, values=("z", "h")),
    Mistake("no-tanh", "stopped at zₜ and forgot the tanh", _no_tanh, values=("h",)),
    Mistake("slope-from-z", "took tanh′ as 1 − z²: it is 1 − tanh(z)² = 1 − h²", _slope_variant("z"), values=("tanh'", "J")),
    Mistake("slope-not-squared", "took tanh′ as 1 − h: the h is squared, 1 − h²", _slope_variant("h"), values=("tanh'", "J")),
    Mistake("no-slope", "left out diag(1 − hₜ²): Jₜ is W_hh scaled row by row by the tanh slopes", _no_slope, values=("J",)),
    Mistake(
        "transposed",
        "wrote W_hhᵀ·diag(1 − hₜ²), the transpose: Jₜ[i,j] = (1 − hₜ[i]²)·W_hh[i,j]",
        _transposed,
        values=("J",),
    ),
)


def script(trace: Trace) -> str:
    """The RNN forward pass and the gradient-norm table as NumPy source (``--format py``)."""
    from nntutor.walkthroughs._script import heading

    return "\n".join([
        heading(trace, "forward"),
        "h_prev, states = h0, []",
        "for x_t in x:",
        "    h_prev = np.tanh(wxh @ x_t + whh @ h_prev + b)",
        "    states.append(h_prev)",
        "h = np.array(states)",
        "",
        heading(trace, "norms"),
        "# for each W_hh (as given, then scaled to each σ) and each length T: the rows",
        "# of x repeated to T steps, and ‖J_T···J_2‖₂ with Jₜ = diag(1 − hₜ²)·W_hh",
        "",
        "",
        "def gradient_norm(w, steps):",
        "    h_t, product = h0, np.eye(len(h0))",
        "    for t in range(steps):",
        "        h_t = np.tanh(wxh @ x[t % len(x)] + w @ h_t + b)",
        "        if t >= 1:",
        "            J = (1.0 - h_t * h_t)[:, None] * w  # Jₜ = diag(1 − hₜ²)·W_hh",
        "            product = J @ product",
        "    return np.linalg.norm(product, 2)",
        "",
        "",
        "sigma_max = np.linalg.norm(whh, 2)  # the largest singular value",
        "variants = [('as given', whh, sigma_max)]",
        "variants += [('scaled', whh * (s / sigma_max), s) for s in sigmas]",
        "with np.errstate(over='ignore', under='ignore', invalid='ignore'):",
        "    grad_norms = [(label, s, *(gradient_norm(w, T) for T in lengths))",
        "                  for label, w, s in variants]",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "x": Input("matrix"),
        "wxh": Input("matrix"),
        "whh": Input("matrix"),
        "b": Input("vector"),
        "h0": Input("vector"),
        "lengths": Input("vector"),
        "sigmas": Input("vector", maximum=10, above=0),
        "seq-len": Input("integer", minimum=2),
        "d-in": Input("integer", minimum=1),
        "hidden": Input("integer", minimum=1),
        "seed": Input("integer", minimum=0),
    },
    targets=(
        Target("forward", "z", rows=(0, 1)),
        Target("forward", "h", rows=(0, 1)),
        Target("factors", "tanh'", rows=(0,)),
        Target("factors", "J", rows=(0,)),
    ),
    mistakes=MISTAKES,
    keep=("h0", "lengths", "sigmas", "seq-len", "d-in", "hidden", "seed"),
    script=script,
)
