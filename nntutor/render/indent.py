"""Indent: a renderable shifted right (and spaced from what is above it), drawn cheaply.

It looks like ``rich.padding.Padding(renderable, (top, 0, bottom, left))``, but
draws the child's lines as they come instead of cropping and padding each one
to the full width: the lines of a lesson are never wider than the space given,
and trailing spaces are stripped from piped output anyway.

>>> from rich.console import Console
>>> from rich.text import Text
>>> import io
>>> console = Console(file=io.StringIO(), width=12, color_system=None)
>>> console.print(Indent(Text("one two three four"), left=2, top=1))
>>> [line.rstrip() for line in console.file.getvalue().splitlines()]
['', '  one two', '  three four']
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style


class Indent:
    """``renderable`` drawn ``left`` columns in, after ``top`` blank lines and before ``bottom`` ones."""

    def __init__(self, renderable, *, left: int = 2, top: int = 0, bottom: int = 0) -> None:
        self.renderable = renderable
        self.left = left
        self.top = top
        self.bottom = bottom

    def __rich_console__(self, console, options):
        new_line = Segment.line()
        for _ in range(self.top):
            yield new_line
        child_options = options.update_width(max(1, options.max_width - self.left))
        indent = Segment(" " * self.left, Style.null()) if self.left else None
        for line in Segment.split_lines(console.render(self.renderable, child_options)):
            if indent is not None:
                yield indent
            yield from line
            yield new_line
        for _ in range(self.bottom):
            yield new_line

    def __rich_measure__(self, console, options):
        from rich.measure import Measurement

        measurement = Measurement.get(console, options.update_width(max(1, options.max_width - self.left)), self.renderable)
        return Measurement(measurement.minimum + self.left, measurement.maximum + self.left)
