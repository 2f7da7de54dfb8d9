"""The cross-attention lesson: by hand, against PyTorch (SDPA with different query and key
lengths, nn.MultiheadAttention with kdim/vdim, the decoder's causal mask), known mistakes, the CLI."""

import json
import math

import numpy as np
import pytest

from nntutor.catalog import registry
from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import parse_args, prepare, run_lesson
from nntutor.core.cross_attention import cross_attention, estimate_bytes, mask_patterns
from nntutor.quiz import mistakes

LESSON = "cross-attention"
HAND = 1e-4  # hand-worked values carry 4–5 significant digits
ORACLE = 1e-10
SQRT2 = math.sqrt(2.0)

# The defaults, worked by hand:
#   X (target <s>, The, cat) = [[0.5, 0.2, 0.4, 0.6], [1, 0, 0.5, 0], [0, 1, 0, 1]]
#   W_Q = [[1, 0], [0, 1], [0.5, 0], [0, 0.5]]: column 0 is x0 + 0.5·x2, column 1 is x1 + 0.5·x3
#     Q<s> = [0.5 + 0.5×0.4, 0.2 + 0.5×0.6] = [0.7, 0.5];  Q_The = [1 + 0.25, 0] = [1.25, 0];  Q_cat = [0, 1.5]
#   M (source Le, chat) = [[1, 0, 0.5, 0.5], [0, 1, 0.5, -0.5]]
#   W_K = [[1, 0], [0, 1], [1, 1], [1, -1]]: column 0 is m0 + m2 + m3, column 1 is m1 + m2 − m3
#     K_Le = [1 + 0.5 + 0.5, 0 + 0.5 − 0.5] = [2, 0];  K_chat = [0 + 0.5 − 0.5, 1 + 0.5 + 0.5] = [0, 2]
#   W_V = [[1, 0], [0, 1], [0.5, 1], [1, 0]]: column 0 is m0 + 0.5·m2 + m3, column 1 is m1 + m2
#     V_Le = [1 + 0.25 + 0.5, 0 + 0.5] = [1.75, 0.5];  V_chat = [0 + 0.25 − 0.5, 1 + 0.5] = [−0.25, 1.5]
#   S = Q·Kᵀ (3 target × 2 source): <s>: [0.7×2, 0.5×2] = [1.4, 1];  The: [2.5, 0];  cat: [0, 3]
#   A row <s> = softmax([1.4, 1]/√2): A[<s>, Le] = 1 / (1 + e^((1 − 1.4)/√2)) = 1 / (1 + e^−0.28284)
#     = 1 / (1 + 0.75364) = 0.57024, A[<s>, chat] = 0.42976
#   O[<s>] = 0.57024×[1.75, 0.5] + 0.42976×[−0.25, 1.5] = [0.99792 − 0.10744, 0.28512 + 0.64464]
#     = [0.89048, 0.92976]
Q = [[0.7, 0.5], [1.25, 0.0], [0.0, 1.5]]
K = [[2.0, 0.0], [0.0, 2.0]]
V = [[1.75, 0.5], [-0.25, 1.5]]
SCORES = [[1.4, 1.0], [2.5, 0.0], [0.0, 3.0]]


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def _run(raw=None):
    return run_lesson(load_lesson(LESSON), raw or {})


def test_default_projections_and_scores_by_hand():
    trace = _run()
    np.testing.assert_allclose(trace.step("queries").value("queries").data, Q, atol=1e-12)
    np.testing.assert_allclose(trace.step("keys-values").value("keys").data, K, atol=1e-12)
    np.testing.assert_allclose(trace.step("keys-values").value("values").data, V, atol=1e-12)
    scores = trace.outputs["scores"]
    assert scores.shape == (3, 2)  # rectangular: one row per target token, one column per source token
    np.testing.assert_allclose(scores, SCORES, atol=1e-12)
    assert "S[<s>, chat] = Q[<s>]·K[chat] = 0.7×0 + 0.5×2 = 1" in trace.step("scores").worked
    assert "K[chat, d1] = M[chat]·W_K[:, 1] = 0×0 + 1×1 + 0.5×1 + (-0.5)×(-1) = 2" in trace.step("keys-values").worked


