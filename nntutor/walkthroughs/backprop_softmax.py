"""The backprop-softmax lesson: the softmax Jacobian, a gradient passed back through it,
and the collapse to (p − y)/T under cross-entropy.

Default run: logits z = (1, 2, 0.5, −1) at T = 1, target 0 (sunny), upstream
∂L/∂p = (1, −1, 0, 0.5). The exponentials e^(z − 2) are (0.3679, 1, 0.2231, 0.0498),
S = 1.6408, so p(sunny) = 0.3679 / 1.6408 = 0.2242 and

- J[sunny,sunny] = p(1 − p)/T = 0.2242 × 0.7758 = 0.1739,
- ∂L/∂z(sunny) = p(sunny)·(∂L/∂p(sunny) − p·∂L/∂p)/T = 0.2242 × (1 + 0.3701) = 0.3072,
- under cross-entropy ∂L/∂z(sunny) = (p − y)/T = 0.2242 − 1 = −0.7758.

>>> from nntutor.catalog.lessonfile import load_lesson
>>> from nntutor.catalog.run import run_lesson
>>> outputs = run_lesson(load_lesson("backprop-softmax")).outputs
>>> round(float(outputs["jacobian"][0, 0]), 4), round(float(outputs["grad_logits"][0]), 4)
(0.1739, -0.7758)
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from nntutor.core.softmax import (
    cross_entropy_backward,
    cross_entropy_from_logits,
    cross_entropy_grad_probs,
    softmax_backward,
    softmax_jacobian,
    softmax_steps,
)
from nntutor.errors import InputError
from nntutor.numfmt import fmt, fmt_factor, human_bytes
from nntutor.trace import Step, Trace, Value
from nntutor.walkthroughs._budget import allowance
from nntutor.walkthroughs._common import Context, answer, dot_worked, sum_worked
from nntutor.walkthroughs._declare import Args, Input, Mistake, Target, Walkthrough
from nntutor.walkthroughs.attention import MAX_MEMORY_BYTES

DEFAULT_CLASSES = 4  # random logits with --seed alone
FD_STEP = 1e-5  # the finite-difference check: central differences with h = FD_STEP × min(T, 1)
FD_MAX_CLASSES = 16  # … on at most this many logits (each costs two forward passes)


def memory_estimate(n: int) -> int:
    """Bytes a run may need, with room to spare: six n×n float64 matrices (J, its
    temporaries, an export of it) plus the vectors."""
    return 8 * (6 * n * n + 16 * n)


def check_size(flag: str, n: int) -> None:
    """Refuse, before allocating anything, a Jacobian that would exhaust memory (the limit of the attention lessons)."""
    need = memory_estimate(n)
    limit, why = allowance(MAX_MEMORY_BYTES)
    if need > limit:
        raise InputError(
            flag,
            f"{n:,} classes need ~{human_bytes(need)} (the {n}×{n} Jacobian alone is {human_bytes(8 * n * n)}); "
            f"at most {human_bytes(limit)} is allowed{why}",
        )


class Inputs(NamedTuple):
    """Checked inputs: logits with a name each, a temperature, the target class and an upstream ∂L/∂p."""

    logits: np.ndarray  # z, one per class
    labels: tuple[str, ...]  # one name per class (c0, c1 … when the default names do not fit)
    temperature: float  # T > 0: p = softmax(z / T)
    target: int  # the correct class, for the cross-entropy
    dp: np.ndarray  # the upstream gradient ∂L/∂p, shaped like p
    drawn: dict[str, Any]  # seed, and which inputs were drawn at random (empty: none)


def draw(seed: int, n: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Random (logits, ∂L/∂p, target) for n classes, rounded to 2 decimals; always drawn in this order.

    >>> z, dp, target = draw(0, 3)
    >>> z.shape, dp.shape, 0 <= target < 3
    ((3,), (3,), True)
    """
    rng = np.random.default_rng(seed)
    logits = np.round(rng.normal(0.0, 1.5, size=n), 2) + 0.0
    dp = np.round(rng.uniform(-1.0, 1.0, size=n), 2) + 0.0
    return logits, dp, int(rng.integers(0, n))


