"""Softmax with temperature, written out in its stable steps, and cross-entropy.

>>> np.round(softmax(np.array([2.0, 1.0, 0.1])), 4).tolist()
[0.659, 0.2424, 0.0986]
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class SoftmaxSteps(NamedTuple):
    """Every stage of a stable softmax of one vector at one temperature."""

    logits: np.ndarray
    temperature: float
    scaled: np.ndarray  # logits / T
    maximum: float  # max of scaled
    shifted: np.ndarray  # scaled − max (all ≤ 0: exp cannot overflow)
    exps: np.ndarray  # e^shifted
    total: float  # Σ exps
    probs: np.ndarray  # exps / total


def softmax_steps(logits, temperature: float = 1.0) -> SoftmaxSteps:
    """softmax(z / T) in stages: divide, subtract the max, exponentiate, normalise.

    >>> s = softmax_steps(np.array([1000.0, 1001.0, 1002.0]))
    >>> np.round(s.probs, 4).tolist()
    [0.09, 0.2447, 0.6652]
    """
    z = np.asarray(logits, dtype=np.float64)
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    scaled = z / temperature
    maximum = float(np.max(scaled))
    shifted = scaled - maximum
    exps = np.exp(shifted)
    total = float(np.sum(exps))
    return SoftmaxSteps(z, float(temperature), scaled, maximum, shifted, exps, total, exps / total)


def softmax(logits, temperature: float = 1.0, axis: int = -1) -> np.ndarray:
    """Stable softmax along ``axis``."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    shifted = z - np.max(z, axis=axis, keepdims=True)
    exps = np.exp(shifted)
    return exps / np.sum(exps, axis=axis, keepdims=True)


def log_softmax(logits, temperature: float = 1.0, axis: int = -1) -> np.ndarray:
    """log softmax, computed as shifted − log Σ e^shifted (no log of a tiny number)."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def cross_entropy_from_logits(logits, target: int, temperature: float = 1.0) -> float:
    """−ln softmax(z/T)[target], natural log.

    >>> round(cross_entropy_from_logits(np.array([2.0, 1.0, 0.1]), 0), 4)
    0.417
    """
    return float(-log_softmax(logits, temperature)[target])


def temperature_sweep(logits, low: float = 0.1, high: float = 10.0, points: int = 80):
    """Probabilities over a geometric grid of temperatures: (temperatures, probs of shape T×n).

    >>> temps, probs = temperature_sweep(np.array([1.0, 0.0]), 1.0, 1.0, 1)
    >>> np.round(probs, 4).tolist()
    [[0.7311, 0.2689]]
    """
    temps = np.geomspace(low, high, points)
    return temps, np.vstack([softmax(logits, t) for t in temps])
