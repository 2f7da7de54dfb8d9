"""The decision-boundary lesson: hand-worked boundaries, XOR by brute force and by algebra, the collapse; PyTorch oracle."""

from __future__ import annotations

import itertools
import json
import math
from fractions import Fraction

import numpy as np
import pytest

from nntutor.catalog import registry
from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import parse_args, prepare, run_lesson
from nntutor.core import boundary as core
from nntutor.quiz import mistakes

LESSON = "decision-boundary"
HAND = 1e-12
ORACLE = 1e-10
SQRT2 = math.sqrt(2.0)


def run(raw=None):
    return run_lesson(load_lesson(LESSON), raw or {})


def table(trace, step, value):
    return trace.step(step).value(value).data


# --------------------------------------------------------------------------- by hand: the boundary


def test_default_boundary_by_hand():
    # w = (1, 1), b = -1.5: the line x1 + x2 = 1.5 (the AND gate on the unit square).
    # ‖w‖ = √(1² + 1²) = √2 = 1.41421356; unit normal (1/√2, 1/√2) = (0.70710678, 0.70710678)
    # axis x1 (x2 = 0): x1 - 1.5 = 0 → x1 = 1.5; the same for x2
    # origin: z = b = -1.5, signed distance -1.5/√2 = -1.06066017
    trace = run()
    out = trace.outputs["boundary"]
    assert out["norm"] == pytest.approx(SQRT2, abs=HAND)
    np.testing.assert_allclose(out["normal"], [1 / SQRT2, 1 / SQRT2], rtol=0, atol=HAND)
    np.testing.assert_allclose(out["intercepts"], [1.5, 1.5], rtol=0, atol=HAND)
    assert out["offset"] == pytest.approx(-1.0606601718, abs=1e-10)
    assert trace.step("boundary").worked[0] == "‖w‖ = √(1² + 1²) = √2 = 1.4142"


def test_default_points_by_hand():
    # corners (0,0), (0,1), (1,0), (1,1):
    #   z = 0 + 0 - 1.5 = -1.5, 0 + 1 - 1.5 = -0.5, 1 + 0 - 1.5 = -0.5, 1 + 1 - 1.5 = 0.5
    #   distance = z/√2: -1.06066, -0.35355, -0.35355, 0.35355; class 1 only where z ≥ 0
    trace = run()
    rows = table(trace, "sides", "sides").rows
    assert [r[1] for r in rows] == ["(0, 0)", "(0, 1)", "(1, 0)", "(1, 1)"]
    np.testing.assert_allclose([r[2] for r in rows], [-1.5, -0.5, -0.5, 0.5], rtol=0, atol=HAND)
    np.testing.assert_allclose([r[3] for r in rows], [-1.5 / SQRT2, -0.5 / SQRT2, -0.5 / SQRT2, 0.5 / SQRT2], rtol=0, atol=HAND)
    assert trace.outputs["classes"].tolist() == [0, 0, 0, 1]
    assert "z = w·p + b = 2 + (-1.5) = 0.5, ≥ 0, so class 1" in trace.step("sides").worked


def test_three_four_five_by_hand():
    # w = (3, 4), b = -12: ‖w‖ = √(9 + 16) = 5; crossings x1 = 12/3 = 4, x2 = 12/4 = 3; origin at -12/5 = -2.4
    # (4, 3): 12 + 12 - 12 = 12 → 12/5 = 2.4, class 1;  (1, 1): 3 + 4 - 12 = -5 → -1, class 0
    # (4, 0): on the line, z = 0 → class 1 (z ≥ 0)
    trace = run({"w": "3,4", "b": "-12", "points": "4,3;1,1;4,0"})
    out = trace.outputs["boundary"]
    assert out["norm"] == 5.0
    assert out["intercepts"].tolist() == [4.0, 3.0]
    assert out["offset"] == -2.4
    rows = table(trace, "sides", "sides").rows
    assert [(r[2], r[3]) for r in rows] == [(12.0, 2.4), (-5.0, -1.0), (0.0, 0.0)]
    assert trace.outputs["classes"].tolist() == [1, 0, 1]


