"""How numbers are written for a learner: rounded for display, never in the data.

>>> fmt(0.65900114, 4)
'0.659'
>>> fmt(-0.35, 4)
'-0.35'
>>> fmt(float("-inf"), 4)
'-∞'
>>> fmt(1.5e-07, 4)
'1.5e-07'
>>> fmt(0.65900114, 4, fixed=True)
'0.6590'
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any


def fmt(x: Any, precision: int = 4, *, fixed: bool = False) -> str:
    """Format one number with ``precision`` decimals.

    Integers stay integers; very large or very small magnitudes switch to
    scientific notation so nothing silently rounds to 0; infinities are written
    ``∞``/``-∞`` and NaN as ``NaN``. ``fixed`` keeps trailing zeros (tables line
    up); otherwise they are dropped (worked arithmetic reads more easily).
    """
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, Integral):
        return str(int(x))
    if not isinstance(x, Real):
        return str(x)
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if x == 0:
        return "0." + "0" * precision if fixed and precision > 0 else "0"
    magnitude = abs(x)
    if magnitude >= 1e9 or magnitude < 0.5 * 10.0**-precision:
        text = f"{x:.{max(precision - 1, 1)}e}"
        mantissa, exponent = text.split("e")
        if not fixed and "." in mantissa:
            mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{exponent}"
    text = f"{x:.{precision}f}"
    if not fixed and "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", "-0." + "0" * precision):
        text = text[1:]
    return text


def fmt_factor(x: Any, precision: int = 4) -> str:
    """A number used as a factor: negative values get parentheses.

    >>> fmt_factor(-1.0) + "×" + fmt_factor(2.0)
    '(-1)×2'
    """
    text = fmt(x, precision)
    return f"({text})" if text.startswith("-") else text


def about_bytes(count: float) -> str:
    """An estimated memory size, to two significant figures (decimal units).

    >>> about_bytes(488_812_345), about_bytes(1_234_567_890), about_bytes(45_000)
    ('490 MB', '1.2 GB', '45 KB')
    """
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 999.5 or unit == "GB":
            return f"{float(f'{count:.2g}'):g} {unit}"
        count /= 1000
    return f"{count:.0f} GB"


def human_bytes(count: float) -> str:
    """A memory size for a learner (decimal units).

    >>> human_bytes(8 * 100_000**2), human_bytes(268_435_456), human_bytes(512)
    ('80.0 GB', '268.4 MB', '512 bytes')
    """
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1000:
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:,.1f} TB"


_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def subscript(n: int) -> str:
    """A whole number as subscript digits, for an index in a name: ``subscript(12) -> '₁₂'``."""
    return str(n).translate(_SUBSCRIPT)