def check(args: Args) -> Inputs:
    """The flags checked together.

    ``--seed`` or ``--classes`` draws every one of the logits, ``--dp`` and ``--target``
    that was not typed. Without them, a ``--dp`` left at its default that does not fit
    the typed ``--logits`` is drawn (seed 0) rather than refused: the learner never typed it.
    """
    given = args.given
    if "classes" in given and "logits" in given:
        raise InputError("--classes", "cannot be combined with --logits (the count comes from --logits)")
    random_mode = bool({"seed", "classes"} & given)
    if random_mode and "logits" not in given:
        n = args["classes"] if args["classes"] is not None else DEFAULT_CLASSES
        check_size("--classes" if "classes" in given else "--seed", n)
    else:
        n = int(args["logits"].size)
        check_size("--logits", n)
    logits, dp, target = args["logits"], args["dp"], args["target"]
    drawn: dict[str, Any] = {}
    if random_mode:
        seed = args["seed"] if args["seed"] is not None else 0
        z_r, dp_r, target_r = draw(seed, n)
        names = [name for name in ("logits", "dp", "target") if name not in given]
        logits = logits if "logits" in given else z_r
        dp = dp if "dp" in given else dp_r
        target = target if "target" in given else target_r
        drawn = {"seed": seed, "classes": n, "drawn": names}
    elif "dp" not in given and dp.size != n:
        _, dp, _ = draw(0, n)
        drawn = {"seed": 0, "drawn": ["dp"]}

    labels = args["labels"]
    if labels is None or ("labels" not in given and len(labels) != n):
        labels = tuple(f"c{i}" for i in range(n))  # class i: reads well as p(c0), z(c0)
    if len(labels) != n:
        raise InputError("--labels", f"expected {n} names to match --logits, got {len(labels)}")
    if not 0 <= target < n:
        raise InputError("--target", f"{target} is out of range (expected an index from 0 to {n - 1})")
    if dp.shape != logits.shape:
        raise InputError(
            "--dp", f"expected {n} numbers (∂L/∂p has the shape of p: one per logit), got {dp.size}"
        )
    temperature = float(args["temperature"])
    largest = max(float(np.max(np.abs(logits))), float(np.max(np.abs(dp))), 1.0)
    if not (math.isfinite(largest / temperature) and math.isfinite(4 * largest / temperature)):
        raise InputError(
            "--temperature", f"{temperature:g} is too small for these inputs (z/T and the 1/T of the gradients overflow)"
        )
    return Inputs(logits, tuple(labels), temperature, int(target), dp, drawn)


