"""The network diagram of mlp and backprop: every number drawn is the trace's own (read back from the text)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.render.network import network_text
from nntutor.trace import Network

NODE = re.compile(r"\((\S+)\s+(-?\d+\.\d+)\)")
EDGE = re.compile(r"─\(([^|)]*)\|\s*(\S+)\)─▶ \((\S+)")


def read_back(text: str) -> tuple[dict[str, float], dict[str, tuple[list[float], float]]]:
    """Node values and, per target node, its weights and bias, as drawn (after the title and the key)."""
    assert text.splitlines()[1] == "(value) ─(a weight per input | bias)─▶ (value)"
    text = "\n".join(text.splitlines()[2:])
    nodes = {name: float(value) for name, value in NODE.findall(text)}
    edges = {target: ([float(w) for w in weights.split()], float(bias)) for weights, bias, target in EDGE.findall(text)}
    return nodes, edges


def _network(trace) -> Network:
    return next(p for s in trace.steps for p in s.plots if isinstance(p, Network))


def test_backprop_diagram_draws_the_forward_pass_of_its_tables():
    trace = run_lesson(load_lesson("backprop"), {})
    text = network_text(_network(trace), precision=4)
    nodes, edges = read_back(text)
    hidden, output = trace.step("hidden"), trace.step("output")
    x, h = hidden.value("x").data, hidden.value("h").data
    yhat = output.value("output").data
    # hand-worked: z1[0] = 0.3×1 + (−0.4)×0.5 + 0.1 = 0.2, h0 = σ(0.2) = 0.549834
    assert nodes["h0"] == pytest.approx(1 / (1 + np.exp(-0.2)), abs=5e-5)
    for names, values in ((("x0", "x1"), x), (("h0", "h1"), h), (("ŷ0", "ŷ1"), yhat)):
        for name, value in zip(names, values, strict=True):
            assert nodes[name] == pytest.approx(float(value), abs=5e-5), name
    W1, b1 = hidden.value("W1").data, hidden.value("b1").data
    W2, b2 = output.value("W2").data, output.value("b2").data
    for prefix, W, b in (("h", W1, b1), ("ŷ", W2, b2)):
        for j in range(W.shape[0]):
            weights, bias = edges[f"{prefix}{j}"]
            np.testing.assert_allclose(weights, W[j], atol=5e-5)
            assert bias == pytest.approx(float(b[j]), abs=5e-5)


def test_mlp_diagram_draws_every_layer_of_its_tables():
    trace = run_lesson(load_lesson("mlp"), {})
    net = _network(trace)
    text = network_text(net, precision=4)
    nodes, edges = read_back(text)
    x = trace.step("architecture").value("x").data
    for i, value in enumerate(x):
        assert nodes[f"in{i}"] == pytest.approx(float(value), abs=5e-5)
    layer_steps = [s for s in trace.steps if s.id.startswith("layer-")]
    assert len(layer_steps) == len(net.layers) - 1 == 3
    for k, step in enumerate(layer_steps, start=1):
        a, W, b = step.value(f"a{k}").data, step.value(f"W{k}").data, step.value(f"b{k}").data
        # the value at each node is f(W·a + b), recomputed here from the drawn weights and inputs
        inputs = x if k == 1 else layer_steps[k - 2].value(f"a{k - 1}").data
        for j, value in enumerate(a):
            assert nodes[f"a{k}[{j}]"] == pytest.approx(float(value), abs=5e-5)
            weights, bias = edges[f"a{k}[{j}]"]
            np.testing.assert_allclose(weights, W[j], atol=5e-5)
            assert bias == pytest.approx(float(b[j]), abs=5e-5)
            z = float(np.dot(weights, inputs) + bias)
            expected = max(z, 0.0) if k < 3 else z  # relu hidden layers, identity output (the defaults)
            assert float(value) == pytest.approx(expected, abs=1e-3)


def test_diagram_is_in_the_terminal_view_and_the_svg(run_cli, tmp_path):
    text = run_cli("lesson", "backprop").stdout
    assert "the network: 2 → 2 → 2" in text and "─▶ (h0 0.5498)" in text
    target = tmp_path / "backprop.svg"
    assert run_cli("lesson", "backprop", "-o", str(target)).exit_code == 0
    svg = target.read_text(encoding="utf-8")
    assert "the&#160;network:" in svg or "the network:" in svg


def test_a_wide_layer_is_drawn_in_part_and_says_so():
    trace = run_lesson(load_lesson("mlp"), {"sizes": "6,5,2"})
    text = network_text(_network(trace), precision=4)
    assert "(2 of 6 inputs and 1 of 5 nodes not drawn: the tables above have every number)" in text
    assert max(len(line) for line in text.splitlines()) <= 78


def test_a_narrow_width_draws_fewer_inputs_instead_of_wrapping():
    trace = run_lesson(load_lesson("mlp"), {})
    text = network_text(_network(trace), width=60, precision=8)
    assert max(len(line) for line in text.splitlines()[1:] if "not drawn" not in line) <= 60
    assert "not drawn: the tables above have every number" in text
    nodes, edges = read_back(text)
    W1 = trace.step("layer-1").value("W1").data
    weights, _ = edges["a1[0]"]
    np.testing.assert_allclose(weights, W1[0, : len(weights)], atol=5e-9)  # the first inputs, in order
