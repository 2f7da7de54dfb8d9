"""Practice inside a lesson: before a step's worked element is shown, the learner computes it.

For each step of a lesson run, :func:`plan` decides what to ask. The lesson's quiz targets
(``WALKTHROUGH.targets``, or every computed value when it declares none) say which step
values are worth computing; a step without one asks nothing and is shown as it is. Of
the step's target values, the element asked is the one its worked arithmetic computes
(the learner gets the same element the lesson then works out in full), else the first
element of the target. The answer is that element as the trace holds it, at full
precision, never a number read back from the worked text.

The worked line is cut where its result is: ``S[1,0] = q1·k0 = 0.5×1 + 1×0 + 0.2×0.5 = 0.6``
asks ``S[1,0] = q1·k0 = ?`` and hints ``S[1,0] = q1·k0 = 0.5×1 + 1×0 + 0.2×0.5 = ?``
(the formula with the numbers plugged in). Answers go through the quiz's own
:class:`~nntutor.quiz.session.Attempt` (the safe parser, the tolerance, ``hint``, ``show``,
``skip``), and a wrong one is checked against the lesson's known mistakes.

>>> from nntutor.catalog.lessonfile import load_lesson
>>> from nntutor.catalog.run import parse_args, prepare
>>> lesson = load_lesson("attention")
>>> prepared = prepare(lesson, parse_args(lesson, {}))
>>> plans = plan(lesson, prepared, prepared.build())
>>> [p.exercise.ask for p in plans if p.exercise][:2]
['S[1,0] = q1·k0 = ?', 'S′[1,0] = 0.6 / √3 = ?']
>>> plans[2].exercise.question.expected == 0.6 / 3 ** 0.5
True
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from nntutor.numfmt import fmt
from nntutor.quiz import mistakes as mistake_tools
from nntutor.quiz.answers import verdict
from nntutor.quiz.questions import (
    DEFAULT_ABS,
    DEFAULT_REL,
    Question,
    _arrays,
    _index_text,
    _is_integer_data,
    _numeric_cells,
    _reveals,
    _targets,
    tolerance_text,
)
from nntutor.quiz.session import Attempt, Outcome, Reply
from nntutor.trace import Step, Trace, Value, concrete
from nntutor.trace import Table as TraceTable
from nntutor.walkthroughs._declare import Target

_OPERATORS = tuple("+−×·*/÷^")  # not "-": a clause may start with a negative number
# A result is a number right after "=" that nothing is done to afterwards (no operator follows).
_OPERATOR_NEXT = re.compile(r"\s*[-+−×·*/÷^]")
_ARITHMETIC_START = tuple("0123456789.-−+(√")
_LABEL_PREFIX = re.compile(r"^[^=:()]{1,24}:\s+")  # "t0: ", "row 0: ", "sunny: "
_CONNECTIVES = ("so ", "and ", "then ", "i.e. ")
_PARENTHETICAL_END = re.compile(r"\s+\([^()]*\)\s*$")  # "raw scores Q·Kᵀ (rows: queries …)"


class Exercise(NamedTuple):
    """What one step asks: the question (judged, hinted, recorded as a quiz question is) and its words.

    ``ask`` is the line the learner answers (``S[1,0] = q1·k0 = ?``); ``intro`` says which
    entry that is (``Your turn: compute “raw scores Q·Kᵀ” at row cat, column The.``).
    """

    question: Question
    ask: str
    intro: str
    element: str  # scores[1,0]
    value: str  # the step value's name
    index: tuple[int, ...]


class StepPlan(NamedTuple):
    """One step of a practice run: shown whole (``exercise`` None), or asked about first.

    ``given`` are the step's values shown with the question (those computed before the asked
    one that do not already show the answer); ``held`` are shown once it is answered.
    """

    number: int
    step: Step
    exercise: Exercise | None
    given: tuple[Value, ...]
    held: tuple[Value, ...]


# --------------------------------------------------------------------------- what to ask


def plan(lesson: Any, prepared: Any, trace: Trace, *, first: int = 1) -> list[StepPlan]:
    """Every step from step ``first`` (1-based) on, with what it asks (see the module docstring)."""
    precision = prepared.context.precision
    targets = _targets(lesson, trace)
    inputs = list(_arrays(trace.inputs))
    plans = []
    for number, step in enumerate(trace.steps, start=1):
        if number < first:
            continue
        own = [t for t in targets if t.step == step.id]
        exercise = _exercise(lesson, prepared, trace, step, own, precision) if own else None
        if exercise is None:
            plans.append(StepPlan(number, step, None, tuple(step.values), ()))
            continue
        given, held = _split_values(step, exercise, precision, inputs)
        plans.append(StepPlan(number, step, exercise, given, held))
    return plans


class _Match(NamedTuple):
    target: Target
    value: Value
    index: tuple[int, ...]
    line: int  # which worked line
    clause: int  # which computation of that line
    cut: str  # the clause up to the "=" before its result
    named: int  # how surely the clause is about this element (see _names)
    rank: tuple  # smaller is better


def _exercise(lesson: Any, prepared: Any, trace: Trace, step: Step, targets: Sequence[Target], precision: int) -> Exercise | None:
    cells_of = {}
    for target in targets:
        value = step.value(target.value)
        value = value._replace(data=concrete(value.data))
        cells = _numeric_cells(value.data)
        if target.rows is not None:
            cells = [c for c in cells if c and c[0] in target.rows]
        if target.cols is not None:
            cells = [c for c in cells if len(c) > 1 and c[1] in target.cols]
        if cells:
            cells_of[target] = (value, cells)
    if not cells_of:
        return None
    matches = sorted(_worked_matches(step, cells_of, precision), key=lambda m: m.rank)
    if matches:
        return _make(lesson, prepared, trace, step, matches[0], precision)
    target, (value, cells) = next(iter(cells_of.items()))
    return _make(lesson, prepared, trace, step, _Match(target, value, cells[0], -1, -1, "", 0, ()), precision)


def _worked_matches(step: Step, cells_of: dict, precision: int):
    """Every (target element, worked clause) pair where the clause's result is that element.

    Preferred: a result other than 0 or 1 (those match too much by chance), an earlier
    line, a clause that names the element, the last result of its clause.
    """
    names = [name for v in step.values for name in (v.name, v.label) if name]
    for line_number, line in enumerate(step.worked):
        for clause_number, clause in enumerate(_clauses(line)):
            for order, (target, (value, cells)) in enumerate(cells_of.items()):
                others = [name for name in names if name not in (value.name, value.label)]
                for cell_order, index in enumerate(cells):
                    element = mistake_tools.element_of(value.data, index)
                    if element is None:
                        continue
                    cut = _cut_at_result(clause, fmt(element, precision))
                    if cut is None:
                        continue
                    named = _names(cut, value, index, others)
                    trivial = abs(element) in (0.0, 1.0)
                    rank = (trivial, line_number, clause_number, -named, -len(cut), order, cell_order)
                    yield _Match(target, value, index, line_number, clause_number, cut, named, rank)


def _clauses(line: str) -> list[str]:
    """A worked line split where one computation ends and the next begins: at ``;`` and at
    ``, `` outside brackets. A part that starts with an operator goes on from the one before.

    >>> _clauses("z1 = 1×1 + 1 = 2, ReLU = 2;  max(0, z) = 2")
    ['z1 = 1×1 + 1 = 2', 'ReLU = 2', 'max(0, z) = 2']
    >>> _clauses("a·W[:, 0] = 0.5×1 = 0.5; + b[0] = 0.5 + 0.1 = 0.6")
    ['a·W[:, 0] = 0.5×1 = 0.5; + b[0] = 0.5 + 0.1 = 0.6']
    """
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(line):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(depth - 1, 0)
        elif depth == 0 and (ch == ";" or (ch == "," and line[i + 1 : i + 2] == " ")):
            parts.append(line[start:i])
            start = i + 1
    parts.append(line[start:])
    clauses: list[str] = []
    for part in (p.strip() for p in parts):
        if not part:
            continue
        if clauses and part.startswith(_OPERATORS):
            clauses[-1] = f"{clauses[-1]}; {part}"
        else:
            clauses.append(part)
    return clauses


def _cut_at_result(clause: str, shown: str) -> str | None:
    """The clause up to the ``=`` before ``shown`` when ``shown`` is its result, else None.

    >>> _cut_at_result("ω0 = 1 / 10000^(0/8) = 1 / 1 = 1 rad per position", "1")
    'ω0 = 1 / 10000^(0/8) = 1 / 1'
    >>> _cut_at_result("S′ = 0.6 / 1.7321", "0.6") is None
    True
    """
    found = None
    for match in re.finditer(r"=\s*" + re.escape(shown) + r"(?![0-9.])", clause):
        if _OPERATOR_NEXT.match(clause, match.end()):
            continue
        found = match
    if found is None:
        return None
    cut = clause[: found.start()].strip()
    lowered = cut.lower()
    for word in _CONNECTIVES:
        if lowered.startswith(word):
            cut = cut[len(word) :]
    return cut or None


def _names(cut: str, value: Value, index: tuple[int, ...], others: Sequence[str] = ()) -> int:
    """How surely a clause is about this element: 2 when it writes its index (``A[1,0]``,
    ``z0``), 1 when it names its row, column or value (``cloudy: …``, ``ReLU(1)``), else 0.

    An index written after the name of another value of the step (``W2[0]·h`` when
    the element is ``z2[0]``) is that value's, not this one's.

    >>> _names("W2[0]·h", Value("z2", None), (0,), others=["W2"]), _names("S[1,0] = q1·k0", Value("scores", None), (1, 0))
    (0, 2)
    """
    name = value.name
    if index:
        for tag in ("[" + ",".join(map(str, index)) + "]", "[" + ", ".join(map(str, index)) + "]"):
            for found in re.finditer(re.escape(tag), cut):
                before = re.search(r"[^\s=(+·×*/-]+$", cut[: found.start()])
                if before is None or before.group() not in others:
                    return 2
        if len(index) == 1 and any(tag in cut for tag in (f"{name}{index[0]}", f"{name}{index[0] + 1}")):
            return 2
    words = [name, value.label] + [str(label) for label in _labels_at(value, index)]
    for word in filter(None, words):
        if re.search(r"(?<!\w)" + re.escape(str(word)) + r"(?!\w)", cut, flags=re.IGNORECASE):
            return 1
    return 0


def _labels_at(value: Value, index: tuple[int, ...]) -> list[str]:
    """The row and column labels of one element (a table's rows are named by their first cell)."""
    data = value.data
    if isinstance(data, TraceTable):
        return [str(data.rows[index[0]][0])] if index else []
    labels = []
    if len(index) == 1 and value.cols and index[0] < len(value.cols):
        labels.append(value.cols[index[0]])
    if len(index) == 2:
        if value.rows and index[0] < len(value.rows):
            labels.append(value.rows[index[0]])
        if value.cols and index[1] < len(value.cols):
            labels.append(value.cols[index[1]])
    return [str(label) for label in labels]


def _only_arithmetic(text: str) -> bool:
    """``1 − 2.5``, ``t0: 1×0.1``, ``cloudy: e^(-0.4)``: numbers only, after an optional ``label:``."""
    text = _LABEL_PREFIX.sub("", text)
    return text.startswith(_ARITHMETIC_START) or text.startswith("e^")


def _words(cut: str, element: str) -> tuple[str, str]:
    """(the line to answer, the same line with the numbers plugged in) from a clause's cut.

    >>> _words("S[1,0] = q1·k0 = 0.5×1 + 1×0 + 0.2×0.5", "scores[1,0]")
    ('S[1,0] = q1·k0 = ?', 'S[1,0] = q1·k0 = 0.5×1 + 1×0 + 0.2×0.5 = ?')
    >>> _words("t0: 1 − 2.5", "(x − μ)[0]")
    ('(x − μ)[0] = ?', 't0: 1 − 2.5 = ?')
    >>> _words("a·W[:, 0] = 0.5×1 = 0.5; + b[0] = 0.5 + 0.1", "y[0]")
    ('a·W[:, 0] + b[0] = ?', 'a·W[:, 0] = 0.5×1 = 0.5; + b[0] = 0.5 + 0.1 = ?')
    """
    plugged = cut + " = ?"
    head, _, tail = cut.partition("; ")
    if tail:  # "…; + b[0] = …": the first clause's name, plus what the continuation adds
        return f"{head.split(' = ')[0]} {tail.split(' = ')[0]} = ?", plugged
    parts = [part.strip() for part in cut.split(" = ")]
    if _only_arithmetic(parts[0]):
        return f"{element} = ?", plugged
    if len(parts) == 1:
        return plugged, ""
    return " = ".join(parts[:-1]) + " = ?", plugged


def _shown_name(value: Value) -> str:
    """The value as the lesson labels it, without a trailing note: ``raw scores Q·Kᵀ``, ``p used``."""
    name = value.label or value.name.replace("_", " ")
    return _PARENTHETICAL_END.sub("", name) or name


def _element_text(value: Value, index: tuple[int, ...]) -> tuple[str, str]:
    """(``scores[1,0]``, ``row cat, column The``): the element, and where it is in its table."""
    name = _shown_name(value)
    if index and _operator_outside_brackets(name):
        name = f"({name})"  # (x − μ)[0], not x − μ[0]
    element, where = _index_text(name, index, value.data, value)
    if len(index) == 2:
        where = where or f"row {index[0]}"
        if "column" not in where:
            where += f", column {index[1]}"
    elif index and not where:
        where = f"entry {index[0]}"
    return element, where.replace("row row ", "row ")


def _operator_outside_brackets(name: str) -> bool:
    """``x − μ`` is a sum, ``exp(z/T − max)`` a call and ``raw scores Q·Kᵀ`` a name.

    >>> [_operator_outside_brackets(n) for n in ("x − μ", "exp(z/T − max)", "raw scores Q·Kᵀ")]
    [True, False, False]
    """
    depth = 0
    for i, ch in enumerate(name):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0 and ch in "+−-×/÷" and name[i - 1 : i] == " " and name[i + 1 : i + 2] == " ":
            return True
    return False


def _make(lesson: Any, prepared: Any, trace: Trace, step: Step, match: _Match, precision: int) -> Exercise | None:
    value, index = match.value, match.index
    expected = mistake_tools.element_of(value.data, index)
    if expected is None:
        return None
    element, where = _element_text(value, index)
    ask, plugged = _words(match.cut, element) if match.cut else (f"{element} = ?", "")
    shown = fmt(expected, precision)
    earlier = [
        *(w for n, w in enumerate(step.worked) if n < match.line),
        *(_clauses(step.worked[match.line])[: match.clause] if match.line >= 0 else []),
    ]
    earlier = [w for w in earlier if not _reveals(w, shown)]
    hints = []
    if plugged:
        hints.append("   ".join([*earlier, plugged]))
    else:
        if step.formula_text or step.formula:
            hints.append(f"{step.title}: {step.formula_text or step.formula}")
        others = [w for n, w in enumerate(step.worked) if n != match.line and not _reveals(w, shown)]
        if others:
            hints.append("Worked in the same step: " + "   ".join(others[:2]))
    if not hints:
        hints.append("No hint for this one: type show to see it worked, or skip.")
    integer = _is_integer_data(value.data, index)
    case = mistake_tools.Case(prepared, trace, step.id, value.name, index)
    known = tuple(
        (m.id, m.name, v)
        for m, v in mistake_tools.alternatives(prepared.walkthrough.mistakes, case)
        if not verdict(expected, v, rel=DEFAULT_REL, abs_=DEFAULT_ABS, integer=integer)
    )
    question = Question(
        item=f"{lesson.name}:{step.id}.{value.name}",
        lesson=lesson.name,
        kind="numeric",
        step_kind=f"{lesson.name}.{step.id}",
        step_title=step.title,
        prompt=f"{lesson.name} · {step.title}: {ask}",
        expected=expected,
        integer=integer,
        tolerance=tolerance_text(DEFAULT_REL, DEFAULT_ABS, integer),
        inputs=dict(trace.inputs),
        hints=tuple(hints),
        reveal=tuple(step.worked),
        explanation=step.why,
        step=step,
        step_number=trace.steps.index(step) + 1,
        index=index,
        mistakes=known,
    )
    if match.cut and not match.named and not ask.startswith(element):
        intro = "Your turn: work it out."
    elif where:
        intro = f"Your turn: compute “{_shown_name(value)}” at {where}."
    else:
        intro = f"Your turn: compute {element}."
    return Exercise(question, ask, intro, element, value.name, index)


def _split_values(step: Step, exercise: Exercise, precision: int, inputs: list) -> tuple[tuple[Value, ...], tuple[Value, ...]]:
    """The step's values shown with the question, and those held back until it is answered.

    Shown: the lesson's inputs, and values computed before the asked one that do not
    already show its answer (a running sum would).
    """
    cut = [v.name for v in step.values].index(exercise.value)
    shown = fmt(exercise.question.expected, precision)
    given, held = [], []
    for position, value in enumerate(step.values):
        if position < cut and (_is_input(value, inputs) or not _shows(value, shown, precision)):
            given.append(value)
        else:
            held.append(value)
    return tuple(given), tuple(held)


def _is_input(value: Value, inputs: list) -> bool:
    data = value.data
    if not isinstance(data, np.ndarray):
        return False
    return any(other is data or (other.shape == data.shape and np.array_equal(other, data)) for other in inputs)


def _shows(value: Value, shown: str, precision: int) -> bool:
    """Does ``value`` already show a number written ``shown`` (it would give the answer away)?"""
    data = concrete(value.data)
    for index in _numeric_cells(data):
        element = mistake_tools.element_of(data, index)
        if element is not None and fmt(element, precision) == shown:
            return True
    return False


# --------------------------------------------------------------------------- answering


@dataclass
class PracticeResult:
    """How a practice run went: each answered exercise with its outcome, and where it stopped.

    ``stopped`` is ``""`` (ran to the end), ``"quit"``, ``"eof"`` (input ended) or
    ``"interrupt"``; ``at`` is the step number it stopped at; ``total`` counts the exercises
    of the run, ``steps`` the lesson's steps.
    """

    answers: list[tuple[StepPlan, Outcome]]
    total: int
    steps: int
    stopped: str = ""
    at: int | None = None

    @property
    def finished(self) -> bool:
        return not self.stopped


def practise(
    plans: Sequence[StepPlan],
    read: Callable[[], str | None],
    show: Callable[[str, Any], None],
    record: Callable[[Outcome], None],
    *,
    steps: int | None = None,
) -> PracticeResult:
    """Go through the steps, asking where a step asks.

    ``show(event, data)`` gets ``("step", plan)`` for a step shown whole, ``("ask", plan)``
    before a question, ``("reply", (plan, reply))`` for each line typed, and
    ``("reveal", (plan, outcome))`` once it is answered. ``read()`` gives the next line
    (``None`` at end of input) and may raise KeyboardInterrupt; ``record(outcome)`` saves
    each answer as it is given (the progress store, as a quiz answer).
    """
    total = sum(p.exercise is not None for p in plans)
    steps = steps if steps is not None else (plans[-1].number if plans else 0)
    answers: list[tuple[StepPlan, Outcome]] = []
    for step_plan in plans:
        if step_plan.exercise is None:
            show("step", step_plan)
            continue
        show("ask", step_plan)
        attempt = Attempt(step_plan.exercise.question)
        while True:
            try:
                line = read()
            except KeyboardInterrupt:
                return PracticeResult(answers, total, steps, "interrupt", step_plan.number)
            if line is None:
                return PracticeResult(answers, total, steps, "eof", step_plan.number)
            reply: Reply = attempt.respond(line)
            show("reply", (step_plan, reply))
            if reply.kind == "quit":
                return PracticeResult(answers, total, steps, "quit", step_plan.number)
            if reply.outcome is not None:
                answers.append((step_plan, reply.outcome))
                record(reply.outcome)
                show("reveal", (step_plan, reply.outcome))
                break
    return PracticeResult(answers, total, steps)


class PracticeSummary(NamedTuple):
    """The score of a practice run: ``5 of 7 computed right; to review: …``."""

    correct: int
    answered: int  # right, wrong, shown or skipped
    total: int
    review: tuple[str, ...]  # "Softmax along each row (step 4, wrong)"

    @property
    def line(self) -> str:
        """``2 of 4 computed right; to review: Divide by √d_k = √3 (step 3, shown)``."""
        text = f"{self.correct} of {self.total} computed right"
        if self.review:
            text += "; to review: " + ", ".join(self.review)
        return text


def summarise(result: PracticeResult) -> PracticeSummary:
    """The score and what to review (answered wrong, shown, or skipped), in step order.

    >>> summarise(PracticeResult([], total=3, steps=5)).line
    '0 of 3 computed right'
    """
    review = []
    for step_plan, outcome in result.answers:
        if outcome.correct:
            continue
        why = "shown" if outcome.revealed else "skipped" if outcome.skipped else "wrong"
        review.append(f"{step_plan.step.title} (step {step_plan.number}, {why})")
    correct = sum(outcome.correct for _, outcome in result.answers)
    return PracticeSummary(correct, len(result.answers), result.total, tuple(review))