def build(ctx: Context, inputs: Inputs) -> Trace:
    z, labels, T, t, dp = inputs.logits, inputs.labels, inputs.temperature, inputs.target, inputs.dp
    n = z.size
    n_, f = ctx.n, ctx.f
    fw = softmax_steps(z, T)
    p = fw.probs
    loss = cross_entropy_from_logits(z, t, T)
    J = softmax_jacobian(p, T)
    cols = tuple(labels)
    name = labels[t]
    i, j = 0, (1 if n > 1 else 0)  # the entries of J worked in full: a diagonal one, an off-diagonal one
    a, b = labels[i], labels[j]

    recorded: dict[str, Any] = {"logits": z, "labels": list(labels), "temperature": T, "target": t, "dp": dp}
    recorded.update(inputs.drawn)
    trace = ctx.new_trace(recorded)

    # 1. The forward pass the backward pass reuses.
    forward = Step(
        id="forward",
        title="Forward: softmax at temperature T, then the loss",
        formula=r"p_i = \frac{e^{z_i/T}}{\sum_k e^{z_k/T}}, \quad L = -\ln p_{\text{target}}",
        formula_text="pᵢ = e^(zᵢ/T) / Σₖ e^(zₖ/T),   L = −ln p_t (t: the target class)",
        values=[
            Value("p", p, label="p = softmax(z / T)", cols=cols),
            Value("loss", loss, label=f"cross-entropy L (target {name})"),
        ],
        worked=[
            sum_worked(ctx, f"S = Σₖ e^(zₖ/T − {n_(fw.maximum)})", fw.exps, fw.total),
            f"p({name}) = e^({n_(z[t])}/{n_(T)} − {n_(fw.maximum)}) / S = {n_(fw.exps[t])} / {n_(fw.total)} = {n_(p[t])}",
            f"L = −ln p({name}) = −ln {n_(p[t])} = {n_(loss)}",
        ],
        why="The backward pass is written in terms of these probabilities: once p is known, "
        "no derivative below needs the exponentials again.",
    )
    if n == 1:
        forward.warnings.append("one class: p = 1 whatever its logit, so every derivative below is 0")
    trace.add(forward)

    # 2. The Jacobian.
    row_terms = sum_worked(ctx, f"row {a}", J[i], float(np.sum(J[i]))).rsplit(" = ", 1)[0]
    trace.add(
        Step(
            id="jacobian",
            title="The softmax Jacobian J = ∂p/∂z",
            formula=r"J_{ij} = \frac{\partial p_i}{\partial z_j} = \frac{p_i(\delta_{ij} - p_j)}{T}, \quad "
            r"J = \frac{\operatorname{diag}(\mathbf{p}) - \mathbf{p}\mathbf{p}^\top}{T}",
            formula_text="Jᵢⱼ = ∂pᵢ/∂zⱼ = pᵢ(δᵢⱼ − pⱼ)/T,   J = (diag(p) − p·pᵀ)/T",
            values=[
                Value(
                    "jacobian",
                    J,
                    label=f"J, {n}×{n}: row i is pᵢ, column j is zⱼ",
                    rows=tuple(f"p({c})" for c in cols),
                    cols=tuple(f"z({c})" for c in cols),
                )
            ],
            worked=[
                f"J[{a},{a}] = p({a})×(1 − p({a}))/T = {f(p[i])}×(1 − {f(p[i])})/{n_(T)} = {n_(J[i, i])}",
                *([f"J[{a},{b}] = −p({a})×p({b})/T = −{f(p[i])}×{f(p[j])}/{n_(T)} = {n_(J[i, j])}"] if j != i else []),
                f"{row_terms} = 0 (up to rounding): the p's always sum to 1",
            ],
            why="Every probability shares the denominator Σₖ e^(zₖ/T): raising one logit raises its own "
            "probability and lowers all the others, so the derivative is a full n×n matrix, not n slopes.",
        )
    )

    # 3. An upstream gradient back through the softmax: Jᵀ·dp, and the shortcut that never builds J.
    grad_z = J.T @ dp
    p_dot = float(p @ dp)
    shortcut = softmax_backward(p, dp, T)
    worked = []
    if "dp" in inputs.drawn.get("drawn", ()):
        worked.append(f"∂L/∂p was not typed: drawn at random (seed {inputs.drawn['seed']})")
    worked += [
        dot_worked(ctx, f"Jᵀ·dp for {a} = Σᵢ J[i,{a}]·dpᵢ", J[:, i], dp, grad_z[i]),
        dot_worked(ctx, "p·dp", p, dp, p_dot),
        f"shortcut for {a}: {f(p[i])}×({n_(dp[i])} − {f(p_dot)})/{n_(T)} = {n_(shortcut[i])}",
        f"the two rows agree: largest difference {n_(float(np.max(np.abs(grad_z - shortcut))))}",
        f"shapes: dp has {n} entries like p, ∂L/∂z has {n} like z",
    ]
    trace.add(
        Step(
            id="vjp",
            title="Back through softmax: ∂L/∂z = Jᵀ·∂L/∂p",
            formula=r"\frac{\partial L}{\partial z_j} = \sum_i J_{ij}\,\frac{\partial L}{\partial p_i}"
            r" = \frac{p_j}{T}\Big(\frac{\partial L}{\partial p_j} - \sum_i p_i \frac{\partial L}{\partial p_i}\Big)",
            formula_text="∂L/∂zⱼ = Σᵢ Jᵢⱼ·∂L/∂pᵢ = pⱼ·(∂L/∂pⱼ − p·∂L/∂p)/T",
            values=[
                Value("dp", dp, label="dp = ∂L/∂p, the upstream gradient (--dp)", cols=cols),
                Value("p·dp", p_dot, label="p·dp = Σᵢ pᵢ·dpᵢ"),
                Value(
                    "dz",
                    np.vstack([grad_z, shortcut]),
                    label="∂L/∂z, two ways",
                    rows=("Jᵀ·dp", "p⊙(dp − p·dp)/T"),
                    cols=cols,
                ),
            ],
            worked=worked,
            why="By the chain rule the loss reaches zⱼ along one path through each pᵢ, and the paths add up; "
            "the shortcut does that sum in n steps without building J (J is symmetric, so Jᵀ = J).",
        )
    )

    # 4. Cross-entropy: ∂L/∂p = −y/p, and the product collapses.
    grad_p = cross_entropy_grad_probs(p, t)
    grad_logits = cross_entropy_backward(z, t, T)
    other = (t + 1) % n
    o = labels[other]
    worked = [
        f"y = 1 for {name} (the target), 0 for the others",
        f"dp for {name} = −1/p({name}) = −1/{n_(p[t])} = {n_(grad_p[t])}; 0 for the others",
    ]
    step = Step(
        id="cross-entropy",
        title="Cross-entropy: Jᵀ·∂L/∂p collapses to (p − y)/T",
        formula=r"\frac{\partial L}{\partial p_i} = -\frac{y_i}{p_i}, \quad "
        r"\frac{\partial L}{\partial \mathbf{z}} = J^\top\Big(-\frac{\mathbf{y}}{\mathbf{p}}\Big) = \frac{\mathbf{p} - \mathbf{y}}{T}",
        formula_text="∂L/∂pᵢ = −yᵢ/pᵢ,   ∂L/∂z = Jᵀ·(−y/p) = (p − y)/T",
        why="The 1/p of the logarithm cancels the p in the target's row of J, leaving prediction minus "
        "target: a descent step lowers each wrong logit in proportion to its probability and raises the right one.",
    )
    if np.isfinite(grad_p[t]):
        via_j = J[t] * grad_p[t]  # Jᵀ·(−y/p): y is one-hot, so only the target's row of J counts
        rows, data = ("Jᵀ·dp", "(p − y)/T"), np.vstack([via_j, grad_logits])
        worked.append(f"Jᵀ·dp for {name} = J[{name},{name}]×{f(grad_p[t])} = {f(J[t, t])}×{f(grad_p[t])} = {n_(via_j[t])}")
        if n > 1:
            worked.append(f"Jᵀ·dp for {o} = J[{name},{o}]×{f(grad_p[t])} = {f(J[t, other])}×{f(grad_p[t])} = {n_(via_j[other])}")
        agree = f"the two rows agree: largest difference {n_(float(np.max(np.abs(via_j - grad_logits))))}"
    else:
        step.warnings.append(
            f"p({name}) rounded to exactly 0, so −1/p is infinite and Jᵀ·dp cannot be computed; "
            "(p − y)/T never divides by p and stays finite"
        )
        rows, data, agree = ("(p − y)/T",), grad_logits[None, :], ""
    worked.append(f"(p − y)/T for {name} = ({f(p[t])} − 1)/{n_(T)} = {n_(grad_logits[t])}")
    if n > 1:
        worked.append(f"(p − y)/T for {o} = ({f(p[other])} − 0)/{n_(T)} = {n_(grad_logits[other])}")
    if agree:
        worked.append(agree)
    step.values = [
        Value("dp", grad_p, label="dp = ∂L/∂p = −y/p", cols=cols),
        Value("dz", data, label="∂L/∂z, two ways", rows=rows, cols=cols),
    ]
    step.worked = worked
    trace.add(step)

    # 5. A closing check without calculus.
    trace.add(_finite_difference_step(ctx, z, t, T, grad_logits, labels))

    # grad_logits is a copy, so the Result section shows it again (an array a step shows is only named there).
    trace.outputs = {"jacobian": J, "grad_logits": grad_logits.copy()}
    trace.result = answer(trace, "jacobian.jacobian", "cross-entropy.dz")
    return trace


