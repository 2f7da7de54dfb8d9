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
# gguf's dequantisation on one core, nanoseconds per weight, the mapped bytes read for the first
# time (benchmarks/gguf_cost.py calibrate: rows of 512 and 1536 weights).
DEQUANTISE_NS = {"F32": 0.1, "F16": 2.5, "Q8_0": 4.0, "Q4_0": 4.0, "Q4_1": 7.0, "Q4_K": 10.0, "Q6_K": 8.0}
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

    def weights_by_type(self) -> Counter:
        """How many weights each quantisation type holds: ``Counter({'Q4_1': 106168320, 'Q8_0': 28311552, …})``."""
        weights: Counter = Counter()
        for t in self.tensors.values():
            weights[t.type_name] += int(np.prod(t.shape))
        return weights

    def quantisation(self) -> str:
        """The type most parameters are stored in (``Q4_1``), as the file's label says."""
        return self.weights_by_type().most_common(1)[0][0]

    def tensor(self, name: str, dtype: Any = np.float32) -> np.ndarray:
        """Tensor ``name`` dequantised by ``gguf`` into a new ``dtype`` array, NumPy order (out × in)."""
        import gguf

        entry = self._by_name[name]
        # a plain ndarray view of the mapped bytes (no copy): gguf's block arithmetic on the
        # memmap subclass itself runs its Python hooks on every intermediate view (~25% slower)
        values = gguf.dequantize(np.asarray(entry.data), entry.tensor_type)
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


# The constants of :func:`estimate`, measured on one core of a 2-core x86 machine shared with
# other work (benchmarks/gguf_cost.py calibrate and compare; the numbers are in estimate's docstring).
STARTUP_SECONDS = 0.4  # Python, NumPy, rich and the lesson's own drawing (a run on a tiny file: 0.39–0.46 s of CPU)
OPEN_SECONDS_PER_VOCAB = 55e-6  # gguf reading a token, its type and about one merge (~17 µs each), the tokenizer 4 µs
READ_NS = 0.35  # a pass reads each weight once from memory: ns per weight (one token's pass is this)
MAC_NS = 0.05  # each further token of the same pass: ns per weight (a matrix product, not a vector one)
BASE_BYTES = 45_000_000  # Python with NumPy and rich (the built-in model's run peaks at 45 MB)
METADATA_BYTES_PER_VOCAB = 4_000  # gguf keeps a NumPy view per metadata entry (~1.1 KB each, 3 per token) + the tokenizer


class Estimate(NamedTuple):
    """What running a model costs, said before its weights are read.

    ``seconds`` is what comes after the file is open (dequantising and computing: what a
    lesson's notice announces); ``total_seconds`` adds starting up and gguf reading the
    file's metadata (what ``nntutor models`` says a run takes).
    """

    peak_bytes: int  # the mapped file plus the floats held at once
    seconds: float  # dequantising and computing, on one CPU core, once the file is open
    held: str  # what is held at once, in words
    open_seconds: float = 0.0  # gguf reading the metadata (vocabulary, merges) and the tokenizer built
    startup_seconds: float = 0.0  # Python and nntutor starting, the lesson drawn
    dequantise_seconds: float = 0.0  # part of ``seconds``
    compute_seconds: float = 0.0  # part of ``seconds``

    @property
    def total_seconds(self) -> float:
        return self.startup_seconds + self.open_seconds + self.seconds


