"""Token embeddings: look rows up, compare them by cosine, do analogy arithmetic.

An embedding table ``E`` has one row per vocabulary word. Looking token id ``t``
up is the same as multiplying the one-hot row ``onehot(t)`` by ``E``: the one
selects row ``t`` and every zero discards the other rows.

>>> vocab, E = TOY_VOCAB, TOY_E
>>> result = analogy(vocab, E, parse_analogy("king-man+woman"))
>>> result.ranking[0][0]
'queen'
>>> round(cosine(E[0], E[1]), 4)      # 0.67 / (√1.94 × √1.66)
0.3734
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

# The built-in toy table. Its four dimensions are named so a learner can read
# the rows: how royal, how male (negative = female), how old, how edible.
TOY_VOCAB: tuple[str, ...] = ("king", "queen", "man", "woman", "prince", "apple")
TOY_DIMS: tuple[str, ...] = ("royal", "male", "age", "food")
TOY_E = np.array(
    [
        [0.9, 0.8, 0.7, 0.0],  # king
        [0.9, -0.7, 0.6, 0.0],  # queen
        [0.1, 0.9, 0.6, 0.1],  # man
        [0.1, -0.8, 0.5, 0.1],  # woman
        [0.8, 0.7, -0.4, 0.0],  # prince
        [0.0, 0.0, 0.0, 1.0],  # apple
    ],
    dtype=np.float64,
)
TOY_SENTENCE = "man king woman queen"


class UnknownToken(LookupError):
    """A word that is not in the vocabulary (``word`` and ``vocab`` kept for the message)."""

    def __init__(self, word: str, vocab: Sequence[str]) -> None:
        self.word = word
        self.vocab = tuple(vocab)
        super().__init__(word)


class AnalogySyntaxError(ValueError):
    """An analogy expression that is not ``word (+|-) word …``."""


# ----------------------------------------------------------------------------- lookup


def tokenize(sentence: str) -> tuple[str, ...]:
    """Split on whitespace: ``'king  queen\\tman' -> ('king', 'queen', 'man')``."""
    return tuple(sentence.split())


def token_ids(vocab: Sequence[str], tokens: Sequence[str]) -> np.ndarray:
    """Each token's row number in the vocabulary.

    >>> token_ids(("king", "queen", "man"), ("man", "king")).tolist()
    [2, 0]
    """
    index = {word: i for i, word in enumerate(vocab)}
    ids = []
    for token in tokens:
        if token not in index:
            raise UnknownToken(token, vocab)
        ids.append(index[token])
    return np.array(ids, dtype=np.int64)


class Lookup(NamedTuple):
    """The ids, their one-hot rows and the looked-up vectors (``one_hot @ E == E[ids]``)."""

    tokens: tuple[str, ...]
    ids: np.ndarray  # (n,) int
    one_hot: np.ndarray  # (n, V)
    product: np.ndarray  # one_hot @ E, computed as a matrix product
    vectors: np.ndarray  # E[ids], computed by indexing


def one_hot(ids: np.ndarray, size: int) -> np.ndarray:
    """Rows of zeros with a 1 at each id: ``one_hot([2, 0], 3) -> [[0,0,1],[1,0,0]]``."""
    ids = np.asarray(ids, dtype=np.int64)
    rows = np.zeros((ids.size, size), dtype=np.float64)
    rows[np.arange(ids.size), ids] = 1.0
    return rows


def lookup(vocab: Sequence[str], E: np.ndarray, tokens: Sequence[str]) -> Lookup:
    """Map tokens to ids and rows of ``E`` both ways: by index and by one-hot product.

    >>> r = lookup(("a", "b"), np.array([[1.0, 2.0], [3.0, 4.0]]), ("b",))
    >>> r.ids.tolist(), r.one_hot.tolist(), r.vectors.tolist()
    ([1], [[0.0, 1.0]], [[3.0, 4.0]])
    """
    E = np.asarray(E, dtype=np.float64)
    if E.ndim != 2 or E.shape[0] != len(vocab):
        raise ValueError(f"E must have one row per vocabulary word ({len(vocab)}), got shape {E.shape}")
    ids = token_ids(vocab, tokens)
    hot = one_hot(ids, len(vocab))
    return Lookup(tuple(tokens), ids, hot, hot @ E, E[ids])


def embedding_backward(ids, dvectors, vocab_size: int) -> np.ndarray:
    """∂L/∂E from ∂L/∂(E[ids]): each looked-up row's gradient added into its token's row.

    The lookup copies row ``ids[i]`` of E, so its gradient goes back to that row
    alone; a token used twice gets both gradients added, and a token never used
    gets a row of zeros. ``ids`` may have any shape, ``dvectors`` that shape plus d.
    (As a product one_hot·E, this is one_hotᵀ·∂L/∂vectors, without the V × n matrix.)

    >>> embedding_backward(np.array([1, 0, 1]), np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), 3).tolist()
    [[3.0, 4.0], [6.0, 8.0], [0.0, 0.0]]
    """
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    dvectors = np.asarray(dvectors, dtype=np.float64)
    dvectors = dvectors.reshape(ids.size, dvectors.shape[-1])
    dE = np.zeros((vocab_size, dvectors.shape[1]))
    np.add.at(dE, ids, dvectors)
    return dE


# ----------------------------------------------------------------------------- cosine


def _unit_scaled(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows divided by their largest magnitude (zero rows stay zero), and those magnitudes.

    Scaling first keeps squares of tiny entries (1e-200) from underflowing to 0:
    the cosine does not depend on length, so it is unchanged.
    """
    peak = np.max(np.abs(A), axis=-1, keepdims=True)
    safe = np.where(peak == 0.0, 1.0, peak)
    return A / safe, peak[..., 0]


