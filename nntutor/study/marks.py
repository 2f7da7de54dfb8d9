"""What the course map and ``nntutor list`` mark per lesson: studied, and the quiz score.

A lesson is studied once it was run to the end (a line in the study log,
:mod:`nntutor.study.studylog`, or a run kept in the progress database by an older
nntutor). Scores are all quiz answers on the lesson: right of asked. The database is
opened only when it exists, so a new learner's map neither imports SQLite nor creates
a file.

>>> import tempfile
>>> from nntutor.study import studylog
>>> folder = tempfile.mkdtemp()
>>> studylog.append("neuron", folder, now=1.0)
>>> read_marks(folder)
Marks(studied=frozenset({'neuron'}), scores={}, notices=())
"""

from __future__ import annotations

import os
from typing import NamedTuple

from nntutor.study import studylog
from nntutor.study.datadir import PROGRESS_FILENAME, data_dir


class Marks(NamedTuple):
    """Lessons studied, quiz scores by lesson as (right, asked), and notices for the learner."""

    studied: frozenset[str]
    scores: dict[str, tuple[int, int]]
    notices: tuple[str, ...] = ()


def read_marks(folder: str | os.PathLike | None = None) -> Marks:
    """The learner's marks in ``folder`` (see :func:`nntutor.study.datadir.data_dir`).

    Raises :class:`nntutor.study.progress.ProgressError` when the log or the database
    cannot be read.
    """
    if not (data_dir(folder) / PROGRESS_FILENAME).exists():
        try:
            runs = studylog.read(folder)
        except OSError as exc:
            from nntutor.study.progress import ProgressError

            raise ProgressError(f"cannot read {studylog.log_path(folder)} ({exc.strerror or exc})") from None
        return Marks(frozenset(lesson for lesson, _ in runs), {})
    from nntutor.study.progress import Store

    with Store(folder) as store:
        studied = frozenset(row["lesson"] for row in store.studied() if row["runs"])
        scores = {row["lesson"]: (row["correct"], row["asked"]) for row in store.accuracy_by_lesson()}
        return Marks(studied, scores, tuple(store.notices))