def _finite_difference_step(ctx: Context, z, t: int, T: float, grad_logits, labels) -> Step:
    n_ = ctx.n
    h = FD_STEP * min(T, 1.0)  # L depends on z/T: a step of h in z is a step of h/T there
    k = min(z.size, FD_MAX_CLASSES)
    numeric = np.empty(k)
    ends = []
    for c in range(k):
        up, down = z.copy(), z.copy()
        up[c] += h
        down[c] -= h
        ends.append((cross_entropy_from_logits(up, t, T), cross_entropy_from_logits(down, t, T)))
        numeric[c] = (ends[c][0] - ends[c][1]) / (2 * h)
    error = float(np.max(np.abs(numeric - grad_logits[:k])))
    plus, minus = ends[0]
    worked = [f"{labels[0]}: ({fmt(plus, 10)} − {fmt_factor(minus, 10)}) / {2 * h:g} = {n_(numeric[0])}"]
    if k < z.size:
        worked.append(f"checked on the first {k} of {z.size} logits")
    step = Step(
        id="check",
        title="Check: nudge each logit by ±h",
        formula=r"\frac{\partial L}{\partial z_j} \approx \frac{L(\mathbf{z} + h\mathbf{e}_j) - L(\mathbf{z} - h\mathbf{e}_j)}{2h}, \quad "
        + ("h = 10^{-5}" if h == FD_STEP else f"h = {h:.3g}"),
        formula_text=f"∂L/∂zⱼ ≈ (L(z + h·eⱼ) − L(z − h·eⱼ)) / 2h,   h = {h:g}",
        values=[
            Value(
                "dz",
                np.vstack([numeric, grad_logits[:k]]),
                label="∂L/∂z: nudged, and from step 4",
                rows=("nudged", "(p − y)/T"),
                cols=tuple(labels[:k]),
            ),
            Value("max_error", error, label="largest difference"),
        ],
        worked=worked,
        why="Moving one logit a little and watching the loss needs no calculus; agreement to many "
        "decimals (the difference quotient is off by about h²) says the gradient above is right.",
    )
    if error > 1e-6:
        step.warnings.append(f"the two differ by {n_(error)}: h is too large or too small for these logits")
    return step


