"""backprop-layernorm: hand-worked gradients, PyTorch autograd, finite differences, sympy, refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nntutor.catalog.lessonfile import check_all, load_lesson
from nntutor.catalog.run import parse_args, prepare, run_lesson
from nntutor.core.layernorm import layer_norm, layer_norm_backward, layer_norm_paths
from nntutor.errors import InputError
from nntutor.quiz import mistakes
from nntutor.quiz import questions as quiz
from tests.helpers import assert_refused, flags_to_argv

LESSON = "backprop-layernorm"
OUTPUTS = ("grad_x", "grad_gamma", "grad_beta")


def run(**flags):
    return run_lesson(load_lesson(LESSON), {k.replace("_", "-"): v for k, v in flags.items()})


def js(array) -> str:
    """A flag value that parses back to exactly these floats."""
    return json.dumps(np.asarray(array).tolist())


def step_value(trace, step, value):
    return np.asarray(trace.step(step).value(value).data)


# ----------------------------------------------------------------- hand-worked (the defaults)
#
# x = [[1, 2, 3, 4], [3, 1, 0, 4]], ∂L/∂y = [[0.1, −0.3, 0.2, 0.4], [0.5, 0, −0.1, 0.1]],
# γ = [1, 0.5, 2, 1], β = 0, ε = 1e-5.
#
# Row t0: μ = 10/4 = 2.5, x − μ = [−1.5, −0.5, 0.5, 1.5], σ² = 5/4 = 1.25,
#   σ_ε = √1.25001 = 1.1180384, x̂ = (x − μ)/σ_ε = [−1.3416355, −0.4472118, 0.4472118, 1.3416355].
# Row t1: μ = 8/4 = 2, x − μ = [1, −1, −2, 2], σ² = 10/4 = 2.5,
#   σ_ε = √2.50001 = 1.5811420, x̂ = [0.6324543, −0.6324543, −1.2649085, 1.2649085].
# ∂L/∂β = column sums of ∂L/∂y = [0.1 + 0.5, −0.3 + 0, 0.2 − 0.1, 0.4 + 0.1] = [0.6, −0.3, 0.1, 0.5].
# ∂L/∂γ = column sums of ∂L/∂y ⊙ x̂:
#   0.1×(−1.3416355) + 0.5×0.6324543 = −0.1341636 + 0.3162272 = 0.1820636
#   (−0.3)×(−0.4472118) + 0 = 0.1341635
#   0.2×0.4472118 + (−0.1)×(−1.2649085) = 0.0894424 + 0.1264909 = 0.2159332
#   0.4×1.3416355 + 0.1×1.2649085 = 0.5366542 + 0.1264909 = 0.6631450
# ∂L/∂x̂ = γ ⊙ ∂L/∂y: t0 = [0.1, −0.15, 0.4, 0.4], t1 = [0.5, 0, −0.2, 0.1].
# Row t0, path 1 (direct): ∂L/∂x̂ / 1.1180384 = [0.0894424, −0.1341635, 0.3577697, 0.3577697].
# Row t0, path 2: Σ ∂L/∂x̂ᵢ(xᵢ − μ) = −0.15 + 0.075 + 0.2 + 0.6 = 0.725;
#   (σ² + ε)^1.5 = 1.25001 × 1.1180384 = 1.3975592; ∂L/∂σ² = −½ × 0.725 / 1.3975592 = −0.2593808;
#   × 2(xᵢ − μ)/4 = × [−0.75, −0.25, 0.25, 0.75] → [0.1945356, 0.0648452, −0.0648452, −0.1945356].
# Row t0, path 3: Σ ∂L/∂x̂ᵢ = 0.75, Σ(xᵢ − μ) = 0, ∂L/∂μ = −0.75 / 1.1180384 = −0.6708177;
#   ÷ 4 → −0.1677044 for every feature.
# Row t0, ∂L/∂x = sum of the paths:
#   0.0894424 + 0.1945356 − 0.1677044 = 0.1162736
#   −0.1341635 + 0.0648452 − 0.1677044 = −0.2370227
#   0.3577697 − 0.0648452 − 0.1677044 = 0.1252201
#   0.3577697 − 0.1945356 − 0.1677044 = −0.0044703   (the row adds up to 0)
# Closed form, t0 x0: mean(∂L/∂x̂) = 0.75/4 = 0.1875; mean(∂L/∂x̂ ⊙ x̂) =
#   (−0.1341636 + 0.0670818 + 0.1788847 + 0.5366542)/4 = 0.6484571/4 = 0.1621143;
#   (0.1 − 0.1875 + 1.3416355×0.1621143)/1.1180384 = 0.1299983/1.1180384 = 0.1162736.
# Row t1, ∂L/∂σ²: Σ ∂L/∂x̂ᵢ(xᵢ − μ) = 0.5 + 0 + 0.4 + 0.2 = 1.1; 2.50001^1.5 = 3.9528590;
#   −½ × 1.1 / 3.9528590 = −0.1391394.

HAND = 1e-6  # the hand-worked values above carry 7 decimals


def test_default_by_hand():
    trace = run()
    out = trace.outputs
    np.testing.assert_allclose(step_value(trace, "forward", "row statistics"), [[2.5, 2.0], [1.1180384, 1.5811420]], atol=HAND)
    np.testing.assert_allclose(
        step_value(trace, "forward", "x̂"),
        [[-1.3416355, -0.4472118, 0.4472118, 1.3416355], [0.6324543, -0.6324543, -1.2649085, 1.2649085]],
        atol=HAND,
    )
    np.testing.assert_allclose(out["grad_beta"], [0.6, -0.3, 0.1, 0.5], atol=1e-15)
    np.testing.assert_allclose(out["grad_gamma"], [0.1820636, 0.1341635, 0.2159332, 0.6631450], atol=HAND)
    np.testing.assert_allclose(step_value(trace, "dxhat", "∂L/∂x̂"), [[0.1, -0.15, 0.4, 0.4], [0.5, 0, -0.2, 0.1]], atol=1e-15)
    np.testing.assert_allclose(step_value(trace, "direct", "dx₁")[0], [0.0894424, -0.1341635, 0.3577697, 0.3577697], atol=HAND)
    np.testing.assert_allclose(step_value(trace, "variance", "∂L/∂σ²"), [-0.2593808, -0.1391394], atol=HAND)
    np.testing.assert_allclose(step_value(trace, "variance", "dx₂")[0], [0.1945356, 0.0648452, -0.0648452, -0.1945356], atol=HAND)
    assert step_value(trace, "mean", "∂L/∂μ")[0] == pytest.approx(-0.6708177, abs=HAND)
    np.testing.assert_allclose(step_value(trace, "mean", "dx₃")[0], [-0.1677044] * 4, atol=HAND)
    np.testing.assert_allclose(out["grad_x"][0], [0.1162736, -0.2370227, 0.1252201, -0.0044703], atol=HAND)
    assert out["grad_x"].shape == (2, 4) and out["grad_gamma"].shape == out["grad_beta"].shape == (4,)
    assert out["grad_x"][0].sum() == pytest.approx(0, abs=1e-15)
    assert step_value(trace, "sum", "difference") < 1e-15  # closed form = sum of the paths


def test_default_worked_lines_by_hand():
    trace = run()
    assert "t0: μ = (1 + 2 + 3 + 4) / 4 = 2.5;  σ² = (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25" in trace.step("forward").worked
    assert trace.step("params").worked[0].startswith("∂L/∂β0 = 0.1 + 0.5 = 0.6;  ∂L/∂γ0 = 0.1×(-1.3416) + 0.5×0.6325 = 0.1821")
    assert "t0: 1×0.1 = 0.1, 0.5×(-0.3) = -0.15, 2×0.2 = 0.4, 1×0.4 = 0.4" in trace.step("dxhat").worked
    variance = trace.step("variance").worked
    assert variance[0].endswith("0.1×(-1.5) + (-0.15)×(-0.5) + 0.4×0.5 + 0.4×1.5 = 0.725")
    assert variance[1] == "t0: ∂L/∂σ² = −½ × 0.725 / 1.118³ = −½ × 0.725 / 1.3976 = -0.2594"
    assert "t0: ∂L/∂μ = −0.75 / 1.118 + (-0.2594) × (−2/4) × 0 = -0.6708" in trace.step("mean").worked
    summed = trace.step("sum").worked
    assert summed[0] == "t0: ∂L/∂x0 = 0.0894 + 0.1945 + (-0.1677) = 0.1163"
    assert summed[2] == "t0: closed form: (0.1 − 0.1875 − (-1.3416)×0.1621) / 1.118 = 0.1163"


def test_one_vector_by_hand():
    # x = [1, 2, 4]: μ = 7/3, x − μ = [−4/3, −1/3, 5/3], σ² = (16 + 1 + 25)/9/3 = 14/9 = 1.5555556,
    # σ_ε = √1.5555656 = 1.2472231, x̂ = [−1.0690415, −0.2672604, 1.3363019].
    # γ = 1, ∂L/∂y = [1, 0, 0]: ∂L/∂x̂ = [1, 0, 0]; mean(∂L/∂x̂) = 1/3, mean(∂L/∂x̂ ⊙ x̂) = −1.0690415/3 = −0.3563472;
    # ∂L/∂x0 = (1 − 1/3 − (−1.0690415)(−0.3563472))/1.2472231 = (0.6666667 − 0.3809499)/1.2472231 = 0.2290823
    # ∂L/∂x1 = (0 − 1/3 − (−0.2672604)(−0.3563472))/1.2472231 = (−0.3333333 − 0.0952375)/1.2472231 = −0.3436200
    trace = run(x="1,2,4", dy="1,0,0", gamma="1,1,1")
    out = trace.outputs
    assert out["grad_x"].shape == (3,)
    np.testing.assert_allclose(out["grad_x"][:2], [0.2290823, -0.3436200], atol=HAND)
    np.testing.assert_allclose(out["grad_beta"], [1, 0, 0], atol=0)
    np.testing.assert_allclose(out["grad_gamma"], [-1.0690415, 0, 0], atol=HAND)
    assert trace.step("variance").value("∂L/∂σ²").kind == "scalar"


def test_residual_passes_the_gradient_to_x_unchanged():
    plain = run(x="1,2,4", dy="0.1,-0.3,0.2")
    added = run(x="1,1,3", dy="0.1,-0.3,0.2", residual="0,1,1")  # s = [1, 2, 4] as above
    np.testing.assert_array_equal(added.outputs["grad_x"], plain.outputs["grad_x"])
    assert added.steps[-1].id == "residual"
    np.testing.assert_array_equal(step_value(added, "sum", "∂L/∂s"), added.outputs["grad_x"])
    np.testing.assert_array_equal(added.inputs["residual"], [0, 1, 1])


# ----------------------------------------------------------------- PyTorch autograd (float64, 1e-10)


def _torch_grads(torch, x, dy, gamma, beta, eps, residual=None):
    """∂(Σ dy ⊙ LN(x [+ residual]))/∂(x, γ, β) by autograd through torch's own layer_norm."""
    tx = torch.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    tg = torch.tensor(np.asarray(gamma, dtype=np.float64), requires_grad=True)
    tb = torch.tensor(np.asarray(beta, dtype=np.float64), requires_grad=True)
    s = tx + torch.tensor(np.asarray(residual, dtype=np.float64)) if residual is not None else tx
    y = torch.nn.functional.layer_norm(s, (tx.shape[-1],), weight=tg, bias=tb, eps=eps)
    (y * torch.tensor(np.asarray(dy, dtype=np.float64))).sum().backward()
    return {"grad_x": tx.grad.numpy(), "grad_gamma": tg.grad.numpy(), "grad_beta": tb.grad.numpy()}


