"""The bpe lesson: hand-worked merges, the real subword-nmt as oracle, properties, flags, CLI.

subword-nmt (a test dependency) is run two ways: its ``learn_bpe`` function fed
through the same ``codecs`` UTF-8 reader its command line uses, and its command
line itself in a subprocess for a few texts.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import json
import os
import random
import subprocess
import sys
from collections import Counter
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import run_lesson
from nntutor.core import bpe

learn_module = pytest.importorskip("subword_nmt.learn_bpe", reason="subword-nmt oracle not installed")
apply_module = pytest.importorskip("subword_nmt.apply_bpe", reason="subword-nmt oracle not installed")

PAPER = {"low": 5, "lower": 2, "newest": 6, "widest": 3}
PAPER_TEXT = " ".join(["low"] * 5 + ["lower"] * 2 + ["newest"] * 6 + ["widest"] * 3)


def run(**flags):
    return run_lesson(load_lesson("bpe"), {k.replace("_", "-"): v for k, v in flags.items()})


def reference_merges(text: str, merges: int, min_frequency: int = 2) -> list[tuple[str, str]]:
    """subword-nmt's merges for ``text``, read exactly as its CLI reads a UTF-8 file."""
    reader = codecs.getreader("utf-8")(io.BytesIO(text.encode("utf-8")))
    out = io.StringIO()
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            learn_module.learn_bpe(reader, out, merges, min_frequency)
        except ValueError:
            # The tool fails (max() of nothing) when no word has two characters; we learn nothing.
            if all(len(word) == 1 for word in text.split()):
                return []
            raise
    lines = out.getvalue().split("\n")
    assert lines[0] == "#version: 0.2"
    return [tuple(line.split(" ")) for line in lines[1:] if line]


def our_merges(text: str, merges: int, min_frequency: int = 2) -> list[tuple[str, str]]:
    return bpe.learn_bpe(bpe.count_words(text), merges, min_frequency).pairs


