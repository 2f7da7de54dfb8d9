"""The backprop-block lesson: by hand, against PyTorch autograd, against finite differences.

Proof for every output (loss, grads: every parameter's gradient, loss_after):
- hand-worked values: a one-token block whose every number can be worked on paper
  (identity weights, x = [1, 3]), and the defaults' shown numbers put through each rule
  (the arithmetic is in the comments);
- PyTorch autograd in float64 at 1e-10 on the defaults and on random inputs, with and
  without the causal mask, with padding, with ReLU and GELU, and with --dy; the SGD
  step and the loss after it recomputed in PyTorch too;
- central finite differences on a few parameters and on x: step H = 1e-6, tolerance
  1e-7 (the central difference's error is O(H²) ≈ 1e-12 plus rounding ≈ 1e-16/H = 1e-10;
  no ReLU input of the default run lies within H of its kink).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import parse_args, prepare, run_lesson
from nntutor.core.block import (
    WEIGHT_SHAPES,
    block_backward,
    random_weights,
    shape_of,
    transformer_block,
    unembed_loss,
)
from nntutor.core.ffn import feed_forward, feed_forward_backward
from nntutor.core.multihead import multi_head_attention, multi_head_backward
from nntutor.quiz.mistakes import Case, alternatives
from nntutor.walkthroughs.backprop_block import PARAMETERS, WALKTHROUGH
from tests.helpers import assert_refused

LESSON = "backprop-block"
OUTPUTS = ("loss", "grads", "loss_after")
KEYS = tuple(key for key, _ in PARAMETERS)  # the 16 block weights and W_U

H = 1e-6  # finite-difference step
FD_TOL = 1e-7  # finite-difference tolerance (absolute)
HAND = 5e-7  # hand-worked values are written to 7 digits

# The identity block of test_transformer_block: one token, d = 2, h = 1, every bias 0, γ = 1, β = 0.
TINY = {"wq": np.eye(2).tolist(), "wk": np.eye(2).tolist(), "wv": np.eye(2).tolist(), "wo": np.eye(2).tolist(),
        "W1": np.eye(2).tolist(), "W2": [[1, 0], [0, 2]]}


def _run(flags=None):
    return run_lesson(load_lesson(LESSON), flags or {})


def _prepared(flags=None):
    lesson = load_lesson(LESSON)
    return prepare(lesson, parse_args(lesson, flags or {}))


def _flag(a) -> str:
    a = np.atleast_2d(np.asarray(a, dtype=np.float64))
    return ";".join(",".join(repr(float(v)) for v in row) for row in a)


def _write(tmp_path, data, name="w.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps({k: np.asarray(v).tolist() for k, v in data.items()}), encoding="utf-8")
    return str(path)


def _tiny(tmp_path, **flags):
    return _run({"x": "1,3", "tokens": "a", "heads": "1", "weights": _write(tmp_path, TINY), **flags})


# --------------------------------------------------------------------------- by hand


def test_one_token_block_by_hand(tmp_path):
    # Forward (ε = 1e-5): x = [1, 3], μ = 2, σ² = 1, σ = √1.00001 = 1.000005, N = LN₁(x) = [−0.999995, 0.999995].
    # One token: its only attention weight is 1, so MHA(N) = N·W_V·W_O = N and h = x + N = [0.000005, 3.999995].
    # LN₂(h): μ = 2, deviations ±1.999995, σ² = 3.99998, σ = √3.99999 = 1.9999975, F = [−0.9999988, 0.9999988].
    # P = F·W₁ = F; ReLU: H = [0, 0.9999988]; FFN = H·diag(1, 2) = [0, 1.9999975]; y = [0.000005, 5.9999925].
    # Backward for dy = [1, 0] (L = y₀ = 0.000005):
    #   ∂L/∂H = dy·W₂ᵀ = [1, 0]; ReLU′(P) = [0, 1] (P₀ < 0), so ∂L/∂P = [0, 0]: nothing goes through the FFN,
    #   ∂L/∂h = ∂L/∂y + 0 = [1, 0]; dW₂ = Hᵀ·dy = [[0, 0], [0.9999988, 0]], db₂ = [1, 0].
    #   Attention: dW_O = Cᵀ·∂L/∂h with C = N: [[−0.999995, 0], [0.999995, 0]]; ∂L/∂C = [1, 0] = dV (weight 1);
    #   dQ = dK = 0 (one key: the softmax is constant), dW_V = Nᵀ·dV = dW_O, ∂L/∂N = dV·W_Vᵀ = [1, 0].
    #   LN₁ backward of g = [1, 0]: mean(g) = 0.5, mean(g ⊙ x̂) = −0.4999975,
    #   (1 − 0.5 − (−0.999995)(−0.4999975))/1.000005 = (0.5 − 0.499995)/1.000005 = 0.000005 (d0), −0.000005 (d1);
    #   exactly: x̂₀ = a/√(a² + ε) with a = (x₀ − x₁)/2 = −1, ∂x̂₀/∂x₀ = ½·ε/(1 + ε)^1.5 = 4.999925e-6.
    #   ∂L/∂x = ∂L/∂h + through = [1 + 0.000005, −0.000005] = [1.000005, −0.000005].
    #   dγ₁ = g ⊙ x̂ = [−0.999995, 0], dβ₁ = g = [1, 0].
    trace = _tiny(tmp_path, dy="1,0")
    out = trace.outputs
    assert out["loss"] == pytest.approx(0.000005, abs=HAND)
    g = out["grads"]
    np.testing.assert_allclose(g["W2"], [[0, 0], [0.9999988, 0]], atol=HAND)
    np.testing.assert_allclose(g["b2"], [1, 0], atol=HAND)
    np.testing.assert_allclose(g["W1"], 0.0, atol=0)
    np.testing.assert_allclose(g["wo"], [[-0.999995, 0], [0.999995, 0]], atol=HAND)
    np.testing.assert_allclose(g["wv"], [[-0.999995, 0], [0.999995, 0]], atol=HAND)
    np.testing.assert_allclose(g["wq"], 0.0, atol=0)
    np.testing.assert_allclose(g["wk"], 0.0, atol=0)
    np.testing.assert_allclose(g["ln1_gamma"], [-0.999995, 0], atol=HAND)
    np.testing.assert_allclose(g["ln1_beta"], [1, 0], atol=HAND)
    np.testing.assert_allclose(trace.step("residual-h").value("∂L/∂h").data, [[1, 0]], atol=HAND)
    dx = trace.step("residual-x").value("∂L/∂x").data
    np.testing.assert_allclose(dx, [[1.000005, -0.000005]], atol=1e-9)
    assert dx[0, 0] - 1 == pytest.approx(4.999925e-6, rel=1e-5)  # the path through LN₁, from the exact form
    assert "wu" not in g  # with --dy there is no unembedding


def test_one_token_unembedding_by_hand(tmp_path):
    # y = [0.000005, 5.9999925] (above); W_U = [[0, 0], [1, 0]] gives z = y·W_U = [5.9999925, 0].
    # p = [1/(1 + e^−5.9999925), …] = [0.9975274, 0.0024726]; target 1: L = −ln 0.0024726 = 6.0024682.
    # ∂L/∂z = p − t = [0.9975274, −0.9975274] (one token, n = 1);
    # dW_U = yᵀ·∂L/∂z = [[0.000005×0.9975, −…], [5.9999925×0.9975274, −…]] = [[0.0000050, −0.0000050], [5.9851567, −5.9851567]];
    # ∂L/∂y = ∂L/∂z·W_Uᵀ = [0·0.9975 + 0·(−0.9975), 1×0.9975274 + 0] = [0, 0.9975274];
    # db₂ = ∂L/∂y = [0, 0.9975274]; ∂L/∂H = ∂L/∂y·W₂ᵀ = [0, 2×0.9975274]; ReLU′ = [0, 1]: dW₁[1,1] = F₁×1.9950547 = 1.9950522.
    trace = _tiny(tmp_path, wu="0,0;1,0", target="1")
    out = trace.outputs
    assert out["loss"] == pytest.approx(6.0024682, abs=HAND)
    np.testing.assert_allclose(out["grads"]["wu"], [[0.0000050, -0.0000050], [5.9851567, -5.9851567]], atol=HAND)
    np.testing.assert_allclose(trace.step("loss").value("∂L/∂y").data, [[0, 0.9975274]], atol=HAND)
    np.testing.assert_allclose(out["grads"]["b2"], [0, 0.9975274], atol=HAND)
    assert out["grads"]["W1"][1, 1] == pytest.approx(0.9999988 * 1.9950547, abs=HAND)
    assert out["loss_after"] < out["loss"]


def test_defaults_by_hand():
    # The defaults are transformer-block's (seed 0 draws the same block weights), W_U drawn next.
    # p (shown in the worked lines): p[The] = [0.2877589, 0.2261450, 0.4860961], p[cat, c2] = 0.7787296,
    # p[sat, c0] = 0.3031492. L = −(ln 0.2261450 + ln 0.7787296 + ln 0.3031492)/3
    #   = (1.4866 + 0.2501 + 1.1935)/3 = 2.9302/3 = 0.9767.
    # ∂L/∂z[The] = (p − t)/3 with t = [0, 1, 0]: [0.0959196, −0.2579517, 0.1620320].
    # ∂L/∂y[The,d0] = ∂L/∂z[The]·W_U[d0,:] = 0.0959196×0.46 − 0.2579517×0.19 + 0.1620320×0.31
    #   = 0.0441230 − 0.0490108 + 0.0502299 = 0.0453421.
    # FFN, hidden unit 0 of The: P = 0.2807 > 0, so ∂L/∂P = ∂L/∂H × 1, with
    #   ∂L/∂H[The,h0] = ∂L/∂y[The]·W₂[h0,:] = 0.0453421×0.28 + 0.265847×0.3 − 0.078291×0.03 + 0.1460464×0.5 = 0.1631244.
    # The fan-in at h: ∂L/∂h[The] = ∂L/∂y[The] + through = [0.0453421, 0.2658470, −0.0782910, −0.1460464]
    #   + [−0.0282098, 0.0425602, 0.0543656, −0.0687160] = [0.0171323, 0.3084072, −0.0239254, −0.2147624].
    # The fan-in at x: ∂L/∂x[The] = ∂L/∂h[The] + [0.0965700, −0.0593040, −0.0965719, 0.0593059]
    #   = [0.1137023, 0.2491032, −0.1204973, −0.1554565].
    # SGD: W_O[0,0] = 0.9 − 0.1×(−0.0357402) = 0.9035740.
    trace = _run()
    out = trace.outputs
    assert out["loss"] == pytest.approx(0.9767334, abs=HAND)
    dy = trace.step("loss").value("∂L/∂y").data
    assert dy[0, 0] == pytest.approx(0.0441230 - 0.0490108 + 0.0502299, abs=HAND)
    assert trace.step("ffn").worked[0].endswith("(-0.0783)×0.03 + (-0.146)×(-0.5) = 0.1631")
    assert "∂L/∂P[The,h0] = ∂L/∂H × ReLU′(P) = 0.1631×ReLU′(0.2807) = 0.1631×1 = 0.1631" in trace.step("ffn").worked
    np.testing.assert_allclose(trace.step("residual-h").value("∂L/∂h").data[0], [0.0171323, 0.3084072, -0.0239254, -0.2147624], atol=HAND)
    np.testing.assert_allclose(trace.step("residual-x").value("∂L/∂x").data[0], [0.1137023, 0.2491032, -0.1204973, -0.1554565], atol=HAND)
    assert out["grads"]["wo"][0, 0] == pytest.approx(-0.0357402, abs=HAND)
    assert trace.inputs["wo"][0, 0] - 0.1 * out["grads"]["wo"][0, 0] == pytest.approx(0.9035740, abs=HAND)
    assert "L = −(ln 0.2261 + ln 0.7787 + ln 0.3031) / 3 = 0.9767" in trace.step("loss").worked
    # A key bias moves every score of a row by the same amount: softmax ignores it, so ∂L/∂b_K = 0 (to rounding).
    np.testing.assert_allclose(out["grads"]["bk"], 0.0, atol=1e-15)
    assert out["loss_after"] == pytest.approx(0.7703868, abs=HAND)


def test_the_loss_goes_down_after_one_step():
    for flags in ({}, {"causal": True}, {"activation": "gelu"}, {"padding": "1,1,0"}, {"seed": "5", "causal": True},
                  {"dy": "1,0,0,0;0,1,0,0;0,0,1,0"}):
        out = _run(flags).outputs
        assert out["loss_after"] < out["loss"], flags
    trace = _run({"lr": "5"})
    assert trace.outputs["loss_after"] > trace.outputs["loss"]
    assert any("did not go down" in w for w in trace.step("update").warnings)


def test_first_order_estimate_of_the_decrease():
    # ΔL ≈ −lr·Σ‖∂L/∂w‖²: for a tiny step the measured change agrees to first order.
    out = _run({"lr": "0.0001"}).outputs
    squares = sum(float(np.sum(g * g)) for g in out["grads"].values())
    assert (out["loss_after"] - out["loss"]) / (-1e-4 * squares) == pytest.approx(1.0, abs=1e-3)


def test_every_gradient_has_the_shape_of_its_parameter():
    trace = _run({"x": "1,0,2,0,1,1;0,1,1,0,0,2;1,1,0,1,0,0;2,0,1,1,1,0", "heads": "3", "d-ff": "5", "vocab": "7"})
    grads, inputs = trace.outputs["grads"], trace.inputs
    assert tuple(grads) == KEYS
    for key, grad in grads.items():
        assert grad.shape == np.shape(inputs[key]), key
    assert grads["W1"].shape == shape_of("W1", 6, 5) == (6, 5)
    assert grads["wu"].shape == (6, 7)
    for step_id, name in (("loss", "∂L/∂y"), ("residual-h", "∂L/∂h"), ("residual-x", "∂L/∂x")):
        assert trace.step(step_id).value(name).data.shape == (4, 6)
    assert inputs["drawn"] == ["wu", "target"]  # the default targets fit 3 tokens, not 4
    assert any("drawn" in w for w in trace.warnings)


def test_the_json_names_the_outputs_of_the_issue(run_cli):
    result = run_cli("lesson", LESSON, "--format", "json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)["outputs"]
    assert list(out) == list(OUTPUTS)
    assert list(out["grads"]) == list(KEYS)
    assert np.shape(out["grads"]["W1"]) == (4, 8)


# --------------------------------------------------------------------------- PyTorch autograd


def _torch_block(torch, x, w, *, heads, norm="pre", causal=False, activation="relu", padding=None, eps=1e-5):
    """The block written with PyTorch's own operations: (leaf parameters, leaf X, Y)."""
    F = torch.nn.functional
    P = {k: torch.tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for k, v in w.items()}
    X = torch.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    n, d = X.shape
    dh = d // heads
    allowed = torch.ones(n, n, dtype=torch.bool)
    if causal:
        allowed &= torch.ones(n, n, dtype=torch.bool).tril()
    if padding is not None:
        allowed &= torch.tensor(np.asarray(padding) != 0)[None, :]
    empty = ~allowed.any(dim=1)

    def mha(a):
        q, k, v = a @ P["wq"] + P["bq"], a @ P["wk"] + P["bk"], a @ P["wv"] + P["bv"]
        outs = []
        for i in range(heads):
            c = slice(i * dh, (i + 1) * dh)
            s = (q[:, c] @ k[:, c].T / math.sqrt(dh)).masked_fill(~allowed, float("-inf")).masked_fill(empty[:, None], 0.0)
            outs.append((torch.softmax(s, dim=-1) * (~empty)[:, None]) @ v[:, c])  # a query with no key: weights 0
        return torch.cat(outs, dim=1) @ P["wo"] + P["bo"]

    def ffn(a):
        hidden = a @ P["W1"] + P["b1"]
        return (F.relu(hidden) if activation == "relu" else F.gelu(hidden)) @ P["W2"] + P["b2"]

    def ln(v, which):
        return F.layer_norm(v, (d,), P[f"ln{which}_gamma"], P[f"ln{which}_beta"], eps)

    if norm == "pre":
        h = X + mha(ln(X, 1))
        y = h + ffn(ln(h, 2))
    else:
        h = ln(X + mha(X), 1)
        y = ln(h + ffn(h), 2)
    return P, X, y


