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
- every quiz target of the module names a step and value of that run (and what it
  ``uses``, inputs or earlier step values, exists), every known mistake an existing
  value, and the quiz's ``keep``/``fixed``/``vary`` real inputs;
- across files: every ``requires`` and ``see_also`` entry names a lesson, and no
  requirements go round in a cycle (:func:`nntutor.catalog.course.reference_problems`);
  every glossary term's ``lessons`` names a lesson;
- every ``vs_examples`` entry (shown by the lesson's ``--help``) is flags that ``--vs`` accepts,
  that change an input, and that the lesson accepts. The ``--vs`` parser is the command line's
  (``parse_vs``, given by :mod:`nntutor.cli`, which this package may not import).

:func:`lesson_warnings` adds what is pointed out without failing (a right answer that is
by far the longest choice, a concept question without a hint).

>>> count, problems = check_lessons()
>>> count >= 20, problems
(True, [])
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from nntutor.catalog import lessonfile, registry
from nntutor.catalog.course import reference_problems
from nntutor.catalog.run import fit_problems, parse_args, prepare
from nntutor.errors import InputError, LessonFileError, NntutorError
from nntutor.walkthroughs._declare import Args

QUIZ_SEED = 0

#: ``--vs`` text -> the inputs it changes, ``{"no-scale": True}``; raises InputError (nntutor.cli.app.vs_overrides)
VsParser = Callable[[lessonfile.Lesson, str], dict[str, Any]]


def check_lessons(
    extra_dir: str | os.PathLike | None = None, *, parse_vs: VsParser | None = None
) -> tuple[int, list[LessonFileError]]:
    """Validate every lesson file in every folder, then its references into code, then the
    glossary (every term's ``lessons`` a lesson found here): (files, problems).

    ``parse_vs`` also checks each file's ``vs_examples`` (``nntutor check`` passes the CLI's parser).
    """
    from nntutor.catalog import glossary

    count, errors = lessonfile.check_all(extra_dir)
    broken = {error.path for error in errors}
    files = lessonfile.lesson_files(lessonfile.lesson_dirs(extra_dir))  # the lessons in force
    lessons = [lessonfile.read_lesson_file(path) for path in files.values() if str(path) not in broken]
    for lesson in lessons:
        errors.extend(cross_references(lesson, parse_vs=parse_vs))
    errors.extend(reference_problems(lessons, known=files))
    errors.extend(glossary.problems(files))
    return count, errors


def vs_example_problems(lesson: lessonfile.Lesson, parse_vs: VsParser) -> list[LessonFileError]:
    """Each of the lesson's ``vs_examples`` parsed as ``--vs``, compared with the defaults and checked by the lesson.

    ``vs_examples = ["--temperature 5"]`` in attention's file is refused (attention has no
    --temperature), and so is ``"--causal"`` where --causal is already on by default.
    """
    where = str(lesson.path)
    problems = []
    for number, example in enumerate(lesson.vs_examples, start=1):
        key = f"vs_examples[{number}]"
        try:
            changed = parse_vs(lesson, example)
            prepare(lesson, parse_args(lesson, changed))
        except InputError as exc:
            problems.append(LessonFileError(where, key, f"--vs {example!r} is refused: {exc}"))
            continue
        if all(_is_default(lesson.input(name), value) for name, value in changed.items()):
            problems.append(LessonFileError(where, key, f"--vs {example!r} changes nothing: those are the defaults"))
    return problems


def _is_default(spec: lessonfile.InputSpec, value: Any) -> bool:
    """Whether ``value``, as ``--vs`` gives it (flag text; True for a flag), is the input's default as typed."""
    if spec.kind == "flag":
        return bool(spec.default) == bool(value)
    return spec.default_text != "" and value == spec.default_text


def cross_references(lesson: lessonfile.Lesson, *, parse_vs: VsParser | None = None) -> list[LessonFileError]:
    """The problems between one (valid) lesson file and the code it names (with ``parse_vs``: its --vs examples)."""
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
            continue
        errors.extend(_uses_problems(module, lesson.name, trace, target))
    value_names = {name for _, name in produced}
    seen: set[str] = set()
    for mistake in walkthrough.mistakes:
        if mistake.id in seen:
            errors.append(LessonFileError(module, f"mistakes.{mistake.id}", "duplicate mistake id"))
        seen.add(mistake.id)
        for name in mistake.values:
            if name not in value_names:
                errors.append(LessonFileError(module, f"mistakes.{mistake.id}", f"{name!r} is no value of {lesson.name!r}"))
    if parse_vs is not None:
        errors.extend(vs_example_problems(lesson, parse_vs))
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


def _uses_problems(module: str, lesson: str, trace, target) -> list[LessonFileError]:
    """What is wrong with a target's ``uses``: each must be an input of the run or a value
    (``step.value``) of a step no later than the target's own, and never the asked value."""
    problems = []
    order = [step.id for step in trace.steps]
    where = f"targets.{target.key}.uses"
    for name in target.uses or ():
        if name in trace.inputs:
            continue
        step_id, _, value_name = name.partition(".")
        if name == target.key:
            problems.append(LessonFileError(module, where, f"{name!r} is the value asked (showing it gives the answer away)"))
        elif step_id not in order or value_name not in {v.name for v in trace.step(step_id).values}:
            problems.append(
                LessonFileError(module, where, f"{name!r} is neither an input nor a step value ('step.value') of a run of {lesson!r}")
            )
        elif order.index(step_id) > order.index(target.step):
            problems.append(LessonFileError(module, where, f"{name!r} comes from a later step than {target.step!r}"))
    return problems


def lesson_warnings(extra_dir: str | os.PathLike | None = None) -> list[LessonFileError]:
    """What ``nntutor check`` points out without failing: quiz items a learner could game or
    would find bare. Each names the file and the key.

    - a choice question whose right answer is by far its longest choice (at least
      :data:`LONGEST_RATIO` times as long as every other, and :data:`LONGEST_MARGIN`
      characters longer): a learner can pick it without reading;
    - a concept question without a ``hint``.
    """
    warnings: list[LessonFileError] = []
    for path in lessonfile.lesson_files(lessonfile.lesson_dirs(extra_dir)).values():
        try:
            lesson = lessonfile.read_lesson_file(path)
        except LessonFileError:
            continue  # reported as an error
        for item in lesson.quiz:
            key = f"quiz.{item.id}"
            if item.kind == "choice" and longest_by_far(item.choices, item.answer):
                warnings.append(
                    LessonFileError(str(path), f"{key}.choices", "the right answer is by far the longest choice (a learner can pick it without reading)")
                )
            if not item.hint:
                warnings.append(LessonFileError(str(path), f"{key}.hint", "missing: typing hint at this question gives nothing"))
    return warnings


LONGEST_RATIO = 1.5
LONGEST_MARGIN = 15


def longest_by_far(choices: tuple[str, ...], answer: int) -> bool:
    """True when choice number ``answer`` is by far the longest of ``choices``.

    >>> longest_by_far(("Because dividing keeps the softmax out of its flat regions", "To save time", "No reason"), 1)
    True
    >>> longest_by_far(("It shifts the output", "It scales the output", "It does nothing"), 1)
    False
    """
    right = len(choices[answer - 1])
    others = [len(c) for i, c in enumerate(choices, start=1) if i != answer]
    longest = max(others, default=0)
    return right >= LONGEST_RATIO * longest and right - longest >= LONGEST_MARGIN


def _module_file(builder: str) -> str:
    path = Path(__file__).resolve().parent.parent / "walkthroughs" / f"{builder.replace('-', '_')}.py"
    return str(path)


def _input_key(flag: str) -> str:
    return f"inputs.{flag[2:]}" if flag.startswith("--") else "inputs"
