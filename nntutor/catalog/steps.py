"""``--from-step N``: the step a lesson starts at, as a number or a step id.

It is checked against the lesson run itself (how many steps, which ids), so the
trace is built first; a bad value is an :class:`~nntutor.errors.InputError` naming the flag.

>>> from nntutor.trace import Step, Trace
>>> trace = Trace("attention", "Attention", steps=[Step("scores", "Scores"), Step("scale", "Scale")])
>>> start_step(trace, None), start_step(trace, "2"), start_step(trace, "Scale")
(1, 2, 2)
>>> start_step(trace, "9")
Traceback (most recent call last):
  ...
nntutor.errors.InputError: --from-step: expected a step number from 1 to 2 or a step id (scores, scale), got '9'
"""

from __future__ import annotations

from nntutor.errors import InputError
from nntutor.trace import Trace

FLAG = "--from-step"
IDS_LISTED = 8  # a lesson with more steps names the first few ids


def start_step(trace: Trace, text: str | None, flag: str = FLAG) -> int:
    """The 1-based number of the step ``text`` names (``None``: the first step); an error names ``flag``
    (``--from-step``, or ``--step-only``)."""
    if text is None:
        return 1
    wanted = text.strip()
    count = len(trace.steps)
    if wanted.isdigit() and wanted.isascii() and 1 <= int(wanted) <= count:
        return int(wanted)
    for number, step in enumerate(trace.steps, start=1):
        if step.id.lower() == wanted.lower():
            return number
    ids = [step.id for step in trace.steps]
    listed = ", ".join(ids[:IDS_LISTED]) + (f", … ({count} in all)" if count > IDS_LISTED else "")
    shown = text if len(text) <= 40 else text[:40] + "…"
    raise InputError(flag, f"expected a step number from 1 to {count} or a step id ({listed}), got {shown!r}")
