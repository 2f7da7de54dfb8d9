"""The backprop-layernorm lesson: from ∂L/∂y back through y = γ ⊙ (x − μ)/σ_ε + β.

Steps: the forward values the backward reuses; ∂L/∂β and ∂L/∂γ summed over the rows;
∂L/∂x̂ = γ ⊙ ∂L/∂y; ∂L/∂x along its three paths (direct, through σ², through μ) and
their sum; the closed form, shown equal; and, with --residual, the addition it came from.

Default run, row t0: x = [1, 2, 3, 4], μ = 2.5, σ_ε = √(1.25 + 10⁻⁵) = 1.118;
∂L/∂y = [0.1, −0.3, 0.2, 0.4] and γ = [1, 0.5, 2, 1] give ∂L/∂x̂ = [0.1, −0.15, 0.4, 0.4].

>>> from nntutor.catalog.lessonfile import load_lesson
>>> from nntutor.catalog.run import parse_args
>>> lesson = load_lesson("backprop-layernorm")
>>> check(parse_args(lesson, {"x": "1,2,3"})).dy
Traceback (most recent call last):
  ...
nntutor.errors.InputError: --x: has 3 numbers but --dy (default 2×4) has shape 2×4 (∂L/∂y has the shape of y, which is the shape of x); pass --dy too, or --seed to draw it
>>> check(parse_args(lesson, {"x": "1,2,3", "seed": "0"})).gamma.tolist()
[1.0, 1.0, 1.0]
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from nntutor.core.layernorm import layer_norm, layer_norm_backward, layer_norm_paths
from nntutor.errors import InputError
from nntutor.numfmt import fmt, human_bytes
from nntutor.trace import Step, Trace, Value
from nntutor.walkthroughs._common import (
    Context,
    Size,
    answer,
    dot_worked,
    index_labels,
    mismatch,
    shape_words,
    sum_worked,
)
from nntutor.walkthroughs._declare import Args, Input, Mistake, Target, Walkthrough
from nntutor.walkthroughs._transformer import random_matrix, refuse_with, shape_text

MAX_CELLS = 1_000_000  # numbers in the tables of one run (8 MB as float64), as positional-encoding
ARRAYS_PER_RUN = 16  # rows × features arrays one run holds (inputs, forward, the three paths, sums)
MAX_SHOWN = 4  # entries of the worked row written out one by one
DEFAULT_ROWS = 2  # a random x with --seed alone
DY_SCALE = 0.5  # standard deviation of a random ∂L/∂y


class Inputs(NamedTuple):
    """Checked inputs: x (a vector or rows), ∂L/∂y of its shape, γ, β, ε, an optional residual."""

    x: np.ndarray  # d features, or n × d (typed, or drawn from --seed)
    dy: np.ndarray  # ∂L/∂y, the shape of x (typed, or drawn from --seed)
    gamma: np.ndarray  # d numbers (the file's default when it fits, else ones)
    beta: np.ndarray  # d numbers (zeros when not given)
    eps: float
    residual: np.ndarray | None  # sublayer(x), the shape of x: LN(x + sublayer(x)); None: LN(x)
    drawn: dict[str, int]  # seed, and the sizes of a random x, as recorded; empty when all typed


# --------------------------------------------------------------------------- check


def _check_cells(flag: str, shape: tuple[int, ...]) -> None:
    """Refuse up front a run whose tables would hold more than MAX_CELLS numbers."""
    n = shape[0] if len(shape) == 2 else 1
    d = shape[-1]
    cells = ARRAYS_PER_RUN * n * d
    if cells > MAX_CELLS:
        raise InputError(
            flag,
            f"{n:,} rows × {d:,} features make about {cells:,} numbers in this lesson's tables "
            f"({human_bytes(cells * 8)} in memory, several times that as JSON); at most {MAX_CELLS:,}: "
            "use fewer rows or features",
        )


def _check_width(flag: str, v: np.ndarray | None, d: int) -> None:
    if v is not None and v.size != d:
        raise InputError(flag, f"expected {d} numbers, one per feature (column) of --x, got {v.size}")


def _x(args: Args) -> tuple[np.ndarray, dict[str, int], np.random.Generator | None]:
    """x typed, or drawn from --seed with --seq-len/--d-model; the generator for what is drawn next."""
    given, seed = args.given, args["seed"]
    sizes = [name for name in ("seq-len", "d-model") if name in given]
    if sizes and seed is None:
        raise InputError(f"--{sizes[0]}", "needs --seed: the random x of that size is drawn from the seed")
    if sizes and "x" in given:
        raise refuse_with("--x", f"--{sizes[0]}", "--x gives x itself; --seq-len/--d-model ask for a random one")
    x = args["x"]
    if seed is None:
        _check_cells("--x", x.shape)
        return x, {}, None
    if "x" in given and "dy" in given:
        raise InputError("--seed", "has nothing to draw: --x and --dy are both given")
    rng = np.random.default_rng(seed)
    if "x" in given:
        _check_cells("--x", x.shape)
        return x, {"seed": seed}, rng
    n = args["seq-len"] if "seq-len" in given else DEFAULT_ROWS
    d = args["d-model"] if "d-model" in given else x.shape[-1]
    _check_cells(f"--{sizes[0]}" if sizes else "--seed", (n, d))
    drawn = {"seed": seed, **{name: args[name] for name in sizes}}
    return random_matrix(rng, (n, d)), drawn, rng


def check(args: Args) -> Inputs:
    """∂L/∂y and the residual the shape of x, γ and β one per feature, sizes within MAX_CELLS."""
    x, drawn, rng = _x(args)
    d = x.shape[-1]
    where = "the shape of --x" if "x" in args.given or rng is None else "the shape of the random x"
    dy = args["dy"]
    if "dy" not in args.given and rng is not None:
        dy = random_matrix(rng, x.shape, DY_SCALE)
    elif dy.shape != x.shape:
        if rng is None:  # x and ∂L/∂y typed or at their defaults: name the flag typed
            raise mismatch(
                args.given, Size("dy", shape_words(dy), "shape", shape_words(dy)), Size("x", shape_words(x), "shape", shape_words(x)),
                why="∂L/∂y has the shape of y, which is the shape of x", fix="pass --dy too, or --seed to draw it",
            )
        expected = f"{d} numbers" if x.ndim == 1 else f"a {shape_text(x)} array"
        raise InputError("--dy", f"expected {expected}, the shape of y ({where}), got {shape_text(dy)}")
    gamma, beta, sub = args["gamma"], args["beta"], args["residual"]
    if "gamma" in args.given:
        _check_width("--gamma", gamma, d)
    elif gamma is None or gamma.size != d:
        gamma = np.ones(d)
    _check_width("--beta", beta, d)
    if sub is not None and sub.shape != x.shape:
        raise InputError("--residual", f"expected the shape of x ({shape_text(x)}), got {shape_text(sub)}")
    return Inputs(
        x=x,
        dy=dy,
        gamma=gamma,
        beta=beta if beta is not None else np.zeros(d),
        eps=float(args["eps"]),
        residual=sub,
        drawn=drawn,
    )


# --------------------------------------------------------------------------- build


def _terms(ctx: Context, values) -> str:
    """``1 + 2 + (-3)``: the terms of a sum as :func:`sum_worked` writes them (elided past 8)."""
    return sum_worked(ctx, "Σ", values, 0.0).split(" = ", 1)[1].rsplit(" = ", 1)[0]


def _significant(ctx: Context, v: float) -> str:
    """A divisor with at least ``precision`` significant digits: 1.118, but 0.003162 (not 0.0032)."""
    extra = max(0, -math.floor(math.log10(abs(v))) - 1) if v else 0
    return fmt(v, ctx.precision + extra)


def _row_stats(is_rows: bool, rows, *stats: tuple[str, np.ndarray]) -> list[Value]:
    """Per-row numbers: one table, a column per row (or one scalar each for a single vector)."""
    if not is_rows:
        return [Value(key, float(data)) for key, data in stats]
    table = np.stack([data for _, data in stats])
    return [Value("row statistics", table, label="per row", rows=tuple(key for key, _ in stats), cols=rows)]


def build(ctx: Context, inputs: Inputs) -> Trace:
    x, dy, gamma, beta, eps, sub = inputs.x, inputs.dy, inputs.gamma, inputs.beta, inputs.eps, inputs.residual
    d = x.shape[-1]
    num, f = ctx.n, ctx.f
    is_rows = x.ndim == 2
    n_rows = x.shape[0] if is_rows else 1
    feats = index_labels(d, "x")
    rows = index_labels(n_rows, "t") if is_rows else None
    name = "s" if sub is not None else "x"  # what layer norm normalises
    k = min(d, MAX_SHOWN)
    more = ", …" if d > k else ""

    def val(key: str, data: Any, label: str = "", cols=None) -> Value:
        """A value labelled like x: rows t0, t1 … (per-row vectors get them as columns), features x0 …"""
        if np.ndim(data) == 2:
            return Value(key, data, label=label, rows=rows, cols=cols or feats)
        if np.ndim(data) == 1:
            return Value(key, data, label=label, cols=cols or feats)
        return Value(key, data, label=label)

    def per_row(key: str, data: Any, label: str = "") -> Value:
        return val(key, data if is_rows else float(data), label, cols=rows)

    row0 = (lambda a: a[0]) if is_rows else (lambda a: a)
    at0 = (lambda a: float(a[0])) if is_rows else (lambda a: float(a))
    first = "t0: " if is_rows else ""
    others = " (the others alike)"

    recorded: dict[str, Any] = {"x": x, "dy": dy, "gamma": gamma, "beta": beta, "eps": eps}
    if sub is not None:
        recorded["residual"] = sub
    recorded.update(inputs.drawn)
    trace = ctx.new_trace(recorded)

    s = x + sub if sub is not None else x
    r = layer_norm(s, gamma, beta, eps)
    p = layer_norm_paths(r, dy)
    closed = layer_norm_backward(r, dy)
    xs, dev, xhat, std = row0(s), row0(r.deviations), row0(r.normalized), at0(r.std)
    dxh = row0(p.dxhat)
    sd = _significant(ctx, std)  # σ_ε, with enough digits to divide by when it is small

    # 1. The forward values the backward pass reuses.
    worked = []
    if sub is not None:
        worked.append(f"{first}s0 = x0 + sublayer(x)0 = {num(row0(x)[0])} + {f(row0(sub)[0])} = {num(xs[0])}")
    worked += [
        f"{first}μ = ({_terms(ctx, xs)}) / {d} = {num(at0(r.mean))};  "
        f"σ² = ({_terms(ctx, row0(r.squared))}) / {d} = {num(at0(r.var))}",
        f"{first}σ_ε = √({num(at0(r.var))} + {num(eps)}) = {sd}",
        f"{first}{name}̂0 = ({num(xs[0])} − {f(at0(r.mean))}) / {sd} = {num(xhat[0])}{others}",
    ]
    forward = trace.add(
        Step(
            id="forward",
            title="Forward: the values the backward pass reuses",
            formula=r"\hat{" + name + r"} = \frac{" + name + r" - \mu}{\sigma_\varepsilon}, \quad "
            r"\sigma_\varepsilon = \sqrt{\sigma^2 + \varepsilon}, \quad y = \gamma \odot \hat{" + name + r"} + \beta",
            formula_text=f"{name}̂ = ({name} − μ)/σ_ε,  σ_ε = √(σ² + ε),  y = γ ⊙ {name}̂ + β",
            values=[*([val("input", x, "x (the input)")] if sub is None else []),
                    *_row_stats(is_rows, rows, ("μ", r.mean), ("σ_ε", r.std)), val(f"{name}̂", r.normalized)],
            worked=worked,
            why=f"Every gradient below is built from {name}̂, {name} − μ and σ_ε: training keeps them.",
        )
    )
    for i in np.flatnonzero(np.atleast_1d(r.var == 0))[:3]:
        where = f"row t{i}" if is_rows else name
        forward.warnings.append(
            f"{where} is constant: σ² = 0, so σ_ε = √ε and its gradients are large (ε keeps them finite)"
        )

    # 2. γ and β: one number per feature, summed over the rows.
    dy_col, xh_col = dy[:, 0] if is_rows else dy[:1], r.normalized[:, 0] if is_rows else r.normalized[:1]
    over = "summed over the rows" if is_rows else "one row: nothing to sum"
    trace.add(
        Step(
            id="params",
            title="∂L/∂β and ∂L/∂γ: one number per feature" + (", summed over the rows" if is_rows else ""),
            formula=r"\frac{\partial L}{\partial \beta_j} = \sum_{\text{rows}} \frac{\partial L}{\partial y_j}, \quad "
            r"\frac{\partial L}{\partial \gamma_j} = \sum_{\text{rows}} \frac{\partial L}{\partial y_j} \hat{"
            + name
            + "}_j",
            formula_text=f"∂L/∂βⱼ = Σ_rows ∂L/∂yⱼ,  ∂L/∂γⱼ = Σ_rows ∂L/∂yⱼ·{name}̂ⱼ",
            values=[
                val("∂L/∂y", dy, "∂L/∂y (given, the shape of y)"),
                val("∂L/∂β", closed.dbeta, f"∂L/∂β ({over})")._replace(detail=True),  # drawn together below
                val("∂L/∂γ", closed.dgamma, f"∂L/∂γ ({over})")._replace(detail=True),
                Value("∂L/∂β, ∂L/∂γ", np.vstack([closed.dbeta, closed.dgamma]), label=f"∂L/∂β and ∂L/∂γ ({over})",
                      rows=("∂L/∂β", "∂L/∂γ"), cols=feats),
            ],
            worked=[
                (sum_worked(ctx, "∂L/∂β0", dy_col, float(closed.dbeta[0])) if is_rows else "∂L/∂β = ∂L/∂y")
                + ";  "
                + dot_worked(ctx, "∂L/∂γ0", dy_col, xh_col, float(closed.dgamma[0]))
                + others,
            ],
            why="γ, β are shared by all rows: their contributions add, one per feature.",
        )
    )

    # 3. Into x̂.
    trace.add(
        Step(
            id="dxhat",
            title=f"Into the normalisation: ∂L/∂{name}̂ = γ ⊙ ∂L/∂y",
            formula=r"\frac{\partial L}{\partial \hat{" + name + r"}_i} = \gamma_i \frac{\partial L}{\partial y_i}",
            formula_text=f"∂L/∂{name}̂ᵢ = γᵢ·∂L/∂yᵢ,  γ = ({', '.join(num(v) for v in gamma[:MAX_SHOWN])}{more})",
            values=[val(f"∂L/∂{name}̂", p.dxhat, f"∂L/∂{name}̂")],
            worked=[
                f"{first}"
                + ", ".join(f"{f(gamma[i])}×{f(row0(dy)[i])} = {num(dxh[i])}" for i in range(k))
                + more
            ],
            why="y = γ ⊙ x̂ + β acts on each feature alone: ∂L/∂x̂ᵢ = γᵢ·∂L/∂yᵢ.",
        )
    )

    # 4. Path 1: direct.
    trace.add(
        Step(
            id="direct",
            title="Path 1, direct: divide by σ_ε (μ and σ² held fixed)",
            formula=r"\frac{\partial L}{\partial " + name + r"_i}\Big|_{\text{direct}} = "
            r"\frac{1}{\sigma_\varepsilon} \frac{\partial L}{\partial \hat{" + name + r"}_i}",
            formula_text=f"path 1: ∂L/∂{name}̂ᵢ / σ_ε",
            values=[val("dx₁", p.direct, f"path 1, direct: ∂L/∂{name}̂ / σ_ε")._replace(detail=True)],  # one entry worked below
            worked=[f"{first}{num(dxh[0])} / {sd} = {num(row0(p.direct)[0])}{others}"],
            why=f"With μ and σ² fixed, {name}̂ᵢ moves by 1/σ_ε per unit of {name}ᵢ and no other output moves.",
        )
    )

    # 5. Path 2: through σ².
    total = float(np.sum(dxh * dev))
    var_eps = at0(r.var) + eps
    trace.add(
        Step(
            id="variance",
            title="Path 2, through σ²: every input moves the variance",
            formula=r"\frac{\partial L}{\partial \sigma^2} = -\frac{1}{2}(\sigma^2 + \varepsilon)^{-3/2} "
            r"\sum_i \frac{\partial L}{\partial \hat{" + name + r"}_i}(" + name + r"_i - \mu), \quad "
            r"\text{path 2} = \frac{\partial L}{\partial \sigma^2} \cdot \frac{2(" + name + r"_i - \mu)}{d}",
            formula_text=f"∂L/∂σ² = −½(σ² + ε)^(−3/2)·Σᵢ ∂L/∂{name}̂ᵢ·({name}ᵢ − μ);"
            f"  path 2: ∂L/∂σ²·2({name}ᵢ − μ)/d",
            values=[per_row("∂L/∂σ²", p.dvar)._replace(detail=True), val("dx₂", p.via_var, "path 2, through σ²")],
            worked=[
                dot_worked(ctx, f"{first}Σᵢ ∂L/∂{name}̂ᵢ·({name}ᵢ − μ)", dxh, dev, total),
                f"{first}∂L/∂σ² = −½ × {num(total)} / {sd}³ = −½ × {num(total)} / "
                f"{num(var_eps**1.5)} = {num(at0(p.dvar))}",
                f"{first}path 2 for {name}0: {f(at0(p.dvar))} × 2×{f(dev[0])} / {d} = {num(row0(p.via_var)[0])}{others}",
            ],
            why="σ² grows by 2(xᵢ − μ)/d with xᵢ and shrinks every x̂: all outputs reach xᵢ.",
        )
    )

    # 6. Path 3: through μ.
    dev_sum = float(np.sum(dev))
    dxh_sum = float(np.sum(dxh))
    trace.add(
        Step(
            id="mean",
            title="Path 3, through μ: every input moves the mean",
            formula=r"\frac{\partial L}{\partial \mu} = -\sum_i \frac{1}{\sigma_\varepsilon}"
            r"\frac{\partial L}{\partial \hat{" + name + r"}_i} + \frac{\partial L}{\partial \sigma^2} "
            r"\cdot \frac{-2}{d}\sum_i (" + name + r"_i - \mu), \quad \text{path 3} = \frac{1}{d}\frac{\partial L}{\partial \mu}",
            formula_text=f"∂L/∂μ = −Σᵢ ∂L/∂{name}̂ᵢ/σ_ε + ∂L/∂σ²·(−2/d)·Σᵢ ({name}ᵢ − μ);  path 3: ∂L/∂μ / d",
            # ∂L/∂μ / d, the same for every input of a row: the worked lines give each row's
            values=[per_row("∂L/∂μ", p.dmean)._replace(detail=True), val("dx₃", p.via_mean, "path 3, through μ")._replace(detail=True)],
            worked=[
                sum_worked(ctx, f"{first}Σᵢ ∂L/∂{name}̂ᵢ", dxh, dxh_sum),
                sum_worked(ctx, f"{first}Σᵢ ({name}ᵢ − μ)", dev, dev_sum),
                f"{first}∂L/∂μ = −{f(dxh_sum)} / {sd} + {f(at0(p.dvar))} × (−2/{d}) × {f(dev_sum)}"
                f" = {num(at0(p.dmean))}",
                f"{first}path 3: {f(at0(p.dmean))} / {d} = {num(row0(p.via_mean)[0])}, the same for every "
                f"{name}ᵢ of the row",
            ],
            why="μ moves by 1/d with any xᵢ and lowers every x̂; σ²'s share is through Σ(xᵢ − μ) = 0.",
        )
    )

    # 7. The sum of the three paths, and the closed form it collapses to.
    dx_row = row0(p.dx)
    grad_name = "∂L/∂s" if sub is not None else "∂L/∂x"
    row_total = float(np.sum(dx_row))
    mean_dxh = dxh_sum / d
    mean_dxh_xhat = float(np.sum(dxh * xhat)) / d
    diff = float(np.max(np.abs(closed.dx - p.dx)))
    mean_text = f"mean(∂L/∂{name}̂)"
    mean_x_text = f"mean(∂L/∂{name}̂ ⊙ {name}̂)"
    trace.add(
        Step(
            id="sum",
            title=f"{grad_name}: add the three paths; the closed form gives the same",
            formula=r"\frac{\partial L}{\partial " + name + r"} = \text{path 1} + \text{path 2} + \text{path 3} = "
            r"\frac{1}{\sigma_\varepsilon}\Big(\frac{\partial L}{\partial \hat{" + name + r"}} - "
            r"\mathrm{mean}\big(\frac{\partial L}{\partial \hat{" + name + r"}}\big) - \hat{" + name + r"} \odot "
            r"\mathrm{mean}\big(\frac{\partial L}{\partial \hat{" + name + r"}} \odot \hat{" + name + r"}\big)\Big)",
            formula_text=f"{grad_name} = path 1 + path 2 + path 3\n"
            f"{' ' * len(grad_name)} = (1/σ_ε)·(∂L/∂{name}̂ − {mean_text} − {name}̂ ⊙ {mean_x_text})",
            values=[
                val(grad_name, p.dx, f"{grad_name} (the shape of {name})"),
                Value("difference", diff, label="largest |closed form − sum of the paths|"),
            ],
            worked=[
                f"{first}{grad_name}0 = {num(row0(p.direct)[0])} + {f(row0(p.via_var)[0])} + "
                f"{f(row0(p.via_mean)[0])} = {num(dx_row[0])}",
                f"{first}{mean_text} = {num(dxh_sum)} / {d} = {num(mean_dxh)};  "
                f"{mean_x_text} = {num(mean_dxh_xhat * d)} / {d} = {num(mean_dxh_xhat)}",
                f"{first}closed form: ({num(dxh[0])} − {f(mean_dxh)} − {f(xhat[0])}×{f(mean_dxh_xhat)}) / "
                f"{sd} = {num(row0(closed.dx)[0])}",
                sum_worked(ctx, f"{first}Σᵢ {grad_name}ᵢ", dx_row, row_total)
                + f", zero up to rounding: shifting a whole row leaves {name}̂ unchanged",
            ],
            why="Separate routes to the loss add up; written out, their sum collapses into two row "
            "means, the form training uses.",
        )
    )

    grad_x = p.dx
    # 8. Back through the residual addition.
    if sub is not None:
        trace.add(
            Step(
                id="residual",
                title="Back through the residual: s = x + sublayer(x)",
                formula=r"\frac{\partial L}{\partial x} = \frac{\partial L}{\partial s}, \quad "
                r"\frac{\partial L}{\partial\, \mathrm{sublayer}(x)} = \frac{\partial L}{\partial s}",
                formula_text="∂L/∂x = ∂L/∂s,  ∂L/∂sublayer(x) = ∂L/∂s",
                values=[val("∂L/∂x", grad_x, "∂L/∂x = ∂L/∂sublayer(x) = ∂L/∂s (the shape of x)")],
                worked=[f"{first}∂L/∂x0 = ∂L/∂s0 = {num(dx_row[0])}{others}"],
                why="An addition passes its gradient unchanged to both terms; here sublayer(x) is a "
                "given input, so ∂L/∂x counts the identity path only (in a block the sublayer's own "
                "backward adds a second term).",
            )
        )

    trace.outputs = {"grad_x": grad_x, "grad_gamma": closed.dgamma, "grad_beta": closed.dbeta}
    trace.result = answer(trace, "sum.∂L/∂x", "params.∂L/∂β, ∂L/∂γ")
    return trace


# --------------------------------------------------------------------------- known mistakes


def _paths(*values: tuple[str, str]):
    """The asked element of ∂L/∂x had only these paths (step, value) been added."""

    def compute(case) -> float | None:
        parts = [case.element(step=step, value=value) for step, value in values]
        return None if any(v is None for v in parts) else float(sum(parts))

    return compute


DIRECT = ("direct", "dx₁")
VIA_VAR = ("variance", "dx₂")
VIA_MEAN = ("mean", "dx₃")

LAYERNORM_BACKWARD_MISTAKES = (
    Mistake(
        "direct-path-only",
        "kept only the direct path ∂L/∂x̂ ÷ σ_ε (left out the paths through μ and σ²)",
        _paths(DIRECT),
        values=("∂L/∂x",),
    ),
    Mistake(
        "no-mean-path",
        "left out the path through the mean μ",
        _paths(DIRECT, VIA_VAR),
        values=("∂L/∂x",),
    ),
    Mistake(
        "no-variance-path",
        "left out the path through the variance σ²",
        _paths(DIRECT, VIA_MEAN),
        values=("∂L/∂x",),
    ),
)


# --------------------------------------------------------------------------- the asked element, worked


class _Asked(NamedTuple):
    """The asked element's row of every quantity the backward pass uses (the same core calls as the build)."""

    prefix: str  # "t1: " when x has rows
    name: str  # x, or s after a residual
    i: int | None  # the feature asked (None for a per-row number)
    d: int
    dy: np.ndarray
    dev: np.ndarray
    xhat: np.ndarray
    std: float
    paths: Any  # the asked row of every path (core.layernorm.layer_norm_paths)
    pick: Any


