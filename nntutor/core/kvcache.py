"""Generating tokens with a key–value cache, and what the cache saves.

A decoder predicts one token, appends it and predicts again. Without a cache
every step runs the whole sequence through the model again; but under a causal
mask the keys and values of the earlier positions never change (position p
sees only 0…p), so each layer can keep them and a new token needs only its own
row: one query, one key, one value per head, the query scored against every
cached key. The logits are the same as a full recomputation (up to the order
of floating-point sums: about 1e-15 in float64).

The model is the pipeline's (:func:`nntutor.core.pipeline.forward`): token
embedding plus sinusoidal positions, pre-norm causal blocks, a final layer norm
(γ = 1, β = 0 unless the weights carry their own), the unembedding W_U.

Multiply-adds are counted in the matrix products only (layer norms, softmax,
biases and the residual additions are a few per number and left out). For a
model of width d, FFN width f, L layers, vocabulary V, a new token at a cache
of m positions (itself included) costs

    with the cache:    L·(4d² + 2md + 2df) + dV      (Q, K, V, W_O; scores; weights·V; FFN)
    without it:        L·(4md² + 2m²d + 2mdf) + dV  (every row again, the full m×m scores)

>>> macs_with_cache(3, d=4, d_ff=16, layers=1, vocab=10)   # 4·16 + 2·3·4 + 2·4·16 + 40
256
>>> macs_without_cache(3, d=4, d_ff=16, layers=1, vocab=10)  # 4·3·16 + 2·9·4 + 2·3·4·16 + 40
688
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from nntutor.core.attention import AttentionResult, attend
from nntutor.core.ffn import FFNResult, feed_forward
from nntutor.core.layernorm import LayerNormResult, layer_norm
from nntutor.core.multihead import head_columns, head_dim_for
from nntutor.core.pipeline import Forward, PipelineWeights, forward
from nntutor.core.positional import sinusoidal
from nntutor.core.sampling import Sampling, sample_next


class KVCache:
    """Each layer's keys and values so far: ``keys[l]`` and ``values[l]`` are m × d_model.

    Head i owns columns ``i·d_head … (i+1)·d_head − 1`` (as in multi-head attention).
    Arrays are allocated for ``capacity`` rows once; :meth:`append` writes one row.
    """

    def __init__(self, layers: int, d_model: int, capacity: int) -> None:
        self._k = [np.zeros((capacity, d_model)) for _ in range(layers)]
        self._v = [np.zeros((capacity, d_model)) for _ in range(layers)]
        self.length = 0

    @classmethod
    def from_forward(cls, r: Forward, capacity: int) -> KVCache:
        """The cache a full forward pass over the prompt leaves: every block's K and V (prefill)."""
        n, d = r.x0.shape
        cache = cls(len(r.blocks), d, max(capacity, n))
        for layer, b in enumerate(r.blocks):
            cache._k[layer][:n] = b.mha.k
            cache._v[layer][:n] = b.mha.v
        cache.length = n
        return cache

    @property
    def layers(self) -> int:
        return len(self._k)

    def keys(self, layer: int) -> np.ndarray:
        return self._k[layer][: self.length]

    def values(self, layer: int) -> np.ndarray:
        return self._v[layer][: self.length]

    def write(self, layer: int, k_row: np.ndarray, v_row: np.ndarray) -> None:
        """Put the new position's key and value in row ``length`` of ``layer`` (see :meth:`advance`)."""
        if self.length >= self._k[layer].shape[0]:
            raise ValueError("the cache is full")
        self._k[layer][self.length] = k_row
        self._v[layer][self.length] = v_row

    def advance(self) -> None:
        """Count the row written in every layer: the cache is one position longer."""
        self.length += 1


class LayerStep(NamedTuple):
    """One layer on the new token: its input row, the new q, k, v, each head, the output row.

    ``heads[i]`` is attention of the one new query (1 × d_head) over the ``cached``
    keys including the new one (m × d_head); no mask is needed: everything in the
    cache is at or before the new position.
    """

    x: np.ndarray  # the row coming in (d)
    ln1: LayerNormResult
    q: np.ndarray  # the new query, d (head i: its column slice)
    k: np.ndarray  # the new key, appended to the cache
    v: np.ndarray  # the new value, appended to the cache
    cached: int  # keys the query is scored against (the cache length after appending)
    heads: tuple[AttentionResult, ...]
    attention: np.ndarray  # concat(heads)·W_O + b_O (d)
    h: np.ndarray  # x + attention
    ln2: LayerNormResult
    ffn: FFNResult
    y: np.ndarray  # h + FFN(LN₂(h))


