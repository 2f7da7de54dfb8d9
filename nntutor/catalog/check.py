"""``nntutor check``: every lesson file valid, and every reference from it into code real.

File-level rules (keys, types, names, defaults that parse) are in
:mod:`nntutor.catalog.lessonfile`. This module adds what only running the code can
show, each problem naming the file (or the lesson module) and the key:

- the ``builder`` is a lesson module; the file's inputs are the ones it declares, of
  the same kinds, with defaults and bounds inside its limits (a neuron file with
  ``builder = "attention"``, attention's ``x`` as ``kind = "text"``, or ``steps``
  defaulting to 10⁸ with its maximum removed fail here, before anything is built);
- the builder builds this file's inputs on their defaults;
- a labels default is accepted as if it were typed (``default = "I,love,my"`` for a
  four-row matrix is an error, not silently replaced by ``t0..t3``);
- every quiz target of the module names a step and value of that run, every known
  mistake an existing value, and the quiz's ``keep``/``fixed``/``vary`` real inputs.

>>> count, problems = check_lessons()
>>> count >= 20, problems
(True, [])
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from nntutor.catalog import lessonfile, registry
from nntutor.catalog.run import fit_problems, prepare
from nntutor.errors import InputError, LessonFileError, NntutorError
from nntutor.walkthroughs._declare import Args

QUIZ_SEED = 0


def check_lessons(extra_dir: str | os.PathLike | None = None) -> tuple[int, list[LessonFileError]]:
    """Validate every lesson file in every folder, then its references into code: (files, problems)."""
    count, errors = lessonfile.check_all(extra_dir)
    broken = {error.path for error in errors}
    for path in lessonfile.lesson_files(lessonfile.lesson_dirs(extra_dir)).values():
        if str(path) not in broken:
            errors.extend(cross_references(lessonfile.read_lesson_file(path)))
    return count, errors


def cross_references(lesson: lessonfile.Lesson) -> list[LessonFileError]:
    """The problems between one (valid) lesson file and the code it names."""
    where = str(lesson.path)
    reason = registry.problem(lesson.builder)
    if reason is not None:
        return [LessonFileError(where, "builder", reason)]
    walkthrough = registry.walkthrough(lesson.builder)
    misfits = fit_problems(lesson, walkthrough) + _looser_bounds(lesson, walkthrough)
    if misfits:
        return misfits  # nothing is built from inputs its builder does not read
    module = _module_file(lesson.builder)
    errors: list[LessonFileError] = []
    names = {spec.name for spec in lesson.inputs}
    for key, listed in (("keep", walkthrough.keep), ("fixed", tuple(walkthrough.fixed)), ("vary", walkthrough.vary)):
        for name in listed:
            if name not in names:
                errors.append(LessonFileError(module, key, f"{name!r} is not an input of {where}"))
    if errors:
        return errors

    defaults = lesson.defaults()
    values = dict(walkthrough.fixed)
    if walkthrough.extra is not None:
        values.update(walkthrough.extra(np.random.default_rng(QUIZ_SEED), {**defaults, **values}))
    try:
        trace = prepare(lesson, Args({**defaults, **values}, given=values)).build()
    except InputError as exc:
        return [LessonFileError(where, _input_key(exc.flag), f"the defaults are refused by {lesson.builder!r}: {exc}")]
    except NntutorError as exc:
        return [LessonFileError(where, "builder", f"{lesson.builder!r} fails on the defaults: {exc}")]
    except Exception as exc:  # noqa: BLE001 - a builder meant for other inputs fails in any way
        return [
            LessonFileError(
                where, "builder", f"{lesson.builder!r} cannot build this file's inputs ({type(exc).__name__}: {exc})"
            )
        ]

    for spec in lesson.inputs:
        if spec.kind == "labels" and spec.default is not None:
            try:
                prepare(lesson, Args(defaults, given={spec.name}))
            except InputError as exc:
                errors.append(LessonFileError(where, f"inputs.{spec.name}.default", exc.message))

    produced = {(step.id, value.name) for step in trace.steps for value in step.values}
    for target in walkthrough.targets:
        if (target.step, target.value) not in produced:
            errors.append(
                LessonFileError(module, "targets", f"{target.key!r} is no step value of a run of {lesson.name!r} on its defaults")
            )
    value_names = {name for _, name in produced}
    seen: set[str] = set()
    for mistake in walkthrough.mistakes:
        if mistake.id in seen:
            errors.append(LessonFileError(module, f"mistakes.{mistake.id}", "duplicate mistake id"))
        seen.add(mistake.id)
        for name in mistake.values:
            if name not in value_names:
                errors.append(LessonFileError(module, f"mistakes.{mistake.id}", f"{name!r} is no value of {lesson.name!r}"))
    return errors


def _looser_bounds(lesson: lessonfile.Lesson, walkthrough) -> list[LessonFileError]:
    """A bound in the file that promises more than the lesson module allows (it would not hold)."""
    errors = []
    for spec in lesson.inputs:
        declared = walkthrough.inputs.get(spec.name)
        if declared is None:
            continue
        for key in ("minimum", "above"):
            mine, theirs = getattr(spec, key), getattr(declared, key)
            if mine is not None and theirs is not None and mine < theirs:
                errors.append(LessonFileError(str(lesson.path), f"inputs.{spec.name}.{key}", f"is {mine:g}, below the {key} {theirs:g} its lesson module allows"))
        for key in ("maximum", "below"):
            mine, theirs = getattr(spec, key), getattr(declared, key)
            if mine is not None and theirs is not None and mine > theirs:
                errors.append(LessonFileError(str(lesson.path), f"inputs.{spec.name}.{key}", f"is {mine:g}, above the {key} {theirs:g} its lesson module allows"))
    return errors


def _module_file(builder: str) -> str:
    path = Path(__file__).resolve().parent.parent / "walkthroughs" / f"{builder.replace('-', '_')}.py"
    return str(path)


def _input_key(flag: str) -> str:
    return f"inputs.{flag[2:]}" if flag.startswith("--") else "inputs"