def test_default_weights_and_output_by_hand():
    trace = _run()
    w = trace.outputs["weights"]
    # each row is a two-way softmax: A[i, Le] = σ((S[i, Le] − S[i, chat]) / √2)
    assert w[0, 0] == pytest.approx(0.57024, abs=HAND)
    assert w[0, 0] == pytest.approx(_sigmoid(0.4 / SQRT2), abs=1e-12)
    assert w[1, 0] == pytest.approx(_sigmoid(2.5 / SQRT2), abs=1e-12)  # 0.85418: "The" looks at "Le"
    assert w[2, 1] == pytest.approx(_sigmoid(3.0 / SQRT2), abs=1e-12)  # 0.89295: "cat" looks at "chat"
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    out = trace.outputs["output"]
    assert out.shape == (3, 2)
    assert out[0, 0] == pytest.approx(0.89048, abs=HAND)
    assert out[0, 1] == pytest.approx(0.92976, abs=HAND)
    assert "A[<s>, chat] = 0.7536 / 1.7536 = 0.4298" in trace.step("softmax").worked
    assert "O[<s>, d0] = A[<s>]·V[:, 0] = 0.5702×1.75 + 0.4298×(-0.25) = 0.8905" in trace.step("output").worked


def test_no_causal_mask_the_first_target_token_sees_every_source_token():
    trace = _run()
    # <s> is target position 0 and chat source position 1: a causal mask would hide it, cross-attention does not
    assert trace.outputs["weights"][0, 1] > 0.4
    assert [s.id for s in trace.steps] == ["queries", "keys-values", "scores", "scale", "softmax", "output", "masks"]


def test_padding_hides_a_source_token():
    trace = _run({"padding": "1,0"})
    w = trace.outputs["weights"]
    # only Le is left: weight 1 for every target token, and every output row is V_Le = [1.75, 0.5]
    np.testing.assert_array_equal(w, [[1.0, 0.0]] * 3)
    np.testing.assert_allclose(trace.outputs["output"], [[1.75, 0.5]] * 3, atol=1e-12)
    assert trace.step("mask").worked == ["hidden from every target token: chat (set to −∞)"]
    assert trace.step("masks").value("masks").data.rows[0] == ("Le", 1, 0, "<s>", 1, 0, 0, "<s>", 1, 0)


def test_all_source_tokens_padding_gives_zero_and_a_warning():
    trace = _run({"padding": "0,0"})
    assert np.all(trace.outputs["weights"] == 0) and np.all(trace.outputs["output"] == 0)
    assert any("NaN" in w for w in trace.step("mask").warnings)


def test_no_scale_by_hand():
    w = _run({"no-scale": True}).outputs["weights"]
    assert w[0, 0] == pytest.approx(_sigmoid(0.4), abs=1e-12)  # e^1.4 / (e^1.4 + e^1) = 0.59869


def test_the_three_masks_by_hand():
    m = mask_patterns(3, 2)
    assert m.encoder.tolist() == [[1, 1], [1, 1]]
    assert m.decoder.tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    assert m.cross.tolist() == [[1, 1], [1, 1], [1, 1]]
    step = _run().step("masks")
    assert step.value("masks").data.columns == ("encoder", "Le", "chat", "decoder", "<s>", "The", "cat", "cross", "Le", "chat")
    assert step.worked == ["pairs allowed: encoder 4 of 2×2; decoder 3×4/2 = 6 of 3×3; cross 6 of 3×2"]
    models = {row[0]: row[2:] for row in step.value("models").data.rows}
    assert models == {"BERT": ("yes", "–", "–"), "GPT": ("–", "yes", "–"), "T5": ("yes", "yes", "yes")}


def test_masks_one_after_another_when_too_wide():
    trace = _run({"seed": "1", "target-len": "12", "source-len": "9"})
    names = [v.name for v in trace.step("masks").values]
    assert names == ["encoder_mask", "decoder_mask", "cross_mask", "models"]
    assert trace.step("masks").value("decoder_mask").data.tolist() == np.tril(np.ones((12, 12), dtype=int)).tolist()


