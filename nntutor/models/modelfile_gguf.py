"""nntutor's own tiny model as a GGUF file: written with gguf's ``GGUFWriter``, read back with ``GGUFReader``.

The tiny model is not a Llama and not GPT-2, so the file says what it is:
``general.architecture = "nntutor"``, a name llama.cpp does not know (it would compute
a ``llama`` file with RMSNorm and RoPE, a ``gpt2`` file with GELU). Metadata, besides
``general.*``:

- ``nntutor.format_version`` (1), ``nntutor.context_length``, ``nntutor.embedding_length``,
  ``nntutor.block_count``, ``nntutor.feed_forward_length``, ``nntutor.attention.head_count``
  (unsigned integers); ``nntutor.attention.layer_norm_epsilon`` (float64, so 1e-5 is
  the model's 1e-5 exactly);
- ``nntutor.norm = "pre"`` (LayerNorm with γ and β before attention and before the FFN),
  ``nntutor.feed_forward.activation = "relu"``, ``nntutor.position_embedding =
  "sinusoidal"`` (the table is also stored, as ``position_embd.weight``, so a reader
  need not recompute it);
- ``nntutor.record``: the rest of the model's JSON record (training command, loss
  curve, corpus checksum), read with ``json.loads`` as data;
- ``tokenizer.ggml.model = "nntutor-bpe"`` (subword-nmt style: text lower-cased, "." and
  "," split off, ``</w>`` ends a word), ``tokenizer.ggml.tokens`` (the vocabulary, id
  order), ``tokenizer.ggml.merges`` ("a b" in rank order) and
  ``tokenizer.ggml.unknown_token_id = 0``.

Tensors, all F64 (GGUF's 64-bit float: the read-back is bit for bit), named as
llama.cpp names tensors of the same meaning and stored as it stores them, each matrix
one row per output (out × in, PyTorch's ``nn.Linear`` order), so nntutor's
``x @ W`` matrices are written transposed:

==========================================  ====================  ============
tensor (NumPy shape)                        nntutor weight        as written
==========================================  ====================  ============
``token_embd.weight`` (V × d)               ``E``                 as is
``position_embd.weight`` (context × d)      sinusoidal table      as is
``blk.N.attn_norm.weight`` / ``.bias``      LN₁ γ / β             as is
``blk.N.attn_q.weight`` (d × d), ``.bias``  W_Q, b_Q (k, v too)   W_Qᵀ
``blk.N.attn_output.weight``, ``.bias``     W_O, b_O              W_Oᵀ
``blk.N.ffn_norm.weight`` / ``.bias``       LN₂ γ / β             as is
``blk.N.ffn_up.weight`` (d_ff × d), bias    W₁, b₁                W₁ᵀ
``blk.N.ffn_down.weight`` (d × d_ff), bias  W₂, b₂                W₂ᵀ
``output_norm.weight`` / ``.bias``          final γ / β           as is
``output.weight`` (V × d)                   W_U (untied)          W_Uᵀ
==========================================  ====================  ============

Reading checks everything the ``.npz`` reader checks (:mod:`nntutor.models.modelfile`)
and raises the same errors (``ModelFileError``, exit 2; ``ModelFileUnreadable``, exit 1),
one line naming the file: damaged or truncated, another architecture, a missing or
mistyped key, sizes out of range or not fitting together, a tokenizer that is not
nntutor's, a missing, extra, non-F64, wrong-shaped or non-finite tensor, a position
table that is not the sinusoidal one. Nothing in the file is executed.

>>> import tempfile, os
>>> from nntutor.models.model import load_model
>>> tiny = load_model("tiny")
>>> path = os.path.join(tempfile.mkdtemp(), "tiny.gguf")
>>> write_gguf(tiny, path)
>>> peek_architecture(path)
'nntutor'
>>> again = read_gguf(path)
>>> bool((again.weights.E == tiny.weights.E).all()), again.config == tiny.config
(True, True)
"""

from __future__ import annotations

import json
import os
import struct
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from nntutor.models.model import TinyModel

