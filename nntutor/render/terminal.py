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
from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table as RichTable
from rich.text import Text

from nntutor.escapes import escape_controls
from nntutor.numfmt import fmt
from nntutor.render.layout import DEFAULT_LIMIT, INLINE, rows_table, shown_indices
from nntutor.render.output import FULL_WIDTH, has_colour, make_console, plain_text
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


def heat_style(x: float, low: float, high: float) -> str:
    """Background colour for a heatmap cell: blue for negative, red for positive, white at 0.

    Values are scaled by the largest magnitude in the matrix, so the legend is symmetric
    around 0 (weights, which are never negative, run from white to red).
    """
    if not np.isfinite(x):
        return "on grey23"
    span = max(abs(low), abs(high)) or 1.0
    t = min(abs(x) / span, 1.0)
    if x >= 0:
        r, g, b = 255, int(255 - 175 * t), int(255 - 205 * t)
    else:
        r, g, b = int(255 - 205 * t), int(255 - 150 * t), 255
    fg = "black" if t < 0.65 else "white"
    return f"{fg} on rgb({r},{g},{b})"


def heat_legend(low: float, high: float, precision: int) -> Text:
    """A colour scale from the smallest to the largest value shown."""
    text = Text()
    text.append("scale: ", style=STYLE_DIM)
    steps = 8
    for k in range(steps + 1):
        x = low + (high - low) * k / steps
        text.append("  ", style=heat_style(x, low, high))
    text.append(f"  {fmt(low, precision)} … {fmt(high, precision)}", style=STYLE_DIM)
    return text


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


def matrix_table(value: Value, precision: int, limit: int, heat: bool = False, col_limit: int | None = None) -> RichTable:
    """A labelled table of a matrix (a vector is one row named after the value).

    Only the rows shown are read, so a :class:`Deferred` matrix computes just those.
    """
    data = value.data
    if not isinstance(data, Deferred):
        data = np.asarray(data)
        if data.ndim == 1:
            data = data.reshape(1, -1)
            value = Value(value.name, data, rows=(value.display_name if len(value.display_name) <= VECTOR_LABEL else "",), cols=value.cols)
    # the colour scale is only needed for a heatmap (a big matrix is not scanned otherwise)
    low, high = (finite_range(np.asarray(data)) if heat else None) or (0.0, 0.0)
    n_rows, n_cols = data.shape
    rows = _labels(value.rows, n_rows)
    cols = _labels(value.cols, n_cols)
    table = _new_table()
    row_indices = shown_indices(n_rows, limit)
    col_indices = shown_indices(n_cols, limit if col_limit is None else col_limit)
    shown_rows = [i for i in row_indices if i is not None]
    row_data = dict(zip(shown_rows, data.rows(shown_rows), strict=True)) if isinstance(data, Deferred) else data
    table.add_column("", style=STYLE_LABEL)
    for j in col_indices:
        table.add_column(Text("…" if j is None else cols[j]), justify="right")
    for i in row_indices:
        if i is None:
            table.add_row(Text("⋮"), *[Text("⋮" if j is not None else "⋱") for j in col_indices])
            continue
        row = row_data[i]
        cells = [Text("…") if j is None else _cell(row[j].item(), precision) for j in col_indices]
        if heat:
            for cell, j in zip(cells, col_indices, strict=True):
                if j is not None:
                    cell.stylize(heat_style(float(row[j]), low, high))
        table.add_row(Text(rows[i]), *cells)
    if len(row_indices) < n_rows or len(col_indices) < n_cols:
        what = f"{n_cols} values" if n_rows == 1 else f"{n_rows}×{n_cols} matrix"
        table.caption = Text(
            f"{what}, elided for display (computed in full; --format json has every value)",
            style=STYLE_DIM,
        )
    return table


