"""What a GGUF run costs: the up-front estimate against a measured run, and where the time goes.

    python benchmarks/gguf_cost.py calibrate            # seconds per weight of gguf's dequantisation, by type
    python benchmarks/gguf_cost.py compare              # estimate vs measured: tiny files of each type, SmolLM2
    python benchmarks/gguf_cost.py compare --json R.json --types Q8_0   # one type only; the numbers as JSON

``calibrate`` writes one small Llama file per tensor type with the test suite's writer
(``tests/tiny_gguf.py``: d_model 512, feed-forward 1536, as wide as a small real model's
rows), dequantises every matrix once, as a lesson does (the mapped bytes read for the first
time), and prints nanoseconds per weight: the numbers behind
:data:`nntutor.models.gguf_file.DEQUANTISE_NS`. With SmolLM2 present it also times the
stages of a run on it (gguf opening the file, the tokenizer, dequantising, the forward pass).

``compare`` runs ``nntutor lesson real-model --model FILE`` in a fresh process for each file
(a tiny one per type, and SmolLM2-135M when ``nntutor models`` finds it) and sets its wall
time, CPU time and peak memory (``getrusage`` of the child) next to
:func:`nntutor.models.gguf_file.estimate`'s ``total_seconds`` and ``peak_bytes`` for the
same run. The ratio is measured ÷ estimated; the target is a factor of 2 either way
(:data:`FACTOR`). ``benchmarks/run.py`` row 10 runs it and shows the result. BLAS is left
at its default threads here, as a learner's run is (the lesson itself runs its products
on one thread).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FACTOR = 2.0  # the estimate is within this factor of the measured run (time and memory)
TYPES = ("F32", "F16", "Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q6_K")
PROMPT = "The capital of France is"
CHILD = r"""
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(json.loads(sys.argv[1]), stdin=subprocess.DEVNULL, capture_output=True)
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_bytes": usage.ru_maxrss * 1024,
                  "code": done.returncode, "stderr": done.stderr.decode("utf-8", "replace")[-500:]}))