def naive_learn(counts: dict[str, int], merges: int, min_frequency: int = 2):
    """Textbook BPE, recounting every pair before each merge (no index, no pruning).

    Returns the merges and, per merge, the full pair counts it chose from, the
    number of distinct symbols after it and the number of words it changed.
    """
    words = {w: bpe.initial_symbols(w) for w in counts}
    chosen, tables, vocab, changed = [], [], [], []
    for _ in range(merges):
        pairs: Counter = Counter()
        for w, symbols in words.items():
            for pair in pairwise(symbols):
                pairs[pair] += counts[w]
        if not pairs:
            break
        best = max(pairs, key=lambda p: (pairs[p], p))
        if pairs[best] < min_frequency:
            break
        a, b = best
        n_changed = 0
        for w, symbols in words.items():
            out, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and symbols[i] == a and symbols[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            n_changed += tuple(out) != symbols
            words[w] = tuple(out)
        changed.append(n_changed)
        chosen.append(best)
        tables.append(pairs)
        vocab.append(len({s for symbols in words.values() for s in symbols}))
    return chosen, tables, vocab, changed


# ----------------------------------------------------------------------------- hand-worked


def test_paper_corpus_first_merges_by_hand():
    # Symbols: low = l o w</w> (×5), lower = l o w e r</w> (×2),
    # newest = n e w e s t</w> (×6), widest = w i d e s t</w> (×3).
    # Pair counts before merge 1:
    #   (e, s)    = newest 6 + widest 3 = 9      (s, t</w>) = 6 + 3 = 9
    #   (w, e)    = lower 2 + newest 6  = 8      (l, o)     = low 5 + lower 2 = 7
    #   (n, e) = (e, w) = 6   (o, w</w>) = 5   (w, i) = (i, d) = (d, e) = 3   (o, w) = (e, r</w>) = 2
    # Tie at 9: ('s', 't</w>') > ('e', 's') since 's' > 'e', so merge 1 is s + t</w>.
    # Merge 2: (e, st</w>) = 6 + 3 = 9 beats (w, e) = 8.  Merge 3: (l, o) = 7.
    # Merge 4: three pairs at 6, (w, est</w>), (n, e), (e, w): 'w' is the greatest left symbol.
    result = bpe.learn_bpe(PAPER, 10)
    first = result.merges[0]
    assert first.top_pairs == (
        (("s", "t</w>"), 9),
        (("e", "s"), 9),
        (("w", "e"), 8),
        (("l", "o"), 7),
        (("n", "e"), 6),
    )
    assert [(m.pair, m.frequency) for m in result.merges] == [
        (("s", "t</w>"), 9),
        (("e", "st</w>"), 9),
        (("l", "o"), 7),
        (("w", "est</w>"), 6),
        (("n", "e"), 6),
        (("ne", "west</w>"), 6),
        (("lo", "w</w>"), 5),
        (("w", "i"), 3),
        (("wi", "d"), 3),
        (("wid", "est</w>"), 3),
    ]


def test_paper_corpus_vocabulary_sizes_by_hand():
    # Initial symbols: l o w</w> w e r</w> n s t</w> i d = 11.
    # 1 s+t</w>: +st</w> −s −t</w> = 10     2 e+st</w>: +est</w> −st</w> = 10
    # 3 l+o: +lo −l −o = 9                  4 w+est</w>: +west</w> = 10 (w, est</w> still used)
    # 5 n+e: +ne −n = 10                    6 ne+west</w>: +newest</w> −ne −west</w> = 9
    # 7 lo+w</w>: +low</w> −w</w> = 9       8 w+i: +wi −i = 9
    # 9 wi+d: +wid −wi −d = 8               10 wid+est</w>: +widest</w> −wid −est</w> = 7
    result = bpe.learn_bpe(PAPER, 10)
    assert result.initial_vocab_size == 11
    assert [m.corpus_symbols for m in result.merges] == [10, 10, 9, 10, 10, 9, 9, 9, 8, 7]
    # The vocabulary as Sennrich et al. count it: the 11 base symbols + one per merge (ten different ones).
    assert [m.vocab_size for m in result.merges] == list(range(12, 22))
    assert result.merges[0].vanished == ("s", "t</w>")
    assert result.segmentation == {
        "newest": ("newest</w>",),
        "low": ("low</w>",),
        "widest": ("widest</w>",),
        "lower": ("lo", "w", "e", "r</w>"),
    }


def test_paper_corpus_runs_out_of_pairs_after_13_merges():
    # After merge 10 only 'lo w e r</w>' (×2) has pairs, each counted 2:
    # (w, e) > (lo, w) > (e, r</w>) → we; then (we, r</w>) > (lo, we) → wer</w>; then lo + wer</w>.
    result = bpe.learn_bpe(PAPER, 100)
    assert result.pairs[10:] == [("w", "e"), ("we", "r</w>"), ("lo", "wer</w>")]
    assert result.stop == "no-pairs"
    # With --min-frequency 3 the pairs counted 2 are too rare: it stops after 10 merges.
    result = bpe.learn_bpe(PAPER, 100, min_frequency=3)
    assert len(result.merges) == 10
    assert (result.stop, result.stop_pair, result.stop_frequency) == ("min-frequency", ("w", "e"), 2)


def test_encode_unseen_words_by_hand():
    merges = bpe.learn_bpe(PAPER, 10).pairs
    # lowest = l o w e s t</w>: merge 1 (s t</w>) → l o w e st</w>; merge 2 → l o w est</w>;
    # merge 3 (l o) → lo w est</w>; merge 4 (w est</w>) → lo west</w>.
    steps = bpe.encode_steps("lowest", bpe.merge_ranks(merges))
    assert [rank for rank, _, _ in steps] == [0, 1, 2, 3]
    assert bpe.encode(["lowest", "newer", "x"], merges) == {
        "lowest": ("lo", "west</w>"),
        "newer": ("ne", "w", "e", "r</w>"),  # n e (merge 5); no merge joins w, e or r</w>
        "x": ("x</w>",),
    }
    assert bpe.apply_bpe_form(("lo", "west</w>")) == ["lo@@", "west"]


def test_words_split_like_subword_nmt():
    # Only spaces and line breaks separate words; a tab stays inside, and a form feed that
    # ends a line stays attached to the word before it (the tool strips only '\r\n ').
    assert bpe.split_words("a\tb  c\r\nd\x0ce\u2028f") == ["a\tb", "c", "d\x0c", "e\u2028", "f"]
    assert bpe.count_words("to be or not to be") == {"to": 2, "be": 2, "or": 1, "not": 1}
    assert bpe.initial_symbols("a") == ("a</w>",)


def test_overlapping_pair_merges_left_to_right():
    # 'aaaa' ×3 = a a a a</w>: (a, a) occurs twice per word → 6; merging left to right
    # gives aa a a</w> → ... the first merge turns 'a a a' into 'aa a', never 'a aa'.
    result = bpe.learn_bpe({"aaaa": 3, "aaa": 1}, 1, 1)
    # (a, a): aaaa has 2 (positions 0 and 1) × 3 = 6, aaa has 1 × 1 = 1 → 7
    assert result.merges[0].pair == ("a", "a")
    assert result.merges[0].frequency == 7
    assert result.segmentation == {"aaaa": ("aa", "a", "a</w>"), "aaa": ("aa", "a</w>")}


def test_tie_order_compares_tuples_not_strings():
    # ('ab', 'c') and ('a', 'bc') spell the same string, but as tuples ('ab', …) > ('a', …)
    # because 'a' is a prefix of 'ab'; ('b', 'a') beats both since 'b' > 'a'.
    learner = bpe._Learner({"q": 1})
    pairs = [("a", "bc"), ("ab", "c"), ("b", "a"), ("a", "b")]
    by_key = sorted(pairs, key=lambda p: learner._key(p[0]) + learner._key(p[1]))
    assert by_key == [("b", "a"), ("ab", "c"), ("a", "bc"), ("a", "b")]  # greatest first


@given(st.lists(st.tuples(st.text("abé\u00ff\U0001f600", min_size=1, max_size=3),
                          st.text("abé\u00ff\U0001f600", min_size=1, max_size=3)), min_size=1, max_size=12))
def test_heap_key_orders_pairs_like_tuples(pairs):
    learner = bpe._Learner({"q": 1})
    by_key = sorted(pairs, key=lambda p: learner._key(p[0]) + learner._key(p[1]))
    assert by_key == sorted(pairs, reverse=True)


# ----------------------------------------------------------------------------- subword-nmt oracle

TEXTS = {
    "paper": PAPER_TEXT,
    "ties": "ab ba ab ba cd dc cd dc\nab cd ba dc",
    "accents": "café café cafés résumé résumés naïve naïveté déjà déjà vu crème brûlée crème",
    "cjk": "東京 東京都 京都 京都府 東京 北京 北京 南京 日本語 日本 日本 日本人",
    "emoji": "👍🏽 👍🏽 👍 🙂🙂 🙂🙂🙂 👨‍👩‍👧 👨‍👩‍👧 ok👍 ok👍 ok",
    "mixed-space": "a\tb a\tb a\tb x\xa0y x\xa0y a b\r\nc\x0cd c\x0cd e\u2028f e\u2028f\n\n  tail  ",
    "repeats": "aaaa aaaa aaa aa a abab abab baba",
}


@pytest.mark.parametrize("name", sorted(TEXTS))
@pytest.mark.parametrize("min_frequency", [1, 2, 3])
def test_merges_equal_subword_nmt(name, min_frequency):
    text = TEXTS[name]
    ours = our_merges(text, 200, min_frequency)
    assert ours == reference_merges(text, 200, min_frequency)
    if min_frequency == 1:
        assert ours  # every text has something to merge


@st.composite
def small_corpora(draw):
    """A few KB of text over a small vocabulary of short words (many ties)."""
    alphabet = draw(st.sampled_from(["ab", "abc", "abcd", "aé", "猫a", "a😀b", "ab\t"]))
    vocab = draw(st.lists(st.text(alphabet, min_size=1, max_size=8), min_size=1, max_size=40, unique=True))
    counts = draw(st.lists(st.integers(1, 60), min_size=len(vocab), max_size=len(vocab)))
    rng = random.Random(draw(st.integers(0, 2**16)))
    tokens = [w for w, c in zip(vocab, counts, strict=True) for _ in range(c)]
    rng.shuffle(tokens)
    seps = [rng.choice([" ", " ", " ", "\n", "  ", "\r\n"]) for _ in tokens]
    return "".join(t + s for t, s in zip(tokens, seps, strict=True))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_corpora(), st.sampled_from([10, 100, 1000]), st.integers(1, 4))
