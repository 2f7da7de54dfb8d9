"""The positional-encoding lesson: hand-worked values, PyTorch oracles, properties, flags and the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.core import positional as posenc


def run(**flags):
    return run_lesson(load_lesson("positional-encoding"), {k.replace("_", "-"): v for k, v in flags.items()})


# ----------------------------------------------------------------------------- hand-worked (sinusoidal)


def test_default_frequencies():
    trace = run()
    rows = trace.step("frequencies").value("frequencies").data.rows
    # ω_i = 1 / 10000^(2i/8): 10000^0 = 1, 10000^0.25 = 10, 10000^0.5 = 100, 10000^0.75 = 1000
    assert [r[4] for r in rows] == pytest.approx([1.0, 0.1, 0.01, 0.001], rel=1e-15)
    assert [r[5] for r in rows] == pytest.approx([2 * math.pi * 10**k for k in range(4)], rel=1e-14)


def test_position_zero_and_one_by_hand():
    pe = run().outputs["pe"]
    assert pe.shape == (8, 8)
    assert pe[0].tolist() == [0.0, 1.0] * 4  # sin 0 = 0, cos 0 = 1 in every pair
    # angles at position 1: 1, 0.1, 0.01, 0.001 (values of sin/cos from the tables of the functions)
    expected = [
        0.8414709848078965, 0.5403023058681398,  # sin 1, cos 1
        0.09983341664682815, 0.9950041652780258,  # sin 0.1, cos 0.1
        0.009999833334166664, 0.9999500004166653,  # sin 0.01, cos 0.01
        0.0009999998333333417, 0.9999995000000417,  # sin 0.001, cos 0.001
    ]
    np.testing.assert_allclose(pe[1], expected, rtol=0, atol=1e-15)


def test_position_100_by_hand_not_the_seed_table():
    trace = run(at="0,1,100")
    pe = trace.outputs["pe"]
    # angles at 100: 100, 10, 1, 0.1. The seed text prints PE[100] = [-0.506, 0.863, -0.999,
    # 0.045, 0.842, …]: its third and fourth values are wrong (sin 10 = -0.544, cos 10 = -0.839).
    expected = [
        -0.5063656411097588, 0.8623188722876839,  # sin 100, cos 100
        -0.5440211108893698, -0.8390715290764524,  # sin 10, cos 10
        0.8414709848078965, 0.5403023058681398,  # sin 1, cos 1
        0.09983341664682815, 0.9950041652780258,  # sin 0.1, cos 0.1
    ]
    np.testing.assert_allclose(pe[2], expected, rtol=0, atol=1e-12)
    assert trace.outputs["angles"][2].tolist() == pytest.approx([100.0, 10.0, 1.0, 0.1], rel=1e-14)
    assert trace.inputs["positions"] == [0, 1, 100]


def test_worked_step_for_last_position():
    trace = run()
    worked = trace.step("worked").worked
    # position 7: sin(7) = 0.65699, cos(7) = 0.75390; pair 1: sin(0.7) = 0.64422
    assert worked[0].startswith("PE(7, 0) = sin(7 / 1) = sin(7) = 0.657;")
    assert "cos(7) = 0.7539" in worked[0]
    assert "sin(0.7) = 0.6442" in worked[1]


def test_neighbours_similarity_by_hand():
    trace = run(at="0,1,100")
    step = trace.step("neighbours")
    pairs = step.value("pair_similarity").data
    # pair i compares angles ω_i·a and ω_i·b: sin a sin b + cos a cos b = cos(ω_i Δ)
    # 0 vs 1: cos 1, cos 0.1, cos 0.01, cos 0.001; 0 vs 100: cos 100, cos 10, cos 1, cos 0.1
    np.testing.assert_allclose(
        pairs,
        [[0.5403023058681398, 0.9950041652780258, 0.9999500004166653, 0.9999995000000417],
         [0.8623188722876839, -0.8390715290764524, 0.5403023058681398, 0.9950041652780258]],
        rtol=0, atol=1e-12,
    )
    cos = step.value("cosine").data
    # whole-row cosine = mean of the pair similarities (each row has length √4 = 2)
    assert cos[0] == pytest.approx((0.5403023058681398 + 0.9950041652780258 + 0.9999500004166653
                                    + 0.9999995000000417) / 4, abs=1e-12)
    # the slowest pair stays near 1 between neighbours, the fastest does not
    assert pairs[0, -1] > 0.999 and pairs[0, 0] < 0.6


def test_single_position_compares_with_the_next():
    trace = run(at="5")
    nb = trace.step("neighbours")
    assert nb.value("pair_similarity").data.shape == (1, 4)
    assert nb.value("pair_similarity").data[0, 0] == pytest.approx(math.cos(1), abs=1e-12)


def test_add_to_embeddings():
    x = "1,0,0,0;0,1,0,0;0,0,1,0"
    trace = run(x=x)  # shape 3×4 sets positions 0..2 and d_model 4
    pe = trace.outputs["pe"]
    assert pe.shape == (3, 4)
    total = trace.step("add").value("sum").data
    # row 1: x = (0,1,0,0) plus PE(1) = (sin 1, cos 1, sin 0.01, cos 0.01)
    np.testing.assert_allclose(
        total[1], [0.8414709848078965, 1.5403023058681398, 0.009999833334166664, 0.9999500004166653],
        rtol=0, atol=1e-15,
    )
    assert trace.inputs["d-model"] == 4


def test_base_changes_frequencies():
    trace = run(d_model="4", base="100")
    # ω = 1/100^(0/4), 1/100^(2/4) = 1, 0.1
    np.testing.assert_allclose(trace.outputs["angles"][3], [3.0, 0.3], rtol=1e-15)


# ----------------------------------------------------------------------------- oracles (sinusoidal)


def _torch_pe(torch, positions, d, base):
    # the "div_term" form: exp(2i · (−ln base / d)), interleaved with strided assignment
    pos = torch.tensor(positions, dtype=torch.float64)[:, None]
    div = torch.exp(torch.arange(0, d, 2, dtype=torch.float64) * (-math.log(base) / d))
    pe = torch.zeros(len(positions), d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    return pe


@pytest.mark.parametrize(("positions", "d", "base"), [(list(range(8)), 8, 10000.0), ([0, 3, 17, 250], 12, 500.0),
                                                       (list(range(5)), 2, 10000.0)])
def test_sinusoidal_against_torch(torch, positions, d, base):
    trace = run(at=",".join(map(str, positions)), d_model=str(d), base=repr(base))
    expected = _torch_pe(torch, positions, d, base).numpy()
    np.testing.assert_allclose(trace.outputs["pe"], expected, rtol=0, atol=1e-10)
    # a second, complex-number route: e^{i·pos·ω} has cos as real part and sin as imaginary part
    omega = torch.pow(torch.tensor(base), -torch.arange(0, d, 2, dtype=torch.float64) / d)
    z = torch.polar(torch.ones(len(positions), d // 2), torch.tensor(positions, dtype=torch.float64)[:, None] * omega)
    np.testing.assert_allclose(trace.outputs["pe"][:, 0::2], z.imag.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(trace.outputs["pe"][:, 1::2], z.real.numpy(), rtol=0, atol=1e-10)
    angles = torch.tensor(positions, dtype=torch.float64)[:, None] * omega
    np.testing.assert_allclose(trace.outputs["angles"], angles.numpy(), rtol=1e-12, atol=0)


# ----------------------------------------------------------------------------- RoPE


def _torch_rope(torch, x, pos, base):
    d = x.numel()
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    xc = torch.view_as_complex(x.reshape(-1, 2).contiguous())
    turned = xc * torch.polar(torch.ones_like(theta), pos * theta)
    return torch.view_as_real(turned).reshape(-1)


def test_rope_default_by_hand():
    trace = run(kind="rope")
    # q = (1, 0.5, -1, 2), k = (0.5, 1, 1, -0.5), m − n = 3, θ = (1, 0.01)
    # pair 0: (q0k0 + q1k1)·cos 3 + (q0k1 − q1k0)·sin 3 = 1·cos 3 + 0.75·sin 3
    # pair 1: (−1 − 1)·cos 0.03 + (0.5 − 2)·sin 0.03
    expected = (1 * -0.9899924966004454 + 0.75 * 0.1411200080598672) + (-2 * math.cos(0.03) - 1.5 * math.sin(0.03))
    assert trace.outputs["score"] == pytest.approx(expected, abs=1e-12)
    assert trace.outputs["score"] == pytest.approx(-2.92825, abs=1e-5)
    # q pair 0 turned by 5 rad: (1·cos 5 − 0.5·sin 5, 1·sin 5 + 0.5·cos 5)
    np.testing.assert_allclose(
        trace.outputs["rotated_q"][:2],
        [math.cos(5) - 0.5 * math.sin(5), math.sin(5) + 0.5 * math.cos(5)], rtol=0, atol=1e-15,
    )
    assert trace.outputs["angles"].tolist() == [[5.0, 0.05], [2.0, 0.02]]
    # the pe rows are the cos/sin the rotations use
    assert trace.outputs["pe"][0, 0] == pytest.approx(math.sin(5), abs=1e-15)
    rows = trace.step("relative").value("shifted").data.rows
    assert rows[0][4] == pytest.approx(rows[1][4], abs=1e-12)  # (5, 2) and (8, 5)
    assert rows[-1][3] == 4 and abs(rows[-1][4] - rows[0][4]) > 0.1  # offset 4 differs


def test_rope_two_dims_textbook():
    # a 2-d vector (1, 0) at position 1 turns by 1 radian: (cos 1, sin 1)
    trace = run(kind="rope", q="1,0", k="1,0", m="1", n="0")
    np.testing.assert_allclose(trace.outputs["rotated_q"], [0.5403023058681398, 0.8414709848078965], atol=1e-15)
    assert trace.outputs["rotated_k"].tolist() == [1.0, 0.0]
    assert trace.outputs["score"] == pytest.approx(0.5403023058681398, abs=1e-15)  # cos(1 − 0)


@pytest.mark.parametrize(("q", "k", "m", "n", "base"), [
    ("1,0.5,-1,2", "0.5,1,1,-0.5", 5, 2, 10000.0),
    ("0.3,-1.2,2,0.7,-0.4,1.1", "1,0,-0.5,0.25,2,-1", 17, 40, 10000.0),
    ("2,1", "-1,3", 0, 9, 50.0),
])
def test_rope_against_torch_complex(torch, q, k, m, n, base):
    trace = run(kind="rope", q=q, k=k, m=str(m), n=str(n), base=repr(base))
    qt = torch.tensor([float(v) for v in q.split(",")])
    kt = torch.tensor([float(v) for v in k.split(",")])
    rq, rk = _torch_rope(torch, qt, m, base), _torch_rope(torch, kt, n, base)
    np.testing.assert_allclose(trace.outputs["rotated_q"], rq.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(trace.outputs["rotated_k"], rk.numpy(), rtol=0, atol=1e-10)
    assert trace.outputs["score"] == pytest.approx(float(torch.dot(rq, rk)), abs=1e-10)


_vec = st.lists(st.floats(-5, 5, allow_nan=False), min_size=1, max_size=4)


@settings(max_examples=60, deadline=None)
@given(st.data(), st.integers(1, 4), st.integers(0, 500), st.integers(0, 500), st.integers(0, 500))
def test_rope_score_depends_only_on_offset(data, pairs, m, n, s):
    elems = st.floats(-5, 5, allow_nan=False)
    q = np.array(data.draw(st.lists(elems, min_size=2 * pairs, max_size=2 * pairs)))
    k = np.array(data.draw(st.lists(elems, min_size=2 * pairs, max_size=2 * pairs)))
    r = posenc.rope(q, k, m, n)
    shifted = posenc.rope(q, k, m + s, n + s)
    scale = 1 + float(np.abs(q).sum() * np.abs(k).sum())
    assert abs(r.score - shifted.score) <= 1e-9 * scale
    assert abs(r.score - float(np.sum(posenc.relative_pair_scores(q, k, m - n)))) <= 1e-9 * scale
    np.testing.assert_allclose(np.linalg.norm(r.rotated_q), np.linalg.norm(q), rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.lists(st.integers(0, 10_000), min_size=2, max_size=6))
def test_pair_similarity_is_cos_of_offset(half, positions):
    enc = posenc.sinusoidal(positions, 2 * half)
    nb = posenc.neighbours(enc)
    delta = nb.b - nb.a
    np.testing.assert_allclose(nb.pairs, np.cos(delta[:, None] * enc.frequencies[None, :]), atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(enc.pe, axis=1), math.sqrt(half), rtol=1e-12)


# ----------------------------------------------------------------------------- bad values


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"kind": "cosine"}, "--kind", "not one of"),
    ({"kind": "alibi"}, "--kind", "'alibi' is not one of"),
    ({"positions": "0"}, "--positions", "too small"),
    ({"positions": "2.5"}, "--positions", "whole number"),
    # refused only after the 100,000,000 positions are built (seconds): with the slow tests
    pytest.param({"positions": "100000000"}, "--positions", "numbers", marks=pytest.mark.slow),
    ({"positions": "-2"}, "--positions", "-2 is too small"),
    ({"positions": "10000000"}, "--positions", "about 240,000,000 numbers"),
    ({"at": "0,1.5"}, "--at", "whole numbers"),
    ({"at": "-1,2"}, "--at", "whole numbers"),
    ({"at": "0,1", "positions": "3"}, "--at", "not both"),
    ({"at": "a,b"}, "--at", "'a' is not a number"),
    ({"d-model": "7"}, "--d-model", "odd"),
    ({"d-model": "0"}, "--d-model", "too small"),
    ({"kind": "rope", "d-model": "8"}, "--d-model", "--q has 4"),
    ({"d-model": "400000", "at": "1"}, "--d-model", "numbers"),
    ({"d-model": "9"}, "--d-model", "is 9, which is odd"),
    ({"base": "1"}, "--base", "greater than 1"),
    ({"base": "-3"}, "--base", "greater than 1"),
    ({"base": "0.5"}, "--base", "0.5 is too small"),
    ({"x": "1,2;3,4", "positions": "3"}, "--x", "2×2 but the encoding is 3×2"),
    ({"x": "1,2;3,4", "d-model": "4"}, "--x", "2×2 but the encoding is 2×4"),
    ({"x": "1,2,3"}, "--x", "odd"),
    ({"x": "1,2;3"}, "--x", "row 2"),
    ({"kind": "rope", "x": "1,2"}, "--x", "only used with --kind sinusoidal"),
    ({"x": "1,2;3,4;5,6", "positions": "2"}, "--x", "is 3×2 but the encoding is 2×2"),
    ({"q": "1,2"}, "--q", "only used with --kind rope"),
    ({"kind": "rope", "q": "1,2,3", "k": "1,2,3"}, "--q", "even"),
    ({"kind": "rope", "q": "1,2,3"}, "--q", "has 3 numbers"),
    ({"kind": "rope", "k": "1,2"}, "--k", "--k: has 2 numbers but --q (default 4 numbers) has 4"),
    ({"kind": "rope", "k": "nan,1,2,3"}, "--k", "'nan' is not allowed"),
    ({"kind": "rope", "m": "-1"}, "--m", "too small"),
    ({"kind": "rope", "m": "1.5"}, "--m", "'1.5' is not a whole number"),
    ({"kind": "rope", "n": "two"}, "--n", "whole number"),
    ({"kind": "rope", "n": "-4"}, "--n", "-4 is too small"),
    ({"kind": "rope", "shift": "-3"}, "--shift", "below 0"),
    ({"kind": "rope", "shift": "x"}, "--shift", "'x' is not a whole number"),
    ({"kind": "rope", "q": "1,2"}, "--q", "--q: has 2 numbers but --k (default 4 numbers) has 4 (a query and a key of the same size); pass --k too"),
    ({"kind": "rope", "x": "1,2"}, "--x", "only used with --kind sinusoidal or learned"),
    ({"kind": "sinusoidal", "table": "1,2;3,4"}, "--table", "only used with --kind learned"),
    ({"kind": "sinusoidal", "seed": "3"}, "--seed", "only used with --kind learned"),
    ({"seed": "3", "q": "1,2"}, "--q", "only used with --kind rope"),
    ({"kind": "rope", "table": "1,2;3,4"}, "--table", "only used with --kind learned"),
    ({"kind": "learned", "q": "1,2"}, "--q", "only used with --kind rope"),
    ({"kind": "learned", "base": "100"}, "--base", "no formula"),
    ({"kind": "learned", "table": "1,2;3,4", "seed": "1"}, "--seed", "one or the other"),
    ({"kind": "learned", "seed": "-1"}, "--seed", "too small"),
    ({"kind": "learned", "table": "1,2;3"}, "--table", "row 2"),
    ({"kind": "learned", "table": "1,nan;3,4"}, "--table", "'nan' is not allowed"),
    ({"kind": "learned", "table": "1,2;3,4", "d-model": "4"}, "--table",
     "--table: has 2 columns but --d-model has 4 (one column per dimension of the embeddings)"),
    ({"kind": "learned", "table": "1,2;3,4", "x": "1,2,3;4,5,6"}, "--x", "--x: has 3 columns but --table has 2"),
    ({"kind": "learned", "x": "1,2;3,4", "d-model": "4"}, "--x", "--x: has 2 columns but --d-model has 4"),
    ({"kind": "learned", "table": "1,2;3,4", "positions": "3"}, "--positions", "--table has 2 rows"),
    ({"kind": "learned", "positions": "0"}, "--positions", "too small"),
    ({"kind": "learned", "x": "1,2;3,4", "positions": "3"}, "--x", "has 2 rows but 3 positions"),
    ({"kind": "learned", "at": "0,8"}, "--at", "8 is past the learned table, which has rows for positions 0–7 only"),
    ({"kind": "learned", "at": "1.5"}, "--at", "whole numbers"),
    ({"kind": "learned", "positions": "10000000"}, "--positions", "numbers"),
]


# ----------------------------------------------------------------------------- learned table, √d_model


def test_learned_default_table_is_the_seeded_draw():
    trace = run(kind="learned")
    pe = trace.outputs["pe"]
    assert set(trace.outputs) == {"pe"}
    # independent: the same draw, made directly
    expected = np.round(np.random.default_rng(0).uniform(-1.0, 1.0, size=(8, 8)), 2)
    np.testing.assert_array_equal(pe, expected)
    assert pe[0].tolist() == [0.27, -0.46, -0.92, -0.97, 0.63, 0.83, 0.21, 0.46]  # as in the module docstring
    step = trace.step("learned")
    assert "position 8 has no row" in step.worked[-1]
    assert "trained context length" in step.why and "no way to compute one" in step.why
    assert not np.array_equal(run(kind="learned", seed="1").outputs["pe"], pe)
    # --seed or --table alone choose the learned kind
    np.testing.assert_array_equal(run(seed="1").outputs["pe"], run(kind="learned", seed="1").outputs["pe"])
    assert run(table="1,2").inputs["kind"] == "learned"


def test_learned_table_given_rows_picked_and_added():
    # P = [[1, 2], [3, 4], [5, 6]]; --at 2,0 reads rows 2 and 0; x + P[pos] by hand
    trace = run(kind="learned", table="1,2;3,4;5,6", at="2,0", x="0.5,0.5;-1,1")
    assert trace.outputs["pe"].tolist() == [[5.0, 6.0], [1.0, 2.0]]
    assert trace.step("add").value("sum").data.tolist() == [[5.5, 6.5], [0.0, 3.0]]
    # ‖P[2]‖ = √(25 + 36) = √61 = 7.8102
    assert "‖PE(0)‖ = 2.2361" in trace.step("learned").worked[2]
    assert "position 3 has no row" in trace.step("learned").worked[-1]


def test_learned_added_like_torch_embedding(torch):
    table = np.round(np.random.default_rng(0).uniform(-1, 1, size=(5, 4)), 2)
    x = np.array([[0.1, -0.2, 0.3, 0.4], [1.0, 0.0, -1.0, 0.5], [0.0, 0.25, 0.5, 0.75]])
    text = ";".join(",".join(str(float(v)) for v in row) for row in table)
    trace = run(kind="learned", table=text, at="4,1,3", x=";".join(",".join(str(float(v)) for v in r) for r in x))
    emb = torch.nn.Embedding(5, 4, dtype=torch.float64)
    emb.weight.data = torch.tensor(table, dtype=torch.float64)
    pos = emb(torch.tensor([4, 1, 3]))
    np.testing.assert_allclose(trace.outputs["pe"], pos.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(trace.step("add").value("sum").data, x + pos.detach().numpy(), rtol=0, atol=1e-12)


def test_sqrt_d_model_scaling_by_hand():
    # x[0] = (1, 2), d = 2: ‖x‖ = √5 = 2.2361; ×√2: √2·√5 = √10 = 3.1623; ‖PE(0)‖ = √(2/2) = 1
    worked = run(x="1,2;3,4").step("add").worked
    assert "scaled first (original transformer): ‖√2·x‖ = 1.4142 × 2.2361 = 3.1623 against ‖PE(0)‖ = √(d/2) = √1 = 1" in worked
    # d = 8, x[0] = 0.1 everywhere: ‖x‖ = √(8 × 0.01) = 0.2828; ×√8 = 0.8; ‖PE‖ = √4 = 2
    worked = run(x=";".join(["0.1," * 7 + "0.1"] * 2)).step("add").worked
    assert "‖√8·x‖ = 2.8284 × 0.2828 = 0.8 against ‖PE(0)‖ = √(d/2) = √4 = 2" in worked[-1]
    root, before, after = posenc.scaled_lengths(np.full((1, 512), 1 / math.sqrt(512)))
    assert root == pytest.approx(math.sqrt(512)) and before[0] == pytest.approx(1.0) and after[0] == pytest.approx(
        math.sqrt(512))  # entries 1/√d: length 1 before, √d after


def test_sqrt_d_model_against_numpy_norms():
    x = np.array([[0.3, -0.7, 1.1, 0.2, -0.5, 0.9], [0.0, 0.4, -0.2, 0.8, 0.1, -0.3]])
    root, before, after = posenc.scaled_lengths(x)
    assert root == math.sqrt(6)
    np.testing.assert_allclose(before, [math.sqrt(sum(v * v for v in row)) for row in x], rtol=1e-15)
    np.testing.assert_allclose(after, np.linalg.norm(math.sqrt(6) * x, axis=1), rtol=1e-15)


def test_lesson_file_part_order_builder_quiz_and_hints():
    lesson = load_lesson("positional-encoding")
    assert (lesson.part, lesson.order, lesson.builder) == ("Tokens and positions", 320, "positional-encoding")
    assert len(lesson.quiz) >= 2 and len(lesson.hints) >= 2


# ----------------------------------------------------------------------------- CLI


def test_cli_sinusoidal_json(run_cli):
    result = run_cli("lesson", "positional-encoding", "--at", "0,1,100", "--d-model", "4", "--format", "json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)["outputs"]
    assert set(out) == {"pe", "angles"}
    # d = 4: ω = 1, 0.01; PE(100) = (sin 100, cos 100, sin 1, cos 1)
    np.testing.assert_allclose(
        out["pe"][2], [-0.5063656411097588, 0.8623188722876839, 0.8414709848078965, 0.5403023058681398], atol=1e-12
    )


def test_cli_learned_json(run_cli):
    result = run_cli("lesson", "positional-encoding", "--kind", "learned", "--table", "0.5,-1;2,0.25",
                     "--format", "json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)["outputs"]
    assert out == {"pe": [[0.5, -1.0], [2.0, 0.25]]}


def test_cli_rope_json(run_cli):
    result = run_cli("lesson", "positional-encoding", "--kind", "rope", "--q", "1,0", "--k", "0,1",
                     "--m", "2", "--n", "1", "--format", "json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)["outputs"]
    assert set(out) == {"pe", "angles", "rotated_q", "rotated_k", "score"}
    # q turned by 2, k = (0,1) turned by 1 → (−sin 1, cos 1); score = cos2·(−sin1) + sin2·cos1 = sin(2 − 1)
    assert out["score"] == pytest.approx(0.8414709848078965, abs=1e-12)


def test_cli_terminal_runs(run_cli):
    for args in ((), ("--kind", "rope"), ("--x", "1,0;0,1"), ("--kind", "learned", "--x", "1,0;0,1")):
        result = run_cli("lesson", "positional-encoding", *args)
        assert result.exit_code == 0, result.stderr
        assert "Step 1" in result.stdout


def test_core_docstring_examples():
    import doctest

    assert doctest.testmod(posenc).failed == 0


# ----------------------------------------------------------------------------- what the text claims, computed


def _pe_by_hand(positions, d, base=10000.0):
    """PE(pos, 2i) = sin(pos / base^(2i/d)), PE(pos, 2i+1) = cos(…), written out independently."""
    rows = []
    for p in positions:
        row = []
        for i in range(d // 2):
            angle = p / base ** (2 * i / d)
            row += [math.sin(angle), math.cos(angle)]
        rows.append(row)
    return np.array(rows)


@pytest.mark.parametrize("d", [2, 8, 16, 512])
def test_every_row_has_length_root_half_d(d):
    # each pair is (sin a, cos a) with sin² a + cos² a = 1, so ‖PE(pos)‖² = d/2
    positions = [0, 1, 7, 123, 10_000]
    lengths = posenc.row_lengths(posenc.sinusoidal(positions, d).pe)
    np.testing.assert_allclose(lengths, np.linalg.norm(_pe_by_hand(positions, d), axis=1), rtol=1e-12)
    np.testing.assert_allclose(lengths, math.sqrt(d / 2), rtol=1e-12)


def test_table_text_gives_the_length_not_never_swamps():
    step = run().step("table")
    assert "never swamps" not in step.why
    assert "a whole row has length √(d/2) = 2" in step.why and "√256 = 16" in step.why
    assert "multiplies the embeddings by √d_model" in step.why
    # PE(7) = [sin 7, cos 7, sin 0.7, cos 0.7, …]: squares add to 4, length 2
    assert "‖PE(7)‖ = √(sum of its 8 squares) = √4 = 2" in step.worked[-1]
    assert "a whole row has length √(d/2) = 2.8284" in run(d_model="16").step("table").why  # √8


def test_embedding_and_encoding_lengths_compared():
    # x at position 0 = (1, 2): ‖x‖ = √5 = 2.2361; PE(0) = (sin 0, cos 0) = (0, 1): length 1 = √(2/2)
    assert "lengths at position 0: ‖x‖ = 2.2361, ‖PE‖ = 1" in run(x="1,2;3,4").step("add").worked


def test_wrap_around_of_the_fast_pair_is_explained():
    # Positions 0–7, d = 8: the whole-row cosine is the mean of cos(ωᵢΔ) over ω = 1, 0.1, 0.01, 0.001.
    # Δ = 1: (cos 1 + cos 0.1 + cos 0.01 + cos 0.001)/4 = 0.8838; Δ = 6: (cos 6 + cos 0.6 + …)/4 = 0.9459,
    # because pair 0's angle 6 rad is 2π − 6 = 0.2832 rad short of a full turn: cos 6 = 0.9602.
    def mean_cos(delta):
        return sum(math.cos(delta / 10 ** k) for k in range(4)) / 4

    assert round(mean_cos(1), 4) == 0.8838 and round(mean_cos(6), 4) == 0.9459
    trace = run()
    np.testing.assert_allclose(trace.step("neighbours").value("cosine").data, [mean_cos(d) for d in range(1, 8)],
                               atol=1e-12)
    step = trace.step("neighbours")
    assert step.title == "How alike two positions are, pair by pair"
    why = step.why
    assert "0 vs 6 (0.9459) is more alike than 0 vs 1 (0.8838)" in why
    assert f"is {round(2 * math.pi - 6, 4)} rad from a whole number of turns" in why
    assert "cos(6) = 0.9602 against cos(1) = 0.5403" in why


def test_no_wrap_text_when_the_cosine_falls_steadily():
    # Δ = 1, 2, 3: 0.8838, 0.6409, 0.4912, falling: nothing to explain
    trace = run(positions="4")
    np.testing.assert_allclose(trace.step("neighbours").value("cosine").data, [0.8838, 0.6409, 0.4912], atol=5e-5)
    assert "does not fall steadily" not in trace.step("neighbours").why
    assert posenc.wrap_around(posenc.sinusoidal(range(4), 8), posenc.neighbours(posenc.sinusoidal(range(4), 8))) is None
