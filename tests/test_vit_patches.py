"""The vit-patches lesson: the built-in letter A worked by hand, ViT-Base's sizes, the known mistakes;
oracles: torch.nn.Conv2d (stride P, loaded with W_E), Tensor.unfold for the patches, numel for the count."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import parse_args, prepare, run_lesson
from nntutor.core import patches as core
from nntutor.quiz import mistakes
from nntutor.walkthroughs import vit_patches
from nntutor.walkthroughs._declare import Args

LESSON = "vit-patches"
HAND = 1e-12
ORACLE = 1e-10


def run(raw=None):
    return run_lesson(load_lesson(LESSON), raw or {})


def value(trace, step, name):
    return trace.step(step).value(name).data


def case(raw, step, name, index):
    """The quiz's view of one element of a run: what a known mistake is recomputed for."""
    prepared = prepare(load_lesson(LESSON), parse_args(load_lesson(LESSON), raw))
    return mistakes.Case(prepared, prepared.build(), step, name, index)


def mistake(mistake_id):
    return next(m for m in vit_patches.WALKTHROUGH.mistakes if m.id == mistake_id)


# --------------------------------------------------------------------------- by hand: the built-in letter A

# The built-in image, 8×8, one channel, and its four 4×4 patches:
#   r0: 0  0  0  .5 | .5 0  0  0        patch 0 (rows 0–3, cols 0–3)  patch 1 (rows 0–3, cols 4–7)
#   r1: 0  0  .5 1  | 1  .5 0  0
#   r2: 0  .5 1  0  | 0  1  .5 0
#   r3: .5 1  0  0  | 0  0  1  .5
#   r4: 1  1  1  1  | 1  1  1  1        patch 2 (rows 4–7, cols 0–3)  patch 3 (rows 4–7, cols 4–7)
#   r5: 1  0  0  0  | 0  0  0  1
#   r6: 1  0  0  0  | 0  0  0  1
#   r7: 1  0  0  0  | 0  0  0  1
PATCHES = [
    [0, 0, 0, 0.5, 0, 0, 0.5, 1, 0, 0.5, 1, 0, 0.5, 1, 0, 0],  # each patch row by row
    [0.5, 0, 0, 0, 1, 0.5, 0, 0, 0, 1, 0.5, 0, 0, 0, 1, 0.5],
    [1, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0],
    [1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1],
]


def test_default_patches_by_hand():
    # N = (8/4)·(8/4) = 2·2 = 4 patches of P²C = 4²·1 = 16 numbers
    trace = run()
    assert trace.outputs["n_patches"] == 4
    assert trace.outputs["patches"].tolist() == PATCHES
    # entry (r·P + s)·C + c = (1·4 + 1)·1 + 0 = 5 of patch 1 is pixel (0·4 + 1, 1·4 + 1) = (1, 5) = 0.5
    assert trace.outputs["patches"][1, 5] == 0.5
    assert "x1[5] = image[0·4 + 1, 1·4 + 1] = image[1, 5] = 0.5" in trace.step("flatten").worked
    assert value(trace, "grid", "grid").tolist() == [[0, 1], [2, 3]]


