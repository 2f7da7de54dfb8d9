"""Lesson folders and lesson files a careless or hostile teacher might hand over.

Each problem is exit code 2 and one line naming the file (or folder), in ``list``,
``check`` and every lesson; one bad file never breaks the others; ``nntutor check``
catches before any run what would crash or run without end; text from a file can
never drive the terminal.
"""

from __future__ import annotations

import os
import re

import pytest

from nntutor.catalog import registry
from nntutor.catalog.check import check_lessons
from nntutor.catalog.lessonfile import builtin_lessons_dir, load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.errors import InputError, LessonFileError
from tests.helpers import assert_refused

CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _builtin(name: str) -> str:
    return (builtin_lessons_dir() / f"{name}.toml").read_text(encoding="utf-8")


def _variant(folder, name: str, replacements: dict[str, str]):
    text = _builtin(name)
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _problems(folder) -> list[str]:
    return [str(error) for error in check_lessons(folder)[1] if str(error).startswith(str(folder))]


def _lesson_still_runs(run_cli, folder, name: str = "softmax") -> None:
    result = run_cli("lesson", name, "--lessons-dir", str(folder))
    assert result.exit_code == 0, result.stderr


# --------------------------------------------------------------------------- nesting, loops, folders


@pytest.fixture
def deep_folder(tmp_path):
    (tmp_path / "deep-array.toml").write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    _variant(tmp_path, "neuron", {'default = "0.5"': "default = " + "[" * 3000 + "]" * 3000})
    text = _builtin("layer").replace('default = "1,0"\n', "", 1)  # x's default becomes a table 3,000 deep
    (tmp_path / "layer.toml").write_text(text.replace(
        '[[inputs]]\nname = "W"', "[inputs.default." + ".".join(["a"] * 3000) + "]\n\n[[inputs]]\nname = \"W\"", 1
    ))
    return tmp_path


def test_deep_nesting_is_one_problem_per_file_in_check(deep_folder):
    problems = _problems(deep_folder)
    for name in ("deep-array", "neuron", "layer"):
        mine = [p for p in problems if p.startswith(str(deep_folder / f"{name}.toml"))]
        assert mine == [f"{deep_folder / name}.toml: is nested too deeply (arrays or tables inside each other)"], problems


def test_deep_nesting_breaks_neither_list_nor_the_other_lessons(run_cli, deep_folder):
    listed = run_cli("list", "--lessons-dir", str(deep_folder))
    assert listed.exit_code == 0, listed.stderr
    assert "deep-array" in listed.stdout and "is nested too deeply" in listed.stdout
    _lesson_still_runs(run_cli, deep_folder)
    for name in ("neuron", "layer"):
        assert_refused(run_cli("lesson", name, "--lessons-dir", str(deep_folder)), f"{name}.toml", "nested too deeply")


def test_a_symbolic_link_loop_is_named_and_skipped(run_cli, tmp_path):
    (tmp_path / "loop.toml").symlink_to(tmp_path / "loop.toml")
    (tmp_path / "ring-a.toml").symlink_to(tmp_path / "ring-b.toml")
    (tmp_path / "ring-b.toml").symlink_to(tmp_path / "ring-a.toml")
    assert _problems(tmp_path) == [
        f"{tmp_path / 'loop.toml'}: is a loop of symbolic links (not followed)",
        f"{tmp_path / 'ring-a.toml'}: is a loop of symbolic links (not followed)",
        f"{tmp_path / 'ring-b.toml'}: is a loop of symbolic links (not followed)",
    ]
    assert run_cli("list", "--lessons-dir", str(tmp_path)).exit_code == 0
    _lesson_still_runs(run_cli, tmp_path)
    assert_refused(run_cli("lesson", "loop", "--lessons-dir", str(tmp_path)), "no lesson named 'loop'")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder; the monkeypatched test below covers it")
@pytest.mark.parametrize("command", [("list",), ("check",), ("lesson", "softmax")])
def test_an_unreadable_folder_is_one_line_as_a_user(run_cli, tmp_path, command):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o000)
    try:
        result = run_cli(*command, "--lessons-dir", str(locked))
    finally:
        locked.chmod(0o700)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {locked}: lessons folder cannot be read (Permission denied)" or (
        command == ("check",) and f"{locked}: lessons folder cannot be read (Permission denied)" in result.stderr
    )


