"""Heatmap colours for a dark or a light terminal, every text colour readable on its cell.

A heatmap cell's colour says how large its value is against the largest magnitude
in the matrix (``span``): nine levels, 0 (the value is 0, or under 1/16 of the span)
to 8 (the largest). Positive values are red, negative ones blue. On a **dark**
background the cells start from a dark grey, close to the terminal's own, and
grow brighter with the value; on a **light** one they start from a light grey
and grow darker. Either way the extremes stand out and a weight of 0 does not.

The colours are xterm's 256 colours, drawn exactly by a 256-colour terminal, a
true-colour one and the SVG/HTML export alike. A cell's text is black or white,
whichever contrasts more with that background (so equal backgrounds always have
equal text), and every pair meets WCAG AA for normal text (a contrast of at least
4.5:1; ``tests/test_palette.py`` computes them all).

>>> level(0.3, 0.6), level(-0.6, 0.6), level(0.0, 0.6)
(4, -8, 0)
>>> cell_style(0.6, 0.6, "light")
'color(231) on color(88)'
"""

from __future__ import annotations

import math
from typing import NamedTuple

LEVELS = 8
"""Levels of colour on each side of 0."""

BLACK, WHITE = 16, 231
"""The text colours: xterm's pure black and pure white (not the theme's ANSI ``black``/``white``)."""


class Palette(NamedTuple):
    """The backgrounds of one theme: level 0, then levels 1…8 of the positive and of the negative side."""

    zero: int
    positive: tuple[int, ...]
    negative: tuple[int, ...]
    reads: str  # how the legend says which way the colour goes


PALETTES = {
    # light: from light grey to deep red / deep blue (darker = larger)
    "light": Palette(
        zero=255,
        positive=(224, 217, 210, 203, 196, 160, 124, 88),
        negative=(189, 153, 111, 75, 33, 26, 25, 18),
        reads="darker = larger",
    ),
    # dark: from dark grey to bright red / bright blue (brighter = larger)
    "dark": Palette(
        zero=236,
        positive=(52, 88, 124, 160, 196, 203, 210, 217),
        negative=(17, 18, 19, 20, 27, 33, 75, 117),
        reads="brighter = larger",
    ),
}
THEMES = tuple(PALETTES)


def level(x: float, span: float) -> int:
    """The level of ``x`` when the largest magnitude is ``span``: -8…8, rounded to the nearest.

    >>> level(0.03, 1.0), level(0.07, 1.0), level(1e9, 1.0)
    (0, 1, 8)
    """
    if span <= 0 or not math.isfinite(span):
        return 0
    t = min(abs(x) / span, 1.0)
    step = math.floor(t * LEVELS + 0.5)
    return step if x >= 0 else -step


def background(step: int, theme: str) -> int:
    """The 256-colour index of level ``step`` (-8…8) in ``theme``."""
    palette = PALETTES[theme]
    if step == 0:
        return palette.zero
    side = palette.positive if step > 0 else palette.negative
    return side[abs(step) - 1]


def rgb(index: int) -> tuple[int, int, int]:
    """The red, green and blue of xterm colour ``index`` (the colour cube and the grey ramp).

    >>> rgb(16), rgb(196), rgb(231), rgb(236)
    ((0, 0, 0), (255, 0, 0), (255, 255, 255), (48, 48, 48))
    """
    if 16 <= index <= 231:
        cube = index - 16
        steps = (0, 95, 135, 175, 215, 255)
        return steps[cube // 36], steps[cube // 6 % 6], steps[cube % 6]
    if 232 <= index <= 255:
        grey = 8 + 10 * (index - 232)
        return grey, grey, grey
    raise ValueError(f"colour {index} is not in the 256-colour cube or the grey ramp")


def luminance(colour: tuple[int, int, int]) -> float:
    """WCAG 2 relative luminance of an sRGB colour.

    >>> luminance((0, 0, 0)), luminance((255, 255, 255))
    (0.0, 1.0)
    """

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """WCAG 2 contrast ratio, 1 (none) to 21 (black on white).

    >>> round(contrast((0, 0, 0), (255, 255, 255)), 1)
    21.0
    """
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def text_on(index: int) -> int:
    """Black or white, whichever reads better on background ``index``.

    >>> text_on(255), text_on(18)
    (16, 231)
    """
    back = rgb(index)
    return BLACK if contrast(back, rgb(BLACK)) >= contrast(back, rgb(WHITE)) else WHITE


def cell_style(x: float, span: float, theme: str) -> str:
    """The rich style of a heatmap cell holding ``x`` (a grey cell for ∞ and NaN)."""
    if not math.isfinite(x):
        index = PALETTES[theme].zero
        return f"color({text_on(index)}) on color({index}) italic"
    index = background(level(x, span), theme)
    return f"color({text_on(index)}) on color({index})"
