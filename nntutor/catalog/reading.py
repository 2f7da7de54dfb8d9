"""Reading a file someone named (a learner's ``--file``, a teacher's lesson file) without surprises.

Only a regular file is read, and at most a given number of bytes of it: a device
(``/dev/zero``), a pipe or a socket is refused at once, without waiting for a
writer or reading without end, and so is a file that grows past the limit while
it is read. Every refusal is a :class:`FileProblem` whose text finishes the
sentence "PATH …", for the caller to name its flag or file.

>>> import os, tempfile
>>> folder = tempfile.mkdtemp()
>>> with open(os.path.join(folder, "a.txt"), "wb") as handle:
...     _ = handle.write(b"hello")
>>> read_limited(os.path.join(folder, "a.txt"), 10)
b'hello'
>>> read_limited(os.path.join(folder, "a.txt"), 4)
Traceback (most recent call last):
  ...
nntutor.catalog.reading.FileProblem: is 5 bytes (at most 4 are read)
>>> read_limited("/dev/zero", 10)
Traceback (most recent call last):
  ...
nntutor.catalog.reading.FileProblem: is not a regular file (a device, a pipe or a socket)
"""

from __future__ import annotations

import os
import stat

CHUNK_BYTES = 1 << 20


class FileProblem(Exception):
    """Why a file cannot be read, as the end of a sentence that starts with its path."""


def read_limited(path: str | os.PathLike, max_bytes: int) -> bytes:
    """The bytes of the regular file ``path``, refusing anything else and anything over ``max_bytes``."""
    try:
        # O_NONBLOCK: opening a pipe must not wait for a writer (it is refused just below)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except (FileNotFoundError, NotADirectoryError):
        raise FileProblem("does not exist") from None
    except IsADirectoryError:
        raise FileProblem("is a folder") from None
    except OSError as exc:  # no permission, a name too long, a loop of symbolic links
        raise FileProblem(f"cannot be read ({exc.strerror or exc})") from None
    try:
        status = os.fstat(fd)
        if stat.S_ISDIR(status.st_mode):
            raise FileProblem("is a folder")
        if not stat.S_ISREG(status.st_mode):
            raise FileProblem("is not a regular file (a device, a pipe or a socket)")
        if status.st_size > max_bytes:
            raise FileProblem(f"is {status.st_size:,} bytes (at most {max_bytes:,} are read)")
        chunks = []
        left = max_bytes + 1  # one byte more than allowed shows a file that grew past the limit
        while left > 0:
            chunk = os.read(fd, min(left, CHUNK_BYTES))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise FileProblem(f"cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if left <= 0:
        raise FileProblem(f"is more than {max_bytes:,} bytes (at most {max_bytes:,} are read)")
    return b"".join(chunks)
