"""The layer lesson: hand-worked products, batches, and torch.nn.functional.linear."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.core.layer import dense


def run(raw=None):
    return run_lesson(load_lesson("layer"), raw or {})


def test_defaults_by_hand():
    trace = run()
    # W·x = [0.1×1 + 0.2×0, 0.3×1 + 0.4×0] = [0.1, 0.3]; b = 0; ReLU keeps positives
    assert trace.outputs["z"].tolist() == pytest.approx([0.1, 0.3], abs=1e-15)
    assert trace.outputs["y"].tolist() == pytest.approx([0.1, 0.3], abs=1e-15)
    assert trace.inputs["b"].tolist() == [0.0, 0.0]  # the default bias is recorded
    assert trace.step("products").worked == ["W[0]·x = 0.1×1 + 0.2×0 = 0.1", "W[1]·x = 0.3×1 + 0.4×0 = 0.3"]


def test_three_outputs_and_tanh_by_hand():
    trace = run({"W": "1,-1;2,0.5;0,3", "x": "2,1", "b": "0,0,-1", "activation": "tanh"})
    # z0 = 1×2 + (−1)×1 = 1; z1 = 2×2 + 0.5×1 = 4.5; z2 = 0×2 + 3×1 − 1 = 2
    assert trace.outputs["z"].tolist() == pytest.approx([1.0, 4.5, 2.0], abs=1e-15)
    # tanh(1) = 0.7615941560, tanh(4.5) = 0.9997532108, tanh(2) = 0.9640275801
    assert trace.outputs["y"].tolist() == pytest.approx([0.7615941560, 0.9997532108, 0.9640275801], abs=1e-10)
    assert "W[1]·x = 2×2 + 0.5×1 = 4.5" in trace.step("products").worked


def test_batch_by_hand():
    trace = run({"x": "1,0;0,1;1,1", "b": "0.5,-1", "activation": "sigmoid"})
    # row k of Z = X[k]·Wᵀ + b: [0.1+0.5, 0.3−1], [0.2+0.5, 0.4−1], [0.3+0.5, 0.7−1]
    np.testing.assert_allclose(trace.outputs["z"], [[0.6, -0.7], [0.7, -0.6], [0.8, -0.3]], atol=1e-15)
    # σ(0.6) = 1/(1 + e^−0.6) = 1/1.5488116361 = 0.6456563062
    assert trace.outputs["y"][0, 0] == pytest.approx(0.6456563062, abs=1e-10)
    assert trace.outputs["y"].shape == (3, 2)
    assert trace.step("shapes").worked[0].startswith("X (3×2, one example per row) · Wᵀ (2×2) = 3×2")


# --------------------------------------------------------------------------- PyTorch oracle


def _torch_act(torch, name):
    F = torch.nn.functional
    return {
        "relu": F.relu,
        "leaky-relu": lambda t: F.leaky_relu(t, 0.01),
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "gelu": F.gelu,
        "gelu-tanh": lambda t: F.gelu(t, approximate="tanh"),
        "identity": lambda t: t,
    }[name]


@pytest.mark.oracle
@pytest.mark.parametrize("activation", ["relu", "leaky-relu", "sigmoid", "tanh", "gelu", "gelu-tanh", "identity"])
def test_lesson_against_torch_linear(torch, activation):
    raw = {"x": "0.5,-1.5,2;1,2,-0.25", "W": "0.2,-0.4,1;-1,0.3,0.7", "b": "0.1,-0.2", "activation": activation}
    trace = run(raw)
    x = torch.tensor([[0.5, -1.5, 2], [1, 2, -0.25]], dtype=torch.float64)
    w = torch.tensor([[0.2, -0.4, 1], [-1, 0.3, 0.7]], dtype=torch.float64)
    b = torch.tensor([0.1, -0.2], dtype=torch.float64)
    z = torch.nn.functional.linear(x, w, b)
    np.testing.assert_allclose(trace.outputs["z"], z.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(trace.outputs["y"], _torch_act(torch, activation)(z).numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.oracle
@settings(max_examples=30, deadline=None)
@given(data=st.data(), n_in=st.integers(1, 6), n_out=st.integers(1, 6), batch=st.integers(0, 4))
def test_dense_property_against_torch(torch, data, n_in, n_out, batch):
    elements = st.floats(-10, 10, allow_nan=False)
    w = data.draw(hnp.arrays(np.float64, (n_out, n_in), elements=elements))
    b = data.draw(hnp.arrays(np.float64, (n_out,), elements=elements))
    shape = (batch, n_in) if batch else (n_in,)
    x = data.draw(hnp.arrays(np.float64, shape, elements=elements))
    result = dense(x, w, b, "tanh")
    z = torch.nn.functional.linear(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b))
    np.testing.assert_allclose(result.z, z.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(result.y, torch.tanh(z).numpy(), rtol=1e-10, atol=1e-10)


# --------------------------------------------------------------------------- inputs


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"x": "1,abc"}, "--x", "'abc'"),
    ({"x": "1,2,3"}, "--x", "--x: has 3 numbers per example but --W (default 2×2) has 2 columns (one weight per input); pass --W too"),
    ({"W": "1,2;3"}, "--W", "row 2 has 1 numbers but row 1 has 2"),
    ({"W": "1,2,3"}, "--W", "--W: has 3 columns but --x (default 2 numbers) has 2 numbers per example"),
    ({"b": "1,2,3"}, "--b", "expected 2 numbers"),
    ({"b": "1;2"}, "--b", "several rows"),
    ({"b": "1"}, "--b", "expected 2 numbers"),
    ({"activation": "softmax"}, "--activation", "is not one of"),
    ({"activation": "step"}, "--activation", "'step' is not one of"),
    ({"x": "1,2,3", "W": "1,2;3,4"}, "--x", "--x: has 3 numbers per example but --W has 2 columns (one weight per input)"),
]


# --------------------------------------------------------------------------- CLI


def test_cli_custom_flags_and_case_sensitive_W(run_cli):
    import json

    result = run_cli("lesson", "layer", "--W", "1,2;3,4;5,6", "--x", "1,-1", "--b", "0,0,1", "--activation", "identity", "--format", "json")
    assert result.exit_code == 0, result.stderr
    outputs = json.loads(result.stdout)["outputs"]
    # [1−2, 3−4, 5−6+1] = [−1, −1, 0]
    assert outputs["z"] == [-1.0, -1.0, 0.0] and outputs["y"] == [-1.0, -1.0, 0.0]
    result = run_cli("lesson", "layer", "--x", "1,0;0,1", "--format", "json")
    assert json.loads(result.stdout)["outputs"]["z"] == [[0.1, 0.3], [0.2, 0.4]]
