"""Every lesson's quiz, over many seeds, drawn at a terminal's size and piped: no internal error.

The lessons come from the registry (every lesson file), so a new lesson is covered without
a line here. Each question is drawn, then answered in the ways a learner answers: wrong,
after every hint, revealed, right. The light run (two seeds, every way) is in the inner
loop; the 50-seed run (each question one of the ways, in turn) is marked slow.
"""

from __future__ import annotations

import io

import pytest

from nntutor.catalog.lessonfile import load_all
from nntutor.quiz import questions as quiz
from nntutor.quiz import session
from nntutor.render import quiz_view
from nntutor.render.output import make_console

LESSONS = load_all()
NAMES = [lesson.name for lesson in LESSONS]


def _wrong(question) -> str:
    if question.kind == "choice":
        return str(1 if question.expected != 1 else 2)
    return repr(question.expected + 1000.0)


def _scripts(question) -> list[list[str]]:
    """The ways a question is answered: wrong; every hint then show; right (after a blank line)."""
    right = str(int(question.expected)) if question.integer else repr(question.expected)
    return [[_wrong(question)], ["hint"] * (len(question.hints) + 1) + ["show"], ["", right]]


class TerminalView(quiz_view.QuizView):
    """The quiz as a terminal 80 columns wide shows it (colour on)."""

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self.console = make_console(stream, width=80, color=True)

    def print(self, *renderables) -> None:
        for renderable in renderables:
            self.console.print(renderable, soft_wrap=True)


def _play(question, which: int | None = None) -> None:
    """Draw the question in both views and answer it every way (``which``: only that way)."""
    scripts = _scripts(question)
    if which is not None:
        scripts = [scripts[which % len(scripts)]]
    for view in (TerminalView(io.StringIO()), quiz_view.QuizView(io.StringIO())):
        view.show("question", (1, 1, question))
        for script in scripts:
            attempt = session.Attempt(question)
            for line in script:
                reply = attempt.respond(line)
                view.show("reply", reply)
            assert reply.outcome is not None, (question.item, script, reply.kind)


def _summary_and_json(questions) -> None:
    from nntutor.quiz.summary import summarise

    outcomes = [session.Attempt(q).respond(_wrong(q)).outcome for q in questions]
    result = session.QuizResult(outcomes, len(questions), len(questions))
    summary = summarise(result)
    quiz_view.QuizView(io.StringIO()).print(quiz_view.summary_renderable(summary, seed=1))
    quiz_view.quiz_json(result, summary, 1)


@pytest.mark.parametrize("name", NAMES)
def test_quiz_of_every_lesson_draws_and_answers_on_a_few_seeds(name):
    lesson = LESSONS[NAMES.index(name)]
    for seed in (1, 2):
        questions = quiz.make_quiz([lesson], count=3, seed=seed)
        assert questions, name
        for question in questions:
            _play(question)
        _summary_and_json(questions)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_quiz_of_every_lesson_over_50_seeds(name):
    lesson = LESSONS[NAMES.index(name)]
    for seed in range(1, 51):  # what ``nntutor quiz NAME --seed N`` asks (5 questions)
        questions = quiz.make_quiz([lesson], count=5, seed=seed)
        assert len(questions) == 5, (name, seed)
        for number, question in enumerate(questions):
            _play(question, seed + number)  # each answered one way: wrong, hints then show, or right
        _summary_and_json(questions)


def test_a_question_showing_a_list_of_layers_draws_them_one_by_one(monkeypatch):
    """The cause of the crash: mlp's ``weights`` input, a list of {W, b} per layer, was drawn as a
    vector of numbers. A question that shows every input (no ``uses``) draws it layer by layer."""
    from nntutor.render.output import plain_text
    from nntutor.walkthroughs import mlp

    every_input = tuple(t._replace(uses=None) for t in mlp.WALKTHROUGH.targets)
    monkeypatch.setattr(mlp, "WALKTHROUGH", mlp.WALKTHROUGH._replace(targets=every_input))
    question = next(q for q in quiz.make_quiz([LESSONS[NAMES.index("mlp")]], count=3, seed=1) if q.kind == "numeric")
    assert any(value.name == "weights" and value.kind == "ragged" for value in question.given)
    text = plain_text([quiz_view.question_renderable(question, 1, 1)], 80)
    assert "weights[0]" in text and "weights[2]" in text
    _play(question)


@pytest.mark.parametrize("name", ["mlp", "pipeline"])
def test_the_lessons_that_crashed_run_through_the_command_line(run_cli, name):
    """``nntutor quiz mlp --seed 1`` ended in an internal error (a list of layer dicts drawn as a vector)."""
    for seed in (1, 2, 3):
        result = run_cli("quiz", name, "--seed", str(seed), input="show\n" * 5)
        assert result.exit_code == 0, (seed, result.stdout[-800:], result.stderr)
        assert "internal error" not in result.stderr and "Score: 0/5 right" in result.stdout


def test_review_mode_with_no_input_runs_through(run_cli):
    """``nntutor quiz --seed 11 </dev/null`` (review mode, input ended at once)."""
    assert run_cli("lesson", "mlp").exit_code == 0
    result = run_cli("quiz", "--seed", "11", input="")
    assert result.exit_code == 0, result.stderr
    assert "internal error" not in result.stderr and "input ended" in result.stdout
