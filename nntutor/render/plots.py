"""Line plots drawn in the terminal with plotext (imported only when a plot is drawn).

A :class:`~nntutor.trace.Plot` holds computed series; this module only draws
them. ``plot_text(plot, width=60, height=15, color=False)`` returns the picture
as text, which the terminal view prints and the Markdown export puts in a
fenced block.
"""

from __future__ import annotations

import numpy as np

from nntutor.trace import Plot

MAX_POINTS = 2000
MIN_WIDTH = 30
# Without colour, series are told apart by their marker character.
PLAIN_MARKERS = ("•", "+", "x", "o", "*", "#", "@", "%")


def _points(values) -> list[float]:
    array = np.asarray(values, dtype=np.float64).ravel()
    if array.size > MAX_POINTS:
        array = array[np.linspace(0, array.size - 1, MAX_POINTS).astype(int)]
    return array.tolist()


def plot_text(plot: Plot, *, width: int = 70, height: int = 16, color: bool = False) -> str:
    """The plot drawn as text ``width`` columns wide; non-finite points are left out."""
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(max(width, MIN_WIDTH), max(height, 8))
    plt.theme("pro" if color else "clear")
    drawn = False
    for number, series in enumerate(plot.series):
        x = np.asarray(_points(series.x))
        y = np.asarray(_points(series.y))
        keep = np.isfinite(x) & np.isfinite(y)
        if not keep.any():
            continue
        draw = plt.scatter if plot.kind == "scatter" else plt.plot
        if color:
            marker = "braille" if plot.kind != "scatter" else "dot"
        else:
            marker = PLAIN_MARKERS[number % len(PLAIN_MARKERS)] if len(plot.series) > 1 else "braille"
        draw(x[keep].tolist(), y[keep].tolist(), label=series.name, marker=marker)
        drawn = True
    if not drawn:
        return f"{plot.title}: nothing to draw (no finite values)"
    plt.title(plot.title)
    if plot.xlabel:
        plt.xlabel(plot.xlabel)
    if plot.ylabel:
        plt.ylabel(plot.ylabel)
    text = plt.build()
    plt.clear_figure()
    if not color:
        text = plt.uncolorize(text)
    return "\n".join(line.rstrip() for line in text.splitlines())