def test_merges_equal_subword_nmt_on_generated_text(text, merges, min_frequency):
    assert our_merges(text, merges, min_frequency) == reference_merges(text, merges, min_frequency)


def test_merges_equal_subword_nmt_on_zipf_text(monkeypatch):
    # 40 KB with a Zipf-like vocabulary: deep enough that the tool prunes its working table
    # and has to reload the full one (checked), and runs until the best pair is too rare.
    rng = random.Random(7)
    vocab = ["".join(rng.choice("etaoinshrdlu") for _ in range(rng.randint(1, 9))) for _ in range(800)]
    weights = [1 / (rank + 1) for rank in range(len(vocab))]
    text = " ".join(rng.choices(vocab, weights, k=7000))
    reloads = []
    original = bpe._Learner.reload
    monkeypatch.setattr(bpe._Learner, "reload", lambda self, i: reloads.append(i) or original(self, i))
    result = bpe.learn_bpe(bpe.count_words(text), 1500, 2)
    assert reloads and result.stop == "min-frequency" and len(result.merges) > 1000
    assert result.pairs == reference_merges(text, 1500, 2)


@pytest.mark.slow
def test_merges_equal_subword_nmt_command_line(tmp_path):
    # A byte-order mark stays on the first word (the tool decodes with 'utf-8', not 'utf-8-sig').
    text = "\ufeff" + TEXTS["mixed-space"] + "\n" + TEXTS["accents"] + "\r\n" + TEXTS["cjk"] + "\x0c\n" + PAPER_TEXT
    source = tmp_path / "corpus.txt"
    source.write_bytes(text.encode("utf-8"))
    codes = tmp_path / "codes.txt"
    command = "import sys; from subword_nmt.subword_nmt import main; sys.argv[0] = 'subword-nmt'; main()"
    completed = subprocess.run(
        [sys.executable, "-c", command, "learn-bpe", "-s", "50", "--min-frequency", "1", "-i", str(source), "-o", str(codes)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode()
    lines = codes.read_text(encoding="utf-8").split("\n")
    reference = [tuple(line.split(" ")) for line in lines[1:] if line]
    trace = run(file=str(source), merges="50", min_frequency="1")
    assert [tuple(m) for m in trace.outputs["merges"]] == reference
    assert len(reference) == 50
    # Words the tool saw: a form feed breaks the line 'c\x0cd' but stays on 'c\x0c', 'e\u2028'
    # keeps its line separator, and a tab or no-break space does not split a word.
    assert {"c\x0c", "d", "e\u2028", "a\tb", "x\xa0y", "\ufeffa\tb"} <= set(trace.outputs["word_counts"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_corpora(), st.sampled_from([5, 30, 300]), st.lists(st.text("abcdé猫😀", min_size=1, max_size=10), max_size=8))
def test_encode_agrees_with_apply_bpe(text, merges, extra):
    # Same convention as apply-bpe's codes version 0.2 ('</w>' on the last character);
    # apply-bpe writes '@@' after every symbol but the last and drops '</w>'.
    result = bpe.learn_bpe(bpe.count_words(text), merges)
    codes = io.StringIO("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in result.pairs))
    if not result.pairs:
        return  # apply-bpe cannot read an empty codes file
    applier = apply_module.BPE(codes)
    words = list(bpe.count_words(text))[:30] + extra
    ours = bpe.encode(words, result.pairs)
    for word in words:
        assert bpe.apply_bpe_form(ours[word]) == applier.segment_tokens([word]), word


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.text("abcd", min_size=1, max_size=7), st.integers(1, 30), min_size=1, max_size=25),
       st.integers(1, 3))
def test_counts_vocab_and_tables_match_naive_recount(counts, min_frequency):
    # Textbook BPE, recounting everything before each merge, must agree on the merges,
    # the top pair counts shown and the vocabulary size (words without whitespace).
    result = bpe.learn_bpe(counts, 60, min_frequency, top_k=4)
    chosen, tables, vocab, changed = naive_learn(counts, 60, min_frequency)
    assert result.pairs == chosen
    assert [m.corpus_symbols for m in result.merges] == vocab
    base = {s for w in counts for s in bpe.initial_symbols(w)}
    assert result.initial_vocab_size == len(base)
    assert [m.vocab_size for m in result.merges] == [
        len(base | {a + b for a, b in chosen[: k + 1]}) for k in range(len(chosen))
    ]
    assert [m.words_changed for m in result.merges] == changed
    for merge, table in zip(result.merges, tables, strict=True):
        expected = sorted(table.items(), key=lambda item: (item[1], item[0]), reverse=True)[:4]
        assert list(merge.top_pairs) == expected
        assert merge.frequency == table[merge.pair]
        if merge.words_changed <= 20:
            # The recorded occurrences add up to the pair's count ('a a a' holds (a, a) twice).
            assert sum(counts[word] * n for word, n, _ in merge.changed) == merge.frequency


def test_200_kb_and_300_merges_completes():
    # Timing belongs to benchmarks/; this only proves a corpus this size runs through.
    rng = random.Random(3)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10))) for _ in range(5000)]
    weights = [1 / (rank + 1) for rank in range(len(vocab))]
    words = rng.choices(vocab, weights, k=34000)
    text = "\n".join(" ".join(words[i : i + 12]) for i in range(0, len(words), 12))
    assert len(text.encode()) > 200_000
    result = bpe.learn_bpe(bpe.count_words(text), 300, detail=10)
    assert len(result.merges) == 300
    assert result.pairs == reference_merges(text, 300)


