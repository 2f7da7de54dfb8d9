"""Trace -> JSON with full-precision numbers.

Shape (the public contract read by scripts and autograders)::

    {"format": 1, "lesson": "softmax", "title": "...", "nntutor_version": "0.1.0",
     "inputs": {...}, "steps": [{"id", "title", "formula", "values", "worked", "why", "warnings"}],
     "outputs": {...}, "warnings": [...], "next": {...} or null}

``next`` is what comes after the lesson in the course (:func:`next_document`), never an output.

Numbers are written with Python's shortest round-trip repr (nothing rounded);
infinities and NaN, which JSON lacks, are written as the strings "inf", "-inf"
and "nan". A mixed table is ``{"columns": [...], "rows": [[...], ...]}``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from nntutor import __version__
from nntutor.trace import Deferred, LessonLink, Table, Trace, WhatNext, concrete

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
    return {
        "format": FORMAT,
        "lesson": trace.lesson,
        "title": trace.title,
        "nntutor_version": __version__,
        "inputs": plain(trace.inputs),
        "steps": [
            {
                "id": step.id,
                "title": step.title,
                "formula": step.formula,
                "values": {value.name: plain(value.data) for value in step.values},
                "worked": list(step.worked),
                "why": step.why,
                "warnings": list(step.warnings),
                "plots": [
                    {
                        "title": plot.title,
                        "xlabel": plot.xlabel,
                        "ylabel": plot.ylabel,
                        "kind": plot.kind,
                        "series": [{"name": s.name, "x": plain(np.asarray(s.x)), "y": plain(np.asarray(s.y))} for s in plot.series],
                    }
                    for plot in step.plots
                ],
            }
            for step in trace.steps
        ],
        "outputs": plain(trace.outputs),
        "warnings": list(trace.warnings),
        "next": next_document(trace.lesson, trace.what_next),
    }


def render_json(trace: Trace) -> str:
    return json.dumps(trace_document(trace), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def comparison_json(comparison) -> str:
    """A ``--vs`` comparison: ``{"vs": "--temperature 5", "runs": [first, second], "differences": {...}}``.

    Each run is a whole trace document; ``differences`` holds, per output, a
    mask of changed elements or one true/false (:attr:`Comparison.masks`).
    """
    document = {
        "vs": comparison.vs,
        "runs": [trace_document(comparison.first), trace_document(comparison.second)],
        "differences": comparison.masks,
    }
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
