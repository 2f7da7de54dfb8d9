"""Quiz questions from lesson traces, and the rules of answering them. No I/O.

Two kinds of question:

- *numeric*: the lesson is run on fresh small random inputs (its numeric
  defaults perturbed by a seeded generator, shapes kept) and one element of one
  step's value is asked for, e.g. "attention · Softmax along each row: compute
  weights[2,0]". This is generic: a lesson added later gets numeric questions
  without quiz code. A lesson module's ``WALKTHROUGH`` may narrow which values
  are asked about (``targets``) and which inputs are perturbed.
- *conceptual*: the ``[[quiz]]`` items of the lesson file (``choice``: answer
  with the number of the choice; ``number``: a numeric answer).

Numeric answers are right within 1% relative or 0.005 absolute (integers
exactly). A wrong answer is compared with the values the lesson's known mistakes
give (:mod:`nntutor.quiz.mistakes`) and the matching one is named. Answering is
in :mod:`nntutor.quiz.session`, the score in :mod:`nntutor.quiz.summary`.

>>> from nntutor.catalog.lessonfile import load_lesson
>>> questions = make_quiz([load_lesson("softmax")], count=2, seed=3)
>>> [q.lesson for q in questions]
['softmax', 'softmax']
"""

from __future__ import annotations

import math
import re
import secrets
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nntutor.catalog.lessonfile import Lesson, QuizItem, default_value
from nntutor.errors import NntutorError
from nntutor.numfmt import fmt
from nntutor.quiz import mistakes as mistake_tools
from nntutor.quiz.answers import verdict
from nntutor.trace import Step, Table, Trace, Value, classify, concrete
from nntutor.walkthroughs._declare import Target, Walkthrough

DEFAULT_REL = 0.01
DEFAULT_ABS = 0.005
MAX_COUNT = 100
NUMERIC_INPUT_KINDS = ("scalar", "vector", "matrix", "array")
NUMERIC_WEIGHT = 2.0  # numeric questions are asked about twice as often as conceptual ones
CONCEPT_WEIGHT = 1.0
COMMANDS = ("hint", "show", "skip", "quit")
SMALL_SCALAR = 0.1  # scalars with a default below this (ε, learning rates) are not perturbed


# --------------------------------------------------------------------------- what a lesson declares


def declared(lesson: Lesson) -> Walkthrough:
    """The lesson's walkthrough declaration: its targets, mistakes and quiz inputs."""
    from nntutor.catalog.run import walkthrough_of

    return walkthrough_of(lesson)


# --------------------------------------------------------------------------- random inputs


def flag_text(value: Any) -> str:
    """A value written as a flag, for the command that repeats a quiz run: ``0.5``, ``1,2``, ``1,0;0,1``."""
    if isinstance(value, str):
        return value
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return _number_text(float(array))
    if array.ndim == 1:
        return ",".join(_number_text(x) for x in array)
    return ";".join(",".join(_number_text(x) for x in row) for row in array)


def _number_text(x: float) -> str:
    x = round(float(x), 2) + 0.0  # + 0.0 turns -0.0 into 0.0
    return str(int(x)) if x.is_integer() else repr(x)


def _clip(spec, array: np.ndarray) -> np.ndarray:
    low = -math.inf
    high = math.inf
    if spec.minimum is not None:
        low = max(low, float(spec.minimum))
    if spec.above is not None:
        low = max(low, float(spec.above) + 0.01)
    if spec.maximum is not None:
        high = min(high, float(spec.maximum))
    if spec.below is not None:
        high = min(high, float(spec.below) - 0.01)
    return np.clip(array, low, high) if low <= high else array