ARCHITECTURE = "nntutor"
TOKENIZER_MODEL = "nntutor-bpe"
FORMAT_VERSION = 1
# The lessons that run a tiny-model file (walkthroughs/_model.choose); real-model runs Llama files only.
TINY_MODEL_LESSONS = ("pipeline", "next-token", "generate", "lm-loss", "train-step", "attention-patterns")
SIZE_KEYS = {  # metadata key -> the architecture field of the JSON record
    "context_length": "context", "embedding_length": "d_model", "block_count": "layers",
    "feed_forward_length": "d_ff", "attention.head_count": "heads",
}
WORDS = {"norm": ("norm", "pre"), "feed_forward.activation": ("activation", "relu"),
         "position_embedding": ("positional", "sinusoidal")}
EPS_KEY = "attention.layer_norm_epsilon"
POSITION_TOLERANCE = 1e-12  # the stored table against nntutor's formula (np.sin may differ in the last bit elsewhere)
_BLOCK = {  # nntutor block key -> (GGUF tensor name after "blk.N.", written transposed)
    "ln1_gamma": ("attn_norm.weight", False), "ln1_beta": ("attn_norm.bias", False),
    "wq": ("attn_q.weight", True), "bq": ("attn_q.bias", False),
    "wk": ("attn_k.weight", True), "bk": ("attn_k.bias", False),
    "wv": ("attn_v.weight", True), "bv": ("attn_v.bias", False),
    "wo": ("attn_output.weight", True), "bo": ("attn_output.bias", False),
    "ln2_gamma": ("ffn_norm.weight", False), "ln2_beta": ("ffn_norm.bias", False),
    "W1": ("ffn_up.weight", True), "b1": ("ffn_up.bias", False),
    "W2": ("ffn_down.weight", True), "b2": ("ffn_down.bias", False),
}
POSITIONS = "position_embd.weight"


def tensor_names(layers: int) -> dict[str, tuple[str, bool]]:
    """nntutor parameter name -> (GGUF tensor name, stored transposed).

    >>> tensor_names(1)["block0.W1"], tensor_names(1)["W_U"]
    (('blk.0.ffn_up.weight', True), ('output.weight', True))
    """
    names = {"E": ("token_embd.weight", False)}
    for i in range(layers):
        names |= {f"block{i}.{key}": (f"blk.{i}.{name}", t) for key, (name, t) in _BLOCK.items()}
    return names | {"final_gamma": ("output_norm.weight", False), "final_beta": ("output_norm.bias", False),
                    "W_U": ("output.weight", True)}


def is_gguf_path(path: str | os.PathLike) -> bool:
    """Whether ``path`` is to be written as GGUF: its name ends in ``.gguf`` (any case)."""
    return os.fspath(path).lower().endswith(".gguf")


# --------------------------------------------------------------------------- a cheap look at the header


