"""lm-loss: the shift and the uniform baseline by hand, the loss and its gradient against
torch.nn.functional.cross_entropy on a torch recomputation of the model, and refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.core.lm_loss import lm_loss, shift, uniform_baseline
from nntutor.core.pipeline import PipelineWeights, random_pipeline_weights
from tests import bad_tiny_gguf
from tests.lm_oracle import Oracle


def run(**flags):
    return run_lesson(load_lesson("lm-loss"), {k.replace("_", "-"): v for k, v in flags.items()})


def test_shift_by_hand():
    inputs, targets = shift([4, 8, 15, 16, 23])
    assert inputs.tolist() == [4, 8, 15, 16] and targets.tolist() == [8, 15, 16, 23]
    with pytest.raises(ValueError):
        shift([3])


def test_uniform_model_by_hand():
    # W_U = 0: every logit is 0, p = 1/V everywhere, so each −ln p = ln V, L = ln V, e^L = V,
    # and the gradient at the target is (1/V − 1)/(n − 1), elsewhere (1/V)/(n − 1).
    V = 5
    w = random_pipeline_weights(np.random.default_rng(0), V, 4, 1)
    w = PipelineWeights(w.E, w.blocks, np.zeros((4, V)))
    r = lm_loss([1, 3, 2, 4], w, heads=2)
    np.testing.assert_allclose(r.losses, [math.log(5)] * 3, rtol=0, atol=1e-15)
    assert abs(r.loss - math.log(5)) < 1e-15 and abs(r.perplexity - 5) < 1e-13
    assert uniform_baseline(5) == (math.log(5), 5.0)
    assert abs(r.dlogits[0, 3] - (0.2 - 1) / 3) < 1e-15 and abs(r.dlogits[0, 0] - 0.2 / 3) < 1e-15


def test_lesson_outputs_agree_with_each_other():
    trace = run()
    out = trace.outputs
    n = len(trace.step("shift").value("shift").data.rows)
    assert len(out["targets"]) == n == out["losses"].size
    assert abs(out["loss"] - out["losses"].mean()) < 1e-14
    assert abs(out["perplexity"] - math.exp(out["loss"])) < 1e-12


@pytest.mark.oracle
@pytest.mark.parametrize("seed,d,layers,heads", [(0, 8, 2, 2), (5, 6, 1, 3)])
def test_loss_and_gradient_against_torch_cross_entropy(torch, seed, d, layers, heads):
    w = random_pipeline_weights(np.random.default_rng(seed), 11, d, layers)
    ids = [1, 4, 2, 9, 9, 3, 7]
    r = lm_loss(ids, w, heads=heads)
    oracle = Oracle(torch, w, heads)
    z = oracle.all_logits(ids[:-1]).clone().requires_grad_(True)
    target = torch.tensor(ids[1:])
    loss = torch.nn.functional.cross_entropy(z, target)
    each = torch.nn.functional.cross_entropy(z, target, reduction="none")
    loss.backward()
    np.testing.assert_allclose(r.scored.logits, z.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(r.losses, each.detach().numpy(), rtol=0, atol=1e-10)
    assert abs(r.loss - loss.item()) < 1e-10
    assert abs(r.perplexity - math.exp(loss.item())) < 1e-9
    np.testing.assert_allclose(r.dlogits, z.grad.numpy(), rtol=0, atol=1e-12)


@pytest.mark.oracle
def test_lesson_default_against_torch(torch):
    from nntutor.walkthroughs._model import choose

    trace = run()
    model = choose(trace.inputs["model"], seed=0)
    _, ids, _ = model.encode(trace.inputs["text"])
    oracle = Oracle(torch, model.weights, model.heads)
    z = oracle.all_logits(ids[:-1].tolist())
    loss = torch.nn.functional.cross_entropy(z, torch.tensor(ids[1:].tolist()))
    assert abs(trace.outputs["loss"] - loss.item()) < 1e-10


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"text": "   "}, "--text", "has no words"),
    ({"text": "a", "model": "random", "compare": "random"}, "--text", "a loss needs at least 2"),
    ({"model": "missing-model.npz"}, "--model", "does not exist"),
    ({"compare": "missing-model.npz"}, "--compare", "does not exist"),
    *bad_tiny_gguf.bad_inputs("model"),  # nntutor's own model as GGUF, damaged or not nntutor's
    *bad_tiny_gguf.bad_inputs("compare")[:1],
]
