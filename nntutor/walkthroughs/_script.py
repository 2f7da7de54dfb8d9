"""Pieces of ``--format py`` scripts that several lessons share: step headings and activations as source.

A lesson module's ``script(trace)`` returns NumPy source (see
:mod:`nntutor.render.python_script` for the frame around it). These helpers keep the
source's comments named as the lesson's steps and write each activation once:

>>> from nntutor.trace import Step, Trace
>>> trace = Trace("t", "T", steps=[Step("sum", "Add the products and the bias", formula_text="z = w·x + b")])
>>> print(heading(trace, "sum"))
# Step 1. Add the products and the bias
#         z = w·x + b
>>> print(activation("relu"))
def relu(z):
    return np.maximum(z, 0.0)
>>> python_name("leaky-relu")
'leaky_relu'
"""

from __future__ import annotations

import textwrap
from typing import Any

WIDTH = 79  # comments are wrapped at this width
MISSING_STEP = "(no such step in this run:"

_ACTIVATIONS = {
    "relu": "def relu(z):\n    return np.maximum(z, 0.0)",
    "leaky-relu": "def leaky_relu(z, alpha={alpha!r}):\n    return np.where(z > 0, z, alpha * z)",
    "sigmoid": "def sigmoid(z):\n    return 1.0 / (1.0 + np.exp(-z))",
    "tanh": "def tanh(z):\n    return np.tanh(z)",
    "gelu": (
        "erf = np.vectorize(math.erf)  # the error function, one number at a time\n\n\n"
        "def gelu(z):\n    return 0.5 * z * (1.0 + erf(z / math.sqrt(2.0)))  # z·Φ(z)"
    ),
    "gelu-tanh": (
        "def gelu_tanh(z):\n"
        "    inner = math.sqrt(2.0 / math.pi) * (z + 0.044715 * z**3)\n"
        "    return 0.5 * z * (1.0 + np.tanh(inner))"
    ),
    "identity": "def identity(z):\n    return z * 1.0",
}

_DERIVATIVES = {
    "relu": "def relu_slope(z):\n    return np.where(z > 0, 1.0, 0.0)  # 0 at z = 0, the usual convention",
    "leaky-relu": "def leaky_relu_slope(z, alpha={alpha!r}):\n    return np.where(z > 0, 1.0, alpha)",
    "sigmoid": "def sigmoid_slope(z):\n    s = 1.0 / (1.0 + np.exp(-z))\n    return s * (1.0 - s)  # σ' = σ·(1 − σ)",
    "tanh": "def tanh_slope(z):\n    return 1.0 - np.tanh(z) ** 2",
    "gelu": (
        "def gelu_slope(z):  # Φ(z) + z·φ(z)\n"
        "    cdf = 0.5 * (1.0 + erf(z / math.sqrt(2.0)))\n"
        "    pdf = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)\n"
        "    return cdf + z * pdf"
    ),
    "gelu-tanh": (
        "def gelu_tanh_slope(z):\n"
        "    t = np.tanh(math.sqrt(2.0 / math.pi) * (z + 0.044715 * z**3))\n"
        "    d_inner = math.sqrt(2.0 / math.pi) * (1.0 + 3 * 0.044715 * z * z)\n"
        "    return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * d_inner"
    ),
    "identity": "def identity_slope(z):\n    return np.ones_like(z)",
}


def python_name(activation_name: str) -> str:
    """The function's name in a script: ``leaky-relu`` -> ``leaky_relu``."""
    return activation_name.replace("-", "_")


def activation(name: str, alpha: float = 0.01) -> str:
    """The source of one activation function (leaky ReLU with its ``alpha``)."""
    return _ACTIVATIONS[name].format(alpha=alpha)


def activation_slope(name: str, alpha: float = 0.01) -> str:
    """The source of one activation's derivative, ``<name>_slope`` (GELU's needs ``erf`` from :func:`activation`)."""
    return _DERIVATIVES[name].format(alpha=alpha)


