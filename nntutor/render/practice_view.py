"""``--practice`` screens: the lesson's steps, with a question before each worked element.

A step that asks is drawn in two parts: its title, formula and the values computed
before the asked one; then, once the learner has answered (or typed ``show`` or
``skip``), the rest of it (the asked value, the worked arithmetic, why). With
``--format json`` the screens go to stderr and :func:`practice_json` to stdout.

>>> from nntutor.quiz.practice import PracticeSummary
>>> plain_text([summary_renderable(PracticeSummary(1, 2, 2, ("Divide by √d_k (step 3, wrong)",)))], 80).splitlines()[-1]
'1 of 2 computed right; to review: Divide by √d_k (step 3, wrong)'
"""

from __future__ import annotations

import json
from typing import IO, Any

from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.text import Text

from nntutor.numfmt import fmt
from nntutor.render import output
from nntutor.render.json import plain
from nntutor.render.output import plain_text  # noqa: F401 (the doctest above)
from nntutor.render.terminal import (
    STYLE_DIM,
    STYLE_FORMULA,
    STYLE_LABEL,
    STYLE_TITLE,
    STYLE_WARNING,
    Command,
    header_renderable,
    indent,
    outputs_renderable,
    step_renderable,
)

STOPPED = {"eof": "input ended", "quit": "you quit", "interrupt": "interrupted"}
COMMANDS_TEXT = "Type a number (7/13, e^2, sqrt(2)/2 work), or hint, show, skip, quit."


class PracticeView:
    """Prints a practice run as it goes (``show`` is the callback :func:`nntutor.quiz.practice.practise` wants)."""

    def __init__(self, stream: IO[str], *, precision: int = 4, limit: int = 8, plots: bool = True) -> None:
        self.stream = stream
        self.precision = precision
        self.limit = limit
        self.plots = plots
        self.heat = output.styled(stream) and output.has_colour(output.make_console(stream))
        self.asked = False  # the first question explains what can be typed

    def print(self, *renderables: RenderableType) -> None:
        output.emit(*renderables, stream=self.stream)

    def start(self, trace: Any) -> None:
        self.print(header_renderable(trace))

    def _step(self, plan: Any, **part: Any) -> RenderableType:
        return step_renderable(plan.step, plan.number, self.precision, self.limit, self.heat, self.plots, **part)

    def show(self, event: str, data: Any) -> None:
        if event == "step":
            self.print(self._step(data))
        elif event == "ask":
            self.print(self._step(data, values=data.given, body=False), question_renderable(data.exercise, first=not self.asked))
            self.asked = True
        elif event == "reply":
            plan, reply = data
            self.print(reply_renderable(plan.exercise, reply, self.precision))
        elif event == "reveal":
            plan, _ = data
            self.print(self._step(plan, values=plan.held, head=False))

    def finish(self, trace: Any, result: Any, summary: Any, resume: Any) -> None:
        """The lesson's result (when it ran to the end), the score, and how to go on."""
        parts: list[RenderableType] = []
        if result.finished and trace.outputs:
            parts.append(outputs_renderable(trace, self.precision, self.limit))
        parts.append(summary_renderable(summary))
        if not result.finished:
            stopped, command = stop_lines(result, resume)
            parts += [Text(stopped), indent(Command("", command))]  # broken where it still runs
        self.print(*parts)


def question_renderable(exercise: Any, *, first: bool = False) -> RenderableType:
    """What the learner is asked: which entry, the line to complete, how answers are read
    (what can be typed is said in full at the first question)."""
    tolerance = exercise.question.tolerance
    how = COMMANDS_TEXT if first else tolerance.rstrip(".") + "; or hint, show, skip, quit."
    parts = [indent(Text(exercise.intro, style=STYLE_LABEL), top=1), indent(Text(exercise.ask, style=STYLE_TITLE))]
    if first:
        parts.append(indent(Text(tolerance, style=STYLE_DIM)))
    parts.append(indent(Text(how, style=STYLE_DIM)))
    return Group(*parts)