def estimate(config: LlamaConfig, file_bytes: int, n_tokens: int, itemsize: int = 4, *, new_tokens: int = 0,
             weights_by_type: dict[str, int] | None = None, lens: bool = False, keep_all: bool = False) -> Estimate:
    """Peak memory and time of a layer-by-layer forward pass over ``n_tokens`` tokens, then
    ``new_tokens`` passes of one token each over the KV cache (generation).

    Time, on one core: starting up (:data:`STARTUP_SECONDS`); gguf reading the metadata, about
    :data:`OPEN_SECONDS_PER_VOCAB` per vocabulary entry; dequantising every weight once,
    :data:`DEQUANTISE_NS` per weight by its type (``weights_by_type``; without it, the slowest
    type), again for every layer weight on each new token unless ``keep_all``; computing,
    :data:`READ_NS` per weight per pass plus :data:`MAC_NS` per weight for each further token
    in the pass (the output matrix on every row), plus, with ``lens``, one product of the
    output matrix per layer (the logit lens).

    Memory: Python (:data:`BASE_BYTES`) and the metadata gguf keeps (:data:`METADATA_BYTES_PER_VOCAB`),
    then the larger of two moments: the largest tensor being dequantised (gguf holds its
    blocks' floats and the result: twice its floats) and the last layer (the whole file
    mapped, the embedding and output held, one layer and its widest tensor's dequantisation,
    the activations, the KV cache). With ``keep_all``, every weight is held as floats.

    Measured (benchmarks/gguf_cost.py) on SmolLM2-135M-Instruct Q4_1 (its Q4_1 layers and
    Q8_0 embedding), ``nntutor lesson real-model`` with 5 tokens: gguf opening the file 2.7–3.5 s,
    the tokenizer 0.15–0.4 s, dequantising Q8_0 4–12 ns and Q4_1 5.6–13.6 ns per weight,
    the forward pass with the logit lens 0.27–0.39 s; the whole run 3.8–5.2 s of CPU (this
    estimate: 4.3 s) and 502 MB at its peak (estimate: 489 MB); runs on tiny files of every type
    0.4–0.7 s (estimates: 0.42–0.49 s). Dequantisation on tiny files (rows of 512 and 1536), ns per weight:
    F16 1.8–4.8, Q8_0 2.3–2.8, Q4_0 3.3–3.7, Q4_1 4.0–5.9, Q4_K 7.2–10.8, Q6_K 5.6–8.4
    (F32 is read in place). A busy machine doubles these.

    SmolLM2's sizes, worked by hand: 30 layers of 3,538,944 weights (106,168,320, Q4_1) and a
    tied 49,152 × 576 embedding (28,311,552, Q8_0). Dequantising: 106,168,320 × 7 ns +
    28,311,552 × 4 ns = 0.856 s. Computing 5 tokens: 134,479,872 × (0.35 + 4 × 0.05) ns =
    0.074 s, and the lens 30 × 28,311,552 × 0.35 ns = 0.297 s. Opening: 49,152 × 55 µs = 2.703 s.

    >>> c = LlamaConfig(30, 576, 9, 3, 1536, 49152, 8192, 1e5, 1e-5, True)
    >>> e = estimate(c, 98_400_000, 5, weights_by_type={"Q4_1": 106_168_320, "Q8_0": 28_311_552}, lens=True)
    >>> round(e.dequantise_seconds, 3), round(e.compute_seconds, 3), round(e.open_seconds, 3)
    (0.856, 0.371, 2.703)
    >>> round(e.total_seconds, 2), round(e.peak_bytes / 1e6)
    (4.33, 489)
    """
    d, kv = config.d_model, config.n_head_kv * config.head_dim
    layer = 2 * d * d + 2 * kv * d + 3 * d * config.d_ff
    out_mats = config.vocab * d * (1 if config.tied else 2)  # the embedding, and the output matrix if untied
    n_weights = config.n_layer * layer + out_mats
    by_type = weights_by_type or {max(DEQUANTISE_NS, key=DEQUANTISE_NS.get): n_weights}
    slowest = max(DEQUANTISE_NS.values())
    per_weight = sum(count * DEQUANTISE_NS.get(kind, slowest) for kind, count in by_type.items()) / max(sum(by_type.values()), 1)
    dequantise = n_weights * per_weight * 1e-9
    if new_tokens and not keep_all:
        dequantise += new_tokens * config.n_layer * layer * per_weight * 1e-9  # the blocks are read again each pass
    read = config.n_layer * layer + config.vocab * d  # the weights one pass reads (one output matrix)
    compute = read * (READ_NS + max(n_tokens - 1, 0) * MAC_NS) * 1e-9
    compute += 2 * config.n_layer * n_tokens * n_tokens * d * MAC_NS * 1e-9  # scores and weighted sums
    compute += new_tokens * read * READ_NS * 1e-9
    if lens:
        compute += config.n_layer * config.vocab * d * READ_NS * 1e-9  # one row per layer through the output matrix
    total = n_tokens + new_tokens
    activations = n_tokens * (6 * d + 2 * config.d_ff + config.vocab) * itemsize + n_tokens * n_tokens * config.n_head * itemsize
    kv_cache = 2 * config.n_layer * kv * total * itemsize
    start = BASE_BYTES + METADATA_BYTES_PER_VOCAB * config.vocab
    largest = max(config.vocab * d, d * config.d_ff)
    widest = max(d * config.d_ff, d * d)
    stored = file_bytes * largest / max(n_weights, 1)  # the largest tensor's share of the file
    dequantising = start + stored + 2 * largest * itemsize
    held = (n_weights if keep_all else out_mats + layer) * itemsize
    last_layer = start + file_bytes + held + widest * itemsize + activations + kv_cache
    return Estimate(
        int(max(dequantising, last_layer)), dequantise + compute,
        "every weight, dequantised once and kept" if keep_all
        else "one layer's weights at a time, with the embedding and output matrices",
        open_seconds=config.vocab * OPEN_SECONDS_PER_VOCAB, startup_seconds=STARTUP_SECONDS,
        dequantise_seconds=dequantise, compute_seconds=compute,
    )


def estimate_for(model: Any, n_tokens: int, **options: Any) -> Estimate:
    """:func:`estimate` for an open model (its file size and the weights of each type); ``options``
    as for :func:`estimate` (``new_tokens``, ``lens``, ``keep_all``)."""
    by_type = model.weights_by_type() if hasattr(model, "weights_by_type") else {}
    return estimate(model.config, model.file_bytes, n_tokens, weights_by_type=by_type or None, **options)


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
