"""Line plots drawn in the terminal with plotext (imported only when a plot is drawn).

A :class:`~nntutor.trace.Plot` holds computed series; this module only draws
them. ``plot_text(plot, width=60, height=15, color=False)`` returns the picture
as text, which the terminal view prints and the Markdown export puts in a
fenced block. A :class:`~nntutor.trace.Network` in a step's plots is drawn by
:mod:`nntutor.render.network`.

How a plot stays readable:

- each series has its own marker (``•``, ``+``, ``x`` …), with or without colour,
  so six activation curves can be told apart in black and white;
- the legend is a line *under* the plot (``legend: • ReLU  + LeakyReLU …``), so it
  never covers a curve;
- an axis whose values are all whole numbers (steps, epochs) gets whole-number ticks;
- a ``path`` series is a connected line with a mark at each point, ``contour``
  series are faint lines listed together in the legend, and a plot's ``frame``
  decides what part of the plane is drawn.

>>> from nntutor.trace import Plot, Series
>>> text = plot_text(Plot("loss", (Series("loss", [1, 2, 3], [0.9, 0.5, 0.4]),), xlabel="epoch"), width=40, height=10)
>>> text.splitlines()[-2].split()  # epochs 1, 2, 3: whole-number ticks only
['1', '2', '3']
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import Any

import numpy as np

from nntutor.trace import Plot

MAX_POINTS = 2000
MIN_WIDTH = 30
MARKERS = ("•", "+", "x", "o", "*", "#", "@", "%")
"""One marker per series of a plot with several: told apart without colour."""
COLORS = ("cyan", "orange", "green", "magenta", "yellow", "red", "blue", "white")
PATH_LINE = "•"
CONTOUR = "braille"
CONTOUR_KEY = "⠤⠤"
NAME_ON_CURVE = 10
"""Longer names are only in the legend (written on the plot they would cover the curves)."""
NUMBERED = 6
"""A path's first points are numbered (0 = the start), so the order of the zig-zag reads off the picture."""


_COLLECTOR: ContextVar[Any] = ContextVar("nntutor_plot_collector", default=None)


@contextlib.contextmanager
def collecting(collector: Any):
    """While recorded for an HTML page, plots go to ``collector.add(plot, width)`` (which returns the
    line to print in their place); the page then draws each one as SVG."""
    token = _COLLECTOR.set(collector)
    try:
        yield collector
    finally:
        _COLLECTOR.reset(token)


def collector() -> Any:
    """The collector set by :func:`collecting`, or None (plots are drawn as text)."""
    return _COLLECTOR.get()


def _points(values) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).ravel()
    if array.size > MAX_POINTS:
        array = array[np.linspace(0, array.size - 1, MAX_POINTS).astype(int)]
    return array


