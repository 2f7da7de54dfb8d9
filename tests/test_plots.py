"""Plots: computed series, drawn to fit, turned off with --no-plot, kept in exports."""

import json

import numpy as np
import pytest

from nntutor.core.softmax import softmax
from nntutor.render.plots import plot_text
from nntutor.trace import Plot, Series


def test_plot_fits_the_width_and_has_a_legend():
    x = np.linspace(-2, 2, 50)
    text = plot_text(Plot("parabola", (Series("x²", x, x**2), Series("x", x, x))), width=60, height=12)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 60
    assert "parabola" in lines[0]
    assert "x²" in text and "\x1b[" not in text


def test_non_finite_points_are_skipped():
    text = plot_text(Plot("p", (Series("bad", [0, 1, 2], [np.nan, np.inf, np.nan]),)), width=40)
    assert "nothing to draw" in text


def test_softmax_plot_series_are_real_probabilities(run_cli):
    doc = json.loads(run_cli("lesson", "softmax", "--format", "json").stdout)
    plot = next(s for s in doc["steps"] if s["id"] == "probs")["plots"][0]
    assert [s["name"] for s in plot["series"]] == ["sunny", "cloudy", "rainy", "snowy", "windy"]
    logits = np.array([2.0, 1.8, 1.2, 0.8, 0.6])
    k = 40
    t = 10 ** plot["series"][0]["x"][k]
    expected = softmax(logits, t)
    got = [s["y"][k] for s in plot["series"]]
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_activation_curves_match_torch(run_cli, torch):
    doc = json.loads(run_cli("lesson", "activations", "--format", "json").stdout)
    step = next(s for s in doc["steps"] if s["id"] == "derivatives")
    series = {s["name"]: s for s in step["plots"][0]["series"]}
    z = torch.tensor(series["tanh"]["x"], requires_grad=True)
    torch.tanh(z).sum().backward()
    np.testing.assert_allclose(series["tanh"]["y"], z.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("lesson", ["softmax", "activations"])
def test_no_plot_flag(run_cli, lesson):
    with_plot = run_cli("lesson", lesson)
    without = run_cli("lesson", lesson, "--no-plot")
    assert with_plot.exit_code == without.exit_code == 0
    assert "┌" in with_plot.stdout and "┌" not in without.stdout


def test_markdown_keeps_plots_as_text_blocks(run_cli, tmp_path):
    target = tmp_path / "softmax.md"
    assert run_cli("lesson", "softmax", "-o", str(target)).exit_code == 0
    text = target.read_text(encoding="utf-8")
    assert "```text\n" in text and "probability against temperature" in text


def test_descent_path_is_drawn_over_true_contour_lines(run_cli):
    doc = json.loads(run_cli("lesson", "gradient-descent", "--format", "json").stdout)
    plot = next(p for s in doc["steps"] for p in s["plots"] if "contour" in p["title"])
    path = plot["series"][0]
    assert path["name"] == "path"
    assert path["x"][0] == 2.0 and path["y"][0] == 1.0  # the default start
    # each contour point satisfies a·x² + b·y² = level, with a = 1 and b = 10 (defaults)
    start_f = 1 * 2.0**2 + 10 * 1.0**2  # = 14
    for series, fraction in zip(plot["series"][1:], (1.0, 0.25, 0.0625), strict=True):
        x, y = np.array(series["x"]), np.array(series["y"])
        np.testing.assert_allclose(x**2 + 10 * y**2, start_f * fraction, rtol=1e-12)
