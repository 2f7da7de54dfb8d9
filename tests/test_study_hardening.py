"""The progress database and the study log against special files, links and a full disk.

Only a database that really cannot be read is moved aside; a full disk, a lock or a
folder that cannot be written leaves it untouched (exit code 1, one line). Neither the
database nor the log is reached through a symbolic link, and a pipe in their place is
refused instead of blocking.
"""

from __future__ import annotations

import errno
import os
import resource
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from nntutor.study import progress, studylog
from nntutor.study.progress import Answer, ProgressError, Store

ROOT = Path(__file__).resolve().parent.parent


def _answer(item: str = "softmax:probs.probs") -> Answer:
    return Answer("s", "softmax", item, "softmax.probs", "p?", 0.5, "0.5", True)


def _home(run_cli_home: Path | None = None) -> Path:
    return Path(os.environ["NNTUTOR_HOME"])


def _one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


# --------------------------------------------------------------------------- the study log


@pytest.fixture
def fifo_log():
    home = _home()
    home.mkdir(parents=True, exist_ok=True)
    path = home / studylog.FILENAME
    os.mkfifo(path)
    return path


def test_a_fifo_as_the_study_log_is_refused_not_waited_on(tmp_path):
    os.mkfifo(tmp_path / studylog.FILENAME)
    with pytest.raises(OSError, match="not a regular file"):
        studylog.read(tmp_path)  # a plain open() blocks here until a writer comes
    with pytest.raises(OSError, match="not a regular file"):
        studylog.append("neuron", tmp_path)


def test_progress_with_a_fifo_log_is_one_line_exit_1(run_cli, fifo_log):
    result = run_cli("progress")
    assert result.exit_code == 1
    assert _one_line(result).startswith(f"error: cannot read {fifo_log}")


def test_review_quiz_with_a_fifo_log_is_one_line_exit_1(run_cli, fifo_log):
    result = run_cli("quiz", "--seed", "1", input="skip\n")
    assert result.exit_code == 1
    assert "not a regular file" in _one_line(result)


def test_a_lesson_still_runs_with_a_fifo_log(run_cli, fifo_log):
    result = run_cli("lesson", "neuron")
    assert result.exit_code == 0
    assert "not a regular file" in _one_line(result)


def test_a_failed_log_write_names_the_log_not_none(run_cli, monkeypatch):
    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(studylog.os, "write", full)
    result = run_cli("lesson", "neuron")
    assert result.exit_code == 0
    line = _one_line(result)
    assert line == (
        "warning: could not record this lesson in your progress "
        f"(No space left on device: {_home() / studylog.FILENAME})"
    )


def test_a_dangling_data_folder_link_says_so_not_file_exists(run_cli, tmp_path, monkeypatch):
    link = tmp_path / "home-link"
    link.symlink_to(tmp_path / "gone")
    monkeypatch.setenv("NNTUTOR_HOME", str(link))
    lesson = run_cli("lesson", "neuron")
    assert lesson.exit_code == 0
    assert "is a symbolic link to" in _one_line(lesson) and "File exists" not in lesson.stderr
    result = run_cli("progress")
    assert result.exit_code == 1
    assert _one_line(result) == (
        f"error: cannot create the data folder {link} (it is a symbolic link to '{tmp_path / 'gone'}', which does not "
        "exist); set --data-dir or NNTUTOR_HOME"
    )


# --------------------------------------------------------------------------- the database


def test_a_dangling_database_link_creates_nothing_outside_the_folder(tmp_path):
    outside = tmp_path / "outside.sqlite3"
    home = tmp_path / "home"
    home.mkdir()
    (home / progress.FILENAME).symlink_to(outside)
    with pytest.raises(ProgressError, match="is a symbolic link; not following it"):
        Store(home)
    assert not outside.exists()


def test_a_database_link_to_another_file_leaves_that_file_alone(run_cli, tmp_path):
    victim = tmp_path / "notes.txt"
    victim.write_bytes(b"")  # empty: SQLite would take it for a new database and write its tables into it
    home = _home()
    home.mkdir(parents=True, exist_ok=True)
    (home / progress.FILENAME).symlink_to(victim)
    result = run_cli("progress")
    assert result.exit_code == 1
    assert "is a symbolic link; not following it" in _one_line(result)
    assert victim.read_bytes() == b""


