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
MAX_COLUMNS = 64
"""The most columns of a matrix a terminal table shows, however wide the terminal (``--full``: all)."""


def shown_indices(count: int, limit: int) -> list[int | None]:
    """Which indices to show; ``None`` marks the ``…`` gap (first half, gap, last few)."""
    if limit <= 0 or count <= limit:
        return list(range(count))
    head = max(limit // 2, 1)
    tail = max(limit - head - 1, 1)
    return [*range(head), None, *range(count - tail, count)]


def shown_rows(n_rows: int, n_cols: int, limit: int) -> list[int | None]:
    """Which rows of an ``n_rows``×``n_cols`` matrix a table shows (columns are fitted to the width).

    Up to ``limit`` rows always; a narrow matrix (no more than twice ``limit`` rows and
    ``3/4·limit²`` cells: 16×3 at the default 8) in full, since a 16×2 path reads better
    whole than cut.

    >>> len(shown_rows(16, 2, 8)), len(shown_rows(16, 4, 8)), len(shown_rows(40, 1, 8))
    (16, 8, 8)
    """
    if limit > 0 and n_rows <= 2 * limit and 4 * n_rows * n_cols <= 3 * limit * limit:
        return list(range(n_rows))
    return shown_indices(n_rows, limit)


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
