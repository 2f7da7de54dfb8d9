"""Bookkeeping shared by the transformer walkthroughs (multi-head, layernorm, ffn,
transformer-block, pipeline).

For their ``check`` (the only helpers here that raise ``InputError``): size limits
(:func:`check_memory`), row labels (:func:`token_labels`), flags that do not go
together (:func:`refuse_with`), seeded inputs (:func:`random_matrix`). For their
``build``: shapes as text and feature labels.

Not a builder itself (the leading underscore keeps it out of the lesson registry).

>>> shape_text(np.zeros((3, 4)))
'3×4'
>>> token_labels(("The", "cat"), 3, given=())  # a default that does not fit: indices
('t0', 't1', 't2')
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from nntutor.errors import InputError
from nntutor.numfmt import human_bytes
from nntutor.walkthroughs._budget import allowance
from nntutor.walkthroughs._common import index_labels

# Runs whose arrays would need more than this are refused up front.
MAX_BYTES = 256 * 1024 * 1024


# --------------------------------------------------------------------------- for check


def check_memory(flag: str, needed: int, what: str) -> None:
    """Refuse a run that would need more than :data:`MAX_BYTES` (its share with ``--vs``), with the estimate."""
    limit, why = allowance(MAX_BYTES)
    if needed > limit:
        raise InputError(
            flag,
            f"{what} would need about {human_bytes(needed)} of memory "
            f"(at most {human_bytes(limit)}{why}); choose smaller sizes",
        )


def token_labels(tokens: Sequence[str] | None, n: int, given: Collection[str], flag: str = "--tokens") -> tuple[str, ...]:
    """Row labels: the tokens when they match the rows, else ``t0, t1, …``.

    A default token list that does not fit a typed --x is quietly replaced by
    indices; a typed --tokens of the wrong length is an error.
    """
    if tokens is not None and len(tokens) == n:
        return tuple(tokens)
    if tokens is not None and flag.lstrip("-") in given:
        raise InputError(flag, f"expected {n} names, one per row of --x, got {len(tokens)}")
    return index_labels(n, "t")


def random_matrix(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
    """Normal values with standard deviation ``scale``, rounded to 2 decimals."""
    return np.round(rng.normal(0.0, scale, size=shape), 2)


def refuse_with(flag: str, other: str, reason: str) -> InputError:
    """``--wq: cannot be combined with --seed (reason)``."""
    return InputError(flag, f"cannot be combined with {other} ({reason})")


# --------------------------------------------------------------------------- for build


def shape_text(a) -> str:
    """``3×4`` for a matrix, ``4`` for a vector."""
    return "×".join(str(s) for s in np.shape(a)) or "scalar"


def feature_labels(d: int, prefix: str = "d") -> tuple[str, ...]:
    return index_labels(d, prefix)
