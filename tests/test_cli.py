"""The command line: every command, every output format, every error path."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nntutor import __version__
from tests.helpers import assert_refused


def test_version(run_cli):
    result = run_cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"nntutor {__version__}"


def test_no_arguments_shows_the_course_map_and_help_stays(run_cli):
    result = run_cli()
    assert result.exit_code == 0, result.stderr
    assert re.match(r"Your course: \d+ lessons, none studied yet\n", result.stdout)
    assert "Next: nntutor lesson neuron · then: nntutor quiz neuron" in result.stdout
    assert "Usage:" not in result.stdout
    assert "Usage: nntutor [OPTIONS] COMMAND" in run_cli("--help").stdout


def test_list_groups_lessons_by_part(run_cli):
    result = run_cli("list")
    assert result.exit_code == 0
    out = result.stdout
    # the part headings, each before its lessons' lines ("  14  attention   …")
    assert out.index("Neurons and layers\n") < out.index(" neuron  ") < out.index("\nAttention\n") < out.index(" attention  ")
    assert "Queries meet keys" in out


def test_check_passes(run_cli):
    result = run_cli("check")
    assert result.exit_code == 0, result.stderr
    assert "all valid" in result.stdout


def test_check_reports_file_and_key(run_cli, tmp_path):
    (tmp_path / "broken.toml").write_text('format_version = 1\nname = "broken"\n')
    result = run_cli("--lessons-dir", str(tmp_path), "check")
    assert result.exit_code == 2
    assert f"{tmp_path / 'broken.toml'}: title: missing" in result.stderr


def test_lesson_help_lists_its_own_inputs(run_cli):
    result = run_cli("lesson", "attention", "--help")
    assert result.exit_code == 0
    for flag in ("--x", "--tokens", "--wq", "--causal", "--no-scale", "--padding", "--seq-len", "--seed", "--format", "--output"):
        assert flag in result.stdout
    assert "1,0,0.5;0.5,1,0.2" in result.stdout  # the default is shown


def test_lesson_group_help_lists_lessons(run_cli):
    result = run_cli("lesson", "--help")
    assert result.exit_code == 0
    assert "attention" in result.stdout and "softmax" in result.stdout


def test_neuron_text(run_cli):
    result = run_cli("lesson", "neuron")
    assert result.exit_code == 0
    assert "z = w·x + b = -1.4 + 0.5 = -0.9" in result.stdout
    assert "ReLU(-0.9) = max(0, -0.9) = 0" in result.stdout


def test_softmax_huge_logits(run_cli):
    result = run_cli("lesson", "softmax", "--logits", "1000,1001,1002", "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    probs = doc["outputs"]["probs"]
    assert len(probs) == 3 and all(len(p) == 3 for p in probs)
    assert probs[1] == pytest.approx([0.0900306, 0.2447285, 0.6652410], abs=1e-7)


def test_attention_causal_json_contract(run_cli):
    result = run_cli("lesson", "attention", "--causal", "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert set(doc) >= {"lesson", "title", "inputs", "steps", "outputs"}
    assert doc["lesson"] == "attention"
    assert set(doc["outputs"]) == {"q", "k", "v", "scores", "scaled", "weights", "output"}
    for step in doc["steps"]:
        assert set(step) >= {"id", "title", "formula", "values"}
    masked = next(s for s in doc["steps"] if s["id"] == "mask")["values"]["masked"]
    assert masked[0][1] == "-inf"
    assert doc["inputs"]["causal"] is True
    assert doc["inputs"]["x"][0] == [1.0, 0.0, 0.5]


def test_json_keeps_full_precision(run_cli):
    result = run_cli("lesson", "softmax", "--logits", "2,1,0.1", "--temperature", "1", "--format", "json", "--precision", "1")
    probs = json.loads(result.stdout)["outputs"]["probs"]
    assert probs[0] == pytest.approx(0.6590011388859679, abs=1e-15)


def test_precision_changes_display(run_cli):
    result = run_cli("lesson", "softmax", "--logits", "2,1,0.1", "--temperature", "1", "--precision", "2")
    assert "p(z0) = 1 / 1.52 = 0.66" in result.stdout


def test_export_markdown_atomically(run_cli, tmp_path):
    target = tmp_path / "trace.md"
    result = run_cli("lesson", "attention", "-o", str(target))
    assert result.exit_code == 0, result.stderr
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# Scaled dot-product attention")
    assert "$$" in text
    assert [p.name for p in tmp_path.iterdir()] == ["trace.md"]  # no temporary file left


def test_export_json_and_text(run_cli, tmp_path):
    assert run_cli("lesson", "neuron", "-o", str(tmp_path / "t.json")).exit_code == 0
    assert json.loads((tmp_path / "t.json").read_text())["outputs"]["z"] == pytest.approx(-0.9)
    assert run_cli("lesson", "neuron", "-o", str(tmp_path / "t.txt")).exit_code == 0
    assert "\x1b[" not in (tmp_path / "t.txt").read_text()


def test_unwritable_output_exit_1_and_no_partial_file(run_cli, tmp_path):
    result = run_cli("lesson", "neuron", "-o", str(tmp_path / "missing" / "t.md"))
    assert result.exit_code == 1
    assert "does not exist" in result.stderr
    (tmp_path / "folder.md").mkdir()
    result = run_cli("lesson", "neuron", "-o", str(tmp_path / "folder.md"))
    assert result.exit_code == 1
    assert "is a folder" in result.stderr
    if os.geteuid() != 0 and sys.platform != "win32":
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        result = run_cli("lesson", "neuron", "-o", str(locked / "t.md"))
        assert result.exit_code == 1
        assert list(locked.iterdir()) == []


def test_output_through_symlink_refused(run_cli, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "link.md").symlink_to(victim)
    result = run_cli("lesson", "neuron", "-o", str(tmp_path / "link.md"))
    assert result.exit_code == 1
    assert victim.read_text() == "keep me"


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("lesson", "attnetion",), ("no lesson named 'attnetion'", "did you mean 'attention'")),
        (("lesson", "../../etc/passwd",), ("is not a lesson name",)),
        (("lesson", "neuron", "--nope", "1"), ("No such option: --nope",)),
        (("lesson", "neuron", "--x"), ("--x", "requires an argument")),
        (("lesson", "neuron", "--format", "pdf"), ("--format: 'pdf' is not one of",)),
        (("lesson", "neuron", "-o", "trace.pdf"), ("--output", ".pdf")),
        (("lesson", "neuron", "--precision", "99"), ("--precision", "at most 15")),
    ],
)
def test_bad_input_is_one_line_exit_2(run_cli, args, fragments):
    assert_refused(run_cli(*args), *fragments)


def test_markup_in_user_text_is_shown_literally(run_cli):
    result = run_cli("lesson", "softmax", "--labels", "[i],[bold]x,y,z,w", "--temperature", "1")
    assert result.exit_code == 0
    assert "[i]" in result.stdout and "[bold]x" in result.stdout


def test_teacher_variant_via_environment(run_cli, tmp_path, monkeypatch):
    from nntutor.catalog.lessonfile import builtin_lessons_dir

    text = (builtin_lessons_dir() / "attention.toml").read_text()
    text = text.replace('default = "The,cat,sat,down"', 'default = "Le,chat,est,là"')
    text = text.replace("Attention lets every token", "Dans ma classe, attention lets every token")
    (tmp_path / "attention.toml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("NNTUTOR_LESSONS", str(tmp_path))
    from typer.testing import CliRunner

    from nntutor import cli

    result = CliRunner().invoke(cli.make_app(), ["lesson", "attention"])
    assert result.exit_code == 0, result.stderr
    assert "Dans ma classe" in result.stdout and "chat" in result.stdout
    result = run_cli("--lessons-dir", str(tmp_path), "lesson", "attention", "--format", "json")
    assert json.loads(result.stdout)["inputs"]["tokens"] == ["Le", "chat", "est", "là"]


def test_random_inputs_from_seed(run_cli):
    a = run_cli("lesson", "attention", "--seq-len", "6", "--d-model", "8", "--seed", "3", "--format", "json")
    b = run_cli("lesson", "attention", "--seq-len", "6", "--d-model", "8", "--seed", "3", "--format", "json")
    assert a.exit_code == 0
    assert a.stdout == b.stdout
    doc = json.loads(a.stdout)
    assert len(doc["inputs"]["x"]) == 6 and len(doc["inputs"]["x"][0]) == 8


def test_large_matrix_is_elided_but_computed(run_cli):
    result = run_cli("lesson", "attention", "--seq-len", "20", "--d-model", "12", "--seed", "1")
    assert result.exit_code == 0
    assert "…" in result.stdout
    assert "20×20 matrix, elided for display" in result.stdout
    doc = json.loads(run_cli("lesson", "attention", "--seq-len", "20", "--d-model", "12", "--seed", "1", "--format", "json").stdout)
    assert len(doc["outputs"]["weights"]) == 20 and len(doc["outputs"]["weights"][19]) == 20


@pytest.mark.slow
def test_python_dash_m(tmp_path):
    import subprocess

    out = subprocess.run([sys.executable, "-m", "nntutor", "--version"], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.startswith("nntutor ")


@pytest.mark.slow
def test_piped_output_has_no_colour(tmp_path):
    import subprocess

    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    out = subprocess.run([sys.executable, "-m", "nntutor", "lesson", "neuron"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0
    assert "\x1b[" not in out.stdout


def test_svg_and_html_export(run_cli, tmp_path):
    import xml.etree.ElementTree as ET

    assert run_cli("lesson", "attention", "-o", str(tmp_path / "a.svg")).exit_code == 0
    root = ET.parse(tmp_path / "a.svg").getroot()
    assert root.tag.endswith("svg")
    svg_text = "".join(root.itertext()).replace("\xa0", " ")
    assert "Scaled dot-product attention" in svg_text
    assert "0.6714 / 1.6714 = 0.4017" not in svg_text  # not causal: the default run has no mask
    assert "S[1,0] = q1·k0 = 0.5×1 + 1×0 + 0.2×0.5 = 0.6" in svg_text
    assert run_cli("lesson", "attention", "-o", str(tmp_path / "a.html")).exit_code == 0
    html = (tmp_path / "a.html").read_text(encoding="utf-8")
    assert "<html" in html.lower() and "attention weights A" in html


def test_step_mode_does_not_wait_when_piped(run_cli):
    result = run_cli("lesson", "attention", "--step", input="")
    assert result.exit_code == 0
    assert "Step 5 · Mix the values with the weights" in result.stdout


def test_vs_marks_exactly_the_values_that_differ(run_cli):
    result = run_cli("lesson", "attention", "--causal", "--vs", "--no-scale", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    first, second = (run["outputs"] for run in doc["runs"])
    assert doc["runs"][1]["inputs"]["scale"] is False
    diff = doc["differences"]
    assert diff["q"] == [[False] * 3] * 4  # projections do not depend on scaling
    # row 0 attends only to itself in both runs (weight 1), so it must not be marked
    assert diff["weights"][0] == [False, False, False, False]
    # masked cells are exactly 0 in both runs: unmarked; visible cells of rows 1-3 change
    assert diff["weights"][1] == [True, True, False, False]
    for name in ("weights", "scaled", "output"):
        for i, row in enumerate(diff[name]):
            for j, mark in enumerate(row):
                assert mark == (first[name][i][j] != second[name][i][j])


def test_vs_text_and_bad_flags(run_cli):
    result = run_cli("lesson", "softmax", "--temperature", "1", "--vs", "--temperature 5")
    assert result.exit_code == 0
    assert "Compare: as given  vs  with --temperature 5" in result.stdout
    assert "0.6364*" not in result.stdout  # marks follow numbers, never invent them
    assert "*" in result.stdout.split("Compare:")[1]
    assert_refused(run_cli("lesson", "softmax", "--vs", "--nope 1"), "--vs: '--nope' is not an input")
    assert_refused(run_cli("lesson", "softmax", "--vs", "--temperature"), "--vs: --temperature needs a value")
    assert_refused(run_cli("lesson", "softmax", "--vs", "--temperature 0"), "--temperature", "greater than 0")
    assert_refused(run_cli("lesson", "softmax", "--vs", "'unbalanced"), "--vs: cannot split")
    # the command line's own parser: output options, stray words and values on flags are refused too
    assert_refused(run_cli("lesson", "softmax", "--vs", "--format json"), "--vs: '--format' is not an input")
    assert_refused(run_cli("lesson", "softmax", "--vs", "--help"), "--vs: '--help' is not an input")
    assert_refused(run_cli("lesson", "softmax", "--vs", "--temperature 5 stray"), "--vs:", "stray")
    assert_refused(run_cli("lesson", "attention", "--vs", "--causal=1"), "--vs:", "--causal", "does not take a value")


def test_an_internal_error_is_one_line_not_a_traceback(run_cli, monkeypatch):
    from nntutor.walkthroughs import neuron

    def broken(ctx, args):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(neuron, "WALKTHROUGH", neuron.WALKTHROUGH._replace(build=broken))
    result = run_cli("lesson", "neuron")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "internal error: ZeroDivisionError: boom (please report it; NNTUTOR_DEBUG=1 shows details)"
    ]


def test_failed_write_leaves_no_partial_file(run_cli, tmp_path, monkeypatch):
    import nntutor.render.files

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(nntutor.render.files.os, "replace", refuse)
    target = tmp_path / "out"
    target.mkdir()
    result = run_cli("lesson", "neuron", "-o", str(target / "trace.md"))
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: --output: cannot write '{target / 'trace.md'}' (No space left on device)"
    assert list(target.iterdir()) == []


def test_failed_write_keeps_the_old_file(run_cli, tmp_path, monkeypatch):
    import nntutor.render.files

    target = tmp_path / "trace.json"
    target.write_text("old")
    monkeypatch.setattr(nntutor.render.files.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(5, "Input/output error")))
    result = run_cli("lesson", "neuron", "-o", str(target))
    assert result.exit_code == 1
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "home") == ["trace.json"]


def _run_probe(probe: str, **kwargs) -> subprocess.CompletedProcess:
    """Run Python code with this checkout importable and stdout buffered (as it is by default)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    if "stdout" not in kwargs:
        kwargs["capture_output"] = True
    return subprocess.run([sys.executable, "-c", probe], text=True, env=env, timeout=120, check=False, **kwargs)


