"""The course: lesson numbers, prerequisites (``requires``), the next lesson, the map and what each lesson leads to."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nntutor.catalog.check import check_lessons
from nntutor.catalog.course import Course, reference_problems
from nntutor.catalog.lessonfile import Lesson, builtin_lessons_dir, load_all, validate_file
from nntutor.study import studylog
from tests.helpers import assert_refused

REPO = Path(__file__).resolve().parent.parent
N = len(load_all(check_inputs=False))  # lessons in the shipped course (more may be added)
# Each shipped lesson's number in the course (lessons added later shift the numbers).
NUMBER = {lesson.name: number for number, lesson in enumerate(load_all(check_inputs=False), start=1)}


def _lesson(name: str, order: int, requires: tuple[str, ...] = (), see_also: tuple[str, ...] = (), part: str = "P") -> Lesson:
    return Lesson(name, name.title(), part, order, f"about {name}", name, "", Path(f"{name}.toml"), see_also=see_also, requires=requires)


# A course written out by hand: 1 a, 2 b (needs a), 3 c (needs a, d), 4 d (needs b).
HAND = Course([_lesson("a", 1), _lesson("b", 2, ("a",)), _lesson("c", 3, ("a", "d")), _lesson("d", 4, ("b",), see_also=("a", "x"))])


@pytest.mark.parametrize(
    ("studied", "expected"),
    [
        (set(), "a"),
        ({"a"}, "b"),  # c comes before d but needs d
        ({"a", "b"}, "d"),  # c still needs d: d (lesson 4) comes before c (lesson 3)
        ({"a", "b", "d"}, "c"),
        ({"b"}, "a"),  # out of order: the first one not studied whose requirements are
        ({"a", "b", "c", "d"}, None),
    ],
)
def test_next_is_the_first_lesson_not_studied_whose_requirements_are(studied, expected):
    upcoming = HAND.next_lesson(studied)
    assert (upcoming.name if upcoming else None) == expected


def test_places_number_in_teaching_order_and_name_unmet_requirements_by_number():
    places = HAND.places({"a"}, {"c": (1, 3)})
    assert [(p.number, p.name, p.studied, p.is_next, p.unmet, p.score) for p in places] == [
        (1, "a", True, False, (), None),
        (2, "b", False, True, (), None),
        (3, "c", False, False, (4,), (1, 3)),
        (4, "d", False, False, (2,), None),
    ]


def test_a_cycle_or_an_unknown_requirement_never_leaves_a_learner_without_a_next_lesson():
    knot = Course([_lesson("a", 1, ("b",)), _lesson("b", 2, ("a",)), _lesson("c", 3, ("nope",))])
    assert knot.next_lesson(set()).name == "c"  # ready: its only requirement names no lesson
    assert knot.next_lesson({"c"}).name == "a"  # none ready: the first not studied


def test_what_next_is_the_lesson_after_and_the_see_also_lessons_that_exist():
    ending = HAND.what_next(HAND.lesson("d"))
    assert (ending.number, ending.total, ending.next_lesson) == (4, 4, None)
    assert [(link.number, link.name, link.title) for link in ending.see_also] == [(1, "a", "A")]  # "x" names no lesson
    assert HAND.what_next(HAND.lesson("a")).next_lesson == (2, "b", "B")


def test_the_shipped_course_starts_with_the_neuron_and_every_lesson_is_reachable():
    from nntutor.catalog.course import load_course

    course, broken = load_course()
    assert broken == []
    assert [course.number(name) for name in ("neuron", "activations", "layer")] == [1, 2, 3]
    studied: set[str] = set()
    while (upcoming := course.next_lesson(studied)) is not None:
        assert not course.unmet(upcoming, studied), upcoming.name  # never the cycle fallback
        studied.add(upcoming.name)
    assert len(studied) == len(course)
    for lesson in course.lessons:  # each requirement comes earlier in the course
        assert all(course.number(name) < course.number(lesson.name) for name in lesson.requires), lesson.name


# --------------------------------------------------------------------------- nntutor check


def test_reference_problems_name_the_file_and_the_key():
    lessons = [_lesson("a", 1, ("c",)), _lesson("b", 2, ("a", "zz"), see_also=("b", "a")), _lesson("c", 3, ("b",))]
    assert [str(problem) for problem in reference_problems(lessons, {"a", "b", "c"})] == [
        "b.toml: requires: 'zz' names no lesson (see: nntutor list)",
        "b.toml: see_also: names the lesson itself ('b')",
        "a.toml: requires: a cycle: a needs c, c needs b, b needs a (none of them can come first)",
    ]


def _variant(folder: Path, name: str, old: str, new: str) -> Path:
    text = (builtin_lessons_dir() / f"{name}.toml").read_text(encoding="utf-8")
    assert old in text
    path = folder / f"{name}.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_check_reports_a_requirement_that_names_no_lesson(tmp_path):
    path = _variant(tmp_path, "layer", 'requires = ["neuron"]', 'requires = ["nueron"]')
    problems = [str(error) for error in check_lessons(tmp_path)[1]]
    assert problems == [f"{path}: requires: 'nueron' names no lesson (did you mean 'neuron'?)"]


def test_check_reports_a_cycle_of_requirements(tmp_path):
    path = _variant(tmp_path, "neuron", 'builder = "neuron"', 'builder = "neuron"\nrequires = ["mlp"]')
    problems = [str(error) for error in check_lessons(tmp_path)[1]]
    assert f"{path}: requires: a cycle: neuron needs mlp, mlp needs layer, layer needs neuron (none of them can come first)" in problems
    assert all(problem.startswith(f"{path}: requires: a cycle: neuron needs mlp") for problem in problems), problems


def test_check_reports_a_see_also_that_names_no_lesson_through_the_cli(run_cli, tmp_path):
    path = _variant(tmp_path, "neuron", 'see_also = ["activations", "layer"]', 'see_also = ["activations", "layers"]')
    result = run_cli("check", "--lessons-dir", str(tmp_path))
    assert result.exit_code == 2
    assert f"{path}: see_also: 'layers' names no lesson (did you mean 'layer'?)" in result.stderr.splitlines()


@pytest.mark.parametrize("value", ["[1]", '["Neuron"]', '["../x"]', '[""]'])
def test_a_requires_entry_must_be_a_lesson_name(tmp_path, value):
    path = _variant(tmp_path, "layer", 'requires = ["neuron"]', f"requires = {value}")
    assert [str(error) for error in validate_file(path)] == [
        f"{path}: requires[1]: must be a lesson name (lower-case letters, digits and '-')"
    ]


def test_requires_must_be_a_list(tmp_path):
    path = _variant(tmp_path, "layer", 'requires = ["neuron"]', 'requires = "neuron"')
    assert [str(error) for error in validate_file(path)] == [f"{path}: requires: must be a list"]


# --------------------------------------------------------------------------- the map, next, list


def _map_line(out: str, number: int) -> str:
    (line,) = [line for line in out.splitlines() if re.match(rf"  . +{number}  ", line)]
    return line


def test_a_new_learner_sees_lesson_1_next_and_after_next_lesson_1_studied_and_lesson_2_next(run_cli):
    """The issue's 'done when', through the command line, in a fresh data folder."""
    home = Path(os.environ["NNTUTOR_HOME"])
    assert not home.exists() or not any(home.iterdir())
    first = run_cli()
    assert first.exit_code == 0, first.stderr
    assert _map_line(first.stdout, 1) == "  ▶  1  neuron               A single neuron  next"
    assert _map_line(first.stdout, 2) == "  ·  2  activations          Activation functions and their slopes  needs 1"
    assert "Next: nntutor lesson neuron · then: nntutor quiz neuron" in first.stdout
    assert not (home / "progress.sqlite3").exists()  # looking at the map creates no database

    ran = run_cli("next")
    assert ran.exit_code == 0, ran.stderr
    assert ran.stdout.startswith(f"Lesson 1 of {N}: nntutor lesson neuron\nA single neuron\n")
    assert "z = w·x + b = -1.4 + 0.5 = -0.9" in ran.stdout

    after = run_cli()
    assert after.stdout.startswith(f"Your course: 1 of {N} lessons studied")
    assert _map_line(after.stdout, 1) == "  ✓  1  neuron               A single neuron"
    assert _map_line(after.stdout, 2) == "  ▶  2  activations          Activation functions and their slopes  next"
    assert "Next: nntutor lesson activations · then: nntutor quiz activations" in after.stdout


