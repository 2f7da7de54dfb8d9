"""Generating with a Llama-architecture model and its key–value cache, and what the cache saves.

The prompt goes through :func:`nntutor.core.llama.forward` once with a
:class:`~nntutor.core.llama.KVCache` (prefill); its last row gives new token 1.
Each later token is fed back alone: one row per layer, its key and value
(after RoPE) appended to that layer's cache, its query scored against every
cached key. With grouped-query attention a layer caches ``n_head_kv`` key heads
and ``n_head_kv`` value heads of ``head_dim`` numbers per position, not
``n_head``: the cache is ``n_head / n_head_kv`` times smaller.

Multiply-adds are counted in the matrix products only (RMSNorm, RoPE, SiLU,
softmax and the residual additions are a few per number and left out). Width d,
key/value width kv = n_head_kv·head_dim, SwiGLU width f, L layers, vocabulary V,
a new token at a cache of m positions (itself included):

    with the cache:  L·(2d² + 2d·kv + 2md + 3df) + dV
                     (W_Q, W_O; W_K, W_V; m scores and m weighted values per query head; gate, up, down)
    without it:      L·(m(2d² + 2d·kv) + 2m²d + 3mdf) + dV   (every row again, the full m × m scores)

The output row is computed once in both (a generator needs the last position's logits only).

>>> from nntutor.models.gguf_file import LlamaConfig
>>> c = LlamaConfig(1, 8, 4, 2, 16, 10, 32, 1e4, 1e-5, True)   # d 8, kv 2·2 = 4, f 16, V 10
>>> macs_with_cache(3, c)      # 2·64 + 2·8·4 + 2·3·8 + 3·8·16 + 8·10 = 128 + 64 + 48 + 384 + 80
704
>>> macs_without_cache(3, c)   # 3·(128 + 64) + 2·9·8 + 3·3·8·16 + 80 = 576 + 144 + 1152 + 80
1952
>>> cache_numbers(c, 5), cache_numbers(c, 5, kv_heads=4)   # 1 layer × 2 (K, V) × 5 × 2 heads × 2
(40, 80)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from nntutor.core import llama
from nntutor.core.sampling import rank, sample_next


class Choice(NamedTuple):
    """How one new token was chosen: its id, the probabilities (softmax at the temperature,
    before any top-k/top-p filter), the draw (None: greedy) and how many tokens the filters kept."""

    token: int
    probs: np.ndarray  # (V,) float64
    u: float | None
    kept: int

    @property
    def p(self) -> float:
        return float(self.probs[self.token])

    def runner_up(self) -> int:
        """The most probable token other than the one chosen."""
        return next(int(i) for i in rank(self.probs)[:2] if int(i) != self.token)


class Step(NamedTuple):
    """New token ``number`` fed back at ``position``: what it saw and what it chose."""

    token: int
    position: int
    cached: int  # keys each query is scored against (the cache length after appending)
    head: llama.HeadDetail  # the zoomed query head of the zoomed layer
    choice: Choice  # the next token


class Generation(NamedTuple):
    """A prompt continued by ``len(tokens)`` tokens; ``logits[j]`` are those new token j was chosen from."""

    prompt: np.ndarray
    first: Choice  # from the prefill's last row
    steps: tuple[Step, ...]  # steps[j]: new token j + 1 fed back (one fewer than new tokens)
    tokens: np.ndarray
    logits: np.ndarray  # (count × V) float64
    cache: llama.KVCache

    @property
    def choices(self) -> tuple[Choice, ...]:
        return (self.first, *(s.choice for s in self.steps))

    @property
    def sequence(self) -> np.ndarray:
        return np.concatenate([self.prompt, self.tokens])


def choose(logits: np.ndarray, *, temperature: float = 1.0, top_k: int | None = None,
           top_p: float | None = None, u: float | None = None) -> Choice:
    """The next token from a row of logits, as :func:`nntutor.core.sampling.sample_next` chooses it
    (greedy when ``u`` is None). The logits are passed as a 1 × V output matrix for a hidden
    vector [1], so sample_next's own product gives them back unchanged.

    >>> choose(np.array([2.0, 1.0, 0.0])).token, choose(np.array([2.0, 1.0, 0.0]), u=0.95).token
    (0, 2)
    """
    z = np.asarray(logits, dtype=np.float64)
    s = sample_next(np.ones(1), z[None, :], temperature=temperature, top_k=top_k, top_p=top_p, u=u, greedy=u is None)
    return Choice(s.draw.token, s.softmax.probs, None if u is None else float(u), int(np.count_nonzero(s.kept)))


def generate(config: Any, weights: llama.Weights, prompt: Sequence[int], count: int, *, dtype: Any = np.float64,
             temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
             us: Sequence[float] | None = None, zoom: tuple[int, int] = (0, 0)) -> Generation:
    """Continue ``prompt`` by ``count`` tokens with a KV cache; greedy unless ``us`` gives one u per token.

    ``zoom`` = (layer, query head) kept in full at every fed-back token.

    >>> from nntutor.models.demo import demo_model
    >>> m = demo_model()
    >>> g = generate(m.config, m.tensor, [1, 2, 3], 3)
    >>> g.tokens.shape, g.logits.shape, len(g.steps), g.cache.length
    ((3,), (3, 284), 2, 5)
    """
    prompt = np.asarray(prompt, dtype=np.int64)
    if count < 1:
        raise ValueError("count must be at least 1")
    u = [None] * count if us is None else [float(x) for x in us]
    if len(u) != count:
        raise ValueError("us must give one u per new token")
    settings = {"temperature": temperature, "top_k": top_k, "top_p": top_p}
    cache = llama.KVCache(config.n_layer)
    out = llama.forward(config, weights, prompt, cache=cache, all_logits=False, dtype=dtype)
    rows = [out.logits[-1].astype(np.float64)]
    first = choose(rows[0], u=u[0], **settings)
    tokens = [first.token]
    steps = []
    layer, head = zoom
    for j in range(1, count):
        position = cache.length
        out = llama.forward(config, weights, [tokens[-1]], cache=cache, zoom=llama.Zoom(layer, head, 0),
                            all_logits=False, dtype=dtype)
        rows.append(out.logits[-1].astype(np.float64))
        c = choose(rows[-1], u=u[j], **settings)
        steps.append(Step(tokens[-1], position, cache.length, out.head, c))
        tokens.append(c.token)
    return Generation(prompt, first, tuple(steps), np.array(tokens, dtype=np.int64), np.stack(rows), cache)


def recompute_logits(config: Any, weights: llama.Weights, sequence: Sequence[int], prompt_length: int,
                     dtype: Any = np.float64) -> np.ndarray:
    """Every new token's logits again, without a cache: one pass over the whole sequence.

    Row j is the last-position logits of ``sequence[: prompt_length + j]``: under the causal
    mask position p sees only positions 0…p, so row p of one pass over the whole sequence is
    what a pass over the first p + 1 tokens alone gives (up to the order of the sums).
    """
    seq = np.asarray(sequence, dtype=np.int64)
    out = llama.forward(config, weights, seq[:-1], dtype=dtype)  # the last token chose nothing
    return out.logits[prompt_length - 1:].astype(np.float64)


# --------------------------------------------------------------------------- sizes and cost


def kv_width(config: Any) -> int:
    """Numbers in one position's key (and in its value) in one layer: n_head_kv × head_dim."""
    return config.n_head_kv * config.head_dim