def test_one_dimensional_boundary_is_a_point():
    # w = 2, b = -1: 2·x1 - 1 = 0 at x1 = 0.5; default points are the ends 0 and 1 of the unit interval
    # z(0) = -1 → -1/2 = -0.5, class 0; z(1) = 1 → 0.5, class 1
    trace = run({"w": "2", "b": "-1"})
    assert trace.outputs["boundary"]["intercepts"].tolist() == [0.5]
    assert trace.outputs["classes"].tolist() == [0, 1]
    assert [r[3] for r in table(trace, "sides", "sides").rows] == [-0.5, 0.5]
    step = trace.step("boundary")
    assert "one point on the number line" in step.title
    assert "in 1-D the boundary is the point x1 = 0.5: inputs above it are class 1" in step.worked


def test_three_dimensional_boundary_is_a_plane():
    # w = (1, 2, -1), b = 0.5: ‖w‖ = √6; crossings -0.5/1 = -0.5, -0.5/2 = -0.25, -0.5/(-1) = 0.5
    # on the 8 cube corners only (0, 0, 1) has z < 0: 0 + 0 - 1 + 0.5 = -0.5
    trace = run({"w": "1,2,-1", "b": "0.5"})
    out = trace.outputs["boundary"]
    assert out["norm"] == pytest.approx(math.sqrt(6), abs=HAND)
    np.testing.assert_allclose(out["intercepts"], [-0.5, -0.25, 0.5], rtol=0, atol=HAND)
    assert trace.outputs["classes"].tolist() == [1, 0, 1, 1, 1, 1, 1, 1]
    assert "a plane in space" in trace.step("boundary").title


def test_axis_with_zero_weight():
    # w = (2, 0), b = 1: x1 = -1/2 = -0.5; the boundary x1 = -0.5 never meets the x2 axis (∞)
    assert core.boundary(np.array([2.0, 0.0]), 1.0).intercepts.tolist() == [-0.5, math.inf]
    # w = (1, 0), b = 0: the boundary is the x2 axis itself (NaN: every point of it)
    crossings = core.boundary(np.array([1.0, 0.0]), 0.0).intercepts
    assert crossings[0] == 0.0 and math.isnan(crossings[1])
    trace = run({"w": "1,0", "b": "0"})
    assert "axis x2: weight 0, so on the boundary: NaN" in trace.step("boundary").worked


def test_random_points_are_reproducible_and_recorded():
    first = run({"random-points": "6", "seed": "3"})
    again = run({"random-points": "6", "seed": "3"})
    points = first.inputs["points"]
    assert points.shape == (6, 2) and np.all(np.abs(points) <= 2)
    np.testing.assert_array_equal(points, np.round(points, 2))
    np.testing.assert_array_equal(points, again.inputs["points"])
    assert first.inputs["seed"] == 3
    other = run({"random-points": "6", "seed": "4"})
    assert not np.array_equal(other.inputs["points"], points)
    # the recorded points give the same classes when typed back in
    typed = ";".join(",".join(repr(float(v)) for v in row) for row in points)
    np.testing.assert_array_equal(run({"points": typed}).outputs["classes"], first.outputs["classes"])


# --------------------------------------------------------------------------- XOR


def test_xor_sums_by_hand():
    # default line: z(0,0) = -1.5, z(0,1) = -0.5, z(1,0) = -0.5, z(1,1) = 0.5
    # z(0,1) + z(1,0) = -1 = z(0,0) + z(1,1): the two XOR classes cannot be split
    trace = run()
    rows = table(trace, "xor", "xor").rows
    assert [r[2] for r in rows] == [-1.5, -0.5, -0.5, 0.5]
    assert [r[4] for r in rows] == ["yes", "no", "no", "no"]
    assert "here: z(0,1) + z(1,0) = -0.5 + (-0.5) = -1" in trace.step("xor").worked


