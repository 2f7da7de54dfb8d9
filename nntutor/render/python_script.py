"""A lesson as a self-checking Python script (``--format py``): NumPy alone, every output asserted.

The frame is written here; the maths comes from the lesson module (its
``WALKTHROUGH.script``, NumPy source for the run's own inputs). The script reads::

    \"\"\"nntutor lesson neuron: ... (made by: nntutor lesson neuron --format py)\"\"\"
    import numpy as np

    RTOL, ATOL = 1e-9, 1e-12
    def close(got, expected): ...

    # The recorded inputs
    x = np.array([1.5, 2.0, -0.5])
    ...
    # the lesson's maths, step by step (from the lesson module)
    ...
    # Every output the lesson shows, checked
    assert close(z, -0.9), "z"
    print("all 2 checks passed")

Inputs are written as exact literals (floats in shortest round-trip form), so the
script recomputes the very run that was shown. ``outputs`` (default: the trace's)
are the expected values; a test passes perturbed ones to see the script fail.

>>> from nntutor.trace import Trace
>>> trace = Trace("double", "Doubling", inputs={"x": np.array([1.0, 2.5])}, outputs={"y": np.array([2.0, 5.0])})
>>> text = render_script(trace, "y = 2 * x\\n", command="nntutor lesson double --format py")
>>> namespace = {}
>>> exec(compile(text, "double.py", "exec"), namespace)
the 1 check passed
>>> print(text.splitlines()[-2])
assert close(y, [2.0, 5.0]), "y"
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from nntutor.trace import Deferred, Table, Trace, concrete

RTOL = 1e-9
ATOL = 1e-12
WIDTH = 79  # the length a literal's line is wrapped at

_FRAME_TOP = '''\
#!/usr/bin/env python3
"""{title}

This script recomputes the lesson from its recorded inputs with NumPy and plain
Python (it does not use nntutor), then checks every output the lesson showed.
Each step of the lesson is a block below, under a comment naming the step.
An assert fails (and the script stops) if a recomputed number differs from the
number the lesson showed by more than RTOL (relative) or ATOL (absolute).

Made by: {command}
Run it:  python {file}
"""

{imports}import numpy as np

RTOL, ATOL = {rtol!r}, {atol!r}  # how close a recomputed number must come


def close(got, expected):
    """True when every number of got is within RTOL or ATOL of expected."""
    got = np.asarray(got, dtype=float)
    expected = np.asarray(expected, dtype=float)
    return np.allclose(got, expected, rtol=RTOL, atol=ATOL, equal_nan=True)


# ---- The recorded inputs
'''


def identifier(name: str) -> str:
    """The Python name a lesson's input or output goes by in the script: ``d-model`` -> ``d_model``.

    >>> identifier("d-model"), identifier("output-activation"), identifier("W1")
    ('d_model', 'output_activation', 'W1')
    """
    return re.sub(r"\W", "_", name)


def literal(value: Any) -> str:
    """``value`` as Python source that rebuilds it exactly (NumPy arrays as ``np.array``).

    >>> literal(np.array([[1.0, -0.5], [np.inf, 2.0]]))
    'np.array([[1.0, -0.5], [np.inf, 2.0]])'
    >>> literal({"W": np.eye(2, dtype=int), "name": "relu"}), literal(0.1 + 0.2), literal(np.float64(3.0))
    ("{'W': np.array([[1, 0], [0, 1]]), 'name': 'relu'}", '0.30000000000000004', '3.0')
    """
    if isinstance(value, Deferred):
        value = concrete(value)
    if isinstance(value, np.ndarray):
        if value.dtype == bool:
            return f"np.array({value.tolist()!r})"
        if np.issubdtype(value.dtype, np.integer):
            return f"np.array({value.tolist()!r})"
        return f"np.array({_floats(value.astype(np.float64).tolist())})"
    if isinstance(value, (bool, np.bool_)):
        return repr(bool(value))
    if isinstance(value, (int, np.integer)):
        return repr(int(value))
    if isinstance(value, (float, np.floating)):
        return _float(float(value))
    if isinstance(value, Table):
        return literal([list(row) for row in value.rows])
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{literal(key)}: {literal(item)}" for key, item in value.items()) + "}"
    if isinstance(value, tuple):
        return "(" + ", ".join(literal(item) for item in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    return repr(value)


def _float(x: float) -> str:
    if math.isnan(x):
        return "np.nan"
    if math.isinf(x):
        return "np.inf" if x > 0 else "-np.inf"
    return repr(x)


def _floats(items: Any) -> str:
    if isinstance(items, list):
        return "[" + ", ".join(_floats(item) for item in items) + "]"
    return _float(items)


def assignment(name: str, value: Any) -> str:
    """``name = literal``, wrapped at :data:`WIDTH` columns (a long matrix one row a line).

    >>> print(assignment("W", np.arange(40.0).reshape(2, 20)))
    W = np.array([
        [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0,
         14.0, 15.0, 16.0, 17.0, 18.0, 19.0],
        [20.0, 21.0, 22.0, 23.0, 24.0, 25.0, 26.0, 27.0, 28.0, 29.0, 30.0, 31.0,
         32.0, 33.0, 34.0, 35.0, 36.0, 37.0, 38.0, 39.0],
    ])
    """
    return _wrapped(f"{name} = ", value, "")


def _wrapped(head: str, value: Any, tail: str, *, bare: bool = False) -> str:
    """``head + literal(value) + tail`` on one line when it fits, else broken inside its brackets.

    ``bare`` writes arrays as plain nested lists (the expected values of an assert).
    """
    value = concrete(value)
    if not (isinstance(value, np.ndarray) and value.size > WIDTH):  # a long array never fits one line
        text = head + (_bare(value) if bare and isinstance(value, np.ndarray) else literal(value)) + tail
        if len(text) <= WIDTH:
            return text
    return head + _block(value, "", bare=bare) + tail


def _bare(array: np.ndarray) -> str:
    """An array's numbers as a nested list literal (no ``np.array``)."""
    return literal(array)[len("np.array("):-1]


