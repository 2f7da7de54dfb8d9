"""The model a lesson runs, chosen by ``--model``: ``tiny`` (trained, shipped), ``random`` or a PATH
(a ``.npz`` model file, or nntutor's own model as GGUF: ``nntutor export tiny -o tiny.gguf``).

Shared by the lessons that run a whole language model (generate, lm-loss,
train-step, attention-patterns, pipeline, next-token). :func:`choose` is called
from their ``check`` and is the only place here that raises ``InputError``.

A :class:`LessonModel` is the weights (:class:`nntutor.core.pipeline.PipelineWeights`),
the number of heads, the tokenizer (text → tokens → ids, ids → text) and where
it came from, in words for the screen.

>>> m = choose("tiny")
>>> m.trained, m.weights.E.shape[0] == len(m.vocab), m.heads, m.context
(True, True, 2, 32)
>>> m.encode("the fisher sat")[0]
('the</w>', 'fisher</w>', 'sat</w>')
>>> m.decode(m.encode("The fisher sat.")[1])
'the fisher sat .'
>>> choose("random", seed=3).trained
False
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from nntutor.core.bpe import END
from nntutor.core.pipeline import UNK, PipelineWeights
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
    source: Any = None  # the nntutor.models.model.TinyModel it wraps (None: the pipeline's random weights)

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


def pipeline_random(seed: int, *, d_model: int = 8, layers: int = 2, heads: int = 2, tokenizer: str = "bpe") -> LessonModel:
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


class UnreadableModel(InputError):
    """A model file that exists but cannot be read (permissions, I/O): exit code 1."""

    exit_code = 1


def _from_tiny(name: str, m: Any, trained: bool, about: str) -> LessonModel:
    """A :class:`LessonModel` around a :class:`nntutor.models.model.TinyModel`."""

    def tokenize(text: str):
        tokens = m.tokenizer.tokens(text)
        return tokens, m.tokenizer.encode(text), tuple(t == UNK for t in tokens)

    return LessonModel(name, trained, m.weights, m.heads, m.vocab, m.context, about, tokenize, m.decode, m.eps, m)


_LOADED: dict[str, Any] = {}


def _load(flag: str, name: str) -> Any:
    from nntutor.models.model import load_model
    from nntutor.models.modelfile import ModelFileError, ModelFileUnreadable

    if name in _LOADED:
        return _LOADED[name]
    try:
        m = load_model(name)
    except ModelFileUnreadable as exc:
        raise UnreadableModel(flag, str(exc)) from None
    except ModelFileError as exc:
        raise InputError(flag, f"{exc} (expected tiny, random or a model file written by nntutor train or nntutor export)") from None
    if name == "tiny":
        _LOADED[name] = m  # the shipped file never changes while nntutor runs
    return m


def choose(value: str, *, seed: int = 0, flag: str = "--model") -> LessonModel:
    """The model ``--model VALUE`` names: ``tiny``, ``random`` (tiny's shapes and tokenizer, weights
    from ``seed``) or a file; a bad name or file is an ``InputError`` naming ``flag``."""
    text = str(value).strip()
    if text == "random":
        from nntutor.models.model import random_model as untrained

        m = untrained(_load(flag, "tiny"), seed=seed)
        return _from_tiny("random", m, False, f"the trained model's shapes and tokenizer with random weights from --seed {seed} (untrained)")
    m = _load(flag, text)
    steps = m.config.get("training", {}).get("steps_done")
    what = "the model shipped with nntutor" if text == "tiny" else "a model file"
    trained = f", trained for {steps} steps on the built-in corpus" if steps else ""
    return _from_tiny(text, m, bool(steps), f"{what}{trained}")


class HeldOut(NamedTuple):
    """A model's score on held-out sentences: top-1 accuracy where the next token is determined, perplexity."""

    accuracy: float
    perplexity: float
    count: int  # positions scored for accuracy


_SCORES: dict[str, HeldOut] = {}


def held_out(model: LessonModel) -> HeldOut | None:
    """The model's top-1 accuracy (where the continuation is determined) and perplexity on the
    corpus's held-out sentences (:func:`nntutor.models.evaluate.evaluate`); None without a tokenizer of its own."""
    if model.source is None:
        return None
    key = model.name if model.name == "tiny" else ""
    if key and key in _SCORES:
        return _SCORES[key]
    from nntutor.models.evaluate import evaluate

    e = evaluate(model.source)
    score = HeldOut(e.accuracy, e.perplexity, e.determined)
    if key:
        _SCORES[key] = score
    return score