def _asked(case) -> _Asked:
    inputs = case.inputs
    s = inputs.x + inputs.residual if inputs.residual is not None else inputs.x
    r = layer_norm(s, inputs.gamma, inputs.beta, inputs.eps)
    paths = layer_norm_paths(r, inputs.dy)
    rows = s.ndim == 2
    row = case.index[0] if rows and case.index else None
    per_feature = len(case.index) == s.ndim
    pick = (lambda a: np.asarray(a)[row]) if row is not None else (lambda a: np.asarray(a))
    return _Asked(
        prefix=f"t{row}: " if row is not None else "",
        name="s" if inputs.residual is not None else "x",
        i=case.index[-1] if per_feature else None,
        d=s.shape[-1],
        dy=pick(inputs.dy),
        dev=pick(r.deviations),
        xhat=pick(r.normalized),
        std=float(pick(r.std)),
        paths=paths,
        pick=pick,
    )


def _explain_dbeta(case) -> list[str]:
    j = case.index[0]
    dy = np.asarray(case.inputs.dy)
    value = case.data("params", "∂L/∂β")[j]
    if dy.ndim == 1:
        return [f"∂L/∂β{j} = ∂L/∂y{j} = {case.ctx.n(value)} (one row: nothing to add)"]
    return [sum_worked(case.ctx, f"∂L/∂β{j} = Σ_rows ∂L/∂y{j}", dy[:, j], value)]


