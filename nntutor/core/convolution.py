"""Stacked convolutions in 1-D and 2-D, their backward pass, and their receptive fields.

A convolution layer as deep-learning libraries compute it is a cross-correlation (the
kernel is not flipped) with no padding ("valid"): for kernel w (k taps), stride s and
dilation d,

    y[i] = Σⱼ w[j]·x[i·s + j·d],   j = 0 … k−1,

so output i reads a window that spans d·(k − 1) + 1 inputs and starts at input i·s.
Worked example: w = (1, 2, 1) on x = (1, 2, 0, −1, 3):
y[0] = 1×1 + 2×2 + 1×0 = 5, y[1] = 1×2 + 2×0 + 1×(−1) = 1, y[2] = 1×0 + 2×(−1) + 1×3 = 1.

>>> conv1d(np.array([1.0, 2, 0, -1, 3]), np.array([1.0, 2, 1])).tolist()
[5.0, 1.0, 1.0]

The receptive field of a layer is how many consecutive inputs one of its outputs
depends on: r₀ = 1 and r_l = r_(l−1) + (k_l − 1)·d_l·J_(l−1), where the jump
J_(l−1) = s₁·s₂·…·s_(l−1) is how many inputs apart two neighbouring entries of layer
l − 1 start. Three 3-tap layers with stride and dilation 1 give 1 + 2 + 2 + 2 = 7
(in 2-D, three 3×3 layers see 7×7):

>>> receptive_fields([3, 3, 3], [1, 1, 1], [1, 1, 1])
Fields(sizes=(3, 5, 7), jumps=(1, 1, 1))

The gradient of one output with respect to the inputs is non-zero only inside that
field; with every weight set to 1 it counts the paths from each input to the output:

>>> paths_1d([Layer(np.ones(3))] * 3, 8).tolist()
[1, 3, 6, 7, 6, 3, 1, 0]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np


class Layer(NamedTuple):
    """One convolution layer: its kernel (k taps in 1-D, k×k in 2-D), stride and dilation."""

    kernel: np.ndarray
    stride: int = 1
    dilation: int = 1


def span(k: int, dilation: int = 1) -> int:
    """How many inputs one window covers: d·(k − 1) + 1.

    >>> span(3), span(3, 2), span(2, 4)
    (3, 5, 5)
    """
    return int(dilation) * (int(k) - 1) + 1


def output_length(n: int, k: int, stride: int = 1, dilation: int = 1) -> int:
    """Outputs of a valid convolution over n inputs: ⌊(n − span)/s⌋ + 1 (0 when the window does not fit).

    >>> output_length(8, 3), output_length(8, 3, 2), output_length(8, 3, 1, 4), output_length(8, 3, 1, 2)
    (6, 3, 0, 4)
    """
    covered = span(k, dilation)
    return 0 if n < covered else (int(n) - covered) // int(stride) + 1


# --------------------------------------------------------------------------- forward


def conv1d(x, w, stride: int = 1, dilation: int = 1) -> np.ndarray:
    """y[i] = Σⱼ w[j]·x[i·s + j·d] (no kernel flip, no padding): see the module's example."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    n_out = output_length(x.size, w.size, stride, dilation)
    y = np.zeros(n_out)
    if n_out == 0:
        return y
    last = stride * (n_out - 1) + 1
    for j, wj in enumerate(w):
        y += wj * x[j * dilation : j * dilation + last : stride]
    return y


def conv2d(image, kernel, stride: int = 1, dilation: int = 1) -> np.ndarray:
    """Y[i,j] = Σ_(a,b) K[a,b]·X[i·s + a·d, j·s + b·d]: the 1-D rule along both axes.

    >>> conv2d(np.arange(16.0).reshape(4, 4), np.ones((3, 3))).tolist()  # 0+1+2+4+5+6+8+9+10 = 45
    [[45.0, 54.0], [81.0, 90.0]]
    """
    x = np.asarray(image, dtype=np.float64)
    k = np.asarray(kernel, dtype=np.float64)
    rows = output_length(x.shape[0], k.shape[0], stride, dilation)
    cols = output_length(x.shape[1], k.shape[1], stride, dilation)
    y = np.zeros((rows, cols))
    if rows == 0 or cols == 0:
        return y
    last_r, last_c = stride * (rows - 1) + 1, stride * (cols - 1) + 1
    for a in range(k.shape[0]):
        for b in range(k.shape[1]):
            top, left = a * dilation, b * dilation
            y += k[a, b] * x[top : top + last_r : stride, left : left + last_c : stride]
    return y


