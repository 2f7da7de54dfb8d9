"""Quiz and progress screens: questions, replies, the end summary, ``nntutor progress``.

Text only depends on the question, never on the terminal: the same quiz gives
the same words whatever the width or colour (lines wrap between words at the
terminal's width; a piped quiz at :data:`TRANSCRIPT_WIDTH`). With ``--json`` the screens go to
stderr so stdout holds only the JSON document.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import IO, Any

import numpy as np
from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.text import Text

from nntutor.errors import InputError
from nntutor.escapes import escape_controls
from nntutor.numfmt import fmt
from nntutor.render import output
from nntutor.render.json import plain
from nntutor.render.streams import writes_unicode
from nntutor.render.terminal import (
    STYLE_DIM,
    STYLE_FORMULA,
    STYLE_LABEL,
    STYLE_TITLE,
    STYLE_WARNING,
    STYLE_WORKED,
    Command,
    indent,
    step_renderable,
    value_renderables,
)
from nntutor.trace import Value, classify

PROMPT = "answer> "
TRANSCRIPT_WIDTH = 100
"""Width of a piped quiz (text wraps between words): a transcript does not depend on $COLUMNS."""
INPUT_LIMIT = 16  # values shown with a question: up to 16 rows and columns in full (more are elided)
COMMANDS_TEXT = "Type a number (7/13, e^2, sqrt(2)/2 work), or: hint, show, skip, quit."
CHOICE_COMMANDS_TEXT = "Type the number of your choice, or: hint, show, skip, quit."


def commands_text(question) -> str:
    """What may be typed at the prompt of this question (a choice question takes no arithmetic)."""
    return CHOICE_COMMANDS_TEXT if question is not None and question.kind == "choice" else COMMANDS_TEXT


MAX_LINE_CHARS = 1_000
"""The longest answer line read as it is (answers themselves are at most 200 characters)."""
MAX_SKIPPED_CHARS = 1_000_000
"""How much of a longer line is skipped, looking for its end, before the input is given up on."""


def make_reader(stdin: IO[str] | None, screen: IO[str]) -> Callable[[], str | None]:
    """``read()`` for :func:`nntutor.quiz.questions.play`: a prompt and one line (``None`` at end of input).

    In a terminal the line is read with ``input`` (line editing); otherwise
    lines are read one by one from the pipe and echoed (control characters
    escaped), so a transcript reads like a session. A closed stdin is the end of
    input. A line is never read whole when it is long: its first
    :data:`MAX_LINE_CHARS` characters are kept (the answer parser refuses them as
    too long) and the rest is skipped up to its line break; a line that has none
    within :data:`MAX_SKIPPED_CHARS` (``< /dev/zero``, a file without newlines)
    ends the quiz with an ``InputError`` instead of being read without end.
    """
    if stdin is None:
        return lambda: None
    interactive = output.is_terminal(stdin) and output.is_terminal(screen)

    def read() -> str | None:
        screen.write(PROMPT)
        screen.flush()
        if interactive:
            try:
                return input()[: MAX_LINE_CHARS + 1]
            except EOFError:
                screen.write("\n")
                return None
        line = stdin.readline(MAX_LINE_CHARS + 2)  # the line, its line break and one character more
        if line == "":
            screen.write("\n")
            return None
        if not line.endswith("\n") and len(line) > MAX_LINE_CHARS:
            _skip_rest_of_line(stdin, len(line))
        text = line.rstrip("\r\n")[: MAX_LINE_CHARS + 1]
        shown = escape_controls(text[:MAX_LINE_CHARS]) + ("…" if len(text) > MAX_LINE_CHARS else "")
        screen.write(shown + "\n")
        return text

    return read


def _skip_rest_of_line(stdin: IO[str], read_so_far: int) -> None:
    while True:
        chunk = stdin.readline(64 * 1024)
        if chunk == "" or chunk.endswith("\n"):
            return
        read_so_far += len(chunk)
        if read_so_far > MAX_SKIPPED_CHARS:
            raise InputError(
                "stdin", f"a line runs past {MAX_SKIPPED_CHARS:,} characters without a line break (expected one answer a line)"
            )


class QuizView:
    """Prints a quiz as it is played (``show`` is the callback :func:`nntutor.quiz.questions.play` wants)."""

    def __init__(self, stream: IO[str], *, precision: int = 4) -> None:
        self.stream = stream
        self.precision = precision
        self._current = None

    def print(self, *renderables: RenderableType) -> None:
        """Styled in a terminal, wrapped between words at its width; plain text without trailing
        spaces otherwise, wrapped at :data:`TRANSCRIPT_WIDTH`."""
        output.emit(*renderables, stream=self.stream, width=TRANSCRIPT_WIDTH)

    def notice(self, message: str) -> None:
        self.print(Text("note: " + message, style=STYLE_WARNING))

    def show(self, event: str, data: Any) -> None:
        if event == "question":
            number, total, question = data
            self._current = question
            self.print(question_renderable(question, number, total, self.precision))
        elif event == "reply":
            self.print(reply_renderable(data, self.precision, self._current))
            if data.kind in ("unreadable", "bad-choice") and self._current is not None:
                self.print(Text(self._current.prompt, style=STYLE_TITLE))  # the question again


def _indented(text: Text) -> RenderableType:
    """Text two spaces in, its wrapped lines too."""
    return indent(text)


def _labels_for(values: Sequence[Value], count: int) -> tuple[str, ...] | None:
    """Names for the rows of a matrix shown with a question (or entries of a vector): the first
    list of ``count`` strings among the values shown (token names, class labels), if there is one.

    >>> _labels_for([Value("x", [[1, 2], [3, 4]]), Value("tokens", ["The", "cat"])], 2)
    ('The', 'cat')
    """
    for value in values:
        if classify(value.data) == "labels" and len(value.data) == count:
            return tuple(value.data)
    return None


def _input_line(name: str, data: Any, kind: str, precision: int) -> str | None:
    """An input written on one line (``temperature = 0.5``, ``causal: on``), or None for a table.

    >>> _input_line("x", [1.5, 2], "vector", 4), _input_line("W", np.eye(3), "matrix", 4)
    ('x = [1.5, 2]', 'W: the 3×3 identity')
    """
    if kind == "scalar" and isinstance(data, bool):
        return f"{name}: {'on' if data else 'off'}"
    if kind == "labels":
        return f"{name}: {', '.join(data)}"
    if kind == "text":
        return f"{name}: {data}"
    if kind == "matrix" and isinstance(data, np.ndarray) and data.shape[0] == data.shape[1] and np.array_equal(data, np.eye(data.shape[0])):
        return f"{name}: the {data.shape[0]}×{data.shape[0]} identity"
    if kind == "scalar":
        return f"{name} = {fmt(data, precision)}"
    if kind == "vector" and isinstance(data, (list, tuple)) and all(isinstance(item, (int, float)) for item in data):
        return f"{name} = [{', '.join(fmt(item, precision) for item in data)}]"
    return None


def _given_renderables(values: Sequence[Value], precision: int) -> list[RenderableType]:
    """The values a question shows: the short ones on one line first, then a table for each of the others."""
    parts: list[RenderableType] = []
    line = Text()
    for value in values:
        kind = value.kind
        text = _input_line(value.display_name, value.data, kind, precision)
        if text is None:
            if kind == "matrix" and value.rows is None:
                value = value._replace(rows=_labels_for(values, np.shape(value.data)[0]))
            elif kind == "vector" and value.cols is None:
                value = value._replace(cols=_labels_for(values, np.shape(value.data)[0]))
            parts.extend(value_renderables(value, precision, INPUT_LIMIT))
            continue
        if line:
            line.append("   ")
        line.append(text)
    if line:
        parts.insert(0, line)
    return parts


def question_renderable(question, number: int, total: int, precision: int = 4) -> RenderableType:
    parts: list[RenderableType] = [Text("")]
    parts.append(Rule(Text(f"Question {number}/{total} · {question.lesson}", style=STYLE_TITLE), align="left"))
    if question.given:
        parts.append(Text("Given:" if any(v.name not in question.inputs for v in question.given) else "Inputs:", style=STYLE_LABEL))
        for renderable in _given_renderables(question.given, precision):
            parts.append(_indented(renderable) if isinstance(renderable, Text) else indent(renderable))
    parts.append(Text(question.prompt, style=STYLE_TITLE))
    for i, choice in enumerate(question.choices, start=1):
        parts.append(_indented(Text(f"{i}. {choice}")))
    parts.append(Text(question.tolerance, style=STYLE_DIM))
    parts.append(Text(commands_text(question), style=STYLE_DIM))
    return Group(*parts)


def _answer_lines(question) -> list[RenderableType]:
    parts: list[RenderableType] = []
    for line in question.reveal:
        parts.append(_indented(Text(line, style=STYLE_WORKED)))
    if question.command:
        parts.append(indent(Command("The whole computation: ", question.command, STYLE_DIM)))
    return parts


def reply_renderable(reply, precision: int = 4, question=None) -> RenderableType:
    """What the quiz says to one line typed (``question``: the one being answered)."""
    kind = reply.kind
    if kind == "empty":
        return Text(commands_text(question), style=STYLE_DIM)
    if kind in ("hint", "no-hint"):
        return Text(reply.text, style=STYLE_FORMULA)
    if kind == "unreadable":
        return Text(f"{reply.text}. Try again, or type hint, show, skip or quit.", style=STYLE_WARNING)
    if kind == "bad-choice":
        return Text(reply.text + ".", style=STYLE_WARNING)
    if kind == "quit":
        return Text("Stopping here: everything answered so far is saved.")
    outcome = reply.outcome
    question = outcome.question
    if kind == "right":
        right = f"✓ Right. The answer is {question.expected_text}."
        if outcome.hints:
            right += f" With {outcome.hints} hint{'s' if outcome.hints > 1 else ''}: {fmt(outcome.credit, 2)} of 1 point."
        return Group(Text(right, style="bold green"), *_answer_lines(question))
    if kind == "wrong":
        parts: list[RenderableType] = [
            Text(f"✗ Not quite: you gave {outcome.answer}; the answer is {question.expected_text}.", style="bold red")
        ]
        if outcome.mistake is not None:
            parts.append(Text(f"Your answer is what you get if you {outcome.mistake[1]}.", style=STYLE_WARNING))
        parts.extend(_answer_lines(question))
        return Group(*parts)
    if kind == "revealed":
        parts = [Text(f"The answer is {question.expected_text}.", style=STYLE_LABEL)]
        if question.step is not None:
            parts.append(step_renderable(question.step, question.step_number, precision))
            for line in question.explained or question.reveal[-1:]:
                parts.append(_indented(Text(line, style=STYLE_WORKED)))
            if question.command:
                parts.append(indent(Command("The whole computation: ", question.command, STYLE_DIM)))
        else:
            parts.extend(_answer_lines(question))
        return Group(*parts)
    if kind == "skipped":
        return Text("Skipped: it will come back in a later quiz.", style=STYLE_DIM)
    return Text(reply.text)  # pragma: no cover


def summary_renderable(summary, *, stopped: str = "", due: Sequence[dict[str, Any]] = (), seed: int | None = None) -> RenderableType:
    parts: list[RenderableType] = [Text(""), Rule(Text("Summary", style=STYLE_TITLE), align="left")]
    line = f"Score: {summary.correct}/{summary.asked} right"
    if summary.asked < summary.total:
        line += f" ({summary.asked} of {summary.total} questions answered"
        line += {"interrupt": ", interrupted)", "eof": ", input ended)", "quit": ", you quit)"}.get(stopped, ")")
    parts.append(Text(line, style=STYLE_LABEL))
    if summary.asked:
        after = f"; {summary.hinted} right after hints" if summary.hinted else ""
        parts.append(Text(f"Points: {fmt(summary.credit, 2)} of {summary.asked}{after} ({summary.rule})."))
    if summary.by_lesson:
        parts.append(Text("By lesson:   " + "   ".join(f"{t.name} {t.text}" for t in summary.by_lesson)))
    if summary.by_step:
        parts.append(Text("By kind of step:"))
        for tally in summary.by_step:
            parts.append(_indented(Text(f"{tally.text:>6}  {tally.name}")))
    if summary.review:
        parts.append(Text("Review next:", style=STYLE_LABEL))
        for item in summary.review:
            parts.append(_indented(Text(item)))
    elif summary.asked:
        parts.append(Text("Nothing to review from this quiz."))
    if due:
        parts.append(Text(f"{len(due)} item(s) due for review in all: nntutor quiz (without a lesson) asks them first.", style=STYLE_DIM))
    if seed is not None:
        parts.append(Text(f"Seed {seed}: the same quiz again with --seed {seed}.", style=STYLE_DIM))
    return Group(*parts)


def _choice_fields(question, outcome) -> dict[str, Any]:
    """For a choice question: the lesson file's numbers and the texts, whatever the order shown.

    ``expected`` and ``answer`` are numbers as shown (``choices`` is in that shuffled order);
    ``choice_order`` gives the file's number of each choice shown, ``expected_choice`` and
    ``answer_choice`` the file's numbers of the right choice and of the one given.
    """
    if question.kind != "choice":
        return {}
    chosen = outcome.chosen
    return {
        "choice_order": list(question.order),
        "expected_choice": question.file_number(question.expected),
        "expected_text": question.choices[int(question.expected) - 1],
        "answer_choice": chosen,
        "answer_text": None if chosen is None else question.choices[question.order.index(chosen)],
    }


def quiz_json(result, summary, seed: int | None) -> str:
    """The ``--json`` document: ``questions`` (lesson, prompt, expected, answer, correct, credit, …) and ``score``.

    ``summary`` is ``nntutor.quiz.questions.summarise(result)``: the renderer only formats it.
    ``given`` holds what the question showed (the values the asked element is computed from),
    ``inputs`` every input of the run. Choice questions: see :func:`_choice_fields`.
    """
    questions = []
    for outcome in result.outcomes:
        q = outcome.question
        questions.append(
            {
                "lesson": q.lesson,
                "item": q.item,
                "kind": q.kind,
                "step_kind": q.step_kind,
                "prompt": q.prompt,
                "choices": list(q.choices),
                "inputs": plain(q.inputs),
                "given": {v.name: plain(v.data) for v in q.given},
                "command": q.command,
                "tolerance": q.tolerance,
                "expected": int(q.expected) if q.integer else q.expected,
                "answer": outcome.answer,
                **_choice_fields(q, outcome),
                "value": outcome.value,
                "correct": outcome.correct,
                "revealed": outcome.revealed,
                "skipped": outcome.skipped,
                "hints": outcome.hints,
                "credit": outcome.credit,
                "mistake": None if outcome.mistake is None else {"id": outcome.mistake[0], "name": outcome.mistake[1]},
            }
        )
    doc = {
        "format": 1,
        "seed": seed,
        "questions": questions,
        "score": {
            "correct": summary.correct,
            "asked": summary.asked,
            "total": summary.total,
            "fraction": summary.correct / summary.asked if summary.asked else 0.0,
            "credit": summary.credit,
            "credit_rule": summary.rule,
        },
        "stopped": result.stopped or None,
        "by_lesson": {t.name: {"correct": t.correct, "asked": t.asked, "credit": t.credit} for t in summary.by_lesson},
        "by_step": {t.name: {"correct": t.correct, "asked": t.asked} for t in summary.by_step},
    }
    return json.dumps(doc, indent=2, ensure_ascii=not writes_unicode(sys.stdout)) + "\n"


# --------------------------------------------------------------------------- progress


def _when(at: float, now: float) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))
    ago = now - at
    if ago < 0:
        return stamp
    if ago < 3600:
        rel = f"{int(ago // 60)} min ago"
    elif ago < 86400:
        rel = f"{int(ago // 3600)} h ago"
    else:
        rel = f"{int(ago // 86400)} days ago"
    return f"{stamp} ({rel})"


def _course_row(row: dict[str, Any], now: float, number_width: int) -> Text:
    """One lesson of ``nntutor progress``'s course: ``✓  1 neuron   last … · 2 lesson runs · 3 quiz answers``."""
    mark = "✓" if row["runs"] else "·"
    number = "–" if row["number"] is None else str(row["number"])
    done = []
    if row["last"] is not None:
        done.append(f"last {_when(row['last'], now)}")
    if row["runs"]:
        done.append(f"{row['runs']} lesson run{'s' if row['runs'] != 1 else ''}")
    elif row["answers"]:
        done.append("not studied yet")
    if row["answers"]:
        done.append(f"{row['answers']} quiz answer{'s' if row['answers'] != 1 else ''}")
    if row["number"] is None:
        done.append("no longer a lesson of the course")
    return Text(f"{mark} {number:>{number_width}}  {row['lesson']:<20} {' · '.join(done) or 'not yet'}", style="" if done else STYLE_DIM)


