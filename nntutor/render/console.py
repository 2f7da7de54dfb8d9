"""The numpy-free screens: the lesson list and help text.

``nntutor list``, ``--help`` and error messages need only these (and the
output policy, :mod:`nntutor.render.output`), so they start without importing
NumPy or the trace renderer.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table as RichTable
from rich.text import Text

from nntutor.render.output import (  # noqa: F401 (where nntutor.cli finds them)
    emit,
    error_console,
    make_console,
    print_message,
    stdout_console,
)

STYLE_DIM = "dim"


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
