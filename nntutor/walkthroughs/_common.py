"""What every walkthrough needs: the build context, arithmetic written out, size errors.

>>> ctx = Context(precision=4)
>>> dot_worked(ctx, "z", [0.5, -1.0], [1.5, 2.0], -1.25)
'z = 0.5×1.5 + (-1)×2 = -1.25'
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, NamedTuple

import numpy as np

from nntutor.errors import InputError
from nntutor.numfmt import fmt, fmt_factor
from nntutor.trace import Trace, Value


class Context(NamedTuple):
    """How a lesson is being built: its file's data and the display precision."""

    lesson: Any = None  # nntutor.catalog.lessonfile.Lesson (kept loose: walkthroughs are tested without files)
    precision: int = 4
    full: bool = False  # --full: every repeated step in full (a lesson may summarise them otherwise)

    def n(self, x: Any) -> str:
        """A number as shown in worked arithmetic, e.g. ``ctx.n(0.65900114) -> '0.659'``."""
        return fmt(x, self.precision)

    def f(self, x: Any) -> str:
        """A number used as a factor: negatives in parentheses, ``(-1)``."""
        return fmt_factor(x, self.precision)

    def new_trace(self, inputs: dict[str, Any], *, name: str = "", title: str = "") -> Trace:
        """A trace of this lesson; ``inputs`` records a ``seed`` only when inputs were drawn
        at random, and then the introduction says so (``drawn at random with --seed 3``)."""
        lesson = self.lesson
        narrative = lesson.narrative.strip() if lesson is not None else ""
        seed = inputs.get("seed")
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            note = f"Numbers drawn at random with --seed {seed} (the same seed, the same numbers)."
            narrative = f"{narrative}\n\n{note}" if narrative else note
        return Trace(
            lesson=name or (lesson.name if lesson is not None else ""),
            title=title or (lesson.title if lesson is not None else ""),
            summary=lesson.summary if lesson is not None else "",
            narrative=narrative,
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
        text = " + ".join(ctx.f(t) for t in items[:3]) + f" + … ({len(items) - 5:,} more) … + " + " + ".join(
            ctx.f(t) for t in items[-2:]
        )
    else:
        text = " + ".join(ctx.f(t) for t in items)
    return f"{lhs} = {text} = {ctx.n(result)}"


def index_labels(count: int, prefix: str = "", start: int = 0) -> tuple[str, ...]:
    """Default labels for rows or columns: ``('0', '1', '2')`` or ``('x0', 'x1')``."""
    return tuple(f"{prefix}{i}" for i in range(start, start + count))


# --------------------------------------------------------------------------- sizes that do not fit


class Size(NamedTuple):
    """One input's side of a size mismatch, for :func:`mismatch`.

    ``Size("w", 3, "numbers")``: ``--w`` has 3 numbers. ``shape`` is how the whole value
    reads when it is the lesson's default (``"3 numbers"``, ``"2×3"``; see :func:`shape_words`).
    """

    name: str  # the input, without its dashes
    count: int | str  # what is compared: 3 (or a whole shape, shape_words(x), with unit "shape")
    unit: str  # what is counted, in the plural: "numbers", "rows", "columns", "names"
    shape: str = ""  # the whole value, said of a default: "3 numbers", "2×3" (default: count and unit)


def blamed(given: Collection[str], checked: str, against: str) -> str:
    """The input to name when ``checked`` does not fit ``against``: the one the learner typed.

    ``checked`` is the input whose size is ruled by the other (``w`` must fit ``x``). Only
    when the learner typed ``against`` alone is it named; otherwise ``checked`` is (it was
    typed, or both were: the rule is about it).

    >>> blamed({"x"}, "w", "x"), blamed({"w"}, "w", "x"), blamed({"w", "x"}, "w", "x"), blamed((), "w", "x")
    ('x', 'w', 'w', 'w')
    """
    return against if against in given and checked not in given else checked


def mismatch(given: Collection[str], checked: Size, against: Size, *, why: str = "", fix: str = "") -> InputError:
    """The error for two inputs whose sizes disagree, naming the flag the learner typed.

    When one of the two was typed and the other left at its default, the message says so and
    how to fix it: "pass --OTHER too", or ``fix`` when the learner typed ``against`` alone
    (``"pass --wq, --wk and --wv too, or --seed to draw them"``). ``why`` is the rule, in a few words.

    >>> x, w = Size("x", 2, "numbers"), Size("w", 3, "numbers")
    >>> str(mismatch({"x"}, w, x))
    '--x: has 2 numbers but --w (default 3 numbers) has 3; pass --w too'
    >>> str(mismatch({"w"}, Size("w", 1, "numbers"), Size("x", 3, "numbers", "3 numbers")))
    '--w: has 1 number but --x (default 3 numbers) has 3; pass --x too'
    >>> str(mismatch({"x", "w"}, w, x, why="one weight per input"))
    '--w: has 3 numbers but --x has 2 (one weight per input)'
    """
    name = blamed(given, checked.name, against.name)
    this, other = (checked, against) if name == checked.name else (against, checked)
    other_counted = counted(other.count, other.unit)
    same_unit = other.unit == this.unit and other.unit != "shape"
    message = f"has {counted(this.count, this.unit)} but --{other.name}"
    rule = f" ({why})" if why else ""
    if this.name in given and other.name not in given:
        default = other.shape or other_counted
        other_has = str(other.count) if same_unit or default == other_counted else other_counted
        message += f" (default {default}) has {other_has}{rule}; {(name == against.name and fix) or f'pass --{other.name} too'}"
    else:  # both typed, or neither (then the lesson file's defaults disagree: nntutor check says so)
        message += f" has {other.count if same_unit else other_counted}{rule}"
    return InputError(f"--{this.name}", message)


def counted(count: int | str, unit: str) -> str:
    """``3 numbers``, ``1 number``, ``1 row per token``; a shape as :func:`shape_words` says it.

    >>> counted(1, "numbers per example"), counted(2, "rows"), counted("2×3", "shape"), counted("4 numbers", "shape")
    ('1 number per example', '2 rows', 'shape 2×3', '4 numbers')
    """
    if unit == "shape":
        return f"shape {count}" if "×" in str(count) else str(count)
    if count == 1:
        first, _, rest = unit.partition(" ")
        unit = " ".join(filter(None, (first.removesuffix("s"), rest)))
    return f"{count} {unit}"


def shape_words(value: Any) -> str:
    """A value's size as the help says it: ``3 numbers`` for a vector, ``2×3`` for a matrix.

    >>> shape_words(np.zeros(3)), shape_words(np.zeros((2, 3))), shape_words(("a", "b"))
    ('3 numbers', '2×3', '2 names')
    """
    if isinstance(value, (tuple, list)) and all(isinstance(item, str) for item in value):
        return counted(len(value), "names")
    shape = np.shape(value)
    if len(shape) == 1:
        return counted(shape[0], "numbers")
    return "×".join(str(n) for n in shape)


def answer(trace: Trace, *picks: str | Value) -> list[Value]:
    """The Result section: values of the trace's steps, labelled as those steps label them.

    Each pick is ``"step.value"`` (optionally ``"step.value=label"`` to name it) or a
    :class:`Value` made for the result (a summary table, a sentence). A pick this run
    has no step or value for (a flag can leave a step out) is left out.

    >>> from nntutor.trace import Step
    >>> trace = Trace("x", "X", steps=[Step("s", "S", values=[Value("p", np.array([0.5, 0.5]), label="probabilities", cols=("a", "b"))])])
    >>> [(v.display_name, v.cols) for v in answer(trace, "s.p", "s.p=p(next)")]
    [('probabilities', ('a', 'b')), ('p(next)', ('a', 'b'))]
    """
    values = []
    for pick in picks:
        if isinstance(pick, Value):
            values.append(pick)
            continue
        key, _, label = pick.partition("=")
        step_id, _, name = key.partition(".")
        try:
            value = trace.step(step_id).value(name)
        except KeyError:
            continue
        values.append(value._replace(label=label or value.display_name))
    return values
