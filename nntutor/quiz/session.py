"""Answering a quiz: one line typed at the prompt gets one reply; a session asks every question.

:func:`play` runs the questions with injected ``read``/``show``/``record`` callables, so
the same session runs in a terminal, on piped answers and in tests.

>>> from nntutor.catalog.lessonfile import load_lesson
>>> from nntutor.quiz.questions import concept_question
>>> lesson = load_lesson("attention")
>>> attempt = Attempt(concept_question(lesson, lesson.quiz[1]))
>>> attempt.respond("hint").kind, attempt.respond("1").kind
('hint', 'right')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from nntutor.quiz.answers import AnswerError, parse_answer
from nntutor.quiz.questions import Question


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

    @property
    def credit(self) -> float:
        """Points earned (:mod:`nntutor.study.credit`): 1 for a right answer, less 0.25 per hint."""
        from nntutor.study.credit import credit

        return credit(self.correct, self.hints)

    @property
    def chosen(self) -> int | None:
        """For a choice question, the lesson file's number of the choice given (the shuffle undone)."""
        return self.question.file_number(self.value)


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
            if not q.hints:
                return Reply("no-hint", "This question has no hint: type show to see the answer, or skip.")
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




# --------------------------------------------------------------------------- a whole session, recorded


class Plan(NamedTuple):
    """What a quiz asks about: its lessons, the review weights, the items due first, and a
    sentence for the learner when the choice needs explaining (empty otherwise)."""

    lessons: list[Any]
    review: dict[str, float] | None = None
    first: list[str] = []
    notice: str = ""


def choose(named: Sequence[Any], everything: Callable[[], Sequence[Any]], store: Any, count: int) -> Plan:
    """The lessons to ask about, the review weights and the items due first.

    Lessons named on the command line are asked about as they are. Without any, this is
    review mode: only the lessons the learner studied (ran, or was quizzed on), items
    answered wrong weighing more, the items due for review first. A learner who has
    studied nothing is asked about the first lesson of the course, and told so.
    """
    if named:
        return Plan(list(named))
    lessons = list(everything())
    studied = {row["lesson"] for row in store.studied()}
    chosen = [lesson for lesson in lessons if lesson.name in studied]
    if not chosen:
        if not lessons:
            return Plan([])
        first = lessons[0]
        return Plan(
            [first],
            notice=f"You have not studied any lesson yet, so these questions are on the first one, {first.name} "
            f"(nntutor lesson {first.name} works it through).",
        )
    names = {lesson.name for lesson in chosen}
    due = [row["item"] for row in store.due(limit=count) if row["lesson"] in names]
    return Plan(chosen, store.review_weights(), due)


def recorder(store: Any, warn: Callable[[str], None]) -> Callable[[Outcome], None]:
    """``record(outcome)`` for :func:`play`: each answer is committed to the progress store as it is given.

    A failed write only warns: the quiz goes on, and the answers already saved stay saved.
    Choices are shown shuffled, so for a choice question the store keeps the lesson file's
    numbers: ``expected`` is the file's ``answer`` and ``answer`` the file's number of the
    choice given (typing 2 where the file's choice 3 was shown second stores ``"3"``).
    """
    import uuid

    from nntutor.errors import NntutorError
    from nntutor.study.progress import Answer

    session = uuid.uuid4().hex[:12]

    def record(outcome: Outcome) -> None:
        q = outcome.question
        expected, given = q.expected, outcome.answer
        if q.kind == "choice":  # the file's numbers: the same whatever order the choices were shown in
            expected = float(q.file_number(q.expected))
            given = None if outcome.chosen is None else str(outcome.chosen)
        answer = Answer(
            session, q.lesson, q.item, q.step_kind, q.prompt, expected, given, outcome.correct,
            outcome.revealed, outcome.skipped, outcome.hints, outcome.mistake[0] if outcome.mistake else None,
        )
        try:
            store.record_answer(answer)
        except NntutorError as exc:
            warn(f"warning: this answer was not saved ({' '.join(str(exc).split())})")

    return record
