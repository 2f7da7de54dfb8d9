"""The built-in corpus: a small template grammar written for nntutor.

Every sentence comes from one of five templates, each a pattern a tiny model can
learn and a learner can recognise. A word that the earlier words of its sentence
force is tagged with the reason:

- ``sense``: the bank of the river or the bank that holds money. Who is at the
  bank (a fisher or a clerk) decides "on the bank" or "in the bank"; where the
  bank stands decides what came before ("after the rain" or "after the sale");
- ``copy``: who did what to whom. "anna gave the book to ben , and ben thanked
  anna ." The names after "and" are copies of names earlier in the sentence;
- ``relation``: "anna is taller than ben , so ben is shorter than anna ." The
  second comparison is the first one turned round;
- ``agreement``: "the dogs near the tree are quiet ." The verb agrees with the
  subject, not with the nearer noun.

Words are lower case and punctuation is a word of its own ("." and ","), so
every word is easy to see as a token. The whole language is small (a few hundred
sentences, :func:`language`); :func:`split` holds out a seeded share of it that
the model never sees in training.

>>> s = language()[0]
>>> " ".join(s.words), s.template
('the fisher sat on the bank and looked at the water .', 'bank-river')
>>> [(w, t) for w, t in zip(s.words, s.tags) if t]
[('on', 'sense')]
>>> parts = split()
>>> len(parts.train) + len(parts.held_out) == len(language()), len(parts.held_out) > 50
(True, True)
"""

from __future__ import annotations

import hashlib
from functools import cache
from itertools import product
from typing import NamedTuple

import numpy as np

SEED = 18
HELD_OUT_FRACTION = 0.15
TAGS = ("sense", "copy", "relation", "agreement")

NAMES = ("anna", "ben", "cara", "dev", "emma", "finn", "gus", "hana")
RIVER_PEOPLE = ("fisher", "boatman", "heron")
MONEY_PEOPLE = ("clerk", "banker", "teller")
RIVER_THINGS = ("water", "ducks", "reeds")
MONEY_THINGS = ("money", "coins", "notes")
DAYS = ("monday", "friday", "sunday")
GIFTS = ("book", "apple", "letter")
# (comparative, its opposite)
COMPARISONS = (("taller", "shorter"), ("older", "younger"), ("faster", "slower"))
# (singular, plural)
ANIMALS = (("dog", "dogs"), ("cat", "cats"), ("bird", "birds"), ("horse", "horses"), ("child", "children"))
PLACES = (("tree", "trees"), ("gate", "gates"), ("wall", "walls"))
MOODS = ("quiet", "hungry", "happy")


class Sentence(NamedTuple):
    """One sentence of the grammar: its words, why each is forced (or None), its template."""

    words: tuple[str, ...]
    tags: tuple[str | None, ...]
    template: str

    @property
    def text(self) -> str:
        return " ".join(self.words)


def _sentence(template: str, *parts) -> Sentence:
    """Parts are words (str) or (word, tag) pairs."""
    words, tags = [], []
    for part in parts:
        word, tag = (part, None) if isinstance(part, str) else part
        words.append(word)
        tags.append(tag)
    return Sentence(tuple(words), tuple(tags), template)


def _bank_people() -> list[Sentence]:
    out = []
    for people, prep, things, template in (
        (RIVER_PEOPLE, "on", RIVER_THINGS, "bank-river"),
        (MONEY_PEOPLE, "in", MONEY_THINGS, "bank-money"),
    ):
        for who, verb, thing in product(people, ("sat", "waited"), things):
            out.append(_sentence(template, "the", who, verb, (prep, "sense"), "the", "bank", "and", "looked", "at", "the", thing, "."))
    return out


def _bank_places() -> list[Sentence]:
    out = []
    for place, moods, cause, template in (
        ("river", ("muddy", "wet", "green"), "rain", "bank-river"),
        ("street", ("closed", "busy", "full"), "sale", "bank-money"),
    ):
        near = "by" if place == "river" else "on"
        for day, mood in product(DAYS, moods):
            out.append(_sentence(template, "on", day, "the", "bank", near, "the", place, "was", mood, "after", "the", (cause, "sense"), "."))
    return out


def _gifts() -> list[Sentence]:
    out = []
    for a, b in product(NAMES, NAMES):
        if a == b:
            continue
        for gift in GIFTS:
            out.append(_sentence("gift", a, "gave", "the", gift, "to", b, ",", "and", (b, "copy"), "thanked", (a, "copy"), "."))
    return out


def _comparisons() -> list[Sentence]:
    out = []
    for a, b in product(NAMES, NAMES):
        if a == b:
            continue
        for more, less in COMPARISONS:
            out.append(_sentence("compare", a, "is", more, "than", b, ",", "so", (b, "copy"), "is", (less, "relation"), "than", (a, "copy"), "."))
    return out


def _agreement() -> list[Sentence]:
    out = []
    for (sg, pl), (place_sg, place_pl), mood in product(ANIMALS, PLACES, MOODS):
        for subject, verb in ((sg, "is"), (pl, "are")):
            for place in (place_sg, place_pl):
                out.append(_sentence("agreement", "the", subject, "near", "the", place, (verb, "agreement"), mood, "."))
    return out


@cache
def language() -> tuple[Sentence, ...]:
    """Every sentence the grammar makes, in a fixed order (templates in the order above)."""
    return tuple(_bank_people() + _bank_places() + _gifts() + _comparisons() + _agreement())


class Split(NamedTuple):
    """The training sentences and the held-out ones (never seen in training), each in grammar order."""

    train: tuple[Sentence, ...]
    held_out: tuple[Sentence, ...]
    seed: int


@cache
@cache
def split(seed: int = SEED) -> Split:
    """Hold out :data:`HELD_OUT_FRACTION` of each template's sentences, drawn with ``seed``.

    Per template, so that every pattern is both learned and tested. Computed once per seed
    (the held-out evaluation asks for it twice; the result is tuples, never changed).
    """
    rng = np.random.default_rng(seed)
    sentences = language()
    held: set[int] = set()
    for template in dict.fromkeys(s.template for s in sentences):
        members = [i for i, s in enumerate(sentences) if s.template == template]
        count = max(1, round(HELD_OUT_FRACTION * len(members)))
        held.update(int(i) for i in rng.choice(members, size=count, replace=False))
    train = tuple(s for i, s in enumerate(sentences) if i not in held)
    held_out = tuple(s for i, s in enumerate(sentences) if i in held)
    return Split(train, held_out, seed)


def text_of(sentences) -> str:
    """One sentence a line: what the tokenizer learns from."""
    return "".join(s.text + "\n" for s in sentences)


def checksum(seed: int = SEED) -> str:
    """SHA-256 of the training text, a blank line and the held-out text: names the data a model saw."""
    parts = split(seed)
    data = text_of(parts.train) + "\n" + text_of(parts.held_out)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()
