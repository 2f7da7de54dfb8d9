"""A fast grid table: rich's SIMPLE_HEAD look, drawn without rich's general table layout.

Every matrix a lesson shows is a small grid of one-line cells, and rich's
``Table`` spends most of a lesson's drawing time measuring, padding and wrapping
each of them (about 4 ms for a 5×5 matrix). A :class:`GridTable` knows its
cells are one line each, so its column widths are just the widest cells and
each row is a handful of segments. The look is the same, character for
character and style for style (``tests/test_grid.py`` checks that against
rich's own table on every lesson's tables and on generated ones); whenever a
cell is not a plain one-line text, or the table does not fit the width, it
hands over to the equivalent rich ``Table``, which wraps and shrinks.

>>> from rich.console import Console
>>> import io
>>> table = GridTable()
>>> table.add_column("")
>>> table.add_column("a", justify="right")
>>> table.add_row("x", "1.5")
>>> table.add_row("yy", "10.25")
>>> console = Console(file=io.StringIO(), width=40, color_system=None)
>>> console.print(table)
>>> for line in console.file.getvalue().splitlines():
...     print(line.rstrip())
         a
──────────
x      1.5
yy   10.25
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

HEADER_STYLE = "bold magenta"
JUSTIFICATIONS = ("left", "right", "center")


class GridColumn:
    """One column: its header, how its cells are justified, and its style."""

    __slots__ = ("header", "justify", "style", "cells")

    def __init__(self, header: Text, justify: str, style: str) -> None:
        self.header = header
        self.justify = justify
        self.style = style
        self.cells: list[Text] = []


def _as_text(cell: Any) -> Text:
    return cell if isinstance(cell, Text) else Text(str(cell))


def _is_simple(text: Text) -> bool:
    """One printable line (no tabs, newlines, control or format characters): drawn by the fast path."""
    plain = text.plain
    return plain.isprintable() and text.justify in (None, *JUSTIFICATIONS)


class GridTable:
    """A table of one-line cells, drawn like ``rich.table.Table(box=SIMPLE_HEAD, show_edge=False, pad_edge=False)``.

    Columns are separated by three spaces, the header by a rule; the first
    column has no left padding and the last no right padding.
    """

    def __init__(self, header_style: str = HEADER_STYLE) -> None:
        self.header_style = header_style
        self.columns: list[GridColumn] = []
        self.caption: Text | None = None

    def add_column(self, header: str | Text = "", *, justify: str = "left", style: str = "") -> None:
        if justify not in JUSTIFICATIONS:
            raise ValueError(f"justify must be one of {JUSTIFICATIONS}, not {justify!r}")
        self.columns.append(GridColumn(_as_text(header), justify, style))

    def add_row(self, *cells: str | Text) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"a row needs {len(self.columns)} cells, got {len(cells)}")
        for column, cell in zip(self.columns, cells, strict=True):
            column.cells.append(_as_text(cell))

    @property
    def row_count(self) -> int:
        return len(self.columns[0].cells) if self.columns else 0

    # ------------------------------------------------------------------ layout

    def _padding(self, index: int) -> tuple[int, int]:
        """(left, right) padding of column ``index``: 1 each, none at the table's outer edges."""
        return (0 if index == 0 else 1), (0 if index == len(self.columns) - 1 else 1)

    def is_simple(self) -> bool:
        """True when every cell is a plain one-line text and no column is empty (the fast path can draw it).

        (rich draws a column of empty cells in its own way; such a column is left to it.)
        """
        return all(_is_simple(cell) for column in self.columns for cell in (column.header, *column.cells)) and all(
            self.content_widths()
        )

    def content_widths(self) -> list[int]:
        """Each column's widest cell, in terminal cells (wide characters count 2)."""
        return [max(cell_len(cell.plain) for cell in (column.header, *column.cells)) for column in self.columns]

    def natural_width(self) -> int:
        """The width the table takes when nothing has to wrap: cells, padding and separators.

        >>> table = GridTable()
        >>> table.add_column("")
        >>> table.add_column("a", justify="right")
        >>> table.add_row("x", "10.25")
        >>> table.natural_width()  # 1 + 1 (pad) + 1 (separator) + 1 (pad) + 5
        9
        """
        if not self.columns:
            return 0
        if not self.is_simple():
            from rich.console import Console
            from rich.measure import Measurement

            console = Console(width=100_000, color_system=None)
            return Measurement.get(console, console.options, self.to_rich()).maximum
        return sum(self._column_widths()) + len(self.columns) - 1

    def _column_widths(self) -> list[int]:
        widths = []
        for index, width in enumerate(self.content_widths()):
            left, right = self._padding(index)
            widths.append(max(width + left + right, 1))
        return widths

    def to_rich(self):
        """The same table as a ``rich.table.Table`` (which wraps and shrinks cells to fit)."""
        from rich import box
        from rich.table import Table

        table = Table(box=box.SIMPLE_HEAD, header_style=self.header_style, pad_edge=False, show_edge=False)
        for column in self.columns:
            table.add_column(column.header, justify=column.justify, style=column.style or None)
        for index in range(self.row_count):
            table.add_row(*(column.cells[index] for column in self.columns))
        table.caption = self.caption
        return table

    # ------------------------------------------------------------------ drawing

    def __rich_measure__(self, console, options):
        from rich.measure import Measurement

        return Measurement.get(console, options, self.to_rich())

    def __rich_console__(self, console, options):
        if not self.columns:
            yield Segment("\n")
            return
        widths = self._column_widths()
        table_width = sum(widths) + len(widths) - 1
        if options.ascii_only or options.legacy_windows or table_width > options.max_width or not self.is_simple():
            yield from console.render(self.to_rich(), options)
            return
        get_style = console.get_style
        header_style = get_style(self.header_style)
        divider = Segment(" ", Style.null())
        new_line = Segment.line()
        n_rows = self.row_count
        for row in range(-1, n_rows):
            for index, (column, width) in enumerate(zip(self.columns, widths, strict=True)):
                if index:
                    yield divider
                column_style = get_style(column.style) if column.style else Style.null()
                if row < 0:
                    cell, style = column.header, header_style
                else:
                    cell, style = column.cells[row], column_style
                yield from self._cell_segments(console, cell, index, width, column.justify, style)
            yield new_line
            if row < 0:
                yield Segment("─" * table_width, Style.null())
                yield new_line
        if self.caption:
            render_options = options.update(width=table_width, highlight=False, height=None)
            yield from console.render(self.caption, render_options.update(justify="center"))

    def _cell_segments(self, console, cell: Text, index: int, width: int, justify: str, style: Style):
        """One cell, padded and justified, with rich's styles: padding in the cell style, text on top."""
        left, right = self._padding(index)
        inner = width - left - right
        justify = cell.justify or justify
        if not cell.spans and not cell.style:  # most cells: one string, all in the cell style
            plain = cell.plain.rstrip() if justify in ("right", "center") else cell.plain
            spare = inner - cell_len(plain)
            before = spare if justify == "right" else spare // 2 if justify == "center" else 0
            yield Segment(" " * (left + before) + plain + " " * (spare - before + right), style)
            return
        line = cell.copy()
        if justify in ("right", "center"):
            line.rstrip()
        spare = inner - cell_len(line.plain)
        if justify == "right":
            line.pad_left(spare)
        elif justify == "center":
            line.pad_left(spare // 2)
            line.pad_right(spare - spare // 2)
        else:
            line.pad_right(spare)
        if left:
            yield Segment(" " * left, style)
        # rich joins a cell's lines before drawing, which turns the text's own style into a span
        for segment in Text("\n").join([line]).render(console):
            yield Segment(segment.text, style + segment.style)
        if right:
            yield Segment(" " * right, style)
