"""The backprop lesson: hand-worked networks, torch.autograd on every combination, sympy, bad flags."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.core import backprop as bp
from nntutor.errors import InputError
from nntutor.symbolic.backprop import network_derivatives


def run(**raw):
    return run_lesson(load_lesson("backprop"), {k.replace("_", "-"): v for k, v in raw.items()})


def js(array) -> str:
    """A flag value that parses back to exactly these floats (JSON keeps repr precision)."""
    return json.dumps(np.asarray(array).tolist())


def test_default_forward_pass_by_hand():
    trace = run()
    # z1 = W1·x + b1 = (0.3×1 − 0.4×0.5 + 0.1, 0.5×1 + 0.3×0.5 − 0.1) = (0.2, 0.55)
    assert trace.step("hidden").value("z1").data == pytest.approx([0.2, 0.55], abs=1e-12)
    # h = σ(z1) = (1/(1 + e^−0.2), 1/(1 + e^−0.55))
    assert trace.outputs["hidden"] == pytest.approx([0.549833997312478, 0.6341355910108007], abs=1e-12)
    # z2 = (0.6×0.549834 − 0.3×0.634136, −0.2×0.549834 + 0.4×0.634136 + 0.1) = (0.139660, 0.243687)
    # ŷ = σ(z2) = (0.534858, 0.560622)
    assert trace.outputs["output"] == pytest.approx([0.5348582899072729, 0.5606221590608428], abs=1e-12)
    # L = ½[(1 − 0.534858)² + (0 − 0.560622)²] = 0.265327
    assert trace.outputs["loss"] == pytest.approx(0.26532700784901375, abs=1e-12)
    # δ2 = (ŷ − y)·ŷ(1 − ŷ) = (−0.115720, 0.138095); ∂L/∂W2[1,0] = δ2[1]·h[0] = 0.075929
    assert trace.step("output-delta").value("delta2").data == pytest.approx(
        [-0.11572023365669926, 0.13809522744718655], abs=1e-12
    )
    assert trace.outputs["grads"]["W2"][1, 0] == pytest.approx(0.07592945091706241, abs=1e-12)
    assert set(trace.outputs["grads"]) == {"W1", "b1", "W2", "b2"}
    assert set(trace.outputs["updated"]) == {"W1", "b1", "W2", "b2"}


def test_relu_identity_network_exact():
    trace = run(
        x="1,2", y="1", W1="1,-1;0.5,0.5", b1="0.5,0", W2="2,-1", b2="0.25",
        activation="relu", output_activation="identity", lr="0.5", param="W1[1,1];b2[0]",
    )
    # z1 = (1 − 2 + 0.5, 0.5 + 1 + 0) = (−0.5, 1.5); h = ReLU = (0, 1.5)
    assert trace.outputs["hidden"] == pytest.approx([0, 1.5])
    # ŷ = z2 = 2×0 − 1×1.5 + 0.25 = −1.25; L = ½(1 − (−1.25))² = ½×5.0625 = 2.53125
    assert trace.outputs["output"] == pytest.approx([-1.25])
    assert trace.outputs["loss"] == pytest.approx(2.53125)
    g = trace.outputs["grads"]
    # δ2 = ŷ − y = −2.25; ∂L/∂W2 = δ2·h = (0, −3.375); ∂L/∂b2 = −2.25
    assert g["W2"] == pytest.approx(np.array([[0.0, -3.375]]))
    assert g["b2"] == pytest.approx([-2.25])
    # W2ᵀ·δ2 = (−4.5, 2.25); ReLU′(z1) = (0, 1) → δ1 = (0, 2.25); ∂L/∂W1 = δ1·xᵀ
    assert g["W1"] == pytest.approx(np.array([[0.0, 0.0], [2.25, 4.5]]))
    assert g["b1"] == pytest.approx([0.0, 2.25])
    u = trace.outputs["updated"]
    # W2 ← (2 − 0.5×0, −1 − 0.5×(−3.375)) = (2, 0.6875); b2 ← 0.25 + 1.125 = 1.375
    assert u["W2"] == pytest.approx(np.array([[2.0, 0.6875]]))
    assert u["b2"] == pytest.approx([1.375])
    # W1[1] ← (0.5 − 1.125, 0.5 − 2.25) = (−0.625, −1.75); b1 ← (0.5, −1.125)
    assert u["W1"] == pytest.approx(np.array([[1.0, -1.0], [-0.625, -1.75]]))
    assert u["b1"] == pytest.approx([0.5, -1.125])
    # The sympy values of the chosen parameters: ∂L/∂W1[1,1] = 4.5, ∂L/∂b2[0] = −2.25
    rows = dict(trace.step("symbolic").value("derivatives").data.rows)
    assert rows == pytest.approx({"W1[1,1]": 4.5, "b2[0]": -2.25})


def _random_case(rng, out_act, loss, n_in=3, n_hid=4, n_out=3):
    W1 = rng.normal(size=(n_hid, n_in))
    b1 = rng.normal(size=n_hid)
    W2 = rng.normal(size=(n_out, n_hid))
    b2 = rng.normal(size=n_out)
    x = rng.normal(size=n_in)
    y = rng.uniform(size=n_out)
    if loss == "ce" and out_act == "softmax":
        y = y / y.sum()
    return W1, b1, W2, b2, x, y


COMBOS = [
    c for c in itertools.product(bp.HIDDEN_ACTIVATIONS, bp.OUTPUT_ACTIVATIONS, bp.LOSSES)
    if not (c[1] == "identity" and c[2] == "ce")
]


@pytest.mark.parametrize("activation, out_act, loss", COMBOS)
def test_against_torch_autograd(torch, activation, out_act, loss):
    rng = np.random.default_rng(COMBOS.index((activation, out_act, loss)))
    for _ in range(2):
        W1, b1, W2, b2, x, y = _random_case(rng, out_act, loss)
        trace = run(
            x=js(x), y=js(y), W1=js(W1), b1=js(b1), W2=js(W2), b2=js(b2), lr="0.3",
            activation=activation, output_activation=out_act, loss=loss, param="W1[0,0]",
        )
        T = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in dict(W1=W1, b1=b1, W2=W2, b2=b2).items()}
        tx, ty = torch.tensor(x), torch.tensor(y)
        act = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}[activation]
        h = act(T["W1"] @ tx + T["b1"])
        z2 = T["W2"] @ h + T["b2"]
        if out_act == "softmax":
            yhat = torch.softmax(z2, dim=0)
        elif out_act == "sigmoid":
            yhat = torch.sigmoid(z2)
        else:
            yhat = z2
        if loss == "half-sse":
            L = 0.5 * ((ty - yhat) ** 2).sum()
        elif loss == "mse":
            L = torch.nn.functional.mse_loss(yhat, ty)
        elif out_act == "softmax":
            L = -(ty * torch.log_softmax(z2, dim=0)).sum()
        else:
            L = torch.nn.functional.binary_cross_entropy_with_logits(z2, ty, reduction="sum")
        L.backward()
        assert trace.outputs["loss"] == pytest.approx(L.item(), abs=1e-10)
        np.testing.assert_allclose(trace.outputs["hidden"], h.detach().numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(trace.outputs["output"], yhat.detach().numpy(), rtol=0, atol=1e-10)
        for name, tensor in T.items():
            np.testing.assert_allclose(trace.outputs["grads"][name], tensor.grad.numpy(), rtol=0, atol=1e-10)
            np.testing.assert_allclose(
                trace.outputs["updated"][name], (tensor - 0.3 * tensor.grad).detach().numpy(), rtol=0, atol=1e-10
            )


@pytest.mark.parametrize("activation, out_act, loss", COMBOS)
def test_sympy_derivative_equals_backprop(activation, out_act, loss):
    rng = np.random.default_rng(7)
    W1, b1, W2, b2, x, y = _random_case(rng, out_act, loss, n_in=2, n_hid=2, n_out=2)
    params = bp.Params(W1, b1, W2, b2)
    chosen = [("W1", (1, 0)), ("b1", (0,)), ("W2", (0, 1)), ("b2", (1,))]
    sym = network_derivatives(params.as_dict(), x, y, activation, out_act, loss, chosen)
    r = bp.backprop(params, x, y, activation, out_act, loss)
    expected = [r.grads.W1[1, 0], r.grads.b1[0], r.grads.W2[0, 1], r.grads.b2[1]]
    assert [d.value for d in sym.derivations] == pytest.approx(expected, abs=1e-12)
    assert all(d.latex.startswith(r"\frac{\partial L}") for d in sym.derivations)


def test_default_symbolic_step_matches_the_chain_rule():
    trace = run()
    sym = dict(trace.step("symbolic").value("derivatives").data.rows)
    chain = dict(trace.step("chain").value("chosen").data.rows)
    assert list(sym) == ["W1[0,1]", "W2[1,0]"]
    assert sym == pytest.approx(chain, abs=1e-12)
    assert "σ" in trace.step("symbolic").formula_text and r"\sigma" in trace.step("symbolic").formula


def test_finite_difference_check():
    trace = run()
    assert trace.step("check").value("max_error").data < 1e-8
    rows = trace.step("check").value("table").data.rows
    assert len(rows) == 12  # 4 + 2 + 4 + 2 parameters


def test_one_step_lowers_the_loss():
    trace = run()
    before = trace.step("update").value("loss_before").data
    after = trace.step("update").value("loss_after").data
    assert after < before


def test_saturated_cross_entropy_stays_finite():
    trace = run(W2="800,-800;-800,800", output_activation="sigmoid", loss="ce")
    assert np.isfinite(trace.outputs["loss"])
    for name in ("W1", "b1", "W2", "b2"):
        assert np.all(np.isfinite(trace.outputs["grads"][name]))
    assert trace.step("output-delta").warnings


def test_relu_kink_warning():
    trace = run(activation="relu", W1="0.5,-1;0.5,0.3", b1="0,-0.1")  # z1[0] = 0.5 − 0.5 + 0 = 0
    assert trace.step("check").warnings


def test_big_network_skips_sympy_but_runs():
    rng = np.random.default_rng(0)
    trace = run(x="1,2,3", W1=js(rng.normal(size=(10, 3))), b1=js(np.zeros(10)), W2=js(rng.normal(size=(3, 10))),
                b2="0,0,0", y="0,1,0", param="W1[9,2]")
    assert trace.step("symbolic").warnings
    assert trace.outputs["grads"]["W1"].shape == (10, 3)


@pytest.mark.parametrize("text", ["W1[0,1]", "b2[1]", "W1[0,1];b1[0]", " W2[1, 0]  b1[1] "])
def test_param_accepts(text):
    run(param=text)


@pytest.mark.parametrize(
    "text",
    ["W1[2,0]", "b1[2]", "W3[0,0]", "W1[0]", "b1[0,0]", "__import__('os')", "W1[0,1]+1", "", "W1[-1,0]",
     "W1[0,0];W1[0,1];W1[1,0];W1[1,1];b1[0];b1[1];b2[0]"],
)
def test_bad_param(text):
    with pytest.raises(InputError) as info:
        run(param=text)
    assert info.value.flag == "--param"


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"x": "1,abc"}, "--x", "'abc' is not a number"),
    ({"y": "1,0,0"}, "--y", "--y: has 3 numbers but --W2 (default 2×2) has 2 rows (one target per output); pass --W2 too"),
    ({"x": "1,2,3"}, "--x", "--x: has 3 numbers but --W1 (default 2×2) has 2 columns (W1 is hidden × inputs); pass --W1 too"),
    ({"W1": "1,2;3"}, "--W1", "row 2 has 1 numbers but row 1 has 2"),
    ({"W1": "1,2,3;4,5,6"}, "--W1", "--W1: has 3 columns but --x (default 2 numbers) has 2"),
    ({"b1": "1,2,3"}, "--b1", "--b1: has 3 numbers but --W1 (default 2×2) has 2 rows"),
    ({"b1": "1"}, "--b1", "--b1: has 1 number but --W1 (default 2×2) has 2 rows"),
    ({"W2": "1,2,3;4,5,6"}, "--W2", "--W2: has 3 columns but --W1 (default 2×2) has 2 rows (W2 is outputs × hidden)"),
    ({"b2": "1"}, "--b2", "--b2: has 1 number but --W2 (default 2×2) has 2 rows"),
    ({"b2": "1,2,3"}, "--b2", "--b2: has 3 numbers but --W2 (default 2×2) has 2 rows"),
    ({"activation": "gelu"}, "--activation", "'gelu' is not one of"),
    ({"output-activation": "tanh"}, "--output-activation", "'tanh' is not one of"),
    ({"loss": "l1"}, "--loss", "'l1' is not one of"),
    ({"lr": "0"}, "--lr", "0.0 is too small"),
    ({"lr": "-1"}, "--lr", "-1.0 is too small"),
    ({"lr": "-0.5"}, "--lr", "greater than 0"),
    ({"param": "W1[9,9]"}, "--param", "out of range"),
    ({"param": "os.system('ls')"}, "--param", "not a list of parameters"),
    # cross-entropy needs probabilities: from the output activation, and as targets
    ({"output-activation": "softmax", "loss": "ce", "y": "0.5,0.6"}, "--y", "with softmax and --loss ce the targets must sum to 1"),
    ({"loss": "ce", "y": "2,0"}, "--y", "with --loss ce the targets must be probabilities between 0 and 1"),
    ({"output-activation": "identity", "loss": "ce"}, "--loss", "ce needs probabilities: use --output-activation sigmoid or softmax"),
    # a network too big to show
    ({"x": js(np.ones(40)), "W1": js(np.ones((30, 40))), "b1": js(np.zeros(30)), "W2": js(np.ones((2, 30)))}, "--W1", "the network has 1,292 parameters; this lesson shows at most 1,000"),
    # more hidden neurons or outputs: every default that no longer fits is named
    ({"W1": "1,2;3,4;5,6"}, "--W1", "--W1: has 3 rows but --b1 (default 2 numbers) has 2 (one bias per hidden neuron); pass --b1 and --W2 too"),
    ({"W2": "1,2;3,4;5,6"}, "--W2", "--W2: has 3 rows but --b2 (default 2 numbers) has 2 (one bias per output); pass --b2 and --y too"),
    ({"x": "1,2,3", "W1": "1,2;3,4"}, "--W1", "--W1: has 2 columns but --x has 3 numbers (W1 is hidden × inputs)"),
]


# ----------------------------------------------------------------- CLI


def test_cli_json_with_custom_flags(run_cli):
    import json

    result = run_cli(
        "lesson", "backprop", "--x", "1,2", "--y", "1", "--W1", "1,-1;0.5,0.5", "--b1", "0.5,0", "--W2", "2,-1",
        "--b2", "0.25", "--activation", "relu", "--output-activation", "identity", "--param", "W1[1,0]",
        "--format", "json",
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc["outputs"]) == {"hidden", "output", "loss", "grads", "updated"}
    assert set(doc["outputs"]["grads"]) == set(doc["outputs"]["updated"]) == {"W1", "b1", "W2", "b2"}
    assert doc["outputs"]["loss"] == pytest.approx(2.53125)  # as in test_relu_identity_network_exact
    np.testing.assert_allclose(doc["outputs"]["grads"]["W1"], [[0, 0], [2.25, 4.5]], rtol=0, atol=1e-12)
    assert doc["inputs"]["param"] == ["W1[1,0]"]


def test_cli_markdown_has_latex_derivative(run_cli):
    result = run_cli("lesson", "backprop", "--format", "markdown")
    assert result.exit_code == 0, result.stderr
    assert r"\frac{\partial L}{\partial W^{(1)}_{0,1}}" in result.stdout


@pytest.mark.parametrize(
    "module", ["nntutor.core.backprop", "nntutor.symbolic.backprop", "nntutor.walkthroughs.backprop"]
)
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0


def test_default_param_fits_a_smaller_network():
    # 1-1-1, identity, half-sse at x = 1, y = 5: ŷ = 3×(2×1 + 0) + 1 = 7, L = ½(5 − 7)² = 2,
    # δ2 = 2, ∂L/∂W2 = δ2·h = 2×2 = 4, ∂L/∂W1 = W2·δ2·x = 3×2×1 = 6
    trace = run(x="1", y="5", W1="2", b1="0", W2="3", b2="1", activation="relu", output_activation="identity")
    assert trace.inputs["param"] == ["W1[0,0]", "W2[0,0]"]
    assert dict(trace.step("symbolic").value("derivatives").data.rows) == pytest.approx({"W1[0,0]": 6.0, "W2[0,0]": 4.0})
    assert trace.outputs["loss"] == pytest.approx(2.0)


def test_param_parsing_is_linear_and_bounded():
    import time

    start = time.perf_counter()
    for text in ["W1[0,0]" + " " * 150 + "x", "W1[0,0];" * 24 + "?", "W1[٠,٠]"]:
        with pytest.raises(InputError) as info:
            run(param=text)
        assert info.value.flag == "--param"
    with pytest.raises(InputError, match="at most 200"):
        run(param="W1[0,0] " * 40)
    assert time.perf_counter() - start < 5
