"""Trace -> rich renderables for the terminal. All terminal styling lives here.

Each step becomes a section: a rule with its number and title, the formula, a
table per value (labelled rows and columns, large matrices elided with ``…``
but computed in full), the worked arithmetic, and a sentence of why.

Where the text goes, whether it is coloured and how wide it is are decided by
:mod:`nntutor.render.output`. Tests render to ``make_console(file=StringIO(), width=80)``
and compare text.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from rich import box
from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table as RichTable
from rich.text import Text

from nntutor.escapes import escape_controls
from nntutor.numfmt import fmt
from nntutor.render.fit import SEPARATOR, command_lines, fit_columns, share_room, spans
from nntutor.render.layout import (
    DEFAULT_LIMIT,
    INLINE,
    MAX_COLUMNS,
    rows_table,
    shown_indices,
    shown_rows,
)
from nntutor.render.output import has_colour, make_console, plain_text  # noqa: F401 (make_console: the doctests)
from nntutor.render.output import theme as current_theme
from nntutor.trace import Deferred, Step, Table, Trace, Value, WhatNext, classify

STYLE_TITLE = "bold"
STYLE_FORMULA = "bold cyan"
STYLE_LABEL = "bold"
STYLE_HEADER = "bold magenta"
STYLE_WORKED = "green"
STYLE_WHY = "italic"
STYLE_WARNING = "bold yellow"
STYLE_DIM = "dim"
READING_WIDTH = 100
NOTE_WIDTH = 76  # the line that says which steps a default run leaves out names them when it fits
VECTOR_LABEL = 6  # a vector's row repeats its title when short; a long title is not repeated (the numbers need the width)


# --------------------------------------------------------------------------- cells


def _cell(value: Any, precision: int) -> Text:
    if isinstance(value, (bool, np.bool_)):
        return Text("1" if value else "0", justify="right")
    if isinstance(value, (int, float, np.integer, np.floating)):
        return Text(fmt(value, precision, fixed=isinstance(value, (float, np.floating))), justify="right")
    if isinstance(value, (list, tuple)):
        items = [fmt(item, precision) if isinstance(item, (float, np.floating)) else str(item) for item in value]
        if len(items) > DEFAULT_LIMIT:
            items = [*items[:4], f"… ({len(items) - 7} more)", *items[-3:]]
        return Text(escape_controls(" ".join(items)))
    if isinstance(value, np.ndarray):
        return Text(_inline_array(value, precision))
    return Text(escape_controls(str(value)))


def _inline_array(array: np.ndarray, precision: int) -> str:
    flat = array.ravel()
    shown = shown_indices(flat.size, DEFAULT_LIMIT)
    parts = ["…" if i is None else fmt(flat[i], precision) for i in shown]
    return "[" + ", ".join(parts) + "]"


def _labels(labels: Sequence[str] | None, count: int) -> list[str]:
    if labels is not None and len(labels) == count:
        return [escape_controls(str(label)) for label in labels]
    return [str(i) for i in range(count)]


def _new_table() -> RichTable:
    """A table with a rule under its header and three spaces between columns, no outer edge."""
    return RichTable(box=box.SIMPLE_HEAD, header_style=STYLE_HEADER, pad_edge=False, show_edge=False)


def indent(renderable: RenderableType, *, left: int = 2, top: int = 0, bottom: int = 0, run_on: bool = False) -> RenderableType:
    """``renderable`` drawn ``left`` columns in, after ``top`` blank lines and before ``bottom`` ones.

    That is rich's ``Padding``, which crops each line at the width. Screens printed
    with ``soft_wrap`` (the quiz) never wrap text, so there a text is indented
    with ``run_on``: each of its lines gets the spaces in front and runs on past
    the width instead of being cut.

    >>> console = make_console(width=12, color=False)
    >>> with console.capture() as captured:
    ...     console.print(indent(Text("one two three"), run_on=True), soft_wrap=True)
    >>> captured.get()
    '  one two three\\n'
    """
    if run_on and isinstance(renderable, Text):
        lines = renderable.split("\n", allow_blank=True)
        body = Text("\n").join(Text(" " * left) + line for line in lines)
        return Group(*[Text("")] * top, body, *[Text("")] * bottom)
    return Padding(renderable, (top, 0, bottom, left), expand=False)


# --------------------------------------------------------------------------- values


def heat_style(x: float, low: float, high: float, theme: str | None = None) -> str:
    """The style of a heatmap cell: its colour by the value against the largest magnitude
    in the matrix (:mod:`nntutor.render.palette`), its text black or white to suit.

    >>> heat_style(0.0, 0.0, 0.6, "dark"), heat_style(0.6, 0.0, 0.6, "dark")
    ('color(231) on color(236)', 'color(16) on color(217)')
    """
    from nntutor.render.palette import cell_style

    return cell_style(x, max(abs(low), abs(high)), theme or current_theme())


class heat_legend:  # noqa: N801 (used like a function: heat_legend(low, high, precision))
    """What the colours mean: the levels in order between the values they stand for, which
    way they go, and the range of the values; the words go under the scale when the line
    would be too long.

    >>> print(plain_text([heat_legend(0.0, 0.6, 4, "light")], 80), end="")
    colour: 0 ▏         ▕ 0.6  darker = larger; values 0 … 0.6
    >>> print(plain_text([heat_legend(-1.0, 0.5, 4, "dark")], 64), end="")
    colour: -1 ▏                 ▕ 1
    blue < 0 < red, brighter = larger magnitude; values -1 … 0.5
    """

    def __init__(self, low: float, high: float, precision: int, theme: str | None = None) -> None:
        self.low, self.high, self.precision, self.theme = low, high, precision, theme

    def __rich_console__(self, console: Console, options):
        from nntutor.render.palette import LEVELS, PALETTES, background, text_on

        low, high, precision = self.low, self.high, self.precision
        theme = self.theme or current_theme()
        span = max(abs(low), abs(high)) or 1.0
        scale = Text()
        scale.append("colour: " + fmt(-span if low < 0 else 0.0, precision) + " ▏", style=STYLE_DIM)
        for step in range(-LEVELS if low < 0 else 0, (LEVELS if high > 0 else 0) + 1):
            index = background(step, theme)
            scale.append(" ", style=f"color({text_on(index)}) on color({index})")
        scale.append(f"▕ {fmt(span if high > 0 else 0.0, precision)}", style=STYLE_DIM)
        reads = PALETTES[theme].reads
        if low < 0:
            reads = f"blue < 0 < red, {reads} magnitude" if high > 0 else f"blue < 0, {reads} magnitude"
        words = Text(f"{reads}; values {fmt(low, precision)} … {fmt(high, precision)}", style=STYLE_DIM)
        if scale.cell_len + 2 + words.cell_len <= options.max_width:
            yield scale + Text("  ") + words
        else:
            yield scale
            yield words


def finite_range(data: np.ndarray) -> tuple[float, float] | None:
    """(min, max) of the finite entries, or None when there is none; never copies the array.

    >>> finite_range(np.array([[1.0, -np.inf], [3.0, 0.5]]))
    (0.5, 3.0)
    """
    if data.size == 0:
        return None
    finite = np.isfinite(data)
    if finite.all():
        return float(data.min()), float(data.max())
    if not finite.any():
        return None
    return float(data.min(where=finite, initial=np.inf)), float(data.max(where=finite, initial=-np.inf))


class elided_note:  # noqa: N801 (used like a function: elided_note("20×20 matrix"))
    """The one line under a table that was not shown whole; where it is too long for the
    width, the hint ``(--full shows all)`` is left out rather than wrapped."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __rich_console__(self, console: Console, options):
        text = f"{self.what}, elided for display (--full shows all)"
        if cell_len(text) > options.max_width:
            text = f"{self.what}, elided for display"
        yield Text(text, style=STYLE_DIM)


