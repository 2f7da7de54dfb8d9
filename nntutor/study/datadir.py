"""Where a learner's data lives: ``--data-dir``, else ``$NNTUTOR_HOME``, else the user data folder.

The user data folder comes from ``platformdirs`` (``~/.local/share/nntutor`` on
Linux), or from ``$XDG_DATA_HOME`` when platformdirs is missing.

>>> str(data_dir("/tmp/learner"))
'/tmp/learner'
"""

from __future__ import annotations

import os
from pathlib import Path

PROGRESS_FILENAME = "progress.sqlite3"
"""The progress database's file in the data folder (:mod:`nntutor.study.progress`)."""


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The folder that holds the progress database and the study log."""
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("NNTUTOR_HOME")
    if home:
        return Path(home).expanduser()
    try:
        import platformdirs
    except ImportError:
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        return Path(base) / "nntutor"
    return Path(platformdirs.user_data_dir("nntutor", appauthor=False))
