"""Known mistakes, recomputed: how a wrong quiz answer is diagnosed.

A lesson module declares its mistakes next to its build (``Walkthrough(mistakes=…)``,
see :mod:`nntutor.walkthroughs._declare`). Each recomputes the value a learner would
get by making it, for the element the quiz asked about, from a :class:`Case`. When a
wrong answer matches that value (within the question's tolerance), the quiz names
the mistake::

    def _unbiased(case):
        ...  # return the value with that mistake, or None when it does not apply

    Mistake("unbiased-variance", "used the unbiased variance (÷ (n−1) instead of ÷ n)",
            _unbiased, values=("var", "std"))

Example: attention weights without ÷√d_k. For X = [[1, 0], [0, 1]] (identity
projections) the scores are [[1, 0], [0, 1]]; scaled by √2 the weight A[0,0] is
e^0.7071 / (e^0.7071 + 1) = 0.6698, while the unscaled one is
e^1 / (e^1 + 1) = 0.7311: an answer of 0.731 is diagnosed as "no ÷√d_k".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nntutor.trace import Table, Trace, concrete


@dataclass(frozen=True)
class Case:
    """The question a mistake is recomputed for: one element of one step value of a run.

    ``prepared`` is the run (:class:`nntutor.catalog.run.Prepared`: the walkthrough, the
    typed inputs, the build context); ``trace`` what it built.
    """

    prepared: Any
    trace: Trace
    step: str
    value: str
    index: tuple[int, ...]  # () for a scalar
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def inputs(self) -> Any:
        """The run's typed inputs (the walkthrough's NamedTuple)."""
        return self.prepared.inputs

    @property
    def ctx(self) -> Any:
        """The build context (:class:`nntutor.walkthroughs._common.Context`): ``ctx.n(x)`` formats a number."""
        return self.prepared.context

    def data(self, step: str, value: str) -> Any:
        """The data of one step value of this run (every row of a deferred matrix)."""
        return concrete(self.trace.step(step).value(value).data)

    def element(self, trace: Trace | None = None, step: str | None = None, value: str | None = None) -> float | None:
        """The asked element in ``trace`` (default: this run), or in another step/value of it."""
        trace = trace if trace is not None else self.trace
        try:
            data = trace.step(step or self.step).value(value or self.value).data
        except KeyError:
            return None
        return element_of(data, self.index)

    def rerun(self, **changes: Any) -> Trace:
        """The lesson built again on the same typed inputs with some changed (``scale=False``)."""
        key = repr(sorted(changes.items()))
        if key not in self._cache:
            self._cache[key] = self.prepared.build(self.inputs._replace(**changes))
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


def alternatives(mistakes: Sequence[Any], case: Case) -> list[tuple[Any, float]]:
    """Every mistake that applies to the asked value here, with the (finite) value it gives."""
    found = []
    for mistake in mistakes:
        if mistake.values and case.value not in mistake.values:
            continue
        try:
            value = mistake.compute(case)
        except (ArithmeticError, ValueError, KeyError, IndexError):
            value = None
        if value is not None and math.isfinite(value):
            found.append((mistake, float(value)))
    return found
