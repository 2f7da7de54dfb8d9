"""Fitting a table to the width it is given: whole columns are left out, numbers are never cut.

A terminal table has a label column and data columns. When they do not all fit,
:func:`fit_columns` keeps the first and the last column (and any asked for),
then as many others as the room allows, taken from both ends towards the middle;
a ``…`` column stands for each run left out. :func:`share_room` then gives each
kept column its width: a number is never narrower than itself, a text column no
narrower than its longest word (it wraps between words), and what room is left
goes to the text columns that would otherwise wrap.

Widths are counted in terminal cells; between two columns there are
:data:`SEPARATOR` cells (padding, rule, padding), as in every table the
terminal renderer draws.

>>> fit_columns([6, 6, 6, 6, 6, 6], room=31)  # each column costs 6 + 3; the gap 1 + 3
[0, 1, None, 5]
>>> fit_columns([6, 6, 6], room=30)
[0, 1, 2]
>>> share_room([4, 3], [4, 20], room=20)  # 4 + 3 + the text column gets the rest
[4, 13]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.cells import cell_len
from rich.text import Text

SEPARATOR = 3
"""Cells between two columns: the right padding of one, the rule, the left padding of the next."""
GAP = 1 + SEPARATOR
"""What a ``…`` column costs."""


def spans(text: Text | str, *, wraps: bool) -> tuple[int, int]:
    """(narrowest, widest) a cell can be drawn: a number or a label that must not wrap is as
    wide as itself; a text that ``wraps`` is at least as wide as its longest word.

    >>> spans("shrinks, flipping sign", wraps=True), spans("-0.6000", wraps=False)
    ((8, 22), (7, 7))
    """
    plain = text.plain if isinstance(text, Text) else text
    lines = plain.split("\n") or [""]
    widest = max(cell_len(line) for line in lines)
    if not wraps:
        return widest, widest
    return max((cell_len(word) for word in plain.split()), default=0), widest


def cost(widths: Sequence[int], shown: Sequence[int | None]) -> int:
    """The cells the data columns ``shown`` take, each with its separator (``None``: a ``…`` gap)."""
    return sum(GAP if j is None else widths[j] + SEPARATOR for j in shown)


def _with_gaps(chosen: Iterable[int], count: int) -> list[int | None]:
    shown: list[int | None] = []
    previous = -1
    for j in sorted(chosen):
        if j != previous + 1:
            shown.append(None)
        shown.append(j)
        previous = j
    if previous != count - 1:
        shown.append(None)
    return shown


def fit_columns(widths: Sequence[int], room: int, *, keep: Iterable[int] = ()) -> list[int | None]:
    """Which of the data columns (``widths`` each, without separators) to show in ``room`` cells.

    Every column when they fit. Else the first, the last and ``keep`` always, then
    the others in the order 1, n-2, 2, n-3, … while they fit (so the columns shown
    are the two ends of the row); ``None`` marks each run left out. When even the
    first and the last do not fit, they are shown all the same (the table is then
    wider than ``room``, never cut).

    >>> fit_columns([7] * 9, room=60)
    [0, 1, 2, None, 7, 8]
    >>> fit_columns([7] * 9, room=60, keep=[4])
    [0, 1, None, 4, None, 7, 8]
    """
    count = len(widths)
    everything = list(range(count))
    if count == 0 or cost(widths, everything) <= room:
        return everything
    chosen = {0, count - 1, *(j for j in keep if 0 <= j < count)}
    front, back = 1, count - 2
    take_front = True
    while front <= back:
        j = front if take_front else back
        trial = chosen | {j}
        if cost(widths, _with_gaps(trial, count)) > room:
            break
        chosen = trial
        if take_front:
            front += 1
        else:
            back -= 1
        take_front = not take_front
    return _with_gaps(chosen, count)


def share_room(narrowest: Sequence[int], widest: Sequence[int], room: int) -> list[int]:
    """Each column's width (without separators) in ``room`` cells: at least its narrowest,
    at most its widest; the room left over goes to the columns that would wrap, the one
    that wraps most first, one cell at a time.

    >>> share_room([5, 8], [5, 22], room=30)  # fits: as wide as it wants
    [5, 22]
    >>> share_room([5, 8], [5, 22], room=20)
    [5, 12]
    """
    if sum(widest) + SEPARATOR * max(len(widest) - 1, 0) <= room:
        return list(widest)
    widths = list(narrowest)
    spare = room - SEPARATOR * max(len(widths) - 1, 0) - sum(widths)
    wanting = [widest[j] - widths[j] for j in range(len(widths))]
    while spare > 0 and any(w > 0 for w in wanting):
        j = max(range(len(widths)), key=lambda k: wanting[k])
        widths[j] += 1
        wanting[j] -= 1
        spare -= 1
    return widths


_NUMBERS = set("0123456789.,;-+eE ")


def command_lines(command: str, room: int) -> list[str]:
    """A shell command in lines of at most ``room`` cells that still runs when pasted whole.

    Words move to a new line after `` \\``; a quoted matrix or vector longer than a line
    is broken after a ``;`` (or a ``,``) inside its quotes, where a line break is
    harmless (the numbers are read without the spaces around them). A word that is
    none of these runs past ``room`` rather than being cut.

    >>> command_lines("nntutor lesson mlp --sizes 784,16,16,10 --seed 1", 30)
    ['nntutor lesson mlp --sizes \\\\', '  784,16,16,10 --seed 1']
    >>> command_lines("nntutor lesson x --w '0.1,0.2;0.3,0.4;0.5,0.6'", 24)
    ['nntutor lesson x --w \\\\', "  '0.1,0.2;0.3,0.4;", "  0.5,0.6'"]
    """
    import shlex

    if cell_len(command) <= room:
        return [command]
    try:
        words = shlex.split(command, posix=False)
    except ValueError:
        return [command]
    lines: list[str] = []
    line = ""
    for word in words:
        if not line:
            line = word
        elif cell_len(line) + 1 + cell_len(word) + 2 <= room:
            line += " " + word
        else:
            lines.append(line + " \\")
            line = "  " + word
        quoted = len(word) > 2 and word[0] == word[-1] == "'" and set(word[1:-1]) <= _NUMBERS
        if quoted and cell_len(line) > room:
            head, _, _ = line.rpartition(word)
            pieces = _pieces(word, room - 2)
            lines.append(head + pieces[0])
            lines.extend("  " + piece for piece in pieces[1:-1])
            line = "  " + pieces[-1]
    lines.append(line)
    return lines


def _pieces(word: str, room: int) -> list[str]:
    """``word`` cut after its ``;`` (else its ``,``) into pieces of about ``room`` cells."""
    mark = ";" if ";" in word else ","
    parts = [part + mark for part in word.split(mark)]
    parts[-1] = parts[-1][:-1]
    pieces = [""]
    for part in parts:
        if pieces[-1] and cell_len(pieces[-1]) + cell_len(part) > room:
            pieces.append("")
        pieces[-1] += part
    return pieces
