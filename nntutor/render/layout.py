"""Layout decisions shared by every renderer: which cells to show, what is shown inline.

What a value *is* is decided once, by :func:`nntutor.trace.classify` (``Value.kind``).

>>> shown_indices(10, 8)
[0, 1, 2, 3, None, 7, 8, 9]
>>> shown_indices(3, 8)
[0, 1, 2]
"""

from __future__ import annotations

from typing import Any

from nntutor.trace import Table

DEFAULT_LIMIT = 8


def shown_indices(count: int, limit: int) -> list[int | None]:
    """Which indices to show; ``None`` marks the ``…`` gap (first half, gap, last few)."""
    if limit <= 0 or count <= limit:
        return list(range(count))
    head = max(limit // 2, 1)
    tail = max(limit - head - 1, 1)
    return [*range(head), None, *range(count - tail, count)]


def rows_table(data: Any) -> Table:
    """A ``rows`` value (rows holding text, e.g. BPE merges) as a numbered :class:`Table`.

    NumPy would turn such a list into an array of strings, which has no numbers to format.
    Short rows are filled with empty cells.

    >>> rows_table([["s", "t</w>"], ["e", "st</w>"]]).rows
    ((1, 's', 't</w>'), (2, 'e', 'st</w>'))
    """
    width = max(len(row) for row in data)
    columns = ("#", *(str(i) for i in range(width)))
    rows = tuple((i, *row, *([""] * (width - len(row)))) for i, row in enumerate(data, start=1))
    return Table(columns, rows)


INLINE = ("scalar", "text")
"""The kinds shown inline (``name = value``) rather than as a table."""
