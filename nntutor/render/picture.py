"""The coloured terminal view as an HTML page or SVG pictures (``--format html|svg``).

- **HTML.** The page is the recorded terminal text in a ``<pre>``, coloured with a
  palette that reads on white (rule lines, formulas and warnings in dark shades; the
  terminal's bright green would vanish). Plots and network diagrams are drawn as SVG
  *inside* the page: each character run of a plot is placed and stretched to its
  exact cell width, so braille curves line up whatever monospace font the browser
  picks (a page font without braille glyphs no longer breaks the plots apart). The
  page asks for fonts that have braille first (DejaVu Sans Mono, Noto Sans Mono).
- **SVG.** The whole lesson as one picture, or one step (``--step-only ID``), or one
  picture per step in a folder (``--format svg -o slides/``) for slides.

>>> from nntutor.trace import Plot, Series, Step, Trace
>>> trace = Trace("t", "T", steps=[Step("s", "S", plots=[Plot("p", (Series("y", [0, 1, 2], [0, 1, 4]),))])])
>>> page = html_page(trace)
>>> page.count("<svg"), "@@" in page, "DejaVu Sans Mono" in page
(1, False, True)
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterable, Iterator

from rich.console import RenderableType
from rich.terminal_theme import SVG_EXPORT_THEME, TerminalTheme

from nntutor.render.layout import DEFAULT_LIMIT
from nntutor.render.output import make_console, picture_theme
from nntutor.trace import Trace

FONTS = "'DejaVu Sans Mono', 'Noto Sans Mono', 'Liberation Mono', Menlo, Consolas, monospace"
"""Monospace fonts, those with braille glyphs first."""

LIGHT = TerminalTheme(
    (255, 255, 255),
    (24, 24, 24),
    [(24, 24, 24), (170, 20, 20), (0, 110, 40), (135, 95, 0), (20, 60, 170), (140, 30, 140), (0, 110, 130), (70, 70, 70)],
    [(90, 90, 90), (190, 30, 30), (0, 120, 50), (150, 105, 0), (30, 80, 200), (160, 40, 160), (0, 125, 145), (40, 40, 40)],
)
"""The terminal colours for a white page: every colour dark enough to read on white."""

PLACEHOLDER = "@@nntutor-picture-{}@@"
_PLACEHOLDER = re.compile(r"^.*@@nntutor-picture-(\d+)@@.*$", re.MULTILINE)

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<title>{title}</title>
<style>
{{stylesheet}}
body {{{{ color: {{foreground}}; background-color: {{background}}; margin: 1.5em; }}}}
pre, code {{{{ font-family: {fonts}; font-size: 14px; line-height: 1.3; margin: 0; }}}}
svg.picture {{{{ display: block; height: auto; margin: 0.2em 0; font-family: {fonts}; font-size: 14px; }}}}
</style>
</head>
<body>
<pre><code>{{code}}</code></pre>
</body>
</html>
"""

PICTURE_SVG = """<svg class="picture" style="width: {{columns}}ch; margin-left: {{indent}}ch" viewBox="0 0 {terminal_width} {terminal_height}" xmlns="http://www.w3.org/2000/svg">
<style>
.{unique_id}-matrix {{ font-family: {fonts}; font-size: {char_height}px; line-height: {line_height}px; }}
{styles}
</style>
<defs>
{lines}
</defs>
<g>
{backgrounds}
<g class="{unique_id}-matrix">
{matrix}
</g>
</g>
</svg>"""