def test_default_tokens_by_hand():
    # W_E's columns: ink 0.1 everywhere; left−right +0.2 (s < 2) / −0.2; top−bottom +0.2 (r < 2) / −0.2;
    # diagonal +0.3 (r = s) / −0.1.  b = (−0.3, 0.1, −0.1, 0.2).
    # patch 0: ink 5 → 0.5 − 0.3 = 0.2; left 2, right 3 → −0.2 + 0.1 = −0.1; top 2, bottom 3 → −0.2 − 0.1 = −0.3;
    #          diagonal (2,2) = 1 → 0.3, the other ink 4 → −0.4, so −0.1 + 0.2 = 0.1
    # patch 1: ink 5 → 0.2; left 3, right 2 → 0.2 + 0.1 = 0.3; top 2, bottom 3 → −0.3;
    #          diagonal 4×0.5 = 2 → 0.6, the other ink 3 → −0.3, so 0.3 + 0.2 = 0.5
    # patch 2: ink 7 → 0.4; left 5, right 2 → 0.6 + 0.1 = 0.7; top 5, bottom 2 → 0.6 − 0.1 = 0.5;
    #          diagonal (0,0) = 1 → 0.3, the other ink 6 → −0.6, so −0.3 + 0.2 = −0.1
    # patch 3: ink 7 → 0.4; left 2, right 5 → −0.6 + 0.1 = −0.5; top 5, bottom 2 → 0.5;
    #          diagonal (0,0), (3,3) → 0.6, the other ink 5 → −0.5, so 0.1 + 0.2 = 0.3
    E = value(run(), "embed", "E")
    expected = [[0.2, -0.1, -0.3, 0.1], [0.2, 0.3, -0.3, 0.5], [0.4, 0.7, 0.5, -0.1], [0.4, -0.5, 0.5, 0.3]]
    np.testing.assert_allclose(E, expected, rtol=0, atol=HAND)


def test_default_embeddings_by_hand():
    # Z = [CLS; E] + positions: [CLS] (0.3, −0.2, 0.1, 0.4) + pos 0 (0.1, 0.1, 0.2, −0.1) = (0.4, −0.1, 0.3, 0.3);
    # patch n gets pos n + 1: patch 1 + pos 2 = (0.2 + 0.2, 0.3 − 0.1, −0.3 + 0.1, 0.5 + 0.1) = (0.4, 0.2, −0.2, 0.6)
    trace = run()
    Z = trace.outputs["embeddings"]
    expected = [
        [0.4, -0.1, 0.3, 0.3],
        [0.2 + 0.1, -0.1 + 0.2, -0.3 - 0.1, 0.1 - 0.2],
        [0.4, 0.2, -0.2, 0.6],
        [0.4 - 0.1, 0.7 + 0.1, 0.5 + 0.2, -0.1 + 0.3],
        [0.4 + 0.1, -0.5 - 0.2, 0.5 - 0.1, 0.3 + 0.2],
    ]
    np.testing.assert_allclose(Z, expected, rtol=0, atol=HAND)
    assert "Z[2,3] = E[1,3] + pos[2,3] = 0.5 + 0.1 = 0.6: patch 1 sits at position 2" in trace.step("tokens").worked


def test_default_worked_lines():
    trace = run()
    # E[1,3]: the seven ink pixels of patch 1, four on the diagonal (0.5×0.3) and three off it (1×(−0.1)), + 0.2
    assert (
        "E[1,3] = x1·W_E[:,3] + b[3] = 0.5×0.3 + 1×(-0.1) + 0.5×0.3 + 1×(-0.1) + 0.5×0.3 + 1×(-0.1) + 0.5×0.3 + 0.2 "
        "= 0.5 (the 9 zero pixels add nothing)"
    ) in trace.step("embed").worked
    # the convolution, kernel row by kernel row on window (0, 1): 0.15, 0.05, 0.05, 0.05, + 0.2 = 0.5
    assert "out3(0,1) = b[3] + row sums = 0.2 + 0.15 + 0.05 + 0.05 + 0.05 = 0.5 = E[1,3]" in trace.step("conv").worked
    assert value(trace, "conv", "kernel").tolist() == [
        [0.3, -0.1, -0.1, -0.1], [-0.1, 0.3, -0.1, -0.1], [-0.1, -0.1, 0.3, -0.1], [-0.1, -0.1, -0.1, 0.3]
    ]


def test_default_parameters_by_hand():
    # W_E 16×4 = 64, b 4: 68; [CLS] 4 and positions 5×4 = 20: 92
    trace = run()
    assert value(trace, "params", "linear") == 68
    assert value(trace, "params", "total") == 92


