"""The numpy-free part of the terminal renderer: consoles, plain output, the lesson list.

``nntutor list``, ``--help`` and error messages need only these, so they start
without importing NumPy or the trace renderer (:mod:`nntutor.render.terminal`,
which re-exports everything here).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import IO, Any

from rich.console import Console, Group, RenderableType
from rich.table import Table as RichTable
from rich.text import Text

STYLE_DIM = "dim"


def make_console(
    file: IO[str] | None = None,
    *,
    width: int | None = None,
    color: bool | None = None,
    record: bool = False,
    stderr: bool = False,
) -> Console:
    """The one Console factory: markup, emoji and highlighting off (user text is shown as typed).

    ``color=None`` lets rich decide (no colour with NO_COLOR or when piped);
    ``False`` forces plain text; ``True`` forces colour.
    """
    if width is None and file is not None and not _isatty(file):
        width = _env_width(100)
    kwargs: dict[str, Any] = {}
    if color is False:
        kwargs["color_system"] = None
        kwargs["no_color"] = True
    elif color is True:
        kwargs["force_terminal"] = True
        kwargs["color_system"] = "truecolor"
    return Console(
        file=file,
        width=width,
        markup=False,
        emoji=False,
        highlight=False,
        record=record,
        stderr=stderr,
        soft_wrap=False,
        **kwargs,
    )


def _isatty(file: IO[str]) -> bool:
    try:
        return file.isatty()
    except (AttributeError, ValueError):
        return False


def _env_width(default: int) -> int:
    try:
        return max(40, int(os.environ.get("COLUMNS", default)))
    except ValueError:
        return default


def stdout_console() -> Console:
    """Console for data on stdout: terminal width when interactive, 100 columns when piped."""
    return make_console(sys.stdout)


def error_console() -> Console:
    return make_console(sys.stderr, stderr=True)


def emit(*renderables: RenderableType) -> None:
    """Print to stdout: styled in a terminal; plain text without trailing spaces when piped."""
    if _isatty(sys.stdout) or os.environ.get("FORCE_COLOR"):
        console = stdout_console()
        for renderable in renderables:
            console.print(renderable)
        return
    import io

    buffer = io.StringIO()
    console = make_console(buffer, width=_env_width(100), color=False)
    for renderable in renderables:
        console.print(renderable)
    sys.stdout.write("\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n")


def print_message(message: str, *, style: str = "") -> None:
    """One line to stderr (errors, notices): never parsed as markup."""
    error_console().print(Text(message, style=style), soft_wrap=True)


def escape_help(text: str) -> str:
    """Help text from a lesson file, shown literally by Typer's rich help (``[i]`` stays ``[i]``)."""
    from rich.markup import escape

    return escape(text)


def lessons_table(rows: Sequence[tuple[str, str, str]]) -> RenderableType:
    """``nntutor list``: lessons grouped by part, in teaching order.

    ``rows`` are (part, name, summary) in order.
    """
    table = RichTable(box=None, show_header=False, pad_edge=False, padding=(0, 2, 0, 0))
    table.add_column("name", style="bold cyan", no_wrap=True)
    table.add_column("summary")
    current = None
    for part, name, summary in rows:
        if part != current:
            if current is not None:
                table.add_row(Text(""), Text(""))
            table.add_row(Text(part, style="bold underline"), Text(""))
            current = part
        table.add_row(Text("  " + name, style="bold cyan"), Text(summary))
    return Group(table, Text(""), Text("Run one with: nntutor lesson NAME   (its flags: nntutor lesson NAME --help)", style=STYLE_DIM))