def _fitted_table(headers: Sequence[Text], rows: Sequence[Sequence[Text]], widths: Sequence[int], *, label: bool) -> RichTable:
    """A table of these cells with each column exactly ``widths`` wide (``label``: the first is a row label)."""
    table = _new_table()
    for j, header in enumerate(headers):
        first = label and j == 0
        table.add_column(header, justify="left" if first else "right", style=STYLE_LABEL if first else None,
                         width=widths[j])  # no cell is wider than its column: nothing is cut
    for row in rows:
        table.add_row(*row)
    return table


class MatrixView:
    """A matrix (or vector) under its title, its columns fitted to the width it is given.

    Rows are elided by :func:`~nntutor.render.layout.shown_rows`; columns by the room
    (:func:`~nntutor.render.fit.fit_columns`): the first, the last and the value's
    ``key`` columns always, then as many as fit (at most ``MAX_COLUMNS``), so a number
    is never cut and a wide terminal shows more. A vector's row label (its own name)
    is left out when columns are left out anyway. ``limit`` 0
    shows everything, as wide as it needs (a pager scrolls sideways). Only the rows
    shown are read, so a :class:`Deferred` matrix computes just those.
    """

    def __init__(self, title: str, value: Value, precision: int, limit: int, heat: bool = False) -> None:
        self.title = title
        self.value = value
        self.precision = precision
        self.limit = limit
        self.heat = heat

    def __rich_console__(self, console: Console, options):
        value = self.value
        data = value.data
        vector = not isinstance(data, Deferred) and np.ndim(data) == 1
        if not isinstance(data, Deferred):
            data = np.asarray(data)
            if vector:
                data = data.reshape(1, -1)
        n_rows, n_cols = data.shape
        # a vector's row repeats its title when short; a long title is not repeated (the numbers need the width)
        row_names = ((value.display_name if len(value.display_name) <= VECTOR_LABEL else "",) if vector
                     else _labels(value.rows, n_rows))
        col_names = _labels(value.cols, n_cols)
        row_indices = shown_rows(n_rows, n_cols, self.limit)
        shown = [i for i in row_indices if i is not None]
        row_data = dict(zip(shown, data.rows(shown), strict=True)) if isinstance(data, Deferred) else data
        room = options.max_width
        # only columns that could be shown are formatted: each takes at least 1 + SEPARATOR cells,
        # and at most MAX_COLUMNS are shown, half from each end (and the key columns)
        reach = n_cols if self.limit <= 0 else min(n_cols, MAX_COLUMNS // 2, room // (1 + SEPARATOR) + 1)
        keys = [j for j in value.key if 0 <= j < n_cols]
        candidates = sorted({*range(reach), *range(max(n_cols - reach, 0), n_cols), *keys})
        cells = {j: [_cell(row_data[i][j].item(), self.precision) for i in shown] for j in candidates}
        heads = {j: Text(col_names[j]) for j in candidates}
        widths = [max([heads[j].cell_len, *(c.cell_len for c in cells[j])]) if j in cells else room + 1 for j in range(n_cols)]
        label_width = max([0, *(cell_len(row_names[i]) for i in shown), *([1] if None in row_indices else [])])
        if self.limit <= 0:
            columns, label = list(range(n_cols)), True
        else:
            columns = fit_columns(widths, room - label_width, keep=keys)
            label = True
            if vector and None in columns:  # the title names the vector: its label may go
                without = fit_columns(widths, room + SEPARATOR, keep=keys)
                if len(without) >= len(columns):
                    columns, label = without, False
        low, high = (finite_range(np.asarray(data)) if self.heat else None) or (0.0, 0.0)
        theme = current_theme()
        headers = ([Text("")] if label else []) + [Text("…") if j is None else heads[j] for j in columns]
        body = []
        for i in row_indices:
            if i is None:
                body.append(([Text("⋮")] if label else []) + [Text("⋮" if j is not None else "⋱") for j in columns])
                continue
            k = shown.index(i)
            row = []
            for j in columns:
                if j is None:
                    row.append(Text("…"))
                    continue
                cell = cells[j][k].copy()
                if self.heat:
                    cell.stylize(heat_style(float(row_data[i][j]), low, high, theme))
                row.append(cell)
            body.append(([Text(row_names[i])] if label else []) + row)
        col_widths = ([label_width] if label else []) + [1 if j is None else widths[j] for j in columns]
        table = _fitted_table(headers, body, col_widths, label=label)
        yield Text(self.title, style=STYLE_LABEL)
        natural = sum(col_widths) + SEPARATOR * (len(col_widths) - 1)
        if natural > room:  # --full: as wide as it needs (a pager scrolls sideways)
            yield from console.render(table, options.update_width(natural))
        else:
            yield table
        if len(row_indices) < n_rows or len(columns) < n_cols or None in columns:
            yield elided_note(f"{n_cols} values" if n_rows == 1 else f"{n_rows}×{n_cols} matrix")
        span = finite_range(np.asarray(data)) if self.heat else None
        if span is not None:
            yield heat_legend(span[0], span[1], self.precision, theme)


def _is_number(cell: Any) -> bool:
    return isinstance(cell, (int, float, np.integer, np.floating, bool, np.bool_))


class TableView:
    """A table of text and numbers fitted to the width it is given, never cutting a word or a number.

    Numbers keep their width; text wraps between words. When the columns do not fit
    even so, whole columns are left out (``…``), the first and the last kept. The
    rows beyond ``row_limit`` are elided (``⋮``) and a note says so; ``row_limit`` 0
    (``--full``) shows every row and column, as wide as they need.
    """

    def __init__(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], precision: int, row_limit: int,
                 *, label: bool = False) -> None:
        self.columns = [escape_controls(str(c)) for c in columns]
        self.rows = rows
        self.precision = precision
        self.row_limit = row_limit
        self.label = label

    def __rich_console__(self, console: Console, options):
        indices = shown_indices(len(self.rows), self.row_limit)
        count = len(self.columns)
        heads = [Text(c) for c in self.columns]
        body: list[list[Text] | None] = []
        wraps = [True] * count  # a column wraps unless one of its cells is a number
        for i in indices:
            if i is None:
                body.append(None)
                continue
            row = list(self.rows[i]) + [""] * (count - len(self.rows[i]))
            for j, item in enumerate(row[:count]):
                if _is_number(item):
                    wraps[j] = False
            body.append([_cell(item, self.precision) for item in row[:count]])
        narrowest, widest = [], []
        for j in range(count):
            texts = [heads[j], *(row[j] for row in body if row is not None)]
            # a header wraps between words; a number column's cells never wrap
            lows = [spans(t, wraps=wraps[j] or t is heads[j]) for t in texts]
            narrowest.append(max(low for low, _ in lows))
            widest.append(max(high for _, high in lows))
        room = options.max_width
        if self.row_limit <= 0:  # --full: every column, as wide as it needs (a pager scrolls sideways)
            columns, widths = list(range(count)), list(widest)
        else:
            columns = fit_columns(narrowest, room + SEPARATOR)
            widths = share_room([1 if j is None else narrowest[j] for j in columns],
                                [1 if j is None else widest[j] for j in columns], room)
        kept = [j for j in columns if j is not None]
        headers = [Text("…") if j is None else heads[j] for j in columns]
        rows = [[Text("⋮") for _ in columns] if row is None else [Text("…") if j is None else row[j] for j in columns]
                for row in body]
        table = _fitted_table(headers, rows, widths, label=self.label)
        for column, j in zip(table.columns, columns, strict=True):
            if j is not None and wraps[j]:
                column.justify = "left"
        natural = sum(widths) + SEPARATOR * (len(widths) - 1)
        yield from console.render(table, options.update_width(max(natural, room)) if natural > room else options)
        if len(indices) < len(self.rows) or len(kept) < count:
            parts = [] if len(indices) == len(self.rows) else [f"{len(self.rows) - len(indices) + 1} of {len(self.rows)} rows"]
            if len(kept) < count:
                parts.append(f"{count - len(kept)} of {count} columns")
            yield elided_note(" and ".join(parts))