def test_vit_base_sizes_by_hand():
    # 224/16 = 14 patches a side: 14·14 = 196; a patch holds 16·16·3 = 768 numbers;
    # W_E and b = 768·768 + 768 = 589,824 + 768 = 590,592; [CLS] 768; 197 positions × 768 = 151,296
    assert core.n_patches(224, 224, 16) == 196
    assert core.patch_values(16, 3) == 768
    p = core.embedding_params(16, 3, 768, 196)
    assert (p.linear, p.cls, p.positions, p.total) == (590_592, 768, 151_296, 742_656)
    trace = run({"image-size": "224", "patch": "16", "channels": "3"})
    assert trace.outputs["n_patches"] == 196
    assert trace.outputs["patches"].shape == (196, 768)
    assert value(trace, "params", "linear") == 768 * 4 + 4


def test_rgb_raster_order_by_hand():
    # a 2×4 image of RGB pixels, 2×2 patches: pixel (r, c) has channels (10r + c, 10r + c + 0.1, 10r + c + 0.2)
    # patch 1 (columns 2–3): pixels (0,2), (0,3), (1,2), (1,3), each with its R, G, B side by side
    rows = [",".join(f"{10 * r + c + k / 10:g}" for c in range(4) for k in range(3)) for r in range(2)]
    trace = run({"image": ";".join(rows), "channels": "3", "patch": "2"})
    np.testing.assert_allclose(
        trace.outputs["patches"][1],
        [2, 2.1, 2.2, 3, 3.1, 3.2, 12, 12.1, 12.2, 13, 13.1, 13.2],
        rtol=0, atol=HAND,
    )
    assert core.flat_index(1, 0, 2, 2, 3) == 8 and core.position_of(8, 2, 3) == (1, 0, 2)


def test_non_square_image_and_a_single_patch():
    # 4×6 image, 2×2 patches: (4/2)·(6/2) = 2·3 = 6; a patch as large as the image: 1
    assert run({"image": ";".join([",".join(["1"] * 6)] * 4), "patch": "2"}).outputs["n_patches"] == 6
    one = run({"patch": "8"})
    assert one.outputs["n_patches"] == 1 and one.outputs["patches"].shape == (1, 64)


# --------------------------------------------------------------------------- oracles (PyTorch in float64)


def _conv_oracle(torch, image, patch, we, b):
    """E from torch.nn.Conv2d(C, d, kernel P, stride P) whose weight is W_E: weight[j, c, r, s] = W_E[(rP + s)C + c, j]."""
    h, w, c = image.shape
    d = we.shape[1]
    conv = torch.nn.Conv2d(c, d, kernel_size=patch, stride=patch, dtype=torch.float64)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(we).reshape(patch, patch, c, d).permute(3, 2, 0, 1))
        conv.bias.copy_(torch.tensor(b))
    x = torch.tensor(image).permute(2, 0, 1).unsqueeze(0)  # 1 × C × H × W
    with torch.no_grad():
        out = conv(x)  # 1 × d × H/P × W/P
    return out.flatten(2).transpose(1, 2)[0].numpy(), sum(p.numel() for p in conv.parameters())


def _unfold_oracle(torch, image, patch):
    """The patches from Tensor.unfold: (C, H/P, W/P, P, P) put in the lesson's order (grid, then r, s, c)."""
    x = torch.tensor(image).permute(2, 0, 1)
    blocks = x.unfold(1, patch, patch).unfold(2, patch, patch)  # C × H/P × W/P × P × P
    return blocks.permute(1, 2, 3, 4, 0).reshape(-1, patch * patch * image.shape[2]).numpy()


ORACLE_CASES = [
    {},
    {"patch": "2"},
    {"image-size": "32", "patch": "8", "channels": "3", "d-model": "5", "seed": "2"},
    {"image": "1,2,3,4,5,6;7,8,9,10,11,12", "channels": "3", "patch": "2", "seed": "4"},
    {"image-size": "224", "patch": "16", "channels": "3", "d-model": "8", "seed": "1"},
]


