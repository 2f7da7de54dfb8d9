"""Writing results to files safely: atomically, never through a symbolic link, never over a device.

>>> import tempfile, os
>>> folder = tempfile.mkdtemp()
>>> write_atomic(os.path.join(folder, "trace.md"), "# hello\\n")
>>> open(os.path.join(folder, "trace.md")).read()
'# hello\\n'

A new file gets the permissions of any file the learner creates (0666 less the
umask, usually 0644); a file written over keeps its own. ``content`` may be a
function that writes to the open file, so a large document is streamed to disk
instead of being built as one string first.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO

from nntutor.errors import OutputError


def _lstat(path_text: str) -> os.stat_result | None:
    """The path's own status (a link is not followed), ``None`` when nothing is there."""
    try:
        return os.lstat(path_text)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:  # a name too long, a loop of links, no permission
        raise OutputError(f"--output: cannot use {path_text!r} ({exc.strerror or exc})") from None


def check_writable(path_text: str) -> Path:
    """Refuse, before any work is done, a target that cannot be written (or must not be replaced)."""
    if path_text.strip() == "":
        raise OutputError("--output: the path is empty")
    path = Path(path_text)
    status = _lstat(path_text)
    if status is not None:
        if stat.S_ISLNK(status.st_mode):
            raise OutputError(f"--output: {path_text!r} is a symbolic link; not writing through it")
        if stat.S_ISDIR(status.st_mode):
            raise OutputError(f"--output: {path_text!r} is a folder (expected a file name)")
        if not stat.S_ISREG(status.st_mode):
            raise OutputError(
                f"--output: {path_text!r} is not a regular file (a device, a pipe or a socket); not replacing it"
            )
    parent = path.parent if str(path.parent) else Path(".")
    try:
        parent_is_dir = parent.is_dir()
    except OSError as exc:
        raise OutputError(f"--output: cannot use the folder {str(parent)!r} ({exc.strerror or exc})") from None
    if not parent_is_dir:
        raise OutputError(f"--output: the folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"--output: cannot write in the folder {str(parent)!r} (permission denied)")
    return path


def is_folder(path_text: str) -> bool:
    """True when ``-o`` names a folder: it ends with a slash, or it is an existing folder (not a link to one).

    >>> is_folder("slides/"), is_folder("notes.svg")
    (True, False)
    """
    if path_text.endswith(("/", os.sep)):
        return True
    status = _lstat(path_text)
    return status is not None and stat.S_ISDIR(status.st_mode)


def check_folder(path_text: str) -> Path:
    """Refuse, before any work, a folder that cannot be written in (or made: its parent must exist)."""
    path = Path(path_text)
    status = _lstat(path_text.rstrip("/" + os.sep) or path_text)
    if status is not None:
        if stat.S_ISLNK(status.st_mode):
            raise OutputError(f"--output: {path_text!r} is a symbolic link; not writing through it")
        if not stat.S_ISDIR(status.st_mode):
            raise OutputError(f"--output: {path_text!r} is not a folder (it ends with a slash but names a file)")
        if not os.access(path, os.W_OK):
            raise OutputError(f"--output: cannot write in the folder {path_text!r} (permission denied)")
        return path
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"--output: the folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"--output: cannot make the folder {path_text!r} (permission denied)")
    return path


def make_folder(path_text: str) -> Path:
    """The folder ``path_text``, made (with the learner's umask) if it is not there yet."""
    path = check_folder(path_text)
    try:
        path.mkdir(exist_ok=True)
    except OSError as exc:
        raise OutputError(f"--output: cannot make the folder {path_text!r} ({exc.strerror or exc})") from None
    return path


def write_atomic(path_text: str, content: str | Callable[[IO[str]], None]) -> None:
    """Write ``content`` to a temporary file beside ``path_text``, then rename it into place.

    A failure leaves no partial file: either the old file or the complete new one.
    """
    path = check_writable(path_text)
    folder = path.parent if str(path.parent) else Path(".")
    old = _lstat(path_text)
    temp_name = str(folder / f".nntutor-{secrets.token_hex(6)}.tmp")  # short: the target's name may be long
    fd = -1
    created = False
    try:
        # 0o666: the umask decides, as for any file the learner creates (mkstemp would make it 0600)
        fd = os.open(temp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), 0o666)
        created = True
        if old is not None:
            os.fchmod(fd, stat.S_IMODE(old.st_mode))  # written over: keep the file's own permissions
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            fd = -1
            if callable(content):
                content(handle)
            else:
                handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
        created = False
    except OSError as exc:
        raise OutputError(f"--output: cannot write {path_text!r} ({exc.strerror or exc})") from None
    finally:
        if fd >= 0:
            os.close(fd)
        if created and os.path.lexists(temp_name):
            os.unlink(temp_name)
