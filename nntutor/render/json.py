"""Trace -> JSON with full-precision numbers.

Shape (the public contract read by scripts and autograders)::

    {"format": 1, "lesson": "softmax", "title": "...", "nntutor_version": "0.1.0",
     "inputs": {...}, "steps": [{"id", "title", "formula", "values", "worked", "why", "warnings"}],
     "outputs": {...}, "warnings": [...], "next": {...} or null}

``next`` is what comes after the lesson in the course (:func:`next_document`), never an output.

Numbers are written with Python's shortest round-trip repr (nothing rounded);
infinities and NaN, which JSON lacks, are written as the strings "inf", "-inf"
and "nan". A mixed table is ``{"columns": [...], "rows": [[...], ...]}``.

The document is written as a stream (:func:`write_document`): objects indented
two spaces, a list of plain values (a vector, a row of a matrix) on one line,
one row at a time, so a million-number matrix is never held as Python floats
or as one string. ``ascii_only`` writes every other character as a ``\\u`` escape
(for a terminal whose encoding is not UTF-8).

>>> import io
>>> out = io.StringIO()
>>> write_document({"m": np.array([[1.0, np.inf], [0.5, 2.0]]), "name": "σ"}, out)
>>> print(out.getvalue(), end="")
{
  "m": [
    [1.0, "inf"],
    [0.5, 2.0]
  ],
  "name": "σ"
}
"""

from __future__ import annotations

import io
import json
import math
from typing import IO, Any

import numpy as np

from nntutor import __version__
from nntutor.trace import Deferred, LessonLink, Network, Plot, Table, Trace, WhatNext, concrete

FORMAT = 1


