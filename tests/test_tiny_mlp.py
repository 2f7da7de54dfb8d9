"""The tiny-mlp lesson: hand-worked hinges, shapes, PyTorch gradients, sympy side by side, bad flags."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.core import tiny_mlp as tm


def run(**raw):
    return run_lesson(load_lesson("tiny-mlp"), raw)


def test_defaults_by_hand():
    trace = run()
    # z1 = 1×1 + 1 = 2, z2 = 2×1 − 1 = 1; f = 1×ReLU(2) − 1.5×ReLU(1) + 0 = 2 − 1.5 = 0.5
    assert trace.outputs["y"] == pytest.approx(0.5, abs=1e-15)
    # kinks: −b1/w1 = −1/1 = −1, −b2/w2 = 1/2 = 0.5
    assert trace.outputs["kinks"] == pytest.approx({"hinge1": -1.0, "hinge2": 0.5})
    # ∂f/∂w = v·step(z)·x0, ∂f/∂b = v·step(z), ∂f/∂v = ReLU(z), ∂f/∂c = 1
    assert trace.outputs["grads"] == pytest.approx(
        {"w1": 1.0, "b1": 1.0, "v1": 2.0, "w2": -1.5, "b2": -1.5, "v2": 1.0, "c": 1.0}
    )
    shape = trace.step("shape")
    assert shape.value("shape").data == "peak"
    # slopes: 0 left of −1; 1×1 = 1 between; 1 − 1.5×2 = −2 right of 0.5; the peak f(0.5) = 1.5
    assert [row[2] for row in shape.value("regions").data.rows] == [0.0, 1.0, -2.0]
    assert "f(0.5) = 1.5" in shape.worked


@pytest.mark.parametrize(
    "raw, shape",
    [
        ({"v1": "-1", "v2": "1.5"}, "valley"),  # the default peak upside down
        ({"b1": "0", "w2": "1", "b2": "-1", "v2": "-1"}, "ramp"),  # ReLU(x) − ReLU(x − 1): 0, 1, 0
        ({"v1": "0", "v2": "0"}, "flat"),
        ({"w2": "0"}, "ramp"),  # one kink only: 0 then 1
    ],
)
def test_shapes(raw, shape):
    assert run(**raw).step("shape").value("shape").data == shape


def test_zero_weight_means_no_kink():
    trace = run(w2="0", b2="0.5")
    assert trace.outputs["kinks"] == {"hinge1": -1.0}
    assert "no kink" in trace.step("kinks").worked[1]
    # hinge 2 is the constant −1.5×ReLU(0.5) = −0.75; f(1) = 2 − 0.75 = 1.25
    assert trace.outputs["y"] == pytest.approx(1.25)
    assert trace.outputs["grads"]["v2"] == pytest.approx(0.5)
    assert trace.outputs["grads"]["w2"] == pytest.approx(-1.5)  # v2·step(0.5)·x0 = −1.5×1×1


def test_x0_at_kink_warns_and_uses_zero_derivative():
    trace = run(x0="0.5")
    assert trace.step("gradients").warnings
    assert trace.outputs["grads"]["w2"] == 0.0 and trace.outputs["grads"]["b2"] == 0.0


def test_sympy_and_numeric_side_by_side():
    trace = run(w1="-0.7", b1="0.3", v1="2.2", w2="1.3", b2="0.4", v2="-0.9", c="0.25", x0="-0.2")
    rows = trace.step("gradients").value("grads").data.rows
    assert [r[0] for r in rows] == list(tm.PARAMS)
    for _, _, sym_value, numeric in rows:
        assert sym_value == pytest.approx(numeric, abs=1e-12)
    assert "step" in rows[0][1]


@pytest.mark.parametrize("seed", range(6))
def test_against_pytorch(torch, seed):
    rng = np.random.default_rng(seed)
    values = {name: float(np.round(rng.uniform(-2, 2), 3)) for name in tm.PARAMS}
    x0 = float(np.round(rng.uniform(-2, 2), 3))
    trace = run(**{k: repr(v) for k, v in values.items()}, x0=repr(x0))
    T = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in values.items()}
    f = T["v1"] * torch.relu(T["w1"] * x0 + T["b1"]) + T["v2"] * torch.relu(T["w2"] * x0 + T["b2"]) + T["c"]
    f.backward()
    assert trace.outputs["y"] == pytest.approx(f.item(), abs=1e-10)
    for name in tm.PARAMS:
        assert trace.outputs["grads"][name] == pytest.approx(T[name].grad.item(), abs=1e-10)


@settings(max_examples=60, deadline=None)
@given(
    params=st.fixed_dictionaries({name: st.floats(-3, 3) for name in tm.PARAMS}),
    x0=st.floats(-5, 5),
)
def test_value_lies_on_its_region_line(params, x0):
    r = tm.analyse(params, x0)
    assume(not r.at_kink and all(k is None or abs(k - x0) > 1e-9 for k in r.kinks))
    region = next(g for g in r.regions if g.left < x0 < g.right)
    assert r.y == pytest.approx(region.slope * x0 + region.intercept, abs=1e-9)
    assert r.dydx == pytest.approx(region.slope, abs=1e-12)


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({name: value}, f"--{name}", fragment)
    for name in ("w1", "b1", "v1", "w2", "b2", "v2", "c", "x0")
    for value, fragment in (
        ("abc", "'abc' is not a number"),
        ("nan", "'nan' is not allowed"),
        ("1,2", "'1,2' is a list"),
        ("1e9", "too large"),
    )
]


# ----------------------------------------------------------------- CLI


def test_cli_json_with_custom_flags(run_cli):
    import json

    result = run_cli("lesson", "tiny-mlp", "--w1", "1", "--b1", "0", "--v1", "1", "--w2", "0", "--b2", "2",
                     "--v2", "3", "--c", "-1", "--x0", "-2", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc["outputs"]) == {"y", "grads", "kinks"}
    # f(−2) = 1×ReLU(−2) + 3×ReLU(2) − 1 = 0 + 6 − 1 = 5; hinge 2 has w = 0: no kink (null)
    assert doc["outputs"]["y"] == pytest.approx(5.0)
    assert doc["outputs"]["kinks"] == {"hinge1": 0.0}
    # ∂f/∂w1 = v1·step(−2)·x0 = 0; ∂f/∂v2 = ReLU(2) = 2; ∂f/∂w2 = v2·step(2)·x0 = 3×1×(−2) = −6
    assert doc["outputs"]["grads"] == pytest.approx(
        {"w1": 0.0, "b1": 0.0, "v1": 0.0, "w2": -6.0, "b2": 3.0, "v2": 2.0, "c": 1.0}
    )


@pytest.mark.parametrize("module", ["nntutor.core.tiny_mlp", "nntutor.walkthroughs.tiny_mlp"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0


def test_curve_plot_passes_through_the_kinks_and_x0():
    trace = run()
    (plot,) = trace.step("shape").plots
    f = plot.series[0]
    grid = np.asarray(f.x)
    assert grid.min() < -1 and grid.max() > 1  # shows both kinks (−1, 0.5) and x0 = 1
    # on the grid, f = the sum of its two hinge series + c, and equals the lesson's f
    np.testing.assert_allclose(f.y, np.asarray(plot.series[1].y) + np.asarray(plot.series[2].y), rtol=0, atol=1e-12)
    np.testing.assert_allclose(f.y, tm.value(tm.DEFAULTS, grid), rtol=0, atol=1e-12)


# ----------------------------------------------------------------- two hinges make a peak, not a bump


def _relu(z):
    return np.maximum(z, 0.0)


def test_default_is_a_peak_that_falls_without_bound():
    # slopes 0, 1, −2: right of 0.5, f(x) = −2·x + 2.5 → −∞. Back at the left level 0 at
    # x = 0.5 + 1.5/2 = 1.25, so 2·ReLU(x − 1.25) levels it off: a bump on [−1, 1.25].
    trace = run()
    shape = trace.step("shape")
    assert shape.title == "Two hinges make a peak"
    why = shape.why
    assert "It is not a bump" in why and "local bump" not in why
    assert "right of x = 0.5 it has slope -2, so f falls without bound" in why
    assert "takes at least three hinges" in why
    assert "a third hinge, 2·ReLU(x − 1.25), would do it" in why and "a bump from x = -1 to 1.25" in why
    assert "a third hinge 2·ReLU(x − 1.25), on for x > 1.25, starts where f(1.25) = 0" in shape.worked[-1]
    assert tm.levelling_hinge(tm.analyse(tm.DEFAULTS, 1.0)) == (1.0, -1.25, 2.0)
    # independently: with the third hinge the curve is 0 on both sides and peaks at f(0.5) = 1.5
    x = np.linspace(-4, 4, 8001)
    f = _relu(x + 1) - 1.5 * _relu(2 * x - 1)
    assert f[-1] == pytest.approx(-2 * 4 + 2.5)  # without it: −5.5 at x = 4, and falling
    bump = f + 2 * _relu(x - 1.25)
    assert np.all(np.abs(bump[(x <= -1) | (x >= 1.25)]) < 1e-12)
    assert bump.max() == pytest.approx(1.5)


def test_a_peak_open_on_the_left_is_levelled_by_a_left_facing_hinge():
    # w1 = −1, b1 = 1, v1 = 1; w2 = −2, b2 = −1, v2 = −1.5: slopes 2, −1, 0 (kinks −0.5 and 1).
    # f(−0.5) = 1.5 and f = 2x + 2.5 on the left, back at 0 at x = −1.25: 2·ReLU(−x − 1.25).
    trace = run(w1="-1", b1="1", v1="1", w2="-2", b2="-1", v2="-1.5")
    assert trace.step("shape").value("shape").data == "peak"
    assert "a third hinge, 2·ReLU(−x − 1.25), would do it" in trace.step("shape").why
    x = np.linspace(-4, 4, 8001)
    bump = _relu(-x + 1) - 1.5 * _relu(-2 * x - 1) + 2 * _relu(-x - 1.25)
    assert np.all(np.abs(bump[(x <= -1.25) | (x >= 1)]) < 1e-12)


def test_unbounded_on_both_sides_needs_a_hinge_at_each_end():
    # ReLU(−x) + 3·ReLU(x − 1): slopes −1, 0, 3, rising without bound on both sides.
    trace = run(w1="-1", b1="0", v1="1", w2="1", b2="-1", v2="3")
    assert trace.step("shape").value("shape").data == "valley"
    assert "takes a hinge at each end" in trace.step("shape").why
    assert tm.levelling_hinge(tm.analyse({"w1": -1, "b1": 0, "v1": 1, "w2": 1, "b2": -1, "v2": 3, "c": 0}, 0.0)) is None


def test_quiz_item_no_longer_calls_two_hinges_a_bump():
    # ReLU(x) − 2·ReLU(x − 1): slopes 0, 1, −1; + ReLU(x − 2) levels it at f(2) = 2 − 2 = 0.
    item = next(q for q in load_lesson("tiny-mlp").quiz if q.id == "bump")
    right = item.choices[item.answer - 1]
    assert "falls without bound" in right and "1 − 2 = −1" in right
    assert "ReLU(x − 2)" in item.explanation
    r = tm.analyse({"w1": 1, "b1": 0, "v1": 1, "w2": 1, "b2": -1, "v2": -2, "c": 0}, 0.5)
    assert [g.slope for g in r.regions] == [0.0, 1.0, -1.0] and r.shape == "peak"
    assert tm.levelling_hinge(r) == (1.0, -2.0, 1.0)