def random_inputs(lesson: Lesson, rng: np.random.Generator) -> dict[str, Any]:
    """Typed input values for a quiz run: every numeric default perturbed (shape kept, 2 decimals).

    A vector or matrix entry moves by up to ± max(0.5, spread of the default's
    entries); a scalar by up to ± half its value (scalars below 0.1, such as ε
    or a learning rate, stay as they are). Inputs without a default, and those
    the lesson keeps (``Walkthrough.keep``), stay at their defaults.
    """
    plan = declared(lesson)
    values: dict[str, Any] = {}
    for spec in lesson.inputs:
        if spec.name in plan.fixed:
            values[spec.name] = plan.fixed[spec.name]
        elif spec.name in plan.keep:
            continue
        elif spec.kind in NUMERIC_INPUT_KINDS and spec.default is not None:
            base = np.asarray(default_value(spec), dtype=np.float64)
            if base.size == 1 and spec.kind == "scalar":
                if abs(float(base)) < SMALL_SCALAR:
                    continue  # a small setting (a learning rate, an ε): kept at its default
                spread = 0.5 * abs(float(base))
            else:
                spread = max(0.5, float(np.std(base)))
            moved = np.round(base + rng.uniform(-spread, spread, size=base.shape), 2)
            moved = _clip(spec, moved) + 0.0  # + 0.0 turns -0.0 into 0.0
            values[spec.name] = float(moved) if spec.kind == "scalar" else moved
        elif spec.kind == "choice" and spec.name in plan.vary:
            values[spec.name] = str(rng.choice(list(spec.choices)))
    if plan.extra is not None:
        values.update(plan.extra(rng, {**lesson.defaults(), **values}))
    return values


# --------------------------------------------------------------------------- questions


@dataclass(frozen=True)
class Question:
    """One quiz question, with everything needed to judge, hint, reveal and diagnose it."""

    item: str  # stable key for spaced review: "attention:softmax.weights", "softmax:quiz.uniform"
    lesson: str
    kind: str  # "numeric", "choice" or "number"
    step_kind: str  # what kind of step it practises: "attention.softmax", "softmax.concept"
    step_title: str
    prompt: str
    expected: float
    integer: bool = False
    rel: float = DEFAULT_REL
    abs_: float = DEFAULT_ABS
    tolerance: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)  # every input of the run (to repeat it)
    given: tuple[Value, ...] = ()  # what the question shows: the values the asked element is computed from
    command: str = ""
    choices: tuple[str, ...] = ()  # in the order shown (shuffled)
    order: tuple[int, ...] = ()  # for each choice shown, its number in the lesson file
    hints: tuple[str, ...] = ()
    reveal: tuple[str, ...] = ()
    explained: tuple[str, ...] = ()  # the arithmetic for the asked element itself (when the lesson gives it)
    explanation: str = ""
    step: Step | None = None
    step_number: int = 0
    index: tuple[int, ...] = ()  # the element asked, as an index into the step value's data
    mistakes: tuple[tuple[str, str, float], ...] = ()  # (id, name, value)

    def judge(self, given: float) -> bool:
        return verdict(self.expected, given, rel=self.rel, abs_=self.abs_, integer=self.integer)

    def diagnose(self, given: float) -> tuple[str, str] | None:
        """(id, name) of the known mistake that gives ``given``, if any (only for wrong answers)."""
        if self.judge(given):
            return None
        for mistake_id, name, value in self.mistakes:
            if verdict(value, given, rel=self.rel, abs_=self.abs_, integer=self.integer):
                return mistake_id, name
        return None

    def file_number(self, shown: float | None) -> int | None:
        """The lesson file's number for the choice shown as ``shown`` (the shuffle undone).

        The progress store keeps these, so an answer means the same whatever order it was shown in.
        """
        if self.kind != "choice" or shown is None or not float(shown).is_integer() or not 1 <= shown <= len(self.order):
            return None
        return self.order[int(shown) - 1]

    @property
    def expected_text(self) -> str:
        if self.kind == "choice":
            number = int(self.expected)
            return f"{number}. {self.choices[number - 1]}"
        if self.integer:
            return str(int(self.expected))
        return fmt(self.expected, 6)


def tolerance_text(rel: float, abs_: float, integer: bool) -> str:
    if integer:
        return "Exact answer (a whole number)."
    if rel == 0 and abs_ == 0:
        return "Exact answer."
    parts = []
    if rel:
        parts.append(f"{fmt(rel * 100, 4)}% relative")
    if abs_:
        parts.append(f"{fmt(abs_, 6)} absolute")
    return "Answer within " + " or ".join(parts) + "."


