"""multi-head: hand-worked values, the PyTorch oracle, and every flag's bad values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.core.multihead import head_dim_for, multi_head_attention


def run(**flags):
    return run_lesson(load_lesson("multi-head"), {k.replace("_", "-"): v for k, v in flags.items()})


# ----------------------------------------------------------------- hand-worked


def test_default_head_1_weights_by_hand():
    # Q = X·W_Q: Q[sat] = [1,1,0,1]·W_Q = [1, 1, 2, 2]; K₁ (first 2 columns of K = X·W_K)
    # = [[1,1],[1,2],[2,1]].  Head 1, row sat: scores = [2, 3, 3]; ÷√2 = [1.4142, 2.1213, 2.1213];
    # e^(s − 2.1213) = [e^-0.7071, 1, 1] = [0.4931, 1, 1]; sum 2.4931 →
    # [0.1978, 0.4011, 0.4011].
    trace = run()
    weights = trace.outputs["weights"]
    assert weights.shape == (2, 3, 3)
    np.testing.assert_allclose(weights[0, 2], [0.1978, 0.4011, 0.4011], atol=1e-4)
    # Row The of head 1: Q₁[The] = [2, 1]; scores [3, 4, 5] ÷ √2 = [2.1213, 2.8284, 3.5355];
    # e^(s − 3.5355) = [0.2431, 0.4931, 1], sum 1.7362 → [0.1400, 0.2840, 0.5760].
    np.testing.assert_allclose(weights[0, 0], [0.1400, 0.2840, 0.5760], atol=1e-4)


def test_default_head_2_weights_by_hand():
    # Head 2 uses columns 2–3: Q₂[cat] = [3, 1], K₂ = [[2,0],[0,1],[1,0]];
    # scores [6, 1, 3] ÷ √2 = [4.2426, 0.7071, 2.1213]; e^(s − 4.2426) = [1, 0.02914, 0.11988],
    # sum 1.14902 → [0.8703, 0.0254, 0.1043].
    weights = run().outputs["weights"]
    np.testing.assert_allclose(weights[1, 1], [0.8703, 0.0254, 0.1043], atol=1e-4)


def test_default_concat_and_output_by_hand():
    # Head 1 output for The: weights [0.1400, 0.2840, 0.5760] times V₁ = [[2,1],[0,2],[1,1]]
    # = [0.28 + 0 + 0.576, 0.14 + 0.568 + 0.576] = [0.856, 1.284].
    # Head 2 output for The: scores Q₂[The]=[0,1]·K₂ = [0, 1, 0] ÷ √2 → weights
    # [1, e^0.7071, 1]/(2 + 2.0281) = [0.2483, 0.5035, 0.2483]; V₂ = [[1,0],[1,1],[2,0]]
    # → [0.2483 + 0.5035 + 0.4966, 0.5035] = [1.2483, 0.5035].
    # out[The, 0] = 0.5·C[0] + 0.5·C[2] = 0.5·0.856 + 0.5·1.2483 = 1.0521.
    trace = run()
    np.testing.assert_allclose(trace.outputs["concat"][0], [0.856, 1.284, 1.2483, 0.5035], atol=1e-4)
    np.testing.assert_allclose(trace.outputs["heads"][0, 0], [0.856, 1.284], atol=1e-4)
    np.testing.assert_allclose(trace.outputs["heads"][1, 0], [1.2483, 0.5035], atol=1e-4)
    assert trace.outputs["output"][0, 0] == pytest.approx(1.0521, abs=1e-4)


def test_identity_projections_two_heads_by_hand():
    # X = [[1,0,0,1],[0,1,1,0]], all weights I, h = 2: head 1 sees [1,0] and [0,1]:
    # scores I ÷ √2 → row 0 softmax([0.7071, 0]) = [e^0.7071, 1]/(e^0.7071 + 1) = [0.6698, 0.3302].
    # Head 2 sees [0,1] and [1,0]: the same pattern.
    eye = "1,0,0,0;0,1,0,0;0,0,1,0;0,0,0,1"
    trace = run(x="1,0,0,1;0,1,1,0", wq=eye, wk=eye, wv=eye, wo=eye, tokens="a,b")
    w = trace.outputs["weights"]
    np.testing.assert_allclose(w[0], [[0.6698, 0.3302], [0.3302, 0.6698]], atol=1e-4)
    np.testing.assert_allclose(w[1], w[0], atol=1e-12)
    # output row a = [0.6698·1 + 0.3302·0, 0.3302, 0.3302, 0.6698] (head 2 values are [0,1],[1,0])
    np.testing.assert_allclose(trace.outputs["output"][0], [0.6698, 0.3302, 0.3302, 0.6698], atol=1e-4)


def test_causal_first_token_sees_only_itself():
    w = run(causal=True).outputs["weights"]
    np.testing.assert_allclose(w[:, 0, 0], [1.0, 1.0])
    assert np.all(w[:, 0, 1:] == 0.0)
    assert np.all(w[:, 1, 2] == 0.0)


def test_one_head_is_single_head_attention():
    # h = 1: the head uses every column and √d_model as the scale.
    trace = run(heads="1")
    assert trace.outputs["weights"].shape == (1, 3, 3)
    from nntutor.core.attention import attention

    x = load_lesson("multi-head").defaults()["x"]
    d = load_lesson("multi-head").defaults()
    ref = attention(x, d["wq"], d["wk"], d["wv"])
    np.testing.assert_allclose(trace.outputs["weights"][0], ref.weights, atol=1e-12)
    np.testing.assert_allclose(trace.outputs["output"], ref.output @ d["wo"], atol=1e-12)


def test_head_dim():
    assert head_dim_for(512, 8) == 64
    with pytest.raises(ValueError):
        head_dim_for(6, 4)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 5), st.sampled_from([(4, 1), (4, 2), (6, 3), (8, 4)]), st.booleans())
def test_weights_are_distributions(seed, n, dh, causal):
    d, h = dh
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    ws = [rng.normal(size=(d, d)) for _ in range(4)]
    r = multi_head_attention(x, *ws, heads=h, causal=causal)
    np.testing.assert_allclose(r.weights.sum(axis=2), 1.0, atol=1e-12)
    if causal:
        assert np.all(np.triu(r.weights, 1) == 0.0)
    assert r.concat.shape == (n, d)


# ----------------------------------------------------------------- PyTorch oracle


def torch_mha(torch, x, wq, wk, wv, wo, heads, causal, bq=None, bk=None, bv=None, bo=None):
    d = x.shape[1]
    bias = bq is not None
    mha = torch.nn.MultiheadAttention(d, heads, bias=bias, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        # Our Q = X·W_Q (row vectors); torch computes X·Wᵀ, so its weight is W_Qᵀ.
        mha.in_proj_weight.copy_(torch.tensor(np.concatenate([wq.T, wk.T, wv.T], axis=0)))
        mha.out_proj.weight.copy_(torch.tensor(wo.T))
        if bias:
            mha.in_proj_bias.copy_(torch.tensor(np.concatenate([bq, bk, bv])))
            mha.out_proj.bias.copy_(torch.tensor(bo))
    t = torch.tensor(x)[None]
    mask = torch.triu(torch.ones(len(x), len(x), dtype=torch.bool), 1) if causal else None
    with torch.no_grad():
        out, weights = mha(t, t, t, attn_mask=mask, need_weights=True, average_attn_weights=False)
    return out[0].numpy(), weights[0].numpy()


@pytest.mark.oracle
@pytest.mark.parametrize("causal", [False, True])
def test_default_matches_torch(torch, causal):
    trace = run(causal=causal)
    i = trace.inputs
    out, weights = torch_mha(torch, i["x"], i["wq"], i["wk"], i["wv"], i["wo"], 2, causal)
    np.testing.assert_allclose(trace.outputs["output"], out, rtol=0, atol=1e-10)
    np.testing.assert_allclose(trace.outputs["weights"], weights, rtol=0, atol=1e-10)


@pytest.mark.oracle
@pytest.mark.parametrize(
    ("seed", "n", "d", "h", "causal"),
    [(0, 5, 6, 3, False), (1, 4, 8, 2, True), (7, 1, 4, 4, True), (42, 7, 12, 4, False)],
)
def test_seeded_matches_torch(torch, seed, n, d, h, causal):
    trace = run(seed=str(seed), seq_len=str(n), d_model=str(d), heads=str(h), causal=causal)
    i = trace.inputs
    assert i["x"].shape == (n, d) and i["seed"] == seed
    out, weights = torch_mha(torch, i["x"], i["wq"], i["wk"], i["wv"], i["wo"], h, causal)
    np.testing.assert_allclose(trace.outputs["output"], out, rtol=0, atol=1e-10)
    np.testing.assert_allclose(trace.outputs["weights"], weights, rtol=0, atol=1e-10)
    heads = trace.outputs["heads"]
    assert heads.shape == (h, n, d // h)
    np.testing.assert_allclose(np.concatenate(list(heads), axis=1), trace.outputs["concat"], atol=0)


@pytest.mark.oracle
def test_core_with_biases_matches_torch(torch):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 6))
    ws = [rng.normal(size=(6, 6)) for _ in range(4)]
    bs = [rng.normal(size=6) for _ in range(4)]
    r = multi_head_attention(x, *ws, heads=3, causal=True, bq=bs[0], bk=bs[1], bv=bs[2], bo=bs[3])
    out, weights = torch_mha(torch, x, *ws, 3, True, *bs)
    np.testing.assert_allclose(r.output, out, rtol=0, atol=1e-10)
    np.testing.assert_allclose(r.weights, weights, rtol=0, atol=1e-10)


# ----------------------------------------------------------------- flags


def test_seed_is_reproducible_and_recorded():
    a = run(seed="3")
    b = run(seed="3")
    np.testing.assert_array_equal(a.outputs["output"], b.outputs["output"])
    assert a.inputs["seed"] == 3
    for key in ("wq", "wk", "wv", "wo"):
        assert a.inputs[key].shape == (4, 4)
        np.testing.assert_array_equal(a.inputs[key], np.round(a.inputs[key], 2))
    # the default X is kept when only --seed is given
    np.testing.assert_array_equal(a.inputs["x"], load_lesson("multi-head").defaults()["x"])


def test_custom_tokens_label_rows():
    trace = run(tokens="a,b,c")
    assert trace.inputs["tokens"] == ["a", "b", "c"]
    assert trace.step("head-1").value("weights1").rows == ("a", "b", "c")


def test_typed_x_without_tokens_uses_indices():
    eye = "1,0;0,1"
    trace = run(x="1,2;3,4;5,6;7,8", wq=eye, wk=eye, wv=eye, wo=eye)
    assert trace.inputs["tokens"] == ["t0", "t1", "t2", "t3"]
    assert trace.outputs["weights"].shape == (2, 4, 4)


def test_steps_show_split_shapes():
    trace = run(seed="1", seq_len="3", d_model="6", heads="3")
    split = trace.step("split")
    assert split.value("split").data.rows[2] == ("head 3", "4–5", "3×2", "3×2", "3×2")
    assert "d_h = d_model / h = 6 / 3 = 2" in split.worked


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"heads": "3"}, "--heads", "not divisible"),
    ({"heads": "0"}, "--heads", "too small"),
    ({"heads": "two"}, "--heads", "not a whole number"),
    ({"x": "1,2;3"}, "--x", "row 2"),
    ({"x": "1,2;3,4"}, "--x", "--x: has 2 columns but --wq (default 4×4) has 4 rows (W_Q is d_model × d_model); pass --wq, --wk, --wv and --wo too, or --seed"),
    ({"wq": "1,0;0,1"}, "--wq", "--wq: has 2 rows but --x (default 3×4) has 4 columns"),
    ({"wk": "1,0,0,0"}, "--wk", "--wk: has 1 row but --x (default 3×4) has 4 columns"),
    ({"wv": "a"}, "--wv", "not a number"),
    ({"wo": "1,2;3,4"}, "--wo", "--wo: has 2 rows but --x (default 3×4) has 4 columns (W_O is d_model × d_model)"),
    ({"tokens": "a,b"}, "--tokens", "expected 3 names"),
    ({"tokens": "a,,b"}, "--tokens", "empty"),
    ({"seed": "-1"}, "--seed", "too small"),
    ({"seed": "1.5"}, "--seed", "whole number"),
    ({"seed": "1", "wq": "1,0,0,0;0,1,0,0;0,0,1,0;0,0,0,1"}, "--wq", "--seed"),
    ({"seq_len": "4"}, "--seq-len", "needs --seed"),
    ({"d_model": "4"}, "--d-model", "needs --seed"),
    ({"seed": "1", "seq_len": "4", "x": "1,2"}, "--x", "cannot be combined"),
    ({"seed": "1", "d_model": "6", "heads": "4"}, "--heads", "d_model = 6"),
    ({"seed": "1", "seq_len": "0"}, "--seq-len", "too small"),
    ({"seed": "1", "d_model": "0"}, "--d-model", "too small"),
    ({"seed": "1", "seq_len": "100000"}, "--seq-len", "of memory"),
    # d_model typed, --heads left at its default 2
    ({"x": "1,0,1;0,2,0;1,1,0"}, "--x", "--x: has 3 columns (d_model = 3) but --heads (default 2) does not divide 3: each head takes d_model/h columns; pass --heads too (e.g. 1, 3)"),
    ({"seed": "1", "d_model": "3"}, "--d-model", "--d-model: is 3 but --heads (default 2) does not divide 3"),
    ({"seed": "1", "d_model": "3", "heads": "2"}, "--heads", "--heads: d_model = 3 (--d-model) is not divisible by h = 2"),
]


def test_lesson_file_order_part_quiz_and_hints():
    lesson = load_lesson("multi-head")
    assert lesson.order == 410 and lesson.part == "Attention"
    assert len(lesson.quiz) >= 2 and len(lesson.hints) >= 2


def test_quiz_head_width_answer():
    # 512 / 8 = 64
    item = next(q for q in load_lesson("multi-head").quiz if q.id == "head-width")
    assert item.answer == 64 == 512 // 8
    assert math.isclose(head_dim_for(512, 8), 64)


# ----------------------------------------------------------------- CLI


def test_cli_json_with_custom_flags(run_cli):
    import json

    result = run_cli("lesson", "multi-head", "--seed", "4", "--seq-len", "5", "--d-model", "6", "--heads", "3", "--causal", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    out = doc["outputs"]
    assert set(out) == {"weights", "heads", "concat", "output"}
    assert np.array(out["weights"]).shape == (3, 5, 5)
    assert np.array(out["heads"]).shape == (3, 5, 2)
    assert np.array(out["output"]).shape == (5, 6)
    assert doc["inputs"]["seed"] == 4 and np.array(doc["inputs"]["wq"]).shape == (6, 6)


@pytest.mark.parametrize("module", ["nntutor.core.multihead", "nntutor.walkthroughs.multi_head", "nntutor.walkthroughs._transformer"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0


# ----------------------------------------------------------------- what h heads cost, and ties


def test_cost_of_heads_by_hand_and_from_the_run():
    # 3 tokens, d_model = 4, 2 heads of 2 columns. Parameters: 4 matrices of 4×4 = 64, whatever h.
    # Score multiply-adds: 2 heads × 3×3 scores × 2 products = 36 = 3×3×4 (one head of width 4).
    # Attention weights: 2 matrices of 3×3 = 18 numbers, against 9 for one head: that is what grows.
    trace = run()
    why = trace.step("projections").why
    assert "four 4×4 weight matrices, 64 numbers, whatever h" in why
    assert "(h × n² × d_h = 2×3²×2 = 36, as one head of width 4 would: 3²×4)" in why
    assert "2×3² = 18 numbers against 9 for one head" in why
    assert "no more than one wide head" not in why
    # the same counts taken from what the run computed
    heads = trace.outputs["weights"]
    assert heads.size == 18
    inputs = trace.inputs
    assert sum(np.asarray(inputs[name]).size for name in ("wq", "wk", "wv", "wo")) == 64
    q = trace.step("projections").value("q").data
    n, d = q.shape
    assert heads.shape[0] * n * n * (d // heads.shape[0]) == n * n * d == 36


def test_a_tie_for_the_most_attended_token_is_named():
    # Head 1, row sat: scores [2, 3, 3] → weights [0.1978, 0.4011, 0.4011]: cat and sat tie exactly.
    trace = run()
    row = trace.outputs["weights"][0, 2]
    assert row[1] == row[2]
    line = trace.step("other-heads").worked[0]
    assert line == "head 2: sat attends most to The (0.6728); in head 1 to cat and sat (0.4011 each)"
