"""The quiz answer parser: accepted forms, hostile input, fuzzing, and verdicts."""

from __future__ import annotations

import ast
import builtins
import math
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nntutor.quiz.answers as answers_module
from nntutor.errors import NntutorError
from nntutor.quiz.answers import MAX_DEPTH, MAX_EXPONENT, PHRASE, AnswerError, parse_answer, verdict


@pytest.fixture
def no_python_evaluation(monkeypatch):
    """Any call to eval/exec/compile/__import__ during parsing fails the test."""

    def forbidden(*args, **kwargs):
        raise AssertionError("the answer parser must never evaluate text")

    for name in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, name, forbidden)
    yield


# --------------------------------------------------------------------------- accepted forms


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.537", 0.537),
        ("-1.25", -1.25),
        ("1.2e-3", 0.0012),
        ("1.2E+3", 1200.0),
        (".5", 0.5),
        ("5.", 5.0),
        ("  42 ", 42.0),
        ("7/13", 0.5384615384615384),  # 7 ÷ 13 = 0.538461…
        ("e^2", 7.3890560989306495),  # e² = 7.389056…
        ("e**2", 7.3890560989306495),
        ("sqrt(2)/2", 0.7071067811865476),  # √2 / 2 = 0.707107…
        ("√2/2", 0.7071067811865476),
        ("ln(2)", 0.6931471805599453),
        ("log(2)", 0.6931471805599453),  # log is the natural log
        ("log10(1000)", 3.0),
        ("log2(8)", 3.0),
        ("exp(1)", 2.718281828459045),
        ("pi/4", 0.7853981633974483),  # π/4 = 0.785398…
        ("π/4", 0.7853981633974483),
        ("PI", math.pi),
        ("2 × 0.5", 1.0),
        ("2·3", 6.0),
        ("2*3", 6.0),
        ("−3 ÷ 4", -0.75),  # Unicode minus and division sign
        ("(1 + 2) * 3", 9.0),
        ("1 + 2 * 3", 7.0),
        ("1 - 2 - 3", -4.0),  # left-associative: (1 − 2) − 3
        ("8 / 2 / 2", 2.0),  # (8 ÷ 2) ÷ 2
        ("2^3^2", 512.0),  # right-associative: 2^(3^2) = 2^9
        ("-2^2", -4.0),  # −(2²)
        ("(-2)^2", 4.0),
        ("2^-1", 0.5),
        ("--3", 3.0),
        ("+5", 5.0),
        ("1/(1 + e^-1)", 0.7310585786300049),  # σ(1) = 1 / (1 + 0.367879) = 0.731059
        ("1e-999999999", 0.0),  # tiny is fine: it is just 0
    ],
)
def test_accepted_forms(text, expected, no_python_evaluation):
    assert parse_answer(text) == pytest.approx(expected, rel=1e-15, abs=1e-300)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "2pi",  # no implicit multiplication
        "1,5",
        "3 4",
        "1.2.3",
        "sqrt 2",
        "sqrt(2",
        "(1",
        "1)",
        "*2",
        "2*",
        "2^",
        "nan",
        "inf",
        "x",
        "٣",  # an Arabic-Indic digit: only ASCII digits are numbers
        "1/0",
        "0^-1",
        "sqrt(-1)",
        "ln(0)",
        "log(-2)",
        "(-8)^(1/3)",  # a complex number in Python: refused
        "exp(710)",
        "10^308*10",
        "1e308 + 1e308",
        f"2^{MAX_EXPONENT + 1:g}",
    ],
)
def test_refused_forms(text):
    with pytest.raises(AnswerError) as info:
        parse_answer(text)
    assert str(info.value).startswith(PHRASE)


def test_answer_error_is_a_nntutor_error():
    assert issubclass(AnswerError, NntutorError)
    with pytest.raises(AnswerError) as info:
        parse_answer("2pi")
    assert "operator" in str(info.value)


# --------------------------------------------------------------------------- hostile input