def _torch_lesson(torch, inputs: dict, lr: float):
    """loss, every gradient and the loss after one SGD step, by autograd, from a run's recorded inputs."""
    block = {key: inputs[key] for key in WEIGHT_SHAPES}
    padding = inputs.get("padding")
    options = dict(heads=inputs["heads"], causal=inputs["causal"], activation=inputs["activation"], padding=padding)

    def loss_of(weights, wu):
        P, X, Y = _torch_block(torch, inputs["x"], weights, **options)
        if "dy" in inputs:
            return P, None, (Y * torch.tensor(inputs["dy"])).sum()
        WU = torch.tensor(np.asarray(wu, dtype=np.float64), requires_grad=True)
        logits = Y @ WU
        keep = torch.ones(len(inputs["target"]), dtype=torch.bool) if padding is None else torch.tensor(np.asarray(padding) != 0)
        target = torch.tensor(np.asarray(inputs["target"], dtype=np.int64))
        return P, WU, torch.nn.functional.cross_entropy(logits[keep], target[keep])

    P, WU, L = loss_of(block, inputs.get("wu"))
    L.backward()
    grads = {key: t.grad.numpy() for key, t in P.items()}
    if WU is not None:
        grads["wu"] = WU.grad.numpy()
    with torch.no_grad():
        after = {key: (P[key] - lr * P[key].grad).numpy() for key in P}
        wu_after = None if WU is None else (WU - lr * WU.grad).numpy()
    _, _, L_after = loss_of(after, wu_after)
    return float(L.detach()), grads, float(L_after.detach())


