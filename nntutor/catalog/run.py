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

from collections.abc import Callable
from typing import Any, NamedTuple

from nntutor.catalog import registry
from nntutor.catalog.inputs import check_range, parse_input
from nntutor.catalog.lessonfile import InputSpec, Lesson, default_value
from nntutor.errors import InputError, LessonFileError
from nntutor.trace import Trace
from nntutor.walkthroughs._common import Context
from nntutor.walkthroughs._declare import Args, Input, Walkthrough

NUMERIC_KINDS = ("scalar", "integer", "vector", "matrix", "array")


def parse_args(lesson: Lesson, raw: dict[str, Any]) -> Args:
    """Every input parsed on its own (defaults where not given), and the names given.

    ``raw`` maps input names to flag strings (``None`` = not given; flags are bools).
    Each value is held to the bounds of the lesson file and to the limits its lesson
    module declares (:class:`~nntutor.walkthroughs._declare.Input`), which no file lifts.
    """
    unknown = set(raw) - {spec.name for spec in lesson.inputs}
    if unknown:
        name = sorted(unknown)[0]
        raise InputError(f"--{name}", f"is not an input of lesson {lesson.name!r}")
    declared = walkthrough_of(lesson).inputs
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
            if spec.name in declared:
                within_limits(spec.flag, values[spec.name], declared[spec.name])
            given.add(spec.name)
    return Args(values, given)


def within_limits(flag: str, value: Any, declared: Input) -> None:
    """Refuse ``value`` (a number, or each entry of an array) outside the limits a lesson module declares."""
    bounds = declared.bounds()
    if declared.kind not in NUMERIC_KINDS or all(bound is None for bound in bounds.values()):
        return
    import numpy as np

    if isinstance(value, np.ndarray):
        if value.size:
            for item in (float(value.min()), float(value.max())):
                check_range(flag, item, **bounds)
    elif value is not None:
        check_range(flag, value, **bounds)


def fit_problems(lesson: Lesson, walkthrough: Walkthrough) -> list[LessonFileError]:
    """Where the lesson file's inputs do not fit what its lesson module reads (empty: they fit).

    The names must be those the module declares, each of the declared kind, and each
    default within the declared limits (``nntutor check`` and every run ask this first,
    so a mismatched file is an error naming the file and key, never a crash or a
    run without end).
    """
    declared = walkthrough.inputs
    if not declared:
        return []
    where = str(lesson.path)
    builder = lesson.builder
    problems: list[LessonFileError] = []
    in_file = {spec.name: spec for spec in lesson.inputs}
    missing = [f"--{name}" for name in declared if name not in in_file]
    unknown = [f"--{name}" for name in in_file if name not in declared]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"lack {_listed(missing)}, which builder {builder!r} reads")
        if unknown:
            parts.append(f"have {_listed(unknown)}, which {'it' if missing else f'builder {builder!r}'} does not know")
        problems.append(LessonFileError(where, "inputs", ", and ".join(parts) + " (is it the builder of another lesson?)"))
    for name, spec in in_file.items():
        if name not in declared:
            continue
        if spec.kind != declared[name].kind:
            problems.append(
                LessonFileError(where, f"inputs.{name}.kind", f"is {spec.kind!r} but builder {builder!r} reads a {declared[name].kind}")
            )
        else:
            unknown = [choice for choice in spec.choices if declared[name].choices and choice not in declared[name].choices]
            if unknown:
                problems.append(
                    LessonFileError(
                        where, f"inputs.{name}.choices",
                        f"{unknown[0]!r} is not a choice builder {builder!r} knows ({', '.join(declared[name].choices)})",
                    )
                )
            problems.extend(_default_problems(where, spec, declared[name]))
    return problems


def _listed(flags: list[str], most: int = 4) -> str:
    """``--a, --b, --c`` (and "and N more" past ``most``)."""
    shown = ", ".join(flags[:most])
    return shown + (f" and {len(flags) - most} more" if len(flags) > most else "")


def _default_problems(where: str, spec: InputSpec, declared: Input) -> list[LessonFileError]:
    if spec.default is None or declared.kind not in NUMERIC_KINDS:
        return []
    try:
        within_limits(spec.flag, default_value(spec), declared)
    except InputError as exc:
        return [LessonFileError(where, f"inputs.{spec.name}.default", f"{exc.message} (the limit of its lesson module)")]
    return []


def walkthrough_of(lesson: Lesson) -> Walkthrough:
    """The lesson's walkthrough; a builder that is not one, or whose inputs the file does not
    fit (:func:`fit_problems`), is an error naming the file and key."""
    reason = registry.problem(lesson.builder)
    if reason is not None:
        raise LessonFileError(str(lesson.path), "builder", reason)
    walkthrough = registry.walkthrough(lesson.builder)
    problems = fit_problems(lesson, walkthrough)
    if problems:
        raise problems[0]
    return walkthrough


class Prepared(NamedTuple):
    """A lesson ready to build: its walkthrough, typed inputs and build context."""

    walkthrough: Walkthrough
    inputs: Any
    context: Context

    def build(self, inputs: Any = None) -> Trace:
        return self.walkthrough.build(self.context, self.inputs if inputs is None else inputs)


def prepare(lesson: Lesson, args: Args, *, precision: int = 4, full: bool = False) -> Prepared:
    """Check parsed arguments into the lesson's typed inputs (input errors are raised here).

    ``full`` (``--full``): the lesson shows every repeated step in full instead of a summary.
    """
    walkthrough = walkthrough_of(lesson)
    return Prepared(walkthrough, walkthrough.check(args), Context(lesson=lesson, precision=precision, full=full))


def run_lesson(lesson: Lesson, raw: dict[str, Any] | None = None, *, precision: int = 4, full: bool = False,
               notice: Callable[[str], None] | None = None) -> Trace:
    """The lesson's Trace for these flag values.

    ``notice``, when given, receives the walkthrough's notice for the checked inputs
    (e.g. what loading a model will cost) before the build starts; the caller shows it.
    """
    prepared = prepare(lesson, parse_args(lesson, raw or {}), precision=precision, full=full)
    if notice is not None and prepared.walkthrough.notice is not None:
        text = prepared.walkthrough.notice(prepared.inputs)
        if text:
            notice(text)
    return prepared.build()
