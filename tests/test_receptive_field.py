"""The receptive-field lesson: hand-worked convolutions and fields; PyTorch conv1d/conv2d and autograd as the oracle."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from nntutor.catalog import registry
from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import parse_args, prepare, run_lesson
from nntutor.core import convolution as conv
from nntutor.quiz import mistakes

LESSON = "receptive-field"
HAND = 1e-12
ORACLE = 1e-10
R = 5  # the "field r" column of the fields table


def run(raw=None):
    return run_lesson(load_lesson(LESSON), raw or {})


def data(trace, step, value):
    return trace.step(step).value(value).data


# --------------------------------------------------------------------------- by hand: the defaults


def test_default_convolutions_by_hand():
    # x = (1, 2, 0, -1, 3, 1, 0, 2); w1 = (1, 2, 1), w2 = (1, 1, 1), w3 = (1, -1, 1); stride, dilation 1
    # y1[i] = x[i] + 2·x[i+1] + x[i+2]:
    #   1 + 4 + 0 = 5,  2 + 0 - 1 = 1,  0 - 2 + 3 = 1,  -1 + 6 + 1 = 6,  3 + 2 + 0 = 5,  1 + 0 + 2 = 3
    # y2[i] = y1[i] + y1[i+1] + y1[i+2]: 5+1+1 = 7, 1+1+6 = 8, 1+6+5 = 12, 6+5+3 = 14
    # y3[i] = y2[i] - y2[i+1] + y2[i+2]: 7-8+12 = 11, 8-12+14 = 10
    # lengths ⌊(8 - 3)/1⌋ + 1 = 6, then 4, then 2
    trace = run()
    out = trace.outputs["outputs"]
    assert out["layer 1"].tolist() == [5.0, 1.0, 1.0, 6.0, 5.0, 3.0]
    assert out["layer 2"].tolist() == [7.0, 8.0, 12.0, 14.0]
    assert out["layer 3"].tolist() == [11.0, 10.0]
    worked = trace.step("conv").worked
    assert worked[0] == "y1[0] = w1·(x0, x1, x2) = 1×1 + 2×2 + 1×0 = 5"
    assert worked[2] == "n1 = ⌊(8 − 1×(3 − 1) − 1)/1⌋ + 1 = 6;  lengths 8 → 6 → 4 → 2"
    assert trace.step("stack").worked[1] == "y3[0] = w3·y2[0, 1, 2] = 1×7 + (-1)×8 + 1×12 = 11"


def test_default_receptive_fields_by_hand():
    # r0 = 1; each 3-tap layer adds (3 - 1)·1·1 = 2: r = 3, 5, 7 (y3[0] sees x0..x6, not x7)
    trace = run()
    assert trace.outputs["receptive_fields"] == {"layer 1": 3, "layer 2": 5, "layer 3": 7}
    rows = data(trace, "fields", "fields").rows
    assert [row[R] for row in rows] == [3, 5, 7]
    assert [row[-1] for row in rows] == ["x0–x2", "x0–x4", "x0–x6"]
    assert trace.step("fields").worked[2] == "r3 = r2 + (k3 − 1)×d3×J2 = 5 + (3 − 1)×1×1 = 7"
    # in 2-D along both axes: 7×7 = 49 pixels
    assert trace.step("image").title == "In 2-D: 3 layers of 3×3 see 7×7"


def test_default_gradient_by_hand():
    # ∂y3[0]/∂x is the full convolution of the three kernels:
    #   (1, 2, 1) * (1, 1, 1) = (1, 3, 4, 3, 1);  * (1, -1, 1) = (1, 2, 2, 2, 2, 2, 1), and 0 for x7
    # with every weight 1: (1, 1, 1)³ = (1, 3, 6, 7, 6, 3, 1) paths, 0 for x7
    # backward: g2 = ∂y3[0]/∂y2 = (1, -1, 1, 0); g1 = (1, 0, 1, 0, 1, 0)
    #   ∂y3[0]/∂x3 = g1[3]·1 + g1[2]·2 + g1[1]·1 = 0 + 2 + 0 = 2
    trace = run()
    grad, paths = data(trace, "gradient", "gradient")
    assert grad.tolist() == [1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 1.0, 0.0]
    assert paths.tolist() == [1.0, 3.0, 6.0, 7.0, 6.0, 3.0, 1.0, 0.0]
    worked = trace.step("gradient").worked
    assert worked[0] == "g2 = ∂y3[0]/∂y2 = w3 where y3[0] reads: (1, -1, 1, 0)"
    assert worked[1] == "g1 = ∂y3[0]/∂y1 = (1, 0, 1, 0, 1, 0), the same way through layer 2"
    assert worked[2] == "∂y3[0]/∂x3 = g1[3]·w1[0] + g1[2]·w1[1] + g1[1]·w1[2] = 0×1 + 1×2 + 0×1 = 2"
    assert trace.step("gradient").warnings == []


def test_default_image_paths_by_hand():
    # the 2-D paths are the 1-D ones along each axis, multiplied: (1, 3, 6, 7, 6, 3, 1, 0)ᵀ(1, 3, …);
    # centre pixel (3, 3): 7×7 = 49 paths; row 7 and column 7 are outside the 7×7 field
    trace = run()
    paths = data(trace, "image", "paths")
    line = np.array([1, 3, 6, 7, 6, 3, 1, 0])
    assert paths.tolist() == np.outer(line, line).tolist()
    assert paths[3, 3] == 49
    assert "Y3[0,0] reads rows 0–6 and columns 0–6: 7×7 = 49 of 64 pixels" in trace.step("image").worked


def test_one_2d_convolution_by_hand():
    # X = [[1, 2, 3], [4, 5, 6], [7, 8, 9]], one layer w = (1, 1, 1): K = all ones, Y[0,0] = 1 + … + 9 = 45
    # w = (1, 0, -1): K = w·wᵀ = [[1, 0, -1], [0, 0, 0], [-1, 0, 1]], Y[0,0] = 1 - 3 - 7 + 9 = 0
    image = "1,2,3;4,5,6;7,8,9"
    assert data(run({"image": image, "kernels": "1,1,1"}), "image", "Y1").tolist() == [[45.0]]
    trace = run({"image": image, "kernels": "1,0,-1"})
    assert data(trace, "image", "Y1").tolist() == [[0.0]]
    assert "row 0: K1[0]·X[0, 0:3] = 1×1 + 0×2 + (-1)×3 = -2" in trace.step("image").worked


def test_default_attention_by_hand():
    # position 0's scores s[0,j] = x0·xj/√1 = xj, max 3: A[0,·] = softmax(x)
    # Σ exp(x - 3) = 2e^-2 + 2e^-1 + 2e^-3 + e^-4 + 1 = 2.12432…; A[0,7] = e^-1/2.12432 = 0.17317
    trace = run()
    total = 2 * math.exp(-2) + 2 * math.exp(-1) + 2 * math.exp(-3) + math.exp(-4) + 1
    weights = data(trace, "attention", "A")
    assert weights[7] == pytest.approx(math.exp(-1) / total, abs=HAND)
    assert weights.sum() == pytest.approx(1.0, abs=HAND)
    assert np.all(weights > 0)
    # layers to see n = 8: 3-tap 1 + 2L ≥ 8 → L = 4; dilated 2^(L+1) - 1 ≥ 8 → L = 3 (r = 15)
    assert data(trace, "attention", "depth").rows[0] == (8, 4, 3, 1)


# --------------------------------------------------------------------------- strides, dilations, holes


def test_stride_multiplies_later_layers():
    # strides 1, 2, 1 on 9 numbers: r1 = 3, r2 = 3 + 2·1 = 5, J2 = 2, r3 = 5 + 2·2 = 9
    trace = run({"signal": "1,2,0,-1,3,1,0,2,1", "strides": "1,2,1"})
    assert trace.outputs["receptive_fields"] == {"layer 1": 3, "layer 2": 5, "layer 3": 9}
    assert [row[4] for row in data(trace, "fields", "fields").rows] == [1, 1, 2]  # jump J before each layer
    # y1 = (5, 1, 1, 6, 5, 3, 5) (the last: 0 + 2×2 + 1); layer 2 (stride 2): ⌊(7 - 3)/2⌋ + 1 = 3 outputs,
    # from y1[0..2], y1[2..4], y1[4..6]: 5+1+1 = 7, 1+6+5 = 12, 5+3+5 = 13;  y3 = 7 - 12 + 13 = 8
    assert trace.outputs["outputs"]["layer 2"].tolist() == [7.0, 12.0, 13.0]
    assert trace.outputs["outputs"]["layer 3"].tolist() == [8.0]


def test_dilations_without_holes_and_with_them():
    # WaveNet-style: k = 2, dilations 1, 2, 4: r = 1 + 1 + 2 + 4 = 8, and every input has a path
    trace = run({"kernels": "1,1;1,1;1,1", "dilations": "1,2,4"})
    assert trace.outputs["receptive_fields"] == {"layer 1": 2, "layer 2": 4, "layer 3": 8}
    assert data(trace, "gradient", "gradient")[1].tolist() == [1.0] * 8
    assert trace.step("gradient").warnings == []
    # k = 2, dilations 1, 3: y2[0] = y1[0] + y1[3] = x0 + x1 + x3 + x4: span 5 but x2 has no path
    trace = run({"kernels": "1,1;1,1", "dilations": "1,3"})
    assert trace.outputs["receptive_fields"] == {"layer 1": 2, "layer 2": 5}
    assert data(trace, "gradient", "gradient")[1].tolist() == [1, 1, 0, 1, 1, 0, 0, 0]
    assert "1 inputs inside the span have no path at all (x2)" in trace.step("gradient").warnings[0]


def test_cancelling_weights_are_still_in_the_field():
    # w1 = (1, -1), w2 = (1, 1): y2[0] = (x0 - x1) + (x1 - x2) = x0 - x2: x1 has 2 paths but gradient 0
    trace = run({"kernels": "1,-1;1,1"})
    grad, paths = data(trace, "gradient", "gradient")
    assert grad[:3].tolist() == [1.0, 0.0, -1.0] and paths[:3].tolist() == [1.0, 2.0, 1.0]
    assert trace.step("gradient").warnings[0].startswith("x1: paths exist but their weights cancel")


def test_random_signal_and_image_are_reproducible_and_recorded():
    first, again, other = run({"length": "12", "seed": "3"}), run({"length": "12", "seed": "3"}), run({"length": "12", "seed": "4"})
    signal, image = first.inputs["signal"], first.inputs["image"]
    assert signal.shape == (12,) and image.shape == (12, 12)
    assert set(np.unique(signal)) <= set(range(-3, 4)) and set(np.unique(image)) <= set(range(-2, 3))
    np.testing.assert_array_equal(signal, again.inputs["signal"])
    np.testing.assert_array_equal(image, again.inputs["image"])
    assert first.inputs["seed"] == 3 and not np.array_equal(signal, other.inputs["signal"])
    # typed back in, the recorded inputs give the same outputs
    typed = run({"signal": ",".join(f"{v:g}" for v in signal), "image": ";".join(",".join(f"{v:g}" for v in row) for row in image)})
    assert typed.outputs["outputs"]["layer 3"].tolist() == first.outputs["outputs"]["layer 3"].tolist()
    assert run({"image-size": "9"}).inputs["image"].shape == (9, 9)


# --------------------------------------------------------------------------- PyTorch oracle

STACKS = [
    ({}, None),  # the defaults
    ({"signal": "1,2,0,-1,3,1,0,2,1", "strides": "1,2,1"}, None),
    ({"kernels": "1,1;1,1;1,1", "dilations": "1,2,4"}, None),
    ({"kernels": "0.5,-1.25,2;1.5,0.25;-0.75,1,0.5,2", "strides": "2,1,1", "dilations": "1,2,1", "length": "40", "seed": "5"}, None),
    ({"kernels": "1.5,-0.5,2,1,0.25", "strides": "3", "length": "30", "seed": "2", "image-size": "17"}, None),
    ({"kernels": "0.3,0.9,-0.4;1.1,-0.2,0.7", "dilations": "2,3", "length": "25", "seed": "7"}, None),
]


def _torch_layers(torch, trace):
    return [
        (torch.tensor(np.asarray(k)), int(s), int(d))
        for k, s, d in zip(trace.inputs["kernels"], trace.inputs["strides"], trace.inputs["dilations"], strict=True)
    ]


def _forward_1d(torch, x, layers, ones=False):
    f = torch.nn.functional
    out, current = [], x.reshape(1, 1, -1)
    for kernel, s, d in layers:
        weight = (torch.ones_like(kernel) if ones else kernel).reshape(1, 1, -1)
        current = f.conv1d(current, weight, stride=s, dilation=d)
        out.append(current.reshape(-1))
    return out


def _forward_2d(torch, image, layers, ones=False):
    f = torch.nn.functional
    out, current = [], image.reshape(1, 1, *image.shape)
    for kernel, s, d in layers:
        weight = torch.outer(kernel, kernel)
        weight = (torch.ones_like(weight) if ones else weight).reshape(1, 1, *weight.shape)
        current = f.conv2d(current, weight, stride=s, dilation=d)
        out.append(current[0, 0])
    return out


@pytest.mark.oracle
@pytest.mark.parametrize(("raw", "_"), STACKS)
def test_convolutions_against_torch(torch, raw, _):
    trace = run(raw)
    layers = _torch_layers(torch, trace)
    expected = _forward_1d(torch, torch.tensor(trace.inputs["signal"]), layers)
    ours = trace.outputs["outputs"]
    assert list(ours) == [f"layer {i}" for i in range(1, len(layers) + 1)]
    for y, want in zip(ours.values(), expected, strict=True):
        np.testing.assert_allclose(y, want.numpy(), rtol=0, atol=ORACLE)
    # 2-D: the same stack with k·kᵀ kernels on the image (the trace shows the last layer)
    image = torch.tensor(trace.inputs["image"])
    expected_2d = _forward_2d(torch, image, layers)
    np.testing.assert_allclose(data(trace, "image", f"Y{len(layers)}"), expected_2d[-1].numpy(), rtol=0, atol=ORACLE)
    for y, want in zip(conv.stack_2d(trace.inputs["image"], [conv.Layer(np.outer(k, k), s, d) for k, s, d in
                                                               zip(trace.inputs["kernels"], trace.inputs["strides"],
                                                                   trace.inputs["dilations"], strict=True)]),
                       expected_2d, strict=True):
        np.testing.assert_allclose(y, want.numpy(), rtol=0, atol=ORACLE)


def _measured_span(grad):
    where = np.flatnonzero(grad.numpy() != 0)
    return int(where[-1] - where[0] + 1), int(where[0])


@pytest.mark.oracle
@pytest.mark.parametrize(("raw", "_"), STACKS)
def test_receptive_fields_measured_by_autograd(torch, raw, _):
    # for each layer l: which inputs get a non-zero gradient of y_l[0]? (weights all 1: no cancellation)
    trace = run(raw)
    layers = _torch_layers(torch, trace)
    n = trace.inputs["signal"].size
    for number in range(1, len(layers) + 1):
        x = torch.zeros(n, requires_grad=True)
        _forward_1d(torch, x, layers[:number], ones=True)[-1][0].backward()
        assert _measured_span(x.grad) == (trace.outputs["receptive_fields"][f"layer {number}"], 0)
    # the last layer with every weight 1 counts the paths; with the lesson's weights it is the gradient row
    x = torch.tensor(trace.inputs["signal"], requires_grad=True)
    _forward_1d(torch, x, layers)[-1][0].backward()
    ours = data(trace, "gradient", "gradient")
    np.testing.assert_allclose(ours[0], x.grad.numpy(), rtol=0, atol=ORACLE)
    x = torch.zeros(n, requires_grad=True)
    _forward_1d(torch, x, layers, ones=True)[-1][0].backward()
    np.testing.assert_array_equal(ours[1], x.grad.numpy())
    # 2-D: the pixels with a path to Y_L[0,0] are an r×r square in the corner
    image = torch.zeros(trace.inputs["image"].shape, requires_grad=True)
    _forward_2d(torch, image, layers, ones=True)[-1][0, 0].backward()
    np.testing.assert_array_equal(data(trace, "image", "paths"), image.grad.numpy())
    r = trace.outputs["receptive_fields"][f"layer {len(layers)}"]
    rows, cols = np.nonzero(image.grad.numpy())
    assert (rows.max() + 1, cols.max() + 1, rows.min(), cols.min()) == (r, r, 0, 0)


@pytest.mark.oracle
def test_attention_weights_against_torch(torch):
    trace = run()
    x = torch.tensor(trace.inputs["signal"]).reshape(1, -1, 1)
    f = torch.nn.functional
    # with V = I the output of scaled_dot_product_attention is the weight matrix itself
    out = f.scaled_dot_product_attention(x[:, :1], x, torch.eye(x.shape[1]).reshape(1, x.shape[1], x.shape[1]))
    np.testing.assert_allclose(data(trace, "attention", "A"), out[0, 0].numpy(), rtol=0, atol=ORACLE)


# --------------------------------------------------------------------------- known mistakes, on hand-worked cases


def _case(step, value, index, raw=None):
    lesson = load_lesson(LESSON)
    prepared = prepare(lesson, parse_args(lesson, raw or {}))
    return mistakes.Case(prepared, prepared.build(), step, value, index)


def _found(case):
    return {m.id: v for m, v in mistakes.alternatives(registry.walkthrough(LESSON).mistakes, case)}


def test_known_mistakes_recomputed_by_hand():
    # three 3-tap layers: r3 = 7; adding the kernel sizes gives 3 + 3 + 3 = 9
    case = _case("fields", "fields", (2, R))
    assert case.element() == 7.0 and _found(case)["summed-kernels"] == 9.0
    # strides 1, 2, 1: r3 = 9; without the jump J2 = 2 it would be 1 + 2 + 2 + 2 = 7
    raw = {"signal": "1,2,0,-1,3,1,0,2,1", "strides": "1,2,1"}
    case = _case("fields", "fields", (2, R), raw)
    assert case.element() == 9.0 and _found(case)["no-jump"] == 7.0
    # dilations 1, 2, 1: r2 = 3 + 2·2 = 7; without the dilation 3 + 2 = 5
    case = _case("fields", "fields", (1, R), {"signal": "1,2,0,-1,3,1,0,2,1", "dilations": "1,2,1"})
    assert case.element() == 7.0 and _found(case)["no-dilation"] == 5.0
    # w1 = (1, 2, 3) on x0..x2 = (1, 2, 0): 1 + 4 + 0 = 5; flipped (3, 2, 1): 3 + 4 + 0 = 7
    case = _case("conv", "y1", (0,), {"kernels": "1,2,3;1,1,1;1,-1,1"})
    assert case.element() == 5.0 and _found(case)["flipped-kernel"] == 7.0
    # one layer (1, 2, 1) with stride 2: y1[2] = x4 + 2x5 + x6 = 3 + 2 + 0 = 5; window at 2: 0 - 2 + 3 = 1
    case = _case("conv", "y1", (2,), {"kernels": "1,2,1", "strides": "2"})
    assert case.element() == 5.0 and _found(case)["stride-ignored"] == 1.0
    # ∂y3[0]/∂x3 = 2, but 7 paths lead from x3 to y3[0]
    case = _case("gradient", "gradient", (0, 3))
    assert case.element() == 2.0 and _found(case)["paths-for-gradient"] == 7.0


def test_mistakes_that_do_not_apply():
    # no stride, no dilation, a symmetric kernel: those mistakes change nothing and say nothing
    found = _found(_case("fields", "fields", (2, R)))
    assert "no-jump" not in found and "no-dilation" not in found
    assert "stride-ignored" not in _found(_case("conv", "y1", (1,)))


# --------------------------------------------------------------------------- the lesson's own refusals


def test_kernels_parse_rows_of_different_lengths():
    from nntutor.walkthroughs.receptive_field import parse_kernels

    assert [k.tolist() for k in parse_kernels("1,2,1;0.5,0.5;")] == [[1.0, 2.0, 1.0], [0.5, 0.5]]
    assert [k.tolist() for k in parse_kernels("[[1, 2], [3]]")] == [[1.0, 2.0], [3.0]]
    assert [k.tolist() for k in parse_kernels("[1, 2, 3]")] == [[1.0, 2.0, 3.0]]


def test_cost_is_refused_before_anything_is_drawn():
    # a 100,000×100,000 image would be 10^10 pixels: refused from its size alone, at once
    from nntutor.errors import InputError

    with pytest.raises(InputError) as info:
        run({"image-size": "100000"})
    assert info.value.flag == "--image-size" and "multiply-adds" in info.value.message


# --------------------------------------------------------------------------- CLI


def test_cli_json_outputs(run_cli):
    result = run_cli("lesson", LESSON, "--kernels", "1,1;1,1", "--dilations", "1,2", "--signal", "1,2,3,4,5", "--format", "json")
    assert result.exit_code == 0, result.stderr
    outputs = json.loads(result.stdout)["outputs"]
    # y1 = (3, 5, 7, 9); y2[i] = y1[i] + y1[i+2] = (10, 14); r = 1 + 1 = 2, 2 + 1·2 = 4
    assert outputs == {"outputs": {"layer 1": [3.0, 5.0, 7.0, 9.0], "layer 2": [10.0, 14.0]},
                       "receptive_fields": {"layer 1": 2, "layer 2": 4}}


def test_fits_80_columns(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    result = run_cli("lesson", LESSON)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(result.stdout.split("\nWhat next")[0].splitlines()) <= 150  # the lesson, before its closing pointers
    assert max(len(line) for line in lines) <= 80
    assert "elided" not in result.stdout  # every number of the default run is on screen
    result = run_cli("lesson", LESSON, "--length", "40", "--dilations", "1,2,4")
    assert result.exit_code == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"kernels": ""}, "--kernels", "found an empty value"),
    ({"kernels": "1,2;;3"}, "--kernels", "layer 2 is empty"),
    ({"kernels": "1,2,a"}, "--kernels", "layer 1: 'a' is not a number"),
    ({"kernels": "[[1, [2]]]"}, "--kernels", "layer 1:"),
    ({"kernels": "[1,"}, "--kernels", "is not a valid JSON list"),
    ({"kernels": ";".join(["1,1"] * 9)}, "--kernels", "has 9 layers (at most 8 here)"),
    ({"kernels": ",".join(["1"] * 65), "length": "100"}, "--kernels", "layer 1 has 65 numbers (at most 64"),
    ({"strides": "1,2"}, "--strides", "--strides: has 2 numbers but --kernels (default 3 layers) has 3 (one per layer); pass --kernels too"),
    ({"kernels": "1,1", "dilations": "1,2,1"}, "--dilations", "has 3 numbers but --kernels has 1 layer (one per layer)"),
    ({"strides": "1.5,1,1"}, "--strides", "entry 1 is 1.5 (expected whole numbers ≥ 1"),
    ({"strides": "0,1,1"}, "--strides", "too small"),
    ({"dilations": "1,2,4"}, "--dilations", "has 15 inputs in an output's receptive field but --signal (default 8 numbers) has 8; pass --signal too"),
    ({"signal": "1,2,3"}, "--signal", "has 3 numbers but --kernels (default 3 layers) has 7 inputs in an output's receptive field; give at least 7 numbers"),
    ({"signal": "1,2,3", "dilations": "1,2,4"}, "--dilations", "has 15 inputs in an output's receptive field but --signal has 3 numbers"),
    ({"length": "5"}, "--length", "give --length 7 or more"),
    ({"length": "9", "signal": "1,2,3,4,5,6,7,8,9"}, "--length", "cannot be combined with --signal"),
    ({"image": "1,2;3,4"}, "--image", "has 2 rows but --kernels (default 3 layers) has 7 inputs"),
    ({"image": "1,2,3,4,5,6,7;1,2,3,4,5,6,7", "kernels": "1,2,1;1,1,1;1,1,1"}, "--kernels", "has 7 inputs in an output's receptive field but --image has 2 rows"),
    ({"image": "1,2,3;4,5,6;7,8,9", "image-size": "3"}, "--image-size", "cannot be combined with --image"),
    ({"image-size": "3"}, "--image-size", "has 3 pixels a side but --kernels (default 3 layers) has 7"),
    ({"image-size": "100000"}, "--image-size", "100,000×100,000 image need about"),
    ({"length": "1000000"}, "--length", "(the image is as long as the signal unless --image-size says otherwise)"),
    ({"length": "1000001"}, "--length", "too large"),
]
