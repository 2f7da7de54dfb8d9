"""Open a GGUF model file as data: validate it, read its metadata, dequantise tensors lazily.

GGUF is the file format of llama.cpp (also used by Ollama and LM Studio): a header,
key–value metadata (architecture, sizes, the tokenizer's vocabulary and merges) and
the tensors, each stored in one quantisation type. Reading goes through the format's
own Python library, ``gguf`` (``pip install "nntutor[models]"``): its ``GGUFReader``
memory-maps the file and its ``dequantize`` turns a tensor's blocks into floats. Nothing
in a file is ever executed (the chat template, for one, is a string nntutor never renders).

A tensor is dequantised only when asked for (:meth:`GGUFModel.tensor`), so a forward
pass can go layer by layer and hold one layer's floats at a time.

GGUF lists a matrix's shape fastest axis first ([576, 49152] for SmolLM2's token
embedding); the arrays here are in NumPy order, one row per output: ``(49152, 576)``,
like PyTorch's ``nn.Linear.weight`` (out × in).

>>> quant_name(8), quant_name(12)
('Q8_0', 'Q4_K')
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from typing import Any, NamedTuple

import numpy as np

from nntutor.errors import InputError, NntutorError

INSTALL_HINT = 'reading GGUF model files needs the gguf package: pip install "nntutor[models]"'
MAGIC = b"GGUF"
# Tensor types nntutor reads and tests (the types small models ship in); others are refused by name.
SUPPORTED_TYPES = ("F32", "F16", "Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q6_K")
ARCHITECTURES = ("llama",)  # SmolLM2, TinyLlama, Llama 2/3 … all say "llama" (their tokenizers decide the rest)
TOKENIZERS = ("gpt2",)  # byte-level BPE with merges (GPT-2, SmolLM2)
# How the text is split before merging (tokenizer.ggml.pre): GPT-2's rule, and SmolLM's (digits apart first).
# Others (Llama 3's "llama-bpe", Qwen's …) split differently and are refused rather than tokenised wrongly.
PRE_TOKENIZERS = ("gpt2", "smollm", "default")
_TYPE_NAMES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 10: "Q2_K", 11: "Q3_K",
               12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 30: "BF16"}


class UnreadableFile(InputError):
    """A model file the system will not let us read (permissions, I/O error): exit code 1."""

    exit_code = 1


def quant_name(type_id: int) -> str:
    """The ggml name of a tensor type number (``8 -> 'Q8_0'``); unknown numbers as ``type 99``."""
    return _TYPE_NAMES.get(int(type_id), f"type {int(type_id)}")


class MissingPackage(NntutorError):
    """The gguf package is not installed (exit 2): the message says how to install it."""


def require_gguf(flag: str | None = "--model") -> Any:
    """The ``gguf`` module, or one line saying how to install it (exit 2), naming ``flag`` if given."""
    try:
        import gguf
    except ImportError:
        raise (InputError(flag, INSTALL_HINT) if flag else MissingPackage(INSTALL_HINT)) from None
    return gguf


class LlamaConfig(NamedTuple):
    """The sizes of a Llama-architecture model, from its GGUF metadata (``llama.*`` keys)."""

    n_layer: int  # transformer blocks
    d_model: int  # embedding_length
    n_head: int  # query heads
    n_head_kv: int  # key/value heads (fewer than n_head: grouped-query attention)
    d_ff: int  # feed_forward_length
    vocab: int  # rows of the token embedding
    context: int  # context_length: the longest sequence it was trained for
    rope_base: float  # rope.freq_base (θ)
    rms_eps: float  # attention.layer_norm_rms_epsilon
    tied: bool  # no output.weight: the output reuses the token embedding

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    @property
    def group(self) -> int:
        """Query heads per key/value head."""
        return self.n_head // self.n_head_kv


class Tensor(NamedTuple):
    """One tensor's entry in the file: its name, NumPy-order shape and type (data not read)."""

    name: str
    shape: tuple[int, ...]
    type_name: str
    n_bytes: int


