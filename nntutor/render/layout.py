"""Layout decisions shared by every renderer (which cells to show, what is a scalar).

>>> shown_indices(10, 8)
[0, 1, 2, 3, None, 7, 8, 9]
>>> shown_indices(3, 8)
[0, 1, 2]
>>> is_ragged([np.zeros(3), np.zeros(2)])
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nntutor.trace import Table

DEFAULT_LIMIT = 8


def shown_indices(count: int, limit: int) -> list[int | None]:
    """Which indices to show; ``None`` marks the ``…`` gap (first half, gap, last few)."""
    if limit <= 0 or count <= limit:
        return list(range(count))
    head = max(limit // 2, 1)
    tail = max(limit - head - 1, 1)
    return [*range(head), None, *range(count - tail, count)]


def text_rows(data: Any) -> Table | None:
    """A list of rows holding text (e.g. BPE merges ``[["s", "t</w>"], ...]``) as a Table, else None.

    NumPy would turn such a list into an array of strings, which has no numbers to format.

    >>> text_rows([["s", "t</w>"], ["e", "st</w>"]]).rows
    ((1, 's', 't</w>'), (2, 'e', 'st</w>'))
    """
    if not isinstance(data, (list, tuple)) or not data:
        return None
    if not all(isinstance(row, (list, tuple)) for row in data):
        return None
    if not any(isinstance(cell, str) for row in data for cell in row):
        return None
    width = max(len(row) for row in data)
    columns = ("#", *(str(i) for i in range(width)))
    rows = tuple((i, *row, *([""] * (width - len(row)))) for i, row in enumerate(data, start=1))
    return Table(columns, rows)


def is_scalar(data: Any) -> bool:
    """True for a single number or string (shown inline, not as a table)."""
    if isinstance(data, np.ndarray):
        return data.ndim == 0
    return isinstance(data, (int, float, bool, str, np.integer, np.floating, np.bool_))


def is_ragged(data: Any) -> bool:
    """True for a list/tuple of arrays of different shapes (e.g. one activation vector per layer).

    NumPy cannot make one array of it, so renderers show each item on its own.
    """
    if not isinstance(data, (list, tuple)) or not data or any(isinstance(item, str) for item in data):
        return False
    return len({np.shape(item) for item in data}) > 1
