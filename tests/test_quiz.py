"""Quiz mode: questions from traces, answering, hints, mistake diagnosis, whole quizzes through stdin."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.quiz import mistakes, session
from nntutor.quiz import questions as quiz


def first_question(lesson: str, seed: int):
    """The first question ``nntutor quiz LESSON --seed SEED --count 1`` asks."""
    return quiz.make_quiz([load_lesson(lesson)], count=1, seed=seed)[0]


def _softmax(row):
    e = np.exp(np.asarray(row, dtype=float) - np.max(row))
    return e / e.sum()


# --------------------------------------------------------------------------- expected values


def test_seed_3_attention_scores_hand_worked():
    q = first_question("attention", 3)
    assert q.prompt.startswith("attention · Score every query against every key: compute scores[2,3]")
    assert "row sat, column down" in q.prompt
    x = np.asarray(q.inputs["x"])
    assert x[2].tolist() == [-0.14, 0.53, 0.61] and x[3].tolist() == [0.89, 0.52, 0.23]
    # identity projections: S[2,3] = x2·x3 = (-0.14)(0.89) + 0.53(0.52) + 0.61(0.23)
    #                                  = -0.1246 + 0.2756 + 0.1403 = 0.2913
    assert q.expected == pytest.approx(0.2913, abs=1e-12)
    assert not q.integer and q.tolerance == "Answer within 1% relative or 0.005 absolute."


def test_seed_3_softmax_shift_hand_worked():
    q = first_question("softmax", 3)
    assert "compute shifted[2]" in q.prompt and "row rainy" in q.prompt
    assert np.asarray(q.inputs["logits"]).tolist() == [1.71, 2.13, 1.29, 0.36, 0.53]
    # T = 1: z2 − max z = 1.29 − 2.13 = −0.84
    assert q.expected == pytest.approx(-0.84, abs=1e-12)


def _independent(lesson: str, name: str, index: tuple[int, ...], inputs: dict) -> float:
    """The asked element recomputed from the shown inputs with plain Python/NumPy (not the lesson's core)."""
    if lesson == "neuron":
        x, w, b = np.asarray(inputs["x"]), np.asarray(inputs["w"]), inputs["b"]
        dot = float(sum(xi * wi for xi, wi in zip(x, w, strict=True)))
        z = dot + b
        if name == "products":
            return x[index[1]] * w[index[1]]
        if name == "dot":
            return dot
        if name == "z":
            return z
        return {"relu": max(0.0, z), "sigmoid": 1 / (1 + math.exp(-z)), "tanh": math.tanh(z)}[inputs["activation"]]
    if lesson == "softmax":
        z = np.asarray(inputs["logits"])
        p = _softmax(z)
        if name == "shifted":
            return z[index[0]] - z.max()
        if name == "exp":
            return math.exp(z[index[0]] - z.max())
        if name == "sum":
            return float(np.exp(z - z.max()).sum())
        if name == "probs":
            return p[index[0]]
        return -math.log(p[inputs["target"]])
    x = np.asarray(inputs["x"])
    s = x @ x.T
    scaled = s / math.sqrt(x.shape[1])
    a = np.vstack([_softmax(row) for row in scaled])
    return {"scores": s, "scaled": scaled, "weights": a, "output": a @ x}[name][index]


@pytest.mark.parametrize("lesson", ["neuron", "softmax", "attention"])
def test_every_numeric_question_matches_an_independent_computation(lesson):
    questions = quiz.make_quiz([load_lesson(lesson)], count=12, seed=11)
    checked = 0
    for q in questions:
        if q.kind != "numeric":
            continue
        want = _independent(lesson, q.item.split(".")[-1], q.index, q.inputs)
        assert q.expected == pytest.approx(want, rel=1e-12, abs=1e-12), q.prompt
        checked += 1
    assert checked >= 4


def test_same_seed_same_quiz_other_seed_other_quiz():
    lessons = [load_lesson("softmax"), load_lesson("attention")]
    a = quiz.make_quiz(lessons, count=5, seed=42)
    b = quiz.make_quiz(lessons, count=5, seed=42)
    c = quiz.make_quiz(lessons, count=5, seed=43)
    assert [(q.prompt, q.expected) for q in a] == [(q.prompt, q.expected) for q in b]
    assert [(q.prompt, q.expected) for q in a] != [(q.prompt, q.expected) for q in c]


def test_random_inputs_keep_shapes_and_bounds():
    lesson = load_lesson("softmax")
    rng = np.random.default_rng(0)
    for _ in range(20):
        values = quiz.random_inputs(lesson, rng)
        assert values["logits"].shape == (5,)
        assert values["temperature"].tolist() == [1.0]
        assert 0 <= values["target"] < 5
        assert np.array_equal(values["logits"], np.round(values["logits"], 2))  # two decimals at most: readable
        for token in quiz.flag_text(values["logits"]).split(","):
            assert len(token.split(".")[-1]) <= 2
    values = quiz.random_inputs(load_lesson("attention"), np.random.default_rng(1))
    assert values["x"].shape == (4, 3)


def test_worked_example_does_not_give_the_answer_away():
    """Hint 2 (a worked element) never contains '= <expected>' for the asked element."""
    for seed in range(15):
        for q in quiz.make_quiz([load_lesson("softmax"), load_lesson("attention")], count=3, seed=seed):
            if q.kind == "numeric":
                shown = quiz.fmt(q.expected, 4)
                for hint in q.hints:
                    assert not quiz._reveals(hint, shown), (q.prompt, hint)


def test_generic_questions_for_a_builder_without_settings(monkeypatch):
    """A lesson module that declares no targets still gets numeric questions from its trace."""
    from nntutor.walkthroughs import attention

    monkeypatch.setattr(attention, "WALKTHROUGH", attention.WALKTHROUGH._replace(targets=()))
    lesson = load_lesson("attention")
    items = quiz.target_items(lesson)
    assert "attention:softmax.weights" in items and "attention:output.output" in items
    assert not any(item.endswith(".x") for item in items)  # inputs are not asked back
    q = quiz.numeric_question(lesson, np.random.default_rng(5))
    trace = run_lesson(lesson, {"x": ";".join(",".join(repr(v) for v in row) for row in np.asarray(q.inputs["x"]).tolist())})
    step, value = q.item.split(":")[1].split(".")
    assert q.expected in np.asarray(trace.step(step).value(value).data).ravel().tolist()


def test_concept_questions_come_from_the_lesson_file():
    lesson = load_lesson("softmax")
    item = next(i for i in lesson.quiz if i.id == "uniform")
    q = quiz.concept_question(lesson, item)
    assert q.expected == 0.25 and q.kind == "number" and q.item == "softmax:quiz.uniform"
    choice = quiz.concept_question(lesson, next(i for i in lesson.quiz if i.kind == "choice"))
    assert choice.integer and choice.tolerance.startswith("Answer with the number of your choice (1–")


def test_review_weights_favour_items_answered_wrong():
    lessons = [load_lesson("softmax")]
    plain = quiz.make_quiz(lessons, count=1, seed=7)
    favoured = quiz.make_quiz(lessons, count=1, seed=7, review={"softmax:quiz.uniform": 1000.0})
    assert favoured[0].item == "softmax:quiz.uniform"
    assert plain[0].item != "softmax:quiz.uniform"


# --------------------------------------------------------------------------- answering


def test_attempt_replies():
    q = first_question("softmax", 3)  # shifted[2] = -0.84
    attempt = session.Attempt(q)
    assert attempt.respond("").kind == "empty"
    reply = attempt.respond("__import__('os').system('x')")
    assert reply.kind == "unreadable" and reply.text.startswith("could not read that as a number")
    assert attempt.respond("9**9**9**9").kind == "unreadable"
    assert attempt.respond("x" * 10_000).kind == "unreadable"
    assert attempt.respond("HINT").kind == "hint"
    right = attempt.respond("-21/25")  # = -0.84 exactly
    assert right.kind == "right" and right.outcome.correct and right.outcome.hints == 1
    assert session.Attempt(q).respond("-0.845").kind == "right"  # within 0.005
    assert session.Attempt(q).respond("-0.86").kind == "wrong"


def test_hints_are_staged_formula_then_worked_element():
    q = first_question("attention", 3)
    attempt = session.Attempt(q)
    first = attempt.respond("hint").text
    second = attempt.respond("hint").text
    assert first.startswith("Hint 1/") and "S = Q·Kᵀ" in first
    assert second.startswith("Hint 2/") and "A worked element of the same step: S[1,0] = q1·k0" in second
    for _ in range(len(q.hints) - 2):
        assert attempt.respond("hint").kind == "hint"
    assert attempt.respond("hint").kind == "no-hint"


def test_choice_answers_must_name_a_choice():
    lesson = load_lesson("attention")
    q = quiz.concept_question(lesson, lesson.quiz[0])
    assert session.Attempt(q).respond("4").kind == "bad-choice"
    assert session.Attempt(q).respond("1.5").kind == "bad-choice"
    assert session.Attempt(q).respond("1").kind == "right"
    assert session.Attempt(q).respond("2").kind == "wrong"


# --------------------------------------------------------------------------- mistakes


def _case(lesson_name, raw, step, value, index):
    from nntutor.catalog.run import parse_args, prepare

    lesson = load_lesson(lesson_name)
    prepared = prepare(lesson, parse_args(lesson, raw))
    trace = prepared.build()
    case = mistakes.Case(prepared, trace, step, value, index)
    return {m.id: v for m, v in mistakes.alternatives(prepared.walkthrough.mistakes, case)}, case


def test_attention_without_sqrt_dk_hand_worked():
    found, case = _case("attention", {"x": "1,0;0,1"}, "softmax", "weights", (0, 0))
    # scaled: A[0,0] = e^(1/√2) / (e^(1/√2) + e^0) = 2.0281 / 3.0281 = 0.66976
    assert case.element() == pytest.approx(0.6697615493266569, abs=1e-12)
    # unscaled: e^1 / (e^1 + 1) = 2.71828 / 3.71828 = 0.73106
    assert found["no-scale"] == pytest.approx(0.7310585786300049, abs=1e-12)
    # not normalised: e^(S'[0,0] − row max) = e^0 = 1
    assert found["not-normalised"] == 1.0


def test_neuron_mistakes_hand_worked():
    raw = {"activation": "sigmoid"}  # x = 1.5,2,-0.5; w = 0.5,-1,0.3; b = 0.5
    found, _ = _case("neuron", raw, "sum", "z", ())
    # z = 0.75 − 2 − 0.15 + 0.5 = −0.9; without the bias: −1.4
    assert found == {"no-bias": pytest.approx(-1.4)}
    found, case = _case("neuron", raw, "activation", "y", ())
    assert case.element() == pytest.approx(1 / (1 + math.exp(0.9)))  # σ(−0.9) = 0.28905
    assert found["relu-for-sigmoid"] == 0.0  # ReLU(−0.9) = 0
    assert found["no-bias"] == pytest.approx(1 / (1 + math.exp(1.4)))  # σ(−1.4) = 0.19782
    assert found["no-activation"] == pytest.approx(-0.9)


def test_cross_entropy_log_base_mistakes_hand_worked():
    found, case = _case("softmax", {"temperature": "1", "target": "0"}, "loss", "loss", ())
    # p0 = 1 / (1 + e^-0.2 + e^-0.8 + e^-1.2 + e^-1.4)
    #    = 1 / (1 + 0.818731 + 0.449329 + 0.301194 + 0.246597) = 1 / 2.815851 = 0.355132
    assert case.element() == pytest.approx(1.035264, abs=1e-6)  # −ln 0.355132
    assert found["log10"] == pytest.approx(0.449610, abs=1e-6)  # −log10 0.355132 = 1.035264 / ln 10
    assert found["log2"] == pytest.approx(1.493571, abs=1e-6)  # −log2 0.355132 = 1.035264 / ln 2


def test_softmax_not_normalised_uses_the_exp_values():
    found, case = _case("softmax", {"logits": "2,1,0.1", "temperature": "1"}, "probs", "probs", (1, 0))
    # e^(1 − 2) = 0.367879 (instead of p1 = 0.367879 / (1 + 0.367879 + 0.149569) = 0.367879 / 1.517448 = 0.242433)
    assert case.element() == pytest.approx(0.242433, abs=1e-6)
    assert found["not-normalised"] == pytest.approx(0.367879, abs=1e-6)


def test_layernorm_unbiased_variance_hand_worked():
    # x = 1,2,3,4: μ = 2.5, Σ(x−μ)² = 2.25 + 0.25 + 0.25 + 2.25 = 5; biased σ² = 5/4 = 1.25, unbiased 5/3
    found, case = _case("layernorm", {}, "variance", "var", ())
    assert case.element() == pytest.approx(1.25)
    assert found["unbiased-variance"] == pytest.approx(5 / 3)
    found, case = _case("layernorm", {}, "normalize", "normalized", (3,))
    assert case.element() == pytest.approx(1.341635, abs=1e-6)  # 1.5 / √(1.25 + 1e-5)
    assert found["unbiased-variance"] == pytest.approx(1.161892, abs=1e-6)  # 1.5 / √(5/3 + 1e-5)


def test_layernorm_unbiased_variance_per_row_hand_worked():
    # row 1 = 2,0,1,5: μ = 2, deviations 0,−2,−1,3, Σ = 14; biased σ² = 3.5, unbiased 14/3
    two_rows = {"x": "1,2,3,4;2,0,1,5"}
    found, case = _case("layernorm", two_rows, "variance", "var", (1,))
    assert case.element() == pytest.approx(3.5) and found["unbiased-variance"] == pytest.approx(14 / 3)
    found, case = _case("layernorm", two_rows, "normalize", "normalized", (1, 2))
    assert found["unbiased-variance"] == pytest.approx(-1 / math.sqrt(14 / 3 + 1e-5))


def test_loss_log_bases_hand_worked():
    found, case = _case("loss", {}, "loss", "loss", ())  # probs 0.1,0.2,0.6,0.1, target 2
    assert case.element() == pytest.approx(0.510826, abs=1e-6)  # −ln 0.6
    assert found["log10"] == pytest.approx(0.221849, abs=1e-6)  # −log10 0.6
    assert found["log2"] == pytest.approx(0.736966, abs=1e-6)  # −log2 0.6


def test_gradient_step_with_the_wrong_sign_hand_worked():
    # a = 1, b = 10, start (2, 1), η = 0.08: x ← x·(1 − 2·1·0.08) = 0.84x; the wrong sign gives 1.16x
    found, case = _case("gradient-descent", {}, "result", "path", (1, 0))
    assert case.element() == pytest.approx(1.68)  # 2 × 0.84
    assert found["wrong-sign"] == pytest.approx(2.32)  # 2 × 1.16
    found, case = _case("gradient-descent", {}, "result", "path", (2, 1))
    assert case.element() == pytest.approx(0.36)  # 1 × (1 − 1.6)² = 0.36
    assert found["wrong-sign"] == pytest.approx(6.76)  # 1 × (1 + 1.6)² = 6.76


def test_every_lesson_can_be_quizzed():
    """Generic questions work for every lesson file, including those with no quiz settings."""
    from nntutor.catalog.lessonfile import load_all

    for lesson in load_all():
        questions = quiz.make_quiz([lesson], count=3, seed=0)
        assert len(questions) == 3, lesson.name
        numeric = quiz.numeric_question(lesson, np.random.default_rng(0))
        assert numeric is not None and math.isfinite(numeric.expected), lesson.name
        assert numeric.hints and numeric.reveal, lesson.name


def test_check_rejects_duplicate_mistakes_and_values_that_do_not_exist(monkeypatch):
    from nntutor.catalog.check import cross_references
    from nntutor.walkthroughs import attention
    from nntutor.walkthroughs._declare import Mistake

    declared = attention.WALKTHROUGH
    assert {m.id for m in declared.mistakes} >= {"no-scale", "not-normalised"}
    assert cross_references(load_lesson("attention")) == []
    again = Mistake("no-scale", "again", lambda case: None, values=("weigths",))
    monkeypatch.setattr(attention, "WALKTHROUGH", declared._replace(mistakes=(*declared.mistakes, again)))
    problems = [str(p) for p in cross_references(load_lesson("attention"))]
    assert any(p.endswith("attention.py: mistakes.no-scale: duplicate mistake id") for p in problems), problems
    assert any(p.endswith("attention.py: mistakes.no-scale: 'weigths' is no value of 'attention'") for p in problems), problems


# --------------------------------------------------------------------------- whole quizzes through the CLI


def _json(result):
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_cli_right_answer(run_cli):
    q = first_question("attention", 3)
    doc = _json(run_cli("quiz", "attention", "--seed", "3", "--count", "1", "--json", input="0.2913\n"))
    (item,) = doc["questions"]
    assert item["lesson"] == "attention" and item["prompt"] == q.prompt
    assert item["expected"] == pytest.approx(0.2913) and item["answer"] == "0.2913"
    assert item["correct"] is True and item["revealed"] is False
    assert {k: doc["score"][k] for k in ("correct", "asked", "total", "fraction", "credit")} == {
        "correct": 1, "asked": 1, "total": 1, "fraction": 1.0, "credit": 1.0,
    }


def test_cli_text_screens(run_cli):
    result = run_cli("quiz", "attention", "--seed", "3", "--count", "1", input="0.29\n")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Question 1/1 · attention" in out and "compute scores[2,3]" in out
    assert "-0.1400" in out  # the inputs are shown
    assert "answer> 0.29" in out and "✓ Right. The answer is 0.2913." in out
    assert "Score: 1/1 right" in out and "Seed 3" in out


def test_cli_wrong_unparseable_hint_show_skip(run_cli):
    script = "999\nabc\nhint\nhint\nshow\nskip\n"
    result = run_cli("quiz", "softmax", "--seed", "3", "--count", "3", "--json", input=script)
    doc = _json(result)
    wrong, shown, skipped = doc["questions"]
    assert wrong["answer"] == "999" and wrong["correct"] is False and wrong["revealed"] is False
    assert shown["revealed"] is True and shown["answer"] is None and shown["hints"] == 2 and shown["correct"] is False
    assert skipped["skipped"] is True
    screen = result.stderr  # with --json the screens go to stderr
    assert "✗ Not quite: you gave 999; the answer is -0.84." in screen
    assert "could not read that as a number" in screen
    assert screen.count("compute exp[4]") == 2  # abc: the question is asked again
    assert screen.count("answer> ") == 6  # abc asked the same question again
    assert "Hint 1/" in screen and "Hint 2/" in screen
    assert "Step 3 · Exponentiate" in screen  # show: the worked step


def test_cli_printf_example_from_the_issue(run_cli):
    doc = _json(run_cli("quiz", "softmax", "--seed", "3", "--json", input="0.5\nshow\n"))
    assert [q["answer"] for q in doc["questions"]] == ["0.5", None]
    assert [q["revealed"] for q in doc["questions"]] == [False, True]
    assert doc["score"]["total"] == 5 and doc["stopped"] == "eof"


def test_cli_quit_saves_what_was_answered(run_cli):
    result = run_cli("quiz", "softmax", "--seed", "3", "--count", "5", input="-0.84\nquit\n")
    assert result.exit_code == 0
    assert "Stopping here: everything answered so far is saved." in result.stdout
    assert "Score: 1/1 right (1 of 5 questions answered, you quit)" in result.stdout
    progress = _json(run_cli("progress", "--json"))
    assert progress["accuracy"] == [{"lesson": "softmax", "correct": 1, "asked": 1, "credit": 1.0}]


def test_cli_mistake_is_named(run_cli):
    q = first_question("attention", 39)
    assert "compute weights[2,2]" in q.prompt
    x = np.asarray(q.inputs["x"])
    unscaled = _softmax((x @ x.T)[2])[2]  # the same weight without ÷√3
    assert unscaled == pytest.approx(0.596199, abs=1e-6)
    result = run_cli("quiz", "attention", "--seed", "39", "--count", "1", input=f"{unscaled:.4f}\n")
    assert result.exit_code == 0
    assert "Your answer is what you get if you forgot to divide the scores by √d_k." in result.stdout
    doc = _json(run_cli("quiz", "attention", "--seed", "39", "--count", "1", "--json", input="0.596\n"))
    assert doc["questions"][0]["mistake"] == {"id": "no-scale", "name": "forgot to divide the scores by √d_k"}


def test_cli_hostile_answers_are_refused(run_cli):
    script = "__import__('os').system('x')\n().__class__\n9**9**9**9\n1e999999999\n" + "1" * 10_000 + "\nquit\n"
    result = run_cli("quiz", "softmax", "--seed", "3", "--count", "1", input=script)
    assert result.exit_code == 0
    assert result.stdout.count("could not read that as a number") == 5
    assert "Score: 0/0 right" in result.stdout


def test_cli_question_text_does_not_depend_on_width(run_cli, monkeypatch):
    outputs = []
    for columns in ("40", "200"):
        monkeypatch.setenv("COLUMNS", columns)
        result = run_cli("quiz", "attention", "--seed", "3", "--count", "1", input="show\n")
        outputs.append([line for line in result.stdout.splitlines() if "compute" in line or "answer is" in line])
    assert outputs[0] == outputs[1] and outputs[0]


def test_cli_without_lessons_uses_studied_ones(run_cli):
    assert run_cli("lesson", "softmax").exit_code == 0
    doc = _json(run_cli("quiz", "--seed", "1", "--count", "4", "--json", input=""))
    assert doc["score"]["total"] == 4
    assert doc["questions"] == []  # input ended at once: nothing answered
    result = run_cli("quiz", "--seed", "1", "--count", "3", input="skip\nskip\nskip\n")
    assert result.stdout.count("Question ") == 3 and result.stdout.count("· softmax") == 3


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (("--count", "0"), "--count"),
        (("--count", "abc"), "--count"),
        (("--count", "1000"), "--count"),
        (("--seed", "-1"), "--seed"),
        (("--seed", "x"), "--seed"),
        (("nosuch",), "lesson"),
    ],
)
def test_cli_bad_flags(run_cli, args, flag):
    result = run_cli("quiz", *args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert line.startswith(f"error: {flag}")


def test_cli_review_mode_asks_what_was_missed_first(run_cli):
    wrong = run_cli("quiz", "softmax", "--seed", "3", "--count", "1", input="0.5\n")  # shifted[2] is -0.84
    assert "✗ Not quite" in wrong.stdout
    doc = _json(run_cli("quiz", "--count", "2", "--json", input="skip\nskip\n"))
    assert doc["questions"][0]["item"] == "softmax:shift.shifted"  # due again straight away
    assert {q["lesson"] for q in doc["questions"]} == {"softmax"}  # only lessons studied


def test_first_items_come_first():
    lessons = [load_lesson("softmax"), load_lesson("neuron")]
    questions = quiz.make_quiz(lessons, count=3, seed=0, first=["neuron:quiz.bias-role", "softmax:sum.sum", "nosuch:x.y"])
    assert [q.item for q in questions[:2]] == ["neuron:quiz.bias-role", "softmax:sum.sum"]
    assert len(questions) == 3
