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
    # the contour lines pass through the first four points: f = 1·x² + 10·y² there (hand-worked:
    # (2, 1) -> 14; (1.68, -0.6) -> 2.8224 + 3.6 = 6.4224; (1.4112, 0.36) -> 1.99148544 + 1.296 = 3.28748544)
    levels = [float(series["name"].removeprefix("f = ")) for series in plot["series"][1:]]
    assert levels[:3] == [14.0, 6.42, 3.29]
    for series in plot["series"][1:]:
        x, y = np.array(series["x"]), np.array(series["y"])
        level = x[0] ** 2 + 10 * y[0] ** 2
        np.testing.assert_allclose(x**2 + 10 * y**2, level, rtol=1e-12)
    # framed on the path (with a margin), not on the widest contour line (x up to √14 ≈ 3.74)
    x_min, x_max, y_min, y_max = plot["frame"]
    assert x_min < 0.1463 and 2.0 < x_max < 2.3 and y_min < -0.6 and 1.0 < y_max < 1.2


def _plain(trace_plot, width=80, height=18):
    return plot_text(trace_plot, width=width, height=height, color=False)


def test_descent_path_is_a_connected_line_with_numbered_points():
    from nntutor.catalog.lessonfile import load_lesson
    from nntutor.catalog.run import run_lesson

    trace = run_lesson(load_lesson("gradient-descent"), {})
    path_plot = trace.step("result").plots[1]
    text = _plain(path_plot)
    body = text.splitlines()[1:-4]
    for k in "012345":
        assert any(k in line for line in body), k  # the first points numbered, in order
    # joined: far more path marks than points (a scatter of 16 points would draw 16)
    assert sum(line.count("•") for line in body) > 40
    assert "legend: • path" in text and "contour lines f = 14" in text


def test_legend_is_under_the_plot_never_over_a_curve():
    x = np.linspace(-2, 2, 80)
    text = _plain(Plot("two", (Series("up", x, x), Series("down", x, -x))))
    lines = text.splitlines()
    frame_end = max(i for i, line in enumerate(lines) if "└" in line)
    inside = lines[: frame_end + 1]
    assert lines[-1].startswith("legend: • up   + down")
    assert not any("legend" in line for line in inside)


def test_integer_axes_get_integer_ticks():
    epochs = np.arange(1, 21, dtype=np.float64)
    text = _plain(Plot("loss", (Series("loss", epochs, 1 / epochs),), xlabel="epoch"))
    ticks = next(line for line in reversed(text.splitlines()) if line.strip() and line.split()[0].lstrip("-").isdigit())
    assert all(t.isdigit() for t in ticks.split()) and "1" in ticks.split() and "20" in ticks.split()


def test_six_curves_told_apart_without_colour():
    z = np.linspace(-4, 4, 161)
    names = ["ReLU", "LeakyReLU", "σ", "tanh", "GELU", "GELU≈"]
    curves = [np.maximum(z, 0), np.where(z > 0, z, 0.01 * z), 1 / (1 + np.exp(-z)), np.tanh(z), z * 0.5, z * 0.5 + 0.001]
    text = _plain(Plot("f(z)", tuple(Series(n, z, c) for n, c in zip(names, curves, strict=True))))
    legend = text.splitlines()[-2] + text.splitlines()[-1]
    markers = [legend.split(name)[0].split()[-1] for name in ("ReLU", "LeakyReLU", "σ ", "tanh")]
    assert len(set(markers)) == 4  # a different mark per curve, in plain text
    body = "\n".join(text.splitlines()[1:-3])
    assert "tanh" in body and "σ" in body  # names written on the curves where they stand apart
