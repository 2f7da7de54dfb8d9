"""The ``nntutor`` program: hand over to the CLI (:mod:`nntutor.cli`), then leave fast.

After the command is done, a normal exit frees every module and object one by
one: about 65 ms after an ``attention`` run and 200 ms once sympy is loaded,
while the learner waits for the prompt. :func:`leave` skips that teardown (as
mypy does); its docstring holds the contract that makes this safe. This is done
here, in the program, never on import of the library.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn


def main() -> NoReturn:
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

    It runs the ``atexit`` handlers, flushes stdout and stderr, and ends the
    process with ``os._exit``: nothing is freed, so no ``__del__`` runs and no
    file is closed for us. The contract: **every write is complete before it is
    called.** nntutor keeps it by leaving nothing for a teardown to finish:
    exports are renamed into place (``nntutor.render.files``), the study log is
    one ``write`` per lesson run (``nntutor.study.studylog``), and progress is
    committed per answer (``nntutor.study.progress``). New output must keep it too.

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
