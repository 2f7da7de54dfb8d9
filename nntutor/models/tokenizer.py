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


@lru_cache(maxsize=8)
def _ranks(merges: tuple[Pair, ...]) -> dict[Pair, int]:
    return merge_ranks(merges)


@lru_cache(maxsize=8)
def _index(vocab: tuple[str, ...]) -> dict[str, int]:
    return {t: i for i, t in enumerate(vocab)}


@lru_cache(maxsize=65536)
def _segment(word: str, merges: tuple[Pair, ...]) -> tuple[str, ...]:
    """One word's BPE symbols (computed once per word: the corpus repeats its words; the merges,
    their ranks and the vocabulary index were rebuilt for every text before, a third of the
    held-out evaluation's time)."""
    return tuple(encode_word(word, _ranks(merges)))


class Tokenizer(NamedTuple):
    """Merges in the order learned and the vocabulary (token strings, index = id)."""

    merges: tuple[Pair, ...]
    vocab: tuple[str, ...]

    def tokens(self, text: str) -> tuple[str, ...]:
        known = _index(self.vocab)
        return tuple(t if t in known else UNK for word in normalize(text) for t in _segment(word, self.merges))

    def encode(self, text: str) -> np.ndarray:
        """Token ids of ``text`` (int64)."""
        index = _index(self.vocab)
        return np.array([index[t] for t in self.tokens(text)], dtype=np.int64)

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