def _numeric_cells(data: Any) -> list[tuple[int, ...]]:
    """Indices of the finite numeric elements of a value's data (``[()]`` for a scalar).

    >>> _numeric_cells(np.array([1.0, np.inf, 2.0])), _numeric_cells("text"), _numeric_cells(2.5)
    ([(0,), (2,)], [], [()])
    """
    kind = classify(data)
    if kind == "table":
        return _table_cells(data)
    if kind == "scalar":
        array = np.asarray(data)
        return [()] if array.dtype.kind in "fiu" and math.isfinite(float(array)) else []
    if kind not in ("vector", "matrix"):
        return []
    array = np.asarray(data)
    if array.dtype.kind not in "fiu" or array.size == 0:
        return []
    return [tuple(int(k) for k in index) for index in zip(*np.nonzero(np.isfinite(array)), strict=True)]


def _table_cells(table: Table) -> list[tuple[int, int]]:
    """The numeric cells of a mixed table, leaving out a column that only numbers the rows."""

    def numeric(cell: Any) -> bool:
        return isinstance(cell, (int, float, np.integer, np.floating)) and not isinstance(cell, (bool, np.bool_))

    def counter(j: int) -> bool:  # 0, 1, 2 … or 1, 2, 3 …
        column = [row[j] if j < len(row) else None for row in table.rows]
        return all(isinstance(c, (int, np.integer)) for c in column) and (
            column == list(range(len(column))) or column == list(range(1, len(column) + 1))
        )

    width = max((len(row) for row in table.rows), default=0)
    skip = {j for j in range(width) if counter(j)}
    return [
        (i, j)
        for i, row in enumerate(table.rows)
        for j, cell in enumerate(row)
        if j not in skip and numeric(cell) and math.isfinite(float(cell))
    ]


def _is_integer_data(data: Any, index: tuple[int, ...]) -> bool:
    if isinstance(data, Table):
        cell = data.rows[index[0]][index[1]]
        return isinstance(cell, (int, np.integer))
    if isinstance(data, (int, np.integer)):
        return True
    return isinstance(data, np.ndarray) and data.dtype.kind in "iu"


def _targets(lesson: Lesson, trace: Trace) -> list[Target]:
    """The values numeric questions ask about, for this run."""
    declared_targets = declared(lesson).targets
    if declared_targets:
        found = []
        for target in declared_targets:
            try:
                trace.step(target.step).value(target.value)
            except KeyError:
                continue
            found.append(target)
        return found
    input_names = {_plain_name(name) for name in trace.inputs}
    input_arrays = list(_arrays(trace.inputs))
    found = []
    for step in trace.steps:
        for value in step.values:
            if _plain_name(value.name) in input_names or not _worth_asking(concrete(value.data), input_arrays):
                continue
            found.append(Target(step.id, value.name))
    return found


def _plain_name(name: str) -> str:
    return name.replace("-", "").replace("_", "").lower()


def _arrays(data: Any):
    """Every numeric array inside the inputs (lists and dicts searched too)."""
    if isinstance(data, np.ndarray):
        yield data
    elif isinstance(data, dict):
        for item in data.values():
            yield from _arrays(item)
    elif isinstance(data, (list, tuple)):
        for item in data:
            yield from _arrays(item)


def _worth_asking(data: Any, input_arrays: list[np.ndarray]) -> bool:
    """A computed value: numeric, not an input shown back, not only 0/1 (lookups, masks), not all ≈ 0 (checks)."""
    cells = _numeric_cells(data)
    if not cells:
        return False
    if isinstance(data, Table):
        return True
    array = np.asarray(data, dtype=np.float64)
    if any(other.shape == array.shape and np.array_equal(other, array) for other in input_arrays):
        return False
    finite = array[np.isfinite(array)]
    if np.all(np.isin(finite, (0.0, 1.0))) and array.size > 1:
        return False
    return not bool(np.all(np.abs(finite) < DEFAULT_ABS))