def _brute_force(values):
    """Lines by number of XOR points wrong, in exact rational arithmetic (independent of NumPy)."""
    counts = [0] * 5
    for w1, w2, b in itertools.product(values, repeat=3):
        wrong = sum((w1 * x1 + w2 * x2 + b >= 0) != bool(t) for (x1, x2), t in zip([(0, 0), (0, 1), (1, 0), (1, 1)], [0, 1, 1, 0], strict=True))
        counts[wrong] += 1
    return counts


@pytest.mark.parametrize(("steps", "span"), [(5, 2), (9, 1), (21, 2)])
def test_xor_grid_matches_exact_brute_force(steps, span):
    values = [Fraction(span) * Fraction(2 * i - (steps - 1), steps - 1) for i in range(steps)]
    expected = _brute_force(values)
    assert expected[0] == 0  # no line on the grid gets all four right
    trace = run({"grid": str(steps), "span": str(span)})
    assert table(trace, "xor", "lines").tolist() == expected
    assert sum(expected) == steps**3


def test_xor_best_line_on_the_default_grid():
    # w = (0.4, 0.4), b = -0.2 (the OR gate): z = -0.2, 0.2, 0.2, 0.6 → classes 0, 1, 1, 1: only (1,1) wrong;
    # margin: nearest point at 0.2/‖(0.4, 0.4)‖ = 0.2/(0.4·√2) = 0.35355
    search = core.xor_search(21, 2.0)
    np.testing.assert_allclose(search.best_w, [0.4, 0.4], rtol=0, atol=HAND)
    assert search.best_b == pytest.approx(-0.2, abs=HAND)
    assert search.best_errors == 1
    assert search.best_margin == pytest.approx(0.2 / (0.4 * SQRT2), abs=1e-12)


def test_xor_identity_holds_for_every_line_symbolically():
    sympy = pytest.importorskip("sympy")
    w1, w2, b = sympy.symbols("w1 w2 b")

    def z(x1, x2):
        return w1 * x1 + w2 * x2 + b

    assert sympy.simplify(z(0, 1) + z(1, 0) - z(0, 0) - z(1, 1)) == 0


@pytest.mark.oracle
def test_no_random_line_separates_xor(torch):
    generator = torch.Generator().manual_seed(0)
    lines = torch.randn(200_000, 3, generator=generator) * 3  # w1, w2, b
    points = torch.tensor(core.XOR_POINTS)
    z = lines[:, :2] @ points.T + lines[:, 2:]
    wrong = ((z >= 0).long() != torch.tensor(core.XOR_TARGETS)).sum(dim=1)
    assert int(wrong.min()) == 1  # some lines miss one point, none misses none


# --------------------------------------------------------------------------- collapse and ReLU


def test_collapse_by_hand():
    # W₁ = [[1, 1], [1, 1]], b₁ = (0, -1), W₂ = [[1, -2]], b₂ = (0), x = (1, -0.5)
    # W = W₂W₁ = [[1·1 + (-2)·1, 1·1 + (-2)·1]] = [[-1, -1]];  b = W₂b₁ + b₂ = 1·0 + (-2)(-1) + 0 = 2
    # h = W₁x + b₁ = (1 - 0.5 + 0, 1 - 0.5 - 1) = (0.5, -0.5)
    # stacked = 1·0.5 + (-2)(-0.5) + 0 = 1.5;  merged = (-1)·1 + (-1)(-0.5) + 2 = 1.5
    # ReLU(h) = (0.5, 0) → relu = 1·0.5 + (-2)·0 + 0 = 0.5
    trace = run()
    out = trace.outputs["collapsed"]
    assert out["W"].tolist() == [[-1.0, -1.0]]
    assert out["b"].tolist() == [2.0]
    assert out["stacked"].tolist() == [1.5]
    assert out["merged"].tolist() == [1.5]
    assert out["relu"].tolist() == [0.5]
    assert table(trace, "relu", "hidden").tolist() == [[0.5, -0.5], [0.5, 0.0]]
    assert trace.step("relu").warnings == []


