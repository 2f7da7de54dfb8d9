"""Writing results to files safely: atomically, never through a symbolic link.

>>> import tempfile, os
>>> folder = tempfile.mkdtemp()
>>> write_atomic(os.path.join(folder, "trace.md"), "# hello\\n")
>>> open(os.path.join(folder, "trace.md")).read()
'# hello\\n'
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from nntutor.errors import OutputError


def check_writable(path_text: str) -> Path:
    """Refuse, before any work is done, a target that cannot be written."""
    path = Path(path_text)
    if path_text.strip() == "":
        raise OutputError("--output: the path is empty")
    if path.is_symlink():
        raise OutputError(f"--output: {path_text!r} is a symbolic link; not writing through it")
    if path.is_dir():
        raise OutputError(f"--output: {path_text!r} is a folder (expected a file name)")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"--output: the folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"--output: cannot write in the folder {str(parent)!r} (permission denied)")
    return path


def write_atomic(path_text: str, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path_text``, then rename it into place.

    A failure leaves no partial file: either the old file or the complete new one.
    """
    path = check_writable(path_text)
    folder = path.parent if str(path.parent) else Path(".")
    fd = -1
    temp_name = ""
    try:
        fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            fd = -1
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
        temp_name = ""
    except OSError as exc:
        raise OutputError(f"--output: cannot write {path_text!r} ({exc.strerror or exc})") from None
    finally:
        if fd >= 0:
            os.close(fd)
        if temp_name and os.path.exists(temp_name):
            os.unlink(temp_name)
