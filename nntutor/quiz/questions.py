"""Quiz questions from lesson traces, and the rules of answering them. No I/O.

Two kinds of question:

- *numeric*: the lesson is run on fresh small random inputs (its numeric
  defaults perturbed by a seeded generator, shapes kept) and one element of one
  step's value is asked for, e.g. "attention · Softmax along each row: compute
  weights[2,0]". This is generic: a lesson added later gets numeric questions
  without quiz code. :data:`OVERRIDES` may narrow which values are asked about
  or fix some inputs for a builder.
- *conceptual*: the ``[[quiz]]`` items of the lesson file (``choice``: answer
  with the number of the choice; ``number``: a numeric answer).

Numeric answers are right within 1% relative or 0.005 absolute (integers
exactly). A wrong answer is compared with the values registered mistakes give
(:mod:`nntutor.quiz.mistakes`) and the matching one is named.

:func:`play` runs a quiz with injected ``read``/``show``/``record`` callables;
the CLI supplies the terminal and the progress store.

>>> from nntutor.catalog.lessonfile import load_lesson
>>> questions = make_quiz([load_lesson("softmax")], count=2, seed=3)
>>> [q.lesson for q in questions]
['softmax', 'softmax']
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nntutor.catalog.lessonfile import Lesson, QuizItem, default_value
from nntutor.errors import NntutorError
from nntutor.numfmt import fmt
from nntutor.quiz import mistakes as mistake_registry
from nntutor.quiz.answers import AnswerError, parse_answer, verdict
from nntutor.trace import Step, Table, Trace, concrete

DEFAULT_REL = 0.01
DEFAULT_ABS = 0.005
MAX_COUNT = 100
NUMERIC_INPUT_KINDS = ("scalar", "vector", "matrix", "array")
NUMERIC_WEIGHT = 2.0  # numeric questions are asked about twice as often as conceptual ones
CONCEPT_WEIGHT = 1.0
COMMANDS = ("hint", "show", "skip", "quit")
SMALL_SCALAR = 0.1  # scalars with a default below this (ε, learning rates) are not perturbed


# --------------------------------------------------------------------------- per-builder settings


@dataclass(frozen=True)
class Target:
    """A step value to ask about; ``rows``/``cols`` restrict the first/second index
    (e.g. only the products row of the neuron's table)."""

    step: str
    value: str
    rows: tuple[int, ...] | None = None
    cols: tuple[int, ...] | None = None


@dataclass(frozen=True)
class QuizSettings:
    """How numeric questions are made for one builder (all optional).

    ``targets``: the values asked about (default: every numeric step value that
    is not an input); ``fixed``: flag values used for every quiz run; ``vary``:
    choice inputs drawn at random; ``extra(rng, raw, lesson)``: more flag values.
    """

    targets: tuple[Target, ...] = ()
    fixed: dict[str, Any] = field(default_factory=dict)
    vary: tuple[str, ...] = ()
    extra: Callable[[np.random.Generator, dict[str, Any], Lesson], dict[str, Any]] | None = None


def _softmax_target(rng: np.random.Generator, raw: dict[str, Any], lesson: Lesson) -> dict[str, Any]:
    logits = raw.get("logits") or lesson.input("logits").default
    count = len(str(logits).split(","))
    return {"target": str(int(rng.integers(0, count)))}


def _loss_probs(rng: np.random.Generator, raw: dict[str, Any], lesson: Lesson) -> dict[str, Any]:
    """A fresh probability vector (4 entries, 2 decimals, each at least 0.05, summing to 1) and a target."""
    cents = 5 + rng.multinomial(80, [0.25] * 4)
    return {"probs": ",".join(_number_text(c / 100) for c in cents), "target": str(int(rng.integers(0, 4)))}


OVERRIDES: dict[str, QuizSettings] = {
    "neuron": QuizSettings(
        targets=(Target("products", "products", rows=(2,)), Target("sum", "dot"), Target("sum", "z"), Target("activation", "y")),
        extra=lambda rng, raw, lesson: {"activation": str(rng.choice(["relu", "sigmoid", "tanh"]))},
    ),
    "softmax": QuizSettings(
        targets=(
            Target("shift", "shifted"),
            Target("exp", "exp"),
            Target("sum", "sum"),
            Target("probs", "probs"),
            Target("loss", "loss"),
        ),
        fixed={"temperature": "1"},
        extra=_softmax_target,
    ),
    "loss": QuizSettings(targets=(Target("loss", "p_used"), Target("loss", "loss")), extra=_loss_probs),
    "gradient-descent": QuizSettings(
        targets=(
            Target("function", "f_start"),
            Target("function", "gradient_start"),
            Target("stability", "limit"),
            Target("result", "path", rows=(1, 2)),
        ),
    ),
    "attention": QuizSettings(
        targets=(Target("scores", "scores"), Target("scale", "scaled"), Target("softmax", "weights"), Target("output", "output")),
    ),
    # Lessons whose generic choice would ask for inputs shown back or for values no one computes by hand:
    "activations": QuizSettings(
        targets=tuple(Target(name, name, rows=(1, 2)) for name in ("relu", "leaky-relu", "sigmoid", "tanh", "gelu")),
    ),
    "backprop": QuizSettings(
        targets=tuple(
            Target(step, value)
            for step, value in (
                ("hidden", "z1"), ("hidden", "h"), ("output", "z2"), ("output", "output"), ("output", "loss"),
                ("output-delta", "delta2"), ("hidden-delta", "delta1"), ("gradients", "dW1"), ("gradients", "db1"),
                ("gradients", "dW2"), ("gradients", "db2"),
            )
        ),
    ),
    "training": QuizSettings(
        targets=(
            Target("setup", "initial_loss"),
            Target("first-batch", "forward", cols=(4, 5, 6)),
            Target("first-batch", "gradients", cols=(1, 2, 3, 5)),
        ),
    ),
    "embedding": QuizSettings(
        targets=(Target("ids", "ids"), Target("similarity", "norms"), Target("similarity", "similarity"), Target("analogy", "vector")),
    ),
    "positional-encoding": QuizSettings(targets=(Target("table", "angles"), Target("table", "pe"))),
    "next-token": QuizSettings(
        targets=(
            Target("logits", "logits"),
            Target("temperature", "scaled"),
            Target("temperature", "exps"),
            Target("temperature", "probs"),
            Target("renormalise", "filtered_probs"),
        ),
    ),
    "bpe": QuizSettings(
        targets=(
            Target("symbols", "initial_vocab_size"),
            *(Target(f"merge-{n}", "frequency") for n in range(1, 11)),
            Target("encode", "encoded"),
        ),
    ),
    "pipeline": QuizSettings(targets=(Target("positions", "x0"), Target("unembed", "logits"))),
}


def settings_for(lesson: Lesson) -> QuizSettings:
    return OVERRIDES.get(lesson.builder, QuizSettings())


# --------------------------------------------------------------------------- random inputs


def flag_text(value: Any) -> str:
    """An array or number written as a flag value: ``0.5``, ``1,2``, ``1,0;0,1``."""
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
    """Flag values for a quiz run: every numeric default perturbed (shape kept, 2 decimals).

    A vector or matrix entry moves by up to ± max(0.5, spread of the default's
    entries); a scalar by up to ± half its value (scalars below 0.1, such as ε
    or a learning rate, stay as they are). Inputs without a default stay unset.
    """
    settings = settings_for(lesson)
    raw: dict[str, Any] = {}
    for spec in lesson.inputs:
        if spec.name in settings.fixed:
            raw[spec.name] = settings.fixed[spec.name]
        elif spec.kind in NUMERIC_INPUT_KINDS and spec.default is not None:
            base = np.asarray(default_value(spec), dtype=np.float64)
            if base.size == 1 and spec.kind == "scalar":
                if abs(float(base)) < SMALL_SCALAR:
                    continue  # a small setting (a learning rate, an ε): kept at its default
                spread = 0.5 * abs(float(base))
            else:
                spread = max(0.5, float(np.std(base)))
            moved = np.round(base + rng.uniform(-spread, spread, size=base.shape), 2)
            raw[spec.name] = flag_text(_clip(spec, moved))
        elif spec.kind == "choice" and spec.name in settings.vary:
            raw[spec.name] = str(rng.choice(list(spec.choices)))
    if settings.extra is not None:
        raw.update(settings.extra(rng, raw, lesson))
    return raw


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
    inputs: dict[str, Any] = field(default_factory=dict)
    command: str = ""
    choices: tuple[str, ...] = ()
    hints: tuple[str, ...] = ()
    reveal: tuple[str, ...] = ()
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
    """Indices of the numeric elements of a value's data (``[()]`` for a scalar)."""
    if isinstance(data, Table):
        def numeric(cell: Any) -> bool:
            return isinstance(cell, (int, float, np.integer, np.floating)) and not isinstance(cell, (bool, np.bool_))

        def counter(j: int) -> bool:  # a column that only numbers the rows (0, 1, 2 … or 1, 2, 3 …)
            column = [row[j] if j < len(row) else None for row in data.rows]
            return all(isinstance(c, (int, np.integer)) for c in column) and (
                column == list(range(len(column))) or column == list(range(1, len(column) + 1))
            )

        width = max((len(row) for row in data.rows), default=0)
        skip = {j for j in range(width) if counter(j)}
        return [
            (i, j)
            for i, row in enumerate(data.rows)
            for j, cell in enumerate(row)
            if j not in skip and numeric(cell) and math.isfinite(float(cell))
        ]
    if isinstance(data, (bool, np.bool_, str)) or data is None:
        return []
    if isinstance(data, (int, float, np.integer, np.floating)):
        return [()] if math.isfinite(float(data)) else []
    if isinstance(data, dict):
        return []
    try:
        array = np.asarray(data)
    except (ValueError, TypeError):
        return []
    if array.dtype.kind not in "fiu" or array.ndim not in (1, 2) or array.size == 0:
        return []
    return [tuple(int(k) for k in index) for index in zip(*np.nonzero(np.isfinite(array)), strict=True)]


def _is_integer_data(data: Any, index: tuple[int, ...]) -> bool:
    if isinstance(data, Table):
        cell = data.rows[index[0]][index[1]]
        return isinstance(cell, (int, np.integer))
    if isinstance(data, (int, np.integer)):
        return True
    return isinstance(data, np.ndarray) and data.dtype.kind in "iu"


def _targets(lesson: Lesson, trace: Trace) -> list[Target]:
    """The values numeric questions ask about, for this run."""
    settings = settings_for(lesson)
    if settings.targets:
        found = []
        for target in settings.targets:
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
    settings = settings_for(lesson)
    if settings.targets:
        return [f"{lesson.name}:{t.step}.{t.value}" for t in settings.targets]
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


def _command(lesson: Lesson, raw: dict[str, Any]) -> str:
    parts = ["nntutor", "lesson", lesson.name]
    for name, value in raw.items():
        if isinstance(value, bool):
            if value:
                parts.append(f"--{name}")
            continue
        text = str(value)
        parts.append(f"--{name}")
        parts.append(f"'{text}'" if re.search(r"[;\s'\"]", text) or text.startswith("-") else text)
    return " ".join(parts)


def numeric_question(lesson: Lesson, rng: np.random.Generator, target: Target | None = None, *, tries: int = 20) -> Question | None:
    """A question on one element of one step value, from a fresh random run (None if none can be made)."""

    for attempt in range(tries):
        raw = random_inputs(lesson, rng) if attempt < tries - 1 else {}
        trace = _run_dropping_refused(lesson, raw)
        if trace is None:
            continue
        targets = _targets(lesson, trace)
        if target is not None:
            targets = [t for t in targets if (t.step, t.value) == (target.step, target.value)]
        if not targets:
            continue
        chosen = targets[int(rng.integers(0, len(targets)))] if target is None else targets[0]
        question = _question_on(lesson, raw, trace, chosen, rng)
        if question is not None:
            return question
    return None


def _run_dropping_refused(lesson: Lesson, raw: dict[str, Any]) -> Trace | None:
    """Run with these flags; a flag the lesson refuses (e.g. one that does not go with
    another) is dropped and the run tried again. ``raw`` is updated in place."""
    from nntutor.catalog.run import run_lesson
    from nntutor.errors import InputError

    for _ in range(len(raw) + 1):
        try:
            return run_lesson(lesson, raw)
        except InputError as exc:
            name = exc.flag[2:] if exc.flag.startswith("--") else ""
            if name not in raw or name in settings_for(lesson).fixed:
                return None
            del raw[name]
        except NntutorError:
            return None
    return None


def _question_on(lesson: Lesson, raw: dict[str, Any], trace: Trace, target: Target, rng: np.random.Generator) -> Question | None:
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
        if not any(_reveals(line, fmt(mistake_registry.element_of(value.data, c), 4)) for line in step.worked)
    ]
    pool = fresh or cells
    index = pool[int(rng.integers(0, len(pool)))]
    expected = mistake_registry.element_of(value.data, index)
    if expected is None or not math.isfinite(expected):
        return None
    integer = _is_integer_data(value.data, index)
    element, where = _index_text(value.name, index, value.data, value)
    label = value.display_name if value.label and value.label != value.name else ""
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
    case = mistake_registry.Case(lesson, raw, trace, step.id, value.name, index)
    mistakes = tuple(
        (m.id, m.name, v)
        for m, v in mistake_registry.alternatives(lesson.builder, case)
        if not verdict(expected, v, rel=DEFAULT_REL, abs_=DEFAULT_ABS, integer=integer)
    )
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
        command=_command(lesson, raw),
        hints=tuple(hints),
        reveal=tuple(step.worked) + (f"{element} = {fmt(expected, 6)}",),
        explanation=step.why,
        step=step,
        step_number=trace.steps.index(step) + 1,
        index=index,
        mistakes=mistakes,
    )