def _assert_matches_torch(torch, trace):
    i = trace.inputs
    expected = _torch_grads(torch, i["x"], i["dy"], i["gamma"], i["beta"], i["eps"], i.get("residual"))
    for name in OUTPUTS:
        assert trace.outputs[name].shape == expected[name].shape, name
        np.testing.assert_allclose(trace.outputs[name], expected[name], rtol=0, atol=1e-10, err_msg=name)


@pytest.mark.oracle
@pytest.mark.parametrize(
    "flags",
    [
        {},
        {"x": "1,2,4", "dy": "0.1,-0.3,0.2"},
        {"x": "1,2,3,4;10,-20,30,5;0.5,0.5,0.5,0.6", "dy": "1,0,0,0;0,1,0,0;0,0,1,-1", "eps": "0.001"},
        {"x": "1,2,3;4,6,5", "dy": "0.3,-1,2;0.5,0.5,-0.25", "gamma": "2,-1,0.5", "beta": "1,0,-1", "residual": "0.5,0,-1;1,1,1"},
        {"x": "5,5,5;1,2,3", "dy": "1,0,0;0.2,0.1,0"},  # a constant row: σ_ε = √ε, large but finite
        {"x": "7", "dy": "1.5", "eps": "0.1"},  # one feature: x̂ = 0 whatever x is
    ],
)
def test_matches_torch_autograd(torch, flags):
    _assert_matches_torch(torch, run(**flags))