def peek_architecture(path: str | os.PathLike) -> str | None:
    """``general.architecture`` of a GGUF file from its first bytes, or None (not GGUF, unreadable, not found).

    gguf's writer (and llama.cpp's converters) write ``general.architecture`` as the
    first key, so the first 4 KB say it; when the first key is another one, a file no
    larger than the model-file limit (64 MB: every nntutor model) is read with
    ``GGUFReader``, and a larger one is taken not to be nntutor's (None).
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
            size = os.fstat(handle.fileno()).st_size
    except OSError:
        return None
    if head[:4] != b"GGUF" or len(head) < 32:
        return None
    version, _, n_kv = struct.unpack_from("<IQQ", head, 4)
    if version in (2, 3) and n_kv:
        (key_len,) = struct.unpack_from("<Q", head, 24)
        start = 32 + key_len
        if key_len == len(b"general.architecture") and head[32:start] == b"general.architecture" and len(head) >= start + 12:
            value_type, value_len = struct.unpack_from("<IQ", head, start)
            value = head[start + 12:start + 12 + value_len]
            if value_type == 8 and len(value) == value_len:  # 8: GGUF's string type
                return value.decode("utf-8", "replace")
            return None
    from nntutor.models.modelfile import MAX_BYTES

    if size > MAX_BYTES:
        return None
    try:
        import gguf

        field = gguf.GGUFReader(os.fspath(path), "r").fields.get("general.architecture")
        return str(field.contents()) if field is not None else None
    except Exception:  # noqa: BLE001 - a damaged file or no gguf package: nothing to say about it
        return None


# --------------------------------------------------------------------------- writing


def write_gguf(model: TinyModel, path: str | os.PathLike) -> None:
    """Write ``model`` to ``path`` as GGUF (see the module docstring), atomically; needs the gguf package."""
    import gguf

    from nntutor.core.lm import parameters
    from nntutor.core.positional import sinusoidal
    from nntutor.models.modelfile import config_of, replaced_atomically

    path = os.fspath(path)
    symbols = [*model.vocab, *(s for pair in model.tokenizer.merges for s in pair)]
    if any(" " in s for s in symbols):  # "a b" would not split back into its pair
        raise ValueError("a tokenizer symbol holds a space: its merges cannot be written as GGUF's 'a b' strings")
    config = config_of(model)
    record = {key: value for key, value in config.items() if key not in ("format", "format_version", "architecture", "tokenizer")}
    with replaced_atomically(path, ".gguf") as tmp:
        writer = gguf.GGUFWriter(tmp, ARCHITECTURE)
        writer.add_name(f"nntutor tiny model ({os.path.basename(model.source) or 'trained'})")
        writer.add_uint32(f"{ARCHITECTURE}.format_version", FORMAT_VERSION)
        for key, field in SIZE_KEYS.items():
            writer.add_uint32(f"{ARCHITECTURE}.{key}", int(config["architecture"][field]))
        writer.add_float64(f"{ARCHITECTURE}.{EPS_KEY}", float(model.eps))
        for key, (field, _) in WORDS.items():
            writer.add_string(f"{ARCHITECTURE}.{key}", str(config["architecture"][field]))
        writer.add_string(f"{ARCHITECTURE}.record", json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        writer.add_tokenizer_model(TOKENIZER_MODEL)
        writer.add_token_list(list(model.vocab))
        writer.add_token_merges([f"{a} {b}" for a, b in model.tokenizer.merges])
        writer.add_unk_token_id(0)
        params = parameters(model.weights)
        for name, (gguf_name, transposed) in tensor_names(model.layers).items():
            value = np.asarray(params[name], dtype=np.float64)
            writer.add_tensor(gguf_name, np.ascontiguousarray(value.T if transposed else value))
            if name == "E":
                table = sinusoidal(np.arange(model.context), model.d_model).pe
                writer.add_tensor(POSITIONS, np.ascontiguousarray(table, dtype=np.float64))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()


# --------------------------------------------------------------------------- reading


def _field(reader: Any, key: str) -> tuple[str, Any] | None:
    """(GGUF type name, value) of a metadata key; arrays as ``ARRAY:ELEMENT``."""
    entry = reader.fields.get(key)
    if entry is None:
        return None
    kind = ":".join(t.name for t in entry.types)
    return kind, entry.contents()


def _meta(path: str, reader: Any, key: str, kinds: tuple[str, ...], what: str) -> Any:
    from nntutor.models.modelfile import ModelFileError

    found = _field(reader, key)
    if found is None:
        raise ModelFileError(path, f"has no {key} in its metadata (the file is incomplete)")
    if found[0] not in kinds:
        raise ModelFileError(path, f"metadata {key} must be {what}, got a {found[0].lower()}")
    return found[1]


_INTEGERS = ("UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64")


def _architecture(path: str, reader: Any) -> dict[str, Any]:
    """The JSON record's ``architecture`` section from the ``nntutor.*`` keys (ranges are checked by the shared check)."""
    from nntutor.models.modelfile import LIMITS, ModelFileError

    version = _meta(path, reader, f"{ARCHITECTURE}.format_version", _INTEGERS, "a whole number")
    if version != FORMAT_VERSION:
        raise ModelFileError(path, f"has nntutor GGUF format version {version!r}; this nntutor reads version {FORMAT_VERSION}")
    arch: dict[str, Any] = {}
    for key, field in SIZE_KEYS.items():
        arch[field] = value = int(_meta(path, reader, f"{ARCHITECTURE}.{key}", _INTEGERS, "a whole number"))
        if not 1 <= value <= LIMITS[field]:
            raise ModelFileError(path, f"metadata {ARCHITECTURE}.{key} = {value} is outside 1..{LIMITS[field]}")
    if arch["d_model"] % arch["heads"]:
        raise ModelFileError(path, f"metadata {ARCHITECTURE}.attention.head_count = {arch['heads']} does not divide "
                                   f"{ARCHITECTURE}.embedding_length = {arch['d_model']}")
    embedding = reader_tensor_shape(reader, "token_embd.weight")
    if embedding is None or len(embedding) != 2:
        raise ModelFileError(path, "has no tensor token_embd.weight (a vocabulary × d_model matrix)")
    arch["vocab_size"] = embedding[0]
    arch["eps"] = float(_meta(path, reader, f"{ARCHITECTURE}.{EPS_KEY}", ("FLOAT64", "FLOAT32"), "a number"))
    for key, (field, expected) in WORDS.items():
        value = _meta(path, reader, f"{ARCHITECTURE}.{key}", ("STRING",), "a string")
        if value != expected:
            raise ModelFileError(path, f"metadata {ARCHITECTURE}.{key} must be {expected!r}, got {value!r}")
        arch[field] = value
    return arch


