"""The standard streams, made safe once when the program starts (:func:`setup`).

- **Closed streams.** A closed file descriptor 0, 1 or 2 (``nntutor … >&-``) is
  given ``/dev/null`` first, so that no file opened later (an export, the
  progress database) lands on it. Then Python's ``None`` streams are replaced:
  a closed stdin reads as empty (the end of input); writing to a closed stdout
  is an :class:`~nntutor.errors.OutputError` (exit 1, one line: the output has
  nowhere to go; ``-o FILE`` still works); a closed stderr swallows what is
  written to it (nothing can be said, but the exit status still tells).
- **Encodings that cannot write Unicode** (``PYTHONIOENCODING=ascii``,
  ``latin-1``): the characters the lessons use are written as ASCII
  (``→`` as ``->``, ``√`` as ``sqrt``, ``σ`` as ``sigma``, box lines as ``-``,
  ``|`` and ``+``); anything else as a ``\\uXXXX`` escape.
- **Stdin** that is not valid in its encoding reads with a replacement
  character, which the answer parser refuses like any other unreadable answer.
- **Width.** ``$COLUMNS`` is held between :data:`MIN_COLUMNS` and
  :data:`MAX_COLUMNS` (``--help`` at ``COLUMNS=1`` showed almost nothing, at
  ``COLUMNS=100000`` megabytes).

>>> "σ → √2 ≈ 1.41".encode("ascii", errors=ASCII_ERRORS).decode()
'sigma -> sqrt2 ~ 1.41'
>>> clamped_columns("1"), clamped_columns("100000"), clamped_columns("wide"), clamped_columns("120")
('40', '400', None, '120')
"""

from __future__ import annotations

import codecs
import io
import os
import sys
from typing import Any

from nntutor.errors import OutputError

MIN_COLUMNS = 40
MAX_COLUMNS = 400
ASCII_ERRORS = "nntutor-ascii"
"""The codec error handler that writes the characters of :data:`ASCII` as ASCII."""

ASCII = {
    "·": ".", "×": "x", "÷": "/", "−": "-", "–": "-", "±": "+/-", "…": "...", "′": "'", "″": "''",
    "→": "->", "←": "<-", "↦": "|->", "⇔": "<=>", "≈": "~", "≠": "!=", "≤": "<=", "≥": ">=", "∈": " in ",
    "√": "sqrt", "∂": "d", "∇": "grad ", "⊙": "(.)", "Σ": "sum ", "Δ": "delta ", "Φ": "Phi",
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "eps", "η": "eta", "θ": "theta",
    "λ": "lambda", "μ": "mu", "π": "pi", "σ": "sigma", "φ": "phi", "ω": "omega", "ŷ": "y^", "\u0302": "^",
    "²": "^2", "³": "^3", "½": "1/2", "ᵀ": "^T", "⁻": "^-", "⁶": "^6", "ᵢ": "_i", "ⱼ": "_j", "ₖ": "_k",
    "ₗ": "_l", "ₙ": "_n", "ₜ": "_t", "₀": "_0", "₁": "_1", "₂": "_2", "₃": "_3",
    "•": "*", "✓": "ok", "✗": "x", "⚠": "!", "⋮": ":", "⋱": "\\", "★": "*",
    "─": "-", "━": "-", "│": "|", "┃": "|", "┌": "+", "┐": "+", "└": "+", "┘": "+", "├": "+", "┤": "+",
    "┬": "+", "┴": "+", "┼": "+", "╭": "+", "╮": "+", "╯": "+", "╰": "+",
}


def _ascii_fallback(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start : error.end]
    out = []
    for ch in text:
        if ch in ASCII:
            out.append(ASCII[ch])
        elif 0x2800 <= ord(ch) <= 0x28FF:  # braille dots: the points of a terminal plot
            out.append(".")
        else:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
    return "".join(out), error.end


codecs.register_error(ASCII_ERRORS, _ascii_fallback)


def writes_unicode(stream: Any) -> bool:
    """True when ``stream``'s encoding can write any character (UTF-8, UTF-16, …)."""
    encoding = (getattr(stream, "encoding", None) or "utf-8").lower().replace("_", "-")
    return encoding.startswith("utf")


class ClosedOutput(io.TextIOBase):
    """Standard output when it was closed: writing is one clear error, not an AttributeError."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    @property
    def encoding(self) -> str:
        return "utf-8"

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not text:
            return 0
        raise OutputError(f"{self.name} is closed: nothing can be shown (use -o FILE to write to a file)")

    def flush(self) -> None:
        return None


def clamped_columns(value: str | None) -> str | None:
    """``$COLUMNS`` held to :data:`MIN_COLUMNS` … :data:`MAX_COLUMNS` (``None`` when it is not a number)."""
    try:
        columns = int(value or "")
    except ValueError:
        return None
    return str(min(max(columns, MIN_COLUMNS), MAX_COLUMNS))


def _reserve_standard_descriptors() -> None:
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)
            if opened != fd:  # a lower one was free after all: never hand out 0-2 twice
                os.close(opened)


def setup() -> None:
    """Make stdin, stdout and stderr safe to use (see the module's docstring). Called once, first."""
    _reserve_standard_descriptors()
    if sys.stdin is None:
        sys.stdin = io.StringIO("")
    if sys.stdout is None:
        sys.stdout = ClosedOutput("standard output")
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    for stream in (sys.stdout, sys.stderr):
        if not writes_unicode(stream) and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors=ASCII_ERRORS)
    if hasattr(sys.stdin, "reconfigure"):  # bytes not valid in its encoding are refused as answers, not a crash
        sys.stdin.reconfigure(errors="replace")
    if "COLUMNS" in os.environ:
        columns = clamped_columns(os.environ["COLUMNS"])
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns
