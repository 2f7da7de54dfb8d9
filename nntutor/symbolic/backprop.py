"""Exact derivatives with sympy for the backprop and tiny-mlp lessons.

sympy is imported inside the functions, so importing this module costs nothing;
only the lessons that call it load sympy. Expressions are built from sympy
Symbols and numbers only: nothing a learner typed is ever parsed by sympy.

Example (needs sympy): for f = v·ReLU(w·x + b), ∂f/∂w = v·step(w·x + b)·x, which
at w = 2, b = −1, v = 3, x = 1 is 3·1·1 = 3::

    >>> d = tiny_mlp_derivatives({"w1": 2.0, "b1": -1.0, "v1": 3.0, "w2": 0.0, "b2": 0.0,
    ...                           "v2": 0.0, "c": 0.0}, 1.0)
    >>> d["w1"].value
    3.0
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import numpy as np

# A network this large or larger gets no symbolic derivation (the expressions
# grow with every parameter and stop being readable long before sympy tires).
MAX_SYMBOLIC_PARAMS = 60


class Derivation(NamedTuple):
    """One exact derivative: as LaTeX, as plain text, and its value at the given point."""

    name: str  # e.g. "W1[0,1]"
    latex: str  # "\frac{\partial L}{\partial W^{(1)}_{0,1}} = …"
    text: str  # "∂L/∂W1[0,1] = …"
    value: float  # the exact expression evaluated (30 significant digits, then rounded to float)


class NetworkSymbolic(NamedTuple):
    """The loss of the two-layer network written with sympy, and its derivatives."""

    loss_latex: str
    loss_text: str
    definitions: tuple[tuple[str, str], ...]  # (LaTeX, text) of z1ᵢ = …, z2ₖ = …
    derivations: tuple[Derivation, ...]


def _true_if_real(z):
    """True when sympy knows ``z`` is real; otherwise unknown (None), never False."""
    return True if z.is_real else None


@functools.cache
def _functions():
    """sympy Function classes for σ, ReLU and its step derivative (built once, on demand)."""
    import sympy

    class Step(sympy.Function):
        """step(z) = 1 for z > 0, else 0 (ReLU's derivative; 0 at z = 0, as PyTorch)."""

        @classmethod
        def eval(cls, z):
            if z.is_Number:
                return sympy.Integer(1) if z > 0 else sympy.Integer(0)
            return None

        def fdiff(self, argindex=1):
            return sympy.Integer(0)

        # Facts for a real argument: step is 0 or 1. Stating them spares sympy's assumption
        # system a long search each time differentiation asks "is this term zero?".
        def _eval_is_real(self):
            return _true_if_real(self.args[0])

        def _eval_is_finite(self):
            return _true_if_real(self.args[0])

        def _eval_is_nonnegative(self):
            return _true_if_real(self.args[0])

        def _latex(self, printer):
            return r"\mathbb{1}\left[" + printer._print(self.args[0]) + r" > 0\right]"

    class Sigmoid(sympy.Function):
        """σ(z) = 1/(1 + e^(−z)), with σ' = σ(1 − σ)."""

        @classmethod
        def eval(cls, z):
            if z.is_Number:
                return 1 / (1 + sympy.exp(-z))
            return None

        def fdiff(self, argindex=1):
            s = Sigmoid(self.args[0])
            return s * (1 - s)

        # For a real argument σ lies strictly between 0 and 1.
        def _eval_is_real(self):
            return _true_if_real(self.args[0])

        def _eval_is_finite(self):
            return _true_if_real(self.args[0])

        def _eval_is_positive(self):
            return _true_if_real(self.args[0])

        def _latex(self, printer):
            return r"\sigma\left(" + printer._print(self.args[0]) + r"\right)"

    class Relu(sympy.Function):
        """ReLU(z) = max(0, z), with ReLU' = step."""

        @classmethod
        def eval(cls, z):
            if z.is_Number:
                return z if z > 0 else sympy.Integer(0)
            return None

        def fdiff(self, argindex=1):
            return Step(self.args[0])

        # For a real argument ReLU is real and never negative (finite when the argument is).
        def _eval_is_real(self):
            return _true_if_real(self.args[0])

        def _eval_is_finite(self):
            return True if self.args[0].is_finite else None

        def _eval_is_nonnegative(self):
            return _true_if_real(self.args[0])

        def _latex(self, printer):
            return r"\mathrm{ReLU}\left(" + printer._print(self.args[0]) + r"\right)"

    Step.__name__ = "step"
    Sigmoid.__name__ = "σ"
    Relu.__name__ = "ReLU"
    return Sigmoid, Relu, Step


def _activation(name: str, z):
    import sympy

    sigmoid, relu, _ = _functions()
    if name == "sigmoid":
        return sigmoid(z)
    if name == "relu":
        return relu(z)
    if name == "tanh":
        return sympy.tanh(z)
    if name == "identity":
        return z
    raise ValueError(f"no symbolic form for activation {name!r}")


def _number(value: float):
    import sympy

    return sympy.Float(float(value), 30)


def _text(expr, names: dict) -> str:
    """Plain-text form: sympy's string with Unicode operators."""
    import sympy

    text = sympy.sstr(expr.xreplace(names) if names else expr, order="none")
    return text.replace("**", "^").replace("*", "·").replace("log(", "ln(")


def _evaluate(expr, values: dict) -> float:
    return float(expr.xreplace(values).evalf(30))


def network_derivatives(
    params: dict[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    activation: str,
    output_activation: str,
    loss: str,
    chosen: list[tuple[str, tuple[int, ...]]],
) -> NetworkSymbolic:
    """Build L(W1, b1, W2, b2) symbolically and differentiate it by each chosen parameter.

    ``chosen`` holds (array name, index) pairs, e.g. ("W1", (0, 1)). The derivatives are
    shown with the pre-activations abbreviated as z1ᵢ and z2ₖ (their definitions are
    returned too); each value is the full expression evaluated at the numbers given.
    """
    import sympy

    W1, b1, W2, b2 = (np.asarray(params[k], dtype=np.float64) for k in ("W1", "b1", "W2", "b2"))
    n_in, n_hid, n_out = W1.shape[1], W1.shape[0], W2.shape[0]
    latex_names: dict[Any, str] = {}
    values: dict[Any, Any] = {}

    def sym(text: str, latex: str, value: float):
        s = sympy.Symbol(text, real=True)
        latex_names[s] = latex
        values[s] = _number(value)
        return s

    xs = [sym(f"x{j}", f"x_{{{j}}}", x[j]) for j in range(n_in)]
    ys = [sym(f"y{k}", f"y_{{{k}}}", y[k]) for k in range(n_out)]
    sW1 = [[sym(f"W1[{i},{j}]", f"W^{{(1)}}_{{{i},{j}}}", W1[i, j]) for j in range(n_in)] for i in range(n_hid)]
    sb1 = [sym(f"b1[{i}]", f"b^{{(1)}}_{{{i}}}", b1[i]) for i in range(n_hid)]
    sW2 = [[sym(f"W2[{k},{i}]", f"W^{{(2)}}_{{{k},{i}}}", W2[k, i]) for i in range(n_hid)] for k in range(n_out)]
    sb2 = [sym(f"b2[{k}]", f"b^{{(2)}}_{{{k}}}", b2[k]) for k in range(n_out)]
    table = {"W1": sW1, "b1": sb1, "W2": sW2, "b2": sb2}

    z1 = [sympy.Add(*(sW1[i][j] * xs[j] for j in range(n_in)), sb1[i]) for i in range(n_hid)]
    h = [_activation(activation, z) for z in z1]
    z2 = [sympy.Add(*(sW2[k][i] * h[i] for i in range(n_hid)), sb2[k]) for k in range(n_out)]
    def loss_of(zs):
        if output_activation == "softmax":
            total = sympy.Add(*(sympy.exp(z) for z in zs))
            yhat = [sympy.exp(z) / total for z in zs]
        else:
            yhat = [_activation(output_activation, z) for z in zs]
        if loss == "half-sse":
            return sympy.Rational(1, 2) * sympy.Add(*((ys[k] - yhat[k]) ** 2 for k in range(n_out)))
        if loss == "mse":
            return sympy.Rational(1, n_out) * sympy.Add(*((ys[k] - yhat[k]) ** 2 for k in range(n_out)))
        if output_activation == "softmax":
            # ln ŷₖ written as zₖ − ln Σⱼ e^(zⱼ) (log-softmax), the form the numbers use.
            log_total = sympy.log(sympy.Add(*(sympy.exp(z) for z in zs)))
            return -sympy.Add(*(ys[k] * (zs[k] - log_total) for k in range(n_out)))
        return -sympy.Add(
            *(ys[k] * sympy.log(yhat[k]) + (1 - ys[k]) * sympy.log(1 - yhat[k]) for k in range(n_out))
        )

    L = loss_of(z2)

    # Abbreviations: z1ᵢ and z2ₖ stand for the pre-activation sums.
    Z1 = [sympy.Symbol(f"z1[{i}]", real=True) for i in range(n_hid)]
    Z2 = [sympy.Symbol(f"z2[{k}]", real=True) for k in range(n_out)]
    for i, s in enumerate(Z1):
        latex_names[s] = f"z^{{(1)}}_{{{i}}}"
    for k, s in enumerate(Z2):
        latex_names[s] = f"z^{{(2)}}_{{{k}}}"
    inner = dict(zip(z1, Z1, strict=True))
    outer = {z.xreplace(inner): Z for z, Z in zip(z2, Z2, strict=True)}

    def short(expr):
        return expr.xreplace(inner).xreplace(outer)

    def latex(expr) -> str:
        return sympy.latex(expr, symbol_names=latex_names, order="none")

    definitions = []
    for i in range(n_hid):
        definitions.append((f"{latex(Z1[i])} = {latex(z1[i])}", f"z1[{i}] = {_text(z1[i], {})}"))
    for k in range(n_out):
        z = z2[k].xreplace(inner)
        definitions.append((f"{latex(Z2[k])} = {latex(z)}", f"z2[{k}] = {_text(z, {})}"))

    derivations = []
    for name, index in chosen:
        target = table[name][index[0]] if len(index) == 1 else table[name][index[0]][index[1]]
        d = sympy.diff(L, target)
        label = f"{name}[{','.join(str(i) for i in index)}]"
        derivations.append(
            Derivation(
                name=label,
                latex=rf"\frac{{\partial L}}{{\partial {latex_names[target]}}} = {latex(short(d))}",
                text=f"∂L/∂{label} = {_text(short(d), {})}",
                value=_evaluate(d, values),
            )
        )
    return NetworkSymbolic(
        loss_latex=f"L = {latex(loss_of(Z2))}",
        loss_text=f"L = {_text(loss_of(Z2), {})}",
        definitions=tuple(definitions),
        derivations=tuple(derivations),
    )


TINY_PARAMS = ("w1", "b1", "v1", "w2", "b2", "v2", "c")


def tiny_mlp_derivatives(params: dict[str, float], x0: float) -> dict[str, Derivation]:
    """∂f/∂θ for f(x) = v1·ReLU(w1·x + b1) + v2·ReLU(w2·x + b2) + c, at x = x0."""
    import sympy

    _, relu, _ = _functions()
    latex_names: dict[Any, str] = {}
    values: dict[Any, Any] = {}
    symbols = {}
    for name in TINY_PARAMS:
        s = sympy.Symbol(name, real=True)
        symbols[name] = s
        latex_names[s] = name if name == "c" else f"{name[0]}_{{{name[1]}}}"
        values[s] = _number(params[name])
    x = sympy.Symbol("x", real=True)
    values[x] = _number(x0)
    p = symbols
    f = p["v1"] * relu(p["w1"] * x + p["b1"]) + p["v2"] * relu(p["w2"] * x + p["b2"]) + p["c"]
    out = {}
    for name in TINY_PARAMS:
        d = sympy.diff(f, p[name])
        out[name] = Derivation(
            name=name,
            latex=rf"\frac{{\partial f}}{{\partial {latex_names[p[name]]}}} = "
            + sympy.latex(d, symbol_names=latex_names, order="none"),
            text=f"∂f/∂{name} = {_text(d, {})}",
            value=_evaluate(d, values),
        )
    return out
