"""The model a lesson runs, chosen by ``--model``: ``tiny`` (trained, shipped), ``random`` or a PATH.

Shared by the lessons that run a whole language model (generate, lm-loss,
train-step, attention-patterns, pipeline, next-token). :func:`choose` is called
from their ``check`` and is the only place here that raises ``InputError``.

A :class:`LessonModel` is the weights (:class:`nntutor.core.pipeline.PipelineWeights`),
the number of heads, the tokenizer (text → tokens → ids, ids → text) and where
it came from, in words for the screen.

>>> m = choose("random", seed=0)
>>> m.trained, m.weights.E.shape[0] == len(m.vocab), m.heads
(False, True, 2)
>>> m.encode("the bank")[0]
('the</w>', 'bank</w>')
>>> m.decode(m.encode("Was the bank flooded?")[1])
'Was the bank flooded?'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from nntutor.core.bpe import END
from nntutor.core.pipeline import PipelineWeights
from nntutor.errors import InputError

BUILT_IN = ("tiny", "random")


class LessonModel(NamedTuple):
    """A model ready to run, and how to speak about it."""

    name: str  # "tiny", "random" or the path as typed
    trained: bool
    weights: PipelineWeights
    heads: int
    vocab: tuple[str, ...]
    context: int | None  # the longest sequence it may see (None: no limit)
    about: str  # one line for the screen: what it is and where it came from
    tokenize: Callable[[str], tuple[tuple[str, ...], np.ndarray, tuple[bool, ...]]]
    detokenize: Callable[[np.ndarray], str]
    eps: float = 1e-5

    def encode(self, text: str) -> tuple[tuple[str, ...], np.ndarray, tuple[bool, ...]]:
        """(tokens, ids, which were unknown)."""
        return self.tokenize(text)

    def decode(self, ids) -> str:
        return self.detokenize(np.asarray(ids, dtype=np.int64))

    @property
    def d_model(self) -> int:
        return int(self.weights.E.shape[1])

    @property
    def layers(self) -> int:
        return len(self.weights.blocks)

    @property
    def d_ff(self) -> int:
        return int(np.asarray(self.weights.blocks[0]["W1"]).shape[1])

    @property
    def shape_words(self) -> str:
        return (f"d_model {self.d_model}, {self.layers} layers of {self.heads} heads, d_ff {self.d_ff}, "
                f"vocabulary {len(self.vocab)}" + (f", context {self.context}" if self.context else ""))


def bpe_text(tokens) -> str:
    """BPE symbols back to text: ``('the</w>', 'ban', 'k</w>') -> 'the bank'``.

    >>> bpe_text(("Was</w>", "the</w>", "floode", "d", "?</w>"))
    'Was the flooded?'
    """
    return "".join(t[: -len(END)] + " " if t.endswith(END) else t for t in tokens).rstrip()


def random_model(seed: int, *, d_model: int = 8, layers: int = 2, heads: int = 2, tokenizer: str = "bpe") -> LessonModel:
    """The pipeline lesson's untrained model: every weight drawn from ``seed`` (its documented order)."""
    from nntutor.core.pipeline import build_vocabulary, ids_with_unk, random_pipeline_weights
    from nntutor.core.pipeline import tokenize as split

    vocab = build_vocabulary(tokenizer)
    weights = random_pipeline_weights(np.random.default_rng(seed), len(vocab), d_model, layers)

    def tokenize(text: str):
        tokens = split(text, tokenizer)
        ids, unknown = ids_with_unk(vocab, tokens)
        return tokens, ids, unknown

    def detokenize(ids: np.ndarray) -> str:
        tokens = [vocab[int(i)] for i in ids]
        return bpe_text(tokens) if tokenizer == "bpe" else " ".join(tokens)

    about = f"random weights from --seed {seed} (untrained: its predictions mean nothing)"
    return LessonModel("random", False, weights, heads, vocab, None, about, tokenize, detokenize)


def choose(value: str, *, seed: int = 0, flag: str = "--model") -> LessonModel:
    """The model ``--model VALUE`` names; a bad name or file is an ``InputError`` naming ``flag``."""
    text = str(value).strip()
    if text == "random":
        return random_model(seed)
    if text == "tiny":
        raise InputError(flag, "tiny: the trained model is not available in this build (expected random or a PATH)")
    from nntutor.catalog.reading import FileProblem, read_limited

    try:
        read_limited(text, 0)
    except FileProblem as problem:
        raise InputError(flag, f"{text!r} {problem} (expected tiny, random or a model file written by nntutor train)") from None
    raise InputError(flag, f"{text!r}: model files cannot be read in this build")


class HeldOut(NamedTuple):
    """A model's score on held-out sentences: top-1 accuracy where the next token is determined, perplexity."""

    accuracy: float
    perplexity: float
    count: int  # positions scored for accuracy


def held_out(model: LessonModel) -> HeldOut | None:
    """The model's held-out accuracy and perplexity (None when it has no held-out set to be scored on)."""
    return None
