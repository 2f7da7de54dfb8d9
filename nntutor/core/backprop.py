"""A two-layer network, its loss and its gradients by backpropagation.

    z1 = W1·x + b1,  h = f(z1),  z2 = W2·h + b2,  ŷ = g(z2),  L = loss(ŷ, y)

Backpropagation runs the chain rule from the loss backwards:

    δ2 = ∂L/∂z2 (= ∂L/∂ŷ ⊙ g'(z2) for an element-wise g),   ∂L/∂W2 = δ2·hᵀ,  ∂L/∂b2 = δ2
    δ1 = (W2ᵀ·δ2) ⊙ f'(z1),                                 ∂L/∂W1 = δ1·xᵀ,  ∂L/∂b1 = δ1

Every function accepts one example (``x`` a vector) or a batch (``x`` a matrix,
one example per row); per-example results keep the batch axis first.

Worked example: a 1-1-1 network with W1 = 2, b1 = 0, W2 = 3, b2 = 1, identity
activations and half-sse at x = 1, y = 5: z1 = 2, h = 2, ŷ = 3·2 + 1 = 7,
L = ½(5 − 7)² = 2, δ2 = ŷ − y = 2, ∂L/∂W2 = δ2·h = 4, δ1 = 3·2 = 6, ∂L/∂W1 = 6·1 = 6.

>>> p = Params(np.array([[2.0]]), np.array([0.0]), np.array([[3.0]]), np.array([1.0]))
>>> r = backprop(p, np.array([1.0]), np.array([5.0]), "identity", "identity", "half-sse")
>>> float(r.loss), r.grads.W2.tolist(), r.grads.W1.tolist()
(2.0, [[4.0]], [[6.0]])
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nntutor.core import activations
from nntutor.core.softmax import log_softmax, softmax

HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu")
OUTPUT_ACTIVATIONS = ("sigmoid", "identity", "softmax")
LOSSES = ("half-sse", "mse", "ce")
PARAM_NAMES = ("W1", "b1", "W2", "b2")


class Params(NamedTuple):
    """The four parameter arrays: W1 (hidden × inputs), b1, W2 (outputs × hidden), b2."""

    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray

    def as_dict(self) -> dict[str, np.ndarray]:
        return {"W1": self.W1, "b1": self.b1, "W2": self.W2, "b2": self.b2}

    def count(self) -> int:
        return sum(int(np.size(a)) for a in self.as_dict().values())

    def replace(self, name: str, array: np.ndarray) -> Params:
        d = self.as_dict()
        d[name] = array
        return Params(**d)


class Forward(NamedTuple):
    """Every value of the forward pass."""

    x: np.ndarray
    z1: np.ndarray  # W1·x + b1
    h: np.ndarray  # f(z1)
    z2: np.ndarray  # W2·h + b2
    yhat: np.ndarray  # g(z2)


class Backprop(NamedTuple):
    """The forward pass, the loss, and every factor of the backward pass.

    ``dL_dyhat`` is ∂L/∂ŷ (for ce it can be infinite where ŷ saturates at 0 or 1;
    ``delta2`` is then computed in its simplified form ŷ − y). ``g_prime`` is
    g'(z2) for an element-wise output activation, ``None`` for softmax (whose
    derivative is the Jacobian :func:`softmax_jacobian`).
    """

    forward: Forward
    y: np.ndarray
    loss: np.ndarray | float  # per example
    dL_dyhat: np.ndarray
    g_prime: np.ndarray | None
    delta2: np.ndarray  # ∂L/∂z2
    back: np.ndarray  # W2ᵀ·δ2 = ∂L/∂h
    f_prime: np.ndarray  # f'(z1)
    delta1: np.ndarray  # ∂L/∂z1
    grads: Params  # per example


def check_combination(output_activation: str, loss: str) -> None:
    """Cross-entropy needs outputs that are probabilities (sigmoid or softmax)."""
    if loss == "ce" and output_activation == "identity":
        raise ValueError("cross-entropy needs probabilities: use a sigmoid or softmax output")


def forward(params: Params, x, activation: str, output_activation: str) -> Forward:
    """The forward pass for one example (vector) or a batch (one example per row).

    >>> p = Params(np.array([[1.0, -1.0]]), np.array([0.5]), np.array([[2.0]]), np.array([0.0]))
    >>> fw = forward(p, np.array([1.0, 2.0]), "relu", "identity")
    >>> fw.z1.tolist(), fw.h.tolist(), fw.yhat.tolist()   # 1 − 2 + 0.5 = −0.5 → ReLU 0 → 0
    ([-0.5], [0.0], [0.0])
    """
    x = np.asarray(x, dtype=np.float64)
    z1 = x @ params.W1.T + params.b1
    h = activations.activate(activation, z1)
    z2 = h @ params.W2.T + params.b2
    yhat = softmax(z2, axis=-1) if output_activation == "softmax" else activations.activate(output_activation, z2)
    return Forward(x, z1, np.asarray(h), z2, np.asarray(yhat))


def loss_value(fw: Forward, y, output_activation: str, loss: str):
    """The loss of each example (a float for one example).

    half-sse = ½Σ(y − ŷ)², mse = (1/n)Σ(y − ŷ)², ce = −Σ y·ln ŷ for softmax outputs and
    −Σ [y·ln ŷ + (1 − y)·ln(1 − ŷ)] (binary, per output) for sigmoid outputs; the logs are
    taken from z2 (log-softmax, log-sigmoid) so they stay finite when ŷ rounds to 0 or 1.
    """
    y = np.asarray(y, dtype=np.float64)
    if loss == "half-sse":
        out = 0.5 * np.sum((y - fw.yhat) ** 2, axis=-1)
    elif loss == "mse":
        out = np.mean((y - fw.yhat) ** 2, axis=-1)
    elif loss == "ce":
        check_combination(output_activation, loss)
        if output_activation == "softmax":
            out = -np.sum(y * log_softmax(fw.z2, axis=-1), axis=-1)
        else:
            log_p = -np.logaddexp(0.0, -fw.z2)  # ln σ(z)
            log_q = -np.logaddexp(0.0, fw.z2)  # ln (1 − σ(z))
            out = -np.sum(y * log_p + (1.0 - y) * log_q, axis=-1)
    else:
        raise ValueError(f"unknown loss {loss!r}")
    return float(out) if np.ndim(out) == 0 else out


def softmax_jacobian(yhat) -> np.ndarray:
    """∂ŷᵢ/∂zⱼ = ŷᵢ(δᵢⱼ − ŷⱼ) = diag(ŷ) − ŷŷᵀ, for one example.

    >>> softmax_jacobian(np.array([0.5, 0.5])).tolist()
    [[0.25, -0.25], [-0.25, 0.25]]
    """
    p = np.asarray(yhat, dtype=np.float64)
    return np.diag(p) - np.outer(p, p)


def loss_gradient(fw: Forward, y, output_activation: str, loss: str) -> np.ndarray:
    """∂L/∂ŷ for each example (ce: may hold ±inf where ŷ is exactly 0 or 1)."""
    y = np.asarray(y, dtype=np.float64)
    yhat = fw.yhat
    n = yhat.shape[-1]
    if loss == "half-sse":
        return yhat - y
    if loss == "mse":
        return 2.0 * (yhat - y) / n
    check_combination(output_activation, loss)
    with np.errstate(divide="ignore", invalid="ignore"):
        if output_activation == "softmax":
            return -y / yhat
        return -y / yhat + (1.0 - y) / (1.0 - yhat)


def output_delta(fw: Forward, y, output_activation: str, loss: str) -> np.ndarray:
    """δ2 = ∂L/∂z2.

    For ce the product ∂L/∂ŷ ⊙ g'(z2) simplifies: ŷ − y for sigmoid outputs and
    ŷ·Σy − y (= ŷ − y when the target sums to 1) for softmax; that form is used
    because it stays finite.
    """
    y = np.asarray(y, dtype=np.float64)
    yhat = fw.yhat
    if loss == "ce":
        check_combination(output_activation, loss)
        if output_activation == "softmax":
            return yhat * np.sum(y, axis=-1, keepdims=True) - y
        return yhat - y
    e = loss_gradient(fw, y, output_activation, loss)
    if output_activation == "softmax":
        # Jacobianᵀ·e without building the matrix: ŷ ⊙ (e − Σⱼ ŷⱼ eⱼ).
        return yhat * (e - np.sum(yhat * e, axis=-1, keepdims=True))
    return e * activations.derivative(output_activation, fw.z2)


def backprop(params: Params, x, y, activation: str, output_activation: str, loss: str) -> Backprop:
    """Forward pass, loss, δ terms and the gradient of every parameter (per example)."""
    check_combination(output_activation, loss)
    fw = forward(params, x, activation, output_activation)
    y = np.asarray(y, dtype=np.float64)
    value = loss_value(fw, y, output_activation, loss)
    dL_dyhat = loss_gradient(fw, y, output_activation, loss)
    g_prime = None if output_activation == "softmax" else activations.derivative(output_activation, fw.z2)
    delta2 = output_delta(fw, y, output_activation, loss)
    back = delta2 @ params.W2
    f_prime = activations.derivative(activation, fw.z1)
    delta1 = back * f_prime
    grads = Params(
        W1=delta1[..., :, None] * fw.x[..., None, :],
        b1=delta1,
        W2=delta2[..., :, None] * fw.h[..., None, :],
        b2=delta2,
    )
    return Backprop(fw, y, value, dL_dyhat, g_prime, delta2, back, f_prime, delta1, grads)


def mean_gradients(grads: Params) -> Params:
    """The average over the batch axis of per-example gradients."""
    return Params(*(np.mean(g, axis=0) for g in (grads.W1, grads.b1, grads.W2, grads.b2)))


def sgd_step(params: Params, grads: Params, lr: float) -> Params:
    """θ ← θ − lr·∂L/∂θ for every parameter."""
    return Params(
        params.W1 - lr * grads.W1,
        params.b1 - lr * grads.b1,
        params.W2 - lr * grads.W2,
        params.b2 - lr * grads.b2,
    )


class FiniteDifference(NamedTuple):
    """Central differences (L(θ + h) − L(θ − h)) / 2h for every parameter, one example."""

    h: float
    grads: Params
    plus: Params  # L(θ + h) for each element
    minus: Params  # L(θ − h)


def finite_differences(
    params: Params, x, y, activation: str, output_activation: str, loss: str, h: float = 1e-6
) -> FiniteDifference:
    """Every partial derivative estimated by a central difference (slow: two passes each)."""
    plus: dict[str, np.ndarray] = {}
    minus: dict[str, np.ndarray] = {}
    grads: dict[str, np.ndarray] = {}
    for name, array in params.as_dict().items():
        up = np.empty_like(array)
        down = np.empty_like(array)
        for index in np.ndindex(array.shape):
            for sign, out in ((1.0, up), (-1.0, down)):
                moved = array.copy()
                moved[index] += sign * h
                fw = forward(params.replace(name, moved), x, activation, output_activation)
                out[index] = loss_value(fw, y, output_activation, loss)
        plus[name], minus[name] = up, down
        grads[name] = (up - down) / (2.0 * h)
    return FiniteDifference(h, Params(**grads), Params(**plus), Params(**minus))
