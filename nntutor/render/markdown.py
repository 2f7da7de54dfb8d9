"""Trace -> GitHub-flavoured Markdown: a heading a step, GFM tables, ``$…$`` math.

Display math is written as a ``$$`` block on its own lines, which GitHub renders;
worked arithmetic goes in a fenced ``text`` block so nothing in it is read as
Markdown. Large matrices are elided as in the terminal (the JSON export has
every value).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nntutor.escapes import escape_controls
from nntutor.numfmt import fmt
from nntutor.render.layout import DEFAULT_LIMIT, INLINE, rows_table, shown_indices
from nntutor.trace import Step, Trace, Value, WhatNext


def escape(text: Any) -> str:
    """Make text safe inside a Markdown table cell or paragraph.

    >>> escape("a|b*c")
    'a\\\\|b\\\\*c'
    """
    out = escape_controls(str(text)).replace("\\", "\\\\")
    for ch in "|*_`[]<>#$":
        out = out.replace(ch, "\\" + ch)
    return out.replace("\n", " ")


def _cell(value: Any, precision: int) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return fmt(value, precision, fixed=isinstance(value, (float, np.floating)))
    if isinstance(value, (list, tuple)):
        return escape(" ".join(str(item) for item in value))
    if isinstance(value, np.ndarray):
        flat = value.ravel()
        return "[" + ", ".join("…" if i is None else fmt(flat[i], precision) for i in shown_indices(flat.size, DEFAULT_LIMIT)) + "]"
    return escape(value)


def _labels(labels, count: int) -> list[str]:
    if labels is not None and len(labels) == count:
        return [escape(label) for label in labels]
    return [str(i) for i in range(count)]


def _table(header: list[str], rows: list[list[str]], align_first_left: bool = True) -> list[str]:
    lines = ["| " + " | ".join(header) + " |"]
    aligns = [":---" if (i == 0 and align_first_left) else "---:" for i in range(len(header))]
    lines.append("| " + " | ".join(aligns) + " |")
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def value_markdown(value: Value, precision: int, limit: int = DEFAULT_LIMIT) -> list[str]:
    """A value that is not shown inline: its bold name, then a table (or a line of labels).

    >>> value_markdown(Value("p", np.array([0.25, 0.75])), 4)
    ['**p**', '', '|  | 0 | 1 |', '| :--- | ---: | ---: |', '| p | 0.2500 | 0.7500 |']
    """
    data = value.data
    kind = value.kind
    title = f"**{escape(value.display_name)}**"
    if kind in ("table", "rows"):
        table = data if kind == "table" else rows_table(data)
        rows = [[_cell(c, precision) for c in row] for row in table.rows]
        return [title, "", *_table([escape(c) for c in table.columns], rows, align_first_left=True)]
    if kind == "mapping":
        rows = [[escape(k), _cell(v, precision)] for k, v in data.items()]
        return [title, "", *_table(["key", "value"], rows)]
    if kind == "labels":
        return [f"{title}: " + " · ".join(escape(item) for item in data)]
    if kind == "ragged":
        parts: list[str] = []
        for index, item in enumerate(data):
            piece = Value(f"{value.name}[{index}]", item, label=f"{value.display_name}[{index}]")
            parts += [*value_markdown(piece, precision, limit), ""]
        return parts[:-1]
    array = np.asarray(data)
    if kind == "vector":
        cols = _labels(value.cols, array.size)
        idx = shown_indices(array.size, limit)
        header = [""] + ["…" if i is None else cols[i] for i in idx]
        row = [escape(value.display_name)] + ["…" if i is None else _cell(array[i].item(), precision) for i in idx]
        return [title, "", *_table(header, [row])]
    if kind == "matrix":
        return [title, "", *_matrix(array, value, precision, limit)]
    if kind == "stack":
        lines: list[str] = []
        for k in shown_indices(array.shape[0], limit):
            if k is None:
                lines += [f"… ({array.shape[0]} in all)", ""]
                continue
            lines += [f"**{escape(value.display_name)} [{k}]**", "", *_matrix(array[k], value, precision, limit), ""]
        return lines
    return [f"{title}: array of shape {array.shape}"]


def _matrix(array: np.ndarray, value: Value, precision: int, limit: int) -> list[str]:
    n_rows, n_cols = array.shape
    rows = _labels(value.rows, n_rows)
    cols = _labels(value.cols, n_cols)
    ridx = shown_indices(n_rows, limit)
    cidx = shown_indices(n_cols, limit)
    header = [""] + ["…" if j is None else cols[j] for j in cidx]
    body = []
    for i in ridx:
        if i is None:
            body.append(["⋮"] * (len(cidx) + 1))
            continue
        body.append([f"**{rows[i]}**"] + ["…" if j is None else _cell(array[i, j].item(), precision) for j in cidx])
    lines = _table(header, body)
    if n_rows > limit or n_cols > limit:
        lines += ["", f"*{n_rows}×{n_cols} matrix, elided for display; the JSON export has every value.*"]
    return lines


def step_markdown(step: Step, number: int, precision: int, limit: int = DEFAULT_LIMIT, plots: bool = True) -> list[str]:
    lines = [f"## {number}. {escape(step.title)}", ""]
    if step.formula:
        lines += ["$$", step.formula, "$$", ""]
    scalars = [v for v in step.values if v.kind in INLINE]
    for value in scalars:
        data = value.data.item() if isinstance(value.data, np.ndarray) else value.data
        shown = escape(data) if isinstance(data, str) else fmt(data, precision)
        lines.append(f"- **{escape(value.display_name)}** = {shown}")
    if scalars:
        lines.append("")
    for value in step.values:
        if value.kind not in INLINE:
            lines += [*value_markdown(value, precision, limit), ""]
    if plots and step.plots:
        from nntutor.render.plots import plot_text

        for plot in step.plots:
            lines += ["```text", plot_text(plot, width=72, height=16, color=False), "```", ""]
    if step.worked:
        lines += ["```text", *step.worked, "```", ""]
    for warning in step.warnings:
        lines += [f"> **Warning:** {escape(warning)}", ""]
    if step.why:
        lines += [f"*{escape(step.why)}*", ""]
    return lines


def what_next_markdown(lesson: str, what_next: WhatNext) -> list[str]:
    """A lesson's ending: the quiz for it, the next lesson in the course, its see-also lessons.

    >>> from nntutor.trace import LessonLink
    >>> print("\\n".join(what_next_markdown("neuron", WhatNext(1, 23, LessonLink(2, "activations", "Activation functions")))))
    ## What next
    <BLANKLINE>
    - Quiz yourself: `nntutor quiz neuron`
    - Next lesson (2 of 23, Activation functions): `nntutor lesson activations`
    """
    lines = ["## What next", "", f"- Quiz yourself: `nntutor quiz {lesson}`"]
    following = what_next.next_lesson
    if following is None:
        lines.append(f"- Next lesson: none, this was the last of {what_next.total} lessons")
    else:
        lines.append(f"- Next lesson ({following.number} of {what_next.total}, {escape(following.title)}): `nntutor lesson {following.name}`")
    if what_next.see_also:
        lines.append("- See also:")
        lines += [f"  - `nntutor lesson {link.name}` ({link.number}, {escape(link.title)})" for link in what_next.see_also]
    if what_next.terms:
        lines.append(f"- Terms used here (`nntutor explain TERM`): {escape(' · '.join(what_next.terms))}")
    return lines


def render_markdown(trace: Trace, *, precision: int = 4, limit: int = DEFAULT_LIMIT, plots: bool = True) -> str:
    """The whole trace as one Markdown document: title, summary, narrative, a section a step, the result,
    what comes next."""
    lines = [f"# {escape(trace.title)}", ""]
    if trace.summary:
        lines += [escape(trace.summary), ""]
    if trace.narrative:
        lines += [escape(trace.narrative), ""]
    for warning in trace.warnings:
        lines += [f"> **Warning:** {escape(warning)}", ""]
    for number, step in enumerate(trace.steps, start=1):
        lines += step_markdown(step, number, precision, limit, plots)
    if trace.result:  # the answer, labelled as in the steps
        lines += ["## Result", ""]
        for value in trace.result:
            if value.kind in INLINE:
                data = value.data.item() if isinstance(value.data, np.ndarray) else value.data
                lines.append(f"- **{escape(value.display_name)}** = {escape(data) if isinstance(data, str) else fmt(data, precision)}")
            else:
                lines += ["", *value_markdown(value, precision, limit), ""]
        lines.append("")
    elif trace.outputs:
        lines += ["## Result", ""]
        for name, data in trace.outputs.items():
            value = Value(name, data)
            if value.kind in INLINE:
                lines.append(f"- **{escape(name)}** = {escape(data) if isinstance(data, str) else fmt(data, precision)}")
            else:
                lines += ["", *value_markdown(value, precision, limit), ""]
        lines.append("")
    if trace.what_next is not None:
        lines += [*what_next_markdown(trace.lesson, trace.what_next), ""]
    return "\n".join(lines).rstrip("\n") + "\n"