class GGUFModel:
    """An open, validated GGUF file of a Llama-architecture model.

    ``config`` holds the sizes, ``metadata`` the scalar keys, ``tensors`` every tensor's
    entry; :meth:`tensor` dequantises one tensor to floats, when it is asked for.
    """

    def __init__(self, path: str, reader: Any, config: LlamaConfig, tensors: dict[str, Tensor], metadata: dict[str, Any]):
        self.path = path
        self.config = config
        self.tensors = tensors
        self.metadata = metadata
        self._reader = reader
        self._by_name = {t.name: t for t in reader.tensors}

    @property
    def name(self) -> str:
        return str(self.metadata.get("general.name") or os.path.basename(self.path))

    @property
    def n_params(self) -> int:
        return sum(int(np.prod(t.shape)) for t in self.tensors.values())

    @property
    def file_bytes(self) -> int:
        return os.path.getsize(self.path)

    def type_counts(self) -> Counter:
        """How many tensors each quantisation type holds: ``Counter({'Q4_1': 210, 'F32': 61, 'Q8_0': 1})``."""
        return Counter(t.type_name for t in self.tensors.values())

    def quantisation(self) -> str:
        """The type most parameters are stored in (``Q4_1``), as the file's label says."""
        weights: Counter = Counter()
        for t in self.tensors.values():
            weights[t.type_name] += int(np.prod(t.shape))
        return weights.most_common(1)[0][0]

    def tensor(self, name: str, dtype: Any = np.float32) -> np.ndarray:
        """Tensor ``name`` dequantised by ``gguf`` into a new ``dtype`` array, NumPy order (out × in)."""
        import gguf

        entry = self._by_name[name]
        values = gguf.dequantize(entry.data, entry.tensor_type)
        return np.asarray(values, dtype=dtype).reshape(self.tensors[name].shape)

    def field(self, key: str, default: Any = None) -> Any:
        """A metadata value by key: a scalar, a string or a list (``tokenizer.ggml.merges``)."""
        entry = self._reader.fields.get(key)
        return default if entry is None else entry.contents()


# --------------------------------------------------------------------------- opening and validating


def _shown(path: str) -> str:
    return repr(path) if len(path) <= 80 else repr("…" + path[-77:])


