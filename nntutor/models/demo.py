"""A tiny Llama-architecture model built in memory: what the real-model lesson runs without ``--model``.

Random weights (seeded) of the same architecture as SmolLM2, small enough to read every
number: 2 layers, d_model 16, 4 query heads sharing 2 key/value heads, d_ff 32, tied
output. Its tokenizer is byte-level BPE like SmolLM2's, with a handful of merges
chosen so that "The capital of France is" becomes five tokens. It predicts nothing
useful (it was never trained); it shows the arithmetic. It needs no ``gguf`` package.

>>> demo = demo_model()
>>> demo.config.n_layer, demo.config.d_model, demo.config.n_head, demo.config.n_head_kv
(2, 16, 4, 2)
>>> demo.tokenizer().encode("The capital of France is").tokens
['The', 'Ġcapital', 'Ġof', 'ĠFrance', 'Ġis']
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import Any

import numpy as np

from nntutor.core.byte_bpe import ByteBPE, byte_symbols
from nntutor.models.gguf_file import LlamaConfig, expected_tensors

MERGES = ["T h", "Th e", "Ġ c", "a p", "Ġc ap", "i t", "a l", "Ġcap it", "Ġcapit al", "Ġ o", "Ġo f", "Ġ F",
          "r a", "ĠF ra", "n c", "ĠFra nc", "ĠFranc e", "Ġ i", "Ġi s", "Ġ t", "h e", "Ġt he", "Ġ P", "a r", "ĠP ar",
          "i s", "ĠPar is"]
SEED = 20


class DemoModel:
    """The same surface as :class:`nntutor.models.gguf_file.GGUFModel`, for weights held in memory."""

    path = None
    name = "nntutor's tiny random Llama (built in, untrained)"
    file_bytes = 0

    def __init__(self, config: LlamaConfig, tensors: dict[str, np.ndarray], tokens: list[str], types: list[int]):
        self.config = config
        self._tensors = tensors
        self._tokens, self._types = tokens, types

    @property
    def n_params(self) -> int:
        return sum(t.size for t in self._tensors.values())

    def type_counts(self) -> Counter:
        return Counter({"F64": len(self._tensors)})

    def quantisation(self) -> str:
        return "F64"

    def tensor(self, name: str, dtype: Any = np.float64) -> np.ndarray:
        return self._tensors[name].astype(dtype)

    def tokenizer(self) -> ByteBPE:
        return ByteBPE(self._tokens, MERGES, self._types, "gpt2")


@lru_cache(maxsize=1)
def demo_model() -> DemoModel:
    tokens = ["<|endoftext|>", *byte_symbols()]
    for merge in MERGES:
        joined = merge.replace(" ", "")
        if joined not in tokens:
            tokens.append(joined)
    types = [3] + [1] * (len(tokens) - 1)
    config = LlamaConfig(n_layer=2, d_model=16, n_head=4, n_head_kv=2, d_ff=32, vocab=len(tokens), context=64,
                         rope_base=10000.0, rms_eps=1e-5, tied=True)
    rng = np.random.default_rng(SEED)
    tensors: dict[str, np.ndarray] = {}
    for name, shape in expected_tensors(config).items():
        if len(shape) == 1:  # a norm's gain
            tensors[name] = np.round(1.0 + 0.2 * rng.normal(size=shape), 3)
        else:
            scale = 1.0 if name == "token_embd.weight" else 1.5 / np.sqrt(shape[1])
            tensors[name] = np.round(rng.normal(0.0, scale, size=shape), 3)
    return DemoModel(config, tensors, tokens, types)
