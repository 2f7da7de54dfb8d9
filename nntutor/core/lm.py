"""The pipeline's decoder-only transformer on a batch of sequences: forward, loss, backward.

The same model as :mod:`nntutor.core.pipeline` (token embedding E, sinusoidal
positions, pre-norm causal blocks, final layer norm, unembedding W_U), run on B
sequences of T tokens at once, with the next-token loss and its gradients.
Nothing is computed twice: the forward is :func:`~nntutor.core.block.transformer_block`,
:func:`~nntutor.core.layernorm.layer_norm` and :func:`~nntutor.core.block.unembed_loss`
on (B × T × d) arrays; the backward is their own backward functions in reverse
order, ending in :func:`~nntutor.core.embedding.embedding_backward`.

The loss on a sequence of n tokens: inputs are tokens 0..n−2, targets tokens
1..n−1 (position i predicts token i + 1), L = mean over every position of every
sequence of −ln p[target].

Parameters have flat names (:func:`parameters`): ``E``, ``block0.wq`` …
``block{L−1}.ln2_beta`` (the keys of :data:`~nntutor.core.block.WEIGHT_SHAPES`),
``final_gamma``, ``final_beta``, ``W_U``.

Worked example: with every weight 0 the logits are all 0, so p = 1/V at every
position and L = ln V whatever the tokens (here V = 5: ln 5 = 1.6094).

>>> w = init_weights(np.random.default_rng(0), 5, 4, 1)
>>> zero = from_parameters({k: np.zeros_like(v) for k, v in parameters(w).items()}, 1)
>>> round(lm_loss(np.array([[1, 2, 3], [4, 0, 1]]), zero, heads=2).loss, 4)
1.6094
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from nntutor.core.attention import matmul_rows
from nntutor.core.block import (
    MATRICES,
    WEIGHT_SHAPES,
    BlockGrads,
    BlockResult,
    UnembedGrads,
    UnembedLoss,
    block_backward,
    shape_of,
    transformer_block,
    unembed_backward,
    unembed_loss,
)
from nntutor.core.embedding import embedding_backward
from nntutor.core.layernorm import LayerNormGrads, LayerNormResult, layer_norm, layer_norm_backward
from nntutor.core.pipeline import PipelineWeights
from nntutor.core.positional import sinusoidal

EPS = 1e-5


def parameters(weights: PipelineWeights) -> dict[str, np.ndarray]:
    """Every parameter under its flat name (final γ = 1, β = 0 when the weights have none)."""
    d = weights.E.shape[1]
    out = {"E": weights.E}
    for i, block in enumerate(weights.blocks):
        d_ff = np.shape(block["W1"])[1]
        for key in WEIGHT_SHAPES:
            out[f"block{i}.{key}"] = block[key] if key in block else (np.ones if key.endswith("gamma") else np.zeros)(shape_of(key, d, d_ff))
    out["final_gamma"] = np.ones(d) if weights.final_gamma is None else weights.final_gamma
    out["final_beta"] = np.zeros(d) if weights.final_beta is None else weights.final_beta
    out["W_U"] = weights.W_U
    return out


def parameter_names(layers: int) -> tuple[str, ...]:
    """The flat names in order: ``parameter_names(1)[:3] -> ('E', 'block0.wq', 'block0.wk')``."""
    return ("E", *(f"block{i}.{key}" for i in range(layers) for key in WEIGHT_SHAPES), "final_gamma", "final_beta", "W_U")


def from_parameters(params: dict[str, np.ndarray], layers: int) -> PipelineWeights:
    """The weights back from their flat names (the inverse of :func:`parameters`)."""
    blocks = tuple({key: params[f"block{i}.{key}"] for key in WEIGHT_SHAPES} for i in range(layers))
    return PipelineWeights(params["E"], blocks, params["W_U"], params["final_gamma"], params["final_beta"])


def decayed_names(layers: int) -> frozenset[str]:
    """The parameters weight decay applies to: the matrices (E, W_U, every block's W's), not biases or LN."""
    return frozenset({"E", "W_U", *(f"block{i}.{key}" for i in range(layers) for key in MATRICES)})


def init_weights(rng: np.random.Generator, vocab_size: int, d_model: int, layers: int, d_ff: int | None = None) -> PipelineWeights:
    """Starting weights for training (not rounded), drawn from ``rng`` in parameter order.

    E ~ N(0, 1) (the size of the positional encoding's entries), every block matrix
    N(0, 1/fan_in), with the two that write into the residual stream (W_O, W₂) scaled
    by 1/√(2L) so the stream does not grow with depth; W_U ~ N(0, 1/d); biases and
    β zero, γ one.
    """
    d_ff = 4 * d_model if d_ff is None else d_ff
    E = rng.normal(0.0, 1.0, size=(vocab_size, d_model))
    blocks = []
    for _ in range(layers):
        block = {}
        for key in WEIGHT_SHAPES:
            shape = shape_of(key, d_model, d_ff)
            if key in MATRICES:
                scale = 1.0 / math.sqrt(shape[0]) * (1.0 / math.sqrt(2 * layers) if key in ("wo", "W2") else 1.0)
                block[key] = rng.normal(0.0, scale, size=shape)
            else:
                block[key] = np.ones(shape) if key.endswith("gamma") else np.zeros(shape)
        blocks.append(block)
    W_U = rng.normal(0.0, 1.0 / math.sqrt(d_model), size=(d_model, vocab_size))
    return PipelineWeights(E, tuple(blocks), W_U, np.ones(d_model), np.zeros(d_model))


class LMForward(NamedTuple):
    """Every stage on a batch: ``ids`` (B × T), ``x0`` = E[ids] + PE (B × T × d),
    ``blocks[i]`` block i's result (its ``y`` feeds block i + 1), ``final`` the final
    layer norm, ``logits`` = final.y · W_U (B × T × V)."""

    ids: np.ndarray
    pe: np.ndarray
    x0: np.ndarray
    blocks: tuple[BlockResult, ...]
    final: LayerNormResult
    logits: np.ndarray


def lm_forward(ids, weights: PipelineWeights, *, heads: int, eps: float = EPS) -> LMForward:
    """The forward pass on ``ids`` (T tokens, or B × T): leading axes are kept."""
    ids = np.asarray(ids, dtype=np.int64)
    if ids.ndim < 1 or ids.shape[-1] == 0:
        raise ValueError("ids must hold at least one token per sequence")
    E = np.asarray(weights.E, dtype=np.float64)
    V, d = E.shape
    if ids.min() < 0 or ids.max() >= V:
        raise ValueError(f"every id must be from 0 to {V - 1}")
    pe = sinusoidal(np.arange(ids.shape[-1]), d).pe
    x = E[ids] + pe
    x0 = x
    results = []
    for block in weights.blocks:
        r = transformer_block(x, block, heads=heads, norm="pre", causal=True, eps=eps)
        results.append(r)
        x = r.y
    final = layer_norm(x, weights.final_gamma, weights.final_beta, eps)  # None: γ = 1, β = 0
    return LMForward(ids, pe, x0, tuple(results), final, matmul_rows(final.y, np.asarray(weights.W_U, dtype=np.float64)))


class LMLoss(NamedTuple):
    """The forward pass on the inputs and the cross-entropy against the targets.

    ``unembed.losses`` holds −ln p[target] at every position (B × (n−1)).
    """

    tokens: np.ndarray  # B × n, as given
    inputs: np.ndarray  # tokens[..., :-1]
    targets: np.ndarray  # tokens[..., 1:]
    forward: LMForward
    unembed: UnembedLoss

    @property
    def loss(self) -> float:
        return self.unembed.loss


def lm_loss(tokens, weights: PipelineWeights, *, heads: int, eps: float = EPS) -> LMLoss:
    """Mean next-token cross-entropy of ``tokens`` (n ≥ 2 tokens, or B × n)."""
    tokens = np.asarray(tokens, dtype=np.int64)
    if tokens.ndim < 1 or tokens.shape[-1] < 2:
        raise ValueError("a next-token loss needs at least 2 tokens per sequence")
    inputs, targets = tokens[..., :-1], tokens[..., 1:]
    fw = lm_forward(inputs, weights, heads=heads, eps=eps)
    if targets.max() >= weights.E.shape[0]:
        raise ValueError(f"every id must be from 0 to {weights.E.shape[0] - 1}")
    return LMLoss(tokens, inputs, targets, fw, unembed_loss(fw.final.y, weights.W_U, targets))


class LMGrads(NamedTuple):
    """The backward pass, in the order it runs: unembedding, final LN, blocks from last to
    first (``blocks`` is in forward order), the embedding. ``grads`` maps every flat
    parameter name to its gradient (the shape of the parameter)."""

    loss: LMLoss
    unembed: UnembedGrads
    final: LayerNormGrads
    blocks: tuple[BlockGrads, ...]
    dx0: np.ndarray
    grads: dict[str, np.ndarray]


def lm_backward(r: LMLoss, weights: PipelineWeights) -> LMGrads:
    """∂L/∂θ for every parameter, from the loss result ``r`` (each core function's own backward)."""
    un = unembed_backward(r.unembed)
    fin = layer_norm_backward(r.forward.final, un.dy)
    dy = fin.dx
    back: list[BlockGrads] = []
    for result, block in zip(reversed(r.forward.blocks), reversed(weights.blocks), strict=True):
        g = block_backward(result, block, dy)
        back.append(g)
        dy = g.dx
    blocks = tuple(reversed(back))
    grads = {"E": embedding_backward(r.inputs, dy, weights.E.shape[0])}
    for i, g in enumerate(blocks):
        grads.update({f"block{i}.{key}": value for key, value in g.grads.items()})
    grads.update(final_gamma=fin.dgamma, final_beta=fin.dbeta, W_U=un.dwu)
    return LMGrads(r, un, fin, blocks, dy, grads)
