"""Run a lesson: parse each flag (over the defaults), check them together, build the trace.

One path, forward only: flag text -> :class:`Args` (each flag parsed by its kind) ->
the walkthrough's ``check`` (rules between flags) -> typed inputs -> its ``build``
-> :class:`~nntutor.trace.Trace`. The quiz enters at the typed inputs.

>>> from nntutor.catalog.lessonfile import load_lesson
>>> trace = run_lesson(load_lesson("neuron"), {"b": "0"})
>>> round(trace.outputs["z"], 10)
-1.4
"""

from __future__ import annotations

from typing import Any, NamedTuple

from nntutor.catalog import registry
from nntutor.catalog.inputs import parse_input
from nntutor.catalog.lessonfile import Lesson, default_value
from nntutor.errors import InputError, LessonFileError
from nntutor.trace import Trace
from nntutor.walkthroughs._common import Context
from nntutor.walkthroughs._declare import Args, Walkthrough


def parse_args(lesson: Lesson, raw: dict[str, Any]) -> Args:
    """Every input parsed on its own (defaults where not given), and the names given.

    ``raw`` maps input names to flag strings (``None`` = not given; flags are bools).
    """
    unknown = set(raw) - {spec.name for spec in lesson.inputs}
    if unknown:
        name = sorted(unknown)[0]
        raise InputError(f"--{name}", f"is not an input of lesson {lesson.name!r}")
    values: dict[str, Any] = {}
    given: set[str] = set()
    for spec in lesson.inputs:
        value = raw.get(spec.name)
        if spec.kind == "flag":
            values[spec.name] = bool(value) if value is not None else bool(default_value(spec))
            if value:
                given.add(spec.name)
        elif value is None:
            values[spec.name] = default_value(spec)
        else:
            values[spec.name] = parse_input(spec, value)
            given.add(spec.name)
    return Args(values, given)


def walkthrough_of(lesson: Lesson) -> Walkthrough:
    """The lesson's walkthrough; a builder that is not one is an error naming the file and key."""
    reason = registry.problem(lesson.builder)
    if reason is not None:
        raise LessonFileError(str(lesson.path), "builder", reason)
    return registry.walkthrough(lesson.builder)


class Prepared(NamedTuple):
    """A lesson ready to build: its walkthrough, typed inputs and build context."""

    walkthrough: Walkthrough
    inputs: Any
    context: Context

    def build(self, inputs: Any = None) -> Trace:
        return self.walkthrough.build(self.context, self.inputs if inputs is None else inputs)


def prepare(lesson: Lesson, args: Args, *, precision: int = 4) -> Prepared:
    """Check parsed arguments into the lesson's typed inputs (input errors are raised here)."""
    walkthrough = walkthrough_of(lesson)
    return Prepared(walkthrough, walkthrough.check(args), Context(lesson=lesson, precision=precision))


def run_lesson(lesson: Lesson, raw: dict[str, Any] | None = None, *, precision: int = 4) -> Trace:
    """The lesson's Trace for these flag values."""
    return prepare(lesson, parse_args(lesson, raw or {}), precision=precision).build()
