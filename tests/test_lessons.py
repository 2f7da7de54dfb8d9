"""Lesson files: validation with readable errors, teacher folders, shipped in the package."""

import shutil
from pathlib import Path

import pytest

from nntutor.catalog import registry
from nntutor.catalog.check import check_lessons, cross_references
from nntutor.catalog.lessonfile import (
    builtin_lessons_dir,
    check_all,
    load_all,
    load_lesson,
    validate_file,
)
from nntutor.errors import InputError, LessonFileError


def test_every_shipped_lesson_is_valid():
    count, errors = check_all()
    assert count >= 3
    assert errors == []


@pytest.mark.parametrize("name", [lesson.name for lesson in load_all()])
def test_every_lesson_file_and_its_code_agree(name):
    """Each shipped lesson: its builder is a lesson module, which builds the file's defaults,
    and every quiz target and known mistake of the module names a value the run produces."""
    lesson = load_lesson(name)
    assert cross_references(lesson) == []
    assert lesson.builder in registry.builders()


def _check_folder(folder: Path) -> list[str]:
    """``nntutor check --lessons-dir folder``'s problem lines for files in that folder."""
    _, errors = check_lessons(folder)
    return [str(e) for e in errors]


def test_check_catches_a_builder_that_is_not_a_lesson_module(tmp_path):
    path = _variant(tmp_path, {'builder = "neuron"': 'builder = "common"'})
    assert _check_folder(tmp_path) == [f"{path}: builder: no walkthrough named 'common'"]
    path = _variant(tmp_path, {'builder = "neuron"': 'builder = "attention"'})
    problems = _check_folder(tmp_path)
    assert problems == [
        f"{path}: inputs: lack --tokens, --wq, --wk, --wv and 10 more, which builder 'attention' reads, and have --w, --b,"
        " --activation, which it does not know (is it the builder of another lesson?)",
        f"{path}: inputs.x.kind: is 'vector' but builder 'attention' reads a matrix",
    ]


def test_check_catches_a_module_without_a_declaration(tmp_path, monkeypatch):
    from nntutor.walkthroughs import neuron

    monkeypatch.delattr(neuron, "WALKTHROUGH")
    problems = _check_folder(tmp_path)
    assert any(p.endswith("neuron.toml: builder: nntutor.walkthroughs.neuron is not a lesson module (it declares no WALKTHROUGH)") for p in problems), problems


def test_check_catches_a_misspelt_quiz_target(monkeypatch, tmp_path):
    from nntutor.walkthroughs import attention
    from nntutor.walkthroughs._declare import Target

    declared = attention.WALKTHROUGH
    monkeypatch.setattr(attention, "WALKTHROUGH", declared._replace(targets=(*declared.targets, Target("softmax", "weigths"))))
    problems = [p for p in _check_folder(tmp_path) if "attention" in p]
    assert problems == [f"{attention.__file__}: targets: 'softmax.weigths' is no step value of a run of 'attention' on its defaults"]


def test_check_catches_labels_that_do_not_match_their_matrix(tmp_path):
    text = (builtin_lessons_dir() / "attention.toml").read_text(encoding="utf-8")
    path = _write(tmp_path, "attention", text.replace('default = "The,cat,sat,down"', 'default = "I,love,my"'))
    assert [p for p in _check_folder(tmp_path) if p.startswith(str(path))] == [
        f"{path}: inputs.tokens.default: expected 4 names to match the 4 rows of --x, got 3"
    ]


def test_lessons_come_in_teaching_order():
    names = [lesson.name for lesson in load_all()]
    assert names.index("neuron") < names.index("softmax") < names.index("attention")


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _variant(tmp_path: Path, replace: dict[str, str]) -> Path:
    text = (builtin_lessons_dir() / "neuron.toml").read_text(encoding="utf-8")
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    return _write(tmp_path, "neuron", text)


@pytest.mark.parametrize(
    ("replace", "key", "fragment"),
    [
        ({'builder = "neuron"': 'builder = "nope"'}, "builder", "no walkthrough named 'nope'"),
        ({'order = 100': 'order = 100\ncolour = "red"'}, "colour", "unknown key"),
        ({'summary = "Weighted sum plus bias, then an activation: z = w·x + b, y = f(z)."\n': ""}, "summary", "missing"),
        ({'default = "1.5,2,-0.5"': 'default = "1.5,x"'}, "inputs.x.default", "does not parse"),
        ({'name = "w"': 'name = "x"'}, "inputs.x", "duplicate input name"),
        ({'kind = "scalar"': 'kind = "number"'}, "inputs.b.kind", "is not one of"),
        ({'format_version = 1': 'format_version = 9'}, "format_version", "reads version 1"),
        ({'answer = 0\n': 'answer = "zero"\n'}, "quiz.relu-negative.answer", "must be a number"),
        ({'hints = [': 'hints = ["",'}, "hints[1]", "non-empty"),
        ({'vs_examples = ["--activation sigmoid"': 'vs_examples = [" "'}, "vs_examples[1]", "non-empty"),
        ({'vs_examples = ["--activation sigmoid", "--b -2"]': 'vs_examples = "--b -2"'}, "vs_examples", "must be a list"),
    ],
)
def test_check_names_file_and_key(tmp_path, replace, key, fragment):
    path = _variant(tmp_path, replace)
    errors = validate_file(path)
    assert errors, "the broken file was accepted"
    messages = [str(e) for e in errors]
    assert any(m.startswith(f"{path}: {key}") and fragment in m for m in messages), messages


