"""``nntutor lesson NAME --practice``: what each step asks, judging, known mistakes, piped sessions, JSON, the store."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from nntutor.catalog.lessonfile import load_all, load_lesson
from nntutor.catalog.run import parse_args, prepare
from nntutor.numfmt import fmt
from nntutor.quiz import practice
from nntutor.quiz.mistakes import element_of
from nntutor.trace import concrete
from tests.helpers import assert_refused

LESSONS = [lesson.name for lesson in load_all()]


def planned(name: str, raw: dict | None = None, first: int = 1):
    lesson = load_lesson(name)
    prepared = prepare(lesson, parse_args(lesson, raw or {}))
    trace = prepared.build()
    return trace, practice.plan(lesson, prepared, trace, first=first)


def exercises(name: str, raw: dict | None = None, first: int = 1):
    return [p.exercise for p in planned(name, raw, first)[1] if p.exercise is not None]


def typed(value: float) -> str:
    """An answer as a learner would type it: 4 decimals (integers as they are)."""
    return fmt(value, 4)


def _softmax(row):
    e = np.exp(np.asarray(row, dtype=float) - np.max(row))
    return e / e.sum()


# --------------------------------------------------------------------------- what is asked, hand-worked


ATTENTION_X = np.array([[1, 0, 0.5], [0.5, 1, 0.2], [0.2, 0.3, 1], [1, 0.5, 0.3]])


def test_attention_asks_the_worked_elements_hand_worked():
    asked = exercises("attention")
    assert [e.ask for e in asked] == ["S[1,0] = q1·k0 = ?", "S′[1,0] = 0.6 / √3 = ?", "A[1,0] = ?", "O[1,0] = ?"]
    assert [e.index for e in asked] == [(1, 0)] * 4
    # by hand: q1·k0 = 0.5×1 + 1×0 + 0.2×0.5 = 0.6; 0.6 / √3 = 0.34641
    assert asked[0].question.expected == pytest.approx(0.6, abs=1e-15)
    assert asked[1].question.expected == pytest.approx(0.6 / math.sqrt(3), abs=1e-15)
    # an independent implementation (identity projections: Q = K = V = X)
    scores = ATTENTION_X @ ATTENTION_X.T / math.sqrt(3)
    weights = np.apply_along_axis(_softmax, 1, scores)
    assert asked[2].question.expected == pytest.approx(weights[1, 0], abs=1e-14)
    assert asked[2].question.expected == pytest.approx(0.2086, abs=5e-5)
    assert asked[3].question.expected == pytest.approx((weights @ ATTENTION_X)[1, 0], abs=1e-14)
    # the hint plugs the numbers in; the intro says where the entry is
    assert asked[0].question.hints == ("S[1,0] = q1·k0 = 0.5×1 + 1×0 + 0.2×0.5 = ?",)
    assert asked[0].intro == "Your turn: compute “raw scores Q·Kᵀ” at row cat, column The."
    assert asked[2].question.hints[0].endswith("A[1,0] = 0.6714 / 3.2185 = ?")


def test_the_projections_step_has_no_target_and_asks_nothing():
    trace, plans = planned("attention")
    assert plans[0].step.id == "projections" and plans[0].exercise is None
    assert plans[0].given == tuple(plans[0].step.values)


def test_the_asked_value_is_held_back_and_what_it_needs_is_shown():
    _, plans = planned("attention")
    softmax_step = plans[3]
    assert [v.name for v in softmax_step.given] == ["exp", "row_sum"]  # the numbers A[1,0] needs
    assert [v.name for v in softmax_step.held] == ["weights"]
    # a running sum would give w·x away: it is held back with the answer
    _, neuron = planned("neuron")
    assert neuron[1].exercise.ask == "w·x = ?"
    assert "running" in [v.name for v in neuron[1].held]


def test_softmax_exercises_hand_worked():
    asked = exercises("softmax")
    logits, temperature = np.array([2.0, 1.8, 1.2, 0.8, 0.6]), 0.5
    exps = np.exp(logits / temperature - np.max(logits / temperature))
    by_step = {e.question.step_kind: e for e in asked}
    assert by_step["softmax.exp"].question.expected == pytest.approx(math.exp(3.6 - 4.0), abs=1e-15)  # cloudy: e^(-0.4)
    assert by_step["softmax.sum"].question.expected == pytest.approx(exps.sum(), abs=1e-14)  # 2.0237
    assert by_step["softmax.probs"].question.expected == pytest.approx(1 / exps.sum(), abs=1e-14)  # p(sunny) = 0.4941
    assert by_step["softmax.probs"].ask == "p(sunny) = ?"


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_lesson_asks_something_and_the_answer_is_the_float_the_trace_holds(lesson):
    trace, plans = planned(lesson)
    asked = [p for p in plans if p.exercise is not None]
    assert asked, f"{lesson}: --practice asks nothing"
    for plan in asked:
        exercise = plan.exercise
        data = trace.step(plan.step.id).value(exercise.value).data
        expected = element_of(concrete(data), exercise.index)
        assert exercise.question.expected == expected  # exact: not read back from the worked text
        assert exercise.ask.endswith("= ?")
        assert exercise.question.hints
        assert not any(exercise.value == v.name for v in plan.given)


# --------------------------------------------------------------------------- answering


def _answer_all(lesson: str, lines_for):
    """Play the practice with ``lines_for(exercise) -> [lines]``; returns the result and the events shown."""
    trace, plans = planned(lesson)
    queue: list[str] = []
    for plan in plans:
        if plan.exercise is not None:
            queue.extend(lines_for(plan.exercise))
    lines = iter(queue)
    events = []
    recorded = []
    result = practice.practise(plans, lambda: next(lines, None), lambda e, d: events.append((e, d)), recorded.append,
                               steps=len(trace.steps))
    return result, events, recorded


def test_right_answers_score_in_full_and_are_recorded():
    result, events, recorded = _answer_all("attention", lambda e: [typed(e.question.expected)])
    summary = practice.summarise(result)
    assert result.finished and summary.line == "4 of 4 computed right"
    assert [o.question.item for o in recorded] == [
        "attention:scores.scores", "attention:scale.scaled", "attention:softmax.weights", "attention:output.output",
    ]
    kinds = [e for e, _ in events]
    assert kinds[:4] == ["step", "ask", "reply", "reveal"]  # projections shown whole, then the scores asked


def test_wrong_answers_name_what_to_review():
    result, _, _ = _answer_all("attention", lambda e: ["12345"])
    summary = practice.summarise(result)
    assert summary.line.startswith("0 of 4 computed right; to review: Score every query against every key (step 2, wrong)")
    assert "Softmax along each row (step 4, wrong)" in summary.review


def test_attention_without_sqrt_dk_is_named():
    # S′[1,0] without ÷√d_k is S[1,0] = 0.6 itself
    asked = exercises("attention")
    assert asked[1].question.diagnose(0.6) == ("no-scale", "forgot to divide the scores by √d_k")
    result, events, _ = _answer_all("attention", lambda e: ["0.6"] if e.question.step_kind == "attention.scale" else ["skip"])
    replies = [d[1] for e, d in events if e == "reply"]
    assert replies[1].kind == "wrong" and replies[1].outcome.mistake[0] == "no-scale"


def test_softmax_not_normalised_is_named():
    # p(sunny) without dividing by the sum is its exponential e^(4 − 4) = 1 (at T = 0.5)
    probs = [e for e in exercises("softmax") if e.question.step_kind == "softmax.probs"][0]
    assert probs.question.diagnose(1.0) == ("not-normalised", "did not divide by the sum of the exponentials (softmax not normalised)")
    assert probs.question.diagnose(1 / 2.0237) is None  # right answers are never a mistake


def test_hint_show_skip_and_unreadable_answers():
    lines = iter(["hint", "two", "1,5", "show", "skip"])
    events = []
    trace, plans = planned("attention")
    result = practice.practise(plans, lambda: next(lines, None), lambda e, d: events.append((e, d)), lambda o: None)
    replies = [d[1] for e, d in events if e == "reply"]
    assert [r.kind for r in replies] == ["hint", "unreadable", "unreadable", "revealed", "skipped"]
    assert replies[0].text == "Hint 1/1: S[1,0] = q1·k0 = 0.5×1 + 1×0 + 0.2×0.5 = ?"
    assert result.stopped == "eof" and result.at == 4  # input ended at the third question, step 4
    assert practice.summarise(result).review == ("Score every query against every key (step 2, shown)", "Divide by √d_k = √3 (step 3, skipped)")


def test_from_step_starts_there():
    asked = exercises("attention", first=4)
    assert [e.ask for e in asked] == ["A[1,0] = ?", "O[1,0] = ?"]


def test_clauses_and_results():
    assert practice._cut_at_result("σ(1) = 1 / (1 + e^(-1)) = 1 / (1 + 0.3679) = 0.7311", "0.7311") == "σ(1) = 1 / (1 + e^(-1)) = 1 / (1 + 0.3679)"
    assert practice._cut_at_result("x = 0.5 + 1 = 1.5", "0.5") is None  # 0.5 is an operand, not the result
    assert practice._clauses("sum = 2.4931; weights = 0.4931/2.4931 = 0.1978, 1/2.4931 = 0.4011") == [
        "sum = 2.4931", "weights = 0.4931/2.4931 = 0.1978", "1/2.4931 = 0.4011",
    ]


# --------------------------------------------------------------------------- through the command line


def _expected_lines(lesson: str) -> str:
    return "".join(typed(e.question.expected) + "\n" for e in exercises(lesson))


@pytest.mark.parametrize("lesson", LESSONS)
def test_cli_every_lesson_right_answers_full_score_wrong_answers_review(run_cli, lesson):
    total = len(exercises(lesson))
    right = run_cli("lesson", lesson, "--practice", "--format", "json", input=_expected_lines(lesson))
    assert right.exit_code == 0, right.stderr[-800:]
    doc = json.loads(right.stdout)
    assert doc["score"] == {"correct": total, "answered": total, "total": total}
    assert doc["stopped"] is None and doc["review"] == []
    assert f"{total} of {total} computed right" in right.stderr
    wrong = run_cli("lesson", lesson, "--practice", input="98765\n" * total)
    assert wrong.exit_code == 0, wrong.stderr[-800:]
    assert f"0 of {total} computed right; to review: " in " ".join(wrong.stdout.split())
    assert "Traceback" not in wrong.stdout + wrong.stderr


def test_cli_piped_example_from_the_issue(run_cli):
    result = run_cli("lesson", "attention", "--practice", input="0.6\n0.3464\n")
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert "Your turn: compute “raw scores Q·Kᵀ” at row cat, column The." in text
    assert "answer> 0.6\n  ✓ Right: S[1,0] = q1·k0 = 0.6" in text
    assert "✓ Right: S′[1,0] = 0.6 / √3 = 0.3464" in text
    assert "2 of 4 computed right" in text
    assert "Stopped at step 4 of 5 (input ended). To go on from there:\n  nntutor lesson attention --practice --from-step 4" in text
    # the asked value is drawn only after the answer
    assert text.index("S[1,0] = q1·k0 = ?") < text.index("raw scores Q·Kᵀ (rows: queries")


def test_cli_known_mistakes_are_named(run_cli):
    result = run_cli("lesson", "attention", "--practice", input="0.6\n0.6\n")
    assert "✗ Not quite: you gave 0.6; S′[1,0] = 0.6 / √3 = 0.3464" in result.stdout
    assert "That is what you get if you forgot to divide the scores by √d_k." in result.stdout
    answers = ["0", "0.6703", "2.0237", "1"]  # shift, exp, sum right; p(sunny) = e^0 = 1: not divided by S
    result = run_cli("lesson", "softmax", "--practice", "--format", "json", input="\n".join(answers) + "\n")
    doc = json.loads(result.stdout)
    assert doc["answers"][3]["mistake"]["id"] == "not-normalised"
    assert [a["correct"] for a in doc["answers"]] == [True, True, True, False]
    assert "That is what you get if you did not divide by the sum of the exponentials" in result.stderr


def test_cli_answers_that_are_not_numbers_re_ask_then_end_of_input_stops_with_the_summary(run_cli):
    result = run_cli("lesson", "attention", "--practice", input="six tenths\n1,5\n")
    assert result.exit_code == 0
    text = result.stdout
    assert text.count("could not read that as a number") == 2
    assert text.count("S[1,0] = q1·k0 = ?") == 3  # asked, and asked again after each unreadable line
    assert "0 of 4 computed right" in text and "Stopped at step 2 of 5 (input ended)" in text
    assert "Traceback" not in text + result.stderr


def test_cli_json_document(run_cli):
    result = run_cli("lesson", "attention", "--practice", "--format", "json", input="0.6\nhint\nshow\n")
    doc = json.loads(result.stdout)  # stdout is only the document; screens went to stderr
    assert doc["lesson"] == "attention" and doc["format"] == 1
    first, second = doc["answers"]
    assert first["element"] == "raw scores Q·Kᵀ[1,0]" and first["index"] == [1, 0] and first["expected"] == 0.6
    assert first["correct"] is True and first["value"] == 0.6
    assert second["revealed"] is True and second["hints"] == 1 and second["expected"] == 0.6 / math.sqrt(3)
    assert doc["stopped"] == "eof" and doc["stopped_at"] == 4
    assert doc["go_on"] == "nntutor lesson attention --practice --from-step 4"
    assert "S[1,0] = q1·k0 = ?" in result.stderr


def test_cli_answers_are_saved_like_quiz_answers(run_cli):
    from nntutor.study.progress import Store

    run_cli("lesson", "attention", "--practice", input="0.6\n0.5\n")
    with Store(os.environ["NNTUTOR_HOME"]) as store:
        rows = store.answers()
        due = [row["item"] for row in store.due()]
    assert [(r["item"], r["correct"], r["answer"]) for r in rows] == [
        ("attention:scores.scores", 1, "0.6"), ("attention:scale.scaled", 0, "0.5"),
    ]
    assert rows[0]["prompt"] == "attention · Score every query against every key: S[1,0] = q1·k0 = ?"
    assert due == ["attention:scale.scaled"]  # the wrong one comes back in the next review quiz


def test_cli_practice_from_step_and_flags(run_cli):
    result = run_cli("lesson", "attention", "--practice", "--from-step", "softmax", "--causal", input="")
    # causal attention has a masking step before the softmax: step 5 of 6
    assert "Step 5 · Softmax along each row" in result.stdout and "Step 4 ·" not in result.stdout
    assert "nntutor lesson attention --causal --practice --from-step 5" in result.stdout


@pytest.mark.parametrize(
    ("args", "flag", "fragment"),
    [
        (["--from-step", "99"], "--from-step", "expected a step number from 1 to 5 or a step id (projections, scores"),
        (["--from-step", "softmaxx"], "--from-step", "got 'softmaxx'"),
        (["--output", "a.json"], "--output", "does not go with --practice"),
        (["--vs", "--causal"], "--vs", "does not go with --practice"),
        (["--step"], "--step", "does not go with --practice"),
        (["--format", "markdown"], "--format", "expected text (the session) or json"),
    ],
)
def test_cli_practice_refusals(run_cli, args, flag, fragment):
    line = assert_refused(run_cli("lesson", "attention", "--practice", *args, input="0.6\n"), fragment)
    assert line.startswith(f"error: {flag}:")


@pytest.mark.slow
def test_practice_in_a_subprocess_on_a_pipe(tmp_path):
    import subprocess
    import sys

    env = {**os.environ, "NNTUTOR_HOME": str(tmp_path), "NO_COLOR": "1", "COLUMNS": "80"}
    done = subprocess.run([sys.executable, "-m", "nntutor", "lesson", "attention", "--practice"], input="0.6\n0.3464\n",
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "2 of 4 computed right" in done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) <= 80