def activations(*names: str, alpha: float = 0.01, slopes: bool = False) -> str:
    """The functions for several activations (each once, GELU's ``erf`` before its slope)."""
    unique = list(dict.fromkeys(names))
    parts = [activation(name, alpha) for name in unique]
    if slopes:
        parts += [activation_slope(name, alpha) for name in unique]
    return "\n\n\n".join(parts)


def has_step(trace: Any, step_id: str) -> bool:
    """Whether this run has the step (some steps appear only with some flags: a mask with --causal)."""
    return any(step.id == step_id for step in trace.steps)


def heading(trace: Any, step_id: str, number: int | None = None) -> str:
    """``# Step N. <the step's title>`` and its formula on the next line, N its place in the lesson."""
    index = next((i for i, step in enumerate(trace.steps, 1) if step.id == step_id), None)
    if index is None:  # a step this run does not have: still a script, and a test notices
        return f"# {MISSING_STEP} {step_id!r})"
    step = trace.steps[index - 1]
    head = f"# Step {number or index}. "
    pad = "#" + " " * (len(head) - 1)
    title = textwrap.wrap(step.title, WIDTH - len(head)) or [""]
    lines = [part for line in step.formula_text.splitlines() for part in textwrap.wrap(line, WIDTH - len(pad))]
    return "\n".join([head + title[0], *(pad + line for line in title[1:] + lines)])


SOFTMAX_ROWS = '''\
def softmax_rows(scores, allowed=None):
    """Softmax of each row over its allowed cells: a masked cell gets
    weight 0 (e^(−∞)); a row with every cell masked gets all zeros."""
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    row_max = scores.max(axis=1, keepdims=True)
    e = np.exp(scores - np.where(np.isfinite(row_max), row_max, 0.0))
    total = e.sum(axis=1, keepdims=True)
    return e / np.where(total == 0, 1.0, total)'''
"""Row-wise softmax with a mask, as attention lessons write it in their scripts."""


def mask_source(causal: bool, padding: Any = None, size: str = "len(x)") -> list[str]:
    """Lines that set ``allowed`` (None: every query sees every key) for a causal and/or padding mask."""
    if not causal and padding is None:
        return ["allowed = None  # no mask: every query sees every key"]
    lines = []
    if causal:
        lines.append(f"allowed = np.tril(np.ones(({size}, {size}), dtype=bool))  # i sees keys 0..i")
    if padding is not None:
        keep = "np.asarray(padding) != 0"
        lines.append(f"keep = {keep}  # padded keys are hidden")
        lines.append("allowed = allowed & keep[None, :]" if causal
                     else f"allowed = np.broadcast_to(keep[None, :], ({size}, {size}))")
    return lines


BPE_SEGMENT = '''rank = {}
for number, (a, b) in enumerate(merges):
    rank.setdefault((a, b), number)


def merge(symbols, pair):
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            out.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


def segment(word):
    """Characters (the last with </w>), then the earliest merge, again."""
    symbols = list(word[:-1]) + [word[-1] + '</w>']
    while len(symbols) > 1:
        known = [pair for pair in zip(symbols, symbols[1:]) if pair in rank]
        if not known:
            break
        symbols = merge(symbols, min(known, key=rank.get))
    return symbols
'''
"""NumPy-free source that cuts a word into BPE tokens by the ``merges`` list (earliest merge
first, ``</w>`` ending the word), shared by the scripts that tokenize."""