@pytest.mark.parametrize("raw", ORACLE_CASES, ids=lambda raw: " ".join(f"{k}={v}" for k, v in raw.items()) or "defaults")
def test_against_torch_conv2d(torch, raw):
    trace = run(raw)
    inputs = prepare(load_lesson(LESSON), parse_args(load_lesson(LESSON), raw)).inputs
    E, numel = _conv_oracle(torch, inputs.image, inputs.patch, inputs.we, inputs.b)
    np.testing.assert_allclose(value(trace, "embed", "E"), E, rtol=0, atol=ORACLE)
    assert value(trace, "conv", "difference") <= ORACLE
    np.testing.assert_allclose(trace.outputs["patches"], _unfold_oracle(torch, inputs.image, inputs.patch), rtol=0, atol=0)
    assert numel == value(trace, "params", "linear")
    tokens = torch.cat([torch.tensor(inputs.cls)[None, :], torch.tensor(E)]) + torch.tensor(inputs.pos)
    np.testing.assert_allclose(trace.outputs["embeddings"], tokens.numpy(), rtol=0, atol=ORACLE)
    cls = torch.nn.Parameter(torch.zeros(1, 1, inputs.we.shape[1]))
    pos = torch.nn.Parameter(torch.zeros(1, trace.outputs["n_patches"] + 1, inputs.we.shape[1]))
    assert numel + cls.numel() + pos.numel() == value(trace, "params", "total")


def test_core_convolution_against_torch_with_overlap(torch):
    """conv2d is a general convolution: stride 1 and 2 with a 3×3 kernel over 2 channels, as F.conv2d."""
    rng = np.random.default_rng(7)
    image, kernel, bias = rng.normal(size=(2, 7, 9)), rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3)
    for stride in (1, 2):
        ours = core.conv2d(image, kernel, bias, stride)
        theirs = torch.nn.functional.conv2d(torch.tensor(image)[None], torch.tensor(kernel), torch.tensor(bias), stride=stride)
        np.testing.assert_allclose(ours, theirs[0].numpy(), rtol=0, atol=ORACLE)


# --------------------------------------------------------------------------- known mistakes, on the letter A


def test_columns_first_mistake_by_hand():
    # patch 1 read down its columns: [.5, 1, 0, 0 | 0, .5, 1, 0 | 0, 0, .5, 1 | 0, 0, 0, .5]
    c = case({}, "flatten", "patches", (1, 1))
    assert c.element() == 0.0 and mistake("columns-first").compute(c) == 1.0
    # E[1,1] (left−right) from the transposed patch: left 0.5 + 1 + 0.5 = 2, right 3 → −0.2 + 0.1 = −0.1 (not 0.3)
    c = case({}, "embed", "E", (1, 1))
    assert c.element() == pytest.approx(0.3, abs=HAND)
    assert mistake("columns-first").compute(c) == pytest.approx(-0.1, abs=HAND)


def test_position_and_bias_mistakes_by_hand():
    # Z[2,3] = E[1,3] + pos[2,3] = 0.5 + 0.1 = 0.6; with patch 1 at position 1: 0.5 + (−0.2) = 0.3;
    # without positions 0.5; without b: 0.6 − 0.2 = 0.4
    c = case({}, "tokens", "embeddings", (2, 3))
    assert c.element() == pytest.approx(0.6, abs=HAND)
    assert mistake("position-shift").compute(c) == pytest.approx(0.3, abs=HAND)
    assert mistake("no-positions").compute(c) == pytest.approx(0.5, abs=HAND)
    assert mistake("no-bias").compute(c) == pytest.approx(0.4, abs=HAND)
    assert mistake("position-shift").compute(case({}, "tokens", "embeddings", (0, 3))) is None  # [CLS] is at 0
    # and the quiz finds them among the alternatives for a wrong answer
    found = {m.id: v for m, v in mistakes.alternatives(vit_patches.WALKTHROUGH.mistakes, c)}
    assert found["position-shift"] == pytest.approx(0.3, abs=HAND)


