"""nntutor's own tiny model as GGUF: exact round trip, the lessons' numbers unchanged, an independent
oracle on the file (transformers' GPT-2 loaded from the tensors gguf's reader gives), bad files refused.

Proofs:
- exact: export tiny, read it back: every parameter equal bit for bit, the tokenizer, eps and the
  whole JSON record equal; the lessons that run the tiny model give the same JSON numbers with
  ``--model tiny.gguf`` as with ``--model tiny``;
- oracle: the file's tensors, read here with ``gguf.GGUFReader`` (not through nntutor), loaded into
  ``GPT2LMHeadModel`` configured as the tiny model (ReLU, the stored sinusoidal table as the
  learned position embedding ``wpe``, an untied head, LayerNorm eps 1e-5) give nntutor's logits
  at 1e-10 in float64. GPT-2's block is the tiny model's block (pre-norm, both LayerNorms with
  γ and β, biases on Q, K, V, O and both FFN layers, scores scaled by 1/√head_dim); only the
  activation (GELU in GPT-2, set to ReLU here) and the positions (learned in GPT-2, the
  sinusoidal table here) are configured; the tokenizer metadata, loaded into the ``tokenizers``
  library's BPE (``</w>`` as end-of-word suffix), gives nntutor's ids;
- hand-worked: the file's sizes and the orientation of one matrix (W₁ is d × d_ff in nntutor,
  ffn_up is d_ff × d in the file, as llama.cpp stores it);
- refusals: every kind of bad file is one line naming the file (exit 2; 1 when unreadable).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from nntutor.core.lm import parameters
from nntutor.models.model import load_model, save_model
from nntutor.models.modelfile import ModelFileError, ModelFileUnreadable
from nntutor.models.modelfile_gguf import (
    ARCHITECTURE,
    POSITIONS,
    TINY_MODEL_LESSONS,
    peek_architecture,
    read_gguf,
    tensor_names,
    write_gguf,
)
from tests.helpers import assert_refused

gguf = pytest.importorskip("gguf", reason="the gguf package is needed: pip install -e '.[models]'")

SENTENCES = ["the fisher sat on the bank and looked at the", "anna gave the book to ben , and ben thanked anna .",
             "the dogs near the tree are"]


@pytest.fixture(scope="module")
def tiny():
    return load_model("tiny")


@pytest.fixture(scope="module")
def tiny_file(tiny, tmp_path_factory):
    path = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    write_gguf(tiny, path)
    return path


def _reader(path):
    return gguf.GGUFReader(str(path), "r")


def _tensors(path) -> dict[str, np.ndarray]:
    """Every tensor as gguf reads it, NumPy order (gguf gives them reshaped already)."""
    return {t.name: np.array(t.data) for t in _reader(path).tensors}


# ----------------------------------------------------------------------------- exact round trip


def test_every_parameter_reads_back_bit_for_bit(tiny, tiny_file):
    again = load_model(tiny_file)
    ours, theirs = parameters(tiny.weights), parameters(again.weights)
    assert ours.keys() == theirs.keys()
    for name, value in ours.items():
        assert theirs[name].dtype == np.float64 and theirs[name].shape == value.shape, name
        assert theirs[name].tobytes() == np.asarray(value, dtype=np.float64).tobytes(), name
    assert again.eps == tiny.eps == 1e-5 and again.heads == tiny.heads and again.context == tiny.context
    assert again.tokenizer == tiny.tokenizer
    assert again.config == tiny.config and again.loss_curve == tiny.loss_curve
    for text in SENTENCES:
        assert again.encode(text).tolist() == tiny.encode(text).tolist()


def test_the_file_says_what_the_model_is(tiny, tiny_file):
    reader = _reader(tiny_file)
    field = {key: entry.contents() for key, entry in reader.fields.items()}
    # hand-worked: the shipped model is d_model 32, 2 blocks of 2 heads, d_ff 4·32, context 32, 238 tokens
    assert field["general.architecture"] == ARCHITECTURE == "nntutor"
    assert (field["nntutor.embedding_length"], field["nntutor.block_count"], field["nntutor.attention.head_count"],
            field["nntutor.feed_forward_length"], field["nntutor.context_length"]) == (32, 2, 2, 128, 32)
    assert field["nntutor.attention.layer_norm_epsilon"] == 1e-5  # float64: exactly the model's eps
    assert reader.fields["nntutor.attention.layer_norm_epsilon"].types[0].name == "FLOAT64"
    assert (field["nntutor.feed_forward.activation"], field["nntutor.position_embedding"], field["nntutor.norm"]) == \
        ("relu", "sinusoidal", "pre")
    assert field["tokenizer.ggml.model"] == "nntutor-bpe" != "gpt2"
    assert len(field["tokenizer.ggml.tokens"]) == 238 and field["tokenizer.ggml.tokens"][0] == "<unk>"
    assert field["tokenizer.ggml.merges"][:3] == ["t h", "a n", "th e</w>"]
    assert {t.tensor_type.name for t in reader.tensors} == {"F64"}
    shapes = {t.name: tuple(int(n) for n in t.shape) for t in reader.tensors}
    # GGUF lists the fastest axis first: ffn_up is [d, d_ff] there, d_ff × d in NumPy (out × in)
    assert shapes["blk.0.ffn_up.weight"] == (32, 128) and shapes["blk.0.ffn_down.weight"] == (128, 32)
    assert shapes["token_embd.weight"] == (32, 238) and shapes["output.weight"] == (32, 238)
    assert shapes[POSITIONS] == (32, 32)
    assert len(shapes) == len(tensor_names(2)) + 1 == 2 + 2 * 16 + 3  # E, positions, 16 per block, final γ β, W_U
    tensors = _tensors(tiny_file)
    assert np.array_equal(tensors["blk.0.ffn_up.weight"], tiny.weights.blocks[0]["W1"].T)
    assert np.array_equal(tensors["output.weight"], tiny.weights.W_U.T)
    # the position table by hand: row p, columns 2i and 2i + 1 are sin and cos of p / 10000^(2i/d)
    table = tensors[POSITIONS]
    assert table[0, 0] == 0.0 and table[0, 1] == 1.0
    assert table[1, 0] == pytest.approx(np.sin(1.0), abs=1e-15) and table[3, 2] == pytest.approx(np.sin(3 / 10000 ** (2 / 32)), abs=1e-15)


def test_peek_reads_the_architecture_from_the_header(tiny_file, tmp_path):
    from tests import tiny_gguf

    assert peek_architecture(tiny_file) == "nntutor"
    assert peek_architecture(tiny_gguf.write(tmp_path / "llama.gguf")) == "llama"
    (tmp_path / "x.gguf").write_bytes(b"GGUF")
    assert peek_architecture(tmp_path / "x.gguf") is None and peek_architecture(tmp_path / "none.gguf") is None


def test_a_gguf_file_converts_back_to_npz_exactly(tiny, tiny_file, tmp_path):
    save_model(load_model(tiny_file), tmp_path / "back.npz")
    again = load_model(tmp_path / "back.npz")
    for name, value in parameters(tiny.weights).items():
        assert parameters(again.weights)[name].tobytes() == value.tobytes()
    assert again.config == tiny.config


# ----------------------------------------------------------------------------- the lessons


def _json(run_cli, lesson, model, *flags):
    result = run_cli("lesson", lesson, "--model", str(model), "--format", "json", "--no-plot", *flags)
    assert result.exit_code == 0, result.stderr[-500:]
    return result.stdout


def _same_numbers(run_cli, lesson, tiny_file, *flags):
    ours = _json(run_cli, lesson, "tiny", *flags)
    theirs = _json(run_cli, lesson, tiny_file, *flags)
    # the only difference allowed: how the model is named on screen
    theirs = theirs.replace(json.dumps(str(tiny_file))[1:-1], "tiny").replace("a model file,", "the model shipped with nntutor,")
    assert theirs == ours
    assert len(ours) > 1000


def test_next_token_gives_the_same_numbers(run_cli, tiny_file):
    _same_numbers(run_cli, "next-token", tiny_file)


@pytest.mark.parametrize("lesson", [name for name in TINY_MODEL_LESSONS if name != "next-token"])
def test_every_tiny_model_lesson_gives_the_same_numbers(run_cli, tiny_file, lesson):
    _same_numbers(run_cli, lesson, tiny_file)


def test_the_list_of_lessons_is_the_lessons_that_choose_a_model():
    import re

    from nntutor.catalog.lessonfile import load_all

    folder = Path(__file__).parents[1] / "nntutor" / "walkthroughs"
    pattern = re.compile(r"from nntutor\.walkthroughs\._model import [^\n]*\bchoose\b")
    choosing = {lesson.name for lesson in load_all()
                if pattern.search((folder / f"{lesson.builder.replace('-', '_')}.py").read_text(encoding="utf-8"))}
    assert choosing == set(TINY_MODEL_LESSONS)


def test_is_gguf_leaves_nntutor_files_to_the_tiny_model_path(tiny_file, tmp_path):
    from nntutor.walkthroughs._gguf import is_gguf
    from tests import tiny_gguf

    assert not is_gguf(tiny_file)
    assert is_gguf(tiny_gguf.write(tmp_path / "llama.gguf")) and is_gguf(tmp_path / "missing.gguf")
    renamed = tmp_path / "no-suffix"
    renamed.write_bytes(Path(tiny_file).read_bytes())
    assert not is_gguf(renamed) and load_model(renamed).vocab_size == 238


def test_the_llama_reader_sends_it_to_the_tiny_model_lessons(tiny_file):
    from nntutor.errors import InputError
    from nntutor.models.gguf_file import open_gguf

    with pytest.raises(InputError) as info:
        open_gguf(str(tiny_file))
    assert "nntutor's own tiny model" in str(info.value) and "real-model cannot run it" in str(info.value)
    assert "next-token --model" in str(info.value) and "\n" not in str(info.value)


def test_nntutor_models_lists_it_with_the_lessons_that_run_it(run_cli, tiny_file, monkeypatch):
    monkeypatch.setenv("NNTUTOR_MODELS", str(Path(tiny_file).parent))
    monkeypatch.setenv("HOME", str(Path(tiny_file).parent / "no-home"))
    monkeypatch.setenv("COLUMNS", "200")
    result = run_cli("models")
    assert result.exit_code == 0, result.stderr
    assert "tiny.gguf" in result.stdout and "nntutor · 40,704 parameters · stored as F64" in result.stdout
    assert "runs with: pipeline, next-token, generate, lm-loss, train-step, attention-patterns (not real-model)" in result.stdout
    from nntutor.models.discover import first_runnable

    assert first_runnable({"NNTUTOR_MODELS": str(Path(tiny_file).parent)}) != Path(tiny_file)  # not offered to real-model


# ----------------------------------------------------------------------------- the oracle


@pytest.mark.oracle
def test_logits_equal_transformers_gpt2_loaded_from_the_file(tiny, tiny_file, torch):
    transformers = pytest.importorskip("transformers")
    reader = _reader(tiny_file)
    meta = {key: entry.contents() for key, entry in reader.fields.items()}
    t = _tensors(tiny_file)
    d, layers = meta["nntutor.embedding_length"], meta["nntutor.block_count"]
    config = transformers.GPT2Config(
        vocab_size=t["token_embd.weight"].shape[0], n_positions=meta["nntutor.context_length"], n_embd=d, n_layer=layers,
        n_head=meta["nntutor.attention.head_count"], n_inner=meta["nntutor.feed_forward_length"],
        activation_function=meta["nntutor.feed_forward.activation"], layer_norm_epsilon=meta["nntutor.attention.layer_norm_epsilon"],
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=False, bos_token_id=None, eos_token_id=None,
    )
    hf = transformers.GPT2LMHeadModel(config).to(torch.float64).eval()
    hf.config._attn_implementation = "eager"

    def w(name):
        return torch.tensor(t[name], dtype=torch.float64)

    # GPT-2's Conv1D holds in × out (x @ W): the file's out × in matrices go in transposed
    state = {"transformer.wte.weight": w("token_embd.weight"), "transformer.wpe.weight": w(POSITIONS),
             "transformer.ln_f.weight": w("output_norm.weight"), "transformer.ln_f.bias": w("output_norm.bias"),
             "lm_head.weight": w("output.weight")}
    for i in range(layers):
        b, h = f"blk.{i}.", f"transformer.h.{i}."
        state |= {
            h + "ln_1.weight": w(b + "attn_norm.weight"), h + "ln_1.bias": w(b + "attn_norm.bias"),
            h + "attn.c_attn.weight": torch.cat([w(b + f"attn_{x}.weight").T for x in "qkv"], dim=1),
            h + "attn.c_attn.bias": torch.cat([w(b + f"attn_{x}.bias") for x in "qkv"]),
            h + "attn.c_proj.weight": w(b + "attn_output.weight").T, h + "attn.c_proj.bias": w(b + "attn_output.bias"),
            h + "ln_2.weight": w(b + "ffn_norm.weight"), h + "ln_2.bias": w(b + "ffn_norm.bias"),
            h + "mlp.c_fc.weight": w(b + "ffn_up.weight").T, h + "mlp.c_fc.bias": w(b + "ffn_up.bias"),
            h + "mlp.c_proj.weight": w(b + "ffn_down.weight").T, h + "mlp.c_proj.bias": w(b + "ffn_down.bias"),
        }
    missing, unexpected = hf.load_state_dict(state, strict=False)
    assert not unexpected and all(".attn.bias" in k or ".attn.masked_bias" in k for k in missing), (missing, unexpected)
    ours = load_model(tiny_file)
    for text in SENTENCES:
        ids = ours.encode(text)
        with torch.no_grad():
            theirs = hf(torch.tensor(ids[None, :])).logits[0].numpy()
        assert np.abs(theirs).max() > 1.0
        np.testing.assert_allclose(ours.forward(ids).sampling.logits, theirs[-1], atol=1e-10, rtol=0)  # the pipeline's pass
        np.testing.assert_allclose(ours.run(ids).logits, theirs, atol=1e-10, rtol=0)  # every position
        assert int(np.argmax(theirs[-1])) == ours.forward(ids).next_id


def test_the_tokenizer_metadata_is_the_same_bpe_in_tokenizers(tiny, tiny_file):
    tokenizers = pytest.importorskip("tokenizers")
    meta = {key: entry.contents() for key, entry in _reader(tiny_file).fields.items()}
    vocab = {token: i for i, token in enumerate(meta["tokenizer.ggml.tokens"])}
    merges = [tuple(m.split(" ")) for m in meta["tokenizer.ggml.merges"]]
    tok = tokenizers.Tokenizer(tokenizers.models.BPE(vocab, merges, unk_token="<unk>", end_of_word_suffix="</w>"))
    tok.normalizer = tokenizers.normalizers.Lowercase()
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Sequence([
        tokenizers.pre_tokenizers.WhitespaceSplit(),
        tokenizers.pre_tokenizers.Split(tokenizers.Regex("[.,]"), behavior="isolated"),
    ])
    from nntutor.models import corpus

    texts = [*SENTENCES, "The Fisher sat.", *(s.text for s in corpus.split().held_out[:40])]
    ours = load_model(tiny_file)
    for text in texts:
        assert tok.encode(text).ids == ours.encode(text).tolist(), text


# ----------------------------------------------------------------------------- writing from the command line


def test_export_writes_gguf_and_npz(run_cli, tiny, tmp_path):
    result = run_cli("export", "tiny", "-o", str(tmp_path / "t.gguf"))
    assert result.exit_code == 0, result.stderr
    assert "Model written to" in result.stdout and "40,704 parameters" in result.stdout and "F64" in result.stdout
    assert peek_architecture(tmp_path / "t.gguf") == "nntutor"
    result = run_cli("export", str(tmp_path / "t.gguf"), "-o", str(tmp_path / "t.npz"))
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "t.npz").read_bytes()[:2] == b"PK"
    assert load_model(tmp_path / "t.npz").config == tiny.config


def test_train_with_a_gguf_name_writes_gguf(run_cli, tmp_path):
    path = tmp_path / "m.gguf"
    result = run_cli("train", "--steps", "2", "--batch-size", "2", "-o", str(path))
    assert result.exit_code == 0, result.stderr
    assert peek_architecture(path) == "nntutor"
    model = load_model(path)
    assert len(model.loss_curve) == 2 and model.config["training"]["steps_done"] == 2


BAD_EXPORT = [
    (["export", "tiny", "-o", "x.txt"], "--output: 'x.txt' does not end in .gguf or .npz"),
    (["export", "tiny", "-o", "/no/such/folder/x.gguf"], "--output: the folder '/no/such/folder' does not exist"),
    (["export", "tiny", "-o", ""], "--output: the path is empty"),
    (["export", "no-such.npz", "-o", "x.gguf"], "MODEL: no-such.npz: does not exist"),
    (["export", "tiny"], "Missing option '--output'"),
]


@pytest.mark.parametrize(("args", "fragment"), BAD_EXPORT, ids=[" ".join(a) for a, _ in BAD_EXPORT])
def test_export_refuses_bad_flags(run_cli, tmp_path, monkeypatch, args, fragment):
    monkeypatch.chdir(tmp_path)
    assert_refused(run_cli(*args), fragment)
    assert not list(tmp_path.glob("*.gguf"))


def test_export_of_a_folder_or_a_file_that_is_not_a_model(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    assert_refused(run_cli("export", "notes.txt", "-o", "x.gguf"), "MODEL: notes.txt: is not a model file")
    assert_refused(run_cli("export", "tiny", "-o", str(tmp_path)), "is a folder")


def test_without_the_gguf_package_one_line_says_how_to_install(run_cli, tiny_file, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "gguf", None)  # import gguf now raises ImportError
    for args in (["export", "tiny", "-o", str(tmp_path / "x.gguf")], ["train", "--steps", "1", "-o", str(tmp_path / "m.gguf")],
                 ["lesson", "next-token", "--model", str(tiny_file)]):
        line = assert_refused(run_cli(*args), 'pip install "nntutor[models]"')
        assert "--output" in line or "--model" in line
    assert not list(tmp_path.glob("*.gguf"))


# ----------------------------------------------------------------------------- bad files


def _rewrite(source: Path, target: Path, *, meta: dict | None = None, drop: tuple[str, ...] = (),
             tensors: dict | None = None, arch: str = "nntutor") -> Path:
    """A copy of ``source`` written with gguf's writer, some keys or tensors changed (None: removed)."""
    reader = _reader(source)
    meta, tensors = meta or {}, tensors or {}
    writer = gguf.GGUFWriter(str(target), arch)
    for key, entry in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture" or key in drop:
            continue
        if key in meta:
            continue
        kinds = entry.types
        writer.add_key_value(key, entry.contents(), kinds[0], sub_type=kinds[1] if len(kinds) > 1 else None)
    for key, value in meta.items():
        if isinstance(value, str):
            writer.add_string(key, value)
        elif isinstance(value, float):
            writer.add_float64(key, value)
        elif isinstance(value, list):
            writer.add_array(key, value)
        else:
            writer.add_uint32(key, value)
    for entry in reader.tensors:
        value = tensors.get(entry.name, np.array(entry.data))
        if value is not None:
            writer.add_tensor(entry.name, value)
    for name, value in tensors.items():
        if name not in {e.name for e in reader.tensors}:
            writer.add_tensor(name, value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return target


def _tensor(path, name):
    return _tensors(path)[name]


BAD_FILES = [
    ("not-gguf", lambda s, t: t.write_bytes(b"hello, not a model"), "not an .npz archive nor a GGUF file"),
    ("truncated", lambda s, t: t.write_bytes(s.read_bytes()[:5000]), "truncated or damaged"),
    ("cut-tensors", lambda s, t: t.write_bytes(s.read_bytes()[:-1000]), "truncated"),
    ("llama", lambda s, t: _rewrite(s, t, arch="llama"), "holds a llama model, not nntutor's own tiny model"),
    ("version", lambda s, t: _rewrite(s, t, meta={"nntutor.format_version": 2}), "format version 2"),
    ("no-blocks", lambda s, t: _rewrite(s, t, drop=("nntutor.block_count",)), "has no nntutor.block_count"),
    ("blocks-text", lambda s, t: _rewrite(s, t, meta={"nntutor.block_count": "2"}), "must be a whole number, got a string"),
    ("heads", lambda s, t: _rewrite(s, t, meta={"nntutor.attention.head_count": 3}), "head_count = 3 does not divide"),
    ("huge", lambda s, t: _rewrite(s, t, meta={"nntutor.context_length": 100000}), "is outside 1..4096"),
    ("gelu", lambda s, t: _rewrite(s, t, meta={"nntutor.feed_forward.activation": "gelu"}), "must be 'relu', got 'gelu'"),
    ("rope", lambda s, t: _rewrite(s, t, meta={"nntutor.position_embedding": "rope"}), "must be 'sinusoidal'"),
    ("eps", lambda s, t: _rewrite(s, t, meta={"nntutor.attention.layer_norm_epsilon": 2.0}), "eps must be a number between 0 and 1"),
    ("gpt2-tokenizer", lambda s, t: _rewrite(s, t, meta={"tokenizer.ggml.model": "gpt2"}), "uses a gpt2 tokenizer"),
    ("no-tokens", lambda s, t: _rewrite(s, t, drop=("tokenizer.ggml.tokens",)), "has no tokenizer.ggml.tokens"),
    ("bad-merge", lambda s, t: _rewrite(s, t, meta={"tokenizer.ggml.merges": ["t h", "a"]}), "two symbols per merge"),
    ("merge-not-in-vocab", lambda s, t: _rewrite(s, t, meta={"tokenizer.ggml.merges": ["q q"]}), "merge result 'qq'"),
    ("record", lambda s, t: _rewrite(s, t, meta={"nntutor.record": "{nope"}), "record is not valid JSON"),
    ("missing-tensor", lambda s, t: _rewrite(s, t, tensors={"blk.1.attn_q.weight": None}), "has no tensor blk.1.attn_q.weight"),
    ("extra-tensor", lambda s, t: _rewrite(s, t, tensors={"blk.0.ffn_gate.weight": np.zeros((128, 32))}), "has a tensor blk.0.ffn_gate.weight"),
    ("float32", lambda s, t: _rewrite(s, t, tensors={"output.weight": _tensor(s, "output.weight").astype(np.float32)}), "is F32, not F64"),
    ("shape", lambda s, t: _rewrite(s, t, tensors={"blk.0.ffn_up.weight": _tensor(s, "blk.0.ffn_up.weight").T.copy()}),
     "tensor blk.0.ffn_up.weight is 32×128, expected 128×32"),
    ("nan", lambda s, t: _rewrite(s, t, tensors={"output_norm.bias": np.full(32, np.nan)}), "holds NaN"),
    ("positions", lambda s, t: _rewrite(s, t, tensors={POSITIONS: np.zeros((32, 32))}), "is not the sinusoidal table"),
]


@pytest.mark.parametrize(("name", "make", "fragment"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_gguf_files_are_refused(tiny_file, tmp_path, name, make, fragment):
    path = tmp_path / f"{name}.gguf"
    make(Path(tiny_file), path)
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert message.startswith(str(path)) and fragment in message and "\n" not in message, message
    assert info.value.exit_code == 2


def test_a_bad_file_in_a_lesson_is_one_line_naming_model(run_cli, tiny_file, tmp_path):
    path = _rewrite(Path(tiny_file), tmp_path / "bad.gguf", tensors={"output_norm.bias": np.full(32, np.nan)})
    for lesson in ("next-token", "lm-loss"):
        line = assert_refused(run_cli("lesson", lesson, "--model", str(path)), "--model", "holds NaN")
        assert str(path) in line


def test_an_unreadable_file_is_exit_1(tiny_file, tmp_path, run_cli):
    locked = tmp_path / "locked.gguf"
    locked.write_bytes(Path(tiny_file).read_bytes())
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as root: a file without read permission is still readable")
        with pytest.raises(ModelFileUnreadable):
            read_gguf(locked)
        result = run_cli("lesson", "lm-loss", "--model", str(locked))
        assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    finally:
        locked.chmod(0o644)


def test_a_read_failure_of_the_gguf_reader_is_exit_1(tiny_file, monkeypatch, run_cli):
    def refusing(path, mode="r"):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(gguf, "GGUFReader", refusing)
    with pytest.raises(ModelFileUnreadable, match="cannot be read") as info:
        read_gguf(tiny_file)
    assert info.value.exit_code == 1
    result = run_cli("lesson", "lm-loss", "--model", str(tiny_file))
    assert result.exit_code == 1 and "--model" in result.stderr and len(result.stderr.strip().splitlines()) == 1