# ----------------------------------------------------------------------------- the lesson


def test_lesson_outputs_default():
    trace = run()
    assert trace.outputs["word_counts"] == {"newest": 6, "low": 5, "widest": 3, "lower": 2}
    assert trace.outputs["merges"][:3] == [["s", "t</w>"], ["e", "st</w>"], ["l", "o"]]
    assert trace.outputs["vocab_size"] == [12, 13, 14, 15, 16, 17, 18, 19, 20, 21]
    assert trace.outputs["corpus_symbols"] == [10, 10, 9, 10, 10, 9, 9, 9, 8, 7]
    assert trace.outputs["encoded"]["lower"] == ["lo", "w", "e", "r</w>"]
    step = trace.step("merge-1")
    assert step.worked[0] == "count(s, t</w>) = 6×1 (newest) + 3×1 (widest) = 9"
    assert "tie at 9" in step.worked[1]
    assert step.worked[2] == "symbols left in the corpus = 11 + 1 (st</w> is new) − 2 (s, t</w> no longer used) = 10"
    assert step.worked[3].startswith("vocabulary = 11 + 1 (st</w>) = 12")
    assert "vocabulary = 11 base symbols + 10 merges = 21" in trace.step("merges").worked
    assert trace.inputs["text"] == PAPER_TEXT


