"""Flag strings to NumPy values, with errors a learner can act on.

Syntax (the same for every lesson):

- scalar ``0.5``; integer ``3``;
- vector ``1.5,2,-0.5`` or ``[1.5, 2, -0.5]``;
- matrix with rows separated by ``;``: ``"1,0;0,1"`` or ``[[1,0],[0,1]]``;
- labels ``sunny,cloudy,rainy``.

>>> parse_matrix("--x", "1,0;0.5,1").tolist()
[[1.0, 0.0], [0.5, 1.0]]
>>> parse_vector("--w", "1,abc")
Traceback (most recent call last):
  ...
nntutor.errors.InputError: --w: 'abc' is not a number (expected numbers separated by commas, e.g. 1.5,2,-0.5)

Every error is an :class:`~nntutor.errors.InputError` naming the flag, the bad
token and what was expected. Nothing a user typed is ever evaluated: numbers
are matched with a regular expression and JSON is read with ``json.loads``.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from nntutor.errors import InputError

MAX_VALUE_CHARS = 65_536
MAX_ELEMENTS = 1_000_000
MAX_MAGNITUDE = 1e6
MAX_FILE_BYTES = 16 * 1024 * 1024

_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
_VECTOR_EXAMPLE = "numbers separated by commas, e.g. 1.5,2,-0.5"
_MATRIX_EXAMPLE = "rows of numbers separated by ';', e.g. \"1,0;0,1\""


def _shown(token: str, limit: int = 40) -> str:
    """The token as quoted in an error message (long ones are shortened)."""
    if len(token) > limit:
        token = token[: limit - 1] + "…"
    return repr(token)


def _check_length(flag: str, raw: str) -> None:
    if len(raw) > MAX_VALUE_CHARS:
        raise InputError(
            flag,
            f"the value is {len(raw):,} characters long; at most {MAX_VALUE_CHARS:,} are "
            "accepted (use --seed with size flags for large random inputs)",
        )


def parse_number(flag: str, token: str, *, expected: str = "a number") -> float:
    """Read one finite, ASCII-written number.

    >>> parse_number("--b", " -0.5 ")
    -0.5
    """
    text = token.strip()
    if text.lower().lstrip("+-") in ("nan", "inf", "infinity"):
        raise InputError(flag, f"{_shown(text)} is not allowed (expected {expected}; NaN and infinity are refused)")
    if not _NUMBER.fullmatch(text):
        if text == "":
            raise InputError(flag, f"found an empty value (expected {expected})")
        if "\u2212" in text:
            raise InputError(flag, f"{_shown(text)} uses the Unicode minus sign '−'; type '-' instead")
        raise InputError(flag, f"{_shown(text)} is not a number (expected {expected})")
    value = float(text)
    if not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
        raise InputError(
            flag, f"{_shown(text)} is too large (expected a magnitude of at most {MAX_MAGNITUDE:g})"
        )
    if value != 0.0 and abs(value) < sys.float_info.min:
        raise InputError(flag, f"{_shown(text)} is too close to zero to compute with (subnormal)")
    if value == 0.0:
        _refuse_underflow(flag, text)
    return value


def _refuse_underflow(flag: str, text: str) -> None:
    """1e-400 is not zero, but ``float`` makes it 0.0 without a word: refuse it (as 1e-320 is)."""
    if re.search("[1-9]", re.split("[eE]", text)[0]):
        raise InputError(flag, f"{_shown(text.strip())} is too close to zero to compute with (it would become 0)")


def parse_scalar(flag: str, raw: Any) -> float:
    """A single number: ``0.5``."""
    if isinstance(raw, bool):
        raise InputError(flag, f"{raw!r} is not a number (expected one number, e.g. 0.5)")
    if isinstance(raw, (int, float)):
        raw = repr(float(raw))
    raw = str(raw)
    _check_length(flag, raw)
    if "," in raw or ";" in raw:
        raise InputError(flag, f"{_shown(raw)} is a list (expected one number, e.g. 0.5)")
    return parse_number(flag, raw, expected="one number, e.g. 0.5")


def parse_integer(flag: str, raw: Any) -> int:
    """A whole number: ``3`` (``3.0`` is refused: counts and indices are exact).

    >>> parse_integer("--seed", "42")
    42
    """
    if isinstance(raw, bool):
        raise InputError(flag, f"{raw!r} is not a whole number")
    if isinstance(raw, int):
        return raw
    text = str(raw).strip()
    _check_length(flag, text)
    if not _INTEGER.fullmatch(text):
        if text == "":
            raise InputError(flag, "found an empty value (expected a whole number, e.g. 3)")
        raise InputError(flag, f"{_shown(text)} is not a whole number (expected e.g. 3)")
    if len(text.lstrip("+-")) > 12:
        raise InputError(flag, f"{_shown(text)} is too large (expected at most 12 digits)")
    return int(text)


def _json_list(flag: str, raw: str) -> Any:
    import json  # only for inputs written as JSON lists (most runs never need it)

    def checked_float(token: str) -> float:
        if float(token) == 0.0:
            _refuse_underflow(flag, token)
        return float(token)

    try:
        data = json.loads(raw, parse_float=checked_float)
    except (ValueError, RecursionError):
        raise InputError(flag, f"{_shown(raw)} is not a valid JSON list") from None
    if not isinstance(data, list):
        raise InputError(flag, f"{_shown(raw)} is not a JSON list")
    return data


def _json_number(flag: str, item: Any, expected: str) -> float:
    if isinstance(item, bool) or not isinstance(item, (int, float)):
        import json

        raise InputError(flag, f"{_shown(json.dumps(item))} is not a number (expected {expected})")
    return parse_number(flag, repr(float(item)) if isinstance(item, float) else str(item), expected=expected)


def _split_numbers(flag: str, text: str, expected: str) -> list[float]:
    tokens = text.split(",")
    if len(tokens) > MAX_ELEMENTS:
        raise InputError(flag, f"{len(tokens):,} numbers is too many (at most {MAX_ELEMENTS:,})")
    values = []
    for token in tokens:
        if token.strip() == "":
            raise InputError(flag, f"{_shown(text)} has an empty entry (expected {expected})")
        values.append(parse_number(flag, token, expected=expected))
    return values


def parse_vector(flag: str, raw: Any) -> np.ndarray:
    """A list of numbers: ``1.5,2,-0.5`` or ``[1.5, 2, -0.5]``.

    >>> parse_vector("--x", "1.5,2,-0.5").tolist()
    [1.5, 2.0, -0.5]
    """
    if isinstance(raw, (list, tuple)):
        items = [_json_number(flag, item, _VECTOR_EXAMPLE) for item in raw]
    else:
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            raw = repr(float(raw))
        text = str(raw).strip()
        _check_length(flag, text)
        if text == "":
            raise InputError(flag, f"found an empty value (expected {_VECTOR_EXAMPLE})")
        if text.startswith("["):
            data = _json_list(flag, text)
            if any(isinstance(item, list) for item in data):
                raise InputError(flag, f"{_shown(text)} is nested (expected a flat list of numbers)")
            items = [_json_number(flag, item, _VECTOR_EXAMPLE) for item in data]
        else:
            if ";" in text:
                raise InputError(flag, f"{_shown(text)} has several rows (expected one row: {_VECTOR_EXAMPLE})")
            items = _split_numbers(flag, text, _VECTOR_EXAMPLE)
    if not items:
        raise InputError(flag, f"found an empty list (expected {_VECTOR_EXAMPLE})")
    return np.array(items, dtype=np.float64)


def parse_matrix(flag: str, raw: Any) -> np.ndarray:
    """Rows of numbers: ``"1,0;0,1"`` or ``[[1,0],[0,1]]``. One row is a 1×n matrix.

    >>> parse_matrix("--x", "[[1, 2], [3, 4]]").shape
    (2, 2)
    """
    if isinstance(raw, (list, tuple)):
        data = list(raw)
    else:
        text = str(raw).strip()
        _check_length(flag, text)
        if text == "":
            raise InputError(flag, f"found an empty value (expected {_MATRIX_EXAMPLE})")
        if text.startswith("["):
            data = _json_list(flag, text)
        else:
            pieces = text.split(";")
            if pieces and pieces[-1].strip() == "" and len(pieces) > 1:
                pieces = pieces[:-1]  # a trailing ';' is harmless
            rows = []
            for number, piece in enumerate(pieces, start=1):
                if piece.strip() == "":
                    raise InputError(flag, f"row {number} is empty (expected {_MATRIX_EXAMPLE})")
                rows.append(_split_numbers(flag, piece, _MATRIX_EXAMPLE))
            return _rectangular(flag, rows)
    if not data:
        raise InputError(flag, f"found an empty list (expected {_MATRIX_EXAMPLE})")
    if not any(isinstance(item, list) for item in data):
        data = [data]
    rows = []
    for number, row in enumerate(data, start=1):
        if not isinstance(row, list):
            raise InputError(flag, f"row {number} is not a list (expected a list of rows, e.g. [[1,0],[0,1]])")
        if any(isinstance(item, list) for item in row):
            raise InputError(flag, f"row {number} is nested too deeply (expected a list of rows of numbers)")
        if not row:
            raise InputError(flag, f"row {number} is empty (expected {_MATRIX_EXAMPLE})")
        rows.append([_json_number(flag, item, _MATRIX_EXAMPLE) for item in row])
    return _rectangular(flag, rows)


def _rectangular(flag: str, rows: list[list[float]]) -> np.ndarray:
    width = len(rows[0])
    for number, row in enumerate(rows, start=1):
        if len(row) != width:
            raise InputError(
                flag, f"row {number} has {len(row)} numbers but row 1 has {width} (every row needs the same count)"
            )
    if len(rows) * width > MAX_ELEMENTS:
        raise InputError(flag, f"{len(rows)}×{width} is too many numbers (at most {MAX_ELEMENTS:,})")
    return np.array(rows, dtype=np.float64)


def parse_array(flag: str, raw: Any) -> np.ndarray:
    """A vector, or a matrix when there are several rows (``;`` or nested lists)."""
    if isinstance(raw, str):
        text = raw
    else:  # a default from a lesson file (a TOML list)
        import json

        text = json.dumps(raw)
    stripped = text.strip()
    if ";" in stripped or stripped.startswith("[["):
        return parse_matrix(flag, raw)
    return parse_vector(flag, raw)


def parse_labels(flag: str, raw: Any) -> tuple[str, ...]:
    """Comma-separated names: ``sunny,cloudy`` (spaces around names are dropped).

    >>> parse_labels("--tokens", "The, cat ,sat")
    ('The', 'cat', 'sat')
    """
    if isinstance(raw, (list, tuple)):
        items = [str(item) for item in raw]
    else:
        text = str(raw)
        _check_length(flag, text)
        if text.strip() == "":
            raise InputError(flag, "found an empty value (expected names separated by commas, e.g. The,cat,sat)")
        items = text.split(",")
    labels = tuple(item.strip() for item in items)
    for number, label in enumerate(labels, start=1):
        if label == "":
            raise InputError(flag, f"name {number} is empty (expected names separated by commas, e.g. The,cat,sat)")
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in label):
            raise InputError(flag, f"name {number} contains a control character")
    return labels


def parse_text(flag: str, raw: Any) -> str:
    """Free text, kept as typed (control characters other than newline and tab refused)."""
    text = str(raw)
    _check_length(flag, text)
    for ch in text:
        if (ord(ch) < 32 and ch not in "\n\t\r") or ord(ch) == 127:
            raise InputError(flag, f"contains the control character U+{ord(ch):04X}")
    return text


def parse_choice(flag: str, raw: Any, choices: Sequence[str]) -> str:
    """One of a fixed set of words.

    >>> parse_choice("--activation", "relu", ["relu", "sigmoid"])
    'relu'
    """
    text = str(raw).strip()
    if text in choices:
        return text
    options = ", ".join(choices)
    hint = ""
    import difflib

    close = difflib.get_close_matches(text, choices, n=1)
    if close:
        hint = f"; did you mean {close[0]!r}?"
    raise InputError(flag, f"{_shown(text)} is not one of: {options}{hint}")


def read_text_file(flag: str, path_text: str, *, max_bytes: int = MAX_FILE_BYTES) -> str:
    """Read a UTF-8 text file a learner named, refusing what is not text.

    Only a regular file is read, and at most ``max_bytes`` of it
    (:func:`nntutor.catalog.reading.read_limited`): ``--file /dev/zero`` or a
    pipe is refused at once instead of read without end.
    """
    from nntutor.catalog.reading import FileProblem, read_limited

    try:
        data = read_limited(path_text, max_bytes)
    except FileProblem as problem:
        raise InputError(flag, f"{_shown(path_text)} {problem} (expected a UTF-8 text file)") from None
    if b"\x00" in data:
        raise InputError(flag, f"{_shown(path_text)} looks binary (expected a UTF-8 text file)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            flag, f"{_shown(path_text)} is not UTF-8 (byte {exc.start} cannot be decoded; expected a UTF-8 text file)"
        ) from None


def read_json_file(flag: str, path_text: str) -> Any:
    """The JSON value in a UTF-8 text file a learner named (read as data, never evaluated).

    Not JSON is one error naming the flag and where the parser stopped:
    ``--weights: 'w.json' is not valid JSON (line 1, column 2: Expecting value)``.
    """
    import json  # only for the lessons that read a JSON file

    text = read_text_file(flag, path_text)
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno}: {exc.msg})" if isinstance(exc, json.JSONDecodeError) else ""
        raise InputError(flag, f"{path_text!r} is not valid JSON{where}") from None


def check_range(flag: str, value: float | int, *, minimum=None, maximum=None, above=None, below=None) -> None:
    """Refuse a number outside its allowed range, saying which range."""
    if above is not None and not value > above:
        raise InputError(flag, f"{value!r} is too small (expected a number greater than {above:g})")
    if below is not None and not value < below:
        raise InputError(flag, f"{value!r} is too large (expected a number less than {below:g})")
    if minimum is not None and value < minimum:
        raise InputError(flag, f"{value!r} is too small (expected at least {minimum:g})")
    if maximum is not None and value > maximum:
        raise InputError(flag, f"{value!r} is too large (expected at most {maximum:g})")


KINDS = ("scalar", "integer", "vector", "matrix", "array", "text", "labels", "choice", "flag", "path")


def parse_input(spec: Any, raw: Any) -> Any:
    """Parse ``raw`` (a flag string or a TOML default) according to a lesson input spec.

    ``spec`` has ``flag``, ``kind`` and optionally ``choices``, ``minimum``,
    ``maximum``, ``above``, ``below``.
    """
    flag = spec.flag
    kind = spec.kind
    if kind == "flag":
        if isinstance(raw, bool):
            return raw
        raise InputError(flag, f"{raw!r} is not true or false")
    if kind == "scalar":
        value = parse_scalar(flag, raw)
    elif kind == "integer":
        value = parse_integer(flag, raw)
    elif kind == "vector":
        value = parse_vector(flag, raw)
    elif kind == "matrix":
        value = parse_matrix(flag, raw)
    elif kind == "array":
        value = parse_array(flag, raw)
    elif kind == "labels":
        return parse_labels(flag, raw)
    elif kind == "text" or kind == "path":
        return parse_text(flag, raw)
    elif kind == "choice":
        return parse_choice(flag, raw, spec.choices)
    else:  # pragma: no cover - lesson validation refuses unknown kinds first
        raise InputError(flag, f"unknown input kind {kind!r}")
    bounds = {
        "minimum": spec.minimum,
        "maximum": spec.maximum,
        "above": spec.above,
        "below": spec.below,
    }
    if any(b is not None for b in bounds.values()):
        if isinstance(value, np.ndarray):
            for item in value.flat:
                check_range(flag, float(item), **bounds)
        else:
            check_range(flag, value, **bounds)
    return value