def test_relu_network_computes_xor_and_the_merged_layer_does_not():
    # merged: 2 - x1 - x2 → 2, 1, 1, 0;  ReLU net: h = (x1 + x2, x1 + x2 - 1)⁺, y = h0 - 2·h1 → 0, 1, 1, 0
    rows = table(run(), "relu", "networks").rows
    assert [r[2] for r in rows] == [2.0, 1.0, 1.0, 0.0]
    assert [r[3] for r in rows] == [0.0, 1.0, 1.0, 0.0]


def test_relu_changes_nothing_where_no_hidden_value_is_negative():
    # x = (1, 1): h = (2, 1), nothing cut: stacked = merged = relu = 2 - 2 = 0
    trace = run({"x": "1,1"})
    out = trace.outputs["collapsed"]
    assert out["relu"].tolist() == out["merged"].tolist() == [0.0]
    assert "no hidden value is negative" in trace.step("relu").warnings[0]


# --------------------------------------------------------------------------- PyTorch oracle


@pytest.mark.oracle
@pytest.mark.parametrize("dims", [1, 2, 3, 5])
def test_sides_against_torch(torch, dims):
    rng = np.random.default_rng(dims)
    w, b = rng.normal(size=dims), float(rng.normal())
    raw = {
        "w": ",".join(repr(float(v)) for v in w),
        "b": repr(b),
        "random-points": "40",
        "seed": str(dims),
    }
    trace = run(raw)
    points = torch.from_numpy(trace.inputs["points"])
    linear = torch.nn.Linear(dims, 1, dtype=torch.float64)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(w).reshape(1, -1))
        linear.bias.fill_(b)
    z = linear(points).detach()[:, 0]
    norm = torch.linalg.vector_norm(torch.from_numpy(w))
    rows = table(trace, "sides", "sides").rows
    np.testing.assert_allclose([r[2] for r in rows], z.numpy(), rtol=0, atol=ORACLE)
    np.testing.assert_allclose([r[3] for r in rows], (z / norm).numpy(), rtol=0, atol=ORACLE)
    np.testing.assert_array_equal(trace.outputs["classes"], (z >= 0).long().numpy())
    out = trace.outputs["boundary"]
    assert out["norm"] == pytest.approx(float(norm), abs=ORACLE)
    np.testing.assert_allclose(out["normal"], (torch.from_numpy(w) / norm).numpy(), rtol=0, atol=ORACLE)
    np.testing.assert_allclose(out["intercepts"], (-b / torch.from_numpy(w)).numpy(), rtol=1e-12, atol=ORACLE)
    # each crossing really is on the boundary: the Linear gives 0 there
    for i, at in enumerate(out["intercepts"]):
        point = torch.zeros(dims)
        point[i] = float(at)
        assert abs(float(linear(point).detach())) < ORACLE