@pytest.mark.slow
@pytest.mark.parametrize("leaving", ["leave", "sys.exit"])
def test_the_program_leaves_without_teardown_but_with_everything_written(leaving):
    # A global whose __del__ speaks shows whether the interpreter was torn down; the
    # 5,000 characters are less than stdout's buffer, so they arrive only if it is flushed.
    probe = (
        "import atexit, sys\n"
        "from nntutor.cli.entry import leave\n"
        "class Noisy:\n"
        "    def __del__(self):\n"
        "        sys.stderr.write('torn down\\n')\n"
        "noisy = Noisy()\n"
        "atexit.register(lambda: sys.stderr.write('atexit ran\\n'))\n"
        "sys.stdout.write('x' * 5000)\n"
        f"{leaving}(3)\n"
    )
    done = _run_probe(probe)
    assert done.returncode == 3
    assert done.stdout == "x" * 5000
    expected = "atexit ran\n" if leaving == "leave" else "atexit ran\ntorn down\n"
    assert done.stderr == expected


@pytest.mark.slow
def test_leaving_with_a_message_prints_it_and_exits_1():
    done = _run_probe("from nntutor.cli.entry import leave\nleave('no lessons here')\n")
    assert (done.returncode, done.stdout, done.stderr) == (1, "", "no lessons here\n")


