"""Single key presses from a terminal, without Enter (for ``--step``).

:func:`terminal_keys` returns a ``read_key()`` that puts the terminal in cbreak mode for
one read (no echo, no line buffering; Ctrl-C still interrupts) and names the key:

>>> key_name(b"\\r"), key_name(b" "), key_name(b"B"), key_name(b"\\x1b[D"), key_name(b"")
('enter', 'space', 'b', 'left', 'eof')

Where the terminal cannot be switched (no ``termios``: Windows), keys are read as lines
and Enter is needed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import IO

_NAMED = {
    b"\r": "enter",
    b"\n": "enter",
    b"\r\n": "enter",
    b" ": "space",
    b"\x03": "ctrl-c",
    b"\x04": "eof",
    b"\x1b": "escape",
    b"\x1b[A": "up",
    b"\x1b[B": "down",
    b"\x1b[C": "right",
    b"\x1b[D": "left",
    b"\x1bOA": "up",
    b"\x1bOB": "down",
    b"\x1bOC": "right",
    b"\x1bOD": "left",
    b"\x1b[5~": "pageup",
    b"\x1b[6~": "pagedown",
}


def key_name(data: bytes) -> str:
    """The name of the key that sent ``data``: ``enter``, ``space``, ``left`` …, a letter
    (lower case), ``eof`` for the end of input, ``other`` for anything else."""
    if data == b"":
        return "eof"
    if data in _NAMED:
        return _NAMED[data]
    text = data.decode("utf-8", errors="replace")
    return text.lower() if len(text) == 1 and text.isprintable() else "other"


def terminal_keys(stream: IO[str]) -> Callable[[], str]:
    """``read_key()`` for a terminal on ``stream`` (stdin): one key press, named by :func:`key_name`."""
    try:
        import termios
        import tty
    except ImportError:  # pragma: no cover - Windows
        return _line_keys(stream)
    fd = stream.fileno()

    def read_key() -> str:
        saved = termios.tcgetattr(fd)
        try:
            tty.setcbreak(fd)
            data = os.read(fd, 32)  # an escape sequence (an arrow key) arrives in one read
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        return key_name(data)

    return read_key


def _line_keys(stream: IO[str]) -> Callable[[], str]:  # pragma: no cover - Windows
    def read_key() -> str:
        line = stream.readline()
        if line == "":
            return "eof"
        return key_name(line.strip().encode() or b"\r")

    return read_key