@pytest.mark.oracle
@pytest.mark.parametrize(("n_in", "hidden", "n_out"), [(2, 2, 1), (3, 5, 2), (4, 3, 4)])
def test_collapse_against_torch(torch, n_in, hidden, n_out):
    rng = np.random.default_rng(n_in * 100 + hidden * 10 + n_out)
    w1, b1 = rng.normal(size=(hidden, n_in)), rng.normal(size=hidden)
    w2, b2 = rng.normal(size=(n_out, hidden)), rng.normal(size=n_out)
    x = rng.normal(size=n_in)

    def matrix(a):
        return ";".join(",".join(repr(float(v)) for v in row) for row in a)

    def vector(a):
        return ",".join(repr(float(v)) for v in a)

    trace = run({"W1": matrix(w1), "b1": vector(b1), "W2": matrix(w2), "b2": vector(b2), "x": vector(x)})
    out = trace.outputs["collapsed"]
    nn = torch.nn
    first, second = nn.Linear(n_in, hidden), nn.Linear(hidden, n_out)
    with torch.no_grad():
        first.weight.copy_(torch.from_numpy(w1))
        first.bias.copy_(torch.from_numpy(b1))
        second.weight.copy_(torch.from_numpy(w2))
        second.bias.copy_(torch.from_numpy(b2))
    tx = torch.from_numpy(x)
    stacked = nn.Sequential(first, second)(tx).detach()
    relu = nn.Sequential(first, nn.ReLU(), second)(tx).detach()
    W = second.weight.detach() @ first.weight.detach()
    b = second.weight.detach() @ first.bias.detach() + second.bias.detach()
    merged = nn.Linear(n_in, n_out)
    with torch.no_grad():
        merged.weight.copy_(W)
        merged.bias.copy_(b)
    np.testing.assert_allclose(out["W"], W.numpy(), rtol=0, atol=ORACLE)
    np.testing.assert_allclose(out["b"], b.numpy(), rtol=0, atol=ORACLE)
    np.testing.assert_allclose(out["stacked"], stacked.numpy(), rtol=0, atol=ORACLE)
    np.testing.assert_allclose(out["merged"], merged(tx).detach().numpy(), rtol=0, atol=ORACLE)
    np.testing.assert_allclose(out["merged"], stacked.numpy(), rtol=0, atol=ORACLE)  # the collapse itself
    np.testing.assert_allclose(out["relu"], relu.numpy(), rtol=0, atol=ORACLE)


# --------------------------------------------------------------------------- known mistakes, on the hand-worked case


def _case(step, value, index, raw=None):
    lesson = load_lesson(LESSON)
    prepared = prepare(lesson, parse_args(lesson, raw or {}))
    return mistakes.Case(prepared, prepared.build(), step, value, index)


def _found(case):
    return {m.id: v for m, v in mistakes.alternatives(registry.walkthrough(LESSON).mistakes, case)}


def test_known_mistakes_recomputed_by_hand():
    # point (1, 1), defaults: z = 0.5; distance 0.5/√2 = 0.35355
    #   not divided by ‖w‖: 0.5;  ÷ Σw² = 2 instead of √2: 0.25;  b left out: w·p = 2, 2/√2 = 1.41421
    found = _found(_case("sides", "sides", (3, 3)))
    assert found["distance-not-divided"] == pytest.approx(0.5, abs=HAND)
    assert found["no-sqrt"] == pytest.approx(0.25, abs=HAND)
    assert found["no-bias"] == pytest.approx(SQRT2, abs=HAND)
    # crossing of axis x1: -b/w1 = 1.5; the minus sign dropped: b/w1 = -1.5
    assert _found(_case("boundary", "boundary", (2, 0)))["intercept-sign"] == pytest.approx(-1.5, abs=HAND)
    # merged bias: W₂b₁ + b₂ = 2; b₁ not carried through W₂: b₂ = 0
    assert _found(_case("collapse", "layer", (0, 2)))["bias-skips-W2"] == 0.0
    # with ReLU: 0.5; ReLU left out: the merged 1.5; ReLU(h1) = 0, left out: -0.5
    assert _found(_case("relu", "relu", ()))["relu-ignored"] == 1.5
    assert _found(_case("relu", "hidden", (1, 1)))["relu-ignored"] == -0.5
    # stacked at x = (1, -0.5): 1.5; b₁ = (0, -1) left out: W₁x = (0.5, 0.5), 1·0.5 + (-2)·0.5 + 0 = -0.5
    assert _found(_case("same", "outputs", (0, 0)))["inner-bias-dropped"] == -0.5