def test_seeded_inputs_are_reproducible_and_recorded():
    a = _run({"seed": "5", "target-len": "4", "source-len": "6", "d-model": "3"})
    b = _run({"seed": "5", "target-len": "4", "source-len": "6", "d-model": "3"})
    assert a.inputs["x"].shape == (4, 3) and a.inputs["memory"].shape == (6, 3)
    np.testing.assert_array_equal(a.outputs["output"], b.outputs["output"])
    assert a.inputs["seed"] == 5 and a.outputs["scores"].shape == (4, 6)
    assert a.inputs["target"] == ["t0", "t1", "t2", "t3"] and a.inputs["source"][0] == "s0"


def test_memory_estimate_by_hand():
    # 3 target, 2 source tokens, widths 2: 8·6·6 + (4 + 9 + 12) = 313; 32·(3·6 + 2·6) = 960; 32·(4 + 8) = 384
    assert estimate_bytes(3, 2, 2, 2, 2, 2) == (313, 960, 384)


# --------------------------------------------------------------------------- PyTorch


def _sdpa(torch, q, k, v, mask=None):
    t = lambda a: torch.tensor(a)[None]  # noqa: E731
    attn_mask = None if mask is None else torch.tensor(mask, dtype=torch.bool)
    return torch.nn.functional.scaled_dot_product_attention(t(q), t(k), t(v), attn_mask=attn_mask)[0].numpy()


def test_against_torch_sdpa_with_different_query_and_key_lengths(torch):
    rng = np.random.default_rng(19)
    worst = 0.0
    for trial in range(40):
        n_t, n_s, d_dec, d_enc, d_k, d_v = (int(v) for v in rng.integers(1, 8, size=6))
        if trial < 10:
            n_s = n_t + 1 + trial  # always rectangular for the first ones
        x, memory = rng.normal(size=(n_t, d_dec)), rng.normal(size=(n_s, d_enc))
        wq, wk, wv = rng.normal(size=(d_dec, d_k)), rng.normal(size=(d_enc, d_k)), rng.normal(size=(d_enc, d_v))
        padding = (rng.random(n_s) > 0.3).astype(float) if trial % 2 else None
        if padding is not None and not padding.any():
            padding[0] = 1.0
        ours = cross_attention(x, memory, wq, wk, wv, key_padding=padding)
        mask = None if padding is None else np.broadcast_to(padding != 0, (n_t, n_s))
        ref = _sdpa(torch, x @ wq, memory @ wk, memory @ wv, mask)
        worst = max(worst, float(np.max(np.abs(ours.output - ref))))
        scores = torch.tensor(x @ wq) @ torch.tensor(memory @ wk).T / math.sqrt(d_k)
        if mask is not None:
            scores = scores.masked_fill(~torch.tensor(mask), float("-inf"))
        np.testing.assert_allclose(ours.weights, torch.softmax(scores, dim=-1).numpy(), rtol=0, atol=ORACLE)
        assert ours.weights.shape == (n_t, n_s) and ours.output.shape == (n_t, d_v)
    assert worst < ORACLE, worst


def test_lesson_inputs_against_torch_sdpa(torch):
    x = "0.3,-1.2,0.8;1.5,0.2,-0.7"
    memory = "0.2,0.1,-0.4,0.9,0.5;-0.6,0.9,0.05,1.1,0;0.4,-0.3,0.2,0.1,-1;1,1,0,-0.5,0.3"
    wq = "0.2,0.1;-0.3,0.5;0.7,-0.2"
    wk = "0.4,-0.1;0.2,0.6;-0.5,0.3;0.1,0.2;0.3,-0.4"
    wv = "1,0,0.5;0,1,-0.5;0.3,0.3,0.3;-0.2,0.1,0;0.5,0.5,-1"
    trace = _run({"x": x, "memory": memory, "wq": wq, "wk": wk, "wv": wv, "padding": "1,1,0,1", "target": "a,b", "source": "p,q,r,s"})
    X, M, WQ, WK, WV = (np.array([[float(v) for v in r.split(",")] for r in m.split(";")]) for m in (x, memory, wq, wk, wv))
    mask = np.broadcast_to(np.array([True, True, False, True]), (2, 4))
    ref = _sdpa(torch, X @ WQ, M @ WK, M @ WV, mask)
    assert trace.outputs["scores"].shape == (2, 4) and trace.outputs["output"].shape == (2, 3)
    np.testing.assert_allclose(trace.outputs["output"], ref, rtol=0, atol=ORACLE)
    np.testing.assert_allclose(trace.outputs["scores"], (X @ WQ) @ (M @ WK).T, rtol=0, atol=1e-12)