def reader_tensor_shape(reader: Any, name: str) -> tuple[int, ...] | None:
    """A tensor's NumPy-order shape (GGUF lists the fastest axis first), or None if absent."""
    for entry in reader.tensors:
        if entry.name == name:
            return tuple(int(n) for n in reversed([int(n) for n in entry.shape]))
    return None


def _tokenizer_section(path: str, reader: Any) -> dict[str, Any]:
    from nntutor.models.modelfile import ModelFileError

    kind = _meta(path, reader, "tokenizer.ggml.model", ("STRING",), "a string")
    if kind != TOKENIZER_MODEL:
        raise ModelFileError(path, f"uses a {kind!s} tokenizer; nntutor's tiny model uses its own BPE ({TOKENIZER_MODEL})")
    vocab = _meta(path, reader, "tokenizer.ggml.tokens", ("ARRAY:STRING",), "a list of strings")
    merges = _meta(path, reader, "tokenizer.ggml.merges", ("ARRAY:STRING",), "a list of strings")
    pairs = [m.split(" ") for m in merges]
    if not all(len(p) == 2 for p in pairs):
        raise ModelFileError(path, "tokenizer.ggml.merges must hold two symbols per merge, separated by one space")
    unk = _field(reader, "tokenizer.ggml.unknown_token_id")
    if unk is not None and unk[1] != 0:
        raise ModelFileError(path, f"tokenizer.ggml.unknown_token_id must be 0 (<unk>), got {unk[1]!r}")
    return {"kind": "bpe", "merges": pairs, "vocab": list(vocab)}


def _record(path: str, reader: Any) -> dict[str, Any]:
    from nntutor.models.modelfile import ModelFileError

    text = _meta(path, reader, f"{ARCHITECTURE}.record", ("STRING",), "a string")
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelFileError(path, f"metadata {ARCHITECTURE}.record is not valid JSON ({exc.__class__.__name__})") from None
    if not isinstance(record, dict):
        raise ModelFileError(path, f"metadata {ARCHITECTURE}.record must be a JSON object")
    return record


