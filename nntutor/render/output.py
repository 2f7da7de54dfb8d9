"""The output policy, in one place: where output goes, whether it is coloured, how wide it is.

- **Where.** To stdout, or to a file (``-o PATH``), which is written atomically
  (:func:`nntutor.render.files.write_atomic`). Errors and notices go to stderr.
- **Colour.** Styled on a terminal (or with ``FORCE_COLOR``); plain text, with
  trailing spaces removed, into a pipe or a file. ``NO_COLOR`` turns colour off
  (rich reads it).
- **Width.** The terminal's width on a terminal; ``$COLUMNS`` (else 100) in a
  pipe; 100 in a file. Tables fit it by leaving whole columns out, never by
  cutting a number (:mod:`nntutor.render.fit`).
- **Theme.** Heatmap colours for a ``dark`` or a ``light`` background
  (:mod:`nntutor.render.palette`): ``--theme``, else ``$NNTUTOR_THEME``, else
  ``auto``: the terminal's background as ``$COLORFGBG`` gives it (``15;0``: white
  on black, dark), and dark when it is not set. An SVG picture is drawn on a dark
  background and an HTML page on a light one unless a theme is chosen.
- **Format.** A format name comes from ``--format`` or from the file's
  extension (:func:`choose_format`; an extension that names another format is
  refused); :data:`RENDERERS` turns a lesson's :class:`~nntutor.trace.Trace`
  into that format, :data:`COMPARISON_RENDERERS` a
  :class:`~nntutor.render.compare.Comparison` (``--vs``).
- **Cost.** Before anything is drawn, what the output would cost is estimated
  (:mod:`nntutor.render.cost`) and an output too large is refused, naming the
  flag. JSON is written as a stream, never built as one string.
- **Encoding.** Where stdout cannot write Unicode, JSON is written with ``\\u``
  escapes and text falls back to ASCII (:mod:`nntutor.render.streams`).

A command gathers its inputs and hands over::

    fmt = output.prepare("markdown", "attention.md")    # checked before any work
    output.deliver(trace, format=fmt, path="attention.md", precision=4)

NumPy and the renderers are imported only when a trace is delivered, so
``nntutor list`` and ``--help`` stay light.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, NamedTuple

from rich.console import Console, RenderableType
from rich.text import Text

from nntutor.errors import InputError

FORMATS = ("text", "markdown", "json", "svg", "html", "py")
EXTENSIONS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".json": "json",
    ".txt": "text",
    ".svg": "svg",
    ".html": "html",
    ".htm": "html",
    ".py": "py",
}
PIPE_WIDTH = 100
"""Width of text in a pipe when ``$COLUMNS`` is unset."""
FILE_WIDTH = 100
"""Width of text written to a file (and of the SVG/HTML pictures)."""
FULL_WIDTH = 100_000
"""Width of a piped ``--full`` lesson: matrices as wide as they are (a pager scrolls sideways)."""


# --------------------------------------------------------------------------- formats


def choose_format(output_format: str | None, path: str | None) -> str:
    """The format asked for with ``--format``, else the one ``path``'s extension names, else text.

    >>> choose_format(None, None), choose_format(None, "notes/attention.MD"), choose_format("json", "x.txt")
    ('text', 'markdown', 'json')
    """
    if output_format is not None:
        if output_format not in FORMATS:
            raise InputError("--format", f"{output_format!r} is not one of: {', '.join(FORMATS)}")
        return output_format
    if path is None:
        return "text"
    suffix = Path(path).suffix.lower()
    if suffix not in EXTENSIONS:
        known = ", ".join(EXTENSIONS)
        raise InputError(
            "--output", f"cannot tell the format from {suffix or 'no extension'!r} (use one of {known}, or --format)"
        )
    return EXTENSIONS[suffix]


def check_extension(output_format: str, path: str | None) -> None:
    """Refuse ``--format F -o PATH`` when the extension names another format (Markdown in ``x.json``).

    A ``.txt`` file, or an extension no format claims, takes any format.

    >>> check_extension("markdown", "notes.txt"), check_extension("json", "trace.out")
    (None, None)
    >>> check_extension("markdown", "trace.json")
    Traceback (most recent call last):
      ...
    nntutor.errors.InputError: --format: markdown does not match the extension of 'trace.json' (json); drop --format, or name the file .md
    """
    if path is None:
        return
    suffix = Path(path).suffix.lower()
    named = EXTENSIONS.get(suffix)
    if named is None or named == "text" or named == output_format:
        return
    wanted = next((ext for ext, fmt in EXTENSIONS.items() if fmt == output_format), None)
    rename = f", or name the file {wanted}" if wanted else ""
    raise InputError("--format", f"{output_format} does not match the extension of {path!r} ({named}); drop --format{rename}")


PER_STEP = ("svg", "html")
"""The formats ``-o FOLDER/`` writes one file per step in (pictures for slides)."""


def prepare(output_format: str | None, path: str | None) -> str:
    """:func:`choose_format`, and a refusal of an unwritable ``path``, before any work is done.

    A folder (``-o slides/``) takes one picture per step: ``--format svg`` or ``html``.
    """
    from nntutor.render.files import check_folder, is_folder

    if path is not None and is_folder(path) and (output_format in PER_STEP or path.endswith(("/", os.sep))):
        if output_format not in PER_STEP:
            given = f"--format {output_format}" if output_format else "no --format"
            raise InputError("--output", f"{path!r} is a folder: one file per step is written with --format svg or html ({given} given)")
        check_folder(path)
        return output_format
    chosen = choose_format(output_format, path)
    if output_format is not None:
        check_extension(chosen, path)
    if path is not None:
        from nntutor.render.files import check_writable

        check_writable(path)
    return chosen


# --------------------------------------------------------------------------- theme

THEME_CHOICES = ("auto", "dark", "light")
_chosen_theme: list[str] = []  # what --theme or $NNTUTOR_THEME chose (set by the command line)


def check_theme(name: str, flag: str = "--theme") -> str:
    """``name`` when it is a theme (any case), else an ``InputError`` naming ``flag``.

    >>> check_theme("Light")
    'light'
    """
    lowered = name.strip().lower()
    if lowered not in THEME_CHOICES:
        raise InputError(flag, f"{name!r} is not one of: {', '.join(THEME_CHOICES)}")
    return lowered


def choose_theme(flag_value: str | None) -> None:
    """Set the theme for this run: ``--theme`` when given; else the one already chosen (a
    ``--theme`` before the sub-command); else ``$NNTUTOR_THEME``; else auto. A value that
    is not a theme is refused here, before anything is drawn."""
    if flag_value is not None:
        chosen = check_theme(flag_value)
    elif _chosen_theme:
        return
    elif os.environ.get("NNTUTOR_THEME"):
        chosen = check_theme(os.environ["NNTUTOR_THEME"], "NNTUTOR_THEME")
    else:
        chosen = "auto"
    _chosen_theme[:] = [chosen]


def forget_theme() -> None:
    """Back to no choice made (a new run in the same process: the tests)."""
    _chosen_theme.clear()


def background_of_terminal(colorfgbg: str | None) -> str:
    """``dark`` or ``light`` from ``$COLORFGBG`` (``fg;bg`` or ``fg;default;bg``, colour numbers
    0-15 set by rxvt, Konsole, iTerm2 and others); dark when unset or unreadable.

    >>> background_of_terminal("15;0"), background_of_terminal("0;default;15"), background_of_terminal(None)
    ('dark', 'light', 'dark')
    """
    last = (colorfgbg or "").split(";")[-1].strip()
    return "light" if last in ("7", "9", "10", "11", "12", "13", "14", "15") else "dark"


def theme(picture: str | None = None) -> str:
    """The theme heatmaps are drawn in: ``dark`` or ``light``.

    ``picture`` (``svg`` or ``html``) is an export: auto there means the picture's own
    background (dark SVG, light HTML), not the terminal's.
    """
    chosen = _chosen_theme[0] if _chosen_theme else "auto"
    if chosen == "auto" and not _chosen_theme and os.environ.get("NNTUTOR_THEME"):
        chosen = check_theme(os.environ["NNTUTOR_THEME"], "NNTUTOR_THEME")
    if chosen != "auto":
        return chosen
    if picture is not None:
        return "dark" if picture == "svg" else "light"
    return background_of_terminal(os.environ.get("COLORFGBG"))


@contextmanager
def picture_theme(kind: str) -> Iterator[str]:
    """While an SVG or HTML picture is drawn, heatmaps take its theme (:func:`theme` with ``kind``)."""
    saved = list(_chosen_theme)
    chosen = theme(kind)
    _chosen_theme[:] = [chosen]
    try:
        yield chosen
    finally:
        _chosen_theme[:] = saved


# --------------------------------------------------------------------------- consoles


def is_terminal(stream: IO[str] | None) -> bool:
    """True when ``stream`` is an interactive terminal (False for pipes, files, closed or missing streams)."""
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):
        return False


def styled(stream: IO[str] | None) -> bool:
    """True when output to ``stream`` is drawn styled: a terminal, or ``FORCE_COLOR`` set."""
    return is_terminal(stream) or bool(os.environ.get("FORCE_COLOR"))


def pipe_width(default: int = PIPE_WIDTH) -> int:
    """The width of text in a pipe: ``$COLUMNS`` (at least 40), else ``default``.

    ``COLUMNS=120`` gives 120, ``COLUMNS=20`` 40, ``COLUMNS=wide`` or none 100.
    """
    try:
        return max(40, int(os.environ.get("COLUMNS", default)))
    except ValueError:
        return default


def make_console(
    file: IO[str] | None = None,
    *,
    width: int | None = None,
    color: bool | None = None,
    record: bool = False,
    stderr: bool = False,
) -> Console:
    """The one Console factory: markup, emoji and highlighting off (user text is shown as typed).

    ``color=None`` lets rich decide (no colour with NO_COLOR or when piped);
    ``False`` forces plain text; ``True`` forces colour. Without a ``width``, a
    console on a pipe or a file is :func:`pipe_width` wide.
    """
    if width is None and file is not None and not is_terminal(file):
        width = pipe_width()
    kwargs: dict[str, Any] = {}
    if color is False:
        kwargs["color_system"] = None
        kwargs["no_color"] = True
    elif color is True:
        kwargs["force_terminal"] = True
        kwargs["color_system"] = "truecolor"
    return Console(
        file=file,
        width=width,
        markup=False,
        emoji=False,
        highlight=False,
        record=record,
        stderr=stderr,
        soft_wrap=False,
        **kwargs,
    )


def has_colour(console: Console) -> bool:
    """True when ``console`` draws colour (heatmaps and coloured plots are drawn only then)."""
    return console.color_system is not None and not console.no_color


def stdout_console() -> Console:
    """Console for data on stdout: terminal width when interactive, :func:`pipe_width` when piped."""
    return make_console(sys.stdout)


def error_console() -> Console:
    return make_console(sys.stderr, stderr=True)


def print_message(message: str, *, style: str = "") -> None:
    """One line to stderr (errors, notices): never parsed as markup, control characters escaped
    (a path or a word quoted in a message cannot drive the terminal)."""
    from nntutor.escapes import escape_controls

    error_console().print(Text(escape_controls(message), style=style), soft_wrap=True)


def plain_text(renderables: Iterable[RenderableType], width: int, *, soft_wrap: bool = False) -> str:
    """Renderables as plain text ``width`` columns wide, without colour or trailing spaces.

    >>> plain_text([Text("one two three")], 8)
    'one two\\nthree\\n'
    """
    buffer = io.StringIO()
    console = make_console(buffer, width=width, color=False)
    for renderable in renderables:
        console.print(renderable, soft_wrap=soft_wrap)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"


def emit(*renderables: RenderableType, stream: IO[str] | None = None, width: int | None = None, soft_wrap: bool = False) -> None:
    """Print to ``stream`` (stdout): styled when :func:`styled`, else plain text ``width`` wide
    (default :func:`pipe_width`) without trailing spaces.

    ``soft_wrap`` never wraps text (quiz screens read the same at any width).
    """
    stream = sys.stdout if stream is None else stream
    if styled(stream):
        console = make_console(stream)
        for renderable in renderables:
            console.print(renderable, soft_wrap=soft_wrap)
    else:
        stream.write(plain_text(renderables, pipe_width() if width is None else width, soft_wrap=soft_wrap))
    stream.flush()


# --------------------------------------------------------------------------- renderers


class Options(NamedTuple):
    """How a trace is shown: decimals, the row/column limit (0: everything), whether to draw plots,
    the step to start from (``--from-step``), for ``--step``, ``resume(n)``: the command that
    starts at step n (said when the learner stops), and for a picture the one step to show (``only``)."""

    precision: int = 4
    limit: int = 8
    plots: bool = True
    first: int = 1
    resume: Callable[[int], str] | None = None
    only: int | None = None
    script: Script | None = None


class Script(NamedTuple):
    """What ``--format py`` needs besides the trace: the lesson module's maths as NumPy source
    for the run (``maths(trace) -> str``) and the command that made the run."""

    maths: Callable[[Any], str]
    command: str


class Document(NamedTuple):
    """A document written as a stream: ``write(out, ascii_only)`` (JSON: ``\\u`` escapes with ``ascii_only``)."""

    write: Callable[[IO[str], bool], None]


class Screen(NamedTuple):
    """Terminal text not drawn yet; :func:`deliver` draws it styled on a terminal, plain elsewhere.

    ``draw(heat)`` gives the renderables (``heat``: colour is on, draw heatmaps);
    ``width`` is the plain width in a pipe (None: :func:`pipe_width`);
    ``page()``, when there is one, shows it a step at a time (``--step``) and says whether
    the learner went through to the end.
    """

    draw: Callable[[bool], Iterable[RenderableType]]
    width: int | None = None
    page: Callable[[], bool] | None = None


def _trace_text(trace, options: Options) -> Screen:
    from nntutor.render import terminal

    def draw(heat: bool) -> Iterable[RenderableType]:
        return terminal.trace_renderables(
            trace, precision=options.precision, limit=options.limit, heat=heat, plots=options.plots, first=options.first
        )

    def page() -> bool:
        return terminal.page_trace(
            trace, precision=options.precision, limit=options.limit, plots=options.plots, first=options.first, resume=options.resume
        )

    return Screen(draw, FULL_WIDTH if options.limit <= 0 else None, page)


def _trace_markdown(trace, options: Options) -> str:
    from nntutor.render.markdown import render_markdown

    return render_markdown(trace, precision=options.precision, limit=options.limit, plots=options.plots)


def _trace_json(trace, options: Options) -> Document:
    from nntutor.render.json import write_json

    return Document(lambda out, ascii_only: write_json(trace, out, ascii_only=ascii_only))


def _trace_picture(kind: str) -> Callable[[Any, Options], str]:
    def render(trace, options: Options) -> str:
        from nntutor.render import picture

        draw = picture.svg_picture if kind == "svg" else picture.html_page
        return draw(trace, precision=options.precision, limit=options.limit, width=FILE_WIDTH, plots=options.plots,
                    only=options.only)

    return render


def _trace_script(trace, options: Options) -> str:
    from nntutor.render.python_script import render_script

    if options.script is None:
        raise InputError("--format", f"lesson {trace.lesson!r} has no script yet (try --format json for its numbers)")
    return render_script(trace, options.script.maths(trace), command=options.script.command)


def _no_comparison_script(comparison, options: Options) -> str:
    raise InputError("--format", "py checks one run, not a --vs comparison (drop --vs)")


def _comparison_text(comparison, options: Options) -> Screen:
    """One sentence on what changed, then only the values that differ (:mod:`nntutor.render.compare_view`)."""
    from nntutor.render import compare_view

    def draw(heat: bool) -> Iterable[RenderableType]:
        return compare_view.comparison_renderables(comparison, precision=options.precision, limit=options.limit)

    return Screen(draw)


def _comparison_picture(kind: str) -> Callable[[Any, Options], str]:
    def render(comparison, options: Options) -> str:
        from nntutor.render.picture import comparison_picture

        return comparison_picture(comparison, kind, precision=options.precision, limit=options.limit, width=FILE_WIDTH)

    return render


def _comparison_json(comparison, options: Options) -> Document:
    from nntutor.render.json import comparison_document, write_document

    return Document(lambda out, ascii_only: write_document(comparison_document(comparison), out, ascii_only=ascii_only))


RENDERERS: dict[str, Callable[[Any, Options], str | Screen | Document]] = {
    "text": _trace_text,
    "markdown": _trace_markdown,
    "json": _trace_json,
    "svg": _trace_picture("svg"),
    "html": _trace_picture("html"),
    "py": _trace_script,
}
"""Format name -> the renderer of a lesson's trace: text (a :class:`Screen`) or a document."""

