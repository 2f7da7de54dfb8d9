"""Runs that pass validation and then take minutes or gigabytes: refused up front, or fast.

What a run computes is bounded by each lesson's ``check``; what its output costs by
:mod:`nntutor.render.cost`, per format. Every limit is tested at and just past it.
JSON is written as a stream.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import parse_args, prepare, run_lesson
from nntutor.errors import InputError
from nntutor.render import cost
from nntutor.render.json import write_json
from nntutor.trace import Deferred, Step, Table, Trace, Value
from nntutor.walkthroughs import bpe as bpe_lesson
from nntutor.walkthroughs import softmax as softmax_lesson
from nntutor.walkthroughs._budget import shared_by
from tests.helpers import assert_refused

ROOT = Path(__file__).resolve().parent.parent


def _trace_of(data) -> Trace:
    return Trace("t", "T", steps=[Step("s", "S", values=[Value("m", data)])])


def _lazy(rows: int, cols: int) -> Deferred:
    """A matrix with a shape and no memory (the estimate reads shapes only)."""
    return Deferred((rows, cols), lambda indices: np.zeros((1, cols)))


# --------------------------------------------------------------------------- the estimate


def test_the_estimate_counts_what_each_renderer_writes_by_hand():
    trace = _trace_of(np.zeros((100, 100)))
    # JSON: every number, plus the step's four texts (id, title, formula, why)
    assert cost.estimate(trace, "json", limit=8).numbers == 10_000 + 4
    # a table elides to 4 rows, a gap and 3 rows (8 lines) plus its header; its columns are fitted
    # to the width, at most 64 (32, a gap and 31) plus the label; then the step's texts and the
    # lesson's header (4 each)
    assert cost.estimate(trace, "text", limit=8).numbers == 9 * 65 + 4 + 4
    assert cost.estimate(trace, "text", limit=0).numbers == 101 * 101 + 4 + 4  # --full: every cell
    mixed = _trace_of(Table(("pair", "count"), tuple((f"a{i}", i) for i in range(1000))))
    assert cost.estimate(mixed, "text", limit=8).numbers == (32 + 1) * 2 + 8  # max(limit × 4, 24) + the header


@pytest.mark.parametrize(("fmt", "limit", "shape"), [
    ("json", 8, (5_000, 4_000)), ("text", 0, (500, 30)), ("svg", 0, (500, 30)), ("html", 0, (500, 30)), ("markdown", 0, (5_000, 30)),
])
def test_each_output_limit_at_and_just_past_it(fmt, limit, shape, monkeypatch):
    trace = _trace_of(_lazy(*shape))
    numbers = cost.estimate(trace, fmt, limit=limit).numbers
    monkeypatch.setitem(cost.LIMITS, fmt, numbers)  # exactly at the limit: written
    cost.refuse_if_too_costly(trace, fmt, limit=limit)
    monkeypatch.setitem(cost.LIMITS, fmt, numbers - 1)  # one past it: refused, naming the flag
    with pytest.raises(InputError) as info:
        cost.refuse_if_too_costly(trace, fmt, limit=limit, size_flags=("--seq-len",))
    assert info.value.flag == ("--format" if fmt == "json" else "--full")
    assert f"at most {numbers - 1:,} are" in info.value.message and "a smaller --seq-len" in info.value.message


def test_the_real_limits_hold_at_their_values():
    at = _trace_of(_lazy(49_998, 3))  # text --full: 200,004 cells, four past 200,000
    assert cost.estimate(at, "text", limit=0).numbers == cost.LIMITS["text"] + 4
    with pytest.raises(InputError, match="--full"):
        cost.refuse_if_too_costly(at, "text", limit=0)
    under = _trace_of(_lazy(49_997, 3))
    assert cost.estimate(under, "text", limit=0).numbers == cost.LIMITS["text"]
    cost.refuse_if_too_costly(under, "text", limit=0)
    cost.refuse_if_too_costly(at, "text", limit=8)  # without --full the same trace is 9 × 4 cells


# --------------------------------------------------------------------------- through the command line


def test_json_of_2000_tokens_is_refused_at_once_naming_the_size(run_cli):
    line = assert_refused(run_cli("lesson", "attention", "--seq-len", "2000", "--d-model", "1", "--seed", "0", "--format", "json"),
                          "error: --format: json output would hold about 28,018,053 numbers", "a smaller --seq-len or --d-model")
    assert "MB" in line and " s)" in line


def test_full_text_of_1000_tokens_is_refused_naming_full(run_cli):
    assert_refused(run_cli("lesson", "attention", "--seq-len", "1000", "--seed", "0", "--full"),
                   "error: --full: text output would hold about", "leave out --full")


@pytest.mark.parametrize("fmt", ["svg", "html"])
def test_full_pictures_of_300_tokens_are_refused(run_cli, fmt):
    assert_refused(run_cli("lesson", "multi-head", "--seq-len", "300", "--seed", "0", "--full", "--format", fmt),
                   f"error: --full: {fmt} output would hold about")


def test_without_full_the_same_run_is_drawn(run_cli):
    result = run_cli("lesson", "attention", "--seq-len", "1000", "--seed", "0")
    assert result.exit_code == 0 and "elided for display" in result.stdout


def test_json_is_written_a_row_at_a_time():
    trace = run_lesson(load_lesson("attention"), {"seq-len": "300", "d-model": "2", "seed": "0"})

    class Recorder(io.StringIO):
        largest = 0

        def write(self, text):
            Recorder.largest = max(Recorder.largest, len(text))
            return super().write(text)

    out = Recorder()
    write_json(trace, out)
    assert len(out.getvalue()) > 5_000_000
    assert Recorder.largest < 10_000  # one row of 300 numbers, never the document
    document = json.loads(out.getvalue())
    assert np.array_equal(np.array(document["outputs"]["weights"]), trace.outputs["weights"])


@pytest.mark.slow
def test_json_of_1000_tokens_is_fast_and_small_in_memory(tmp_path):
    # 17.7 s and 1.3 GB before; a stream now
    target = tmp_path / "attention.json"
    probe = (
        "import resource, subprocess, sys, time\n"
        "start = time.perf_counter()\n"
        f"done = subprocess.run([sys.executable, '-m', 'nntutor', 'lesson', 'attention', '--seq-len', '1000', '--d-model', '1',"
        f" '--seed', '0', '-o', {str(target)!r}], capture_output=True, text=True)\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024\n"
        "print(done.returncode, round(time.perf_counter() - start, 1), peak, done.stderr.strip())\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True,
                            env={"PYTHONPATH": str(ROOT), "NNTUTOR_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    code, seconds, peak_mb, stderr = result.stdout.split(" ", 3)
    assert code == "0", stderr
    assert int(peak_mb) < 600, peak_mb  # the n×n matrices and one being written, not the document
    assert float(seconds) < 30
    assert target.stat().st_size > 100_000_000
    with open(target, encoding="utf-8") as handle:
        assert len(json.load(handle)["outputs"]["weights"]) == 1000


# --------------------------------------------------------------------------- what runs compute


def _softmax_check(n_logits: int, n_temperatures: int):
    raw = {"logits": ",".join(str(i % 7) for i in range(n_logits)),
           "temperature": ",".join(f"{1 + i / 1000:.3f}" for i in range(n_temperatures))}
    lesson = load_lesson("softmax")
    return softmax_lesson.check(parse_args(lesson, raw))


def test_softmax_cells_at_and_just_past_the_limit():
    assert softmax_lesson.MAX_CELLS == 2_000_000
    inputs = _softmax_check(2_000, 1_000)  # 2,000,000: checked, not built here
    assert inputs.logits.size * inputs.temperatures.size == softmax_lesson.MAX_CELLS
    with pytest.raises(InputError) as info:
        _softmax_check(2_000, 1_001)
    assert info.value.flag == "--temperature" and "2,002,000 probabilities" in info.value.message


def test_softmax_ten_thousand_logits_by_four_thousand_temperatures_is_refused(run_cli, tmp_path):
    # measured before: 2.8 GB
    logits = ",".join(str(i % 7) for i in range(10_000))
    temperatures = ",".join(f"{1 + i / 10_000:.4f}" for i in range(4_000))
    assert_refused(run_cli("lesson", "softmax", "--logits", logits, "--temperature", temperatures),
                   "--temperature", "40,000,000 probabilities")


def _words(count: int, length: int) -> list[str]:
    """``count`` distinct words of ``length`` letters (a, b, … then aa, ab, … in base 26)."""
    words = []
    for number in range(count):
        letters = []
        for _ in range(length):
            number, digit = divmod(number, 26)
            letters.append(chr(97 + digit))
        words.append("".join(letters))
    return words


def _bpe_check(path: Path):
    return bpe_lesson.check(parse_args(load_lesson("bpe"), {"file": str(path)}))


def test_bpe_word_length_at_and_just_past_the_limit(tmp_path, run_cli):
    path = tmp_path / "corpus.txt"
    path.write_text("ab" * 100 + " low low\n")  # 200 characters: allowed
    assert max(len(word) for word in _bpe_check(path).word_counts) == bpe_lesson.MAX_WORD_CHARS
    path.write_text("ab" * 100 + "a low low\n")
    with pytest.raises(InputError, match="holds a word of 201 characters"):
        _bpe_check(path)
    path.write_text("ab" * 100_000 + "\n")  # one 200 KB word: 23 s before
    assert_refused(run_cli("lesson", "bpe", "--file", str(path)), "--file", "a word of 200,000 characters")


def test_bpe_corpus_size_at_and_just_past_the_limit(tmp_path):
    words = _words(150_000, 10)  # 1,500,000 characters of distinct words
    path = tmp_path / "corpus.txt"
    path.write_text(" ".join(words) + "\n")
    assert sum(len(word) for word in _bpe_check(path).word_counts) == bpe_lesson.MAX_CORPUS_SYMBOLS
    path.write_text(" ".join(words) + " q\n")
    with pytest.raises(InputError) as info:
        _bpe_check(path)
    assert info.value.flag == "--file" and "150,001 distinct words hold 1,500,001 characters" in info.value.message


# --------------------------------------------------------------------------- --vs


def test_vs_shares_the_memory_limit_between_its_two_runs(run_cli):
    lesson = load_lesson("attention")
    args = parse_args(lesson, {"seq-len": "9000", "d-model": "1", "seed": "0"})
    prepare(lesson, args)  # one run of 9,000 tokens fits (about 3.9 GB of 4.3 GB)
    with shared_by(2), pytest.raises(InputError, match=r"at most 2\.1 GB is allowed \(half of 4\.3 GB: --vs keeps two runs\)"):
        prepare(lesson, args)
    assert_refused(run_cli("lesson", "attention", "--seq-len", "9000", "--d-model", "1", "--seed", "0", "--vs", "--causal"),
                   "--seq-len", "--vs keeps two runs")


def test_vs_refuses_a_bad_flag_before_any_run(run_cli, monkeypatch):
    import nntutor.catalog.run as run

    calls = []
    real = run.run_lesson
    monkeypatch.setattr(run, "run_lesson", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert_refused(run_cli("lesson", "attention", "--vs", "--nope"), "--vs", "'--nope' is not an input")
    assert calls == []


def test_outputs_behind_a_labelled_result_are_not_counted_as_drawn():
    # the terminal draws trace.result when there is one, not trace.outputs (a GGUF next-token
    # run keeps 3 vectors of 49,152 probabilities for --format json): --full is not refused for them
    trace = _trace_of(np.zeros(3))
    trace.outputs = {"probs": np.zeros(49_152), "token": "x"}
    drawn = cost.estimate(trace, "text", limit=0).numbers  # 4 (inputs) + 4 cells + 4 (the step) + 2 × 49,153 + 1
    trace.result = [Value("token", "x", label="the next token")]
    assert cost.estimate(trace, "text", limit=0).numbers == drawn - 2 * 49_153 - 1 + 1  # the result's one value
    assert cost.estimate(trace, "json", limit=0).numbers > 49_152  # JSON still writes every output
