"""``--format py``: every lesson's script recomputes it with NumPy alone and passes; a wrong number fails.

The script is an independent implementation of each lesson (NumPy written out in the
lesson module's ``script``, never importing nntutor), run against the numbers the lesson
showed: a pass means two implementations agree, a perturbed expected number must fail.
"""

from __future__ import annotations

import ast
import contextlib
import io
import subprocess
import sys

import numpy as np
import pytest

from nntutor.catalog.course import load_course
from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson, walkthrough_of
from nntutor.render.python_script import render_script
from nntutor.trace import Table
from nntutor.walkthroughs._script import MISSING_STEP
from tests.helpers import assert_refused

COURSE = [lesson.name for lesson in load_course(None)[0].lessons]

# Lessons whose module declares no ``script`` yet: `--format py` refuses them (exit 2, one line).
# Remove a lesson from this list when its script is written; a new lesson lands here until then.
NO_SCRIPT_YET: list[str] = ["generate", "lm-loss", "attention-patterns", "train-step"]
SCRIPTED = [name for name in COURSE if name not in NO_SCRIPT_YET]


def _perturbed_flags(name: str) -> dict:
    """Another run of the lesson: the first ``--vs`` example of its lesson file, as flags."""
    from nntutor.cli.app import vs_overrides

    lesson = load_lesson(name)
    assert lesson.vs_examples, f"{name} has no vs_examples to vary its inputs with"
    return vs_overrides(lesson, lesson.vs_examples[0])


def _script(name: str, raw: dict | None = None, outputs=None) -> str:
    lesson = load_lesson(name)
    trace = run_lesson(lesson, raw or {})
    maths = walkthrough_of(lesson).script(trace)
    return render_script(trace, maths, command=f"nntutor lesson {name} --format py", outputs=outputs)


def _run_in_process(text: str) -> str:
    """Exec the script in a fresh namespace; what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(text, "<lesson script>", "exec"), {"__name__": "__main__"})
    return out.getvalue()


def _nudge(value, words: bool = False):
    """``value`` with its first number changed (with ``words``: its first word), and True; else (value, False)."""
    if isinstance(value, Table):
        rows, done = _nudge([list(row) for row in value.rows], words)
        return Table(value.columns, tuple(tuple(row) for row in rows)), done
    if isinstance(value, dict):
        for key, item in value.items():
            new, done = _nudge(item, words)
            if done:
                return {**value, key: new}, True
        return value, False
    if isinstance(value, np.ndarray) and value.size and value.dtype.kind in "fiub" and not words:
        changed = np.array(value, dtype=np.float64 if value.dtype.kind == "f" else value.dtype)
        flat = changed.reshape(-1)
        flat[0] = (not flat[0]) if changed.dtype == bool else flat[0] + (1e-3 * (1 + abs(flat[0])) if changed.dtype.kind == "f" else 1)
        return changed, True
    if isinstance(value, (list, tuple)) and value:
        for index, item in enumerate(value):
            new, done = _nudge(item, words)
            if done:
                return type(value)([*value[:index], new, *value[index + 1:]]), True
        return value, False
    if words:
        return (value + "x", True) if isinstance(value, str) else (value, False)
    if isinstance(value, bool):
        return not value, True
    if isinstance(value, int):
        return value + 1, True
    if isinstance(value, float):
        return value + 1e-3 * (1 + abs(value)), True
    return value, False


def _every_perturbation(outputs: dict):
    """One copy of ``outputs`` per output, with that output's first number (or word) changed."""
    for name, value in outputs.items():
        value = np.asarray(value) if hasattr(value, "__array__") and not isinstance(value, np.ndarray) else value
        new, done = _nudge(value)
        if not done:
            new, done = _nudge(value, words=True)
        if done:
            yield name, {**outputs, name: new}


def test_the_no_script_list_is_exactly_the_lessons_without_one():
    without = [name for name in COURSE if walkthrough_of(load_lesson(name)).script is None]
    assert without == [name for name in COURSE if name in NO_SCRIPT_YET], (
        "keep NO_SCRIPT_YET in step with the lesson modules (a new lesson without a script goes in it)"
    )


@pytest.mark.parametrize("name", SCRIPTED)
def test_every_script_passes_at_the_defaults_and_another_run(name):
    for raw in ({}, _perturbed_flags(name)):
        text = _script(name, raw)
        assert MISSING_STEP not in text
        printed = _run_in_process(text)
        count = text.count("\nassert ")
        assert printed.strip() == (f"all {count} checks passed" if count > 1 else "the 1 check passed"), (raw, printed)
        assert count >= 1


@pytest.mark.parametrize("name", SCRIPTED)
def test_every_script_passes_on_each_vs_example_and_on_random_inputs(name):
    """Every ``--vs`` example of the lesson file, and three runs on the quiz's perturbed inputs."""
    from nntutor.catalog.run import prepare
    from nntutor.cli.app import vs_overrides
    from nntutor.errors import NntutorError
    from nntutor.quiz.questions import random_inputs
    from nntutor.walkthroughs._declare import Args

    lesson = load_lesson(name)
    traces = [run_lesson(lesson, vs_overrides(lesson, example)) for example in lesson.vs_examples]
    for seed in range(3):
        values = random_inputs(lesson, np.random.default_rng(seed))
        try:
            traces.append(prepare(lesson, Args({**lesson.defaults(), **values}, given=values)).build())
        except NntutorError:  # a draw the lesson refuses: the quiz draws again
            continue
    assert len(traces) > len(lesson.vs_examples)
    for trace in traces:
        text = render_script(trace, walkthrough_of(lesson).script(trace), command="nntutor lesson")
        assert MISSING_STEP not in text  # every block is named after a step of the run
        assert _run_in_process(text).endswith(" passed\n"), trace.inputs