COMPARISON_RENDERERS: dict[str, Callable[[Any, Options], str | Screen | Document]] = {
    "text": _comparison_text,
    "markdown": _comparison_text,
    "json": _comparison_json,
    "svg": _comparison_picture("svg"),
    "html": _comparison_picture("html"),
    "py": _no_comparison_script,
}
"""Format name -> the renderer of a ``--vs`` comparison (JSON, a picture, or else the terminal text)."""


def _deliver_steps(trace, format: str, folder: str, options: Options) -> None:
    """``-o slides/ --format svg``: one picture per step (``01-exp.svg`` …), then one notice."""
    from nntutor.render.files import make_folder, write_atomic
    from nntutor.render.picture import step_file_names

    made = make_folder(folder)
    names = step_file_names(trace, format)
    for number, name in enumerate(names, start=1):
        write_atomic(str(made / name), RENDERERS[format](trace, options._replace(only=number)))
    print_message(f"wrote {len(names)} {format} files in {folder} ({names[0]} … {names[-1]})" if names else f"{folder}: no steps")


def deliver(
    subject,
    *,
    format: str = "text",
    path: str | None = None,
    precision: int = 4,
    limit: int = 8,
    plots: bool = True,
    step: bool = False,
    size_flags: tuple[str, ...] = (),
    first: int = 1,
    resume: Callable[[int], str] | None = None,
    only: int | None = None,
    script: Script | None = None,
) -> bool:
    """Render a trace (or a :class:`~nntutor.render.compare.Comparison`) in ``format`` and send it on.

    First an output that would cost too much is refused (``InputError`` naming
    the flag; ``size_flags`` are the flags the message suggests making smaller).
    To ``path`` when given (atomically, then a ``wrote PATH (format)`` notice
    on stderr); else to stdout: text styled on a terminal, where ``step``
    shows one step at a time if stdin is a terminal too; plain text in a pipe.
    Text starts at step ``first``; a picture (svg, html) shows only step ``only``
    when given (``--step-only``), and ``path`` a folder gets one picture per step.
    False when ``--step`` was stopped before the last step, else True.
    """
    from nntutor.render.compare import Comparison
    from nntutor.render.cost import refuse_if_too_costly
    from nntutor.render.files import write_atomic

    refuse_if_too_costly(subject, format, limit=limit, size_flags=size_flags)
    table = COMPARISON_RENDERERS if isinstance(subject, Comparison) else RENDERERS
    if path is not None and not isinstance(subject, Comparison) and format in PER_STEP:
        from nntutor.render.files import is_folder

        if is_folder(path):  # prepare() let a folder through for svg and html only
            _deliver_steps(subject, format, path, Options(precision, limit, plots, first, resume))
            return True
    rendered = table[format](subject, Options(precision, limit, plots, first, resume, only, script))
    if isinstance(rendered, Document):
        if path is None:
            from nntutor.render.streams import writes_unicode

            rendered.write(sys.stdout, not writes_unicode(sys.stdout))
        else:
            write_atomic(path, lambda handle: rendered.write(handle, False))
            print_message(f"wrote {path} ({format})")
        return True
    if isinstance(rendered, Screen):
        if path is None and styled(sys.stdout):
            if step and rendered.page is not None and is_terminal(sys.stdin) and is_terminal(sys.stdout):
                return rendered.page()
            console = stdout_console()
            for renderable in rendered.draw(has_colour(console)):
                console.print(renderable)
            return True
        width = FILE_WIDTH if path is not None else rendered.width or pipe_width()
        rendered = plain_text(rendered.draw(False), width)
    if path is None:
        sys.stdout.write(rendered if rendered.endswith("\n") else rendered + "\n")
        return True
    write_atomic(path, rendered)
    print_message(f"wrote {path} ({format})")
    return True
