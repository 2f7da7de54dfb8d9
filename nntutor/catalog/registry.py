"""The registry of walkthroughs: a lesson file's ``builder`` names a lesson module.

A lesson module is a module of :mod:`nntutor.walkthroughs` whose name does not start
with ``_`` (those are shared helpers) and that declares ``WALKTHROUGH``, a
:class:`~nntutor.walkthroughs._declare.Walkthrough`. ``builder = "multi-head"`` names
``nntutor.walkthroughs.multi_head``. Only the module asked for is imported.

>>> walkthrough("neuron").targets[1].key
'sum.dot'
>>> "attention" in builders()
True
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from functools import cache

PACKAGE = "nntutor.walkthroughs"
_BUILDER = re.compile(r"[a-z][a-z0-9-]*")


def module_name(builder: str) -> str:
    return f"{PACKAGE}.{builder.replace('-', '_')}"


@cache
def builders() -> tuple[str, ...]:
    """Every builder name (``multi-head``), from the lesson modules' file names, without importing them."""
    package = importlib.import_module(PACKAGE)
    return tuple(
        sorted(info.name.replace("_", "-") for info in pkgutil.iter_modules(package.__path__) if not info.name.startswith("_"))
    )


def problem(builder: str) -> str | None:
    """Why ``builder`` is not a lesson module (``None`` when it is)."""
    if not _BUILDER.fullmatch(builder) or builder not in builders():
        import difflib

        close = difflib.get_close_matches(builder, builders(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"no walkthrough named {builder!r}{hint}"
    from nntutor.walkthroughs._declare import Walkthrough

    declared = getattr(importlib.import_module(module_name(builder)), "WALKTHROUGH", None)
    if not isinstance(declared, Walkthrough):
        return f"{module_name(builder)} is not a lesson module (it declares no WALKTHROUGH)"
    return None


def walkthrough(builder: str):
    """The :class:`~nntutor.walkthroughs._declare.Walkthrough` of a builder known to be one
    (:func:`problem` says when it is not), imported on demand."""
    return importlib.import_module(module_name(builder)).WALKTHROUGH