def _explain_dgamma(case) -> list[str]:
    j = case.index[0]
    inputs = case.inputs
    s = inputs.x + inputs.residual if inputs.residual is not None else inputs.x
    xhat = layer_norm(s, inputs.gamma, inputs.beta, inputs.eps).normalized
    dy = np.asarray(inputs.dy)
    value = case.data("params", "∂L/∂γ")[j]
    column = (lambda a: a[:, j]) if dy.ndim == 2 else (lambda a: a[j : j + 1])
    return [dot_worked(case.ctx, f"∂L/∂γ{j} = Σ_rows ∂L/∂y{j}·x̂{j}", column(dy), column(xhat), value)]


def _explain_dxhat(case) -> list[str]:
    a, f = _asked(case), case.ctx.f
    value = a.pick(a.paths.dxhat)[a.i]
    return [f"{a.prefix}∂L/∂{a.name}̂{a.i} = γ{a.i}·∂L/∂y{a.i} = {f(case.inputs.gamma[a.i])}×{f(a.dy[a.i])} = {case.ctx.n(value)}"]


def _explain_direct(case) -> list[str]:
    a, n = _asked(case), case.ctx.n
    dxh = a.pick(a.paths.dxhat)[a.i]
    return [f"{a.prefix}path 1 for {a.name}{a.i} = ∂L/∂{a.name}̂{a.i} / σ_ε = {n(dxh)} / {_significant(case.ctx, a.std)} = {n(a.pick(a.paths.direct)[a.i])}"]