def _cells(row: Any) -> list[str]:
    """The literals of a flat row's items (fast for a float array: one repr per number)."""
    if isinstance(row, np.ndarray):
        if row.dtype.kind == "f":
            return [_float(x) for x in row.tolist()]
        return [repr(x) for x in row.tolist()]
    return [literal(item) for item in row]


def _block(value: Any, indent: str, *, bare: bool = False) -> str:
    """A literal over several lines: one item (a row, an entry) a line, a long row of numbers
    wrapped after its commas; every line break falls inside brackets, so it stays valid Python."""
    inner = indent + "    "
    if isinstance(value, str):
        return _string_block(value, inner, indent)
    if isinstance(value, np.ndarray) and value.ndim >= 1 and value.size and value.dtype != object:
        opener, closer = ("[", "]") if bare else ("np.array([", "])")
        items = value
    elif isinstance(value, list) and value:
        opener, closer, items = "[", "]", value
    elif isinstance(value, Mapping) and value:
        lines = [f"{inner}{literal(key)}: {_item(item, inner, used=len(literal(key)) + 3)}," for key, item in value.items()]
        return "{\n" + "\n".join(lines) + "\n" + indent + "}"
    else:
        return literal(value)
    if isinstance(items, np.ndarray) and items.ndim == 1 or (
        not isinstance(items, np.ndarray) and all(not isinstance(item, (list, tuple, np.ndarray, Mapping)) for item in items)
    ):
        lines = _packed([cell + "," for cell in _cells(items)], WIDTH - len(inner))
        return opener + "\n" + "\n".join(inner + line for line in lines) + "\n" + indent + closer
    in_array = isinstance(items, np.ndarray) or bare  # an assert's expected values: plain lists
    rows = [inner + _item(item, inner, in_array=in_array) + "," for item in items]
    return opener + "\n" + "\n".join(rows) + "\n" + indent + closer


