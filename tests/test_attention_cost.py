"""attention-cost: hand-worked memory, FLOPs and crossover; PyTorch's FLOP counter and tensor sizes
as the oracle; the slope fit on synthetic timings; the known mistakes; the refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nntutor.catalog import registry
from nntutor.catalog.lessonfile import load_lesson
from nntutor.catalog.run import parse_args, prepare, run_lesson
from nntutor.core import attention_cost as core
from nntutor.quiz import mistakes
from nntutor.walkthroughs import attention_cost as lesson_module

LESSON = "attention-cost"
HAND = 1e-12
ORACLE = 1e-10
KIB, MIB, GIB, TIB = 1024, 1024**2, 1024**3, 1024**4
DEFAULT_N = [512, 2048, 8192, 32768, 131072]
REPO = Path(__file__).resolve().parent.parent


def run(raw=None, timing=False):
    raw = dict(raw or {})
    if not timing:
        raw.setdefault("no-timing", True)
    return run_lesson(load_lesson(LESSON), raw)


def rows(trace, step, value=None):
    return trace.step(step).value(value or step).data.rows


def column(trace, step, j, value=None):
    return [row[j] for row in rows(trace, step, value)]


# --------------------------------------------------------------------------- by hand: memory


def test_one_score_matrix_by_hand():
    # n = 512: 512² = 262,144 scores; × 4 bytes = 1,048,576 = 1 MiB (FP32); × 2 = 524,288 = 512 KiB (FP16)
    # n = 131,072: 131,072² = 17,179,869,184 = 2³⁴; × 4 = 2³⁶ bytes = 64 GiB (FP32), × 2 = 32 GiB (FP16)
    # A table that says "~1 MB … ~64 GB" under FP16 is holding these FP32 values.
    out = run().outputs["memory"]
    assert out["n"].tolist() == DEFAULT_N
    assert out["one_matrix_fp32_bytes"].tolist() == [4.0 * n * n for n in DEFAULT_N]
    assert out["one_matrix_fp32_bytes"][0] == 1 * MIB and out["one_matrix_fp32_bytes"][-1] == 64 * GIB
    assert out["one_matrix_fp16_bytes"][0] == 512 * KIB and out["one_matrix_fp16_bytes"][-1] == 32 * GIB
    trace = run()
    assert column(trace, "one", 2) == ["1 MiB", "16 MiB", "256 MiB", "4 GiB", "64 GiB"]
    assert column(trace, "one", 3) == ["512 KiB", "8 MiB", "128 MiB", "2 GiB", "32 GiB"]
    assert column(trace, "one", 4) == ["×1", "×16", "×256", "×4,096", "×65,536"]  # (n/512)²
    assert trace.step("one").worked[0] == "512² = 262,144 scores × 4 bytes = 1,048,576 bytes = 1 MiB at FP32"


def test_all_score_matrices_by_hand():
    # h = 8, L = 6, B = 1, FP16 (2 bytes): 512² × 8 × 6 × 1 × 2 = 262,144 × 96 = 25,165,824 bytes = 24 MiB
    # 2048²: × 16 → 384 MiB; 8192²: 6,144 MiB = 6 GiB; 32,768²: 96 GiB; 131,072²: 2³⁴ × 96 = 1.5 TiB
    trace = run()
    assert trace.outputs["memory"]["all_scores_bytes"].tolist() == [96.0 * n * n for n in DEFAULT_N]
    assert column(trace, "memory", 3) == [24, 384, 6144, 98304, 1572864]  # in MiB
    assert column(trace, "memory", 2) == ["24 MiB", "384 MiB", "6 GiB", "96 GiB", "1.5 TiB"]
    assert trace.step("memory").worked[0] == "memory(512) in MiB = n²·h·L·B·bytes / 1,024² = 512²×8×6×1×2 / 1,024² = 24"
    # FP32 doubles it: 48 MiB at n = 512; FP64: 96 MiB
    assert column(run({"dtype": "fp32"}), "memory", 3)[0] == 48
    assert column(run({"dtype": "fp64"}), "memory", 3)[0] == 96
    assert column(run({"dtype": "bf16"}), "memory", 3)[0] == 24


def test_small_sizes_pick_a_small_unit():
    # n = 10, one head, one layer: 10² × 2 bytes = 200 bytes, shown in bytes; n = 100: 20,000 bytes = 19.5 KiB
    trace = run({"seq-lens": "10,100", "d-model": "4", "heads": "1", "layers": "1"})
    assert trace.step("memory").value("memory").data.columns[3] == "in bytes"
    assert column(trace, "memory", 3) == [200, 20000]
    assert column(trace, "one", 3) == ["200 bytes", "19.5 KiB"]


def test_binary_units():
    assert lesson_module.binary_bytes(1023) == "1,023 bytes"
    assert lesson_module.binary_bytes(1024) == "1 KiB"
    assert lesson_module.binary_bytes(1.5 * TIB) == "1.5 TiB"
    assert lesson_module.binary_bytes(40_000) == "39.1 KiB"  # 40,000 / 1,024 = 39.0625


# --------------------------------------------------------------------------- by hand: FLOPs and the crossover


def test_layer_flops_by_hand():
    # d = 512, d_ff = 2048, n = 512:
    #   Q·Kᵀ: 8 heads × 512² × 64 = 134,217,728 multiply-adds = 268,435,456 FLOPs; A·V the same
    #   attention 4n²d = 4 × 262,144 × 512 = 536,870,912
    #   projections 8nd² = 8 × 512 × 262,144 = 1,073,741,824;  FFN 4nd·d_ff = 4 × 512 × 512 × 2048 = 2,147,483,648
    #   attention ÷ rest = 536,870,912 / 3,221,225,472 = 1/6 = n/3072
    f = core.layer_flops(DEFAULT_N, 512, 2048)
    assert f.scores[0] == 268_435_456 and f.mix[0] == 268_435_456
    assert f.attention[0] == 536_870_912
    assert f.projections[0] == 1_073_741_824
    assert f.ffn[0] == 2_147_483_648
    np.testing.assert_allclose(f.ratio, [n / 3072 for n in DEFAULT_N], rtol=0, atol=HAND)
    trace = run()
    np.testing.assert_allclose(column(trace, "flops", 1), [4 * n * n * 512 / 1e9 for n in DEFAULT_N], rtol=0, atol=HAND)
    assert trace.step("flops").worked[1] == "attention(512) in GFLOP = 4n²d / 10⁹ = 4×512²×512 / 10⁹ = 0.5369"
    # the model's forward pass: × 6 layers × 1 sequence
    out = trace.outputs["flops"]
    assert out["attention"][0] == 6 * 536_870_912
    assert out["total"][0] == 6 * (536_870_912 + 1_073_741_824 + 2_147_483_648)


def test_crossover_by_hand():
    # 4n²d = 8nd² + 4nd·d_ff ⇔ n = 2d + d_ff: 2×512 + 2048 = 3072 = 6d
    assert run().outputs["crossover"] == 3072
    # GPT-2 small: d = 768, d_ff = 3072 → 1536 + 3072 = 4608; a narrow FFN d_ff = 1024 at d = 512 → 2048
    assert run({"d-model": "768", "heads": "12"}).outputs["crossover"] == 4608
    assert run({"d-ff": "1024"}).outputs["crossover"] == 2048
    # at the crossover both sides are equal: 4×3072²×512 = 19,327,352,832 = 8×3072×512² + 4×3072×512×2048
    f = core.layer_flops([3072], 512)
    assert f.attention[0] == f.linear[0] == 19_327_352_832


def test_crossover_by_brute_force():
    # The first n at which attention's FLOPs reach the rest, found by stepping n, is 2d + d_ff.
    for d, d_ff in [(64, 256), (512, 2048), (768, 3072), (100, 37)]:
        n = np.arange(1, 10 * d + d_ff)
        f = core.layer_flops(n, d, d_ff)
        first = int(n[np.argmax(f.attention >= f.linear)])
        assert first == core.crossover(d, d_ff) == 2 * d + d_ff


def test_heads_do_not_change_flops_but_multiply_score_memory():
    # h·n²·(d/h) = n²·d: the same attention FLOPs with 1, 8 or 64 heads; memory ∝ h
    one, eight = run({"heads": "1"}), run({"heads": "8"})
    assert one.outputs["flops"]["attention"].tolist() == eight.outputs["flops"]["attention"].tolist()
    assert (eight.outputs["memory"]["all_scores_bytes"] / one.outputs["memory"]["all_scores_bytes"]).tolist() == [8.0] * 5


# --------------------------------------------------------------------------- by hand: the sliding window


def test_window_by_hand():
    # w = 4096: at n = 131,072 each query scores k = 4,096 keys; memory 131,072 × 4,096 × 8 × 6 × 1 × 2
    # = 51,539,607,552 bytes = 48 GiB (against 1.5 TiB), ×32 less; attention 4 × 131,072 × 4,096 × 512
    # = 1,099,511,627,776 FLOPs; n ≤ w is not changed at all
    trace = run({"window": "4096"})
    assert column(trace, "window", 1) == ["512", "2,048", "4,096", "4,096", "4,096"]
    assert column(trace, "window", 2)[-1] == "48 GiB"
    assert column(trace, "window", 4) == ["×1", "×1", "×2", "×8", "×32"]
    np.testing.assert_allclose(column(trace, "window", 3)[-1], 1_099_511_627_776 / 1e9, rtol=0, atol=HAND)
    out = trace.outputs
    assert out["memory"]["window_scores_bytes"][-1] == 51_539_607_552
    assert out["flops"]["attention_window"][-1] == 6 * 1_099_511_627_776
    # 4096 > 2d + d_ff = 3072: attention still crosses at 3072, and past n = w stays 4096/3072 × the rest
    assert core.window_crossover(512, 2048, 4096) == 3072
    assert "1.3333 × the rest" in " ".join(trace.step("window").worked)
    # 2048 ≤ 3072: attention's share stops at 2048/3072 = 2/3 and it never overtakes
    assert core.window_crossover(512, 2048, 2048) is None
    assert "= 0.6667: attention never overtakes the rest" in " ".join(run({"window": "2048"}).step("window").worked)


def test_causal_window_pairs_by_hand():
    # w = 3, n = 5: query i sees min(i + 1, 3) keys: 1 + 2 + 3 + 3 + 3 = 12 = 5×3 − 3×2/2
    assert core.causal_window_pairs([5], 3).tolist() == [12.0]
    # n < w: the plain causal triangle, n(n + 1)/2 = 3 for n = 2
    assert core.causal_window_pairs([2], 3).tolist() == [3.0]


def test_a_window_longer_than_every_sequence_is_said_to_save_nothing():
    step = run({"window": "200000"}).step("window")
    assert "nothing is saved" in step.warnings[0]


# --------------------------------------------------------------------------- PyTorch oracle


def _torch_layer_counts(torch, n, d, heads, d_ff, dtype):
    """FLOPs of one MultiheadAttention + FFN layer as PyTorch's FLOP counter counts them, and the
    bytes of its attention weights, on the meta device (nothing allocated, any n)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        mha = torch.nn.MultiheadAttention(d, heads, batch_first=True, dtype=dtype)
        ffn = torch.nn.Sequential(torch.nn.Linear(d, d_ff, dtype=dtype), torch.nn.ReLU(), torch.nn.Linear(d_ff, d, dtype=dtype))
        x = torch.randn(1, n, d, dtype=dtype)
    with FlopCounterMode(display=False) as attention_counter:
        y, weights = mha(x, x, x, need_weights=True, average_attn_weights=False)
    with FlopCounterMode(display=False) as ffn_counter:
        ffn(y)
    counts = attention_counter.get_flop_counts()["Global"]
    by_name = {str(op).split(".")[-1]: value for op, value in counts.items()}
    return {
        "bmm": by_name.get("bmm", 0),  # Q·Kᵀ and A·V, over all heads
        "projections": by_name.get("addmm", 0) + by_name.get("mm", 0),  # in_proj (Q, K, V) and out_proj
        "ffn": ffn_counter.get_total_flops(),
        "weights_bytes": weights.numel() * weights.element_size(),
        "weights_shape": tuple(weights.shape),
    }


