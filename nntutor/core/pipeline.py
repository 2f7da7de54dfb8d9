"""The whole path of a decoder-only transformer, from text to the next token.

Every stage is another core module's function; this module only chains them:

1. tokenize: split on whitespace, then (``bpe``) segment each word with merges
   learned from :data:`CORPUS` (``nntutor.core.bpe``), or (``whitespace``) keep
   whole words;
2. ids: each token's row in the vocabulary; a token the vocabulary lacks
   becomes ``<unk>`` (id 0) (``nntutor.core.embedding.token_ids``);
3. embedding lookup ``E[ids]`` plus the sinusoidal positional encoding
   (``nntutor.core.embedding.lookup``, ``nntutor.core.positional.sinusoidal``);
4. ``L`` pre-norm transformer blocks with a causal mask
   (``nntutor.core.block.transformer_block``), then a final layer norm
   (``nntutor.core.layernorm.layer_norm``; γ = 1, β = 0 for random weights, the
   learned γ and β for a trained model), as GPT-2 ends;
5. the last position's vector times the unembedding ``W_U``, softmax at a
   temperature, and the next token (``nntutor.core.sampling.sample_next``).

Weights come from one generator, drawn in this order: E (V × d, N(0, 1)), each
block's weights (``random_weights``, d_ff = 4d), W_U (d × V, N(0, 1/d)), all
rounded to 2 decimals; then, only when sampling, the uniform number u (floored to
4 decimals).

>>> vocab = build_vocabulary("whitespace")
>>> tokenize("Was the bank flooded?", "whitespace")
('Was', 'the', 'bank', 'flooded?')
>>> [vocab[i] for i in ids_with_unk(vocab, ("the", "flooded?"))[0]]
['the', '<unk>']
>>> tokenize("Was the bank flooded?", "bpe")
('Was</w>', 'the</w>', 'bank</w>', 'floode', 'd', '?</w>')
>>> w = random_pipeline_weights(np.random.default_rng(0), len(vocab), 4, 1)
>>> r = forward(np.array([1, 2]), w, heads=2)
>>> r.probs.shape == (len(vocab),), round(float(r.probs.sum()), 12)
(True, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache
from typing import NamedTuple

import numpy as np

from nntutor.core.block import BlockResult, random_weights, transformer_block
from nntutor.core.bpe import (
    END,
    BPEResult,
    count_words,
    encode_word,
    initial_symbols,
    learn_bpe,
    merge_ranks,
)
from nntutor.core.embedding import Lookup, lookup, token_ids
from nntutor.core.embedding import tokenize as split_whitespace
from nntutor.core.layernorm import LayerNormResult, layer_norm
from nntutor.core.positional import Sinusoidal, sinusoidal
from nntutor.core.sampling import Sampling, sample_next

TOKENIZERS = ("bpe", "whitespace")
UNK = "<unk>"
FFN_EXPANSION = 4  # d_ff = 4·d_model, as in GPT-2
NUM_MERGES = 100  # an upper bound: learning stops earlier, when no pair occurs twice
MIN_FREQUENCY = 2

# A small corpus about two kinds of bank. Written for nntutor.
CORPUS = """The river rose in the night and the bank flooded.
Was the bank open on Monday?
The bank lent money to the farmer.
The farmer sat on the river bank.
Was the river high after the rain?
The water flooded the road and the fields.
The old bank stood by the river.
Was the money safe in the bank?
The rain fell and the river flooded the town.
We walked along the bank of the river.
The town was quiet after the flood.
Was the road open?
"""


@cache
def learned_bpe() -> BPEResult:
    """The merges learned from :data:`CORPUS` (computed once; the corpus never changes)."""
    return learn_bpe(count_words(CORPUS), NUM_MERGES, MIN_FREQUENCY, top_k=0, detail=0)


@cache
def build_vocabulary(tokenizer: str) -> tuple[str, ...]:
    """``<unk>`` first, then the corpus's tokens.

    whitespace: the corpus's distinct words, in order of first appearance.
    bpe: every symbol of the corpus before any merge (characters, the last of a
    word carrying ``</w>``), in order of first appearance, then each merge's new
    symbol in merge order (the vocabulary grows by one per merge).
    """
    if tokenizer == "whitespace":
        words = split_whitespace(CORPUS)
        return (UNK, *dict.fromkeys(words))
    if tokenizer == "bpe":
        base: dict[str, None] = {}
        for word in count_words(CORPUS):
            base.update(dict.fromkeys(initial_symbols(word)))
        merged = dict.fromkeys(m.symbol for m in learned_bpe().merges)
        return (UNK, *base, *(s for s in merged if s not in base))
    raise ValueError(f"tokenizer must be one of {TOKENIZERS}")


def words_of(text: str) -> tuple[str, ...]:
    """The words of ``text``: runs of non-whitespace characters."""
    return split_whitespace(text)


def segment(words: Sequence[str], tokenizer: str) -> tuple[tuple[str, ...], ...]:
    """Each word's tokens: itself (whitespace) or its BPE symbols."""
    if tokenizer == "whitespace":
        return tuple((w,) for w in words)
    if tokenizer == "bpe":
        ranks = merge_ranks(learned_bpe().pairs)
        return tuple(encode_word(w, ranks) for w in words)
    raise ValueError(f"tokenizer must be one of {TOKENIZERS}")


