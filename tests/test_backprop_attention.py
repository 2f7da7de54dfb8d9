"""The backprop-attention lesson: by hand, against PyTorch autograd, against finite differences.

Proof three ways for every output (grad_v, grad_weights, grad_scores, grad_q, grad_k,
grad_x, grad_wq, grad_wk, grad_wv):
- hand-worked values for the defaults (the arithmetic is in the comments);
- PyTorch autograd in float64 at 1e-10, on the defaults and on random inputs, with
  causal and padding masks and without scaling;
- central finite differences, step h = 1e-6, tolerance 1e-7 (the error of the
  central difference is O(h²) ≈ 1e-12 plus rounding ≈ 1e-16/h = 1e-10).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import parse_args, prepare, run_lesson
from nntutor.core.attention import (
    attend,
    attend_backward,
    attend_backward_from,
    attention,
    projection_backward,
    softmax_rows_backward,
)
from nntutor.quiz.mistakes import Case, alternatives
from nntutor.walkthroughs.backprop_attention import WALKTHROUGH
from tests.helpers import assert_refused

LESSON = "backprop-attention"
OUTPUTS = ("grad_v", "grad_weights", "grad_scores", "grad_q", "grad_k", "grad_x", "grad_wq", "grad_wk", "grad_wv")

# The lesson file's defaults.
X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
WQ = np.array([[1.0, 0.5], [0.0, 1.0]])
WK = np.array([[0.5, 0.0], [1.0, 1.0]])
WV = np.array([[1.0, 0.0], [0.0, 2.0]])
DOUT = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, -1.0]])

H = 1e-6  # finite-difference step
FD_TOL = 1e-7  # finite-difference tolerance (absolute)


def _run(flags=None):
    return run_lesson(load_lesson(LESSON), flags or {})


def _flag(a: np.ndarray) -> str:
    return ";".join(",".join(repr(float(v)) for v in row) for row in a)


# --------------------------------------------------------------------------- by hand


def test_defaults_by_hand():
    trace = _run()
    out = trace.outputs
    # Forward, row 1 ('cat'): q1 = x1·W_Q = [0, 1]·W_Q = [0, 1]; K = X·W_K: k0 = [0.5, 0],
    # k1 = [1, 1], k2 = [1.5, 1]; V = X·W_V: v0 = [1, 0], v1 = [0, 2], v2 = [1, 2].
    # S[1] = q1·Kᵀ = [0, 1, 1]; S′[1] = [0, 1/√2, 1/√2] = [0, 0.7071068, 0.7071068]
    # e^0.7071068 = 2.0281150, Σ = 1 + 2×2.0281150 = 5.0562300
    # A[1] = [1/5.05623, 2.028115/5.05623, same] = [0.1977758, 0.4011121, 0.4011121]
    a1 = np.array([0.1977758, 0.4011121, 0.4011121])
    # dA[1] = dO[1]·Vᵀ = [0, 1]·v_j = the second entries of V = [0, 2, 2]
    np.testing.assert_allclose(out["grad_weights"][1], [0.0, 2.0, 2.0], atol=1e-12)
    # c1 = 0×0.1977758 + 2×0.4011121 + 2×0.4011121 = 1.6044484
    # ∂L/∂S′[1] = A ⊙ (dA − c1) = [0.1977758×(−1.6044484), 0.4011121×0.3955516, same]
    #           = [−0.3173211, 0.1586605, 0.1586605]; ÷√2 = [−0.2243799, 0.1121899, 0.1121899]
    ds1 = np.array([-0.2243799, 0.1121899, 0.1121899])
    np.testing.assert_allclose(out["grad_scores"][1], ds1, atol=1e-7)
    np.testing.assert_allclose(trace.step("softmax").value("dS'").data[1], ds1 * math.sqrt(2), atol=2e-7)
    # dQ[1] = dS[1]·K = −0.2243799×[0.5, 0] + 0.1121899×[1, 1] + 0.1121899×[1.5, 1]
    #       = [−0.1121899 + 0.1121899 + 0.1682849, 0.2243799] = [0.1682849, 0.2243799]
    np.testing.assert_allclose(out["grad_q"][1], [0.1682849, 0.2243799], atol=1e-7)
    # A[0]: S[0] = q0·Kᵀ = [1, 0.5]·k_j = [0.5, 1.5, 2]; ÷√2 = [0.3535534, 1.0606602, 1.4142136]
    # e^(s − 1.4142136) = [0.3462272, 0.7021885, 1], Σ = 2.0484157, A[0] = [0.1690219, 0.3427959, 0.4881822]
    # A[2]: S[2] = [1, 1.5]·k_j = [0.5, 2.5, 3]; ÷√2 = [0.3535534, 1.7677670, 2.1213203]
    # e^(s − 2.1213203) = [0.1707138, 0.7021885, 1], Σ = 1.8729023, A[2] = [0.0911493, 0.3749200, 0.5339307]
    # dV = Aᵀ·dO: dV[0,0] = A[0,0]×1 + A[1,0]×0 + A[2,0]×0.5 = 0.1690219 + 0.0455747 = 0.2145966
    #             dV[1,1] = A[0,1]×0 + A[1,1]×1 + A[2,1]×(−1) = 0.4011121 − 0.3749200 = 0.0261921
    assert out["grad_v"][0, 0] == pytest.approx(0.2145966, abs=1e-7)
    assert out["grad_v"][1, 1] == pytest.approx(0.0261921, abs=1e-7)
    np.testing.assert_allclose(trace.step("forward").value("A").data[1], a1, atol=1e-7)
    # dX[1,0] via Q = dQ[1]·W_Q[0,:] = 0.1682849×1 + 0.2243799×0.5 = 0.2804749
    # dW_V[0,0] = X[:,0]·dV[:,0] = 1×dV[0,0] + 0×dV[1,0] + 1×dV[2,0]; dV[2,0] = A[0,2] + 0.5×A[2,2]
    #           = 0.4881822 + 0.2669653 = 0.7551475, so dW_V[0,0] = 0.2145966 + 0.7551475 = 0.9697441
    assert out["grad_wv"][0, 0] == pytest.approx(0.9697441, abs=1e-7)
    worked = trace.step("projections").worked
    assert "dX[1,0] via Q = dQ[1,:]·W_Q[0,:] = 0.1683×1 + 0.2244×0.5 = 0.2805" in worked
    assert "c1 = dA[1]·A[1] = 0×0.1978 + 2×0.4011 + 2×0.4011 = 1.6044" in trace.step("softmax").worked
    assert "∂L/∂S′[1,0] = A[1,0]×(dA[1,0] − c1) = 0.1978×(0 − 1.6044) = -0.3173" in trace.step("softmax").worked


def test_every_gradient_has_the_shape_of_its_variable():
    out = _run({"x": "1,0,2;0,1,1;1,1,0;2,0,1", "wq": "1,0;0,1;1,1", "wk": "0,1;1,0;1,1", "wv": "1;2;0", "dout": "1;0;2;-1"}).outputs
    n, d, dk, dv = 4, 3, 2, 1
    assert out["grad_v"].shape == (n, dv)
    assert out["grad_weights"].shape == out["grad_scores"].shape == (n, n)
    assert out["grad_q"].shape == out["grad_k"].shape == (n, dk)
    assert out["grad_x"].shape == (n, d)
    assert out["grad_wq"].shape == out["grad_wk"].shape == (d, dk)
    assert out["grad_wv"].shape == (d, dv)


def test_the_json_names_the_outputs_of_the_issue(run_cli):
    import json

    result = run_cli("lesson", LESSON, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert sorted(json.loads(result.stdout)["outputs"]) == sorted(OUTPUTS)


# --------------------------------------------------------------------------- PyTorch autograd


def _torch_grads(torch, x, wq, wk, wv, dout, *, causal=False, padding=None, scale=True):
    """Every gradient by autograd, L = Σ O ⊙ dO. A query with every key masked gets weights 0."""
    t = lambda a: torch.tensor(a, dtype=torch.float64, requires_grad=True)  # noqa: E731
    X, WQ, WK, WV = t(x), t(wq), t(wk), t(wv)
    Q, K, V = X @ WQ, X @ WK, X @ WV
    S = Q @ K.T
    for m in (Q, K, V, S):
        m.retain_grad()
    scaled = S / math.sqrt(wq.shape[1]) if scale else S
    n = x.shape[0]
    allowed = torch.ones(n, n, dtype=torch.bool)
    if causal:
        allowed &= torch.ones(n, n, dtype=torch.bool).tril()
    if padding is not None:
        allowed &= torch.tensor(np.asarray(padding) != 0)[None, :]
    empty = ~allowed.any(dim=1)
    filler = torch.where(empty[:, None], 0.0, float("-inf")).expand(n, n)
    A = torch.softmax(torch.where(allowed, scaled, filler), dim=-1) * (~empty)[:, None]
    A.retain_grad()
    out = A @ V
    (out * torch.tensor(dout)).sum().backward()
    grads = {
        "grad_v": V.grad, "grad_weights": A.grad, "grad_scores": S.grad, "grad_q": Q.grad, "grad_k": K.grad,
        "grad_x": X.grad, "grad_wq": WQ.grad, "grad_wk": WK.grad, "grad_wv": WV.grad,
    }
    return {name: g.numpy() for name, g in grads.items()}


def _assert_outputs_match(ours, ref, tol=1e-10):
    for name in OUTPUTS:
        np.testing.assert_allclose(ours[name], ref[name], rtol=0, atol=tol, err_msg=name)


@pytest.mark.parametrize(
    "flags",
    [{}, {"causal": True}, {"padding": "1,0,1"}, {"causal": True, "padding": "0,1,1"}, {"no-scale": True}],
    ids=["plain", "causal", "padding", "causal+padding", "no-scale"],
)
def test_defaults_against_torch(torch, flags):
    trace = _run(flags)
    padding = [float(v) for v in flags["padding"].split(",")] if "padding" in flags else None
    ref = _torch_grads(torch, X, WQ, WK, WV, DOUT, causal=flags.get("causal", False), padding=padding, scale="no-scale" not in flags)
    _assert_outputs_match(trace.outputs, ref)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_random_lesson_runs_against_torch(torch, causal, masked):
    rng = np.random.default_rng(11 + causal + 2 * masked)
    for _ in range(8):
        n, d, dk, dv = (int(v) for v in rng.integers(1, 6, size=4))
        x, dout = rng.normal(size=(n, d)), rng.normal(size=(n, dv))
        wq, wk, wv = rng.normal(size=(d, dk)), rng.normal(size=(d, dk)), rng.normal(size=(d, dv))
        padding = rng.integers(0, 2, size=n).astype(float) if masked else None
        flags = {"x": _flag(x), "wq": _flag(wq), "wk": _flag(wk), "wv": _flag(wv), "dout": _flag(dout), "causal": causal}
        if padding is not None:
            flags["padding"] = ",".join(str(int(v)) for v in padding)
        trace = _run(flags)
        _assert_outputs_match(trace.outputs, _torch_grads(torch, x, wq, wk, wv, dout, causal=causal, padding=padding))


def test_seeded_lesson_run_against_torch(torch):
    trace = _run({"seed": "4", "seq-len": "6", "d-model": "4", "causal": True})
    i = trace.inputs
    assert i["drawn"] == ["x", "wq", "wk", "wv", "dout"] and i["seed"] == 4
    ref = _torch_grads(torch, i["x"], i["wq"], i["wk"], i["wv"], i["dout"], causal=True)
    _assert_outputs_match(trace.outputs, ref)
    again = _run({"seed": "4", "seq-len": "6", "d-model": "4", "causal": True})
    np.testing.assert_array_equal(again.outputs["grad_x"], trace.outputs["grad_x"])


def test_core_attend_backward_against_torch_more_keys_than_queries(torch):
    """attend_backward on projected Q, K, V with n_q ≠ n_k and an explicit mask (cross-attention shapes)."""
    rng = np.random.default_rng(5)
    q, k, v = rng.normal(size=(3, 4)), rng.normal(size=(5, 4)), rng.normal(size=(5, 2))
    dout = rng.normal(size=(3, 2))
    allowed = rng.random((3, 5)) < 0.7
    allowed[:, 0] = True
    g = attend_backward(q, k, v, dout, allowed=allowed)
    Q, K, V = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    S = (Q @ K.T / 2.0).masked_fill(~torch.tensor(allowed), float("-inf"))
    (torch.softmax(S, dim=-1) @ V * torch.tensor(dout)).sum().backward()
    for ours, ref in ((g.dq, Q.grad), (g.dk, K.grad), (g.dv, V.grad)):
        np.testing.assert_allclose(ours, ref.numpy(), rtol=0, atol=1e-10)


def test_core_projection_backward_with_biases_against_torch(torch):
    """projection_backward, with the biases a multi-head block adds (Q = X·W_Q + b_Q)."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=(4, 3))
    wq, wk, wv = rng.normal(size=(3, 2)), rng.normal(size=(3, 2)), rng.normal(size=(3, 3))
    bq, bk, bv = rng.normal(size=2), rng.normal(size=2), rng.normal(size=3)
    dout = rng.normal(size=(4, 3))
    r = attend(x @ wq + bq, x @ wk + bk, x @ wv + bv, causal=True)
    g = attend_backward_from(r, dout)
    p = projection_backward(x, wq, wk, wv, g.dq, g.dk, g.dv)
    T = [torch.tensor(a, requires_grad=True) for a in (x, wq, wk, wv, bq, bk, bv)]
    Xt, WQt, WKt, WVt, BQt, BKt, BVt = T
    Q, K, V = Xt @ WQt + BQt, Xt @ WKt + BKt, Xt @ WVt + BVt
    S = (Q @ K.T / math.sqrt(2)).masked_fill(~torch.ones(4, 4, dtype=torch.bool).tril(), float("-inf"))
    (torch.softmax(S, dim=-1) @ V * torch.tensor(dout)).sum().backward()
    for ours, ref in zip((p.dx, p.dwq, p.dwk, p.dwv, p.dbq, p.dbk, p.dbv), T, strict=True):
        np.testing.assert_allclose(ours, ref.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(p.dbk, 0.0, atol=1e-12)  # every row of dS sums to 0, so a key bias never moves L


# --------------------------------------------------------------------------- finite differences


def _loss(x, wq, wk, wv, dout, **mask) -> float:
    return float(np.sum(attention(x, wq, wk, wv, **mask).output * dout))


def _central(f, a: np.ndarray) -> np.ndarray:
    grad = np.zeros_like(a)
    for index in np.ndindex(a.shape):
        plus, minus = a.copy(), a.copy()
        plus[index] += H
        minus[index] -= H
        grad[index] = (f(plus) - f(minus)) / (2 * H)
    return grad


@pytest.mark.parametrize("mask", [{}, {"causal": True}, {"key_padding": [1, 0, 1]}, {"scale": False}], ids=["plain", "causal", "padding", "no-scale"])
def test_every_output_against_central_finite_differences(mask):
    flags = {"causal": True} if mask.get("causal") else {}
    if "key_padding" in mask:
        flags["padding"] = "1,0,1"
    if mask.get("scale") is False:
        flags["no-scale"] = True
    out = _run(flags).outputs
    args = (X, WQ, WK, WV, DOUT)
    fd = {
        "grad_x": _central(lambda a: _loss(a, *args[1:], **mask), X),
        "grad_wq": _central(lambda a: _loss(X, a, WK, WV, DOUT, **mask), WQ),
        "grad_wk": _central(lambda a: _loss(X, WQ, a, WV, DOUT, **mask), WK),
        "grad_wv": _central(lambda a: _loss(X, WQ, WK, a, DOUT, **mask), WV),
    }
    q, k, v = X @ WQ, X @ WK, X @ WV
    fd["grad_q"] = _central(lambda a: float(np.sum(attend(a, k, v, **mask).output * DOUT)), q)
    fd["grad_k"] = _central(lambda a: float(np.sum(attend(q, a, v, **mask).output * DOUT)), k)
    fd["grad_v"] = _central(lambda a: float(np.sum(attend(q, k, a, **mask).output * DOUT)), v)
    r = attend(q, k, v, **mask)
    fd["grad_weights"] = _central(lambda a: float(np.sum((a @ v) * DOUT)), r.weights)

    def through_scores(s):
        from nntutor.core.attention import softmax_rows_in_place

        weights, _, _, _ = softmax_rows_in_place(s / r.scale, r.allowed)
        return float(np.sum((weights @ v) * DOUT))

    fd["grad_scores"] = _central(through_scores, r.scores)
    for name in OUTPUTS:
        np.testing.assert_allclose(out[name], fd[name], rtol=0, atol=FD_TOL, err_msg=name)


# --------------------------------------------------------------------------- masks


def test_a_fully_masked_query_gets_zero_gradient_not_nan():
    trace = _run({"padding": "0,0,0"})
    for name in OUTPUTS:
        assert np.all(np.isfinite(trace.outputs[name])), name
    assert np.all(trace.outputs["grad_q"] == 0) and np.all(trace.outputs["grad_scores"] == 0)
    assert any("not NaN" in w for w in trace.step("softmax").warnings)
    # one empty row among others (causal + key 0 padded: query 0 sees nothing)
    trace = _run({"causal": True, "padding": "0,1,1"})
    assert np.all(trace.outputs["grad_q"][0] == 0) and np.all(trace.outputs["grad_scores"][0] == 0)
    assert np.all(trace.outputs["grad_scores"][:, 0] == 0)  # the padded key: zero gradient for every query
    fd = _central(lambda a: float(np.sum(attend(a, X @ WK, X @ WV, causal=True, key_padding=[0, 1, 1]).output * DOUT)), X @ WQ)
    np.testing.assert_allclose(trace.outputs["grad_q"], fd, atol=FD_TOL)


def test_masked_cells_get_exactly_zero_and_rows_sum_to_zero():
    trace = _run({"causal": True})
    ds = trace.outputs["grad_scores"]
    assert np.all(ds[np.triu_indices(3, k=1)] == 0.0)
    np.testing.assert_allclose(ds.sum(axis=1), 0.0, atol=1e-15)
    assert any(line.startswith("masked: A[0,1] = 0") for line in trace.step("softmax").worked)


def test_softmax_rows_backward_matches_the_jacobian():
    rng = np.random.default_rng(3)
    a = attend(rng.normal(size=(4, 3)), rng.normal(size=(5, 3)), np.eye(5)[:, :2]).weights
    da = rng.normal(size=a.shape)
    ds, dots = softmax_rows_backward(a, da)
    for i in range(a.shape[0]):
        jacobian = np.diag(a[i]) - np.outer(a[i], a[i])
        np.testing.assert_allclose(ds[i], jacobian.T @ da[i], atol=1e-15)
        assert dots[i] == pytest.approx(float(da[i] @ a[i]))


# --------------------------------------------------------------------------- known mistakes


def _case(flags, step, value, index):
    lesson = load_lesson(LESSON)
    prepared = prepare(lesson, parse_args(lesson, flags))
    return Case(prepared, prepared.build(), step, value, index)


def _mistakes(case) -> dict[str, float]:
    return {m.id: v for m, v in alternatives(WALKTHROUGH.mistakes, case)}


def test_mistakes_recomputed_on_the_hand_worked_case():
    # No 1/√d_k in the backward: dS[1,0] would be ∂L/∂S′[1,0] = −0.3173211 (instead of −0.2243799).
    found = _mistakes(_case({}, "scores", "dS", (1, 0)))
    assert found["no-scale-backward"] == pytest.approx(-0.3173211, abs=1e-7)
    # dK as dS·Q: row 1 of dS times Q[:,0] = [1, 0, 1]: −0.2243799×1 + 0.1121899×0 + 0.1121899×1 = −0.1121899.
    found = _mistakes(_case({}, "scores", "dK", (1, 0)))
    assert found["dk-not-transposed"] == pytest.approx(-0.1121899, abs=1e-7)
    # Elementwise softmax Jacobian: ∂L/∂S′[1,1] = A(1 − A)·dA = 0.4011121×0.5988879×2 = 0.4804424
    # (the right value is 0.1586605).
    found = _mistakes(_case({}, "softmax", "dS'", (1, 1)))
    assert found["softmax-elementwise"] == pytest.approx(0.4804424, abs=1e-7)
    # Only the path through Q into X: dX[1,0] = dQ[1]·W_Q[0,:] = 0.2804749 (the sum of the three is 0.6655).
    found = _mistakes(_case({}, "projections", "dX", (1, 0)))
    assert found["only-path-q"] == pytest.approx(0.2804749, abs=1e-7)
    assert set(found) >= {"only-path-k", "only-path-v", "no-scale-backward", "dk-not-transposed", "softmax-elementwise"}
    # Without scaling there is nothing to leave out.
    assert "no-scale-backward" not in _mistakes(_case({"no-scale": True}, "scores", "dS", (1, 0)))


def test_a_wrong_quiz_answer_is_named():
    from nntutor.quiz.questions import numeric_question
    from nntutor.walkthroughs._declare import Target

    lesson = load_lesson(LESSON)
    for seed in range(6):
        question = numeric_question(lesson, np.random.default_rng(seed), Target("scores", "dS"))
        assert question is not None
        ids = {mistake_id: value for mistake_id, _, value in question.mistakes}
        if "no-scale-backward" in ids:
            assert question.diagnose(ids["no-scale-backward"])[0] == "no-scale-backward"
            assert question.judge(question.expected) and question.diagnose(question.expected) is None
            return
    pytest.fail("no quiz run offered the no-scale-backward mistake")


# --------------------------------------------------------------------------- refusals


BAD_INPUTS = [
    ({"dout": "1,0;0,1"}, "--dout", "--dout: has 2 rows but --x (default 3×2) has 3 (dO has the shape of O: one row per token)"),
    ({"dout": "1,0,0;0,1,0;1,1,1"}, "--dout", "--dout: has 3 columns but --wv (default 2×2) has 2 (dO has the shape of O: one column per column of V)"),
    ({"dout": "1,nan;0,1;0,0"}, "--dout", "NaN and infinity are refused"),
    ({"dout": "1,inf;0,1;0,0"}, "--dout", "NaN and infinity are refused"),
    ({"x": "1,0;0,1;1,1;2,2"}, "--x", "--x: has 4 rows but --dout (default 3×2) has 3 (dO has the shape of O: one row per token); pass --dout too, or --seed to draw it"),
    ({"x": "1,0,0;0,1,0"}, "--x", "--x: has 3 columns but --wq (default 2×2) has 2 rows (one row per column of X); pass --wq, --wk and --wv too, or --seed to draw them"),
    ({"wk": "1;0"}, "--wk", "--wk: has 1 column but --wq (default 2×2) has 2 (queries and keys need the same size); pass --wq too"),
    ({"wv": "1,0;0,1;1,1"}, "--wv", "--wv: has 3 rows but --x (default 3×2) has 2 columns"),
    ({"padding": "1,0"}, "--padding", "--padding: expected 3 values"),
    ({"padding": "1,2,1"}, "--padding", "only 0"),
    ({"tokens": "a,b"}, "--tokens", "--tokens: expected 3 names"),
    ({"seq-len": "100000"}, "--seq-len", "GB"),
    ({"d-model": "100000"}, "--d-model", "GB"),
    ({"x": "1,0;0,1", "seq-len": "3"}, "--seq-len", "--seq-len: cannot be combined with --x"),
    ({"seq-len": "0"}, "--seq-len", "at least 1"),
    # a typed input that the defaults no longer fit is named, not the default
    ({"wq": "1,0,1;0,1,1"}, "--wq", "--wq: has 3 columns but --wk (default 2×2) has 2 (queries and keys need the same size); pass --wk too"),
    ({"wv": "1,0,0;0,2,2"}, "--wv", "--wv: has 3 columns but --dout (default 3×2) has 2 (dO has the shape of O: one column per column of V); pass --dout too, or --seed"),
    ({"x": "1,0;0,1"}, "--x", "--x: has 2 rows but --dout (default 3×2) has 3"),
]


def test_refusals_through_the_cli(run_cli):
    line = assert_refused(run_cli("lesson", LESSON, "--dout", "1,0;0,1"), "has 2 rows but --x (default 3×2) has 3")
    assert line.startswith("error: --dout: ")
    line = assert_refused(run_cli("lesson", LESSON, "--x", "1,0,0;0,1,0"), "pass --wq, --wk and --wv too, or --seed")
    assert line.startswith("error: --x: ")


def test_seed_draws_what_is_not_typed():
    trace = _run({"x": "1,0,0;0,1,0", "seed": "1"})
    assert trace.inputs["drawn"] == ["wq", "wk", "wv", "dout"]
    assert trace.inputs["wq"].shape == (3, 3) and trace.inputs["dout"].shape == (2, 3)
    assert trace.inputs["x"].tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
