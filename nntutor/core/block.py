"""One transformer encoder block: multi-head attention and an FFN, each with a
residual connection and layer normalisation, in the post-norm or pre-norm order.

post-norm (the original Transformer):  h = LN₁(x + MHA(x)),   y = LN₂(h + FFN(h))
pre-norm  (GPT-2 and later):           h = x + MHA(LN₁(x)),   y = h + FFN(LN₂(h))

The backward pass (:func:`block_backward`) returns ∂L/∂x and a gradient for every
key of the weights dict, from ∂L/∂y; :func:`unembed_loss` and
:func:`unembed_backward` put a cross-entropy over an unembedding on top, and
:func:`sgd_step` takes one gradient-descent step: enough to train a small decoder.

>>> w = random_weights(np.random.default_rng(0), 4, 8)
>>> r = transformer_block(np.eye(4)[:3], w, heads=2, norm="post")
>>> r.y.shape
(3, 4)
>>> z = (r.y - w["ln2_beta"]) / w["ln2_gamma"]  # post-norm ends with LN₂: rows centred
>>> bool(np.abs(z.mean(axis=1)).max() < 1e-12)
True
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nntutor.core.attention import matmul_rows, rows_of
from nntutor.core.ffn import FFNGrads, FFNResult, feed_forward, feed_forward_backward
from nntutor.core.layernorm import LayerNormGrads, LayerNormResult, layer_norm, layer_norm_backward
from nntutor.core.multihead import (
    MultiHeadGrads,
    MultiHeadResult,
    multi_head_attention,
    multi_head_backward,
)
from nntutor.core.softmax import cross_entropy_backward, log_softmax

NORMS = ("pre", "post")

# key -> shape written with d (d_model) and f (d_ff)
WEIGHT_SHAPES: dict[str, tuple[str, ...]] = {
    "wq": ("d", "d"),
    "wk": ("d", "d"),
    "wv": ("d", "d"),
    "wo": ("d", "d"),
    "bq": ("d",),
    "bk": ("d",),
    "bv": ("d",),
    "bo": ("d",),
    "W1": ("d", "f"),
    "b1": ("f",),
    "W2": ("f", "d"),
    "b2": ("d",),
    "ln1_gamma": ("d",),
    "ln1_beta": ("d",),
    "ln2_gamma": ("d",),
    "ln2_beta": ("d",),
}
MATRICES = ("wq", "wk", "wv", "wo", "W1", "W2")


def shape_of(key: str, d: int, d_ff: int) -> tuple[int, ...]:
    """The shape weight ``key`` must have: ``shape_of("W1", 4, 8) -> (4, 8)``."""
    return tuple(d if s == "d" else d_ff for s in WEIGHT_SHAPES[key])


def default_for(key: str, d: int, d_ff: int) -> np.ndarray:
    """What a missing vector stands for: gammas are ones, biases and betas zeros."""
    shape = shape_of(key, d, d_ff)
    return np.ones(shape) if key.endswith("gamma") else np.zeros(shape)


def random_weights(rng: np.random.Generator, d: int, d_ff: int) -> dict[str, np.ndarray]:
    """Every block weight, drawn and rounded to 2 decimals (readable, and exactly the inputs).

    Matrices are N(0, 1/fan_in) so activations keep a sensible size; biases and betas
    N(0, 0.1²); gammas 1 + N(0, 0.1²).
    """
    out: dict[str, np.ndarray] = {}
    for key in WEIGHT_SHAPES:
        shape = shape_of(key, d, d_ff)
        if key in MATRICES:
            values = rng.normal(0.0, 1.0 / np.sqrt(shape[0]), size=shape)
        elif key.endswith("gamma"):
            values = 1.0 + rng.normal(0.0, 0.1, size=shape)
        else:
            values = rng.normal(0.0, 0.1, size=shape)
        out[key] = np.round(values, 2)
    return out


class BlockResult(NamedTuple):
    """Every sub-result of one block.

    ``attention_input`` is what MHA saw (x for post-norm, LN₁(x) for pre-norm);
    ``residual1`` = x + MHA(·); ``after_attention`` is h (LN₁(residual1) for
    post-norm, residual1 itself for pre-norm); ``ffn_input`` is h or LN₂(h);
    ``residual2`` = h + FFN(·); ``y`` is LN₂(residual2) or residual2.
    """

    norm: str
    x: np.ndarray
    ln1: LayerNormResult
    attention_input: np.ndarray
    mha: MultiHeadResult
    residual1: np.ndarray
    after_attention: np.ndarray
    ln2: LayerNormResult
    ffn_input: np.ndarray
    ffn: FFNResult
    residual2: np.ndarray
    y: np.ndarray


def transformer_block(
    x,
    weights: dict[str, np.ndarray],
    *,
    heads: int,
    norm: str = "pre",
    causal: bool = False,
    activation: str = "relu",
    eps: float = 1e-5,
    key_padding=None,
) -> BlockResult:
    """One encoder block on the rows of ``x`` (n × d, or B × n × d for a batch); ``weights`` as :data:`WEIGHT_SHAPES`.

    Missing biases and betas are zero, missing gammas one. ``key_padding`` (one 0/1
    per token, 0 = padding) hides those tokens as keys in attention.
    """
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}")
    x = np.asarray(x, dtype=np.float64)
    d = x.shape[-1]
    d_ff = np.asarray(weights["W1"]).shape[1]
    w = {key: np.asarray(weights[key], dtype=np.float64) if key in weights else default_for(key, d, d_ff) for key in WEIGHT_SHAPES}

    def mha(inp):
        return multi_head_attention(
            inp, w["wq"], w["wk"], w["wv"], w["wo"], heads=heads, causal=causal,
            bq=w["bq"], bk=w["bk"], bv=w["bv"], bo=w["bo"], key_padding=key_padding,
        )

    def ffn(inp):
        return feed_forward(inp, w["W1"], w["b1"], w["W2"], w["b2"], activation)

    if norm == "pre":
        ln1 = layer_norm(x, w["ln1_gamma"], w["ln1_beta"], eps)
        attention_input = ln1.y
        attn = mha(attention_input)
        residual1 = x + attn.output
        after = residual1
        ln2 = layer_norm(after, w["ln2_gamma"], w["ln2_beta"], eps)
        ffn_input = ln2.y
        ff = ffn(ffn_input)
        residual2 = after + ff.y
        y = residual2
    else:
        attention_input = x
        attn = mha(x)
        residual1 = x + attn.output
        ln1 = layer_norm(residual1, w["ln1_gamma"], w["ln1_beta"], eps)
        after = ln1.y
        ffn_input = after
        ff = ffn(after)
        residual2 = after + ff.y
        ln2 = layer_norm(residual2, w["ln2_gamma"], w["ln2_beta"], eps)
        y = ln2.y
    return BlockResult(norm, x, ln1, attention_input, attn, residual1, after, ln2, ffn_input, ff, residual2, y)


# --------------------------------------------------------------------------- backward


class BlockGrads(NamedTuple):
    """The backward pass of one block, from ∂L/∂y to ∂L/∂x and every weight's gradient.

    Each gradient has the shape of what it is the gradient of. ``grads`` maps every
    key of :data:`WEIGHT_SHAPES` to its gradient (a training loop subtracts
    ``lr·grads[key]`` from ``weights[key]``). At each residual addition the gradient
    arrives at the addition's output and goes to both inputs: ``*_around`` is the
    copy that skips the sublayer, ``*_through`` the part that comes back through it,
    and their sum is the gradient of the residual stream there:

    pre-norm:  ∂L/∂h = ∂L/∂y + LN₂ᵀ(FFNᵀ(∂L/∂y)),  ∂L/∂x = ∂L/∂h + LN₁ᵀ(MHAᵀ(∂L/∂h))
    post-norm: ∂L/∂s₂ = LN₂ᵀ(∂L/∂y), ∂L/∂h = ∂L/∂s₂ + FFNᵀ(∂L/∂s₂), and the same for x

    (Aᵀ(g) is the backward of A applied to g.) ``dresidual2`` and ``dresidual1``
    are the gradients at the two sums x + MHA(·) and h + FFN(·).
    """

    forward: BlockResult
    dy: np.ndarray
    dresidual2: np.ndarray  # ∂L/∂(h + FFN(·)): dy itself in pre-norm
    ffn: FFNGrads
    ln2: LayerNormGrads
    dh_around: np.ndarray  # = dresidual2, the copy around the FFN
    dh_through: np.ndarray  # back through the FFN (and LN₂ in pre-norm)
    dh: np.ndarray  # their sum: ∂L/∂h
    dresidual1: np.ndarray  # ∂L/∂(x + MHA(·)): dh itself in pre-norm
    mha: MultiHeadGrads
    ln1: LayerNormGrads
    dx_around: np.ndarray  # = dresidual1, the copy around attention
    dx_through: np.ndarray  # back through attention (and LN₁ in pre-norm)
    dx: np.ndarray  # their sum: ∂L/∂x
    grads: dict[str, np.ndarray]


def block_backward(r: BlockResult, weights: dict[str, np.ndarray], dy) -> BlockGrads:
    """The backward pass through :func:`transformer_block` at its result ``r``, for ∂L/∂y = ``dy``.

    ``weights`` is the dict the forward used (the result does not keep W_Q, W_K,
    W_V). Any number of rows; causal and padding masks come with the forward
    result (a masked key, or a query with every key masked, gets zero gradient).
    Every sublayer reuses its own backward: :func:`~nntutor.core.ffn.feed_forward_backward`,
    :func:`~nntutor.core.layernorm.layer_norm_backward`,
    :func:`~nntutor.core.multihead.multi_head_backward`.

    Worked example: with W_O = 0 and W₂ = 0 both sublayers output only their biases,
    so in pre-norm y = x + b_O + b₂ and ∂L/∂x = ∂L/∂y: everything goes around.
    For L = Σ y (∂L/∂y all ones) on 2 tokens, ∂L/∂b₂ = ∂L/∂b_O = [2, 2, 2, 2], one per
    token added up, and W₁ gets no gradient (W₂ = 0 passes nothing back).

    >>> w = random_weights(np.random.default_rng(0), 4, 8)
    >>> w["wo"], w["W2"] = np.zeros((4, 4)), np.zeros((8, 4))
    >>> x = np.array([[1.0, 0.0, 2.0, 0.0], [0.0, 1.0, 0.0, -1.0]])
    >>> g = block_backward(transformer_block(x, w, heads=2), w, np.ones((2, 4)))
    >>> g.dx.tolist(), g.grads["b2"].tolist(), g.grads["bo"].tolist()
    ([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]], [2.0, 2.0, 2.0, 2.0], [2.0, 2.0, 2.0, 2.0])
    >>> float(np.abs(g.grads["W1"]).max()), sorted(g.grads) == sorted(WEIGHT_SHAPES)
    (0.0, True)
    """
    dy = np.asarray(dy, dtype=np.float64)
    if dy.shape != r.y.shape:
        raise ValueError(f"dy has shape {dy.shape}; it must have the shape of y, {r.y.shape}")
    wq, wk, wv = (np.asarray(weights[key], dtype=np.float64) for key in ("wq", "wk", "wv"))
    if r.norm == "pre":
        dresidual2 = dy
        ffn = feed_forward_backward(r.ffn, dresidual2)
        ln2 = layer_norm_backward(r.ln2, ffn.dx)
        dh_through = ln2.dx
        dh = dresidual2 + dh_through
        dresidual1 = dh
        mha = multi_head_backward(r.mha, dresidual1, wq, wk, wv)
        ln1 = layer_norm_backward(r.ln1, mha.dx)
        dx_through = ln1.dx
    else:
        ln2 = layer_norm_backward(r.ln2, dy)
        dresidual2 = ln2.dx
        ffn = feed_forward_backward(r.ffn, dresidual2)
        dh_through = ffn.dx
        dh = dresidual2 + dh_through
        ln1 = layer_norm_backward(r.ln1, dh)
        dresidual1 = ln1.dx
        mha = multi_head_backward(r.mha, dresidual1, wq, wk, wv)
        dx_through = mha.dx
    dx = dresidual1 + dx_through
    p = mha.projections
    grads = {
        "wq": p.dwq, "wk": p.dwk, "wv": p.dwv, "wo": mha.dwo,
        "bq": p.dbq, "bk": p.dbk, "bv": p.dbv, "bo": mha.dbo,
        "W1": ffn.dw1, "b1": ffn.db1, "W2": ffn.dw2, "b2": ffn.db2,
        "ln1_gamma": ln1.dgamma, "ln1_beta": ln1.dbeta, "ln2_gamma": ln2.dgamma, "ln2_beta": ln2.dbeta,
    }
    return BlockGrads(
        r, dy, dresidual2, ffn, ln2, dresidual2, dh_through, dh, dresidual1, mha, ln1, dresidual1, dx_through, dx, grads
    )


# --------------------------------------------------------------------------- a loss on top


class UnembedLoss(NamedTuple):
    """Logits z = y·W_U, their softmax and the cross-entropy against one target per row.

    ``keep`` marks the rows in the loss (padding rows are left out); ``losses`` is
    −ln p[target] per row (0 where not kept) and ``loss`` their mean over the kept
    rows (0 when none is kept).
    """

    y: np.ndarray  # n × d
    wu: np.ndarray  # d × V
    logits: np.ndarray  # n × V
    probs: np.ndarray  # n × V
    targets: np.ndarray  # n class indices
    keep: np.ndarray  # n booleans
    losses: np.ndarray  # n
    loss: float


def unembed_loss(y, wu, targets, keep=None) -> UnembedLoss:
    """The mean cross-entropy of softmax(y·W_U) against ``targets`` over the rows ``keep`` marks.

    y = [1, 0] and W_U = [[ln 3, 0], [0, 0]] give z = [ln 3, 0], p = [0.75, 0.25];
    target 1: L = −ln 0.25 = 1.3863.

    >>> r = unembed_loss(np.array([[1.0, 0.0]]), np.array([[np.log(3.0), 0.0], [0.0, 0.0]]), np.array([1]))
    >>> np.round(r.probs, 4).tolist(), round(r.loss, 4)
    ([[0.75, 0.25]], 1.3863)
    """
    y = np.asarray(y, dtype=np.float64)
    wu = np.asarray(wu, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    logits = matmul_rows(y, wu)
    logp = log_softmax(logits)
    keep = np.ones(targets.shape, dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    losses = np.where(keep, -np.take_along_axis(logp, targets[..., None], axis=-1)[..., 0], 0.0)
    count = int(np.count_nonzero(keep))
    loss = float(losses.sum() / count) if count else 0.0
    return UnembedLoss(y, wu, logits, np.exp(logp), targets, keep, losses, loss)


class UnembedGrads(NamedTuple):
    """∂L/∂z (n × V, like the logits), ∂L/∂W_U (d × V, like W_U), ∂L/∂y (n × d, like y)."""

    dlogits: np.ndarray
    dwu: np.ndarray
    dy: np.ndarray


def unembed_backward(r: UnembedLoss) -> UnembedGrads:
    """∂L/∂z = (p − onehot(target)) / (rows kept), ∂L/∂W_U = yᵀ·∂L/∂z, ∂L/∂y = ∂L/∂z·W_Uᵀ.

    Rows left out of the loss get ∂L/∂z = 0. The example of :func:`unembed_loss`:
    ∂L/∂z = [0.75 − 0, 0.25 − 1] = [0.75, −0.75]; ∂L/∂y = [0.75·ln 3, 0] = [0.824, 0].

    >>> g = unembed_backward(unembed_loss(np.array([[1.0, 0.0]]), np.array([[np.log(3.0), 0.0], [0.0, 0.0]]), np.array([1])))
    >>> np.round(g.dlogits, 4).tolist(), np.round(g.dy, 4).tolist(), np.round(g.dwu, 4).tolist()
    ([[0.75, -0.75]], [[0.824, 0.0]], [[0.75, -0.75], [0.0, 0.0]])
    """
    dlogits = cross_entropy_backward(r.logits, r.targets, keep=r.keep, reduction="mean", probs=r.probs)
    return UnembedGrads(dlogits, rows_of(r.y).T @ rows_of(dlogits), matmul_rows(dlogits, r.wu.T))


def sgd_step(weights: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float) -> dict[str, np.ndarray]:
    """One step of gradient descent, w − lr·∂L/∂w for every key of ``weights`` (new arrays).

    A key without a gradient is kept as it is.

    >>> sgd_step({"b": np.array([1.0, 2.0])}, {"b": np.array([0.5, -1.0])}, 0.1)["b"].tolist()
    [0.95, 2.1]
    """
    return {
        key: np.asarray(value, dtype=np.float64) - lr * grads[key] if key in grads else np.asarray(value, dtype=np.float64)
        for key, value in weights.items()
    }
