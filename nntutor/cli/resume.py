"""The command that goes on from a step: said when ``--step`` or ``--practice`` stops early."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any


def resume_command(lesson: Any, raw: dict[str, Any], *flags: str) -> Callable[[int], str]:
    """``resume(3)``: the same run from step 3, e.g. ``nntutor lesson attention --causal --step --from-step 3``.

    >>> from nntutor.catalog.lessonfile import load_lesson
    >>> resume_command(load_lesson("attention"), {"causal": True, "x": "1,0;0,1"}, "--step")(3)
    "nntutor lesson attention --x '1,0;0,1' --causal --step --from-step 3"
    """
    command = command_line(lesson, raw, *flags)
    return lambda number: f"{command} --from-step {number}"


def command_line(lesson: Any, raw: dict[str, Any], *flags: str) -> str:
    """The command that runs ``lesson`` with the flags typed (``raw``), then ``flags``.

    >>> from nntutor.catalog.lessonfile import load_lesson
    >>> command_line(load_lesson("neuron"), {"x": "1,2,3", "b": None}, "--format", "py")
    'nntutor lesson neuron --x 1,2,3 --format py'
    """
    parts = ["nntutor", "lesson", lesson.name]
    for spec in lesson.inputs:
        value = raw.get(spec.name)
        if value is None or value is False:
            continue
        parts.append(spec.flag)
        if value is not True:
            parts.append(shlex.quote(str(value)))
    parts.extend(flags)
    return " ".join(parts)
