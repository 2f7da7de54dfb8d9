"""What a GGUF run costs, said before it runs (gguf_file.estimate), worked by hand; how it is said
(the lesson's notice, ``nntutor models``); and Ctrl-C while a model loads or runs: one line, exit 130.

The estimate against a measured run is a benchmark (benchmarks/gguf_cost.py, row 10 of
benchmarks/run.py), never a timed test: these tests hold the formula to numbers worked out
by hand from its constants.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nntutor.models import gguf_file
from nntutor.models.gguf_file import LlamaConfig, estimate
from tests import tiny_gguf
from tests.tiny_gguf import Tiny

ROOT = Path(__file__).resolve().parent.parent
# A small model to work by hand: head size 16, key/value width 2 × 16 = 32.
#   one layer: 2·64·64 (W_Q, W_O) + 2·32·64 (W_K, W_V) + 3·64·256 (gate, up, down) = 61,440 weights
#   in all: 2 × 61,440 + 1,000 × 64 (the tied embedding) = 186,880; one pass reads the same 186,880
SMALL = LlamaConfig(n_layer=2, d_model=64, n_head=4, n_head_kv=2, d_ff=256, vocab=1000, context=128,
                    rope_base=1e4, rms_eps=1e-5, tied=True)
Q8 = {"Q8_0": 186_880}


def _has_gguf() -> bool:
    try:
        import gguf  # noqa: F401
    except ImportError:
        return False
    return True


needs_gguf = pytest.mark.skipif(not _has_gguf(), reason='gguf not installed: pip install "nntutor[models]"')


def test_the_constants_these_numbers_were_worked_with():
    # recalibrated (benchmarks/gguf_cost.py)? work the numbers below again
    assert gguf_file.DEQUANTISE_NS["Q8_0"] == 4.0 and gguf_file.DEQUANTISE_NS["Q4_1"] == 7.0
    assert gguf_file.DEQUANTISE_NS["F32"] == 0.1 and max(gguf_file.DEQUANTISE_NS.values()) == 10.0
    assert (gguf_file.READ_NS, gguf_file.MAC_NS) == (0.35, 0.05)
    assert (gguf_file.STARTUP_SECONDS, gguf_file.OPEN_SECONDS_PER_VOCAB) == (0.4, 55e-6)
    assert (gguf_file.BASE_BYTES, gguf_file.METADATA_BYTES_PER_VOCAB) == (45_000_000, 4_000)


def test_one_pass_by_hand():
    e = estimate(SMALL, 200_000, 1, weights_by_type=Q8)
    assert e.dequantise_seconds == pytest.approx(186_880 * 4e-9)  # 747.52 µs
    # reading every weight once, 186,880 × 0.35 ns = 65.408 µs, and the one score: 2 layers × 2 × 1 × 1 × 64 × 0.05 ns
    assert e.compute_seconds == pytest.approx(65.408e-6 + 12.8e-9)
    assert e.seconds == pytest.approx(e.dequantise_seconds + e.compute_seconds)
    assert e.open_seconds == pytest.approx(1000 * 55e-6) and e.startup_seconds == 0.4  # 55 ms
    assert e.total_seconds == pytest.approx(0.4 + 0.055 + 747.52e-6 + 65.4208e-6)


def test_more_tokens_in_the_pass_cost_a_multiply_add_per_weight_each():
    e = estimate(SMALL, 200_000, 3, weights_by_type=Q8)
    # 186,880 × (0.35 + 2 × 0.05) ns = 84.096 µs; scores and sums: 2 × 2 layers × 3 × 3 × 64 × 0.05 ns = 115.2 ns
    assert e.compute_seconds == pytest.approx(84.096e-6 + 115.2e-9)
    assert e.dequantise_seconds == pytest.approx(747.52e-6)  # the weights are read once, whatever the tokens


def test_new_tokens_are_cached_passes_and_blocks_are_dequantised_again_unless_kept():
    one = estimate(SMALL, 200_000, 3, weights_by_type=Q8)
    kept = estimate(SMALL, 200_000, 3, weights_by_type=Q8, new_tokens=10, keep_all=True)
    dropped = estimate(SMALL, 200_000, 3, weights_by_type=Q8, new_tokens=10)
    # each new token reads every weight once more: 10 × 186,880 × 0.35 ns = 654.08 µs
    assert kept.compute_seconds - one.compute_seconds == pytest.approx(654.08e-6)
    assert kept.dequantise_seconds == pytest.approx(one.dequantise_seconds)
    # without keep_all, both blocks (2 × 61,440 weights) are dequantised again per token: 10 × 122,880 × 4 ns
    assert dropped.dequantise_seconds - one.dequantise_seconds == pytest.approx(4.9152e-3)
    # not the same as one pass over 13 tokens (what a longer prompt costs)
    assert estimate(SMALL, 200_000, 13, weights_by_type=Q8).compute_seconds != pytest.approx(kept.compute_seconds)


def test_the_logit_lens_is_one_output_product_per_layer():
    plain = estimate(SMALL, 200_000, 3, weights_by_type=Q8)
    lens = estimate(SMALL, 200_000, 3, weights_by_type=Q8, lens=True)
    assert lens.compute_seconds - plain.compute_seconds == pytest.approx(2 * 64_000 * 0.35e-9)  # 44.8 µs


def test_dequantisation_is_priced_by_type():
    mixed = estimate(SMALL, 200_000, 1, weights_by_type={"Q4_1": 122_880, "F32": 64_000})
    assert mixed.dequantise_seconds == pytest.approx((122_880 * 7 + 64_000 * 0.1) * 1e-9)  # 866.56 µs
    unknown = estimate(SMALL, 200_000, 1)  # no types given: the slowest (10 ns per weight)
    assert unknown.dequantise_seconds == pytest.approx(186_880 * 10e-9)
    untied = estimate(SMALL._replace(tied=False), 200_000, 1, weights_by_type={"Q8_0": 250_880})
    assert untied.dequantise_seconds == pytest.approx(250_880 * 4e-9)  # the output matrix too
    assert untied.compute_seconds == pytest.approx(65.408e-6 + 12.8e-9)  # a pass still reads one vocabulary matrix


def test_peak_memory_by_hand():
    e = estimate(SMALL, 200_000, 3, weights_by_type=Q8)
    start = 45_000_000 + 4_000 * 1000  # Python, and gguf's view of each of 3 × 1,000 metadata entries
    # while the embedding is dequantised: its share of the file, 200,000 × 64,000 / 186,880, and twice its floats
    dequantising = start + 200_000 * 64_000 / 186_880 + 2 * 64_000 * 4
    # at the last layer: the file, the embedding and one layer (125,440 floats), the widest tensor being dequantised
    # (64 × 256), activations 3 × (6·64 + 2·256 + 1000) + 3 × 3 × 4 heads, the cache 2 × 2 × 32 × 3
    last_layer = start + 200_000 + 125_440 * 4 + 16_384 * 4 + (3 * 1896 + 36) * 4 + 384 * 4
    assert last_layer == 49_791_728 and e.peak_bytes == int(max(dequantising, last_layer))
    kept = estimate(SMALL, 200_000, 3, weights_by_type=Q8, keep_all=True)
    assert kept.peak_bytes == 49_791_728 + (186_880 - 125_440) * 4 and "kept" in kept.held


def test_smollm2_sized_numbers_match_the_docstring():
    c = LlamaConfig(30, 576, 9, 3, 1536, 49152, 8192, 1e5, 1e-5, True)
    e = estimate(c, 98_400_000, 5, weights_by_type={"Q4_1": 106_168_320, "Q8_0": 28_311_552}, lens=True)
    assert e.dequantise_seconds == pytest.approx(106_168_320 * 7e-9 + 28_311_552 * 4e-9)
    assert e.open_seconds == pytest.approx(49_152 * 55e-6)
    # measured (benchmarks/gguf_cost.py compare): 3.8 s of CPU, 490–502 MB; the estimate is within 2× of both
    assert 3.8 / 2 <= e.total_seconds <= 3.8 * 2 and 490e6 / 2 <= e.peak_bytes <= 502e6 * 2


# ----------------------------------------------------------------- how the cost is said


def test_seconds_for_the_screen():
    from nntutor.walkthroughs._gguf import seconds_text

    assert [seconds_text(s) for s in (0.04, 1.23, 9.94, 42.7)] == ["0.0 s", "1.2 s", "9.9 s", "43 s"]


@needs_gguf
def test_open_prompt_estimates_extra_tokens_as_cached_passes(tmp_path):
    from nntutor.models.gguf_file import estimate_for
    from nntutor.walkthroughs._gguf import open_prompt

    path = tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1, quant="Q8_0"))
    prompt = open_prompt(path, "the cat", extra_tokens=6, keep_all=True)
    n = len(prompt.encoding.ids)
    assert prompt.estimate == estimate_for(prompt.loaded.model, n, new_tokens=6, keep_all=True)
    assert prompt.estimate.dequantise_seconds == pytest.approx(
        sum(prompt.loaded.model.weights_by_type().values()) * 4e-9 + 0.0, rel=0.01)  # Q8_0 matrices, F32 gains


@needs_gguf
def test_models_never_breaks_a_path_or_the_command_to_copy(tmp_path, monkeypatch):
    from nntutor.models.discover import describe, find_models
    from nntutor.render.models_view import models_parts
    from nntutor.render.output import plain_text

    folder = tmp_path / ("a-long-folder-name-" * 4)
    folder.mkdir()
    path = tiny_gguf.write(folder / "model.gguf", Tiny(n_layer=1))
    rows = [describe(f) for f in find_models(env={"NNTUTOR_MODELS": str(folder)}, home=tmp_path / "none", packages=False)]
    text = "".join(plain_text([part], 80, soft_wrap=soft) for part, soft in models_parts(rows))
    lines = text.splitlines()
    assert f"   {path}" in lines and f"nntutor lesson real-model --model {path}" in lines  # whole, on one line each
    assert all(len(line) <= 80 for line in lines if path not in line)
    said = next(line for line in lines if "can run it" in line) + " " + lines[lines.index(f"   {path}") - 1]
    assert "MB of memory and" in said and "(estimated)" in said
    assert "bits per weight" in " ".join(text.split())
    assert "The same --model runs in pipeline, next-token, generate and attention" in " ".join(text.split())


# ----------------------------------------------------------------- Ctrl-C


def _interrupt_at_dequantise(*_args, **_kwargs):
    raise KeyboardInterrupt


@needs_gguf
def test_ctrl_c_while_the_weights_are_dequantised_is_one_line_and_130(tmp_path, run_cli, monkeypatch):
    import gguf

    path = tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1))
    monkeypatch.setattr(gguf, "dequantize", _interrupt_at_dequantise)
    out = tmp_path / "out.md"
    result = run_cli("lesson", "real-model", "--model", path, "-o", str(out))
    assert result.exit_code == 130 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == "Interrupted." and "layer by layer" in lines[0] and len(lines) == 2  # the notice, then one line
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.gguf"]  # no output file, no temporary file


@needs_gguf
def test_ctrl_c_while_real_model_opens_the_file_is_one_line_and_130(tmp_path, run_cli, monkeypatch):
    import gguf

    path = tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1))
    monkeypatch.setattr(gguf, "GGUFReader", _interrupt_at_dequantise)
    result = run_cli("lesson", "real-model", "--model", path)
    assert result.exit_code == 130 and result.stdout == "" and result.stderr == "Interrupted.\n"


@needs_gguf
def test_ctrl_c_while_models_reads_the_files_is_one_line_and_130(tmp_path, run_cli, monkeypatch):
    import gguf

    tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1))
    monkeypatch.setenv("NNTUTOR_MODELS", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-hub"))
    monkeypatch.setattr(gguf, "GGUFReader", _interrupt_at_dequantise)
    result = run_cli("models")
    assert result.exit_code == 130 and result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "Interrupted."


# The driver slows every dequantisation (and file opening) down, so that a real SIGINT arrives while
# the model loads; the program is otherwise the installed command's own entry point.
DRIVER = """
import sys, time
import gguf
slow_dequantize, slow_reader = gguf.dequantize, gguf.GGUFReader
def dequantize(*args):
    time.sleep(0.5)
    return slow_dequantize(*args)