def stack_1d(x, layers: Sequence[Layer]) -> list[np.ndarray]:
    """The output of every layer in turn, each computed from the one before.

    >>> [y.tolist() for y in stack_1d(np.array([1.0, 2, 0, -1, 3]), [Layer(np.array([1.0, 2, 1]))] * 2)]
    [[5.0, 1.0, 1.0], [8.0]]
    """
    outputs, current = [], np.asarray(x, dtype=np.float64)
    for layer in layers:
        current = conv1d(current, layer.kernel, layer.stride, layer.dilation)
        outputs.append(current)
    return outputs


def stack_2d(image, layers: Sequence[Layer]) -> list[np.ndarray]:
    """:func:`stack_1d` for an image, with 2-D (k×k) kernels."""
    outputs, current = [], np.asarray(image, dtype=np.float64)
    for layer in layers:
        current = conv2d(current, layer.kernel, layer.stride, layer.dilation)
        outputs.append(current)
    return outputs


def separable(kernel) -> np.ndarray:
    """The k×k kernel k·kᵀ made from a 1-D kernel: entry (a, b) is k[a]·k[b].

    >>> separable(np.array([1.0, 2, 1])).tolist()
    [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """
    k = np.asarray(kernel, dtype=np.float64)
    return np.outer(k, k)


# --------------------------------------------------------------------------- backward


