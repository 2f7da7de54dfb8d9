"""How much memory one lesson run may use, and how ``--vs`` shares it between its two runs.

A lesson's ``check`` refuses, before allocating anything, a run whose estimate is
over its limit. ``--vs`` keeps two runs in memory at once, so while
:func:`shared_by` is in force each run gets its share of the limit, and the
refusal says why: the limit the message promises is the one that holds.

>>> allowance(4_000_000_000)
(4000000000, '')
>>> with shared_by(2):
...     allowance(4_000_000_000)
(2000000000, ' (half of 4.0 GB: --vs keeps two runs)')
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nntutor.numfmt import human_bytes

_runs = 1


@contextmanager
def shared_by(runs: int) -> Iterator[None]:
    """Within this block ``runs`` runs share every memory limit (``--vs``: 2)."""
    global _runs
    before, _runs = _runs, max(1, int(runs))
    try:
        yield
    finally:
        _runs = before


def allowance(limit: int) -> tuple[int, str]:
    """(the bytes one run may use now, a note for the refusal saying why when it is shared)."""
    if _runs == 1:
        return limit, ""
    share = "half" if _runs == 2 else f"1/{_runs}"
    return limit // _runs, f" ({share} of {human_bytes(limit)}: --vs keeps two runs)"