def test_counting_mistakes_by_hand():
    # N = 4; dividing the 64 pixels by P = 4 once gives 16; counting [CLS] gives 5
    c = case({}, "grid", "n_patches", ())
    assert mistake("divided-once").compute(c) == 16 and mistake("counted-cls").compute(c) == 5
    # W_E and b without the bias: 64; an RGB image in 2×2 patches, d = 4: 12·4 + 4 = 52, and 2²·4 + 4 = 20
    # when the channels are forgotten
    assert mistake("params-no-bias").compute(case({}, "params", "linear", ())) == 64
    rgb = case({"channels": "3", "patch": "2"}, "params", "linear", ())
    assert rgb.element() == 52 and mistake("params-no-channels").compute(rgb) == 20
    assert mistake("params-no-channels").compute(case({}, "params", "linear", ())) is None


# --------------------------------------------------------------------------- drawn inputs


def test_seed_draws_every_input_not_given_each_from_its_own_stream():
    first = run({"seed": "3"})
    again = run({"seed": "3"})
    assert first.inputs["seed"] == 3
    np.testing.assert_array_equal(first.inputs["image"], again.inputs["image"])
    assert not np.array_equal(first.inputs["image"], core.TOY_IMAGE[:, :, 0])
    # giving W_E does not change what [CLS] and the positions are drawn as
    we = ";".join(",".join("0.1" for _ in range(4)) for _ in range(16))
    mixed = run({"seed": "3", "we": we})
    np.testing.assert_array_equal(mixed.inputs["cls"], first.inputs["cls"])
    np.testing.assert_array_equal(mixed.inputs["pos"], first.inputs["pos"])
    assert "Drawn at random, --seed 3" in first.summary


def test_built_in_tables_only_at_the_built_in_sizes():
    assert run().inputs["we"].tolist() == core.TOY_WE.tolist() and "seed" not in run().inputs
    other = run({"patch": "2"})
    assert other.inputs["we"].shape == (4, 4) and other.inputs["seed"] == 0
    assert np.all(np.abs(other.inputs["we"]) <= 0.5)  # ±1/√(2²·1)
    np.testing.assert_array_equal(other.inputs["image"], core.TOY_IMAGE[:, :, 0])  # the image stays the letter A


def test_quiz_inputs_are_accepted_and_small():
    lesson = load_lesson(LESSON)
    for seed in range(30):
        values = vit_patches._quiz_inputs(np.random.default_rng(seed), lesson.defaults())
        trace = prepare(lesson, Args({**lesson.defaults(), **values}, given=values)).build()  # as the quiz runs it
        assert set(np.unique(values["image"])) <= {0.0, 0.5, 1.0}
        assert trace.outputs["n_patches"] <= 16


# --------------------------------------------------------------------------- the lesson file, the screen, the CLI


def test_lesson_file():
    lesson = load_lesson(LESSON)
    assert (lesson.part, lesson.order) == ("Attention", 440)
    assert lesson.requires and lesson.see_also and lesson.vs_examples
    answers = [item.answer for item in lesson.quiz if item.kind == "choice"]
    assert answers and any(a != 1 for a in answers)
    for item in lesson.quiz:
        if item.kind == "choice":
            longest = max(range(len(item.choices)), key=lambda i: len(item.choices[i])) + 1
            assert item.answer != longest, item.id


