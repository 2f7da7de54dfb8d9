"""The mlp lesson: parameter counts, hand-worked forward passes, weights files, nn.Linear oracle."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.core import mlp
from nntutor.errors import InputError


def run(raw=None):
    return run_lesson(load_lesson("mlp"), raw or {})


def write_weights(tmp_path, layers, name="w.json"):
    path = tmp_path / name
    path.write_text(json.dumps(layers), encoding="utf-8")
    return str(path)


SMALL = [
    {"W": [[1, -1], [0.5, 2]], "b": [0, -1]},
    {"W": [[1, -2]], "b": [0.5]},
]


def test_param_count_of_the_issue_example():
    trace = run({"sizes": "784,16,16,10"})
    # weights 784×16 + 16×16 + 16×10 = 12544 + 256 + 160 = 12960; biases 16 + 16 + 10 = 42
    assert trace.outputs["param_count"] == 13002
    count = mlp.param_count((784, 16, 16, 10))
    assert (count.weights, count.biases) == (12960, 42)
    assert "total: 12,960 weights + 42 biases = 13,002 parameters" in trace.step("params").worked
    assert [a.shape for a in trace.outputs["activations"]] == [(16,), (16,), (10,)]


def test_default_run_shapes_and_recorded_inputs():
    trace = run()
    # sizes 3,4,3,4: 3×4 + 4×3 + 3×4 = 36 weights, 4 + 3 + 4 = 11 biases
    assert trace.outputs["param_count"] == 47
    assert [a.shape for a in trace.outputs["activations"]] == [(4,), (3,), (4,)]
    assert trace.inputs["seed"] == 0 and trace.inputs["sizes"] == [3, 4, 3, 4]
    for layer, (n_in, n_out) in zip(trace.inputs["weights"], [(3, 4), (4, 3), (3, 4)], strict=True):
        w = layer["W"]
        assert w.shape == (n_out, n_in)
        assert np.all(np.abs(w) <= 1 / np.sqrt(n_in) + 0.005)  # ±1/√n_in, rounded to 2 decimals
        np.testing.assert_array_equal(w, np.round(w, 2))
    np.testing.assert_array_equal(trace.inputs["x"], np.round(trace.inputs["x"], 2))


def test_forward_by_hand_from_a_weights_file(tmp_path):
    trace = run({"weights": write_weights(tmp_path, SMALL), "x": "1,2"})
    # z1 = [1×1 + (−1)×2 + 0, 0.5×1 + 2×2 − 1] = [−1, 3.5]; ReLU → [0, 3.5]
    # z2 = 1×0 + (−2)×3.5 + 0.5 = −6.5; identity output
    a1, a2 = trace.outputs["activations"]
    assert a1.tolist() == [0.0, 3.5]
    assert a2.tolist() == [-6.5]
    assert trace.outputs["param_count"] == 2 * 2 + 2 + 2 * 1 + 1  # 9
    assert trace.inputs["sizes"] == [2, 2, 1]
    assert "z1[0] = W1[0]·a0 + b1[0] = -1 + 0 = -1" in trace.step("layer-1").worked


def test_softmax_output_by_hand(tmp_path):
    layers = [SMALL[0], {"W": [[1, 0], [0, 1]], "b": [0, 0]}]
    trace = run({"weights": write_weights(tmp_path, {"layers": layers}), "x": "1,2", "output-activation": "softmax"})
    # a1 = [0, 3.5]; softmax([0, 3.5]) = [1, e^3.5]/(1 + e^3.5) = [1, 33.1154520]/34.1154520
    out = trace.outputs["activations"][-1]
    assert out.tolist() == pytest.approx([0.0293122308, 0.9706877692], abs=1e-10)
    assert out.sum() == pytest.approx(1.0, abs=1e-15)


def test_seeded_run_reproduces_from_its_recorded_inputs(tmp_path):
    first = run({"sizes": "4,5,3", "seed": "7", "activation": "tanh"})
    layers = [{"W": layer["W"].tolist(), "b": layer["b"].tolist()} for layer in first.inputs["weights"]]
    x = ",".join(repr(float(v)) for v in first.inputs["x"])
    again = run({"weights": write_weights(tmp_path, layers), "x": x, "activation": "tanh"})
    for a, b in zip(first.outputs["activations"], again.outputs["activations"], strict=True):
        np.testing.assert_array_equal(a, b)
    other = run({"sizes": "4,5,3", "seed": "8", "activation": "tanh"})
    assert not np.array_equal(other.inputs["weights"][0]["W"], first.inputs["weights"][0]["W"])


# --------------------------------------------------------------------------- PyTorch oracle


@pytest.mark.oracle
@pytest.mark.parametrize(
    ("activation", "output_activation"),
    [("relu", "identity"), ("sigmoid", "softmax"), ("tanh", "sigmoid"), ("gelu", "softmax"), ("leaky-relu", "identity")],
)
def test_against_torch_linear_stack(torch, activation, output_activation):
    trace = run({"sizes": "5,7,6,4", "seed": "3", "activation": activation, "output-activation": output_activation})
    nn, F = torch.nn, torch.nn.functional
    hidden = {"relu": nn.ReLU(), "sigmoid": nn.Sigmoid(), "tanh": nn.Tanh(), "gelu": nn.GELU(), "leaky-relu": nn.LeakyReLU(0.01)}
    modules = []
    for index, layer in enumerate(trace.inputs["weights"]):
        w = torch.from_numpy(layer["W"])
        linear = nn.Linear(w.shape[1], w.shape[0], dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(w)
            linear.bias.copy_(torch.from_numpy(layer["b"]))
        modules.append(linear)
        if index < len(trace.inputs["weights"]) - 1:
            modules.append(hidden[activation])
    out = nn.Sequential(*modules)(torch.from_numpy(trace.inputs["x"]))
    if output_activation == "softmax":
        out = F.softmax(out, dim=-1)
    elif output_activation == "sigmoid":
        out = torch.sigmoid(out)
    np.testing.assert_allclose(trace.outputs["activations"][-1], out.detach().numpy(), rtol=1e-10, atol=1e-10)
    # every hidden layer's output too: modules are [Linear, act, Linear, act, …, Linear]
    a = torch.from_numpy(trace.inputs["x"])
    for layer in range(len(trace.inputs["weights"]) - 1):
        a = modules[2 * layer + 1](modules[2 * layer](a))
        np.testing.assert_allclose(trace.outputs["activations"][layer], a.detach().numpy(), rtol=1e-10, atol=1e-10)


# --------------------------------------------------------------------------- inputs


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"sizes": "3.5,2"}, "--sizes", "whole numbers"),
    ({"sizes": "0,2"}, "--sizes", "whole numbers"),
    ({"sizes": "3"}, "--sizes", "at least 2"),
    ({"sizes": "100000,100000,10"}, "--sizes", "GB as float64"),
    ({"sizes": ",".join(["2"] * 40)}, "--sizes", "layers"),
    ({"sizes": "a,b"}, "--sizes", "'a'"),
    ({"sizes": "3,0"}, "--sizes", "entry 2 is 0"),
    ({"sizes": "100000,100000"}, "--sizes", "has 10,000,100,000 parameters: about 80.0 GB"),
    ({"sizes": "784,100000,10"}, "--sizes", "79,500,010 parameters"),  # 784×100000 + 100000×10 = 79,400,000 weights + 100,010 biases
    ({"x": "1,2"}, "--x", "starts with 3, the network's input size; pass --sizes too (e.g. 2,4,3,4)"),
    ({"x": "1,zz,3"}, "--x", "'zz'"),
    ({"x": "1"}, "--x", "--x: has 1 number but --sizes (default 3,4,3,4) starts with 3"),
    ({"seed": "-1"}, "--seed", "too small"),
    ({"seed": "1.5"}, "--seed", "whole number"),
    ({"seed": "x"}, "--seed", "'x' is not a whole number"),
    ({"weights": "/nonexistent/w.json"}, "--weights", "'/nonexistent/w.json' does not exist"),
    ({"activation": "softmax"}, "--activation", "'softmax' is not one of"),
    ({"output-activation": "relu"}, "--output-activation", "is not one of"),
    ({"output-activation": "tanh"}, "--output-activation", "'tanh' is not one of"),
    ({"same-weights": True, "sizes": "3,4"}, "--same-weights", "needs a hidden layer, but --sizes 3,4 has none"),
]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("not json", "is not valid JSON (line 1, column 1)"),
        ("{}", "expected a list of layers"),
        ("[]", "non-empty list"),
        ("[1]", "layer 1 must be an object"),
        ('[{"W": [[1, 2]], "b": [0], "c": 1}]', "layer 1 has the unknown key 'c'"),
        ('[{"W": [[1, 2]]}]', "layer 1 has no 'b'"),
        ('[{"W": [1, 2], "b": [0]}]', "layer 1 'W' must be a list of rows"),
        ('[{"W": [[1, 2], [3]], "b": [0, 0]}]', "layer 1 'W': row 2 has 1 numbers"),
        ('[{"W": [[1, "a"]], "b": [0]}]', "layer 1 'W': '\"a\"' is not a number"),
        ('[{"W": [[1, 2]], "b": [0, 1]}]', "layer 1 'b' has 2 numbers but 'W' has 1 rows"),
        ('[{"W": [[1, 2]], "b": 0}]', "layer 1 'b' must be a JSON list"),
        ('[{"W": [[1, 2]], "b": [0]}, {"W": [[1, 2]], "b": [0]}]', "layer 2 'W' has 2 columns but layer 1 has 1 outputs"),
        ('[{"W": [[1, 2]], "b": [1e400]}]', "layer 1 'b'"),
    ],
)
def test_bad_weights_files(tmp_path, content, fragment):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as info:
        run({"weights": str(path), "x": "1,2"})
    assert info.value.flag == "--weights"
    assert fragment in info.value.message


def test_weights_file_conflicts(tmp_path):
    path = write_weights(tmp_path, SMALL)
    with pytest.raises(InputError) as info:
        run({"weights": str(tmp_path / "missing.json")})
    assert info.value.flag == "--weights" and "does not exist" in info.value.message
    with pytest.raises(InputError) as info:
        run({"weights": path, "seed": "3"})
    assert info.value.flag == "--seed"
    with pytest.raises(InputError) as info:
        run({"weights": path, "sizes": "2,3,1"})
    assert info.value.flag == "--sizes" and "2,2,1" in info.value.message
    with pytest.raises(InputError) as info:
        run({"weights": path, "x": "1,2,3"})
    assert info.value.flag == "--x"
    # --sizes that agrees with the file is fine; x is then drawn from the default seed
    trace = run({"weights": path, "sizes": "2,2,1"})
    assert trace.inputs["x"].shape == (2,)


# --------------------------------------------------------------------------- CLI


def test_cli_json_outputs(run_cli, tmp_path):
    result = run_cli("lesson", "mlp", "--sizes", "784,16,16,10", "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["outputs"]["param_count"] == 13002
    assert [len(a) for a in data["outputs"]["activations"]] == [16, 16, 10]
    path = write_weights(tmp_path, SMALL)
    result = run_cli("lesson", "mlp", "--weights", path, "--x", "1,2", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["outputs"]["activations"] == [[0.0, 3.5], [-6.5]]


@pytest.mark.parametrize("output_format", ["text", "markdown"])
def test_cli_renders_one_activation_vector_per_layer(run_cli, output_format):
    # the layers have different widths (4, 3, 4): each layer shows its own a1, a2, a3, and the
    # Result names the output as the steps do (a3), never activations[2] (which would be a3 counted from 0)
    result = run_cli("lesson", "mlp", "--format", output_format)
    assert result.exit_code == 0, result.stderr
    text = result.stdout.replace("\\", "")
    assert "the network's output a3" in text and "activations[" not in text


# ----------------------------------------------------------------------------- symmetry (--same-weights)


def test_same_weights_by_hand_one_hidden_neuron_pair(tmp_path):
    # sizes 2,2,1, x = (1, 2); every W1 entry 0.5, b1 = 0; W2 = (1, 1), b2 = 0 (file gives W[0,0], b[0])
    # z1 = 0.5×1 + 0.5×2 = 1.5 in both neurons; ReLU → 1.5; a2 = 1.5 + 1.5 = 3; L = ½·3² = 4.5
    # δ2 = 3; ∂L/∂a1[j] = W2[0, j]·3 = 3; δ1 = 3 (ReLU' = 1); ∂L/∂W1 = δ1·xᵀ = [[3, 6], [3, 6]]
    layers = [{"W": [[0.5, 0.9], [-1, 2]], "b": [0, 7]}, {"W": [[1, -3]], "b": [0]}]
    trace = run({"weights": write_weights(tmp_path, layers), "x": "1,2", "same-weights": True})
    a1, a2 = trace.outputs["activations"]
    assert a1.tolist() == [1.5, 1.5] and a2.tolist() == [3.0]
    (dw1, db1), (dw2, db2) = ((g["W"], g["b"]) for g in trace.outputs["grads"])
    assert dw1.tolist() == [[3.0, 6.0], [3.0, 6.0]] and db1.tolist() == [3.0, 3.0]
    assert dw2.tolist() == [[4.5, 4.5]] and db2.tolist() == [3.0]
    updated = trace.step("symmetry").value("updated_W1").data
    assert updated.tolist() == [[0.5 - 0.1 * 3, 0.5 - 0.1 * 6]] * 2  # still equal rows


@pytest.mark.parametrize("flags", [{}, {"activation": "tanh", "output-activation": "softmax"},
                                   {"sizes": "3,5,4,2", "activation": "sigmoid", "output-activation": "sigmoid"}])
def test_same_weights_against_torch_autograd(torch, flags):
    trace = run({**flags, "same-weights": True})
    x = torch.tensor(trace.inputs["x"], dtype=torch.float64)
    params = [(torch.tensor(layer["W"], requires_grad=True), torch.tensor(layer["b"], requires_grad=True))
              for layer in trace.inputs["weights"]]
    hidden = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}[flags.get("activation", "relu")]
    out = {"identity": lambda z: z, "softmax": lambda z: torch.softmax(z, 0),
           "sigmoid": torch.sigmoid}[flags.get("output-activation", "identity")]
    a = x
    for i, (w, b) in enumerate(params):
        z = w @ a + b
        a = out(z) if i == len(params) - 1 else hidden(z)
    (0.5 * (a**2).sum()).backward()
    for (w, b), g in zip(params, trace.outputs["grads"], strict=True):
        np.testing.assert_allclose(g["W"], w.grad.numpy(), rtol=0, atol=1e-12)
        np.testing.assert_allclose(g["b"], b.grad.numpy(), rtol=0, atol=1e-12)
        # the same weights everywhere in a layer before training: one distinct value in W and in b
        assert np.unique(w.detach().numpy()).size == 1 and np.unique(b.detach().numpy()).size == 1
    for w, _ in params[:-1]:  # hidden neurons: equal gradient rows, so one step keeps the rows equal
        rows = (w - 0.1 * w.grad).detach().numpy()
        np.testing.assert_array_equal(rows, np.broadcast_to(rows[0], rows.shape))
    np.testing.assert_allclose(trace.step("symmetry").value("updated_W1").data,
                               (params[0][0] - 0.1 * params[0][0].grad).detach().numpy(), rtol=0, atol=1e-12)


def test_random_weights_give_different_gradients():
    # without --same-weights the hidden neurons differ, and so do their gradient rows
    back = mlp.backward(mlp.forward(run().inputs["x"], [(d["W"], d["b"]) for d in run().inputs["weights"]]))
    assert np.ptp(back.grads[0][0], axis=0).max() > 1e-3
    assert "grads" not in run().outputs