HOSTILE = [
    "__import__('os').system('x')",
    "().__class__",
    "().__class__.__bases__[0].__subclasses__()",
    "9**9**9**9",
    "9^9^9^9",
    "1e999999999",
    "-1e999999999",
    "10**10**10",
    "exp(exp(exp(10)))",
    "lambda: 1",
    "open('/etc/passwd')",
    "1; import os",
    "x" * 10_000,
    "1" * 10_000,
    "(" * 10_000 + "1" + ")" * 10_000,
    "(" * 150 + "1" + ")" * 150,  # short enough to read, too deep
    "-" * 199 + "1",
    "√" * 190 + "2",
    "2^" * 99 + "2",
    "\x00",
    "1\n+1",
    "\u202e1",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_input_refused_quickly(text, no_python_evaluation):
    start = time.perf_counter()
    with pytest.raises(AnswerError):
        parse_answer(text)
    assert time.perf_counter() - start < 0.5


def test_limits_are_what_they_say():
    assert parse_answer("(" * (MAX_DEPTH - 2) + "1" + ")" * (MAX_DEPTH - 2)) == 1.0
    with pytest.raises(AnswerError, match="nested"):
        parse_answer("(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1))
    with pytest.raises(AnswerError, match="characters long"):
        parse_answer("1" + " " * 300)
    assert parse_answer("0.5^1024") == 0.5**1024  # an exponent of 1024 is allowed
    with pytest.raises(AnswerError, match="exponent"):
        parse_answer("1^1025")


def test_the_parser_source_never_evaluates():
    """No eval/exec/compile/sympify/parse_expr/__import__ call anywhere in answers.py."""
    tree = ast.parse(Path(answers_module.__file__).read_text(encoding="utf-8"))
    banned = {"eval", "exec", "compile", "sympify", "parse_expr", "__import__", "literal_eval"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            is_regex = isinstance(func, ast.Attribute) and getattr(func.value, "id", "") == "re"
            assert name not in banned or is_regex, f"answers.py calls {name}"
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [alias.name for alias in node.names] + [getattr(node, "module", "") or ""]
            assert not any("sympy" in m for m in modules)


# --------------------------------------------------------------------------- fuzzing

GRAMMAR_ALPHABET = "0123456789.eE+-*/^() πpisqrtlnexpog10√−×÷·,x_'"


def _only_float_or_answer_error(text: str) -> None:
    try:
        value = parse_answer(text)
    except AnswerError:
        return
    assert isinstance(value, float) and math.isfinite(value)


@pytest.mark.slow
@given(st.text(max_size=300))
@settings(max_examples=1000, deadline=500)
def test_fuzz_arbitrary_text(text):
    _only_float_or_answer_error(text)


@pytest.mark.slow
@given(st.text(alphabet=GRAMMAR_ALPHABET, max_size=80))
@settings(max_examples=2000, deadline=500)
def test_fuzz_grammar_like_text(text):
    _only_float_or_answer_error(text)


# --------------------------------------------------------------------------- against a reference


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Neg:
    operand: object


@dataclass(frozen=True)
class Bin:
    op: str  # + - * / ^
    left: object
    right: object


class Refused(Exception):
    """The reference says this expression has no finite real value (or breaks a limit)."""


def finite(x):
    if isinstance(x, complex) or not math.isfinite(x):
        raise Refused
    return x


def reference(node) -> float:
    """Python's own float operators applied to the tree (no text is evaluated)."""
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Neg):
        return -reference(node.operand)
    a, b = reference(node.left), reference(node.right)
    try:
        if node.op == "+":
            return finite(a + b)
        if node.op == "-":
            return finite(a - b)
        if node.op == "*":
            return finite(a * b)
        if node.op == "/":
            if b == 0:
                raise Refused
            return finite(a / b)
        if abs(b) > MAX_EXPONENT:
            raise Refused
        return finite(a**b)
    except (OverflowError, ZeroDivisionError):
        raise Refused from None


PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "^": 4}
SPELLINGS = {"+": ["+"], "-": ["-", "−"], "*": ["*", "×", "·"], "/": ["/", "÷"], "^": ["^", "**"]}


def render(node, draw) -> tuple[str, int]:
    """The tree as text with the fewest parentheses its precedence needs (plus random extra ones)."""

    def wrap(text_prec, needed):
        text, prec = text_prec
        if prec < needed or draw(st.integers(0, 9)) == 0:
            return f"({text})"
        return text

    if isinstance(node, Num):
        return repr(node.value), 5
    if isinstance(node, Neg):
        return draw(st.sampled_from(["-", "−"])) + wrap(render(node.operand, draw), 3), 3
    prec = PRECEDENCE[node.op]
    if node.op == "^":
        left = wrap(render(node.left, draw), 5)  # a base is an atom: (-2)^2, (a^b)^c
        right = wrap(render(node.right, draw), 3)  # an exponent may be -x or a^b (right-assoc)
    else:
        left = wrap(render(node.left, draw), prec)
        right = wrap(render(node.right, draw), prec + 1)  # left-assoc: a - (b - c) needs them
    return f"{left} {draw(st.sampled_from(SPELLINGS[node.op]))} {right}", prec


numbers = st.one_of(
    st.integers(0, 50).map(float),
    st.integers(0, 10_000).map(lambda i: i / 100),
    st.floats(0, 1e6, allow_nan=False, allow_infinity=False),
)
trees = st.recursive(
    numbers.map(Num),
    lambda sub: st.one_of(
        sub.map(Neg),
        st.builds(Bin, st.sampled_from("+-*/^"), sub, sub),
    ),
    max_leaves=8,
)


@pytest.mark.slow
@given(trees, st.data())
@settings(max_examples=1000, deadline=None)
def test_parser_agrees_with_reference(tree, data):
    text, _ = render(tree, data.draw)
    if len(text) > answers_module.MAX_LENGTH:
        with pytest.raises(AnswerError):
            parse_answer(text)
        return
    try:
        expected = reference(tree)
    except Refused:
        with pytest.raises(AnswerError):
            parse_answer(text)
        return
    got = parse_answer(text)
    # Same float operations in the same order: the same bits (−0 and 0 compare equal).
    assert got == expected, text


# --------------------------------------------------------------------------- verdicts


def test_verdict_tolerances():
    # default: within 1% relative or 0.005 absolute
    assert verdict(0.5385, 0.537)  # off by 0.0015 ≤ 0.005
    assert not verdict(0.5385, 0.52)  # off by 0.0185 > 0.005 and > 1% of 0.5385 (0.005385)
    assert verdict(200.0, 201.9)  # off by 1.9 ≤ 1% of 200 = 2
    assert not verdict(200.0, 202.1)  # off by 2.1 > 2
    assert verdict(0.0, 0.004)  # absolute tolerance near zero
    assert not verdict(0.0, 0.006)
    assert verdict(-1.25, -1.26)  # off by 0.01 ≤ 1% of 1.25 = 0.0125
    assert not verdict(-1.25, 1.25)
    assert verdict(1.0, 1.05, rel=0.1, abs_=0.0)
    assert not verdict(1.0, 1.05, rel=0.01, abs_=0.0)


def test_verdict_integers_are_exact():
    assert verdict(3, 3.0, integer=True)
    assert verdict(3, parse_answer("6/2"), integer=True)
    assert not verdict(3, 3.001, integer=True)
    assert not verdict(3, 2.999, integer=True)
    assert not verdict(9, 9.04, integer=True)  # within 1%, still wrong for a count


def test_verdict_never_accepts_non_finite():
    assert not verdict(float("nan"), float("nan"))
    assert not verdict(1.0, float("inf"))
    assert not verdict(float("inf"), float("inf"))


@given(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6))
@settings(max_examples=300)
def test_verdict_property(expected, given_value):
    ok = verdict(expected, given_value)
    diff = abs(given_value - expected)
    assert ok == (diff <= 0.005 or diff <= 0.01 * abs(expected))
    assert verdict(expected, expected)
