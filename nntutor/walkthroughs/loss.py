"""The loss lesson: cross-entropy (from probabilities or logits), BCE, MSE and ½·SSE.

Default run: probs [0.1, 0.2, 0.6, 0.1], target 2: L = −ln 0.6 = 0.5108 (natural
log); the confidently wrong [0.8, 0.1, 0.05, 0.05] with the same target costs
−ln 0.05 = 2.9957.

>>> args = Args({"kind": "ce", "probs": np.array([0.1, 0.2, 0.6, 0.1]), "logits": None, "target": 2,
...              "y-true": np.array([1.0, 0, 1, 0]), "y-pred": np.array([0.9, 0.2, 0.6, 0.4]),
...              "eps": 1e-7})
>>> inputs = check(args)
>>> inputs.y_true is None  # cross-entropy does not read the pair
True
>>> round(build(Context(), inputs).outputs["loss"], 4)
0.5108

MSE of y = [1, 0, 1, 0] against ŷ = [0.9, 0.2, 0.6, 0.4]:
(0.01 + 0.04 + 0.16 + 0.16) / 4 = 0.0925.

>>> inputs = check(Args({**args, "kind": "mse"}))
>>> round(build(Context(), inputs).outputs["loss"], 4)
0.0925
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from nntutor.core import loss as core
from nntutor.core.softmax import softmax_steps
from nntutor.errors import InputError
from nntutor.trace import Step, Table, Trace, Value
from nntutor.walkthroughs._common import (
    Context,
    Size,
    answer,
    blamed,
    index_labels,
    mismatch,
    shape_words,
    sum_worked,
)
from nntutor.walkthroughs._declare import Args, Input, Mistake, Target, Walkthrough

PROB_TOLERANCE = 1e-6
WRONG_PROBS = (0.8, 0.1, 0.05, 0.05)
WRONG_TARGET = 2
SURPRISAL_POINTS = (0.99, 0.9, 0.6, 0.5, 0.2, 0.1, 0.05, 0.01, 0.001)
MAX_WORKED = 8

CE_INPUTS = ("probs", "logits", "target")
PAIR_INPUTS = ("y-true", "y-pred")


# --------------------------------------------------------------------------- inputs


class Inputs(NamedTuple):
    """Checked inputs of one kind of loss; what that kind does not read is None.

    - ``ce`` from probabilities: ``probs`` (non-negative, summing to 1), ``target``, ``eps``;
    - ``ce`` from logits (when --logits is given): ``logits``, ``target``;
    - ``bce``: ``y_true`` and ``y_pred`` (one prediction per target, all in [0, 1]), ``eps``;
    - ``mse``, ``half-sse``: ``y_true`` and ``y_pred`` (one prediction per target).
    """

    kind: str  # "ce", "bce", "mse" or "half-sse"
    probs: np.ndarray | None  # predicted class probabilities (ce without --logits)
    logits: np.ndarray | None  # raw class scores (ce with --logits)
    target: int | None  # the true class, a valid index into probs or logits (ce)
    y_true: np.ndarray | None  # targets (bce, mse, half-sse)
    y_pred: np.ndarray | None  # predictions, as many as y_true (bce, mse, half-sse)
    eps: float | None  # probabilities are clipped into [eps, 1 − eps] before the log (ce from probs, bce)


def _refuse(given: frozenset, names: tuple[str, ...], message: str) -> None:
    for name in names:
        if name in given:
            raise InputError(f"--{name}", message)


def _check_probs(probs: np.ndarray) -> None:
    for index, p in enumerate(probs):
        if p < 0:
            raise InputError("--probs", f"entry {index} is {p:g} (a probability cannot be negative)")
    total = float(np.sum(probs))
    if abs(total - 1.0) > PROB_TOLERANCE:
        raise InputError(
            "--probs",
            f"the probabilities sum to {total:.6g}, not 1 (tolerance {PROB_TOLERANCE:g}); "
            "use --logits for raw scores",
        )


def _check_target(given: frozenset, target: int, source: str, count: int) -> None:
    """``target`` indexes one of the ``count`` classes of ``--source`` (the error names the flag typed)."""
    if not 0 <= target < count:
        if blamed(given, "target", source) == source:
            raise InputError(
                f"--{source}",
                f"has {count} classes (numbered 0 to {count - 1}) but --target (default {target}) is not one of them; "
                "pass --target too",
            )
        raise InputError("--target", f"{target} is out of range: the {count} classes are numbered 0 to {count - 1}")


def _check_unit_interval(flag: str, values: np.ndarray, what: str) -> None:
    for index, v in enumerate(values):
        if not 0.0 <= v <= 1.0:
            raise InputError(flag, f"entry {index} is {v:g} ({what} must be between 0 and 1)")


def _check_pair(args: Args) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = args["y-true"], args["y-pred"]
    given = args.given
    if y_pred.size != y_true.size:
        raise mismatch(
            given,
            Size("y-pred", y_pred.size, "numbers", shape_words(y_pred)),
            Size("y-true", y_true.size, "numbers", shape_words(y_true)),
            why="one prediction per target",
        )
    return y_true, y_pred


def check(args: Args) -> Inputs:
    """Only the flags the chosen --kind reads, each checked (probabilities, target index, pair sizes)."""
    kind = args["kind"]
    given = args.given
    if kind == "ce":
        _refuse(given, PAIR_INPUTS, "is used with --kind bce, mse or half-sse (cross-entropy reads --probs or --logits with --target)")
        target = int(args["target"])
        logits = args["logits"]
        if logits is not None:
            if "probs" in given:
                raise InputError("--logits", "give --probs or --logits, not both")
            _refuse(given, ("eps",), "only clips probabilities; from --logits the loss is ln Σ e^z − z_t, which never takes ln 0")
            _check_target(given, target, "logits", logits.size)
            return Inputs(kind, None, logits, target, None, None, None)
        probs = args["probs"]
        _check_probs(probs)
        _check_target(given, target, "probs", probs.size)
        return Inputs(kind, probs, None, target, None, None, float(args["eps"]))
    _refuse(given, CE_INPUTS, f"is used with --kind ce; --kind {kind} reads --y-true and --y-pred")
    if kind == "bce":
        y_true, y_pred = _check_pair(args)
        _check_unit_interval("--y-true", y_true, "targets")
        _check_unit_interval("--y-pred", y_pred, "predicted probabilities")
        return Inputs(kind, None, None, None, y_true, y_pred, float(args["eps"]))
    _refuse(given, ("eps",), "only clips probabilities (--kind ce or bce)")
    y_true, y_pred = _check_pair(args)
    return Inputs(kind, None, None, None, y_true, y_pred, None)


# --------------------------------------------------------------------------- cross-entropy


def _comparison_step(ctx: Context, result: core.CrossEntropy) -> Step:
    n = ctx.n
    wrong = core.cross_entropy_probs(np.array(WRONG_PROBS), WRONG_TARGET)
    rows = (
        ("this run", n(result.p_used), result.loss),
        ("confidently wrong", n(wrong.p_target), wrong.loss),
    )
    curve = core.surprisal(SURPRISAL_POINTS)
    probs_text = ", ".join(n(p) for p in WRONG_PROBS)
    return Step(
        id="confident-wrong",
        title="How the log punishes a confidently wrong prediction",
        formula=r"-\ln p \to \infty \text{ as } p \to 0",
        formula_text="−ln p grows without bound as p → 0",
        values=[
            Value("cases", Table(("prediction", "p[target]", "loss"), rows), label="two predictions"),
            Value("curve", curve, label="−ln p", cols=tuple(f"p={n(p)}" for p in SURPRISAL_POINTS),
                  key=(SURPRISAL_POINTS.index(0.2),)),  # the hedged answer the text talks about
        ],
        worked=[
            f"probs [{probs_text}], target {WRONG_TARGET}: the model puts 0.8 on class 0 and only "
            f"{n(wrong.p_target)} on the right class",
            f"L = −ln({n(wrong.p_target)}) = {n(wrong.loss)}, {n(wrong.loss / result.loss)} times this run's {n(result.loss)}"
            if result.loss > 0
            else f"L = −ln({n(wrong.p_target)}) = {n(wrong.loss)}",
        ],
        why="The log punishes confidence in the wrong answer: each halving of the probability on the "
        f"true class adds ln 2 = {n(math.log(2))} to the loss, and a probability near 0 costs "
        "without limit. A hedged wrong answer (p = 0.2) costs much less than a confident one.",
    )


def _ce_from_probs(ctx: Context, trace: Trace, inputs: Inputs) -> float:
    probs, target, eps = inputs.probs, inputs.target, inputs.eps
    result = core.cross_entropy_probs(probs, target, eps)
    n = ctx.n
    classes = index_labels(probs.size, "class ")
    onehot = np.zeros(probs.size)
    onehot[target] = 1.0
    trace.inputs.update({"probs": probs, "target": target, "eps": eps})
    trace.add(
        Step(
            id="probs",
            title="The predicted probabilities and the true class",
            formula=r"\sum_i p_i = 1, \quad y = \mathrm{onehot}(t)",
            formula_text="Σᵢ pᵢ = 1; the target t as a one-hot vector y",
            values=[
                Value("probs", probs, label="p", cols=classes),
                Value("onehot", onehot, label="y (one-hot)", cols=classes),
                Value("target", target, label="t"),
            ],
            worked=[sum_worked(ctx, "Σ p", probs, float(np.sum(probs))), f"p[t] = p[{target}] = {n(result.p_target)}"],
            why="Cross-entropy only looks at the probability given to the true class; the one-hot "
            "vector zeroes every other term of −Σ yᵢ·ln pᵢ.",
        )
    )
    step = Step(
        id="loss",
        title="Cross-entropy: minus the log of the true class's probability",
        formula=r"L = -\sum_i y_i \ln p_i = -\ln p_t",
        formula_text="L = −Σᵢ yᵢ·ln pᵢ = −ln p_t (natural log)",
        values=[Value("p_used", result.p_used, label="p_t used"), Value("loss", result.loss, label="L")],
        worked=[f"L = −ln(p[{target}]) = −ln({n(result.p_used)}) = {n(result.loss)}"],
        why="ln is the natural logarithm (base e), as in PyTorch; the loss is 0 only when p_t = 1. "
        "With log base 2 the same number would be in bits.",
    )
    if result.clipped:
        if result.p_target == 0.0:
            step.warnings.append(
                f"p[{target}] = 0: −ln 0 = ∞, so the loss would be infinite. "
                f"It is clipped to eps = {n(eps)}: L = −ln({n(eps)}) = {n(result.loss)}"
            )
        else:
            step.warnings.append(f"p[{target}] = {n(result.p_target)} is below eps = {n(eps)} and was clipped up to eps")
        step.worked.insert(0, f"clipping: p_t = max({n(result.p_target)}, eps) = max({n(result.p_target)}, {n(eps)}) = {n(result.p_used)}")
    trace.add(step)
    trace.add(_comparison_step(ctx, result))
    return result.loss


def _ce_from_logits(ctx: Context, trace: Trace, inputs: Inputs) -> float:
    logits, target = inputs.logits, inputs.target
    result = core.cross_entropy_logits(logits, target)
    s = softmax_steps(logits)
    n, f = ctx.n, ctx.f
    classes = index_labels(logits.size, "class ")
    trace.inputs.update({"logits": logits, "target": target})
    trace.add(
        Step(
            id="softmax",
            title="Softmax turns the logits into probabilities",
            formula=r"p_i = \frac{e^{z_i - \max z}}{\sum_j e^{z_j - \max z}}",
            formula_text="pᵢ = e^(zᵢ − max z) / Σⱼ e^(zⱼ − max z)",
            values=[
                Value("logits", logits, label="z", cols=classes),
                Value("exps", s.exps, label="e^(z − max z)", cols=classes),
                Value("probs", result.probs, label="p", cols=classes),
                Value("target", target, label="t"),
            ],
            worked=[
                f"max z = {n(s.maximum)}",
                sum_worked(ctx, "Σ e^(z − max z)", s.exps, s.total),
                f"p[{target}] = e^({n(s.shifted[target])}) / {n(s.total)} = {n(s.exps[target])} / {n(s.total)} = {n(result.p_target)}",
            ],
            why="Subtracting the largest logit first keeps every exponential at most 1, so nothing overflows.",
        )
    )
    trace.add(
        Step(
            id="loss",
            title="Cross-entropy straight from the logits (log-sum-exp)",
            formula=r"L = -\ln \mathrm{softmax}(z)_t = \ln \sum_j e^{z_j} - z_t",
            formula_text="L = −ln softmax(z)_t = ln Σⱼ e^(zⱼ) − z_t (natural log)",
            values=[Value("lse", result.log_sum_exp, label="ln Σ e^z"), Value("loss", result.loss, label="L")],
            worked=[
                f"ln Σ e^z = max z + ln Σ e^(z − max z) = {n(s.maximum)} + ln({n(s.total)}) = {n(result.log_sum_exp)}",
                f"L = {n(result.log_sum_exp)} − {f(logits[target])} = {n(result.loss)}",
                f"check: −ln(p[{target}]) = −ln({n(result.p_target)}) = {n(-math.log(result.p_target))}"
                if result.p_target > 0
                else f"p[{target}] = e^({n(s.shifted[target])}) is below the smallest float64 and rounds to 0: "
                "−ln of it would be ∞, but the log-sum-exp form above stays exact",
            ],
            why="Working with logits never takes the log of a rounded-to-zero probability: "
            "this is why libraries fuse softmax and cross-entropy into one function.",
        )
    )
    trace.add(_comparison_step(ctx, result))
    return result.loss


# --------------------------------------------------------------------------- BCE, MSE, ½·SSE


def _clipped_text(ctx: Context, p: float, used: float, eps: float) -> str:
    """A prediction as used in the log: ``0.6``, or ``1e-07`` / ``(1 − 1e-07)`` after clipping."""
    if used == p:
        return ctx.n(p)
    return ctx.n(eps) if used < 0.5 else f"(1 − {ctx.n(eps)})"


def _bce(ctx: Context, trace: Trace, inputs: Inputs) -> float:
    y_true, y_pred, eps = inputs.y_true, inputs.y_pred, inputs.eps
    result = core.binary_cross_entropy(y_true, y_pred, eps)
    n, f = ctx.n, ctx.f
    labels = index_labels(y_true.size)
    trace.inputs.update({"y-true": y_true, "y-pred": y_pred, "eps": eps})
    shown = [_clipped_text(ctx, float(p), float(q), eps) for p, q in zip(y_pred, result.p_used, strict=True)]
    worked = [
        f"ℓ{i} = −[{f(y)}×ln({p}) + {f(1 - y)}×ln(1 − {p})] = {n(t)}"
        for i, (y, p, t) in enumerate(zip(y_true, shown, result.terms, strict=True))
    ][:MAX_WORKED]
    step = Step(
        id="terms",
        title="One term per prediction",
        formula=r"\ell_i = -\left[y_i \ln p_i + (1 - y_i) \ln(1 - p_i)\right]",
        formula_text="ℓᵢ = −[yᵢ·ln pᵢ + (1 − yᵢ)·ln(1 − pᵢ)] (natural log)",
        values=[
            Value("table", np.vstack([y_true, y_pred, result.terms]), rows=("y", "p", "ℓ"), cols=labels),
        ],
        worked=worked,
        why="Each output is a separate yes/no question: the loss is −ln of the probability the model "
        "gave to what actually happened (p when y = 1, 1 − p when y = 0).",
    )
    for i in np.flatnonzero(result.clipped):
        y, p = float(y_true[i]), float(y_pred[i])
        infinite = (p == 0.0 and y > 0) or (p == 1.0 and y < 1)
        if infinite:
            step.warnings.append(
                f"p{i} = {n(p)} with y{i} = {n(y)}: ln 0 = −∞, so the loss would be infinite; "
                f"p{i} is clipped into [eps, 1 − eps]: {shown[i]}"
            )
        else:
            step.warnings.append(f"p{i} = {n(p)} was clipped into [eps, 1 − eps]: {shown[i]}")
    trace.add(step)
    trace.add(
        Step(
            id="loss",
            title="Average over the predictions",
            formula=r"L = \frac{1}{n} \sum_i \ell_i",
            formula_text="L = (1/n)·Σᵢ ℓᵢ",
            values=[Value("loss", result.loss, label="L")],
            worked=[
                sum_worked(ctx, "Σ ℓ", result.terms, float(np.sum(result.terms))),
                f"L = {n(float(np.sum(result.terms)))} / {y_true.size} = {n(result.loss)}",
            ],
            why="Averaging (as PyTorch's default reduction does) keeps the loss on the same scale "
            "whatever the number of outputs.",
        )
    )
    return result.loss


def _squared(ctx: Context, trace: Trace, inputs: Inputs, half: bool) -> float:
    y_true, y_pred = inputs.y_true, inputs.y_pred
    result = core.half_sse(y_true, y_pred) if half else core.mse(y_true, y_pred)
    n, f = ctx.n, ctx.f
    labels = index_labels(y_true.size)
    trace.inputs.update({"y-true": y_true, "y-pred": y_pred})
    trace.add(
        Step(
            id="errors",
            title="Errors and their squares",
            formula=r"e_i = \hat{y}_i - y_i, \quad e_i^2",
            formula_text="eᵢ = ŷᵢ − yᵢ, then eᵢ²",
            values=[
                Value("table", np.vstack([y_true, y_pred, result.diffs, result.squares]), rows=("y", "ŷ", "ŷ − y", "(ŷ − y)²"), cols=labels),
            ],
            worked=[
                f"e{i} = {n(p)} − {f(y)} = {n(d)}, e{i}² = {n(s)}"
                for i, (y, p, d, s) in enumerate(zip(y_true, y_pred, result.diffs, result.squares, strict=True))
            ][:MAX_WORKED],
            why="Squaring makes every error count positively and punishes large errors more "
            "than small ones (an error of 2 costs 4 times an error of 1).",
        )
    )
    total = sum_worked(ctx, "Σ e²", result.squares, result.total)
    if half:
        trace.add(
            Step(
                id="loss",
                title="Half the sum of squares",
                formula=r"L = \tfrac{1}{2} \sum_i (y_i - \hat{y}_i)^2",
                formula_text="L = ½·Σᵢ (yᵢ − ŷᵢ)²",
                values=[Value("total", result.total, label="Σ e²"), Value("loss", result.loss, label="L")],
                worked=[total, f"L = ½ × {n(result.total)} = {n(result.loss)}"],
                why="The ½ cancels the 2 from differentiating the square: ∂L/∂ŷᵢ = ŷᵢ − yᵢ, "
                "which keeps backpropagation formulas clean.",
            )
        )
    else:
        trace.add(
            Step(
                id="loss",
                title="The mean of the squares",
                formula=r"L = \frac{1}{n} \sum_i (\hat{y}_i - y_i)^2",
                formula_text="L = (1/n)·Σᵢ (ŷᵢ − yᵢ)²",
                values=[Value("total", result.total, label="Σ e²"), Value("loss", result.loss, label="L")],
                worked=[total, f"L = {n(result.total)} / {y_true.size} = {n(result.loss)}"],
                why="Dividing by n makes the loss an average, comparable across batch sizes; "
                "its gradient is (2/n)·(ŷᵢ − yᵢ).",
            )
        )
    return result.loss


# --------------------------------------------------------------------------- build


def build(ctx: Context, inputs: Inputs) -> Trace:
    kind = inputs.kind
    trace = ctx.new_trace({"kind": kind})
    if kind == "ce":
        loss = _ce_from_logits(ctx, trace, inputs) if inputs.logits is not None else _ce_from_probs(ctx, trace, inputs)
    elif kind == "bce":
        loss = _bce(ctx, trace, inputs)
    else:
        loss = _squared(ctx, trace, inputs, half=kind == "half-sse")
    trace.outputs = {"loss": loss}
    trace.result = answer(trace, "loss.loss")
    return trace


# --------------------------------------------------------------------------- quiz and known mistakes


def _quiz_probs(rng: np.random.Generator, values: dict[str, Any]) -> dict[str, Any]:
    """A fresh probability vector (4 entries, 2 decimals, each at least 0.05, summing to 1) and a target."""
    cents = 5 + rng.multinomial(80, [0.25] * 4)
    return {"probs": cents / 100, "target": int(rng.integers(0, 4))}


def _p_used(case) -> float | None:
    if case.trace.inputs.get("kind", "ce") != "ce":
        return None
    p = case.element(step="loss", value="p_used")
    return p if p is not None and p > 0 else None


def _log10(case) -> float | None:
    p = _p_used(case)
    return -math.log10(p) if p is not None else None


def _log2(case) -> float | None:
    p = _p_used(case)
    return -math.log2(p) if p is not None else None


LOSS_MISTAKES = (
    Mistake("log10", "used log base 10 (cross-entropy uses the natural log, ln)", _log10, values=("loss",)),
    Mistake("log2", "used log base 2 (cross-entropy uses the natural log, ln)", _log2, values=("loss",)),
)


# --------------------------------------------------------------------------- the asked element, worked


def _explain_p_used(case) -> list[str]:
    """``p_t = p[2] = 0.6`` (after clipping, when the probability was below eps)."""
    target, p_used = case.trace.inputs["target"], case.data("loss", "p_used")
    p = case.trace.inputs["probs"][target]
    if p_used != p:
        return [f"p_t = max(p[{target}], eps) = max({case.ctx.n(p)}, {case.ctx.n(case.inputs.eps)}) = {case.ctx.n(p_used)}"]
    return [f"p_t = p[{target}] = {case.ctx.n(p_used)}"]


def _explain_loss(case) -> list[str]:
    """The loss is one number: the step's own worked lines are its arithmetic."""
    return list(case.trace.step("loss").worked)


