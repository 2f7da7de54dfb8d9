"""The course screens: the map (``nntutor`` alone) and the numbered list (``nntutor list``).

Both take the course's places (:class:`nntutor.catalog.course.Place`: number, name,
title, part, summary, studied, score, unmet requirements, whether it is next) and draw
one row a lesson under its part's heading, marked ``✓`` studied, ``▶`` next or ``·`` not
yet, with the quiz score and the requirements still to study. NumPy-free, like the
other start-up screens (:mod:`nntutor.render.console`).

>>> from types import SimpleNamespace as Place
>>> place = Place(number=1, name="neuron", title="A single neuron", part="Neurons", summary="",
...               studied=False, score=None, unmet=(), is_next=True)
>>> next_line(place).plain
'Next: nntutor lesson neuron · then: nntutor quiz neuron'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.table import Table as RichTable
from rich.text import Text

STYLE_PART = "bold underline"
STYLE_NAME = "bold cyan"
STYLE_NEXT = "bold green"
STYLE_DONE = "green"
STYLE_DIM = "dim"

LEGEND = "✓ studied  ▶ next  · not yet  needs 4: lesson 4 first  quiz 3/5: 3 of 5 right"


def mark(place: Any) -> Text:
    """``✓`` studied, ``▶`` the next lesson, ``·`` not yet."""
    if place.studied:
        return Text("✓", style=STYLE_DONE)
    if place.is_next:
        return Text("▶", style=STYLE_NEXT)
    return Text("·", style=STYLE_DIM)


def status(place: Any) -> str:
    """What is known beyond the mark: the quiz score, ``next``, the requirements still to study.

    >>> from types import SimpleNamespace as Place
    >>> status(Place(studied=False, score=(3, 5), is_next=False, unmet=(3, 4)))
    'quiz 3/5 · needs 3, 4'
    """
    parts = []
    if place.score is not None:
        parts.append(f"quiz {place.score[0]}/{place.score[1]}")
    if place.is_next:
        parts.append("next")
    if place.unmet and not place.studied:
        parts.append("needs " + ", ".join(str(number) for number in place.unmet))
    return " · ".join(parts)


def next_line(upcoming: Any | None) -> Text:
    """The one line that says what to run next (``upcoming`` None: every lesson studied)."""
    if upcoming is None:
        return Text("Every lesson studied. Next: nntutor quiz (what is due for review comes first)", style=STYLE_NEXT)
    return Text(f"Next: nntutor lesson {upcoming.name} · then: nntutor quiz {upcoming.name}", style=STYLE_NEXT)


def _mark_and_number(place: Any, number_width: int) -> Text:
    return Text("  ").append_text(mark(place)).append(f" {place.number:>{number_width}}  ")


def _status_text(place: Any) -> Text:
    extra = status(place)
    return Text("  " + extra if extra else "", style=STYLE_NEXT if place.is_next else STYLE_DIM)


class CourseLines:
    """The map's rows: one line a lesson (mark, number, name, title, status) under its part's heading.

    A title too long for the width wraps between words under itself, its status on its first
    line; the width is known only when rich draws it, hence ``__rich_console__``.
    """

    def __init__(self, places: Sequence[Any]) -> None:
        self.places = places
        self.number_width = len(str(max(place.number for place in places)))
        self.name_width = max(len(place.name) for place in places)

    def __rich_console__(self, console, options):
        for index, place in enumerate(self.places):
            if index == 0 or place.part != self.places[index - 1].part:
                yield Text(place.part, style=STYLE_PART)
            line = _mark_and_number(place, self.number_width)
            line.append(place.name.ljust(self.name_width) + "  ", style=STYLE_NEXT if place.is_next else STYLE_NAME)
            tail = _status_text(place)
            title = Text(place.title, style="bold" if place.is_next else "")
            if line.cell_len + title.cell_len + tail.cell_len <= options.max_width:
                yield line.append_text(title).append_text(tail)
                continue
            # too long for one line: the title wraps between words in its own column
            # (and the status under it when beside it a word of the title would not fit)
            longest = max(cell_len(word) for word in place.title.split())
            beside = options.max_width - line.cell_len - tail.cell_len >= longest
            row = RichTable(box=None, show_header=False, pad_edge=False, padding=0)
            row.add_column("lesson", no_wrap=True, width=line.cell_len)
            row.add_column("title")
            if beside:
                row.add_column("status", no_wrap=True, width=tail.cell_len)
                row.add_row(line, title, tail)
            else:
                row.add_row(line, title)
                row.add_row(Text(""), Text(tail.plain.strip(), style=tail.style))
            yield from console.render(row, options)


def _list_table(places: Sequence[Any]) -> RenderableType:
    """Each part's heading, then its lessons: mark and number, name, then the summary and the
    status, wrapped, in columns as wide in every part."""
    number_width = len(str(max(place.number for place in places)))
    name_width = max(len(place.name) for place in places)
    parts: list[RenderableType] = []
    for index, place in enumerate(places):
        if index == 0 or place.part != places[index - 1].part:
            if index:
                parts.append(Text(""))
            parts.append(Text(place.part, style=STYLE_PART))
            table = RichTable(box=None, show_header=False, pad_edge=False, padding=0)
            table.add_column("mark", no_wrap=True)
            table.add_column("name", no_wrap=True, width=name_width + 2)
            table.add_column("summary")
            parts.append(table)
        name = Text(place.name, style=STYLE_NEXT if place.is_next else STYLE_NAME)
        summary = Text(place.summary, style="bold" if place.is_next else "").append_text(_status_text(place))
        table.add_row(_mark_and_number(place, number_width), name, summary)
    return Group(*parts)


def _broken_line(broken: int) -> list[RenderableType]:
    if not broken:
        return []
    return [Text(f"{broken} lesson file(s) could not be read and are left out (nntutor check says why)", style="bold yellow")]


def course_map(places: Sequence[Any], *, broken: int = 0) -> RenderableType:
    """``nntutor``: the parts in order, each lesson numbered and marked, then what to run next."""
    if not places:
        return Group(Text("No lessons found (nntutor check says why)."), *_broken_line(broken))
    done = sum(place.studied for place in places)
    upcoming = next((place for place in places if place.is_next), None)
    heading = f"Your course: {done} of {len(places)} lessons studied" if done else f"Your course: {len(places)} lessons, none studied yet"
    return Group(
        Text(heading, style="bold"),
        Text(""),
        CourseLines(places),
        Text(""),
        next_line(upcoming),
        *_broken_line(broken),
        Text(LEGEND, style=STYLE_DIM),
        Text("Each lesson with its summary: nntutor list · every command: nntutor --help", style=STYLE_DIM),
    )


def course_list(places: Sequence[Any], broken: Sequence[tuple[str, str]] = ()) -> RenderableType:
    """``nntutor list``: the map's numbers and marks, with each lesson's summary.

    ``broken`` holds (file name, reason) for each lesson file that cannot be read.
    """
    parts: list[RenderableType] = [_list_table(places)] if places else []
    if broken:
        table = RichTable(box=None, show_header=False, pad_edge=False, padding=(0, 2, 0, 0))
        table.add_column("name", no_wrap=True, style="bold yellow")
        table.add_column("reason")
        table.add_row(Text("Broken lesson files (see: nntutor check)", style=STYLE_PART))
        for name, reason in broken:
            table.add_row(Text("  " + name), Text(reason))
        parts += [Text(""), table]
    parts += [
        Text(""),
        next_line(next((place for place in places if place.is_next), None)),
        Text(LEGEND, style=STYLE_DIM),
        Text("Any lesson: nntutor lesson NAME · its inputs: nntutor lesson NAME --help", style=STYLE_DIM),
    ]
    return Group(*parts)
