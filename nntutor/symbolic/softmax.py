"""The softmax Jacobian and the cross-entropy gradient derived by sympy, exactly.

sympy is imported inside the functions only. The expressions are built from
generated symbol names (z0, z1 …, T), never from anything a learner typed; the
numbers are substituted as exact binary values of the float64 inputs and the
results evaluated with 40 significant digits.

Two logits [0, 0] at T = 1: p = [1/2, 1/2], so ∂p₀/∂z₀ = p₀(1 − p₀) = 1/4 and
∂p₀/∂z₁ = −p₀p₁ = −1/4:

>>> jacobian, _ = softmax_jacobian_exact([0.0, 0.0], 1.0)
>>> jacobian.tolist()
[[0.25, -0.25], [-0.25, 0.25]]
"""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_SYMBOLIC_CLASSES = 5  # sympy's work grows fast with n: n² derivatives of a quotient of n exponentials
DIGITS = 40


def softmax_expressions(n: int) -> tuple[Any, Any, Any]:
    """``(z, T, p)``: the symbols z0 … z(n−1) and T, and pᵢ = e^(zᵢ/T) / Σⱼ e^(zⱼ/T) as sympy objects."""
    import sympy as sp

    if not 1 <= n <= MAX_SYMBOLIC_CLASSES:
        raise ValueError(f"the symbolic softmax is built for 1 to {MAX_SYMBOLIC_CLASSES} classes, not {n}")
    z = sp.symbols(f"z0:{n}", real=True)
    t = sp.Symbol("T", positive=True)
    total = sum(sp.exp(zj / t) for zj in z)
    return z, t, [sp.exp(zi / t) / total for zi in z]


def _substitutions(z, t, logits, temperature: float) -> dict[Any, Any]:
    import sympy as sp

    values = {zi: sp.Float(float(x), DIGITS) for zi, x in zip(z, logits, strict=True)}
    values[t] = sp.Float(float(temperature), DIGITS)
    return values


def softmax_jacobian_exact(logits, temperature: float = 1.0) -> tuple[np.ndarray, str]:
    """``(J, latex)``: ∂pᵢ/∂zⱼ differentiated by sympy and evaluated at these logits,
    and the LaTeX of the derivative ∂p₀/∂z₀ as sympy simplified it.

    >>> jacobian, latex = softmax_jacobian_exact([0.0, 0.0], 2.0)  # every entry halved at T = 2
    >>> jacobian.tolist()
    [[0.125, -0.125], [-0.125, 0.125]]
    """
    import sympy as sp

    logits = np.asarray(logits, dtype=np.float64).ravel()
    z, t, p = softmax_expressions(logits.size)
    values = _substitutions(z, t, logits, temperature)
    jacobian = np.array(
        [[float(sp.diff(pi, zj).evalf(DIGITS, subs=values)) for zj in z] for pi in p], dtype=np.float64
    )
    return jacobian, sp.latex(sp.simplify(sp.diff(p[0], z[0])))


def cross_entropy_gradient_exact(logits, target: int, temperature: float = 1.0) -> np.ndarray:
    """∂L/∂zⱼ for L = −ln pₜ with p = softmax(z/T), differentiated by sympy and evaluated here.

    Logits [0, 0] at T = 1, target 0: p = [1/2, 1/2] and ∂L/∂z = (p − y)/T = [−1/2, 1/2].

    >>> cross_entropy_gradient_exact([0.0, 0.0], 0).tolist()
    [-0.5, 0.5]
    """
    import sympy as sp

    logits = np.asarray(logits, dtype=np.float64).ravel()
    z, t, p = softmax_expressions(logits.size)
    loss = -sp.log(p[int(target)])
    values = _substitutions(z, t, logits, temperature)
    return np.array([float(sp.diff(loss, zj).evalf(DIGITS, subs=values)) for zj in z], dtype=np.float64)