def test_default_against_torch_multihead_attention(torch):
    """nn.MultiheadAttention (one head, kdim = vdim = d_enc, the module a decoder layer uses for
    cross-attention) with W_Q, W_K, W_V loaded and the output projection the identity."""
    trace = _run()
    x, memory = trace.inputs["x"], trace.inputs["memory"]
    # the module's query width is its embed_dim: project X first (Q = X·W_Q), then use W_Q = I inside
    q = x @ trace.inputs["wq"]
    mha = torch.nn.MultiheadAttention(embed_dim=2, num_heads=1, kdim=4, vdim=4, bias=False, batch_first=True)
    with torch.no_grad():
        mha.q_proj_weight.copy_(torch.eye(2))
        mha.k_proj_weight.copy_(torch.tensor(trace.inputs["wk"]).T)  # torch computes x·Wᵀ
        mha.v_proj_weight.copy_(torch.tensor(trace.inputs["wv"]).T)
        mha.out_proj.weight.copy_(torch.eye(2))
    out, weights = mha(torch.tensor(q)[None], torch.tensor(memory)[None], torch.tensor(memory)[None])
    np.testing.assert_allclose(trace.outputs["output"], out[0].detach().numpy(), rtol=0, atol=ORACLE)
    np.testing.assert_allclose(trace.outputs["weights"], weights[0].detach().numpy(), rtol=0, atol=ORACLE)


def test_decoder_mask_against_torch(torch):
    for n in (1, 3, 7):
        causal = torch.nn.Transformer.generate_square_subsequent_mask(n).numpy()  # 0 where allowed, −∞ above
        np.testing.assert_array_equal(mask_patterns(n, 2).decoder, (causal == 0).astype(np.int8))


# --------------------------------------------------------------------------- known mistakes


def _case(step, value, index, raw=None):
    lesson = load_lesson(LESSON)
    prepared = prepare(lesson, parse_args(lesson, raw or {}))
    return mistakes.Case(prepared, prepared.build(), step, value, index)


def _found(case):
    return {m.id: v for m, v in mistakes.alternatives(registry.walkthrough(LESSON).mistakes, case)}


def test_known_mistakes_recomputed_by_hand():
    # A[<s>, chat] = 0.42976. With a causal mask <s> (target 0) would see only Le (source 0): 0
    found = _found(_case("softmax", "weights", (0, 1)))
    assert found["causal-cross"] == 0.0
    # without ÷√2: 1 − σ(0.4) = 1 / (1 + e^0.4) = 1 / 2.49182 = 0.40131
    assert found["no-scale"] == pytest.approx(0.40131, abs=HAND)
    # down the column chat of S′ = [1/√2, 0, 3/√2]: e^(1/√2 − 3/√2) / (e^−1.41421 + e^−2.12132 + 1)
    #   = 0.24312 / (0.24312 + 0.11988 + 1) = 0.17837
    assert found["column-softmax"] == pytest.approx(0.17837, abs=HAND)
    # O[<s>, d0] with the causal mask: weight 1 on Le, so V[Le, d0] = 1.75
    assert _found(_case("output", "output", (0, 0)))["causal-cross"] == pytest.approx(1.75, abs=1e-12)
    # S[<s>, chat] with keys from the decoder: K′[1] = X[The]·W_K = [1 + 0.5, 0 + 0.5] = [1.5, 0.5];
    #   Q<s>·K′[1] = 0.7×1.5 + 0.5×0.5 = 1.3
    assert _found(_case("scores", "scores", (0, 1)))["keys-from-decoder"] == pytest.approx(1.3, abs=1e-12)


def test_causal_mistake_does_not_apply_where_it_changes_nothing():
    # target rows 1 and 2 (The, cat) already see both source tokens under a causal mask
    assert "causal-cross" not in _found(_case("softmax", "weights", (2, 1)))


