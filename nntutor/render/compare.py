"""Which outputs of two runs of a lesson differ, element by element (``--vs``).

>>> import numpy as np
>>> changed({"p": np.array([0.5, 0.5])}, {"p": np.array([0.5, 0.7])})
{'p': [False, True]}
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from nntutor.trace import Trace


class Comparison(NamedTuple):
    """Two runs of one lesson, the second with the ``vs`` flags changed (``--vs "--temperature 5"``).

    >>> first = Trace("softmax", "Softmax", outputs={"p": np.array([0.5, 0.5])})
    >>> second = Trace("softmax", "Softmax", outputs={"p": np.array([0.5, 0.7])})
    >>> comparison = Comparison(first, second, "--temperature 5")
    >>> comparison.labels, comparison.masks
    (('as given', 'with --temperature 5'), {'p': [False, True]})
    """

    first: Trace
    second: Trace
    vs: str

    @property
    def labels(self) -> tuple[str, str]:
        return ("as given", f"with {self.vs}")

    @property
    def masks(self) -> dict[str, Any]:
        """:func:`changed` for the two runs' outputs."""
        return changed(self.first.outputs, self.second.outputs)


def _as_array(value: Any) -> np.ndarray | None:
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        return None
    if array.dtype == object:
        return None
    return array


def changed(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """For each output name: a mask of changed elements (same shape), or True/False for the whole value.

    Equality is exact: any difference in a float64 value counts.
    """
    result: dict[str, Any] = {}
    for name in dict.fromkeys([*first, *second]):
        if name not in first or name not in second:
            result[name] = True
            continue
        a, b = _as_array(first[name]), _as_array(second[name])
        if a is None or b is None or a.shape != b.shape or a.dtype.kind != b.dtype.kind:
            result[name] = bool(repr(first[name]) != repr(second[name]))
            continue
        mask = a != b
        if a.dtype.kind == "f":
            mask &= ~(np.isnan(a) & np.isnan(b))
        result[name] = bool(mask) if mask.ndim == 0 else mask.tolist()
    return result

