"""The language-model loss: every position of a sentence predicts the token after it.

For ids t₀ … t_{n−1} the model reads t₀ … t_{n−2} (inputs) and at each position i
is scored on t_{i+1} (targets): the shift by one. With pᵢ = softmax(zᵢ) the
logits' probabilities at position i,

    lossᵢ = −ln pᵢ[t_{i+1}],   L = (1/(n−1))·Σᵢ lossᵢ,   perplexity = e^L,
    ∂L/∂zᵢ = (pᵢ − onehot(t_{i+1})) / (n−1).

A model that knows nothing gives every token 1/V: L = ln V and perplexity V,
the uniform baseline. Perplexity reads as "as unsure as a fair choice among
e^L tokens".

>>> uniform_baseline(4)  # ln 4, and a perplexity of 4
(1.3862943611198906, 4.0)
>>> shift([5, 7, 2, 9])
(array([5, 7, 2]), array([7, 2, 9]))
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from nntutor.core.block import UnembedLoss, unembed_backward, unembed_loss
from nntutor.core.pipeline import Forward, PipelineWeights, forward


def shift(ids) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets) = (ids[:-1], ids[1:])."""
    ids = np.asarray(ids, dtype=np.int64)
    if ids.ndim != 1 or ids.size < 2:
        raise ValueError("a loss needs at least two tokens")
    return ids[:-1], ids[1:]


def uniform_baseline(vocab_size: int) -> tuple[float, float]:
    """(ln V, V): the loss and perplexity of a model that gives every token 1/V."""
    return math.log(vocab_size), float(vocab_size)


class LMLoss(NamedTuple):
    """The forward pass over the inputs, the loss at every position and its gradient."""

    inputs: np.ndarray
    targets: np.ndarray
    forward: Forward
    scored: UnembedLoss  # logits, probs, losses (−ln p[target]) and the mean, all positions
    dlogits: np.ndarray  # (p − onehot(target)) / (n − 1), one row per position

    @property
    def losses(self) -> np.ndarray:
        return self.scored.losses

    @property
    def loss(self) -> float:
        return self.scored.loss

    @property
    def perplexity(self) -> float:
        return math.exp(self.scored.loss)

    @property
    def target_probs(self) -> np.ndarray:
        return self.scored.probs[np.arange(self.targets.size), self.targets]


def lm_loss(ids, weights: PipelineWeights, *, heads: int, eps: float = 1e-5) -> LMLoss:
    """The mean next-token cross-entropy of ``weights`` on ``ids`` (at least two tokens).

    >>> from nntutor.core.pipeline import random_pipeline_weights
    >>> w = random_pipeline_weights(np.random.default_rng(0), 6, 4, 1)
    >>> r = lm_loss([1, 2, 3], w, heads=2)
    >>> r.targets.tolist(), r.losses.shape, bool(abs(r.loss - r.losses.mean()) < 1e-15)
    ([2, 3], (2,), True)
    >>> bool(np.abs(r.dlogits.sum(axis=1)).max() < 1e-15)  # p sums to 1, the one-hot too
    True
    """
    inputs, targets = shift(ids)
    r = forward(inputs, weights, heads=heads, eps=eps)
    scored = unembed_loss(r.final.y, weights.W_U, targets)
    return LMLoss(inputs, targets, r, scored, unembed_backward(scored).dlogits)
