"""Coverage-guided fuzzing of the two parsers that read what a learner types (atheris).

Not collected by pytest (hypothesis covers the same ground in the suite). Run it when
atheris is installed, e.g.::

    python tests/fuzz_atheris.py inputs -runs=200000
    python tests/fuzz_atheris.py answers -runs=200000

Only the documented error type may escape: ``InputError`` for flag values,
``AnswerError`` for quiz answers. Any other exception, a NaN or an infinity is a
crash that atheris reports with the input that caused it.
"""

from __future__ import annotations

import math
import sys

import atheris

with atheris.instrument_imports():
    import numpy as np

    from nntutor.catalog import inputs
    from nntutor.errors import InputError
    from nntutor.quiz import answers

PARSERS = (
    inputs.parse_scalar,
    inputs.parse_integer,
    inputs.parse_vector,
    inputs.parse_matrix,
    inputs.parse_array,
    inputs.parse_labels,
    inputs.parse_text,
)


def fuzz_inputs(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    parser = PARSERS[provider.ConsumeIntInRange(0, len(PARSERS) - 1)]
    text = provider.ConsumeUnicodeNoSurrogates(4096)
    try:
        value = parser("--flag", text)
    except InputError as exc:
        assert str(exc).startswith("--flag: ") and "\n" not in str(exc)
        return
    if isinstance(value, np.ndarray):
        assert value.dtype == np.float64 and np.all(np.isfinite(value))
    elif isinstance(value, float):
        assert math.isfinite(value)


def fuzz_answers(data: bytes) -> None:
    text = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(512)
    try:
        value = answers.parse_answer(text)
    except answers.AnswerError:
        return
    assert isinstance(value, float) and math.isfinite(value)


def main() -> None:
    target = {"inputs": fuzz_inputs, "answers": fuzz_answers}[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
