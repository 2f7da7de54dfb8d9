"""The backprop-softmax lesson: hand-worked values, PyTorch autograd, finite differences, sympy,
known mistakes and bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import parse_args, prepare, run_lesson
from nntutor.core.attention import softmax_rows_in_place
from nntutor.core.softmax import (
    cross_entropy_backward,
    cross_entropy_from_logits,
    cross_entropy_grad_probs,
    softmax,
    softmax_backward,
    softmax_jacobian,
)
from nntutor.quiz import mistakes
from tests.helpers import assert_refused

LESSON = "backprop-softmax"
LN3 = math.log(3.0)


def run(**raw):
    return run_lesson(load_lesson(LESSON), {k.replace("_", "-"): v for k, v in raw.items()})


def js(array) -> str:
    """A flag value that parses back to exactly these floats."""
    return json.dumps(np.asarray(array).tolist())


def dz_rows(trace, step):
    return np.asarray(trace.step(step).value("dz").data)


# --------------------------------------------------------------------------- hand-worked


def test_defaults_by_hand():
    trace = run()
    # z = (1, 2, 0.5, −1), T = 1: e^(z − 2) = (0.367879, 1, 0.223130, 0.049787), S = 1.640797
    # p = (0.367879, 1, 0.223130, 0.049787) / 1.640797 = (0.224208, 0.609460, 0.135989, 0.030343)
    p = trace.step("forward").value("p").data
    np.testing.assert_allclose(p, [0.224208, 0.609460, 0.135989, 0.030343], atol=5e-7)
    # L = −ln 0.224208 = 1.495182
    assert trace.step("forward").value("loss").data == pytest.approx(1.495182, abs=5e-7)
    J = trace.outputs["jacobian"]
    # diagonal p(1 − p): 0.224208×0.775792 = 0.173939, 0.609460×0.390540 = 0.238018,
    #                    0.135989×0.864011 = 0.117496, 0.030343×0.969657 = 0.029423
    np.testing.assert_allclose(np.diag(J), [0.173939, 0.238018, 0.117496, 0.029423], atol=5e-7)
    # off the diagonal −pᵢpⱼ: J[0,1] = −0.224208×0.609460 = −0.136646, J[2,3] = −0.135989×0.030343 = −0.004126
    assert J[0, 1] == pytest.approx(-0.136646, abs=5e-7) and J[1, 0] == J[0, 1]
    assert J[2, 3] == pytest.approx(-0.004126, abs=5e-7)
    # dp = (1, −1, 0, 0.5): p·dp = 0.224208 − 0.609460 + 0 + 0.5×0.030343 = −0.370081
    assert trace.step("vjp").value("p·dp").data == pytest.approx(-0.370081, abs=5e-7)
    # ∂L/∂z = p ⊙ (dp − p·dp): 0.224208×1.370081 = 0.307183, 0.609460×(−0.629919) = −0.383911,
    #                          0.135989×0.370081 = 0.050327, 0.030343×0.870081 = 0.026401
    for row in dz_rows(trace, "vjp"):  # Jᵀ·dp and the shortcut
        np.testing.assert_allclose(row, [0.307183, -0.383911, 0.050327, 0.026401], atol=5e-7)
    # cross-entropy, target 0 (sunny): ∂L/∂p = (−1/0.224208, 0, 0, 0) = (−4.460149, 0, 0, 0)
    dp_ce = trace.step("cross-entropy").value("dp").data
    np.testing.assert_allclose(dp_ce, [-4.460149, 0, 0, 0], atol=5e-6)
    # and ∂L/∂z = p − y = (0.224208 − 1, 0.609460, 0.135989, 0.030343)
    expected = [-0.775792, 0.609460, 0.135989, 0.030343]
    np.testing.assert_allclose(trace.outputs["grad_logits"], expected, atol=5e-7)
    for row in dz_rows(trace, "cross-entropy"):  # Jᵀ·(−y/p) and (p − y)/T
        np.testing.assert_allclose(row, expected, atol=5e-7)
    assert set(trace.outputs) == {"jacobian", "grad_logits"}


def test_temperature_two_classes_exact():
    # z = (0, 2 ln 3) at T = 2: z/T = (0, ln 3), p = (1/4, 3/4)
    trace = run(logits=js([0.0, 2 * LN3]), labels="a,b", temperature="2", target="0", dp="1,2")
    np.testing.assert_allclose(trace.step("forward").value("p").data, [0.25, 0.75], atol=1e-15)
    # J = p(1 − p)/T on the diagonal = (1/4)(3/4)/2 = 3/32, and −(1/4)(3/4)/2 = −3/32 off it
    np.testing.assert_allclose(trace.outputs["jacobian"], [[3 / 32, -3 / 32], [-3 / 32, 3 / 32]], atol=1e-15)
    # dp = (1, 2): p·dp = 1/4 + 3/2 = 7/4; ∂L/∂z = p ⊙ (dp − 7/4)/2 = ((1/4)(−3/4)/2, (3/4)(1/4)/2) = (−3/32, 3/32)
    assert trace.step("vjp").value("p·dp").data == pytest.approx(1.75, abs=1e-15)
    for row in dz_rows(trace, "vjp"):
        np.testing.assert_allclose(row, [-3 / 32, 3 / 32], atol=1e-15)
    # target 0: (p − y)/T = (1/4 − 1, 3/4)/2 = (−3/8, 3/8)
    np.testing.assert_allclose(trace.outputs["grad_logits"], [-0.375, 0.375], atol=1e-15)


def test_gradients_have_the_shape_of_what_they_are_gradients_of():
    trace = run(logits="0.3,-1.2,2.5,0.7,0.1,-0.4", dp="1,2,3,4,5,6", target="4")
    n = 6
    assert trace.step("forward").value("p").data.shape == (n,)
    assert trace.outputs["jacobian"].shape == (n, n)  # one row per pᵢ, one column per zⱼ
    assert trace.step("vjp").value("dp").data.shape == (n,)  # ∂L/∂p: the shape of p
    assert dz_rows(trace, "vjp").shape == (2, n)  # two ways of the same ∂L/∂z, each the shape of z
    assert trace.outputs["grad_logits"].shape == (n,)
    assert "shapes: dp has 6 entries like p, ∂L/∂z has 6 like z" in trace.step("vjp").worked
    assert "Every gradient has the shape of what it is the" in load_lesson(LESSON).narrative


def test_entries_of_the_cross_entropy_gradient_sum_to_zero_and_jacobian_rows_too():
    trace = run(logits="3,-2,0.5,1.5,0", temperature="0.7", target="3", dp="1,1,1,1,1")
    assert float(np.sum(trace.outputs["grad_logits"])) == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_allclose(trace.outputs["jacobian"].sum(axis=0), 0.0, atol=1e-15)
    # a constant upstream gradient vanishes: Σᵢ J[i,j]·c = 0
    np.testing.assert_allclose(dz_rows(trace, "vjp"), 0.0, atol=1e-15)


# --------------------------------------------------------------------------- PyTorch autograd


def _torch_all(torch, z, T, target, dp):
    """p, J, Jᵀ·dp and the cross-entropy ∂L/∂z by autograd, float64."""
    tz = torch.tensor(z, dtype=torch.float64)
    J = torch.autograd.functional.jacobian(lambda v: torch.softmax(v / T, dim=0), tz)
    zz = tz.clone().requires_grad_(True)
    p = torch.softmax(zz / T, dim=0)
    p.backward(torch.tensor(dp, dtype=torch.float64))
    vjp = zz.grad.clone()
    zz.grad = None
    loss = torch.nn.functional.cross_entropy((zz / T)[None, :], torch.tensor([target]))
    loss.backward()
    return p.detach().numpy(), J.numpy(), vjp.numpy(), zz.grad.numpy(), loss.item()


def _assert_lesson_matches_torch(torch, trace, z, T, target, dp):
    p, J, vjp, grad, loss = _torch_all(torch, z, T, target, dp)
    np.testing.assert_allclose(trace.step("forward").value("p").data, p, rtol=0, atol=1e-10)
    assert trace.step("forward").value("loss").data == pytest.approx(loss, abs=1e-10)
    np.testing.assert_allclose(trace.outputs["jacobian"], J, rtol=0, atol=1e-10)
    for row in dz_rows(trace, "vjp"):
        np.testing.assert_allclose(row, vjp, rtol=0, atol=1e-10)
    for row in dz_rows(trace, "cross-entropy"):
        np.testing.assert_allclose(row, grad, rtol=0, atol=1e-10)
    np.testing.assert_allclose(trace.outputs["grad_logits"], grad, rtol=0, atol=1e-10)
    return max(
        float(np.max(np.abs(trace.outputs["jacobian"] - J))),
        float(np.max(np.abs(trace.outputs["grad_logits"] - grad))),
        float(np.max(np.abs(dz_rows(trace, "vjp") - vjp))),
    )


def test_defaults_against_torch(torch):
    trace = run()
    _assert_lesson_matches_torch(torch, trace, [1.0, 2.0, 0.5, -1.0], 1.0, 0, [1.0, -1.0, 0.0, 0.5])


@pytest.mark.parametrize("seed", range(8))
def test_random_inputs_against_torch(torch, seed):
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(1, 9))
    z = rng.normal(scale=3.0, size=n)
    dp = rng.normal(size=n)
    T = float(rng.choice([0.25, 0.8, 1.0, 2.5, 7.0]))
    target = int(rng.integers(0, n))
    trace = run(logits=js(z), dp=js(dp), temperature=repr(T), target=str(target))
    _assert_lesson_matches_torch(torch, trace, z, T, target, dp)


def test_seeded_run_against_torch(torch):
    trace = run(seed="5", classes="6", temperature="1.7")
    z, dp, target = (np.asarray(trace.inputs[k]) for k in ("logits", "dp", "target"))
    _assert_lesson_matches_torch(torch, trace, z, 1.7, int(target), dp)


def test_core_batched_and_masked_against_torch(torch):
    rng = np.random.default_rng(3)
    rows, n, T = 5, 6, 1.3
    z = rng.normal(scale=2.0, size=(rows, n))
    allowed = rng.uniform(size=(rows, n)) > 0.3
    allowed[1] = False  # a fully masked row
    allowed[0] = True
    g = rng.normal(size=(rows, n))
    p, _, _, empty = softmax_rows_in_place(z / T, allowed)  # the forward the attention lessons use
    assert empty.tolist() == [False, True, False, False, False]
    ours = softmax_backward(p, g, T, allowed=allowed)

    tz = torch.tensor(z, requires_grad=True)
    masked = (tz / T).masked_fill(~torch.tensor(allowed), float("-inf"))
    tp = torch.softmax(masked, dim=-1)
    keep = ~torch.tensor(empty)
    (tp[keep] * torch.tensor(g)[keep]).sum().backward()
    np.testing.assert_allclose(p[~empty], tp[keep].detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours, tz.grad.numpy(), rtol=0, atol=1e-10)  # masked cells: 0 in both

    # the Jacobian, one matrix per row
    Js = softmax_jacobian(softmax(z, T), T)
    assert Js.shape == (rows, n, n)
    for r in range(rows):
        expected = torch.autograd.functional.jacobian(lambda v: torch.softmax(v / T, dim=0), torch.tensor(z[r]))
        np.testing.assert_allclose(Js[r], expected.numpy(), rtol=0, atol=1e-10)

    # cross-entropy over rows: sum and mean, with rows left out (padding) as ignore_index leaves them out
    targets = rng.integers(0, n, size=rows)
    kept = np.array([True, False, True, True, False])
    for reduction in ("sum", "mean"):
        tz = torch.tensor(z, requires_grad=True)
        labels = torch.tensor(np.where(kept, targets, -100))
        torch.nn.functional.cross_entropy(tz / T, labels, ignore_index=-100, reduction=reduction).backward()
        ours = cross_entropy_backward(z, targets, T, keep=kept, reduction=reduction)
        np.testing.assert_allclose(ours, tz.grad.numpy(), rtol=0, atol=1e-10)
        assert np.all(ours[~kept] == 0.0)


# --------------------------------------------------------------------------- finite differences

# Central differences with h = 1e-6: the truncation error is about h²·|f‴| ≈ 1e-12 and the
# rounding error about 1e-16·|f| / h ≈ 1e-10, so 1e-8 leaves room and still catches any
# wrong term (the smallest entry of the default Jacobian is 0.004).
H = 1e-6
FD_TOL = 1e-8


def _central(f, z, T):
    z = np.asarray(z, dtype=np.float64)
    columns = []
    for j in range(z.size):
        up, down = z.copy(), z.copy()
        up[j] += H
        down[j] -= H
        columns.append((np.asarray(f(up, T)) - np.asarray(f(down, T))) / (2 * H))
    return np.array(columns)  # row j: the derivative by zⱼ


@pytest.mark.parametrize(
    "raw",
    [{}, {"temperature": "0.6", "target": "2"}, {"logits": "4,-1,0.3", "dp": "0.2,-3,1", "temperature": "3.5", "target": "1"}],
)
def test_against_finite_differences(raw):
    trace = run(**raw)
    z = np.asarray(trace.inputs["logits"])
    dp = np.asarray(trace.inputs["dp"])
    T, target = trace.inputs["temperature"], trace.inputs["target"]
    # J: column j of ∂p/∂z is (p(z + h·eⱼ) − p(z − h·eⱼ)) / 2h
    fd_jacobian = _central(softmax, z, T).T
    np.testing.assert_allclose(trace.outputs["jacobian"], fd_jacobian, rtol=0, atol=FD_TOL)
    # Jᵀ·dp is the gradient of the scalar dp·p(z)
    fd_vjp = _central(lambda v, t: dp @ softmax(v, t), z, T)
    np.testing.assert_allclose(dz_rows(trace, "vjp"), np.vstack([fd_vjp, fd_vjp]), rtol=0, atol=FD_TOL)
    # the cross-entropy gradient
    fd_grad = _central(lambda v, t: cross_entropy_from_logits(v, target, t), z, T)
    np.testing.assert_allclose(trace.outputs["grad_logits"], fd_grad, rtol=0, atol=FD_TOL)
    # and the lesson's own check step agrees
    assert trace.step("check").value("max_error").data < 1e-8


# --------------------------------------------------------------------------- sympy


@pytest.mark.parametrize(
    ("logits", "temperature", "target"),
    [("0.7", "1", "0"), ("1,-0.5", "0.5", "1"), ("0.25,2,-1", "2.5", "2"), ("1,2,0.5,-1", "1", "0")],
)
def test_against_sympy(logits, temperature, target):
    from nntutor.symbolic.softmax import cross_entropy_gradient_exact, softmax_jacobian_exact

    n = len(logits.split(","))
    dp = ",".join(["1"] * n)
    trace = run(logits=logits, temperature=temperature, target=target, dp=dp)
    z = np.asarray(trace.inputs["logits"])
    exact, latex = softmax_jacobian_exact(z, float(temperature))
    np.testing.assert_allclose(trace.outputs["jacobian"], exact, rtol=0, atol=1e-12)
    assert ("T" in latex) if n > 1 else latex == "0"  # T is a symbol of the derivative; one class: p = 1
    exact_grad = cross_entropy_gradient_exact(z, int(target), float(temperature))
    np.testing.assert_allclose(trace.outputs["grad_logits"], exact_grad, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- masks and saturation


def test_fully_masked_row_gets_zero_gradient_not_nan():
    allowed = np.array([[True, False, True], [False, False, False]])
    p, _, _, empty = softmax_rows_in_place(np.array([[1.0, 5.0, 0.0], [2.0, 3.0, 4.0]]), allowed)
    assert empty.tolist() == [False, True] and p[1].tolist() == [0.0, 0.0, 0.0]
    grad = softmax_backward(p, np.array([[1.0, 7.0, -1.0], [1.0, 2.0, 3.0]]), allowed=allowed)
    assert np.all(np.isfinite(grad))
    assert grad[1].tolist() == [0.0, 0.0, 0.0] and grad[0, 1] == 0.0
    # even when a naive forward left NaN in the fully masked row
    naive = np.array([[0.5, 0.0, 0.5], [np.nan, np.nan, np.nan]])
    grad = softmax_backward(naive, np.ones((2, 3)), allowed=allowed)
    assert grad[1].tolist() == [0.0, 0.0, 0.0]
    # cross-entropy with every row left out: all 0, not 0/0
    assert cross_entropy_backward(np.zeros((2, 3)), np.array([0, 1]), keep=np.array([False, False])).tolist() == [
        [0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0],
    ]


def test_underflowed_target_probability_stays_finite():
    # z = (1000, 0): p = (1, e^−1000) = (1, 0) in float64; target 1: −1/p is −∞, (p − y) = (1, −1)
    trace = run(logits="1000,0", target="1")
    assert cross_entropy_grad_probs(trace.step("forward").value("p").data, 1)[1] == -math.inf
    np.testing.assert_array_equal(trace.outputs["grad_logits"], [1.0, -1.0])
    assert trace.step("forward").value("loss").data == pytest.approx(1000.0)  # from log-softmax, finite
    assert trace.step("cross-entropy").warnings
    assert np.all(np.isfinite(trace.outputs["jacobian"]))


def test_core_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="shape of probs"):
        softmax_backward(np.array([0.5, 0.5]), np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="class index"):
        cross_entropy_backward(np.zeros(3), 3)


# --------------------------------------------------------------------------- known mistakes


def _case(raw, step, value, index):
    lesson = load_lesson(LESSON)
    prepared = prepare(lesson, parse_args(lesson, raw))
    trace = prepared.build()
    case = mistakes.Case(prepared, trace, step, value, index)
    return {m.id: v for m, v in mistakes.alternatives(prepared.walkthrough.mistakes, case)}, case


def test_mistakes_hand_worked():
    # the exact two-class case: p = (1/4, 3/4) at T = 2, dp = (1, 2), target 0
    raw = {"logits": js([0.0, 2 * LN3]), "labels": "a,b", "temperature": "2", "target": "0", "dp": "1,2"}
    found, case = _case(raw, "jacobian", "jacobian", (0, 1))
    assert case.element() == pytest.approx(-3 / 32)
    # elementwise: nothing off the diagonal; no ÷T: −(1/4)(3/4) = −3/16
    assert found == {"elementwise-jacobian": 0.0, "no-temperature": pytest.approx(-3 / 16)}

    found, case = _case(raw, "vjp", "dz", (0, 1))
    assert case.element() == pytest.approx(3 / 32)  # (3/4)(2 − 7/4)/2
    # elementwise: p(1 − p)·dp/T = (3/16)×2/2 = 3/16; no ÷T: 3/16 as well (3/32 × 2);
    # without − p·dp: p·dp/T = (3/4)×2/2 = 3/4
    assert found["elementwise-jacobian"] == pytest.approx(3 / 16)
    assert found["no-temperature"] == pytest.approx(3 / 16)
    assert found["no-p-dot"] == pytest.approx(0.75)
    assert "y-minus-p" not in found

    found, case = _case(raw, "cross-entropy", "dz", (1, 1))
    assert case.element() == pytest.approx(0.375)  # (3/4 − 0)/2
    # elementwise: p₁(1 − p₁)/T × ∂L/∂p₁ = … × 0 = 0; sign flipped: (y − p)/T = −3/8; no ÷T: 3/4
    assert found == {
        "elementwise-jacobian": 0.0,
        "no-temperature": pytest.approx(0.75),
        "y-minus-p": pytest.approx(-0.375),
    }
    found, case = _case(raw, "cross-entropy", "dz", (1, 0))
    # at the target, elementwise gives (1/4)(3/4)/2 × (−1/(1/4)) = −3/8: the right value here
    # (the quiz never offers a mistake that equals the answer)
    assert case.element() == pytest.approx(-0.375)
    assert found["elementwise-jacobian"] == pytest.approx(-0.375)


def test_quiz_names_the_elementwise_mistake():
    from nntutor.quiz import questions as quiz

    lesson = load_lesson(LESSON)
    named = set()
    for seed in range(1, 11):
        for q in quiz.make_quiz([lesson], count=5, seed=seed):
            assert math.isfinite(q.expected)
            for mistake_id, _, value in q.mistakes:
                assert q.diagnose(value) is not None
                named.add(mistake_id)
    assert "elementwise-jacobian" in named


# --------------------------------------------------------------------------- inputs, seeds, screens

BAD_INPUTS = [
    ({"dp": "1,2"}, "--dp", "expected 4 numbers (∂L/∂p has the shape of p"),
    ({"logits": "1,2,3", "dp": "1,2"}, "--dp", "expected 3 numbers"),
    ({"target": "4"}, "--target", "out of range (expected an index from 0 to 3)"),
    ({"labels": "a,b,c"}, "--labels", "expected 4 names to match --logits"),
    ({"classes": "3", "logits": "1,2,3"}, "--classes", "cannot be combined with --logits"),
    ({"classes": "100000", "seed": "1"}, "--classes", "at most 4.3 GB is allowed"),
    ({"seed": "1", "classes": "3", "dp": "1,2"}, "--dp", "expected 3 numbers"),
    ({"temperature": "1e-305", "logits": "1000000,0", "dp": "1,1"}, "--temperature", "too small for these inputs"),
]


def test_cli_refusals_are_one_line(run_cli):
    line = assert_refused(run_cli("lesson", LESSON, "--dp", "1,2"), "--dp:", "shape of p")
    assert "got 2" in line
    assert_refused(run_cli("lesson", LESSON, "--classes", "100000"), "--classes:", "Jacobian alone")
    assert_refused(run_cli("lesson", LESSON, "--dp", "1,nan,0,0"), "--dp:")


def test_seed_draws_what_is_not_typed_reproducibly():
    a, b = run(seed="7"), run(seed="7")
    assert np.array_equal(a.outputs["grad_logits"], b.outputs["grad_logits"])
    assert a.inputs["seed"] == 7 and a.inputs["drawn"] == ["logits", "dp", "target"]
    assert len(a.inputs["logits"]) == 4  # the default count
    c = run(seed="7", logits="1,2,3,4", target="2")
    assert np.asarray(c.inputs["logits"]).tolist() == [1.0, 2.0, 3.0, 4.0] and c.inputs["target"] == 2
    assert c.inputs["drawn"] == ["dp"]
    assert np.array_equal(c.inputs["dp"], a.inputs["dp"])  # drawn in a fixed order: the same dp
    assert not np.array_equal(run(seed="8").inputs["logits"], a.inputs["logits"])


def test_default_dp_that_does_not_fit_is_drawn_not_refused():
    trace = run(logits="1,2,3")
    assert trace.inputs["drawn"] == ["dp"] and np.asarray(trace.inputs["dp"]).shape == (3,)
    assert trace.step("vjp").worked[0].startswith("∂L/∂p was not typed: drawn at random (seed 0)")


def test_cli_json_outputs(run_cli):
    result = run_cli("lesson", LESSON, "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc["outputs"]) == {"jacobian", "grad_logits"}
    assert np.asarray(doc["outputs"]["jacobian"]).shape == (4, 4)
    np.testing.assert_allclose(doc["outputs"]["grad_logits"], [-0.775792, 0.609460, 0.135989, 0.030343], atol=5e-7)


def test_readable_at_80_columns(run_cli, monkeypatch):
    from rich.cells import cell_len

    monkeypatch.setenv("COLUMNS", "80")
    result = run_cli("lesson", LESSON)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) <= 150
    assert max(cell_len(line) for line in lines) <= 80
    text = result.stdout
    assert "elided" not in text and "…" not in text  # no number cut
    for internal in ("grad_z", "dL_dp", "via_jacobian", "shortcut_"):
        assert internal not in text
    result_section = text.split("Result ─")[1]
    assert "∂L/∂z" in result_section and "-0.7758" in result_section and "grad_logits" not in result_section


@pytest.mark.parametrize(
    "module", ["nntutor.core.softmax", "nntutor.symbolic.softmax", "nntutor.walkthroughs.backprop_softmax"]
)
def test_docstring_examples(module):
    import doctest
    import importlib

    assert doctest.testmod(importlib.import_module(module)).failed == 0