"""


def _setup() -> None:
    sys.path.insert(0, str(HERE.parent))
    sys.path.insert(0, str(HERE.parent / "tests"))


def _tiny(folder: Path, quant: str) -> str:
    import tiny_gguf

    spec = tiny_gguf.Tiny(n_layer=2, d_model=512, n_head=8, n_head_kv=2, d_ff=1536, quant=quant)
    return tiny_gguf.write(folder / f"tiny-{quant}.gguf", spec)


def _smollm2() -> str | None:
    from nntutor.models.discover import describe, find_models

    found = [f for f in find_models() if "smollm2" in f.path.name.lower() and not describe(f).problem]
    return str(found[0].path) if found else None


def calibrate(args) -> int:
    _setup()
    import numpy as np

    from nntutor.models.gguf_file import DEQUANTISE_NS, open_gguf

    print("| type | weights | seconds (first read) | ns per weight | the estimate's |")
    print("|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for quant in args.types:
            model = open_gguf(_tiny(Path(tmp), quant))
            seconds, weights = 0.0, 0
            for name, entry in model.tensors.items():
                if entry.type_name != quant:
                    continue
                began = time.perf_counter()
                model.tensor(name)
                seconds += time.perf_counter() - began
                weights += int(np.prod(entry.shape))
            print(f"| {quant} | {weights:,} | {seconds:.3f} | {seconds / weights * 1e9:.2f} | {DEQUANTISE_NS[quant]:.1f} |")
    path = args.model or _smollm2()
    if path:
        stages(path)
    return 0


def stages(path: str) -> None:
    """Where one run's time and memory go, stage by stage, on ``path`` (one process)."""
    import numpy as np

    from nntutor.core import llama
    from nntutor.models.gguf_file import open_gguf, tokenizer_of
    from nntutor.models.threads import one_thread

    def rss_mb() -> float:
        with open("/proc/self/status", encoding="ascii") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024

    rows = []
    began = time.perf_counter()
    model = open_gguf(path)
    rows.append(("gguf opens the file (metadata)", time.perf_counter() - began, rss_mb()))
    began = time.perf_counter()
    tokenizer = tokenizer_of(model)
    ids = tokenizer.encode(PROMPT).ids
    rows.append(("the tokenizer built, the prompt encoded", time.perf_counter() - began, rss_mb()))
    by_type: dict[str, float] = {}
    weights = {}
    for name, entry in model.tensors.items():
        began = time.perf_counter()
        weights[name] = model.tensor(name)
        by_type[entry.type_name] = by_type.get(entry.type_name, 0.0) + time.perf_counter() - began
    for kind, seconds in by_type.items():
        count = sum(int(np.prod(t.shape)) for t in model.tensors.values() if t.type_name == kind)
        rows.append((f"dequantise {kind} ({count:,} weights, {seconds / count * 1e9:.2f} ns each)", seconds, rss_mb()))
    config = model.config
    with one_thread():
        began = time.perf_counter()
        llama.forward(config, weights.__getitem__, ids, zoom=llama.Zoom(config.n_layer // 2, 0, len(ids) - 1), lens=True)
        rows.append((f"forward pass, {len(ids)} tokens, logit lens (1 thread)", time.perf_counter() - began, rss_mb()))
    print(f"\n{path}:\n\n| stage | seconds | peak MB so far |\n|---|---:|---:|")
    for what, seconds, mb in rows:
        print(f"| {what} | {seconds:.3f} | {mb:.0f} |")


def _measure(argv: list[str], env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(argv)], capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout)


def compare(args) -> int:
    _setup()
    from nntutor.models.gguf_file import estimate_for, open_gguf

    env = dict(os.environ)
    env["PYTHONPATH"] = str(HERE.parent) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("FORCE_COLOR", None)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        env["NNTUTOR_HOME"] = str(Path(tmp) / "home")
        files = [(quant, _tiny(Path(tmp), quant)) for quant in args.types]
        big = args.model or (None if args.no_smollm2 else _smollm2())
        if big:
            files.append(("SmolLM2", big))
        for label, path in files:
            model = open_gguf(path)
            from nntutor.models.gguf_file import tokenizer_of

            n = len(tokenizer_of(model).encode(PROMPT).ids)
            cost = estimate_for(model, n, lens=True)
            argv = [sys.executable, "-m", "nntutor", "lesson", "real-model", "--model", path]
            runs = [_measure(argv, env) for _ in range(args.runs)]
            failed = [r for r in runs if r["code"] != 0]
            if failed:
                print(f"{label}: the lesson exited {failed[0]['code']}: {failed[0]['stderr']}", file=sys.stderr)
                return 1
            wall = statistics.median(r["wall"] for r in runs)
            cpu = statistics.median(r["cpu"] for r in runs)
            peak = statistics.median(r["peak_bytes"] for r in runs)
            results.append({
                "file": label, "tokens": n, "estimated_s": cost.total_seconds, "wall_s": wall, "cpu_s": cpu,
                "estimated_mb": cost.peak_bytes / 1e6, "peak_mb": peak / 1e6,
                "time_ratio": cpu / cost.total_seconds, "memory_ratio": peak / cost.peak_bytes,
            })
    worst = max(max(r["time_ratio"], 1 / r["time_ratio"], r["memory_ratio"], 1 / r["memory_ratio"]) for r in results)
    print("| file | tokens | estimated s | CPU s | wall s | CPU ÷ estimate | estimated MB | peak MB | peak ÷ estimate |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['file']} | {r['tokens']} | {r['estimated_s']:.2f} | {r['cpu_s']:.2f} | {r['wall_s']:.2f} | "
              f"{r['time_ratio']:.2f}× | {r['estimated_mb']:.0f} | {r['peak_mb']:.0f} | {r['memory_ratio']:.2f}× |")
    print(f"\nworst factor {worst:.2f} (target: within {FACTOR:g}× either way): {'yes' if worst <= FACTOR else 'no'}")
    if args.json:
        args.json.write_text(json.dumps({"rows": results, "worst_factor": worst, "factor": FACTOR}) + "\n", encoding="utf-8")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("calibrate", "compare"))
    parser.add_argument("--types", type=lambda s: tuple(s.split(",")), default=TYPES, help="tensor types, e.g. Q8_0,Q4_K")
    parser.add_argument("--model", default=None, help="a GGUF file instead of the SmolLM2 file nntutor models finds")
    parser.add_argument("--no-smollm2", action="store_true", help="compare: the tiny files only")
    parser.add_argument("--runs", type=int, default=3, help="compare: runs per file (the median is shown)")
    parser.add_argument("--json", type=Path, default=None, help="compare: also write the numbers here")
    args = parser.parse_args(argv)
    return calibrate(args) if args.mode == "calibrate" else compare(args)


if __name__ == "__main__":
    raise SystemExit(main())
