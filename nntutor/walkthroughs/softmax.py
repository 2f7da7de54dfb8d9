"""The softmax lesson: logits to probabilities, one temperature per column.

Default run: logits 2, 1.8, 1.2, 0.8, 0.6 at T = 0.5, 1, 2; at T = 1 the
probabilities are e^(zᵢ − 2) / Σⱼ e^(zⱼ − 2).

Two logits [1, 0] at T = 1: e^0 / (e^0 + e^(−1)) = 1 / 1.3679 = 0.7311; with
target 1 the loss is −ln 0.2689 = 1.3133.

>>> args = Args({"logits": np.array([1.0, 0.0]), "labels": ("sunny", "cloudy", "rainy"),
...              "temperature": np.array([1.0]), "target": 1}, given={"logits", "target"})
>>> inputs = check(args)
>>> inputs.labels  # the default names do not fit two logits: z0, z1 instead
('z0', 'z1')
>>> outputs = build(Context(), inputs).outputs
>>> round(float(outputs["probs"][0]), 4), round(outputs["loss"], 4)
(0.7311, 1.3133)
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from nntutor.core.softmax import temperature_softmax, temperature_sweep
from nntutor.errors import InputError
from nntutor.numfmt import human_bytes
from nntutor.trace import Plot, Series, Step, Trace, Value
from nntutor.walkthroughs._common import Context, answer, sum_worked
from nntutor.walkthroughs._declare import Args, Input, Mistake, Target, Walkthrough


def _column_labels(temperatures: np.ndarray, ctx: Context) -> tuple[str, ...]:
    return tuple(f"T={ctx.n(t)}" for t in temperatures)


MAX_CELLS = 2_000_000  # logits × temperatures: every table holds one number per pair (16 MB each)

class Inputs(NamedTuple):
    """Checked inputs: one name per logit, distinct temperatures, an optional target class."""

    logits: np.ndarray  # the raw scores, one per class
    temperatures: np.ndarray  # one or more distinct temperatures (> 0), one column each
    labels: tuple[str, ...]  # one name per logit (z0, z1 … when the default names do not fit)
    target: int | None  # the correct class's index, for the cross-entropy step (None: no loss)


def check(args: Args) -> Inputs:
    """Names and target must fit the logits; a temperature may not be listed twice.

    The default names are replaced by ``z0, z1 …`` when the learner's --logits has
    another count; names the learner typed must match.
    """
    logits = args["logits"]
    temperatures = args["temperature"]
    labels = args["labels"]
    target = args["target"]
    n = logits.size
    if labels is None or ("labels" not in args.given and len(labels) != n):
        labels = tuple(f"z{i}" for i in range(n))
    if len(labels) != n:
        raise InputError("--labels", f"expected {n} names to match --logits, got {len(labels)}")
    if len(set(temperatures.tolist())) != temperatures.size:
        raise InputError("--temperature", "the same temperature is listed twice (expected distinct values)")
    cells = n * temperatures.size
    if cells > MAX_CELLS:
        flag = "--temperature" if "temperature" in args.given else "--logits"
        raise InputError(
            flag,
            f"{n:,} logits × {temperatures.size:,} temperatures make {cells:,} probabilities, each computed in five "
            f"tables (about {human_bytes(cells * 8 * 10)} in memory); at most {MAX_CELLS:,}: use fewer logits or temperatures",
        )
    if target is not None and not 0 <= target < n:
        raise InputError("--target", f"{target} is out of range (expected an index from 0 to {n - 1})")
    return Inputs(logits, temperatures, tuple(labels), target)


def build(ctx: Context, inputs: Inputs) -> Trace:
    logits, temperatures, labels, target = inputs
    n = logits.size
    limited = [temperature_softmax(logits, float(t)) for t in temperatures]
    runs = [run for run, _ in limited]
    overflowed = [overflow for _, overflow in limited]
    cols = _column_labels(temperatures, ctx)
    rows = tuple(labels)
    n_, f = ctx.n, ctx.f
    first = 0
    single = temperatures.size == 1

    def matrix(attr: str) -> np.ndarray:
        return np.column_stack([getattr(run, attr) for run in runs])

    def per_temperature(name: str, values: list[float], label: str) -> Value:
        """One number per temperature: a scalar when there is a single temperature."""
        if single:
            return Value(name, float(values[0]), label=label)
        return Value(name, np.array(values), label=label, cols=cols)

    recorded: dict[str, Any] = {"logits": logits, "labels": list(labels), "temperature": temperatures.tolist()}
    if target is not None:
        recorded["target"] = target
    trace = ctx.new_trace(recorded)
    top = float(np.max(logits))
    scale_worked = [
        f"{rows[first]}: ({n_(logits[first])} − {f(top)}) / {n_(run.temperature)} = {n_(run.scaled[first])} "
        "(the largest logit subtracted first: z / T itself overflows)"
        if overflow
        else f"{rows[first]}: {n_(logits[first])} / {n_(run.temperature)} = {n_(run.scaled[first])}"
        for run, overflow in limited
    ]
    scale_step = trace.add(
        Step(
            id="scale",
            title="Divide the logits by the temperature",
            formula=r"z'_i = \frac{z_i}{T}",
            formula_text="z′ᵢ = zᵢ / T",
            values=[Value("scaled", matrix("scaled"), label="z / T", rows=rows, cols=cols)],
            worked=scale_worked,
            why="A temperature below 1 stretches the gaps between logits (sharper, more confident); "
            "above 1 it shrinks them (flatter, more uniform).",
        )
    )
    for k, overflow in enumerate(overflowed):
        if overflow:
            scale_step.warnings.append(
                f"At T = {n_(runs[k].temperature)}, z / T is beyond the largest float64 (about 1.8e308), so "
                f"the column {cols[k]} shows (z − max z) / T, which gives the same softmax: the T → 0 limit, "
                "all the probability on the largest logit (shared equally by ties)."
            )
    trace.add(
        Step(
            id="shift",
            title="Subtract the largest value",
            formula=r"z''_i = z'_i - \max_j z'_j",
            formula_text="z″ᵢ = z′ᵢ − maxⱼ z′ⱼ",
            values=[
                per_temperature(
                    "max", [run.maximum for run in runs], "largest value of step 1" if any(overflowed) else "max z/T"
                ),
                Value("shifted", matrix("shifted"), label="z/T − max", rows=rows, cols=cols),
            ],
            worked=[
                f"{rows[first]}: {n_(run.scaled[first])} − {f(run.maximum)} = {n_(run.shifted[first])}"
                + (" (already shifted in the step before)" if overflow else "")
                for run, overflow in limited
            ],
            why="Softmax is unchanged by adding a constant to every logit, and after the shift every "
            "exponent is ≤ 0, so e^x cannot overflow (e^1000 is infinite in float64; e^0 = 1 is fine).",
        )
    )
    trace.add(
        Step(
            id="exp",
            title="Exponentiate",
            formula=r"e_i = e^{z''_i}",
            formula_text="eᵢ = exp(z″ᵢ)",
            values=[Value("exp", matrix("exps"), label="exp(z/T − max)", rows=rows, cols=cols)],
            worked=[f"{rows[i]}: e^({n_(runs[0].shifted[i])}) = {n_(runs[0].exps[i])}" for i in range(min(n, 3))],
            why="Exponentials are always positive and preserve order: a larger logit always gets a larger share.",
        )
    )
    trace.add(
        Step(
            id="sum",
            title="Add up the exponentials",
            formula=r"S = \sum_j e_j",
            formula_text="S = Σⱼ eⱼ",
            values=[per_temperature("sum", [run.total for run in runs], "S")],
            worked=[sum_worked(ctx, f"S ({cols[k]})", run.exps, run.total) for k, run in enumerate(runs)],
            why="The sum is the normaliser: dividing by it makes the shares add up to exactly 1.",
        )
    )
    probs = matrix("probs")
    trace.add(
        Step(
            id="probs",
            title="Divide each exponential by the sum",
            formula=r"p_i = \frac{e_i}{S} = \frac{e^{z_i/T}}{\sum_j e^{z_j/T}}",
            formula_text="pᵢ = eᵢ / S",
            values=[
                Value("probs", probs, label="probabilities p", rows=rows, cols=cols, heat=True),
                per_temperature("total", [float(np.sum(run.probs)) for run in runs], "Σ p (check)"),
            ],
            worked=[
                f"p({rows[i]}) = {n_(runs[0].exps[i])} / {n_(runs[0].total)} = {n_(runs[0].probs[i])}"
                for i in range(min(n, 3))
            ],
            why="Each probability is that logit's share of the total; the column sums to 1.",
            plots=[_sweep_plot(logits, rows, temperatures)],
        )
    )
    outputs: dict[str, Any] = {"probs": runs[0].probs if single else [run.probs for run in runs]}
    if target is not None:
        # + 0.0: −ln 1 is −0.0, shown as 0
        losses = [-math.log(run.probs[target]) + 0.0 if run.probs[target] > 0 else math.inf for run in runs]
        step = Step(
            id="loss",
            title=f"Cross-entropy for the target {rows[target]!s}",
            formula=r"L = -\ln p_{\text{target}}",
            formula_text="L = −ln p_target   (natural log)",
            values=[per_temperature("loss", losses, "cross-entropy L")],
            worked=[f"L ({cols[k]}) = −ln({n_(run.probs[target])}) = {n_(losses[k])}" for k, run in enumerate(runs)],
            why="The loss only looks at the probability given to the right answer: near 1 costs almost "
            "nothing, near 0 costs a lot (−ln p grows without bound).",
        )
        if any(math.isinf(loss) for loss in losses):
            step.warnings.append("the target's probability underflowed to 0, so the loss is infinite")
        trace.add(step)
        outputs["loss"] = losses[0] if single else losses
    trace.outputs = outputs
    trace.result = answer(trace, "probs.probs")
    return trace


def _sweep_plot(logits: np.ndarray, labels: tuple[str, ...], temperatures: np.ndarray) -> Plot:
    """Each class's probability as the temperature goes from 0.1 to 10 (log scale)."""
    low = min(0.1, float(temperatures.min()))
    high = max(10.0, float(temperatures.max()))
    temps, probs = temperature_sweep(logits, low, high)
    log_t = np.log10(temps)
    return Plot(
        title="probability against temperature",
        xlabel="log10 T",
        ylabel="p",
        series=tuple(Series(label, log_t, probs[:, i]) for i, label in enumerate(labels[:8])),
    )


