"""The loss lesson: hand-worked losses, clipping, and PyTorch's loss functions."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.core import loss as core


def run(raw=None):
    return run_lesson(load_lesson("loss"), raw or {})


# --------------------------------------------------------------------------- hand-worked


def test_default_cross_entropy():
    trace = run()
    # −ln 0.6 = 0.5108256238
    assert trace.outputs["loss"] == pytest.approx(0.5108256238, abs=1e-10)
    assert "L = −ln(p[2]) = −ln(0.6) = 0.5108" in trace.step("loss").worked
    assert "natural log" in trace.step("loss").formula_text


def test_confidently_wrong_case_is_shown():
    step = run().step("confident-wrong")
    rows = step.value("cases").data.rows
    # [0.8, 0.1, 0.05, 0.05] with target 2: −ln 0.05 = ln 20 = 2.9957322736
    assert rows[1][2] == pytest.approx(2.9957322736, abs=1e-10)
    assert rows[0][2] == pytest.approx(0.5108256238, abs=1e-10)
    # the −ln p curve: −ln 0.5 = 0.6931471806, −ln 0.001 = 6.9077552790
    curve = step.value("curve").data
    assert curve[3] == pytest.approx(0.6931471806, abs=1e-10)
    assert curve[-1] == pytest.approx(6.9077552790, abs=1e-10)


def test_cross_entropy_from_logits_by_hand():
    trace = run({"logits": "2,1,0.1", "target": "0"})
    # ln(e² + e¹ + e^0.1) − 2 = ln(7.3890561 + 2.7182818 + 1.1051709) − 2 = ln(11.2125088) − 2 = 0.4170300
    assert trace.outputs["loss"] == pytest.approx(0.4170300163, abs=1e-9)
    assert trace.step("loss").value("lse").data == pytest.approx(2.4170300163, abs=1e-9)
    assert trace.inputs["logits"].tolist() == [2.0, 1.0, 0.1] and "probs" not in trace.inputs


def test_logits_whose_probability_underflows_stay_finite():
    trace = run({"logits": "1000,-1000", "target": "1"})
    # ln(e^1000 + e^-1000) − (−1000) = 1000 + ln(1 + e^-2000) + 1000 = 2000 (e^-2000 underflows)
    assert trace.outputs["loss"] == 2000.0
    assert any("rounds to 0" in w for w in trace.step("loss").worked)


def test_zero_probability_is_clipped_and_said_so():
    trace = run({"probs": "0.5,0.5,0"})
    # −ln(1e-7) = 7·ln 10 = 16.1180956510
    assert trace.outputs["loss"] == pytest.approx(16.1180956510, abs=1e-9)
    step = trace.step("loss")
    assert any("the loss would be infinite" in w and "eps = 1e-07" in w for w in step.warnings)
    assert step.worked[0] == "clipping: p_t = max(0, eps) = max(0, 1e-07) = 1e-07"
    # a smaller eps: −ln(1e-12) = 12·ln 10 = 27.6310211159
    assert run({"probs": "0.5,0.5,0", "eps": "1e-12"}).outputs["loss"] == pytest.approx(27.6310211159, abs=1e-9)
    assert run().step("loss").warnings == []


def test_bce_by_hand():
    trace = run({"kind": "bce"})
    # y = [1, 0, 1, 0], p = [0.9, 0.2, 0.6, 0.4]:
    # −ln 0.9 = 0.1053605157, −ln 0.8 = 0.2231435513, −ln 0.6 = 0.5108256238 (twice)
    # mean = (0.1053605157 + 0.2231435513 + 2×0.5108256238)/4 = 1.3501553146/4 = 0.3375388287
    assert trace.outputs["loss"] == pytest.approx(0.3375388287, abs=1e-10)
    assert "ℓ1 = −[0×ln(0.2) + 1×ln(1 − 0.2)] = 0.2231" in trace.step("terms").worked


def test_bce_certain_and_wrong_is_clipped():
    trace = run({"kind": "bce", "y-true": "0,1", "y-pred": "1,1"})
    # ℓ0 = −ln(1 − (1 − 1e-7)) = −ln(1e-7) = 16.1180956510; ℓ1 = −ln(1 − 1e-7) ≈ 1.00000005e-7
    assert trace.outputs["loss"] == pytest.approx((16.1180956510 + 1.00000005e-7) / 2, abs=1e-9)
    assert any("would be infinite" in w for w in trace.step("terms").warnings)


def test_mse_and_half_sse_by_hand():
    # defaults: errors −0.1, 0.2, −0.4, 0.4 → squares 0.01 + 0.04 + 0.16 + 0.16 = 0.37; /4 = 0.0925
    assert run({"kind": "mse"}).outputs["loss"] == pytest.approx(0.0925, abs=1e-15)
    # ½·((1.5 − 1)² + (1 − 2)²) = ½·(0.25 + 1) = 0.625
    trace = run({"kind": "half-sse", "y-true": "1,2", "y-pred": "1.5,1"})
    assert trace.outputs["loss"] == 0.625
    assert "L = ½ × 1.25 = 0.625" in trace.step("loss").worked


# --------------------------------------------------------------------------- PyTorch oracle


@pytest.mark.oracle
def test_all_kinds_against_torch(torch):
    F = torch.nn.functional
    t = lambda values: torch.tensor(values, dtype=torch.float64)  # noqa: E731

    probs, target = [0.15, 0.05, 0.7, 0.1], 1
    trace = run({"probs": ",".join(map(str, probs)), "target": str(target)})
    expected = F.nll_loss(torch.log(t(probs))[None], torch.tensor([target])).item()
    assert trace.outputs["loss"] == pytest.approx(expected, abs=1e-10)

    logits = [1.5, -0.3, 2.2, 0.0, -4.0]
    trace = run({"logits": ",".join(map(str, logits)), "target": "3"})
    expected = F.cross_entropy(t(logits)[None], torch.tensor([3])).item()
    assert trace.outputs["loss"] == pytest.approx(expected, abs=1e-10)

    y_true, y_pred = [1, 0, 0.3, 1], [0.8, 0.35, 0.5, 0.01]
    raw = {"y-true": ",".join(map(str, y_true)), "y-pred": ",".join(map(str, y_pred))}
    assert run({"kind": "bce", **raw}).outputs["loss"] == pytest.approx(
        F.binary_cross_entropy(t(y_pred), t(y_true)).item(), abs=1e-10
    )
    assert run({"kind": "mse", **raw}).outputs["loss"] == pytest.approx(F.mse_loss(t(y_pred), t(y_true)).item(), abs=1e-10)
    half = 0.5 * F.mse_loss(t(y_pred), t(y_true), reduction="sum").item()
    assert run({"kind": "half-sse", **raw}).outputs["loss"] == pytest.approx(half, abs=1e-10)


@pytest.mark.oracle
def test_clipped_bce_equals_torch_on_clipped_inputs(torch):
    F = torch.nn.functional
    trace = run({"kind": "bce", "y-true": "1,0", "y-pred": "0,0.5", "eps": "1e-4"})
    clipped = torch.tensor([1e-4, 0.5], dtype=torch.float64)
    expected = F.binary_cross_entropy(clipped, torch.tensor([1.0, 0.0], dtype=torch.float64)).item()
    assert trace.outputs["loss"] == pytest.approx(expected, abs=1e-10)


@pytest.mark.oracle
@settings(max_examples=40, deadline=None)
@given(logits=st.lists(st.floats(-20, 20, allow_nan=False), min_size=2, max_size=10), data=st.data())
def test_cross_entropy_property_against_torch(torch, logits, data):
    F = torch.nn.functional
    target = data.draw(st.integers(0, len(logits) - 1))
    z = torch.tensor(logits, dtype=torch.float64)
    from_logits = core.cross_entropy_logits(logits, target).loss
    assert from_logits == pytest.approx(F.cross_entropy(z[None], torch.tensor([target])).item(), abs=1e-10)
    probs = torch.softmax(z, dim=0)
    if probs[target].item() > 1e-7:  # no clipping: the two routes agree
        from_probs = core.cross_entropy_probs(probs.numpy(), target).loss
        assert from_probs == pytest.approx(F.nll_loss(torch.log(probs)[None], torch.tensor([target])).item(), abs=1e-10)


# --------------------------------------------------------------------------- inputs


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"kind": "hinge"}, "--kind", "'hinge' is not one of"),
    ({"probs": "0.5,-0.1,0.6"}, "--probs", "cannot be negative"),
    ({"probs": "0.5,0.2,0.2"}, "--probs", "sum to 0.9, not 1"),
    ({"probs": "0.5,x"}, "--probs", "'x'"),
    ({"kind": "mse", "probs": "0.5,0.5"}, "--probs", "is used with --kind ce"),
    ({"probs": "0.5,0.2"}, "--probs", "the probabilities sum to 0.7, not 1"),
    ({"logits": "1,y"}, "--logits", "'y'"),
    ({"logits": "1,2", "probs": "0.5,0.5"}, "--logits", "not both"),
    ({"logits": "a"}, "--logits", "'a' is not a number"),
    ({"target": "4"}, "--target", "out of range: the 4 classes are numbered 0 to 3"),
    ({"logits": "1,2", "target": "2"}, "--target", "out of range"),
    ({"target": "-1"}, "--target", "too small"),
    ({"target": "1.5"}, "--target", "whole number"),
    ({"kind": "bce", "target": "1"}, "--target", "is used with --kind ce"),
    ({"target": "9"}, "--target", "9 is out of range: the 4 classes are numbered 0 to 3"),
    ({"kind": "bce", "y-true": "1,2,0,1"}, "--y-true", "between 0 and 1"),
    ({"kind": "mse", "y-true": "1,2"}, "--y-true", "--y-true: has 2 numbers but --y-pred (default 4 numbers) has 4 (one prediction per target); pass --y-pred too"),
    ({"kind": "mse", "y-true": "1,a"}, "--y-true", "'a'"),
    ({"y-true": "1,0"}, "--y-true", "is used with --kind bce"),
    ({"kind": "bce", "y-true": "2,0,1,0"}, "--y-true", "entry 0 is 2"),
    ({"kind": "bce", "y-pred": "0.5,1.5,0,0"}, "--y-pred", "between 0 and 1"),
    ({"kind": "mse", "y-pred": "1,2"}, "--y-pred", "--y-pred: has 2 numbers but --y-true (default 4 numbers) has 4"),
    ({"kind": "mse", "y-pred": "1"}, "--y-pred", "--y-pred: has 1 number but --y-true (default 4 numbers) has 4"),
    ({"eps": "0"}, "--eps", "too small"),
    ({"eps": "0.5"}, "--eps", "too large"),
    ({"eps": "tiny"}, "--eps", "'tiny'"),
    ({"logits": "1,2", "eps": "1e-9", "target": "0"}, "--eps", "only clips probabilities"),
    ({"kind": "mse", "eps": "1e-9"}, "--eps", "only clips probabilities"),
    ({"eps": "-1"}, "--eps", "-1.0 is too small"),
    # fewer classes than the default --target 2
    ({"probs": "0.5,0.5"}, "--probs", "--probs: has 2 classes (numbered 0 to 1) but --target (default 2) is not one of them; pass --target too"),
    ({"logits": "1,2"}, "--logits", "--logits: has 2 classes (numbered 0 to 1) but --target (default 2)"),
]


def test_probability_sum_tolerance_accepts_rounding():
    # 0.1 + 0.2 + 0.7 = 0.9999999999999999 in floating point: accepted
    assert run({"probs": "0.1,0.2,0.7", "target": "2"}).outputs["loss"] == pytest.approx(-math.log(0.7), abs=1e-12)


# --------------------------------------------------------------------------- CLI


def test_cli_json_outputs(run_cli):
    result = run_cli("lesson", "loss", "--kind", "half-sse", "--y-true", "1,2", "--y-pred", "1.5,1", "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["outputs"] == {"loss": 0.625}
    result = run_cli("lesson", "loss", "--format", "json")
    assert json.loads(result.stdout)["outputs"]["loss"] == pytest.approx(0.5108256238, abs=1e-10)


def test_cli_text_mentions_infinite_loss(run_cli):
    result = run_cli("lesson", "loss", "--probs", "0.5,0.5,0")
    assert result.exit_code == 0, result.stderr
    assert "infinite" in " ".join(result.stdout.split())
