"""The tiny model's fast paths give the numbers of the plain ones.

- :func:`nntutor.models.evaluate.evaluate` runs one forward per sentence length (the
  sentences of one length stacked); fed one sentence at a time, as it was written
  first, every count is the same and the perplexity agrees to rounding.
- :class:`nntutor.models.tokenizer.Tokenizer` keeps one coder per tokenizer (each
  word's symbols and ids, found by the tuples' identity); it must segment as
  :func:`nntutor.core.bpe.encode_word` does, ``<unk>`` for symbols outside the
  vocabulary, for a tokenizer rebuilt from equal tuples as well.
- the lessons that run the model put BLAS on one thread only while they run.
"""

from __future__ import annotations

import math
from collections import defaultdict

import pytest

from nntutor.core.bpe import encode_word, merge_ranks
from nntutor.models import corpus
from nntutor.models.evaluate import evaluate, held_out_set
from nntutor.models.model import load_model, random_model
from nntutor.models.tokenizer import UNK, Tokenizer, normalize


@pytest.fixture(scope="module")
def tiny():
    return load_model("tiny")


def one_at_a_time(model):
    """The held-out score with one forward per sentence: (correct, determined, positions, by_tag, perplexity)."""
    correct = determined = positions = 0
    total = 0.0
    by_tag: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for item in held_out_set(model.tokenizer):
        r = model.loss(item.ids[None, :])
        total += float(r.unembed.losses.sum())
        positions += r.targets.size
        predicted = r.forward.logits[0].argmax(axis=-1)
        for p in item.determined:
            hit = int(predicted[p.index] == p.expected)
            correct, determined = correct + hit, determined + 1
            by_tag[p.tag][0] += hit
            by_tag[p.tag][1] += 1
    return correct, determined, positions, {t: tuple(v) for t, v in sorted(by_tag.items())}, math.exp(total / positions)


@pytest.mark.parametrize("which", ["tiny", "random"])
def test_batched_evaluation_equals_one_sentence_at_a_time(tiny, which):
    model = tiny if which == "tiny" else random_model(tiny, seed=3)
    e = evaluate(model)
    correct, determined, positions, by_tag, perplexity = one_at_a_time(model)
    assert (e.correct, e.determined, e.positions, e.by_tag) == (correct, determined, positions, by_tag)
    assert e.perplexity == pytest.approx(perplexity, rel=1e-12)
    lengths = {item.ids.size for item in held_out_set(model.tokenizer)}
    assert len(lengths) > 1  # the batching really groups sentences of different lengths


def test_cached_coder_segments_as_encode_word(tiny):
    tok = tiny.tokenizer
    ranks, known = merge_ranks(tok.merges), set(tok.vocab)
    text = " ".join(s.text for s in corpus.language()[:40]) + " The banks, quixotically zany."
    expected = tuple(t if t in known else UNK for w in normalize(text) for t in encode_word(w, ranks))
    assert UNK in expected  # the made-up words reach the <unk> branch
    assert tok.tokens(text) == expected
    assert [tok.vocab[i] for i in tok.encode(text)] == list(expected)
    twin = Tokenizer(tuple(tuple(m) for m in tok.merges), tuple(str(s) for s in tok.vocab))
    assert twin.tokens(text) == expected and twin.encode(text).tolist() == tok.encode(text).tolist()
    other = Tokenizer(tok.merges[:5], tok.vocab)  # fewer merges: a different segmentation
    assert other.tokens("fisher") != tok.tokens("fisher")


def test_one_thread_only_while_the_lesson_runs():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from nntutor.models.threads import one_thread

    def blas_threads():
        return {i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"}

    before = blas_threads()
    with one_thread():
        assert blas_threads() <= {1}
    assert blas_threads() == before