def _assert_matches_torch(torch, trace, tol=1e-10):
    loss, grads, loss_after = _torch_lesson(torch, trace.inputs, trace.inputs["lr"])
    out = trace.outputs
    assert abs(out["loss"] - loss) <= tol
    assert set(out["grads"]) == set(grads)
    for key in grads:
        np.testing.assert_allclose(out["grads"][key], grads[key], rtol=0, atol=tol, err_msg=key)
    assert abs(out["loss_after"] - loss_after) <= tol
    return max(
        [abs(out["loss"] - loss), abs(out["loss_after"] - loss_after)]
        + [float(np.max(np.abs(out["grads"][key] - grads[key]))) for key in grads]
    )


@pytest.mark.parametrize(
    "flags",
    [{}, {"causal": True}, {"activation": "gelu"}, {"causal": True, "activation": "gelu"},
     {"causal": True, "padding": "0,1,1"}, {"padding": "1,0,1"}, {"dy": "0.5,-1,0,2;1,0,0,0;0,0,-1,1"},
     {"dy": "1,0,0,0;0,1,0,0;0,0,1,0", "padding": "0,0,0"}],
    ids=["relu", "causal", "gelu", "causal+gelu", "causal+padding", "padding", "dy", "dy+all-padding"],
)
def test_defaults_against_torch(torch, flags):
    _assert_matches_torch(torch, _run(flags))


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_random_lesson_runs_against_torch(torch, causal, activation):
    rng = np.random.default_rng(100 + 2 * causal + (activation == "gelu"))
    for trial in range(5):
        heads = int(rng.integers(1, 4))
        n, d = int(rng.integers(1, 6)), heads * int(rng.integers(1, 3))
        vocab = int(rng.integers(2, 6))
        flags = {
            "x": _flag(rng.normal(size=(n, d))), "heads": str(heads), "d-ff": str(int(rng.integers(1, 9))),
            "seed": str(int(rng.integers(0, 1000))), "wu": _flag(rng.normal(size=(d, vocab))),
            "target": ",".join(str(int(t)) for t in rng.integers(0, vocab, size=n)),
            "activation": activation, "causal": causal, "lr": "0.05",
        }
        if trial % 2:
            padding = rng.integers(0, 2, size=n)
            padding[rng.integers(0, n)] = 1  # at least one token in the loss
            flags["padding"] = ",".join(str(int(v)) for v in padding)
        _assert_matches_torch(torch, _run(flags))


