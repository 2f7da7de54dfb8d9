"""The rnn lesson: by hand, against torch.nn.RNN and autograd.

Proof for both outputs (h, grad_norms):
- hand-worked values for the defaults (the arithmetic is in the comments);
- torch.nn.RNN (tanh) in float64 loaded with the same weights, at 1e-10, for the states;
- torch.autograd.functional.jacobian of h_T with respect to h_1 through that RNN, at
  1e-10 for ∂h_T/∂h_1 and every ∂h_T/∂h_t of the lesson's sequence, and at 1e-9
  relative for the norms of the table (they run from 1e-34 to 1e+22, so an absolute
  tolerance says nothing);
- the columns beside the network's norm: torch.linalg.matrix_power for W_hh^(T−1), and
  σ_max^(T−1) from torch's own singular values.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import parse_args, prepare, run_lesson
from nntutor.core import recurrent
from nntutor.quiz.mistakes import Case, alternatives
from nntutor.walkthroughs.rnn import WALKTHROUGH
from tests.helpers import assert_refused

LESSON = "rnn"

# The lesson file's defaults.
X = np.array([[1.0, 0.0], [0.5, -1.0], [0.0, 1.0], [-1.0, 0.5]])
WXH = np.array([[0.5, -0.5], [0.3, 0.8]])
WHH = np.array([[0.6, -0.4], [0.2, 0.5]])
B = np.array([0.0, 0.1])
LENGTHS = (10, 100)
SIGMAS = (0.9, 2.0)


def _run(flags=None):
    return run_lesson(load_lesson(LESSON), flags or {})


def _flag(a: np.ndarray) -> str:
    a = np.atleast_2d(a)
    return ";".join(",".join(repr(float(v)) for v in row) for row in a)


# --------------------------------------------------------------------------- by hand


def test_defaults_by_hand():
    trace = _run()
    h = trace.outputs["h"]
    # t = 1: h₀ = 0, so z₁ = W_xh·x₁ + b = (0.5×1 + (−0.5)×0, 0.3×1 + 0.8×0 + 0.1) = (0.5, 0.4)
    #        h₁ = (tanh 0.5, tanh 0.4) = (0.4621172, 0.3799490)
    np.testing.assert_allclose(h[0], [0.4621172, 0.3799490], atol=1e-7)
    # t = 2: W_xh·x₂ = (0.5×0.5 + (−0.5)×(−1), 0.3×0.5 + 0.8×(−1)) = (0.75, −0.65)
    #        W_hh·h₁ = (0.6×0.4621172 − 0.4×0.3799490, 0.2×0.4621172 + 0.5×0.3799490) = (0.1252907, 0.2823979)
    #        z₂ = (0.75 + 0.1252907 + 0, −0.65 + 0.2823979 + 0.1) = (0.8752907, −0.2676021)
    #        h₂ = (tanh 0.8752907, tanh(−0.2676021)) = (0.7040522, −0.2613922)
    np.testing.assert_allclose(trace.step("forward").value("z").data[1], [0.8752907, -0.2676021], atol=1e-7)
    np.testing.assert_allclose(h[1], [0.7040522, -0.2613922], atol=1e-7)
    # t = 3: W_xh·x₃ = (−0.5, 0.8); W_hh·h₂ = (0.4224313 + 0.1045569, 0.1408104 − 0.1306961) = (0.5269882, 0.0101143)
    #        z₃ = (0.0269882, 0.9101143), h₃ = (0.0269817, 0.7211871)
    # t = 4: W_xh·x₄ = (−0.5 − 0.25, −0.3 + 0.4) = (−0.75, 0.1); W_hh·h₃ = (0.0161890 − 0.2884749, 0.0053963 + 0.3605936)
    #        z₄ = (−1.0222859, 0.5659899), h₄ = (−0.7707959, 0.5124082)
    np.testing.assert_allclose(h[2], [0.0269817, 0.7211871], atol=1e-7)
    np.testing.assert_allclose(h[3], [-0.7707959, 0.5124082], atol=1e-7)
    worked = trace.step("forward").worked
    assert "W_xh[0]·x₂ = 0.5×0.5 + (-0.5)×(-1) = 0.75" in worked
    assert "W_hh[0]·h₁ = 0.6×0.4621 + (-0.4)×0.3799 = 0.1253" in worked
    assert "z₂[0] = 0.75 + 0.1253 + 0 = 0.8753" in worked


def test_backward_through_time_by_hand():
    trace = _run()
    factors = trace.step("factors")
    # 1 − h₂² = (1 − 0.7040522², 1 − 0.2613922²) = (0.5043104, 0.9316741)
    np.testing.assert_allclose(factors.value("tanh'").data[0], [0.5043104, 0.9316741], atol=1e-7)
    # J₂ = diag(1 − h₂²)·W_hh = [[0.5043104×0.6, 0.5043104×(−0.4)], [0.9316741×0.2, 0.9316741×0.5]]
    #    = [[0.3025862, −0.2017242], [0.1863348, 0.4658371]], flattened in reading order
    np.testing.assert_allclose(factors.value("J").data[0], [0.3025862, -0.2017242, 0.1863348, 0.4658371], atol=1e-7)
    # J₃: 1 − h₃² = (0.9992720, 0.4798892) -> [[0.5995632, −0.3997088], [0.0959778, 0.2399446]]
    # J₄: 1 − h₄² = (0.4058736, 0.7374379) -> [[0.2435242, −0.1623494], [0.1474876, 0.3687190]]
    # ∂h₄/∂h₂ = J₄·J₃: [0,0] = 0.2435242×0.5995632 + (−0.1623494)×0.0959778 = 0.1304262
    #                  [0,1] = 0.2435242×(−0.3997088) + (−0.1623494)×0.2399446 = −0.1362937
    # ∂h₄/∂h₁ = (J₄·J₃)·J₂: [0,0] = 0.1304262×0.3025862 + (−0.1362937)×0.1863348 = 0.0140690
    product = trace.step("product")
    assert product.value("P").data[0, 0] == pytest.approx(0.0140690, abs=1e-7)
    assert "∂h₄/∂h₂[0,0] = J₄[0,:]·J₃[:,0] = 0.2435×0.5996 + (-0.1623)×0.096 = 0.1304" in product.worked
    # σ_max(W_hh): W_hhᵀ·W_hh = [[0.40, −0.14], [−0.14, 0.41]], eigenvalues (0.81 ± √0.0785)/2,
    # the largest 0.5450892, so σ_max = √0.5450892 = 0.7383016 and the bound for T = 4 is 0.7383016³ = 0.4024.
    # ‖∂h_T/∂h_T‖ = ‖I‖ = 1 at the end of the row of norms.
    norms = product.value("norms").data[0]
    assert norms[-1] == pytest.approx(1.0, abs=1e-15)
    assert any("σ_max(W_hh)^3 = 0.7383^3 = 0.4024" in line for line in product.worked)
    # Every factor is at most σ_max (tanh′ ≤ 1), so going further back never gains: the norms fall.
    assert np.all(np.diff(norms) > 0)


def test_table_by_hand():
    trace = _run()
    table = trace.outputs["grad_norms"]
    assert table.columns == ("W_hh", "σ_max", "T = 10", "T = 100")
    assert [row[0] for row in table.rows] == ["as given", "scaled", "scaled"]
    assert table.rows[0][1] == pytest.approx(0.7383016, abs=1e-7)
    assert [row[1] for row in table.rows[1:]] == [0.9, 2.0]
    rows = trace.step("norms").value("table").data.rows
    # The bound column: σ_max^(T−1). 0.7383016^9 = e^(9×ln 0.7383016) = e^(9×(−0.3033458)) = 0.0651785;
    # 0.9^99 = 2.9513e-05; 2^9 = 512; 2^99 = 6.338253e+29.
    assert rows[0][5] == pytest.approx(0.0651785, rel=1e-6)
    assert rows[3][5] == pytest.approx(2.9513e-05, rel=1e-4)
    assert rows[4][5] == pytest.approx(512.0, rel=1e-12)
    assert rows[5][5] == pytest.approx(2.0**99, rel=1e-12)
    # Vanishing below 1: the network's norm for T = 100 is tiny; and never above the bound.
    for _, _, _, actual, linear, ceiling in rows:
        assert actual <= ceiling * (1 + 1e-12) and linear <= ceiling * (1 + 1e-12)
    assert rows[1][3] < 1e-30
    # Above 1 the linear part explodes: ρ(W_hh) = √det W_hh = √0.38 = 0.6164414 (complex eigenvalues
    # 0.55 ± 0.2784i), scaled by 2/0.7383016 it is 1.6699 > 1, so ‖W_hh^99‖ grows past 1e20 …
    assert recurrent.spectral_radius(WHH) == pytest.approx(math.sqrt(0.38), rel=1e-12)
    assert rows[5][4] > 1e20
    # … while the tanh network's own gradient still vanishes: its units saturate.
    assert rows[5][3] < 1e-6


def test_the_json_names_the_outputs_of_the_issue(run_cli):
    import json

    result = run_cli("lesson", LESSON, "--format", "json")
    assert result.exit_code == 0, result.stderr
    outputs = json.loads(result.stdout)["outputs"]
    assert sorted(outputs) == ["grad_norms", "h"]
    assert len(outputs["h"]) == 4 and outputs["grad_norms"]["columns"][2:] == ["T = 10", "T = 100"]


# --------------------------------------------------------------------------- torch.nn.RNN and autograd


def _torch_rnn(torch, wxh, whh, b):
    hidden, inputs = wxh.shape
    rnn = torch.nn.RNN(inputs, hidden, nonlinearity="tanh", bias=True, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor(wxh))
        rnn.weight_hh_l0.copy_(torch.tensor(whh))
        rnn.bias_ih_l0.copy_(torch.tensor(b))
        rnn.bias_hh_l0.zero_()
    return rnn


def _torch_states(torch, x, wxh, whh, b, h0):
    rnn = _torch_rnn(torch, wxh, whh, b)
    out, _ = rnn(torch.tensor(x)[:, None, :], torch.tensor(h0)[None, None, :])
    return out[:, 0, :].detach().numpy()


def _torch_jacobian(torch, x, wxh, whh, b, h0, start: int = 1):
    """∂h_T/∂h_start (1-based) by autograd: h_start as a leaf, then the rest of the sequence through nn.RNN."""
    rnn = _torch_rnn(torch, wxh, whh, b)
    xt = torch.tensor(x)[:, None, :]
    with torch.no_grad():
        _, h_start = rnn(xt[:start], torch.tensor(h0)[None, None, :])
    hidden = whh.shape[0]
    if start == x.shape[0]:
        return np.eye(hidden)

    def last_state(h):
        _, h_last = rnn(xt[start:], h.reshape(1, 1, hidden))
        return h_last.reshape(hidden)

    return torch.autograd.functional.jacobian(last_state, h_start.reshape(hidden)).numpy()


def _check_against_torch(torch, trace, x, wxh, whh, b, h0):
    np.testing.assert_allclose(trace.outputs["h"], _torch_states(torch, x, wxh, whh, b, h0), rtol=0, atol=1e-10)
    product = trace.step("product")
    np.testing.assert_allclose(product.value("P").data, _torch_jacobian(torch, x, wxh, whh, b, h0), rtol=0, atol=1e-10)
    ref_norms = [
        float(torch.linalg.matrix_norm(torch.tensor(_torch_jacobian(torch, x, wxh, whh, b, h0, start)), ord=2))
        for start in range(1, x.shape[0] + 1)
    ]
    np.testing.assert_allclose(product.value("norms").data[0], ref_norms, rtol=0, atol=1e-10)


def test_defaults_against_torch(torch):
    _check_against_torch(torch, _run(), X, WXH, WHH, B, np.zeros(2))


def test_h0_against_torch(torch):
    trace = _run({"h0": "0.5,-0.3"})
    _check_against_torch(torch, trace, X, WXH, WHH, B, np.array([0.5, -0.3]))
    assert trace.step("unrolled").value("h0").data.tolist() == [0.5, -0.3]


def test_random_lesson_runs_against_torch(torch):
    rng = np.random.default_rng(19)
    for _ in range(8):
        steps, inputs, hidden = int(rng.integers(2, 7)), int(rng.integers(1, 4)), int(rng.integers(1, 5))
        x = rng.normal(size=(steps, inputs))
        wxh, whh = rng.normal(size=(hidden, inputs)), rng.normal(size=(hidden, hidden)) / math.sqrt(hidden)
        b, h0 = rng.normal(size=hidden), rng.normal(size=hidden) * 0.5
        flags = {"x": _flag(x), "wxh": _flag(wxh), "whh": _flag(whh), "b": _flag(b), "h0": _flag(h0), "lengths": "5,20", "sigmas": "0.5"}
        _check_against_torch(torch, _run(flags), x, wxh, whh, b, h0)


def test_seeded_run_against_torch(torch):
    trace = _run({"seed": "7", "seq-len": "6", "d-in": "3", "hidden": "4"})
    i = trace.inputs
    assert i["drawn"] == ["x", "wxh", "whh", "b"] and i["seed"] == 7
    assert np.asarray(i["x"]).shape == (6, 3) and np.asarray(i["whh"]).shape == (4, 4)
    _check_against_torch(torch, trace, i["x"], i["wxh"], i["whh"], i["b"], i["h0"])
    again = _run({"seed": "7", "seq-len": "6", "d-in": "3", "hidden": "4"})
    np.testing.assert_array_equal(again.outputs["h"], trace.outputs["h"])


def _max_rel(ours: float, ref: float) -> float:
    return abs(ours - ref) / abs(ref)


def test_table_against_torch_autograd(torch):
    """Every norm of the table, each recomputed in torch: the network's through nn.RNN and autograd on the
    sequence repeated to T steps, W_hh scaled with torch's own σ_max; W_hh^(T−1) by matrix_power."""
    trace = _run()
    rows = trace.step("norms").value("table").data.rows
    w = torch.tensor(WHH)
    sigma_given = float(torch.linalg.matrix_norm(w, ord=2))
    variants = [sigma_given, *SIGMAS]
    worst = 0.0
    k = 0
    for sigma in variants:
        scaled = (w * (sigma / sigma_given)).numpy()
        for steps in LENGTHS:
            label, shown_sigma, shown_steps, actual, linear, ceiling = rows[k]
            k += 1
            assert shown_steps == steps and shown_sigma == pytest.approx(sigma, rel=1e-15)
            long_x = X[np.arange(steps) % len(X)]
            jac = _torch_jacobian(torch, long_x, WXH, scaled, B, np.zeros(2))
            ref = float(torch.linalg.matrix_norm(torch.tensor(jac), ord=2))
            ref_linear = float(torch.linalg.matrix_norm(torch.linalg.matrix_power(torch.tensor(scaled), steps - 1), ord=2))
            for ours, want in ((actual, ref), (linear, ref_linear), (ceiling, sigma ** (steps - 1))):
                worst = max(worst, _max_rel(ours, want))
                assert ours == pytest.approx(want, rel=1e-9, abs=0)
    # the table's grad_norms output holds the network's column
    out = trace.outputs["grad_norms"].rows
    assert [r[2:] for r in out] == [tuple(rows[2 * v + j][3] for j in range(2)) for v in range(3)]
    assert worst < 1e-9