def norms(A: np.ndarray) -> np.ndarray:
    """Length of each row, computed without underflow: ``norms([[3, 4]]) -> [5]``."""
    scaled, peak = _unit_scaled(np.atleast_2d(np.asarray(A, dtype=np.float64)))
    return peak * np.linalg.norm(scaled, axis=-1)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """a·b / (|a| |b|); NaN when either vector is all zeros (no direction to compare).

    >>> cosine(np.array([1.0, 0.0]), np.array([1.0, 1.0]))    # 1 / (1 × √2)
    0.7071067811865475
    >>> math.isnan(cosine(np.array([0.0, 0.0]), np.array([1.0, 1.0])))
    True
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if not np.any(a) or not np.any(b):
        return math.nan
    ua, ub = _unit_scaled(np.vstack([a, b]))[0]
    return float(np.dot(ua, ub)) / float(np.linalg.norm(ua) * np.linalg.norm(ub))


class Similarity(NamedTuple):
    """Cosine similarity of every pair of rows, with its parts.

    ``similarity[i, j] = dots[i, j] / (norms[i] · norms[j])``; cells involving a
    zero row are NaN and marked in ``undefined``.
    """

    dots: np.ndarray  # (n, n) a_i · a_j
    norms: np.ndarray  # (n,) |a_i|
    similarity: np.ndarray  # (n, n)
    undefined: np.ndarray  # (n, n) bool
    zero_rows: np.ndarray  # (n,) bool


def similarity_matrix(vectors: np.ndarray) -> Similarity:
    """Pairwise cosine similarities of the rows of ``vectors``.

    >>> s = similarity_matrix(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]))
    >>> np.round(s.similarity, 4).tolist()
    [[1.0, 0.7071, nan], [0.7071, 1.0, nan], [nan, nan, nan]]
    """
    A = np.asarray(vectors, dtype=np.float64)
    dots = A @ A.T
    unit, peak = _unit_scaled(A)
    unit_norms = np.linalg.norm(unit, axis=1)
    zero = peak == 0.0
    undefined = zero[:, None] | zero[None, :]
    safe = np.where(zero, 1.0, unit_norms)
    sim = (unit @ unit.T) / np.outer(safe, safe)
    sim[undefined] = np.nan
    return Similarity(dots, peak * unit_norms, sim, undefined, zero)


# ----------------------------------------------------------------------------- analogy

_ANALOGY_TOKEN = re.compile(r"[+-]|[^\s+-]+")
MAX_ANALOGY_TERMS = 16


def parse_analogy(text: str) -> tuple[tuple[int, str], ...]:
    """``'king-man+woman' -> ((1, 'king'), (-1, 'man'), (1, 'woman'))``.

    Words are runs of characters other than whitespace, ``+`` and ``-``; one
    sign goes between words (a leading one is allowed). Nothing is evaluated.

    >>> parse_analogy(" - man + king ")
    ((-1, 'man'), (1, 'king'))
    """
    terms: list[tuple[int, str]] = []
    sign = 1
    previous = ""  # "", "sign" or "word"
    for token in _ANALOGY_TOKEN.findall(text):
        if token in ("+", "-"):
            if previous == "sign":
                raise AnalogySyntaxError("two signs in a row (expected one + or - between words)")
            sign = 1 if token == "+" else -1
            previous = "sign"
        else:
            if previous == "word":
                raise AnalogySyntaxError(f"missing + or - before {token!r}")
            terms.append((sign, token))
            if len(terms) > MAX_ANALOGY_TERMS:
                raise AnalogySyntaxError(f"more than {MAX_ANALOGY_TERMS} words")
            sign = 1
            previous = "word"
    if not terms:
        raise AnalogySyntaxError("no words")
    if previous == "sign":
        raise AnalogySyntaxError("ends with a sign (expected a word after it)")
    return tuple(terms)


class Analogy(NamedTuple):
    """The analogy's vector and its neighbours.

    ``ranking`` lists ``(word, cosine)`` best first over the vocabulary minus
    the words used in the expression (``excluded``); words with a zero vector
    (undefined cosine) are left out of it and listed in ``undefined``.
    """

    terms: tuple[tuple[int, str], ...]
    term_vectors: np.ndarray  # (terms, d) the signed rows that were added
    partial_sums: np.ndarray  # (terms, d) running total after each term
    vector: np.ndarray  # (d,) the result
    cosines: np.ndarray  # (V,) cosine of the result with every word (NaN if undefined)
    dots: np.ndarray  # (V,) result · each word's row
    norms: np.ndarray  # (V,) length of each word's row
    norm: float  # length of the result
    excluded: tuple[str, ...]
    ranking: tuple[tuple[str, float], ...]
    undefined: tuple[str, ...]


def analogy(vocab: Sequence[str], E: np.ndarray, terms: Sequence[tuple[int, str]]) -> Analogy:
    """Add and subtract rows of ``E``, then rank the other words by cosine with the result.

    >>> a = analogy(("a", "b", "c"), np.eye(3), ((1, "a"), (-1, "b")))
    >>> a.vector.tolist(), a.ranking
    ([1.0, -1.0, 0.0], (('c', 0.0),))
    """
    E = np.asarray(E, dtype=np.float64)
    words = [word for _, word in terms]
    ids = token_ids(vocab, words)
    signs = np.array([sign for sign, _ in terms], dtype=np.float64)
    signed = E[ids] * signs[:, None]
    partial = np.cumsum(signed, axis=0)
    vector = partial[-1].copy()
    cosines = np.array([cosine(vector, row) for row in E], dtype=np.float64)
    excluded = tuple(dict.fromkeys(words))
    candidates = [(vocab[i], float(c)) for i, c in enumerate(cosines) if vocab[i] not in excluded]
    ranked = sorted(
        ((w, c) for w, c in candidates if not math.isnan(c)),
        key=lambda item: -item[1],
    )
    undefined = tuple(w for w, c in candidates if math.isnan(c))
    return Analogy(
        tuple(terms),
        signed,
        partial,
        vector,
        cosines,
        E @ vector,
        norms(E),
        float(norms(vector)[0]),
        excluded,
        tuple(ranked),
        undefined,
    )


def offset_cosine(vocab: Sequence[str], E: np.ndarray, first: tuple[str, str], second: tuple[str, str]) -> float:
    """The cosine between two offsets, E[b] − E[a] for ``first`` = (a, b) and likewise ``second``.

    king − man + woman lands on queen exactly when queen − king equals woman − man;
    their cosine says how nearly the two offsets point the same way (NaN when one is zero).

    >>> offset_cosine(("a", "b", "c", "d"), np.array([[0.0, 0], [1, 0], [0, 1], [1, 2]]), ("a", "b"), ("c", "d"))
    0.7071067811865475
    """
    E = np.asarray(E, dtype=np.float64)
    (a, b), (c, d) = token_ids(vocab, first), token_ids(vocab, second)
    return cosine(E[b] - E[a], E[d] - E[c])
