"""Did the model learn? Next-token accuracy and perplexity on sentences it never saw.

A position is **determined** when the grammar allows exactly one next token
there: among all sentences of the language (:func:`nntutor.models.corpus.language`)
that begin with the same tokens, every one continues with the same token. "the
fisher sat" can only go on with "on"; "the fisher sat on the bank and looked at
the" can go on with "water", "ducks" or "reeds", so that position is not determined.

On each held-out sentence, fed alone from its first token:

- accuracy: at the determined positions, how often the most probable next token
  is the one the grammar forces;
- perplexity: e^L with L the mean of −ln p[next token] over every position of
  every held-out sentence (determined or not); a model that knows nothing,
  p = 1/V everywhere, has perplexity V (the baseline).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import NamedTuple

import numpy as np

from nntutor.models import corpus
from nntutor.models.model import TinyModel
from nntutor.models.tokenizer import Tokenizer


class Position(NamedTuple):
    """One determined position of one held-out sentence: predict ``ids[index + 1]`` from ``ids[: index + 1]``."""

    sentence: int  # index into the held-out sentences
    index: int
    expected: int  # the token id the grammar forces
    tag: str  # why: a corpus tag (sense, copy, relation, agreement) of its word, or "template"


class HeldOutSentence(NamedTuple):
    sentence: corpus.Sentence
    ids: np.ndarray
    determined: tuple[Position, ...]


def _word_tags(sentence: corpus.Sentence, tokenizer: Tokenizer) -> list[str | None]:
    """The tag of each token: its word's tag (every token of a word shares it)."""
    tags = []
    for word, tag in zip(sentence.words, sentence.tags, strict=True):
        tags.extend([tag] * len(tokenizer.tokens(word)))
    return tags


def held_out_set(tokenizer: Tokenizer, seed: int = corpus.SEED) -> tuple[HeldOutSentence, ...]:
    """The held-out sentences as ids, each with its determined positions."""
    following: dict[tuple[int, ...], set[int]] = defaultdict(set)
    for s in corpus.language():
        ids = tuple(int(i) for i in tokenizer.encode(s.text))
        for i in range(1, len(ids)):
            following[ids[:i]].add(ids[i])
    out = []
    for n, s in enumerate(corpus.split(seed).held_out):
        ids = tokenizer.encode(s.text)
        tags = _word_tags(s, tokenizer)
        key = tuple(int(i) for i in ids)
        positions = tuple(
            Position(n, i, key[i + 1], tags[i + 1] or "template")
            for i in range(len(key) - 1)
            if len(following[key[: i + 1]]) == 1
        )
        out.append(HeldOutSentence(s, ids, positions))
    return tuple(out)


class Evaluation(NamedTuple):
    """Accuracy at determined positions, perplexity against the uniform baseline, and the counts."""

    accuracy: float
    perplexity: float
    baseline: float  # V: the perplexity of p = 1/V
    mean_loss: float  # ln perplexity
    determined: int  # determined positions scored
    correct: int
    positions: int  # every position in the perplexity
    by_tag: dict[str, tuple[int, int]]  # tag -> (correct, determined)
    sentences: int


def evaluate(model: TinyModel, seed: int = corpus.SEED) -> Evaluation:
    """Score ``model`` on the held-out sentences of :func:`nntutor.models.corpus.split` (see the module)."""
    items = held_out_set(model.tokenizer, seed)
    correct = 0
    total_loss = 0.0
    positions = 0
    by_tag: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for item in items:
        r = model.loss(item.ids[None, :])
        total_loss += float(r.unembed.losses.sum())
        positions += r.targets.size
        predicted = r.forward.logits[0].argmax(axis=-1)
        for p in item.determined:
            hit = int(predicted[p.index] == p.expected)
            correct += hit
            by_tag[p.tag][0] += hit
            by_tag[p.tag][1] += 1
    determined = sum(len(item.determined) for item in items)
    mean_loss = total_loss / positions
    return Evaluation(
        correct / determined, math.exp(mean_loss), float(model.vocab_size), mean_loss, determined, correct, positions,
        {tag: (c, n) for tag, (c, n) in sorted(by_tag.items())}, len(items),
    )
