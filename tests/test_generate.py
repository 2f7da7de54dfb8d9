"""generate: the KV cache by hand, cached logits against a torch recomputation without a cache,
multiply-adds counted in an independent implementation against the formulas, and refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.core.kvcache import KVCache, decode_step, generate, macs_with_cache, macs_without_cache
from nntutor.core.pipeline import forward, random_pipeline_weights
from tests.lm_oracle import Oracle


def run(**flags):
    return run_lesson(load_lesson("generate"), {k.replace("_", "-"): v for k, v in flags.items()})


def trace_vocab(trace):
    from nntutor.walkthroughs._model import choose

    return list(choose(trace.inputs["model"], seed=trace.inputs["seed"]).vocab)


def small(seed=0, V=10, d=4, layers=1):
    return random_pipeline_weights(np.random.default_rng(seed), V, d, layers)


# ----------------------------------------------------------------- by hand


def test_macs_formula_by_hand():
    # d = 8, d_ff = 32, L = 2, V = 88 at m = 1: per layer 4·64 + 2·8 + 2·8·32 = 256 + 16 + 512 = 784;
    # 2·784 + 8·88 = 1568 + 704 = 2272, and with one position there is nothing to save.
    assert macs_with_cache(1, d=8, d_ff=32, layers=2, vocab=88) == 2272
    assert macs_without_cache(1, d=8, d_ff=32, layers=2, vocab=88) == 2272
    # m = 10: with = 2·(256 + 160 + 512) + 704 = 2560; without = 2·(2560 + 1600 + 5120) + 704 = 19264
    assert macs_with_cache(10, d=8, d_ff=32, layers=2, vocab=88) == 2560
    assert macs_without_cache(10, d=8, d_ff=32, layers=2, vocab=88) == 19264


def test_one_token_attends_only_to_itself_and_the_cache_grows_by_one():
    # An empty cache and one token: the query meets one key, softmax of one score is 1, so the head
    # output is that token's own value row; the cache then holds exactly that key and value.
    w = small()
    cache = KVCache(layers=1, d_model=4, capacity=3)
    s = decode_step(3, cache, w, heads=2)
    assert cache.length == 1 and s.position == 0
    for head in s.layers[0].heads:
        assert head.weights.tolist() == [[1.0]]
        np.testing.assert_array_equal(head.output[0], head.v[0])
    np.testing.assert_array_equal(cache.keys(0)[0], s.layers[0].k)
    np.testing.assert_array_equal(cache.values(0)[0], s.layers[0].v)
    # and it equals the full forward of that single token
    np.testing.assert_allclose(s.logits, forward(np.array([3]), w, heads=2).sampling.logits, rtol=0, atol=1e-14)


def test_score_of_the_new_query_by_hand():
    # score_j = q·k_j / √d_head over the cache; the weights are their softmax, written out here.
    w = small(seed=1, layers=2)
    g = generate([1, 2, 3], w, heads=2, count=2)
    head = g.steps[0].layers[1].heads[1]
    q, K = head.q[0], head.k
    scores = np.array([q @ k for k in K]) / math.sqrt(2)
    e = np.exp(scores - scores.max())
    np.testing.assert_allclose(head.weights[0], e / e.sum(), rtol=0, atol=1e-15)
    assert K.shape == (4, 2)  # 3 prompt keys + the new one, d_head = 4 / 2


def test_lesson_default_shapes_and_outputs():
    trace = run()
    out = trace.outputs
    n = len(trace.step("prompt").value("prompt_tokens").data)
    assert len(out["tokens"]) == 8 and out["logits"].shape[0] == 8
    # the trained model learned that a fisher sits on the bank (the grammar's "sense" pattern)
    assert out["tokens"][0] == "on</w>" and out["text"].startswith("the fisher sat on the bank")
    assert out["max_cache_error"] <= 1e-12
    # the cache before the first decode step holds the prompt; each later step one more row
    rows = [r[3] for r in trace.step("steps").value("steps").data.rows]
    assert rows == list(range(n + 2, n + 8))
    # greedy: every token is the argmax of its logits
    vocab = trace_vocab(trace)
    assert out["tokens"] == [vocab[int(np.argmax(z))] for z in out["logits"]]


def test_full_shows_every_step_the_default_summarises():
    from nntutor.catalog.run import run_lesson as run_with

    short = run(tokens="4")
    assert [s.id for s in short.steps] == ["prompt", "prefill", "step-1", "steps", "proof", "cost"]
    full = run_with(load_lesson("generate"), {"tokens": "4"}, full=True)
    assert [s.id for s in full.steps] == ["prompt", "prefill", "step-1", "step-2", "step-3", "proof", "cost"]
    # the summary table and the full steps say the same: token fed, cache length, next token
    for row, j in zip(short.step("steps").value("steps").data.rows, (2, 3), strict=True):
        step = full.step(f"step-{j}")
        assert row[2] in step.title and step.value("heads").data.rows[0][2] == row[3]


def test_sampled_tokens_follow_the_draws():
    trace = run(sample=True, seed="4", top_p="1", temperature="1.5")
    us = trace.inputs["u"]
    vocab = trace_vocab(trace)
    for z, u, tok in zip(trace.outputs["logits"], us, [vocab.index(t) for t in trace.outputs["tokens"]], strict=True):
        e = np.exp(z / 1.5 - (z / 1.5).max())
        p = e / e.sum()
        order = np.argsort(-p, kind="stable")
        chosen = int(order[min(int(np.searchsorted(np.cumsum(p[order]), u, side="right")), p.size - 1)])
        assert chosen == tok


# ----------------------------------------------------------------- oracle


@pytest.mark.oracle
@pytest.mark.parametrize("seed,d,layers,heads", [(0, 8, 2, 2), (3, 6, 3, 3), (7, 4, 1, 1)])
def test_cached_generation_against_torch_without_cache(torch, seed, d, layers, heads):
    w = small(seed, V=12, d=d, layers=layers)
    g = generate([1, 5, 2], w, heads=heads, count=5)
    oracle = Oracle(torch, w, heads)
    seq = g.sequence.tolist()
    full = np.stack([oracle.logits(seq[:m]).numpy() for m in range(3, len(seq))])
    np.testing.assert_allclose(g.logits, full, rtol=0, atol=1e-10)
    cached = oracle.generate_cached([1, 5, 2], g.tokens.tolist()).numpy()
    np.testing.assert_allclose(g.logits, cached, rtol=0, atol=1e-10)


@pytest.mark.oracle
def test_multiply_adds_counted_against_the_formulas(torch):
    d, f, L, V, heads = 8, 32, 2, 12, 2
    w = small(2, V=V, d=d, layers=L)
    oracle = Oracle(torch, w, heads)
    prompt = [1, 2, 3]
    new = generate(prompt, w, heads=heads, count=4).tokens.tolist()
    seq = prompt + new
    for m in range(len(prompt) + 1, len(seq)):
        oracle.macs = 0
        oracle.logits(seq[:m])
        assert oracle.macs == macs_without_cache(m, d=d, d_ff=f, layers=L, vocab=V)
    caches = [{} for _ in range(L)]
    oracle.logits(prompt, 0, caches)
    for j, tok in enumerate(new[:-1]):
        oracle.macs = 0
        oracle.logits([tok], len(prompt) + j, caches)
        m = len(prompt) + j + 1  # keys scored: the cache including the new one
        assert oracle.macs == macs_with_cache(m, d=d, d_ff=f, layers=L, vocab=V)


@pytest.mark.oracle
def test_lesson_cost_table_matches_counting(torch):
    from nntutor.walkthroughs._model import choose

    trace = run(model="random", tokens="3")
    rows = trace.step("cost").value("cost").data.rows
    model = choose("random", seed=0)
    oracle = Oracle(torch, model.weights, model.heads)
    L = model.layers
    ratios = trace.step("cost").value("without ÷ with").data
    assert list(ratios) == [without / with_cache for _, with_cache, without in rows]
    for m, with_cache, without in rows[:4]:
        oracle.macs = 0
        oracle.logits(list(range(1, m + 1)))
        assert oracle.macs == without
        caches = [{} for _ in range(L)]
        if m > 1:
            oracle.logits(list(range(1, m)), 0, caches)
        oracle.macs = 0
        oracle.logits([1], m - 1, caches)
        assert oracle.macs == with_cache


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"model": "no-such-model.npz"}, "--model", "does not exist"),
    ({"prompt": "   "}, "--prompt", "has no words"),
    ({"prompt": "ZZZ", "model": "random"}, "--prompt", "has no token the model knows"),
    ({"tokens": "0"}, "--tokens", "0 is too small"),
    ({"tokens": "65"}, "--tokens", "65 is too large"),
    ({"top-k": "100000"}, "--top-k", "larger than the vocabulary"),
    ({"temperature": "0"}, "--temperature", "0.0 is too small"),
]


@pytest.mark.oracle
def test_lesson_default_against_torch_on_the_trained_model(torch):
    from nntutor.walkthroughs._model import choose

    trace = run()
    model = choose("tiny")
    oracle = Oracle(torch, model.weights, model.heads, eps=model.eps)
    _, prompt, _ = model.encode(trace.inputs["prompt"])
    vocab = list(model.vocab)
    new = [vocab.index(t) for t in trace.outputs["tokens"]]
    seq = prompt.tolist() + new
    full = np.stack([oracle.logits(seq[:m]).numpy() for m in range(len(prompt), len(seq))])
    np.testing.assert_allclose(trace.outputs["logits"], full, rtol=0, atol=1e-10)


def test_an_unreadable_model_file_is_exit_1_and_one_line(run_cli, monkeypatch, tmp_path):
    # (running as root, a file without read permission is still readable: the I/O error is simulated)
    from nntutor.models import model as model_module
    from nntutor.models.modelfile import ModelFileUnreadable

    path = tmp_path / "m.npz"
    path.write_bytes(b"x")

    def unreadable(name):
        raise ModelFileUnreadable(str(name), "cannot be read (Permission denied)")

    monkeypatch.setattr(model_module, "load_model", unreadable)
    result = run_cli("lesson", "generate", "--model", str(path))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--model" in lines[0] and "Permission denied" in lines[0], result.stderr
