"""The softmax lesson: hand-worked values, PyTorch, and properties."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.core.softmax import cross_entropy_from_logits, softmax, softmax_steps


def test_textbook_values():
    # e^0 = 1, e^-1 = 0.367879, e^-1.9 = 0.149569; sum 1.517448
    # 1/1.517448 = 0.659001, 0.367879/1.517448 = 0.242433, 0.149569/1.517448 = 0.098566
    np.testing.assert_allclose(softmax([2.0, 1.0, 0.1]), [0.659001, 0.242433, 0.098566], atol=5e-7)


def test_stable_for_huge_logits():
    steps = softmax_steps(np.array([1000.0, 1001.0, 1002.0]))
    # shifted = [-2, -1, 0]; e^-2 = 0.135335, e^-1 = 0.367879; sum 1.503214
    assert steps.shifted.tolist() == [-2.0, -1.0, 0.0]
    np.testing.assert_allclose(steps.probs, [0.090031, 0.244728, 0.665241], atol=5e-7)


def test_lesson_default_columns_per_temperature():
    trace = run_lesson(load_lesson("softmax"))
    probs = trace.outputs["probs"]
    assert len(probs) == 3  # T = 0.5, 1, 2
    for column in probs:
        assert math.isclose(float(np.sum(column)), 1.0, abs_tol=1e-12)
    # at T = 1: e^(z - 2) for z = 2, 1.8, 1.2, 0.8, 0.6 -> 1, 0.818731, 0.449329, 0.301194, 0.246597
    # sum = 2.815851 -> p(sunny) = 0.355132
    assert probs[1][0] == pytest.approx(0.355132, abs=5e-7)
    # lower temperature -> sharper distribution for the top class
    assert probs[0][0] > probs[1][0] > probs[2][0]


def test_loss_with_target():
    trace = run_lesson(load_lesson("softmax"), {"logits": "2,1,0.1", "temperature": "1", "target": "0", "labels": "a,b,c"})
    # -ln 0.659001 = 0.417030
    assert trace.outputs["loss"] == pytest.approx(0.417030, abs=5e-7)
    assert np.asarray(trace.outputs["probs"]).shape == (3,)


def test_against_torch(torch):
    rng = np.random.default_rng(11)
    for _ in range(20):
        z = rng.normal(scale=5, size=int(rng.integers(2, 9)))
        for t in (0.25, 1.0, 3.7):
            expected = torch.softmax(torch.tensor(z) / t, dim=0).numpy()
            np.testing.assert_allclose(softmax_steps(z, t).probs, expected, rtol=0, atol=1e-10)
            target = int(rng.integers(0, z.size))
            ce = torch.nn.functional.cross_entropy(torch.tensor(z / t)[None, :], torch.tensor([target])).item()
            assert cross_entropy_from_logits(z, target, t) == pytest.approx(ce, abs=1e-10)


def test_lesson_against_torch(torch):
    raw = {"logits": "3.2,-1.5,0.25,7", "temperature": "0.7,1.3", "target": "2", "labels": "a,b,c,d"}
    trace = run_lesson(load_lesson("softmax"), raw)
    z = torch.tensor([3.2, -1.5, 0.25, 7.0])
    for k, t in enumerate((0.7, 1.3)):
        np.testing.assert_allclose(trace.outputs["probs"][k], torch.softmax(z / t, 0).numpy(), atol=1e-10)
        ce = torch.nn.functional.cross_entropy((z / t)[None], torch.tensor([2])).item()
        assert trace.outputs["loss"][k] == pytest.approx(ce, abs=1e-10)


finite = st.floats(-500, 500, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(finite, min_size=1, max_size=12), finite, st.floats(0.05, 20))
def test_sums_to_one_and_ignores_shift(z, shift, temperature):
    z = np.array(z)
    p = softmax(z, temperature)
    assert math.isclose(float(p.sum()), 1.0, abs_tol=1e-12)
    assert np.all(p >= 0)
    np.testing.assert_allclose(softmax(z + shift, temperature), p, atol=1e-9)


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"logits": "1,2;3,4"}, "--logits", "several rows"),
    ({"labels": "a,b"}, "--labels", "--labels: expected 5 names to match --logits, got 2"),
    ({"temperature": "0"}, "--temperature", "greater than 0"),
    ({"temperature": "-1"}, "--temperature", "greater than 0"),
    ({"target": "9"}, "--target", "--target: 9 is out of range"),
    ({"target": "x"}, "--target", "not a whole number"),
]


# ----------------------------------------------------------------- a tiny legal temperature: the T → 0 limit


def test_tiny_temperature_gives_the_zero_limit_without_warnings(run_cli):
    # 1000 / 1e-306 = 1e309 overflows float64; softmax(z/T) = softmax((z − max z)/T) and
    # (z − 1000)/1e-306 = (0, −1e306, −1.003e309 → −∞): e^… = (1, 0, 0), so p = [1, 0, 0], L = −ln 1 = 0.
    import warnings

    flags = ["--logits", "1000,999,-3", "--labels", "a,b,c", "--temperature", "1e-306", "--target", "0"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a NumPy RuntimeWarning (overflow, invalid) fails the test
        trace = run_lesson(load_lesson("softmax"), {"logits": "1000,999,-3", "labels": "a,b,c",
                                                    "temperature": "1e-306", "target": "0"})
        result = run_cli("lesson", "softmax", *flags, "--format", "json")
    assert trace.outputs["probs"].tolist() == [1.0, 0.0, 0.0]
    assert trace.outputs["loss"] == 0.0 and math.copysign(1.0, trace.outputs["loss"]) == 1.0  # 0, not −0
    assert any("T → 0 limit" in w for w in trace.step("scale").warnings)
    assert result.exit_code == 0 and result.stderr == ""
    outputs = json.loads(result.stdout)["outputs"]
    assert outputs["probs"] == [1.0, 0.0, 0.0] and outputs["loss"] == 0.0


def test_tiny_temperature_shares_the_limit_between_tied_logits():
    # z = (500, 500, 496) at T = 1e-306: 500 / 1e-306 = 5e308 overflows; the two largest tie,
    # so the limit is [1/2, 1/2, 0]. Next to it T = 1 is the ordinary softmax
    # (e^0, e^0, e^−4)/(2 + e^−4).
    trace = run_lesson(load_lesson("softmax"), {"logits": "500,500,496", "temperature": "1e-306,1", "target": "2"})
    limit, plain = trace.outputs["probs"]
    assert limit.tolist() == [0.5, 0.5, 0.0]
    e4 = math.exp(-4)
    np.testing.assert_allclose(plain, [1 / (2 + e4), 1 / (2 + e4), e4 / (2 + e4)], rtol=1e-14)
    assert trace.outputs["loss"][0] == math.inf  # the target's share goes to 0 in the limit
    assert trace.outputs["loss"][1] == pytest.approx(-math.log(e4 / (2 + e4)), rel=1e-14)
    # only the overflowing column is rewritten as (z − max z)/T
    assert trace.step("scale").worked[0].startswith("z0: (500 − 500) / 1e-306 = 0")
    assert trace.step("scale").worked[1] == "z0: 500 / 1 = 500"
