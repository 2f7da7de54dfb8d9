"""``--vs``: one computed sentence, then only the values that differ, labelled and marked."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from nntutor.render.compare import MISSING, Change, effect
from nntutor.trace import Table


def _sentence(stdout: str) -> str:
    """The sentence under the Compare rule (it may wrap over lines)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Compare:")) + 1
    end = next(i for i in range(start, len(lines)) if not lines[i].strip())
    return " ".join(line.strip() for line in lines[start:end])


def test_vs_opens_with_one_sentence_of_what_changed(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    # loss, hand-worked: the default probs give p = 0.6 for class 0 and 0.2 for class 1;
    # −ln 0.6 = 0.5108, −ln 0.2 = 1.6094
    result = run_cli("lesson", "loss", "--vs", "--target 1")
    assert result.exit_code == 0, result.stderr
    assert _sentence(result.stdout) == (
        f"--target 1: L rises from {-math.log(0.6):.4f} to {-math.log(0.2):.4f}."
    )


def test_vs_sentence_numbers_are_the_two_runs_maxima(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    text = run_cli("lesson", "attention", "--vs", "--no-scale").stdout
    doc = json.loads(run_cli("lesson", "attention", "--vs", "--no-scale", "--format", "json").stdout)
    first, second = (np.array(run["outputs"]["weights"]) for run in doc["runs"])
    # without ÷√d_k the scores are larger, so softmax is peakier: the largest weight grows
    assert second.max() > first.max()
    sentence = _sentence(text)
    assert sentence.startswith("--no-scale: ")
    assert f"grows from {first.max():.4f} to {second.max():.4f}" in sentence
    assert sentence.endswith("q, k, v, raw scores Q·Kᵀ are the same.")  # Q = K = V = X here: named by their keys


def test_vs_shows_only_what_differs_labelled_and_marked(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    text = run_cli("lesson", "attention", "--vs", "--no-scale").stdout
    assert "Step 1" not in text  # the first run is not printed whole
    body = text.split("What next")[0]
    assert "attention weights A" in body
    header = next(line for line in body.splitlines() if "The" in line and "down" in line)
    assert header.split() == ["The", "cat", "sat", "down"]  # the columns are the tokens
    assert any(line.split()[:1] == ["cat"] for line in body.splitlines())  # and so are the rows
    for name in ("queries", "keys", "values"):  # the same in both runs: named, not drawn
        assert name not in body.lower().replace("the same in both", "")
    assert "The same in both: q, k, v, raw scores Q·Kᵀ." in " ".join(body.split())
    assert max(len(line) for line in text.splitlines()) <= 80


def test_vs_marks_only_changed_cells(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    # mlp with another seed: a ReLU unit that is 0 in both runs is not marked
    text = run_cli("lesson", "mlp", "--vs", "--seed 3").stdout
    rows = [line.split() for line in text.splitlines() if line.strip().startswith(("as given", "with --seed 3"))]
    first = next(r for r in rows if r[:2] == ["as", "given"])
    assert "0.0000" in first and "0.3190*" in first  # unchanged zero unmarked, changed value marked


def test_vs_shows_mappings_instead_of_referring_to_the_runs(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    text = run_cli("lesson", "backprop", "--vs", "--lr 1").stdout
    assert "see the full runs" not in text
    doc = json.loads(run_cli("lesson", "backprop", "--vs", "--lr 1", "--format", "json").stdout)
    b1 = [np.array(run["outputs"]["updated"]["b1"]) for run in doc["runs"]]
    # b1 − lr·∂L/∂b1 in each run: the two differ by (1 − lr as given)·∂L/∂b1
    grad = np.array(doc["runs"][0]["outputs"]["grads"]["b1"])
    lr = doc["runs"][0]["inputs"]["lr"]
    np.testing.assert_allclose(b1[0] - b1[1], (1.0 - lr) * grad, atol=1e-12)
    line = next(line for line in text.splitlines() if line.strip().startswith("with --lr 1") and "*" in line)
    assert f"{b1[1][0]:.4f}*" in line


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (Change("loss", 0.5, 0.25, True), "loss falls from 0.5 to 0.25"),
        (Change("p", np.array([0.7, 0.3]), np.array([0.4, 0.6]), [True, True], cols=("a", "b")),
         "the largest of p shrinks from 0.7 to 0.6 and moves from a to b"),
        (Change("v", np.array([1.0, 2.0, 3.0]), np.array([1.0]), True), "v goes from 3 values to 1 value"),
        (Change("m", np.array([[1.0, 0.0], [2.0, 5.0]]), np.array([[1.0, 0.0], [4.0, 5.0]]), [[False, False], [True, False]],
                rows=("r0", "r1"), cols=("c0", "c1")), "m[r1, c0] changes most: 2 → 4"),
        (Change("merges", [["a", "b"], ["c", "d"]], [["a", "b"]], True), "merges goes from 2 entries to 1"),
        (Change("loss", MISSING, 0.3, True), "loss is only in the second run"),
        (Change("f", np.array([14.0, 6.4, 0.02]), np.array([14.0, 7.3, 1.2]), [False, True, True]),
         "the last of f (2) rises from 0.02 to 1.2"),
        (Change("loss", np.array([0.7, 0.75, 0.1]), np.array([0.8, 0.7, 0.3]), True, cols=("1", "2", "3")),
         "the last of loss (3) rises from 0.1 to 0.3"),  # per epoch: where it ends, not its largest
        (Change("token", "a", "b", True), "token changes from 'a' to 'b'"),
        (Change("norms", Table(("k", "v"), (("a", 1), ("b", 2))), Table(("k", "v"), (("a", 1), ("b", 3))), True),
         "1 of the 2 rows of norms change"),
        (Change("w", np.zeros((2, 3, 3)), np.zeros((1, 3, 3)), True), "w goes from a 2×3×3 array to a 1×3×3 array"),
    ],
)
def test_each_kind_of_change_in_words(change, words):
    assert effect(change) == words


def test_a_changed_text_is_one_line_with_its_control_characters_escaped():
    # generated text may hold any byte: a newline or an escape sequence must not reach the terminal raw
    from nntutor.render.compare_view import change_renderables
    from nntutor.render.output import plain_text

    change = Change("text", "the cat\n\x1b[2J", "the dog", mask=True)
    out = plain_text(list(change_renderables(change, ("as given", "with --seed 1"), 4, 8)), width=200)
    assert out.strip() == "text: the cat⏎\\x1b[2J as given → the dog* with --seed 1"