def mixed_table(value: Value, precision: int, limit: int) -> TableView:
    data: Table = value.data
    return TableView(data.columns, data.rows, precision, max(limit * 4, 24) if limit > 0 else 0)


def mapping_table(value: Value, precision: int, limit: int) -> TableView:
    items = [(str(key), item) for key, item in value.data.items()]
    return TableView(("key", "value"), items, precision, max(limit * 4, 24) if limit > 0 else 0, label=True)


def scalar_text(value: Value, precision: int) -> Text:
    data = value.data
    if isinstance(data, np.ndarray):
        data = data.item()
    text = Text()
    text.append(value.display_name, style=STYLE_LABEL)
    text.append(" = " if not isinstance(data, str) else ": ")
    text.append(escape_controls(data) if isinstance(data, str) else fmt(data, precision))
    return text


def value_renderables(value: Value, precision: int, limit: int, heat: bool = False) -> Iterator[RenderableType]:
    """The renderables for one value not shown inline, by its :attr:`~nntutor.trace.Value.kind`.

    A vector or matrix is a :class:`MatrixView`; a stack one view per slice; a
    table, mapping or rows value a table under its label; labels one line
    (``tokens: The | cat``); a ragged list each item in turn.

    With ``heat`` (colour available) a value marked ``heat`` is drawn as a heatmap:
    coloured cells that keep their numbers, and a legend for the scale.
    """
    heat = heat and value.heat
    title = value.display_name
    kind = value.kind
    if kind in ("vector", "matrix"):
        yield MatrixView(title, value, precision, limit, heat)
    elif kind == "table":
        yield Group(Text(title, style=STYLE_LABEL), mixed_table(value, precision, limit))
    elif kind == "mapping":
        yield Group(Text(title, style=STYLE_LABEL), mapping_table(value, precision, limit))
    elif kind == "labels":
        text = Text()
        text.append(title, style=STYLE_LABEL)
        text.append(": " + escape_controls(" | ".join(value.data)))
        yield text
    elif kind == "ragged":
        for index, item in enumerate(value.data):
            piece = Value(f"{value.name}[{index}]", item, label=f"{title}[{index}]", heat=value.heat)
            yield from value_renderables(piece, precision, limit, heat)
    elif kind == "rows":
        piece = Value(value.name, rows_table(value.data), label=value.label)
        yield Group(Text(title, style=STYLE_LABEL), mixed_table(piece, precision, limit))
    elif kind == "stack":
        array = np.asarray(value.data)
        for index in shown_indices(array.shape[0], limit):
            if index is None:
                yield Text(f"… ({array.shape[0]} in all)", style=STYLE_DIM)
                continue
            piece = Value(value.name, array[index], rows=value.rows, cols=value.cols, key=value.key)
            yield MatrixView(f"{title} [{index}]", piece, precision, limit, heat)
    else:
        yield Text(f"{title}: array of shape {np.shape(value.data)}", style=STYLE_DIM)