def concept_question(lesson: Lesson, item: QuizItem) -> Question:
    """A question written in the lesson file."""
    if item.kind == "choice":
        rel, abs_, integer = 0.0, 0.0, True
        tolerance = f"Answer with the number of your choice (1–{len(item.choices)})."
    elif item.tolerance is not None:
        rel, abs_, integer = 0.0, float(item.tolerance), False
        tolerance = tolerance_text(0.0, abs_, False) if abs_ else "Exact answer."
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
        choices=item.choices,
        hints=tuple(lesson.hints),
        reveal=(item.explanation,),
        explanation=item.explanation,
    )


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
        settings = settings_for(lesson)
        if settings.targets:
            targets = list(settings.targets)
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
            questions.append(concept_question(slot.lesson, slot.concept))
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


# --------------------------------------------------------------------------- answering


@dataclass
class Outcome:
    """How one question ended."""

    question: Question
    answer: str | None = None  # as typed
    value: float | None = None
    correct: bool = False
    revealed: bool = False
    skipped: bool = False
    hints: int = 0
    mistake: tuple[str, str] | None = None


@dataclass(frozen=True)
class Reply:
    """What the quiz says back to one line typed at the prompt.

    ``kind``: ``hint``, ``no-hint``, ``unreadable``, ``bad-choice``, ``empty``,
    ``right``, ``wrong``, ``revealed``, ``skipped``, ``quit``. ``outcome`` is set
    when the question is over.
    """

    kind: str
    text: str = ""
    outcome: Outcome | None = None


