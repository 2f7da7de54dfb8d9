"""Flag parsing: the documented syntax, and one clear error for everything else."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nntutor.catalog.inputs import (
    parse_array,
    parse_integer,
    parse_labels,
    parse_matrix,
    parse_scalar,
    parse_vector,
    read_text_file,
)
from nntutor.errors import InputError


def test_scalar_vector_matrix_syntax():
    assert parse_scalar("--b", "0.5") == 0.5
    assert parse_scalar("--b", "-1e-3") == -0.001
    assert parse_vector("--x", "1.5,2,-0.5").tolist() == [1.5, 2.0, -0.5]
    assert parse_vector("--x", "[1.5, 2, -0.5]").tolist() == [1.5, 2.0, -0.5]
    assert parse_matrix("--x", "1,0,0.5;0.5,1,0.2").tolist() == [[1, 0, 0.5], [0.5, 1, 0.2]]
    assert parse_matrix("--x", "[[1,0],[0,1]]").tolist() == [[1, 0], [0, 1]]
    assert parse_matrix("--x", "1,2").shape == (1, 2)
    assert parse_array("--x", "1,2").shape == (2,)
    assert parse_array("--x", "1,2;3,4").shape == (2, 2)
    assert parse_labels("--tokens", "The, cat") == ("The", "cat")
    assert parse_integer("--seed", "7") == 7


@pytest.mark.parametrize(
    ("parser", "raw", "fragment"),
    [
        (parse_vector, "1,abc", "'abc' is not a number"),
        (parse_vector, "", "empty"),
        (parse_vector, ",", "empty entry"),
        (parse_vector, "1,nan", "NaN and infinity are refused"),
        (parse_vector, "inf", "NaN and infinity are refused"),
        (parse_vector, "-inf", "NaN and infinity are refused"),
        (parse_vector, "1e308", "too large"),
        (parse_vector, "1e-320", "subnormal"),
        (parse_vector, "١٢", "is not a number"),
        (parse_vector, "\u22121", "Unicode minus"),
        (parse_vector, "1;2", "several rows"),
        (parse_vector, "[[1]]", "nested"),
        (parse_vector, "[1, \"a\"]", "is not a number"),
        (parse_vector, "1," * 40_000, "characters long"),
        (parse_matrix, ";;", "row 1 is empty"),
        (parse_matrix, "1,2;3", "row 2 has 1 numbers but row 1 has 2"),
        (parse_matrix, "[[1,2],[3]]", "row 2 has 1 numbers"),
        (parse_matrix, "[1, [2]]", "row 1 is not a list"),
        (parse_matrix, "[[[1]]]", "nested too deeply"),
        (parse_matrix, "[" * 5000, "not a valid JSON list"),
        (parse_scalar, "1,2", "is a list"),
        (parse_scalar, "true", "is not a number"),
        (parse_integer, "3.5", "is not a whole number"),
        (parse_integer, "9" * 40, "too large"),
        (parse_labels, "a,,b", "name 2 is empty"),
    ],
)
def test_bad_values_name_the_flag_and_what_was_expected(parser, raw, fragment):
    with pytest.raises(InputError) as info:
        parser("--flag", raw)
    message = str(info.value)
    assert message.startswith("--flag: ")
    assert fragment in message
    assert "\n" not in message


def test_text_files_are_checked(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("héllo wörld", encoding="utf-8")
    assert read_text_file("--file", str(good)) == "héllo wörld"
    binary = tmp_path / "binary.bin"
    binary.write_bytes(b"\x00\x01\x02")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("café".encode("latin-1"))
    cases = [
        (str(tmp_path / "missing.txt"), "does not exist"),
        (str(tmp_path), "is a folder"),
        (str(binary), "looks binary"),
        (str(latin), "is not UTF-8"),
    ]
    for path, fragment in cases:
        with pytest.raises(InputError, match=fragment):
            read_text_file("--file", path)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses_or_raises_input_error(text):
    for parser in (parse_scalar, parse_vector, parse_matrix, parse_integer, parse_labels, parse_array):
        try:
            result = parser("--f", text)
        except InputError:
            continue
        if isinstance(result, np.ndarray):
            assert np.all(np.isfinite(result))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.floats(-1e5, 1e5, allow_nan=False).map(lambda v: round(v, 6)), min_size=3, max_size=3), min_size=1, max_size=5))
def test_matrix_round_trips_through_flag_syntax(rows):
    text = ";".join(",".join(repr(v) for v in row) for row in rows)
    assert parse_matrix("--x", text).tolist() == rows