def tokenize(text: str, tokenizer: str) -> tuple[str, ...]:
    """All tokens of ``text`` in order (see :func:`segment`)."""
    return tuple(t for pieces in segment(words_of(text), tokenizer) for t in pieces)


def ids_with_unk(vocab: Sequence[str], tokens: Sequence[str]) -> tuple[np.ndarray, tuple[bool, ...]]:
    """Token ids, every token missing from ``vocab`` replaced by ``<unk>``, and which were.

    >>> ids, unknown = ids_with_unk(("<unk>", "a", "b"), ("b", "c"))
    >>> ids.tolist(), unknown
    ([2, 0], (False, True))
    """
    known = set(vocab)
    unknown = tuple(t not in known for t in tokens)
    mapped = [UNK if u else t for t, u in zip(tokens, unknown, strict=True)]
    return token_ids(vocab, mapped), unknown


def strip_end(token: str) -> str:
    """A BPE symbol as text: ``'bank</w>' -> 'bank'`` (the marker means "a word ends here")."""
    return token[: -len(END)] if token.endswith(END) else token


class PipelineWeights(NamedTuple):
    """Everything the model is made of: E (V × d), one dict per block, W_U (d × V).

    ``final_gamma`` and ``final_beta`` (d each) are the final layer norm's scale and
    shift: None means γ = 1, β = 0 (random weights); a trained model learns them.
    """

    E: np.ndarray
    blocks: tuple[dict[str, np.ndarray], ...]
    W_U: np.ndarray
    final_gamma: np.ndarray | None = None
    final_beta: np.ndarray | None = None


def random_pipeline_weights(rng: np.random.Generator, vocab_size: int, d_model: int, layers: int) -> PipelineWeights:
    """E, the blocks' weights and W_U, drawn from ``rng`` in that order and rounded to 2 decimals."""
    E = np.round(rng.normal(0.0, 1.0, size=(vocab_size, d_model)), 2)
    blocks = tuple(random_weights(rng, d_model, FFN_EXPANSION * d_model) for _ in range(layers))
    W_U = np.round(rng.normal(0.0, 1.0 / math.sqrt(d_model), size=(d_model, vocab_size)), 2)
    return PipelineWeights(E, blocks, W_U)


def draw_u(rng: np.random.Generator) -> float:
    """A uniform number in [0, 1), floored to 4 decimals (the next-token lesson's convention)."""
    return math.floor(float(rng.random()) * 10_000) / 10_000


class Forward(NamedTuple):
    """Every stage from ids to the next token.

    ``x0 = embedded + positions.pe``; ``blocks[i].y`` feeds block i + 1;
    ``final`` is the final layer norm of the last block's output and
    ``h_last = final.y[-1]``; ``sampling`` holds logits, softmax and the draw.
    """

    ids: np.ndarray
    lookup: Lookup
    positions: Sinusoidal
    x0: np.ndarray
    blocks: tuple[BlockResult, ...]
    final: LayerNormResult
    h_last: np.ndarray
    sampling: Sampling

    @property
    def probs(self) -> np.ndarray:
        return self.sampling.softmax.probs

    @property
    def next_id(self) -> int:
        return self.sampling.draw.token


def forward(
    ids: np.ndarray,
    weights: PipelineWeights,
    *,
    heads: int,
    temperature: float = 1.0,
    u: float | None = None,
    eps: float = 1e-5,
) -> Forward:
    """Run ids through embedding, positions, the causal pre-norm blocks, final LN and unembedding.

    Greedy (argmax) when ``u`` is None, else the inverse-CDF draw at ``u``.
    """
    ids = np.asarray(ids, dtype=np.int64)
    if ids.ndim != 1 or ids.size == 0:
        raise ValueError("ids must be a non-empty vector")
    V, d = weights.E.shape
    vocab = tuple(str(i) for i in range(V))  # lookup by id: names do not matter here
    looked = lookup(vocab, weights.E, [str(i) for i in ids])
    positions = sinusoidal(np.arange(ids.size), d)
    x = looked.vectors + positions.pe
    x0 = x
    results = []
    for w in weights.blocks:
        r = transformer_block(x, w, heads=heads, norm="pre", causal=True, eps=eps)
        results.append(r)
        x = r.y
    gamma = np.ones(d) if weights.final_gamma is None else weights.final_gamma
    beta = np.zeros(d) if weights.final_beta is None else weights.final_beta
    final = layer_norm(x, gamma, beta, eps)
    h_last = final.y[-1]
    s = sample_next(h_last, weights.W_U, temperature=temperature, u=u, greedy=u is None)
    return Forward(ids, looked, positions, x0, tuple(results), final, h_last, s)
