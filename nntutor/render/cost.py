"""What an output will cost before it is drawn: numbers written, cells drawn, bytes and seconds.

The lessons' own checks bound what a run computes; this bounds what showing it
costs, which is a different thing: ``attention --seq-len 1000 --format json``
computes in a blink but writes six million numbers, and ``--full`` draws every
one of them in a table. :func:`estimate` counts, from the trace alone, what the
renderer of a format will write (the same rows and columns it elides), and
:func:`refuse_if_too_costly` refuses a run over :data:`LIMITS` up front, naming
the flag to change, with the estimate.

Per-format costs were measured on the machine in the README's Performance
section (2 shared CPUs, attention at 100–1,000 tokens): JSON about 0.5 µs and
16 bytes a number; a terminal table cell about 55 µs (rich lays out every
cell); a Markdown cell about 2 µs; an SVG or HTML cell about 45 µs.

>>> import numpy as np
>>> from nntutor.trace import Step, Trace, Value
>>> trace = Trace("t", "T", steps=[Step("s", "S", values=[Value("m", np.zeros((100, 100)))])])
>>> estimate(trace, "json", limit=8).numbers  # every number, and the step's texts
10004
>>> estimate(trace, "text", limit=8).numbers, estimate(trace, "text", limit=0).numbers  # 9×65 or 101×101 cells, and texts
(593, 10209)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from nntutor.errors import InputError
from nntutor.numfmt import human_bytes
from nntutor.render.layout import MAX_COLUMNS, rows_table, shown_indices, shown_rows
from nntutor.trace import Deferred, Table, Trace, classify


class Rate(NamedTuple):
    """What one number (JSON) or one cell (the other formats) costs."""

    seconds: float
    bytes: float
    unit: str  # "numbers" or "table cells"


RATES = {
    "json": Rate(0.5e-6, 16, "numbers"),
    "text": Rate(55e-6, 8, "table cells"),
    "markdown": Rate(2e-6, 10, "table cells"),
    "svg": Rate(45e-6, 16, "table cells"),
    "html": Rate(45e-6, 16, "table cells"),
    "py": Rate(2.5e-6, 20, "numbers"),
}

LIMITS = {"json": 20_000_000, "text": 200_000, "markdown": 2_000_000, "svg": 200_000, "html": 200_000, "py": 300_000}
"""The most numbers (JSON) or table cells (the others) one output may hold: about 10 s and
320 MB of JSON, 11 s of text, 4 s and 20 MB of Markdown, 9 s of SVG or HTML, and a ``--format py`` script of about
6 MB (its inputs and outputs written as literals), under a second to write and a few
seconds for Python to run (measured: 1.5 million numbers took 3.9 s to write, 31 MB, and
18 s to run, most of it Python reading the literals)."""

PLOT_CELLS = 2_000  # a line plot costs about as much as a table of this many cells


class Cost(NamedTuple):
    """The estimate for one output: how many numbers or cells, and their time and size."""

    format: str
    numbers: int

    @property
    def rate(self) -> Rate:
        return RATES[self.format]

    @property
    def seconds(self) -> float:
        return self.numbers * self.rate.seconds

    @property
    def bytes(self) -> float:
        return self.numbers * self.rate.bytes


def _size(data: Any) -> int:
    """How many numbers a value holds (JSON writes every one)."""
    if isinstance(data, Deferred):
        return int(np.prod(data.shape))
    if isinstance(data, np.ndarray):
        return int(data.size)
    if isinstance(data, Table):
        return sum(len(row) for row in data.rows) + len(data.columns)
    if isinstance(data, dict):
        return sum(_size(item) for item in data.values()) + len(data)
    if isinstance(data, (list, tuple)):
        return sum(_size(item) for item in data) if data else 1
    return 1


def _shown(count: int, limit: int) -> int:
    return len(shown_indices(count, limit))


def _cells(data: Any, limit: int) -> int:
    """How many cells a table renderer draws for a value (as :mod:`nntutor.render.terminal` elides them)."""
    kind = classify(data)
    if kind in ("vector", "matrix"):
        shape = data.shape if isinstance(data, Deferred) else np.shape(data)
        rows, cols = (1, shape[0]) if len(shape) == 1 else (shape[0], shape[1])
        # columns are fitted to the width, at most MAX_COLUMNS of them
        return (len(shown_rows(rows, cols, limit)) + 1) * (_shown(cols, 0 if limit <= 0 else MAX_COLUMNS) + 1)
    if kind == "stack":
        shape = np.shape(data)
        return _shown(shape[0], limit) * (_shown(shape[1], limit) + 1) * (_shown(shape[2], limit) + 1)
    table_limit = 0 if limit <= 0 else max(limit * 4, 24)
    if kind == "table":
        return (_shown(len(data.rows), table_limit) + 1) * max(len(data.columns), 1)
    if kind == "rows":
        table = rows_table(data)
        return (_shown(len(table.rows), table_limit) + 1) * len(table.columns)
    if kind == "mapping":
        return 2 * _shown(len(data), table_limit)
    if kind == "ragged":
        return sum(_cells(item, limit) for item in data)
    if kind == "labels":
        return max(1, len(data) // 8)
    return 1


def estimate(subject: Any, format: str, *, limit: int) -> Cost:
    """The cost of writing ``subject`` (a Trace, or a ``--vs`` Comparison) in ``format``.

    ``limit`` is the renderers' row/column limit (0 with ``--full``: everything).
    """
    traces: Sequence[Trace] = (subject.first, subject.second) if hasattr(subject, "second") else (subject,)
    total = 0
    for trace in traces:
        if format == "py":
            total += _size(trace.inputs) + _size(trace.outputs)
        elif format == "json":
            total += _size(trace.inputs) + _size(trace.outputs)
            for step in trace.steps:
                total += sum(_size(value.data) for value in step.values) + len(step.worked) + 4
                for plot in step.plots:
                    # a line plot's points; a network diagram's weights
                    total += sum(2 * int(np.size(series.x)) for series in getattr(plot, "series", ()))
                    total += sum(int(np.size(w)) for w in getattr(plot, "weights", ()))
        else:
            total += _size(trace.inputs) // 8 + 4
            for step in trace.steps:
                total += sum(_cells(value.data, limit) for value in step.values) + len(step.worked) + 4
                total += PLOT_CELLS * len(step.plots)
            if not trace.result:  # with a labelled Result, the outputs are not drawn (the Result's values are)
                total += sum(_cells(data, limit) for data in trace.outputs.values())
            total += sum(_cells(value.data, limit) for value in trace.result or ())
    return Cost(format, total)


def refuse_if_too_costly(subject: Any, format: str, *, limit: int, size_flags: Sequence[str] = ()) -> None:
    """Raise ``InputError`` naming the flag to change when the output would exceed :data:`LIMITS`."""
    cost = estimate(subject, format, limit=limit)
    most = LIMITS[format]
    if cost.numbers <= most:
        return
    smaller = f"a smaller {' or '.join(size_flags)}" if size_flags else "smaller inputs"
    verb = "written" if format in ("json", "py") else "drawn"
    if limit <= 0 and format not in ("json", "py"):
        flag = "--full"
        instead = f"leave out --full (large matrices are then elided, still computed in full), or use {smaller}"
    else:
        flag = "--format"
        instead = f"use {smaller}" if format in ("json", "text", "py") else f"use --format text, or {smaller}"
    raise InputError(
        flag,
        f"{format} output would hold about {cost.numbers:,} {cost.rate.unit} (about {human_bytes(cost.bytes)}, "
        f"{_duration(cost.seconds)}); at most {most:,} are {verb}: {instead}",
    )


def _duration(seconds: float) -> str:
    """``12 s``, ``3 min``, ``2.5 h``.

    >>> _duration(0.4), _duration(75), _duration(9000)
    ('under a second', '75 s', '2.5 h')
    """
    if seconds < 1:
        return "under a second"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