def _string_block(text: str, inner: str, indent: str) -> str:
    """A long string as pieces in parentheses (Python joins them): broken after spaces and
    line breaks, so the pieces add up to exactly ``text``.

    >>> print(_string_block("low low lower " * 6, "    ", ""))
    (
        'low low lower low low lower low low lower low low lower low low lower '
        'low low lower '
    )
    """
    width = WIDTH - len(inner) - 3  # the quotes, and room for an escape
    pieces: list[str] = []
    for word in re.findall(r"[^ \n]*(?: +|\n|$)", text):
        if pieces and not pieces[-1].endswith("\n") and len(repr(pieces[-1] + word)) <= width:
            pieces[-1] += word
        elif word:
            pieces.append(word)
    return "(\n" + "\n".join(inner + repr(piece) for piece in pieces) + "\n" + indent + ")"


def _packed(words: list[str], width: int) -> list[str]:
    """Words joined by spaces into lines of at most ``width`` (a word longer than that on its own line).

    >>> _packed(["1.5,", "2.0,", "'a b',", "3.0"], 11)
    ['1.5, 2.0,', "'a b', 3.0"]
    """
    lines: list[str] = []
    for word in words:
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def _item(item: Any, indent: str, *, in_array: bool = False, used: int = 1) -> str:
    """One item of a block (a row of ``np.array([...])`` when ``in_array``, written as a plain
    list): its literal when it fits (``used`` columns besides the indent are taken, by a key
    and the comma), else its numbers wrapped under its bracket."""
    if in_array and isinstance(item, np.ndarray) and item.ndim == 1:
        cells = _cells(item)
        if len(indent) + sum(len(cell) + 2 for cell in cells) + used - 1 <= WIDTH:
            return "[" + ", ".join(cells) + "]"
        lines = _packed([cell + "," for cell in cells[:-1]] + [cells[-1] + "]"], WIDTH - len(indent) - 1)
        return "[" + ("\n" + indent + " ").join(lines)
    text = _bare(item) if in_array and isinstance(item, np.ndarray) else literal(item)
    if len(indent) + len(text) + used <= WIDTH:
        return text
    return _block(item, indent, bare=in_array)


def checks(name: str, value: Any) -> list[str]:
    """The assert lines for one output: numbers with :func:`close`, text and whole numbers exactly,
    a mapping one assert per entry (``values["relu"]``).

    >>> for line in checks("z", -0.9) + checks("token", "a") + checks("ids", [3, 1]):
    ...     print(line)
    assert close(z, -0.9), "z"
    assert token == 'a', "token"
    assert np.array_equal(ids, [3, 1]), "ids"
    >>> print(*checks("values", {"relu": np.array([0.0, 1.0])}))
    assert close(values['relu'], [0.0, 1.0]), "values['relu']"
    """
    value = concrete(value)
    if isinstance(value, Table):
        value = [list(row) for row in value.rows]
    if isinstance(value, Mapping):
        return [line for key, item in value.items() for line in checks(f"{name}[{literal(key)}]", item)]
    label = repr(name) if '"' in name and "'" not in name else '"' + name.replace('"', '\\"') + '"'
    if _numeric(value) and not _whole(value):
        expected = value.astype(np.float64) if isinstance(value, np.ndarray) else _plain_numbers(value)
        return [_wrapped(f"assert close({name}, ", expected, f"), {label}", bare=True)]
    if _numeric(value):
        if isinstance(value, (int, np.integer, bool, np.bool_)) or isinstance(value, np.ndarray) and value.ndim == 0:
            return [f"assert {name} == {literal(value.item() if isinstance(value, np.ndarray) else value)}, {label}"]
        return [_wrapped(f"assert np.array_equal({name}, ", value, f"), {label}", bare=True)]
    if _mixed_rows(value):  # rows of words and numbers: each column checked on its own
        columns = list(zip(*value, strict=True))
        lines = []
        for j, column in enumerate(columns):
            cells = f"[row[{j}] for row in {name}]"
            if all(isinstance(cell, str) for cell in column):
                lines.append(_wrapped(f"assert {cells} == ", list(column), f", {label}"))
            else:
                lines.append(_wrapped(f"assert close({cells}, ", _plain_numbers(list(column)), f"), {label}"))
        return lines
    if isinstance(value, list) and value and all(isinstance(row, (list, tuple)) for row in value) and not _is_text(value):
        return [line for index, row in enumerate(value) for line in checks(f"{name}[{index}]", list(row))]
    if isinstance(value, list) and not _is_text(value):
        return [line for index, item in enumerate(value) for line in checks(f"{name}[{index}]", item)]
    if isinstance(value, (list, tuple)) and any(isinstance(row, (list, tuple)) for row in value):
        rows = [list(row) if isinstance(row, (list, tuple)) else row for row in value]
        return [_wrapped(f"assert [list(row) for row in {name}] == ", rows, f", {label}")]
    if isinstance(value, (list, tuple)):
        return [_wrapped(f"assert list({name}) == ", list(value), f", {label}")]
    return [f"assert {name} == {literal(value)}, {label}"]