def whole_ticks(low: float, high: float, most: int) -> list[int] | None:
    """At most ``most`` whole-number ticks from ``low`` to ``high``, in round steps (1, 2, 5 × 10ⁿ);
    the first value is kept when the round ones start well after it (epoch 1).

    >>> whole_ticks(0, 15, 6), whole_ticks(1, 3, 6), whole_ticks(2, 2, 5), whole_ticks(1, 200, 6)
    ([0, 5, 10, 15], [1, 2, 3], [2], [1, 50, 100, 150, 200])
    """
    low, high = int(np.ceil(low)), int(np.floor(high))
    if high < low:
        return None
    span = high - low
    if span == 0:
        return [low]
    raw = span / max(most - 1, 1)
    power = 10 ** int(np.floor(np.log10(raw))) if raw >= 1 else 1
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = -(-low // step) * step
    ticks = list(range(first, high + 1, step))
    if not ticks or ticks[0] - low >= step / 2:
        ticks.insert(0, low)
    return ticks


def _whole(arrays: list[np.ndarray]) -> bool:
    values = [a[np.isfinite(a)] for a in arrays]
    return bool(values) and all(v.size and np.all(v == np.round(v)) for v in values)


def _legend(entries: list[tuple[str, str]], contours: list[str]) -> str:
    """``legend: • ReLU  + LeakyReLU`` (and ``· contour lines f = 14, 6.4``), under the plot."""
    parts = [f"{marker} {name}" for marker, name in entries]
    if contours:
        parts.append(f"{CONTOUR_KEY} contour lines " + ", ".join(contours))
    return "legend: " + "   ".join(parts) if parts else ""


def plot_text(plot: Any, *, width: int = 70, height: int = 16, color: bool = False) -> str:
    """The plot drawn as text ``width`` columns wide; non-finite points are left out."""
    from nntutor.trace import Network

    if isinstance(plot, Network):
        from nntutor.render.network import network_text

        return network_text(plot, width=width)
    return _line_plot(plot, width=width, height=height, color=color)


def _line_plot(plot: Plot, *, width: int, height: int, color: bool) -> str:
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(max(width, MIN_WIDTH), max(height, 8))
    plt.theme("pro" if color else "clear")
    several = sum(1 for s in plot.series if s.style != "contour") > 1
    entries: list[tuple[str, str]] = []
    contours: list[str] = []
    xs_drawn: list[np.ndarray] = []
    ys_drawn: list[np.ndarray] = []
    number = 0
    for series in plot.series:
        x, y = _points(series.x), _points(series.y)
        keep = np.isfinite(x) & np.isfinite(y)
        if not keep.any():
            continue
        x, y = x[keep].tolist(), y[keep].tolist()
        if series.style == "contour":
            plt.plot(x, y, marker=CONTOUR, color="gray" if color else None)
            contours.append(series.name.removeprefix("f = ") if contours else series.name)
            continue
        xs_drawn.append(np.asarray(x))
        ys_drawn.append(np.asarray(y))
        paint = COLORS[number % len(COLORS)] if color else None
        if series.style == "path":
            plt.plot(x, y, marker=PATH_LINE, color=paint)
            for k in range(min(NUMBERED, len(x))):
                plt.text(str(k), x[k], y[k], color=paint, alignment="center")
            entries.append((PATH_LINE, f"{series.name}, points 0…{min(NUMBERED, len(x)) - 1} numbered"))
        else:
            marker = MARKERS[number % len(MARKERS)] if several else ("braille" if plot.kind != "scatter" else "•")
            draw = plt.scatter if plot.kind == "scatter" else plt.plot
            draw(x, y, marker=marker, color=paint)
            if several:
                entries.append((marker, series.name))
        number += 1
    if not xs_drawn:
        plt.clear_figure()
        return f"{plot.title}: nothing to draw (no finite values)"
    if several and plot.kind != "scatter":
        _name_curves(plt, [s for s in plot.series if s.style == ""], color, height)
    if plot.frame is not None:
        x_min, x_max, y_min, y_max = plot.frame
        plt.xlim(x_min, x_max)
        plt.ylim(y_min, y_max)
    _ticks(plt, xs_drawn, ys_drawn, plot.frame, width, height)
    plt.title(plot.title)
    if plot.xlabel:
        plt.xlabel(plot.xlabel)
    if plot.ylabel:
        plt.ylabel(plot.ylabel)
    text = plt.build()
    plt.clear_figure()
    if not color:
        text = plt.uncolorize(text)
    lines = [line.rstrip() for line in text.splitlines()]
    legend = _legend(entries, contours)
    if legend:
        import textwrap

        legend += "; where curves meet, the later one is drawn" if several and plot.kind != "scatter" else ""
        lines += textwrap.wrap(legend, max(width, MIN_WIDTH), subsequent_indent="  ", break_on_hyphens=False)
    return "\n".join(lines)


def label_spots(curves: list[tuple[np.ndarray, np.ndarray]], apart: float = 0.0) -> list[int | None]:
    """For curves drawn over the same x: the index where each is farthest from every other one.

    Each name is written there, so overlapping curves can still be told apart; labels
    are kept apart along x. None where the curves do not share their x, or where a
    curve is never ``apart`` (a fraction of the y range) from the others.

    >>> x = np.linspace(0, 1, 5)
    >>> label_spots([(x, x), (x, 1 - x), (x, 0 * x + 0.5)])
    [0, 4, 1]
    >>> label_spots([(x, x), (x, x + 0.01), (x, 1 - x)], apart=0.1)
    [None, None, 4]
    """
    if len(curves) < 2 or any(c[0].shape != curves[0][0].shape or not np.array_equal(c[0], curves[0][0]) for c in curves):
        return [None] * len(curves)
    ys = np.stack([c[1] for c in curves])
    scale = float(np.ptp(ys)) or 1.0
    n = ys.shape[1]
    spots: list[int | None] = []
    for i in range(len(curves)):
        others = np.delete(ys, i, axis=0)
        gap = np.min(np.abs(others - ys[i]), axis=0) / scale
        for taken in spots:  # keep labels apart: a tenth of the width at least
            if taken is not None:
                gap[max(0, taken - n // 10): taken + n // 10 + 1] *= 0.2
        best = int(np.argmax(gap))
        spots.append(best if gap[best] >= apart else None)
    return spots


def _name_curves(plt, series: list, color: bool, height: int) -> None:
    """Each curve's name written on it where it stands at least a row away from the others."""
    curves = [(np.asarray(s.x, dtype=np.float64), np.asarray(s.y, dtype=np.float64)) for s in series]
    for number, (item, spot) in enumerate(zip(series, label_spots(curves, apart=1.0 / max(height - 4, 1)), strict=True)):
        if spot is None:
            continue
        x, y = curves[number]
        if np.isfinite(y[spot]) and len(item.name) <= NAME_ON_CURVE:
            align = "left" if spot < len(x) // 3 else "right" if spot > 2 * len(x) // 3 else "center"
            plt.text(item.name, float(x[spot]), float(y[spot]), alignment=align,
                     color=COLORS[number % len(COLORS)] if color else None)


def nice_ticks(low: float, high: float, most: int) -> tuple[list[float], list[str]] | None:
    """Round ticks (steps of 1, 2 or 5 × 10ⁿ) inside ``[low, high]``, at most ``most`` of them, with labels.

    >>> nice_ticks(-0.03, 2.1, 6)
    ([0.0, 0.5, 1.0, 1.5, 2.0], ['0', '0.5', '1', '1.5', '2'])
    """
    if not (np.isfinite(low) and np.isfinite(high)) or high <= low:
        return None
    raw = (high - low) / max(most - 1, 1)
    power = 10.0 ** np.floor(np.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = np.ceil(low / step) * step
    ticks = [float(t) for t in np.arange(first, high + step * 1e-9, step)]
    if len(ticks) < 2:
        return None
    decimals = max(0, -int(np.floor(np.log10(step) + 1e-9)))
    labels = [f"{t:.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{t:.0f}" for t in ticks]
    labels = ["0" if label in ("-0", "") else label for label in labels]
    return [round(t, decimals + 2) + 0.0 for t in ticks], labels


def _span(arrays: list[np.ndarray], frame, axis: int) -> tuple[float, float]:
    if frame is not None:
        return frame[2 * axis], frame[2 * axis + 1]
    return min(float(a.min()) for a in arrays), max(float(a.max()) for a in arrays)


def _ticks(plt, xs: list[np.ndarray], ys: list[np.ndarray], frame, width: int, height: int) -> None:
    """Round ticks on both axes; whole numbers only where every value is whole (steps, epochs)."""
    for axis, arrays, most, setter in ((0, xs, max(2, width // 12), plt.xticks), (1, ys, max(2, height // 3), plt.yticks)):
        low, high = _span(arrays, frame, axis)
        if _whole(arrays):
            whole = whole_ticks(low, high, most)
            chosen = (whole, [str(t) for t in whole]) if whole else None
        else:
            chosen = nice_ticks(low, high, most)
        if chosen:
            setter(*chosen)