@pytest.mark.oracle
@pytest.mark.parametrize(("d", "heads", "d_ff"), [(512, 8, 2048), (768, 12, 3072), (64, 1, 100)])
def test_flops_match_torch_flop_counter(torch, d, heads, d_ff):
    trace = run({"d-model": str(d), "heads": str(heads), "d-ff": str(d_ff), "layers": "1"})
    out = trace.outputs["flops"]
    worst = 0.0
    for i, n in enumerate(DEFAULT_N):
        counted = _torch_layer_counts(torch, n, d, heads, d_ff, torch.float64)
        worst = max(
            worst,
            abs(out["attention"][i] - counted["bmm"]),
            abs(out["projections"][i] - counted["projections"]),
            abs(out["ffn"][i] - counted["ffn"]),
        )
    assert worst <= ORACLE  # exact: counts below 2⁵³ are exact in float64
    assert trace.outputs["crossover"] == 2 * d + d_ff


@pytest.mark.oracle
@pytest.mark.parametrize("dtype", ["fp16", "bf16", "fp32", "fp64"])
def test_score_memory_matches_torch_attention_weights(torch, dtype):
    # the attention weights torch's MultiheadAttention returns (B × h × n × n, in that dtype), × L layers
    torch_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32, "fp64": torch.float64}[dtype]
    trace = run({"dtype": dtype, "batch": "2"})
    out = trace.outputs["memory"]
    for i, n in enumerate(DEFAULT_N):
        counted = _torch_layer_counts(torch, n, 512, 8, 2048, torch_dtype)
        assert counted["weights_shape"] == (1, 8, n, n)
        assert abs(out["all_scores_bytes"][i] - 2 * 6 * counted["weights_bytes"]) <= ORACLE  # B = 2, L = 6
        one = torch.empty((n, n), dtype=torch.float32, device="meta")
        half = torch.empty((n, n), dtype=torch.float16, device="meta")
        assert out["one_matrix_fp32_bytes"][i] == one.numel() * one.element_size()
        assert out["one_matrix_fp16_bytes"][i] == half.numel() * half.element_size()