# --------------------------------------------------------------------------- quiz and known mistakes


def _probs(case) -> np.ndarray:
    return np.asarray(case.trace.step("forward").value("p").data)


def _elementwise(case) -> float | None:
    """The Jacobian taken as diagonal: ∂pⱼ/∂zⱼ = pⱼ(1 − pⱼ)/T only, nothing off the diagonal."""
    p, T, index = _probs(case), case.inputs.temperature, case.index
    if case.value == "jacobian":
        row, col = index
        return 0.0 if row != col else None
    col = index[-1]
    if case.step == "vjp":
        return float(p[col] * (1 - p[col]) * case.inputs.dp[col] / T)
    t = case.inputs.target
    return float(-(1 - p[t]) / T) if col == t else 0.0  # pₜ(1 − pₜ)/T × (−1/pₜ), and 0 × 0 off the target


def _no_temperature(case) -> float | None:
    """The 1/T of every derivative left out (the forward pass done at T correctly)."""
    T = case.inputs.temperature
    value = case.element()
    return None if T == 1.0 or value is None else value * T


def _no_p_dot(case) -> float | None:
    """Only diag(p): ∂L/∂zⱼ = pⱼ·∂L/∂pⱼ/T, the − p·∂L/∂p term (the shared denominator) dropped."""
    if case.step != "vjp":
        return None
    col = case.index[-1]
    return float(_probs(case)[col] * case.inputs.dp[col] / case.inputs.temperature)


def _flipped(case) -> float | None:
    if case.step != "cross-entropy":
        return None
    value = case.element()
    return None if value is None or value == 0.0 else -value


BACKPROP_SOFTMAX_MISTAKES = (
    Mistake(
        "elementwise-jacobian",
        "took the softmax Jacobian as elementwise: only pᵢ(1 − pᵢ) on the diagonal, no −pᵢpⱼ off it",
        _elementwise,
        values=("jacobian", "dz"),
    ),
    Mistake("no-temperature", "left out the 1/T that every derivative of softmax(z/T) carries", _no_temperature,
            values=("jacobian", "dz")),
    Mistake("no-p-dot", "dropped the − p·∂L/∂p term (used diag(p) for J, without − p·pᵀ)", _no_p_dot, values=("dz",)),
    Mistake("y-minus-p", "wrote y − p instead of p − y (the sign of the gradient)", _flipped, values=("dz",)),
)


