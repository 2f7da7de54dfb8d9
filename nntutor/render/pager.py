"""``--step`` in a terminal: one step per screen, moved through with single keys.

Enter or space shows the next step (or the next page of a step taller than the
screen), ``b`` goes back and redraws the step before (the screen is cleared, nothing
is printed twice), ``q`` stops and says how to go on; any other key shows the keys.
Past the last step the lesson's result is shown. :func:`page` returns True when the
learner reached the last step (all of it: its last page), False when they stopped before.

Where a key leads is decided by :func:`move`, without any I/O::

    >>> pages = {0: 1, 1: 2}.get         # step 2 is two screens tall
    >>> move(Position(0, 0), "space", pages, 2), move(Position(1, 0), "enter", pages, 2)
    (Position(step=1, page=0), Position(step=1, page=1))
    >>> move(Position(1, 1), "b", pages, 2), move(Position(1, 1), "space", pages, 2), move(Position(0, 0), "x", pages, 2)
    (Position(step=1, page=0), 'end', 'keys')
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import NamedTuple

from rich.console import Console
from rich.control import Control, ControlType
from rich.text import Text

from nntutor.render.layout import DEFAULT_LIMIT
from nntutor.render.output import has_colour, stdout_console
from nntutor.trace import Trace

NEXT = frozenset({"enter", "space", "right", "down", "pagedown"})
BACK = frozenset({"b", "left", "up", "pageup"})
QUIT = frozenset({"q", "ctrl-c", "eof"})
KEYS_TEXT = "Enter or space: next · b: back · q: quit"
HELP_TEXT = "Keys: Enter or space: next step (or page) · b: back · q: stop"
MIN_PAGE = 5  # lines of a step shown at once, however small the terminal
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class Position(NamedTuple):
    """Where the learner is: a step (0-based) and a page of it."""

    step: int
    page: int


def move(position: Position, key: str, pages: Callable[[int], int], count: int) -> Position | str:
    """Where ``key`` takes the learner: a :class:`Position`, ``"end"`` (past the last step),
    ``"quit"``, or ``"keys"`` (not a key of the pager). ``pages(step)`` is how many screens
    a step takes; ``count`` how many steps there are."""
    step, page = position
    if key in QUIT:
        return "quit"
    if key in NEXT:
        if page + 1 < pages(step):
            return Position(step, page + 1)
        return Position(step + 1, 0) if step + 1 < count else "end"
    if key in BACK:
        return Position(step, page - 1) if page > 0 else Position(max(step - 1, 0), 0)
    return "keys"


def page(
    trace: Trace,
    *,
    precision: int = 4,
    limit: int = DEFAULT_LIMIT,
    plots: bool = True,
    first: int = 1,
    resume: Callable[[int], str] | None = None,
    read_key: Callable[[], str] | None = None,
    console: Console | None = None,
) -> bool:
    """Show ``trace`` a step per screen from step ``first``; True when the last step was reached.

    ``read_key()`` names each key pressed (:func:`nntutor.render.keys.terminal_keys` on
    stdin by default); ``resume(n)`` is the command that starts at step n, for the line
    printed when the learner stops (``stopped at step 2 of 5: … --from-step 3 to go on``).
    """
    from nntutor.render import terminal

    console = console or stdout_console()
    if read_key is None:
        from nntutor.render.keys import terminal_keys

        read_key = terminal_keys(sys.stdin)
    heat = has_colour(console)
    steps = trace.steps
    if not steps:
        return True
    height = max(console.size.height - 2, MIN_PAGE)  # the status line and a spare one
    start = min(max(first, 1), len(steps)) - 1
    cache: dict[int, list[str]] = {}

    def lines(index: int) -> list[str]:
        if index not in cache:
            parts = [terminal.header_renderable(trace)] if index == start else []
            parts.append(terminal.step_renderable(steps[index], index + 1, precision, limit, heat, plots))
            cache[index] = _rendered_lines(console, parts)
        return cache[index]

    def pages(index: int) -> int:
        return max(1, -(-len(lines(index)) // height))

    position = Position(start, 0)
    reached = False
    while True:
        _draw(console, lines(position.step)[position.page * height : (position.page + 1) * height])
        reached = reached or (position.step == len(steps) - 1 and position.page == pages(position.step) - 1)
        _status(console, _status_text(position, pages(position.step), len(steps)))
        try:
            key = read_key()
        except KeyboardInterrupt:
            key = "ctrl-c"
        where = move(position, key, pages, len(steps))
        while where == "keys":
            _status(console, Text(HELP_TEXT, style="bold yellow"))
            try:
                key = read_key()
            except KeyboardInterrupt:
                key = "ctrl-c"
            where = move(position, key, pages, len(steps))
        if where == "quit":
            console.print()
            number = position.step + 1
            go_on = min(number + 1, len(steps))
            command = resume(go_on) if resume is not None else f"--from-step {go_on}"
            console.print(Text(f"stopped at step {number} of {len(steps)}: {command} to go on"))
            return reached
        if where == "end":
            console.clear()
            for renderable in terminal.ending_renderables(trace, precision, limit):
                console.print(renderable)
            return True
        position = where


def _rendered_lines(console: Console, renderables: list) -> list[str]:
    """The renderables as the console would print them, one string (with its styles) per line."""
    with console.capture() as captured:
        for renderable in renderables:
            console.print(renderable)
    lines = captured.get().split("\n")
    while lines and not _ANSI.sub("", lines[-1]).strip():  # no page of blank lines at the end
        lines.pop()
    return lines


def _draw(console: Console, lines: list[str]) -> None:
    """Clear the screen and draw ``lines`` from the top (a redraw, never a reprint below)."""
    console.clear()
    console.file.write("\n".join(lines) + "\n")


def _status_text(position: Position, pages: int, count: int) -> Text:
    where = f"step {position.step + 1}/{count}"
    if pages > 1:
        where += f", page {position.page + 1}/{pages}"
    return Text(f"[{where}] {KEYS_TEXT} ", style="dim")


def _status(console: Console, text: Text) -> None:
    """The line under the step, written over what was there."""
    console.control(Control.move_to_column(0), Control((ControlType.ERASE_IN_LINE, 2)))
    console.print(text, end="", no_wrap=True, overflow="ellipsis", crop=True)
    console.file.flush()
