"""The batched language model: the same numbers as the pipeline, gradients by finite differences and PyTorch.

Proofs:
- a batch gives, sequence by sequence, exactly what each sequence gives alone, and the
  last position's logits are the pipeline lesson's ``forward`` (same code, same numbers);
- hand-worked: all-zero weights give p = 1/V, so L = ln V and ∂L/∂W_U = 0 (zero inputs to it);
- central finite differences on every parameter kind (step 1e-6, tolerance 1e-7);
- the oracle: the whole architecture written in PyTorch (float64), loaded with the
  same weights, gives the same logits and loss at 1e-10 and the same gradient for
  every parameter (autograd) at 1e-10.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nntutor.core.block import WEIGHT_SHAPES
from nntutor.core.lm import (
    from_parameters,
    init_weights,
    lm_backward,
    lm_forward,
    lm_loss,
    parameter_names,
    parameters,
)
from nntutor.core.pipeline import forward

V, D, LAYERS, HEADS = 11, 8, 2, 2


@pytest.fixture
def setup():
    rng = np.random.default_rng(5)
    weights = init_weights(rng, V, D, LAYERS)
    params = parameters(weights)
    # make biases, betas and gammas non-trivial so their gradients are exercised
    params = {k: (v + rng.normal(0, 0.1, v.shape) if v.ndim == 1 else v) for k, v in params.items()}
    tokens = rng.integers(0, V, size=(3, 7))
    return from_parameters(params, LAYERS), tokens


def test_batch_equals_each_sequence_alone_and_the_pipeline(setup):
    weights, tokens = setup
    batch = lm_forward(tokens, weights, heads=HEADS)
    for b in range(tokens.shape[0]):
        alone = lm_forward(tokens[b], weights, heads=HEADS)
        np.testing.assert_allclose(batch.logits[b], alone.logits, rtol=0, atol=1e-12)
        pipe = forward(tokens[b], weights, heads=HEADS)
        np.testing.assert_allclose(pipe.sampling.logits, alone.logits[-1], rtol=0, atol=1e-12)


def test_zero_weights_give_ln_v_by_hand():
    zero = from_parameters({k: np.zeros_like(v) for k, v in parameters(init_weights(np.random.default_rng(0), V, D, 1)).items()}, 1)
    r = lm_loss(np.array([[1, 2, 3, 4]]), zero, heads=HEADS)
    assert r.loss == pytest.approx(math.log(V), abs=1e-12)  # p = 1/11 at each of 3 positions
    assert r.inputs.tolist() == [[1, 2, 3]] and r.targets.tolist() == [[2, 3, 4]]
    g = lm_backward(r, zero)
    assert np.abs(g.grads["W_U"]).max() == 0.0  # final LN of zeros is β = 0: nothing feeds W_U


def test_gradients_match_finite_differences(setup):
    weights, tokens = setup
    params = parameters(weights)
    grads = lm_backward(lm_loss(tokens, weights, heads=HEADS), weights).grads
    assert sorted(grads) == sorted(parameter_names(LAYERS))
    rng = np.random.default_rng(0)
    h = 1e-6
    for name in ("E", "block0.wq", "block0.bk", "block1.W1", "block1.ln2_gamma", "final_beta", "final_gamma", "W_U"):
        for _ in range(2):
            index = tuple(int(rng.integers(s)) for s in params[name].shape)

            def loss_at(delta, name=name, index=index):
                moved = {k: v.copy() for k, v in params.items()}
                moved[name][index] += delta
                return lm_loss(tokens, from_parameters(moved, LAYERS), heads=HEADS).loss

            estimate = (loss_at(h) - loss_at(-h)) / (2 * h)
            assert grads[name][index] == pytest.approx(estimate, abs=1e-7), name


def torch_lm(torch, params: dict, ids, heads: int, layers: int, eps: float = 1e-5):
    """The architecture written independently in PyTorch: returns the logits (B × T × V)."""
    F = torch.nn.functional
    B, T = ids.shape
    d = params["E"].shape[1]
    position = torch.arange(T, dtype=torch.float64)[:, None]
    pe = torch.zeros(T, d)
    rates = torch.pow(10000.0, -torch.arange(0, d, 2, dtype=torch.float64) / d)
    pe[:, 0::2] = torch.sin(position * rates)
    pe[:, 1::2] = torch.cos(position * rates)
    x = params["E"][ids] + pe
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    dh = d // heads
    for i in range(layers):
        p = {key: params[f"block{i}.{key}"] for key in WEIGHT_SHAPES}
        a = F.layer_norm(x, (d,), p["ln1_gamma"], p["ln1_beta"], eps)
        q, k, v = (a @ p[w] + p[b] for w, b in (("wq", "bq"), ("wk", "bk"), ("wv", "bv")))
        split = lambda t: t.view(B, T, heads, dh).transpose(1, 2)  # noqa: E731
        att = F.scaled_dot_product_attention(split(q), split(k), split(v), attn_mask=mask)
        x = x + att.transpose(1, 2).reshape(B, T, d) @ p["wo"] + p["bo"]
        f = F.layer_norm(x, (d,), p["ln2_gamma"], p["ln2_beta"], eps)
        x = x + torch.relu(f @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
    x = F.layer_norm(x, (d,), params["final_gamma"], params["final_beta"], eps)
    return x @ params["W_U"]


@pytest.mark.oracle
def test_logits_loss_and_gradients_match_pytorch(torch, setup):
    weights, tokens = setup
    ours = lm_loss(tokens, weights, heads=HEADS)
    grads = lm_backward(ours, weights).grads
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in parameters(weights).items()}
    ids = torch.tensor(tokens)
    logits = torch_lm(torch, tp, ids[:, :-1], HEADS, LAYERS)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), ids[:, 1:].reshape(-1))
    loss.backward()
    np.testing.assert_allclose(ours.forward.logits, logits.detach().numpy(), rtol=0, atol=1e-10)
    assert ours.loss == pytest.approx(loss.item(), abs=1e-10)
    for name, value in tp.items():
        np.testing.assert_allclose(grads[name], value.grad.numpy(), rtol=0, atol=1e-10, err_msg=name)