@pytest.mark.oracle
@pytest.mark.parametrize(("n", "w"), [(7, 3), (16, 16), (10, 1), (50, 12), (5, 9)])
def test_causal_window_pairs_match_a_torch_mask(torch, n, w):
    # query i may see key j when 0 ≤ i − j < w: count the allowed cells of the mask
    i = torch.arange(n).reshape(-1, 1)
    j = torch.arange(n).reshape(1, -1)
    allowed = ((i - j) >= 0) & ((i - j) < w)
    assert float(core.causal_window_pairs([n], w)[0]) == int(allowed.sum())
    assert int(allowed.sum(dim=1).max()) == min(w, n)  # k = min(w, n) keys at most
    assert int(allowed.sum()) <= n * min(w, n)


# --------------------------------------------------------------------------- the slope, on synthetic timings


def test_slope_of_exact_power_laws():
    n = [256, 512, 1024, 2048]
    for power in (1.0, 2.0, 3.0):
        fit = core.loglog_slope(n, [1e-9 * m**power for m in n])
        assert fit.slope == pytest.approx(power, abs=HAND)
    # t = n²: x = log₂ n = 8, 9, 10, 11 (mean 9.5), y = 16, 18, 20, 22 (mean 19): s = 10/5 = 2, c = 0
    fit = core.loglog_slope(n, [float(m * m) for m in n])
    assert fit.x.tolist() == [8.0, 9.0, 10.0, 11.0]
    assert fit.y.tolist() == [16.0, 18.0, 20.0, 22.0]
    assert (fit.x_mean, fit.y_mean) == (9.5, 19.0)
    assert fit.intercept == pytest.approx(0.0, abs=HAND)