def test_unrounded_weights_from_a_file_against_torch(torch, tmp_path):
    rng = np.random.default_rng(7)
    for trial, (n, d, heads, d_ff) in enumerate([(4, 4, 2, 6), (5, 6, 3, 3), (2, 3, 1, 4)]):
        weights = {key: value + rng.normal(0, 0.3, size=value.shape) for key, value in random_weights(rng, d, d_ff).items()}
        flags = {"x": _flag(rng.normal(size=(n, d))), "heads": str(heads), "weights": _write(tmp_path, weights, f"w{trial}.json"),
                 "causal": bool(trial % 2), "activation": ("relu", "gelu")[trial % 2]}
        if trial == 1:
            flags["dy"] = _flag(rng.normal(size=(n, d)))
        trace = _run(flags)
        np.testing.assert_array_equal(trace.inputs["W1"], weights["W1"])
        _assert_matches_torch(torch, trace)


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_core_block_backward_against_torch(torch, norm):
    """block_backward on its own (post-norm too, which the lesson does not show), masks and biases included."""
    rng = np.random.default_rng(3 if norm == "pre" else 4)
    for trial in range(6):
        heads = int(rng.integers(1, 3))
        n, d, d_ff = int(rng.integers(1, 6)), 2 * heads, int(rng.integers(1, 7))
        w = {key: value + rng.normal(0, 0.3, size=value.shape) for key, value in random_weights(rng, d, d_ff).items()}
        x, dy = rng.normal(size=(n, d)), rng.normal(size=(n, d))
        padding = rng.integers(0, 2, size=n).astype(float) if trial % 3 == 0 else None
        causal, activation = bool(trial % 2), ("relu", "gelu")[(trial // 2) % 2]
        r = transformer_block(x, w, heads=heads, norm=norm, causal=causal, activation=activation, key_padding=padding)
        g = block_backward(r, w, dy)
        P, X, Y = _torch_block(torch, x, w, heads=heads, norm=norm, causal=causal, activation=activation, padding=padding)
        np.testing.assert_allclose(r.y, Y.detach().numpy(), rtol=0, atol=1e-12)
        (Y * torch.tensor(dy)).sum().backward()
        np.testing.assert_allclose(g.dx, X.grad.numpy(), rtol=0, atol=1e-10)
        for key in WEIGHT_SHAPES:
            np.testing.assert_allclose(g.grads[key], P[key].grad.numpy(), rtol=0, atol=1e-10, err_msg=key)
        np.testing.assert_allclose(g.dh, g.dh_around + g.dh_through, atol=0)
        np.testing.assert_allclose(g.dx, g.dx_around + g.dx_through, atol=0)


def test_core_ffn_and_multi_head_backward_against_torch(torch):
    rng = np.random.default_rng(9)
    x, w1, b1, w2, b2 = rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 5)), rng.normal(size=5), rng.normal(size=(5, 4)), rng.normal(size=4)
    dy = rng.normal(size=(2, 3, 4))  # two sequences of three tokens: weight gradients add over both
    g = feed_forward_backward(feed_forward(x, w1, b1, w2, b2, "gelu"), dy)
    T = [torch.tensor(a, requires_grad=True) for a in (x, w1, b1, w2, b2)]
    ((torch.nn.functional.gelu(T[0] @ T[1] + T[2]) @ T[3] + T[4]) * torch.tensor(dy)).sum().backward()
    for ours, ref in zip((g.dx, g.dw1, g.db1, g.dw2, g.db2), T, strict=True):
        np.testing.assert_allclose(ours, ref.grad.numpy(), rtol=0, atol=1e-10)

    n, d, heads = 4, 6, 3
    x = rng.normal(size=(n, d))
    wq, wk, wv, wo = (rng.normal(size=(d, d)) for _ in range(4))
    dout = rng.normal(size=(n, d))
    r = multi_head_attention(x, wq, wk, wv, wo, heads=heads, causal=True, key_padding=[1, 1, 0, 1])
    m = multi_head_backward(r, dout, wq, wk, wv)
    w = {"wq": wq, "wk": wk, "wv": wv, "wo": wo, **{k: np.zeros(d) for k in ("bq", "bk", "bv", "bo")}}
    P = {k: torch.tensor(v, requires_grad=True) for k, v in w.items()}
    X = torch.tensor(x, requires_grad=True)
    allowed = torch.ones(n, n, dtype=torch.bool).tril() & torch.tensor([True, True, False, True])[None, :]
    outs = []
    for i in range(heads):
        c = slice(2 * i, 2 * i + 2)
        s = ((X @ P["wq"])[:, c] @ (X @ P["wk"])[:, c].T / math.sqrt(2)).masked_fill(~allowed, float("-inf"))
        outs.append(torch.softmax(s, dim=-1) @ (X @ P["wv"])[:, c])
    ((torch.cat(outs, dim=1) @ P["wo"]) * torch.tensor(dout)).sum().backward()
    for ours, key in ((m.projections.dwq, "wq"), (m.projections.dwk, "wk"), (m.projections.dwv, "wv"), (m.dwo, "wo")):
        np.testing.assert_allclose(ours, P[key].grad.numpy(), rtol=0, atol=1e-10, err_msg=key)
    np.testing.assert_allclose(m.dx, X.grad.numpy(), rtol=0, atol=1e-10)


