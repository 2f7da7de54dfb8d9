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



# --------------------------------------------------------------------------- what differs, in words and pieces


MISSING = "—"
"""Stands for an output that only one of the two runs has."""


class Change(NamedTuple):
    """One value that differs between the two runs: a scalar, vector, matrix or other leaf.

    ``title`` names it as the lesson does (``weights``, ``grads · W1``, ``activations[1]``);
    ``rows``/``cols`` are its labels where the lesson gave some; ``mask`` marks the changed
    elements (same shape), or is True for the whole value.
    """

    title: str
    first: Any
    second: Any
    mask: Any
    rows: tuple[str, ...] | None = None
    cols: tuple[str, ...] | None = None
    second_rows: tuple[str, ...] | None = None
    second_cols: tuple[str, ...] | None = None


def _step_value(trace: Trace, data: Any, name: str = ""):
    """The step value that shows this very output (for its label and its row and column labels):
    the same array, else a number of the same name and value."""
    for step in trace.steps:
        for value in step.values:
            if value.data is data:
                return value
            if isinstance(data, np.ndarray) and isinstance(value.data, np.ndarray) and value.data.shape == data.shape \
                    and data.size and np.shares_memory(value.data, data):
                return value
    if name and np.ndim(data) == 0 and _number(data) is not None:
        for step in trace.steps:
            for value in step.values:
                if value.name == name and np.ndim(value.data) == 0 and _number(value.data) == _number(data):
                    return value
    return None


def _same(a: Any, b: Any) -> bool:
    mask = changed({"v": a}, {"v": b})["v"]
    return not np.any(mask)


def _labelled(trace: Trace | None, title: str, data: Any) -> tuple[str, Any, Any]:
    """The title, row labels and column labels the lesson's steps give this value (a vector's in ``cols``)."""
    value = _step_value(trace, data, title) if trace is not None else None
    if value is None:  # an output no step shows: its key, in words (grad_norms -> grad norms)
        return title.replace("_", " "), None, None
    cols = value.cols if value.cols is not None or np.ndim(data) != 1 else value.rows
    return value.display_name, value.rows, cols


def _leaves(title: str, a: Any, b: Any, traces: tuple[Trace | None, Trace | None] = (None, None)):
    """The leaves of two values that differ, recursing into mappings and lists of mappings or arrays;
    each leaf labelled as the lesson's steps label it (looked up in ``traces``)."""
    from nntutor.trace import classify

    kind_a, kind_b = classify(a), classify(b)
    if kind_a == kind_b == "mapping":
        for key in dict.fromkeys([*a, *b]):
            if key not in a or key not in b:
                yield Change(f"{title} · {key}", a.get(key, MISSING), b.get(key, MISSING), True)
            else:
                yield from _leaves(f"{title} · {key}", a[key], b[key], traces)
        return
    if kind_a == kind_b == "ragged" and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _leaves(f"{title}[{index}]", x, y, traces)
        return
    if _same(a, b):
        return
    name, rows, cols = _labelled(traces[0], title, a)
    _, rows2, cols2 = _labelled(traces[1], title, b)
    yield Change(name, a, b, changed({"v": a}, {"v": b})["v"], rows, cols, rows2, cols2)


def differences(comparison: Comparison) -> list[Change]:
    """Every leaf of the outputs that differs, in the order of the lesson's outputs.

    >>> first = Trace("softmax", "Softmax", outputs={"p": np.array([0.5, 0.5]), "n": 2})
    >>> second = Trace("softmax", "Softmax", outputs={"p": np.array([0.5, 0.7]), "n": 2})
    >>> [(c.title, c.mask) for c in differences(Comparison(first, second, "--t 5"))]
    [('p', [False, True])]
    """
    found: list[Change] = []
    first, second = comparison.first.outputs, comparison.second.outputs
    for name in dict.fromkeys([*first, *second]):
        if name not in first or name not in second:
            found.append(Change(name, first.get(name, MISSING), second.get(name, MISSING), True))
            continue
        found.extend(_leaves(name, first[name], second[name], (comparison.first, comparison.second)))
    return found


def unchanged(comparison: Comparison) -> list[str]:
    """The outputs equal in both runs, named as the steps name them (by their keys where two share a name)."""
    first, second = comparison.first.outputs, comparison.second.outputs
    names = [name for name in first if name in second and _same(first[name], second[name])]
    labels = [short(_labelled(comparison.first, name, first[name])[0]) for name in names]
    return [label if labels.count(label) == 1 else name.replace("_", " ") for name, label in zip(names, labels, strict=True)]


def short(label: str) -> str:
    """A label without its parenthesised note, for a sentence: ``attention weights A (each row sums to 1)``
    -> ``attention weights A``.

    >>> short("attention weights A (each row sums to 1)"), short("σ² (biased, ÷ d)"), short("(x)")
    ('attention weights A', 'σ²', '(x)')
    """
    head = label.split(" (", 1)[0].rstrip(",: ")
    return head or label


def _number(x: Any) -> float | None:
    try:
        value = float(np.asarray(x, dtype=np.float64).item())
    except (TypeError, ValueError):
        return None
    return value


def _moves(before: float, after: float, word: str = "") -> str:
    """``rises from 0.41 to 0.9`` / ``grows``: the verb follows the direction."""
    from nntutor.numfmt import fmt

    up, down = ("grows", "shrinks") if word else ("rises", "falls")
    verb = up if after > before else down
    return f"{verb} from {fmt(before, 4)} to {fmt(after, 4)}"