def test_slope_by_hand_with_noise():
    # n = 1, 2, 4 (x = 0, 1, 2), t = 1, 2, 16 (y = 0, 1, 4): x̄ = 1, ȳ = 5/3;
    # Σ(x − x̄)(y − ȳ) = (−1)(−5/3) + 0 + (1)(7/3) = 4, Σ(x − x̄)² = 2, so s = 2; c = 5/3 − 2 = −1/3
    fit = core.loglog_slope([1, 2, 4], [1.0, 2.0, 16.0])
    assert fit.slope == pytest.approx(2.0, abs=HAND)
    assert fit.intercept == pytest.approx(-1 / 3, abs=HAND)


@pytest.mark.oracle
def test_slope_matches_torch_least_squares(torch):
    rng = np.random.default_rng(5)
    n = np.array([128, 256, 512, 1024, 2048], dtype=np.float64)
    seconds = 3e-10 * n**2 * np.exp(rng.normal(0, 0.2, size=n.size))  # n² with 20 % noise
    fit = core.loglog_slope(n, seconds)
    design = torch.stack([torch.log2(torch.from_numpy(n)), torch.ones(n.size)], dim=1)
    solution = torch.linalg.lstsq(design, torch.log2(torch.from_numpy(seconds)).reshape(-1, 1), driver="gelsd").solution
    assert abs(fit.slope - float(solution[0, 0])) <= ORACLE
    assert abs(fit.intercept - float(solution[1, 0])) <= ORACLE