def target_items(lesson: Lesson, trace: Trace | None = None) -> list[str]:
    """The item keys of the numeric questions a lesson can ask."""
    declared_targets = declared(lesson).targets
    if declared_targets:
        return [f"{lesson.name}:{t.key}" for t in declared_targets]
    if trace is None:
        from nntutor.catalog.run import run_lesson

        trace = run_lesson(lesson, {})
    return [f"{lesson.name}:{t.step}.{t.value}" for t in _targets(lesson, trace)]


def _reveals(line: str, shown: str) -> bool:
    return re.search(r"=\s*" + re.escape(shown) + r"(?![0-9.])", line) is not None


def _index_text(name: str, index: tuple[int, ...], data: Any, value) -> tuple[str, str]:
    """(``weights[2,0]``, ``row sat, column The``) for an element."""
    if isinstance(data, Table):
        row = data.rows[index[0]]
        return f"{name}[{index[0]},{index[1]}]", f"row {row[0]}, column {data.columns[index[1]]}"
    if not index:
        return name, ""
    shape = np.asarray(data).shape
    rows, cols = value.rows, value.cols
    if len(index) == 2 and shape[1] == 1:
        label = rows[index[0]] if rows and len(rows) == shape[0] else ""
        return f"{name}[{index[0]}]", (label and f"row {label}")
    if len(index) == 1:
        label = cols[index[0]] if cols and len(cols) == shape[0] else ""
        return f"{name}[{index[0]}]", (label and f"entry {label}")
    where = []
    if rows and len(rows) == shape[0]:
        where.append(f"row {rows[index[0]]}")
    if cols and len(cols) == shape[1]:
        where.append(f"column {cols[index[1]]}")
    return f"{name}[{index[0]},{index[1]}]", ", ".join(where)


def _command(lesson: Lesson, values: dict[str, Any]) -> str:
    """The command that repeats a quiz run: ``nntutor lesson softmax --logits 2.1,0.9 --target 1``."""
    parts = ["nntutor", "lesson", lesson.name]
    for name, value in values.items():
        if isinstance(value, bool):
            if value:
                parts.append(f"--{name}")
            continue
        text = flag_text(value)
        parts.append(f"--{name}")
        parts.append(f"'{text}'" if re.search(r"[;\s'\"]", text) or text.startswith("-") else text)
    return " ".join(parts)


def numeric_question(lesson: Lesson, rng: np.random.Generator, target: Target | None = None, *, tries: int = 20) -> Question | None:
    """A question on one element of one step value, from a fresh random run (None if none can be made).

    The lesson is built on perturbed typed inputs; a draw the lesson's check refuses
    is replaced by another, and the last try uses the defaults.
    """
    from nntutor.catalog.run import prepare
    from nntutor.walkthroughs._declare import Args

    defaults = lesson.defaults()
    for attempt in range(tries):
        values = random_inputs(lesson, rng) if attempt < tries - 1 else {}
        try:
            prepared = prepare(lesson, Args({**defaults, **values}, given=values))
            trace = prepared.build()
        except NntutorError:
            continue
        targets = _targets(lesson, trace)
        if target is not None:
            targets = [t for t in targets if (t.step, t.value) == (target.step, target.value)]
        if not targets:
            continue
        chosen = targets[int(rng.integers(0, len(targets)))] if target is None else targets[0]
        question = _question_on(lesson, prepared, values, trace, chosen, rng)
        if question is not None:
            return question
    return None