def conv1d_backward(grad_y, n_in: int, w, stride: int = 1, dilation: int = 1) -> np.ndarray:
    """∂L/∂x from ∂L/∂y: each output hands grad_y[i]·w[j] back to the input x[i·s + j·d] it read.

    >>> conv1d_backward(np.array([1.0, 0, 0]), 5, np.array([1.0, 2, 1])).tolist()  # y[0] = x0 + 2x1 + x2
    [1.0, 2.0, 1.0, 0.0, 0.0]
    """
    g = np.asarray(grad_y, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    grad_x = np.zeros(int(n_in))
    if g.size == 0:
        return grad_x
    last = stride * (g.size - 1) + 1
    for j, wj in enumerate(w):
        grad_x[j * dilation : j * dilation + last : stride] += wj * g
    return grad_x


def conv2d_backward(grad_y, shape: tuple[int, int], kernel, stride: int = 1, dilation: int = 1) -> np.ndarray:
    """∂L/∂X from ∂L/∂Y for :func:`conv2d` (each kernel tap hands its share back)."""
    g = np.asarray(grad_y, dtype=np.float64)
    k = np.asarray(kernel, dtype=np.float64)
    grad_x = np.zeros(tuple(int(n) for n in shape))
    if g.size == 0:
        return grad_x
    last_r, last_c = stride * (g.shape[0] - 1) + 1, stride * (g.shape[1] - 1) + 1
    for a in range(k.shape[0]):
        for b in range(k.shape[1]):
            top, left = a * dilation, b * dilation
            grad_x[top : top + last_r : stride, left : left + last_c : stride] += k[a, b] * g
    return grad_x


def gradients_1d(layers: Sequence[Layer], n: int, index: int = 0) -> list[np.ndarray]:
    """∂y_L[index]/∂(every level): ``[∂/∂x, ∂/∂y₁, …, ∂/∂y_L]`` (the last is one-hot), over n inputs.

    >>> [g.tolist() for g in gradients_1d([Layer(np.array([1.0, 2, 1]))] * 2, 5)]
    [[1.0, 4.0, 6.0, 4.0, 1.0], [1.0, 2.0, 1.0], [1.0]]
    """
    lengths = [int(n)]
    for layer in layers:
        lengths.append(output_length(lengths[-1], layer.kernel.size, layer.stride, layer.dilation))
    grad = np.zeros(lengths[-1])
    grad[index] = 1.0
    grads = [grad]
    for layer, n_in in zip(reversed(layers), reversed(lengths[:-1]), strict=True):
        grad = conv1d_backward(grad, n_in, layer.kernel, layer.stride, layer.dilation)
        grads.append(grad)
    return grads[::-1]


def gradients_2d(layers: Sequence[Layer], shape: tuple[int, int], index: tuple[int, int] = (0, 0)) -> list[np.ndarray]:
    """:func:`gradients_1d` for an image: ∂Y_L[index]/∂(every level), input first."""
    shapes = [tuple(int(n) for n in shape)]
    for layer in layers:
        k = layer.kernel.shape
        shapes.append(tuple(output_length(shapes[-1][axis], k[axis], layer.stride, layer.dilation) for axis in (0, 1)))
    grad = np.zeros(shapes[-1])
    grad[index] = 1.0
    grads = [grad]
    for layer, below in zip(reversed(layers), reversed(shapes[:-1]), strict=True):
        grad = conv2d_backward(grad, below, layer.kernel, layer.stride, layer.dilation)
        grads.append(grad)
    return grads[::-1]


def _ones(layers: Sequence[Layer]) -> list[Layer]:
    return [layer._replace(kernel=np.ones(np.shape(layer.kernel))) for layer in layers]


def paths_1d(layers: Sequence[Layer], n: int, index: int = 0) -> np.ndarray:
    """How many routes lead from each input to y_L[index]: the gradient with every weight 1 (whole numbers)."""
    return np.rint(gradients_1d(_ones(layers), n, index)[0]).astype(np.int64)


def paths_2d(layers: Sequence[Layer], shape: tuple[int, int], index: tuple[int, int] = (0, 0)) -> np.ndarray:
    """:func:`paths_1d` for an image: routes from each pixel to Y_L[index]."""
    return np.rint(gradients_2d(_ones(layers), shape, index)[0]).astype(np.int64)


# --------------------------------------------------------------------------- receptive fields


class Fields(NamedTuple):
    """Receptive field r_l of every layer and the jump J_l = s₁·…·s_l after it (inputs between neighbours)."""

    sizes: tuple[int, ...]
    jumps: tuple[int, ...]


def receptive_fields(kernel_sizes: Sequence[int], strides: Sequence[int], dilations: Sequence[int]) -> Fields:
    """r_l = r_(l−1) + (k_l − 1)·d_l·J_(l−1), with r₀ = 1 and J₀ = 1.

    Stride 2 in layer 2 doubles what layer 3 adds; dilation 2 doubles what its own layer adds:

    >>> receptive_fields([3, 3, 3], [1, 2, 1], [1, 1, 1])  # 1 + 2 + 2 + 2×2
    Fields(sizes=(3, 5, 9), jumps=(1, 2, 2))
    >>> receptive_fields([2, 2, 2], [1, 1, 1], [1, 2, 4]).sizes  # 1 + 1 + 2 + 4 (WaveNet-style)
    (2, 4, 8)
    """
    r, jump = 1, 1
    sizes, jumps = [], []
    for k, s, d in zip(kernel_sizes, strides, dilations, strict=True):
        r += (int(k) - 1) * int(d) * jump
        jump *= int(s)
        sizes.append(r)
        jumps.append(jump)
    return Fields(tuple(sizes), tuple(jumps))


def nonzero_span(values) -> tuple[int, int, int] | None:
    """(first, last, count) of the non-zero entries of a vector (None when all are 0).

    >>> nonzero_span(np.array([0.0, 1, 0, 2, 0]))
    (1, 3, 2)
    """
    where = np.flatnonzero(np.asarray(values) != 0)
    if where.size == 0:
        return None
    return int(where[0]), int(where[-1]), int(where.size)


def plain_layers_to_see(n: int, k: int = 3) -> int:
    """Layers of k taps (stride 1, dilation 1) before one output sees n inputs: r = 1 + L·(k − 1) ≥ n.

    >>> plain_layers_to_see(8), plain_layers_to_see(1024), plain_layers_to_see(1)
    (4, 512, 0)
    """
    return max(0, math.ceil((int(n) - 1) / (int(k) - 1)))


def dilated_layers_to_see(n: int, k: int = 3) -> int:
    """The same with dilations 1, 2, 4, …: r = 1 + (k − 1)·(2^L − 1) ≥ n.

    >>> dilated_layers_to_see(8), dilated_layers_to_see(1024), dilated_layers_to_see(1)
    (3, 10, 0)
    """
    layers, r = 0, 1
    while r < n:
        r += (int(k) - 1) * 2**layers
        layers += 1
    return layers