# --------------------------------------------------------------------------- the asked element, worked


def _explain_jacobian(case) -> list[str]:
    i, j = case.index
    n_, f = case.ctx.n, case.ctx.f
    labels, T = case.trace.inputs["labels"], case.trace.inputs["temperature"]
    p, J = case.data("forward", "p"), case.data("jacobian", "jacobian")
    a, b = labels[i], labels[j]
    if i == j:
        return [f"J[{a},{a}] = p({a})×(1 − p({a}))/T = {f(p[i])}×(1 − {f(p[i])})/{n_(T)} = {n_(J[i, i])}"]
    return [f"J[{a},{b}] = −p({a})×p({b})/T = −{f(p[i])}×{f(p[j])}/{n_(T)} = {n_(J[i, j])}"]


def _explain_p_dot(case) -> list[str]:
    return [dot_worked(case.ctx, "p·dp = Σᵢ pᵢ·dpᵢ", case.data("forward", "p"), case.trace.inputs["dp"], case.data("vjp", "p·dp"))]


def _explain_vjp(case) -> list[str]:
    _, j = case.index
    name = case.trace.inputs["labels"][j]
    J, dz = case.data("jacobian", "jacobian"), case.data("vjp", "dz")
    return [dot_worked(case.ctx, f"Jᵀ·dp for {name} = Σᵢ J[i,{name}]·dpᵢ", J[:, j], case.trace.inputs["dp"], dz[0, j])]


def _explain_cross_entropy(case) -> list[str]:
    row, j = case.index
    n_, f = case.ctx.n, case.ctx.f
    inputs = case.trace.inputs
    name, T, p = inputs["labels"][j], inputs["temperature"], case.data("forward", "p")
    y = 1.0 if j == inputs["target"] else 0.0
    value = case.data("cross-entropy", "dz")[row, j]
    return [f"(p − y)/T for {name} = ({f(p[j])} − {n_(y)})/{n_(T)} = {n_(value)}   (y = {n_(y)}: {'the target' if y else 'not the target'})"]


def script(trace: Trace) -> str:
    """Softmax's Jacobian and the cross-entropy gradient as NumPy source (``--format py``)."""
    from nntutor.walkthroughs._script import heading

    return "\n".join([
        heading(trace, "forward"),
        "e = np.exp((logits - logits.max()) / temperature)",
        "p = e / e.sum()",
        "loss = -math.log(p[target])",
        "",
        heading(trace, "jacobian"),
        "jacobian = (np.diag(p) - np.outer(p, p)) / temperature",
        "",
        heading(trace, "vjp"),
        "dz = jacobian.T @ dp  # = p ⊙ (dp − p·dp) / T",
        "",
        heading(trace, "cross-entropy"),
        "y = np.zeros(len(p))",
        "y[target] = 1.0  # the target as a one-hot vector",
        "grad_logits = (p - y) / temperature",
    ])


WALKTHROUGH = Walkthrough(
    check=check,
    build=build,
    inputs={
        "logits": Input("vector"),
        "labels": Input("labels"),
        "temperature": Input("scalar", above=0),
        "target": Input("integer", minimum=0),
        "dp": Input("vector"),
        "classes": Input("integer", minimum=1),
        "seed": Input("integer", minimum=0),
    },
    targets=(
        Target("jacobian", "jacobian", uses=("forward.p", "temperature", "labels"), explain=_explain_jacobian, symbol="J"),
        Target("vjp", "p·dp", uses=("forward.p", "dp"), explain=_explain_p_dot),
        Target("vjp", "dz", rows=(0,), uses=("jacobian.jacobian", "dp"), explain=_explain_vjp, symbol="∂L/∂z"),
        Target(
            "cross-entropy", "dz", rows=(1,), uses=("forward.p", "target", "temperature", "labels"),
            explain=_explain_cross_entropy, symbol="∂L/∂z",
        ),
    ),
    mistakes=BACKPROP_SOFTMAX_MISTAKES,
    extra=lambda rng, values: {"target": int(rng.integers(0, np.size(values["logits"])))},
    script=script,
)
