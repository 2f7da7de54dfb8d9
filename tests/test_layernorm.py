"""layernorm: hand-worked values, the PyTorch oracle, and every flag's bad values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.core.layernorm import layer_norm


def run(**flags):
    return run_lesson(load_lesson("layernorm"), flags)


# ----------------------------------------------------------------- hand-worked


def test_default_by_hand():
    # μ = (1+2+3+4)/4 = 2.5; deviations [-1.5, -0.5, 0.5, 1.5];
    # σ² = (2.25 + 0.25 + 0.25 + 2.25)/4 = 5/4 = 1.25; √(1.25 + 0.00001) = 1.1180384;
    # -1.5/1.1180384 = -1.3416355, -0.5/1.1180384 = -0.4472118.
    trace = run()
    out = trace.outputs
    assert out["mean"] == 2.5
    assert out["var"] == 1.25
    np.testing.assert_allclose(out["normalized"], [-1.3416355, -0.4472118, 0.4472118, 1.3416355], atol=1e-7)
    np.testing.assert_allclose(out["normalized"], [-1.3416, -0.4472, 0.4472, 1.3416], atol=5e-5)
    np.testing.assert_allclose(out["y"], out["normalized"], atol=0)  # γ = 1, β = 0
    assert trace.step("std").value("std").data == pytest.approx(1.1180384, abs=1e-7)


def test_unbiased_variance_shown_for_comparison():
    # Σ(x − μ)² = 5; unbiased 5/3 = 1.6667; normalised with it: -1.5/√1.66668 = -1.1619
    step = run().step("variance")
    assert step.value("var_unbiased").data == pytest.approx(5 / 3)
    assert any("5 / 3 = 1.6667" in line and "-1.1619" in line for line in step.worked)
    assert "σ² = 5 / 4 = 1.25" in step.worked


def test_gamma_beta_by_hand():
    # x = [1, 2, 3]: μ = 2, σ² = (1 + 0 + 1)/3 = 0.666667, √(0.666667 + 0.00001) = 0.8165033;
    # x̂ = ±1/0.8165033 = [-1.2247357, 0, 1.2247357];
    # y = [2·(-1.2247357) + 1, 0.5·0 + 0, -1·1.2247357 - 1] = [-1.4494714, 0, -2.2247357]
    out = run(x="1,2,3", gamma="2,0.5,-1", beta="1,0,-1").outputs
    assert out["var"] == pytest.approx(2 / 3)
    np.testing.assert_allclose(out["normalized"], [-1.2247357, 0.0, 1.2247357], atol=1e-7)
    np.testing.assert_allclose(out["y"], [-1.4494714, 0.0, -2.2247357], atol=1e-7)


def test_residual_added_first_by_hand():
    # s = [1,2,3,4] + [3,2,1,0] = [4,4,4,4]: constant, so σ² = 0 and x̂ = 0/√ε = 0.
    trace = run(residual="3,2,1,0")
    assert trace.outputs["mean"] == 4.0 and trace.outputs["var"] == 0.0
    np.testing.assert_array_equal(trace.outputs["normalized"], [0, 0, 0, 0])
    assert trace.steps[0].id == "residual"
    assert trace.step("normalize").warnings  # the constant vector is reported
    np.testing.assert_array_equal(trace.inputs["residual"], [3, 2, 1, 0])


def test_rows_are_normalised_separately_by_hand():
    # row 0 = [1, 2, 3, 4] as above; row 1 = [10, 20, 30, 40] = 10·row 0, μ = 25, σ² = 125:
    # with ε ≪ σ² the normalised row is almost the same, -15/√125.00001 = -1.3416408.
    out = run(x="1,2,3,4;10,20,30,40").outputs
    np.testing.assert_allclose(out["mean"], [2.5, 25.0])
    np.testing.assert_allclose(out["var"], [1.25, 125.0])
    np.testing.assert_allclose(out["normalized"][1], [-1.3416408, -0.4472136, 0.4472136, 1.3416408], atol=1e-7)


def test_eps_changes_the_std():
    # ε = 0.75: √(1.25 + 0.75) = √2 = 1.41421; -1.5/1.41421 = -1.06066
    out = run(eps="0.75").outputs
    np.testing.assert_allclose(out["normalized"], [-1.06066, -0.353553, 0.353553, 1.06066], atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-100, 100, allow_nan=False), min_size=2, max_size=12))
def test_normalised_has_mean_0_and_variance_about_1(values):
    x = np.array(values)
    r = layer_norm(x)
    assert abs(float(np.mean(r.normalized))) < 1e-9
    expected = float(r.var / (r.var + 1e-5))  # exactly σ²/(σ² + ε)
    assert float(np.mean(r.normalized**2)) == pytest.approx(expected, abs=1e-9)


# ----------------------------------------------------------------- PyTorch oracle


@pytest.mark.oracle
@pytest.mark.parametrize(
    "flags",
    [
        {},
        {"x": "1,2,3", "gamma": "2,0.5,-1", "beta": "1,0,-1"},
        {"x": "1,2,3,4;10,-20,30,5;0.5,0.5,0.5,0.6", "eps": "0.001"},
        {"x": "1,2,3,4;5,6,7,9", "residual": "0.5,0,-1,2;1,1,1,1", "gamma": "1,2,3,4", "beta": "0,0.1,0.2,0.3"},
        {"x": "7", "eps": "0.1"},
    ],
)
def test_matches_torch_layer_norm(torch, flags):
    trace = run(**flags)
    i = trace.inputs
    s = i["x"] + i.get("residual", 0)
    d = s.shape[-1]
    expected = torch.nn.functional.layer_norm(
        torch.tensor(s), (d,), weight=torch.tensor(i["gamma"]), bias=torch.tensor(i["beta"]), eps=i["eps"]
    ).numpy()
    np.testing.assert_allclose(trace.outputs["y"], expected, rtol=0, atol=1e-10)
    plain = torch.nn.functional.layer_norm(torch.tensor(s), (d,), eps=i["eps"]).numpy()
    np.testing.assert_allclose(trace.outputs["normalized"], plain, rtol=0, atol=1e-10)
    torch_var = torch.var(torch.tensor(s), dim=-1, unbiased=False).numpy()
    np.testing.assert_allclose(trace.outputs["var"], torch_var, rtol=0, atol=1e-10)


# ----------------------------------------------------------------- flags


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"x": "1,two"}, "--x", "not a number"),
    ({"x": "1,2;3"}, "--x", "row 2"),
    ({"gamma": "1,2"}, "--gamma", "expected 4 numbers"),
    ({"gamma": "1,x,1,1"}, "--gamma", "not a number"),
    ({"beta": "1,2,3,4,5"}, "--beta", "expected 4 numbers"),
    ({"beta": ""}, "--beta", "empty"),
    ({"eps": "0"}, "--eps", "greater than 0"),
    ({"eps": "-1e-5"}, "--eps", "greater than 0"),
    ({"eps": "nan"}, "--eps", "NaN"),
    ({"residual": "1,2"}, "--residual", "shape of --x"),
    ({"residual": "1,2,3,4;1,2,3,4"}, "--residual", "shape of --x"),
    ({"residual": "1,2,z,4"}, "--residual", "not a number"),
]


def test_lesson_file_part_order_and_variance_answer():
    lesson = load_lesson("layernorm")
    assert (lesson.part, lesson.order) == ("The transformer", 500)
    item = next(q for q in lesson.quiz if q.id == "variance-of-1234")
    assert math.isclose(item.answer, 1.25)  # (2.25 + 0.25 + 0.25 + 2.25) / 4


# ----------------------------------------------------------------- CLI


def test_cli_json_with_custom_flags(run_cli):
    import json

    result = run_cli("lesson", "layernorm", "--x", "1,2,3", "--gamma", "2,0.5,-1", "--beta", "1,0,-1", "--eps", "0.001", "--residual", "0,0,1", "--format", "json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)["outputs"]
    assert set(out) == {"mean", "var", "normalized", "y"}
    # s = [1, 2, 4]: μ = 7/3, σ² = ((4/3)² + (1/3)² + (5/3)²)/3 = (16 + 1 + 25)/27 = 42/27 = 1.5556
    assert out["mean"] == pytest.approx(7 / 3)
    assert out["var"] == pytest.approx(42 / 27)


@pytest.mark.parametrize("module", ["nntutor.core.layernorm", "nntutor.walkthroughs.layernorm"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0


# ----------------------------------------------------------------- what the text claims (post-norm; γ and β)


def test_residual_text_is_post_norm():
    why = run(residual="3,2,1,0").step("residual").why
    assert "post-norm" in why and "renormalises the sum" in why
    assert "does not reach the next layer unchanged" in why
    # the identity path is claimed for pre-norm only
    assert why.index("pre-norm, x + sublayer(LN(x))") < why.index("passes through unchanged")
    assert "LN(x + sublayer(x)) normalises the sum: the input passes through unchanged" not in why
    # and it holds: LN(x + 0) forgets x's scale (x and 10·x give the same output), so x is not carried through
    small = run(x="1,2,3,4", residual="0,0,0,0").outputs["y"]
    large = run(x="10,20,30,40", residual="0,0,0,0").outputs["y"]
    np.testing.assert_allclose(small, large, atol=1e-5)
    assert not np.allclose(large, [10, 20, 30, 40])


def test_gamma_beta_restore_one_vector_but_not_every_row():
    # x = [1, 2, 3, 4]: μ = 2.5, σ_ε = √1.25001 = 1.1180384; γ = σ_ε, β = μ give x back.
    why = run().step("scale-shift").why
    assert "one per feature, and shared by every token" in why
    assert "γ = σ_ε = 1.118 and β = μ = 2.5 in every feature would give x back exactly" in why
    assert "no single γ, β undoes the normalisation of every row" in why
    std = math.sqrt(1.25 + 1e-5)
    restored = run(gamma=",".join([repr(std)] * 4), beta="2.5,2.5,2.5,2.5").outputs["y"]
    np.testing.assert_allclose(restored, [1, 2, 3, 4], atol=1e-12)
    # rows [1, 2, 3, 4] and [2, 4, 6, 9]: row 1 has μ = 21/4 = 5.25, σ² = (10.5625 + 1.5625 + 0.5625
    # + 14.0625)/4 = 6.6875, σ_ε = √6.68751 = 2.586; row 0's γ, β do not restore row 1.
    why = run(x="1,2,3,4;2,4,6,9").step("scale-shift").why
    assert "row 0 would need γ = 1.118, β = 2.5 in every feature while row 1 would need γ = 2.586, β = 5.25" in why
    both = run(x="1,2,3,4;2,4,6,9", gamma=",".join([repr(std)] * 4), beta="2.5,2.5,2.5,2.5").outputs["y"]
    np.testing.assert_allclose(both[0], [1, 2, 3, 4], atol=1e-12)
    assert np.max(np.abs(both[1] - [2, 4, 6, 9])) > 1
