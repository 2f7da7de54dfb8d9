"""A multi-layer perceptron: dense layers stacked, each feeding the next.

``sizes = (n₀, n₁, …, n_L)`` gives L layers; layer l has ``W`` of shape
(n_l × n_{l−1}) and ``b`` of length n_l.

>>> param_count((784, 16, 16, 10)).total
13002
>>> layers = [(np.array([[1.0, -1.0]]), np.array([0.5]))]
>>> forward(np.array([2.0, 1.0]), layers).outputs[-1].tolist()
[1.5]
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from nntutor.core import activations
from nntutor.core.softmax import softmax

OUTPUT_ACTIVATIONS = ("identity", "softmax", "sigmoid")


class LayerCount(NamedTuple):
    """Parameters of one layer: n_in × n_out weights and n_out biases."""

    n_in: int
    n_out: int
    weights: int
    biases: int

    @property
    def total(self) -> int:
        return self.weights + self.biases


class ParamCount(NamedTuple):
    """The parameter count of a whole network, layer by layer.

    >>> c = param_count((3, 4, 2))
    >>> [(r.weights, r.biases) for r in c.layers], c.weights, c.biases, c.total
    ([(12, 4), (8, 2)], 20, 6, 26)
    """

    layers: tuple[LayerCount, ...]

    @property
    def weights(self) -> int:
        return sum(layer.weights for layer in self.layers)

    @property
    def biases(self) -> int:
        return sum(layer.biases for layer in self.layers)

    @property
    def total(self) -> int:
        return self.weights + self.biases


def param_count(sizes) -> ParamCount:
    """Weights and biases per layer (exact Python integers, any size)."""
    sizes = [int(s) for s in sizes]
    return ParamCount(
        tuple(LayerCount(n_in, n_out, n_in * n_out, n_out) for n_in, n_out in zip(sizes, sizes[1:], strict=False))
    )


def memory_bytes(sizes) -> int:
    """A float64 estimate of what a forward pass holds: every parameter, and z and a per layer.

    >>> memory_bytes((784, 16, 16, 10))
    110960
    """
    sizes = [int(s) for s in sizes]
    return 8 * (param_count(sizes).total + sizes[0] + 2 * sum(sizes[1:]))


def init_limit(n_in: int) -> float:
    """Half-width of the uniform range for random weights: 1/√n_in (PyTorch's nn.Linear default)."""
    return 1.0 / math.sqrt(n_in)


def random_parameters(sizes, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """W and b per layer drawn uniformly from ±1/√n_in, rounded to 2 decimals (readable)."""
    layers = []
    for n_in, n_out in zip(sizes, sizes[1:], strict=False):
        limit = init_limit(int(n_in))
        w = np.round(rng.uniform(-limit, limit, size=(int(n_out), int(n_in))), 2)
        b = np.round(rng.uniform(-limit, limit, size=int(n_out)), 2)
        layers.append((w + 0.0, b + 0.0))  # + 0.0 turns -0.0 into 0.0
    return layers


class ForwardPass(NamedTuple):
    """Every layer's input, pre-activation z and output a = f(z)."""

    x: np.ndarray
    params: tuple[tuple[np.ndarray, np.ndarray], ...]
    activation: str
    output_activation: str
    zs: tuple[np.ndarray, ...]
    outputs: tuple[np.ndarray, ...]

    def layer_input(self, index: int) -> np.ndarray:
        """What layer ``index`` (0-based) received: x for the first, the previous output after."""
        return self.x if index == 0 else self.outputs[index - 1]


def forward(
    x, params, activation: str = "relu", output_activation: str = "identity", *, alpha: float = 0.01
) -> ForwardPass:
    """a₀ = x; z_l = W_l·a_{l−1} + b_l; a_l = f(z_l) (the last layer uses ``output_activation``)."""
    a = np.asarray(x, dtype=np.float64)
    params = tuple((np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64)) for w, b in params)
    zs, outputs = [], []
    for index, (w, b) in enumerate(params):
        z = w @ a + b
        last = index == len(params) - 1
        if not last:
            a = np.asarray(activations.activate(activation, z, alpha=alpha), dtype=np.float64)
        elif output_activation == "softmax":
            a = softmax(z)
        else:
            a = np.asarray(activations.activate(output_activation, z), dtype=np.float64)
        zs.append(z)
        outputs.append(a)
    return ForwardPass(np.asarray(x, dtype=np.float64), params, activation, output_activation, tuple(zs), tuple(outputs))


def equal_weights(params) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every weight of a layer set to that layer's W[0, 0], every bias to its b[0].

    The neurons of each layer are then copies of one another: same incoming and same
    outgoing weights.

    >>> [(w.tolist(), b.tolist()) for w, b in equal_weights([(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([5.0, 6.0]))])]
    [([[1.0, 1.0], [1.0, 1.0]], [5.0, 5.0])]
    """
    return [(np.full(np.shape(w), float(np.asarray(w)[0, 0])), np.full(np.shape(b), float(np.asarray(b)[0])))
            for w, b in params]


class Backward(NamedTuple):
    """The gradients of L = ½·Σ a_L² (every target 0) for each layer, from the last to the first."""

    loss: float
    deltas: tuple[np.ndarray, ...]  # ∂L/∂z_l per layer
    grad_inputs: tuple[np.ndarray, ...]  # ∂L/∂a_l per layer (what reaches each layer's output)
    grads: tuple[tuple[np.ndarray, np.ndarray], ...]  # (∂L/∂W_l, ∂L/∂b_l) per layer


def backward(result: ForwardPass, *, alpha: float = 0.01) -> Backward:
    """Backpropagate L = ½·Σ a_L² through a forward pass: δ_l = ∂L/∂z_l, ∂L/∂W_l = δ_l·a_{l−1}ᵀ.

    One layer, a = z = W·x + b with W = [[1, -1]], b = [0.5], x = (2, 1): z = 1.5,
    L = ½·1.5² = 1.125, δ = 1.5, ∂L/∂W = 1.5·(2, 1) = (3, 1.5):

    >>> back = backward(forward(np.array([2.0, 1.0]), [(np.array([[1.0, -1.0]]), np.array([0.5]))]))
    >>> back.loss, back.grads[0][0].tolist(), back.grads[0][1].tolist()
    (1.125, [[3.0, 1.5]], [1.5])
    """
    last = result.outputs[-1]
    grad_a = last.copy()  # ∂(½·Σ a²)/∂a = a
    deltas, grad_inputs, grads = [], [], []
    for index in range(len(result.params) - 1, -1, -1):
        w, _ = result.params[index]
        z, a = result.zs[index], result.outputs[index]
        grad_inputs.append(grad_a)
        if index < len(result.params) - 1:
            delta = grad_a * activations.derivative(result.activation, z, alpha=alpha)
        elif result.output_activation == "softmax":
            delta = a * (grad_a - float(a @ grad_a))  # the softmax Jacobian diag(a) − a·aᵀ applied to grad_a
        else:
            delta = grad_a * activations.derivative(result.output_activation, z)
        deltas.append(delta)
        grads.append((np.outer(delta, result.layer_input(index)), delta.copy()))
        grad_a = w.T @ delta
    return Backward(0.5 * float(last @ last), tuple(deltas[::-1]), tuple(grad_inputs[::-1]), tuple(grads[::-1]))