@pytest.mark.parametrize("command", [("list",), ("check",), ("lesson", "softmax")])
def test_an_unreadable_folder_is_never_taken_for_an_empty_one(run_cli, tmp_path, monkeypatch, command):
    import nntutor.catalog.lessonfile as lessonfile

    real_scandir = os.scandir

    def scandir(path):
        if str(path) == str(tmp_path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(lessonfile.os, "scandir", scandir)
    result = run_cli(*command, "--lessons-dir", str(tmp_path))
    assert result.exit_code == 2, result.stdout  # check used to say "all valid" with the folder skipped
    lines = result.stderr.strip().splitlines()
    assert lines[0].endswith(f"{tmp_path}: lessons folder cannot be read (Permission denied)"), lines
    assert "all valid" not in result.stdout


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_file_is_named_and_the_others_still_run(run_cli, tmp_path):
    path = _variant(tmp_path, "neuron", {})
    path.chmod(0o000)
    assert _problems(tmp_path) == [f"{path}: cannot be read (Permission denied)"]
    _lesson_still_runs(run_cli, tmp_path)
    assert_refused(run_cli("lesson", "neuron", "--lessons-dir", str(tmp_path)), "neuron.toml", "Permission denied")


@pytest.mark.parametrize("command", [("list",), ("check",), ("lesson", "softmax"), ("lesson-file", "softmax")])
def test_a_folder_name_too_long_is_one_line(run_cli, tmp_path, command):
    folder = tmp_path / ("l" * 300)
    result = run_cli(*command, "--lessons-dir", str(folder))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {folder}: lessons folder cannot be used (File name too long)" or (
        command == ("check",) and "lessons folder cannot be used (File name too long)" in result.stderr
    )


def test_a_fifo_named_like_a_lesson_is_refused_not_waited_on(run_cli, tmp_path):
    os.mkfifo(tmp_path / "neuron.toml")
    assert _problems(tmp_path) == [f"{tmp_path / 'neuron.toml'}: is not a regular file (a folder, a pipe or a device)"]
    _lesson_still_runs(run_cli, tmp_path)


# --------------------------------------------------------------------------- nntutor check: file against code


def test_check_catches_an_input_kind_its_builder_does_not_read(run_cli, tmp_path):
    path = _variant(tmp_path, "attention", {'kind = "matrix"': 'kind = "text"'})
    assert _problems(tmp_path) == [f"{path}: inputs.x.kind: is 'text' but builder 'attention' reads a matrix"]
    # at run time too: one line naming the file, never a crash inside the lesson
    assert_refused(run_cli("lesson", "attention", "--lessons-dir", str(tmp_path), "--x", "1,0;0,1"),
                   f"{path}: inputs.x.kind: is 'text'")


@pytest.mark.parametrize(
    ("lesson", "name", "limit"),
    [("gradient-descent", "steps", 1000), ("training", "epochs", 5000), ("training", "hidden", 64), ("pipeline", "layers", 8)],
)
def test_a_lesson_file_cannot_lift_its_builders_limits(run_cli, tmp_path, lesson, name, limit):
    text = _builtin(lesson)
    block = re.search(rf'name = "{name}"\n(?:.*\n)*?\n', text).group(0)
    lifted = re.sub(r"maximum = .*\n", "", block)
    lifted = re.sub(r"default = .*\n", 'default = "100000000"\n', lifted)
    path = tmp_path / f"{lesson}.toml"
    path.write_text(text.replace(block, lifted), encoding="utf-8")
    assert _problems(tmp_path) == [
        f"{path}: inputs.{name}.default: 100000000 is too large (expected at most {limit}) (the limit of its lesson module)"
    ]
    refused = run_cli("lesson", lesson, "--lessons-dir", str(tmp_path))
    assert_refused(refused, f"inputs.{name}.default")
    # with a sane default, the flag is still held to the module's limit
    path.write_text(text.replace(block, re.sub(r"maximum = .*\n", "", block)), encoding="utf-8")
    assert _problems(tmp_path) == []
    assert_refused(run_cli("lesson", lesson, "--lessons-dir", str(tmp_path), f"--{name}", str(limit + 1)),
                   f"--{name}: {limit + 1} is too large (expected at most {limit})")
    lesson_file = load_lesson(lesson, tmp_path)
    with pytest.raises(InputError, match=f"at most {limit}"):
        run_lesson(lesson_file, {name: "100000000"})


def test_check_names_a_bound_that_promises_more_than_the_builder_allows(tmp_path):
    path = _variant(tmp_path, "gradient-descent", {"maximum = 1000": "maximum = 100000"})
    assert _problems(tmp_path) == [f"{path}: inputs.steps.maximum: is 100000, above the maximum 1000 its lesson module allows"]


def test_check_catches_a_choice_its_builder_does_not_know(run_cli, tmp_path):
    path = _variant(tmp_path, "neuron", {'"identity"]': '"identity", "swish"]'})
    assert _problems(tmp_path) == [
        f"{path}: inputs.activation.choices: 'swish' is not a choice builder 'neuron' knows "
        "(relu, leaky-relu, sigmoid, tanh, gelu, identity)"
    ]
    assert_refused(run_cli("lesson", "neuron", "--lessons-dir", str(tmp_path), "--activation", "swish"), "'swish'")


