"""``nntutor explain``: one glossary term, or the list of them. Formats only.

An entry is a :class:`nntutor.catalog.glossary.Entry` (name, definition, formula,
lessons, aliases); this module never reads the glossary itself. Like
:mod:`nntutor.render.console` it needs no NumPy (the terminal renderer's styles, by name).

>>> from nntutor.render.output import plain_text
>>> from nntutor.catalog.glossary import lookup
>>> print(plain_text([entry_renderable(lookup("d_k"))], 80).splitlines()[0])
d_k  (also: dk, key dimension, √d_k)
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.columns import Columns
from rich.console import Group, RenderableType
from rich.constrain import Constrain
from rich.text import Text

STYLE_TITLE = "bold"  # the styles of nntutor.render.terminal
STYLE_LABEL = "bold"
STYLE_FORMULA = "bold cyan"
STYLE_DIM = "dim"
READING_WIDTH = 100


def prose(text: Text) -> RenderableType:
    """Text kept to a readable width on a wide terminal."""
    return Constrain(text, READING_WIDTH)


def entry_renderable(entry) -> RenderableType:
    """The term, its definition, its formula and the lessons where it appears."""
    title = Text(entry.name, style=STYLE_TITLE)
    if entry.aliases:
        title.append(f"  (also: {', '.join(entry.aliases)})", style=STYLE_DIM)
    lessons = Text("In the lessons: ", style=STYLE_LABEL)
    lessons.append(", ".join(entry.lessons))
    first = entry.lessons[0]
    return Group(
        title,
        Text(""),
        prose(Text(entry.definition)),
        Text(""),
        Text("  " + entry.formula, style=STYLE_FORMULA),
        Text(""),
        prose(lessons),
        Text(f"See it computed: nntutor lesson {first}", style=STYLE_DIM),
    )


def index_renderable(entries: Sequence) -> RenderableType:
    """Every term, in columns, and how to read one."""
    names = [Text(entry.name) for entry in entries]
    return Group(
        Text(f"Glossary: {len(entries)} terms the lessons use", style=STYLE_TITLE),
        Text(""),
        Columns(names, padding=(0, 3), column_first=True),
        Text(""),
        Text("nntutor explain TERM shows one (for example: nntutor explain d_k).", style=STYLE_DIM),
    )
