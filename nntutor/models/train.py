"""Training the tiny model from scratch: NumPy float64, mini-batches, AdamW, one seed.

1. the tokenizer is learned from the training sentences (:mod:`nntutor.models.tokenizer`);
2. the weights start from :func:`nntutor.core.lm.init_weights` with a generator
   seeded by ``seed``; the same generator then draws every batch;
3. a batch is B windows of context + 1 tokens: each starts at the beginning of a
   training sentence drawn at random and runs on through further random
   sentences (every sentence ends with "."), so the model sees sentences at the
   start of its context and after others;
4. each step: :func:`~nntutor.core.lm.lm_loss` (mean next-token cross-entropy),
   :func:`~nntutor.core.lm.lm_backward`, and AdamW (:func:`~nntutor.core.optim.adamw_update`,
   on every parameter at once, laid end to end; weight decay on the matrices only).

The same settings and seed give the same model, step for step. Matrix products
run on one thread (:func:`one_thread`): for arrays this small, more threads on a
busy machine are slower, not faster.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from nntutor.core.lm import (
    decayed_names,
    from_parameters,
    init_weights,
    lm_backward,
    lm_loss,
    parameters,
)
from nntutor.core.optim import BETAS, EPS, adamw_update
from nntutor.models import corpus
from nntutor.models.model import TinyModel
from nntutor.models.threads import one_thread
from nntutor.models.tokenizer import Tokenizer, learn_tokenizer


class Settings(NamedTuple):
    """Everything a training run depends on (the defaults are the shipped model's)."""

    seed: int = 18
    steps: int = 1200
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 0.01
    d_model: int = 32
    layers: int = 2
    heads: int = 2
    context: int = 32


LIMITS = {
    "steps": (1, 100_000), "batch_size": (1, 512), "d_model": (2, 256), "layers": (1, 8), "heads": (1, 16),
    "context": (2, 256), "seed": (0, 2**32 - 1),
}


def check_settings(s: Settings) -> None:
    """A ``ValueError`` naming the setting (as its flag) that cannot be used."""
    for key, (low, high) in LIMITS.items():
        value = getattr(s, key)
        if not low <= value <= high:
            raise ValueError(f"--{key.replace('_', '-')}: {value} is outside {low}..{high}")
    if s.d_model % s.heads:
        raise ValueError(f"--heads: {s.heads} does not divide --d-model {s.d_model}")
    if not 0 < s.lr <= 1:
        raise ValueError(f"--lr: {s.lr} must be above 0 and at most 1")
    if not 0 <= s.weight_decay < 1:
        raise ValueError(f"--weight-decay: {s.weight_decay} must be at least 0 and below 1")


def sentence_ids(tokenizer: Tokenizer, sentences: Sequence[corpus.Sentence]) -> list[np.ndarray]:
    return [tokenizer.encode(s.text) for s in sentences]


def draw_batch(rng: np.random.Generator, sequences: Sequence[np.ndarray], batch_size: int, length: int) -> np.ndarray:
    """``batch_size`` windows of ``length`` tokens, each from a random sentence start onwards."""
    out = np.empty((batch_size, length), dtype=np.int64)
    for b in range(batch_size):
        pieces, total = [], 0
        while total < length:
            seq = sequences[int(rng.integers(len(sequences)))]
            pieces.append(seq)
            total += len(seq)
        out[b] = np.concatenate(pieces)[:length]
    return out


class Layout:
    """Where each parameter sits in one flat vector (in the order of the dict it was made from).

    >>> lay = Layout({"a": np.zeros((2, 2)), "b": np.zeros(3)})
    >>> flat = lay.flatten({"a": np.ones((2, 2)), "b": np.arange(3.0)})
    >>> flat.tolist(), lay.unflatten(flat)["b"].tolist()
    ([1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 2.0], [0.0, 1.0, 2.0])
    """

    def __init__(self, params: dict[str, np.ndarray]) -> None:
        self.names = list(params)
        self.shapes = [np.shape(params[n]) for n in self.names]
        self.ends = np.cumsum([int(np.prod(s, dtype=np.int64)) for s in self.shapes]).tolist()

    def flatten(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([np.ravel(arrays[n]) for n in self.names])

    def unflatten(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Views into ``flat``, one per parameter, in its shape."""
        starts = [0, *self.ends[:-1]]
        return {n: flat[a:b].reshape(s) for n, s, a, b in zip(self.names, self.shapes, starts, self.ends, strict=True)}


class Stepper:
    """Training steps from ``params`` on: forward, loss, backward, AdamW (what :func:`train` runs each step).

    Every parameter is laid end to end in one vector, so AdamW runs once per step on one
    array: the same numbers as parameter by parameter, as its arithmetic is element-wise.
    """

    def __init__(self, params: dict[str, np.ndarray], settings: Settings) -> None:
        self.settings = settings
        self.layout = Layout(params)
        self.flat = self.layout.flatten(params)
        decayed = decayed_names(settings.layers)
        self.decay = self.layout.flatten({k: np.full(np.shape(v), settings.weight_decay if k in decayed else 0.0) for k, v in params.items()})
        self.m = np.zeros_like(self.flat)
        self.v = np.zeros_like(self.flat)
        self.t = 0

    def step(self, tokens: np.ndarray) -> float:
        """One step on the batch ``tokens`` (B × n); the loss before the update."""
        layers = self.settings.layers
        weights = from_parameters(self.layout.unflatten(self.flat), layers)
        result = lm_loss(tokens, weights, heads=self.settings.heads)
        grads = self.layout.flatten(lm_backward(result, weights).grads)
        self.t += 1
        u = adamw_update(self.flat, grads, self.m, self.v, self.t, lr=self.settings.lr, weight_decay=self.decay)
        self.flat, self.m, self.v = u.new, u.m, u.v
        return result.loss

    def params(self) -> dict[str, np.ndarray]:
        """The parameters now (copies)."""
        return {name: value.copy() for name, value in self.layout.unflatten(self.flat).items()}


class Progress(NamedTuple):
    """What the caller is told after each step."""

    step: int  # steps done, from 1
    steps: int
    loss: float
    seconds: float


class Result(NamedTuple):
    """The trained model, its loss at every step done, and whether Ctrl-C stopped it early."""

    model: TinyModel
    losses: list[float]
    interrupted: bool
    seconds: float


def start(settings: Settings) -> tuple[Tokenizer, list[np.ndarray], np.random.Generator, dict[str, np.ndarray]]:
    """The tokenizer, the training sentences as ids, the seeded generator and the starting parameters."""
    parts = corpus.split()
    tokenizer = learn_tokenizer(corpus.text_of(parts.train))
    rng = np.random.default_rng(settings.seed)
    weights = init_weights(rng, len(tokenizer.vocab), settings.d_model, settings.layers)
    return tokenizer, sentence_ids(tokenizer, parts.train), rng, parameters(weights)


def config_for(settings: Settings, command: str, losses: list[float], seconds: float) -> dict:
    """The training and corpus records of the model file."""
    parts = corpus.split()
    return {
        "training": {
            "command": command, "seed": settings.seed, "steps": settings.steps, "steps_done": len(losses),
            "batch_size": settings.batch_size, "lr": settings.lr, "weight_decay": settings.weight_decay,
            "betas": list(BETAS), "adam_eps": EPS, "loss_curve": losses, "seconds": round(seconds, 3),
        },
        "corpus": {
            "name": "nntutor-grammar", "seed": parts.seed, "sha256": corpus.checksum(),
            "train_sentences": len(parts.train), "held_out_sentences": len(parts.held_out),
        },
    }


def train(settings: Settings, *, command: str = "", on_step: Callable[[Progress], None] | None = None) -> Result:
    """Train from scratch; Ctrl-C (KeyboardInterrupt) ends it after the last whole step, keeping that model."""
    check_settings(settings)
    tokenizer, sequences, rng, params = start(settings)
    stepper = Stepper(params, settings)
    losses: list[float] = []
    interrupted = False
    began = time.perf_counter()
    with one_thread():
        try:
            for step in range(1, settings.steps + 1):
                tokens = draw_batch(rng, sequences, settings.batch_size, settings.context + 1)
                loss = stepper.step(tokens)
                losses.append(loss)
                if on_step is not None:
                    on_step(Progress(step, settings.steps, loss, time.perf_counter() - began))
        except KeyboardInterrupt:
            interrupted = True
    seconds = time.perf_counter() - began
    config = config_for(settings, command, losses, seconds)
    model = TinyModel(from_parameters(stepper.params(), settings.layers), tokenizer, settings.heads, settings.context,
                      config=config, source="trained")
    return Result(model, losses, interrupted, seconds)


MODEL_FILENAME = "model.npz"


def default_output() -> str:
    """Where ``nntutor train`` writes without ``-o``: ``model.npz`` in the data folder."""
    from nntutor.study.datadir import data_dir

    return str(data_dir() / MODEL_FILENAME)


FLAGS = (
    ("seed", "--seed"), ("steps", "--steps"), ("batch_size", "--batch-size"), ("lr", "--lr"),
    ("weight_decay", "--weight-decay"), ("d_model", "--d-model"), ("layers", "--layers"),
    ("heads", "--heads"), ("context", "--context"),
)


def command_line(settings: Settings) -> str:
    """The command that trains exactly this model again, every setting spelled out.

    >>> command_line(Settings())
    'nntutor train --seed 18 --steps 1200 --batch-size 16 --lr 0.003 --weight-decay 0.01 --d-model 32 --layers 2 --heads 2 --context 32'
    """
    return " ".join(["nntutor train", *(f"{flag} {getattr(settings, key)!r}" for key, flag in FLAGS)])