def test_order_mistakes_on_square_layers():
    # W₁ = [[1, 2], [0, 1]], W₂ = [[1, 0], [3, 1]]: W₂W₁ = [[1, 2], [3, 7]], W₁W₂ = [[7, 2], [3, 1]],
    # rows of W₁ for its columns: W₂W₁ᵀ = [[1, 0], [5, 1]]
    raw = {"W1": "1,2;0,1", "W2": "1,0;3,1", "b2": "0,0"}
    case = _case("collapse", "layer", (0, 0), raw)
    assert case.element() == 1.0
    assert _found(case)["wrong-order"] == 7.0
    case = _case("collapse", "layer", (1, 1), raw)
    assert case.element() == 7.0
    assert _found(case)["row-for-column"] == 1.0


# --------------------------------------------------------------------------- CLI


def test_cli_json_outputs(run_cli):
    result = run_cli("lesson", LESSON, "--w", "3,4", "--b", "-12", "--points", "4,3;0,0", "--format", "json")
    assert result.exit_code == 0, result.stderr
    outputs = json.loads(result.stdout)["outputs"]
    assert outputs["boundary"] == {"norm": 5.0, "normal": [0.6, 0.8], "intercepts": [4.0, 3.0], "offset": -2.4}
    assert outputs["classes"] == [1, 0]
    assert outputs["collapsed"]["W"] == [[-1.0, -1.0]] and outputs["collapsed"]["relu"] == [0.5]
    # a parallel axis is written as the string "inf"
    result = run_cli("lesson", LESSON, "--w", "2,0", "--b", "1", "--format", "json")
    assert json.loads(result.stdout)["outputs"]["boundary"]["intercepts"] == [-0.5, "inf"]


def test_fits_80_columns(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    result = run_cli("lesson", LESSON)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(result.stdout.split("\nWhat next")[0].splitlines()) <= 150  # the lesson, before its closing pointers
    assert max(len(line) for line in lines) <= 80


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"w": "0,0"}, "--w", "is all zeros"),
    ({"w": "1e-300,0"}, "--w", "has length ‖w‖ = 1e-300, too close to 0"),
    ({"points": "1,2,3"}, "--points", "has 3 numbers per point but --w has 2 weights"),
    ({"w": "1,2,3", "points": "0,0;1,1"}, "--points", "has 2 numbers per point but --w has 3 weights"),
    ({"w": "1,1,1,1,1"}, "--points", "needed with 5 weights"),
    ({"points": "0,0", "random-points": "5"}, "--random-points", "cannot be combined with --points"),
    ({"seed": "3"}, "--seed", "only draws points for --random-points N"),
    ({"random-points": "0"}, "--random-points", "too small"),
    ({"random-points": "100000"}, "--random-points", "too large"),
    ({"grid": "1"}, "--grid", "too small"),
    ({"grid": "1000"}, "--grid", "1000³ = 1,000,000,000 lines to score (about 200 s here); at most 8,000,000"),
    ({"span": "0"}, "--span", "greater than 0"),
    ({"x": "1,2,3"}, "--x", "has 3 numbers but --W1 has 2 columns"),
    ({"W1": "1,1,1;1,1,1"}, "--W1", "has 3 columns but --x has 2 numbers"),
    ({"b1": "1"}, "--b1", "has 1 number but --W1 (default 2×2) has 2 rows (one bias per row of W1); pass --W1 too"),
    ({"W2": "1,2,3"}, "--W2", "has 3 columns but --W1 has 2 rows"),
    ({"W1": "1,1;1,1;1,1", "b1": "0,0,0"}, "--W1", "has 3 rows but --W2 has 2 columns"),
    ({"b2": "1,2"}, "--b2", "has 2 numbers but --W2 (default 1×2) has 1 row (one bias per row of W2); pass --W2 too"),
    (
        {"W1": ",".join(["1"] * 2000), "x": ",".join(["1"] * 2000), "b1": "0", "W2": ";".join(["1"] * 2000), "b2": ",".join(["0"] * 2000)},
        "--W2",
        "2000×2000 = 4,000,000 numbers, about 32.0 MB",
    ),
]