def test_a_wrong_answer_is_diagnosed_in_the_quiz():
    from nntutor.quiz.questions import make_quiz

    questions = [q for q in make_quiz([load_lesson(LESSON)], count=40, seed=3) if q.kind == "numeric"]
    assert questions
    diagnosed = set()
    for q in questions:
        for _, _, value in q.mistakes:
            if not q.judge(value):  # a mistake's value that is wrong is named (the first mistake giving it)
                diagnosed.add(q.diagnose(value)[0])
    assert diagnosed  # at least one of the lesson's mistakes came up in 40 questions


# --------------------------------------------------------------------------- CLI


def test_cli_json_outputs(run_cli):
    result = run_cli("lesson", LESSON, "--format", "json")
    assert result.exit_code == 0, result.stderr
    outputs = json.loads(result.stdout)["outputs"]
    assert set(outputs) == {"scores", "weights", "output"}
    assert outputs["scores"] == SCORES
    assert outputs["weights"][0][0] == pytest.approx(_sigmoid(0.4 / SQRT2), abs=1e-12)


def test_fits_80_columns(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    result = run_cli("lesson", LESSON)
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.split("\nWhat next")[0].splitlines()) <= 150  # the lesson, before its closing pointers
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert "the three masks side by side" in result.stdout and "…" not in result.stdout


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"x": "1,2;3,4"}, "--x", "--x: has 2 columns but --wq (default 4×2) has 4 rows (one row of W_Q per column of X); pass --wq too"),
    ({"wq": "1,0;0,1"}, "--wq", "--wq: has 2 rows but --x (default 3×4) has 4 columns (one row of W_Q per column of X); pass --x too"),
    ({"memory": "1,2;3,4"}, "--memory", "--memory: has 2 columns but --wk (default 4×2) has 4 rows (one row of W_K per column of M); pass --wk and --wv too"),
    ({"memory": "1,2;3,4", "wk": "1,0;0,1"}, "--memory", "--memory: has 2 columns but --wv (default 4×2) has 4 rows"),
    ({"wk": "1,0;0,1"}, "--wk", "--wk: has 2 rows but --memory (default 2×4) has 4 columns (one row of W_K per column of M); pass --memory too"),
    ({"wv": "1;0;0"}, "--wv", "--wv: has 3 rows but --memory (default 2×4) has 4 columns"),
    ({"wk": "1;0;0;0"}, "--wk", "--wk: has 1 column but --wq (default 4×2) has 2 (queries and keys need the same width d_k); pass --wq too"),
    ({"wq": "1;0;0;0", "wk": "1,0;0,1;1,1;1,-1"}, "--wk", "--wk: has 2 columns but --wq has 1 (queries and keys need the same width d_k)"),
    ({"target": "a,b"}, "--target", "--target: has 2 names but --x (default 3×4) has 3 rows (one name per target token); pass --x too"),
    ({"x": "1,0,0,0;0,1,0,0", "target": "a,b,c"}, "--target", "--target: has 3 names but --x has 2 rows"),
    ({"source": "a,b,c"}, "--source", "--source: has 3 names but --memory (default 2×4) has 2 rows (one name per source token)"),
    ({"padding": "1,0,1"}, "--padding", "--padding: has 3 numbers but --memory (default 2×4) has 2 rows (one 0/1 per source token)"),
    ({"padding": "1,2"}, "--padding", "expected only 0 (padding, hidden) and 1"),
    ({"seed": "1", "x": "1,0,0,0"}, "--x", "--x: cannot be combined with --seed"),
    ({"target-len": "3", "wq": "1;0;0;0"}, "--wq", "--wq: cannot be combined with --target-len"),
    ({"seed": "1", "target": "a,b"}, "--target", "--target: has 2 names but --target-len (default 3 tokens) has 3"),
    ({"source-len": "5", "padding": "1,0"}, "--padding", "--padding: has 2 numbers but --source-len has 5 tokens"),
    ({"target-len": "100000", "source-len": "100000"}, "--target-len", "need ~520.1 GB (the 100000×100000 scores, weights and masks take 520.0 GB); at most 268.4 MB"),
    ({"source-len": "2000", "d-model": "3000"}, "--d-model", "(d_model = 3000) need ~1.4 GB (W_Q, W_K and W_V take 864.0 MB)"),
    ({"target-len": "0"}, "--target-len", "at least 1"),
    ({"seed": "-1"}, "--seed", "at least 0"),
]
