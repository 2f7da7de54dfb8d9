"""Terminals and streams: encodings without Unicode, closed streams, extreme widths, endless stdin.

Each case has one clear outcome: output in ASCII (JSON with ``\\u`` escapes), one
``error:`` line, or the end of input; never ``internal error``, never a hang.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nntutor.catalog.inputs import parse_vector
from nntutor.errors import InputError, OutputError
from nntutor.render import streams
from nntutor.render.output import print_message
from nntutor.render.quiz_view import MAX_LINE_CHARS, MAX_SKIPPED_CHARS, make_reader
from tests.helpers import assert_refused

ROOT = Path(__file__).resolve().parent.parent


def _run(args, *, env=None, close=(), timeout=60, **kwargs) -> subprocess.CompletedProcess:
    """``python -m nntutor ARGS`` in a fresh process; ``close`` names descriptors closed before it starts."""
    full_env = {key: value for key, value in os.environ.items() if key not in ("PYTHONIOENCODING", "COLUMNS")}
    full_env.update({"PYTHONPATH": str(ROOT), "NO_COLOR": "1", **(env or {})})

    def closing():
        for fd in close:
            os.close(fd)

    return subprocess.run([sys.executable, "-m", "nntutor", *args], env=full_env, preexec_fn=closing if close else None,
                          capture_output=not close, timeout=timeout, check=False, **kwargs)


# --------------------------------------------------------------------------- encodings


def test_the_ascii_fallback_keeps_the_mathematics_readable():
    text = "Step 1 · S = Q·Kᵀ, A = softmax(S/√dₖ) → σ ≈ 0.5, μ ≤ 2 … ⋮ │ ─┼─ ⣿"
    assert text.encode("ascii", errors=streams.ASCII_ERRORS).decode("ascii") == (
        "Step 1 . S = Q.K^T, A = softmax(S/sqrtd_k) -> sigma ~ 0.5, mu <= 2 ... : | -+- ."
    )
    assert "漢".encode("ascii", errors=streams.ASCII_ERRORS) == b"\\u6f22"
    # latin-1 has ·, × and ²: only what it lacks is replaced
    assert "2·3 × 4² → 5".encode("latin-1", errors=streams.ASCII_ERRORS).decode("latin-1") == "2·3 × 4² -> 5"


@pytest.mark.parametrize(("encoding", "expected"), [("utf-8", True), ("UTF_8", True), ("utf-16", True), ("ascii", False), ("latin-1", False)])
def test_which_encodings_write_unicode(encoding, expected):
    assert streams.writes_unicode(io.TextIOWrapper(io.BytesIO(), encoding=encoding)) is expected


@pytest.mark.slow
@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
@pytest.mark.parametrize(
    "args",
    [("lesson", "attention"), ("lesson", "backprop"), ("lesson", "attention", "--format", "markdown"), ("list",),
     ("progress",), ("--help",), ("lesson", "softmax", "--help")],
)
def test_a_terminal_without_unicode_gets_text_not_an_internal_error(tmp_path, encoding, args):
    (tmp_path / "studied.log").write_text("100.0\tattention\n")  # progress has a lesson to show
    result = _run(args, env={"PYTHONIOENCODING": encoding, "NNTUTOR_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert b"internal error" not in result.stderr
    result.stdout.decode(encoding)  # every byte is in the terminal's encoding
    if encoding == "ascii" and args[:2] == ("lesson", "attention") and len(args) == 2:
        assert b"Step 1 . Project each token" in result.stdout
        assert b"S = Q.K^T" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_json_on_a_terminal_without_unicode_uses_u_escapes(tmp_path, encoding):
    result = _run(["lesson", "attention", "--format", "json"], env={"PYTHONIOENCODING": encoding, "NNTUTOR_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.isascii() and b"\\u221a" in result.stdout  # the √ of a formula, escaped
    document = json.loads(result.stdout)
    utf8 = json.loads(_run(["lesson", "attention", "--format", "json"], env={"NNTUTOR_HOME": str(tmp_path)}).stdout)
    assert document == utf8  # the same data, only written differently


@pytest.mark.slow
@pytest.mark.parametrize("encoding", ["ascii", "utf-8"])
def test_a_quiz_with_bytes_its_encoding_cannot_read(tmp_path, encoding):
    env = {"PYTHONIOENCODING": encoding, "NNTUTOR_HOME": str(tmp_path)}
    result = _run(["quiz", "softmax", "--seed", "1", "--json"], env=env, input=b"0.5\nhint\nshow\n\xff\xfe\nskip\n")
    assert result.returncode == 0, result.stderr
    assert b"internal error" not in result.stderr
    assert b"could not read that as a number" in result.stderr  # the bad bytes are an unreadable answer
    assert result.stdout.isascii() or encoding == "utf-8"
    json.loads(result.stdout)


# --------------------------------------------------------------------------- closed streams


@pytest.mark.slow
def test_a_closed_stdout_is_one_error_line(tmp_path):
    with open(tmp_path / "err", "wb") as err:
        result = _run(["lesson", "neuron"], env={"NNTUTOR_HOME": str(tmp_path)}, close=(1,), stderr=err)
    message = (tmp_path / "err").read_text()
    assert result.returncode == 1
    assert message == "error: standard output is closed: nothing can be shown (use -o FILE to write to a file)\n"


@pytest.mark.slow
def test_a_closed_stdout_does_not_stop_an_export(tmp_path):
    target = tmp_path / "neuron.md"
    with open(tmp_path / "err", "wb") as err:
        result = _run(["lesson", "neuron", "-o", str(target)], env={"NNTUTOR_HOME": str(tmp_path)}, close=(1,), stderr=err)
    assert result.returncode == 0, (tmp_path / "err").read_text()
    assert target.read_text().startswith("# A single neuron")


@pytest.mark.slow
def test_a_closed_stdin_is_the_end_of_input(tmp_path):
    with open(tmp_path / "out", "wb") as out:
        result = _run(["quiz", "softmax", "--seed", "1"], env={"NNTUTOR_HOME": str(tmp_path)}, close=(0,), stdout=out,
                      stderr=subprocess.STDOUT)
    text = (tmp_path / "out").read_text()
    assert result.returncode == 0, text
    assert "input ended" in text and "internal error" not in text


@pytest.mark.slow
def test_a_closed_stderr_still_gives_the_quiz_json(tmp_path):
    with open(tmp_path / "out", "wb") as out:
        result = _run(["quiz", "softmax", "--seed", "1", "--json"], env={"NNTUTOR_HOME": str(tmp_path)}, close=(2,),
                      stdout=out, input=b"0.5\n")
    assert result.returncode == 0
    document = json.loads((tmp_path / "out").read_text())
    assert document["questions"][0]["answer"] == "0.5"


def test_the_closed_output_stand_in_refuses_writes_clearly():
    closed = streams.ClosedOutput("standard output")
    assert closed.write("") == 0 and not closed.isatty()
    with pytest.raises(OutputError, match="standard output is closed"):
        closed.write("x")


# --------------------------------------------------------------------------- widths


def test_columns_are_held_to_a_sane_range():
    assert streams.clamped_columns("1") == str(streams.MIN_COLUMNS)
    assert streams.clamped_columns("100000") == str(streams.MAX_COLUMNS)
    assert streams.clamped_columns("-5") == str(streams.MIN_COLUMNS)
    assert streams.clamped_columns("90") == "90"
    assert streams.clamped_columns("wide") is None


@pytest.mark.slow
@pytest.mark.parametrize("columns", ["1", "100000"])
def test_help_at_extreme_widths_is_readable_and_small(tmp_path, columns):
    result = _run(["--help"], env={"COLUMNS": columns, "NNTUTOR_HOME": str(tmp_path)})
    text = result.stdout.decode()
    assert result.returncode == 0
    assert "lesson" in text and "quiz" in text and "progress" in text  # the commands are all there
    widest = max(len(line) for line in text.splitlines())
    assert streams.MIN_COLUMNS <= widest <= streams.MAX_COLUMNS, widest
    assert len(text) < 40_000  # at 100000 columns it used to be megabytes


# --------------------------------------------------------------------------- stdin that never ends


def test_an_endless_line_is_read_only_up_to_a_bound():
    screen = io.StringIO()
    endless = io.StringIO("1" * 5_000_000)  # no line break, ever
    read = make_reader(endless, screen)
    with pytest.raises(InputError, match=f"runs past {MAX_SKIPPED_CHARS:,} characters without a line break"):
        read()
    assert endless.tell() <= MAX_SKIPPED_CHARS + 70_000  # read to the bound, not to the end
    assert len(screen.getvalue()) < 100  # and never echoed


def test_a_long_line_is_cut_skipped_to_its_end_and_the_next_one_read():
    screen = io.StringIO()
    read = make_reader(io.StringIO("7" * 500_000 + "\nskip\n"), screen)
    assert read() == "7" * (MAX_LINE_CHARS + 1)  # one more than the cap: the parser refuses it as too long
    assert read() == "skip"
    assert len(screen.getvalue()) < 2 * MAX_LINE_CHARS  # the echo is cut too


def test_lines_up_to_the_cap_are_answers_and_their_controls_are_escaped():
    screen = io.StringIO()
    read = make_reader(io.StringIO("0.5\r\n" + "2" * MAX_LINE_CHARS + "\n\x1b[2Jskip\n"), screen)
    assert read() == "0.5"
    assert read() == "2" * MAX_LINE_CHARS
    assert read() == "\x1b[2Jskip"
    assert read() is None
    assert "\x1b" not in screen.getvalue() and "\\x1b[2Jskip" in screen.getvalue()


def test_a_quiz_fed_an_endless_line_stops_with_one_line(run_cli):
    result = run_cli("quiz", "softmax", "--seed", "1", input="0" * 3_000_000)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: stdin: a line runs past {MAX_SKIPPED_CHARS:,} characters without a line break (expected one answer a line)"
    )
    assert len(result.stdout) < 20_000  # nothing of the line was echoed


def test_a_quiz_skips_a_long_line_and_goes_on(run_cli):
    result = run_cli("quiz", "softmax", "--seed", "1", "--count", "1", input="1" * 200_000 + "\nquit\n")
    assert result.exit_code == 0, result.stderr
    assert "could not read that as a number" in result.stdout and "Stopping here" in result.stdout
    assert len(result.stdout) < 20_000


@pytest.mark.slow
def test_a_quiz_on_dev_zero_ends_at_once(tmp_path):
    with open("/dev/zero", "rb") as zero:
        result = _run(["quiz", "softmax", "--seed", "1"], env={"NNTUTOR_HOME": str(tmp_path)}, stdin=zero, timeout=30)
    assert result.returncode == 2
    assert result.stderr.decode().strip().endswith("(expected one answer a line)")


# --------------------------------------------------------------------------- smaller


@pytest.mark.parametrize("raw", ["1e-400,1", "[1e-400, 1]", "-2.5e-999,1"])
def test_a_number_that_would_underflow_to_zero_is_refused_like_a_subnormal(raw):
    with pytest.raises(InputError, match="too close to zero to compute with"):
        parse_vector("--logits", raw)
    assert parse_vector("--logits", "0e-400,1").tolist() == [0.0, 1.0]  # a written zero is still zero


def test_markdown_into_a_json_file_is_refused_before_any_work(run_cli, tmp_path):
    target = tmp_path / "x.json"
    assert_refused(run_cli("lesson", "neuron", "-o", str(target), "--format", "markdown"),
                   "--format: markdown does not match the extension", "name the file .md")
    assert not target.exists()
    assert run_cli("lesson", "neuron", "-o", str(tmp_path / "notes.txt"), "--format", "markdown").exit_code == 0
    assert run_cli("lesson", "neuron", "-o", str(tmp_path / "x.json"), "--format", "json").exit_code == 0


def test_messages_show_control_characters_escaped(capsys):
    print_message("error: --output: cannot write 'a\x1b]0;PWNED\x07.md'")
    assert capsys.readouterr().err == "error: --output: cannot write 'a\\x1b]0;PWNED\\x07.md'\n"