TINY_MODEL = SOFTMAX_ROWS + '''


def layer_norm(v, gamma, beta):
    mean = v.mean(axis=-1, keepdims=True)
    var = ((v - mean) ** 2).mean(axis=-1, keepdims=True)
    return gamma * (v - mean) / np.sqrt(var + eps) + beta


def block(x, w, seen=None):
    """A pre-norm block, causal: h = x + MHA(LN₁(x)), y = h + FFN(LN₂(h)).
    Each head's attention weights are appended to the list seen (if given)."""
    a = layer_norm(x, w['ln1_gamma'], w['ln1_beta'])
    q = a @ w['wq'] + w['bq']
    k = a @ w['wk'] + w['bk']
    v = a @ w['wv'] + w['bv']
    d_h = x.shape[1] // heads
    causal = np.tril(np.ones((len(x), len(x)), dtype=bool))
    outputs = []
    for i in range(heads):
        s = slice(i * d_h, (i + 1) * d_h)
        weights = softmax_rows(q[:, s] @ k[:, s].T / math.sqrt(d_h), causal)
        outputs.append(weights @ v[:, s])
        if seen is not None:
            seen.append(weights)
    h = x + np.concatenate(outputs, axis=1) @ w['wo'] + w['bo']
    f = layer_norm(h, w['ln2_gamma'], w['ln2_beta'])
    return h + np.maximum(f @ w['W1'] + w['b1'], 0.0) @ w['W2'] + w['b2']


def positions(count, start=0):
    """The sinusoidal vectors of positions start … start + count − 1."""
    d_model = E.shape[1]
    divisors = 10000.0 ** (np.arange(0, d_model, 2) / d_model)
    angles = np.arange(start, start + count)[:, None] / divisors
    pe = np.empty((count, d_model))
    pe[:, 0::2], pe[:, 1::2] = np.sin(angles), np.cos(angles)
    return pe


def all_logits(ids):
    """Every position's logits: embedding + positions, the blocks, the final
    norm, then h·W_U."""
    x = E[ids] + positions(len(ids))
    for w in blocks:
        x = block(x, w)
    return layer_norm(x, final_gamma, final_beta) @ W_U


''' + BPE_SEGMENT + '''

def tokenize(text):
    """Lower-case, "." and "," apart, split at spaces; BPE each word; a token
    not in vocab is <unk>."""
    words = re.sub(r'([.,])', r' \\1 ', text.lower()).split()
    pieces = [piece for word in words for piece in segment(word)]
    tokens = [t if t in vocab else '<unk>' for t in pieces]
    return tokens, [vocab.index(t) for t in tokens]'''
"""A trained (or random) tiny model in NumPy: its tokenizer and forward pass, over the
names :func:`model_literals` defines (``vocab``, ``merges``, ``E``, ``blocks``, ``W_U``, …)."""


def model_literals(model: Any, about: str, *, tokenizer: bool = True) -> str:
    """The weights and tokenizer of a :class:`nntutor.walkthroughs._model.LessonModel` as literals
    (without ``tokenizer``: no merges, for a lesson that starts from ids)."""
    import numpy as np

    from nntutor.errors import InputError
    from nntutor.render.cost import LIMITS
    from nntutor.render.python_script import assignment

    w = model.weights
    count = w.E.size + w.W_U.size + sum(np.size(value) for b in w.blocks for value in b.values())
    if count > LIMITS["py"]:  # a model trained wider or deeper: its weights would not fit a script to read
        raise InputError("--format", f"py writes the model's weights as literals: --model {model.name} has {count:,} weights "
                         f"(at most {LIMITS['py']:,}); try --format json, or a smaller model")
    d = w.E.shape[1]
    gamma = np.ones(d) if w.final_gamma is None else w.final_gamma
    beta = np.zeros(d) if w.final_beta is None else w.final_beta
    merges = [list(pair) for pair in model.source.tokenizer.merges]
    head = textwrap.wrap(f"---- The model: {about}. Its {count:,} weights fill the lines below; "
                         "the maths follows them.", WIDTH - 2)
    parts = [
        *(f"# {line}" for line in head),
        assignment("heads", int(model.heads)),
        assignment("eps", float(model.eps)),
        assignment("vocab", list(model.vocab)),
        *([assignment("merges", merges)] if tokenizer else []),
        assignment("E", w.E),
        assignment("blocks", [dict(b) for b in w.blocks]),
        assignment("W_U", w.W_U),
        assignment("final_gamma", gamma),
        assignment("final_beta", beta),
    ]
    return "\n".join(parts)


def tiny_model_preamble(model: Any) -> list[str]:
    """The lines every script on a tiny-model lesson starts with: its imports, the model's
    weights, vocabulary and merges as literals, then :data:`TINY_MODEL` (tokenizer and forward)."""
    return ["import re", model_literals(model, f"--model {model.name}, {model.about}"), "", "", TINY_MODEL, "", ""]
