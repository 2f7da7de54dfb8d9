"""The ``nntutor`` program: set up the process, then hand over to the CLI (:mod:`nntutor.cli`).

Start-up imports NumPy, rich and Typer (and sympy for the derivations):
about 10^5 objects that live as long as the process. CPython's default
collector runs a young collection every 700 new objects and keeps promoting and
re-scanning those, which costs a lesson 5–15 % of its run (measured with
``gc.callbacks``: 67 ms of collections in a ``backprop`` run, 28 ms with the
thresholds below). A CLI process is short-lived, so it collects less often;
reference cycles are still found and freed. The setting is made here, in the
program, never on import of the library.
"""

from __future__ import annotations

import gc

GC_THRESHOLDS = (20_000, 20, 10)


def main() -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    from nntutor.cli import main as cli_main

    cli_main()