# --------------------------------------------------------------------------- finite differences


def _fd_loss(inputs, weights, wu=None, x=None) -> float:
    r = transformer_block(inputs.x if x is None else x, weights, heads=inputs.heads, norm="pre", causal=inputs.causal,
                          activation=inputs.activation, key_padding=inputs.padding)
    return unembed_loss(r.y, inputs.wu if wu is None else wu, inputs.targets).loss


def _central(f, a: np.ndarray) -> np.ndarray:
    grad = np.zeros_like(a)
    for index in np.ndindex(a.shape):
        plus, minus = a.copy(), a.copy()
        plus[index] += H
        minus[index] -= H
        grad[index] = (f(plus) - f(minus)) / (2 * H)
    return grad


@pytest.mark.parametrize("flags", [{}, {"causal": True, "activation": "gelu"}], ids=["relu", "causal+gelu"])
def test_central_finite_differences(flags):
    inputs = _prepared(flags).inputs
    trace = _run(flags)
    grads = trace.outputs["grads"]
    w = inputs.weights
    for key in ("W1", "wo", "wq", "ln1_gamma", "ln2_beta", "bv"):
        fd = _central(lambda a, key=key: _fd_loss(inputs, {**w, key: a}), w[key])
        np.testing.assert_allclose(grads[key], fd, rtol=0, atol=FD_TOL, err_msg=key)
    np.testing.assert_allclose(grads["wu"], _central(lambda a: _fd_loss(inputs, w, wu=a), inputs.wu), rtol=0, atol=FD_TOL)
    fd_x = _central(lambda a: _fd_loss(inputs, w, x=a), inputs.x)
    np.testing.assert_allclose(trace.step("residual-x").value("∂L/∂x").data, fd_x, rtol=0, atol=FD_TOL)


