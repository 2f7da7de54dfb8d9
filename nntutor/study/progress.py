"""What a learner studied and answered: a small SQLite file in their data folder.

Where: ``--data-dir``, else ``$NNTUTOR_HOME``, else the platform's user data
folder (``platformdirs``; ``~/.local/share/nntutor`` on Linux; see
:mod:`nntutor.study.datadir`). The file is ``progress.sqlite3``; lesson runs are noted
beside it in the study log (:mod:`nntutor.study.studylog`), which this store reads.

- Each answer is written in its own transaction, committed before the next
  question is asked: a crash, Ctrl-C or a killed process loses nothing already
  answered.
- Two quizzes at once are safe: SQLite's locking serialises the writes (a busy
  timeout makes the second writer wait instead of failing).
- A file that cannot be read (corrupt, not SQLite, wrong tables, or written by a
  newer nntutor) is renamed to ``progress.sqlite3.unreadable-<UTC time>`` (never
  deleted), a notice says so, and a fresh file is started. Only such a file is:
  a full disk, an I/O error, a lock held too long or a folder that cannot be
  written is a :class:`ProgressError` (exit code 1) and the file is left as it is.
- The file is never reached through a symbolic link, and a pipe or a device in
  its place is refused (SQLite would follow the one and block on the other).

Spaced review (Leitner boxes): a right answer moves an item up a box and it
comes back after 1, 3, 7, 14, then 30 days; a wrong, revealed or skipped
answer sends it back to box 0 and makes it due at once.

>>> import tempfile
>>> store = Store(tempfile.mkdtemp())
>>> store.record_answer(Answer("s1", "softmax", "softmax:probs.probs", "softmax.probs", "p?", 0.5, "0.5", True), now=0.0)
>>> store.due(now=0.0)
[]
>>> [row["item"] for row in store.due(now=86400.0)]
['softmax:probs.probs']
"""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from nntutor.errors import NntutorError
from nntutor.study import credit, studylog
from nntutor.study.datadir import PROGRESS_FILENAME, data_dir, make_data_dir

SCHEMA_VERSION = 1
FILENAME = PROGRESS_FILENAME
BUSY_TIMEOUT_SECONDS = 15.0
DAY = 86400.0
INTERVALS = (1 * DAY, 3 * DAY, 7 * DAY, 14 * DAY, 30 * DAY)  # after 1, 2, … right answers in a row
SIDE_FILES = ("-wal", "-shm", "-journal")  # SQLite's own files beside the database
MAX_REASON_CHARS = 200

# SQLite's primary result codes (``sqlite3.Error.sqlite_errorcode & 0xFF``)
_DAMAGED = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB: the file really cannot be read
_FULL, _IOERR, _BUSY, _LOCKED = 13, 10, 5, 6

_TABLES = {
    "schema_version": "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
    "studied": """CREATE TABLE IF NOT EXISTS studied (
        id INTEGER PRIMARY KEY, lesson TEXT NOT NULL, at REAL NOT NULL)""",
    "answers": """CREATE TABLE IF NOT EXISTS answers (
        id INTEGER PRIMARY KEY, at REAL NOT NULL, session TEXT NOT NULL, lesson TEXT NOT NULL,
        item TEXT NOT NULL, step_kind TEXT NOT NULL, prompt TEXT NOT NULL, expected REAL,
        answer TEXT, correct INTEGER NOT NULL, revealed INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0, hints INTEGER NOT NULL DEFAULT 0, mistake TEXT)""",
    "review": """CREATE TABLE IF NOT EXISTS review (
        item TEXT PRIMARY KEY, lesson TEXT NOT NULL, step_kind TEXT NOT NULL, prompt TEXT NOT NULL,
        box INTEGER NOT NULL, due REAL NOT NULL, last REAL NOT NULL,
        right INTEGER NOT NULL DEFAULT 0, wrong INTEGER NOT NULL DEFAULT 0)""",
}


class ProgressError(NntutorError):
    """The progress store cannot be used (unwritable folder, locked for too long): exit code 1."""

    exit_code = 1


class _Unreadable(Exception):
    """The file exists but is not a progress database this version can use."""


@dataclass(frozen=True)
class Answer:
    """One answered (or revealed, or skipped) question, as stored.

    ``expected`` and ``answer`` (as typed) are numbers; for a choice question they are the
    lesson file's numbers of the right choice and of the one given, not the numbers shown
    (choices are shown shuffled).
    """

    session: str
    lesson: str
    item: str
    step_kind: str
    prompt: str
    expected: float | None
    answer: str | None
    correct: bool
    revealed: bool = False
    skipped: bool = False
    hints: int = 0
    mistake: str | None = None


