"""The two errors a learner can cause, and how they read.

``InputError`` is a bad flag value (exit code 2); ``LessonFileError`` is a
lesson file that is not valid (exit code 2 as well: it is input too). Both
render as a single line that names where the problem is and what was expected::

    >>> str(InputError("--w", "expected 3 numbers to match --x, got 2"))
    '--w: expected 3 numbers to match --x, got 2'
"""

from __future__ import annotations


class NntutorError(Exception):
    """Base class: a problem the learner can fix, shown as one line."""

    exit_code = 2


class InputError(NntutorError):
    """A flag (or answer) whose value cannot be used."""

    def __init__(self, flag: str, message: str) -> None:
        self.flag = flag
        self.message = message
        super().__init__(f"{flag}: {message}")


class LessonFileError(NntutorError):
    """A lesson file that is missing, unreadable or invalid."""

    def __init__(self, path: str, key: str, message: str) -> None:
        self.path = path
        self.key = key
        self.message = message
        where = f"{path}: {key}" if key else path
        super().__init__(f"{where}: {message}")


class OutputError(NntutorError):
    """A result that could not be written (a runtime failure: exit code 1)."""

    exit_code = 1
