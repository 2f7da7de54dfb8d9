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
]
