"""Glue for ``nntutor lesson NAME --practice``.

It checks the flags that go with practice, builds the lesson, hands the steps to
:mod:`nntutor.quiz.practice` with a reader on stdin and the screens of
:mod:`nntutor.render.practice_view`, and records each answer in the progress store.
No Typer here: errors are :class:`~nntutor.errors.InputError` lines.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from nntutor.errors import InputError, NntutorError

FORMATS = ("text", "json")


def check_flags(*, output_format: str | None, output: str | None, step: bool, vs: str | None) -> bool:
    """Refuse what does not go with ``--practice``; True for ``--format json``."""
    if output is not None:
        raise InputError("--output", "does not go with --practice (for a record of the answers: --format json > answers.json)")
    if vs is not None:
        raise InputError("--vs", "does not go with --practice (practise one run at a time)")
    if step:
        raise InputError("--step", "does not go with --practice (practice already waits at each step it asks about)")
    if output_format is not None and output_format not in FORMATS:
        raise InputError("--format", f"with --practice, expected text (the session) or json (answers and verdicts), got {output_format!r}")
    return output_format == "json"


def practise_lesson(
    lesson: Any,
    raw: dict[str, Any],
    *,
    as_json: bool,
    precision: int,
    limit: int,
    plots: bool,
    from_step: str | None,
    display: tuple[str, ...] = (),
    say: Callable[[str], None],
) -> Any:
    """Run the lesson as practice; returns the :class:`~nntutor.quiz.practice.PracticeResult`.

    ``display`` are the display flags given (``--precision 3``), repeated in the command
    that goes on; ``say`` prints a notice or warning on stderr.
    """
    from nntutor.catalog.run import parse_args, prepare
    from nntutor.catalog.steps import start_step
    from nntutor.cli.resume import resume_command
    from nntutor.quiz import practice
    from nntutor.render.practice_view import PracticeView, practice_json
    from nntutor.render.quiz_view import make_reader

    prepared = prepare(lesson, parse_args(lesson, raw), precision=precision)
    trace = prepared.build()
    first = start_step(trace, from_step)
    plans = practice.plan(lesson, prepared, trace, first=first)
    screen = sys.stderr if as_json else sys.stdout
    view = PracticeView(screen, precision=precision, limit=limit, plots=plots)
    store, record = _recorder(say)
    try:
        view.start(trace)
        result = practice.practise(plans, make_reader(sys.stdin, screen), view.show, record, steps=len(trace.steps))
    finally:
        if store is not None:
            store.close()
    summary = practice.summarise(result)
    go_on = resume_command(lesson, raw, "--practice", *display)
    view.finish(trace, result, summary, go_on)
    if as_json:
        sys.stdout.write(practice_json(trace, result, summary, go_on))
        sys.stdout.flush()
    return result


def _recorder(say: Callable[[str], None]) -> tuple[Any, Callable[[Any], None]]:
    """The progress store and ``record(outcome)``; without a usable store, answers are not saved (a warning)."""
    from nntutor.quiz.session import recorder
    from nntutor.study.progress import Store

    try:
        store = Store()
    except NntutorError as exc:
        say(f"warning: your answers will not be saved ({' '.join(str(exc).split())})")
        return None, lambda outcome: None
    for notice in store.notices:
        say(f"note: {notice}")
    return store, recorder(store, say)