@pytest.mark.parametrize("answer", ["nan", "inf", "-inf"])
def test_a_quiz_answer_that_is_not_finite_is_refused(run_cli, tmp_path, answer):
    text = _builtin("softmax")
    item = re.search(r'\[\[quiz\]\]\nid = "[^"]+"\nkind = "number"\n(?:.*\n)*?answer = (.*)\n', text)
    assert item is not None, "softmax needs a number quiz item for this test"
    path = tmp_path / "softmax.toml"
    path.write_text(text.replace(item.group(0), item.group(0).replace(f"answer = {item.group(1)}", f"answer = {answer}")))
    problems = _problems(tmp_path)
    assert len(problems) == 1 and re.fullmatch(rf".*: quiz\.[a-z0-9-]+\.answer: is {answer} \(expected a finite number\)", problems[0])
    quiz = run_cli("quiz", "softmax", "--lessons-dir", str(tmp_path), "--json", "--seed", "1", input="skip\n" * 5)
    assert quiz.exit_code == 2 and "NaN" not in quiz.stdout and quiz.stdout == ""


def test_a_negative_or_nan_tolerance_is_refused(tmp_path):
    text = _builtin("softmax")
    item = re.search(r'(\[\[quiz\]\]\nid = "([^"]+)"\nkind = "number"\n)', text)
    path = tmp_path / "softmax.toml"
    path.write_text(text.replace(item.group(1), item.group(1) + "tolerance = nan\n", 1))
    assert _problems(tmp_path) == [f"{path}: quiz.{item.group(2)}.tolerance: is nan (expected a finite number, 0 or more)"]


def test_every_lesson_module_declares_the_inputs_it_reads():
    # what nntutor check holds a lesson file to: a module without the declaration cannot
    # protect its limits from a file
    for builder in registry.builders():
        walkthrough = registry.walkthrough(builder)
        assert walkthrough.inputs, f"nntutor/walkthroughs/{builder.replace('-', '_')}.py declares no inputs"


def test_the_built_in_files_fit_their_modules_exactly():
    for builder in registry.builders():
        lesson = load_lesson(builder)
        declared = registry.walkthrough(builder).inputs
        assert {spec.name: spec.kind for spec in lesson.inputs} == {name: d.kind for name, d in declared.items()}, builder


def test_a_misfit_is_a_lesson_file_error_naming_the_file(tmp_path):
    _variant(tmp_path, "neuron", {'builder = "neuron"': 'builder = "attention"'})
    with pytest.raises(LessonFileError, match="is it the builder of another lesson"):
        run_lesson(load_lesson("neuron", tmp_path))


# --------------------------------------------------------------------------- control sequences


HOSTILE = "\\u001b]0;PWNED\\u0007 \\u001b[2J"


@pytest.fixture
def hostile_folder(tmp_path):
    replacements = {
        'title = "A single neuron"': f'title = "A single neuron {HOSTILE}"',
        'summary = "': f'summary = "{HOSTILE} ',
        "hints = [": f'hints = ["{HOSTILE} hint", ',
        'help = "The inputs': f'help = "{HOSTILE} The inputs',
    }
    _variant(tmp_path, "neuron", replacements)
    return tmp_path


@pytest.mark.parametrize(
    "command",
    [
        ("lesson", "neuron"),
        ("lesson", "neuron", "--format", "markdown"),
        ("lesson", "neuron", "--format", "json"),
        ("lesson", "neuron", "--help"),
        ("list",),
    ],
)
def test_control_characters_from_a_lesson_file_are_shown_escaped(run_cli, hostile_folder, command, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")  # even when styled, only rich's own sequences reach the terminal
    result = run_cli(*command, "--lessons-dir", str(hostile_folder))
    assert result.exit_code == 0, result.stderr
    visible = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)  # rich's colours
    assert not CONTROL.search(visible.replace("\n", "")), repr(CONTROL.search(visible.replace("\n", "")))
    if command[-1] not in ("json", "list", "--help"):
        assert "\\x1b]0;PWNED\\x07" in visible or "\\\\x1b\\]0;PWNED\\\\x07" in visible


def test_control_characters_in_quiz_hints_are_escaped(run_cli, hostile_folder):
    result = run_cli("quiz", "neuron", "--lessons-dir", str(hostile_folder), "--seed", "3", "-n", "1", input="hint\nhint\nhint\nquit\n")
    assert not CONTROL.search(result.stdout.replace("\n", ""))


def test_control_characters_from_a_bpe_file_are_shown_escaped(run_cli, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("lo\x1b]0;PWNED\x07w low low lower\x1b[31m lower newest newest\x9b\n", encoding="utf-8")
    for fmt in ("text", "markdown"):
        result = run_cli("lesson", "bpe", "--file", str(corpus), "--merges", "30", "--format", fmt)
        assert result.exit_code == 0, result.stderr
        assert not CONTROL.search(result.stdout.replace("\n", "")), (fmt, repr(CONTROL.search(result.stdout.replace("\n", ""))))
        assert "lower\\x1b[31m" in result.stdout.replace("\\\\", "\\").replace("\\[", "[")