@pytest.mark.parametrize("side", ["", "-wal", "-shm"])
def test_a_pipe_where_the_database_or_its_side_files_go_is_refused(tmp_path, side):
    os.mkfifo(tmp_path / (progress.FILENAME + side))
    with pytest.raises(ProgressError, match="is not a regular file"):
        Store(tmp_path)


def _full_disk(*args, **kwargs):
    raise sqlite3.OperationalError("database or disk is full")


def test_a_full_disk_while_opening_leaves_the_database_alone(tmp_path, monkeypatch):
    store = Store(tmp_path)
    store.record_answer(_answer(), now=0.0)
    store.close()
    before = (tmp_path / progress.FILENAME).read_bytes()
    monkeypatch.setattr(Store, "_create", _full_disk)
    with pytest.raises(ProgressError) as info:
        Store(tmp_path)
    assert "the disk is full" in str(info.value) and "nothing was changed" in str(info.value)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir() if "unreadable" in p.name) == []
    assert (tmp_path / progress.FILENAME).read_bytes() == before
    assert [row["item"] for row in Store(tmp_path).answers()] == ["softmax:probs.probs"]


def test_an_io_error_while_checking_is_not_taken_for_a_damaged_file(tmp_path, monkeypatch):
    Store(tmp_path).close()

    def io_error(self, conn):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(Store, "_check", io_error)
    with pytest.raises(ProgressError, match="could not be written"):
        Store(tmp_path)
    assert not any("unreadable" in p.name for p in tmp_path.iterdir())


def test_a_full_disk_while_saving_an_answer_is_one_clear_line(tmp_path):
    store = Store(tmp_path)
    message = progress._explain(sqlite3.OperationalError("database or disk is full"), "could not save progress")
    assert message.startswith("could not save progress: the disk is full")
    store.close()


@pytest.mark.slow
def test_a_file_size_limit_leaves_the_database_intact_and_says_so(tmp_path):
    # prlimit --fsize=4096 nntutor progress: the write-ahead log cannot grow, and that
    # used to be taken for an unreadable file: renamed aside, two to five junk files a run
    home = tmp_path / "home"
    store = Store(home)
    for number in range(20):
        store.record_answer(_answer(f"softmax:probs.probs[{number}]"), now=float(number))
    store.close()
    before = {p.name: p.read_bytes() for p in home.iterdir()}
    assert (home / progress.FILENAME).stat().st_size > 4096

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    env = dict(os.environ, NNTUTOR_HOME=str(home), PYTHONPATH=str(ROOT), NO_COLOR="1")
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "-m", "nntutor", "progress"], env=env, capture_output=True, text=True, timeout=60,
            preexec_fn=limit, check=False,
        )
        assert result.returncode == 1, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "could not be written" in lines[0] and "nothing was changed" in lines[0], result.stderr
    assert not [p.name for p in home.iterdir() if "unreadable" in p.name]
    assert (home / progress.FILENAME).read_bytes() == before[progress.FILENAME]
    result = subprocess.run([sys.executable, "-m", "nntutor", "progress", "--json"], env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0 and '"softmax"' in result.stdout  # the history is all there once space is back


def test_a_damaged_database_note_is_one_line(run_cli, monkeypatch):
    # what PRAGMA quick_check says of a scribbled-over page: its findings on several lines
    report = "*** in database main ***\nOn tree page 15 cell 87: Offset 418 out of range 471..4092\n" * 20
    home = _home()
    home.mkdir(parents=True, exist_ok=True)
    Store(home).close()
    real_check = Store._check

    def damaged(self, conn):
        if (home / progress.FILENAME).stat().st_size:
            raise progress._Unreadable(f"it is damaged ({report})")
        real_check(self, conn)

    monkeypatch.setattr(Store, "_check", damaged)
    result = run_cli("progress")
    assert result.exit_code == 0, result.stderr
    line = _one_line(result)
    assert line.startswith("note: your progress file could not be read (it is damaged (*** in database main *** On tree page 15")
    assert "…" in line and len(line) < 400
