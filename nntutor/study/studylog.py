"""The study log: one line per lesson run, appended to ``studied.log`` in the data folder.

Every ``nntutor lesson`` run is noted here, so it must cost next to nothing: a
single ``write`` to a file opened for appending, with no database to open and
no SQLite to import. Appends of one short line are atomic, so lessons run at
the same time never mix their lines, and a line is never rewritten, so a
killed process loses nothing already noted. ``nntutor progress`` and the quiz
read the log through :meth:`nntutor.study.progress.Store.studied`.

Each line is ``<unix time>\\t<lesson name>\\n``; a line that is not (a torn write
after a power cut, an edit by hand, a blank line) is skipped when the log is read.
An append that finds the last line unfinished starts on a new line.

>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> append("softmax", folder, now=100.0)
>>> append("neuron", folder, now=200.5)
>>> read(folder)
[('softmax', 100.0), ('neuron', 200.5)]
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import re
import stat
import time
from pathlib import Path

from nntutor.study.datadir import data_dir, make_data_dir

FILENAME = "studied.log"
_LESSON_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_MAX_LOG_BYTES = 64 * 1024 * 1024  # about three million runs; a bigger log is read from its end


def log_path(folder: str | os.PathLike | None = None) -> Path:
    return data_dir(folder) / FILENAME


def append(lesson: str, folder: str | os.PathLike | None = None, *, now: float | None = None) -> None:
    """Note one run of ``lesson``. Raises ``OSError`` (naming the file) when it cannot be written."""
    if not _LESSON_NAME.fullmatch(lesson):
        raise ValueError(f"not a lesson name: {lesson!r}")
    path = log_path(folder)
    make_data_dir(path.parent)
    line = f"{time.time() if now is None else now:.3f}\t{lesson}\n".encode("ascii")
    fd = _open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line  # a torn last line (power cut, full disk) must not swallow this run
        if os.write(fd, line) != len(line):
            raise OSError(errno.ENOSPC, "the study log was only partly written", str(path))
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None  # os.write names no file
    finally:
        os.close(fd)


def _open(path: Path, flags: int) -> int:
    """``os.open`` of the log itself: never through a symbolic link, never a pipe or a device.

    ``O_NONBLOCK`` lets a pipe (a FIFO named ``studied.log``) be opened without
    waiting for its other end, so that it can be refused.
    """
    flags |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, "the study log is a symbolic link; not following it", str(path)) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "the study log is not a regular file (a pipe or a device); not using it", str(path))
    return fd


def read(folder: str | os.PathLike | None = None) -> list[tuple[str, float]]:
    """Every run noted, oldest first, as (lesson, unix time); malformed lines are skipped.

    A log larger than 64 MB (millions of runs) is read from its newest 64 MB.
    Raises ``OSError`` when the log exists but cannot be read (a symbolic link,
    a pipe or a device included: reading one could block or never end).
    """
    path = log_path(folder)
    try:
        fd = _open(path, os.O_RDONLY)
    except FileNotFoundError:
        return []
    with open(fd, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > _MAX_LOG_BYTES:
            handle.seek(size - _MAX_LOG_BYTES)
            data = handle.read(_MAX_LOG_BYTES)
            data = data[data.find(b"\n") + 1 :]  # the first line is cut: skip it
        else:
            data = handle.read(_MAX_LOG_BYTES)
    runs = []
    for raw in data.split(b"\n")[:-1]:  # after the last newline: nothing, or a torn line
        at_text, tab, lesson = raw.decode("ascii", "replace").partition("\t")
        if not tab or not _LESSON_NAME.fullmatch(lesson):
            continue
        try:
            at = float(at_text)
        except ValueError:
            continue
        if math.isfinite(at) and at >= 0:
            runs.append((lesson, at))
    return runs


def clear(folder: str | os.PathLike | None = None) -> None:
    """Forget every run noted (``nntutor progress --reset``). Raises ``OSError`` when it cannot."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(log_path(folder))