def test_not_toml_and_binary_files_are_refused(tmp_path):
    bad = _write(tmp_path, "broken", "name = [")
    assert "is not valid TOML" in str(validate_file(bad)[0])
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\x00\xff")
    assert "looks binary" in str(validate_file(binary)[0])
    huge = tmp_path / "huge.toml"
    huge.write_text("# " + "x" * 300_000)
    assert "at most" in str(validate_file(huge)[0])


def test_teacher_folder_overrides_builtin_lesson(tmp_path):
    _variant(tmp_path, {'default = "0.5"': 'default = "2.5"', "A neuron multiplies": "In my class, a neuron multiplies"})
    lesson = load_lesson("neuron", tmp_path)
    assert lesson.path.parent == tmp_path
    assert lesson.input("b").default == "2.5"
    assert lesson.narrative.startswith("In my class")


def test_lesson_names_cannot_escape_the_folder(tmp_path):
    with pytest.raises(InputError, match="is not a lesson name"):
        load_lesson("../../etc/passwd", tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    _write(outside, "secret", (builtin_lessons_dir() / "neuron.toml").read_text().replace('"neuron"', '"secret"', 1))
    inside = tmp_path / "inside"
    inside.mkdir()
    (inside / "secret.toml").symlink_to(outside / "secret.toml")
    with pytest.raises(InputError, match="no lesson named 'secret'"):
        load_lesson("secret", inside)


def test_unknown_lesson_suggests_the_closest(tmp_path):
    with pytest.raises(InputError, match="did you mean 'attention'"):
        load_lesson("attenton")


def test_missing_lessons_dir_is_an_error(tmp_path):
    with pytest.raises(LessonFileError, match="does not exist"):
        load_lesson("neuron", tmp_path / "nope")


def test_variant_folder_copy_is_valid(tmp_path):
    shutil.copy(builtin_lessons_dir() / "attention.toml", tmp_path / "attention.toml")
    count, errors = check_all(tmp_path)
    assert errors == []


# --------------------------------------------------------------------------- --vs examples


@pytest.mark.parametrize("name", [lesson.name for lesson in load_all()])
def test_every_shipped_lesson_shows_one_or_two_vs_examples_in_its_help(name, run_cli):
    lesson = load_lesson(name)
    assert 1 <= len(lesson.vs_examples) <= 2, lesson.vs_examples
    lines = [line.strip("│ ") for line in run_cli("lesson", name, "--help").stdout.splitlines()]
    for flags in lesson.vs_examples:
        assert f'--vs "{flags}"' in lines, flags  # a line of its own, so it is never wrapped


@pytest.mark.parametrize(
    ("example", "fragment"),
    [
        ("--temperature 5", "'--temperature' is not an input of lesson 'neuron'"),  # softmax's example, not neuron's
        ("--activation", "--activation needs a value"),
        ("--x 1,2", "--x: has 2 numbers but --w (default 3 numbers) has 3"),  # parsed, then refused by the lesson
        ("--activation relu", "changes nothing: those are the defaults"),
    ],
)
def test_check_runs_each_vs_example_through_the_vs_parser(tmp_path, run_cli, example, fragment):
    path = _variant(tmp_path, {'vs_examples = ["--activation sigmoid"': f'vs_examples = [{example!r}'.replace("'", '"')})
    result = run_cli("check", "--lessons-dir", str(tmp_path))
    assert result.exit_code == 2, result.stdout
    problems = [line for line in result.stderr.splitlines() if line.startswith(str(path))]
    assert len(problems) == 1 and problems[0].startswith(f"{path}: vs_examples[1]: --vs "), result.stderr
    assert fragment in problems[0], problems[0]


def test_a_lesson_without_vs_examples_is_valid_and_its_help_gives_none(tmp_path, run_cli):
    _variant(tmp_path, {'vs_examples = ["--activation sigmoid", "--b -2"]\n': ""})
    assert run_cli("check", "--lessons-dir", str(tmp_path)).exit_code == 0
    help_text = run_cli("lesson", "neuron", "--lessons-dir", str(tmp_path), "--help").stdout
    assert "--vs" in help_text and '--vs "' not in help_text and "for example" not in help_text
