"""Mini-batch SGD for a small network on a tiny built-in data set.

The network is the two-layer one of :mod:`nntutor.core.backprop` with a single
sigmoid output and binary cross-entropy, averaged over each mini-batch:

    for each epoch: shuffle the examples; for each mini-batch B:
        g = (1/|B|) Σ_{n∈B} ∇L_n,   θ ← θ − lr·g

Example: XOR with 2 hidden units whose weights are all 0 predicts σ(0) = 0.5
for every input, a loss of ln 2 = 0.6931 per example:

>>> p = backprop.Params(np.zeros((2, 2)), np.zeros(2), np.zeros((1, 2)), np.zeros(1))
>>> round(dataset_loss(p, dataset("xor"), "tanh"), 4)
0.6931
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nntutor.core import activations, backprop

OUTPUT_ACTIVATION = "sigmoid"
LOSS = "ce"


class Dataset(NamedTuple):
    """Inputs (one example per row) and 0/1 targets (one column)."""

    name: str
    X: np.ndarray
    y: np.ndarray


_DATA = {
    # The four corners of the unit square; the class is x0 XOR x1.
    "xor": ([[0, 0], [0, 1], [1, 0], [1, 1]], [0, 1, 1, 0]),
    # Two small clusters, around (−0.85, −0.75) and (0.8, 0.675).
    "blobs": (
        [[-1.0, -0.6], [0.9, 0.5], [-0.4, -1.2], [0.3, 1.1], [-1.4, -0.2], [1.3, 0.2], [-0.6, -1.0], [0.7, 0.9]],
        [0, 1, 0, 1, 0, 1, 0, 1],
    ),
}
DATASETS = tuple(_DATA)


def dataset(name: str) -> Dataset:
    """One of the built-in data sets (``xor``, ``blobs``)."""
    X, y = _DATA[name]
    return Dataset(name, np.array(X, dtype=np.float64), np.array(y, dtype=np.float64).reshape(-1, 1))


def init_params(seed: int, n_in: int, hidden: int, n_out: int = 1) -> backprop.Params:
    """Weights drawn uniformly from [−1, 1] and rounded to 2 decimals; biases 0."""
    rng = np.random.default_rng(seed)
    W1 = np.round(rng.uniform(-1.0, 1.0, size=(hidden, n_in)), 2)
    W2 = np.round(rng.uniform(-1.0, 1.0, size=(n_out, hidden)), 2)
    return backprop.Params(W1, np.zeros(hidden), W2, np.zeros(n_out))


def batch_orders(seed: int, n: int, epochs: int) -> np.ndarray:
    """One shuffled order of the ``n`` examples per epoch (epochs × n), from the same seed.

    The seed's stream is shared with :func:`init_params` only through the seed
    value: a separate generator (seed + 1) keeps the weights independent of
    the number of epochs.
    """
    rng = np.random.default_rng(seed + 1)
    return np.array([rng.permutation(n) for _ in range(epochs)], dtype=np.int64).reshape(epochs, n)


def dataset_loss(params: backprop.Params, data: Dataset, activation: str) -> float:
    """Mean binary cross-entropy over the whole data set."""
    fw = backprop.forward(params, data.X, activation, OUTPUT_ACTIVATION)
    return float(np.mean(backprop.loss_value(fw, data.y, OUTPUT_ACTIVATION, LOSS)))


class BatchUpdate(NamedTuple):
    """One mini-batch step: per-example gradients, their mean, and the parameters before and after."""

    indices: np.ndarray
    detail: backprop.Backprop  # batched: every array has the batch axis first
    mean: backprop.Params
    before: backprop.Params
    after: backprop.Params
    batch_loss: float


class TrainingRun(NamedTuple):
    """A whole run: the loss after every epoch, the first mini-batch in detail, the final model."""

    data: Dataset
    initial: backprop.Params
    final: backprop.Params
    orders: np.ndarray
    batch_size: int
    lr: float
    initial_loss: float
    losses: np.ndarray  # mean loss over the data set after each epoch
    first: BatchUpdate
    predictions: np.ndarray  # σ output for each example, final model
    epochs_done: int


def sgd_batch(params: backprop.Params, X, y, indices, lr: float, activation: str) -> BatchUpdate:
    """Average the per-example gradients of one mini-batch and take one step."""
    detail = backprop.backprop(params, X[indices], y[indices], activation, OUTPUT_ACTIVATION, LOSS)
    mean = backprop.mean_gradients(detail.grads)
    after = backprop.sgd_step(params, mean, lr)
    return BatchUpdate(np.asarray(indices), detail, mean, params, after, float(np.mean(detail.loss)))


def train(
    data: Dataset, params: backprop.Params, orders: np.ndarray, batch_size: int, lr: float, activation: str
) -> TrainingRun:
    """Run one epoch per row of ``orders``, mini-batches taken in that order (the last may be smaller).

    Stops early if a parameter stops being finite (it cannot with this loss and
    the flag limits, but a run must never carry NaN forward).
    """
    initial = params
    initial_loss = dataset_loss(params, data, activation)
    losses = []
    first = None
    W1, b1, W2, b2 = params.W1, params.b1, params.W2, params.b2
    for order in orders:
        for start in range(0, len(order), batch_size):
            indices = order[start : start + batch_size]
            if first is None:
                first = sgd_batch(params, data.X, data.y, indices, lr, activation)
                W1, b1, W2, b2 = first.after.W1, first.after.b1, first.after.W2, first.after.b2
                continue
            W1, b1, W2, b2 = _step(W1, b1, W2, b2, data.X[indices], data.y[indices], lr, activation)
        params = backprop.Params(W1, b1, W2, b2)
        if not all(np.all(np.isfinite(a)) for a in params.as_dict().values()):
            break
        losses.append(dataset_loss(params, data, activation))
    assert first is not None
    fw = backprop.forward(params, data.X, activation, OUTPUT_ACTIVATION)
    return TrainingRun(
        data=data,
        initial=initial,
        final=params,
        orders=orders,
        batch_size=batch_size,
        lr=float(lr),
        initial_loss=initial_loss,
        losses=np.array(losses),
        first=first,
        predictions=fw.yhat[:, 0],
        epochs_done=len(losses),
    )


def _step(W1, b1, W2, b2, X, y, lr: float, activation: str):
    """:func:`sgd_batch` without keeping the intermediates (the fast inner loop).

    Same arithmetic: δ2 = σ(z2) − y per example, averaged over the batch.
    """
    z1 = X @ W1.T + b1
    h = activations.activate(activation, z1)
    z2 = h @ W2.T + b2
    d2 = (activations.sigmoid(z2) - y) / len(X)
    d1 = (d2 @ W2) * activations.derivative(activation, z1)
    return (
        W1 - lr * (d1.T @ X),
        b1 - lr * d1.sum(axis=0),
        W2 - lr * (d2.T @ h),
        b2 - lr * d2.sum(axis=0),
    )


def batches_per_epoch(n_examples: int, batch_size: int) -> tuple[int, int]:
    """(batches, size of the last batch) for one epoch: ⌈N/B⌉ batches, the last holding N − (⌈N/B⌉ − 1)·B.

    >>> batches_per_epoch(8, 3), batches_per_epoch(4, 2), batches_per_epoch(60000, 64)
    ((3, 2), (2, 2), (938, 32))
    """
    if n_examples < 1 or batch_size < 1:
        raise ValueError("the data set and the batch need at least one example")
    count = -(-n_examples // batch_size)
    return count, n_examples - (count - 1) * batch_size
