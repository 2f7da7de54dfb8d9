"""AdamW (Loshchilov & Hutter 2019), step for step as ``torch.optim.AdamW`` computes it.

For a parameter p with gradient g at step t (counting from 1), with moment
estimates m and v that start at 0:

    decay:       p ← p − lr·λ·p                      (decoupled: not added to g)
    1st moment:  m ← β₁·m + (1 − β₁)·g
    2nd moment:  v ← β₂·v + (1 − β₂)·g²
    corrections: m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)
    step:        p ← p − lr·m̂ / (√v̂ + ε)

Worked example, the first step (t = 1) of one number p = 1 with g = 0.5,
lr = 0.1, λ = 0.01, β = (0.9, 0.999), ε = 1e-8: decay gives 1 − 0.1·0.01·1 =
0.999; m = 0.1·0.5 = 0.05, v = 0.001·0.25 = 0.00025; m̂ = 0.05/0.1 = 0.5,
v̂ = 0.00025/0.001 = 0.25 (at t = 1 the corrections undo the (1 − β) factors);
the step is 0.1·0.5/(0.5 + 1e-8) ≈ 0.1, so p ≈ 0.999 − 0.1 = 0.899. The
first step of Adam moves every weight by about lr, whatever the gradient's size.

>>> u = adamw_update(np.array([1.0]), np.array([0.5]), np.zeros(1), np.zeros(1), 1, lr=0.1, weight_decay=0.01)
>>> [round(float(a[0]), 12) for a in (u.decayed, u.m, u.v, u.m_hat, u.v_hat)]
[0.999, 0.05, 0.00025, 0.5, 0.25]
>>> round(float(u.update[0]), 8), round(float(u.new[0]), 8)
(0.1, 0.899)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import NamedTuple

import numpy as np

# torch.optim.AdamW's defaults, except the learning rate, which every caller gives.
BETAS = (0.9, 0.999)
EPS = 1e-8
WEIGHT_DECAY = 0.01


class AdamWUpdate(NamedTuple):
    """Every intermediate of one AdamW step on one array (all of the parameter's shape).

    ``decayed`` = p·(1 − lr·λ); ``m``, ``v`` the new moments; ``m_hat``, ``v_hat``
    their bias-corrected values; ``update`` = lr·m̂/(√v̂ + ε); ``new`` = decayed − update.
    ``t`` is the step number (1 for the first step), ``decay`` the λ used for this array
    (one number, or one per element when several parameters are updated as one array).
    """

    p: np.ndarray
    grad: np.ndarray
    t: int
    lr: float
    betas: tuple[float, float]
    eps: float
    decay: float | np.ndarray
    decayed: np.ndarray
    m: np.ndarray
    v: np.ndarray
    correction1: float  # 1 − β₁ᵗ
    correction2: float  # 1 − β₂ᵗ
    m_hat: np.ndarray
    v_hat: np.ndarray
    update: np.ndarray
    new: np.ndarray


def adamw_update(
    p,
    grad,
    m,
    v,
    t: int,
    *,
    lr: float,
    betas: tuple[float, float] = BETAS,
    eps: float = EPS,
    weight_decay: float | np.ndarray = WEIGHT_DECAY,
) -> AdamWUpdate:
    """One AdamW step on one array: ``m`` and ``v`` are the moments after step t − 1 (zeros at t = 1).

    ``weight_decay`` may be an array of the parameter's shape: each element's own λ.
    Every operation is element by element, so updating several parameters laid end to
    end in one array gives exactly the numbers of updating each on its own.
    """
    if t < 1:
        raise ValueError("the step number t counts from 1")
    p = np.asarray(p, dtype=np.float64)
    g = np.asarray(grad, dtype=np.float64)
    if g.shape != p.shape:
        raise ValueError(f"the gradient has shape {g.shape}; it must have the parameter's shape {p.shape}")
    beta1, beta2 = betas
    decayed = p * (1.0 - lr * weight_decay)
    m_new = beta1 * np.asarray(m, dtype=np.float64) + (1.0 - beta1) * g
    v_new = beta2 * np.asarray(v, dtype=np.float64) + (1.0 - beta2) * (g * g)
    c1 = 1.0 - beta1**t
    c2 = 1.0 - beta2**t
    m_hat = m_new / c1
    v_hat = v_new / c2
    update = lr * m_hat / (np.sqrt(v_hat) + eps)
    return AdamWUpdate(
        p, g, t, float(lr), (float(beta1), float(beta2)), float(eps),
        weight_decay if isinstance(weight_decay, np.ndarray) else float(weight_decay),
        decayed, m_new, v_new, c1, c2, m_hat, v_hat, update, decayed - update,
    )


class AdamWState(NamedTuple):
    """The optimiser's memory: the step count and each parameter's two moments."""

    t: int
    m: dict[str, np.ndarray]
    v: dict[str, np.ndarray]


def adamw_init(params: Mapping[str, np.ndarray]) -> AdamWState:
    """Step 0: both moments zero for every parameter."""
    zeros = {key: np.zeros(np.shape(value)) for key, value in params.items()}
    return AdamWState(0, zeros, {key: z.copy() for key, z in zeros.items()})


class AdamWStep(NamedTuple):
    """New parameters, the new state and the full :class:`AdamWUpdate` of every parameter."""

    params: dict[str, np.ndarray]
    state: AdamWState
    updates: dict[str, AdamWUpdate]


def adamw_step(
    params: Mapping[str, np.ndarray],
    grads: Mapping[str, np.ndarray],
    state: AdamWState,
    *,
    lr: float,
    betas: tuple[float, float] = BETAS,
    eps: float = EPS,
    weight_decay: float = WEIGHT_DECAY,
    decay_keys: Collection[str] | None = None,
) -> AdamWStep:
    """One AdamW step on every parameter (new arrays; ``params`` is not changed).

    ``decay_keys`` names the parameters that get weight decay (None: all of them);
    the others get λ = 0, as a second ``torch.optim.AdamW`` parameter group with
    ``weight_decay=0`` would.

    >>> s = adamw_step({"w": np.array([1.0])}, {"w": np.array([0.5])}, adamw_init({"w": np.zeros(1)}), lr=0.1)
    >>> s.state.t, round(float(s.params["w"][0]), 8)
    (1, 0.899)
    """
    t = state.t + 1
    updates = {}
    for key, value in params.items():
        decay = weight_decay if decay_keys is None or key in decay_keys else 0.0
        updates[key] = adamw_update(
            value, grads[key], state.m[key], state.v[key], t, lr=lr, betas=betas, eps=eps, weight_decay=decay
        )
    new_state = AdamWState(t, {k: u.m for k, u in updates.items()}, {k: u.v for k, u in updates.items()})
    return AdamWStep({k: u.new for k, u in updates.items()}, new_state, updates)
