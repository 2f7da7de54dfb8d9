"""The fast drawing paths draw exactly what rich would, character for character and style for style.

The oracle is rich itself: every comparison renders the same table through
``GridTable`` (the fast path) and through the ``rich.table.Table`` it stands for
(``to_rich``), or the same block through ``Indent`` and through
``rich.padding.Padding``, and compares each character with the style it is
drawn in (trailing unstyled spaces aside: piped output strips them).
"""

import functools
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.color import ColorSystem
from rich.console import Console
from rich.text import Text

from nntutor.catalog.lessonfile import load_all
from nntutor.catalog.run import run_lesson
from nntutor.render import terminal
from nntutor.render.grid import GridTable
from nntutor.render.indent import Indent


def styled_lines(renderable, width: int, color: bool = True) -> list[list[tuple[str, str]]]:
    """Each drawn line as (character, the ANSI codes it is drawn with) pairs."""
    console = Console(
        file=io.StringIO(), width=width, force_terminal=color, color_system="truecolor" if color else None,
        legacy_windows=False, markup=False, highlight=False, emoji=False,
    )
    lines = console.render_lines(renderable, console.options, pad=False)
    system = ColorSystem.TRUECOLOR
    return [
        [(char, segment.style.render("x", color_system=system) if segment.style else "x") for segment in line for char in segment.text]
        for line in lines
    ]


def without_trailing_blanks(lines):
    """Lines with trailing unstyled spaces removed (Padding pads every line to the width; Indent does not)."""
    trimmed = []
    for line in lines:
        line = list(line)
        while line and line[-1] == (" ", "x"):
            line.pop()
        trimmed.append(line)
    return trimmed


def plain_text(renderable, width: int) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, legacy_windows=False)
    console.print(renderable)
    return console.file.getvalue()


class RichOnly:
    """A GridTable drawn by rich's Table (the oracle) instead of the fast path."""

    def __init__(self, table: GridTable) -> None:
        self.table = table

    def __rich_console__(self, console, options):
        yield self.table.to_rich()


def test_hand_drawn_layout():
    # Worked by hand: the widest cells are 4, 6 and 1 wide; padding is 1 inside the table's
    # edges (widths 5, 8, 2) and columns are one space apart: 5 + 1 + 8 + 1 + 2 = 17.
    table = GridTable()
    table.add_column("")
    table.add_column("value", justify="right")
    table.add_column("c", justify="center")
    table.add_row("row", "1.5", "x")
    table.add_row("long", "-10.25", "")
    table.caption = Text("2 rows")
    assert [line.rstrip() for line in plain_text(table, 40).splitlines()] == [
        "        value   c",
        "─" * 17,
        "row       1.5   x",
        "long   -10.25",
        "     2 rows",  # centred: (17 - 6) // 2 = 5 spaces before it
    ]
    assert table.natural_width() == 17


def test_wide_characters_take_two_cells():
    table = GridTable()
    table.add_column("tok")
    table.add_column("n", justify="right")
    table.add_row("猫", "1")
    table.add_row("e\u0301", "22")  # e + combining acute: one cell wide
    assert table.content_widths() == [3, 2]
    assert [line.rstrip() for line in plain_text(table, 40).splitlines()] == ["tok    n", "────────", "猫     1", "e\u0301     22"]


def test_too_narrow_hands_over_to_rich_which_wraps():
    table = GridTable()
    table.add_column("word")
    table.add_column("meaning")
    table.add_row("attention", "a weighted average of the values, weights from query-key similarity")
    assert table.natural_width() > 40
    assert styled_lines(table, 40) == styled_lines(RichOnly(table), 40)
    assert max(len(line) for line in plain_text(table, 40).splitlines()) <= 40


@pytest.mark.parametrize("cell", ["a\tb", "two\nlines", "zero\u200bwidth", "\x1b[31m"])
def test_cells_the_fast_path_does_not_draw_go_to_rich(cell):
    table = GridTable()
    table.add_column("x")
    table.add_row(cell)
    assert not table.is_simple()
    assert styled_lines(table, 30) == styled_lines(RichOnly(table), 30)


