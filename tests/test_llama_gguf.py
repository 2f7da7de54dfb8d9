"""GGUF models: reading, refusals, the NumPy Llama against transformers, the tokenizer against tokenizers.

Every model here is written by the test itself (tests/tiny_gguf.py, gguf's GGUFWriter):
no network. The oracle is transformers' LlamaForCausalLM on CPU holding the same
(dequantised) weights, Q and K un-permuted as llama.cpp's converter permuted them.

Tolerances: float64 on both sides agree to 1e-9 (absolute, logits of size ~10);
float32 on both sides to 2e-4 (float32 has ~7 digits, and two libraries sum in
different orders across 256–512-term dot products and two layers).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nntutor.core import llama
from nntutor.errors import InputError
from tests import tiny_gguf
from tests.tiny_gguf import Tiny

gguf = pytest.importorskip("gguf", reason='gguf not installed: pip install "nntutor[models]"')

PROMPT = [5, 80, 260, 270, 33, 101, 277, 12]  # token ids; the tiny vocabulary has 280


def _open(path):
    from nntutor.models.gguf_file import open_gguf

    return open_gguf(path)


def _ours(path, ids, dtype=np.float64, **kw):
    from nntutor.models.gguf_file import weights_of

    model = _open(path)
    return llama.forward(model.config, weights_of(model, dtype), ids, dtype=dtype, **kw)


def _hf_logits(torch, path, spec, ids, dtype):
    model = tiny_gguf.hf_model(path, spec, torch, dtype)
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].numpy()


# ----------------------------------------------------------------- hand-worked pieces


def test_rms_norm_by_hand():
    # x = [3, 4]: mean(x²) = (9 + 16)/2 = 12.5, rms = √12.5 = 3.5355; x/rms = [0.8485, 1.1314]; gain 2 → ×2
    y, rms = llama.rms_norm(np.array([[3.0, 4.0]]), np.array([2.0, 1.0]), 0.0)
    np.testing.assert_allclose(rms, [np.sqrt(12.5)])
    np.testing.assert_allclose(y, [[6 / np.sqrt(12.5), 4 / np.sqrt(12.5)]])


def test_rope_rotates_adjacent_pairs_by_position_times_theta():
    # d = 4, base 100: θ₀ = 1, θ₁ = 100^(-1/2) = 0.1; at position 3 pair (x0,x1) turns by 3 rad, (x2,x3) by 0.3 rad
    cos, sin = llama.rope_angles(np.array([3]), 4, 100.0)
    out = llama.apply_rope(np.array([[1.0, 0.0, 0.0, 2.0]]), cos, sin)
    np.testing.assert_allclose(out, [[np.cos(3), np.sin(3), -2 * np.sin(0.3), 2 * np.cos(0.3)]], atol=1e-12)
    # a rotation keeps each pair's length
    np.testing.assert_allclose(np.hypot(out[0, 2], out[0, 3]), 2.0)


def test_grouped_query_heads_share_key_value_heads():
    # SmolLM2-135M: 9 query heads, 3 key/value heads: heads 0-2 read kv 0, 3-5 kv 1, 6-8 kv 2
    assert [llama.kv_head_of(h, 9, 3) for h in range(9)] == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_silu_by_hand():
    # SiLU(1) = 1/(1 + e^-1) = 0.731059; SiLU(-2) = -2/(1 + e^2) = -0.238406
    np.testing.assert_allclose(llama.silu(np.array([1.0, -2.0, 0.0])), [0.731059, -0.238406, 0.0], atol=1e-6)


# ----------------------------------------------------------------- reading


def test_reads_sizes_and_types(tmp_path):
    spec = Tiny(quant="Q8_0")
    model = _open(tiny_gguf.write(tmp_path / "m.gguf", spec))
    c = model.config
    assert (c.n_layer, c.d_model, c.n_head, c.n_head_kv, c.d_ff, c.context, c.tied) == (2, 256, 4, 2, 512, 64, False)
    assert c.vocab == len(tiny_gguf.vocabulary()[0])
    assert model.quantisation() == "Q8_0"
    assert model.tensors["blk.0.attn_k.weight"].shape == (128, 256)  # 2 kv heads × 64, out × in


@pytest.mark.parametrize("quant", ["Q8_0", "Q4_0", "Q4_1"])
def test_quantised_weights_are_close_to_the_floats_written(tmp_path, quant):
    # the writer quantises N(0, σ) weights; dequantised they differ by at most about one step of the grid
    spec = Tiny(quant=quant, n_layer=1)
    path = tiny_gguf.write(tmp_path / "m.gguf", spec, seed=3)
    f32 = _open(tiny_gguf.write(tmp_path / "f.gguf", spec._replace(quant="F32"), seed=3))
    w = _open(path).tensor("blk.0.ffn_up.weight", np.float64)
    ref = f32.tensor("blk.0.ffn_up.weight", np.float64)
    step = {"Q8_0": 1 / 127, "Q4_0": 1 / 7, "Q4_1": 1 / 15}[quant]
    assert np.max(np.abs(w - ref)) <= step * np.max(np.abs(ref)) * 1.01
    assert not np.array_equal(w, ref)


def _refused(path, fragment, code=2):
    with pytest.raises(InputError) as info:
        _open(path)
    assert info.value.flag == "--model"
    assert fragment in info.value.message, info.value.message
    assert info.value.exit_code == code
    assert "\n" not in str(info.value)


def test_refuses_a_file_that_is_not_gguf(tmp_path):
    p = tmp_path / "x.gguf"
    p.write_bytes(b"PK\x03\x04 not a model")
    _refused(p, "is not a GGUF file")


def test_refuses_a_truncated_file(tmp_path):
    path = tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1))
    data = Path(path).read_bytes()
    for cut in (10, 2000, len(data) - 100):
        p = tmp_path / f"cut{cut}.gguf"
        p.write_bytes(data[:cut])
        _refused(p, "truncated")


def test_refuses_another_architecture(tmp_path):
    _refused(tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1), arch="gpt2"), "holds a gpt2 model")


def test_refuses_an_unsupported_type_by_name(tmp_path):
    _refused(tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1, quant="Q5_0")), "stores tensors as Q5_0")


def test_refuses_a_missing_tokenizer(tmp_path):
    _refused(tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1), tokenizer=False), "holds no tokenizer")


def test_refuses_a_pre_tokenizer_it_does_not_split_like(tmp_path):
    _refused(tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1, pre="llama-bpe")), "splits text with the llama-bpe pre-tokenizer")


def test_refuses_a_missing_tensor(tmp_path):
    _refused(tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1), drop=("blk.0.ffn_up.weight",)), "no tensor blk.0.ffn_up.weight")


def test_refuses_missing_files_and_folders(tmp_path):
    _refused(tmp_path / "nope.gguf", "does not exist")
    _refused(tmp_path, "is a folder")


def test_an_unreadable_file_exits_1(tmp_path):
    import os

    path = tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1))
    os.chmod(path, 0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as a user who can read any file (root)")
        _refused(path, "cannot be read", code=1)
    finally:
        os.chmod(path, 0o644)


# ----------------------------------------------------------------- the oracle: transformers' Llama


SPECS = [
    pytest.param(Tiny(quant="F32"), id="F32-untied-GQA"),
    pytest.param(Tiny(quant="F16", tied=True), id="F16-tied-GQA"),
    pytest.param(Tiny(quant="Q8_0", n_head_kv=4), id="Q8_0-MHA"),
    pytest.param(Tiny(quant="Q4_0", n_head=8, n_head_kv=2), id="Q4_0-GQA4"),
    pytest.param(Tiny(quant="Q4_1", n_head_kv=1, tied=True), id="Q4_1-MQA-tied"),
    pytest.param(Tiny(quant="Q4_K"), id="Q4_K"),
    pytest.param(Tiny(quant="Q6_K", tied=True), id="Q6_K-tied"),
]


@pytest.mark.oracle
@pytest.mark.parametrize("spec", SPECS)
def test_logits_match_transformers_in_float64(tmp_path, torch, spec):
    pytest.importorskip("transformers")
    path = tiny_gguf.write(tmp_path / "m.gguf", spec, seed=1)
    ours = _ours(path, PROMPT).logits
    theirs = _hf_logits(torch, path, spec, PROMPT, torch.float64)
    assert np.abs(theirs).max() > 1.0  # the logits are not all near zero: the check has teeth
    np.testing.assert_allclose(ours, theirs, atol=1e-9, rtol=0)


@pytest.mark.oracle
@pytest.mark.parametrize("spec", SPECS[:2] + SPECS[4:5])
def test_logits_match_transformers_in_float32(tmp_path, torch, spec):
    pytest.importorskip("transformers")
    path = tiny_gguf.write(tmp_path / "m.gguf", spec, seed=2)
    ours = _ours(path, PROMPT, dtype=np.float32).logits
    assert ours.dtype == np.float32
    theirs = _hf_logits(torch, path, spec, PROMPT, torch.float32)
    np.testing.assert_allclose(ours, theirs, atol=2e-4, rtol=0)


@pytest.mark.oracle
def test_cached_generation_matches_transformers_with_its_cache(tmp_path, torch):
    pytest.importorskip("transformers")
    spec = Tiny(quant="Q8_0")
    path = tiny_gguf.write(tmp_path / "m.gguf", spec, seed=4)
    model = _open(path)
    from nntutor.models.gguf_file import weights_of

    weights = weights_of(model, np.float64, keep_all=True)
    cache = llama.KVCache(model.config.n_layer)
    first = llama.forward(model.config, weights, PROMPT[:5], cache=cache, dtype=np.float64).logits
    rest = [llama.forward(model.config, weights, [t], cache=cache, dtype=np.float64).logits[0] for t in PROMPT[5:]]
    hf = tiny_gguf.hf_model(path, spec, torch, torch.float64)
    with torch.no_grad():
        out = hf(torch.tensor([PROMPT[:5]]), use_cache=True)
        past, theirs = out.past_key_values, [out.logits[0].numpy()]
        for t in PROMPT[5:]:
            out = hf(torch.tensor([[t]]), cache=past, use_cache=True)
            past = out.past_key_values
            theirs.append(out.logits[0, -1].numpy())
    np.testing.assert_allclose(first, theirs[0], atol=1e-9, rtol=0)
    np.testing.assert_allclose(np.array(rest), np.array(theirs[1:]), atol=1e-9, rtol=0)
    # and the cached path equals one uncached pass over the whole prompt
    whole = llama.forward(model.config, weights, PROMPT, dtype=np.float64).logits
    np.testing.assert_allclose(np.array(rest), whole[5:], atol=1e-10, rtol=0)


@pytest.mark.oracle
def test_zoomed_head_matches_transformers_attention_weights(tmp_path, torch):
    pytest.importorskip("transformers")
    spec = Tiny(quant="F32", n_head=4, n_head_kv=2)
    path = tiny_gguf.write(tmp_path / "m.gguf", spec, seed=5)
    zoom = llama.Zoom(layer=1, head=3, position=6)
    ours = _ours(path, PROMPT, zoom=zoom)
    hf = tiny_gguf.hf_model(path, spec, torch, torch.float64, attention="eager")
    with torch.no_grad():
        attn = hf(torch.tensor([PROMPT]), output_attentions=True).attentions[1][0, 3, 6, :7].numpy()
    np.testing.assert_allclose(attn.sum(), 1.0, atol=1e-6)
    # eager attention takes its softmax in float32: agreement to float32 rounding
    np.testing.assert_allclose(ours.head.weights, attn, atol=1e-6)
    assert ours.head.kv_head == 1  # 4 query heads over 2 kv heads: head 3 reads kv head 1
    # the kept pieces recompute the row: softmax(q·kⱼ/√64), Σ wⱼ vⱼ
    h = ours.head
    scores = h.k @ h.q / 8.0
    np.testing.assert_allclose(h.scores, scores, atol=1e-12)
    np.testing.assert_allclose(h.out, h.weights @ h.v, atol=1e-12)
    np.testing.assert_array_equal(h.queries[6], h.q)


# ----------------------------------------------------------------- the tokenizer against `tokenizers`


TEXTS = ["The cat sat on the mat", "the  cat\n\nis in 2 12 hats!", "I'm   here, isn't it?  ", "café — ünïcödé 😀", " 1 2"]


def _hf_tokenizer(pre: str):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    tokens, _ = tiny_gguf.vocabulary()
    vocab = {t: i for i, t in enumerate(tokens)}
    merges = [tuple(m.split(" ")) for m in tiny_gguf.MERGES]
    tok = Tokenizer(models.BPE(vocab, merges))
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.pre_tokenizer = (pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
                         if pre == "smollm" else byte_level)
    tok.decoder = decoders.ByteLevel()
    return tok


@pytest.mark.parametrize("pre", ["gpt2", "smollm"])
@pytest.mark.parametrize("text", TEXTS)
def test_tokenizer_agrees_with_tokenizers(tmp_path, text, pre):
    pytest.importorskip("tokenizers")
    from nntutor.models.gguf_file import tokenizer_of

    ours = tokenizer_of(_open(tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1, pre=pre))))
    theirs = _hf_tokenizer(pre).encode(text)
    encoding = ours.encode(text)
    assert encoding.ids == theirs.ids, (encoding.tokens, theirs.tokens)
    assert ours.decode(encoding.ids) == text


def test_merges_applied_by_rank_by_hand():
    from nntutor.core.byte_bpe import ByteBPE

    # " the": Ġ t h e; ranks: (Ġ,t)=0, (h,e)=1, (Ġt,he)=2 → Ġt h e → Ġt he → Ġthe
    tokens, types = tiny_gguf.vocabulary()
    enc = ByteBPE(tokens, tiny_gguf.MERGES, types).encode(" the")
    assert [(m.left, m.right, m.rank) for m in enc.merges] == [("Ġ", "t", 0), ("h", "e", 1), ("Ġt", "he", 2)]
    assert enc.tokens == ["Ġthe"]


def test_special_tokens_are_matched_whole():
    from nntutor.core.byte_bpe import ByteBPE

    tokens, types = tiny_gguf.vocabulary()
    enc = ByteBPE(tokens, tiny_gguf.MERGES, types).encode("the<|endoftext|>cat")
    # "the" has no space in front, so only (h, e) applies; "cat": (a, t) rank 5 before (c, a) rank 19
    assert enc.tokens == ["t", "he", "<|endoftext|>", "c", "at"]
    assert enc.ids[2] == 0


@pytest.mark.oracle
def test_greedy_generation_matches_transformers_generate(tmp_path, torch):
    pytest.importorskip("transformers")
    from nntutor.models.llama_model import generate, load_model

    spec = Tiny(quant="F16", tied=True)
    path = tiny_gguf.write(tmp_path / "m.gguf", spec, seed=8)
    loaded = load_model(path)
    ours = generate(loaded, PROMPT[:4], 6)
    hf = tiny_gguf.hf_model(path, spec, torch, torch.float32)
    with torch.no_grad():
        theirs = hf.generate(torch.tensor([PROMPT[:4]]), max_new_tokens=6, do_sample=False, pad_token_id=0)[0, 4:]
    assert ours == theirs.tolist()
