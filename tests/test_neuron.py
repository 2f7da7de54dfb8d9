"""The neuron lesson against hand-worked numbers and PyTorch."""

import math

import numpy as np
import pytest

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.core import activations


def test_default_neuron_by_hand():
    # z = 0.5×1.5 + (-1)×2 + 0.3×(-0.5) + 0.5 = 0.75 - 2 - 0.15 + 0.5 = -0.9
    # (the course text's figure says -0.35; the arithmetic says -0.9)
    trace = run_lesson(load_lesson("neuron"))
    assert trace.outputs["z"] == pytest.approx(-0.9, abs=1e-12)
    assert trace.outputs["y"] == 0.0  # ReLU(-0.9) = 0
    assert trace.step("sum").worked[1] == "z = w·x + b = -1.4 + 0.5 = -0.9"


def test_sigmoid_of_015_by_hand():
    # 1 / (1 + e^-0.15) = 1 / (1 + 0.860708) = 0.537430
    assert float(activations.sigmoid(0.15)) == pytest.approx(0.5374298453, abs=1e-10)
    trace = run_lesson(load_lesson("neuron"), {"x": "1,0", "w": "0.1,0.2", "b": "0.05", "activation": "sigmoid"})
    assert trace.outputs["z"] == pytest.approx(0.15)
    assert trace.outputs["y"] == pytest.approx(0.5374298453, abs=1e-10)


@pytest.mark.parametrize("name", ["relu", "leaky-relu", "sigmoid", "tanh", "gelu", "identity"])
def test_neuron_matches_torch(torch, name):
    rng = np.random.default_rng(3)
    for _ in range(5):
        x, w, b = rng.normal(size=4), rng.normal(size=4), float(rng.normal())
        raw = {"x": ",".join(repr(float(v)) for v in x), "w": ",".join(repr(float(v)) for v in w), "b": repr(b), "activation": name}
        trace = run_lesson(load_lesson("neuron"), raw)
        z = torch.dot(torch.tensor(w), torch.tensor(x)) + b
        f = {
            "relu": torch.relu,
            "leaky-relu": lambda t: torch.nn.functional.leaky_relu(t, 0.01),
            "sigmoid": torch.sigmoid,
            "tanh": torch.tanh,
            "gelu": lambda t: torch.nn.functional.gelu(t, approximate="none"),
            "identity": lambda t: t,
        }[name]
        assert trace.outputs["z"] == pytest.approx(z.item(), abs=1e-12)
        assert trace.outputs["y"] == pytest.approx(f(z).item(), abs=1e-10)


def test_activations_match_torch_on_random_points(torch):
    z = np.random.default_rng(0).normal(scale=4, size=200)
    t = torch.tensor(z)
    expected = {
        "relu": torch.relu(t),
        "leaky-relu": torch.nn.functional.leaky_relu(t, 0.01),
        "sigmoid": torch.sigmoid(t),
        "tanh": torch.tanh(t),
        "gelu": torch.nn.functional.gelu(t, approximate="none"),
        "gelu-tanh": torch.nn.functional.gelu(t, approximate="tanh"),
    }
    for name, reference in expected.items():
        np.testing.assert_allclose(activations.activate(name, z), reference.numpy(), rtol=0, atol=1e-12)


def test_gelu_check_values():
    assert float(activations.gelu(1.0)) == pytest.approx(0.8413447461, abs=1e-10)
    assert float(activations.gelu_tanh(1.0)) == pytest.approx(0.8411919906, abs=1e-10)
    # exact form by hand: 1 × Φ(1) = ½(1 + erf(1/√2))
    assert float(activations.gelu(1.0)) == pytest.approx(0.5 * (1 + math.erf(1 / math.sqrt(2))), abs=1e-15)


def test_sigmoid_does_not_overflow():
    values = activations.sigmoid(np.array([-1000.0, 1000.0]))
    assert values.tolist() == [0.0, 1.0]


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"x": "abc"}, "--x", "--x: 'abc' is not a number"),
    ({"w": "1,2"}, "--w", "--w: has 2 numbers but --x (default 3 numbers) has 3; pass --x too"),
    ({"b": "nan"}, "--b", "NaN"),
    ({"b": "inf"}, "--b", "infinity"),
    ({"b": ""}, "--b", "empty"),
    ({"activation": "sigmoidd"}, "--activation", "did you mean 'sigmoid'"),
    # a size mismatch names the flag typed, and the default it no longer fits
    ({"x": "1,2"}, "--x", "--x: has 2 numbers but --w (default 3 numbers) has 3; pass --w too"),
    ({"x": "1,2", "w": "1,2,3"}, "--w", "--w: has 3 numbers but --x has 2"),
]