class DecodeStep(NamedTuple):
    """The new token at ``position`` through every layer, with the cache, to its logits."""

    token: int
    position: int
    x0: np.ndarray  # E[token] + PE[position]
    layers: tuple[LayerStep, ...]
    final: LayerNormResult
    sampling: Sampling

    @property
    def logits(self) -> np.ndarray:
        return self.sampling.logits


def _w(block: dict[str, np.ndarray], key: str, shape: tuple[int, ...]) -> np.ndarray:
    if key in block:
        return np.asarray(block[key], dtype=np.float64)
    return np.ones(shape) if key.endswith("gamma") else np.zeros(shape)


def final_norm(x: np.ndarray, weights: PipelineWeights, eps: float) -> LayerNormResult:
    """The final layer norm with the weights' own γ and β (γ = 1, β = 0 when they have none)."""
    d = x.shape[-1]
    gamma = getattr(weights, "final_gamma", None)
    beta = getattr(weights, "final_beta", None)
    return layer_norm(x, np.ones(d) if gamma is None else gamma, np.zeros(d) if beta is None else beta, eps)


def decode_step(
    token: int,
    cache: KVCache,
    weights: PipelineWeights,
    *,
    heads: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    u: float | None = None,
    eps: float = 1e-5,
) -> DecodeStep:
    """Run one new token through the model at position ``cache.length``, growing the cache by one.

    Greedy when ``u`` is None, else the inverse-CDF draw at ``u`` after temperature, top-k, top-p.
    """
    V, d = weights.E.shape
    head_dim = head_dim_for(d, heads)
    position = cache.length
    x = weights.E[int(token)] + sinusoidal(np.array([position]), d).pe[0]
    x0 = x
    steps = []
    for layer, w in enumerate(weights.blocks):
        d_ff = np.asarray(w["W1"]).shape[1]
        ln1 = layer_norm(x, _w(w, "ln1_gamma", (d,)), _w(w, "ln1_beta", (d,)), eps)
        a = ln1.y
        q = a @ np.asarray(w["wq"], dtype=np.float64) + _w(w, "bq", (d,))
        k = a @ np.asarray(w["wk"], dtype=np.float64) + _w(w, "bk", (d,))
        v = a @ np.asarray(w["wv"], dtype=np.float64) + _w(w, "bv", (d,))
        cache.write(layer, k, v)
        m = cache.length + 1
        K = cache._k[layer][:m]
        Vc = cache._v[layer][:m]
        results = []
        for i in range(heads):
            cols = head_columns(i, head_dim)
            results.append(attend(q[None, cols], K[:, cols], Vc[:, cols]))
        concat = np.concatenate([r.output[0] for r in results])
        attention = concat @ np.asarray(w["wo"], dtype=np.float64) + _w(w, "bo", (d,))
        h = x + attention
        ln2 = layer_norm(h, _w(w, "ln2_gamma", (d,)), _w(w, "ln2_beta", (d,)), eps)
        ff = feed_forward(ln2.y[None, :], w["W1"], _w(w, "b1", (d_ff,)), w["W2"], _w(w, "b2", (d,)))
        y = h + ff.y[0]
        steps.append(LayerStep(x, ln1, q, k, v, m, tuple(results), attention, h, ln2, ff, y))
        x = y
    cache.advance()
    final = final_norm(x, weights, eps)
    s = sample_next(final.y, weights.W_U, temperature=temperature, top_k=top_k, top_p=top_p, u=u, greedy=u is None)
    return DecodeStep(int(token), position, x0, tuple(steps), final, s)


class Generation(NamedTuple):
    """A prompt continued by ``len(tokens)`` tokens.

    ``prefill`` is the full forward pass over the prompt (it fills the cache and
    gives the first new token); ``steps[j]`` feeds new token j back in and gives
    token j + 1 (so there is one step fewer than new tokens). ``logits[j]`` are the
    logits token j was chosen from; ``choices[j]`` the sampling that chose it.
    """

    prompt: np.ndarray
    prefill: Forward
    first: Sampling  # how the first new token was chosen (from the prefill's last row)
    steps: tuple[DecodeStep, ...]
    tokens: np.ndarray  # the new token ids
    logits: np.ndarray  # len(tokens) × V

    @property
    def choices(self) -> tuple[Sampling, ...]:
        return (self.first, *(s.sampling for s in self.steps))

    @property
    def sequence(self) -> np.ndarray:
        """The prompt followed by the new tokens."""
        return np.concatenate([self.prompt, self.tokens])