def _picture_svg(plot, width: int, indent: int, number: int) -> str:
    """One plot or network diagram as an inline SVG ``width`` columns wide."""
    from rich.text import Text

    from nntutor.render.plots import plot_text

    text = plot_text(plot, width=width, height=max(10, min(18, width // 4)), color=True)
    console = make_console(io.StringIO(), width=max(len(line) for line in Text.from_ansi(text).plain.splitlines()) + 1,
                           color=True, record=True)
    console.print(Text.from_ansi(text), soft_wrap=True)
    template = PICTURE_SVG.replace("{fonts}", FONTS).replace("{{columns}}", str(console.width)).replace("{{indent}}", str(indent))
    svg = console.export_svg(theme=LIGHT, code_format=template, unique_id=f"nntutor-picture-{number}")
    return svg


class _Pictures:
    """Plots met while the page is recorded: each becomes a placeholder line, then an SVG."""

    def __init__(self) -> None:
        self.items: list[tuple[object, int]] = []

    def add(self, plot, width: int) -> str:
        self.items.append((plot, width))
        return PLACEHOLDER.format(len(self.items) - 1)


def background(theme: str) -> TerminalTheme:
    """The picture's own colours for heatmaps drawn in ``theme``: white for light, rich's dark SVG colours for dark."""
    return LIGHT if theme == "light" else SVG_EXPORT_THEME


def _record(renderables: Iterable[RenderableType], width: int, kind: str = "html"):
    """A recording console that has printed ``renderables`` with heatmaps in the picture's
    theme (:func:`nntutor.render.output.picture_theme`), the pictures met on the way (an
    HTML page draws them as SVG; an SVG picture keeps them as text), and that theme."""
    from nntutor.render.plots import collecting

    console = make_console(io.StringIO(), width=width, color=True, record=True)
    pictures = _Pictures()
    with collecting(pictures if kind == "html" else None), picture_theme(kind) as theme:
        for renderable in renderables:
            console.print(renderable)
    return console, pictures, theme


def _svg(renderables: Iterable[RenderableType], title: str, width: int) -> str:
    console, _, theme = _record(renderables, width, "svg")
    return console.export_svg(title=title, theme=background(theme))


def _page(renderables: Iterable[RenderableType], title: str, width: int) -> str:
    console, pictures, theme = _record(renderables, width, "html")
    template = PAGE.format(title=html.escape(title), fonts=FONTS)
    page = console.export_html(theme=background(theme), inline_styles=True, code_format=template)

    def swap(match: re.Match) -> str:
        plot, plot_width = pictures.items[int(match.group(1))]
        indent = len(match.group(0)) - len(match.group(0).lstrip(" "))
        return "</code></pre>" + _picture_svg(plot, plot_width, indent, int(match.group(1))) + "<pre><code>"

    return _PLACEHOLDER.sub(swap, page)


def _trace_parts(trace: Trace, precision: int, limit: int, plots: bool, only: int | None) -> Iterator[RenderableType]:
    from nntutor.render.terminal import step_renderable, trace_renderables

    if only is None:
        yield from trace_renderables(trace, precision=precision, limit=limit, heat=True, plots=plots)
    else:
        yield step_renderable(trace.steps[only - 1], only, precision, limit, True, plots)


def html_page(trace: Trace, *, precision: int = 4, limit: int = DEFAULT_LIMIT, width: int = 100, plots: bool = True,
              only: int | None = None) -> str:
    """The lesson (or step ``only``, 1-based) as an HTML page, plots drawn as SVG inside it."""
    return _page(_trace_parts(trace, precision, limit, plots, only), f"nntutor · {trace.title}", width)


def svg_picture(trace: Trace, *, precision: int = 4, limit: int = DEFAULT_LIMIT, width: int = 100, plots: bool = True,
                only: int | None = None) -> str:
    """The lesson (or step ``only``, 1-based) as one SVG picture of the coloured terminal view."""
    title = f"nntutor · {trace.title}" + (f" · step {only}" if only is not None else "")
    return _svg(_trace_parts(trace, precision, limit, plots, only), title, width)


def comparison_picture(comparison, kind: str, *, precision: int = 4, limit: int = DEFAULT_LIMIT, width: int = 100) -> str:
    """``--vs`` as an SVG picture or an HTML page (``kind``), like the terminal's comparison."""
    from nntutor.render.compare_view import comparison_renderables

    parts = comparison_renderables(comparison, precision=precision, limit=limit)
    title = f"nntutor · {comparison.first.title} · {comparison.labels[0]} vs {comparison.labels[1]}"
    if kind == "html":
        return _page(parts, title, width)
    return _svg(parts, title, width)


def step_file_names(trace: Trace, extension: str) -> list[str]:
    """One file name per step, in order: ``01-hidden.svg``, ``02-output.svg`` …

    >>> from nntutor.trace import Step
    >>> step_file_names(Trace("t", "T", steps=[Step("exp", "E"), Step("sum/up", "S")]), "svg")
    ['01-exp.svg', '02-sum-up.svg']
    """
    digits = max(2, len(str(len(trace.steps))))
    return [f"{number:0{digits}d}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', step.id).strip('-.') or 'step'}.{extension}"
            for number, step in enumerate(trace.steps, start=1)]
