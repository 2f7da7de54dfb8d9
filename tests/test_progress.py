"""The progress store: answers survive crashes, two processes at once, unreadable files moved aside."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from nntutor.study import progress
from nntutor.study.progress import DAY, Answer, Store

ROOT = Path(__file__).resolve().parent.parent


def _answer(item="softmax:probs.probs", correct=True, lesson="softmax", **extra):
    return Answer("s", lesson, item, f"{lesson}.{item.split(':')[1].split('.')[0]}", "p?", 0.5, "0.5", correct, **extra)


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ, NNTUTOR_HOME=str(home), NO_COLOR="1", PYTHONPATH=str(ROOT))
    env.pop("NNTUTOR_LESSONS", None)
    return env


# --------------------------------------------------------------------------- the store


def test_data_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("NNTUTOR_HOME", str(tmp_path / "env"))
    assert progress.data_dir(tmp_path / "flag") == tmp_path / "flag"
    assert progress.data_dir() == tmp_path / "env"
    monkeypatch.delenv("NNTUTOR_HOME")
    monkeypatch.setitem(sys.modules, "platformdirs", None)  # not installed: the XDG fallback
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert progress.data_dir() == tmp_path / "xdg" / "nntutor"


def test_default_is_the_platform_user_data_folder(monkeypatch):
    platformdirs = pytest.importorskip("platformdirs")
    monkeypatch.delenv("NNTUTOR_HOME")
    assert progress.data_dir() == Path(platformdirs.user_data_dir("nntutor", appauthor=False))


def test_schema_version_table(tmp_path):
    Store(tmp_path).close()
    conn = sqlite3.connect(tmp_path / progress.FILENAME)
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(progress.SCHEMA_VERSION,)]


def test_spaced_review_right_answers_wait_longer_wrong_come_back_at_once(tmp_path):
    store = Store(tmp_path)
    item = "softmax:probs.probs"
    store.record_answer(_answer(item, True), now=0.0)
    assert store.due(now=DAY - 1) == []
    assert [row["item"] for row in store.due(now=DAY)] == [item]  # 1 day after one right answer
    store.record_answer(_answer(item, True), now=DAY)
    assert store.due(now=DAY + 3 * DAY - 1) == []
    assert store.due(now=DAY + 3 * DAY)[0]["box"] == 2  # then 3 days
    store.record_answer(_answer(item, False), now=10 * DAY)
    (row,) = store.due(now=10 * DAY)  # wrong: due again straight away, back to box 0
    assert row["box"] == 0 and row["wrong"] == 1 and row["right"] == 2
    store.record_answer(_answer("softmax:exp.exp", True), now=10 * DAY)
    weights = store.review_weights(now=10 * DAY)
    assert weights == {item: 4.0, "softmax:exp.exp": 0.5}


def test_reports(tmp_path):
    store = Store(tmp_path)
    store.record_studied("neuron", now=100.0)
    store.record_studied("neuron", now=200.0)
    store.record_answer(_answer("softmax:probs.probs", True), now=300.0)
    store.record_answer(_answer("softmax:exp.exp", False, mistake="no-max-shift"), now=400.0)
    store.record_answer(_answer("softmax:exp.exp", False), now=500.0)
    assert store.studied() == [
        {"lesson": "softmax", "runs": 0, "answers": 3, "last": 500.0},
        {"lesson": "neuron", "runs": 2, "answers": 0, "last": 200.0},
    ]
    assert store.accuracy_by_lesson() == [{"lesson": "softmax", "correct": 1, "asked": 3, "credit": 1.0}]
    assert store.weakest_steps() == [{"step_kind": "softmax.exp", "correct": 0, "asked": 2}]
    assert [a["mistake"] for a in store.answers()] == [None, "no-max-shift", None]
    store.reset()
    assert store.answers() == [] and store.studied() == []


# --------------------------------------------------------------------------- unreadable files


def _moved_aside(folder: Path) -> list[Path]:
    return sorted(folder.glob(progress.FILENAME + ".unreadable-*"))


def test_garbage_file_is_moved_aside_not_deleted(tmp_path):
    path = tmp_path / progress.FILENAME
    garbage = b"this is not a database\x00" * 100
    path.write_bytes(garbage)
    store = Store(tmp_path)
    (aside,) = _moved_aside(tmp_path)
    assert aside.read_bytes() == garbage
    assert len(store.notices) == 1 and str(aside) in store.notices[0] and "could not be read" in store.notices[0]
    store.record_answer(_answer())  # a fresh store works
    assert len(store.answers()) == 1


def test_newer_schema_is_moved_aside(tmp_path):
    conn = sqlite3.connect(tmp_path / progress.FILENAME)
    conn.execute("CREATE TABLE schema_version (version INTEGER)")
    conn.execute("INSERT INTO schema_version VALUES (99)")
    conn.commit()
    conn.close()
    store = Store(tmp_path)
    assert "newer nntutor (schema 99" in store.notices[0]
    assert len(_moved_aside(tmp_path)) == 1


def test_other_sqlite_file_is_moved_aside(tmp_path):
    conn = sqlite3.connect(tmp_path / progress.FILENAME)
    conn.execute("CREATE TABLE photos (id INTEGER)")
    conn.commit()
    conn.close()
    store = Store(tmp_path)
    assert "not an nntutor progress database" in store.notices[0]


def test_damaged_pages_are_moved_aside(tmp_path):
    store = Store(tmp_path)
    for i in range(300):
        store.record_answer(_answer(f"softmax:exp.e{i}", i % 2 == 0))
    store.close()
    path = tmp_path / progress.FILENAME
    data = bytearray(path.read_bytes())
    assert len(data) > 3 * 4096
    data[4096 + 100 : len(data) - 100] = b"\xff" * (len(data) - 4096 - 200)
    path.write_bytes(bytes(data))
    store = Store(tmp_path)
    assert store.notices and len(_moved_aside(tmp_path)) == 1
    assert store.answers() == []


def test_cli_reports_a_moved_file_and_carries_on(run_cli, tmp_path):
    home = Path(os.environ["NNTUTOR_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / progress.FILENAME).write_text("not sqlite at all " * 50)
    result = run_cli("lesson", "neuron")
    assert result.exit_code == 0 and result.stderr == ""  # a lesson run only appends to the study log
    assert "z = w·x + b" in result.stdout
    progress_run = run_cli("progress", "--json")
    assert progress_run.exit_code == 0
    assert progress_run.stderr.startswith("note: your progress file could not be read")
    assert len(_moved_aside(home)) == 1
    report = json.loads(progress_run.stdout)
    assert [row["lesson"] for row in report["studied"]] == ["neuron"]  # the run noted before is kept


def test_lesson_still_runs_when_progress_cannot_be_recorded(run_cli, monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("NNTUTOR_HOME", str(blocker))  # a file, so no folder can be made there
    result = run_cli("lesson", "neuron")
    assert result.exit_code == 0
    assert "z = w·x + b = -1.4 + 0.5 = -0.9" in result.stdout
    assert result.stderr.startswith("warning: could not record this lesson in your progress")
    failed = run_cli("progress")
    assert failed.exit_code == 1 and failed.stderr.startswith("error: cannot create the data folder")


# --------------------------------------------------------------------------- CLI


def test_progress_after_lessons_and_a_quiz(run_cli):
    assert run_cli("lesson", "attention").exit_code == 0
    empty = run_cli("progress")
    assert "attention" in empty.stdout and "No quiz answers yet" in empty.stdout
    run_cli("quiz", "softmax", "--seed", "3", "--count", "2", input="0.5\n-0.84\n")
    result = run_cli("progress")
    assert result.exit_code == 0
    out = result.stdout
    assert re.search(r"The course: 1 of \d+ lessons studied", out) and re.search(r"✓ +\d+  attention +last .* · 1 lesson run$", out, re.M)
    assert "softmax              0/2 right (0%)" in out  # seed 3: −0.84 is Q1's answer, given to Q2
    assert "Weakest kinds of step" in out and "softmax.shift" in out
    assert "Due for review" in out and "compute shifted[2]" in out


def test_progress_data_dir_flag(run_cli, tmp_path):
    other = tmp_path / "elsewhere"
    run_cli("quiz", "softmax", "--seed", "3", "--count", "1", "--data-dir", str(other), input="-0.84\n")
    assert (other / progress.FILENAME).exists()
    doc = json.loads(run_cli("progress", "--json", "--data-dir", str(other)).stdout)
    assert doc["accuracy"] == [{"lesson": "softmax", "correct": 1, "asked": 1, "credit": 1.0}]
    assert json.loads(run_cli("progress", "--json").stdout)["accuracy"] == []


def test_reset_asks_first(run_cli):
    run_cli("lesson", "neuron")
    declined = run_cli("progress", "--reset", input="n\n")
    assert declined.exit_code == 0 and "Nothing was reset." in declined.stderr
    assert "Forget everything studied and answered" in declined.stdout
    assert json.loads(run_cli("progress", "--json").stdout)["studied"]
    accepted = run_cli("progress", "--reset", input="y\n")
    assert accepted.exit_code == 0 and "Progress reset" in accepted.stderr
    assert json.loads(run_cli("progress", "--json").stdout)["studied"] == []
    run_cli("lesson", "neuron")
    assert run_cli("progress", "--reset", "--yes").exit_code == 0
    assert json.loads(run_cli("progress", "--json").stdout)["studied"] == []


def test_reset_with_no_answer_changes_nothing(run_cli):
    run_cli("lesson", "neuron")
    unanswered = run_cli("progress", "--reset", input="")  # stdin at its end: no answer
    assert unanswered.exit_code == 1
    assert unanswered.stderr.strip().splitlines()[-1] == (
        "error: no answer on standard input: nothing was changed (pass --yes to skip the question)"
    )
    assert json.loads(run_cli("progress", "--json").stdout)["studied"]


# --------------------------------------------------------------------------- real processes


def _read_until(proc: subprocess.Popen, marker: bytes, count: int, timeout: float = 60.0) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    while seen.count(marker) < count:
        remaining = deadline - time.monotonic()
        assert remaining > 0, seen.decode(errors="replace")
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 65536)
            assert chunk, seen.decode(errors="replace")  # the process ended early
            seen += chunk
    return seen


@pytest.mark.slow
def test_killed_quiz_keeps_the_three_answers_given(tmp_path):
    home = tmp_path / "home"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nntutor", "quiz", "softmax", "--seed", "3", "--count", "5"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(home), cwd=tmp_path,
    )
    try:
        _read_until(proc, b"answer> ", 1)
        proc.stdin.write(b"0.5\n-0.84\n1\n")  # three answers (wrong, then two more)
        proc.stdin.flush()
        _read_until(proc, b"answer> ", 3)  # … wait for the fourth prompt (after three answers)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdin.close()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    with Store(home) as store:
        assert store.notices == []
        answers = store.answers()
    from nntutor.catalog.lessonfile import load_lesson
    from nntutor.quiz.questions import make_quiz

    third = make_quiz([load_lesson("softmax")], count=5, seed=3)[2]
    assert third.kind == "choice"  # "1" picked the choice shown first; the store keeps its number in the file
    assert [a["answer"] for a in answers] == ["0.5", "-0.84", str(third.order[0])]
    assert [a["item"].split(":")[0] for a in answers] == ["softmax"] * 3


@pytest.mark.slow
def test_two_quizzes_at_once(tmp_path):
    home = tmp_path / "home"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "nntutor", "quiz", "softmax", "attention", "--seed", str(seed), "--count", "6", "--json"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(home), cwd=tmp_path,
        )
        for seed in (1, 2)
    ]
    with ThreadPoolExecutor(2) as pool:  # both answer at the same time
        outs = list(pool.map(lambda proc: proc.communicate(b"1\n" * 6, timeout=120), procs))  # 1 also names a choice
    for proc, (out, err) in zip(procs, outs, strict=True):
        assert proc.returncode == 0, err.decode()
        assert len(json.loads(out)["questions"]) == 6
    with Store(home) as store:
        assert len(store.answers()) == 12
        assert len({a["session"] for a in store.answers()}) == 2


@pytest.mark.slow
def test_two_writers_hammering_the_store(tmp_path):
    home = tmp_path / "home"
    script = (
        "import sys; from nntutor.study.progress import Store, Answer\n"
        "s = Store(sys.argv[1])\n"
        "for i in range(60):\n"
        "    s.record_answer(Answer(sys.argv[2], 'softmax', f'softmax:exp.e{i % 7}', 'softmax.exp', 'p', 1.0, '1', i % 3 == 0))\n"
        "    s.record_studied('softmax')\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(home), name], env=_env(home), stderr=subprocess.PIPE)
        for name in ("a", "b")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    with Store(home) as store:
        answers = store.answers()
        assert len(answers) == 120 and store.notices == []
        assert sum(row["runs"] for row in store.studied()) == 120
        review = {row["item"] for row in store._rows("SELECT item FROM review")}
        assert review == {f"softmax:exp.e{i}" for i in range(7)}
    conn = sqlite3.connect(home / progress.FILENAME)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.slow
def test_ctrl_c_saves_answers_and_prints_the_summary(tmp_path):
    home = tmp_path / "home"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nntutor", "quiz", "softmax", "--seed", "3", "--count", "5"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(home), cwd=tmp_path,
    )
    try:
        _read_until(proc, b"answer> ", 1)
        proc.stdin.write(b"-0.84\n")
        proc.stdin.flush()
        _read_until(proc, b"answer> ", 1)  # the second question waits for an answer
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert b"Score: 1/1 right (1 of 5 questions answered, interrupted)" in out
    with Store(home) as store:
        assert [a["answer"] for a in store.answers()] == ["-0.84"]


def test_an_answer_that_cannot_be_saved_warns_and_the_quiz_goes_on(run_cli, monkeypatch):
    def fail(self, answer, *, now=None):
        raise progress.ProgressError("could not save progress (database or disk is full)")

    monkeypatch.setattr(Store, "record_answer", fail)
    result = run_cli("quiz", "softmax", "--seed", "3", "--count", "2", input="-0.84\nskip\n")
    assert result.exit_code == 0
    assert result.stderr.count("warning: this answer was not saved (could not save progress (database or disk is full))") == 2
    assert "Score: 1/2 right" in result.stdout