def test_lesson_show_encode_and_summary():
    trace = run(show="3", encode="lowest newer lowest", merges="12", top="2")
    ids = [s.id for s in trace.steps]
    assert ids == ["words", "symbols", "merge-1", "merge-2", "merge-3", "later-merges", "merges", "encode"]
    assert len(trace.step("later-merges").value("later").data.rows) == 9
    assert len(trace.step("merge-1").value("top_pairs").data.rows) == 2
    # Merges 11 (w + e) and 12 (we + r</w>) now exist: newer = ne w e r</w> → ne we r</w> → ne wer</w>.
    assert trace.outputs["encoded"] == {"lowest": ["lo", "west</w>"], "newer": ["ne", "wer</w>"]}
    assert len(trace.outputs["merges"]) == 12


def test_lesson_file_matches_reference(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text(TEXTS["accents"] + "\n" + TEXTS["emoji"], encoding="utf-8")
    trace = run(file=str(path), merges="40", min_frequency="1")
    assert [tuple(m) for m in trace.outputs["merges"]] == reference_merges(path.read_text(encoding="utf-8"), 40, 1)
    assert trace.inputs["file"] == str(path) and trace.inputs["text"] is None


def test_lesson_stops_and_warns():
    trace = run(text="a b c a")
    assert trace.outputs["merges"] == [] and trace.outputs["vocab_size"] == []
    assert "no adjacent pair" in trace.step("merges").warnings[0]
    trace = run(merges="50", min_frequency="3")
    assert len(trace.outputs["merges"]) == 10
    assert "fewer than --min-frequency 3" in trace.step("merges").warnings[0]
    trace = run(text="a\tb a\tb")
    assert "tab" in trace.step("words").warnings[0]


# ----------------------------------------------------------------------------- CLI


def test_cli_json_outputs(run_cli):
    result = run_cli("lesson", "bpe", "--encode", "lowest", "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    outputs = data["outputs"]
    assert outputs["merges"][0] == ["s", "t</w>"]
    assert outputs["vocab_size"][-1] == 21 and outputs["corpus_symbols"][-1] == 7
    assert outputs["encoded"] == {"lowest": ["lo", "west</w>"]}
    assert outputs["word_counts"]["newest"] == 6


def test_cli_terminal_runs(run_cli):
    result = run_cli("lesson", "bpe", "--show", "1")
    assert result.exit_code == 0, result.stderr
    assert "Merge 1: s + t</w> → st</w>" in result.stdout
    assert "count(s, t</w>) = 6×1 (newest) + 3×1 (widest) = 9" in result.stdout


def test_cli_markdown_renders_merges(run_cli):
    result = run_cli("lesson", "bpe", "--format", "markdown")
    assert result.exit_code == 0, result.stderr
    # '<' and '>' are escaped, so '</w>' cannot be taken for an HTML tag.
    assert "## 3. Merge 1: s + t\\</w\\> → st\\</w\\>" in result.stdout
    assert "| newest | 6 |" in result.stdout


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"text": "   \n "}, "--text", "empty or only whitespace"),
    ({"text": ""}, "--text", "empty"),
    ({"merges": "-1"}, "--merges", "too small"),
    ({"merges": "abc"}, "--merges", "whole number"),
    ({"merges": "1000000000"}, "--merges", "at most 100,000"),
    ({"min-frequency": "0"}, "--min-frequency", "too small"),
    ({"min-frequency": "1.5"}, "--min-frequency", "whole number"),
    ({"top": "0"}, "--top", "too small"),
    ({"top": "51"}, "--top", "too large"),
    ({"show": "-1"}, "--show", "too small"),
    ({"show": "201"}, "--show", "too large"),
    ({"encode": "   "}, "--encode", "no words"),
]