def natural_width(console: Console, options, table: RichTable) -> int:
    """The width ``table`` takes when nothing has to wrap (cells, padding and separators).

    >>> table = _new_table()
    >>> table.add_column("")
    >>> table.add_column("a", justify="right")
    >>> table.add_row("x", "10.25")
    >>> console = make_console(width=40, color=False)
    >>> natural_width(console, console.options, table)  # x, its padding, the separator, padding, 10.25
    9
    """
    return Measurement.get(console, options.update_width(FULL_WIDTH), table).maximum


class MatrixView:
    """A matrix (or vector) that elides columns to fit the width it is given.

    Rows and columns beyond ``limit`` are always elided (``limit`` 0: show all, for a
    pager); then columns are dropped further until the table fits, so cells never wrap.
    """

    def __init__(self, title: str, value: Value, precision: int, limit: int, heat: bool = False) -> None:
        self.title = title
        self.value = value
        self.precision = precision
        self.limit = limit
        self.heat = heat

    def __rich_console__(self, console: Console, options):
        data = self.value.data
        n_cols = np.shape(data)[-1]
        col_limit = n_cols if self.limit <= 0 else min(self.limit, n_cols) if n_cols > self.limit else n_cols
        table = matrix_table(self.value, self.precision, self.limit, self.heat, col_limit)
        natural = natural_width(console, options, table)
        if self.limit > 0:
            while col_limit > 2 and natural > options.max_width:
                col_limit -= 1
                table = matrix_table(self.value, self.precision, self.limit, self.heat, col_limit)
                natural = natural_width(console, options, table)
        yield Text(self.title, style=STYLE_LABEL)
        if natural > options.max_width:  # --full: as wide as it needs (a pager scrolls sideways)
            yield from console.render(table, options.update_width(natural))
            yield Text("")
        else:
            yield table
        span = finite_range(np.asarray(data)) if self.heat else None
        if span is not None:
            yield heat_legend(span[0], span[1], self.precision)


def mixed_table(value: Value, precision: int, limit: int) -> RichTable:
    data: Table = value.data
    table = _new_table()
    for column in data.columns:
        table.add_column(Text(escape_controls(str(column))))
    row_limit = max(limit * 4, 24)
    indices = shown_indices(len(data.rows), row_limit)
    for i in indices:
        if i is None:
            table.add_row(*[Text("⋮") for _ in data.columns])
        else:
            table.add_row(*[_cell(cell, precision) for cell in data.rows[i]])
    if len(data.rows) > row_limit:
        table.caption = Text(f"{len(data.rows)} rows, {len(indices) - 1} shown", style=STYLE_DIM)
    return table


def mapping_table(value: Value, precision: int, limit: int) -> RichTable:
    table = _new_table()
    table.add_column("key", style=STYLE_LABEL)
    table.add_column("value")
    items = list(value.data.items())
    indices = shown_indices(len(items), max(limit * 4, 24))
    for i in indices:
        if i is None:
            table.add_row(Text("⋮"), Text("⋮"))
            continue
        key, item = items[i]
        table.add_row(Text(escape_controls(str(key))), _cell(item, precision))
    return table


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
            piece = Value(value.name, array[index], rows=value.rows, cols=value.cols)
            yield MatrixView(f"{title} [{index}]", piece, precision, limit, heat)
    else:
        yield Text(f"{title}: array of shape {np.shape(value.data)}", style=STYLE_DIM)