def test_bad_column_and_row_shapes_are_refused():
    table = GridTable()
    with pytest.raises(ValueError):
        table.add_column("x", justify="full")
    table.add_column("x")
    with pytest.raises(ValueError):
        table.add_row("1", "2")


CELL_TEXT = st.text(
    alphabet=st.sampled_from([*"ab -.0123456789", "…", "⋮", "猫", "é", "\u0301", "−", "∞", "😀", "\t"]), max_size=12
)
STYLES = st.sampled_from(["", "bold", "italic", "red", "on grey23", "bold yellow", "dim", "on #ff0000"])


@st.composite
def cells(draw):
    text = Text(draw(CELL_TEXT), style=draw(STYLES), justify=draw(st.sampled_from([None, "left", "right", "center"])))
    if text.plain and draw(st.booleans()):
        start = draw(st.integers(0, len(text.plain) - 1))
        text.stylize(draw(STYLES) or "underline", start, draw(st.integers(start, len(text.plain))))
    if draw(st.booleans()):
        text.append(draw(CELL_TEXT), style=draw(STYLES))
    return text


@st.composite
def grid_tables(draw):
    table = GridTable(header_style=draw(st.sampled_from(["bold magenta", "", "bold"])))
    n_cols = draw(st.integers(1, 5))
    for _ in range(n_cols):
        table.add_column(draw(cells()), justify=draw(st.sampled_from(["left", "right", "center"])), style=draw(STYLES))
    for _ in range(draw(st.integers(0, 5))):
        table.add_row(*[draw(cells()) for _ in range(n_cols)])
    if draw(st.booleans()):
        table.caption = Text(draw(st.text(alphabet="abc xyz,", max_size=60)), style="dim")
    return table


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(grid_tables(), st.integers(8, 90), st.booleans())
def test_generated_tables_match_rich(table, width, color):
    assert styled_lines(table, width, color) == styled_lines(RichOnly(table), width, color)


@functools.cache
def every_lesson_trace():
    return tuple((lesson.name, lesson, run_lesson(lesson)) for lesson in load_all())


@pytest.mark.slow
@pytest.mark.parametrize("width", [100, 60, 40])
def test_every_lesson_draws_as_rich_would(width, monkeypatch):
    """All tables of all lessons (default inputs, heatmaps on), fast path against rich's Table."""
    traces = every_lesson_trace()
    assert len(traces) >= 20

    def drawn(lesson, trace):
        return [styled_lines(r, width) for r in terminal.trace_renderables(trace, narrative=lesson.narrative, heat=True, plots=False)]

    fast = {name: drawn(lesson, trace) for name, lesson, trace in traces}
    monkeypatch.setattr(GridTable, "__rich_console__", lambda self, console, options: iter([self.to_rich()]))
    for name, lesson, trace in traces:
        assert drawn(lesson, trace) == fast[name], name


@pytest.mark.slow
@pytest.mark.parametrize("width", [100, 50])
def test_every_lesson_indents_as_padding_would(width, monkeypatch):
    """Whole lessons (default inputs, heatmaps on), Indent against rich's Padding(expand=True)."""
    from rich.padding import Padding

    traces = every_lesson_trace()

    def drawn(lesson, trace):
        return [
            without_trailing_blanks(styled_lines(r, width))
            for r in terminal.trace_renderables(trace, narrative=lesson.narrative, heat=True, plots=True)
        ]

    fast = {name: drawn(lesson, trace) for name, lesson, trace in traces}

    def as_padding(self, console, options):
        yield Padding(self.renderable, (self.top, 0, self.bottom, self.left), expand=True)

    monkeypatch.setattr(Indent, "__rich_console__", as_padding)
    for name, lesson, trace in traces:
        assert drawn(lesson, trace) == fast[name], name


def test_indent_hand_drawn():
    # 13 columns less an indent of 3 leaves 10: "alpha beta" (10) fits, "gamma" wraps
    text = Text("alpha beta gamma")
    assert [line.rstrip() for line in plain_text(Indent(text, left=3, top=1, bottom=1), 13).splitlines()] == [
        "", "   alpha beta", "   gamma", "",
    ]