PENDING_OUTPUT = "import sys\nfrom nntutor.cli.entry import leave\nsys.stdout.write('x' * 5000)\nleave(0)\n"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_output_that_cannot_be_written_is_an_error_not_a_success():
    with open("/dev/full", "w") as full:
        done = _run_probe(PENDING_OUTPUT, stdout=full, stderr=subprocess.PIPE)
    assert done.returncode == 1
    assert done.stderr == "error: could not write the output: [Errno 28] No space left on device\n"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_while_writing_unbuffered_output_is_an_error_not_a_bug():
    # with PYTHONUNBUFFERED the write fails inside the command, not in the final flush
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "nntutor", "list"], stdout=full, stderr=subprocess.PIPE,
                              text=True, env=env, timeout=120, check=False)
    assert done.returncode == 1
    assert done.stderr == "error: could not write the output: [Errno 28] No space left on device\n"


@pytest.mark.slow
def test_a_reader_that_went_away_is_exit_1_without_a_message():
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the output is flushed
    try:
        done = _run_probe(PENDING_OUTPUT, stdout=write_end, stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (1, "")


@pytest.mark.parametrize(("typed", "meant"), [("lessons", "lesson"), ("li", "list"), ("progres", "progress"), ("quizz", "quiz")])
def test_a_mistyped_command_gets_a_suggestion(run_cli, typed, meant):
    # sub-commands are built only when run, so the suggestion must not depend on which were built
    result = run_cli(typed)
    assert result.exit_code == 2
    # the closest first ('lessons' also suggests 'lesson-file', after 'lesson')
    assert f"No such command '{typed}'. Did you mean '{meant}'" in result.stderr


@pytest.fixture
def teacher_dir(tmp_path):
    """A teacher's folder: a variant of attention (French tokens) and a new lesson, my-softmax."""
    from nntutor.catalog.lessonfile import builtin_lessons_dir

    folder = tmp_path / "my-lessons"
    folder.mkdir()
    attention = (builtin_lessons_dir() / "attention.toml").read_text(encoding="utf-8")
    assert 'default = "The,cat,sat,down"' in attention
    (folder / "attention.toml").write_text(attention.replace('default = "The,cat,sat,down"', 'default = "Le,chat,est,là"'), encoding="utf-8")
    softmax = (builtin_lessons_dir() / "softmax.toml").read_text(encoding="utf-8")
    assert '\nname = "softmax"\n' in softmax
    (folder / "my-softmax.toml").write_text(softmax.replace('\nname = "softmax"\n', '\nname = "my-softmax"\n'), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    "where",
    [
        lambda d: ["--lessons-dir", d, "lesson", "attention"],
        lambda d: ["lesson", "attention", "--lessons-dir", d],
        lambda d: ["lesson", "attention", f"--lessons-dir={d}"],
        lambda d: ["lesson", "attention", "--causal", "--lessons-dir", d, "--precision", "2"],
        lambda d: ["--lessons-dir", "no-such-folder", "lesson", "attention", "--lessons-dir", d],  # nearer wins
    ],
    ids=["root", "after", "after=", "among-flags", "both"],
)
def test_lessons_dir_before_or_after_the_lesson(run_cli, teacher_dir, where):
    result = run_cli(*where(str(teacher_dir)), "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["inputs"]["tokens"] == ["Le", "chat", "est", "là"]


def test_lessons_dir_after_the_lesson_finds_a_lesson_only_there(run_cli, teacher_dir):
    assert_refused(run_cli("lesson", "my-softmax"), "no lesson named 'my-softmax'")
    result = run_cli("lesson", "my-softmax", "--lessons-dir", str(teacher_dir))
    assert result.exit_code == 0, result.stderr
    assert "Softmax" in result.stdout
    help_text = run_cli("lesson", "my-softmax", "--lessons-dir", str(teacher_dir), "--help").stdout
    assert "--logits" in help_text and "--lessons-dir" in help_text
    assert_refused(run_cli("lesson", "attention", "--lessons-dir"), "--lessons-dir", "requires an argument")


@pytest.mark.parametrize("after", [False, True], ids=["root", "after"])
def test_list_check_and_quiz_take_lessons_dir_before_or_after(run_cli, teacher_dir, after):
    def run(command, *rest, **kwargs):
        option = ["--lessons-dir", str(teacher_dir)]
        argv = [command, *rest, *option] if after else [*option, command, *rest]
        return run_cli(*argv, **kwargs)

    listed = run("list")
    assert listed.exit_code == 0, listed.stderr
    assert "my-softmax" in listed.stdout
    checked = run("check")
    assert checked.exit_code == 0, checked.stderr
    from nntutor.catalog.lessonfile import builtin_lessons_dir

    count = len(list(builtin_lessons_dir().glob("*.toml"))) + 2  # every file is checked, the teacher's two too
    assert checked.stdout.strip() == f"checked {count} lesson file(s): all valid"
    quizzed = run("quiz", "my-softmax", "-n", "1", "--seed", "1", "--json", input="skip\n")
    assert quizzed.exit_code == 0, quizzed.stderr
    assert [q["lesson"] for q in json.loads(quizzed.stdout)["questions"]] == ["my-softmax"]
    (teacher_dir / "broken.toml").write_text('format_version = 1\nname = "broken"\n')
    broken = run("check")
    assert broken.exit_code == 2
    assert f"{teacher_dir / 'broken.toml'}: title: missing" in broken.stderr


def test_lesson_file_prints_the_built_in_file_byte_for_byte(run_cli, tmp_path):
    import tomllib

    from nntutor.catalog.lessonfile import builtin_lessons_dir

    result = run_cli("lesson-file", "attention")
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes == (builtin_lessons_dir() / "attention.toml").read_bytes()
    assert tomllib.loads(result.stdout)["name"] == "attention"
    # the README's recipe: save it in a folder of your own, edit it, use it
    mine = tmp_path / "my-lessons"
    mine.mkdir()
    (mine / "attention.toml").write_bytes(result.stdout_bytes.replace(b"The,cat,sat,down", b"Le,chat,est,l\xc3\xa0"))
    assert run_cli("--lessons-dir", str(mine), "check").exit_code == 0
    doc = json.loads(run_cli("lesson", "attention", "--lessons-dir", str(mine), "--format", "json").stdout)
    assert doc["inputs"]["tokens"] == ["Le", "chat", "est", "là"]


@pytest.mark.parametrize("after", [False, True], ids=["root", "after"])
def test_lesson_file_prints_the_file_nntutor_would_use(run_cli, teacher_dir, after):
    option = ["--lessons-dir", str(teacher_dir)]
    for name in ("attention", "my-softmax"):
        argv = ["lesson-file", name, *option] if after else [*option, "lesson-file", name]
        result = run_cli(*argv)
        assert result.exit_code == 0, result.stderr
        assert result.stdout_bytes == (teacher_dir / f"{name}.toml").read_bytes()


def test_lesson_file_of_an_unknown_lesson_is_one_line_with_suggestions(run_cli):
    assert_refused(run_cli("lesson-file", "attnetion"), "no lesson named 'attnetion'", "did you mean 'attention'")
    assert_refused(run_cli("lesson-file", "../../etc/passwd"), "is not a lesson name")


LEARNER_ORDER = ["next", "lesson", "list", "quiz", "progress", "explain", "models", "check", "lesson-file", "train", "export"]


def _listed_commands(help_text: str) -> list[str]:
    panel = help_text.split("Commands")[1]
    return [match.group(1) for match in re.finditer(r"^│ ([a-z][a-z-]*) ", panel, re.MULTILINE)]


def test_help_lists_commands_in_the_order_a_learner_uses_them(run_cli):
    result = run_cli("--help")
    assert result.exit_code == 0
    assert _listed_commands(result.stdout) == LEARNER_ORDER


def test_command_order_does_not_depend_on_which_commands_were_built():
    import typer

    from nntutor.cli.app import SUBCOMMANDS, make_app

    assert list(SUBCOMMANDS) == LEARNER_ORDER
    group = typer.main.get_command(make_app())
    ctx = typer.Context(group, info_name="nntutor")
    for name in ("check", "progress"):  # click would list the built ones first, sorted
        group.get_command(ctx, name)
    assert group.list_commands(ctx) == LEARNER_ORDER


@pytest.mark.parametrize(
    "command", [[], ["lesson"], ["lesson", "softmax"], ["list"], ["quiz"], ["progress"], ["check"], ["lesson-file"], ["train"], ["export"]],
    ids=lambda argv: " ".join(argv) or "nntutor",
)
def test_dash_h_is_help_wherever_help_is(run_cli, command):
    short, long = run_cli(*command, "-h"), run_cli(*command, "--help")
    assert short.exit_code == 0, short.stderr
    assert short.stdout == long.stdout and "Usage: nntutor" in short.stdout


def test_help_writes_defaults_as_typed_without_parentheses(run_cli):
    text = run_cli("lesson", "neuron", "--help").stdout
    for default in ("[default: 1.5,2,-0.5]", "[default: 0.5,-1,0.3]", "[default: 0.5]", "[default: relu]", "[default: 4]"):
        assert default in text, default
    assert "[default: (" not in text
    assert "[default: 5]" in run_cli("quiz", "--help").stdout


def test_an_output_extension_nntutor_cannot_write_names_every_one_it_can(run_cli, tmp_path):
    from nntutor.render.output import EXTENSIONS

    line = assert_refused(run_cli("lesson", "neuron", "-o", str(tmp_path / "x.png")), "--output", "'.png'")
    for extension in (".md", ".json", ".txt", ".svg", ".html", *EXTENSIONS):
        assert extension in line, extension
    assert not (tmp_path / "x.png").exists()


def test_lesson_names_are_case_insensitive(run_cli):
    result = run_cli("lesson", "Attention", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["lesson"] == "attention"
    assert "Usage: nntutor lesson attention " in run_cli("lesson", "ATTENTION", "--help").stdout
    assert run_cli("lesson-file", "Attention").stdout == run_cli("lesson-file", "attention").stdout != ""
    assert_refused(run_cli("lesson", "Attnetion"), "no lesson named 'Attnetion'", "did you mean 'attention'")


def test_quiz_takes_lesson_names_in_any_case_once_each(run_cli):
    result = run_cli("quiz", "Attention", "attention", "--count", "3", "--seed", "1", "--json", input="skip\n" * 3)
    assert result.exit_code == 0, result.stderr
    questions = json.loads(result.stdout)["questions"]
    assert [q["lesson"] for q in questions] == ["attention"] * 3