# --------------------------------------------------------------------------- quiz and known mistakes


def _quiz_target(rng: np.random.Generator, values: dict[str, Any]) -> dict[str, Any]:
    """A target class for a quiz run, drawn among the logits."""
    return {"target": int(rng.integers(0, np.size(values["logits"])))}


def _not_normalised(case) -> float | None:
    return case.element(step="exp", value="exp")


def _no_shift(case) -> float | None:
    scaled = case.element(step="scale", value="scaled")
    return math.exp(scaled) if scaled is not None and scaled < 700 else None


def _target_probability(case) -> float | None:
    target = case.trace.inputs.get("target")
    if target is None:
        return None
    probs = np.asarray(case.trace.step("probs").value("probs").data)
    column = case.index[0] if case.index else 0
    p = float(probs[target, column]) if probs.ndim == 2 else float(probs[target])
    return p if p > 0 else None


def _log10(case) -> float | None:
    p = _target_probability(case)
    return -math.log10(p) if p is not None else None


def _log2(case) -> float | None:
    p = _target_probability(case)
    return -math.log2(p) if p is not None else None


# --------------------------------------------------------------------------- the asked element, worked


def _column(data: Any, k: int) -> float:
    """One temperature's number of a per-temperature value (a scalar when there is one temperature)."""
    return float(data) if np.ndim(data) == 0 else float(data[k])