def test_slope_needs_two_lengths():
    with pytest.raises(ValueError, match="two different lengths"):
        core.loglog_slope([512, 512], [1.0, 2.0])


def test_time_attention_keeps_the_fastest_run_with_a_scripted_clock():
    # runs take 3, 1, 2 ticks at the first length and 5, 4, 6 at the second: the best are 1 and 4;
    # the warm-up call before the first length is not timed (6 runs, 12 clock readings)
    durations = iter([3, 1, 2, 5, 4, 6])
    readings = []

    def clock():
        if len(readings) % 2 == 0:
            readings.append(float(len(readings)) * 100)
        else:
            readings.append(readings[-1] + next(durations))
        return readings[-1]

    best = core.time_attention([4, 8], 2, repeats=3, seed=1, clock=clock)
    assert best.tolist() == [1.0, 4.0]
    assert len(readings) == 12


def test_measured_step_on_synthetic_timings(monkeypatch):
    # times 1, 4, 16 ms at n = 256, 512, 1024: × 4 each time, slope exactly 2, no warning
    monkeypatch.setattr(core, "time_attention", lambda lengths, width, repeats, seed: np.array([1e-3, 4e-3, 16e-3]))
    trace = run(timing=True)
    assert trace.outputs["measured_slope"] == pytest.approx(2.0, abs=HAND)
    step = trace.step("measured")
    assert [row[2] for row in step.value("timings").data.rows] == ["", "×4", "×4"]
    assert step.warnings == []
    assert "doubling n multiplies the time by 2^2 = 4; pure n² work would give 4" in step.worked
    assert "Q, K, V of n × 64" in step.value("timings").label  # d_model/h = 512/8
    # flat times (an overhead, a busy machine): slope 0 and a warning that says why
    monkeypatch.setattr(core, "time_attention", lambda lengths, width, repeats, seed: np.array([0.02, 0.02, 0.02]))
    flat = run(timing=True).step("measured")
    assert "well below 2" in flat.warnings[0]