def _dvar_lines(case, a: _Asked) -> list[str]:
    n = case.ctx.n
    dxh = a.pick(a.paths.dxhat)
    total = float(np.sum(dxh * a.dev))
    return [
        dot_worked(case.ctx, f"{a.prefix}Σᵢ ∂L/∂{a.name}̂ᵢ·({a.name}ᵢ − μ)", dxh, a.dev, total),
        f"{a.prefix}∂L/∂σ² = −½ × {n(total)} / σ_ε³ = −½ × {n(total)} / {n(a.std**3)} = {n(float(a.pick(a.paths.dvar)))}",
    ]


def _explain_via_var(case) -> list[str]:
    a, n, f = _asked(case), case.ctx.n, case.ctx.f
    dvar = float(a.pick(a.paths.dvar))
    return [
        f"{a.prefix}path 2 for {a.name}{a.i} = ∂L/∂σ² × 2({a.name}{a.i} − μ)/d = {f(dvar)} × 2×{f(a.dev[a.i])} / {a.d}"
        f" = {n(a.pick(a.paths.via_var)[a.i])}"
    ]


def _dmean_lines(case, a: _Asked) -> list[str]:
    n, f = case.ctx.n, case.ctx.f
    dxh = a.pick(a.paths.dxhat)
    dxh_sum, dev_sum = float(np.sum(dxh)), float(np.sum(a.dev))
    return [
        sum_worked(case.ctx, f"{a.prefix}Σᵢ ∂L/∂{a.name}̂ᵢ", dxh, dxh_sum),
        sum_worked(case.ctx, f"{a.prefix}Σᵢ ({a.name}ᵢ − μ)", a.dev, dev_sum),
        f"{a.prefix}∂L/∂μ = −{f(dxh_sum)} / {_significant(case.ctx, a.std)} + {f(float(a.pick(a.paths.dvar)))} × (−2/{a.d}) × {f(dev_sum)}"
        f" = {n(float(a.pick(a.paths.dmean)))}",
    ]