def _where(case) -> tuple[int, int, str]:
    """(row, temperature column, the row's label) of the asked element."""
    i, k = case.index if len(case.index) == 2 else (0, case.index[0] if case.index else 0)
    return i, k, case.trace.inputs["labels"][i]


def _explain_shifted(case) -> list[str]:
    i, k, label = _where(case)
    n_ = case.ctx.n
    scaled, top = case.data("scale", "scaled")[i, k], _column(case.data("shift", "max"), k)
    return [f"{label}: z/T − max = {n_(scaled)} − {case.ctx.f(top)} = {n_(case.data('shift', 'shifted')[i, k])}"]


def _explain_exp(case) -> list[str]:
    i, k, label = _where(case)
    n_ = case.ctx.n
    return [f"{label}: e^({n_(case.data('shift', 'shifted')[i, k])}) = {n_(case.data('exp', 'exp')[i, k])}"]


def _explain_sum(case) -> list[str]:
    k = case.index[0] if case.index else 0
    return [sum_worked(case.ctx, "S = Σⱼ eⱼ", case.data("exp", "exp")[:, k], _column(case.data("sum", "sum"), k))]


def _explain_probs(case) -> list[str]:
    i, k, label = _where(case)
    n_ = case.ctx.n
    e, total = case.data("exp", "exp")[i, k], _column(case.data("sum", "sum"), k)
    return [f"p({label}) = e / S = {n_(e)} / {n_(total)} = {n_(case.data('probs', 'probs')[i, k])}"]


