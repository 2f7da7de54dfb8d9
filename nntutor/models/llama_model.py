"""A Llama model ready to run: from a GGUF file (``--model PATH.gguf``) or the built-in tiny one.

This is what a lesson calls to get a real model's next token::

    loaded = load_model("SmolLM2-135M-Instruct.Q4_1.gguf")     # refusals name --model
    ids = loaded.tokenizer.encode("The capital of France is").ids
    probs = next_token_probs(loaded, ids)                       # (vocab,), sums to 1
    loaded.tokenizer.decode([int(probs.argmax())])              # ' Paris'

>>> loaded = load_model(None)  # the built-in tiny model: no file, no gguf package needed
>>> p = next_token_probs(loaded, loaded.tokenizer.encode("The capital").ids)
>>> p.shape, round(float(p.sum()), 6)
((284,), 1.0)
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from nntutor.core import llama
from nntutor.core.byte_bpe import ByteBPE


class Loaded(NamedTuple):
    model: Any  # GGUFModel or DemoModel: config, name, tensor(name, dtype), type_counts(), quantisation()
    tokenizer: ByteBPE
    weights: llama.Weights  # name -> array, dequantised on demand
    dtype: Any  # float32 for a file's weights (how they are stored, and fast), float64 for the demo

    @property
    def config(self):
        return self.model.config


def load_model(path: str | None, flag: str = "--model", *, keep_all: bool = False) -> Loaded:
    """Open ``path`` (validated; refusals are one line naming ``flag``), or the built-in model for None.

    ``keep_all`` keeps every dequantised tensor (for many passes: generation, benchmarks).
    """
    if path is None:
        from nntutor.models.demo import demo_model

        demo = demo_model()
        return Loaded(demo, demo.tokenizer(), demo.tensor, np.float64)
    from nntutor.models.gguf_file import open_gguf, tokenizer_of, weights_of

    model = open_gguf(path, flag)
    return Loaded(model, tokenizer_of(model), weights_of(model, np.float32, keep_all=keep_all), np.float32)


def next_token_probs(loaded: Loaded, ids: list[int], cache: llama.KVCache | None = None) -> np.ndarray:
    """The probabilities of the token after ``ids`` (positions after those in ``cache``, if given)."""
    out = llama.forward(loaded.config, loaded.weights, ids, cache=cache, all_logits=False, dtype=loaded.dtype)
    return llama.softmax_rows(out.logits.astype(np.float64))[-1]


def generate(loaded: Loaded, ids: list[int], n_new: int, pick=None) -> list[int]:
    """``n_new`` tokens after ``ids``, one pass per token over the KV cache; ``pick(probs) -> id``
    chooses each (default: the most probable, greedy decoding). The prompt and the tokens
    must fit the model's context (the caller checks it).

    >>> loaded = load_model(None)
    >>> len(generate(loaded, loaded.tokenizer.encode("The").ids, 3))
    3
    """
    choose = pick or (lambda probs: int(np.argmax(probs)))
    cache = llama.KVCache(loaded.config.n_layer)
    probs = next_token_probs(loaded, list(ids), cache)
    out: list[int] = []
    for _ in range(n_new):
        token = int(choose(probs))
        out.append(token)
        if len(out) < n_new:
            probs = next_token_probs(loaded, [token], cache)
    return out
