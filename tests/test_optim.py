"""AdamW: by hand, and against torch.optim.AdamW in float64 over several steps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nntutor.core.optim import adamw_init, adamw_step, adamw_update


def test_first_step_by_hand():
    # p = 2, g = −1, lr = 0.01, λ = 0.1: decay 2·(1 − 0.001) = 1.998; m = 0.1·(−1) = −0.1,
    # v = 0.001·1 = 0.001; m̂ = −0.1/0.1 = −1, v̂ = 0.001/0.001 = 1; step 0.01·(−1)/(1 + 1e-8).
    u = adamw_update(np.array([2.0]), np.array([-1.0]), np.zeros(1), np.zeros(1), 1, lr=0.01, weight_decay=0.1)
    assert u.decayed[0] == pytest.approx(1.998, abs=1e-15)
    assert (u.m[0], u.v[0]) == (pytest.approx(-0.1, abs=1e-15), pytest.approx(0.001, abs=1e-15))
    assert (u.m_hat[0], u.v_hat[0]) == (pytest.approx(-1.0, abs=1e-12), pytest.approx(1.0, abs=1e-12))
    assert u.update[0] == pytest.approx(-0.01 / (1 + 1e-8), abs=1e-15)
    assert u.new[0] == pytest.approx(1.998 + 0.01 / (1 + 1e-8), abs=1e-15)


def test_second_step_by_hand():
    # g = 1 then g = 3, β = (0.9, 0.999), no decay, lr = 1, ε = 0:
    # m₂ = 0.9·0.1 + 0.1·3 = 0.39, v₂ = 0.999·0.001 + 0.001·9 = 0.009999;
    # m̂ = 0.39/0.19, v̂ = 0.009999/0.001999; step = m̂/√v̂.
    first = adamw_update(np.zeros(1), np.ones(1), np.zeros(1), np.zeros(1), 1, lr=1.0, eps=0.0, weight_decay=0.0)
    second = adamw_update(first.new, np.array([3.0]), first.m, first.v, 2, lr=1.0, eps=0.0, weight_decay=0.0)
    assert second.m[0] == pytest.approx(0.39, abs=1e-15)
    assert second.v[0] == pytest.approx(0.009999, abs=1e-15)
    assert second.correction1 == pytest.approx(0.19, abs=1e-15)
    assert second.update[0] == pytest.approx((0.39 / 0.19) / math.sqrt(0.009999 / 0.001999), abs=1e-12)


def test_refuses_bad_step_and_shape():
    with pytest.raises(ValueError, match="counts from 1"):
        adamw_update(np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1), 0, lr=0.1)
    with pytest.raises(ValueError, match="shape"):
        adamw_update(np.zeros(2), np.zeros(3), np.zeros(2), np.zeros(2), 1, lr=0.1)


@pytest.mark.oracle
def test_matches_torch_adamw_with_two_groups(torch):
    rng = np.random.default_rng(3)
    params = {"W": rng.normal(size=(3, 4)), "b": rng.normal(size=4)}
    grads_per_step = [{k: rng.normal(size=v.shape) for k, v in params.items()} for _ in range(5)]
    lr, wd, betas, eps = 3e-3, 0.05, (0.8, 0.95), 1e-6

    tw = torch.tensor(params["W"], requires_grad=True)
    tb = torch.tensor(params["b"], requires_grad=True)
    opt = torch.optim.AdamW(
        [{"params": [tw], "weight_decay": wd}, {"params": [tb], "weight_decay": 0.0}], lr=lr, betas=betas, eps=eps
    )
    state = adamw_init(params)
    current = params
    for grads in grads_per_step:
        tw.grad, tb.grad = torch.tensor(grads["W"]), torch.tensor(grads["b"])
        opt.step()
        step = adamw_step(current, grads, state, lr=lr, betas=betas, eps=eps, weight_decay=wd, decay_keys={"W"})
        current, state = step.params, step.state
        np.testing.assert_allclose(current["W"], tw.detach().numpy(), rtol=0, atol=1e-14)
        np.testing.assert_allclose(current["b"], tb.detach().numpy(), rtol=0, atol=1e-14)
        np.testing.assert_allclose(state.m["W"], opt.state[tw]["exp_avg"].numpy(), rtol=0, atol=1e-15)
        np.testing.assert_allclose(state.v["W"], opt.state[tw]["exp_avg_sq"].numpy(), rtol=0, atol=1e-15)
    assert state.t == 5
