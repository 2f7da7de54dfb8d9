"""Run a lesson: parse its inputs (flags over defaults), call its walkthrough.

>>> from nntutor.catalog.lessonfile import load_lesson
>>> trace = run_lesson(load_lesson("neuron"), {"b": "0"})
>>> round(trace.outputs["z"], 10)
-1.4
"""

from __future__ import annotations

from typing import Any

from nntutor.catalog.inputs import parse_input
from nntutor.catalog.lessonfile import Lesson, default_value, get_builder
from nntutor.errors import InputError
from nntutor.trace import Trace
from nntutor.walkthroughs.common import Context


def parse_args(lesson: Lesson, raw: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """Parsed values for every input (defaults where not given) and the names given.

    ``raw`` maps input names to flag strings (``None`` = not given; flags are bools).
    """
    unknown = set(raw) - {spec.name for spec in lesson.inputs}
    if unknown:
        name = sorted(unknown)[0]
        raise InputError(f"--{name}", f"is not an input of lesson {lesson.name!r}")
    args: dict[str, Any] = {}
    given: set[str] = set()
    for spec in lesson.inputs:
        value = raw.get(spec.name)
        if spec.kind == "flag":
            args[spec.name] = bool(value) if value is not None else bool(default_value(spec))
            if value:
                given.add(spec.name)
        elif value is None:
            args[spec.name] = default_value(spec)
        else:
            args[spec.name] = parse_input(spec, value)
            given.add(spec.name)
    return args, given


def run_lesson(lesson: Lesson, raw: dict[str, Any] | None = None, *, precision: int = 4) -> Trace:
    """The lesson's Trace for these flag values."""
    args, given = parse_args(lesson, raw or {})
    args["_given"] = frozenset(given)
    build = get_builder(lesson.builder)
    return build(Context(lesson=lesson, precision=precision), args)
