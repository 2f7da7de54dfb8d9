"""The softmax lesson: hand-worked values, PyTorch, and properties."""

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
