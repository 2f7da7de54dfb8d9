"""A GGUF model (``--model PATH.gguf``) opened for a lesson: the prompt tokenised and bounded, the cost said up front.

Shared by the lessons that can run a real Llama-family model (real-model, pipeline,
next-token, generate, attention). :func:`open_prompt` is called from a lesson's
``check`` and raises only one-line ``InputError``s; :func:`notice` is what the
lesson's ``notice`` hook prints before the weights are read; :func:`token_text`
writes a token for the screen.

>>> is_gguf("SmolLM2-135M-Instruct.Q4_1.gguf"), is_gguf("tiny"), is_gguf("model.npz")
(True, False, False)
>>> p = open_prompt(None, "The capital of France is")   # None: the built-in tiny Llama
>>> [token_text(p.loaded.tokenizer, i) for i in p.encoding.ids]
["'The'", "' capital'", "' of'", "' France'", "' is'"]
>>> notice(p) is None   # nothing to say for the built-in model
True
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, NamedTuple

from nntutor.errors import InputError
from nntutor.numfmt import about_bytes, human_bytes

MAX_TOKENS = 256  # the prompt, in tokens: bounds the time of a NumPy pass and the attention rows shown
MAX_SECONDS = 120.0  # estimated time of one pass above which a model is refused up front
MAX_PEAK_BYTES = 8_000_000_000  # estimated memory above which a model is refused up front
MAGIC = b"GGUF"
DEFAULT_PROMPT = "The capital of France is"  # a GGUF model's prompt when none is typed (the lessons' own suit the tiny model)


class Prompt(NamedTuple):
    """A model opened (weights not yet read) and a prompt tokenised for it."""

    loaded: Any  # nntutor.models.llama_model.Loaded
    path: str | None  # as typed (None: the built-in tiny model)
    text: str
    encoding: Any  # nntutor.core.byte_bpe.Encoding of the text
    estimate: Any  # nntutor.models.gguf_file.Estimate of one pass over the prompt (and extra tokens)


def is_gguf(value: Any) -> bool:
    """Whether ``--model VALUE`` names a GGUF file of a model for the Llama path: its name ends in .gguf,
    or the file starts with GGUF's magic.

    A GGUF file of nntutor's own tiny model (``general.architecture = "nntutor"``, written
    by ``nntutor export`` or ``nntutor train -o X.gguf``) is not: it goes to the tiny-model
    path (:func:`nntutor.walkthroughs._model.choose`). Telling it apart is a cheap header
    read (:func:`nntutor.models.modelfile_gguf.peek_architecture`: the first 4 KB, where
    the architecture is written first).
    """
    text = str(value or "").strip()
    if text.lower().endswith(".gguf"):
        return not _tiny_model_file(text)
    try:
        with open(text, "rb") as handle:
            if handle.read(4) != MAGIC:
                return False
    except OSError:
        return False
    return not _tiny_model_file(text)


def _tiny_model_file(path: str) -> bool:
    from nntutor.models.modelfile_gguf import ARCHITECTURE, peek_architecture

    return peek_architecture(path) == ARCHITECTURE


def open_prompt(path: str | None, text: str, *, flag: str = "--model", text_flag: str = "--text",
                extra_tokens: int = 0, keep_all: bool = False, lens: bool = False) -> Prompt:
    """Open ``path`` (None: the built-in model) and tokenise ``text`` for it.

    Refused with one line: an empty text; a prompt (plus ``extra_tokens``, e.g. tokens to
    generate) longer than the model's context or than :data:`MAX_TOKENS`; a model whose
    estimated pass needs more than :data:`MAX_PEAK_BYTES` or :data:`MAX_SECONDS`.
    ``keep_all`` keeps every dequantised tensor (many passes: generation). The estimate
    counts one pass over the prompt and one cached pass per extra token
    (:func:`nntutor.models.gguf_file.estimate`'s ``new_tokens``); ``lens``: the lesson shows
    the logit lens (one more product with the output matrix per layer).
    """
    from nntutor.models.gguf_file import estimate_for
    from nntutor.models.llama_model import load_model

    if not text:
        raise InputError(text_flag, "is empty (give a prompt, e.g. --text \"The capital of France is\")")
    loaded = load_model(path, flag, keep_all=keep_all)
    config = loaded.config
    encoding = loaded.tokenizer.encode(text)
    n = len(encoding.ids)
    total = n + extra_tokens
    more = f" plus {extra_tokens} new" if extra_tokens else ""
    if total > config.context:
        raise InputError(text_flag, f"is {n:,} tokens{more}, longer than this model's context of {config.context:,} tokens")
    if total > MAX_TOKENS:
        raise InputError(text_flag, f"is {n:,} tokens{more}; this lesson runs at most {MAX_TOKENS} "
                                    "(NumPy computes every layer in front of you)")
    cost = estimate_for(loaded.model, n, new_tokens=extra_tokens, keep_all=keep_all, lens=lens)
    if cost.seconds > MAX_SECONDS or cost.peak_bytes > MAX_PEAK_BYTES:
        raise InputError(flag, f"would need about {human_bytes(cost.peak_bytes)} and {cost.seconds:.0f} s for this run "
                               f"(at most {human_bytes(MAX_PEAK_BYTES)} and {MAX_SECONDS:.0f} s): choose a smaller model")
    return Prompt(loaded, path, text, encoding, cost)


def notice(prompt: Prompt | None) -> str | None:
    """What the run will cost, said before the weights are read (None for the built-in model)."""
    if prompt is None or prompt.path is None:
        return None
    cost = prompt.estimate
    # short: one line at 80 columns for a name like SmolLM2's (the file is already open; this is what is left)
    return (f"Reading {os.path.basename(prompt.path)} layer by layer: about {seconds_text(cost.seconds)}, "
            f"{about_bytes(cost.peak_bytes)} …")


def seconds_text(seconds: float) -> str:
    """A duration for the screen: ``seconds_text(1.23) -> '1.2 s'``, ``seconds_text(42.7) -> '43 s'``."""
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"


def token_text(tokenizer: Any, token_id: int) -> str:
    """A token as text, quoted, control characters escaped: ' Paris', '\\n'; a lone byte as <0xA5>."""
    text = tokenizer.decode([int(token_id)])
    if "\ufffd" in text and len(tokenizer.tokens[int(token_id)]) == 1:  # part of a UTF-8 character
        from nntutor.core.byte_bpe import byte_symbols

        symbol = tokenizer.tokens[int(token_id)]
        if symbol in byte_symbols():
            return f"<0x{byte_symbols().index(symbol):02X}>"
    return repr(text)


def unbroken(text: str) -> str:
    """A token's text with its spaces as ␣, so a line never wraps inside it: ``unbroken("' Paris'") -> "'␣Paris'"``."""
    return text.replace(" ", "␣")


def lens_runs(layers: list, name: Callable[[int], str]) -> str:
    """The logit lens as runs of layers with the same top token, each token written by ``name(id)`` and unbroken.

    >>> from types import SimpleNamespace as L
    >>> lens_runs([L(lens_top=7), L(lens_top=3), L(lens_top=3)], lambda i: repr(f" t{i}"))
    "0→'␣t7'; 1–2→'␣t3'"
    """
    runs: list[str] = []
    start = 0
    for i in range(1, len(layers) + 1):
        if i == len(layers) or layers[i].lens_top != layers[start].lens_top:
            span = f"{start}" if i - 1 == start else f"{start}–{i - 1}"
            runs.append(f"{span}→{unbroken(name(layers[start].lens_top))}")  # no space: never wrapped apart
            start = i
    return "; ".join(runs)


def typed_or_default(args: Any, name: str = "text") -> str:
    """The prompt the learner typed as ``--NAME``, else :data:`DEFAULT_PROMPT` (a GGUF model's default,
    since a lesson's own default is written for the tiny model's vocabulary)."""
    return args[name] if name in args.given else DEFAULT_PROMPT


def py_refusal(works_with: str, instead: str = "", weights: str = "a GGUF file's") -> str:
    """Why ``--format py`` is refused for a model file (a lesson's ``no_script`` hook): its weights
    are not copied into a script. ``instead``: what else the learner can do, before --format json.

    >>> py_refusal("the built-in model", "drop --model")
    "py is for the built-in model: a GGUF file's weights are not copied into a script (drop --model, or use --format json for this run's numbers)"
    """
    other = f"{instead}, or use" if instead else "use"
    return f"py is for {works_with}: {weights} weights are not copied into a script ({other} --format json for this run's numbers)"