# --------------------------------------------------------------------------- masks


def test_a_fully_masked_query_gets_zero_gradient_not_nan():
    # causal + token 0 padded: query 0 ('The') may see only key 0, which is padding: no key at all.
    trace = _run({"causal": True, "padding": "0,1,1"})
    for key, grad in trace.outputs["grads"].items():
        assert np.all(np.isfinite(grad)), key
    assert any("not NaN" in w for w in trace.step("attention").warnings)
    g = _run_grads({"causal": True, "padding": "0,1,1"})
    for head in g.mha.heads:
        assert np.all(head.forward.weights[0] == 0) and np.all(head.dq[0] == 0) and np.all(head.dscaled[0] == 0)
        assert np.all(head.dscaled[:, 0] == 0)  # the padded key: zero gradient for every query
    # 'The' is padding and out of the loss, and no query sees it: it gets no gradient at all
    assert np.all(trace.step("residual-x").value("∂L/∂x").data[0] == 0)
    # every token padding (possible with --dy): every query is fully masked
    trace = _run({"dy": "1,0,0,0;0,1,0,0;0,0,1,0", "padding": "0,0,0"})
    assert all(np.all(np.isfinite(grad)) for grad in trace.outputs["grads"].values())
    assert np.all(trace.outputs["grads"]["wq"] == 0) and np.all(trace.outputs["grads"]["wk"] == 0)


def _run_grads(flags):
    from nntutor.walkthroughs.backprop_block import compute

    return compute(_prepared(flags).inputs).g


