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