@pytest.mark.slow
def test_the_same_as_a_new_learner_would_type_it(tmp_path):
    env = dict(os.environ, NNTUTOR_HOME=str(tmp_path / "new"), NO_COLOR="1", COLUMNS="80", PYTHONPATH=str(REPO))
    env.pop("NNTUTOR_LESSONS", None)

    def nntutor(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "nntutor", *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
        assert done.returncode == 0 and done.stderr == "", done.stderr
        return done.stdout

    assert "▶  1  neuron" in nntutor()
    nntutor("next")
    after = nntutor()
    assert "✓  1  neuron" in after and "▶  2  activations" in after


def test_the_map_marks_quiz_scores_and_says_which_requirements_are_missing(run_cli):
    assert run_cli("lesson", "layer").exit_code == 0
    assert run_cli("quiz", "softmax", "--seed", "3", "--count", "2", input="0.5\n-0.84\n").exit_code == 0
    out = run_cli().stdout
    n = NUMBER
    assert _map_line(out, 1) == "  ▶  1  neuron               A single neuron  next"  # layer's requirement is still to do
    assert _map_line(out, n["layer"]) == f"  ✓ {n['layer']:>2}  layer                A layer of neurons"
    # mlp needs activations and layer; layer is studied, so only activations is left
    assert _map_line(out, n["mlp"]) == f"  · {n['mlp']:>2}  mlp                  A multi-layer perceptron  needs {n['activations']}"
    assert _map_line(out, n["softmax"]) == f"  · {n['softmax']:>2}  softmax              Softmax and temperature  quiz 0/2"


def test_list_shows_the_same_numbers_and_marks(run_cli):
    run_cli("lesson", "neuron")
    out = run_cli("list").stdout
    assert re.search(r"^  ✓  1  neuron +Weighted sum plus bias", out, re.M)
    assert re.search(r"^  ▶  2  activations +ReLU, leaky ReLU", out, re.M)
    n = NUMBER
    needs = f"needs {n['activations']}, {n['layer']}"
    assert re.search(rf"^  · {n['mlp']:>2}  mlp +Layers stacked: .*\n(.*\n)*? +.*{needs}$", out, re.M)
    assert "Next: nntutor lesson activations · then: nntutor quiz activations" in out


def test_next_when_every_lesson_is_studied(run_cli):
    for lesson in load_all(check_inputs=False):
        studylog.append(lesson.name)
    result = run_cli("next")
    assert result.exit_code == 0
    assert result.stdout == f"Every lesson of the course is studied ({N} of {N}). Review with: nntutor quiz\n"
    assert "Every lesson studied. Next: nntutor quiz" in run_cli().stdout


def test_next_with_a_teachers_folder_follows_its_course(run_cli, tmp_path):
    _variant(tmp_path, "bpe", "order = 300", "order = 50")  # the teacher starts with BPE
    assert "▶  1  bpe" in run_cli("--lessons-dir", str(tmp_path)).stdout
    result = run_cli("next", "--lessons-dir", str(tmp_path))
    assert result.exit_code == 0 and result.stdout.startswith(f"Lesson 1 of {N}: nntutor lesson bpe\nByte-pair encoding")
    assert "✓  1  bpe" in run_cli("--lessons-dir", str(tmp_path)).stdout


@pytest.mark.parametrize("argv", [["next", "--seed", "3"], ["next", "extra"], ["--lessons-dir", "/no/such/folder"]])
def test_bad_input_to_the_map_and_next_is_one_line(run_cli, argv):
    assert_refused(run_cli(*argv))


def test_unreadable_progress_only_warns_on_the_map(run_cli):
    home = Path(os.environ["NNTUTOR_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / studylog.FILENAME).mkdir()  # the log cannot be read
    result = run_cli()
    assert result.exit_code == 0
    assert result.stderr.startswith("warning: could not read your progress (cannot read ")
    assert "▶  1  neuron" in result.stdout


# --------------------------------------------------------------------------- what comes next, after a lesson


def test_a_lesson_ends_with_what_comes_next_in_text(run_cli):
    out = run_cli("lesson", "neuron").stdout
    ending = out[out.index("What next"):]
    assert ending.splitlines()[1:] == [
        "  Quiz yourself on this lesson: nntutor quiz neuron",
        "  Next lesson  2  activations  Activation functions and their slopes",
        "  See also     3  layer        A layer of neurons",  # activations, also in see_also, is not repeated
        f"  Run one with: nntutor lesson NAME (this was lesson 1 of {N})",
    ]
    assert out.index("Result") < out.index("What next")


def test_the_last_lesson_says_so(run_cli):
    out = run_cli("lesson", load_all(check_inputs=False)[-1].name).stdout
    assert re.search(r"^  Next lesson +none +this was the last lesson of the course$", out, re.M)


def test_a_lesson_ends_with_what_comes_next_in_markdown(run_cli):
    out = run_cli("lesson", "neuron", "--format", "markdown").stdout
    assert out.endswith(
        "## What next\n\n"
        "- Quiz yourself: `nntutor quiz neuron`\n"
        f"- Next lesson (2 of {N}, Activation functions and their slopes): `nntutor lesson activations`\n"
        "- See also:\n"
        "  - `nntutor lesson layer` (3, A layer of neurons)\n"
    )


def test_json_has_what_comes_next_at_the_top_never_among_the_outputs(run_cli):
    doc = json.loads(run_cli("lesson", "neuron", "--format", "json").stdout)
    assert set(doc["outputs"]) == {"z", "y"}
    assert doc["next"] == {
        "number": 1,
        "total": N,
        "quiz": "nntutor quiz neuron",
        "lesson": {"number": 2, "name": "activations", "title": "Activation functions and their slopes", "command": "nntutor lesson activations"},
        "see_also": [{"number": 3, "name": "layer", "title": "A layer of neurons", "command": "nntutor lesson layer"}],
    }


def test_vs_ends_with_what_comes_next_after_the_comparison(run_cli):
    out = run_cli("lesson", "softmax", "--vs", "--temperature 5").stdout
    assert out.index("Compare:") < out.index("What next") and out.count("What next") == 1


# --------------------------------------------------------------------------- studied means run to the end


@pytest.fixture
def terminal(monkeypatch):
    """stdin and stdout count as a terminal, so ``--step`` pages; each key is a line of the runner's input."""
    from nntutor.render import keys, output

    monkeypatch.setattr(output, "is_terminal", lambda stream: True)
    monkeypatch.setattr(keys, "terminal_keys", keys._line_keys)


def test_step_quit_before_the_last_step_is_not_studied(run_cli, terminal):
    result = run_cli("lesson", "neuron", "--step", input="\nq\n")  # step 2 of 4, then quit
    assert result.exit_code == 0, result.stderr
    assert "Step 2 · " in result.stdout and "Step 3 · " not in result.stdout
    assert studylog.read() == []
    assert "▶  1  neuron" in run_cli().stdout


def test_step_run_to_the_last_step_is_studied(run_cli, terminal):
    result = run_cli("lesson", "neuron", "--step", input="\n\n\n\n")
    assert result.exit_code == 0, result.stderr
    assert "What next" in result.stdout
    assert [lesson for lesson, _ in studylog.read()] == ["neuron"]


def test_progress_lists_the_course_in_order_not_yet_studied_included(run_cli):
    run_cli("lesson", "softmax")
    run_cli("lesson", "neuron")  # the latest: it used to come first
    out = run_cli("progress").stdout
    rows = [line for line in out.splitlines() if re.match(r"  [✓·] +\d+  ", line)]
    assert len(rows) == N
    assert re.fullmatch(r"  ✓  1  neuron +last .* · 1 lesson run", rows[0])
    assert rows[1] == "  ·  2  activations          not yet"
    assert re.fullmatch(rf"  ✓ {NUMBER['softmax']:>2}  softmax +last .* · 1 lesson run", rows[NUMBER["softmax"] - 1])
    assert f"The course: 2 of {N} lessons studied" in out
    course = json.loads(run_cli("progress", "--json").stdout)["course"]
    shown = {row["lesson"]: (row["number"], row["runs"]) for row in course}
    assert [row["lesson"] for row in course] == list(NUMBER)
    for name, runs in (("neuron", 1), ("activations", 0), ("layer", 0), ("mlp", 0), ("softmax", 1)):
        assert shown[name] == (NUMBER[name], runs)


def test_a_fresh_learners_progress_shows_the_course_and_where_to_start(run_cli):
    out = run_cli("progress").stdout
    assert "  ·  1  neuron               not yet" in out
    assert out.rstrip().endswith("Nothing studied yet. Start with: nntutor next (lesson 1, neuron), then nntutor quiz neuron.")


def test_progress_keeps_a_lesson_whose_file_is_gone(tmp_path):
    from nntutor.study.progress import Store

    with Store(tmp_path) as store:
        store.record_studied("old-lesson", now=10.0)
        store.record_studied("neuron", now=5.0)
        assert [(row["number"], row["lesson"], row["runs"]) for row in store.course(["neuron", "layer"])] == [
            (1, "neuron", 1), (2, "layer", 0), (None, "old-lesson", 1),
        ]
