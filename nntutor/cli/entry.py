"""The ``nntutor`` program: set up the process, hand over to the CLI (:mod:`nntutor.cli`), leave fast.

Start-up imports NumPy, rich and Typer (and sympy for the derivations):
about 10^5 objects that live as long as the process. Two settings, made here in
the program and never on import of the library, keep them from costing every run:

- **Collect less often.** CPython's default collector runs a young collection
  every 700 new objects and keeps promoting and re-scanning those, which costs a
  lesson 5–15 % of its run (measured with ``gc.callbacks``: 67 ms of collections
  in a ``backprop`` run, 28 ms with the thresholds below). Reference cycles are
  still found and freed.
- **Leave without tearing down.** After the command is done, a normal exit
  frees every module and object one by one: about 65 ms after an ``attention``
  run and 200 ms once sympy is loaded, while the learner waits for the prompt.
  :func:`leave` runs the ``atexit`` handlers, flushes stdout and stderr, and ends
  the process with that exit status (as mypy does). Everything nntutor writes is
  complete before then: exports are renamed into place, the study log is one
  ``write``, progress is committed per answer.
"""

from __future__ import annotations

import gc
import os
import sys
from typing import NoReturn

GC_THRESHOLDS = (20_000, 20, 10)


def main() -> NoReturn:
    gc.set_threshold(*GC_THRESHOLDS)
    from nntutor.cli import main as cli_main

    try:
        cli_main()
    except SystemExit as exc:
        leave(exc.code)
    leave(0)


def exit_status(code: object) -> int:
    """The status ``sys.exit(code)`` ends the process with (a message code is printed to stderr).

    >>> exit_status(None), exit_status(2), exit_status(True)
    (0, 2, 1)
    """
    if code is None:
        return 0
    if isinstance(code, int):
        return int(code) if -(2**31) <= code < 2**31 else 1
    if sys.stderr is not None:
        sys.stderr.write(f"{code}\n")
    return 1


def leave(code: object) -> NoReturn:
    """End the process with ``code`` as ``sys.exit`` would, skipping the interpreter's teardown.

    Output that cannot be delivered turns a success into exit status 1, as in the
    CLI: silently when the reader went away (``nntutor … | head``), with one
    ``error:`` line otherwise (a full disk). A plain ``sys.exit`` would exit 120
    with an "Exception ignored" report instead. Without CPython's
    ``atexit._run_exitfuncs`` this is a plain ``sys.exit``.
    """
    import atexit

    run_exit_functions = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_functions is None:
        sys.exit(code)
    status = exit_status(code)
    run_exit_functions()
    for stream in (sys.stdout, sys.stderr):
        if stream is None:
            continue
        try:
            stream.flush()
        except BrokenPipeError:
            status = status or 1
        except (OSError, ValueError) as exc:  # a full disk, a closed stream
            status = status or 1
            if stream is sys.stdout:
                _report(f"error: could not write the output: {exc}")
    os._exit(status)


def _report(message: str) -> None:
    try:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass
