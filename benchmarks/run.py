"""nntutor's benchmark suite: each command next to its baseline, in one run.

Every measurement runs the command in a fresh process, started by a tiny
wrapper process whose only child it is, so the wrapper's
``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is that command's peak memory; wall
time is measured around the child in the wrapper. Commands are interleaved
(one round runs every command once, in a shuffled order) so that load on the
machine, and whatever ran just before, hit both sides alike; the table shows
medians over the rounds.

    python benchmarks/run.py               # 5 rounds, full sizes, prints a Markdown table
    python benchmarks/run.py --runs 9      # more rounds
    python benchmarks/run.py --quick       # 1 round, small sizes: proves the suite works (CI)
    python benchmarks/run.py --rows 1,L,4  # only some rows (L: every lesson)
    python benchmarks/run.py --rows L --lessons pipeline,generate   # only those lessons

The rows: 1, ``--help`` and ``list`` against the import floor; L, one row per
lesson at its default inputs (text to a pipe), found from ``lessons/*.toml`` in
the checkout (each file's ``name``), against the floor, or the floor plus
``import sympy`` for a lesson whose walkthrough module
(``nntutor/walkthroughs/<builder>.py``) imports ``nntutor.symbolic``; 4, a big
attention run against a NumPy-only script; 5, BPE against subword-nmt and
HuggingFace ``tokenizers``; 6, one training step of the tiny model in NumPy
against the same step in PyTorch (``train_step.py``: same batch, float64, one
thread each; each side times its own steps, so importing torch is not counted);
7, ``nntutor train`` with the shipped settings, next to PyTorch running as many
steps (a whole process each, for scale: the target is about a minute); 8,
generating 256 tokens with the KV cache against recomputing the whole sequence
for every token (``generate_cache.py``: the same tokens, each side timed inside);
9, next-token latency of the real-model lesson's NumPy Llama against transformers on
SmolLM2-135M (``llama_vs_transformers.py``: the same float32 weights, one thread each, KV
caches; it interleaves the two itself, so it runs once, after the rounds); 10, the cost the
real-model lesson says before it reads a GGUF file's weights (``gguf_file.estimate``) against its
measured CPU time and peak memory (``gguf_cost.py compare``: a tiny file of each tensor type, and
SmolLM2 when found; target: within 2× either way; once, after the rounds). Row 9 is skipped,
with the reason shown, when no SmolLM2 GGUF file is found or gguf, torch or transformers is
missing, and under ``--quick`` unless ``--rows`` names it. The real-model lesson itself (its
built-in model) has its row L like every lesson.
The attention and backprop lessons were rows 2 and 3 before every lesson had a row:
``--rows 2`` and ``--rows 3`` still select them.

nntutor runs as the ``nntutor`` command pip installs (a copy of that
console-script file, calling ``nntutor.cli.entry:main``) with PYTHONPATH set to the
checkout given by ``--repo`` (default: the parent of this folder), from a
temporary folder, so the code measured is the checkout's (byte-compiled first,
as an installed package is). Ours and the baselines get the same environment, passed on as it
is (``OPENBLAS_*`` and thread settings included). The BPE row builds its corpus
with ``bpe_corpus.py``; a row whose lesson or tool is missing is skipped with a
note. No target is enforced: ``meets?`` just reports.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.util
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
FLOOR_IMPORTS = "import numpy, rich.console, rich.table, typer"
LESSON_WALL_TARGET = 1.5
# Lessons that had their own, tighter rows (2 and 3) before every lesson had one:
# their row ids still select them, and their targets stay as they were.
LESSON_ROW_ALIASES = {"attention": "2", "backprop": "3"}
LESSON_WALL_TARGETS = {"attention": 1.25, "backprop": 1.25}
LATENCY_TARGET = 1.5  # row 9: next-token latency, ours ÷ transformers
COST_FACTOR = 2.0  # row 10: the GGUF estimate within this factor of the measured run (benchmarks/gguf_cost.py FACTOR)

# The wrapper: runs argv (its only child), streams the child's stdout through a
# pipe and discards it, then reports wall time and the child's peak RSS.
WRAPPER = r"""
import json, resource, subprocess, sys, time
argv = json.loads(sys.argv[1])
start = time.perf_counter()
child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
out_bytes = 0
while True:
    chunk = child.stdout.read(65536)
    if not chunk:
        break
    out_bytes += len(chunk)