def script(trace: Trace) -> str:
    """The chosen loss as NumPy source (``--format py``)."""
    from nntutor.walkthroughs._script import heading

    kind = trace.inputs["kind"]
    if kind == "ce" and "logits" in trace.inputs:
        return "\n".join([
            heading(trace, "softmax"),
            "shifted = logits - logits.max()",
            "log_sum_exp = logits.max() + math.log(np.exp(shifted).sum())  # ln Σⱼ e^zⱼ",
            "",
            heading(trace, "loss"),
            "loss = log_sum_exp - logits[target]  # −ln softmax(z)[target]",
        ])
    if kind == "ce":
        return "\n".join([
            heading(trace, "loss"),
            "p_used = max(probs[target], eps)  # a probability of 0 is clipped up to eps",
            "loss = -math.log(p_used)",
        ])
    if kind == "bce":
        return "\n".join([
            heading(trace, "terms"),
            "p = np.clip(y_pred, eps, 1.0 - eps)",
            "terms = -(y_true * np.log(p) + (1.0 - y_true) * np.log(1.0 - p))",
            "",
            heading(trace, "loss"),
            "loss = terms.mean()",
        ])
    return "\n".join([
        heading(trace, "errors"),
        "squares = (y_pred - y_true) ** 2",
        "",
        heading(trace, "loss"),
        "loss = 0.5 * squares.sum()" if kind == "half-sse" else "loss = squares.mean()",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "kind": Input("choice", choices=("ce", "bce", "mse", "half-sse")),
        "probs": Input("vector"),
        "logits": Input("vector"),
        "target": Input("integer", minimum=0),
        "y-true": Input("vector"),
        "y-pred": Input("vector"),
        "eps": Input("scalar", above=0, below=0.5),
    },
    targets=(
        Target("loss", "p_used", explain=_explain_p_used, symbol="p_t"),
        Target("loss", "loss", explain=_explain_loss, symbol="L"),
    ),
    mistakes=LOSS_MISTAKES,
    keep=("y-true", "y-pred"),
    extra=_quiz_probs,
    script=script,
)