def cache_numbers(config: Any, length: int, kv_heads: int | None = None) -> int:
    """Numbers the cache holds for ``length`` positions: L layers × (K and V) × length × heads × head_dim.
    ``kv_heads`` asks what it would hold with another number of key/value heads (n_head: no sharing)."""
    heads = config.n_head_kv if kv_heads is None else kv_heads
    return config.n_layer * 2 * length * heads * config.head_dim


def layer_weights(config: Any) -> int:
    """Weights of one block's matrices (W_Q, W_K, W_V, W_O, gate, up, down): one multiply-add each per row."""
    d = config.d_model
    return 2 * d * d + 2 * d * kv_width(config) + 3 * d * config.d_ff


def parameters(config: Any) -> int:
    """Every weight: the blocks' matrices and gains, the embedding (and the output matrix if untied), the final gain."""
    d = config.d_model
    return config.n_layer * (layer_weights(config) + 2 * d) + config.vocab * d * (1 if config.tied else 2) + d


def macs_with_cache(m: int, config: Any) -> int:
    """Multiply-adds for one new token with the cache, at a cache of ``m`` positions (itself included)."""
    d = config.d_model
    return config.n_layer * (layer_weights(config) + 2 * m * d) + d * config.vocab


def macs_without_cache(m: int, config: Any) -> int:
    """Multiply-adds for the same token recomputing all ``m`` positions (full m × m scores, last row unembedded)."""
    d = config.d_model
    return config.n_layer * (m * layer_weights(config) + 2 * m * m * d) + d * config.vocab