class PlotView:
    """A plot that fits the width it is given (rich calls ``__rich_console__`` with it)."""

    def __init__(self, plot) -> None:
        self.plot = plot

    def __rich_console__(self, console: Console, options):
        from nntutor.render.plots import collector, plot_text

        width = min(options.max_width, 100)
        pictures = collector()
        if pictures is not None:  # an HTML page draws it as SVG (nntutor.render.picture)
            yield Text(pictures.add(self.plot, width))
            return
        color = has_colour(console)
        text = plot_text(self.plot, width=width, height=max(10, min(18, width // 4)), color=color)
        yield Text.from_ansi(text) if color else Text(text)


# --------------------------------------------------------------------------- steps


class Heading:
    """A section's rule with its title (``Step 3 · … ───``); a title too long for the width
    is wrapped above a plain rule instead of being cut.

    >>> print(plain_text([Heading(Text("Step 1 · A title that does not fit"))], 24), end="")
    Step 1 · A title that
    does not fit
    ────────────────────────
    """

    def __init__(self, title: Text) -> None:
        self.title = title

    def __rich_console__(self, console: Console, options):
        if self.title.cell_len + 6 <= options.max_width:
            yield Rule(self.title, align="left")
        else:
            yield self.title
            yield Rule()


class Command:
    """``lead`` then a shell command, in lines that fit the width and still run when pasted
    (:func:`~nntutor.render.fit.command_lines`).

    >>> print(plain_text([Command("Again: ", "nntutor lesson mlp --sizes 784,16,16,10")], 32), end="")
    Again:
    nntutor lesson mlp --sizes \\
      784,16,16,10
    """

    def __init__(self, lead: str, command: str, style: str = "") -> None:
        self.lead = lead
        self.command = command
        self.style = style

    def __rich_console__(self, console: Console, options):
        room = options.max_width
        if cell_len(self.lead) + cell_len(self.command) <= room:
            yield Text(self.lead + self.command, style=self.style)
            return
        if self.lead:
            yield Text(self.lead.rstrip(), style=self.style)
        for line in command_lines(self.command, room):
            yield Text(line, style=self.style)


def prose(renderable: RenderableType) -> RenderableType:
    """Keep text at a readable width even when tables may be wider (``--full``)."""
    from rich.constrain import Constrain

    return Constrain(renderable, READING_WIDTH)


def short_name(value: Value) -> str:
    """A value's label up to its first `` = `` or `` (``: ``dO = ∂L/∂O, given (3×2)`` -> ``dO``."""
    return value.display_name.split(" = ")[0].split(" (")[0].split(", ")[0]


def step_renderable(
    step: Step, number: int, precision: int, limit: int = DEFAULT_LIMIT, heat: bool = False, plots: bool = True,
    run_on: bool = False, *, values: Sequence[Value] | None = None, head: bool = True, body: bool = True,
) -> RenderableType:
    """One step: its rule and title, formula, values, plots, worked arithmetic, warnings and why.

    ``run_on`` is for screens printed with ``soft_wrap`` (see :func:`indent`). A step
    can be drawn in two parts (``--practice`` asks in between): ``body=False`` stops
    after the values, ``head=False`` starts at them; ``values`` picks which are shown.
    """
    pad = functools.partial(indent, run_on=run_on)
    values = step.values if values is None else values
    hidden = [v for v in values if v.detail] if limit > 0 else []  # named, drawn with --full
    values = [v for v in values if not v.detail] if hidden else values
    # a value drawn inside a side-by-side one ("dQ | dK, side by side") needs no mention
    joined = [v.display_name for v in values if " | " in v.display_name]
    hidden = [v for v in hidden if not any(short_name(v) in label for label in joined)]
    parts: list[RenderableType] = []
    if head:
        parts.append(prose(Heading(Text(f"Step {number} · {step.title}", style=STYLE_TITLE))))
        if step.formula_text or step.formula:
            parts.append(prose(pad(Text(step.formula_text or step.formula, style=STYLE_FORMULA))))
    scalars = [v for v in values if v.kind in INLINE]
    others = [v for v in values if v.kind not in INLINE]
    if scalars:
        line = Text("   ").join(scalar_text(v, precision) for v in scalars)
        parts.append(prose(pad(line)))
    for value in others:
        for renderable in value_renderables(value, precision, limit, heat):
            parts.append(pad(renderable, top=1))
    if hidden:
        names = ", ".join(short_name(v) for v in hidden)
        parts.append(prose(pad(Text(f"also computed: {names} (--full shows {'it' if len(hidden) == 1 else 'them'})", style=STYLE_DIM))))
    if not body:
        return Group(*parts)
    if plots:
        for plot in step.plots:
            parts.append(pad(PlotView(plot), top=1))
    if step.worked:
        worked = Text()
        for i, line in enumerate(step.worked):
            if i:
                worked.append("\n")
            worked.append(line, style=STYLE_WORKED)
        parts.append(prose(pad(worked, top=1)))
    for warning in step.warnings:
        parts.append(prose(pad(Text("⚠ " + warning, style=STYLE_WARNING), top=1)))
    if step.why:
        parts.append(prose(pad(Text(step.why, style=STYLE_WHY), top=1, bottom=1)))
    else:
        parts.append(Text(""))
    return Group(*parts)


def header_renderable(trace: Trace) -> RenderableType:
    """The lesson's title, summary, narrative (``trace.narrative``) and warnings."""
    title = Text(trace.title, style="bold underline")
    parts: list[RenderableType] = [title]
    if trace.summary:
        parts.append(prose(Text(trace.summary)))
    if trace.narrative:
        parts.append(prose(indent(Text(trace.narrative, style=STYLE_DIM), left=0, top=1)))
    for warning in trace.warnings:
        parts.append(prose(indent(Text("⚠ " + warning, style=STYLE_WARNING), left=0, top=1)))
    parts.append(Text(""))
    return Group(*parts)


def _shown_in_steps(trace: Trace, data: Any) -> str | None:
    """The title of the step that already shows this very array, if any (no need to repeat it)."""
    if classify(data) in INLINE:
        return None
    for step in trace.steps:
        for value in step.values:
            if value.data is data:
                return step.title
            if not isinstance(data, np.ndarray):
                continue
            if (
                isinstance(value.data, np.ndarray) and value.data.shape == data.shape and np.shares_memory(value.data, data)
            ):
                return step.title
    return None


def outputs_renderable(trace: Trace, precision: int, limit: int = DEFAULT_LIMIT) -> RenderableType:
    """The lesson's answer (``trace.result``, labelled as in the steps); without one, its
    public outputs, arrays already shown in a step named, not repeated."""
    parts: list[RenderableType] = [prose(Rule(Text("Result", style=STYLE_TITLE), align="left"))]
    if trace.result:
        scalars = [v for v in trace.result if v.kind in INLINE]
        if scalars:
            parts.append(prose(indent(Text("   ").join(scalar_text(v, precision) for v in scalars))))
        for value in trace.result:
            if value.kind not in INLINE:
                parts.extend(indent(r) for r in value_renderables(value, precision, limit))
        return Group(*parts)
    already = {name: _shown_in_steps(trace, data) for name, data in trace.outputs.items()}
    repeated = [name for name, where in already.items() if where]
    for name, data in trace.outputs.items():
        if already[name]:
            continue
        value = Value(name, data)
        if value.kind in INLINE:
            parts.append(indent(scalar_text(value, precision)))
        else:
            for renderable in value_renderables(value, precision, limit):
                parts.append(indent(renderable))
    if repeated:
        note = "shown above: " + ", ".join(repeated) + " (--format json writes every output in full)"
        parts.append(prose(indent(Text(note, style=STYLE_DIM))))
    return Group(*parts)


def what_next_renderable(lesson: str, what_next: WhatNext) -> RenderableType:
    """A lesson's ending: the quiz for it, the next lesson in the course, its see-also lessons.

    >>> from nntutor.trace import LessonLink
    >>> ending = WhatNext(1, 23, LessonLink(2, "activations", "Activation functions"), (LessonLink(3, "layer", "A layer"),))
    >>> print(plain_text([what_next_renderable("neuron", ending)], 80), end="")
    <BLANKLINE>
    What next ──────────────────────────────────────────────────────────────────────
      Quiz yourself on this lesson: nntutor quiz neuron
      Next lesson  2  activations  Activation functions
      See also     3  layer        A layer
      Run one with: nntutor lesson NAME (this was lesson 1 of 23)
    """
    table = RichTable(box=None, show_header=False, pad_edge=False, padding=(0, 2, 0, 0))
    table.add_column("what", style=STYLE_LABEL, no_wrap=True)
    table.add_column("number", justify="right", no_wrap=True, style=STYLE_LABEL)
    table.add_column("name", no_wrap=True, style=STYLE_FORMULA)
    table.add_column("title")
    following = what_next.next_lesson
    if following is None:
        table.add_row("Next lesson", "", "none", "this was the last lesson of the course")
    else:
        table.add_row("Next lesson", str(following.number), following.name, following.title)
    for index, link in enumerate(what_next.see_also):
        table.add_row("See also" if index == 0 else "", str(link.number), link.name, link.title)
    terms = []
    if what_next.terms:
        words = Text("Terms used here: ", style=STYLE_LABEL).append(" · ".join(what_next.terms))
        terms.append(prose(indent(words.append("  (nntutor explain TERM)", style=STYLE_DIM))))
    return Group(
        Text(""),
        prose(Rule(Text("What next", style=STYLE_TITLE), align="left")),
        indent(Text("Quiz yourself on this lesson: ").append(f"nntutor quiz {lesson}", style=STYLE_FORMULA)),
        indent(table),
        *terms,
        indent(Text(f"Run one with: nntutor lesson NAME (this was lesson {what_next.number} of {what_next.total})", style=STYLE_DIM)),
    )


def ending_renderables(trace: Trace, precision: int = 4, limit: int = DEFAULT_LIMIT) -> Iterator[RenderableType]:
    """What follows the last step: the result, then what comes next (when the trace knows its course)."""
    if trace.outputs:
        yield outputs_renderable(trace, precision, limit)
    if trace.what_next is not None:
        yield what_next_renderable(trace.lesson, trace.what_next)


def concise_steps(trace: Trace, *, full: bool, first: int = 1) -> Iterator[tuple[int, Step, str]]:
    """The steps a run shows, numbered as in the whole lesson: ``(number, step, "")``.

    Unless ``full``, a run of :attr:`~nntutor.trace.Step.detail` steps is one
    ``(number, step, note)`` saying which were left out, and a "why" already given
    by an earlier step is not repeated.

    >>> steps = [Step("a", "A", why="w"), Step("b", "B", why="w", detail=True), Step("c", "C", why="w")]
    >>> [(n, s.id, s.why, note) for n, s, note in concise_steps(Trace("x", "X", steps=steps), full=False)]
    [(1, 'a', 'w', ''), (2, 'b', 'w', '(step 2 · B: --full shows it)'), (3, 'c', '', '')]
    """
    import dataclasses

    said: set[str] = set()
    numbered = [(n, s) for n, s in enumerate(trace.steps, start=1) if n >= first]
    index = 0
    while index < len(numbered):
        number, step = numbered[index]
        if step.detail and not full and not (index == 0 and first > 1):  # --from-step names it: shown
            end = index
            while end + 1 < len(numbered) and numbered[end + 1][1].detail:
                end += 1
            last = numbered[end][0]
            if last == number:
                note, short = f"(step {number} · {step.title}: --full shows it)", f"(step {number} left out here: --full shows it)"
            else:
                note = f"(steps {number}–{last} · {step.title} … {numbered[end][1].title}: --full shows them)"
                short = f"(steps {number}–{last} left out here: --full shows them)"
            note = note if len(note) <= NOTE_WIDTH else short  # one line
            yield number, step, note
            index = end + 1
            continue
        if not full and step.why:
            if step.why in said:
                step = dataclasses.replace(step, why="")
            said.add(step.why)
        yield number, step, ""
        index += 1


def trace_renderables(
    trace: Trace, *, precision: int = 4, limit: int = DEFAULT_LIMIT, heat: bool = False, plots: bool = True,
    ending: bool = True, first: int = 1,
) -> Iterator[RenderableType]:
    """Everything shown for a lesson run, in order, from step ``first`` on (``--from-step``);
    ``ending=False``: without what comes next."""
    yield header_renderable(trace)
    for number, step, hidden in concise_steps(trace, full=limit <= 0, first=first):
        if hidden:
            yield prose(indent(Text(hidden, style=STYLE_DIM), bottom=1))
        else:
            yield step_renderable(step, number, precision, limit, heat, plots)
    if ending:
        yield from ending_renderables(trace, precision, limit)
    elif trace.outputs:
        yield outputs_renderable(trace, precision, limit)


def print_trace(console: Console, trace: Trace, *, precision: int = 4, limit: int = DEFAULT_LIMIT, plots: bool = True) -> None:
    """Print a trace; heatmaps appear only where the console shows colour."""
    for renderable in trace_renderables(trace, precision=precision, limit=limit, heat=has_colour(console), plots=plots):
        console.print(renderable)


def render_text(trace: Trace, *, precision: int = 4, width: int = 100, limit: int = DEFAULT_LIMIT, plots: bool = True) -> str:
    """The terminal rendering as plain text ``width`` columns wide (``-o trace.txt``, pipes and tests)."""
    return plain_text(trace_renderables(trace, precision=precision, limit=limit, plots=plots), width)


def page_trace(
    trace: Trace, *, precision: int = 4, limit: int = DEFAULT_LIMIT, plots: bool = True, first: int = 1,
    resume: Any = None, read_key: Any = None, console: Console | None = None,
) -> bool:
    """``--step``: one step per screen, single keys (Enter or space: next, b: back, q: quit).

    True when the learner reached the last step (its last page), False when they stopped
    before it. See :mod:`nntutor.render.pager` (``read_key`` and ``console`` are
    injected by tests; ``resume(n)`` is the command that starts at step n).
    """
    from nntutor.render.pager import page

    return page(trace, precision=precision, limit=limit, plots=plots, first=first, resume=resume, read_key=read_key, console=console)