@pytest.mark.parametrize("name", SCRIPTED)
def test_a_script_with_any_expected_number_perturbed_fails(name):
    trace = run_lesson(load_lesson(name), {})
    maths = walkthrough_of(load_lesson(name)).script(trace)
    perturbed = list(_every_perturbation(trace.outputs))
    assert [output for output, _ in perturbed] == list(trace.outputs)  # every output is checked
    for output, outputs in perturbed:
        text = render_script(trace, maths, command="nntutor lesson", outputs=outputs)
        with pytest.raises(AssertionError):
            _run_in_process(text)
        assert output


@pytest.mark.parametrize("name", SCRIPTED)
def test_a_script_imports_numpy_and_the_standard_library_only(name):
    tree = ast.parse(_script(name))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert "nntutor" not in imported
    assert imported - {"numpy"} <= set(sys.stdlib_module_names), imported


def test_a_script_names_its_lesson_and_the_command_that_made_it(run_cli, tmp_path):
    result = run_cli("lesson", "neuron", "--x", "1,2,3", "--format", "py")
    assert result.exit_code == 0, result.stderr
    head = result.stdout.splitlines()[:12]
    assert any("nntutor lesson neuron" in line for line in head)
    assert any("Made by: nntutor lesson neuron --x 1,2,3 --format py" in line for line in head)
    assert "x = np.array([1.0, 2.0, 3.0])" in result.stdout
    assert result.stdout.rstrip().endswith('print("all 2 checks passed")')
    # the hand-worked value: w·x + b = 0.5·1 − 1·2 + 0.3·3 + 0.5 = -0.1
    assert "assert close(z, -0.1" in result.stdout


def test_dash_o_writes_a_py_file_through_the_output_policy(run_cli, tmp_path):
    path = tmp_path / "neuron.py"
    result = run_cli("lesson", "neuron", "-o", str(path))
    assert result.exit_code == 0, result.stderr
    assert f"wrote {path} (py)" in result.stderr
    assert _run_in_process(path.read_text(encoding="utf-8")) == "all 2 checks passed\n"


def test_a_bpe_corpus_file_is_started_from_its_word_counts(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("low lower lowest\nnewer newest wider\n" * 3, encoding="utf-8")
    text = _script("bpe", {"file": str(corpus), "merges": "6"})
    assert "# The corpus came from a file" in text and "word_counts = {\n    'low': 3," in text
    assert _run_in_process(text).startswith("all ")


def test_a_lesson_without_a_script_is_refused_in_one_line(run_cli, monkeypatch):
    from nntutor.catalog import run

    declared = run.walkthrough_of

    def without_script(lesson):  # the lesson as a module that declares no script would be
        return declared(lesson)._replace(script=None)

    monkeypatch.setattr(run, "walkthrough_of", without_script)
    assert_refused(run_cli("lesson", "neuron", "--format", "py"), "--format", "lesson 'neuron' has no script yet")


def test_a_script_too_large_to_read_is_refused_naming_the_flag(run_cli):
    assert_refused(run_cli("lesson", "attention", "--seq-len", "400", "--format", "py"), "--format", "--seq-len", "py output")


def test_py_does_not_go_with_vs_or_another_extension(run_cli, tmp_path):
    assert_refused(run_cli("lesson", "neuron", "--format", "py", "--vs", "--b 1"), "--format", "--vs")
    assert_refused(run_cli("lesson", "neuron", "--format", "py", "-o", str(tmp_path / "x.json")), "--format")


@pytest.mark.slow
@pytest.mark.parametrize("name", SCRIPTED)
def test_every_script_runs_with_python_and_a_perturbed_one_fails(name, tmp_path):
    for index, raw in enumerate(({}, _perturbed_flags(name))):
        path = tmp_path / f"{name}-{index}.py"
        path.write_text(_script(name, raw), encoding="utf-8")
        done = subprocess.run([sys.executable, "-I", str(path)], capture_output=True, text=True, cwd=tmp_path, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.endswith((" checks passed\n", " check passed\n")), done.stdout
    trace = run_lesson(load_lesson(name), {})
    output, outputs = next(_every_perturbation(trace.outputs))
    path = tmp_path / f"{name}-wrong.py"
    path.write_text(render_script(trace, walkthrough_of(load_lesson(name)).script(trace), command="", outputs=outputs), encoding="utf-8")
    done = subprocess.run([sys.executable, "-I", str(path)], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode != 0
    assert "AssertionError" in done.stderr and output in done.stderr


def test_a_script_does_not_share_the_lesson_code_it_checks(monkeypatch):
    """A bug in the lesson's maths (here: attention's softmax rows off by 1%) makes the
    lesson show wrong numbers; its script, NumPy alone, recomputes and fails."""
    from nntutor.core import attention as core

    honest = core.softmax_rows_in_place

    def broken(scaled, allowed):
        weights, row_max, row_sum, empty = honest(scaled, allowed)
        return weights * 1.01, row_max, row_sum, empty

    monkeypatch.setattr(core, "softmax_rows_in_place", broken)
    text = _script("attention")
    with pytest.raises(AssertionError, match="weights"):
        _run_in_process(text)
