"""Where a learner's data lives: ``--data-dir``, else ``$NNTUTOR_HOME``, else the user data folder.

The user data folder comes from ``platformdirs`` (``~/.local/share/nntutor`` on
Linux), or from ``$XDG_DATA_HOME`` when platformdirs is missing.

>>> str(data_dir("/tmp/learner"))
'/tmp/learner'
"""

from __future__ import annotations

import errno
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


def make_data_dir(folder: Path) -> None:
    """Create ``folder`` (and its parents) if needed; an ``OSError`` that says why it cannot be.

    ``mkdir`` alone reports a link to a missing folder, or a file in the way, as
    "File exists"; this names what is there instead.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        if folder.is_symlink():
            target = os.readlink(folder)
            raise OSError(errno.ENOENT, f"it is a symbolic link to {target!r}, which does not exist", str(folder)) from None
        raise OSError(errno.ENOTDIR, "it exists and is not a folder", str(folder)) from None