# --------------------------------------------------------------------------- known mistakes


def _case(flags, step, value, index):
    prepared = _prepared(flags)
    return Case(prepared, prepared.build(), step, value, index)


def _mistakes(case) -> dict[str, float]:
    return {m.id: v for m, v in alternatives(WALKTHROUGH.mistakes, case)}


def test_mistakes_recomputed_on_the_hand_worked_case():
    # At h, row The, d0 (test_defaults_by_hand): around = ∂L/∂y = 0.0453421, through = −0.0282098, sum 0.0171323.
    found = _mistakes(_case({}, "residual-h", "∂L/∂h", (0, 0)))
    assert found["residual-not-passed-around"] == pytest.approx(-0.0282098, abs=HAND)  # through only
    assert found["sublayer-path-dropped"] == pytest.approx(0.0453421, abs=HAND)  # around only
    # LN₂ with its direct path only: γ₂ ⊙ ∂L/∂F / σ = 1.18 × 0.0012012 / 0.2788743 = 0.0050826,
    # so ∂L/∂h = 0.0453421 + 0.0050826 = 0.0504247.
    assert found["layernorm-direct-only"] == pytest.approx(0.0453421 + 1.18 * 0.0012012 / 0.2788743, abs=HAND)
    # ∂L/∂z = p − t without ÷3: every gradient below is 3 times too big, 3 × 0.0171323 = 0.0513969.
    assert found["mean-not-divided"] == pytest.approx(3 * 0.0171323, abs=2 * HAND)
    assert "activation-not-derivative" in found
    # At x, row The, d0: around = ∂L/∂h = 0.0171323, through LN₁ and attention = 0.0965700.
    found = _mistakes(_case({}, "residual-x", "∂L/∂x", (0, 0)))
    assert found["residual-not-passed-around"] == pytest.approx(0.0965700, abs=HAND)
    assert found["sublayer-path-dropped"] == pytest.approx(0.0171323, abs=HAND)
    # ∂L/∂y[The,d0] without the mean: 3 × 0.0453421 = 0.1360263.
    found = _mistakes(_case({}, "loss", "∂L/∂y", (0, 0)))
    assert found == {"mean-not-divided": pytest.approx(0.1360263, abs=2 * HAND)}
    # with --dy there is no mean to forget
    assert "mean-not-divided" not in _mistakes(_case({"dy": "1,0,0,0;0,1,0,0;0,0,1,0"}, "residual-h", "∂L/∂h", (0, 0)))


def test_the_activation_mistake_against_torch(torch):
    """f(P) in place of f′(P) is the backward of an activation whose derivative is ReLU: ReLU(P)²/2.

    With ∂L/∂y held fixed (L = Σ y ⊙ dy) and everything before the FFN unchanged, autograd on
    that block gives the mistaken ∂L/∂h and ∂L/∂x.
    """
    trace = _run()
    i = trace.inputs
    dy = trace.step("loss").value("∂L/∂y").data
    w = {key: i[key] for key in WEIGHT_SHAPES}
    P = {k: torch.tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for k, v in w.items()}
    X = torch.tensor(i["x"], requires_grad=True)
    F = torch.nn.functional
    ln1 = F.layer_norm(X, (4,), P["ln1_gamma"], P["ln1_beta"], 1e-5)
    q, k, v = ln1 @ P["wq"] + P["bq"], ln1 @ P["wk"] + P["bk"], ln1 @ P["wv"] + P["bv"]
    heads = [torch.softmax(q[:, c] @ k[:, c].T / math.sqrt(2), dim=-1) @ v[:, c] for c in (slice(0, 2), slice(2, 4))]
    h = X + torch.cat(heads, dim=1) @ P["wo"] + P["bo"]
    h.retain_grad()
    hidden = F.layer_norm(h, (4,), P["ln2_gamma"], P["ln2_beta"], 1e-5) @ P["W1"] + P["b1"]
    y = h + (F.relu(hidden) ** 2 / 2) @ P["W2"] + P["b2"]
    (y * torch.tensor(dy)).sum().backward()
    for step_id, name, ref in (("residual-h", "∂L/∂h", h.grad), ("residual-x", "∂L/∂x", X.grad)):
        found = _mistakes(_case({}, step_id, name, (1, 2)))
        assert found["activation-not-derivative"] == pytest.approx(float(ref[1, 2]), abs=1e-10)


def test_a_wrong_quiz_answer_is_named():
    from nntutor.quiz.questions import numeric_question
    from nntutor.walkthroughs._declare import Target

    lesson = load_lesson(LESSON)
    for seed in range(6):
        question = numeric_question(lesson, np.random.default_rng(seed), Target("residual-h", "∂L/∂h"))
        assert question is not None
        ids = {mistake_id: value for mistake_id, _, value in question.mistakes}
        if "residual-not-passed-around" in ids:
            assert question.diagnose(ids["residual-not-passed-around"])[0] == "residual-not-passed-around"
            assert question.judge(question.expected) and question.diagnose(question.expected) is None
            return
    pytest.fail("no quiz run offered the residual-not-passed-around mistake")


