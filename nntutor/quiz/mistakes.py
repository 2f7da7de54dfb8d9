"""Known mistakes, recomputed: how a wrong quiz answer is diagnosed.

A mistake is registered for a walkthrough (its *builder* name) and recomputes
the value a learner would get by making it, for the element the quiz asked
about. When a wrong answer matches that value (within the question's
tolerance), the quiz names the mistake. A lesson added later registers its own
mistakes here with :func:`register`, without touching the quiz::

    @register("layernorm", "unbiased-variance", "used the unbiased variance (÷ (n−1) instead of ÷ n)")
    def _unbiased(case):
        ...  # return the value with that mistake, or None when it does not apply

Example: attention weights without ÷√d_k. For X = [[1, 0], [0, 1]] (identity
projections) the scores are [[1, 0], [0, 1]]; scaled by √2 the weight A[0,0] is
e^0.7071 / (e^0.7071 + 1) = 0.6698, while the unscaled one is
e^1 / (e^1 + 1) = 0.7311: an answer of 0.731 is diagnosed as "no ÷√d_k".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nntutor.trace import Table, Trace


@dataclass(frozen=True)
class Case:
    """The question a mistake is recomputed for: one element of one step value of a run."""

    lesson: Any  # nntutor.catalog.lessonfile.Lesson
    raw: dict[str, Any]  # the flag values the run used
    trace: Trace
    step: str
    value: str
    index: tuple[int, ...]  # () for a scalar
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def element(self, trace: Trace | None = None, step: str | None = None, value: str | None = None) -> float | None:
        """The asked element in ``trace`` (default: this run), or in another step/value of it."""
        trace = trace if trace is not None else self.trace
        try:
            data = trace.step(step or self.step).value(value or self.value).data
        except KeyError:
            return None
        return element_of(data, self.index)

    def rerun(self, **changes: Any) -> Trace | None:
        """The same run with some flags changed (``no_scale=True`` sets ``--no-scale``)."""
        from nntutor.catalog.run import run_lesson
        from nntutor.errors import NntutorError

        raw = dict(self.raw)
        raw.update({name.replace("_", "-"): value for name, value in changes.items()})
        key = repr(sorted(raw.items(), key=lambda item: item[0]))
        if key not in self._cache:
            try:
                self._cache[key] = run_lesson(self.lesson, raw)
            except NntutorError:
                self._cache[key] = None
        return self._cache[key]


def element_of(data: Any, index: tuple[int, ...]) -> float | None:
    """One number out of a value's data (``None`` when it is not a number there)."""
    try:
        if isinstance(data, Table):
            cell = data.rows[index[0]][index[1]]
        elif isinstance(data, (int, float, np.integer, np.floating)) and not isinstance(data, bool):
            cell = data
        else:
            array = np.asarray(data)
            if array.dtype.kind not in "fiu" or array.ndim != len(index):
                return None
            cell = array[index]
    except (IndexError, TypeError, ValueError):
        return None
    if isinstance(cell, (bool, np.bool_)) or not isinstance(cell, (int, float, np.integer, np.floating)):
        return None
    return float(cell)


@dataclass(frozen=True)
class Mistake:
    """A known mistake: ``compute(case)`` is the value it leads to, or ``None`` where it does not apply."""

    builder: str
    id: str
    name: str
    compute: Callable[[Case], float | None]


_REGISTRY: dict[str, list[Mistake]] = {}


def register(builder: str, mistake_id: str, name: str):
    """Decorator: register ``compute(case) -> float | None`` as a mistake for lessons built by ``builder``."""

    def decorate(compute: Callable[[Case], float | None]) -> Callable[[Case], float | None]:
        mistakes = _REGISTRY.setdefault(builder, [])
        if any(m.id == mistake_id for m in mistakes):
            raise ValueError(f"mistake {mistake_id!r} is already registered for {builder!r}")
        mistakes.append(Mistake(builder, mistake_id, name, compute))
        return compute

    return decorate


def mistakes_for(builder: str) -> list[Mistake]:
    return list(_REGISTRY.get(builder, ()))


def alternatives(builder: str, case: Case) -> list[tuple[Mistake, float]]:
    """Every registered mistake that applies here, with the (finite) value it gives."""
    found = []
    for mistake in mistakes_for(builder):
        try:
            value = mistake.compute(case)
        except (ArithmeticError, ValueError, KeyError, IndexError):
            value = None
        if value is not None and math.isfinite(value):
            found.append((mistake, float(value)))
    return found


# --------------------------------------------------------------------------- attention


@register("attention", "no-scale", "forgot to divide the scores by √d_k")
def _attention_no_scale(case: Case) -> float | None:
    if case.value not in ("scaled", "weights", "output") or not case.trace.inputs.get("scale", True):
        return None
    return case.element(case.rerun(no_scale=True))


@register("attention", "not-normalised", "did not divide by the row sum (softmax not normalised)")
def _attention_not_normalised(case: Case) -> float | None:
    if case.value != "weights":
        return None
    return case.element(step="softmax", value="exp")


# --------------------------------------------------------------------------- softmax


@register("softmax", "not-normalised", "did not divide by the sum of the exponentials (softmax not normalised)")
def _softmax_not_normalised(case: Case) -> float | None:
    if case.value != "probs":
        return None
    return case.element(step="exp", value="exp")