def _answered(exercise: Any, precision: int) -> str:
    """The asked line completed with the answer as the lesson writes it: ``S[1,0] = q1·k0 = 0.6``."""
    question = exercise.question
    shown = str(int(question.expected)) if question.integer else fmt(question.expected, precision)
    ask = exercise.ask
    return ask[: -len("?")] + shown if ask.endswith("?") else f"{exercise.element} = {shown}"


def reply_renderable(exercise: Any, reply: Any, precision: int = 4) -> RenderableType:
    """What is said back to one typed line."""
    kind = reply.kind
    if kind == "empty":
        return indent(Text(COMMANDS_TEXT, style=STYLE_DIM))
    if kind in ("hint", "no-hint"):
        return indent(Text(reply.text, style=STYLE_FORMULA))
    if kind in ("unreadable", "bad-choice"):
        return Group(
            indent(Text(f"{reply.text}. Try again, or type hint, show, skip or quit.", style=STYLE_WARNING)),
            indent(Text(exercise.ask, style=STYLE_TITLE)),
        )
    if kind == "quit":
        return indent(Text("Stopping here: your answers so far are saved."))
    outcome = reply.outcome
    answered = _answered(exercise, precision)
    if kind == "right":
        return indent(Text(f"✓ Right: {answered}", style="bold green"))
    if kind == "wrong":
        parts: list[RenderableType] = [indent(Text(f"✗ Not quite: you gave {outcome.answer}; {answered}", style="bold red"))]
        if outcome.mistake is not None:
            parts.append(indent(Text(f"That is what you get if you {outcome.mistake[1]}.", style=STYLE_WARNING)))
        return Group(*parts)
    if kind == "revealed":
        return indent(Text(f"Shown: {answered}", style=STYLE_LABEL))
    if kind == "skipped":
        return indent(Text(f"Skipped: {answered}", style=STYLE_DIM))
    return indent(Text(reply.text))  # pragma: no cover


def summary_renderable(summary: Any) -> RenderableType:
    """``5 of 7 computed right; to review: …`` under a rule."""
    if not summary.total:
        line = "Nothing to compute in these steps: each of them was shown whole."
    else:
        line = summary.line
    return Group(Text(""), Rule(Text("Practice", style=STYLE_TITLE), align="left"), Text(line, style=STYLE_LABEL))


def stop_lines(result: Any, resume: Any) -> tuple[str, str]:
    """(``Stopped at step 4 of 5 (input ended). To go on from there:``, the command that does)."""
    why = STOPPED.get(result.stopped, result.stopped)
    return f"Stopped at step {result.at} of {result.steps} ({why}). To go on from there:", resume(result.at)


def practice_json(trace: Any, result: Any, summary: Any, resume: Any) -> str:
    """The ``--format json`` document: each answer with its verdict, the score, where it stopped.

    ``{"format": 1, "lesson", "inputs", "answers": [{"step", "step_id", "item", "element",
    "index", "prompt", "expected", "answer", "value", "correct", "revealed", "skipped",
    "hints", "mistake"}], "score": {"correct", "answered", "total"}, "review", "stopped",
    "stopped_at", "go_on"}``; numbers at full precision.
    """
    answers = []
    for plan, outcome in result.answers:
        exercise = plan.exercise
        question = exercise.question
        answers.append(
            {
                "step": plan.number,
                "step_id": plan.step.id,
                "step_title": plan.step.title,
                "item": question.item,
                "element": exercise.element,
                "index": list(exercise.index),
                "prompt": exercise.ask,
                "expected": int(question.expected) if question.integer else question.expected,
                "answer": outcome.answer,
                "value": outcome.value,
                "correct": outcome.correct,
                "revealed": outcome.revealed,
                "skipped": outcome.skipped,
                "hints": outcome.hints,
                "mistake": None if outcome.mistake is None else {"id": outcome.mistake[0], "name": outcome.mistake[1]},
            }
        )
    doc = {
        "format": 1,
        "lesson": trace.lesson,
        "inputs": plain(trace.inputs),
        "answers": answers,
        "score": {"correct": summary.correct, "answered": summary.answered, "total": summary.total},
        "review": list(summary.review),
        "stopped": result.stopped or None,
        "stopped_at": result.at,
        "go_on": resume(result.at) if result.at is not None else None,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