# --------------------------------------------------------------------------- refusals


DY = "1,0,0,0;0,1,0,0;0,0,1,0"
BAD_INPUTS = [
    ({"dy": "1,0;0,1"}, "--dy", "--dy: expected a 3×4 matrix, the shape of y"),
    ({"dy": "1,0,0,0;0,1,0,0"}, "--dy", "got 2×4"),
    ({"dy": "1,nan,0,0;0,1,0,0;0,0,1,0"}, "--dy", "NaN and infinity are refused"),
    ({"dy": "1,inf,0,0;0,1,0,0;0,0,1,0"}, "--dy", "NaN and infinity are refused"),
    ({"dy": DY, "target": "0,1,2"}, "--target", "--target: cannot be combined with --dy"),
    ({"dy": DY, "wu": "1,0;0,1;1,1;0,0"}, "--wu", "--wu: cannot be combined with --dy"),
    ({"dy": DY, "vocab": "4"}, "--vocab", "--vocab: cannot be combined with --dy"),
    ({"target": "1,2"}, "--target", "--target: expected 3 class indices, one per row of --x, got 2"),
    ({"target": "1,3,0"}, "--target", "3 is outside the vocabulary: expected 0 to 2 (--vocab 3)"),
    ({"target": "-1,0,0"}, "--target", "-1 is outside the vocabulary"),
    ({"target": "1,0.5,0"}, "--target", "0.5 is not a class index"),
    ({"wu": "1,0;0,1;1,1;0,0", "target": "1,2,0"}, "--target", "expected 0 to 1 (the columns of --wu)"),
    ({"wu": "1,0;0,1"}, "--wu", "--wu: expected 4 rows (d, the width of --x), got 2"),
    ({"wu": "1,0,0;0,1,0;0,0,1;1,1,1", "vocab": "5"}, "--vocab", "--vocab: cannot be combined with --wu"),
    ({"vocab": "1"}, "--vocab", "at least 2"),
    ({"vocab": "100000000"}, "--vocab", "GB of memory"),
    ({"d-ff": "10000000"}, "--d-ff", "GB of memory"),
    ({"padding": "1,0"}, "--padding", "--padding: expected 3 values"),
    ({"padding": "1,2,1"}, "--padding", "only 0"),
    ({"padding": "0,0,0"}, "--padding", "every token is padding"),
    ({"heads": "3"}, "--heads", "not divisible by h = 3"),
    ({"tokens": "a,b"}, "--tokens", "--tokens: expected 3 names"),
    ({"x": "1,0,1,0;0,2,0,1;1,1,0,1;0,0,0,1", "target": "1,2,0"}, "--target", "expected 4 class indices"),
]


def test_refusals_through_the_cli(run_cli):
    line = assert_refused(run_cli("lesson", LESSON, "--dy", "1,0;0,1"), "--dy", "expected a 3×4 matrix")
    assert line.startswith("error: --dy: ")
    assert_refused(run_cli("lesson", LESSON, "--target", "1,5,0"), "--target", "5 is outside the vocabulary")


def test_weights_file_and_d_ff_are_refused_together(tmp_path, run_cli):
    path = _write(tmp_path, TINY)
    assert_refused(run_cli("lesson", LESSON, "--x", "1,3", "--heads", "1", "--weights", path, "--d-ff", "4"),
                   "--d-ff: cannot be combined with --weights")
    assert_refused(run_cli("lesson", LESSON, "--weights", path), "--weights", "key 'wq'")  # 2×2 weights, d = 4


# --------------------------------------------------------------------------- on screen


def test_readable_at_80_columns(run_cli, monkeypatch):
    from rich.cells import cell_len

    monkeypatch.setenv("COLUMNS", "80")
    result = run_cli("lesson", LESSON)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(result.stdout.split("\nWhat next")[0].splitlines()) <= 160  # the lesson, before its closing pointers
    assert max(cell_len(line) for line in lines) <= 80
    text = result.stdout
    for internal in ("dh_through", "dx_around", "dresidual", "dhidden", "dconcat", "grad_", "dwo", "L_after"):
        assert internal not in text
    assert "Every gradient has the shape of what it is the gradient of" in text.replace("\n", " ")
    result_section = text.split("Result ─")[1]
    assert "L before = 0.9767" in result_section and "L after = 0.7704" in result_section
    assert "γ₁" in result_section and "ln1_gamma" not in result_section  # the gradients, named as in the steps


@pytest.mark.parametrize("module", ["nntutor.core.block", "nntutor.core.ffn", "nntutor.core.multihead", "nntutor.walkthroughs.backprop_block"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0
