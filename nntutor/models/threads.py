"""Matrix products on one thread: for the tiny model's arrays, more threads are slower.

OpenBLAS (NumPy's linear-algebra library) splits a product of a few hundred rows
over every core; on a busy machine its threads wait for a free core, and a train
step or a held-out evaluation took twice as long. :func:`one_thread` limits it
with threadpoolctl while a block runs (``nntutor train`` and the lessons that run
the tiny model); the numbers are the same, only the threads change.

>>> @on_one_thread
... def product():
...     import numpy as np
...     return float((np.ones((300, 64)) @ np.ones((64, 64))).sum())
>>> product()
1228800.0
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import TypeVar

F = TypeVar("F", bound=Callable)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """BLAS on one thread while the block runs (threadpoolctl, when installed)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def on_one_thread(fn: F) -> F:
    """``fn`` run inside :func:`one_thread` (a decorator for a lesson's ``check`` and ``build``)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with one_thread():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
