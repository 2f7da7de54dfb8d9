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
  p = 1/V everywhere, has perplexity V (the baseline), and one that knows the
  grammar perfectly has the grammar's own perplexity (the floor: where the
  grammar leaves a choice open, no model can know which word comes).
"""

from __future__ import annotations

import math
from collections import defaultdict
from functools import cache
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


@cache
def _counts(tokenizer: Tokenizer) -> dict[tuple[int, ...], dict[int, int]]:
    """Every prefix of every sentence of the language (as ids) -> how many sentences go on with each token."""
    counts: dict[tuple[int, ...], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for s in corpus.language():
        ids = tuple(int(i) for i in tokenizer.encode(s.text))
        for i in range(1, len(ids)):
            counts[ids[:i]][ids[i]] += 1
    return {key: dict(value) for key, value in counts.items()}




def determined_positions(tokenizer: Tokenizer, sentence: corpus.Sentence, number: int = 0) -> tuple[Position, ...]:
    """The positions of ``sentence`` where the grammar allows one next token (``number`` labels the sentence).

    >>> from nntutor.models.model import load_model
    >>> tok = load_model("tiny").tokenizer
    >>> s = corpus.language()[0]                       # the fisher sat on the bank and looked at the water .
    >>> [(p.index, tok.vocab[p.expected], p.tag) for p in determined_positions(tok, s)][:3]
    [(2, 'on</w>', 'sense'), (3, 'the</w>', 'template'), (4, 'bank</w>', 'template')]
    """
    following = _counts(tokenizer)
    ids = tuple(int(i) for i in tokenizer.encode(sentence.text))
    tags = _word_tags(sentence, tokenizer)
    return tuple(
        Position(number, i, ids[i + 1], tags[i + 1] or "template")
        for i in range(len(ids) - 1)
        if len(following.get(ids[: i + 1], {})) == 1
    )


def grammar_perplexity(tokenizer: Tokenizer, seed: int = corpus.SEED) -> float:
    """The perplexity on the held-out sentences of a model that knows the grammar perfectly.

    At each position it gives the next token the share of the language's sentences
    with the same beginning that go on with it (every sentence equally likely): no
    model can do better on average, since where the grammar leaves a choice open, the
    choice is a coin toss.
    """
    counts = _counts(tokenizer)
    total, n = 0.0, 0
    for s in corpus.split(seed).held_out:
        ids = tuple(int(i) for i in tokenizer.encode(s.text))
        for i in range(len(ids) - 1):
            options = counts[ids[: i + 1]]
            total -= math.log(options[ids[i + 1]] / sum(options.values()))
            n += 1
    return math.exp(total / n)


def held_out_set(tokenizer: Tokenizer, seed: int = corpus.SEED) -> tuple[HeldOutSentence, ...]:
    """The held-out sentences as ids, each with its determined positions."""
    return tuple(
        HeldOutSentence(s, tokenizer.encode(s.text), determined_positions(tokenizer, s, n))
        for n, s in enumerate(corpus.split(seed).held_out)
    )


class Evaluation(NamedTuple):
    """Accuracy at determined positions, perplexity against the uniform baseline, and the counts."""

    accuracy: float
    perplexity: float
    baseline: float  # V: the perplexity of p = 1/V
    floor: float  # the perplexity of the grammar itself (:func:`grammar_perplexity`): the best any model can do
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
    # one forward per length (sentences of equal length stacked as a batch) instead of one per
    # sentence: the same numbers to rounding (every sentence is still fed alone, from its first
    # token, causally masked), a tenth of the forwards; the sums run in sentence order as before
    by_length: dict[int, list[int]] = defaultdict(list)
    for k, item in enumerate(items):
        by_length[item.ids.size].append(k)
    rows: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for ks in by_length.values():
        r = model.loss(np.stack([items[k].ids for k in ks]))
        predicted = r.forward.logits.argmax(axis=-1)
        for row, k in enumerate(ks):
            rows[k] = r.unembed.losses[row], predicted[row]
    for k, item in enumerate(items):
        losses, predicted = rows[k]
        total_loss += float(losses.sum())
        positions += losses.size
        for p in item.determined:
            hit = int(predicted[p.index] == p.expected)
            correct += hit
            by_tag[p.tag][0] += hit
            by_tag[p.tag][1] += 1
    determined = sum(len(item.determined) for item in items)
    mean_loss = total_loss / positions
    return Evaluation(
        correct / determined, math.exp(mean_loss), float(model.vocab_size), grammar_perplexity(model.tokenizer, seed), mean_loss, determined, correct, positions,
        {tag: (c, n) for tag, (c, n) in sorted(by_tag.items())}, len(items),
    )
