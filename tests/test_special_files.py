"""Files that are not regular files, names too long, and the permissions of exports.

``-o`` never replaces a device or a pipe; ``--file``/``--weights`` never read one
(``/dev/zero`` would be read until memory runs out, a pipe waits for a writer);
an export gets the permissions any new file of the learner gets (the umask), and
a file written over keeps its own.
"""

from __future__ import annotations

import os
import stat

import pytest

from nntutor.catalog.inputs import read_text_file
from nntutor.errors import InputError, OutputError
from nntutor.render.files import write_atomic
from tests.helpers import assert_refused

LONG_NAME = "a" * 300  # longer than any file name a Linux file system allows (255 bytes)


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe.md"
    os.mkfifo(path)
    return path


# --------------------------------------------------------------------------- -o


def test_output_onto_a_fifo_is_refused_and_the_fifo_stays(run_cli, fifo):
    result = run_cli("lesson", "neuron", "-o", str(fifo))
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: --output: '{fifo}' is not a regular file (a device, a pipe or a socket); not replacing it"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_output_onto_a_character_device_is_refused(run_cli):
    # /dev/null is the one device every Linux and macOS has; writing it as root used to
    # replace it by a regular file
    before = os.lstat("/dev/null")
    result = run_cli("lesson", "neuron", "-o", "/dev/null", "--format", "markdown")
    assert result.exit_code == 1
    assert "is not a regular file" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    after = os.lstat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


def test_write_atomic_refuses_a_device_even_when_called_directly(fifo):
    with pytest.raises(OutputError, match="not a regular file"):
        write_atomic(str(fifo), "text")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_an_output_name_too_long_is_one_line_exit_1(run_cli, tmp_path):
    result = run_cli("lesson", "neuron", "-o", str(tmp_path / f"{LONG_NAME}.md"))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: --output: cannot") and "File name too long" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_target_name_near_the_limit_still_gets_a_temporary_file(tmp_path):
    # the temporary file's name must not grow with the target's (255 is the limit)
    target = tmp_path / ("b" * 250 + ".md")
    write_atomic(str(target), "# ok\n")
    assert target.read_text() == "# ok\n"
    assert os.listdir(tmp_path) == [target.name]


# --------------------------------------------------------------------------- permissions


@pytest.fixture
def umask():
    def set_umask(mask: int) -> None:
        os.umask(mask)

    old = os.umask(0o022)
    yield set_umask
    os.umask(old)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_a_new_export_follows_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    target = tmp_path / "trace.md"
    write_atomic(str(target), "# hello\n")
    assert stat.S_IMODE(os.stat(target).st_mode) == mode


def test_writing_over_a_file_keeps_its_permissions(tmp_path, umask):
    umask(0o077)
    target = tmp_path / "shared.json"
    target.write_text("old")
    target.chmod(0o644)
    write_atomic(str(target), "{}\n")
    assert target.read_text() == "{}\n"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644


def test_the_cli_export_is_readable_by_others_with_the_usual_umask(run_cli, tmp_path, umask):
    target = tmp_path / "neuron.md"
    assert run_cli("lesson", "neuron", "-o", str(target)).exit_code == 0
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644


def test_a_streamed_export_writes_what_the_writer_gives(tmp_path):
    target = tmp_path / "big.json"
    write_atomic(str(target), lambda handle: [handle.write(f"{i}\n") for i in range(3)])
    assert target.read_text() == "0\n1\n2\n"


# --------------------------------------------------------------------------- reads


@pytest.mark.parametrize("lesson_flag", [("bpe", "--file"), ("mlp", "--weights"), ("transformer-block", "--weights")])
def test_a_device_is_refused_at_once_not_read_until_memory_runs_out(run_cli, lesson_flag):
    lesson, flag = lesson_flag
    assert_refused(run_cli("lesson", lesson, flag, "/dev/zero"), flag, "'/dev/zero' is not a regular file")


@pytest.mark.parametrize("lesson_flag", [("bpe", "--file"), ("mlp", "--weights"), ("transformer-block", "--weights")])
def test_a_fifo_is_refused_without_waiting_for_a_writer(run_cli, fifo, lesson_flag):
    lesson, flag = lesson_flag
    # without O_NONBLOCK opening the FIFO blocks forever; the test would hang here
    assert_refused(run_cli("lesson", lesson, flag, str(fifo)), flag, "is not a regular file")


def test_a_read_stops_one_byte_past_the_limit(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("low " * 10)
    assert read_text_file("--file", str(path), max_bytes=40) == "low " * 10
    with pytest.raises(InputError, match="is 40 bytes \\(at most 39 are read\\)"):
        read_text_file("--file", str(path), max_bytes=39)


def test_a_file_that_grows_while_it_is_read_is_refused(tmp_path, monkeypatch):
    # /proc files report st_size 0 and then give more: the read, not the size, must stop it
    import nntutor.catalog.reading as reading

    path = tmp_path / "growing.txt"
    path.write_text("x" * 100)
    real_fstat = os.fstat

    def small_fstat(fd):
        status = real_fstat(fd)
        return os.stat_result((status.st_mode, *status[1:6], 0, *status[7:]))

    monkeypatch.setattr(reading.os, "fstat", small_fstat)
    with pytest.raises(InputError, match="is more than 50 bytes"):
        read_text_file("--file", str(path), max_bytes=50)


def test_an_input_file_name_too_long_is_one_line(run_cli, tmp_path):
    assert_refused(run_cli("lesson", "bpe", "--file", str(tmp_path / LONG_NAME)), "--file", "File name too long")
