"""The model file: one NumPy ``.npz`` archive, weights and a JSON record, read without pickle.

Format version 1. The archive (``numpy.savez_compressed``) holds:

- one float64 array per parameter, under its flat name
  (:func:`nntutor.core.lm.parameter_names`): ``E`` (V × d), ``block{i}.{key}`` for
  every block i and every key of :data:`nntutor.core.block.WEIGHT_SHAPES`
  (``wq`` d × d … ``W1`` d × d_ff …), ``final_gamma`` and ``final_beta`` (d),
  ``W_U`` (d × V);
- ``config``: the UTF-8 bytes (uint8) of a JSON object::

    {"format": "nntutor-model", "format_version": 1,
     "architecture": {"d_model": 32, "layers": 2, "heads": 2, "d_ff": 128,
                      "context": 32, "vocab_size": V, "eps": 1e-05,
                      "norm": "pre", "positional": "sinusoidal", "activation": "relu"},
     "tokenizer": {"kind": "bpe", "merges": [["t", "h"], ...], "vocab": ["<unk>", ...]},
     "training": {"command": "nntutor train ...", "seed": 18, "steps": ..., "steps_done": ...,
                  "batch_size": ..., "lr": ..., "weight_decay": ..., "betas": [0.9, 0.999],
                  "adam_eps": 1e-08, "loss_curve": [one loss per step], "seconds": ...},
     "corpus": {"name": "nntutor-grammar", "seed": 18, "sha256": "...",
                "train_sentences": ..., "held_out_sentences": ...}}

Reading checks everything and names the file in one line on any problem: not a
zip archive, damaged, no ``config``, JSON that does not parse or lacks a field,
another format or a newer version, sizes out of range or inconsistent (heads not
dividing d_model, a vocabulary of the wrong length), a missing or extra array, a
wrong shape or dtype, a NaN or infinity. ``allow_pickle=False`` always: a model
file is data, never code.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from nntutor.core.block import WEIGHT_SHAPES, shape_of
from nntutor.core.lm import from_parameters, parameter_names, parameters
from nntutor.errors import NntutorError
from nntutor.models.model import TinyModel
from nntutor.models.tokenizer import UNK, Tokenizer

FORMAT = "nntutor-model"
FORMAT_VERSION = 1
MAX_BYTES = 64 << 20  # far above any model nntutor trains; stops a huge file being read whole
LIMITS = {"d_model": 1024, "layers": 16, "heads": 64, "d_ff": 8192, "context": 4096, "vocab_size": 65536}


class ModelFileError(NntutorError):
    """A model file that is not valid (exit code 2): ``PATH: what is wrong``."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")


class ModelFileUnreadable(ModelFileError):
    """A model file that exists but cannot be read (exit code 1)."""

    exit_code = 1


def config_of(model: TinyModel) -> dict[str, Any]:
    """The JSON record for ``model``: its own config with the architecture and tokenizer filled in."""
    config = dict(model.config)
    config["format"] = FORMAT
    config["format_version"] = FORMAT_VERSION
    config["architecture"] = {
        "d_model": model.d_model, "layers": model.layers, "heads": model.heads, "d_ff": model.d_ff,
        "context": model.context, "vocab_size": model.vocab_size, "eps": model.eps,
        "norm": "pre", "positional": "sinusoidal", "activation": "relu",
    }
    config["tokenizer"] = {"kind": "bpe", "merges": [list(p) for p in model.tokenizer.merges], "vocab": list(model.vocab)}
    return config


@contextmanager
def replaced_atomically(path: str, suffix: str) -> Iterator[str]:
    """A temporary file beside ``path`` to write, moved onto ``path`` when the block ends (so a
    reader never sees half a model), removed if the block fails or is interrupted."""
    fd, tmp = tempfile.mkstemp(prefix=".model-", suffix=suffix, dir=os.path.dirname(os.path.abspath(path)))
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a model file is for anyone to read
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_model(model: TinyModel, path: str) -> None:
    """Write the archive to a temporary file beside ``path``, then move it into place."""
    arrays = {name: np.asarray(value, dtype=np.float64) for name, value in parameters(model.weights).items()}
    text = json.dumps(config_of(model), ensure_ascii=False, separators=(",", ":"))
    arrays["config"] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    with replaced_atomically(path, ".npz") as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)


def _read_bytes(path: str) -> bytes:
    from nntutor.catalog.reading import FileProblem, read_limited

    try:
        return read_limited(path, MAX_BYTES)
    except FileProblem as exc:
        unreadable = str(exc).startswith("cannot be read")
        raise (ModelFileUnreadable if unreadable else ModelFileError)(path, str(exc)) from None