# Files need a folder to live in: these stay here (the registry-wide check runs flags only).
@pytest.fixture
def bad_files(tmp_path):
    (tmp_path / "binary.bin").write_bytes(b"ab\x00cd")
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    (tmp_path / "blank.txt").write_text("  \n\t \n", encoding="utf-8")
    (tmp_path / "folder").mkdir()
    (tmp_path / "ok.txt").write_text("low lower", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("args", "flag", "fragment"),
    [
        (["--file", "{d}/missing.txt"], "--file", "does not exist"),
        (["--file", "{d}/folder"], "--file", "folder"),
        (["--file", "{d}/binary.bin"], "--file", "binary"),
        (["--file", "{d}/latin1.txt"], "--file", "not UTF-8"),
        (["--file", "{d}/blank.txt"], "--file", "no words"),
        (["--file", "{d}/ok.txt", "--text", "low"], "--file", "not both"),
    ],
)
def test_cli_bad_files(run_cli, bad_files, args, flag, fragment):
    result = run_cli("lesson", "bpe", *[a.replace("{d}", str(bad_files)) for a in args])
    assert result.exit_code == 2, result.stdout
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1
    assert flag in message and fragment in message, message


@settings(max_examples=200, deadline=None)
@given(st.text(st.sampled_from(list("ab é猫\t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\xa0")), max_size=200))
def test_word_counts_equal_subword_nmt_reader(text):
    # The tool's own vocabulary reader, fed as its command line feeds it (codecs UTF-8 lines).
    reader = codecs.getreader("utf-8")(io.BytesIO(text.encode("utf-8")))
    assert bpe.count_words(text) == dict(learn_module.get_vocabulary(reader))
    assert Counter(bpe.split_words(text)) == Counter(bpe.count_words(text))