def _label_of(labels: tuple[str, ...] | None, index: int) -> str:
    return labels[index] if labels is not None and index < len(labels) else str(index)


def size_words(shape: tuple[int, ...]) -> str:
    """``()`` -> one number, ``(10,)`` -> 10 values, ``(3, 5)`` -> a 3×5 matrix.

    >>> size_words(()), size_words((10,)), size_words((3, 5))
    ('one number', '10 values', 'a 3×5 matrix')
    """
    if not shape:
        return "one number"
    if len(shape) == 1:
        return f"{shape[0]} value{'s' if shape[0] != 1 else ''}"
    return "a " + "×".join(map(str, shape)) + (" matrix" if len(shape) == 2 else " array")


def effect(change: Change) -> str:
    """One clause for one change, computed: ``loss falls from 0.41 to 0.12``,
    ``the largest of weights grows from 0.3107 to 0.3574``.

    >>> effect(Change("loss", 0.5, 0.25, True))
    'loss falls from 0.5 to 0.25'
    >>> effect(Change("probs", np.array([0.7, 0.3]), np.array([0.4, 0.6]), [True, True], cols=("a", "b")))
    'the largest of probs shrinks from 0.7 to 0.6 and moves from a to b'
    """
    from nntutor.numfmt import fmt
    from nntutor.trace import Table

    a, b = change.first, change.second
    title = short(change.title)
    if a is MISSING or b is MISSING:
        return f"{title} is only in the {'second' if a is MISSING else 'first'} run"
    if isinstance(a, str) and isinstance(b, str) and len(a) + len(b) <= 60:
        return f"{title} changes from {a!r} to {b!r}"
    if isinstance(a, Table) and isinstance(b, Table):
        if len(a.rows) != len(b.rows):
            return f"{title} goes from {len(a.rows)} rows to {len(b.rows)}"
        differ = sum(1 for r, t in zip(a.rows, b.rows, strict=True) if repr(r) != repr(t))
        return f"{differ} of the {len(a.rows)} rows of {title} change"
    x, y = _number(a), _number(b)
    if x is not None and y is not None and np.ndim(a) == 0 and np.ndim(b) == 0:
        return f"{title} {_moves(x, y)}" if x != y else f"{title} changes"
    try:
        first, second = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError):
        first = second = None
    if first is None and isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) != len(b):
        return f"{title} goes from {len(a)} entries to {len(b)}"
    if first is None or second is None or first.size == 0 or second.size == 0:
        return f"{title} changes"
    if first.shape != second.shape:
        return f"{title} goes from {size_words(first.shape)} to {size_words(second.shape)}"
    finite = np.isfinite(first) & np.isfinite(second)
    if not finite.any():
        return f"{title} changes"
    big_a, big_b = float(np.max(first[finite])), float(np.max(second[finite]))
    series = first.ndim == 1 and change.cols is not None and all(str(c).isdigit() for c in change.cols)
    if series and finite[-1] and first[-1] != second[-1]:  # per step or epoch: where it ends
        return f"the last of {title} ({_label_of(change.cols, first.size - 1)}) {_moves(float(first[-1]), float(second[-1]))}"
    if big_a != big_b:
        text = f"the largest of {title} {_moves(big_a, big_b, 'size')}"
        if first.ndim == 1:
            i, j = int(np.argmax(np.where(finite, first, -np.inf))), int(np.argmax(np.where(finite, second, -np.inf)))
            if i != j:
                text += f" and moves from {_label_of(change.cols, i)} to {_label_of(change.cols, j)}"
        return text
    if first.ndim == 1 and finite[-1] and first[-1] != second[-1]:  # a series: where it ends
        return f"the last of {title} ({_label_of(change.cols, first.size - 1)}) {_moves(float(first[-1]), float(second[-1]))}"
    gap = np.where(finite, np.abs(second - first), -1.0)
    where = np.unravel_index(int(np.argmax(gap)), first.shape)
    if first.ndim == 2:
        place = f"[{_label_of(change.rows, where[0])}, {_label_of(change.cols, where[1])}]"
    else:
        place = f"[{', '.join(_label_of(change.cols, int(i)) for i in where)}]"
    return f"{title}{place} changes most: {fmt(float(first[where]), 4)} → {fmt(float(second[where]), 4)}"


def headline(comparison: Comparison, most: int = 3) -> str:
    """The one sentence that opens ``--vs``: what changed and its effect, computed from both runs.

    >>> first = Trace("loss", "Loss", outputs={"loss": 0.5, "kind": "mse"})
    >>> second = Trace("loss", "Loss", outputs={"loss": 0.25, "kind": "mse"})
    >>> headline(Comparison(first, second, "--target 1"))
    '--target 1: loss falls from 0.5 to 0.25; kind is the same.'
    """
    changes = differences(comparison)
    same = unchanged(comparison)
    if not changes:
        return f"{comparison.vs}: no output changes."
    clauses = [effect(change) for change in changes[:most]]
    if len(changes) > most:
        clauses.append(f"{len(changes) - most} more value{'s' if len(changes) - most > 1 else ''} change")
    text = f"{comparison.vs}: " + "; ".join(clauses)
    if same:
        text += f"; {', '.join(same)} {'is' if len(same) == 1 else 'are'} the same"
    return text + "."
