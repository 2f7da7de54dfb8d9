"""benchmarks/run.py row 10 (the GGUF estimate against a measured run): its table line from
gguf_cost.py's result, its worst file, and a skip with the reason when gguf is missing. No timing here."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_run_cost", ROOT / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


MEASURED = {"factor": 2.0, "worst_factor": 1.35, "rows": [
    {"file": "Q8_0", "tokens": 20, "estimated_s": 0.45, "cpu_s": 0.49, "wall_s": 1.37, "estimated_mb": 70.0,
     "peak_mb": 67.0, "time_ratio": 0.49 / 0.45, "memory_ratio": 67 / 70},
    {"file": "SmolLM2", "tokens": 5, "estimated_s": 4.33, "cpu_s": 5.85, "wall_s": 19.0, "estimated_mb": 489.0,
     "peak_mb": 502.0, "time_ratio": 5.85 / 4.33, "memory_ratio": 502 / 489},
]}


def _row(bench, **kw):
    return bench.Row("10", "estimate vs measured", "", "", "the estimate", wall_target=bench.COST_FACTOR, **kw)


def test_the_row_shows_the_worst_file_and_every_ratio_in_a_note(bench):
    text, records = bench.table([_row(bench, measured=MEASURED)], {})
    line = next(line for line in text.splitlines() if line.startswith("| 10 |"))
    # the worst file is SmolLM2 (5.85 / 4.33 = 1.35×); within 2× either way: yes
    assert "(SmolLM2)" in line and "| 5.850 |" in line and "| 4.330 |" in line and "1.35×" in line
    assert line.endswith("| within 2× either way | yes |")
    assert "Q8_0 1.09× time, 0.96× memory" in text and records[0]["meets"] == "yes"


def test_a_factor_beyond_the_target_does_not_meet_it(bench):
    worse = dict(MEASURED, worst_factor=2.6)
    text, _ = bench.table([_row(bench, measured=worse)], {})
    assert next(line for line in text.splitlines() if line.startswith("| 10 |")).endswith("| **no** |")


def test_the_row_is_skipped_without_gguf(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "lesson_available", lambda *a, **kw: "not asked here")
    real = importlib.util.find_spec
    monkeypatch.setattr(bench.importlib.util, "find_spec", lambda name, *a: None if name == "gguf" else real(name, *a))
    built, _ = bench.build(argparse.Namespace(quick=True, rows={"10"}, model=None), ROOT, tmp_path, {})
    row = next(row for row in built if row.number == "10")
    assert row.skip and "gguf is not installed" in row.skip