@pytest.mark.slow
def test_lesson_does_not_import_sympy():
    # Start-up cost matters on every command: the bpe lesson needs neither sympy nor torch.
    code = (
        "import sys\n"
        "from nntutor.catalog.lessonfile import load_lesson\n"
        "from nntutor.catalog.run import run_lesson\n"
        "run_lesson(load_lesson('bpe'), {})\n"
        "print(sorted(m for m in ('sympy', 'torch') if m in sys.modules))\n"
    )
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True, env=env, cwd=root
    )
    assert completed.stdout.strip() == "[]"


def test_default_segments_words_the_corpus_does_not_hold():
    # The summary promises to segment new words: lowest and wider are not in low/lower/newest/widest.
    # lowest = l o w e s t</w> → (s t</w>) → (e st</w>) → (l o) → (w est</w>) = lo west</w>;
    # wider = w i d e r</w> → (w i) wi → (wi d) wid: wid e r</w>.
    trace = run()
    encoded = trace.outputs["encoded"]
    assert list(encoded) == ["newest", "low", "widest", "lower", "lowest", "wider"]
    assert encoded["lowest"] == ["lo", "west</w>"] and encoded["wider"] == ["wid", "e", "r</w>"]
    rows = trace.step("encode").value("encoded").data.rows
    assert [(row[0], row[1]) for row in rows][-2:] == [("lowest", "no"), ("wider", "no")]
    step = trace.step("encode")
    assert step.worked[0].startswith("lowest: l o w e s t</w> → (merge 1: s + t</w>)")
    assert "lowest and wider are not in the training text" in step.why
    # with a text of one's own, that text's words are segmented (the default goes with the built-in corpus)
    own = run(text="hug hug pug pun bun")
    assert list(own.outputs["encoded"]) == ["hug", "pug", "pun", "bun"]
    assert "Every word here is from the training text" in own.step("encode").why


def test_encoded_words_match_apply_bpe():
    # The unseen words segmented as subword-nmt's apply-bpe does with the same codes.
    result = bpe.learn_bpe(PAPER, 10)
    codes = io.StringIO("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in result.pairs))
    applier = apply_module.BPE(codes)
    for word, tokens in run().outputs["encoded"].items():
        assert bpe.apply_bpe_form(tokens) == applier.segment_tokens([word]), word
