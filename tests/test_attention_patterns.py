"""attention-patterns: the measures by hand, the lesson's weights against a torch recomputation
of the model, descriptions that follow the measured numbers, and refusals."""

from __future__ import annotations

import numpy as np
import pytest

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.core.attention_patterns import describe, head_stats
from tests.lm_oracle import Oracle


def run(**flags):
    return run_lesson(load_lesson("attention-patterns"), {k.replace("_", "-"): v for k, v in flags.items()})


def test_measures_by_hand():
    # A previous-token head on 4 tokens: rows 1..3 put all their weight one left of the diagonal.
    prev = np.array([[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], dtype=float)
    s = head_stats(prev)
    assert (s.previous, s.first, s.itself, s.queries) == (1.0, 1 / 3, 0.0, 3)
    assert describe(s) == ("previous token", 1.0)
    # spread: every row has one key with all the weight, e^0 = 1 over 2, 3, 4 keys: (1/2 + 1/3 + 1/4)/3
    assert abs(s.spread - (1 / 2 + 1 / 3 + 1 / 4) / 3) < 1e-15
    # uniform causal weights: row i gives 1/(i+1) to each key, spread 1, no habit above 0.5 past n = 2
    uniform = np.tril(np.ones((5, 5))) / np.arange(1, 6)[:, None]
    u = head_stats(uniform)
    assert abs(u.spread - 1.0) < 1e-12
    assert abs(u.first - np.mean([1 / 2, 1 / 3, 1 / 4, 1 / 5])) < 1e-15
    assert describe(u)[0] == "mixed"
    # a first-token head
    first = np.zeros((4, 4))
    first[:, 0] = 1
    assert describe(head_stats(first)) == ("first token", 1.0)
    # every later query looks back at key 1 (a subject): key 1 gets 1 from rows 2 and 3
    subject = np.array([[1, 0, 0, 0], [0.5, 0.5, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0]], dtype=float)
    s = head_stats(subject)
    assert (s.key, s.key_weight) == (1, 1.0) and describe(s) == ("one token", 1.0)


def test_lesson_descriptions_follow_the_numbers():
    trace = run()
    for k in range(trace.outputs["previous"].shape[0]):
        rows = trace.step(f"layer-{k + 1}").value("habits").data.rows
        for h, row in enumerate(rows):
            weights = trace.step(f"layer-{k + 1}").value(f"head-{h + 1}").data
            s = head_stats(weights)
            assert row[1:3] == (s.first, s.itself) and row[4] == s.spread
            assert trace.step(f"layer-{k + 1}").value("previous").data[h] == s.previous
            habit, value = describe(s)
            if habit == "mixed":
                assert "no clear habit" in row[5]
            elif habit == "one token":
                assert f"looks back at {s.key} " in row[5] and f"({value:.2f})" in row[5]
            else:
                assert habit in row[5]
            assert trace.outputs["previous"][k, h] == s.previous


@pytest.mark.oracle
def test_weights_against_torch(torch):
    from nntutor.walkthroughs._model import choose

    trace = run()
    model = choose(trace.inputs["model"], seed=0)
    _, ids, _ = model.encode(trace.inputs["text"])
    oracle = Oracle(torch, model.weights, model.heads)
    oracle.all_logits(ids.tolist())
    for k, stack in enumerate(oracle.last_weights):
        for h in range(model.heads):
            got = trace.step(f"layer-{k + 1}").value(f"head-{h + 1}").data
            np.testing.assert_allclose(got, stack[h].numpy(), rtol=0, atol=1e-12)
            np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=0, atol=1e-12)


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"text": "bank", "model": "random"}, "--text", "at least 2 are needed"),
    ({"model": "missing-model.npz"}, "--model", "does not exist"),
]
