"""What every walkthrough needs: the build context and arithmetic written out.

>>> ctx = Context(precision=4)
>>> dot_worked(ctx, "z", [0.5, -1.0], [1.5, 2.0], -1.25)
'z = 0.5×1.5 + (-1)×2 = -1.25'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from nntutor.numfmt import fmt, fmt_factor
from nntutor.trace import Trace


class Context(NamedTuple):
    """How a lesson is being built: its file's data and the display precision."""

    lesson: Any = None  # nntutor.catalog.lessonfile.Lesson (kept loose: walkthroughs are tested without files)
    precision: int = 4

    def n(self, x: Any) -> str:
        """A number as shown in worked arithmetic, e.g. ``ctx.n(0.65900114) -> '0.659'``."""
        return fmt(x, self.precision)

    def f(self, x: Any) -> str:
        """A number used as a factor: negatives in parentheses, ``(-1)``."""
        return fmt_factor(x, self.precision)

    def new_trace(self, inputs: dict[str, Any], *, name: str = "", title: str = "") -> Trace:
        lesson = self.lesson
        return Trace(
            lesson=name or (lesson.name if lesson is not None else ""),
            title=title or (lesson.title if lesson is not None else ""),
            summary=lesson.summary if lesson is not None else "",
            narrative=lesson.narrative if lesson is not None else "",
            inputs=inputs,
        )


def products(ctx: Context, a: Sequence[float], b: Sequence[float]) -> str:
    """``0.5×1.5 + (-1)×2``: the terms of a dot product, written out."""
    return " + ".join(f"{ctx.f(x)}×{ctx.f(y)}" for x, y in zip(a, b, strict=True))


def dot_worked(ctx: Context, lhs: str, a: Sequence[float], b: Sequence[float], result: float) -> str:
    """``lhs = a₁×b₁ + a₂×b₂ + … = result`` (elided in the middle past 8 terms)."""
    a = list(np.asarray(a, dtype=float).ravel())
    b = list(np.asarray(b, dtype=float).ravel())
    if len(a) > 8:
        head = products(ctx, a[:3], b[:3])
        tail = products(ctx, a[-2:], b[-2:])
        terms = f"{head} + … ({len(a) - 5} more terms) … + {tail}"
    else:
        terms = products(ctx, a, b)
    return f"{lhs} = {terms} = {ctx.n(result)}"


def sum_worked(ctx: Context, lhs: str, terms: Sequence[float], result: float) -> str:
    """``lhs = t₁ + t₂ + … = result``."""
    items = [float(t) for t in np.asarray(terms, dtype=float).ravel()]
    if len(items) > 8:
        text = " + ".join(ctx.f(t) for t in items[:3]) + f" + … ({len(items) - 5} more) … + " + " + ".join(
            ctx.f(t) for t in items[-2:]
        )
    else:
        text = " + ".join(ctx.f(t) for t in items)
    return f"{lhs} = {text} = {ctx.n(result)}"


def index_labels(count: int, prefix: str = "", start: int = 0) -> tuple[str, ...]:
    """Default labels for rows or columns: ``('0', '1', '2')`` or ``('x0', 'x1')``."""
    return tuple(f"{prefix}{i}" for i in range(start, start + count))