def _mixed_rows(value: Any) -> bool:
    """Rows of one length whose columns are each all words or all numbers, some of each
    (an embedding's ranking ``[['queen', 0.99], ['apple', 0.0]]``, a table)."""
    if not (isinstance(value, list) and value and all(isinstance(row, (list, tuple)) for row in value)):
        return False
    if len({len(row) for row in value}) != 1 or not value[0]:
        return False
    columns = list(zip(*value, strict=True))
    words = [all(isinstance(cell, str) for cell in column) for column in columns]
    numbers = [all(isinstance(cell, (int, float, np.number)) and not isinstance(cell, bool) for cell in column) for column in columns]
    return any(words) and any(numbers) and all(w or n for w, n in zip(words, numbers, strict=True))


def _plain_numbers(value: Any) -> Any:
    """Floats as Python floats (so ``np.float64(0.5)`` is written ``0.5``)."""
    if isinstance(value, list):
        return [_plain_numbers(item) for item in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def _numeric(value: Any) -> bool:
    """A number, or an array or (nested) list of numbers of one shape."""
    if isinstance(value, (bool, np.bool_, int, float, np.number)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype != object
    if isinstance(value, list) and value:
        try:
            array = np.asarray(value)
        except ValueError:
            return False
        return array.dtype != object and np.issubdtype(array.dtype, np.number) or array.dtype == bool
    return False


def _whole(value: Any) -> bool:
    """True for integers and booleans (compared exactly), False for floats."""
    array = np.asarray(value)
    return bool(np.issubdtype(array.dtype, np.integer) or array.dtype == bool)


def _is_text(value: list) -> bool:
    """Labels, or rows of text (BPE merges): compared exactly, in one assert."""
    cells = [cell for row in value for cell in (row if isinstance(row, (list, tuple)) else [row])]
    return any(isinstance(cell, str) for cell in cells)


def render_script(trace: Trace, maths: str, *, command: str, outputs: Mapping[str, Any] | None = None) -> str:
    """The whole script: the frame, the recorded inputs, ``maths``, then an assert for every output.

    ``maths`` must leave each output of ``outputs`` (default ``trace.outputs``) in a
    variable of the same name (:func:`identifier`).
    """
    outputs = trace.outputs if outputs is None else outputs
    lines = maths.strip("\n").splitlines()
    imported = [line for line in lines if re.match(r"(import|from) \w", line)]  # the lesson's own imports go on top
    maths = "\n".join(line for line in lines if line not in imported)
    imports = sorted({"import math", *imported}, key=lambda line: (line.startswith("from"), line))
    parts = [
        _FRAME_TOP.format(
            imports="\n".join(imports) + "\n\n",
            title=f"nntutor lesson {trace.lesson}\n\n{trace.title}.",
            command=command,
            file=f"{trace.lesson}.py",
            rtol=RTOL,
            atol=ATOL,
        )
    ]
    produced = {identifier(name) for name in outputs}
    for name, value in trace.inputs.items():
        line = assignment(identifier(name), value)
        if identifier(name) in produced:  # e.g. backprop's --loss choice and its loss
            line = f"# {identifier(name)} is also the name of an output: the maths below reassigns it\n" + line
        parts.append(line + "\n")
    parts.append("\n" + maths.strip("\n") + "\n\n")
    parts.append("# ---- Every output the lesson shows, checked\n")
    asserts = [line for name, value in outputs.items() for line in checks(identifier(name), value)]
    parts.extend(line + "\n" for line in asserts)
    parts.append(f'print("all {len(asserts)} checks passed")\n' if len(asserts) != 1 else 'print("the 1 check passed")\n')
    return "".join(parts)
