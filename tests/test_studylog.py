"""The study log: lesson runs noted by appending one line, read back by the progress store."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nntutor.study import studylog
from nntutor.study.progress import Store

REPO = Path(__file__).resolve().parent.parent


def test_lines_are_time_tab_lesson(tmp_path):
    studylog.append("softmax", tmp_path, now=1.5)
    studylog.append("neuron", tmp_path, now=2.0)
    assert (tmp_path / studylog.FILENAME).read_text() == "1.500\tsoftmax\n2.000\tneuron\n"
    assert studylog.read(tmp_path) == [("softmax", 1.5), ("neuron", 2.0)]


def test_malformed_lines_are_skipped_not_fatal(tmp_path):
    (tmp_path / studylog.FILENAME).write_bytes(
        b"12.000\tsoftmax\n"
        b"garbage\n"
        b"nan\tneuron\n"
        b"-5\tneuron\n"
        b"13.000\tNot A Lesson\n"
        b"\xff\xfe\t\x00\n"
        b"14.0\tattention\n"
        b"15.000\tatt"  # torn last line (a power cut mid-write)
    )
    assert studylog.read(tmp_path) == [("softmax", 12.0), ("attention", 14.0)]


def test_store_counts_log_runs_with_older_table_runs_and_answers(tmp_path):
    store = Store(tmp_path)
    store._conn.execute("INSERT INTO studied (lesson, at) VALUES ('neuron', 50.0)")  # a run kept by an older version
    studylog.append("neuron", tmp_path, now=100.0)
    studylog.append("softmax", tmp_path, now=75.0)
    assert store.studied() == [
        {"lesson": "neuron", "runs": 2, "answers": 0, "last": 100.0},
        {"lesson": "softmax", "runs": 1, "answers": 0, "last": 75.0},
    ]
    store.reset()
    assert store.studied() == [] and not (tmp_path / studylog.FILENAME).exists()


def test_not_a_lesson_name_is_refused(tmp_path):
    with pytest.raises(ValueError):
        studylog.append("../../etc/passwd", tmp_path)
    assert not (tmp_path / studylog.FILENAME).exists()


def test_a_symlinked_log_is_not_written_through(tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me\n")
    (tmp_path / studylog.FILENAME).symlink_to(target)
    with pytest.raises(OSError, match="symbolic link"):
        studylog.append("softmax", tmp_path)
    assert target.read_text() == "keep me\n"


def test_a_torn_last_line_does_not_swallow_the_next_run(tmp_path):
    (tmp_path / studylog.FILENAME).write_bytes(b"100.000\tneuron\n200.0\tsoftm\x00\x00")  # a power cut mid-line
    studylog.append("attention", tmp_path, now=300.0)
    assert studylog.read(tmp_path) == [("neuron", 100.0), ("attention", 300.0)]


def test_a_huge_log_is_read_from_its_newest_end(tmp_path, monkeypatch):
    monkeypatch.setattr(studylog, "_MAX_LOG_BYTES", 64)
    for at in range(20):
        studylog.append("neuron", tmp_path, now=float(at))
    studylog.append("softmax", tmp_path, now=99.0)
    runs = studylog.read(tmp_path)
    assert runs[-1] == ("softmax", 99.0) and len(runs) < 21
    assert all(lesson in ("neuron", "softmax") for lesson, _ in runs)  # the cut first line is skipped


def test_an_unreadable_log_is_one_clean_error_and_reset_changes_nothing(tmp_path):
    from nntutor.study.progress import ProgressError

    store = Store(tmp_path)
    store._conn.execute("INSERT INTO studied (lesson, at) VALUES ('neuron', 50.0)")
    (tmp_path / studylog.FILENAME).mkdir()  # a folder where the log should be
    with pytest.raises(ProgressError, match="cannot read"):
        store.studied()
    with pytest.raises(ProgressError, match="cannot remove"):
        store.reset()
    assert store._rows("SELECT lesson FROM studied") == [{"lesson": "neuron"}]  # nothing was half reset


def test_cli_reports_an_unreadable_log_in_one_line(run_cli):
    home = Path(os.environ["NNTUTOR_HOME"])
    (home / studylog.FILENAME).mkdir(parents=True)
    result = run_cli("progress")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot read") and len(result.stderr.strip().splitlines()) == 1
    lesson = run_cli("lesson", "neuron")
    assert lesson.exit_code == 0 and lesson.stderr.startswith("warning: could not record this lesson")


@pytest.mark.slow
def test_concurrent_appends_never_mix_lines(tmp_path):
    script = "import sys; from nntutor.study import studylog\nfor _ in range(400): studylog.append(sys.argv[2], sys.argv[1])\n"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path), name], env=env, stderr=subprocess.PIPE)
        for name in ("softmax", "multi-head", "attention")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    # (racing the torn-line check, an append may add a blank line before its own: skipped on reading)
    lines = [line for line in (tmp_path / studylog.FILENAME).read_text().splitlines() if line]
    assert len(lines) == 1200
    runs = studylog.read(tmp_path)
    assert len(runs) == 1200
    assert {lesson: sum(1 for name, _ in runs if name == lesson) for lesson in ("softmax", "multi-head", "attention")} == {
        "softmax": 400, "multi-head": 400, "attention": 400,
    }


def test_cli_lesson_run_appends_to_the_log(run_cli):
    home = Path(os.environ["NNTUTOR_HOME"])
    assert run_cli("lesson", "softmax").exit_code == 0
    assert run_cli("lesson", "softmax", "--format", "json").exit_code == 0
    assert [lesson for lesson, _ in studylog.read(home)] == ["softmax", "softmax"]
    assert not (home / "progress.sqlite3").exists()  # no database for a lesson run
