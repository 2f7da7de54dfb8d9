"""ffn: hand-worked values, the PyTorch oracle (nn.Linear layers), and every flag's bad values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.core.ffn import feed_forward


def run(**flags):
    return run_lesson(load_lesson("ffn"), flags)


# ----------------------------------------------------------------- hand-worked


def test_default_by_hand():
    # row 0, x = [1, -1]:  h = x·W₁ + b₁
    #   h0 = 1·1 + (-1)·0.5 + 0 = 0.5;   h1 = 1·(-1) + (-1)·1 + 0.5 = -1.5
    #   h2 = 1·0.5 + (-1)·(-1) - 0.5 = 1;  h3 = 1·0 + (-1)·1 + 0.1 = -0.9
    #   ReLU → [0.5, 0, 1, 0];  y0 = 0.5·1 + 1·(-1) + 0.1 = -0.4;  y1 = 1·1 - 0.1 = 0.9
    # row 1, x = [0.5, 2]: h = [0.5 + 1, -0.5 + 2 + 0.5, 0.25 - 2 - 0.5, 2 + 0.1] = [1.5, 2, -2.25, 2.1]
    #   ReLU → [1.5, 2, 0, 2.1];  y0 = 1.5 + 2.1·0.5 + 0.1 = 2.65;  y1 = 2 - 1.05 - 0.1 = 0.85
    out = run().outputs
    np.testing.assert_allclose(out["hidden"], [[0.5, -1.5, 1.0, -0.9], [1.5, 2.0, -2.25, 2.1]], atol=1e-12)
    np.testing.assert_allclose(out["activated"], [[0.5, 0, 1, 0], [1.5, 2, 0, 2.1]], atol=1e-12)
    np.testing.assert_allclose(out["y"], [[-0.4, 0.9], [2.65, 0.85]], atol=1e-12)


def test_gelu_by_hand():
    # GELU(z) = z·Φ(z): Φ(0.5) = 0.691462, Φ(-1.5) = 0.0668072, Φ(1) = 0.841345, Φ(-0.9) = 0.184060
    # → [0.345731, -0.100211, 0.841345, -0.165654]
    out = run(activation="gelu").outputs
    np.testing.assert_allclose(out["activated"][0], [0.345731, -0.100211, 0.841345, -0.165654], atol=1e-6)


def test_rows_never_mix():
    # changing row 1 leaves row 0's output unchanged
    a = run(x="1,-1;0.5,2").outputs["y"]
    b = run(x="1,-1;-7,3").outputs["y"]
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.allclose(a[1], b[1])


def test_single_vector_is_one_row():
    out = run(x="1,-1").outputs
    np.testing.assert_allclose(out["y"], [[-0.4, 0.9]], atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 4), st.integers(1, 5), st.integers(1, 6))
def test_each_row_alone_gives_the_same_output(seed, n, d, d_ff):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    w1, b1, w2, b2 = rng.normal(size=(d, d_ff)), rng.normal(size=d_ff), rng.normal(size=(d_ff, d)), rng.normal(size=d)
    whole = feed_forward(x, w1, b1, w2, b2).y
    for i in range(n):
        np.testing.assert_allclose(feed_forward(x[i : i + 1], w1, b1, w2, b2).y[0], whole[i], atol=1e-12)


# ----------------------------------------------------------------- PyTorch oracle


def torch_ffn(torch, x, w, activation):
    d, d_ff = w["W1"].shape
    lin1 = torch.nn.Linear(d, d_ff, dtype=torch.float64)
    lin2 = torch.nn.Linear(d_ff, d, dtype=torch.float64)
    with torch.no_grad():
        # torch's Linear computes x·Wᵀ + b: its weight is our W₁ᵀ (W₁ is d × d_ff here)
        lin1.weight.copy_(torch.tensor(w["W1"].T))
        lin1.bias.copy_(torch.tensor(w["b1"]))
        lin2.weight.copy_(torch.tensor(w["W2"].T))
        lin2.bias.copy_(torch.tensor(w["b2"]))
        t = torch.tensor(x)
        hidden = lin1(t)
        act = torch.relu(hidden) if activation == "relu" else torch.nn.functional.gelu(hidden)
        return hidden.numpy(), act.numpy(), lin2(act).numpy()


@pytest.mark.oracle
@pytest.mark.parametrize(
    "flags",
    [
        {},
        {"activation": "gelu"},
        {"seed": "0"},
        {"seed": "5", "activation": "gelu", "x": "0.3,-1.2,2;1,1,1;-0.5,0,0.25", "expansion": "3"},
        {"x": "2,3", "W1": "1,2,3;-1,0.5,0", "b1": "0,0,-10", "W2": "1,0;0,1;1,1", "b2": "0,0"},
    ],
)
def test_matches_torch(torch, flags):
    trace = run(**flags)
    i = trace.inputs
    hidden, act, y = torch_ffn(torch, i["x"], i, i["activation"])
    np.testing.assert_allclose(trace.outputs["hidden"], hidden, rtol=0, atol=1e-10)
    np.testing.assert_allclose(trace.outputs["activated"], act, rtol=0, atol=1e-10)
    np.testing.assert_allclose(trace.outputs["y"], y, rtol=0, atol=1e-10)


# ----------------------------------------------------------------- flags


def test_seed_draws_weights_of_expansion_times_d():
    trace = run(seed="2", x="1,2,3", expansion="2")
    i = trace.inputs
    assert i["W1"].shape == (3, 6) and i["b1"].shape == (6,) and i["W2"].shape == (6, 3) and i["b2"].shape == (3,)
    assert i["seed"] == 2 and i["expansion"] == 2
    np.testing.assert_array_equal(i["W1"], np.round(i["W1"], 2))
    again = run(seed="2", x="1,2,3", expansion="2")
    np.testing.assert_array_equal(trace.outputs["y"], again.outputs["y"])


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"x": "1,2,3"}, "--x", "--x: has 3 columns but --W1 (default 2×4) has 2 rows (W1 is d × d_ff: one row per feature of x); pass --W1, --W2 and --b2 too, or --seed to draw them"),
    ({"x": "1;2,3"}, "--x", "row 2"),
    ({"W1": "1,2;3,4"}, "--W1", "--W1: has 2 columns but --b1 (default 4 numbers) has 4 (one bias per column of W1, d_ff); pass --b1 and --W2 too"),
    ({"W1": "1,q"}, "--W1", "not a number"),
    ({"b1": "1,2,3"}, "--b1", "--b1: has 3 numbers but --W1 (default 2×4) has 4 columns"),
    ({"W2": "1,0;0,1"}, "--W2", "--W2: has 2 rows but --W1 (default 2×4) has 4 columns"),
    ({"b2": "1"}, "--b2", "--b2: has 1 number but --x (default 2×2) has 2 columns"),
    ({"activation": "tanh"}, "--activation", "not one of"),
    ({"expansion": "2"}, "--expansion", "--seed"),
    ({"seed": "1", "expansion": "0"}, "--expansion", "too small"),
    ({"seed": "1", "expansion": "99999999"}, "--expansion", "of memory"),
    ({"seed": "-3"}, "--seed", "too small"),
    ({"seed": "1", "W2": "1,0;0,1;1,1;1,1"}, "--W2", "--seed"),
    ({"seed": "1", "b1": "0,0,0,0"}, "--b1", "--seed"),
]


def test_lesson_file_part_order_and_dff_answer():
    lesson = load_lesson("ffn")
    assert (lesson.part, lesson.order) == ("The transformer", 510)
    assert next(q for q in lesson.quiz if q.id == "dff").answer == 4 * 512


# ----------------------------------------------------------------- CLI


def test_cli_json_with_custom_flags(run_cli):
    import json

    result = run_cli("lesson", "ffn", "--x", "1,2,3;0,0,1", "--seed", "7", "--expansion", "2", "--activation", "gelu", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc["outputs"]) == {"hidden", "activated", "y"}
    assert np.array(doc["outputs"]["hidden"]).shape == (2, 6)
    assert np.array(doc["outputs"]["y"]).shape == (2, 3)
    assert np.array(doc["inputs"]["W1"]).shape == (3, 6)


@pytest.mark.parametrize("module", ["nntutor.core.ffn", "nntutor.walkthroughs.ffn"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0