class Attempt:
    """One question being answered: feed it lines, it replies."""

    def __init__(self, question: Question) -> None:
        self.question = question
        self.hints_used = 0

    def respond(self, line: str) -> Reply:
        q = self.question
        text = line.strip()
        command = text.lower()
        if command == "":
            return Reply("empty")
        if command == "hint":
            if self.hints_used < len(q.hints):
                self.hints_used += 1
                return Reply("hint", f"Hint {self.hints_used}/{len(q.hints)}: {q.hints[self.hints_used - 1]}")
            return Reply("no-hint", "No more hints: type show to see the worked answer, or skip.")
        if command == "show":
            return Reply("revealed", outcome=Outcome(q, revealed=True, hints=self.hints_used))
        if command == "skip":
            return Reply("skipped", outcome=Outcome(q, skipped=True, hints=self.hints_used))
        if command in ("quit", "exit", "q"):
            return Reply("quit")
        try:
            value = parse_answer(text)
        except AnswerError as exc:
            return Reply("unreadable", str(exc))
        if q.kind == "choice" and not (value.is_integer() and 1 <= value <= len(q.choices)):
            return Reply("bad-choice", f"answer with the number of a choice, from 1 to {len(q.choices)}")
        if q.judge(value):
            return Reply("right", outcome=Outcome(q, answer=text, value=value, correct=True, hints=self.hints_used))
        mistake = q.diagnose(value)
        return Reply("wrong", outcome=Outcome(q, answer=text, value=value, hints=self.hints_used, mistake=mistake))