def reader(*args):
    time.sleep(0.5)
    return slow_reader(*args)
gguf.dequantize, gguf.GGUFReader = dequantize, reader
from nntutor.cli.entry import main
sys.argv[0] = "nntutor"
main()
"""


def _interrupted(args: list[str], ready: bytes, cwd: Path) -> tuple[int, bytes, bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NNTUTOR_HOME=str(cwd / "home"), NO_COLOR="1", COLUMNS="80",
               NNTUTOR_MODELS=str(cwd), HF_HUB_CACHE=str(cwd / "no-hub"))
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=env, cwd=cwd)
    try:
        err = b""
        deadline = time.monotonic() + 60
        while ready not in err and time.monotonic() < deadline:
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                break
            err += chunk
        time.sleep(0.2)  # inside the slowed-down call
        proc.send_signal(signal.SIGINT)
        out, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, out, err + rest


@pytest.mark.slow
@needs_gguf
def test_sigint_while_a_model_runs_in_real_model(tmp_path):
    path = tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=2))
    code, out, err = _interrupted(["lesson", "real-model", "--model", path, "-o", "out.md"], b"layer by layer", tmp_path)
    assert code == 130, err.decode()
    assert out == b"" and b"Traceback" not in err and err.decode().strip().splitlines()[-1] == "Interrupted."
    assert not (tmp_path / "out.md").exists() and not list(tmp_path.glob("*.tmp*"))
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").rglob("*.log"))


@pytest.mark.slow
@needs_gguf
def test_sigint_while_models_reads_a_file(tmp_path):
    tiny_gguf.write(tmp_path / "m.gguf", Tiny(n_layer=1))
    code, out, err = _interrupted(["models"], b"Reading the ", tmp_path)
    assert code == 130, err.decode()
    assert out == b"" and b"Traceback" not in err and err.decode().strip().splitlines()[-1] == "Interrupted."
