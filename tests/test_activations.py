"""The activations lesson: hand-worked values, sympy derivatives, and the PyTorch oracle."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.core import activations
from nntutor.symbolic import derivatives as symbolic

NAMES = ("relu", "leaky-relu", "sigmoid", "tanh", "gelu", "gelu-tanh")


@pytest.fixture(scope="module")
def default_trace():
    return run_lesson(load_lesson("activations"), {})


# --------------------------------------------------------------------------- hand-worked


def test_gelu_check_values_from_the_issue():
    # GELU(1) = 1·Φ(1) = ½·(1 + erf(1/√2)) = ½·(1 + 0.6826894921) = 0.8413447461
    assert float(activations.gelu(1.0)) == pytest.approx(0.8413447461, abs=1e-10)
    # tanh form: u = √(2/π)·(1 + 0.044715) = 0.7978845608×1.044715 = 0.8335614...,
    # tanh(u) = 0.6823839812, ½·1·(1 + 0.6823839812) = 0.8411919906
    assert float(activations.gelu_tanh(1.0)) == pytest.approx(0.8411919906, abs=1e-10)


def test_default_outputs_by_hand(default_trace):
    values = {k: v.tolist() for k, v in default_trace.outputs["values"].items()}
    derivs = {k: v.tolist() for k, v in default_trace.outputs["derivatives"].items()}
    assert set(values) == set(NAMES) and set(derivs) == set(NAMES)
    # points -2, -1, 0, 1, 2
    assert values["relu"] == [0.0, 0.0, 0.0, 1.0, 2.0]
    assert derivs["relu"] == [0.0, 0.0, 0.0, 1.0, 1.0]  # ReLU'(0) = 0 by convention
    assert values["leaky-relu"] == pytest.approx([-0.02, -0.01, 0.0, 1.0, 2.0], abs=1e-15)  # 0.01×(-2)
    assert derivs["leaky-relu"] == [0.01, 0.01, 0.01, 1.0, 1.0]  # α at 0 (z ≤ 0 branch)
    # σ(0) = 1/(1+1) = 0.5, σ'(0) = 0.5×0.5 = 0.25; σ(1) = 1/(1 + 0.3678794412) = 0.7310585786
    assert values["sigmoid"][2] == 0.5 and derivs["sigmoid"][2] == 0.25
    assert values["sigmoid"][3] == pytest.approx(0.7310585786, abs=1e-10)
    # σ'(1) = 0.7310585786 × 0.2689414214 = 0.1966119332
    assert derivs["sigmoid"][3] == pytest.approx(0.1966119332, abs=1e-10)
    # tanh(1) = (e − 1/e)/(e + 1/e) = 2.3504023873/3.0861612696 = 0.7615941560; tanh'(1) = 1 − 0.5800256584
    assert values["tanh"][3] == pytest.approx(0.7615941560, abs=1e-10)
    assert derivs["tanh"][3] == pytest.approx(0.4199743416, abs=1e-10)
    assert derivs["tanh"][2] == 1.0
    # GELU(−1) = −Φ(−1) = −0.1586552539; GELU'(1) = Φ(1) + 1·φ(1) = 0.8413447461 + 0.2419707245
    assert values["gelu"][1] == pytest.approx(-0.1586552539, abs=1e-10)
    assert derivs["gelu"][3] == pytest.approx(1.0833154706, abs=1e-10)
    assert values["gelu-tanh"][3] == pytest.approx(0.8411919906, abs=1e-10)
    # GELU'(0) = Φ(0) + 0 = 0.5 for both forms
    assert derivs["gelu"][2] == 0.5 and derivs["gelu-tanh"][2] == 0.5


def test_trace_shows_sympy_formulas_and_the_relu_convention(default_trace):
    step = default_trace.step("sigmoid")
    assert step.formula_text == "f(z) = 1/(1 + exp(-z));  f'(z) = exp(-z)/(1 + exp(-z))^2"
    assert any("σ'(1) = σ(z)·(1 − σ(z)) = 0.7311×(1 − 0.7311) = 0.1966" in w for w in step.worked)
    assert default_trace.step("tanh").formula_text.endswith("f'(z) = 1 - tanh(z)^2")
    assert default_trace.step("relu").formula_text == "f(z) = z if z > 0, else 0;  f'(z) = 1 if z > 0, else 0"
    zero = default_trace.step("relu-at-zero")
    assert zero.value("left").data == 0.0 and zero.value("right").data == 1.0
    assert zero.value("convention").data == 0.0
    assert default_trace.inputs["alpha"] == 0.01
    assert default_trace.inputs["at"].tolist() == [-2.0, -1.0, 0.0, 1.0, 2.0]


def test_sympy_derivatives_match_the_numpy_ones():
    points = [-3.0, -1.0, -0.25, 0.0, 0.5, 1.0, 2.5]
    for name in NAMES:
        by_sympy = symbolic.activation_derivative_at(name, points, alpha=0.2)
        by_numpy = activations.derivative(name, np.array(points), alpha=0.2)
        np.testing.assert_allclose(by_sympy, by_numpy, rtol=1e-12, atol=1e-12, err_msg=name)
    assert symbolic.sigmoid_derivative_is_s_times_one_minus_s()


def test_derivatives_match_central_differences():
    z = np.array([-2.3, -0.7, 0.4, 1.9])  # away from the kinks of relu / leaky-relu
    h = 1e-6
    for name in NAMES:
        numeric = (activations.activate(name, z + h, alpha=0.1) - activations.activate(name, z - h, alpha=0.1)) / (2 * h)
        np.testing.assert_allclose(activations.derivative(name, z, alpha=0.1), numeric, atol=1e-8, err_msg=name)


# --------------------------------------------------------------------------- PyTorch oracle


def _torch_functions(torch, alpha):
    F = torch.nn.functional
    return {
        "relu": F.relu,
        "leaky-relu": lambda t: F.leaky_relu(t, negative_slope=alpha),
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "gelu": lambda t: F.gelu(t, approximate="none"),
        "gelu-tanh": lambda t: F.gelu(t, approximate="tanh"),
    }


def _check_against_torch(torch, points, alpha, values, derivs):
    for name, fn in _torch_functions(torch, alpha).items():
        t = torch.tensor(np.asarray(points, dtype=np.float64), dtype=torch.float64, requires_grad=True)
        out = fn(t)
        (grad,) = torch.autograd.grad(out.sum(), t)
        np.testing.assert_allclose(values[name], out.detach().numpy(), rtol=1e-10, atol=1e-10, err_msg=name)
        np.testing.assert_allclose(derivs[name], grad.numpy(), rtol=1e-10, atol=1e-10, err_msg=name)


@pytest.mark.oracle
def test_custom_flags_against_torch(torch):
    points = "-3.5,-1,-0.001,0,0.001,0.5,1,4"
    trace = run_lesson(load_lesson("activations"), {"at": points, "alpha": "0.2"})
    assert trace.inputs["alpha"] == 0.2
    _check_against_torch(
        torch, [float(p) for p in points.split(",")], 0.2, trace.outputs["values"], trace.outputs["derivatives"]
    )
    # the ReLU derivative at exactly 0 is 0 in PyTorch too, and leaky-relu's is α
    zero = torch.tensor([0.0], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(torch.relu(zero).sum(), zero)
    assert grad.item() == 0.0 == trace.outputs["derivatives"]["relu"][3]
    zero = torch.tensor([0.0], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(torch.nn.functional.leaky_relu(zero, 0.2).sum(), zero)
    assert grad.item() == pytest.approx(0.2) and trace.outputs["derivatives"]["leaky-relu"][3] == pytest.approx(0.2)


@pytest.mark.oracle
@settings(max_examples=40, deadline=None)
@given(
    points=st.lists(st.floats(-30, 30, allow_nan=False), min_size=1, max_size=8),
    alpha=st.floats(0, 1),
)
def test_core_against_torch_property(torch, points, alpha):
    table = activations.tabulate(NAMES, points, alpha=alpha)
    _check_against_torch(torch, points, alpha, table.values, table.derivatives)


# --------------------------------------------------------------------------- inputs


def test_custom_points_and_alpha():
    trace = run_lesson(load_lesson("activations"), {"at": "-4,0.5", "alpha": "0.3"})
    # LeakyReLU(−4) = 0.3×(−4) = −1.2; its slope there is α = 0.3
    assert trace.outputs["values"]["leaky-relu"].tolist() == pytest.approx([-1.2, 0.5], abs=1e-15)
    assert trace.outputs["derivatives"]["leaky-relu"].tolist() == [0.3, 1.0]
    assert math.isclose(trace.outputs["values"]["relu"][1], 0.5)


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"at": "1,abc"}, "--at", "'abc' is not a number"),
    ({"at": ""}, "--at", "found an empty value"),
    ({"at": ",".join(["1"] * 10_001)}, "--at", "10,001 points is too many"),
    ({"at": "1,,2"}, "--at", "'1,,2' has an empty entry"),
    ({"alpha": "-0.1"}, "--alpha", "-0.1 is too small"),
    ({"alpha": "2"}, "--alpha", "2.0 is too large"),
    ({"alpha": "x"}, "--alpha", "'x' is not a number"),
    ({"alpha": "1.5"}, "--alpha", "1.5 is too large"),
]


# --------------------------------------------------------------------------- CLI


def test_cli_defaults_and_custom_flags(run_cli):
    import json

    result = run_cli("lesson", "activations", "--at", "-0.5,3", "--alpha", "0.1", "--format", "json")
    assert result.exit_code == 0, result.stderr
    outputs = json.loads(result.stdout)["outputs"]
    assert outputs["values"]["leaky-relu"] == pytest.approx([-0.05, 3.0], abs=1e-15)  # 0.1×(−0.5)
    assert outputs["derivatives"]["relu"] == [0.0, 1.0]
    result = run_cli("lesson", "activations")
    assert result.exit_code == 0, result.stderr
    assert "ReLU'(0) = 0" in result.stdout