def _tensors(path: str, reader: Any, arch: dict[str, Any], size: int) -> dict[str, np.ndarray]:
    """Every tensor, checked (F64, shape, finite, none missing or extra), in nntutor's names and orientation."""
    from nntutor.core.block import shape_of
    from nntutor.core.positional import sinusoidal
    from nntutor.models.modelfile import ModelFileError

    d, d_ff, V, layers, context = arch["d_model"], arch["d_ff"], arch["vocab_size"], arch["layers"], arch["context"]
    names = tensor_names(layers)
    by_name = {entry.name: entry for entry in reader.tensors}
    expected = {POSITIONS: (context, d)}
    for name, (gguf_name, transposed) in names.items():
        if name in ("E", "W_U"):
            shape = (V, d)
        elif name.startswith("final_"):
            shape = (d,)
        else:
            shape = shape_of(name.split(".", 1)[1], d, d_ff)
            shape = shape[::-1] if transposed else shape
        expected[gguf_name] = shape
    arrays: dict[str, np.ndarray] = {}
    for gguf_name, shape in expected.items():
        entry = by_name.get(gguf_name)
        if entry is None:
            raise ModelFileError(path, f"has no tensor {gguf_name}")
        type_name = getattr(entry.tensor_type, "name", str(entry.tensor_type))
        if type_name != "F64":
            raise ModelFileError(path, f"tensor {gguf_name} is {type_name}, not F64 (nntutor writes float64, exactly)")
        if int(entry.data_offset) + int(entry.n_bytes) > size:
            raise ModelFileError(path, f"is truncated: tensor {gguf_name} ends past the end of the file")
        found = tuple(int(n) for n in reversed([int(n) for n in entry.shape]))
        if found != shape:
            raise ModelFileError(path, f"tensor {gguf_name} is {'×'.join(map(str, found))}, expected {'×'.join(map(str, shape))}")
        value = np.array(entry.data, dtype=np.float64).reshape(shape)
        if not np.isfinite(value).all():
            raise ModelFileError(path, f"tensor {gguf_name} holds NaN or infinite values")
        arrays[gguf_name] = value
    extra = sorted(set(by_name) - set(expected))
    if extra:
        raise ModelFileError(path, f"has a tensor {extra[0]} nntutor's architecture does not have")
    table = sinusoidal(np.arange(context), d).pe
    if np.abs(arrays[POSITIONS] - table).max() > POSITION_TOLERANCE:
        raise ModelFileError(path, f"tensor {POSITIONS} is not the sinusoidal table ({ARCHITECTURE}.position_embedding = sinusoidal)")
    return {name: (arrays[g].T.copy() if t else arrays[g]) for name, (g, t) in names.items()}


def read_gguf(path: str | os.PathLike, *, source: str | None = None) -> TinyModel:
    """Read and check an nntutor GGUF file (see the module docstring); ``source`` defaults to ``path``."""
    from nntutor.core.lm import from_parameters
    from nntutor.models.gguf_file import INSTALL_HINT
    from nntutor.models.model import TinyModel
    from nntutor.models.modelfile import (
        FORMAT,
        MAX_BYTES,
        ModelFileError,
        ModelFileUnreadable,
        check_record,
    )

    path = os.fspath(path)
    try:
        import gguf
    except ImportError:
        raise ModelFileError(path, INSTALL_HINT) from None
    try:
        size = os.path.getsize(path)
        if size > MAX_BYTES:
            raise ModelFileError(path, f"is larger than {MAX_BYTES >> 20} MB (not an nntutor model)")
        reader = gguf.GGUFReader(path, "r")
    except ModelFileError:
        raise
    except PermissionError as exc:
        raise ModelFileUnreadable(path, f"cannot be read ({exc.strerror or exc})") from None
    except Exception as exc:  # noqa: BLE001 - the reader fails in many ways on a damaged file
        text = " ".join(str(exc).split())[:80] or type(exc).__name__
        raise ModelFileError(path, f"is a truncated or damaged GGUF file (the reader stopped: {text})") from None
    arch_name = _meta(path, reader, "general.architecture", ("STRING",), "a string")
    if arch_name != ARCHITECTURE:
        raise ModelFileError(path, f"holds a {arch_name} model, not nntutor's own tiny model "
                                   f"(a Llama file runs with: nntutor lesson real-model --model {os.path.basename(path)})")
    arch = _architecture(path, reader)
    config = {**_record(path, reader), "format": FORMAT, "format_version": 1, "architecture": arch,
              "tokenizer": _tokenizer_section(path, reader)}
    sizes, tokenizer = check_record(path, config)
    params = _tensors(path, reader, arch, size)
    weights = from_parameters(params, sizes["layers"])
    return TinyModel(weights, tokenizer, sizes["heads"], sizes["context"], float(arch["eps"]), config, source or path)
