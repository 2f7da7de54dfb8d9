"""transformer-block: hand-worked values, torch.nn.TransformerEncoderLayer as the oracle,
the --weights file, and every flag's bad values."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.core.block import WEIGHT_SHAPES, random_weights, transformer_block
from nntutor.errors import InputError


def run(**flags):
    return run_lesson(load_lesson("transformer-block"), {k.replace("_", "-"): v for k, v in flags.items()})


def write(tmp_path, data, name="w.json") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


# One token, d = 2, h = 1: attention weight 1, so MHA(v) = v·W_V·W_O = v with identities.
# W1 = I, W2 = diag(1, 2), every bias 0, γ = 1, β = 0 (left out of the file).
TINY = {
    "wq": [[1, 0], [0, 1]],
    "wk": [[1, 0], [0, 1]],
    "wv": [[1, 0], [0, 1]],
    "wo": [[1, 0], [0, 1]],
    "W1": [[1, 0], [0, 1]],
    "W2": [[1, 0], [0, 2]],
}


# ----------------------------------------------------------------- hand-worked


def test_post_norm_by_hand(tmp_path):
    # x = [1, 3]; MHA(x) = x → s₁ = [2, 6]; μ = 4, σ² = (4 + 4)/2 = 4, h = ±2/√4.00001 = [-0.9999988, 0.9999988]
    # FFN(h) = ReLU(h)·diag(1,2) = [0, 1.9999975]; s₂ = [-0.9999988, 2.9999962]
    # μ = 0.9999988, deviations ±1.999995, σ² = 3.99998, y = ±1.999995/√3.99999 = [-0.9999988, 0.9999988]
    trace = run(x="1,3", tokens="a", heads="1", norm="post", weights=write(tmp_path, TINY))
    out = trace.outputs
    np.testing.assert_allclose(out["attention_weights"], [[[1.0]]])
    np.testing.assert_allclose(out["after_attention"], [[-0.9999988, 0.9999988]], atol=1e-7)
    np.testing.assert_allclose(out["y"], [[-0.9999988, 0.9999988]], atol=1e-7)
    np.testing.assert_allclose(trace.step("residual2").value("residual2").data, [[-0.9999988, 2.9999962]], atol=1e-7)


def test_pre_norm_by_hand(tmp_path):
    # x = [1, 3]: LN₁(x): μ = 2, σ² = 1, = ±1/√1.00001 = [-0.999995, 0.999995];
    # MHA = identity → h = x + LN₁(x) = [0.000005, 3.999995]
    # LN₂(h): μ = 2, σ² = 3.99998, = ±1.999995/√3.99999 = [-0.9999988, 0.9999988]
    # FFN: ReLU → [0, 0.9999988], ·diag(1, 2) → [0, 1.9999975]; y = h + FFN = [0.000005, 5.9999925]
    out = run(x="1,3", tokens="a", heads="1", norm="pre", weights=write(tmp_path, TINY)).outputs
    np.testing.assert_allclose(out["after_attention"], [[0.000005, 3.999995]], atol=1e-7)
    np.testing.assert_allclose(out["y"], [[0.000005, 5.9999925]], atol=1e-7)


def test_missing_vectors_default_to_zero_and_one(tmp_path):
    trace = run(x="1,3", tokens="a", heads="1", weights=write(tmp_path, TINY))
    i = trace.inputs
    np.testing.assert_array_equal(i["bq"], [0, 0])
    np.testing.assert_array_equal(i["b1"], [0, 0])
    np.testing.assert_array_equal(i["ln1_gamma"], [1, 1])
    np.testing.assert_array_equal(i["ln2_beta"], [0, 0])
    assert set(WEIGHT_SHAPES) <= set(i)
    assert i["weights"].endswith("w.json") and "seed" not in i


def test_causal_first_token_attends_to_itself():
    w = run(causal=True).outputs["attention_weights"]
    assert w.shape == (2, 3, 3)
    np.testing.assert_allclose(w[:, 0, 0], 1.0)
    assert np.all(np.triu(w, 1) == 0.0)


def test_post_norm_rows_have_mean_beta():
    # the last operation of post-norm is LN₂: each row of (y − β₂)/γ₂ has mean 0 and variance σ²/(σ² + ε)
    trace = run(norm="post", seed="4")
    i = trace.inputs
    z = (trace.outputs["y"] - i["ln2_beta"]) / i["ln2_gamma"]
    np.testing.assert_allclose(z.mean(axis=1), 0.0, atol=1e-12)


def test_default_has_every_step_with_shapes():
    trace = run()
    ids = [s.id for s in trace.steps]
    assert ids == [
        "input", "ln1", "weights", "attention-projections", "attention-heads", "attention-other-heads",
        "attention-concat", "attention-output", "residual1", "ln2", "ffn-hidden", "ffn-output", "residual2",
    ]
    assert "3×4 → 3×8" in trace.step("ffn-hidden").title
    # the default run shows the block's flow; the weights, Q/K/V, the other heads, the second layer
    # norm (the same rule as the first) and the FFN's hidden layer (the ffn lesson's subject) wait for --full
    assert [s.id for s in trace.steps if s.detail] == ["weights", "attention-projections", "attention-other-heads", "attention-concat", "ln2", "ffn-hidden"]
    post = [s.id for s in run(norm="post").steps]
    assert post == [
        "input", "weights", "attention-projections", "attention-heads", "attention-other-heads", "attention-concat",
        "attention-output", "residual1", "ln1", "ffn-hidden", "ffn-output", "residual2", "ln2",
    ]


def test_the_weights_the_worked_lines_cite_are_shown_with_full():
    trace = run()
    weights = trace.step("weights")
    shown = {v.display_name: v for v in weights.values}
    for name in ("W_Q", "W_K", "W_V", "W_O", "W₁", "W₂", "γ₁", "β₁", "b_Q", "b₁"):
        assert name in shown
    np.testing.assert_array_equal(shown["W_Q"].data, trace.inputs["wq"])
    # the worked line's W_Q[:, 0] is the first column of the W_Q shown
    line = trace.step("attention-projections").worked[0]
    first = trace.inputs["wq"][:, 0]
    assert f"×{first[0]:g}" in line.replace("(", "").replace(")", "")
    assert trace.step("input").value("x").data is trace.inputs["x"] or np.array_equal(trace.step("input").value("x").data, trace.inputs["x"])


# ----------------------------------------------------------------- PyTorch oracle


def torch_layer(torch, w, heads, norm, activation):
    d, d_ff = w["W1"].shape
    layer = torch.nn.TransformerEncoderLayer(
        d, heads, dim_feedforward=d_ff, dropout=0.0, activation=activation,
        batch_first=True, norm_first=(norm == "pre"), dtype=torch.float64,
    )
    t = lambda a: torch.tensor(np.asarray(a, dtype=np.float64))  # noqa: E731
    with torch.no_grad():
        sa = layer.self_attn
        # row-vector convention: our Q = X·W_Q, torch computes X·Wᵀ, so its weight is W_Qᵀ
        sa.in_proj_weight.copy_(t(np.concatenate([w["wq"].T, w["wk"].T, w["wv"].T])))
        sa.in_proj_bias.copy_(t(np.concatenate([w["bq"], w["bk"], w["bv"]])))
        sa.out_proj.weight.copy_(t(w["wo"].T))
        sa.out_proj.bias.copy_(t(w["bo"]))
        layer.linear1.weight.copy_(t(w["W1"].T))
        layer.linear1.bias.copy_(t(w["b1"]))
        layer.linear2.weight.copy_(t(w["W2"].T))
        layer.linear2.bias.copy_(t(w["b2"]))
        layer.norm1.weight.copy_(t(w["ln1_gamma"]))
        layer.norm1.bias.copy_(t(w["ln1_beta"]))
        layer.norm2.weight.copy_(t(w["ln2_gamma"]))
        layer.norm2.bias.copy_(t(w["ln2_beta"]))
    layer.eval()
    return layer


def torch_block(torch, x, w, heads, norm, causal, activation):
    layer = torch_layer(torch, w, heads, norm, activation)
    n = x.shape[0]
    mask = torch.triu(torch.ones(n, n, dtype=torch.bool), 1) if causal else None
    xt = torch.tensor(x)[None]
    with torch.no_grad():
        y = layer(xt, src_mask=mask, is_causal=causal)[0].numpy()
        a_in = layer.norm1(xt) if norm == "pre" else xt
        attn, weights = layer.self_attn(a_in, a_in, a_in, attn_mask=mask, need_weights=True, average_attn_weights=False)
        after = xt + attn if norm == "pre" else layer.norm1(xt + attn)
    return y, after[0].numpy(), weights[0].numpy()


CASES = [
    {},
    {"norm": "post"},
    {"causal": True},
    {"norm": "post", "causal": True, "activation": "gelu"},
    {"seed": "11", "heads": "4", "d_ff": "6", "x": "0.1,0.2,0.3,0.4;1,-1,1,-1;0,0,2,1;0.5,0.5,-0.5,3;2,1,0,-1"},
    {"seed": "3", "heads": "1", "norm": "post", "causal": True},
]


@pytest.mark.oracle
@pytest.mark.parametrize("flags", CASES)
def test_matches_torch_encoder_layer(torch, flags):
    trace = run(**flags)
    i = trace.inputs
    y, after, weights = torch_block(torch, i["x"], i, i["heads"], i["norm"], i["causal"], i["activation"])
    np.testing.assert_allclose(trace.outputs["y"], y, rtol=0, atol=1e-10)
    np.testing.assert_allclose(trace.outputs["after_attention"], after, rtol=0, atol=1e-10)
    np.testing.assert_allclose(trace.outputs["attention_weights"], weights, rtol=0, atol=1e-10)


@pytest.mark.oracle
@pytest.mark.parametrize("norm", ["pre", "post"])
def test_weights_file_matches_torch(torch, tmp_path, norm):
    rng = np.random.default_rng(9)
    w = {k: v.tolist() for k, v in random_weights(rng, 6, 10).items()}
    del w["bk"], w["ln2_gamma"]  # defaults 0 and 1
    path = write(tmp_path, w)
    x = "1,0,2,0,1,0;0,1,0,1,0,-1;3,2,1,0,0,0"
    trace = run(x=x, heads="3", norm=norm, causal=True, weights=path)
    i = trace.inputs
    np.testing.assert_array_equal(i["W1"], np.array(w["W1"]))
    y, after, weights = torch_block(torch, i["x"], i, 3, norm, True, "relu")
    np.testing.assert_allclose(trace.outputs["y"], y, rtol=0, atol=1e-10)
    np.testing.assert_allclose(trace.outputs["after_attention"], after, rtol=0, atol=1e-10)
    np.testing.assert_allclose(trace.outputs["attention_weights"], weights, rtol=0, atol=1e-10)


def test_seeded_inputs_reproduce_the_run_through_a_weights_file(tmp_path):
    # the JSON inputs use the --weights key names: feeding them back gives the same block
    first = run(seed="5", norm="post")
    w = {k: np.asarray(first.inputs[k]).tolist() for k in WEIGHT_SHAPES}
    again = run(norm="post", weights=write(tmp_path, w))
    np.testing.assert_array_equal(first.outputs["y"], again.outputs["y"])
    assert first.inputs["seed"] == 5


def test_core_block_defaults_missing_vectors():
    rng = np.random.default_rng(1)
    full = random_weights(rng, 4, 8)
    partial = {k: full[k] for k in ("wq", "wk", "wv", "wo", "W1", "W2")}
    x = rng.normal(size=(3, 4))
    zeroed = dict(full)
    for k in WEIGHT_SHAPES:
        if k not in partial:
            zeroed[k] = np.ones_like(full[k]) if k.endswith("gamma") else np.zeros_like(full[k])
    a = transformer_block(x, partial, heads=2)
    b = transformer_block(x, zeroed, heads=2)
    np.testing.assert_array_equal(a.y, b.y)


# ----------------------------------------------------------------- flags


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"x": "1,2;3"}, "--x", "row 2"),
    ({"x": "1,2,3"}, "--x", "--x: has 3 columns (d_model = 3) but --heads (default 2) does not divide 3"),
    ({"heads": "3"}, "--heads", "not divisible"),
    ({"heads": "0"}, "--heads", "too small"),
    ({"d_ff": "0"}, "--d-ff", "too small"),
    ({"d_ff": "x"}, "--d-ff", "whole number"),
    ({"d_ff": "100000000"}, "--d-ff", "of memory"),
    ({"norm": "middle"}, "--norm", "not one of"),
    ({"activation": "tanh"}, "--activation", "not one of"),
    ({"seed": "-1"}, "--seed", "too small"),
    ({"tokens": "a,b"}, "--tokens", "expected 3 names"),
    ({"weights": "/nonexistent/w.json"}, "--weights", "does not exist"),
]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ({**TINY, "wx": [[1]]}, "unknown key 'wx'"),
        ({**TINY, "W3": [[1]]}, "unknown key 'W3'"),
        ({k: v for k, v in TINY.items() if k != "W1"}, "missing key 'W1'"),
        ({**TINY, "wq": [[1, 0, 0], [0, 1, 0]]}, "key 'wq': expected 2×2 matrix"),
        ({**TINY, "W2": [[1, 0]]}, "key 'W2': expected 2×2 matrix"),
        ({**TINY, "bq": [1, 2, 3]}, "key 'bq': expected 2 numbers"),
        ({**TINY, "ln1_gamma": "1,1"}, "key 'ln1_gamma'"),
        ({**TINY, "b1": [1, "a"]}, "key 'b1'"),
        ({**TINY, "wv": [[1, 0], [0]]}, "key 'wv'"),
    ],
)
def test_bad_weights_files_name_flag_and_key(tmp_path, content, fragment):
    with pytest.raises(InputError) as info:
        run(x="1,3", tokens="a", heads="1", weights=write(tmp_path, content))
    assert info.value.flag == "--weights"
    assert fragment in info.value.message


def test_weights_file_with_wider_ffn_sets_d_ff(tmp_path):
    w = dict(TINY, W1=[[1, 0, 1], [0, 1, 1]], W2=[[1, 0], [0, 1], [1, 1]], b1=[0, 0, -100])
    trace = run(x="1,3", tokens="a", heads="1", weights=write(tmp_path, w))
    assert trace.outputs["y"].shape == (1, 2)
    assert trace.step("ffn-hidden").value("hidden").data.shape == (1, 3)


@pytest.mark.parametrize("other", [{"seed": "2"}, {"d_ff": "4"}])
def test_weights_refuses_seed_and_d_ff(tmp_path, other):
    with pytest.raises(InputError) as info:
        run(x="1,3", tokens="a", heads="1", weights=write(tmp_path, TINY), **other)
    assert info.value.flag == "--" + next(iter(other)).replace("_", "-")
    assert "--weights" in info.value.message


def test_lesson_file_part_and_order():
    lesson = load_lesson("transformer-block")
    assert (lesson.part, lesson.order) == ("The transformer", 520)


# ----------------------------------------------------------------- CLI


def test_cli_json_with_custom_flags(run_cli):
    result = run_cli("lesson", "transformer-block", "--norm", "post", "--causal", "--activation", "gelu", "--heads", "4", "--d-ff", "6", "--seed", "2", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc["outputs"]) == {"attention_weights", "after_attention", "y"}
    assert np.array(doc["outputs"]["attention_weights"]).shape == (4, 3, 3)
    assert set(WEIGHT_SHAPES) <= set(doc["inputs"])
    assert np.array(doc["inputs"]["W1"]).shape == (4, 6) and doc["inputs"]["seed"] == 2


def test_cli_weights_file_round_trip_and_bad_key(run_cli, tmp_path):
    doc = json.loads(run_cli("lesson", "transformer-block", "--seed", "8", "--format", "json").stdout)
    path = write(tmp_path, {k: doc["inputs"][k] for k in WEIGHT_SHAPES})
    again = json.loads(run_cli("lesson", "transformer-block", "--weights", path, "--format", "json").stdout)
    np.testing.assert_array_equal(np.array(again["outputs"]["y"]), np.array(doc["outputs"]["y"]))
    bad = write(tmp_path, {**TINY, "ln3_gamma": [1, 1]}, "bad.json")
    result = run_cli("lesson", "transformer-block", "--x", "1,3", "--tokens", "a", "--heads", "1", "--weights", bad)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "--weights:" in result.stderr and "'ln3_gamma'" in result.stderr


@pytest.mark.parametrize("module", ["nntutor.core.block", "nntutor.walkthroughs.transformer_block"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0