err = child.stderr.read()
code = child.wait()
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
peak = usage.ru_maxrss
peak_bytes = peak if sys.platform == "darwin" else peak * 1024
print(json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_bytes": peak_bytes, "code": code, "stdout_bytes": out_bytes,
                  "stderr": err.decode("utf-8", "replace")[-1500:]}))
"""


@dataclass
class Command:
    """One command line to measure (``key`` identifies it across rows)."""

    key: str
    argv: list[str]
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    peaks: list[int] = field(default_factory=list)
    failure: str | None = None
    inner: bool = False  # the command times itself: its last stderr line is {"seconds_per_step", "cpu_seconds_per_step"}

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus)

    @property
    def peak_mb(self) -> float:
        return statistics.median(self.peaks) / 1e6


@dataclass
class Row:
    """One line of the table: ours against a baseline, with an optional target."""

    number: str
    what: str
    ours: str
    baseline: str
    baseline_label: str
    wall_target: float | None = None
    memory_target: float | None = None
    skip: str | None = None  # why the row was not measured
    alias: str | None = None  # another row id that selects this row (``--rows``)
    lesson: str | None = None  # the lesson a per-lesson (L) row runs
    measured: dict | None = None  # a row measured by its own script (9): its JSON result


def measure(argv: list[str], *, cwd: Path, env: dict[str, str]) -> dict:
    """Run ``argv`` once in a fresh process; its wall time and peak memory."""
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, json.dumps(argv)],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"measuring wrapper failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)


def lesson_available(python: list[str], name: str, *, cwd: Path, env: dict[str, str]) -> str | None:
    """None when ``nntutor lesson NAME`` exists, else why not."""
    done = subprocess.run(
        [*python, "lesson", name, "--help"], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode == 0:
        return None
    if done.returncode == 2 and "no lesson named" in done.stderr:
        return f"`nntutor lesson {name}` is not available in this checkout"
    return f"`nntutor lesson {name} --help` failed (exit {done.returncode}): {done.stderr.strip()[-200:]}"


def imports_symbolic(module: Path) -> bool:
    """Whether the walkthrough module at ``module`` imports ``nntutor.symbolic`` (anywhere in it)."""
    tree = ast.parse(module.read_text(encoding="utf-8"), filename=str(module))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(alias.name == "nntutor.symbolic" or alias.name.startswith("nntutor.symbolic.") for alias in node.names):
                return True
        elif isinstance(node, ast.ImportFrom):
            name = node.module or ""
            if node.level == 0 and (name == "nntutor.symbolic" or name.startswith("nntutor.symbolic.")):
                return True
            if node.level == 0 and name == "nntutor" and any(alias.name == "symbolic" for alias in node.names):
                return True
            if node.level > 0 and (name == "symbolic" or name.startswith("symbolic.")):  # from ..symbolic import x
                return True
            if node.level > 0 and not name and any(alias.name == "symbolic" for alias in node.names):  # from .. import symbolic
                return True
    return False


@dataclass
class LessonFile:
    """A lesson found in ``lessons/``: its name, and whether its walkthrough loads sympy."""

    file: Path
    name: str | None = None
    symbolic: bool = False
    problem: str | None = None  # why the file could not be used


def find_lessons(repo: Path) -> list[LessonFile]:
    """Every ``lessons/*.toml`` of the checkout, sorted by lesson name (read with tomllib, never executed)."""
    found: list[LessonFile] = []
    for path in sorted((repo / "lessons").glob("*.toml")):
        lesson = LessonFile(path)
        found.append(lesson)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            lesson.problem = f"`lessons/{path.name}` could not be read: {error}"
            continue
        name, builder = data.get("name"), data.get("builder")
        if not isinstance(name, str) or not name:
            lesson.problem = f"`lessons/{path.name}` has no `name`"
            continue
        lesson.name = name
        if isinstance(builder, str) and builder:
            module = repo / "nntutor" / "walkthroughs" / f"{builder.replace('-', '_')}.py"
            # A missing or broken builder is left to the lesson's own run to report.
            with contextlib.suppress(OSError, SyntaxError, UnicodeDecodeError):
                lesson.symbolic = imports_symbolic(module)
    return sorted(found, key=lambda lesson: (lesson.name or "", lesson.file.name))


def subword_nmt_argv() -> list[str] | None:
    """The ``subword-nmt`` command of this Python, or None when it is not installed."""
    if importlib.util.find_spec("subword_nmt") is None:
        return None
    script = Path(sys.executable).parent / "subword-nmt"
    if script.exists():
        return [str(script)]
    found = shutil.which("subword-nmt")
    return [found] if found else [sys.executable, "-m", "subword_nmt.subword_nmt"]


def machine() -> str:
    """nproc, CPU model, memory, Python version (for the README's table)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown memory"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024**2:.1f} GiB RAM"
                break
    except OSError:
        pass
    blas = ", ".join(f"{k}={os.environ[k]}" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS") if k in os.environ)
    return (
        f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}), "
        f"{cpu}, {memory}, Python {platform.python_version()} on {platform.system()} {platform.release()}"
        + (f", {blas}" if blas else "")
    )


# What pip writes for ``[project.scripts] nntutor = "nntutor.cli.entry:main"`` (less the #! line).
CONSOLE_SCRIPT = """\
import sys
from nntutor.cli.entry import main
if __name__ == '__main__':
    sys.argv[0] = sys.argv[0].removesuffix('.exe')
    sys.exit(main())
"""


def build(args: argparse.Namespace, repo: Path, work: Path, env: dict[str, str]) -> tuple[list[Row], dict[str, Command]]:
    py = [sys.executable]
    script = work / "nntutor"
    script.write_text(CONSOLE_SCRIPT, encoding="utf-8")
    ours = [*py, str(script)]
    n, d = (256, 64) if args.quick else (2048, 512)
    merges = 100 if args.quick else 1000
    corpus_size = 100_000 if args.quick else 1_000_000

    commands = {
        "floor": Command("floor", [*py, "-c", FLOOR_IMPORTS]),
        "floor+sympy": Command("floor+sympy", [*py, "-c", FLOOR_IMPORTS + ", sympy"]),
        "help": Command("help", [*ours, "--help"]),
        "list": Command("list", [*ours, "list"]),
        "attention-big": Command(
            "attention-big", [*ours, "lesson", "attention", "--seq-len", str(n), "--d-model", str(d), "--seed", "0"]
        ),
        "attention-numpy": Command(
            "attention-numpy",
            [*py, str(HERE / "attention_numpy.py"), "--seq-len", str(n), "--d-model", str(d), "--seed", "0"],
        ),
    }
    floor = f'`python -c "{FLOOR_IMPORTS}"`'
    floor_sympy = f'`python -c "{FLOOR_IMPORTS}, sympy"`'
    rows = [
        Row("1", "`nntutor --help`", "help", "floor", floor, wall_target=1.15),
        Row("1", "`nntutor list`", "list", "floor", floor, wall_target=1.15),
    ]
    seen: set[str] = set()
    for lesson in find_lessons(repo):
        if lesson.name is None or lesson.name in seen:
            what = f"`lessons/{lesson.file.name}`" if lesson.name is None else f"`nntutor lesson {lesson.name}`"
            why = lesson.problem or f"`lessons/{lesson.file.name}` names lesson {lesson.name!r} again"
            rows.append(Row("L", what, "", "floor", floor, wall_target=LESSON_WALL_TARGET, skip=why, lesson=lesson.name))
            continue
        seen.add(lesson.name)
        key = f"lesson:{lesson.name}"
        commands[key] = Command(key, [*ours, "lesson", lesson.name])
        rows.append(Row(
            "L",
            f"`nntutor lesson {lesson.name}`",
            key,
            "floor+sympy" if lesson.symbolic else "floor",
            floor_sympy if lesson.symbolic else floor,
            wall_target=LESSON_WALL_TARGETS.get(lesson.name, LESSON_WALL_TARGET),
            alias=LESSON_ROW_ALIASES.get(lesson.name),
            lesson=lesson.name,
        ))
    rows += [
        Row(
            "4",
            f"`nntutor lesson attention --seq-len {n} --d-model {d} --seed 0` (text, elided)",
            "attention-big",
            "attention-numpy",
            "NumPy-only script (`benchmarks/attention_numpy.py`)",
            wall_target=1.3,
            memory_target=1.3,
        ),
    ]

    corpus = work / "corpus.txt"
    bpe_what = f"`nntutor lesson bpe --file corpus --merges {merges}` ({corpus_size // 1000} KB of prose)"
    bpe_missing = lesson_available(ours, "bpe", cwd=work, env=env)
    subword = subword_nmt_argv()
    bpe_rows = [
        Row("5", bpe_what, "bpe", "subword-nmt", f"`subword-nmt learn-bpe -s {merges}`", wall_target=0.5),
    ]
    has_hf = importlib.util.find_spec("tokenizers") is not None
    bpe_rows.append(Row("5", bpe_what, "bpe", "hf-tokenizers", "HuggingFace `tokenizers` BpeTrainer (Rust)"))
    if not has_hf:
        bpe_rows[1].skip = "HuggingFace `tokenizers` is not installed"
    if subword is None:
        bpe_rows[0].skip = "subword-nmt is not installed (pip install subword-nmt)"
    if bpe_missing:
        for row in bpe_rows:
            row.skip = row.skip or bpe_missing
    if any(row.skip is None for row in bpe_rows) and wanted(args, "5"):
        subprocess.run(
            [sys.executable, str(HERE / "bpe_corpus.py"), str(corpus), "--size", str(corpus_size)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        commands["bpe"] = Command("bpe", [*ours, "lesson", "bpe", "--file", str(corpus), "--merges", str(merges)])
        if subword is not None:
            commands["subword-nmt"] = Command(
                "subword-nmt",
                [*subword, "learn-bpe", "-s", str(merges), "-i", str(corpus), "-o", str(work / "codes.subword-nmt")],
            )
        if has_hf:
            commands["hf-tokenizers"] = Command(
                "hf-tokenizers", [*py, str(HERE / "hf_bpe.py"), str(corpus), "--merges", str(merges)]
            )
    rows += bpe_rows

    # 6: one training step of the tiny model, NumPy (nntutor's core) against PyTorch, same batch,
    # float64, one thread each; each side times its own steps (the import of torch is not counted).
    # 7: `nntutor train` with the shipped settings, against PyTorch running as many steps, for scale.
    step_flags = ["--steps", "5", "--repeats", "1", "--warmup", "2"] if args.quick else ["--steps", "40", "--repeats", "3"]
    train_steps = "20" if args.quick else "1200"
    commands["step-numpy"] = Command("step-numpy", [*py, str(HERE / "train_step.py"), "--impl", "numpy", *step_flags], inner=True)
    commands["step-torch"] = Command("step-torch", [*py, str(HERE / "train_step.py"), "--impl", "torch", *step_flags], inner=True)
    commands["train"] = Command("train", [*ours, "train", "--steps", train_steps, "-o", str(work / "model.npz")])
    commands["train-torch"] = Command(
        "train-torch", [*py, str(HERE / "train_step.py"), "--impl", "torch", "--steps", train_steps, "--repeats", "1", "--warmup", "0"]
    )
    has_torch = importlib.util.find_spec("torch") is not None
    rows += [
        Row("6", "one training step of the tiny model (batch 16 × 32 tokens, d 32, 2 layers), seconds per step",
            "step-numpy", "step-torch", "the same step in PyTorch (autograd, `torch.optim.AdamW`), float64, 1 thread",
            wall_target=1.5, skip=None if has_torch else "PyTorch is not installed (the oracle extra)"),
        Row("7", f"`nntutor train --steps {train_steps}` (the shipped settings), whole command", "train", "train-torch",
            f"PyTorch: {train_steps} steps of the same model, whole process", skip=None if has_torch else "PyTorch is not installed"),
    ]
    # 8: generation with the KV cache against recomputing the whole sequence for every token
    # (d_model 64, 256 new tokens), each side timing its own tokens; the target: at least 4× faster.
    gen_flags = ["--tokens", "32"] if args.quick else ["--tokens", "256"]
    commands["gen-cache"] = Command("gen-cache", [*py, str(HERE / "generate_cache.py"), "--mode", "cache", *gen_flags], inner=True)
    commands["gen-recompute"] = Command(
        "gen-recompute", [*py, str(HERE / "generate_cache.py"), "--mode", "recompute", *gen_flags], inner=True
    )
    rows.append(Row("8", f"generating {gen_flags[1]} tokens with the KV cache (d 64, 2 layers, 4 heads), seconds per token",
                    "gen-cache", "gen-recompute", "recomputing the whole sequence for every token (the same tokens)",
                    wall_target=0.25))
    rows.append(Row("9", "next-token latency, real-model's NumPy Llama on SmolLM2-135M (1 thread, KV cache)",
                    "", "", "transformers `LlamaForCausalLM`, same float32 weights", wall_target=LATENCY_TARGET))
    if args.quick and not (args.rows and "9" in args.rows):
        rows[-1].skip = "not run with --quick (it loads SmolLM2 twice, about a minute); `--rows 9` runs it"
    # 10: the cost said before a GGUF model runs (gguf_file.estimate) against the measured run
    rows.append(Row("10", "`nntutor lesson real-model --model F.gguf`: CPU time and peak memory ÷ the estimate said "
                    "up front (worst of the tiny files of each type and SmolLM2)", "", "",
                    "the estimate (`nntutor.models.gguf_file.estimate`)", wall_target=COST_FACTOR))
    if importlib.util.find_spec("gguf") is None:
        rows[-1].skip = 'gguf is not installed (pip install "nntutor[models]")'
    return rows, commands


def latency_row(row: Row, args: argparse.Namespace, repo: Path, work: Path, env: dict[str, str]) -> None:
    """Row 9: run ``llama_vs_transformers.py`` once and keep its result (or why it skipped) in the row."""
    out = work / "latency.json"
    steps, rounds = ("5", "1") if args.quick else ("20", "3")
    done = subprocess.run(
        [sys.executable, str(HERE / "llama_vs_transformers.py"), "--threads", "1", "--steps", steps, "--rounds", rounds,
         "--json", str(out), *(["--model", str(args.model)] if args.model else [])],
        cwd=work, env=env, capture_output=True, text=True, check=False,
    )
    if done.returncode != 0 or not out.exists():
        row.skip = f"`llama_vs_transformers.py` failed (exit {done.returncode}): {done.stderr.strip()[-300:]}"
        return
    result = json.loads(out.read_text(encoding="utf-8"))
    if "skipped" in result:
        row.skip = result["skipped"]
    else:
        row.measured = result


def cost_row(row: Row, args: argparse.Namespace, work: Path, env: dict[str, str]) -> None:
    """Row 10: run ``gguf_cost.py compare`` once (tiny files; SmolLM2 too when found) and keep its result."""
    out = work / "cost.json"
    done = subprocess.run(
        [sys.executable, str(HERE / "gguf_cost.py"), "compare", "--json", str(out),
         *(["--runs", "1", "--types", "Q8_0,Q4_K", "--no-smollm2"] if args.quick else ["--runs", "3"]),
         *(["--model", str(args.model)] if args.model else [])],
        cwd=work, env=env, capture_output=True, text=True, check=False,
    )
    if done.returncode != 0 or not out.exists():
        row.skip = f"`gguf_cost.py compare` failed (exit {done.returncode}): {done.stderr.strip()[-300:]}"
        return
    row.measured = json.loads(out.read_text(encoding="utf-8"))


def cost_line(row: Row, target: str, quick: bool) -> tuple[str, str, dict]:
    """Row 10's table line, its note and its record, from ``gguf_cost.py``'s result."""
    m = row.measured
    worst = max(m["rows"], key=lambda r: max(r["time_ratio"], 1 / r["time_ratio"], r["memory_ratio"], 1 / r["memory_ratio"]))
    meets = ("yes" if m["worst_factor"] <= m["factor"] else "**no**") if not quick else "n/a (quick)"
    line = (f"| {row.number} | {row.what} | {worst['cpu_s']:.3f} | {worst['peak_mb']:.0f} | {row.baseline_label} "
            f"({worst['file']}) | {worst['estimated_s']:.3f} | {worst['estimated_mb']:.0f} | {worst['time_ratio']:.2f}× | – | "
            f"{worst['memory_ratio']:.2f}× | – | {target} either way | {meets} |")
    note = "- row 10: measured ÷ estimated per file: " + "; ".join(
        f"{r['file']} {r['time_ratio']:.2f}× time, {r['memory_ratio']:.2f}× memory" for r in m["rows"])
    return line, note, {"row": row.number, "lesson": "real-model", "what": row.what, "baseline": row.baseline_label,
                        **m, "meets": meets.strip("*")}


def wanted(args: argparse.Namespace, number: str, alias: str | None = None) -> bool:
    return args.rows is None or number in args.rows or (alias is not None and alias in args.rows)


def ratio(ours: float, base: float) -> float:
    return ours / base if base > 0 else float("inf")


def verdict(value: float, target: float | None) -> str:
    if target is None:
        return ""
    return "yes" if value <= target else "**no**"


def table(rows: list[Row], commands: dict[str, Command], *, quick: bool = False) -> tuple[str, list[dict]]:
    """The Markdown table (plus notes on skipped rows) and the same data as records."""
    lines = [
        "| # | what | ours: s | ours: MB | baseline | baseline: s | baseline: MB "
        "| time ratio | best-run time ratio | memory ratio | CPU-time ratio | target | meets? |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    notes: list[str] = []
    records: list[dict] = []
    for row in rows:
        ours, base = commands.get(row.ours), commands.get(row.baseline)
        target = " and ".join(
            t for t in (
                f"≤ {row.wall_target:g}× time" if row.wall_target is not None else "",
                f"≤ {row.memory_target:g}× memory" if row.memory_target is not None else "",
            ) if t
        ) or "none (for scale)"
        if row.number == "10" and row.measured is not None and not row.skip:
            line, note, record = cost_line(row, f"within {row.wall_target:g}×", quick)
            lines.append(line)
            notes.append(note)
            records.append(record)
            continue
        if row.measured is not None and not row.skip:
            m = row.measured
            meets = verdict(m["ratio"], row.wall_target) if not quick else "n/a (quick)"
            lines.append(
                f"| {row.number} | {row.what} | {m['ours_ms'] / 1e3:.4f} | – | {row.baseline_label} "
                f"(transformers {m['transformers_version']}, torch {m['torch_version']}) | {m['transformers_ms'] / 1e3:.4f} | – | "
                f"{m['ratio']:.2f}× | {m['best_ratio']:.2f}× | – | – | {target} | {meets} |"
            )
            notes.append(f"- row 9: seconds per generated token (median over {m['rounds']} rounds × {m['steps']} tokens); "
                         f"the two agree on {m['tokens_agree']} of {m['tokens']} greedy tokens; loading (not in the ratio): "
                         f"ours {m['ours_load_s']:.1f} s, transformers {m['transformers_load_s']:.1f} s")
            records.append({"row": row.number, "lesson": "real-model", "what": row.what, "baseline": row.baseline_label,
                            **m, "meets": meets.strip("*")})
            continue
        failure = row.skip or (ours.failure if ours else "not measured") or (base.failure if base else "not measured")
        if failure or not ours.walls or not base.walls:
            reason = failure or "not measured"
            notes.append(f"- row {row.number} ({row.what} vs {row.baseline_label}): skipped: {reason}")
            lines.append(f"| {row.number} | {row.what} | – | – | {row.baseline_label} | – | – | – | – | – | – | {target} | skipped |")
            records.append({"row": row.number, "lesson": row.lesson, "what": row.what, "baseline": row.baseline_label,
                            "skipped": reason})
            continue
        wall_ratio = ratio(ours.wall, base.wall)
        best_ratio = ratio(min(ours.walls), min(base.walls))
        mem_ratio = ratio(ours.peak_mb, base.peak_mb)
        cpu_ratio = ratio(ours.cpu, base.cpu)
        checks = [verdict(wall_ratio, row.wall_target), verdict(mem_ratio, row.memory_target)]
        checks = [c for c in checks if c]
        meets = ("**no**" if "**no**" in checks else "yes") if checks else "–"
        if quick and checks:
            meets = "n/a (quick)"
        lines.append(
            f"| {row.number} | {row.what} | {ours.wall:.3f} | {ours.peak_mb:.0f} | {row.baseline_label} | "
            f"{base.wall:.3f} | {base.peak_mb:.0f} | {wall_ratio:.2f}× | {best_ratio:.2f}× | {mem_ratio:.2f}× | {cpu_ratio:.2f}× "
            f"| {target} | {meets} |"
        )
        records.append({
            "row": row.number, "lesson": row.lesson, "what": row.what, "baseline": row.baseline_label,
            "ours_s": ours.wall, "ours_mb": ours.peak_mb, "baseline_s": base.wall, "baseline_mb": base.peak_mb,
            "ours_cpu_s": ours.cpu, "baseline_cpu_s": base.cpu, "cpu_ratio": cpu_ratio,
            "time_ratio": wall_ratio, "best_run_time_ratio": best_ratio, "memory_ratio": mem_ratio, "wall_target": row.wall_target,
            "memory_target": row.memory_target, "meets": meets.strip("*"),
            "ours_walls": ours.walls, "baseline_walls": base.walls,
        })
    text = "\n".join(lines)
    if notes:
        text += "\n\n" + "\n".join(notes)
    return text, records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark nntutor against its baselines (a Markdown table).")
    parser.add_argument("--quick", action="store_true", help="1 round, small sizes (to prove the suite works; CI)")
    parser.add_argument("--runs", type=int, default=None, help="rounds per command (default 5; 1 with --quick)")
    parser.add_argument("--repo", type=Path, default=HERE.parent, help="the nntutor checkout to measure")
    parser.add_argument("--rows", type=lambda s: set(s.split(",")), default=None, help="only these rows, e.g. 1,L,4 (L: every lesson)")
    parser.add_argument("--lessons", type=lambda s: set(s.split(",")), default=None,
                        help="with row L: only these lessons, e.g. pipeline,generate")
    parser.add_argument("--no-warmup", action="store_true", help="skip the unmeasured first run of each command")
    parser.add_argument("--json", type=Path, default=None, help="also write every measurement to this file")
    parser.add_argument("--model", type=Path, default=None, help="row 9's GGUF file (default: the SmolLM2 file nntutor models finds)")
    args = parser.parse_args(argv)
    runs = args.runs if args.runs is not None else (1 if args.quick else 5)
    if runs < 1:
        parser.error("--runs must be at least 1")
    repo = args.repo.resolve()
    if not (repo / "nntutor" / "__init__.py").exists():
        parser.error(f"--repo {repo} is not an nntutor checkout")

    env = dict(os.environ)
    env["PYTHONPATH"] = str(repo) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("FORCE_COLOR", None)  # text to a pipe, no colour, on both sides
    # Byte-compile the checkout first, as an installed package is: with
    # PYTHONDONTWRITEBYTECODE set, every run would otherwise recompile nntutor
    # from source while the baselines' libraries load ready-made bytecode.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(repo / "nntutor")], check=True)
    with tempfile.TemporaryDirectory(prefix="nntutor-bench-") as tmp:
        work = Path(tmp)
        env["NNTUTOR_HOME"] = str(work / "home")
        rows, commands = build(args, repo, work, env)
        rows = [row for row in rows if wanted(args, row.number, row.alias)]
        if args.lessons is not None:
            rows = [row for row in rows if row.number != "L" or row.lesson in args.lessons]
        needed = [key for key in commands if any(key in (r.ours, r.baseline) and not r.skip for r in rows)]
        warmup = not (args.quick or args.no_warmup)
        for round_number in range(runs + warmup):
            # A fresh order each round, so no command always follows the same (heavy or light) one.
            order = list(needed)
            random.Random(round_number).shuffle(order)
            for key in order:
                command = commands[key]
                if command.failure:
                    continue
                result = measure(command.argv, cwd=work, env=env)
                if result["code"] != 0:
                    command.failure = f"`{' '.join(command.argv[1:])}` exited {result['code']}: {result['stderr'].strip()[-300:]}"
                    continue
                if warmup and round_number == 0:
                    continue
                if command.inner:  # the time of the work itself, without importing the libraries
                    inner = json.loads(result["stderr"].strip().splitlines()[-1])
                    command.walls.append(inner["seconds_per_step"])
                    command.cpus.append(inner["cpu_seconds_per_step"])
                else:
                    command.walls.append(result["wall"])
                    command.cpus.append(result["cpu"])
                command.peaks.append(result["peak_bytes"])
            print(f"round {round_number + 1 - warmup}/{runs} done" if round_number >= warmup else "warm-up done",
                  file=sys.stderr, flush=True)
        for row in rows:
            if row.number == "9" and not row.skip:
                latency_row(row, args, repo, work, env)
            if row.number == "10" and not row.skip:
                cost_row(row, args, work, env)
        text, records = table(rows, commands, quick=args.quick)
    mode = "quick mode (small sizes, 1 run: not comparable with the targets)" if args.quick else f"median of {runs} runs"
    print(
        f"Machine: {machine()}\n\nnntutor benchmarks, {mode}. Times are wall-clock seconds, memory is the peak "
        "resident set size in MB; ratios are ours ÷ baseline. The targets are on the median wall times; on a "
        "busy machine the best-run ratio (fastest of ours ÷ fastest of the baseline) and the CPU-time ratio "
        "(user + system) move less from one run of the suite to the next. Rows L run each lesson at its default "
        "inputs, text to a pipe; a lesson whose walkthrough derives with sympy is measured against the floor "
        "plus `import sympy`.\n"
    )
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "runs": runs, "quick": args.quick, "rows": records}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
