"""What the numpy-free screens share: messages and help text.

``nntutor list``, the course map, ``--help`` and error messages need only these, the
course screens (:mod:`nntutor.render.course_view`) and the output policy
(:mod:`nntutor.render.output`), so they start without importing NumPy or the trace
renderer.
"""

from __future__ import annotations

from nntutor.render.output import (  # noqa: F401 (where nntutor.cli finds them)
    emit,
    error_console,
    make_console,
    print_message,
    stdout_console,
)


def escape_help(text: str) -> str:
    """Help text from a lesson file, shown literally by Typer's rich help (``[i]`` stays ``[i]``)."""
    from rich.markup import escape

    return escape(text)