@dataclass
class QuizResult:
    outcomes: list[Outcome]
    asked: int
    total: int
    stopped: str = ""  # "", "quit", "eof" or "interrupt"


def play(
    questions: Sequence[Question],
    read: Callable[[], str | None],
    show: Callable[[str, Any], None],
    record: Callable[[Outcome], None],
) -> QuizResult:
    """Ask every question in turn.

    ``read()`` returns the next line, ``None`` at end of input, and may raise
    KeyboardInterrupt; ``show(event, data)`` displays ``("question", (number,
    total, question))`` or ``("reply", reply)``; ``record(outcome)`` saves an
    answer as soon as it is given (so leaving early loses nothing answered).
    """
    outcomes: list[Outcome] = []
    asked = 0
    for number, question in enumerate(questions, start=1):
        asked = number
        show("question", (number, len(questions), question))
        attempt = Attempt(question)
        while True:
            try:
                line = read()
            except KeyboardInterrupt:
                return QuizResult(outcomes, asked, len(questions), "interrupt")
            if line is None:
                return QuizResult(outcomes, asked, len(questions), "eof")
            reply = attempt.respond(line)
            show("reply", reply)
            if reply.kind == "quit":
                return QuizResult(outcomes, asked, len(questions), "quit")
            if reply.outcome is not None:
                outcomes.append(reply.outcome)
                record(reply.outcome)
                break
    return QuizResult(outcomes, asked, len(questions))


# --------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class Tally:
    name: str
    correct: int
    answered: int  # right or wrong (not skipped)
    asked: int  # also counts revealed and skipped

    @property
    def text(self) -> str:
        return f"{self.correct}/{self.asked}"


def _tally(outcomes: Sequence[Outcome], key: Callable[[Outcome], str]) -> list[Tally]:
    groups: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        groups.setdefault(key(outcome), []).append(outcome)
    return [
        Tally(name, sum(o.correct for o in group), sum(o.answer is not None for o in group), len(group))
        for name, group in groups.items()
    ]


@dataclass(frozen=True)
class Summary:
    correct: int
    asked: int
    total: int
    by_lesson: list[Tally]
    by_step: list[Tally]
    review: list[str]  # item prompts to review next (wrong, revealed or skipped)


def summarise(result: QuizResult) -> Summary:
    outcomes = result.outcomes
    by_step = _tally(outcomes, lambda o: f"{o.question.lesson}: {o.question.step_title}")
    review = []
    for outcome in outcomes:
        if not outcome.correct:
            why = "revealed" if outcome.revealed else "skipped" if outcome.skipped else "wrong"
            review.append(f"{outcome.question.lesson} · {outcome.question.step_title} ({why})")
    return Summary(
        correct=sum(o.correct for o in outcomes),
        asked=len(outcomes),
        total=result.total,
        by_lesson=_tally(outcomes, lambda o: o.question.lesson),
        by_step=sorted(by_step, key=lambda t: (t.correct / t.asked if t.asked else 1, t.name)),
        review=list(dict.fromkeys(review)),
    )
