"""One training step of the language model on one batch: forward, loss, backward, AdamW, loss again.

Nothing new is computed here: the loss and every gradient are :func:`nntutor.core.lm.lm_loss`
and :func:`nntutor.core.lm.lm_backward` (each layer's own backward), the update is
:func:`nntutor.core.optim.adamw_step` with weight decay on the matrices only
(:func:`nntutor.core.lm.decayed_names`), as ``nntutor train`` does. The step starts
from zero moments (t = 1): a saved model keeps its weights, not its optimiser state.

The first-order prediction of the change in loss is ΔL ≈ Σ g·Δθ over every parameter
(the gradient is the slope): a check that the step went downhill.

>>> from nntutor.core.lm import init_weights
>>> w = init_weights(np.random.default_rng(0), 7, 4, 1)
>>> s = train_step(np.array([[1, 2, 3, 4], [4, 3, 2, 1]]), w, heads=2, lr=0.01)
>>> s.loss_after < s.loss_before, sorted(s.grad_norms) == sorted(s.grads.grads)
(True, True)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nntutor.core.lm import (
    LMGrads,
    LMLoss,
    decayed_names,
    from_parameters,
    lm_backward,
    lm_loss,
    parameters,
)
from nntutor.core.optim import BETAS, EPS, WEIGHT_DECAY, AdamWStep, adamw_init, adamw_step
from nntutor.core.pipeline import PipelineWeights


class TrainStep(NamedTuple):
    """Every stage of one step; ``before``/``after`` are the loss on the same batch."""

    before: LMLoss
    grads: LMGrads
    adam: AdamWStep
    weights_after: PipelineWeights
    after: LMLoss
    predicted_change: float  # Σ g·Δθ

    @property
    def loss_before(self) -> float:
        return self.before.loss

    @property
    def loss_after(self) -> float:
        return self.after.loss

    @property
    def grad_norms(self) -> dict[str, float]:
        """‖g‖ = √Σ g² of every parameter's gradient, in parameter order."""
        return {name: float(np.sqrt(np.sum(g * g))) for name, g in self.grads.grads.items()}


def train_step(
    tokens,
    weights: PipelineWeights,
    *,
    heads: int,
    lr: float,
    weight_decay: float = WEIGHT_DECAY,
    betas: tuple[float, float] = BETAS,
    adam_eps: float = EPS,
    eps: float = 1e-5,
) -> TrainStep:
    """One AdamW step (t = 1) on the batch ``tokens`` (B × n), and the loss on it before and after."""
    before = lm_loss(tokens, weights, heads=heads, eps=eps)
    grads = lm_backward(before, weights)
    params = parameters(weights)
    layers = len(weights.blocks)
    step = adamw_step(params, grads.grads, adamw_init(params), lr=lr, betas=betas, eps=adam_eps,
                      weight_decay=weight_decay, decay_keys=decayed_names(layers))
    new = from_parameters(step.params, layers)
    after = lm_loss(tokens, new, heads=heads, eps=eps)
    change = float(sum(np.sum(grads.grads[k] * (step.params[k] - params[k])) for k in params))
    return TrainStep(before, grads, step, new, after, change)
