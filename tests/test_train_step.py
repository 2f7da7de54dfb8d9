"""train-step: AdamW's first step by hand, the gradients against torch autograd, the update against
torch.optim.AdamW and the loss after against torch, on the lesson's own batch; and refusals."""

from __future__ import annotations

import numpy as np
import pytest

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.core.lm import decayed_names, parameter_names
from nntutor.core.train_step import train_step
from tests.lm_oracle import Oracle


def run(**flags):
    return run_lesson(load_lesson("train-step"), {k.replace("_", "-"): v for k, v in flags.items()})


def lesson_step(trace):
    from nntutor.walkthroughs._model import choose

    model = choose(trace.inputs["model"], seed=trace.inputs["seed"])
    s = train_step(trace.inputs["batch"], model.weights, heads=model.heads, lr=trace.inputs["lr"],
                   weight_decay=trace.inputs["weight-decay"], eps=model.eps)
    return model, s


def test_first_adamw_step_by_hand():
    # At t = 1: m = 0.1·g, v = 0.001·g², m̂ = g, v̂ = g²: the step is lr·g/(|g| + 1e-8), about ±lr;
    # matrices are first multiplied by 1 − lr·λ, biases and layer-norm parameters are not.
    trace = run()
    _, s = lesson_step(trace)
    lr, lam = 0.003, 0.01
    u = s.adam.updates["block0.wq"]
    g, p = u.grad, u.p
    np.testing.assert_allclose(u.m, 0.1 * g, rtol=1e-15, atol=0)
    np.testing.assert_allclose(u.v, 0.001 * g * g, rtol=1e-12, atol=0)
    np.testing.assert_allclose(u.new, p * (1 - lr * lam) - lr * g / (np.abs(g) + 1e-8), rtol=0, atol=1e-15)
    assert s.adam.updates["block0.bq"].decay == 0.0 and s.adam.updates["block0.ln1_gamma"].decay == 0.0
    assert s.adam.updates["E"].decay == lam
    step = trace.step("adamw")
    rows = step.value("update").data.rows
    for row, change, new in zip(rows, step.value("step").data, step.value("new p").data, strict=True):
        # entry, p, g, m, v; then the step and the new value: the same arithmetic by hand
        assert abs(change - lr * row[2] / (abs(row[2]) + 1e-8)) < 1e-15
        assert abs(new - (row[1] * (1 - lr * lam) - change)) < 1e-15


def test_the_batch_is_the_one_nntutor_train_draws():
    from nntutor.models import corpus
    from nntutor.models.model import load_model
    from nntutor.models.train import draw_batch, sentence_ids

    trace = run(seed="5", batch_size="3")
    every = sentence_ids(load_model("tiny").tokenizer, corpus.split().train)  # all tokenized up front
    expected = draw_batch(np.random.default_rng(5), every, 3, 33)
    np.testing.assert_array_equal(trace.inputs["batch"], expected)


def test_outputs_and_the_step_goes_downhill():
    trace = run()
    out = trace.outputs
    assert set(out["grad_norms"]) == set(parameter_names(2))
    assert out["loss_after"] < out["loss_before"]
    r = run(model="random")
    assert r.outputs["loss_after"] < r.outputs["loss_before"]
    assert r.outputs["loss_before"] > 5 * trace.outputs["loss_before"]  # the trained model starts far lower


def _torch_params(torch, oracle):
    named = {"E": oracle.E}
    for i, b in enumerate(oracle.blocks):
        named.update({f"block{i}.{k}": v for k, v in b.items()})
    named.update(final_gamma=oracle.gamma, final_beta=oracle.beta, W_U=oracle.W_U)
    for t in named.values():
        t.requires_grad_(True)
    return named


def _batch_loss(torch, oracle, batch):
    logits = torch.cat([oracle.all_logits(row[:-1].tolist()) for row in batch])
    targets = torch.tensor(np.concatenate([row[1:] for row in batch]))
    return torch.nn.functional.cross_entropy(logits, targets)


@pytest.mark.oracle
@pytest.mark.parametrize("flags", [{}, {"model": "random", "lr": "0.01", "param": "W_U", "seed": "3"}])
def test_against_torch_autograd_and_adamw(torch, flags):
    trace = run(**flags)
    model, s = lesson_step(trace)
    batch = trace.inputs["batch"]
    oracle = Oracle(torch, model.weights, model.heads, eps=model.eps)
    named = _torch_params(torch, oracle)
    loss = _batch_loss(torch, oracle, batch)
    loss.backward()
    assert abs(loss.item() - trace.outputs["loss_before"]) < 1e-10
    for name, t in named.items():
        np.testing.assert_allclose(s.grads.grads[name], t.grad.numpy(), rtol=0, atol=1e-10, err_msg=name)
        assert abs(trace.outputs["grad_norms"][name] - t.grad.norm().item()) < 1e-10
    decay = decayed_names(model.layers)
    opt = torch.optim.AdamW(
        [{"params": [named[k] for k in named if k in decay], "weight_decay": trace.inputs["weight-decay"]},
         {"params": [named[k] for k in named if k not in decay], "weight_decay": 0.0}],
        lr=trace.inputs["lr"], betas=(0.9, 0.999), eps=1e-8,
    )
    opt.step()
    for name, t in named.items():
        # b_K's true gradient is 0 (softmax ignores a shift shared by all scores): what both get is
        # rounding noise of ~1e-12, and AdamW divides it by √v̂ + ε, so only there are the two
        # updates equal to the noise's size rather than to 1e-12.
        atol = 1e-9 if name.endswith(".bk") else 1e-12
        np.testing.assert_allclose(s.adam.params[name], t.detach().numpy(), rtol=0, atol=atol, err_msg=name)
    with torch.no_grad():
        after = _batch_loss(torch, oracle, batch)
    assert abs(after.item() - trace.outputs["loss_after"]) < 1e-10


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"param": "block9.wq"}, "--param", "is not a parameter of this model"),
    ({"param": "wq"}, "--param", "expected one of E, block0.wq"),
    ({"lr": "0"}, "--lr", "0.0 is too small"),
    ({"lr": "2"}, "--lr", "2.0 is too large"),
    ({"weight-decay": "1"}, "--weight-decay", "1.0 is too large"),
    ({"batch-size": "0"}, "--batch-size", "0 is too small"),
    ({"model": "missing-model.npz"}, "--model", "does not exist"),
]