def _question_on(
    lesson: Lesson, prepared: Any, values: dict[str, Any], trace: Trace, target: Target, rng: np.random.Generator
) -> Question | None:
    step = trace.step(target.step)
    value = step.value(target.value)
    value = value._replace(data=concrete(value.data))
    cells = _numeric_cells(value.data)
    if target.rows is not None:
        cells = [c for c in cells if c and c[0] in target.rows]
    if target.cols is not None:
        cells = [c for c in cells if len(c) > 1 and c[1] in target.cols]
    if not cells:
        return None
    # Prefer an element the step's worked arithmetic does not already spell out.
    fresh = [
        c
        for c in cells
        if not any(_reveals(line, fmt(mistake_tools.element_of(value.data, c), 4)) for line in step.worked)
    ]
    pool = fresh or cells
    index = pool[int(rng.integers(0, len(pool)))]
    expected = mistake_tools.element_of(value.data, index)
    if expected is None or not math.isfinite(expected):
        return None
    integer = _is_integer_data(value.data, index)
    element, where = _index_text(target.symbol or value.name, index, value.data, value)
    label = value.display_name if value.label and value.label not in (value.name, target.symbol) else ""
    detail = "; ".join(part for part in (label, where) if part)
    prompt = f"{lesson.name} · {step.title}: compute {element}" + (f"  ({detail})" if detail else "")
    shown = fmt(expected, 4)
    worked = tuple(line for line in step.worked if not _reveals(line, shown))
    hints = []
    if step.formula_text or step.formula:
        hints.append(f"{step.title}: {step.formula_text or step.formula}")
    if worked:
        hints.append("A worked element of the same step: " + "   ".join(worked))
    hints.extend(lesson.hints)
    case = mistake_tools.Case(prepared, trace, step.id, value.name, index)
    mistakes = tuple(
        (m.id, m.name, v)
        for m, v in mistake_tools.alternatives(prepared.walkthrough.mistakes, case)
        if not verdict(expected, v, rel=DEFAULT_REL, abs_=DEFAULT_ABS, integer=integer)
    )
    explained = tuple(target.explain(case)) if target.explain is not None else ()
    if explained:
        reveal = explained
    elif step.worked:
        reveal = ("The lesson's worked example for this step:", *step.worked, f"{element} = {fmt(expected, 6)}")
    else:
        reveal = (f"{element} = {fmt(expected, 6)}",)
    return Question(
        item=f"{lesson.name}:{step.id}.{value.name}",
        lesson=lesson.name,
        kind="numeric",
        step_kind=f"{lesson.name}.{step.id}",
        step_title=step.title,
        prompt=prompt,
        expected=expected,
        integer=integer,
        tolerance=tolerance_text(DEFAULT_REL, DEFAULT_ABS, integer),
        inputs=dict(trace.inputs),
        given=given_values(trace, target),
        command=_command(lesson, values),
        hints=tuple(hints),
        reveal=reveal,
        explained=explained,
        explanation=step.why,
        step=step,
        step_number=trace.steps.index(step) + 1,
        index=index,
        mistakes=mistakes,
    )


def given_values(trace: Trace, target: Target) -> tuple[Value, ...]:
    """What a question on ``target`` shows: the values named by ``target.uses`` (every input without it).

    ``"x"`` names an input of the run, ``"ln1.y"`` the value ``y`` of step ``ln1``.
    """
    every_input = tuple(Value(name, data) for name, data in trace.inputs.items())
    if target.uses is None:
        return every_input
    found = []
    for name in target.uses:
        if name in trace.inputs:
            found.append(Value(name, trace.inputs[name]))
            continue
        step_id, _, value_name = name.partition(".")
        try:
            value = trace.step(step_id).value(value_name)
        except KeyError:  # a run that does not make it (another variant of the lesson): show every input
            return every_input
        found.append(value._replace(data=concrete(value.data), heat=False))
    return tuple(found)