def generate(
    prompt: Sequence[int],
    weights: PipelineWeights,
    *,
    heads: int,
    count: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    us: Sequence[float] | None = None,
    eps: float = 1e-5,
) -> Generation:
    """Continue ``prompt`` by ``count`` tokens with a KV cache; greedy unless ``us`` gives one u per token.

    The first token comes from one full forward pass over the prompt (which fills
    the cache); each later one from :func:`decode_step` on the token before it.

    >>> from nntutor.core.pipeline import random_pipeline_weights
    >>> w = random_pipeline_weights(np.random.default_rng(0), 10, 4, 1)
    >>> g = generate([1, 2], w, heads=2, count=3)
    >>> g.tokens.shape, g.logits.shape, len(g.steps)
    ((3,), (3, 10), 2)
    >>> bool(np.abs(g.logits - full_recompute_logits(g.sequence, 2, w, heads=2)).max() < 1e-12)
    True
    """
    prompt = np.asarray(prompt, dtype=np.int64)
    if count < 1:
        raise ValueError("count must be at least 1")
    if us is not None and len(us) != count:
        raise ValueError("us must give one u per new token")
    u = [None] * count if us is None else [float(x) for x in us]
    r = forward(prompt, weights, heads=heads, eps=eps)
    first = sample_next(r.h_last, weights.W_U, temperature=temperature, top_k=top_k, top_p=top_p, u=u[0], greedy=u[0] is None)
    cache = KVCache.from_forward(r, prompt.size + count)
    tokens = [first.draw.token]
    steps = []
    for j in range(1, count):
        step = decode_step(
            tokens[-1], cache, weights, heads=heads, temperature=temperature, top_k=top_k, top_p=top_p, u=u[j], eps=eps
        )
        steps.append(step)
        tokens.append(step.sampling.draw.token)
    logits = np.stack([first.logits, *(s.logits for s in steps)])
    return Generation(prompt, r, first, tuple(steps), np.array(tokens, dtype=np.int64), logits)


def full_recompute_logits(sequence: Sequence[int], prompt_length: int, weights: PipelineWeights, *, heads: int, eps: float = 1e-5) -> np.ndarray:
    """The logits of every new token with no cache: the whole prefix through the model each time.

    Row j is the last row's logits of ``sequence[: prompt_length + j]``.
    """
    seq = np.asarray(sequence, dtype=np.int64)
    rows = [forward(seq[:m], weights, heads=heads, eps=eps).sampling.logits for m in range(prompt_length, seq.size)]
    return np.stack(rows)


# --------------------------------------------------------------------------- cost


def macs_with_cache(m: int, *, d: int, d_ff: int, layers: int, vocab: int) -> int:
    """Multiply-adds for one new token with the cache, at a cache of ``m`` positions (itself included)."""
    return layers * (4 * d * d + 2 * m * d + 2 * d * d_ff) + d * vocab


def macs_without_cache(m: int, *, d: int, d_ff: int, layers: int, vocab: int) -> int:
    """Multiply-adds for the same token recomputing all ``m`` positions (full m×m scores, last row unembedded)."""
    return layers * (4 * m * d * d + 2 * m * m * d + 2 * m * d * d_ff) + d * vocab


class CostRow(NamedTuple):
    position: int  # the new token's position (0-based)
    cached: int  # m: positions attended to, itself included
    with_cache: int
    without_cache: int

    @property
    def ratio(self) -> float:
        return self.without_cache / self.with_cache


def cost_table(lengths: Sequence[int], *, d: int, d_ff: int, layers: int, vocab: int) -> tuple[CostRow, ...]:
    """One :class:`CostRow` per sequence length m (the token at position m − 1)."""
    return tuple(
        CostRow(m - 1, m, macs_with_cache(m, d=d, d_ff=d_ff, layers=layers, vocab=vocab),
                macs_without_cache(m, d=d, d_ff=d_ff, layers=layers, vocab=vocab))
        for m in lengths
    )