def progress_renderable(report: dict[str, Any], now: float) -> RenderableType:
    """``nntutor progress``: the course in order (studied or not), accuracy, weakest steps, what is due."""
    parts: list[RenderableType] = [Text(f"Progress ({report['path']})", style="bold underline"), Text("")]
    course = report["course"]
    in_course = [row for row in course if row["number"] is not None]
    studied = sum(1 for row in in_course if row["runs"])
    if in_course:
        parts.append(Rule(Text(f"The course: {studied} of {len(in_course)} lessons studied", style=STYLE_TITLE), align="left"))
    elif course:
        parts.append(Rule(Text("Lessons studied", style=STYLE_TITLE), align="left"))
    number_width = max((len(str(row["number"])) for row in in_course), default=1)
    for row in course:
        parts.append(_indented(_course_row(row, now, number_width)))
    if not studied and not report["accuracy"]:
        first = in_course[0]["lesson"] if in_course else None
        start = f"nntutor next (lesson 1, {first}), then nntutor quiz {first}" if first else "nntutor next"
        parts += [Text(""), Text(f"Nothing studied yet. Start with: {start}.")]
        return Group(*parts)
    parts.append(Rule(Text("Quiz accuracy", style=STYLE_TITLE), align="left"))
    if report["accuracy"]:
        for row in report["accuracy"]:
            share = row["correct"] / row["asked"] if row["asked"] else 0.0
            points = f"{fmt(row['credit'], 2)} point(s)"
            parts.append(_indented(Text(f"{row['lesson']:<20} {row['correct']}/{row['asked']} right ({share:.0%}), {points}")))
        parts.append(Text(f"Points: {report['credit_rule']}.", style=STYLE_DIM))
    else:
        parts.append(_indented(Text("No quiz answers yet: nntutor quiz")))
    if report["weakest"]:
        parts.append(Rule(Text("Weakest kinds of step", style=STYLE_TITLE), align="left"))
        for row in report["weakest"]:
            parts.append(_indented(Text(f"{row['step_kind']:<28} {row['correct']}/{row['asked']} right")))
    parts.append(Rule(Text("Due for review", style=STYLE_TITLE), align="left"))
    if report["due"]:
        for row in report["due"]:
            parts.append(_indented(Text(row["prompt"])))
        parts.append(Text("Run nntutor quiz (without a lesson) to review them.", style=STYLE_DIM))
    else:
        parts.append(_indented(Text("Nothing due.")))
    return Group(*parts)


def progress_json(report: dict[str, Any]) -> str:
    return json.dumps(plain(report), indent=2, ensure_ascii=not writes_unicode(sys.stdout)) + "\n"


def stdout_view() -> QuizView:
    return QuizView(sys.stdout)