def _integer(path: str, section: dict, key: str, low: int, high: int) -> int:
    value = section.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ModelFileError(path, f"config architecture.{key} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise ModelFileError(path, f"config architecture.{key} = {value} is outside {low}..{high}")
    return value


def _section(path: str, config: dict, key: str) -> dict:
    value = config.get(key)
    if not isinstance(value, dict):
        raise ModelFileError(path, f"config has no {key!r} object")
    return value


def _tokenizer(path: str, config: dict, vocab_size: int) -> Tokenizer:
    tok = _section(path, config, "tokenizer")
    if tok.get("kind") != "bpe":
        raise ModelFileError(path, f"tokenizer kind {tok.get('kind')!r} is not 'bpe'")
    merges, vocab = tok.get("merges"), tok.get("vocab")
    if not isinstance(merges, list) or not all(
        isinstance(m, list) and len(m) == 2 and all(isinstance(s, str) and s for s in m) for m in merges
    ):
        raise ModelFileError(path, "tokenizer merges must be a list of pairs of symbols")
    if not isinstance(vocab, list) or not all(isinstance(s, str) and s for s in vocab):
        raise ModelFileError(path, "tokenizer vocab must be a list of symbols")
    if len(vocab) != vocab_size:
        raise ModelFileError(path, f"tokenizer vocab has {len(vocab)} symbols but architecture.vocab_size is {vocab_size}")
    if len(set(vocab)) != len(vocab) or not vocab or vocab[0] != UNK:
        raise ModelFileError(path, f"tokenizer vocab must start with {UNK} and hold each symbol once")
    symbols = set(vocab)
    missing = [a + b for a, b in merges if a + b not in symbols]
    if missing:
        raise ModelFileError(path, f"merge result {missing[0]!r} is not in the tokenizer vocab")
    return Tokenizer(tuple((a, b) for a, b in merges), tuple(vocab))


def check_record(path: str, config: dict) -> tuple[dict[str, int], Tokenizer]:
    """Check a record's architecture, tokenizer and training sections: (sizes, tokenizer), or one line why not.

    Shared by the ``.npz`` reader and the GGUF reader (:mod:`nntutor.models.modelfile_gguf`).
    """
    arch = _section(path, config, "architecture")
    sizes = {key: _integer(path, arch, key, 1, limit) for key, limit in LIMITS.items()}
    d, heads = sizes["d_model"], sizes["heads"]
    if d % heads:
        raise ModelFileError(path, f"config architecture.heads = {heads} does not divide d_model = {d}")
    eps = arch.get("eps")
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < 1:
        raise ModelFileError(path, f"config architecture.eps must be a number between 0 and 1, got {eps!r}")
    for key, expected in (("norm", "pre"), ("positional", "sinusoidal"), ("activation", "relu")):
        if arch.get(key, expected) != expected:
            raise ModelFileError(path, f"config architecture.{key} must be {expected!r}, got {arch.get(key)!r}")
    tokenizer = _tokenizer(path, config, sizes["vocab_size"])
    training = config.get("training", {})
    if not isinstance(training, dict) or not isinstance(training.get("loss_curve", []), list):
        raise ModelFileError(path, "config training.loss_curve must be a list of numbers")
    return sizes, tokenizer


def read_model(path: str, *, source: str | None = None) -> TinyModel:
    """Read and check a model file (see the module docstring); ``source`` defaults to ``path``.

    A file that starts with GGUF's magic is read by :func:`nntutor.models.modelfile_gguf.read_gguf`.
    """
    data = _read_bytes(path)
    if data.startswith(b"GGUF"):
        from nntutor.models.modelfile_gguf import read_gguf

        return read_gguf(path, source=source)
    if not data.startswith(b"PK"):
        raise ModelFileError(path, "is not a model file (not an .npz archive nor a GGUF file)")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, RuntimeError) as exc:
        raise ModelFileError(path, f"is damaged or not a model file ({type(exc).__name__})") from None
    raw = arrays.pop("config", None)
    if raw is None:
        raise ModelFileError(path, "has no 'config' record")
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelFileError(path, "'config' must be UTF-8 bytes")
    try:
        config = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(path, f"'config' is not valid JSON ({exc.__class__.__name__})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelFileError(path, f"is not an nntutor model (config format is not {FORMAT!r})")
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(path, f"has format version {version!r}; this nntutor reads version {FORMAT_VERSION}")
    sizes, tokenizer = check_record(path, config)
    eps = config["architecture"]["eps"]
    d, heads = sizes["d_model"], sizes["heads"]
    layers, d_ff, V = sizes["layers"], sizes["d_ff"], sizes["vocab_size"]
    expected = {"E": (V, d), "final_gamma": (d,), "final_beta": (d,), "W_U": (d, V)}
    for i in range(layers):
        expected.update({f"block{i}.{key}": shape_of(key, d, d_ff) for key in WEIGHT_SHAPES})
    names = parameter_names(layers)
    for name in names:
        if name not in arrays:
            raise ModelFileError(path, f"has no array {name!r}")
        array = arrays[name]
        if array.dtype != np.float64:
            raise ModelFileError(path, f"array {name!r} is {array.dtype}, not float64")
        if array.shape != expected[name]:
            raise ModelFileError(path, f"array {name!r} has shape {array.shape}; the config says {expected[name]}")
        if not np.isfinite(array).all():
            raise ModelFileError(path, f"array {name!r} holds NaN or infinite values")
    extra = sorted(set(arrays) - set(names))
    if extra:
        raise ModelFileError(path, f"has an array {extra[0]!r} the config does not describe")
    weights = from_parameters({name: arrays[name] for name in names}, layers)
    return TinyModel(weights, tokenizer, heads, sizes["context"], float(eps), config, source or path)