def test_core_running_product_matches_a_plain_product():
    """The rescaled product keeps the logarithm of norms far outside float64's range."""
    rng = np.random.default_rng(3)
    w = rng.normal(size=(3, 3))
    plain = np.linalg.matrix_power(w, 7)
    assert recurrent.power_norm(w, 7).value == pytest.approx(np.linalg.norm(plain, 2), rel=1e-12)
    huge = recurrent.power_norm(w * 1e3, 400)  # about 10^1200
    assert math.isinf(huge.value) and huge.overflows
    assert huge.log10 == pytest.approx(400 * 3 + recurrent.power_norm(w, 400).log10, rel=1e-9)
    assert recurrent.power_norm(w, 0).value == pytest.approx(1.0)


def test_norms_beyond_float64_are_reported_not_nan():
    trace = _run({"sigmas": "10", "lengths": "400"})
    step = trace.step("norms")
    rows = step.value("table").data.rows
    assert math.isinf(rows[1][5])  # 10^399
    assert any("σ_max^(T−1) for σ_max = 10, T = 400 is about 10^399" in w for w in step.warnings)
    for row in rows:
        assert not any(isinstance(v, float) and math.isnan(v) for v in row)


# --------------------------------------------------------------------------- known mistakes


def _case(flags, step, value, index):
    lesson = load_lesson(LESSON)
    prepared = prepare(lesson, parse_args(lesson, flags))
    return Case(prepared, prepared.build(), step, value, index)


