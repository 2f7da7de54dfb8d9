"""How many parameters a GPT-style transformer has, and how much memory its weights take.

A block holds exactly the weights of :mod:`nntutor.core.block` (the transformer-block
lesson): four d×d projections with biases, a two-layer FFN d → d_ff → d, and two layer
norms with γ and β. Around the L blocks: a token embedding (V × d), learned positions
(n_ctx × d), a final layer norm (2d, as in GPT-2's pre-norm design), and an output layer
that either reuses the token embedding (tied: no new parameters) or has its own V × d
matrix (no bias). Counts are exact Python integers at any size.

Worked example, d = 8, d_ff = 32, V = 50, n_ctx = 16, L = 2, tied:

- attention 4·8² + 4·8 = 288, FFN 2·8·32 + 32 + 8 = 552, layer norms 4·8 = 32: 872 a block;
- 50·8 + 16·8 + 2·872 + 2·8 = 400 + 128 + 1,744 + 16 = 2,288.

>>> count = model_count(Sizes(vocab=50, d_model=8, layers=2, heads=2, d_ff=32, context=16, tied=True))
>>> count.block.attention, count.block.ffn, count.block.norms, count.block.total
(288, 552, 32, 872)
>>> count.total, weight_bytes(count.total, "FP16")
(2288, 4576)
>>> model_count(PRESETS["gpt2-small"]).total
124439808
"""

from __future__ import annotations

import math
from typing import NamedTuple

from nntutor.core.block import WEIGHT_SHAPES, shape_of
from nntutor.core.multihead import head_dim_for

# Bytes per number of each storage format (BF16 has FP16's size: 1 sign, 8 exponent, 7 mantissa bits).
BYTES_PER_NUMBER = {"FP32": 4, "FP16": 2}

# The block's weights by sublayer, in the names of core.block.
ATTENTION = ("wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo")
FFN = ("W1", "b1", "W2", "b2")
NORMS = ("ln1_gamma", "ln1_beta", "ln2_gamma", "ln2_beta")


class Sizes(NamedTuple):
    """What a transformer's parameter count depends on (and nothing else: not the input)."""

    vocab: int  # V, the number of tokens
    d_model: int  # d, the width of every token vector
    layers: int  # L, the number of blocks
    heads: int  # h, attention heads per block (d_head = d / h)
    d_ff: int  # the FFN's hidden width
    context: int  # n_ctx, the number of learned positions
    tied: bool  # the output layer reuses the token embedding


# Published architectures. GPT-2 small (Radford et al. 2019, the released 124M model):
# V = 50,257, n_ctx = 1,024, d = 768, 12 layers of 12 heads, d_ff = 4d, tied embeddings.
# GPT-3 175B (Brown et al. 2020, Table 2.1): d = 12,288, 96 layers of 96 heads (d_head 128),
# n_ctx = 2,048, GPT-2's vocabulary and layout (tied embeddings assumed, as in GPT-2).
PRESETS = {
    "gpt2-small": Sizes(vocab=50257, d_model=768, layers=12, heads=12, d_ff=3072, context=1024, tied=True),
    "gpt3": Sizes(vocab=50257, d_model=12288, layers=96, heads=96, d_ff=49152, context=2048, tied=True),
}
# What each was published as: the released GPT-2 checkpoint's exact count; GPT-3's rounded "175.0B".
PUBLISHED = {"gpt2-small": (124_439_808, "exact"), "gpt3": (175_000_000_000, "rounded to 0.1B")}


class Part(NamedTuple):
    """One weight array: its name (core.block's) and shape; ``count`` numbers."""

    name: str
    shape: tuple[int, ...]

    @property
    def count(self) -> int:
        return math.prod(self.shape)


class BlockCount(NamedTuple):
    """The parameters of one block, weight by weight, and by sublayer.

    >>> b = block_count(4, 16)
    >>> [(p.name, p.shape) for p in b.parts[:2]], b.attention, b.ffn, b.norms
    ([('wq', (4, 4)), ('bq', (4,))], 80, 148, 16)
    """

    parts: tuple[Part, ...]

    def _sum(self, names: tuple[str, ...]) -> int:
        return sum(p.count for p in self.parts if p.name in names)

    @property
    def attention(self) -> int:
        return self._sum(ATTENTION)

    @property
    def ffn(self) -> int:
        return self._sum(FFN)

    @property
    def norms(self) -> int:
        return self._sum(NORMS)

    @property
    def total(self) -> int:
        return sum(p.count for p in self.parts)

    @property
    def biases(self) -> int:
        """Every bias vector (the b's; the layer norms' β are counted with the norms)."""
        return sum(p.count for p in self.parts if p.name.startswith("b"))


def block_count(d_model: int, d_ff: int) -> BlockCount:
    """Every weight of one block with its shape, from :data:`nntutor.core.block.WEIGHT_SHAPES`."""
    order = ATTENTION + FFN + NORMS
    assert set(order) == set(WEIGHT_SHAPES)
    return BlockCount(tuple(Part(name, shape_of(name, int(d_model), int(d_ff))) for name in order))


def closed_forms(d_model: int, d_ff: int) -> tuple[int, int, int]:
    """The textbook formulas, ``(4d² + 4d, 2·d·d_ff + d_ff + d, 4d)``: ``closed_forms(8, 32) -> (288, 552, 32)``."""
    d, f = int(d_model), int(d_ff)
    return 4 * d * d + 4 * d, 2 * d * f + f + d, 4 * d


class ModelCount(NamedTuple):
    """The whole model: the blocks and what surrounds them."""

    sizes: Sizes
    block: BlockCount

    @property
    def head_dim(self) -> int:
        return head_dim_for(self.sizes.d_model, self.sizes.heads)

    @property
    def blocks(self) -> int:
        return self.sizes.layers * self.block.total

    @property
    def token_embedding(self) -> int:
        return self.sizes.vocab * self.sizes.d_model

    @property
    def positions(self) -> int:
        return self.sizes.context * self.sizes.d_model

    @property
    def final_norm(self) -> int:
        return 2 * self.sizes.d_model

    @property
    def output(self) -> int:
        """The output layer's own weights: 0 when tied to the token embedding, else V × d."""
        return 0 if self.sizes.tied else self.sizes.vocab * self.sizes.d_model

    @property
    def total(self) -> int:
        return self.token_embedding + self.positions + self.blocks + self.final_norm + self.output

    @property
    def estimate(self) -> int:
        """The usual rule of thumb 12·L·d² (blocks with d_ff = 4d, every vector left out)."""
        return 12 * self.sizes.layers * self.sizes.d_model**2


def model_count(sizes: Sizes) -> ModelCount:
    """The parameters of a model of these sizes (see the module docstring)."""
    head_dim_for(sizes.d_model, sizes.heads)  # the heads must split d evenly
    return ModelCount(sizes, block_count(sizes.d_model, sizes.d_ff))


def weight_bytes(count: int, fmt: str) -> int:
    """Bytes to store ``count`` numbers in format ``fmt``: ``weight_bytes(124439808, "FP32") -> 497759232``."""
    return int(count) * BYTES_PER_NUMBER[fmt]
