"""``--vs`` on the terminal: one sentence saying what changed, then only the values that differ.

The sentence is computed (:func:`nntutor.render.compare.headline`): ``--no-scale: the
largest of weights grows from 0.3107 to 0.3574; …``. Then each value that differs,
labelled as in the lesson's steps: a vector as one table with a row per run, a matrix as
two tables (one per run), a scalar on one line; the changed cells are marked ``*`` (and
highlighted in colour). Values that are the same in both runs are only named. The first
run is not repeated: the lesson without ``--vs`` shows every step.

>>> import numpy as np
>>> from nntutor.render.compare import Comparison
>>> from nntutor.render.output import plain_text
>>> from nntutor.trace import Trace
>>> first = Trace("loss", "Loss", outputs={"loss": 0.5, "p": np.array([0.2, 0.8])})
>>> second = Trace("loss", "Loss", outputs={"loss": 0.25, "p": np.array([0.2, 0.9])})
>>> print(plain_text(comparison_renderables(Comparison(first, second, "--t 2")), 60), end="")
Compare: as given  vs  with --t 2 ──────────────────────────
  --t 2: loss falls from 0.5 to 0.25; the largest of p grows
  from 0.8 to 0.9.
<BLANKLINE>
  loss: 0.5000 as given → 0.2500* with --t 2
<BLANKLINE>
  p
                    0         1
  ─────────────────────────────
  as given     0.2000   0.8000*
  with --t 2   0.2000   0.9000*
<BLANKLINE>
  * = differs between the two runs. Without --vs the lesson
  shows every step of a run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.rule import Rule
from rich.text import Text

from nntutor.escapes import escape_controls
from nntutor.render.compare import Change, Comparison, differences, headline, unchanged
from nntutor.render.layout import DEFAULT_LIMIT, shown_indices
from nntutor.render.output import FULL_WIDTH
from nntutor.render.terminal import (
    STYLE_DIM,
    STYLE_LABEL,
    STYLE_TITLE,
    MatrixView,
    _cell,
    _labels,
    _new_table,
    indent,
    prose,
    value_renderables,
    what_next_renderable,
)
from nntutor.trace import Value, classify

MARK = "bold yellow"


def _marks(change: Change, shape: tuple[int, ...]) -> np.ndarray:
    if isinstance(change.mask, bool):
        return np.full(shape, change.mask)
    return np.broadcast_to(np.asarray(change.mask, dtype=bool).reshape(-1), (int(np.prod(shape)),)).reshape(shape)


def _marked(value: Any, marked: bool, precision: int) -> Text:
    cell = _cell(value, precision)
    if marked:
        cell.append("*")
        cell.stylize(MARK)
    return cell


def natural_width(console: Console, options, table) -> int:
    """The width ``table`` takes when nothing has to wrap (cells, padding and separators)."""
    return Measurement.get(console, options.update_width(FULL_WIDTH), table).maximum


class MarkedTable:
    """A vector or matrix of both runs with changed cells marked, eliding columns to fit the width.

    A vector is one table with a row per run; a matrix is one table per run.
    """

    def __init__(self, change: Change, labels: tuple[str, str], precision: int, limit: int) -> None:
        self.change, self.labels, self.precision, self.limit = change, labels, precision, limit

    def _tables(self, col_limit: int) -> list[tuple[str, Any]]:
        change = self.change
        first, second = np.asarray(change.first), np.asarray(change.second)
        if first.ndim == 1:
            marks = _marks(change, first.shape)
            cols = _labels(change.cols, first.size)  # the same shape in both runs: the first run's labels
            table = _new_table()
            table.add_column("", style=STYLE_LABEL)
            shown = shown_indices(first.size, col_limit)
            for j in shown:
                table.add_column(Text("…" if j is None else cols[j]), justify="right")
            for label, data in zip(self.labels, (first, second), strict=True):
                table.add_row(Text(label), *[Text("…") if j is None else _marked(data[j].item(), bool(marks[j]), self.precision)
                                             for j in shown])
            return [("", table)]
        marks = _marks(change, first.shape)
        rows, cols = _labels(change.rows, first.shape[0]), _labels(change.cols, first.shape[1])
        tables = []
        for label, data in zip(self.labels, (first, second), strict=True):
            table = _new_table()
            table.add_column("", style=STYLE_LABEL)
            shown_cols = shown_indices(first.shape[1], col_limit)
            for j in shown_cols:
                table.add_column(Text("…" if j is None else cols[j]), justify="right")
            for i in shown_indices(first.shape[0], self.limit):
                if i is None:
                    table.add_row(Text("⋮"), *[Text("⋮") for _ in shown_cols])
                    continue
                table.add_row(Text(rows[i]), *[Text("…") if j is None else _marked(data[i, j].item(), bool(marks[i, j]), self.precision)
                                               for j in shown_cols])
            tables.append((label, table))
        return tables

    def __rich_console__(self, console: Console, options) -> Iterator[RenderableType]:
        n_cols = np.shape(self.change.first)[-1]
        col_limit = n_cols if self.limit <= 0 else min(self.limit, n_cols)
        tables = self._tables(col_limit)
        while col_limit > 2 and max(natural_width(console, options, t) for _, t in tables) > options.max_width:
            col_limit -= 1
            tables = self._tables(col_limit)
        yield Text(self.change.title, style=STYLE_LABEL)
        for label, table in tables:
            if label:
                yield Text(label, style=STYLE_DIM)
            yield table


def _scalar_line(change: Change, labels: tuple[str, str], precision: int) -> Text:
    def shown(x: Any) -> str:
        if classify(x) == "scalar":
            return _cell(x, precision).plain
        return escape_controls(str(x)).replace("\n", "⏎")  # one line; generated text may hold any byte

    text = Text(f"{change.title}: ", style=STYLE_LABEL)
    text.append(f"{shown(change.first)} {labels[0]} → ")
    text.append(f"{shown(change.second)}*", style=MARK)
    text.append(f" {labels[1]}")
    return text


def change_renderables(change: Change, labels: tuple[str, str], precision: int, limit: int) -> Iterator[RenderableType]:
    """One value that differs, drawn by its kind."""
    kinds = {classify(change.first), classify(change.second)}
    if kinds <= {"scalar", "text"}:
        yield _scalar_line(change, labels, precision)
        return
    same_shape = np.shape(change.first) == np.shape(change.second)
    if kinds <= {"vector", "matrix"} and len(kinds) == 1 and same_shape:
        yield MarkedTable(change, labels, precision, limit)
        return
    # anything else (tables, token lists, shapes that differ): each run's value as the lesson draws it
    yield Text(f"{change.title} *", style=STYLE_LABEL)
    runs = ((change.first, change.rows, change.cols), (change.second, change.second_rows, change.second_cols))
    for label, (data, rows, cols) in zip(labels, runs, strict=True):
        if classify(data) == "vector":  # one row named after the run
            yield MatrixView(label, Value(label, data, cols=cols), precision, limit)
        else:
            yield from value_renderables(Value(label, data, rows=rows, cols=cols), precision, limit)


def comparison_renderables(comparison: Comparison, *, precision: int = 4, limit: int = DEFAULT_LIMIT) -> list[RenderableType]:
    """``--vs``: the sentence, the values that differ, the ones that do not, then what comes next."""
    labels = comparison.labels
    parts: list[RenderableType] = [
        prose(Rule(Text(f"Compare: {labels[0]}  vs  {labels[1]}", style=STYLE_TITLE), align="left")),
        prose(indent(Text(headline(comparison)))),
    ]
    for change in differences(comparison):
        parts.append(indent(Group(*change_renderables(change, labels, precision, limit)), top=1))
    same = unchanged(comparison)
    notes = "* = differs between the two runs."
    if same:
        notes += f" The same in both: {', '.join(same)}."
    notes += " Without --vs the lesson shows every step of a run."
    parts.append(prose(indent(Text(notes, style=STYLE_DIM), top=1)))
    first = comparison.first
    if first.what_next is not None:
        parts.append(what_next_renderable(first.lesson, first.what_next))
    return parts