@pytest.mark.oracle
@pytest.mark.parametrize("shape", [(1, 2), (3, 5), (6, 4), (4, 16), (2, 3)])
def test_matches_torch_autograd_on_random_inputs(torch, shape):
    rng = np.random.default_rng(sum(shape))
    for scale in (0.1, 1.0, 30.0):
        x = rng.normal(0, scale, size=shape)
        dy = rng.normal(size=shape)
        gamma, beta = rng.normal(size=shape[-1]), rng.normal(size=shape[-1])
        trace = run(x=js(x), dy=js(dy), gamma=js(gamma), beta=js(beta))
        _assert_matches_torch(torch, trace)


@pytest.mark.oracle
@pytest.mark.parametrize("flags", [{"seed": "0"}, {"seed": "7", "seq_len": "5", "d_model": "6"}, {"x": "1,2,3,4;0,0,1,9", "seed": "3"}])
def test_matches_torch_autograd_on_seeded_inputs(torch, flags):
    _assert_matches_torch(torch, run(**flags))


@pytest.mark.oracle
def test_each_path_and_step_value_matches_torch(torch):
    """The intermediate gradients too: ∂L/∂x̂, ∂L/∂σ², ∂L/∂μ by retain_grad, and each path by
    autograd through a forward pass in which only that path depends on x (the others detached)."""
    rng = np.random.default_rng(11)
    x, dy = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    gamma = rng.normal(size=5)
    eps = 1e-5
    trace = run(x=js(x), dy=js(dy), gamma=js(gamma))
    tdy = torch.tensor(dy)

    def through(direct: bool, via_var: bool, via_mean: bool):
        tx = torch.tensor(x, requires_grad=True)
        xc = tx.detach()
        mu = tx.mean(-1, keepdim=True) if via_mean else xc.mean(-1, keepdim=True)
        mu.retain_grad() if mu.requires_grad else None
        var = (((tx if via_var else xc) - (mu if via_mean else mu.detach())) ** 2).mean(-1, keepdim=True)
        if via_var:
            var.retain_grad()
        xhat = ((tx if direct else xc) - mu) / torch.sqrt(var + eps)
        xhat.retain_grad()
        (xhat * torch.tensor(gamma) * tdy).sum().backward()
        return tx, mu, var, xhat

    tx, mu, var, xhat = through(True, True, True)
    np.testing.assert_allclose(step_value(trace, "dxhat", "∂L/∂x̂"), xhat.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(step_value(trace, "variance", "∂L/∂σ²"), var.grad.numpy()[:, 0], rtol=0, atol=1e-10)
    np.testing.assert_allclose(step_value(trace, "mean", "∂L/∂μ"), mu.grad.numpy()[:, 0], rtol=0, atol=1e-10)
    np.testing.assert_allclose(trace.outputs["grad_x"], tx.grad.numpy(), rtol=0, atol=1e-10)
    for step, value, only in (("direct", "dx₁", (True, False, False)), ("variance", "dx₂", (False, True, False)),
                              ("mean", "dx₃", (False, False, True))):
        tx, *_ = through(*only)
        np.testing.assert_allclose(step_value(trace, step, value), tx.grad.numpy(), rtol=0, atol=1e-10, err_msg=step)


# ----------------------------------------------------------------- central finite differences
#
# L(θ) = Σ ∂L/∂y ⊙ LN(x; γ, β), each parameter nudged by ±h with h = 1e-6:
# ∂L/∂θ ≈ (L(θ + h) − L(θ − h)) / 2h. The truncation error is ~h²·|L'''| ≈ 1e-12 and the rounding
# error ~1e-16·|L|/h ≈ 1e-10 for these inputs (σ_ε ≥ 1), so a tolerance of 1e-8 is ample.

FD_STEP = 1e-6
FD_TOL = 1e-8


def _fd(loss, array: np.ndarray) -> np.ndarray:
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + FD_STEP
        up = loss()
        array[index] = saved - FD_STEP
        down = loss()
        array[index] = saved
        grad[index] = (up - down) / (2 * FD_STEP)
    return grad


@pytest.mark.parametrize(
    "flags",
    [{}, {"x": "1,2,4", "dy": "0.1,-0.3,0.2", "beta": "1,2,3"}, {"x": "2,-1,0.5,3,1;0,1,4,-2,2", "dy": "1,-1,0.5,0,2;0.3,0.3,-1,0.1,0", "gamma": "1,-2,0.5,3,1"}],
)
def test_matches_central_finite_differences(flags):
    trace = run(**flags)
    i = trace.inputs
    x, gamma, beta = (np.array(i[k], dtype=np.float64) for k in ("x", "gamma", "beta"))

    def loss() -> float:
        return float(np.sum(i["dy"] * layer_norm(x, gamma, beta, i["eps"]).y))

    worst = 0.0
    for array, name in ((x, "grad_x"), (gamma, "grad_gamma"), (beta, "grad_beta")):
        diff = np.max(np.abs(_fd(loss, array) - trace.outputs[name]))
        worst = max(worst, float(diff))
        assert diff < FD_TOL, (name, diff)
    assert worst > 0  # a real comparison, not the same numbers twice


def test_residual_matches_finite_differences():
    trace = run(x="1,2,3;0,2,5", dy="0.5,-1,0.25;1,0,0", residual="0.5,0,1;-1,1,0")
    i = trace.inputs
    x = np.array(i["x"])
    fd = _fd(lambda: float(np.sum(i["dy"] * layer_norm(x + i["residual"], i["gamma"], i["beta"], i["eps"]).y)), x)
    assert np.max(np.abs(fd - trace.outputs["grad_x"])) < FD_TOL


# ----------------------------------------------------------------- sympy (exact, smallest sizes)


@pytest.mark.parametrize(
    ("x", "gamma", "dy"),
    [("1,3", "1,1", "1,0"), ("0.5,-2", "2,0.5", "0.3,0.7"), ("1,2,4", "1,0.5,2", "0.1,-0.3,0.2"), ("3,1,0", "-1,2,1", "1,1,-2")],
)
def test_matches_the_symbolic_jacobian(x, gamma, dy):
    from nntutor.symbolic.layernorm import layer_norm_gradients, layer_norm_jacobian

    trace = run(x=x, gamma=gamma, dy=dy, eps="0.001")
    i = trace.inputs
    jac = layer_norm_jacobian(i["x"], i["gamma"], i["eps"])
    # ∂L/∂xⱼ = Σᵢ ∂L/∂yᵢ ∂yᵢ/∂xⱼ: the vector-Jacobian product with the exact Jacobian
    np.testing.assert_allclose(trace.outputs["grad_x"], jac.values.T @ i["dy"], rtol=0, atol=1e-12)
    assert "gamma0" in jac.entry_text and "epsilon" in jac.entry_text
    exact = layer_norm_gradients(i["x"], i["gamma"], i["beta"], i["eps"], i["dy"])
    for name, value in zip(OUTPUTS, exact, strict=True):
        np.testing.assert_allclose(trace.outputs[name], value, rtol=0, atol=1e-12, err_msg=name)


def test_symbolic_jacobian_rows_are_the_backward_of_unit_gradients():
    # Row i of ∂y/∂x is ∂L/∂x for ∂L/∂y = eᵢ; with two features every row sums to 0 (shifting x
    # changes nothing), and the exact values agree with the NumPy backward.
    from nntutor.symbolic.layernorm import layer_norm_jacobian

    x = np.array([0.25, 1.5])
    jac = layer_norm_jacobian(x, [1.0, 1.0], 1e-5).values
    np.testing.assert_allclose(jac.sum(axis=1), 0, atol=1e-12)
    r = layer_norm(x)
    for i, e in enumerate(np.eye(2)):
        np.testing.assert_allclose(jac[i], layer_norm_backward(r, e).dx, rtol=0, atol=1e-12)


# ----------------------------------------------------------------- rows that carry no gradient, and edge rows


def test_a_row_with_zero_upstream_gradient_gets_zero_gradient_not_nan():
    # A padded token whose loss is masked has ∂L/∂y = 0: its row of ∂L/∂x is exactly 0 and it adds
    # nothing to ∂L/∂γ, ∂L/∂β (layer norm has no mask of its own: rows never interact).
    both = run(x="1,2,3,4;3,1,0,4", dy="0.1,-0.3,0.2,0.4;0,0,0,0")
    alone = run(x="1,2,3,4", dy="0.1,-0.3,0.2,0.4")
    assert np.all(both.outputs["grad_x"][1] == 0)
    np.testing.assert_allclose(both.outputs["grad_x"][0], alone.outputs["grad_x"], rtol=0, atol=1e-15)
    for name in ("grad_gamma", "grad_beta"):
        np.testing.assert_allclose(both.outputs[name], alone.outputs[name], rtol=0, atol=1e-15)
    # a constant row padded with zeros (σ² = 0) as well
    pad = run(x="0,0,0,0;3,1,0,4", dy="0,0,0,0;0.5,0,-0.1,0.1")
    assert np.all(np.isfinite(pad.outputs["grad_x"])) and np.all(pad.outputs["grad_x"][0] == 0)
    assert pad.step("forward").warnings


def test_constant_row_gradient_is_finite():
    # x = [5, 5, 5]: x̂ = 0, σ_ε = √1e-5 = 0.0031623; ∂L/∂x = (∂L/∂x̂ − mean(∂L/∂x̂))/σ_ε
    # = ([1, 0, 0] − 1/3)/0.0031623 = [210.8185, −105.4093, −105.4093]
    out = run(x="5,5,5", dy="1,0,0", gamma="1,1,1").outputs
    np.testing.assert_allclose(out["grad_x"], [210.8185, -105.4093, -105.4093], atol=1e-4)
    np.testing.assert_array_equal(out["grad_gamma"], [0, 0, 0])


def test_backward_functions_take_any_number_of_rows():
    rng = np.random.default_rng(4)
    x, dy = rng.normal(size=(2, 3, 5)), rng.normal(size=(2, 3, 5))
    r = layer_norm(x, rng.normal(size=5))
    g, p = layer_norm_backward(r, dy), layer_norm_paths(r, dy)
    flat = layer_norm_backward(layer_norm(x.reshape(6, 5), r.gamma), dy.reshape(6, 5))
    np.testing.assert_allclose(g.dx.reshape(6, 5), flat.dx, rtol=0, atol=1e-14)
    np.testing.assert_allclose(g.dgamma, flat.dgamma, rtol=0, atol=1e-14)
    np.testing.assert_allclose(p.dx, g.dx, rtol=0, atol=1e-14)
    assert p.dvar.shape == p.dmean.shape == (2, 3)
    with pytest.raises(ValueError, match="shape of y"):
        layer_norm_backward(r, dy[0])


# ----------------------------------------------------------------- known mistakes, on the hand-worked case


def _case(step: str, value: str, index: tuple[int, ...]):
    lesson = load_lesson(LESSON)
    prepared = prepare(lesson, parse_args(lesson, {}))
    return mistakes.Case(prepared, prepared.build(), step, value, index)


def test_known_mistakes_recomputed_by_hand():
    # row t0, x0 (from the hand-worked comments above): direct 0.0894424, through σ² 0.1945356,
    # through μ −0.1677044, right answer 0.1162736.
    case = _case("sum", "∂L/∂x", (0, 0))
    found = {m.id: v for m, v in mistakes.alternatives(load_walkthrough().mistakes, case)}
    assert found["direct-path-only"] == pytest.approx(0.0894424, abs=HAND)
    assert found["no-mean-path"] == pytest.approx(0.0894424 + 0.1945356, abs=HAND)  # 0.2839780
    assert found["no-variance-path"] == pytest.approx(0.0894424 - 0.1677044, abs=HAND)  # −0.0782620
    assert case.element() == pytest.approx(0.1162736, abs=HAND)
    # they name only ∂L/∂x
    assert mistakes.alternatives(load_walkthrough().mistakes, _case("params", "∂L/∂γ", (0,))) == []


def test_quiz_diagnoses_the_direct_path_only():
    target = next(t for t in load_walkthrough().targets if t.step == "sum")
    question = quiz.numeric_question(load_lesson(LESSON), np.random.default_rng(3), target)
    assert question is not None and question.item == f"{LESSON}:sum.∂L/∂x"
    wrong = {name: value for _, name, value in question.mistakes}
    direct = next(v for name, v in wrong.items() if name.startswith("kept only the direct path"))
    assert not question.judge(direct)
    assert question.diagnose(direct)[0] == "direct-path-only"


def test_quiz_runs_over_seeds():
    lesson = load_lesson(LESSON)
    for seed in range(1, 11):
        for q in quiz.make_quiz([lesson], count=4, seed=seed):
            assert np.isfinite(q.expected)
            assert q.kind != "numeric" or "_" not in q.prompt.split("compute ")[1].split()[0]


def load_walkthrough():
    from nntutor.walkthroughs import backprop_layernorm

    return backprop_layernorm.WALKTHROUGH


# ----------------------------------------------------------------- lesson file and seeded inputs


def test_lesson_file_is_valid():
    _, errors = check_all()
    assert [e for e in errors if LESSON in str(e)] == []
    lesson = load_lesson(LESSON)
    assert (lesson.part, lesson.order) == ("Backward through the transformer", 610)
    assert "layernorm" in lesson.see_also
    answers = [q.answer for q in lesson.quiz if q.kind == "choice"]
    assert 2 <= len(lesson.quiz) <= 3 and set(answers) != {1}
    for item in lesson.quiz:
        longest = max(range(len(item.choices)), key=lambda k: len(item.choices[k]))
        assert item.answer - 1 != longest, item.id


def test_seeded_inputs_are_reproducible_and_recorded():
    a, b = run(seed="5", seq_len="3", d_model="6"), run(seed="5", seq_len="3", d_model="6")
    np.testing.assert_array_equal(a.inputs["x"], b.inputs["x"])
    np.testing.assert_array_equal(a.inputs["dy"], b.inputs["dy"])
    assert a.inputs["x"].shape == a.inputs["dy"].shape == (3, 6)
    assert (a.inputs["seed"], a.inputs["seq-len"], a.inputs["d-model"]) == (5, 3, 6)
    np.testing.assert_array_equal(a.inputs["gamma"], np.ones(6))  # the 4-feature default γ does not fit
    c = run(seed="6", seq_len="3", d_model="6")
    assert not np.array_equal(a.inputs["x"], c.inputs["x"])
    typed = run(x="1,2,3,4", seed="1")  # --x typed: only ∂L/∂y is drawn, γ keeps its default
    np.testing.assert_array_equal(typed.inputs["x"], [1, 2, 3, 4])
    assert typed.inputs["dy"].shape == (4,) and typed.inputs["gamma"].tolist() == [1, 0.5, 2, 1]


# ----------------------------------------------------------------- refusals

BAD_INPUTS = [
    ({"dy": "1,2,3,4"}, "--dy", "--dy: has 4 numbers but --x (default 2×4) has shape 2×4"),
    ({"dy": "1,2,3;4,5,6"}, "--dy", "--dy: has shape 2×3 but --x (default 2×4) has shape 2×4"),
    ({"x": "1,2,3"}, "--x", "--x: has 3 numbers but --dy (default 2×4) has shape 2×4 (∂L/∂y has the shape of y, which is the shape of x); pass --dy too, or --seed to draw it"),
    ({"x": "1,2,3", "dy": "1,2"}, "--dy", "--dy: has 2 numbers but --x has 3 numbers"),
    ({"dy": "1,2,nan,4;1,2,3,4"}, "--dy", "NaN"),
    ({"dy": "1,2,inf,4;1,2,3,4"}, "--dy", "inf"),
    ({"gamma": "1,2"}, "--gamma", "expected 4 numbers"),
    ({"beta": "1,2,3,4,5"}, "--beta", "expected 4 numbers"),
    ({"residual": "1,2"}, "--residual", "shape of x"),
    ({"eps": "0"}, "--eps", "greater than 0"),
    ({"seq-len": "3"}, "--seq-len", "needs --seed"),
    ({"x": "1,2", "seed": "1", "d-model": "2"}, "--x", "cannot be combined with --d-model"),
    ({"x": "1,2", "dy": "1,2", "seed": "1"}, "--seed", "nothing to draw"),
    ({"seed": "1", "seq-len": "100000"}, "--seq-len", "at most 1,000,000"),
    ({"seed": "1", "d-model": "70000"}, "--d-model", "at most 1,000,000"),
    ({"seed": "1", "seq-len": "3", "dy": "1,2,3,4"}, "--dy", "the shape of the random x"),
]


def test_a_typed_x_past_the_size_limit_is_refused():
    # A flag value is at most 65,536 characters, so only typed inputs built in code get this far.
    lesson = load_lesson(LESSON)
    args = parse_args(lesson, {})
    big = np.ones((300, 300))
    args.update(x=big, dy=big)
    with pytest.raises(InputError, match="300 rows × 300 features make about 1,440,000 numbers") as info:
        load_walkthrough().check(type(args)(args, given={"x", "dy"}))
    assert info.value.flag == "--x"


@pytest.mark.parametrize(("flags", "flag", "fragment"), [BAD_INPUTS[0], BAD_INPUTS[13]])
def test_cli_refuses_with_one_line(run_cli, flags, flag, fragment):
    assert_refused(run_cli("lesson", LESSON, *flags_to_argv(flags)), f"{flag}:", fragment)


# ----------------------------------------------------------------- CLI and display


def test_cli_json_has_the_three_gradients(run_cli):
    result = run_cli("lesson", LESSON, "--x", "1,2,4", "--dy", "1,0,0", "--gamma", "1,1,1", "--format", "json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)["outputs"]
    assert set(out) == set(OUTPUTS)
    # as in test_one_vector_by_hand
    np.testing.assert_allclose(out["grad_x"][:2], [0.2290823, -0.3436200], atol=HAND)
    assert out["grad_beta"] == [1.0, 0.0, 0.0]


def test_readable_at_80_columns(run_cli, monkeypatch):
    from rich.cells import cell_len

    monkeypatch.setenv("COLUMNS", "80")
    result = run_cli("lesson", LESSON)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(result.stdout.split("\nWhat next")[0].splitlines()) <= 160  # the lesson, before its closing pointers
    assert max(cell_len(line) for line in lines) <= 80
    text = result.stdout
    for internal in ("dxhat", "dgamma", "dbeta", "via_var", "via_mean", "dmean", "dvar"):
        assert internal not in text
    assert "every gradient has the shape of what it is the gradient of" in text.replace("\n", " ")


@pytest.mark.parametrize(
    "module", ["nntutor.core.layernorm", "nntutor.symbolic.layernorm", "nntutor.walkthroughs.backprop_layernorm"]
)
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0