def concept_question(lesson: Lesson, item: QuizItem, rng: np.random.Generator | None = None) -> Question:
    """A question written in the lesson file; ``rng`` shuffles a choice question's choices
    (without it they keep the file's order).

    Its hints are the item's own ``hint`` (none when the file gives none), never the lesson's.
    """
    order = tuple(range(1, len(item.choices) + 1))
    if item.kind == "choice":
        if rng is not None:
            order = tuple(int(k) for k in rng.permutation(len(item.choices)) + 1)
        rel, abs_, integer = 0.0, 0.0, True
        tolerance = f"Answer with the number of your choice (1–{len(item.choices)})."
        expected = float(order.index(int(item.answer)) + 1)
    elif item.tolerance is not None:
        rel, abs_, integer = 0.0, float(item.tolerance), False
        tolerance = tolerance_text(0.0, abs_, False) if abs_ else "Exact answer."
        expected = float(item.answer)
    else:
        rel, abs_, integer = DEFAULT_REL, DEFAULT_ABS, False
        tolerance = tolerance_text(rel, abs_, False)
        expected = float(item.answer)
    return Question(
        item=f"{lesson.name}:quiz.{item.id}",
        lesson=lesson.name,
        kind=item.kind,
        step_kind=f"{lesson.name}.concept",
        step_title="Concepts",
        prompt=f"{lesson.name}: {item.prompt}",
        expected=expected,
        integer=integer,
        rel=rel,
        abs_=abs_,
        tolerance=tolerance,
        choices=tuple(item.choices[k - 1] for k in order) if item.kind == "choice" else (),
        order=order if item.kind == "choice" else (),
        hints=(item.hint,) if item.hint else (),
        reveal=(item.explanation,),
        explanation=item.explanation,
    )


def choice_rng(seed: int | None, item: str) -> np.random.Generator:
    """The generator that shuffles one choice question: the same seed and item, the same order.

    Derived from the quiz's seed and the item's key, not drawn from the quiz's generator, so
    shuffling leaves every other question of a seeded quiz as it was.
    """
    if seed is None:
        return np.random.default_rng()
    return np.random.default_rng([seed, zlib.crc32(item.encode("utf-8"))])


# --------------------------------------------------------------------------- choosing questions


@dataclass(frozen=True)
class Slot:
    lesson: Lesson
    item: str
    target: Target | None = None
    concept: QuizItem | None = None


def slots(lessons: Sequence[Lesson]) -> list[Slot]:
    """Everything the quiz could ask about these lessons."""
    found = []
    for lesson in lessons:
        declared_targets = declared(lesson).targets
        if declared_targets:
            targets = list(declared_targets)
        else:
            from nntutor.catalog.run import run_lesson

            try:
                targets = _targets(lesson, run_lesson(lesson, {}))
            except NntutorError:
                targets = []
        for target in targets:
            found.append(Slot(lesson, f"{lesson.name}:{target.step}.{target.value}", target=target))
        for item in lesson.quiz:
            found.append(Slot(lesson, f"{lesson.name}:quiz.{item.id}", concept=item))
    return found


def make_quiz(
    lessons: Sequence[Lesson],
    *,
    count: int = 5,
    seed: int | None = None,
    review: dict[str, float] | None = None,
    first: Sequence[str] = (),
) -> list[Question]:
    """``count`` questions on these lessons; the same seed (and review data) gives the same quiz.

    ``first``: item keys asked before anything else, in order (the items due
    for review). ``review`` maps item keys to weights from the progress store
    (due items, and those answered wrong, weigh more); without it every item
    of a kind is equally likely.
    """
    if not lessons:
        return []
    rng = np.random.default_rng(seed)
    pool = slots(lessons)
    questions: list[Question] = []
    by_item = {slot.item: slot for slot in pool}
    queue = [by_item[item] for item in dict.fromkeys(first) if item in by_item]
    available = [slot for slot in pool if slot not in queue]
    guard = 0
    while len(questions) < count and pool and guard < count * 10:
        guard += 1
        if queue:
            slot = queue.pop(0)
        else:
            if not available:
                available = list(pool)
            weights = np.array(
                [
                    (NUMERIC_WEIGHT if slot.target is not None else CONCEPT_WEIGHT) * (review or {}).get(slot.item, 1.0)
                    for slot in available
                ]
            )
            weights = weights / weights.sum()
            slot = available.pop(int(rng.choice(len(available), p=weights)))
        if slot.concept is not None:
            questions.append(concept_question(slot.lesson, slot.concept, choice_rng(seed, slot.item)))
            continue
        question = numeric_question(slot.lesson, rng, slot.target)
        if question is None:
            pool = [s for s in pool if s.item != slot.item]
            continue
        questions.append(question)
    return questions


def new_seed() -> int:
    """A seed for a quiz started without ``--seed`` (shown, so it can be repeated)."""
    return secrets.randbelow(1_000_000)
