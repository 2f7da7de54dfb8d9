"""The training lesson: a hand-worked mini-batch, the PyTorch oracle, speed, bad flags."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.core import backprop as bp
from nntutor.core import training as tr


def run(**raw):
    return run_lesson(load_lesson("training"), {k.replace("_", "-"): v for k, v in raw.items()})


def test_untrained_zero_network_loss_is_ln2():
    p = bp.Params(np.zeros((3, 2)), np.zeros(3), np.zeros((1, 3)), np.zeros(1))
    # σ(0) = 0.5 for every example: −ln 0.5 = ln 2
    assert tr.dataset_loss(p, tr.dataset("xor"), "tanh") == pytest.approx(math.log(2), abs=1e-15)


def test_one_mini_batch_by_hand():
    data = tr.dataset("xor")
    p = bp.Params(np.eye(2), np.zeros(2), np.array([[1.0, 1.0]]), np.zeros(1))
    u = tr.sgd_batch(p, data.X, data.y, np.array([2, 0]), 1.0, "tanh")
    # example 2, x = (1, 0), y = 1: h = (tanh 1, 0) = (0.761594, 0); ŷ = σ(0.761594) = 0.681700
    # δ2 = ŷ − y = −0.318300; ∂L/∂W2 = δ2·h = (−0.242416, 0)
    # δ1 = δ2·W2 ⊙ (1 − h²) = (−0.318300×0.419974, −0.318300×1) = (−0.133678, −0.318300)
    # example 0, x = (0, 0), y = 0: h = 0, ŷ = 0.5, δ2 = 0.5, δ1 = (0.5, 0.5), ∂L/∂W1 = 0
    assert u.detail.delta2[:, 0] == pytest.approx([-0.3183002578054738, 0.5], abs=1e-12)
    assert u.detail.grads.W2[0] == pytest.approx(np.array([[-0.24241561618386215, 0.0]]), abs=1e-12)
    assert u.detail.grads.b1[0] == pytest.approx([-0.13367794120742862, -0.3183002578054738], abs=1e-12)
    assert u.detail.grads.b1[1] == pytest.approx([0.5, 0.5], abs=1e-12)
    # loss: (−ln 0.681700 + ln 2)/2 = (0.383166 + 0.693147)/2
    assert u.batch_loss == pytest.approx((0.3831659787937151 + math.log(2)) / 2, abs=1e-12)
    # mean: ∂L/∂b2 = (−0.318300 + 0.5)/2 = 0.090850; ∂L/∂W2[0,0] = (−0.242416 + 0)/2 = −0.121208
    assert u.mean.b2 == pytest.approx([0.0908498710972631], abs=1e-12)
    np.testing.assert_allclose(u.mean.W2, np.array([[-0.12120780809193108, 0.0]]), rtol=0, atol=1e-12)
    # ∂L/∂W1 mean = [[−0.133678×1 + 0, 0], [−0.318300 + 0, 0]] / 2
    np.testing.assert_allclose(u.mean.W1, np.array([[-0.06683897060371431, 0.0], [-0.1591501289027369, 0.0]]), rtol=0, atol=1e-12)
    # update with lr 1: W2 ← (1 + 0.121208, 1), b2 ← −0.090850
    np.testing.assert_allclose(u.after.W2, np.array([[1.12120780809193108, 1.0]]), rtol=0, atol=1e-12)
    assert u.after.b2 == pytest.approx([-0.0908498710972631], abs=1e-12)


def test_default_run_learns_xor():
    trace = run()
    losses, preds = trace.outputs["losses"], trace.outputs["predictions"]
    assert len(losses) == 200 and preds.shape == (4,)
    assert losses[-1] < 0.05 < losses[0]
    assert ((preds >= 0.5).astype(int) == [0, 1, 1, 0]).all()
    assert "4 of 4" in trace.step("predictions").worked[0]
    # first-batch table: per-example columns, mean, before, after; mean = average of the examples
    step = trace.step("first-batch")
    table = step.value("gradients").data
    assert table.columns[-3:] == ("mean", "before", "after")
    for row in step.value("gradients_hidden").data.rows + table.rows:
        per, mean, before, after = row[1:-3], row[-3], row[-2], row[-1]
        assert mean == pytest.approx(sum(per) / len(per), abs=1e-15)
        assert after == pytest.approx(before - 1.0 * mean, abs=1e-15)


def test_default_run_is_fast():
    run()  # warm-up: imports
    best = min(_timed(run) for _ in range(3))
    assert best < 0.3


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def test_seed_reproducible_and_recorded():
    a, b = run(seed="3", epochs="5"), run(seed="3", epochs="5")
    np.testing.assert_array_equal(a.outputs["losses"], b.outputs["losses"])
    c = run(seed="4", epochs="5")
    assert not np.array_equal(a.outputs["losses"], c.outputs["losses"])
    for key in ("W1", "b1", "W2", "b2", "orders", "seed", "dataset", "batch-size"):
        assert key in a.inputs
    W1 = a.inputs["W1"]
    assert np.array_equal(W1, np.round(W1, 2)) and np.all(np.abs(W1) <= 1)
    assert a.inputs["orders"].shape == (5, 4)


def _torch_losses(torch, trace):
    inp = trace.inputs
    data = tr.dataset(inp["dataset"])
    act = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}[inp["activation"]]
    P = [torch.tensor(inp[k], dtype=torch.float64, requires_grad=True) for k in ("W1", "b1", "W2", "b2")]
    opt = torch.optim.SGD(P, lr=inp["lr"])
    X, Y = torch.tensor(data.X), torch.tensor(data.y)

    def model(x):
        return torch.sigmoid(act(x @ P[0].T + P[1]) @ P[2].T + P[3])

    losses = []
    for order in inp["orders"]:
        for start in range(0, len(order), inp["batch-size"]):
            idx = torch.tensor(order[start : start + inp["batch-size"]])
            opt.zero_grad()
            torch.nn.functional.binary_cross_entropy(model(X[idx]), Y[idx]).backward()
            opt.step()
        with torch.no_grad():
            losses.append(torch.nn.functional.binary_cross_entropy(model(X), Y).item())
    with torch.no_grad():
        return np.array(losses), model(X)[:, 0].numpy()


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"dataset": "blobs", "batch-size": "3", "epochs": "30", "hidden": "3"},  # last batch has 2
        {"activation": "relu", "epochs": "50", "lr": "0.5", "seed": "5"},
        {"activation": "sigmoid", "epochs": "40", "batch-size": "1", "hidden": "2"},
        {"dataset": "blobs", "batch-size": "8", "epochs": "20", "lr": "3"},
    ],
)
def test_against_pytorch(torch, raw):
    trace = run(**raw)
    losses, preds = _torch_losses(torch, trace)
    np.testing.assert_allclose(trace.outputs["losses"], losses, rtol=0, atol=1e-10)
    np.testing.assert_allclose(trace.outputs["predictions"], preds, rtol=0, atol=1e-10)


def test_first_batch_gradients_against_pytorch(torch):
    trace = run()
    inp = trace.inputs
    data = tr.dataset("xor")
    table = trace.step("first-batch").value("gradients").data
    hidden = trace.step("first-batch").value("gradients_hidden").data
    batch = [int(c.split()[1]) for c in table.columns[1:-3]]
    assert batch == list(inp["orders"][0][:2])
    for b, i in enumerate(batch):
        P = [torch.tensor(inp[k], dtype=torch.float64, requires_grad=True) for k in ("W1", "b1", "W2", "b2")]
        x, y = torch.tensor(data.X[i]), torch.tensor(data.y[i])
        yhat = torch.sigmoid(P[2] @ torch.tanh(P[0] @ x + P[1]) + P[3])
        torch.nn.functional.binary_cross_entropy(yhat, y).backward()
        expected = np.concatenate([p.grad.numpy().ravel() for p in P])
        got = np.array([row[1 + b] for row in hidden.rows + table.rows])  # W1, b1, then W2, b2
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"data-size": "0"}, "--data-size", "0 is too small"),
    ({"data-size": "1.5"}, "--data-size", "whole number"),
    ({"dataset": "iris"}, "--dataset", "'iris' is not one of"),
    ({"hidden": "0"}, "--hidden", "0 is too small (expected at least 1)"),
    ({"hidden": "65"}, "--hidden", "65 is too large"),
    ({"hidden": "two"}, "--hidden", "'two' is not a whole number"),
    ({"activation": "gelu"}, "--activation", "'gelu' is not one of"),
    ({"epochs": "0"}, "--epochs", "0 is too small"),
    ({"epochs": "5001"}, "--epochs", "5001 is too large"),
    ({"epochs": "99999"}, "--epochs", "at most 5000"),
    ({"batch-size": "0"}, "--batch-size", "0 is too small"),
    ({"batch-size": "5"}, "--batch-size", "5 is larger than the xor data set"),
    ({"batch-size": "9"}, "--batch-size", "larger than the xor data set"),
    ({"lr": "0"}, "--lr", "0.0 is too small (expected a number greater than 0)"),
    ({"lr": "101"}, "--lr", "101.0 is too large"),
    ({"seed": "-1"}, "--seed", "-1 is too small"),
    ({"seed": "1.5"}, "--seed", "'1.5' is not a whole number"),
    ({"seed": "abc"}, "--seed", "not a whole number"),
]


# ----------------------------------------------------------------- CLI


def test_cli_json_with_custom_flags(run_cli):
    import json

    result = run_cli("lesson", "training", "--dataset", "blobs", "--hidden", "3", "--epochs", "12", "--batch-size", "3",
                     "--lr", "0.5", "--seed", "2", "--activation", "relu", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc["outputs"]) == {"losses", "predictions"}
    assert len(doc["outputs"]["losses"]) == 12 and len(doc["outputs"]["predictions"]) == 8
    assert np.array(doc["inputs"]["W1"]).shape == (3, 2)
    assert np.array(doc["inputs"]["orders"]).shape == (12, 8)


@pytest.mark.parametrize("module", ["nntutor.core.training", "nntutor.walkthroughs.training"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0


def test_loss_plot_is_the_loss_per_epoch():
    trace = run(epochs="10")
    (plot,) = trace.step("epochs").plots
    np.testing.assert_array_equal(plot.series[0].y, trace.outputs["losses"])
    assert list(plot.series[0].x) == list(range(1, 11))


def test_the_shuffled_order_is_shown():
    # The lesson's summary starts with "Shuffle": the order of each epoch is shown, cut into its batches,
    # and it is the order the run used (test_against_pytorch trains on trace.inputs["orders"]).
    trace = run(dataset="blobs", **{"batch-size": "3"}, epochs="12")
    step = trace.step("shuffle")
    orders = trace.inputs["orders"]
    rows = step.value("orders").data.rows
    assert [row[0] for row in rows] == [1, 2, 3, 12]  # the first three epochs and the last
    for epoch, order, batches in rows:
        used = [int(i) for i in orders[epoch - 1]]
        assert sorted(used) == list(range(8))  # every example once per epoch
        assert order == ", ".join(map(str, used))
        # 8 examples in batches of 3: sizes 3, 3 and 2
        expected = [used[0:3], used[3:6], used[6:8]]
        assert batches == "  ".join("(" + ", ".join(map(str, b)) + ")" for b in expected)
    assert "8 examples in batches of 3: the last batch of each epoch holds 2" in step.worked
    assert "--seed 0" in step.value("orders").label
    first = trace.step("first-batch").title
    assert first.endswith(f"(examples {', '.join(str(int(i)) for i in orders[0][:3])})")


def test_an_unshuffled_looking_order_is_explained():
    # seed 0 draws 0, 1, 2, 3 for XOR's first epoch: the chance is 1 in 4! = 24, and the lesson says so.
    trace = run()
    assert trace.inputs["orders"][0].tolist() == [0, 1, 2, 3]
    assert any("1 in 4! = 24" in line for line in trace.step("shuffle").worked)
    other = run(seed="1")  # its first order is not 0, 1, 2, 3: no such note
    assert other.inputs["orders"][0].tolist() != [0, 1, 2, 3]
    assert not any("4! = 24" in line for line in other.step("shuffle").worked)


# ----------------------------------------------------------------------------- batches per epoch


@pytest.mark.parametrize(("n", "b", "count", "last"), [
    (4, 2, 2, 2), (8, 3, 3, 2), (60000, 64, 938, 32), (5, 4, 2, 1), (1, 4, 1, 1), (7, 7, 1, 7),
])
def test_batches_per_epoch_by_hand_and_by_cutting(n, b, count, last):
    # 60000 / 64 = 937.5: 937 full batches hold 59,968, the 938th the other 32
    assert tr.batches_per_epoch(n, b) == (count, last)
    cut = [list(range(n))[i : i + b] for i in range(0, n, b)]  # the batches, cut directly
    assert (len(cut), len(cut[-1])) == (count, last)


def test_setup_states_the_batches_of_the_data_set_and_another_size():
    worked = run(dataset="blobs", **{"batch-size": "3", "data-size": "60000"}).step("setup").worked
    assert "the blobs data set: batches per epoch = ⌈N/B⌉ = ⌈8/3⌉ = ⌈2.6667⌉ = 3: 2 of 3 and a last of 8 − 2×3 = 2 examples" in worked
    assert "a data set of 60,000: batches per epoch = ⌈N/B⌉ = ⌈60,000/3⌉ = ⌈20000⌉ = 20,000, each of 3 examples" in worked
    assert "the xor data set: batches per epoch = ⌈N/B⌉ = ⌈4/2⌉ = ⌈2⌉ = 2, each of 2 examples" in run().step("setup").worked
    one = run(**{"batch-size": "4", "data-size": "1"}).step("setup").worked[-1]
    assert one.endswith("= 1: one batch of all 1 example, fewer than 4")