def _explain_loss(case) -> list[str]:
    k = case.index[0] if case.index else 0
    target = case.trace.inputs["target"]
    p = case.data("probs", "probs")[target, k]
    label = case.trace.inputs["labels"][target]
    return [f"L = −ln p({label}) = −ln({case.ctx.n(p)}) = {case.ctx.n(_column(case.data('loss', 'loss'), k))}"]


SOFTMAX_MISTAKES = (
    Mistake("not-normalised", "did not divide by the sum of the exponentials (softmax not normalised)", _not_normalised, values=("probs",)),
    Mistake("no-max-shift", "exponentiated z/T without subtracting the largest value first", _no_shift, values=("exp",)),
    Mistake("log10", "used log base 10 for the cross-entropy (it is the natural log, ln)", _log10, values=("loss",)),
    Mistake("log2", "used log base 2 for the cross-entropy (it is the natural log, ln)", _log2, values=("loss",)),
)


def script(trace: Trace) -> str:
    """Softmax at each temperature (and the cross-entropy for --target) as NumPy source."""
    from nntutor.walkthroughs._script import heading

    single = len(trace.inputs["temperature"]) == 1
    lines = [
        "runs = []",
        "for T in temperature:",
        "    " + heading(trace, "scale").replace("\n", "\n    "),
        "    scaled = logits / T",
        "    " + heading(trace, "shift").replace("\n", "\n    "),
        "    # z′ − max z′ is computed as (z − max z) / T: the same numbers, and no",
        "    # overflow when T is tiny",
        "    shifted = (logits - logits.max()) / T",
        "    " + heading(trace, "exp").replace("\n", "\n    "),
        "    e = np.exp(shifted)",
        "    " + heading(trace, "sum").replace("\n", "\n    "),
        "    S = e.sum()",
        "    " + heading(trace, "probs").replace("\n", "\n    "),
        "    runs.append(e / S)",
        "",
        "probs = runs[0] if len(runs) == 1 else runs" if single else "probs = runs",
    ]
    if "loss" in trace.outputs:
        lines += [
            "",
            heading(trace, "loss"),
            "losses = [-math.log(p[target]) if p[target] > 0 else math.inf for p in runs]",
            "loss = losses[0]" if single else "loss = losses",
        ]
    return "\n".join(lines)


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "logits": Input("vector"),
        "labels": Input("labels"),
        "temperature": Input("vector", above=0),
        "target": Input("integer", minimum=0),
    },
    targets=(
        Target("shift", "shifted", explain=_explain_shifted),
        Target("exp", "exp", explain=_explain_exp),
        Target("sum", "sum", explain=_explain_sum),
        Target("probs", "probs", explain=_explain_probs),
        Target("loss", "loss", explain=_explain_loss),
    ),
    mistakes=SOFTMAX_MISTAKES,
    fixed={"temperature": np.array([1.0])},
    extra=_quiz_target,
    script=script,
)
