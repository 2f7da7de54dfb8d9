"""A model's own tokenizer: BPE merges learned with the bpe lesson's learner, and its vocabulary.

Text is made lower case and "." and "," become words of their own (the corpus is
written that way); then each word is segmented with the merges
(:func:`nntutor.core.bpe.encode_word`). The vocabulary is ``<unk>`` (id 0), every
base symbol of the training text in order of first appearance, then each merge's
new symbol in merge order; a symbol the vocabulary lacks becomes ``<unk>``.

>>> tok = learn_tokenizer("the bank .\\nthe bank .\\n")
>>> tok.tokens("The bank.")
('the</w>', 'bank</w>', '.</w>')
>>> tok.decode(tok.encode("the bank."))
'the bank .'
>>> tok.tokens("the banks")  # 'k' inside a word and 's' ending one never occurred: <unk>
('the</w>', 'ba', 'n', '<unk>', '<unk>')
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from nntutor.core.bpe import (
    END,
    Pair,
    count_words,
    encode_word,
    initial_symbols,
    learn_bpe,
    merge_ranks,
)

UNK = "<unk>"
NUM_MERGES = 1000  # an upper bound: learning stops when no pair occurs twice
MIN_FREQUENCY = 2
_PUNCTUATION = re.compile(r"([.,])")


def normalize(text: str) -> list[str]:
    """The words of ``text`` as the corpus writes them: ``'The bank, too.' -> ['the', 'bank', ',', 'too', '.']``."""
    return _PUNCTUATION.sub(r" \1 ", text.lower()).split()


class _Coder:
    """One tokenizer's merge ranks, vocabulary index and the symbols of each word seen so far.

    Built once per tokenizer (:func:`_coder`): the corpus repeats its words, and the
    merges and vocabulary, tuples of hundreds of entries, used to be hashed again for
    every word of every text (most of the held-out evaluation's tokenizing time).
    """

    def __init__(self, merges: tuple[Pair, ...], vocab: tuple[str, ...]) -> None:
        self.ranks = merge_ranks(merges)
        self.index = {t: i for i, t in enumerate(vocab)}
        self.word = lru_cache(maxsize=65536)(self._word)

    def _word(self, word: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
        """A word's symbols (``<unk>`` for those the vocabulary lacks) and their ids."""
        symbols = tuple(t if t in self.index else UNK for t in encode_word(word, self.ranks))
        return symbols, tuple(self.index[t] for t in symbols)

    def tokens(self, text: str) -> tuple[str, ...]:
        return tuple(t for word in normalize(text) for t in self.word(word)[0])

    def ids(self, text: str) -> list[int]:
        return [i for word in normalize(text) for i in self.word(word)[1]]


_CODERS: dict[tuple[int, int], tuple[tuple[Pair, ...], tuple[str, ...], _Coder]] = {}


def _coder(merges: tuple[Pair, ...], vocab: tuple[str, ...]) -> _Coder:
    """The :class:`_Coder` of these merges and vocabulary, found by identity.

    A model's tokenizer keeps the same two tuples for its life, so looking them up by
    ``id`` (the entry holds them, so the ids cannot be reused while it exists) spares
    hashing hundreds of entries on every call; equal tuples that are other objects
    just get a coder of their own.
    """
    key = (id(merges), id(vocab))
    hit = _CODERS.get(key)
    if hit is None or hit[0] is not merges or hit[1] is not vocab:
        if len(_CODERS) >= 8:
            _CODERS.clear()
        hit = _CODERS[key] = (merges, vocab, _Coder(merges, vocab))
    return hit[2]


class Tokenizer(NamedTuple):
    """Merges in the order learned and the vocabulary (token strings, index = id)."""

    merges: tuple[Pair, ...]
    vocab: tuple[str, ...]

    def tokens(self, text: str) -> tuple[str, ...]:
        return _coder(self.merges, self.vocab).tokens(text)

    def encode(self, text: str) -> np.ndarray:
        """Token ids of ``text`` (int64)."""
        return np.array(_coder(self.merges, self.vocab).ids(text), dtype=np.int64)

    def decode(self, ids: Sequence[int]) -> str:
        """The text of ``ids``: symbols joined, a space wherever a word ends (``</w>``)."""
        pieces = [self.vocab[int(i)] for i in ids]
        text = "".join(p[: -len(END)] + " " if p.endswith(END) else (p + " " if p == UNK else p) for p in pieces)
        return text.strip()


def vocabulary(word_counts: dict[str, int], merges: Sequence[Pair]) -> tuple[str, ...]:
    """``<unk>``, the base symbols in order of first appearance, then each merge's new symbol."""
    base: dict[str, None] = {}
    for word in word_counts:
        base.update(dict.fromkeys(initial_symbols(word)))
    merged = dict.fromkeys(a + b for a, b in merges)
    return (UNK, *base, *(s for s in merged if s not in base))


def learn_tokenizer(text: str, num_merges: int = NUM_MERGES, min_frequency: int = MIN_FREQUENCY) -> Tokenizer:
    """Learn merges from ``text`` (one sentence a line) with :func:`nntutor.core.bpe.learn_bpe`."""
    counts = count_words(" ".join(normalize(text)))
    result = learn_bpe(counts, num_merges, min_frequency, top_k=0, detail=0)
    merges = tuple(result.pairs)
    return Tokenizer(merges, vocabulary(counts, merges))
