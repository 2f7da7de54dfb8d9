"""The layer-normalisation lesson: mean, deviations, (biased) variance, ε, normalise,
scale and shift, optionally after a residual addition.

Default run: x = [1, 2, 3, 4]: μ = 10/4 = 2.5, deviations [-1.5, -0.5, 0.5, 1.5],
σ² = (2.25 + 0.25 + 0.25 + 2.25)/4 = 1.25, √(1.25 + 0.00001) = 1.118,
normalised [-1.3416, -0.4472, 0.4472, 1.3416].

>>> from nntutor.walkthroughs._declare import Args
>>> inputs = check(Args({"x": np.array([1.0, 2, 3, 4]), "gamma": None, "beta": None, "eps": 1e-5, "residual": None}))
>>> inputs.gamma.tolist(), inputs.beta.tolist()
([1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0])
>>> check(Args({"x": np.array([1.0, 2, 3, 4]), "gamma": np.array([1.0, 2]), "beta": None, "eps": 1e-5, "residual": None}))
Traceback (most recent call last):
  ...
nntutor.errors.InputError: --gamma: expected 4 numbers, one per feature (column) of --x, got 2
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from nntutor.core.layernorm import layer_norm
from nntutor.errors import InputError
from nntutor.trace import Step, Trace, Value
from nntutor.walkthroughs._common import Context, answer, index_labels, sum_worked
from nntutor.walkthroughs._declare import Args, Input, Mistake, Target, Walkthrough
from nntutor.walkthroughs._transformer import shape_text

MAX_SHOWN = 8  # elements of the worked row written out one by one


class Inputs(NamedTuple):
    """Checked inputs: one vector or n rows, γ and β (one per feature) and ε, an optional residual."""

    x: np.ndarray  # a vector of d features, or n × d (each row normalised on its own)
    gamma: np.ndarray  # the scale γ, d numbers (ones when not given)
    beta: np.ndarray  # the shift β, d numbers (zeros when not given)
    eps: float  # ε, added to the variance before the square root
    residual: np.ndarray | None  # sublayer(x), the shape of x: normalise x + sublayer(x); None: x itself


# --------------------------------------------------------------------------- check


def _check_width(flag: str, v: np.ndarray | None, d: int) -> None:
    if v is not None and v.size != d:
        raise InputError(flag, f"expected {d} numbers, one per feature (column) of --x, got {v.size}")


def check(args: Args) -> Inputs:
    """γ and β one per feature of --x, the residual the shape of --x."""
    x = args["x"]
    gamma, beta, sub = args["gamma"], args["beta"], args["residual"]
    d = x.shape[-1]
    _check_width("--gamma", gamma, d)
    _check_width("--beta", beta, d)
    if sub is not None and sub.shape != x.shape:
        raise InputError("--residual", f"expected the shape of --x ({shape_text(x)}), got {shape_text(sub)}")
    return Inputs(
        x=x,
        gamma=gamma if gamma is not None else np.ones(d),
        beta=beta if beta is not None else np.zeros(d),
        eps=float(args["eps"]),
        residual=sub,
    )


# --------------------------------------------------------------------------- build


def build(ctx: Context, inputs: Inputs) -> Trace:
    x, gamma, beta, eps, sub = inputs.x, inputs.gamma, inputs.beta, inputs.eps, inputs.residual
    d = x.shape[-1]
    num, f = ctx.n, ctx.f
    is_rows = x.ndim == 2
    feats = index_labels(d, "x")
    rows = index_labels(x.shape[0], "row ") if is_rows else None

    def val(name, data, label="", **kw):
        if np.ndim(data) == 2:
            return Value(name, data, label=label, rows=rows, cols=kw.get("cols", feats))
        if np.ndim(data) == 1 and is_rows and kw.get("per_row"):
            return Value(name, data, label=label, cols=rows)
        return Value(name, data, label=label, cols=kw.get("cols", feats) if np.ndim(data) == 1 else None)

    recorded: dict[str, Any] = {"x": x, "gamma": gamma, "beta": beta, "eps": eps}
    if sub is not None:
        recorded["residual"] = sub
    trace = ctx.new_trace(recorded)

    s = x + sub if sub is not None else x
    r = layer_norm(s, gamma, beta, eps)
    row0 = (lambda a: a[0]) if is_rows else (lambda a: a)
    first = "row 0: " if is_rows else ""
    name = "s" if sub is not None else "x"
    k = min(d, MAX_SHOWN)

    if sub is not None:
        trace.add(
            Step(
                id="residual",
                title="Add the sublayer's output to its input (the residual connection)",
                formula=r"s = x + \mathrm{sublayer}(x)",
                formula_text="s = x + sublayer(x)",
                values=[val("x", x, "x"), val("residual", sub, "sublayer(x)"), val("s", s, "s = x + sublayer(x)")],
                worked=[
                    f"{first}s{i} = {num(row0(x)[i])} + {f(row0(sub)[i])} = {num(row0(s)[i])}" for i in range(k)
                ],
                why="This is the post-norm arrangement of the original transformer: LN(x + sublayer(x)) "
                "renormalises the sum, so x does not reach the next layer unchanged; every layer rescales "
                "it, and deep post-norm stacks are the harder ones to train (they typically need a "
                "learning-rate warm-up). Most recent models use pre-norm, x + sublayer(LN(x)): only the "
                "sublayer's input is normalised, x itself passes through unchanged and each sublayer adds "
                "a correction, which makes deep stacks easier to train.",
            )
        )

    mean0 = float(row0(r.mean))
    trace.add(
        Step(
            id="mean",
            title=f"Mean of the {d} features" + (" of each row" if is_rows else ""),
            formula=r"\mu = \frac{1}{d} \sum_{i=1}^{d} " + name + "_i",
            formula_text=f"μ = (1/d)·Σᵢ {name}ᵢ",
            values=[val("mean", r.mean, "μ", per_row=True)],
            worked=[
                sum_worked(ctx, f"{first}Σ {name}ᵢ", row0(s), float(np.sum(row0(s)))),
                f"{first}μ = {num(float(np.sum(row0(s))))} / {d} = {num(mean0)}",
            ],
            why="Layer norm looks at one token's vector at a time, across its features; it never "
            "mixes tokens (batch norm, by contrast, averages one feature across examples).",
        )
    )
    trace.add(
        Step(
            id="deviations",
            title="Subtract the mean",
            formula=name + r"_i - \mu",
            formula_text=f"{name}ᵢ − μ",
            values=[val("deviations", r.deviations, f"{name} − μ")],
            worked=[f"{first}{num(row0(s)[i])} − {f(mean0)} = {num(row0(r.deviations)[i])}" for i in range(k)],
            why="After this the features are centred: their mean is 0.",
        )
    )
    total0 = float(np.sum(row0(r.squared)))
    var0 = float(row0(r.var))
    unbiased_line = (
        f"{first}for comparison, the unbiased (sample) variance divides by d − 1: "
        f"{num(total0)} / {d - 1} = {num(float(row0(r.var_unbiased)))}, "
        f"which would give the normalised values [{', '.join(num(v) for v in row0(r.normalized_unbiased)[:k])}"
        + (", …" if d > k else "")
        + "]"
        if r.var_unbiased is not None
        else "the unbiased variance would divide by d − 1 = 0: it is undefined for a single feature"
    )
    var_values = [val("var", r.var, "σ² (biased, ÷ d)", per_row=True)]
    if r.var_unbiased is not None:
        var_values.append(val("var_unbiased", r.var_unbiased, "unbiased ÷ (d − 1), not used", per_row=True))
    trace.add(
        Step(
            id="variance",
            title="Variance: the mean of the squared deviations (divide by d)",
            formula=r"\sigma^2 = \frac{1}{d} \sum_{i=1}^{d} (" + name + r"_i - \mu)^2",
            formula_text=f"σ² = (1/d)·Σᵢ ({name}ᵢ − μ)²",
            values=[val("squared", r.squared, f"({name} − μ)²")] + var_values,
            worked=[
                sum_worked(ctx, f"{first}Σ ({name}ᵢ − μ)²", row0(r.squared), total0),
                f"{first}σ² = {num(total0)} / {d} = {num(var0)}",
                unbiased_line,
            ],
            why="Layer norm divides by d, not d − 1: it is not estimating the variance of some "
            "larger population from a sample, it rescales exactly these d numbers so that their "
            "own spread is 1. The biased form is what PyTorch's layer_norm computes (and what "
            "trained models expect); using d − 1 gives slightly smaller normalised values.",
        )
    )
    std0 = float(row0(r.std))
    trace.add(
        Step(
            id="std",
            title="Standard deviation, with ε added for safety",
            formula=r"\sigma_\varepsilon = \sqrt{\sigma^2 + \varepsilon}",
            formula_text="σ_ε = √(σ² + ε)",
            values=[val("std", r.std, "√(σ² + ε)", per_row=True), Value("eps", eps, label="ε")],
            worked=[f"{first}√({num(var0)} + {num(eps)}) = √{num(var0 + eps)} = {num(std0)}"],
            why="ε keeps the division defined when every feature is equal (σ² = 0), and barely "
            "changes anything otherwise.",
        )
    )
    norm_step = trace.add(
        Step(
            id="normalize",
            title="Normalise: divide each deviation by σ_ε",
            formula=r"\hat{" + name + r"}_i = \frac{" + name + r"_i - \mu}{\sqrt{\sigma^2 + \varepsilon}}",
            formula_text=f"{name}̂ᵢ = ({name}ᵢ − μ) / √(σ² + ε)",
            values=[val("normalized", r.normalized, f"{name}̂")],
            worked=[f"{first}{num(row0(r.deviations)[i])} / {num(std0)} = {num(row0(r.normalized)[i])}" for i in range(k)],
            why="Now every token's vector has mean 0 and variance (almost exactly) 1, whatever "
            "its scale was: the next layer sees numbers of a predictable size.",
        )
    )
    constant = np.atleast_1d(r.var == 0)
    for i in np.flatnonzero(constant)[:3]:
        where = f"row {i}" if is_rows else "x"
        norm_step.warnings.append(
            f"{where} is constant: its variance is 0, so every normalised value is 0 (ε keeps the division defined)"
        )
    g0, b0 = r.gamma, r.beta
    trace.add(
        Step(
            id="scale-shift",
            title="Scale by γ and shift by β (learned, per feature)",
            formula=r"y_i = \gamma_i \hat{" + name + r"}_i + \beta_i",
            formula_text=f"yᵢ = γᵢ·{name}̂ᵢ + βᵢ",
            values=[
                Value("gamma", r.gamma, label="γ", cols=feats),
                Value("beta", r.beta, label="β", cols=feats),
                val("y", r.y, "y"),
            ],
            worked=[
                f"{first}y{i} = {f(g0[i])}×{f(row0(r.normalized)[i])} + {f(b0[i])} = {num(row0(r.y)[i])}"
                for i in range(k)
            ],
            why=_gamma_beta_why(ctx, r, name, is_rows),
        )
    )
    if is_rows:
        trace.outputs = {"mean": r.mean, "var": r.var, "normalized": r.normalized, "y": r.y}
    else:
        trace.outputs = {"mean": float(r.mean), "var": float(r.var), "normalized": r.normalized, "y": r.y}
    trace.result = answer(trace, "scale-shift.y")
    return trace


def _gamma_beta_why(ctx: Context, r, name: str, is_rows: bool) -> str:
    """What γ and β can and cannot undo: they are per feature, μ and σ are per token.

    For x = [1, 2, 3, 4]: γ = σ_ε = 1.118 and β = μ = 2.5 in every feature would give x back,
    but with two rows of different μ and σ no single γ, β restores both.
    """
    n = ctx.n
    means = np.atleast_1d(r.mean)
    stds = np.atleast_1d(r.std)
    text = (
        "γ and β are learned, one per feature, and shared by every token; they start at 1 and 0 and "
        "let the network give each feature back a scale and an offset where that helps. "
    )
    if not is_rows:
        return text + (
            f"For this one vector, γ = σ_ε = {n(float(stds[0]))} and β = μ = {n(float(means[0]))} in every "
            f"feature would give {name} back exactly. But μ and σ belong to each token, so for a sequence of "
            "tokens no single γ, β undoes the normalisation of every row."
        )
    if np.all(means == means[0]) and np.all(stds == stds[0]):
        return text + (
            f"Here every row has the same μ = {n(float(means[0]))} and σ_ε = {n(float(stds[0]))}, so "
            f"γ = {n(float(stds[0]))} and β = {n(float(means[0]))} would restore them all; rows of different "
            "scales could not all be restored by one γ, β."
        )
    a, b = 0, next(i for i in range(1, means.size) if means[i] != means[0] or stds[i] != stds[0])
    return text + (
        f"No single γ, β restores the rows: μ and σ belong to each token, and row {a} would need "
        f"γ = {n(float(stds[a]))}, β = {n(float(means[a]))} in every feature while row {b} would need "
        f"γ = {n(float(stds[b]))}, β = {n(float(means[b]))}."
    )


# --------------------------------------------------------------------------- known mistakes


def _unbiased(case) -> float | None:
    """The asked value had the variance been divided by d − 1 (per row when X has several rows)."""
    try:
        var_unbiased = case.trace.step("variance").value("var_unbiased").data
        deviations = np.asarray(case.trace.step("deviations").value("deviations").data, dtype=np.float64)
    except KeyError:
        return None
    if var_unbiased is None:
        return None
    per_row = np.asarray(var_unbiased, dtype=np.float64)
    row = case.index[:1] if per_row.ndim else ()
    variance = float(per_row[row])
    std = math.sqrt(variance + case.inputs.eps)
    if case.value == "var":
        return variance
    if case.value == "std":
        return std
    normalized = float(deviations[case.index]) / std
    if case.value == "normalized":
        return normalized
    feature = case.index[-1]
    return float(case.inputs.gamma[feature] * normalized + case.inputs.beta[feature])


# --------------------------------------------------------------------------- the asked element, worked


class _Row(NamedTuple):
    """The row an asked element belongs to: its values, the symbol (x, or s after a residual) and a prefix."""

    pick: Any  # data -> the asked row of it (the whole vector when x is one row)
    name: str
    prefix: str
    d: int


def _row(case) -> _Row:
    has_residual = any(step.id == "residual" for step in case.trace.steps)
    s = case.data("residual", "s") if has_residual else case.trace.inputs["x"]
    name = "s" if has_residual else "x"
    if np.ndim(s) == 2:
        r = case.index[0]
        return _Row(lambda data: np.asarray(data)[r], name, f"row {r}: ", s.shape[-1])
    return _Row(lambda data: data, name, "", s.shape[-1])


def _source(case) -> np.ndarray:
    has_residual = any(step.id == "residual" for step in case.trace.steps)
    return case.data("residual", "s") if has_residual else case.trace.inputs["x"]


def _explain_mean(case) -> list[str]:
    row, n_ = _row(case), case.ctx.n
    values = row.pick(_source(case))
    total = float(np.sum(values))
    return [
        sum_worked(case.ctx, f"{row.prefix}Σ {row.name}ᵢ", values, total),
        f"{row.prefix}μ = {n_(total)} / {row.d} = {n_(float(row.pick(case.data('mean', 'mean'))))}",
    ]


def _explain_deviation(case) -> list[str]:
    row, n_, i = _row(case), case.ctx.n, case.index[-1]
    mean = float(row.pick(case.data("mean", "mean")))
    value = row.pick(_source(case))[i]
    return [f"{row.prefix}{row.name}{i} − μ = {n_(value)} − {case.ctx.f(mean)} = {n_(row.pick(case.data('deviations', 'deviations'))[i])}"]


def _explain_squared(case) -> list[str]:
    row, n_, i = _row(case), case.ctx.n, case.index[-1]
    deviation = row.pick(case.data("deviations", "deviations"))[i]
    return [f"{row.prefix}({row.name}{i} − μ)² = {case.ctx.f(deviation)}² = {n_(row.pick(case.data('variance', 'squared'))[i])}"]


def _variance_lines(case) -> list[str]:
    row, n_ = _row(case), case.ctx.n
    squared = row.pick(case.data("variance", "squared"))
    total = float(np.sum(squared))
    return [
        sum_worked(case.ctx, f"{row.prefix}Σ ({row.name}ᵢ − μ)²", squared, total),
        f"{row.prefix}σ² = {n_(total)} / {row.d} = {n_(float(row.pick(case.data('variance', 'var'))))}",
    ]


def _std_lines(case) -> list[str]:
    row, n_ = _row(case), case.ctx.n
    var, eps = float(row.pick(case.data("variance", "var"))), case.inputs.eps
    return [*_variance_lines(case), f"{row.prefix}σ_ε = √(σ² + ε) = √({n_(var)} + {n_(eps)}) = {n_(float(row.pick(case.data('std', 'std'))))}"]


def _normalized_line(case) -> str:
    row, n_, i = _row(case), case.ctx.n, case.index[-1]
    deviation = row.pick(case.data("deviations", "deviations"))[i]
    std = float(row.pick(case.data("std", "std")))
    normalized = row.pick(case.data("normalize", "normalized"))[i]
    return f"{row.prefix}{row.name}̂{i} = ({row.name}{i} − μ) / σ_ε = {n_(deviation)} / {n_(std)} = {n_(normalized)}"


def _explain_y(case) -> list[str]:
    row, n_, f, i = _row(case), case.ctx.n, case.ctx.f, case.index[-1]
    normalized = row.pick(case.data("normalize", "normalized"))[i]
    gamma, beta = case.inputs.gamma[i], case.inputs.beta[i]
    y = row.pick(case.data("scale-shift", "y"))[i]
    return [_normalized_line(case), f"{row.prefix}y{i} = γ{i}·{row.name}̂{i} + β{i} = {f(gamma)}×{f(normalized)} + {f(beta)} = {n_(y)}"]


LAYERNORM_MISTAKES = (
    Mistake("unbiased-variance", "used the unbiased variance (÷ (d−1) instead of ÷ d)", _unbiased, values=("var", "std", "normalized", "y")),
)


def script(trace: Trace) -> str:
    """Layer normalisation (after the residual addition, when there is one) as NumPy source."""
    from nntutor.walkthroughs._script import heading

    residual = "residual" in trace.inputs
    return "\n".join([
        *([heading(trace, "residual"), "s = x + residual  # normalise x + sublayer(x)", ""] if residual else ["s = x"]),
        heading(trace, "mean"),
        "mean = s.mean(axis=-1)  # one μ per row (per token)",
        "",
        heading(trace, "deviations"),
        "deviations = s - mean[..., None]",
        "",
        heading(trace, "variance"),
        "var = (deviations ** 2).mean(axis=-1)  # divide by d, not d − 1",
        "",
        heading(trace, "std"),
        "std = np.sqrt(var + eps)",
        "",
        heading(trace, "normalize"),
        "normalized = deviations / std[..., None]",
        "",
        heading(trace, "scale-shift"),
        "y = gamma * normalized + beta  # γ and β: one per feature, shared by every row",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "x": Input("array"),
        "gamma": Input("vector"),
        "beta": Input("vector"),
        "eps": Input("scalar", above=0),
        "residual": Input("array"),
    },
    targets=(
        Target("mean", "mean", explain=_explain_mean, symbol="μ"),
        Target("deviations", "deviations", explain=_explain_deviation),
        Target("variance", "squared", explain=_explain_squared),
        Target("variance", "var", explain=_variance_lines, symbol="σ²"),
        Target("std", "std", explain=_std_lines, symbol="σ_ε"),
        Target("normalize", "normalized", explain=lambda case: [_normalized_line(case)], symbol="x̂"),
        Target("scale-shift", "y", explain=_explain_y),
    ),
    mistakes=LAYERNORM_MISTAKES,
    script=script,
)
