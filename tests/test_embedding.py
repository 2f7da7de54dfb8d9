"""The embedding lesson: hand-worked values, the PyTorch oracle, properties, flags and the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.core import embedding as emb


def run(**flags):
    return run_lesson(load_lesson("embedding"), flags)


# ----------------------------------------------------------------------------- hand-worked


def test_default_ids_and_rows():
    trace = run()
    # vocabulary: king 0, queen 1, man 2, woman 3, prince 4, apple 5; "man king woman queen"
    assert trace.outputs["ids"] == [2, 0, 3, 1]
    assert trace.outputs["vectors"].tolist() == [
        [0.1, 0.9, 0.6, 0.1],  # man
        [0.9, 0.8, 0.7, 0.0],  # king
        [0.1, -0.8, 0.5, 0.1],  # woman
        [0.9, -0.7, 0.6, 0.0],  # queen
    ]


def test_default_cosine_cells_by_hand():
    sim = run().outputs["similarity"]
    # man·king = 0.1×0.9 + 0.9×0.8 + 0.6×0.7 + 0.1×0 = 1.23; |man|² = 1.19, |king|² = 1.94
    assert sim[0, 1] == pytest.approx(1.23 / math.sqrt(1.19 * 1.94), abs=1e-12)
    assert sim[0, 1] == pytest.approx(0.8095259, abs=1e-7)
    # king·queen = 0.81 − 0.56 + 0.42 = 0.67; |queen|² = 0.81 + 0.49 + 0.36 = 1.66
    assert sim[1, 3] == pytest.approx(0.67 / math.sqrt(1.94 * 1.66), abs=1e-12)
    assert np.allclose(np.diag(sim), 1.0)


def test_toy_analogy_lands_on_queen():
    analogy = run().outputs["analogy"]
    # king − man + woman = (0.9−0.1+0.1, 0.8−0.9−0.8, 0.7−0.6+0.5, 0−0.1+0.1) = (0.9, −0.9, 0.6, 0)
    assert analogy["vector"] == pytest.approx([0.9, -0.9, 0.6, 0.0], abs=1e-12)
    word, cos = analogy["ranking"][0]
    assert word == "queen"
    # result·queen = 0.81 + 0.63 + 0.36 = 1.8; |result|² = 1.98, |queen|² = 1.66
    assert cos == pytest.approx(1.8 / math.sqrt(1.98 * 1.66), abs=1e-12)
    assert [w for w, _ in analogy["ranking"]] == ["queen", "apple", "prince"]
    assert analogy["excluded"] == ["king", "man", "woman"]


def test_toy_table_core_nearest_is_queen_even_without_exclusion():
    result = emb.analogy(emb.TOY_VOCAB, emb.TOY_E, emb.parse_analogy("king-man+woman"))
    assert emb.TOY_VOCAB[int(np.nanargmax(result.cosines))] == "queen"
    assert 2 <= emb.TOY_E.shape[1] <= 4


def test_textbook_cosines():
    # (1,0) vs (1,1): 1/√2; (1,0) vs (0,1): 0; (1,2) vs (−1,−2): −1
    assert emb.cosine(np.array([1.0, 0.0]), np.array([1.0, 1.0])) == pytest.approx(1 / math.sqrt(2), abs=1e-15)
    assert emb.cosine(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == 0.0
    assert emb.cosine(np.array([1.0, 2.0]), np.array([-1.0, -2.0])) == pytest.approx(-1.0, abs=1e-15)


def test_one_hot_times_E_selects_rows_written_out():
    trace = run(vocab="a,b,c", E="1,2;3,4;5,6", sentence="c a c")
    assert trace.outputs["ids"] == [2, 0, 2]
    assert trace.step("lookup").value("one_hot").data.tolist() == [[0, 0, 1], [1, 0, 0], [0, 0, 1]]
    assert trace.outputs["vectors"].tolist() == [[5, 6], [1, 2], [5, 6]]
    worked = trace.step("lookup").worked
    assert "0×1 + 0×3 + 1×5 = 5" in worked[1]


# ----------------------------------------------------------------------------- oracle


def test_against_torch_embedding_and_cosine(torch):
    F = torch.nn.functional
    rng = np.random.default_rng(3)
    vocab = tuple(f"w{i}" for i in range(7))
    E = np.round(rng.normal(size=(7, 5)), 2)
    sentence = "w3 w0 w6 w3 w2"
    trace = run(vocab=",".join(vocab), E=";".join(",".join(repr(float(x)) for x in row) for row in E), sentence=sentence)
    ids = torch.tensor([3, 0, 6, 3, 2])
    Et = torch.tensor(E, dtype=torch.float64)
    by_lookup = F.embedding(ids, Et).numpy()
    by_matmul = (F.one_hot(ids, num_classes=7).to(torch.float64) @ Et).numpy()
    assert trace.outputs["ids"] == ids.tolist()
    np.testing.assert_allclose(trace.outputs["vectors"], by_lookup, rtol=0, atol=1e-12)
    np.testing.assert_allclose(trace.step("lookup").value("one_hot").data @ E, by_matmul, rtol=0, atol=1e-12)
    vecs = torch.tensor(by_lookup)
    sim = F.cosine_similarity(vecs[:, None, :], vecs[None, :, :], dim=-1).numpy()
    np.testing.assert_allclose(trace.outputs["similarity"], sim, rtol=0, atol=1e-10)


def test_analogy_ranking_against_torch(torch):
    F = torch.nn.functional
    rng = np.random.default_rng(11)
    vocab = tuple(f"v{i}" for i in range(9))
    E = np.round(rng.normal(size=(9, 4)), 2)
    text = "v1 - v2 + v5"
    trace = run(
        vocab=",".join(vocab), E=";".join(",".join(repr(float(x)) for x in row) for row in E), analogy=text
    )
    Et = torch.tensor(E)
    r = Et[1] - Et[2] + Et[5]
    cos = F.cosine_similarity(r[None, :], Et, dim=-1).numpy()
    order = [i for i in np.argsort(-cos, kind="stable") if i not in (1, 2, 5)]
    out = trace.outputs["analogy"]
    np.testing.assert_allclose(out["vector"], r.numpy(), rtol=0, atol=1e-12)
    assert [w for w, _ in out["ranking"]] == [vocab[i] for i in order]
    np.testing.assert_allclose([c for _, c in out["ranking"]], cos[order], rtol=0, atol=1e-10)


# ----------------------------------------------------------------------------- properties

_rows = hnp.arrays(
    np.float64, st.tuples(st.integers(1, 6), st.integers(1, 5)), elements=st.floats(-10, 10, allow_nan=False)
)


@settings(max_examples=60, deadline=None)
@given(_rows)
def test_similarity_properties(A):
    s = emb.similarity_matrix(A)
    defined = ~s.undefined
    assert np.array_equal(s.undefined, s.undefined.T)
    assert np.all(np.isnan(s.similarity[s.undefined]))
    assert np.all(np.abs(s.similarity[defined]) <= 1 + 1e-12)
    np.testing.assert_allclose(s.similarity[defined], s.similarity.T[defined], atol=1e-15)
    diag = np.diag(s.similarity)[~s.zero_rows]
    np.testing.assert_allclose(diag, 1.0, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, 4, elements=st.floats(-10, 10, allow_nan=False, allow_subnormal=False)),
    hnp.arrays(np.float64, 4, elements=st.floats(-10, 10, allow_nan=False, allow_subnormal=False)),
    st.floats(0.01, 100),
)
def test_cosine_ignores_length(a, b, scale):
    """Scaling a vector does not change its cosine (subnormal entries, which the flag parser
    refuses, are left out: halving 5e-324 underflows to 0 and the cosine is undefined)."""
    c = emb.cosine(a, b)
    if math.isnan(c):
        assert not (np.any(a) and np.any(b))
    else:
        assert emb.cosine(a, scale * b) == pytest.approx(c, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=1, max_size=8))
def test_one_hot_product_is_row_selection(ids):
    E = np.arange(15, dtype=float).reshape(5, 3) - 7.5
    vocab = tuple("abcde")
    r = emb.lookup(vocab, E, [vocab[i] for i in ids])
    assert np.array_equal(r.product, r.vectors)
    assert np.array_equal(r.vectors, E[ids])
    assert np.all(r.one_hot.sum(axis=1) == 1)


# ----------------------------------------------------------------------------- parsing and zero vectors


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("king-man+woman", ((1, "king"), (-1, "man"), (1, "woman"))),
        ("  king - man + woman ", ((1, "king"), (-1, "man"), (1, "woman"))),
        ("-man+king", ((-1, "man"), (1, "king"))),
        ("queen", ((1, "queen"),)),
    ],
)
def test_parse_analogy(text, terms):
    assert emb.parse_analogy(text) == terms


@pytest.mark.parametrize("text", ["", "   ", "king man", "king+-man", "king-", "+", "king++queen"])
def test_parse_analogy_refuses(text):
    with pytest.raises(emb.AnalogySyntaxError):
        emb.parse_analogy(text)


def test_zero_vector_cosine_is_undefined_and_said():
    trace = run(vocab="a,b,c", E="1,0;0,0;1,1", sentence="a b c", analogy="a+c")
    sim = trace.outputs["similarity"]
    assert np.isnan(sim[1]).all() and np.isnan(sim[:, 1]).all()
    assert sim[0, 2] == pytest.approx(1 / math.sqrt(2), abs=1e-15)
    assert any("'b' has the zero vector" in w for w in trace.step("similarity").warnings)
    analogy = trace.outputs["analogy"]
    assert analogy["ranking"] == []  # only b is left, and its cosine is undefined
    assert any("b" in w and "undefined" in w for w in trace.step("analogy").warnings)


def test_zero_result_vector_is_reported():
    trace = run(vocab="a,b,c", E="1,0;0,1;1,1", analogy="a-a")
    out = trace.outputs["analogy"]
    assert out["vector"].tolist() == [0.0, 0.0] and out["ranking"] == []
    assert any("zero vector" in w for w in trace.step("analogy").warnings)


def test_custom_vocab_without_king_skips_the_analogy():
    trace = run(vocab="x,y", E="1,0;0,1")
    assert trace.outputs["analogy"] is None
    assert trace.outputs["ids"] == [0, 1]  # the sentence defaults to the vocabulary
    assert trace.warnings


def test_vocab_subset_of_toy_table_uses_its_rows():
    trace = run(vocab="queen,apple", sentence="apple queen")
    assert trace.outputs["vectors"].tolist() == [[0.0, 0.0, 0.0, 1.0], [0.9, -0.7, 0.6, 0.0]]


def test_inputs_recorded():
    trace = run(sentence="king apple")
    assert trace.inputs["vocab"] == list(emb.TOY_VOCAB)
    assert np.array_equal(trace.inputs["E"], emb.TOY_E)
    assert trace.inputs["sentence"] == "king apple"
    assert trace.inputs["analogy"] == "king-man+woman"


# ----------------------------------------------------------------------------- bad values


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"vocab": "a,a"}, "--vocab", "'a' appears twice"),
    ({"vocab": "king,cat"}, "--vocab", "'cat' has no row"),
    ({"vocab": "ice cream,b", "E": "1;2"}, "--vocab", "space"),
    ({"vocab": "t-shirt,b", "E": "1;2"}, "--vocab", "sign"),
    ({"vocab": ""}, "--vocab", "found an empty value"),
    ({"E": "1,2;3,4"}, "--E", "needs --vocab"),
    ({"vocab": "a,b,c", "E": "1,2;3,4"}, "--E", "2 rows but --vocab names 3"),
    ({"E": "1,x"}, "--E", "'x' is not a number"),
    ({"vocab": "a,b", "E": "1;2;3"}, "--E", "has 3 rows but --vocab names 2 words"),
    ({"sentence": "king dog"}, "--sentence", "'dog' is not in the vocabulary: king, queen, man, woman, prince, apple"),
    ({"sentence": "   "}, "--sentence", "no words"),
    ({"sentence": "king unicorn"}, "--sentence", "'unicorn' is not in the vocabulary"),
    ({"vocab": "a,b", "E": "1;2", "sentence": "a " * 30_000}, "--sentence", "21.6 GB in memory"),  # 30,000² similarity cells
    ({"analogy": "king-dog"}, "--analogy", "'dog' is not in the vocabulary: king, queen"),
    ({"analogy": "__import__('os').system('true')"}, "--analogy", "not in the vocabulary"),
    ({"analogy": "king man"}, "--analogy", "missing + or -"),
    ({"analogy": "king+"}, "--analogy", "ends with a sign"),
    ({"analogy": "king-unicorn"}, "--analogy", "'unicorn' is not in the vocabulary"),
    ({"analogy": "king*2"}, "--analogy", "'king*2' is not in the vocabulary"),
]


def test_lesson_sits_in_tokens_and_positions_with_quiz_and_hints():
    lesson = load_lesson("embedding")
    assert (lesson.part, lesson.order) == ("Tokens and positions", 310)
    assert len(lesson.quiz) >= 2 and len(lesson.hints) >= 2


# ----------------------------------------------------------------------------- CLI


def test_cli_json_outputs(run_cli):
    result = run_cli("lesson", "embedding", "--sentence", "queen apple", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    out = doc["outputs"]
    assert set(out) == {"ids", "vectors", "similarity", "analogy"}
    assert out["ids"] == [1, 5]
    assert out["similarity"][0][1] == 0.0  # queen·apple = 0
    assert out["analogy"]["ranking"][0][0] == "queen"


def test_cli_custom_table(run_cli):
    result = run_cli(
        "lesson", "embedding", "--vocab", "a,b,c", "--E", "1,0;0,1;1,1", "--analogy", "c-a", "--format", "json"
    )
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)["outputs"]
    assert out["analogy"]["vector"] == [0.0, 1.0]
    assert out["analogy"]["ranking"] == [["b", 1.0]]


def test_cli_terminal_runs(run_cli):
    result = run_cli("lesson", "embedding")
    assert result.exit_code == 0, result.stderr
    assert "queen" in result.stdout and "0.9929" in result.stdout


def test_core_docstring_examples():
    import doctest

    assert doctest.testmod(emb).failed == 0


def test_tiny_vectors_keep_their_cosine():
    # (1e-200, 0)·(1e-200, 1e-200) underflows to 0 if squared directly; the cosine is still 1/√2
    trace = run(vocab="a,b", E="1e-200,0;1e-200,1e-200", sentence="a b", analogy="a")
    assert trace.outputs["similarity"][0, 1] == pytest.approx(1 / math.sqrt(2), abs=1e-15)
    assert trace.outputs["analogy"]["ranking"][0][0] == "b"
    assert not trace.step("analogy").warnings


# ----------------------------------------------------------------- the analogy's explanation follows the analogy


def test_analogy_explanation_names_the_default_words_and_offsets():
    # woman − man = [0, −1.7, −0.1, 0], queen − king = [0, −1.5, −0.1, 0]:
    # cos = (2.55 + 0.01) / (√2.9 × √2.26) = 2.56 / 2.560078 = 0.999969
    assert emb.offset_cosine(emb.TOY_VOCAB, emb.TOY_E, ("man", "woman"), ("king", "queen")) == pytest.approx(
        2.56 / math.sqrt(2.9 * 2.26), abs=1e-12
    )
    why = run().step("analogy").why
    assert "king − man + woman is king moved by the offset man→woman" in why
    assert "The nearest word left is queen (cosine 0.9929)" in why
    assert "the offsets man→woman and king→queen have cosine 0.999969" in why


def test_analogy_explanation_follows_the_analogy_asked():
    # queen − woman + man = [0.9, 1.0, 0.7, 0]; with king [0.9, 0.8, 0.7, 0]: 2.1 / (√2.3 × √1.94) = 0.9942
    why = run(analogy="queen-woman+man").step("analogy").why
    assert "queen − woman + man is queen moved by the offset woman→man" in why
    assert "The nearest word left is king (cosine 0.9942)" in why
    assert "woman→man and queen→king" in why
    assert "king − man + woman" not in why and "king→queen" not in why


def test_analogy_explanation_on_custom_words():
    # a = (0, 0), b = (1, 0), c = (0, 1), d = (1, 2): c − a + b = (1, 1), and d, the only word left, has
    # cos 3 / (√2·√5) = 0.9487; the offsets a→b = (1, 0) and c→d = (1, 1) have cos 1/√2 = 0.7071.
    trace = run(vocab="a,b,c,d", E="0,0;1,0;0,1;1,2", sentence="a b", analogy="c-a+b")
    why = trace.step("analogy").why
    assert "c − a + b is c moved by the offset a→b" in why
    assert "The nearest word left is d (cosine 0.9487)" in why
    assert "a→b and c→d have cosine 0.7071" in why


def test_other_expressions_get_a_plain_reading():
    # man + king = [1, 1.7, 1.3, 0.1]; nearest word left, prince [0.8, 0.7, −0.4, 0]:
    # (0.8 + 1.19 − 0.52) / (√5.59 × √1.29) = 1.47 / 2.685349 = 0.5474
    why = run(analogy="man+king").step("analogy").why
    assert "The nearest word left to man + king is prince (cosine 0.5474)." in why
    assert "offset" not in why
