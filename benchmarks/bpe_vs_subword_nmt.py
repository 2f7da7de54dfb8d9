"""Time ``nntutor lesson bpe`` against ``subword-nmt learn-bpe`` on the same corpus.

    python benchmarks/bpe_vs_subword_nmt.py                 # 1 MB corpus, 1000 merges, 5 runs
    python benchmarks/bpe_vs_subword_nmt.py --runs 3 --merges 300 --corpus /tmp/c.txt

The corpus is assembled by ``bpe_corpus.py`` when the file does not exist. Each
run is a fresh process (start-up included); the commands alternate so that load
from other programs falls on both alike. Wall time, CPU time (user + system of
the child) and peak memory are reported as medians, and the merges of both
tools are checked to be identical first. Needs subword-nmt on PATH (or next to
this Python).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bpe_corpus  # noqa: E402


def _subword_nmt() -> str:
    found = shutil.which("subword-nmt") or str(Path(sys.executable).with_name("subword-nmt"))
    if not Path(found).exists():
        sys.exit("subword-nmt not found (pip install subword-nmt==0.3.8)")
    return found


def _run(command: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in KB) of one run."""
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        sys.exit(f"failed ({status}): {' '.join(command)}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(Path(tempfile.gettempdir()) / "nntutor_bpe_corpus.txt"))
    parser.add_argument("--merges", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--format", default="text", choices=("text", "json"), help="nntutor's output format")
    args = parser.parse_args(argv)
    corpus = Path(args.corpus)
    if not corpus.exists():
        bpe_corpus.main([str(corpus)])
    env = {**os.environ, "PYTHONPATH": str(HERE.parent), "NO_COLOR": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        codes = Path(tmp) / "codes.txt"
        ours = [sys.executable, "-m", "nntutor", "lesson", "bpe", "--file", str(corpus), "--merges", str(args.merges)]
        theirs = [_subword_nmt(), "learn-bpe", "-s", str(args.merges), "-i", str(corpus), "-o", str(codes)]

        result = subprocess.run([*ours, "--format", "json"], env=env, capture_output=True, text=True, check=True)
        merges = [tuple(pair) for pair in json.loads(result.stdout)["outputs"]["merges"]]
        subprocess.run(theirs, env=env, capture_output=True, check=True)
        lines = codes.read_text(encoding="utf-8").split("\n")
        reference = [tuple(line.split(" ")) for line in lines[1:] if line]
        print(f"corpus {corpus} ({corpus.stat().st_size:,} bytes); {len(merges)} merges; "
              f"identical to subword-nmt: {merges == reference}")

        if args.format == "json":
            ours = [*ours, "--format", "json"]
        samples: dict[str, list[tuple[float, float, int]]] = {"nntutor": [], "subword-nmt": []}
        for _ in range(args.runs):
            samples["nntutor"].append(_run(ours, env))
            samples["subword-nmt"].append(_run(theirs, env))
    medians = {}
    for name, rows in samples.items():
        wall = statistics.median(r[0] for r in rows)
        cpu = statistics.median(r[1] for r in rows)
        peak = max(r[2] for r in rows) / 1024
        medians[name] = (wall, cpu)
        print(f"{name:12s} wall {wall:6.2f} s   cpu {cpu:6.2f} s   peak {peak:5.0f} MB")
    (w1, c1), (w2, c2) = medians["nntutor"], medians["subword-nmt"]
    print(f"ratio nntutor / subword-nmt: wall {w1 / w2:.2f}   cpu {c1 / c2:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