def _mistakes(case) -> dict[str, float]:
    return {m.id: v for m, v in alternatives(WALKTHROUGH.mistakes, case)}


def test_mistakes_recomputed_on_the_hand_worked_case():
    # No recurrence at t = 2: z₂[0] = W_xh[0]·x₂ + b[0] = 0.75 (the right value is 0.8752907),
    # and h₂[0] = tanh(0.75) = 0.6351490.
    assert _mistakes(_case({}, "forward", "z", (1, 0)))["no-recurrence"] == pytest.approx(0.75, abs=1e-12)
    found = _mistakes(_case({}, "forward", "h", (1, 0)))
    assert found["no-recurrence"] == pytest.approx(0.6351490, abs=1e-7)
    # Forgot the tanh: h₂[0] = z₂[0] = 0.8752907.
    assert found["no-tanh"] == pytest.approx(0.8752907, abs=1e-7)
    # At t = 1 there is no past (h₀ = 0): leaving out W_hh·h₀ is no mistake.
    assert "no-recurrence" not in _mistakes(_case({}, "forward", "z", (0, 0)))
    # tanh′ from z instead of h at t = 2, unit 0: 1 − 0.8752907² = 0.2338662 (right: 0.5043104);
    # 1 − h without the square: 1 − 0.7040522 = 0.2959478.
    found = _mistakes(_case({}, "factors", "tanh'", (0, 0)))
    assert found["slope-from-z"] == pytest.approx(0.2338662, abs=1e-7)
    assert found["slope-not-squared"] == pytest.approx(0.2959478, abs=1e-7)
    # J₂[0,1] = (1 − h₂[0]²)·W_hh[0,1] = −0.2017242. Without the slope: W_hh[0,1] = −0.4.
    # Transposed, W_hhᵀ·diag(1 − h₂²): [0,1] = W_hh[1,0]·(1 − h₂[1]²) = 0.2×0.9316741 = 0.1863348.
    # Slope from z: 0.2338662×(−0.4) = −0.0935465.
    found = _mistakes(_case({}, "factors", "J", (0, 1)))
    assert found["no-slope"] == pytest.approx(-0.4, abs=1e-12)
    assert found["transposed"] == pytest.approx(0.1863348, abs=1e-7)
    assert found["slope-from-z"] == pytest.approx(-0.0935465, abs=1e-7)