class Store:
    """The progress database of one data folder. ``notices`` holds what the learner should be told."""

    def __init__(self, folder: str | os.PathLike | None = None) -> None:
        self.folder = data_dir(folder)
        self.path = self.folder / FILENAME
        self.notices: list[str] = []
        try:
            make_data_dir(self.folder)
        except OSError as exc:
            raise ProgressError(f"cannot create the data folder {self.folder} ({exc.strerror or exc}); set --data-dir or NNTUTOR_HOME") from None
        self._refuse_special_files()
        self._conn = self._open()

    # ------------------------------------------------------------------ opening

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        except sqlite3.Error as exc:
            raise ProgressError(f"cannot open {self.path} ({exc})") from None
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        return conn

    def _refuse_special_files(self) -> None:
        """A symbolic link, pipe or device named like the database (or its side files) is refused."""
        for path in (self.path, *(self.path.with_name(FILENAME + suffix) for suffix in SIDE_FILES)):
            try:
                mode = os.lstat(path).st_mode
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise ProgressError(f"cannot use {path} ({exc.strerror or exc})") from None
            if stat.S_ISLNK(mode):
                raise ProgressError(f"{path} is a symbolic link; not following it (move it away, or set --data-dir)")
            if not stat.S_ISREG(mode):
                raise ProgressError(f"{path} is not a regular file (a folder, a pipe or a device); move it away, or set --data-dir")

    def _open(self) -> sqlite3.Connection:
        for _ in range(3):
            conn = self._connect()
            try:
                self._check(conn)
                self._create(conn)
                # Write-ahead log, synced at checkpoints: a commit survives the process being
                # killed (only a power cut could lose the last ones), and readers never block
                # the writer of a second quiz.
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                return conn
            except _Unreadable as exc:
                conn.close()
                self._move_aside(str(exc))
            except sqlite3.Error as exc:
                conn.close()
                if not _damaged(exc):  # a full disk or a lock says nothing about the file: leave it
                    raise ProgressError(_explain(exc, f"cannot use {self.path}")) from None
                self._move_aside(f"SQLite says: {exc}")
        raise ProgressError(f"cannot start a fresh progress database at {self.path}")

    def _check(self, conn: sqlite3.Connection) -> None:
        """Raise ``_Unreadable`` when the file is not a progress database this version can use.

        Errors that say nothing about the file (a full disk, a lock) are raised as they are.
        """
        try:
            names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.Error as exc:
            if not _damaged(exc):
                raise
            raise _Unreadable(f"SQLite says: {exc}") from None
        if not names:
            return  # a new (empty) file
        if "schema_version" not in names:
            raise _Unreadable("it is an SQLite file but not an nntutor progress database")
        row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        version = row[0] if row else None
        if version is None:
            if names - {"schema_version"}:
                raise _Unreadable("it has no schema version")
            return  # created by a process that was stopped half-way: finish it
        if version > SCHEMA_VERSION:
            raise _Unreadable(f"it was written by a newer nntutor (schema {version}; this one reads {SCHEMA_VERSION})")
        missing = set(_TABLES) - names
        if missing:
            raise _Unreadable(f"tables are missing: {', '.join(sorted(missing))}")
        check = conn.execute("PRAGMA quick_check").fetchone()
        if check is None or check[0] != "ok":
            raise _Unreadable(f"it is damaged ({check[0] if check else 'no answer from quick_check'})")

    def _create(self, conn: sqlite3.Connection) -> None:
        with _transaction(conn, convert=False):
            for statement in _TABLES.values():
                conn.execute(statement)
            conn.execute("CREATE INDEX IF NOT EXISTS answers_lesson ON answers (lesson)")
            if conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == 0:
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))

    def _move_aside(self, reason: str) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = self.path.with_name(f"{FILENAME}.unreadable-{stamp}")
        number = 1
        while target.exists():
            target = self.path.with_name(f"{FILENAME}.unreadable-{stamp}-{number}")
            number += 1
        try:
            os.replace(self.path, target)
        except FileNotFoundError:
            return  # another process moved it first
        except OSError as exc:
            raise ProgressError(f"{self.path} cannot be read ({reason}) and cannot be moved aside ({exc.strerror or exc})") from None
        for suffix in ("-wal", "-shm", "-journal"):
            side = self.path.with_name(FILENAME + suffix)
            if side.exists():
                with suppress(OSError):
                    os.replace(side, target.with_name(target.name + suffix))
        reason = " ".join(reason.split())  # quick_check lists its findings on several lines
        if len(reason) > MAX_REASON_CHARS:
            reason = reason[: MAX_REASON_CHARS - 1] + "…"
        self.notices.append(
            f"your progress file could not be read ({reason}); it was moved to {target} "
            "(kept, not deleted) and a fresh one was started"
        )

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ writing

    def _write(self):
        return _transaction(self._conn)

    def record_studied(self, lesson: str, *, now: float | None = None) -> None:
        """Note a lesson run (in the study log: lesson runs never open the database)."""
        studylog.append(lesson, self.folder, now=now)

    def record_answer(self, answer: Answer, *, now: float | None = None) -> None:
        """Store one answer and update its review schedule, in one committed transaction."""
        at = _now(now)
        with self._write():
            self._conn.execute(
                "INSERT INTO answers (at, session, lesson, item, step_kind, prompt, expected, answer, correct,"
                " revealed, skipped, hints, mistake) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    at, answer.session, answer.lesson, answer.item, answer.step_kind, answer.prompt, answer.expected,
                    answer.answer, int(answer.correct), int(answer.revealed), int(answer.skipped), answer.hints,
                    answer.mistake,
                ),
            )
            row = self._conn.execute("SELECT box, right, wrong FROM review WHERE item = ?", (answer.item,)).fetchone()
            box, right, wrong = (row["box"], row["right"], row["wrong"]) if row else (0, 0, 0)
            if answer.correct:
                box = min(box + 1, len(INTERVALS))
                due = at + INTERVALS[box - 1]
                right += 1
            else:
                box = 0
                due = at  # wrong, revealed or skipped: due again straight away
                wrong += 0 if answer.skipped else 1
            self._conn.execute(
                "INSERT INTO review (item, lesson, step_kind, prompt, box, due, last, right, wrong)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(item) DO UPDATE SET"
                " lesson = excluded.lesson, step_kind = excluded.step_kind, prompt = excluded.prompt,"
                " box = excluded.box, due = excluded.due, last = excluded.last, right = excluded.right,"
                " wrong = excluded.wrong",
                (answer.item, answer.lesson, answer.step_kind, answer.prompt, box, due, at, right, wrong),
            )

    def reset(self) -> None:
        """Forget everything studied and answered (the file stays, emptied; the study log goes)."""
        try:
            studylog.clear(self.folder)  # first: if it cannot go, nothing is half reset
        except OSError as exc:
            raise ProgressError(f"cannot remove {studylog.log_path(self.folder)} ({exc.strerror or exc})") from None
        with self._write():
            for table in ("studied", "answers", "review"):
                self._conn.execute(f"DELETE FROM {table}")

    # ------------------------------------------------------------------ reading

    def _rows(self, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
        try:
            return [dict(row) for row in self._conn.execute(sql, params)]
        except sqlite3.OperationalError as exc:
            raise ProgressError(f"cannot read {self.path} ({exc})") from None

    def answers(self) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM answers ORDER BY id")

    def studied(self) -> list[dict[str, Any]]:
        """Each lesson studied (run, or answered in a quiz): lesson runs, quiz answers, when last.

        Runs come from the study log (and from the ``studied`` table, where runs were kept
        before the log existed).
        """
        rows = self._rows(
            "SELECT lesson, SUM(run) AS runs, SUM(1 - run) AS answers, MAX(at) AS last FROM ("
            " SELECT lesson, at, 1 AS run FROM studied UNION ALL SELECT lesson, at, 0 AS run FROM answers)"
            " GROUP BY lesson"
        )
        by_lesson = {row["lesson"]: row for row in rows}
        try:
            runs = studylog.read(self.folder)
        except OSError as exc:
            raise ProgressError(f"cannot read {studylog.log_path(self.folder)} ({exc.strerror or exc})") from None
        for lesson, at in runs:
            row = by_lesson.setdefault(lesson, {"lesson": lesson, "runs": 0, "answers": 0, "last": at})
            row["runs"] += 1
            row["last"] = max(row["last"], at)
        return sorted(by_lesson.values(), key=lambda row: (-row["last"], row["lesson"]))

    def course(self, names: Sequence[str]) -> list[dict[str, Any]]:
        """The lessons ``names`` in that order (a course's), each with what was done, those not
        studied yet included (0 runs, ``last`` None); then any lesson done that is not among
        ``names`` (its file is gone), the latest first, with ``number`` None.

        >>> import tempfile
        >>> store = Store(tempfile.mkdtemp())
        >>> store.record_studied("layer", now=5.0)
        >>> [(row["number"], row["lesson"], row["runs"]) for row in store.course(["neuron", "layer"])]
        [(1, 'neuron', 0), (2, 'layer', 1)]
        """
        done = {row["lesson"]: row for row in self.studied()}
        rows = []
        for number, name in enumerate(dict.fromkeys(names), start=1):
            row = done.pop(name, {"runs": 0, "answers": 0, "last": None})
            rows.append({"number": number, "lesson": name, "runs": row["runs"], "answers": row["answers"], "last": row["last"]})
        rows += [{"number": None, **row} for row in done.values()]  # studied() is latest first
        return rows

    def report(self, *, now: float | None = None, course: Sequence[str] = ()) -> dict[str, Any]:
        """Everything ``nntutor progress`` shows; ``course`` is the lessons in teaching order (see :meth:`course`)."""
        return {
            "path": str(self.path),
            "course": self.course(course),
            "studied": self.studied(),
            "accuracy": self.accuracy_by_lesson(),
            "credit_rule": credit.RULE,
            "weakest": self.weakest_steps(),
            "due": self.due(now=now),
        }

    def accuracy_by_lesson(self) -> list[dict[str, Any]]:
        """Right answers, answers and points (:mod:`nntutor.study.credit`: hints cost) per lesson."""
        return self._rows(
            f"SELECT lesson, SUM(correct) AS correct, COUNT(*) AS asked, SUM({credit.SQL}) AS credit FROM answers"
            " GROUP BY lesson ORDER BY lesson"
        )

    def weakest_steps(self, limit: int = 5) -> list[dict[str, Any]]:
        """Kinds of step with the lowest share of right answers (ties: most asked first)."""
        return self._rows(
            "SELECT step_kind, SUM(correct) AS correct, COUNT(*) AS asked FROM answers"
            " GROUP BY step_kind HAVING SUM(correct) < COUNT(*)"
            " ORDER BY CAST(SUM(correct) AS REAL) / COUNT(*), COUNT(*) DESC, step_kind LIMIT ?",
            (limit,),
        )

    def due(self, *, now: float | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """Items due for review, the most overdue and most missed first."""
        return self._rows(
            "SELECT item, lesson, step_kind, prompt, box, due, right, wrong FROM review WHERE due <= ?"
            " ORDER BY box, due, item LIMIT ?",
            (_now(now), limit),
        )

    def review_weights(self, *, now: float | None = None) -> dict[str, float]:
        """Item -> weight for choosing questions: due items count more, wrong ones most."""
        at = _now(now)
        weights = {}
        for row in self._rows("SELECT item, box, due, wrong FROM review"):
            if row["due"] <= at:
                weights[row["item"]] = 4.0 if row["box"] == 0 and row["wrong"] else 2.0
            else:
                weights[row["item"]] = 0.5
        return weights


def _code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def _damaged(exc: sqlite3.Error) -> bool:
    """True when SQLite says the file itself is broken (not a full disk, a lock or a permission)."""
    code = _code(exc)
    if code is not None:
        return code in _DAMAGED
    text = str(exc)
    return "malformed" in text or "not a database" in text


def _explain(exc: sqlite3.Error, doing: str) -> str:
    """One line for an SQLite error that is not the file's fault, saying what the learner can do.

    >>> _explain(sqlite3.OperationalError("database or disk is full"), "could not save progress")
    'could not save progress: the disk is full (database or disk is full); nothing was changed: free some space and try again'
    """
    code = _code(exc)
    text = str(exc)
    if code == _FULL or (code is None and "disk is full" in text):
        return f"{doing}: the disk is full ({text}); nothing was changed: free some space and try again"
    if code == _IOERR or (code is None and "I/O error" in text):
        return (
            f"{doing}: the disk could not be written ({text}; it may be full, or a file-size limit was reached); "
            "nothing was changed"
        )
    if code in (_BUSY, _LOCKED) or "locked" in text or "busy" in text:
        return f"{doing}: it is busy (another nntutor is writing to it); try again"
    return f"{doing} ({text})"


def _now(now: float | None) -> float:
    return time.time() if now is None else float(now)


@contextmanager
def _transaction(conn: sqlite3.Connection, *, convert: bool = True) -> Iterator[None]:
    """BEGIN IMMEDIATE … COMMIT: takes the write lock up front (waiting up to the busy timeout).

    With ``convert``, an SQLite error while writing becomes a :class:`ProgressError`.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise ProgressError("the progress database is busy (another nntutor is writing to it); try again") from None
        raise
    try:
        yield
        conn.execute("COMMIT")
    except BaseException as exc:
        with suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        if convert and isinstance(exc, sqlite3.Error):
            raise ProgressError(_explain(exc, "could not save progress")) from None
        raise