def test_default_timing_is_estimated_under_a_second():
    # 5 runs of one 64-wide head at n = 256, 512, 1024 (the lesson file's defaults)
    inputs = prepare(load_lesson(LESSON), parse_args(load_lesson(LESSON), {})).inputs
    assert inputs.timing and inputs.time_lengths == (256, 512, 1024) and inputs.repeats == 5
    seconds, needed = core.timing_estimate(inputs.time_lengths, inputs.d_model // inputs.heads, inputs.repeats)
    assert seconds < 1.0
    assert needed < 64 * MIB


@pytest.mark.slow
def test_measured_slope_is_about_two():
    # nntutor's attention timed for real, on one thread so that the library's threads do not wait for
    # a free core; longer lengths than the default. A shared machine is noisy: a wide band, three tries.
    code = (
        "from nntutor.core.attention_cost import time_attention, loglog_slope;"
        "n = [512, 1024, 2048];"
        "print(loglog_slope(n, time_attention(n, 64, repeats=5)).slope)"
    )
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    slopes = []
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr[-1000:]
        slopes.append(float(done.stdout))
        if 1.4 <= slopes[-1] <= 2.8:
            break
    assert 1.4 <= slopes[-1] <= 2.8, slopes


# --------------------------------------------------------------------------- known mistakes, on the hand-worked case


def _case(step, value, index, raw=None):
    lesson = load_lesson(LESSON)
    prepared = prepare(lesson, parse_args(lesson, {"no-timing": True, **(raw or {})}))
    return mistakes.Case(prepared, prepared.build(), step, value, index)


def _found(case):
    return {m.id: v for m, v in mistakes.alternatives(registry.walkthrough(LESSON).mistakes, case)}


def test_known_mistakes_recomputed_by_hand():
    # memory at n = 512, FP16: 24 MiB. With FP32's 4 bytes: 48; one matrix per layer (no × 8 heads): 3;
    # MB for MiB: 25,165,824 / 10⁶ = 25.165824
    case = _case("memory", "memory", (0, 3))
    assert case.element() == 24
    found = _found(case)
    assert found["fp32-bytes"] == 48
    assert found["one-head"] == 3
    assert found["decimal-units"] == pytest.approx(25.165824, abs=HAND)
    # attention at n = 512: 0.536870912 GFLOP. A multiply-add as 1 FLOP: 0.268435456; × 8 heads: 4.294967296
    found = _found(_case("flops", "flops", (0, 1)))
    assert found["multiply-add-as-one-flop"] == pytest.approx(0.268435456, abs=HAND)
    assert found["heads-times-d"] == pytest.approx(4.294967296, abs=HAND)
    # FFN at n = 512: 2.147483648 GFLOP; halved: 1.073741824 (the × h mistake is for attention only)
    found = _found(_case("flops", "flops", (0, 3)))
    assert found["multiply-add-as-one-flop"] == pytest.approx(1.073741824, abs=HAND)
    assert "heads-times-d" not in found
    # crossover 3072; without the FFN, 4n²d = 8nd² gives 2d = 1024
    assert _found(_case("crossover", "crossover", ()))["no-ffn"] == 1024
    # window 4096 at n = 131,072: 1099.511627776 GFLOP; the window ignored: 4 × 131,072² × 512 = 35184.372088832
    found = _found(_case("window", "window", (4, 3), {"window": "4096"}))
    assert found["window-ignored"] == pytest.approx(35184.372088832, abs=1e-9)


def test_fp32_bytes_mistake_does_not_apply_to_fp32():
    assert "fp32-bytes" not in _found(_case("memory", "memory", (0, 3), {"dtype": "fp32"}))


# --------------------------------------------------------------------------- CLI


def test_cli_json_outputs(run_cli):
    result = run_cli("lesson", LESSON, "--no-timing", "--window", "4096", "--format", "json")
    assert result.exit_code == 0, result.stderr
    outputs = json.loads(result.stdout)["outputs"]
    assert set(outputs) == {"memory", "flops", "crossover"}
    assert outputs["crossover"] == 3072
    assert outputs["memory"]["n"] == DEFAULT_N
    assert outputs["memory"]["all_scores_bytes"][0] == 25165824.0
    assert outputs["memory"]["window_scores_bytes"][-1] == 51539607552.0
    assert outputs["flops"]["attention"][0] == 6 * 536870912.0


def test_cli_json_has_the_measured_slope(run_cli, monkeypatch):
    monkeypatch.setattr(core, "time_attention", lambda lengths, width, repeats, seed: np.array([1e-3, 4e-3, 16e-3]))
    result = run_cli("lesson", LESSON, "--format", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["outputs"]["measured_slope"] == pytest.approx(2.0, abs=HAND)
    assert document["inputs"]["time-lens"] == [256, 512, 1024] and document["inputs"]["seed"] == 0


def _fits(result):
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    return len(result.stdout.split("\nWhat next")[0].splitlines())


def test_fits_80_columns(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert _fits(run_cli("lesson", LESSON)) <= 150  # the lesson, before its closing pointers (timing included)
    assert _fits(run_cli("lesson", LESSON, "--window", "4096", "--no-timing")) <= 150
    assert _fits(run_cli("lesson", LESSON, "--seq-lens", "100,1000,10000,100000", "--d-model", "768", "--heads", "12",
                         "--layers", "12", "--batch", "8", "--dtype", "fp32", "--no-timing")) <= 150


def test_result_names_the_answer(run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    result = run_cli("lesson", LESSON, "--no-timing")
    text = result.stdout.split("\nResult")[1]
    assert "crossover n = 3072" in text
    # the memory per length, labelled as in its step, never the outputs' keys
    assert "all the score matrices, at FP16" in text and "6 GiB" in text
    assert "all_scores_bytes" not in text and "one_matrix_fp32_bytes" not in text


# Refused inputs: each is run in-process and through the CLI by tests/test_bad_input_matrix.py.
BAD_INPUTS = [
    ({"seq-lens": "512,1000.5"}, "--seq-lens", "1000.5 is not a whole number"),
    ({"seq-lens": ",".join(str(n) for n in range(1, 14))}, "--seq-lens", "has 13 lengths; at most 12"),
    ({"heads": "7"}, "--heads", "d_model = 512 (--d-model) is not divisible by h = 7"),
    ({"d-model": "100"}, "--d-model", "is 100 but --heads (default 8) does not divide 100"),
    ({"d-model": "4", "heads": "8"}, "--heads", "is not divisible by h = 8"),
    ({"time-lens": "512"}, "--time-lens", "has one length (512); a slope needs at least two"),
    ({"time-lens": "512,512.5"}, "--time-lens", "512.5 is not a whole number"),
    ({"time-lens": "1024,16384"}, "--time-lens", "timing n = 16,384 needs about 6.03 GiB"),
    ({"time-lens": "2048,4096", "repeats": "20"}, "--time-lens", "would take about 35 s (at most 5 s here)"),
    ({"repeats": "100", "time-lens": "1024,2048"}, "--time-lens", "100 runs each"),
    ({"repeats": "100"}, "--repeats", "(100 runs each) would take about"),
    ({"d-model": "8192", "heads": "1"}, "--d-model", "timing one head of width 8192 (d_model/h = 8192/1)"),
    ({"no-timing": True, "repeats": "3"}, "--repeats", "only sets up the timing, which --no-timing turns off"),
    ({"no-timing": True, "time-lens": "64,128"}, "--time-lens", "which --no-timing turns off"),
    ({"no-timing": True, "seed": "4"}, "--seed", "which --no-timing turns off"),
    ({"window": "0"}, "--window", "too small"),
    ({"dtype": "fp8"}, "--dtype", "'fp8' is not one of: fp16, bf16, fp32, fp64"),
]