def test_fits_80_columns(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    result = run_cli("lesson", LESSON)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(result.stdout.split("\nWhat next")[0].splitlines()) <= 150  # the lesson, before its closing pointers
    assert max(len(line) for line in lines) <= 80
    body = result.stdout.split("\nResult")[0]
    for internal in ("n_patches", "feature_map", "\n  cls "):  # value names the learner never typed
        assert internal not in body, internal


def test_cli_json_outputs(run_cli):
    result = run_cli("lesson", LESSON, "--patch", "2", "--format", "json")
    assert result.exit_code == 0, result.stderr
    outputs = json.loads(result.stdout)["outputs"]
    assert set(outputs) == {"patches", "embeddings", "n_patches"}
    assert outputs["n_patches"] == 16
    assert outputs["patches"][1] == [0.0, 0.5, 0.5, 1.0]  # rows 0–1, columns 2–3 of the letter A
    assert len(outputs["embeddings"]) == 17


def test_core_docstring_examples():
    import doctest

    assert doctest.testmod(core).failed == 0
    assert doctest.testmod(vit_patches).failed == 0


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"patch": "3"}, "--patch", "has 3 pixels per side but --image (default 8×8) has 8 rows (a side must hold whole patches: 8 = 2×3 + 2"),
    ({"patch": "16"}, "--patch", "a patch cannot be larger than the image, 8 < 16; patch sizes that fit 8: 1, 2, 4, 8); use a --patch of 8 or less"),
    ({"image-size": "6"}, "--image-size", "has 6 pixels per side but --patch (default 4 pixels per side) has 4"),
    ({"image-size": "10", "patch": "4"}, "--image-size", "10 = 2×4 + 2; patch sizes that fit 10: 1, 2, 5, 10"),
    ({"channels": "3", "patch": "3"}, "--patch", "but --image-size (default 8) has 8 (a side must hold whole patches"),
    ({"image": "1,2,3;4,5,6"}, "--image", "has 2 rows but --patch (default 4 pixels per side) has 4"),
    ({"image": "1,2,3;4,5,6", "channels": "2", "patch": "1"}, "--image", "has 3 columns but --channels has 2 channels"),
    ({"image": "1,2;3,4", "image-size": "4"}, "--image-size", "cannot be combined with --image"),
    ({"we": "1,2;3,4"}, "--we", "has 2 rows but --patch (default 4) has 16 numbers per patch"),
    ({"we": "1,2;3,4", "channels": "3"}, "--we", "has 2 rows but --channels has 48 numbers per patch (one row per number of a flattened patch: P²C = 4²×3 = 48)"),
    ({"we": "1,2", "d-model": "3", "patch": "1", "image": "1,2"}, "--we", "has 2 columns but --d-model has 3 dimensions"),
    ({"b": "1,2,3"}, "--b", "has 3 numbers but --d-model (default 4) has 4 dimensions (one bias per column of W_E); pass --d-model too"),
    ({"b": "1,2,3,4", "d-model": "3"}, "--b", "has 4 numbers but --d-model has 3 dimensions"),
    ({"cls": "1,2"}, "--cls", "has 2 numbers but --d-model (default 4) has 4 dimensions"),
    ({"we": "1,2", "patch": "1", "image": "1,2", "cls": "1,2,3"}, "--cls", "has 3 numbers but --we has 2 columns"),
    ({"pos": "1,2,3,4"}, "--pos", "has 1 row but there are 5 tokens ([CLS] and 4 patches of 4×4)"),
    ({"pos": "1,2,3;1,2,3;1,2,3;1,2,3;1,2,3"}, "--pos", "has 3 columns but --d-model (default 4) has 4 dimensions"),
    ({"image-size": "2000"}, "--image-size", "2,000×2,000×1 pixels in 4×4 patches with d = 4 make about 17,000,140 numbers (136.0 MB"),
    ({"d-model": "100000000"}, "--d-model", "make about 5,500,000,192 numbers (44.0 GB in memory"),
    ({"image-size": "1000", "patch": "1", "d-model": "8"}, "--d-model", "at most 4,000,000 here"),
    ({"channels": "100000000"}, "--channels", "8×8×100,000,000 pixels"),
]