@register("softmax", "no-max-shift", "exponentiated z/T without subtracting the largest value first")
def _softmax_no_shift(case: Case) -> float | None:
    if case.value != "exp":
        return None
    scaled = case.element(step="scale", value="scaled")
    return math.exp(scaled) if scaled is not None and scaled < 700 else None


def _target_probability(case: Case) -> float | None:
    target = case.trace.inputs.get("target")
    if case.value != "loss" or target is None:
        return None
    probs = np.asarray(case.trace.step("probs").value("probs").data)
    column = case.index[0] if case.index else 0
    p = float(probs[target, column]) if probs.ndim == 2 else float(probs[target])
    return p if p > 0 else None


@register("softmax", "log10", "used log base 10 for the cross-entropy (it is the natural log, ln)")
def _softmax_log10(case: Case) -> float | None:
    p = _target_probability(case)
    return -math.log10(p) if p is not None else None


@register("softmax", "log2", "used log base 2 for the cross-entropy (it is the natural log, ln)")
def _softmax_log2(case: Case) -> float | None:
    p = _target_probability(case)
    return -math.log2(p) if p is not None else None


# --------------------------------------------------------------------------- neuron


def _neuron_without_bias(case: Case) -> float | None:
    """z − b, put through the activation when y was asked."""
    from nntutor.core import activations

    z = case.trace.outputs.get("z")
    b = case.trace.inputs.get("b")
    if z is None or b is None or float(b) == 0.0:
        return None
    if case.value == "z":
        return float(z) - float(b)
    if case.value == "y":
        return float(activations.activate(case.trace.inputs["activation"], float(z) - float(b)))
    return None


register("neuron", "no-bias", "left out the bias b (z = w·x + b)")(_neuron_without_bias)


def _other_activation(asked: str, used: str) -> Callable[[Case], float | None]:
    def compute(case: Case) -> float | None:
        from nntutor.core import activations

        if case.value != "y" or case.trace.inputs.get("activation") != asked:
            return None
        return float(activations.activate(used, float(case.trace.outputs["z"])))

    return compute


register("neuron", "relu-for-sigmoid", "applied ReLU where the question asks for sigmoid")(_other_activation("sigmoid", "relu"))
register("neuron", "sigmoid-for-relu", "applied sigmoid where the question asks for ReLU")(_other_activation("relu", "sigmoid"))
register("neuron", "relu-for-tanh", "applied ReLU where the question asks for tanh")(_other_activation("tanh", "relu"))


@register("neuron", "no-activation", "stopped at z and forgot the activation")
def _neuron_no_activation(case: Case) -> float | None:
    if case.value != "y" or case.trace.inputs.get("activation") == "identity":
        return None
    return float(case.trace.outputs["z"])


# --------------------------------------------------------------------------- layer norm


@register("layernorm", "unbiased-variance", "used the unbiased variance (÷ (d−1) instead of ÷ d)")
def _layernorm_unbiased(case: Case) -> float | None:
    if case.value not in ("var", "std", "normalized", "y"):
        return None
    try:
        var_unbiased = case.trace.step("variance").value("var_unbiased").data
        deviations = np.asarray(case.trace.step("deviations").value("deviations").data, dtype=np.float64)
    except KeyError:
        return None
    if var_unbiased is None:
        return None
    var_unbiased = float(var_unbiased)
    eps = float(case.trace.inputs.get("eps", 0.0))
    std = math.sqrt(var_unbiased + eps)
    if case.value == "var":
        return var_unbiased
    if case.value == "std":
        return std
    normalized = deviations[case.index] / std
    if case.value == "normalized":
        return float(normalized)
    gamma = np.asarray(case.trace.inputs["gamma"], dtype=np.float64)
    beta = np.asarray(case.trace.inputs["beta"], dtype=np.float64)
    return float(gamma[case.index] * normalized + beta[case.index])


# --------------------------------------------------------------------------- loss


def _loss_p_used(case: Case) -> float | None:
    if case.value != "loss" or case.trace.inputs.get("kind", "ce") != "ce":
        return None
    p = case.element(step="loss", value="p_used")
    return p if p is not None and p > 0 else None


@register("loss", "log10", "used log base 10 (cross-entropy uses the natural log, ln)")
def _loss_log10(case: Case) -> float | None:
    p = _loss_p_used(case)
    return -math.log10(p) if p is not None else None


@register("loss", "log2", "used log base 2 (cross-entropy uses the natural log, ln)")
def _loss_log2(case: Case) -> float | None:
    p = _loss_p_used(case)
    return -math.log2(p) if p is not None else None


# --------------------------------------------------------------------------- gradient descent


@register("gradient-descent", "wrong-sign", "stepped up the gradient (p + η·∇f instead of p − η·∇f)")
def _descent_wrong_sign(case: Case) -> float | None:
    """On f = Σ cᵢ·pᵢ², a step multiplies coordinate i by (1 − 2·cᵢ·η); the wrong sign by (1 + 2·cᵢ·η)."""
    if case.value != "path" or len(case.index) != 2:
        return None
    inputs = case.trace.inputs
    step, coordinate = case.index
    coefficients = [float(inputs["a"]), float(inputs.get("b", 0.0))]
    start = np.asarray(inputs["start"], dtype=np.float64)
    if coordinate >= start.size:
        return None
    factor = 1.0 + 2.0 * coefficients[coordinate] * float(inputs["lr"])
    return float(start[coordinate] * factor**step)
