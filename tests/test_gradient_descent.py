"""The gradient-descent lesson: hand-worked steps, closed form, PyTorch, divergence, bad flags."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.core import descent

ROOT = Path(__file__).resolve().parent.parent


def run(**raw):
    return run_lesson(load_lesson("gradient-descent"), {k.replace("_", "-"): v for k, v in raw.items()})


def test_default_first_step_by_hand():
    trace = run()
    path, losses = trace.outputs["path"], trace.outputs["losses"]
    # f(2, 1) = 1×2² + 10×1² = 4 + 10 = 14
    assert losses[0] == pytest.approx(14.0, abs=1e-12)
    # ∇f(2, 1) = (2×1×2, 2×10×1) = (4, 20); update −0.08×(4, 20) = (−0.32, −1.6)
    # new point (2 − 0.32, 1 − 1.6) = (1.68, −0.6)
    assert path[1] == pytest.approx([1.68, -0.6], abs=1e-12)
    # f(1.68, −0.6) = 1.68² + 10×0.36 = 2.8224 + 3.6 = 6.4224
    assert losses[1] == pytest.approx(6.4224, abs=1e-12)
    # step 2: x ← 1.68×(1 − 0.16) = 1.4112, y ← −0.6×(1 − 1.6) = 0.36
    assert path[2] == pytest.approx([1.4112, 0.36], abs=1e-12)
    assert len(path) == 16 and len(losses) == 16
    assert trace.step("stability").value("limit").data == pytest.approx(0.1)  # 2/(2×10)


def test_path_matches_closed_form():
    # Each coordinate is multiplied by (1 − 2·c·lr) per step: p_t = p_0·(1 − 2c·lr)^t.
    trace = run(a="3", b="0.5", start="-1.5,4", lr="0.1", steps="25")
    t = np.arange(26)[:, None]
    expected = np.array([-1.5, 4.0]) * np.array([1 - 2 * 3 * 0.1, 1 - 2 * 0.5 * 0.1]) ** t
    np.testing.assert_allclose(trace.outputs["path"], expected, rtol=0, atol=1e-12)


def test_against_pytorch(torch):
    a, b, lr, steps = 2.5, 0.7, 0.15, 30
    trace = run(a=str(a), b=str(b), start="1.2,-3", lr=str(lr), steps=str(steps))
    p = torch.tensor([1.2, -3.0], dtype=torch.float64, requires_grad=True)
    c = torch.tensor([a, b], dtype=torch.float64)
    opt = torch.optim.SGD([p], lr=lr)
    points, losses = [p.detach().clone()], []
    for _ in range(steps):
        opt.zero_grad()
        loss = (c * p * p).sum()
        losses.append(loss.item())
        loss.backward()
        opt.step()
        points.append(p.detach().clone())
    losses.append((c * p * p).sum().item())
    np.testing.assert_allclose(trace.outputs["path"], torch.stack(points).numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(trace.outputs["losses"], losses, rtol=0, atol=1e-10)


def test_stability_limit():
    assert descent.stability_limit([1.0, 10.0]) == pytest.approx(0.1)
    assert descent.stability_limit([3.0]) == pytest.approx(1 / 3)  # 2/(2×3)
    assert math.isinf(descent.stability_limit([0.0, 0.0]))


def test_just_above_the_limit_diverges_with_warning():
    trace = run(lr="0.11", steps="40")  # y factor 1 − 2×10×0.11 = −1.2
    losses = trace.outputs["losses"]
    assert losses[-1] > losses[0]
    assert any("above the limit" in w for w in trace.step("stability").warnings)
    assert np.all(np.isfinite(trace.outputs["path"]))


def test_overflow_stops_cleanly():
    trace = run(lr="5", steps="1000")  # y factor 1 − 100 = −99: overflows after ~150 steps
    path, losses = trace.outputs["path"], trace.outputs["losses"]
    assert np.all(np.isfinite(path)) and np.all(np.isfinite(losses))
    assert len(path) < 1001
    assert trace.warnings and "overflow" in trace.warnings[0]
    assert "Stopped after step" in trace.step("steps").warnings[0]
    for row in trace.step("steps").value("steps").data.rows:
        assert all(math.isfinite(v) for v in row)


def test_one_dimensional_case():
    trace = run(b="0", start="3", lr="0.2", steps="4")
    path = trace.outputs["path"]
    assert path.shape == (5, 1)
    # x ← x·(1 − 2×1×0.2) = 0.6·x: 3, 1.8, 1.08, 0.648, 0.3888
    assert path[:, 0] == pytest.approx([3, 1.8, 1.08, 0.648, 0.3888], abs=1e-12)
    assert trace.outputs["losses"] == pytest.approx([9, 3.24, 1.1664, 0.419904, 0.15116544], abs=1e-12)
    # The default two-number start also works: y is dropped with a note.
    trace = run(b="0")
    assert trace.outputs["path"].shape[1] == 1
    assert "does not depend on y" in trace.step("function").why


@settings(max_examples=40, deadline=None)
@given(
    a=st.floats(0.1, 10),
    b=st.floats(0.1, 10),
    fraction=st.floats(0.01, 0.99),
    x=st.floats(-5, 5),
    y=st.floats(-5, 5),
)
def test_below_the_limit_f_never_increases(a, b, fraction, x, y):
    lr = fraction * descent.stability_limit([a, b])
    run_ = descent.descend([a, b], [x, y], lr, 20)
    assert run_.overflow_step is None
    assert np.all(np.diff(run_.losses) <= 1e-12 * (1 + run_.losses[:-1]))


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"a": "-1"}, "--a", "-1.0 is too small"),
    ({"a": "abc"}, "--a", "'abc' is not a number"),
    ({"a": "0", "b": "0"}, "--a", "a and b are both 0: f is 0 everywhere"),  # a flat function
    ({"b": "-0.5"}, "--b", "-0.5 is too small"),
    ({"b": "nan"}, "--b", "'nan' is not allowed"),
    ({"b": "x"}, "--b", "not a number"),
    ({"start": "1,2,3"}, "--start", "expected 2 numbers"),
    ({"start": "1,x"}, "--start", "'x' is not a number"),
    ({"start": "3"}, "--start", "got 1 (one number works only with --b 0)"),
    ({"lr": "0"}, "--lr", "0.0 is too small (expected a number greater than 0)"),
    ({"lr": "-0.1"}, "--lr", "-0.1 is too small"),
    ({"steps": "0"}, "--steps", "0 is too small"),
    ({"steps": "1001"}, "--steps", "1001 is too large"),
    ({"steps": "2.5"}, "--steps", "'2.5' is not a whole number"),
    ({"steps": "5000"}, "--steps", "at most 1000"),
]


def test_learning_lessons_sit_in_learning_with_quiz_and_hints():
    for name in ("gradient-descent", "backprop", "training", "tiny-mlp"):
        lesson = load_lesson(name)
        assert lesson.part == "Learning" and len(lesson.quiz) >= 2 and len(lesson.hints) >= 2


@pytest.mark.slow
@pytest.mark.parametrize("lesson", ["gradient-descent", "training"])
def test_no_sympy_import(lesson):
    code = (
        "from nntutor.catalog.lessonfile import load_lesson; from nntutor.catalog.run import run_lesson; "
        f"run_lesson(load_lesson({lesson!r})); import sys; print('sympy' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------- CLI


def test_cli_json_with_custom_flags(run_cli):
    import json

    result = run_cli("lesson", "gradient-descent", "--a", "2", "--b", "0", "--start", "1", "--lr", "0.1",
                     "--steps", "3", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc["outputs"]) == {"path", "losses"}
    # x ← x·(1 − 2×2×0.1) = 0.6·x: 1, 0.6, 0.36, 0.216; f = 2x²
    assert np.array(doc["outputs"]["path"]) == pytest.approx(np.array([[1], [0.6], [0.36], [0.216]]))
    assert doc["outputs"]["losses"] == pytest.approx([2, 0.72, 0.2592, 0.093312])


def test_cli_diverging_run_ends_normally(run_cli):
    import json

    result = run_cli("lesson", "gradient-descent", "--lr", "5", "--steps", "1000", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["warnings"] and "overflow" in doc["warnings"][0]
    assert np.all(np.isfinite(np.array(doc["outputs"]["losses"], dtype=float)))
    text = run_cli("lesson", "gradient-descent", "--lr", "5", "--steps", "1000")
    assert text.exit_code == 0 and "Stopped after step" in text.stdout
    assert "nan" not in text.stdout.lower() and "∞" not in text.stdout


@pytest.mark.parametrize("module", ["nntutor.core.descent", "nntutor.walkthroughs.gradient_descent"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0


def test_plots_hold_the_computed_run():
    trace = run()
    loss_plot, path_plot = trace.step("result").plots
    np.testing.assert_array_equal(loss_plot.series[0].y, trace.outputs["losses"])
    np.testing.assert_array_equal(path_plot.series[0].x, trace.outputs["path"][:, 0])
    assert path_plot.series[0].style == "path"
    assert len(run(b="0", start="1").step("result").plots) == 1  # no path plot in 1-D


# ----------------------------------------------------------------- how the run ended, in words


def test_converging_run_ends_with_the_convergence_text():
    why = run().step("result").why  # factors 1 − 2×1×0.08 = 0.84 and 1 − 2×10×0.08 = −0.6: both shrink
    assert "How fast a coordinate gets there" in why
    assert "moves away" not in why and "never gets there" not in why


def test_diverging_run_does_not_end_with_the_convergence_text():
    # lr = 0.11: y's factor 1 − 2×10×0.11 = −1.2, so y = 1×(−1.2)^15 = −15.40702 after 15 steps;
    # x's factor 1 − 2×1×0.11 = 0.78, x = 2×0.78^15 = 2×0.0240668 = 0.0481337.
    trace = run(lr="0.11")
    np.testing.assert_allclose(trace.outputs["path"][-1], [0.0481337, -15.4070216], atol=5e-7)
    why = trace.step("result").why
    assert "How fast a coordinate gets there" not in why
    assert "y's factor 1 − 2×10×0.11 = -1.2 has |factor| > 1" in why
    assert "multiplies |y| by 1.2 and flips its sign (1 → -15.407 in 15 steps)" in why
    assert "x's factor 0.78 still shrinks it (2 → 0.0481 in 15 steps)" in why
    assert "f grows without bound" in why and "2/λ_max = 0.1" in why


def test_run_at_the_limit_flips_forever():
    # lr = 0.1 = 2/λ_max: y's factor is exactly 1 − 2×10×0.1 = −1, so y goes 1, −1, 1 … and ends at −1.
    why = run(lr="0.1").step("result").why
    assert "never gets there" in why and "(1 → -1 in 15 steps)" in why
    assert "How fast a coordinate gets there" not in why


def test_diverging_run_whose_f_still_fell_says_so():
    # start (2, 0.001), lr 0.11, 3 steps: f = 4 + 10·1e-6 falls to 0.78^6·4 + 10·(1.2^3·0.001)^2 = 0.9012 + 0.00003
    trace = run(start="2,0.001", lr="0.11", steps="3")
    losses = trace.outputs["losses"]
    assert losses[-1] == pytest.approx(4 * 0.78**6 + 10 * (1.2**3 * 0.001) ** 2, rel=1e-12)
    assert "f still fell over these 3 steps" in trace.step("result").why