def _explain_via_mean(case) -> list[str]:
    a, n = _asked(case), case.ctx.n
    dmean = float(a.pick(a.paths.dmean))
    return [f"{a.prefix}path 3 = ∂L/∂μ / d = {case.ctx.f(dmean)} / {a.d} = {n(a.pick(a.paths.via_mean)[a.i])}, the same for every {a.name}ᵢ of the row"]


def _explain_dx(case) -> list[str]:
    a, n, f = _asked(case), case.ctx.n, case.ctx.f
    parts = [a.pick(path)[a.i] for path in (a.paths.direct, a.paths.via_var, a.paths.via_mean)]
    return [
        f"{a.prefix}∂L/∂{a.name}{a.i} = path 1 + path 2 + path 3 = {n(parts[0])} + {f(parts[1])} + {f(parts[2])}"
        f" = {n(a.pick(a.paths.dx)[a.i])}"
    ]


_STATS = "forward.row statistics"  # μ and σ_ε of each row (x has rows by default)

def script(trace: Trace) -> str:
    """Layer norm's backward pass, path by path, as NumPy source (``--format py``)."""
    from nntutor.walkthroughs._script import heading

    return "\n".join([
        heading(trace, "forward"),
        "d = x.shape[-1]",
        "mu = x.mean(axis=-1, keepdims=True)",
        "var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)",
        "sigma = np.sqrt(var + eps)  # σ_ε",
        "xhat = (x - mu) / sigma",
        "",
        heading(trace, "params"),
        "grad_beta = dy.reshape(-1, d).sum(axis=0)",
        "grad_gamma = (dy * xhat).reshape(-1, d).sum(axis=0)",
        "",
        heading(trace, "dxhat"),
        "dxhat = gamma * dy",
        "",
        heading(trace, "direct"),
        "path1 = dxhat / sigma",
        "",
        heading(trace, "variance"),
        "total = np.sum(dxhat * (x - mu), axis=-1, keepdims=True)",
        "dvar = -0.5 * (var + eps) ** -1.5 * total",
        "path2 = dvar * 2.0 * (x - mu) / d",
        "",
        heading(trace, "mean"),
        "dmu = -np.sum(dxhat, axis=-1, keepdims=True) / sigma",
        "dmu = dmu + dvar * (-2.0 / d) * np.sum(x - mu, axis=-1, keepdims=True)",
        "path3 = dmu / d",
        "",
        heading(trace, "sum"),
        "grad_x = path1 + path2 + path3",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "x": Input("array"),
        "dy": Input("array"),
        "gamma": Input("vector"),
        "beta": Input("vector"),
        "eps": Input("scalar", above=0),
        "residual": Input("array"),
        "seed": Input("integer", minimum=0),
        "seq-len": Input("integer", minimum=1),
        "d-model": Input("integer", minimum=1),
    },
    targets=(
        Target("params", "∂L/∂β", uses=("dy",), explain=_explain_dbeta),
        Target("params", "∂L/∂γ", uses=("dy", "forward.x̂"), explain=_explain_dgamma),
        Target("dxhat", "∂L/∂x̂", uses=("gamma", "dy"), explain=_explain_dxhat),
        Target("direct", "dx₁", uses=("dxhat.∂L/∂x̂", _STATS), explain=_explain_direct),
        Target("variance", "∂L/∂σ²", uses=("x", _STATS, "dxhat.∂L/∂x̂"), explain=lambda case: _dvar_lines(case, _asked(case))),
        Target("variance", "dx₂", uses=("x", _STATS, "variance.∂L/∂σ²"), explain=_explain_via_var),
        Target("mean", "∂L/∂μ", uses=("x", _STATS, "dxhat.∂L/∂x̂", "variance.∂L/∂σ²"), explain=lambda case: _dmean_lines(case, _asked(case))),
        Target("mean", "dx₃", uses=("mean.∂L/∂μ",), explain=_explain_via_mean),
        Target("sum", "∂L/∂x", uses=("direct.dx₁", "variance.dx₂", "mean.dx₃"), explain=_explain_dx),
    ),
    mistakes=LAYERNORM_BACKWARD_MISTAKES,
    script=script,
)
