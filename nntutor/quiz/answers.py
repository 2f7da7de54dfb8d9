"""Reading a learner's numeric answer safely, and judging it.

Answers may be written as plain numbers or as small arithmetic expressions::

    0.537   -1.25   1.2e-3   7/13   e^2   sqrt(2)/2   ln(2)   pi/4   2 × 0.5   √2

>>> parse_answer("sqrt(2)/2")
0.7071067811865476
>>> parse_answer("7/13")
0.5384615384615384
>>> parse_answer("-2^2")          # the power binds tighter than the minus sign
-4.0
>>> parse_answer("system(1)")
Traceback (most recent call last):
  ...
nntutor.quiz.answers.AnswerError: could not read that as a number: 'system' is not a known name (known: e, pi, sqrt, exp, ln, log, log10, log2)

The text is never evaluated by Python (no ``eval``, no ``sympify``, no
``parse_expr``: all of them can run code). A small recursive-descent parser of
our own reads it, allowing only:

- numbers written with ASCII digits: ``12``, ``0.5``, ``.5``, ``1.2e-3``;
- ``+``, ``-`` (also ``−``), ``*`` (also ``×``, ``·``, ``⋅``), ``/`` (also ``÷``),
  ``^`` and ``**`` (right-associative, and tighter than a leading minus:
  ``-2^2 = -4``, ``2^3^2 = 2^9``), parentheses;
- the constants ``e`` and ``pi`` (also ``π``);
- the functions ``sqrt`` (also ``√x``), ``exp``, ``ln``, ``log`` (natural, like
  ``ln``), ``log10`` and ``log2``, each with parentheses: ``ln(2)``.

There is no implicit multiplication (``2pi`` must be written ``2*pi``), and
limits keep every input cheap: at most :data:`MAX_LENGTH` characters,
:data:`MAX_DEPTH` levels of nesting, exponents of magnitude at most
:data:`MAX_EXPONENT`, and every intermediate result must be a finite real
number (``9**9**9**9``, ``1e999999999``, ``1/0``, ``sqrt(-1)`` are refused).
Anything else raises :class:`AnswerError`, whose message starts with
"could not read that as a number".
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from nntutor.errors import NntutorError

MAX_LENGTH = 200
MAX_DEPTH = 40  # parentheses, function calls, signs, √ and exponents, counted together
MAX_EXPONENT = 1024.0

PHRASE = "could not read that as a number"


class AnswerError(NntutorError):
    """An answer that is not a readable number; ask the question again."""

    def __init__(self, reason: str = "", position: int | None = None) -> None:
        self.reason = reason
        self.position = position
        self.message = f"{PHRASE}: {reason}" if reason else PHRASE
        super().__init__(self.message)


CONSTANTS: dict[str, float] = {"e": math.e, "pi": math.pi, "π": math.pi}


def _sqrt(x: float) -> float:
    if x < 0:
        raise AnswerError(f"sqrt of a negative number ({x!r}) is not a real number")
    return math.sqrt(x)


def _log_of(name: str, log: Callable[[float], float]) -> Callable[[float], float]:
    def apply(x: float) -> float:
        if x <= 0:
            raise AnswerError(f"{name} needs a positive number, got {x!r}")
        return log(x)

    return apply


def _exp(x: float) -> float:
    if x > 709.0:
        raise AnswerError(f"exp({x!r}) is too large")
    return math.exp(x)


FUNCTIONS: dict[str, Callable[[float], float]] = {
    "sqrt": _sqrt,
    "exp": _exp,
    "ln": _log_of("ln", math.log),
    "log": _log_of("log", math.log),
    "log10": _log_of("log10", math.log10),
    "log2": _log_of("log2", math.log2),
}
KNOWN_NAMES = ", ".join(["e", "pi", *FUNCTIONS])

# Unicode spellings -> ASCII operators (one character each, so positions are kept).
_SYMBOLS = {"−": "-", "×": "*", "·": "*", "⋅": "*", "÷": "/"}
_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z]+[0-9]*")
_SPACE = " \t"


class _Parser:
    """Recursive descent over the grammar::

    expr  := term (('+' | '-') term)*
    term  := unary (('*' | '/') unary)*
    unary := ('+' | '-') unary | power
    power := atom (('^' | '**') unary)?
    atom  := NUMBER | CONSTANT | FUNCTION '(' expr ')' | '(' expr ')' | '√' atom
    """

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0

    # -- token helpers
    def peek(self) -> tuple[str, object, int]:
        return self.tokens[self.index]

    def take(self) -> tuple[str, object, int]:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, kind: str, what: str) -> None:
        token = self.take()
        if token[0] != kind:
            raise AnswerError(f"expected {what} at position {token[2] + 1}", token[2])

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise AnswerError(f"nested more than {MAX_DEPTH} levels deep")

    # -- grammar
    def parse(self) -> float:
        value = self.expr()
        kind, _, position = self.peek()
        if kind != "end":
            hint = ""
            if kind in ("number", "name", "(", "√"):
                hint = " (put an operator between two values, e.g. 2*pi, not 2pi)"
            raise AnswerError(f"unexpected {_describe(self.peek())} at position {position + 1}{hint}", position)
        return value

    def expr(self) -> float:
        value = self.term()
        while self.peek()[0] in ("+", "-"):
            op = self.take()[0]
            right = self.term()
            value = _finite(value + right if op == "+" else value - right)
        return value

    def nested_expr(self) -> float:
        """An expression one level deeper: inside parentheses or a function call."""
        self.nest()
        value = self.expr()
        self.depth -= 1
        return value

    def term(self) -> float:
        value = self.unary()
        while self.peek()[0] in ("*", "/"):
            op = self.take()[0]
            right = self.unary()
            if op == "*":
                value = _finite(value * right)
            else:
                if right == 0:
                    raise AnswerError("division by zero")
                value = _finite(value / right)
        return value

    def unary(self) -> float:
        kind = self.peek()[0]
        if kind not in ("+", "-"):
            return self.power()
        self.take()
        self.nest()
        value = self.unary()
        self.depth -= 1
        return -value if kind == "-" else value

    def power(self) -> float:
        base = self.atom()
        if self.peek()[0] != "^":
            return base
        self.take()
        self.nest()
        exponent = self.unary()
        self.depth -= 1
        return _power(base, exponent)

    def atom(self) -> float:
        token = self.take()
        kind, value, position = token
        if kind == "number":
            return value  # type: ignore[return-value]
        if kind == "name":
            name = str(value)
            if name in CONSTANTS:
                return CONSTANTS[name]
            if name in FUNCTIONS:
                self.expect("(", f"'(' after {name}")
                argument = self.nested_expr()
                self.expect(")", "')'")
                return _finite(FUNCTIONS[name](argument))
            raise AnswerError(f"{name!r} is not a known name (known: {KNOWN_NAMES})", position)
        if kind == "(":
            inner = self.nested_expr()
            self.expect(")", "')'")
            return inner
        if kind == "√":
            self.nest()
            inner = self.atom()
            self.depth -= 1
            return _finite(_sqrt(inner))
        if kind == "end":
            raise AnswerError("the answer ends too early" if position else "the answer is empty", position)
        raise AnswerError(f"unexpected {_describe(token)} at position {position + 1}", position)


def _describe(token: tuple[str, object, int]) -> str:
    kind, value, _ = token
    if kind == "end":
        return "end of the answer"
    if kind == "number":
        return f"number {value!r}"
    if kind == "name":
        return repr(value)
    return repr("**" if kind == "^" and value == "**" else kind)


def _finite(x: float) -> float:
    if isinstance(x, complex):
        raise AnswerError("the result is not a real number")
    if not math.isfinite(x):
        raise AnswerError("the result is too large")
    return float(x)


def _power(base: float, exponent: float) -> float:
    if abs(exponent) > MAX_EXPONENT:
        raise AnswerError(f"the exponent {exponent!r} is too large (at most {MAX_EXPONENT:g} in size)")
    if base == 0 and exponent < 0:
        raise AnswerError("0 to a negative power is a division by zero")
    if base < 0 and not float(exponent).is_integer():
        raise AnswerError("a negative number to a fractional power is not a real number")
    try:
        result = base**exponent
    except (OverflowError, ZeroDivisionError):
        raise AnswerError("the result is too large") from None
    return _finite(result)


def _tokenize(text: str) -> list[tuple[str, object, int]]:
    tokens: list[tuple[str, object, int]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _SPACE:
            i += 1
            continue
        ch = _SYMBOLS.get(ch, ch)
        if ch == "*" and i + 1 < n and text[i + 1] == "*":
            tokens.append(("^", "**", i))
            i += 2
            continue
        if ch in "+-*/^()√π":
            if ch == "π":
                tokens.append(("name", "π", i))
            else:
                tokens.append((ch, ch, i))
            i += 1
            continue
        match = _NUMBER.match(text, i)
        if match:
            literal = match.group()
            value = float(literal)
            if not math.isfinite(value):
                raise AnswerError(f"the number {literal!r} is too large", i)
            tokens.append(("number", value, i))
            i = match.end()
            continue
        match = _NAME.match(text, i)
        if match:
            tokens.append(("name", match.group().lower(), i))
            i = match.end()
            continue
        if ch == ",":
            raise AnswerError("',' is not allowed: write decimals with a point, e.g. 0.5", i)
        shown = repr(ch) if ch.isprintable() else f"U+{ord(ch):04X}"
        raise AnswerError(f"the character {shown} at position {i + 1} is not allowed", i)
    tokens.append(("end", None, n))
    return tokens


def parse_answer(text: str) -> float:
    """The number a learner typed, as a finite float, or :class:`AnswerError`.

    >>> parse_answer("1.2e-3"), parse_answer("e^2"), parse_answer("pi/4")
    (0.0012, 7.3890560989306495, 0.7853981633974483)
    """
    if not isinstance(text, str):
        raise AnswerError("expected text")
    if len(text) > MAX_LENGTH:
        raise AnswerError(f"the answer is {len(text):,} characters long; at most {MAX_LENGTH} are read")
    stripped = text.strip()
    if not stripped:
        raise AnswerError("the answer is empty")
    offset = len(text) - len(text.lstrip())
    try:
        return _Parser(stripped).parse()
    except AnswerError as exc:
        if exc.position is not None:
            exc.position += offset
        raise
    except (RecursionError, MemoryError, OverflowError, ValueError, ZeroDivisionError):  # pragma: no cover
        # Not expected (every limit is checked above); never let another error escape.
        raise AnswerError("the expression could not be computed") from None


def verdict(expected: float, given: float, *, rel: float = 0.01, abs_: float = 0.005, integer: bool = False) -> bool:
    """Is ``given`` a right answer to a question whose answer is ``expected``?

    Right when within ``rel`` (relative to ``expected``) or within ``abs_``;
    integer answers (counts, indices, token ids) must be exact.

    >>> verdict(0.5385, 0.537), verdict(0.5385, 0.52)
    (True, False)
    >>> verdict(3, 3.0, integer=True), verdict(3, 3.001, integer=True)
    (True, False)
    """
    expected, given = float(expected), float(given)
    if not (math.isfinite(expected) and math.isfinite(given)):
        return False
    if integer:
        return given == expected
    difference = abs(given - expected)
    return difference <= abs_ or difference <= rel * abs(expected)
