"""One transformer encoder block: multi-head attention and an FFN, each with a
residual connection and layer normalisation, in the post-norm or pre-norm order.

post-norm (the original Transformer):  h = LN₁(x + MHA(x)),   y = LN₂(h + FFN(h))
pre-norm  (GPT-2 and later):           h = x + MHA(LN₁(x)),   y = h + FFN(LN₂(h))

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

from nntutor.core.ffn import FFNResult, feed_forward
from nntutor.core.layernorm import LayerNormResult, layer_norm
from nntutor.core.multihead import MultiHeadResult, multi_head_attention

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
) -> BlockResult:
    """One encoder block on the rows of ``x`` (n × d); ``weights`` as :data:`WEIGHT_SHAPES`.

    Missing biases and betas are zero, missing gammas one.
    """
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}")
    x = np.asarray(x, dtype=np.float64)
    d = x.shape[1]
    d_ff = np.asarray(weights["W1"]).shape[1]
    w = {key: np.asarray(weights[key], dtype=np.float64) if key in weights else default_for(key, d, d_ff) for key in WEIGHT_SHAPES}

    def mha(inp):
        return multi_head_attention(
            inp, w["wq"], w["wk"], w["wv"], w["wo"], heads=heads, causal=causal,
            bq=w["bq"], bk=w["bk"], bv=w["bv"], bo=w["bo"],
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
