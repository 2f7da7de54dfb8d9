"""A quiz that fits: shuffled choices, what a beginner is asked, what a question shows,
hints and credit, and feedback worked through the element that was asked."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from nntutor.catalog.lessonfile import load_all, load_lesson
from nntutor.catalog.run import parse_args, prepare
from nntutor.numfmt import fmt
from nntutor.quiz import mistakes, session
from nntutor.quiz import questions as quiz
from nntutor.quiz.summary import summarise
from nntutor.render import quiz_view
from nntutor.render.output import plain_text
from nntutor.study.credit import credit
from nntutor.study.progress import Store

LESSONS = load_all()


def _choice_questions(count: int) -> list[quiz.Question]:
    """``count`` choice questions as quizzes with seeds 0, 1, 2 … ask them (every lesson's, in turn)."""
    items = [(lesson, item) for lesson in LESSONS for item in lesson.quiz if item.kind == "choice"]
    found: list[quiz.Question] = []
    seed = 0
    while len(found) < count:
        for lesson, item in items:
            key = f"{lesson.name}:quiz.{item.id}"
            found.append(quiz.concept_question(lesson, item, quiz.choice_rng(seed, key)))
        seed += 1
    return found[:count]


# --------------------------------------------------------------------------- multiple choice


def test_answering_1_to_200_choice_questions_scores_near_chance():
    """Before the shuffle the right answer was choice 1 in 33 of 34 questions: '1' scored about 97%."""
    questions = _choice_questions(200)
    right = sum(session.Attempt(q).respond("1").kind == "right" for q in questions)
    chance = sum(1 / len(q.choices) for q in questions)  # about 200/3
    spread = math.sqrt(sum((1 / len(q.choices)) * (1 - 1 / len(q.choices)) for q in questions))
    assert abs(right - chance) <= 3 * spread, (right, chance)
    assert right < 100


def test_choices_are_shuffled_the_same_way_for_the_same_seed():
    lesson = load_lesson("attention")
    item = next(i for i in lesson.quiz if i.id == "why-sqrt-dk")
    key = "attention:quiz.why-sqrt-dk"
    orders = {quiz.concept_question(lesson, item, quiz.choice_rng(seed, key)).order for seed in range(12)}
    assert len(orders) > 1  # different seeds, different orders
    again = [quiz.concept_question(lesson, item, quiz.choice_rng(5, key)) for _ in range(2)]
    assert again[0].choices == again[1].choices
    q = again[0]
    # whatever the order, the expected number points at the file's right choice
    assert q.choices[int(q.expected) - 1] == item.choices[item.answer - 1]
    assert q.order[int(q.expected) - 1] == item.answer == q.file_number(q.expected)
    assert sorted(q.choices) == sorted(item.choices)
    for seed in range(40):  # a quiz shuffles with that generator
        asked = [x for x in quiz.make_quiz([lesson], count=3, seed=seed) if x.item == key]
        if asked:
            assert asked[0].order == quiz.concept_question(lesson, item, quiz.choice_rng(seed, key)).order
            break
    else:
        pytest.fail("no quiz of 40 asked the question")


def test_shuffling_leaves_the_numeric_questions_of_a_seeded_quiz_alone():
    """The shuffle has its own generator (seed and item), so the hand-worked seeded questions still hold."""
    first = quiz.make_quiz([load_lesson("attention")], count=1, seed=3)[0]
    assert "compute scores[2,3]" in first.prompt and first.expected == pytest.approx(0.2913, abs=1e-12)


class _Recorded:
    def __init__(self) -> None:
        self.answers = []

    def record_answer(self, answer) -> None:
        self.answers.append(answer)


def test_the_store_keeps_the_lesson_files_numbers_not_the_shown_ones():
    lesson = load_lesson("softmax")
    item = next(i for i in lesson.quiz if i.id == "why-subtract-max")
    seed = next(s for s in range(50) if quiz.concept_question(lesson, item, quiz.choice_rng(s, "x")).order[0] != 1)
    q = quiz.concept_question(lesson, item, quiz.choice_rng(seed, "x"))
    wrong_shown = next(k for k in range(1, 4) if k != q.expected)
    store = _Recorded()
    record = session.recorder(store, print)
    record(session.Attempt(q).respond(str(int(q.expected))).outcome)
    record(session.Attempt(q).respond(str(wrong_shown)).outcome)
    right, wrong = store.answers
    assert right.expected == item.answer == 1 and right.answer == "1" and right.correct
    assert wrong.answer == str(q.order[wrong_shown - 1]) and wrong.answer != "1" and not wrong.correct


def test_json_gives_the_shown_numbers_the_order_and_the_texts(run_cli):
    lesson = load_lesson("layer")
    seed = next(s for s in range(200) if quiz.make_quiz([lesson], count=1, seed=s)[0].kind == "choice")
    q = quiz.make_quiz([lesson], count=1, seed=seed)[0]
    item = next(i for i in lesson.quiz if f"layer:quiz.{i.id}" == q.item)
    doc = json.loads(run_cli("quiz", "layer", "--seed", str(seed), "--count", "1", "--json", input="1\n").stdout)
    (answer,) = doc["questions"]
    assert answer["choices"] == list(q.choices) and answer["choice_order"] == list(q.order)
    assert answer["expected"] == int(q.expected) and answer["expected_choice"] == item.answer
    assert answer["expected_text"] == item.choices[item.answer - 1]
    assert answer["answer"] == "1" and answer["answer_choice"] == q.order[0] and answer["answer_text"] == q.choices[0]


def test_choice_questions_do_not_offer_arithmetic():
    lesson = load_lesson("attention")
    q = quiz.concept_question(lesson, lesson.quiz[0], quiz.choice_rng(1, "a"))
    text = plain_text([quiz_view.question_renderable(q, 1, 1)], 100)
    assert "Type the number of your choice, or: hint, show, skip, quit." in text
    assert "7/13" not in text and "e^2" not in text
    numeric = quiz.make_quiz([lesson], count=1, seed=3)[0]
    assert "7/13, e^2" in plain_text([quiz_view.question_renderable(numeric, 1, 1)], 100)


def test_check_warns_when_the_right_answer_is_by_far_the_longest(run_cli, tmp_path):
    text = load_lesson("neuron").path.read_text(encoding="utf-8")
    start = text.index('id = "bias-role"')
    block_end = text.index("[[quiz]]", start)
    block = text[start:block_end]
    choices = re.search(r"choices = \[.*?\]\n", block, re.S).group(0)
    long_first = 'choices = [\n    "Shift the point where the activation switches on, whatever the inputs add up to",\n    "Nothing",\n    "Normalise",\n]\n'
    (tmp_path / "neuron.toml").write_text(text[:start] + block.replace(choices, long_first) + text[block_end:], encoding="utf-8")
    result = run_cli("--lessons-dir", str(tmp_path), "check")
    assert result.exit_code == 0, result.stderr
    assert f"warning: {tmp_path / 'neuron.toml'}: quiz.bias-role.choices: the right answer is by far the longest choice" in result.stderr
    assert "all valid (1 warning(s) above)" in result.stdout


def test_shipped_lessons_have_no_warnings(run_cli):
    result = run_cli("check")
    assert result.exit_code == 0 and "warning" not in result.stderr, result.stderr
    assert result.stdout.strip().endswith("all valid")


# --------------------------------------------------------------------------- what a beginner is asked


class _Store:
    def __init__(self, studied=(), due=()) -> None:
        self._studied, self._due = [{"lesson": name} for name in studied], list(due)

    def studied(self):
        return self._studied

    def due(self, limit=20):
        return self._due[:limit]

    def review_weights(self):
        return {"softmax:quiz.uniform": 4.0}


def test_a_learner_who_studied_nothing_is_asked_about_the_first_lesson():
    plan = session.choose([], lambda: LESSONS, _Store(), 5)
    assert [lesson.name for lesson in plan.lessons] == [LESSONS[0].name] == ["neuron"]
    assert "not studied any lesson yet" in plan.notice and "neuron" in plan.notice
    assert plan.review is None and plan.first == []


def test_review_mode_asks_only_about_lessons_studied():
    store = _Store(studied=("softmax", "attention"), due=[{"item": "softmax:sum.sum", "lesson": "softmax"}, {"item": "bpe:x.y", "lesson": "bpe"}])
    plan = session.choose([], lambda: LESSONS, store, 5)
    assert [lesson.name for lesson in plan.lessons] == ["softmax", "attention"]  # course order
    assert plan.first == ["softmax:sum.sum"] and plan.notice == ""
    named = session.choose([load_lesson("bpe")], lambda: LESSONS, store, 5)
    assert [lesson.name for lesson in named.lessons] == ["bpe"] and named.notice == ""


def test_a_fresh_learners_quiz_is_on_the_first_lesson_and_says_so(run_cli):
    result = run_cli("quiz", "--seed", "11", "--count", "4", input="skip\n" * 4)
    assert result.exit_code == 0, result.stderr
    assert "note: You have not studied any lesson yet, so these questions are on the first one, neuron" in result.stdout
    assert result.stdout.count("Question ") == 4 and result.stdout.count("· neuron") == 4


# --------------------------------------------------------------------------- what a question shows


def _question_on(lesson_name: str, step: str, value: str, seed: int = 0) -> quiz.Question:
    lesson = load_lesson(lesson_name)
    target = next(t for t in quiz.declared(lesson).targets if (t.step, t.value) == (step, value))
    return quiz.numeric_question(lesson, np.random.default_rng(seed), target)


def test_a_question_on_q_shows_what_q_is_computed_from():
    q = _question_on("transformer-block", "attention-projections", "q")
    assert [v.name for v in q.given] == ["attention_input", "wq", "bq"]
    text = plain_text([quiz_view.question_renderable(q, 1, 1)], 80)
    assert "Given:" in text and "A = LN₁(x)" in text and "wq" in text and "W2" not in text and "ln2_gamma" not in text
    assert len(text.splitlines()) < 30  # every input of the block took 99 lines
    i, j = q.index
    a, w, b = (np.asarray(v.data) for v in q.given)
    assert q.expected == pytest.approx(a[i] @ w[:, j] + b[j], rel=1e-12)  # from exactly what is shown


def test_every_value_a_default_question_shows_fits_on_screen_unelided():
    """A question shows its values in full up to quiz_view.INPUT_LIMIT rows and columns; pipeline's
    W_U (8×88) is the one exception, and its questions ask only about logits whose columns are shown."""
    for lesson in LESSONS:
        for seed in range(3):
            for q in quiz.make_quiz([lesson], count=4, seed=seed):
                for value in q.given:
                    if value.kind in ("vector", "matrix") and max(np.shape(value.data)) > quiz_view.INPUT_LIMIT:
                        assert (q.lesson, value.name) == ("pipeline", "W_U") and q.index[0] < 3, (q.item, value.name)


def test_a_question_without_uses_shows_every_input():
    q = _question_on("attention", "softmax", "weights")
    assert [v.name for v in q.given] == list(q.inputs)


def test_check_validates_what_targets_use(monkeypatch):
    from nntutor.catalog.check import cross_references
    from nntutor.walkthroughs import attention
    from nntutor.walkthroughs._declare import Target

    declared = attention.WALKTHROUGH
    bad = (
        Target("scores", "scores", uses=("x", "nosuch")),
        Target("scale", "scaled", uses=("softmax.weights",)),
        Target("softmax", "weights", uses=("softmax.weights",)),
    )
    monkeypatch.setattr(attention, "WALKTHROUGH", declared._replace(targets=bad))
    problems = [str(p) for p in cross_references(load_lesson("attention"))]
    assert any("targets.scores.scores.uses: 'nosuch' is neither an input nor a step value" in p for p in problems), problems
    assert any("targets.scale.scaled.uses: 'softmax.weights' comes from a later step than 'scale'" in p for p in problems), problems
    assert any("targets.softmax.weights.uses: 'softmax.weights' is the value asked" in p for p in problems), problems


# --------------------------------------------------------------------------- hints and credit


def test_concept_questions_have_their_own_hints():
    lesson = load_lesson("softmax")
    item = next(i for i in lesson.quiz if i.id == "uniform")
    q = quiz.concept_question(lesson, item)
    attempt = session.Attempt(q)
    assert attempt.respond("hint").text == f"Hint 1/1: {item.hint}"
    assert not set(q.hints) & set(lesson.hints)
    bare = quiz.concept_question(lesson, item._replace(hint=""))
    assert session.Attempt(bare).respond("hint").text.startswith("This question has no hint")


def test_every_shipped_concept_question_has_a_hint_of_its_own():
    for lesson in LESSONS:
        for item in lesson.quiz:
            assert item.hint.strip() and item.hint not in lesson.hints, (lesson.name, item.id)


def test_credit_rule_by_hand():
    # 1 point, 0.25 less per hint, at least 0.25; nothing for a wrong, shown or skipped answer
    assert [credit(True, h) for h in range(6)] == [1.0, 0.75, 0.5, 0.25, 0.25, 0.25]
    assert credit(False, 0) == credit(False, 3) == 0.0


def test_a_right_answer_after_hints_earns_less_in_the_summary_json_and_progress(run_cli):
    q = quiz.make_quiz([load_lesson("softmax")], count=2, seed=3)
    assert q[0].expected == pytest.approx(-0.84)  # shifted[2]
    second = str(int(q[1].expected)) if q[1].integer else repr(q[1].expected)
    script = f"hint\n-0.84\n{second}\n"
    result = run_cli("quiz", "softmax", "--seed", "3", "--count", "2", input=script)
    assert "✓ Right. The answer is -0.84. With 1 hint: 0.75 of 1 point." in result.stdout
    assert "Score: 2/2 right" in result.stdout
    words = " ".join(result.stdout.split())  # the transcript wraps between words at 100 columns
    assert "Points: 1.75 of 2; 1 right after hints (a right answer earns 1 point, 0.25 less for each hint taken, but at least 0.25)." in words
    doc = json.loads(run_cli("quiz", "softmax", "--seed", "3", "--count", "2", "--json", input=script).stdout)
    assert [a["credit"] for a in doc["questions"]] == [0.75, 1.0] and doc["score"]["credit"] == 1.75
    progress = json.loads(run_cli("progress", "--json").stdout)
    assert progress["accuracy"] == [{"lesson": "softmax", "correct": 4, "asked": 4, "credit": 3.5}]
    text = run_cli("progress").stdout
    assert "4/4 right (100%), 3.5 point(s)" in text and "0.25 less for each hint taken" in text


def test_the_store_computes_credit_with_the_same_rule(tmp_path):
    from nntutor.study.progress import Answer

    store = Store(tmp_path)
    for hints, correct in ((0, True), (1, True), (2, True), (7, True), (0, False), (2, False)):
        store.record_answer(Answer("s", "neuron", f"neuron:i{hints}{correct}", "neuron.x", "?", 1.0, "1", correct, hints=hints))
    (row,) = store.accuracy_by_lesson()
    assert row["credit"] == pytest.approx(1 + 0.75 + 0.5 + 0.25) == sum(credit(c, h) for h, c in ((0, True), (1, True), (2, True), (7, True)))
    store.close()


# --------------------------------------------------------------------------- feedback on the asked element


def _explained(lesson_name: str, raw: dict, step: str, value: str, index: tuple[int, ...]) -> list[str]:
    lesson = load_lesson(lesson_name)
    prepared = prepare(lesson, parse_args(lesson, raw))
    trace = prepared.build()
    target = next(t for t in prepared.walkthrough.targets if (t.step, t.value) == (step, value))
    return target.explain(mistakes.Case(prepared, trace, step, value, index))


def test_attention_weight_1_1_is_worked_for_1_1_not_for_1_0():
    # X = I₂, identity projections: S = I, S′ = S/√2, row 1 of S′ = [0, 0.7071], row max 0.7071
    # e^(0 − 0.7071) = 0.4931, e^0 = 1, sum 1.4931; A[1,1] = 1 / 1.4931 = 0.6698
    lines = _explained("attention", {"x": "1,0;0,1"}, "softmax", "weights", (1, 1))
    assert lines == [
        "row 1 of S′: largest value 0.7071",
        "Σₖ e^(S′[1,k] − 0.7071) = 0.4931 + 1 = 1.4931",
        "A[1,1] = e^(0.7071 − 0.7071) / 1.4931 = 1 / 1.4931 = 0.6698",
    ]
    assert not any("A[1,0]" in line for line in lines)


@pytest.mark.parametrize(
    ("lesson", "raw", "step", "value", "index", "last"),
    [
        # identity projections, so Q = K = X: S[2,0] = x2·x0 = (1, 1)·(1, 0) = 1
        ("attention", {"x": "1,0;0,1;1,1"}, "scores", "scores", (2, 0), "S[2,0] = q2·k0 = 1×1 + 1×0 = 1"),
        # p(b) = e^(1 − 2) / (e^0 + e^-1 + e^-1.9) = 0.3679 / 1.5174 = 0.2424
        ("softmax", {"logits": "2,1,0.1", "labels": "a,b,c", "temperature": "1"}, "probs", "probs", (1, 0), "p(b) = e / S = 0.3679 / 1.5174 = 0.2424"),
        # w = 0.5,-1,0.3, x = 1.5,2,-0.5: p2 = 0.3 × (−0.5) = −0.15
        ("neuron", {}, "products", "products", (2, 2), "p2 = w2×x2 = 0.3×(-0.5) = -0.15"),
        # z1 = W[1]·x + b1 = 0.3 + 0 = 0.3 (W = 0.1,0.2;0.3,0.4, x = 1,0)
        ("layer", {}, "bias", "z", (1,), "z1 = 0.3 + b1 = 0.3 + 0 = 0.3"),
        # x = 1,2,3,4: x̂3 = 1.5 / 1.118 = 1.3416, y3 = 1×1.3416 + 0
        ("layernorm", {}, "scale-shift", "y", (3,), "y3 = γ3·x̂3 + β3 = 1×1.3416 + 0 = 1.3416"),
        # two rows: row 1 = 2,0,1,5, μ = 2, deviations 0,−2,−1,3: (x3 − μ)² = 9
        ("layernorm", {"x": "1,2,3,4;2,0,1,5"}, "variance", "squared", (1, 3), "row 1: (x3 − μ)² = 3² = 9"),
        # probs 0.1,0.2,0.6,0.1, target 2: L = −ln 0.6 = 0.5108
        ("loss", {}, "loss", "loss", (), "L = −ln(p[2]) = −ln(0.6) = 0.5108"),
        # default network: δ1[0] = −0.024, x[1] = 0.5: ∂L/∂W1[0,1] = −0.012
        ("backprop", {}, "gradients", "dW1", (0, 1), "∂L/∂W1[0,1] = δ1[0] × x[1] = (-0.024)×0.5 = -0.012"),
        # p = softmax(1, 2, 0.5, −0.5) at T = 1: J[sunny,cloudy] = −0.2242 × 0.6095 = −0.1366
        ("backprop-softmax", {}, "jacobian", "jacobian", (0, 1), "J[sunny,cloudy] = −p(sunny)×p(cloudy)/T = −0.2242×0.6095/1 = -0.1366"),
        # row t0 of the default: ∂L/∂x0 = 0.0894 + 0.1945 + (−0.1677) = 0.1163
        ("backprop-layernorm", {}, "sum", "∂L/∂x", (0, 0), "t0: ∂L/∂x0 = path 1 + path 2 + path 3 = 0.0894 + 0.1945 + (-0.1677) = 0.1163"),
        # default: dS[1,0] = ∂L/∂S′[1,0] / √2 = −0.3173 / 1.4142 = −0.2244
        ("backprop-attention", {}, "scores", "dS", (1, 0), "dS[1,0] = ∂L/∂S′[1,0] / √2 = -0.3173 / 1.4142 = -0.2244"),
    ],
)
def test_explanations_by_hand(lesson, raw, step, value, index, last):
    assert _explained(lesson, raw, step, value, index)[-1] == last


def test_every_explanation_ends_in_the_asked_value():
    """For every target that explains, over several seeds: the last line's result is the element asked."""
    checked = 0
    for lesson in LESSONS:
        for target in quiz.declared(lesson).targets:
            if target.explain is None:
                continue
            for seed in range(4):
                q = quiz.numeric_question(lesson, np.random.default_rng(seed), target)
                if q is None:
                    continue
                shown = fmt(q.expected, 4)
                assert re.search(r"=\s*" + re.escape(shown) + r"(?![0-9.])", q.explained[-1]), (q.prompt, q.explained, shown)
                assert q.reveal == q.explained
                checked += 1
    assert checked > 200


def test_a_wrong_answer_is_followed_by_the_asked_elements_arithmetic(run_cli):
    q = quiz.make_quiz([load_lesson("attention")], count=1, seed=3)[0]  # scores[2,3]
    result = run_cli("quiz", "attention", "--seed", "3", "--count", "1", input="5\n")
    assert "✗ Not quite: you gave 5; the answer is 0.2913." in result.stdout
    assert "  S[2,3] = q2·k3 = (-0.14)×0.89 + 0.53×0.52 + 0.61×0.23 = 0.2913" in result.stdout
    assert q.explained == ("S[2,3] = q2·k3 = (-0.14)×0.89 + 0.53×0.52 + 0.61×0.23 = 0.2913",)


def test_without_an_explanation_the_steps_own_example_is_labelled_as_such():
    q = _question_on("ffn", "output", "y")
    assert q.explained == () and q.reveal[0] == "The lesson's worked example for this step:"
    assert q.reveal[-1].endswith(fmt(q.expected, 6))


def test_summary_names_points():
    q = quiz.make_quiz([load_lesson("softmax")], count=1, seed=3)[0]
    attempt = session.Attempt(q)
    attempt.respond("hint")
    attempt.respond("hint")
    outcome = attempt.respond("-0.84").outcome
    summary = summarise(session.QuizResult([outcome], 1, 1))
    assert summary.credit == 0.5 and summary.hinted == 1 and summary.correct == 1
