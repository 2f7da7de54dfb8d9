"""The lstm lesson: hand-worked steps, PyTorch's nn.LSTM and autograd as the oracle, known mistakes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from nntutor.catalog import registry
from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import parse_args, prepare, run_lesson
from nntutor.core import lstm as core
from nntutor.quiz import mistakes

LESSON = "lstm"
HAND = 1e-9  # hand-worked values below are written to 12+ digits
ORACLE = 1e-10


def run(raw=None):
    return run_lesson(load_lesson(LESSON), raw or {})


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


# --------------------------------------------------------------------------- by hand


def test_first_step_by_hand():
    # t = 1: h₀ = c₀ = 0 and x₁ = (1, 0), so v = (0, 0, 1, 0): each z is the x[0] column of its W plus b
    #   z_f = (0.4 + 2, 0.1 + 2) = (2.4, 2.1)   f = σ(2.4), σ(2.1) = 0.916827303506, 0.890903178804
    #   z_i = (0.6, -0.4)                        i = 0.645656306226, 0.401312339888
    #   z_c = (0.5, 0.3)                         c̃ = tanh(0.5), tanh(0.3) = 0.462117157260, 0.291312612452
    #   z_o = (0.2, 0.5)                         o = 0.549833997312, 0.622459331202
    # c₁ = f⊙0 + i⊙c̃ = 0.645656306226×0.462117157260 = 0.298368856800, 0.401312339888×0.291312612452 = 0.116907346142
    # h₁ = o⊙tanh(c₁) = 0.549833997312×0.289819184708 = 0.159352440826, 0.622459331202×0.116377638165 = 0.072440346819
    trace = run()
    gates = trace.outputs["gates"]
    np.testing.assert_allclose(gates[0], [0.916827303506, 0.890903178804, 0.645656306226, 0.401312339888,
                                          0.462117157260, 0.291312612452, 0.549833997312, 0.622459331202], rtol=0, atol=HAND)
    np.testing.assert_allclose(trace.outputs["c"][0], [0.298368856800, 0.116907346142], rtol=0, atol=HAND)
    np.testing.assert_allclose(trace.outputs["h"][0], [0.159352440826, 0.072440346819], rtol=0, atol=HAND)
    assert "f₁[0] = σ(0.4×1 + (-0.2)×0 + 2) = σ(2.4) = 0.9168 (h₀ = 0: only x counts)" in trace.step("every").worked


def test_second_step_by_hand():
    # t = 2 reads v = [h₁, x₂] = (0.159352440826, 0.072440346819, 0.5, -1); unit 0:
    #   z_f = 0.3×0.159352 + 0.1×0.072440 + 0.4×0.5 + (-0.2)×(-1) + 2 = 2.455049766930   f = 0.920929947133
    #   z_i = 0.5×0.159352 − 0.2×0.072440 + 0.6×0.5 + 0.1×(-1)     = 0.265188151049   i = 0.565911223848
    #   z_c = 0.6×0.159352 − 0.4×0.072440 + 0.5×0.5 − 0.5×(-1)     = 0.816635325768   c̃ = 0.673234385527
    #   z_o = −0.3×0.159352 + 0.2×0.072440 + 0.2×0.5 + 0.4×(-1)    = -0.333317662884  o = 0.417433604316
    # c₂ = 0.920929947133×0.298368856800 + 0.565911223848×0.673234385527 = 0.655767710570
    # h₂ = 0.417433604316×tanh(0.655767710570) = 0.240249714896
    trace = run()
    step = trace.step("step").value("z").data  # rows f, i, c̃, o; columns z[0], z[1], gate[0], gate[1]
    np.testing.assert_allclose(step[:, 0], [2.455049766930, 0.265188151049, 0.816635325768, -0.333317662884], rtol=0, atol=HAND)
    np.testing.assert_allclose(step[:, 2], [0.920929947133, 0.565911223848, 0.673234385527, 0.417433604316], rtol=0, atol=HAND)
    assert trace.outputs["c"][1, 0] == pytest.approx(0.655767710570, abs=HAND)
    assert trace.outputs["h"][1, 0] == pytest.approx(0.240249714896, abs=HAND)
    worked = trace.step("step").worked
    assert worked[0] == "v = [h₁, x₂] = (0.1594, 0.0724, 0.5, -1)"
    assert "z_f[0] = 0.3×0.1594 + 0.1×0.0724 + 0.4×0.5 + (-0.2)×(-1) + 2 = 2.455" in worked
    assert "c₂[0] = f[0]×c₁[0] + i[0]×c̃[0] = 0.9209×0.2984 + 0.5659×0.6732 = 0.6558" in worked


def test_cell_path_by_hand():
    # ∂c₂/∂c₁ along the cell is f₂ itself: 0.920929947133 for unit 0 (from the step above);
    # ∂c₃/∂c₁ = f₂×f₃ and ∂c₄/∂c₁ = f₂×f₃×f₄, each the one before times the next f
    trace = run()
    carry = trace.step("carry").value("carry").data
    gates = trace.outputs["gates"]
    assert carry[0, 0] == pytest.approx(0.920929947133, abs=HAND)
    np.testing.assert_allclose(carry[2], gates[1, :2] * gates[2, :2] * gates[3, :2], rtol=1e-15)
    # the norm of a diagonal matrix is its largest entry: the "cell path" column at T = 4
    assert trace.step("carry").value("horizons").data[0, 0] == pytest.approx(max(carry[2]), rel=1e-12)
    assert trace.step("carry").worked[:2] == [
        "∂c₃/∂c₁[0] = f₂[0]×f₃[0] = 0.9209×0.8663 = 0.7978",
        "∂c₄/∂c₁[0] = ∂c₃/∂c₁[0]×f₄[0] = 0.7978×0.8294 = 0.6616",
    ]


def test_rnn_factor_by_hand():
    # The comparison RNN is the candidate's layer: s₁ = tanh(W_c·[0, x₁]) = tanh(0.5, 0.3) = (0.462117157260, 0.291312612452)
    # s₂[0] = tanh(0.6×0.462117 − 0.4×0.291313 + 0.5×0.5 − 0.5×(-1)) = tanh(0.910745249406) = 0.721451…
    # J₂[0,0] = (1 − s₂[0]²)×W_hh[0,0] = (1 − s₂[0]²)×0.6
    s1 = (math.tanh(0.5), math.tanh(0.3))
    s2 = math.tanh(0.6 * s1[0] - 0.4 * s1[1] + 0.25 + 0.5)
    trace = run()
    rnn = core.rnn_forward(trace.inputs["x"], trace.inputs["wc"], np.zeros(2))
    assert rnn.h[1, 0] == pytest.approx(s2, abs=1e-15)
    assert f"J₂[0,0] = (1 − s₂[0]²)×W_hh[0,0] = (1 − 0.7215²)×0.6 = {round((1 - s2 * s2) * 0.6, 4)}" in trace.step("carry").worked


# --------------------------------------------------------------------------- PyTorch oracle


def _torch_lstm(torch, inputs, split_bias=False):
    """nn.LSTM (and an LSTMCell) loaded with the lesson's weights, in PyTorch's gate order i, f, g, o."""
    w = inputs.weights
    hidden = w.hidden
    stacked, bias = w.stacked(core.TORCH_ORDER)
    lstm = torch.nn.LSTM(w.inputs, hidden)
    cell = torch.nn.LSTMCell(w.inputs, hidden)
    with torch.no_grad():
        for ih, hh, b_ih, b_hh in ((lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0),
                                   (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)):
            ih.copy_(torch.from_numpy(stacked[:, hidden:]))
            hh.copy_(torch.from_numpy(stacked[:, :hidden]))
            b_ih.copy_(torch.from_numpy(bias / 2 if split_bias else bias))
            b_hh.copy_(torch.from_numpy(bias / 2 if split_bias else np.zeros_like(bias)))
    return lstm, cell


def _prepared(raw):
    lesson = load_lesson(LESSON)
    return prepare(lesson, parse_args(lesson, raw))


CASES = [
    {},
    {"h0": "0.5,-1", "c0": "2,-0.3", "bi": "0.2,-0.4"},
    {"seed": "3", "seq-len": "6", "d-in": "3", "hidden": "4"},
    {"seed": "8", "seq-len": "5", "d-in": "1", "hidden": "3", "h0": "0.1", "c0": "-0.7"},
]


@pytest.mark.oracle
@pytest.mark.parametrize("raw", CASES)
def test_outputs_match_torch_lstm(torch, raw):
    prepared = _prepared(raw)
    inputs, trace = prepared.inputs, prepared.build()
    lstm, _ = _torch_lstm(torch, inputs, split_bias=True)
    x = torch.from_numpy(inputs.x)[:, None, :]
    h0, c0 = torch.from_numpy(inputs.h0)[None, None], torch.from_numpy(inputs.c0)[None, None]
    with torch.no_grad():
        out, (h_n, c_n) = lstm(x, (h0, c0))
    h = out[:, 0].numpy()
    np.testing.assert_allclose(trace.outputs["h"], h, rtol=0, atol=ORACLE)
    np.testing.assert_allclose(trace.outputs["h"][-1], h_n[0, 0].numpy(), rtol=0, atol=ORACLE)
    np.testing.assert_allclose(trace.outputs["c"][-1], c_n[0, 0].numpy(), rtol=0, atol=ORACLE)
    # nn.LSTM keeps its gates to itself: take them from its own parameters and its own h, in its order
    hidden = inputs.weights.hidden
    previous = np.vstack([inputs.h0, h[:-1]])
    with torch.no_grad():
        pre = (x[:, 0] @ lstm.weight_ih_l0.T + lstm.bias_ih_l0 + torch.from_numpy(previous) @ lstm.weight_hh_l0.T
               + lstm.bias_hh_l0)
        i, f, g, o = torch.sigmoid(pre[:, :hidden]), torch.sigmoid(pre[:, hidden:2 * hidden]), \
            torch.tanh(pre[:, 2 * hidden:3 * hidden]), torch.sigmoid(pre[:, 3 * hidden:])
    ours = trace.outputs["gates"]  # columns f, i, c̃, o
    for k, theirs in enumerate((f, i, g, o)):
        np.testing.assert_allclose(ours[:, k * hidden:(k + 1) * hidden], theirs.numpy(), rtol=0, atol=ORACLE)
    # and those gates rebuild PyTorch's cell states: c_t = f⊙c_{t−1} + i⊙g (the order is read right)
    c, cs = torch.from_numpy(inputs.c0), []
    for t in range(len(h)):
        c = f[t] * c + i[t] * g[t]
        cs.append(c.numpy())
    np.testing.assert_allclose(trace.outputs["c"], np.array(cs), rtol=0, atol=ORACLE)


def _autograd_norms(torch, inputs, steps):
    """‖∂c_T/∂c₁‖₂ (h₁ held) through nn.LSTMCell and ‖∂s_T/∂s₁‖₂ through nn.RNNCell, X repeated to T steps."""
    w = inputs.weights
    hidden = w.hidden
    _, cell = _torch_lstm(torch, inputs)
    rnn = torch.nn.RNNCell(w.inputs, hidden)
    with torch.no_grad():
        rnn.weight_ih.copy_(torch.from_numpy(w.wc[:, hidden:]))
        rnn.weight_hh.copy_(torch.from_numpy(w.wc[:, :hidden]))
        rnn.bias_ih.copy_(torch.from_numpy(w.bc))
        rnn.bias_hh.zero_()
    x = torch.from_numpy(core.repeated(inputs.x, steps))
    with torch.no_grad():
        h1, c1 = cell(x[:1], (torch.from_numpy(inputs.h0)[None], torch.from_numpy(inputs.c0)[None]))
        s1 = rnn(x[:1], torch.from_numpy(inputs.h0)[None])

    def cell_from(c):
        h, c = h1, c[None]
        for t in range(1, steps):
            h, c = cell(x[t:t + 1], (h, c))
        return c[0]

    def rnn_from(s):
        s = s[None]
        for t in range(1, steps):
            s = rnn(x[t:t + 1], s)
        return s[0]

    jc = torch.autograd.functional.jacobian(cell_from, c1[0])
    js = torch.autograd.functional.jacobian(rnn_from, s1[0])
    return jc, float(torch.linalg.matrix_norm(jc, 2)), float(torch.linalg.matrix_norm(js, 2))


@pytest.mark.oracle
@pytest.mark.parametrize("raw", [CASES[0], CASES[2]])
def test_gradient_norms_match_autograd(torch, raw):
    prepared = _prepared(raw)
    inputs, trace = prepared.inputs, prepared.build()
    table = trace.step("carry").value("horizons").data  # rows: T of X, then 10 and 100; cell path, all paths, RNN
    lengths = (inputs.x.shape[0], *inputs.lengths)
    for row, steps in enumerate(lengths):
        jc, all_paths, rnn = _autograd_norms(torch, inputs, steps)
        assert table[row, 1] == pytest.approx(all_paths, rel=1e-9, abs=1e-300)
        assert table[row, 2] == pytest.approx(rnn, rel=1e-9, abs=1e-300)


@pytest.mark.oracle
def test_cell_path_is_the_whole_derivative_when_no_gate_reads_h(torch):
    # With the h columns of every W set to 0, c₁ reaches c_T only along the cell: autograd's
    # ∂c_T/∂c₁ is then diag(f₂⋯f_T) exactly, and the "all paths" norm is the cell path's.
    raw = {
        "wf": "0,0,0.4,-0.2;0,0,0.1,0.5", "wi": "0,0,0.6,0.1;0,0,-0.4,0.7",
        "wc": "0,0,0.5,-0.5;0,0,0.3,0.8", "wo": "0,0,0.2,0.4;0,0,0.5,-0.3", "c0": "0.3,-1",
    }
    prepared = _prepared(raw)
    inputs, trace = prepared.inputs, prepared.build()
    jc, all_paths, _ = _autograd_norms(torch, inputs, inputs.x.shape[0])
    np.testing.assert_allclose(jc.numpy(), np.diag(trace.step("carry").value("carry").data[-1]), rtol=0, atol=ORACLE)
    table = trace.step("carry").value("horizons").data
    assert table[0, 0] == pytest.approx(table[0, 1], rel=1e-12) == pytest.approx(all_paths, rel=1e-12)


@pytest.mark.oracle
def test_products_beyond_float64_are_reported_in_log10(torch):
    # --bf -20: f ≈ σ(−20) ≈ 2e-9 every step, so Π f over 2999 steps is about 10^-26000 (0 in float64)
    trace = run({"bf": "-20", "lengths": "3000"})
    inputs = _prepared({"bf": "-20", "lengths": "3000"}).inputs
    lstm, _ = _torch_lstm(torch, inputs)
    x = torch.from_numpy(core.repeated(inputs.x, 3000))
    with torch.no_grad():
        out, _ = lstm(x[:, None, :], (torch.zeros(1, 1, 2), torch.zeros(1, 1, 2)))
        previous = torch.cat([torch.zeros(1, 2), out[:-1, 0]])
        f = torch.sigmoid(x @ lstm.weight_ih_l0[2:4].T + previous @ lstm.weight_hh_l0[2:4].T + lstm.bias_ih_l0[2:4])
    log10 = float(torch.log10(f[1:]).sum(dim=0).max())
    warning = next(w for w in trace.step("carry").warnings if "T = 3000, cell path" in w)
    assert f"about 10^{log10:.1f}, beyond float64's range (shown as 0)" in warning
    assert trace.step("carry").value("horizons").data[-1, 0] == 0.0


# --------------------------------------------------------------------------- the core on its own


def test_running_product_keeps_what_float64_cannot():
    # 0.1¹⁰⁰⁰ = 10^-1000: the rescaled product keeps its exponent, the plain one underflows
    product = core.RunningProduct(2)
    for _ in range(1000):
        product.times(np.diag([0.1, 0.05]))
    norm = product.norm(slice(None), slice(None))
    assert norm.value == 0.0 and norm.out_of_range
    assert norm.log10 == pytest.approx(-1000.0, abs=1e-9)


def test_step_jacobian_against_finite_differences():
    # An independent measurement: nudge each of (h₁, c₁) and watch (h₂, c₂) move.
    prepared = _prepared({"h0": "0.3,-0.2", "c0": "0.5,1"})
    inputs = prepared.inputs
    w = inputs.weights
    fw = core.lstm_forward(inputs.x, w, inputs.h0, inputs.c0)
    jac = core.step_jacobian(fw, w, 1)
    base = np.concatenate([fw.h[0], fw.c[0]])
    eps = 1e-6
    for k in range(4):
        up, down = base.copy(), base.copy()
        up[k] += eps
        down[k] -= eps
        plus = core.lstm_forward(inputs.x[1:2], w, up[:2], up[2:])
        minus = core.lstm_forward(inputs.x[1:2], w, down[:2], down[2:])
        column = (np.concatenate([plus.h[0], plus.c[0]]) - np.concatenate([minus.h[0], minus.c[0]])) / (2 * eps)
        np.testing.assert_allclose(jac[:, k], column, rtol=0, atol=1e-9)


def test_doctests():
    import doctest
    import importlib

    for module in ("nntutor.core.lstm", "nntutor.walkthroughs.lstm"):
        assert doctest.testmod(importlib.import_module(module)).failed == 0, module


# --------------------------------------------------------------------------- inputs


def test_one_number_is_every_unit():
    np.testing.assert_array_equal(run({"bf": "1"}).outputs["h"], run({"bf": "1,1"}).outputs["h"])
    assert run().inputs["bf"].tolist() == [2.0, 2.0]  # the default "2", recorded for each unit


def test_a_new_hidden_size_needs_only_the_four_matrices():
    # H = 1, d = 2: each W is 1×3; the one-number biases and states fit any H
    raw = {"wf": "0.5,1,0", "wi": "0,0,1", "wc": "1,1,1", "wo": "0,0,0"}
    trace = run(raw)
    # t = 1: z_f = 1×1 + 0×0 + 2 = 3, z_i = 0, z_c = 1, z_o = 0 → c₁ = σ(0)×tanh(1) = 0.5×0.761594155956 = 0.380797077978
    assert trace.outputs["c"][0, 0] == pytest.approx(0.5 * math.tanh(1.0), abs=1e-15)
    assert trace.outputs["gates"][0, 0] == pytest.approx(sigmoid(3.0), abs=1e-15)


def test_random_inputs_are_reproducible_and_recorded():
    first = run({"seed": "5", "hidden": "3"})
    again = run({"seed": "5", "hidden": "3"})
    np.testing.assert_array_equal(first.outputs["h"], again.outputs["h"])
    assert first.inputs["seed"] == 5 and first.inputs["wf"].shape == (3, 5) and first.inputs["x"].shape == (4, 2)
    assert np.all(np.abs(first.inputs["wf"]) <= 1) and np.array_equal(first.inputs["wf"], np.round(first.inputs["wf"], 2))
    # a typed input is kept, and the others are drawn as before
    typed = run({"seed": "5", "hidden": "3", "bf": "0.5"})
    np.testing.assert_array_equal(typed.inputs["wi"], first.inputs["wi"])
    assert typed.inputs["bf"].tolist() == [0.5, 0.5, 0.5]
    # the recorded inputs, typed back in, give the same run
    flags = {name: ";".join(",".join(repr(float(v)) for v in row) for row in np.atleast_2d(first.inputs[name]))
             for name in ("x", "wf", "wi", "wc", "wo")}
    flags.update({name: ",".join(repr(float(v)) for v in first.inputs[name]) for name in ("bf", "bi", "bc", "bo")})
    np.testing.assert_array_equal(run(flags).outputs["c"], first.outputs["c"])


def test_one_step_has_no_cell_path_but_still_a_long_range_table():
    trace = run({"x": "1,0"})
    assert [step.id for step in trace.steps] == ["inputs", "step", "every", "carry"]
    assert trace.step("step").title == "One time step in full: t = 1"
    names = [v.name for v in trace.step("carry").values]
    assert names == ["horizons"]


# --------------------------------------------------------------------------- known mistakes


def _case(step, value, index, raw=None):
    prepared = _prepared(raw or {})
    return mistakes.Case(prepared, prepared.build(), step, value, index)


def _found(case):
    return {m.id: v for m, v in mistakes.alternatives(registry.walkthrough(LESSON).mistakes, case)}


def test_known_mistakes_recomputed_by_hand():
    # c₁[0] = i×c̃ = 0.2984; the candidate written whole (no input gate): 0×f + c̃ = tanh(0.5) = 0.462117157260
    assert _found(_case("every", "c", (0, 0)))["no-input-gate"] == pytest.approx(0.462117157260, abs=HAND)
    # c₂[0] with c₁ kept whole (no forget gate): 0.298368856800 + 0.565911223848×0.673234385527 = 0.679359751850
    assert _found(_case("every", "c", (1, 0)))["no-forget"] == pytest.approx(0.679359751850, abs=HAND)
    # h₁[0] without the tanh: o×c = 0.549833997312×0.298368856800 = 0.164053341208
    assert _found(_case("every", "h", (0, 0)))["h-without-tanh"] == pytest.approx(0.164053341208, abs=HAND)
    # c̃₁[0] through σ instead of tanh: σ(0.5) = 0.622459331202 (gates column 4 is c̃[0])
    assert _found(_case("every", "gates", (0, 4)))["candidate-sigmoid"] == pytest.approx(0.622459331202, abs=HAND)
    # f₁[0] without its bias 2: σ(0.4) = 0.598687660112
    assert _found(_case("every", "gates", (0, 0)))["no-bias"] == pytest.approx(0.598687660112, abs=HAND)
    # f₂[0] reading x₂ alone (h₁ left out): σ(0.4×0.5 + (-0.2)×(-1) + 2) = σ(2.4) = 0.916827303506
    assert _found(_case("every", "gates", (1, 0)))["previous-h-left-out"] == pytest.approx(0.916827303506, abs=HAND)
    # the step's z_f[0] = 2.455049766930 without h₁: 2.4; without the bias: 0.455049766930
    found = _found(_case("step", "z", (0, 0)))
    assert found["previous-h-left-out"] == pytest.approx(2.4, abs=HAND)
    assert found["no-bias"] == pytest.approx(0.455049766930, abs=HAND)
    # ∂c₂/∂c₁[0] = f₂[0] = 0.920929947133; with f₁ multiplied in too: ×0.916827303506 = 0.844332...
    assert _found(_case("carry", "carry", (0, 0)))["counted-f1"] == pytest.approx(0.920929947133 * 0.916827303506, abs=HAND)


def test_mistakes_that_do_not_apply_stay_silent():
    # c₀ = 0: keeping it whole changes nothing at t = 1; b_i = 0: no bias to leave out; h₀ = 0 at t = 1
    assert "no-forget" not in _found(_case("every", "c", (0, 0)))
    assert "no-bias" not in _found(_case("every", "gates", (0, 2)))
    assert "previous-h-left-out" not in _found(_case("every", "gates", (0, 0)))


# --------------------------------------------------------------------------- CLI


def test_cli_json_outputs(run_cli):
    result = run_cli("lesson", LESSON, "--bf", "1", "--format", "json")
    assert result.exit_code == 0, result.stderr
    outputs = json.loads(result.stdout)["outputs"]
    assert set(outputs) == {"h", "c", "gates"}
    assert np.shape(outputs["h"]) == (4, 2) and np.shape(outputs["c"]) == (4, 2) and np.shape(outputs["gates"]) == (4, 8)
    # t = 1 with b_f = 1: f₁ = σ(0.4 + 1), σ(0.1 + 1) = 0.802183888559, 0.750260105595
    assert outputs["gates"][0][:2] == pytest.approx([sigmoid(1.4), sigmoid(1.1)], abs=1e-15)


def test_fits_80_columns(run_cli, monkeypatch):
    from rich.cells import cell_len

    monkeypatch.setenv("COLUMNS", "80")
    result = run_cli("lesson", LESSON)
    assert result.exit_code == 0, result.stderr
    lesson = result.stdout.split("\nWhat next")[0]
    assert len(lesson.splitlines()) <= 150  # the lesson, before its closing pointers
    # terminal columns: the candidate's c̃ is c and a combining tilde, one column wide
    assert max(cell_len(line) for line in result.stdout.splitlines()) <= 80
    assert "…" not in lesson  # nothing elided or cut at the defaults


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
W35 = "1,2,3,4,5;1,2,3,4,5;1,2,3,4,5"
BAD_INPUTS = [
    ({"x": "1,2,3"}, "--x", "--x: has 3 numbers per step but --wf (default 2×4) has 2 columns for x "
     "(W_f is hidden × (hidden + inputs)); pass --wf, --wi, --wc and --wo too (or --seed to draw them)"),
    ({"wf": "1,2,3;4,5,6"}, "--wf", "--wf: has 1 column for x but --x (default 4×2) has 2 numbers per step"),
    ({"wf": "1,2;3,4"}, "--wf", "has 2 columns for 2 rows: it needs 2 for hₜ₋₁ and at least 1 for xₜ"),
    ({"wf": W35}, "--wf", "--wf: has shape 3×5 but --wi (default 2×4) has shape 2×4 (every gate reads the same "
     "[hₜ₋₁, xₜ]); pass --wi, --wc and --wo too"),
    ({"wo": "1,2,3,4"}, "--wo", "--wo: has shape 1×4 but --wf (default 2×4) has shape 2×4"),
    ({"x": "1,2,3", "wf": "1,2,3,4;1,2,3,4"}, "--wf", "--wf: has 2 columns for x but --x has 3 numbers per step"),
    ({"bf": "1,2,3"}, "--bf", "--bf: has 3 numbers but --wf (default 2×4) has 2 rows (one per hidden unit, or one number for all)"),
    ({"h0": "1,2,3"}, "--h0", "has 3 numbers but --wf (default 2×4) has 2 rows"),
    ({"wf": W35, "wi": W35, "wc": W35, "wo": W35, "bi": "1,2"}, "--bi", "--bi: has 2 numbers but --wf has 3 rows"),
    ({"c0": "1;2"}, "--c0", "several rows"),
    ({"lengths": "1"}, "--lengths", "1 is not a whole number of at least 2"),
    ({"lengths": "2.5"}, "--lengths", "2.5 is not a whole number"),
    ({"lengths": "10,20,30,40,50,60,70"}, "--lengths", "has 7 lengths; at most 6"),
    ({"lengths": "1000000"}, "--lengths", "1,000,004 time steps in all with 2 hidden units would take about 120.0 s"),
    ({"seq-len": "100000"}, "--seq-len", "100,000 time steps in all with 2 hidden units would take about 12.0 s"),
    ({"hidden": "1000"}, "--hidden", "with 1,000 hidden units would take about 21.3 s"),
    ({"seq-len": "0"}, "--seq-len", "too small"),
    ({"x": "1,2", "seq-len": "3"}, "--seq-len", "cannot be combined with --x"),
    ({"x": "1,2", "d-in": "3"}, "--d-in", "cannot be combined with --x"),
    ({"seed": "1", "wf": W35, "hidden": "2"}, "--hidden", "is 2 but --wf has 3 rows"),
    ({"seed": "1", "wf": W35, "d-in": "3"}, "--d-in", "is 3 but --wf has 2 columns for x"),
    ({"seed": "1", "bf": "1,2,3"}, "--bf", "has 3 numbers but the drawn weights have 2 hidden units"),
]
