"""Derivations done by sympy: formulas derived, not typed in.

sympy is imported only inside this module's functions (it takes a second to
load and most lessons never need it). Every function here is small and takes
plain names and numbers, never user text: nothing a learner types is parsed by
sympy.

>>> activation_derivative_latex("sigmoid")[1]
'\\\\frac{e^{- z}}{\\\\left(1 + e^{- z}\\\\right)^{2}}'
"""

from __future__ import annotations

from functools import cache
from typing import Any

# The activations sympy can differentiate here (names as in nntutor.core.activations).
ACTIVATION_NAMES = ("relu", "leaky-relu", "sigmoid", "tanh", "gelu", "gelu-tanh", "identity")


@cache
def activation_expressions(name: str) -> tuple[Any, Any, Any]:
    """``(z, f(z), f'(z))`` as sympy objects, f' obtained with ``sympy.diff``.

    ReLU and leaky ReLU are written as piecewise functions whose first branch is
    ``z > 0``; differentiating branch by branch then gives 0 (or α) at z = 0,
    the convention PyTorch uses where the derivative does not exist.
    Leaky ReLU keeps its slope as the symbol ``alpha``.
    """
    import sympy as sp

    z = sp.Symbol("z", real=True)
    if name == "relu":
        f = sp.Piecewise((z, z > 0), (0, True))
    elif name == "leaky-relu":
        alpha = sp.Symbol("alpha", positive=True)
        f = sp.Piecewise((z, z > 0), (alpha * z, True))
    elif name == "sigmoid":
        f = 1 / (1 + sp.exp(-z))
    elif name == "tanh":
        f = sp.tanh(z)
    elif name == "gelu":
        f = z / 2 * (1 + sp.erf(z / sp.sqrt(2)))
    elif name == "gelu-tanh":
        c = sp.Float("0.044715")
        f = z / 2 * (1 + sp.tanh(sp.sqrt(2 / sp.pi) * (z + c * z**3)))
    elif name == "identity":
        f = z
    else:
        raise KeyError(f"no symbolic form for activation {name!r}")
    return z, f, sp.diff(f, z)


@cache
def activation_derivative_latex(name: str) -> tuple[str, str]:
    """``(LaTeX of f(z), LaTeX of f'(z))`` for one activation."""
    import sympy as sp

    _, f, df = activation_expressions(name)
    return sp.latex(f), sp.latex(df)


@cache
def activation_derivative_text(name: str) -> tuple[str, str]:
    """``(f(z), f'(z))`` on one line of plain text, e.g. ``'1 - tanh(z)^2'``."""
    _, f, df = activation_expressions(name)
    return _plain(f), _plain(df)


def activation_derivative_at(name: str, points, alpha: float = 0.01) -> list[float]:
    """f'(z) evaluated from the sympy derivative itself (substitution, no NumPy)."""
    import sympy as sp

    z, _, df = activation_expressions(name)
    expr = df.subs(sp.Symbol("alpha", positive=True), sp.Float(alpha)) if name == "leaky-relu" else df
    return [float(expr.subs(z, sp.Float(float(p))).evalf(30)) for p in points]


def sigmoid_derivative_is_s_times_one_minus_s() -> bool:
    """True when sympy confirms σ'(z) = σ(z)·(1 − σ(z)) (shown in the activations lesson)."""
    import sympy as sp

    _, f, df = activation_expressions("sigmoid")
    return sp.simplify(df - f * (1 - f)) == 0


def _plain(expr: Any) -> str:
    """sympy's one-line form, with ``^`` for powers, ``·`` for products, ``√`` for roots.

    A piecewise function reads ``z if z > 0, else 0``.
    """
    import sympy as sp

    if isinstance(expr, sp.Piecewise):
        parts = []
        for value, condition in expr.args:
            if condition == sp.true:
                parts.append(f"else {_plain(value)}")
            else:
                parts.append(f"{_plain(value)} if {_plain(condition)}")
        return ", ".join(parts)
    text = sp.sstr(expr)
    for old, new in (("**", "^"), ("*", "·"), ("sqrt", "√"), ("alpha", "α"), ("pi", "π")):
        text = text.replace(old, new)
    return text