def test_a_wrong_quiz_answer_is_named():
    from nntutor.quiz.questions import numeric_question
    from nntutor.walkthroughs._declare import Target

    lesson = load_lesson(LESSON)
    for seed in range(6):
        question = numeric_question(lesson, np.random.default_rng(seed), Target("factors", "J"))
        assert question is not None
        ids = {mistake_id: value for mistake_id, _, value in question.mistakes}
        if "no-slope" in ids and question.diagnose(ids["no-slope"]) is not None:
            assert question.diagnose(ids["no-slope"])[0] == "no-slope"
            assert question.judge(question.expected) and question.diagnose(question.expected) is None
            return
    pytest.fail("no quiz run offered the no-slope mistake")


# --------------------------------------------------------------------------- refusals


BAD_INPUTS = [
    ({"x": "1,0"}, "--x", "--x: has 1 row (one time step)"),
    ({"x": "1,0,0;0,1,0"}, "--x", "--x: has 3 columns but --wxh (default 2×2) has 2 (W_xh is hidden × inputs); pass --wxh too"),
    ({"x": "1,0,0;0,1,0", "wxh": "1,0;0,1"}, "--wxh", "--wxh: has 2 columns but --x has 3 (W_xh is hidden × inputs)"),
    ({"wxh": "1,0;0,1;1,1"}, "--wxh", "--wxh: has 3 rows but --whh (default 2×2) has 2 (W_hh is hidden × hidden); pass --whh too"),
    ({"wxh": "1,0;0,1;1,1", "whh": "1,0;0,1"}, "--whh", "--whh: has 2 rows but --wxh has 3 (W_hh is hidden × hidden)"),
    ({"whh": "1,0,0;0,1,0"}, "--whh", "got 2×3"),
    ({"whh": "0,0;0,0"}, "--whh", "is all zeros"),
    ({"b": "1,2,3"}, "--b", "--b: has 3 numbers but --wxh (default 2×2) has 2 rows (one bias per hidden unit); pass --wxh too"),
    ({"h0": "1"}, "--h0", "--h0: expected 2 numbers"),
    ({"lengths": "2.5"}, "--lengths", "not a whole number"),
    ({"lengths": "1"}, "--lengths", "at least 2 steps"),
    ({"lengths": "500000"}, "--lengths", "at most 100,000"),
    ({"lengths": "1,2,3,4,5,6,7,8,9"}, "--lengths", "at most 8"),
    ({"lengths": "100000,100000"}, "--lengths", "s of work is allowed"),
    ({"sigmas": "0"}, "--sigmas", "greater than 0"),
    ({"sigmas": "11"}, "--sigmas", "at most 10"),
    ({"x": "1,0;0,1", "seq-len": "3"}, "--seq-len", "--seq-len: cannot be combined with --x"),
    ({"hidden": "3", "wxh": "1,0;0,1;1,1"}, "--hidden", "--hidden: cannot be combined with --wxh"),
    ({"seq-len": "1"}, "--seq-len", "at least 2"),
    ({"seq-len": "100000"}, "--seq-len", "at most 1,000 (--lengths runs longer sequences)"),
    ({"x": ";".join(["1"] * 1001), "wxh": "1;1"}, "--x", "has 1,001 rows"),
    ({"hidden": "5000"}, "--hidden", "GB"),
    ({"hidden": "400", "seed": "1"}, "--hidden", "s of work is allowed"),
]


def test_refusals_through_the_cli(run_cli):
    line = assert_refused(run_cli("lesson", LESSON, "--x", "1,0,0;0,1,0"), "--wxh", "pass --wxh too")
    assert line.startswith("error: --x: ")


def test_seed_draws_what_is_not_typed():
    trace = _run({"x": "1,0,0;0,1,0;1,1,1", "seed": "1"})
    assert trace.inputs["drawn"] == ["wxh", "whh", "b"]
    assert trace.inputs["wxh"].shape == (2, 3) and trace.inputs["whh"].shape == (2, 2)
    assert trace.inputs["x"].tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 1.0, 1.0]]


def test_long_sequences_are_elided_but_computed():
    trace = _run({"seed": "2", "seq-len": "30"})
    assert trace.outputs["h"].shape == (30, 2)
    assert "⋯" in trace.step("unrolled").worked[2]
    assert trace.step("product").value("norms").data.shape == (1, 30)