class PlotView:
    """A plot that fits the width it is given (rich calls ``__rich_console__`` with it)."""

    def __init__(self, plot) -> None:
        self.plot = plot

    def __rich_console__(self, console: Console, options):
        from nntutor.render.plots import plot_text

        width = min(options.max_width, 100)
        color = has_colour(console)
        text = plot_text(self.plot, width=width, height=max(10, min(18, width // 4)), color=color)
        yield Text.from_ansi(text) if color else Text(text)


# --------------------------------------------------------------------------- steps


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
        parts.append(prose(Rule(Text(f"Step {number} · {step.title}", style=STYLE_TITLE), align="left")))
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


def render_picture(
    trace: Trace, kind: str, *, precision: int = 4, limit: int = DEFAULT_LIMIT, width: int = 100, plots: bool = True
) -> str:
    """The coloured terminal rendering recorded as an SVG picture or an HTML page (``kind``)."""
    import io

    console = make_console(io.StringIO(), width=width, color=True, record=True)
    print_trace(console, trace, precision=precision, limit=limit, plots=plots)
    if kind == "svg":
        return console.export_svg(title=f"nntutor · {trace.title}")
    return console.export_html(inline_styles=True)


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


def _marked_table(name: str, data: Any, mask: Any, precision: int, limit: int) -> RenderableType:
    """One run's value with changed cells marked ``*`` (and highlighted when colour is on)."""
    kind = classify(data)
    array = np.asarray(data) if kind in ("scalar", "vector", "matrix", "labels", "rows") else None
    if array is None or array.dtype == object:
        suffix = " *" if mask is True else ""
        return Text(f"{name}: {data if kind == 'text' else '(see the full runs)'}{suffix}")
    if kind == "scalar":
        text = Text(f"{name} = {fmt(array.item(), precision)}")
        if mask is True:
            text.append(" *", style="bold yellow")
            text.stylize("bold yellow")
        return text
    matrix = array.reshape(1, -1) if array.ndim == 1 else array
    marks = np.broadcast_to(np.asarray(mask, dtype=bool), array.shape).reshape(matrix.shape) if not isinstance(mask, bool) else np.full(matrix.shape, mask)
    table = _new_table()
    table.add_column("")
    cols = shown_indices(matrix.shape[1], limit)
    for j in cols:
        table.add_column("…" if j is None else str(j), justify="right")
    for i in shown_indices(matrix.shape[0], limit):
        if i is None:
            table.add_row(Text("⋮"), *[Text("⋮") for _ in cols])
            continue
        cells = []
        for j in cols:
            if j is None:
                cells.append(Text("…"))
                continue
            cell = _cell(matrix[i, j].item(), precision)
            if marks[i, j]:
                cell.append("*")
                cell.stylize("bold yellow")
            cells.append(cell)
        table.add_row(Text(str(i)), *cells)
    return Group(Text(name, style=STYLE_LABEL), table)


def comparison_renderable(
    first: Trace, second: Trace, masks: dict[str, Any], labels: tuple[str, str], *, precision: int = 4, limit: int = DEFAULT_LIMIT
) -> RenderableType:
    """Both runs' outputs side by side, changed values marked ``*``."""
    from rich.columns import Columns

    parts: list[RenderableType] = [Rule(Text(f"Compare: {labels[0]}  vs  {labels[1]}", style=STYLE_TITLE), align="left")]
    for name, mask in masks.items():
        left = _marked_table(name, first.outputs.get(name, "—"), mask, precision, limit)
        right = _marked_table(name, second.outputs.get(name, "—"), mask, precision, limit)
        parts.append(
            Columns(
                [Group(Text(labels[0], style=STYLE_DIM), left), Group(Text(labels[1], style=STYLE_DIM), right)],
                padding=(1, 4),
            )
        )
    parts.append(Text("* = differs between the two runs", style=STYLE_DIM))
    return Group(*parts)


def comparison_renderables(comparison, *, precision: int = 4, limit: int = DEFAULT_LIMIT) -> list[RenderableType]:
    """``--vs``: the first run in full, then both runs' outputs side by side (:class:`~nntutor.render.compare.Comparison`)."""
    first, second = comparison.first, comparison.second
    ending = [what_next_renderable(first.lesson, first.what_next)] if first.what_next is not None else []
    return [
        *trace_renderables(first, precision=precision, limit=limit, ending=False),
        comparison_renderable(first, second, comparison.masks, comparison.labels, precision=precision, limit=limit),
        *ending,
    ]