def _check_path(flag: str, path: str) -> int:
    """The size of the regular file ``path``; a missing file or folder is refused (2), an unreadable one (1)."""
    try:
        status = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise InputError(flag, f"{_shown(path)} does not exist (expected a .gguf model file; see: nntutor models)") from None
    except OSError as exc:
        raise UnreadableFile(flag, f"{_shown(path)} cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(status.st_mode):
        raise InputError(flag, f"{_shown(path)} is a folder (expected a .gguf model file; see: nntutor models)")
    if not stat.S_ISREG(status.st_mode):
        raise InputError(flag, f"{_shown(path)} is not a regular file (expected a .gguf model file)")
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        raise UnreadableFile(flag, f"{_shown(path)} cannot be read ({exc.strerror or exc})") from None
    if head != MAGIC:
        raise InputError(flag, f"{_shown(path)} is not a GGUF file (it does not start with the bytes 'GGUF')")
    return status.st_size


def _scalar_metadata(reader: Any) -> dict[str, Any]:
    """Every metadata key whose value is a number, a bool or a string (arrays are left in the file)."""
    out: dict[str, Any] = {}
    for key, entry in reader.fields.items():
        if len(entry.types) == 1 and entry.types[0].name != "ARRAY":
            out[key] = entry.contents()
    return out


def _config(flag: str, path: str, meta: dict[str, Any], tensors: dict[str, Tensor]) -> LlamaConfig:
    arch = meta.get("general.architecture")
    if arch == "nntutor":  # nntutor's own tiny model (nntutor export): the tiny-model lessons run it
        raise InputError(flag, f"{_shown(path)} holds nntutor's own tiny model, not a Llama model: real-model cannot run it; "
                               f"use it with the tiny-model lessons (e.g. nntutor lesson next-token --model {_shown(path)})")
    if arch not in ARCHITECTURES:
        raise InputError(flag, f"{_shown(path)} holds a {arch or 'unnamed'!s} model; nntutor runs the Llama architecture only (llama)")

    def need(key: str) -> Any:
        value = meta.get(f"llama.{key}")
        if value is None:
            raise InputError(flag, f"{_shown(path)} has no llama.{key} in its metadata (the file is incomplete)")
        return value

    n_head = int(need("attention.head_count"))
    n_head_kv = int(meta.get("llama.attention.head_count_kv", n_head))
    d_model = int(need("embedding_length"))
    embedding = tensors.get("token_embd.weight")
    if embedding is None:
        raise InputError(flag, f"{_shown(path)} has no token_embd.weight tensor (the file is incomplete)")
    if n_head < 1 or n_head_kv < 1 or n_head % n_head_kv or d_model % n_head or (d_model // n_head) % 2:
        raise InputError(flag, f"{_shown(path)} has {n_head} heads, {n_head_kv} key/value heads and d_model {d_model}: not a shape nntutor can run")
    rope_dims = int(meta.get("llama.rope.dimension_count", d_model // n_head))
    if rope_dims != d_model // n_head:
        raise InputError(flag, f"{_shown(path)} rotates {rope_dims} of {d_model // n_head} dimensions per head (partial rotary): not supported")
    return LlamaConfig(
        n_layer=int(need("block_count")),
        d_model=d_model,
        n_head=n_head,
        n_head_kv=n_head_kv,
        d_ff=int(need("feed_forward_length")),
        vocab=embedding.shape[0],
        context=int(need("context_length")),
        rope_base=float(meta.get("llama.rope.freq_base", 10000.0)),
        rms_eps=float(need("attention.layer_norm_rms_epsilon")),
        tied="output.weight" not in tensors,
    )


def expected_tensors(config: LlamaConfig) -> dict[str, tuple[int, ...]]:
    """Every tensor a Llama model needs, with its NumPy-order shape."""
    d, kv = config.d_model, config.n_head_kv * config.head_dim
    shapes = {"token_embd.weight": (config.vocab, d), "output_norm.weight": (d,)}
    if not config.tied:
        shapes["output.weight"] = (config.vocab, d)
    for i in range(config.n_layer):
        shapes |= {
            f"blk.{i}.attn_norm.weight": (d,), f"blk.{i}.attn_q.weight": (d, d), f"blk.{i}.attn_k.weight": (kv, d),
            f"blk.{i}.attn_v.weight": (kv, d), f"blk.{i}.attn_output.weight": (d, d), f"blk.{i}.ffn_norm.weight": (d,),
            f"blk.{i}.ffn_gate.weight": (config.d_ff, d), f"blk.{i}.ffn_up.weight": (config.d_ff, d),
            f"blk.{i}.ffn_down.weight": (d, config.d_ff),
        }
    return shapes


def _check_tokenizer(flag: str, path: str, reader: Any, meta: dict[str, Any]) -> None:
    kind = meta.get("tokenizer.ggml.model")
    if kind is None or "tokenizer.ggml.tokens" not in reader.fields:
        raise InputError(flag, f"{_shown(path)} holds no tokenizer (no tokenizer.ggml.model and tokens in its metadata)")
    if kind not in TOKENIZERS:
        raise InputError(flag, f"{_shown(path)} uses a {kind!s} tokenizer; nntutor reads byte-level BPE (gpt2) only")
    pre = meta.get("tokenizer.ggml.pre", "default")
    if pre not in PRE_TOKENIZERS:
        raise InputError(flag, f"{_shown(path)} splits text with the {pre!s} pre-tokenizer; nntutor splits as gpt2 and smollm do")
    if "tokenizer.ggml.merges" not in reader.fields:
        raise InputError(flag, f"{_shown(path)} has a byte-level BPE tokenizer without its merges (tokenizer.ggml.merges)")


def open_gguf(path: str, flag: str = "--model") -> GGUFModel:
    """Open and validate ``path``: a GGUF file of a Llama model nntutor can run, or one line why not.

    Refused (exit 2, naming ``flag``): a missing file or folder, not GGUF, truncated or
    damaged, another architecture, an unsupported tensor type (by name), a missing or
    wrong-shaped tensor, no tokenizer. A file the system will not let us read: exit 1.
    """
    path = os.fspath(path)
    size = _check_path(flag, path)
    gguf = require_gguf()
    try:
        reader = gguf.GGUFReader(path, "r")
    except PermissionError as exc:
        raise UnreadableFile(flag, f"{_shown(path)} cannot be read ({exc.strerror or exc})") from None
    except Exception as exc:  # noqa: BLE001 - the reader fails in many ways on a damaged file
        raise InputError(flag, f"{_shown(path)} is truncated or damaged (the GGUF reader stopped: {_one_line(exc)})") from None
    tensors: dict[str, Tensor] = {}
    for entry in reader.tensors:
        type_name = quant_name(entry.tensor_type)
        shape = tuple(int(n) for n in reversed([int(n) for n in entry.shape]))
        end = int(entry.data_offset) + int(entry.n_bytes)
        if end > size:
            raise InputError(flag, f"{_shown(path)} is truncated: tensor {entry.name} ends at byte {end:,} of {size:,}")
        tensors[entry.name] = Tensor(entry.name, shape, type_name, int(entry.n_bytes))
    meta = _scalar_metadata(reader)
    config = _config(flag, path, meta, tensors)
    unsupported = sorted({t.type_name for t in tensors.values()} - set(SUPPORTED_TYPES))
    if unsupported:
        raise InputError(flag, f"{_shown(path)} stores tensors as {', '.join(unsupported)}; nntutor reads {', '.join(SUPPORTED_TYPES)}")
    for name, shape in expected_tensors(config).items():
        if name not in tensors:
            raise InputError(flag, f"{_shown(path)} has no tensor {name} (not a complete Llama model)")
        if tensors[name].shape != shape:
            raise InputError(flag, f"{_shown(path)}: tensor {name} is {_dims(tensors[name].shape)}, expected {_dims(shape)}")
    _check_tokenizer(flag, path, reader, meta)
    return GGUFModel(path, reader, config, tensors, meta)


def _dims(shape: tuple[int, ...]) -> str:
    return "×".join(str(n) for n in shape)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 100 else text[:97] + "…"


# --------------------------------------------------------------------------- cost, said before loading


class Estimate(NamedTuple):
    """What running a model costs, said before its weights are read."""

    peak_bytes: int  # the mapped file plus the floats held at once
    seconds: float  # a rough guess for one pass over the prompt on one CPU core
    held: str  # what is held at once, in words


def estimate(config: LlamaConfig, file_bytes: int, n_tokens: int, itemsize: int = 4) -> Estimate:
    """Peak memory and time of a layer-by-layer forward pass over ``n_tokens`` tokens.

    Memory: Python with NumPy (about 80 MB), the mapped file, the embedding and output
    matrices (one when tied) held throughout, one layer's weights, and gguf's dequantisation
    of the largest tensor (its intermediate arrays are about twice the result). Time: one
    multiply-add per weight per token at a conservative 2·10⁹ per second, plus about
    1 s per 10⁸ weights dequantised (gguf works in NumPy, block by block). Measured on
    SmolLM2-135M (Q4_1, 5 tokens): 524 MB peak, which this estimate puts at 533 MB.

    >>> c = LlamaConfig(30, 576, 9, 3, 1536, 49152, 8192, 1e5, 1e-5, True)
    >>> e = estimate(c, 98_400_000, 5)
    >>> round(e.peak_bytes / 1e6), round(e.seconds, 1)
    (533, 1.7)
    """
    d, kv = config.d_model, config.n_head_kv * config.head_dim
    layer = 2 * d * d + 2 * kv * d + 3 * d * config.d_ff
    vocab_mats = config.vocab * d * (1 if config.tied else 2)
    largest = max(config.vocab * d, d * config.d_ff)
    n_weights = config.n_layer * layer + vocab_mats
    activations = n_tokens * (6 * d + 2 * config.d_ff + config.vocab) * itemsize + n_tokens * n_tokens * config.n_head * itemsize
    peak = 80_000_000 + file_bytes + (layer + vocab_mats + 2 * largest) * itemsize + activations
    seconds = n_weights * n_tokens / 2e9 + n_weights / 1e8
    return Estimate(int(peak), seconds, "one layer's weights at a time, with the embedding and output matrices")


def weights_of(model: GGUFModel, dtype: Any = np.float32, keep_all: bool = False):
    """``weights(name) -> array`` for :func:`nntutor.core.llama.forward`, dequantising on demand.

    The embedding, output and final-norm tensors are kept once read (every pass needs
    them); a block's tensors are dropped after use unless ``keep_all`` (many passes:
    generation, the benchmark), trading memory for the time of dequantising again.
    """
    kept: dict[str, np.ndarray] = {}
    always = {"token_embd.weight", "output.weight", "output_norm.weight"}

    def weights(name: str) -> np.ndarray:
        value = kept.get(name)
        if value is None:
            value = model.tensor(name, dtype)
            if keep_all or name in always:
                kept[name] = value
        return value

    return weights


def tokenizer_of(model: GGUFModel):
    """The model's own byte-level BPE tokenizer (:class:`nntutor.core.byte_bpe.ByteBPE`) from its metadata."""
    from nntutor.core.byte_bpe import ByteBPE

    return ByteBPE(
        model.field("tokenizer.ggml.tokens"),
        model.field("tokenizer.ggml.merges"),
        model.field("tokenizer.ggml.token_type"),
        str(model.metadata.get("tokenizer.ggml.pre", "gpt2")),
    )