def plain(value: Any) -> Any:
    """NumPy and trace data -> JSON-ready Python data (no rounding).

    >>> plain(np.array([1.5, -np.inf]))
    [1.5, '-inf']
    """
    if isinstance(value, np.ndarray):
        if value.dtype == bool:
            return value.tolist()
        if np.issubdtype(value.dtype, np.integer):
            return value.tolist()
        return plain(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        x = float(value)
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    if isinstance(value, Deferred):
        return plain(concrete(value))
    if isinstance(value, Table):
        return {"columns": list(value.columns), "rows": [plain(list(row)) for row in value.rows]}
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _link(link: LessonLink) -> dict[str, Any]:
    return {"number": link.number, "name": link.name, "title": link.title, "command": f"nntutor lesson {link.name}"}


def next_document(lesson: str, what_next: WhatNext | None) -> dict[str, Any] | None:
    """What comes after ``lesson``: its place in the course, the quiz, the next lesson (null after the last), see-also lessons.

    >>> next_document("neuron", WhatNext(1, 23, LessonLink(2, "activations", "Activation functions")))["lesson"]["command"]
    'nntutor lesson activations'
    """
    if what_next is None:
        return None
    following = what_next.next_lesson
    return {
        "number": what_next.number,
        "total": what_next.total,
        "quiz": f"nntutor quiz {lesson}",
        "lesson": None if following is None else _link(following),
        "see_also": [_link(link) for link in what_next.see_also],
    }


def trace_document(trace: Trace) -> dict[str, Any]:
    """The document's structure, its values still arrays (:func:`write_document` writes them; ``plain`` converts)."""
    return {
        "format": FORMAT,
        "lesson": trace.lesson,
        "title": trace.title,
        "nntutor_version": __version__,
        "inputs": trace.inputs,
        "steps": [
            {
                "id": step.id,
                "title": step.title,
                "formula": step.formula,
                "values": {value.name: value.data for value in step.values},
                "worked": list(step.worked),
                "why": step.why,
                "warnings": list(step.warnings),
                "plots": [
                    {
                        "title": plot.title,
                        "xlabel": plot.xlabel,
                        "ylabel": plot.ylabel,
                        "kind": plot.kind,
                        "frame": list(plot.frame) if plot.frame is not None else None,
                        "series": [
                            {"name": s.name, "x": np.asarray(s.x), "y": np.asarray(s.y), "style": s.style or plot.kind}
                            for s in plot.series
                        ],
                    }
                    if isinstance(plot, Plot) else network_document(plot)
                    for plot in step.plots
                ],
            }
            for step in trace.steps
        ],
        "outputs": trace.outputs,
        "warnings": list(trace.warnings),
        "next": next_document(trace.lesson, trace.what_next),
    }


def network_document(net: Network) -> dict[str, Any]:
    """A network diagram's numbers: the nodes of each layer with their values, the weights and biases."""
    return {
        "title": net.title,
        "kind": "network",
        "layers": [list(names) for names in net.layers],
        "values": [np.asarray(v, dtype=np.float64) for v in net.values],
        "weights": [np.asarray(w, dtype=np.float64) for w in net.weights],
        "biases": [np.asarray(b, dtype=np.float64) for b in net.biases],
        "notes": list(net.notes),
    }


def render_json(trace: Trace) -> str:
    out = io.StringIO()
    write_json(trace, out)
    return out.getvalue()


def write_json(trace: Trace, out: IO[str], *, ascii_only: bool = False) -> None:
    """The trace's document, streamed to ``out`` (:func:`write_document`)."""
    write_document(trace_document(trace), out, ascii_only=ascii_only)


def comparison_document(comparison) -> dict[str, Any]:
    """A ``--vs`` comparison: ``{"vs": "--temperature 5", "runs": [first, second], "differences": {...}}``.

    Each run is a whole trace document; ``differences`` holds, per output, a
    mask of changed elements or one true/false (:attr:`Comparison.masks`).
    """
    return {
        "vs": comparison.vs,
        "runs": [trace_document(comparison.first), trace_document(comparison.second)],
        "differences": comparison.masks,
    }


def comparison_json(comparison) -> str:
    out = io.StringIO()
    write_document(comparison_document(comparison), out)
    return out.getvalue()


# --------------------------------------------------------------------------- streaming


def write_document(document: Any, out: IO[str], *, ascii_only: bool = False) -> None:
    """``document`` as JSON on ``out``, ending with a newline, one row of numbers at a time."""
    _write(document, out, 0, ascii_only)
    out.write("\n")


def _is_leaf(value: Any) -> bool:
    return value is None or isinstance(value, (str, bool, int, float, np.generic))


def _write(value: Any, out: IO[str], level: int, ascii_only: bool) -> None:
    if isinstance(value, Deferred):
        value = concrete(value)  # computed here, one matrix at a time
    if isinstance(value, Table):
        value = plain(value)
    if isinstance(value, np.ndarray) and value.dtype != object:
        _write_array(value, out, level, ascii_only)
        return
    if isinstance(value, dict):
        if not value:
            out.write("{}")
            return
        pad = "  " * (level + 1)
        out.write("{")
        for index, (key, item) in enumerate(value.items()):
            out.write(("," if index else "") + "\n" + pad + json.dumps(str(key), ensure_ascii=ascii_only) + ": ")
            _write(item, out, level + 1, ascii_only)
        out.write("\n" + "  " * level + "}")
        return
    if isinstance(value, (list, tuple)):
        if all(_is_leaf(item) for item in value):
            out.write(json.dumps(plain(list(value)), ensure_ascii=ascii_only, allow_nan=False))
            return
        pad = "  " * (level + 1)
        out.write("[")
        for index, item in enumerate(value):
            out.write(("," if index else "") + "\n" + pad)
            _write(item, out, level + 1, ascii_only)
        out.write("\n" + "  " * level + "]")
        return
    out.write(json.dumps(plain(value), ensure_ascii=ascii_only, allow_nan=False))


def _write_array(array: np.ndarray, out: IO[str], level: int, ascii_only: bool) -> None:
    if array.ndim == 0:
        out.write(json.dumps(plain(array.item()), allow_nan=False))
        return
    if array.ndim == 1:
        out.write(_row_text(array))
        return
    if array.shape[0] == 0:
        out.write("[]")
        return
    pad = "  " * (level + 1)
    out.write("[")
    for index in range(array.shape[0]):
        out.write(("," if index else "") + "\n" + pad)
        _write_array(array[index], out, level + 1, ascii_only)
    out.write("\n" + "  " * level + "]")


def _row_text(row: np.ndarray) -> str:
    """One vector as a JSON list: floats in shortest round-trip form, non-finite ones as strings.

    >>> _row_text(np.array([0.1, -np.inf, np.nan])), _row_text(np.array([1, 2])), _row_text(np.array([True]))
    ('[0.1, "-inf", "nan"]', '[1, 2]', '[true]')
    """
    if row.dtype == bool:
        return "[" + ", ".join("true" if item else "false" for item in row.tolist()) + "]"
    if np.issubdtype(row.dtype, np.integer):
        return "[" + ", ".join(map(str, row.tolist())) + "]"
    items = row.astype(np.float64, copy=False).tolist()
    if np.isfinite(row).all():
        return "[" + ", ".join(map(repr, items)) + "]"
    return "[" + ", ".join(repr(x) if math.isfinite(x) else f'"{plain(x)}"' for x in items) + "]"
