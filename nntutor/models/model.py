"""A language model nntutor can run: its weights, sizes, tokenizer and the record of its training.

:func:`load_model` gives the shipped model (``"tiny"``) or one that ``nntutor
train`` wrote (a path); :func:`random_model` the same sizes and tokenizer with the
pipeline lesson's random weights, for comparison. The file format is in
:mod:`nntutor.models.modelfile`.

>>> m = load_model("tiny")
>>> m.d_model, m.layers, m.heads, m.context
(32, 2, 2, 32)
>>> ids = m.encode("the fisher sat on the bank")
>>> m.decode(ids)
'the fisher sat on the bank'
>>> r = m.forward(ids)  # the pipeline lesson's forward pass, with the trained weights
>>> r.probs.shape == (m.vocab_size,)
True
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

from nntutor.core.lm import LMForward, LMLoss, lm_forward, lm_loss
from nntutor.core.pipeline import Forward, PipelineWeights, forward, random_pipeline_weights
from nntutor.models.tokenizer import Tokenizer

SHIPPED = "tiny"
SHIPPED_FILE = "tiny.npz"


class TinyModel(NamedTuple):
    """A decoder-only transformer exactly as the pipeline lesson runs it, with its tokenizer (immutable).

    ``config`` is the whole JSON record of the model file (sizes, tokenizer, training
    command, loss curve, corpus checksum); ``source`` says where it came from
    (``"tiny"``, a path, or ``"random (seed N)"``).
    """

    weights: PipelineWeights
    tokenizer: Tokenizer
    heads: int
    context: int
    eps: float = 1e-5
    config: Mapping[str, Any] = MappingProxyType({})
    source: str = ""

    @property
    def d_model(self) -> int:
        return int(self.weights.E.shape[1])

    @property
    def vocab_size(self) -> int:
        return int(self.weights.E.shape[0])

    @property
    def layers(self) -> int:
        return len(self.weights.blocks)

    @property
    def d_ff(self) -> int:
        return int(self.weights.blocks[0]["W1"].shape[1])

    @property
    def vocab(self) -> tuple[str, ...]:
        return self.tokenizer.vocab

    @property
    def loss_curve(self) -> list[float]:
        """The training loss at every step (empty for a random model)."""
        return list(self.config.get("training", {}).get("loss_curve", []))

    def encode(self, text: str) -> np.ndarray:
        """Token ids of ``text`` with the model's own tokenizer (unknown symbols become id 0, ``<unk>``)."""
        return self.tokenizer.encode(text)

    def decode(self, ids) -> str:
        return self.tokenizer.decode(ids)

    def tokens(self, ids) -> tuple[str, ...]:
        """The token strings of ``ids`` (``</w>`` marks a word's end)."""
        return tuple(self.vocab[int(i)] for i in ids)

    def _check_length(self, n: int) -> None:
        if n > self.context:
            raise ValueError(f"{n} tokens is longer than the model's context of {self.context}")

    def forward(self, ids, *, temperature: float = 1.0, u: float | None = None) -> Forward:
        """:func:`nntutor.core.pipeline.forward` on one sequence (at most ``context`` tokens)."""
        self._check_length(len(ids))
        return forward(np.asarray(ids), self.weights, heads=self.heads, temperature=temperature, u=u, eps=self.eps)

    def run(self, ids) -> LMForward:
        """:func:`nntutor.core.lm.lm_forward` on T tokens or B × T: logits at every position."""
        self._check_length(np.shape(ids)[-1])
        return lm_forward(ids, self.weights, heads=self.heads, eps=self.eps)

    def loss(self, tokens) -> LMLoss:
        """The mean next-token loss of ``tokens`` (n ≤ context + 1 tokens, or B × n)."""
        self._check_length(np.shape(tokens)[-1] - 1)
        return lm_loss(tokens, self.weights, heads=self.heads, eps=self.eps)


def shipped_path() -> str:
    """Where the shipped model file is inside the installed package."""
    return str(resources.files("nntutor.models").joinpath("data", SHIPPED_FILE))


def load_model(name_or_path: str | os.PathLike) -> TinyModel:
    """``"tiny"`` (the shipped model) or a model file's path (``.npz``, or GGUF written by
    :func:`save_model`), checked in full.

    A bad file raises :class:`~nntutor.models.modelfile.ModelFileError` (exit code 2)
    naming the file and the problem; an unreadable one
    :class:`~nntutor.models.modelfile.ModelFileUnreadable` (exit code 1).
    """
    from nntutor.models.modelfile import read_model

    if str(name_or_path) == SHIPPED:
        return read_model(shipped_path(), source=SHIPPED)
    return read_model(os.fspath(name_or_path))


def save_model(model: TinyModel, path: str | os.PathLike) -> None:
    """Write ``model`` to ``path``, atomically: GGUF when the name ends in ``.gguf``
    (:mod:`nntutor.models.modelfile_gguf`, needs the gguf package), else the ``.npz``
    model file (:mod:`nntutor.models.modelfile`)."""
    from nntutor.models.modelfile_gguf import is_gguf_path, write_gguf

    if is_gguf_path(path):
        write_gguf(model, path)
        return
    from nntutor.models.modelfile import write_model

    write_model(model, os.fspath(path))


def random_model(like: TinyModel, seed: int = 0) -> TinyModel:
    """The sizes and tokenizer of ``like`` with the pipeline lesson's random weights (rounded, γ = 1, β = 0).

    >>> r = random_model(load_model("tiny"), seed=0)
    >>> r.source, r.d_model, r.loss_curve
    ('random (seed 0)', 32, [])
    """
    rng = np.random.default_rng(seed)
    weights = random_pipeline_weights(rng, like.vocab_size, like.d_model, like.layers)
    if weights.blocks[0]["W1"].shape[1] != like.d_ff:
        raise ValueError(f"random weights use d_ff = 4·d_model; this model has d_ff = {like.d_ff}")
    config = {key: value for key, value in like.config.items() if key != "training"}
    return TinyModel(weights, like.tokenizer, like.heads, like.context, like.eps, config, f"random (seed {seed})")
