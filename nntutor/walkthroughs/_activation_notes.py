"""How each activation is written and worked out for one number.

>>> from nntutor.walkthroughs._common import Context
>>> activation_worked(Context(), "sigmoid", 0.15)
'σ(0.15) = 1 / (1 + e^(-0.15)) = 1 / (1 + 0.8607) = 0.5374'
"""

from __future__ import annotations

import math

from nntutor.core import activations
from nntutor.walkthroughs._common import Context

# name -> (LaTeX, plain text)
FORMULAS: dict[str, tuple[str, str]] = {
    "relu": (r"\mathrm{ReLU}(z) = \max(0, z)", "ReLU(z) = max(0, z)"),
    "leaky-relu": (
        r"\mathrm{LeakyReLU}(z) = \begin{cases} z & z > 0 \\ \alpha z & z \le 0 \end{cases}",
        "LeakyReLU(z) = z if z > 0, else α·z",
    ),
    "sigmoid": (r"\sigma(z) = \frac{1}{1 + e^{-z}}", "σ(z) = 1 / (1 + e^(−z))"),
    "tanh": (r"\tanh(z) = \frac{e^{z} - e^{-z}}{e^{z} + e^{-z}}", "tanh(z) = (e^z − e^(−z)) / (e^z + e^(−z))"),
    "gelu": (
        r"\mathrm{GELU}(z) = z\,\Phi(z) = \tfrac{1}{2} z \left(1 + \mathrm{erf}(z/\sqrt{2})\right)",
        "GELU(z) = z·Φ(z) = ½·z·(1 + erf(z/√2))",
    ),
    "gelu-tanh": (
        r"\mathrm{GELU}_{\tanh}(z) = \tfrac{1}{2} z \left(1 + \tanh\left(\sqrt{2/\pi}\,(z + 0.044715 z^3)\right)\right)",
        "GELU≈(z) = ½·z·(1 + tanh(√(2/π)·(z + 0.044715·z³)))",
    ),
    "identity": (r"f(z) = z", "f(z) = z"),
}


def activation_worked(ctx: Context, name: str, z: float, *, alpha: float = 0.01) -> str:
    """One activation applied to ``z``, every operation shown."""
    z = float(z)
    y = float(activations.activate(name, z, alpha=alpha))
    n, f = ctx.n, ctx.f
    if name == "relu":
        return f"ReLU({n(z)}) = max(0, {n(z)}) = {n(y)}"
    if name == "leaky-relu":
        if z > 0:
            return f"LeakyReLU({n(z)}) = {n(z)} (positive, passed through)"
        return f"LeakyReLU({n(z)}) = α·z = {n(alpha)}×{f(z)} = {n(y)}"
    if name == "sigmoid":
        e = math.exp(-z) if -z < 700 else math.inf
        return f"σ({n(z)}) = 1 / (1 + e^({n(-z)})) = 1 / (1 + {n(e)}) = {n(y)}"
    if name == "tanh":
        if abs(z) > 350:
            return f"tanh({n(z)}) = {n(y)} (saturated)"
        a, b = math.exp(z), math.exp(-z)
        return f"tanh({n(z)}) = ({n(a)} − {n(b)}) / ({n(a)} + {n(b)}) = {n(y)}"
    if name == "gelu":
        phi = 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
        return f"GELU({n(z)}) = {n(z)} × Φ({n(z)}) = {f(z)} × {n(phi)} = {n(y)}"
    if name == "gelu-tanh":
        inner = math.sqrt(2.0 / math.pi) * (z + 0.044715 * z**3)
        return f"GELU≈({n(z)}) = ½×{f(z)}×(1 + tanh({n(inner)})) = {n(y)}"
    return f"f({n(z)}) = {n(y)}"


NAMES: dict[str, str] = {
    "relu": "ReLU",
    "leaky-relu": "LeakyReLU",
    "sigmoid": "σ",
    "tanh": "tanh",
    "gelu": "GELU",
    "gelu-tanh": "GELU≈",
    "identity": "id",
}


def derivative_worked(ctx: Context, name: str, z: float, *, alpha: float = 0.01) -> str:
    """f'(z) for one number, written in the activation's own short form.

    >>> derivative_worked(Context(), "tanh", 1.0)
    "tanh'(1) = 1 − tanh²(1) = 1 − 0.7616² = 0.42"
    """
    z = float(z)
    d = float(activations.derivative(name, z, alpha=alpha))
    n, f = ctx.n, ctx.f
    label = NAMES.get(name, name)
    if name == "relu":
        if z > 0:
            return f"ReLU'({n(z)}) = 1 (z > 0: the slope of z)"
        if z == 0:
            return "ReLU'(0) = 0 (z = 0 takes the flat branch: the convention PyTorch uses)"
        return f"ReLU'({n(z)}) = 0 (z < 0: the slope of the flat part)"
    if name == "leaky-relu":
        if z > 0:
            return f"LeakyReLU'({n(z)}) = 1 (z > 0)"
        return f"LeakyReLU'({n(z)}) = α = {n(d)} (z ≤ 0)"
    if name == "sigmoid":
        s = float(activations.sigmoid(z))
        return f"σ'({n(z)}) = σ(z)·(1 − σ(z)) = {n(s)}×(1 − {n(s)}) = {n(d)}"
    if name == "tanh":
        t = math.tanh(z)
        return f"tanh'({n(z)}) = 1 − tanh²({n(z)}) = 1 − {f(t)}² = {n(d)}"
    if name == "gelu":
        cdf = 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
        pdf = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
        return f"GELU'({n(z)}) = Φ(z) + z·φ(z) = {n(cdf)} + {f(z)}×{n(pdf)} = {n(d)}"
    if name == "gelu-tanh":
        u = math.sqrt(2.0 / math.pi) * (z + 0.044715 * z**3)
        t = math.tanh(u)
        first = 0.5 * (1.0 + t)
        second = 0.5 * z * (1.0 - t * t) * math.sqrt(2.0 / math.pi) * (1.0 + 0.134145 * z * z)
        return (
            f"GELU≈'({n(z)}) = ½(1 + t) + ½·z·(1 − t²)·√(2/π)·(1 + 0.134145·z²) with t = tanh({n(u)}) = {n(t)}: "
            f"{n(first)} + {f(second)} = {n(d)}"
        )
    return f"{label}'({n(z)}) = {n(d)}"
