"""Layer norm of one short row differentiated exactly with sympy (imported lazily).

For the backprop-layernorm lesson's proof: the Jacobian ∂y/∂x of
yᵢ = γᵢ·(xᵢ − μ)/√(σ² + ε) + βᵢ built from sympy Symbols, differentiated
symbolically, then evaluated at the given numbers (each float taken as the exact
rational it stands for). Nothing a learner typed is parsed by sympy.

sympy is imported inside the functions, so importing this module costs nothing.

Example (needs sympy): for x = [0, 2], γ = 1, ε = 0 (μ = 1, σ = 1) the Jacobian is
(1/σ)(I − 1/d − x̂x̂ᵀ/d) = [[1 − ½ − ½, −½ + ½], [−½ + ½, 1 − ½ − ½]] = 0: with two
features x̂ is always [−1, 1] or [1, −1], whatever x is::

    >>> layer_norm_jacobian([0.0, 2.0], [1.0, 1.0], 0.0).values.tolist()
    [[0.0, 0.0], [0.0, 0.0]]
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# Exact symbolic Jacobians stop being quick (and readable) past a few features.
MAX_SYMBOLIC_FEATURES = 4


class SymbolicJacobian(NamedTuple):
    """∂y/∂x of one row: its first entry as formulas, and every entry's value."""

    entry_latex: str  # ∂y₀/∂x₀ as LaTeX, in the symbols x₀ … x_{d−1}, γ₀, ε
    entry_text: str  # the same, as sympy prints it
    values: np.ndarray  # d × d: values[i, j] = ∂yᵢ/∂xⱼ at the given numbers


class SymbolicGradients(NamedTuple):
    """The gradients of L = Σᵢ dyᵢ·yᵢ for one row, exact and then rounded to float."""

    dx: np.ndarray
    dgamma: np.ndarray
    dbeta: np.ndarray


def _row(x, gamma, beta):
    import sympy

    d = len(x)
    if not 1 <= d <= MAX_SYMBOLIC_FEATURES:
        raise ValueError(f"a row of 1 to {MAX_SYMBOLIC_FEATURES} features is derived exactly, got {d}")
    xs = sympy.symbols(f"x0:{d}", real=True)
    gs = sympy.symbols(f"gamma0:{d}", real=True)
    bs = sympy.symbols(f"beta0:{d}", real=True)
    eps = sympy.Symbol("epsilon", positive=True)
    mean = sum(xs) / d
    var = sum((xi - mean) ** 2 for xi in xs) / d
    ys = [g * (xi - mean) / sympy.sqrt(var + eps) + b for xi, g, b in zip(xs, gs, bs, strict=True)]
    point = {s: sympy.Rational(float(v)) for s, v in zip(xs, x, strict=True)}
    point.update({s: sympy.Rational(float(v)) for s, v in zip(gs, gamma, strict=True)})
    point.update({s: sympy.Rational(float(v)) for s, v in zip(bs, beta, strict=True)})
    return sympy, xs, gs, bs, eps, ys, point


def _value(sympy, expr, point) -> float:
    return float(sympy.N(expr.subs(point), 30))


def layer_norm_jacobian(x, gamma, eps: float) -> SymbolicJacobian:
    """∂yᵢ/∂xⱼ for one row ``x`` (1 to 4 features), exact, evaluated at ``x``, ``gamma``, ``eps``."""
    sympy, xs, _, _, e, ys, point = _row(x, gamma, np.zeros(len(x)))
    point[e] = sympy.Rational(float(eps))
    jacobian = sympy.Matrix(ys).jacobian(xs)
    d = len(xs)
    values = np.array([[_value(sympy, jacobian[i, j], point) for j in range(d)] for i in range(d)])
    entry = sympy.simplify(jacobian[0, 0])
    return SymbolicJacobian(sympy.latex(entry), sympy.sstr(entry), values)


def layer_norm_gradients(x, gamma, beta, eps: float, dy) -> SymbolicGradients:
    """∂L/∂x, ∂L/∂γ, ∂L/∂β for L = Σᵢ dyᵢ·yᵢ over one row, each derivative taken symbolically."""
    sympy, xs, gs, bs, e, ys, point = _row(x, gamma, beta)
    point[e] = sympy.Rational(float(eps))
    loss = sum(sympy.Rational(float(g)) * y for g, y in zip(dy, ys, strict=True))

    def grad(symbols):
        return np.array([_value(sympy, sympy.diff(loss, s), point) for s in symbols])

    return SymbolicGradients(grad(xs), grad(gs), grad(bs))
